/* enter_loop.c: gs_enter_loop, as OTP's gen_server:enter_loop: a process
 * that did its own setup (sockets, privileges, a config file) becomes a
 * gen_server with the state it built. Everything else is the life
 * gs_server_main gives a server (server_main.c): the library's options,
 * the listening socket, READY to gensupd or systemd, the loop, the
 * exit. */
#include "server-internal.h"

int gs_enter_loop(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv, void *state,
                  gs_ret action) {
        gs__enter e = { .state = state, .action = action };

        return gs__server_run(ops, opts, argc, argv, &e);
}
