/* dir.c: directories a process may trust with its sockets.
 *
 * A socket is only as safe as the directories above it: whoever may
 * rename or replace one of them may put a socket of their own where we
 * (or our clients) look. So every directory from / down is opened with
 * openat, one component at a time, without following links we have not
 * checked, and each is checked on the fd it was opened as (fstat), not
 * by a second lookup of its name. This is OpenSSH's StrictModes walk and
 * systemd's CHASE_SAFE, with the rule of gensupd(8) SECURITY:
 *   - each directory above is owned by root or uid, and not writable by
 *     group or others unless it is sticky (as /tmp: nobody may rename or
 *     remove what another user made there);
 *   - the directory itself is owned by root or uid (exactly uid with
 *     IPC_DIR_OWNED) and not writable by group or others at all;
 *   - a symbolic link is followed only when root or uid owns it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"

#define DIR_PARENT_MODE 0755   /* directories made above the one asked for */

static int fault_set(ipc_dir_fault *f, const char *path, size_t len, const struct stat *st, const char *why) {
        if (f) {
                free(f->path);
                f->path = strndup(path, len);
                f->uid = st->st_uid;
                f->mode = st->st_mode;
                f->why = why;
        }
        return -EPERM;
}

void ipc_dir_fault_done(ipc_dir_fault *f) {
        if (!f)
                return;
        free(f->path);
        f->path = NULL;
}

/* Whether the directory (or link) st, the component ending at path[len],
 * may be trusted. */
static int check_one(const struct stat *st, uid_t uid, bool last, unsigned flags, const char *path, size_t len,
                     ipc_dir_fault *f) {
        bool owner_ok = st->st_uid == uid || (st->st_uid == 0 && !(last && (flags & IPC_DIR_OWNED)));

        if (S_ISLNK(st->st_mode))
                return owner_ok ? 0 : fault_set(f, path, len, st, "a symbolic link owned by another user");
        if (!S_ISDIR(st->st_mode))
                return -ENOTDIR;
        if (!owner_ok)
                return fault_set(f, path, len, st, "owned by another user");
        if ((st->st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st->st_mode & S_ISVTX)))
                return fault_set(f, path, len, st, "writable by group or others");
        return 0;
}

/* Opens the component name under fd, following it only if it is a link
 * trusted by check_one. Returns the new O_PATH fd or -errno. */
static int open_component(int fd, const char *name, uid_t uid, bool last, unsigned flags, const char *path,
                          size_t len, ipc_dir_fault *f) {
        struct stat st;
        int nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0)
                return -errno;
        if (fstat(nfd, &st) < 0)
                goto fail_errno;
        int r = check_one(&st, uid, last, flags, path, len, f);
        if (r < 0 || !S_ISLNK(st.st_mode)) {
                if (r < 0)
                        close(nfd);
                return r < 0 ? r : nfd;
        }
        /* A trusted link: its target is then checked as the component. */
        close(nfd);
        nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0)
                return -errno;
        if (fstat(nfd, &st) < 0)
                goto fail_errno;
        r = check_one(&st, uid, last, flags, path, len, f);
        if (r < 0) {
                close(nfd);
                return r;
        }
        return nfd;
fail_errno:
        r = -errno;
        close(nfd);
        return r;
}

/* Makes name under fd (mode exactly, whatever the umask) if it is not
 * there. Returns 1 if made, 0 if it was there, or -errno. */
static int make_component(int fd, const char *name, mode_t mode) {
        if (mkdirat(fd, name, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        /* The umask may only have narrowed it; the name is ours now, in a
         * parent already found trustworthy, so no one else can swap it. */
        if (fchmodat(fd, name, mode, 0) < 0)
                return -errno;
        return 1;
}

/* The path made absolute (relative to the working directory), in *ret. */
static int absolute(const char *dir, char **ret) {
        if (dir[0] == '/')
                *ret = strdup(dir);
        else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return -errno;
                if (asprintf(ret, "%s/%s", cwd, dir) < 0)
                        *ret = NULL;
        }
        return *ret ? 0 : -ENOMEM;
}

static bool is_last(const char *rest) {
        while (*rest == '/')
                rest++;
        return *rest == '\0';
}

int ipc_dir_open(const char *dir, uid_t uid, unsigned flags, mode_t mode, ipc_dir_fault *ret_fault) {
        char *path = NULL;
        struct stat st;
        int r = absolute(dir, &path);

        if (r < 0)
                return r;
        int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        r = check_one(&st, uid, is_last(path), flags, "/", 1, ret_fault);
        for (char *s = path; r >= 0 && *s;) {
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                char *end = strchrnul(s, '/');
                char saved = *end;
                *end = '\0';
                bool last = is_last(saved ? end + 1 : end);
                if ((flags & IPC_DIR_CREATE) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0)
                        r = make_component(fd, s, last ? mode : DIR_PARENT_MODE);
                if (r >= 0) {
                        r = open_component(fd, s, uid, last, flags, path, (size_t) (end - path), ret_fault);
                        if (r >= 0) {
                                close(fd);
                                fd = r;
                        }
                }
                *end = saved;
                s = end;
        }
done:
        free(path);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        return fd;
}

int ipc_mkdir_p(const char *dir, mode_t mode) {
        int fd = ipc_dir_open(dir, geteuid(), IPC_DIR_CREATE | IPC_DIR_OWNED, mode, NULL);

        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

int ipc_dir_check_socket(const char *socket_path, ipc_dir_fault *ret_fault) {
        const char *slash = strrchr(socket_path, '/');
        char *dir;

        if (!slash)
                dir = strdup(".");
        else if (slash == socket_path)
                dir = strdup("/");
        else
                dir = strndup(socket_path, (size_t) (slash - socket_path));
        if (!dir)
                return -ENOMEM;
        int fd = ipc_dir_open(dir, geteuid(), 0, 0, ret_fault);
        free(dir);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}
