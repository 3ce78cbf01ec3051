/* echo_server.c: the smallest useful gensup server, for the demo's pool
 * of workers: a call is answered with its own payload, and counted.
 *
 *   echo_server [library options]
 *
 *   $ gensupctl call worker-1 hello
 *   hello */
#include <stdint.h>
#include <stdlib.h>

#include "gensup.h"

static gs_ret echo_init(gs_server *s, int argc, char **argv, void **ret_state) {
        uint64_t *calls = calloc(1, sizeof(*calls));
        if (!calls)
                return gs_ret_stop("{error,out of memory}");
        *ret_state = calls;
        return gs_ret_ok();
}

static gs_ret echo_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        uint64_t *calls = state;
        (*calls)++;
        gs_buf_printf(reply, "%.*s", (int) req->len, (const char *) req->data);
        return gs_ret_reply();
}

static void echo_terminate(gs_server *s, void *state, const char *reason) {
        free(state);
}

static const gs_server_ops echo_ops = {
        .init = echo_init,
        .handle_call = echo_call,
        .terminate = echo_terminate,
};

int main(int argc, char **argv) {
        static const gs_server_options opts = { .name = "echo" };
        return gs_server_main_with(&echo_ops, &opts, argc, argv);
}
