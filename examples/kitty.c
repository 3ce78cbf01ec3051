/* kitty.c: a client for kitty_server, the seed's client API as a command.
 *
 *   kitty order NAME COLOR DESCRIPTION    order_cat/4: prints the cat you get
 *   kitty return NAME COLOR DESCRIPTION   return_cat/2 (a cast)
 *   kitty close                           close_shop/1
 *   kitty state                           sys:get_state/1
 *
 * Exit status 0 on success, 1 on failure with one line on stderr, 2 for a
 * usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gensup.h"
#include "kitty.pb-c.h"

#define DEFAULT_SERVER "kitty"

static const char *server = DEFAULT_SERVER;

static void usage(FILE *f) {
        fprintf(f,
                "usage: kitty [-s SOCKET|NAME] COMMAND [ARGS]\n"
                "\n"
                "  order NAME COLOR DESCRIPTION   order a cat (a returned cat comes first)\n"
                "  return NAME COLOR DESCRIPTION  return a cat to the shop\n"
                "  close                          close the shop, setting its cats free\n"
                "  state                          show the cats in stock\n"
                "\n"
                "  -s, --server SOCKET|NAME  the shop: a socket path, or a name in the\n"
                "                            runtime directory (default: " DEFAULT_SERVER ")\n"
                "  -h, --help                show this help\n");
}

/* One clear line for a failed request, naming what went wrong. */
static int fail(gs_client *c, const char *what, int r) {
        switch (r) {
        case -ENOENT:
                fprintf(stderr, "kitty: no such server: %s (is it running?)\n", server);
                break;
        case -ETIMEDOUT:
                fprintf(stderr, "kitty: %s: %s did not answer in time\n", what, server);
                break;
        case -ECONNRESET: {
                const char *reason = c ? gs_client_exit_reason(c) : NULL;
                fprintf(stderr, "kitty: %s: %s exited: %s\n", what, server, reason ? reason : "connection lost");
                break;
        }
        default:
                fprintf(stderr, "kitty: %s: %s\n", what, strerror(-r));
                break;
        }
        return EXIT_FAILURE;
}

static int order_cat(gs_client *c, char **argv) {
        Kitty__OrderCat order = KITTY__ORDER_CAT__INIT;
        Kitty__KittyCall call = KITTY__KITTY_CALL__INIT;
        ProtobufCMessage *reply = NULL;
        int r;

        order.name = argv[0];
        order.color = argv[1];
        order.description = argv[2];
        call.request_case = KITTY__KITTY_CALL__REQUEST_ORDER;
        call.order = &order;

        r = gs_call_msg(c, &call.base, &kitty__cat__descriptor, GS_DEFAULT_TIMEOUT, &reply);
        if (r < 0)
                return fail(c, "order", r);

        Kitty__Cat *cat = (Kitty__Cat *) reply;
        printf("%s (%s): %s\n", cat->name, cat->color, cat->description);
        protobuf_c_message_free_unpacked(reply, NULL);
        return EXIT_SUCCESS;
}

static int return_cat(gs_client *c, char **argv) {
        Kitty__Cat cat = KITTY__CAT__INIT;
        Kitty__KittyCast cast = KITTY__KITTY_CAST__INIT;
        gs_statistics st;
        int r;

        cat.name = argv[0];
        cat.color = argv[1];
        cat.description = argv[2];
        cast.message_case = KITTY__KITTY_CAST__MESSAGE_RETURN_CAT;
        cast.return_cat = &cat;

        r = gs_cast_msg(c, &cast.base);
        if (r < 0)
                return fail(c, "return", r);

        /* A cast does not wait for the server. This program exits at once,
         * and the next command comes on a new connection, which the server
         * might read first. One connection's frames are handled in order,
         * so once a system request sent after the cast is answered, the cat
         * is in stock (unless the server is suspended: then the cast waits
         * for sys:resume, as in OTP). */
        r = gs_sys_statistics(c, GS_DEFAULT_TIMEOUT, &st);
        if (r < 0)
                return fail(c, "return", r);
        return EXIT_SUCCESS;
}

static int close_shop(gs_client *c) {
        Kitty__CloseShop close = KITTY__CLOSE_SHOP__INIT;
        Kitty__KittyCall call = KITTY__KITTY_CALL__INIT;
        ProtobufCMessage *reply = NULL;
        int r;

        call.request_case = KITTY__KITTY_CALL__REQUEST_CLOSE;
        call.close = &close;

        r = gs_call_msg(c, &call.base, &kitty__ok__descriptor, GS_DEFAULT_TIMEOUT, &reply);
        if (r < 0)
                return fail(c, "close", r);
        protobuf_c_message_free_unpacked(reply, NULL);
        return EXIT_SUCCESS;
}

static int show_state(gs_client *c) {
        gs_buf out = GS_BUF_INIT;
        int r;

        r = gs_sys_get_state(c, GS_DEFAULT_TIMEOUT, &out);
        if (r < 0)
                return fail(c, "state", r);
        printf("%.*s\n", (int) out.len, (const char *) out.data);
        gs_buf_done(&out);
        return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "server", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        gs_client *c = NULL;
        const char *cmd;
        int opt, nargs, r;

        /* '+': stop at the command, so a description may start with '-'. */
        while ((opt = getopt_long(argc, argv, "+s:h", options, NULL)) != -1) {
                switch (opt) {
                case 's':
                        server = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        cmd = argv[optind];
        nargs = argc - optind - 1;
        if (strcmp(cmd, "order") == 0 || strcmp(cmd, "return") == 0) {
                if (nargs != 3) {
                        fprintf(stderr, "kitty: %s takes NAME COLOR DESCRIPTION\n", cmd);
                        return 2;
                }
        } else if (strcmp(cmd, "close") == 0 || strcmp(cmd, "state") == 0) {
                if (nargs != 0) {
                        fprintf(stderr, "kitty: %s takes no arguments\n", cmd);
                        return 2;
                }
        } else {
                fprintf(stderr, "kitty: unknown command: %s (try kitty --help)\n", cmd);
                return 2;
        }

        r = gs_client_connect(server, &c);
        if (r < 0)
                return fail(NULL, cmd, r);

        if (strcmp(cmd, "order") == 0)
                r = order_cat(c, argv + optind + 1);
        else if (strcmp(cmd, "return") == 0)
                r = return_cat(c, argv + optind + 1);
        else if (strcmp(cmd, "close") == 0)
                r = close_shop(c);
        else
                r = show_state(c);

        gs_client_free(c);
        return r;
}
