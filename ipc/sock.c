/* sock.c: Unix socket paths, listening, connecting, peer credentials. */
#include <errno.h>
#include <fcntl.h>
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

int ipc_mkdir_p(const char *dir, mode_t mode) {
        char *p = strdup(dir);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST) {
                        int r = -errno;
                        free(p);
                        return r;
                }
                *s = '/';
        }
        int r = 0;
        if (mkdir(p, mode) < 0) {
                struct stat st;
                /* EEXIST also means a file that is not a directory. */
                if (errno != EEXIST || stat(p, &st) < 0)
                        r = -errno;
                else if (!S_ISDIR(st.st_mode))
                        r = -ENOTDIR;
        }
        free(p);
        return r;
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

int ipc_listen(const char *path, int backlog) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);

        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A socket file left by a dead process would make bind fail; one
         * that still answers belongs to a live process, and stays. */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                int probe = ipc_connect(path);
                if (probe >= 0) {
                        close(probe);
                        close(fd);
                        return -EADDRINUSE;
                }
                (void) unlink(path);
        }
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
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
