/* listen.c: the listening sockets gensupd holds for its children. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ipc.h"
#include "listen.h"

#define LISTEN_BACKLOG 4096

int sup_listen_open(const char *runtime_dir, const sup_spec *spec, char **ret_path) {
        char *path = NULL;
        int r = ipc_socket_path(runtime_dir, spec->name, &path);
        if (r < 0)
                return r;
        int fd = ipc_listen(path, LISTEN_BACKLOG);
        if (fd < 0) {
                free(path);
                return fd;
        }
        /* As systemd's SocketMode= default: the server decides who it
         * answers, and anyone may knock. */
        (void) chmod(path, 0666);
        *ret_path = path;
        return fd;
}
