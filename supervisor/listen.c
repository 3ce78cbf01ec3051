/* listen.c: the listening sockets gensupd holds for its children. */
#include <errno.h>
#include <stdlib.h>

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
