/* runtime_dir.c: where sockets live, for the public API. */
#include "gensup.h"
#include "ipc.h"

int gs_runtime_dir(char **ret) {
        return ipc_runtime_dir(ret);
}
