/* gs_start: the smallest real libgensup server, for the start-up and
 * "real server back in service" benchmarks (bench/serve_restart.c,
 * bench/sup-bench.sh part "startup"): an echo gen_server written with the
 * public API only.
 *
 *   gs_start [library options]   serve: a call is answered with its
 *                                payload (gs_server_main: --socket,
 *                                --name, LISTEN_FDS, NOTIFY_SOCKET, or
 *                                under gensupd)
 *   gs_start exit                return from main at once: what loading
 *                                the binary costs (exec -> exit)
 *
 * bench/sup-bench.sh builds it twice: as the Makefile links our own
 * programs (libgensup.a and every build dependency) and as a user would
 * (`pkg-config --libs gensup`: the shared libgensup, libsystemd and
 * libprotobuf-c). */
#include <string.h>

#include "gensup.h"

static gs_ret echo_init(gs_server *s, int argc, char **argv, void **ret_state) {
        *ret_state = NULL;
        return gs_ret_ok();
}

static gs_ret echo_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        if (gs_buf_set(reply, req->data, req->len) < 0)
                return gs_ret_stop("enomem");
        return gs_ret_reply();
}

static const gs_server_ops echo_ops = {
        .init = echo_init,
        .handle_call = echo_call,
};

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "exit") == 0)
                return 0;
        return gs_server_main(&echo_ops, argc, argv);
}
