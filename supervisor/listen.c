/* listen.c: the listening sockets gensupd holds for its children. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"
#include "listen.h"

#define LISTEN_BACKLOG 4096

int sup_listen_open(const char *runtime_dir, const sup_spec *spec, char **ret_path) {
        ipc_sock_perm perm = { .mode = spec->socket_mode, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        char *path = NULL;
        int r = ipc_sock_perm_parse(NULL, spec->socket_user, spec->socket_group, &perm);
        if (r < 0)
                return r;
        r = ipc_socket_path(runtime_dir, spec->name, &path);
        if (r < 0)
                return r;
        /* As systemd's SocketMode=, SocketUser=, SocketGroup=, set as the
         * socket is made (never by a chmod of the path after). */
        int fd = ipc_listen_as(path, LISTEN_BACKLOG, &perm);
        if (fd < 0) {
                free(path);
                return fd;
        }
        *ret_path = path;
        return fd;
}

int sup_listen_path(const char *runtime_dir, const sup_spec *spec, char **ret_path) {
        return ipc_socket_path(runtime_dir, spec->name, ret_path);
}

static int is_listening_at(int fd, const char *path) {
        struct sockaddr_un sa;
        socklen_t len = sizeof(sa);
        int v;
        socklen_t vl = sizeof(v);

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0)
                return -errno;
        if (!v)
                return -EINVAL;
        vl = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0)
                return -errno;
        if (v != SOCK_STREAM)
                return -EPROTOTYPE;
        memset(&sa, 0, sizeof(sa));
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        if (sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path))
                return -EAFNOSUPPORT;
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (strnlen(sa.sun_path, n) != strlen(path) || memcmp(sa.sun_path, path, strlen(path)) != 0)
                return -EADDRNOTAVAIL;
        return 0;
}

int sup_listen_adopt(int fd, const char *runtime_dir, const sup_spec *spec, char **ret_path) {
        char *path = NULL;
        int r = sup_listen_path(runtime_dir, spec, &path);

        if (r >= 0)
                r = is_listening_at(fd, path);
        if (r < 0) {
                close(fd);
                free(path);
                return r;
        }
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
                (void) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        *ret_path = path;
        return 0;
}
