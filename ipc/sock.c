/* sock.c: Unix socket paths, listening, connecting, peer credentials. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"

int ipc_runtime_dir(char **ret) {
        const char *env = getenv("GENSUP_RUNTIME_DIR");
        char *dir;

        if (env && *env)
                dir = strdup(env);
        else if (geteuid() == 0)
                dir = strdup("/run/gensup");
        else {
                const char *xdg = getenv("XDG_RUNTIME_DIR");
                if (!xdg || !*xdg)
                        return -ENOENT;
                if (asprintf(&dir, "%s/gensup", xdg) < 0)
                        dir = NULL;
        }
        if (!dir)
                return -ENOMEM;
        *ret = dir;
        return 0;
}

int ipc_socket_path(const char *dir, const char *name, char **ret) {
        char *p;

        if (strchr(name, '/'))
                p = strdup(name);
        else if (asprintf(&p, "%s/%s.sock", dir, name) < 0)
                p = NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int fill_addr(const char *path, struct sockaddr_un *sa) {
        size_t len = strlen(path);

        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (len >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memcpy(sa->sun_path, path, len + 1);
        return 0;
}

/* A number as a whole string, in base. */
static int parse_ulong(const char *s, int base, unsigned long *ret) {
        char *end;

        if (!*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, base);
        if (*end || errno != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int ipc_sock_perm_parse(const char *mode, const char *user, const char *group, ipc_sock_perm *perm) {
        unsigned long v;
        ipc_sock_perm p = *perm;

        if (mode) {
                if (parse_ulong(mode, 8, &v) < 0 || v > 0777)
                        return -EINVAL;
                p.mode = (mode_t) v;
        }
        if (user) {
                struct passwd *pw = getpwnam(user);
                if (pw)
                        p.uid = pw->pw_uid;
                else if (parse_ulong(user, 10, &v) == 0 && v < (uid_t) -1)
                        p.uid = (uid_t) v;
                else
                        return -ESRCH;
        }
        if (group) {
                struct group *gr = getgrnam(group);
                if (gr)
                        p.gid = gr->gr_gid;
                else if (parse_ulong(group, 10, &v) == 0 && v < (gid_t) -1)
                        p.gid = (gid_t) v;
                else
                        return -ESRCH;
        }
        *perm = p;
        return 0;
}

int ipc_bind(int fd, const char *path, const ipc_sock_perm *perm) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);

        if (r < 0)
                return r;
        mode_t old = perm ? umask(~perm->mode & 0777) : 0;
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
        if (perm)
                (void) umask(old);
        if (r < 0 || !perm || (perm->uid == (uid_t) -1 && perm->gid == (gid_t) -1))
                return r;
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        if (lchown(path, perm->uid, perm->gid) < 0) {
                r = -errno;
                (void) unlink(path);
        }
        return r;
}

/* A socket file left by a dead process would make bind fail; one that
 * still answers belongs to a live process, and stays. */
static int remove_stale(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                return 0;
        int probe = ipc_connect(path);
        if (probe >= 0) {
                close(probe);
                return -EADDRINUSE;
        }
        (void) unlink(path);
        return 0;
}

int ipc_listen_as(const char *path, int backlog, const ipc_sock_perm *perm) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);

        if (r < 0)
                return r;
        r = ipc_dir_check_socket(path, NULL);
        if (r < 0)
                return r;
        r = remove_stale(path);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = ipc_bind(fd, path, perm);
        if (r < 0 || listen(fd, backlog) < 0) {
                r = r < 0 ? r : -errno;
                close(fd);
                return r;
        }
        return fd;
}

int ipc_listen(const char *path, int backlog) {
        return ipc_listen_as(path, backlog, NULL);
}

int ipc_connect(const char *path) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);

        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        do
                r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int ipc_peer_cred(int fd, struct ucred *ret) {
        struct ucred uc;
        socklen_t len = sizeof(uc);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return -errno;
        *ret = uc;
        return 0;
}

int ipc_socketpair(int ret_fds[2]) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ret_fds) < 0)
                return -errno;
        return 0;
}
