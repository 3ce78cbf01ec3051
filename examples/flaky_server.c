/* flaky_server.c: a server that crashes now and then, for the demo.
 *
 * It answers "ping" with "pong" and "uptime" with how long it has lived,
 * and a few seconds after it starts it dies, each time a different way:
 * a segmentation fault, an abort, exit(3), or a clean stop with an error
 * reason. Under gensupd every one of them is reported with its exit reason
 * and the server is restarted, as OTP's supervisor would.
 *
 *   flaky_server [--min-ms N] [--max-ms N]   (default 4000..12000) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gensup.h"

typedef struct flaky {
        struct timespec born;
} flaky;

static uint64_t arg_ms(int argc, char **argv, const char *name, uint64_t def) {
        for (int i = 1; i + 1 < argc; i++)
                if (strcmp(argv[i], name) == 0)
                        return strtoull(argv[i + 1], NULL, 10);
        return def;
}

static gs_ret flaky_init(gs_server *s, int argc, char **argv, void **ret_state) {
        flaky *f = calloc(1, sizeof(*f));
        if (!f)
                return gs_ret_stop("{error,out of memory}");
        clock_gettime(CLOCK_MONOTONIC, &f->born);
        srand((unsigned) (getpid() ^ f->born.tv_nsec));

        uint64_t lo = arg_ms(argc, argv, "--min-ms", 4000), hi = arg_ms(argc, argv, "--max-ms", 12000);
        uint64_t life = lo + (hi > lo ? (uint64_t) rand() % (hi - lo) : 0);
        if (gs_send_after(s, life, 0) < 0)
                return gs_ret_stop("{error,no timer}");
        *ret_state = f;
        return gs_ret_ok();
}

static uint64_t lived_ms(const flaky *f) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t) (now.tv_sec - f->born.tv_sec) * 1000u +
               (uint64_t) ((now.tv_nsec - f->born.tv_nsec) / 1000000);
}

static gs_ret flaky_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        if (req->len == 4 && memcmp(req->data, "ping", 4) == 0)
                gs_buf_printf(reply, "pong");
        else if (req->len == 6 && memcmp(req->data, "uptime", 6) == 0)
                gs_buf_printf(reply, "%llu ms", (unsigned long long) lived_ms(state));
        else
                gs_buf_printf(reply, "try ping or uptime");
        return gs_ret_reply();
}

/* The timer set in init: time to go, one way or another. */
static gs_ret flaky_info(gs_server *s, void *state, const gs_info *info) {
        if (info->kind != GS_INFO_TIMER)
                return gs_ret_noreply();
        switch (rand() % 4) {
        case 0:
                raise(SIGSEGV);
                break;
        case 1:
                abort();
        case 2:
                exit(3);
        default:
                break;
        }
        return gs_ret_stop("{error,tired of it all}");
}

static void flaky_terminate(gs_server *s, void *state, const char *reason) {
        free(state);
}

static const gs_server_ops flaky_ops = {
        .init = flaky_init,
        .handle_call = flaky_call,
        .handle_info = flaky_info,
        .terminate = flaky_terminate,
};

int main(int argc, char **argv) {
        static const gs_server_options opts = { .name = "flaky" };
        return gs_server_main_with(&flaky_ops, &opts, argc, argv);
}
