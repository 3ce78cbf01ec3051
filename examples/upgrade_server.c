/* upgrade_server.c: a counter that survives hot upgrades (gs_upgrade(3)).
 *
 *   upgrade_server [library options, --vsn VSN among them]
 *
 * Its state is a count of calls, exported as decimal text. Calls:
 *   incr          count one more, reply the count
 *   get           reply the count
 *   vsn           reply the version (gs_server_vsn)
 *   pid           reply the process id
 *   defer:MS      reply the count after MS (noreply, then gs_reply)
 *   upgrade[:E]   standalone: gs_server_upgrade to this same program, extra
 *                 E; replies "started" or "rc=N"
 * code_change takes the old count; its extra steers the tests:
 *   fail          return {error,refused}
 *   crash         abort()
 *   hang          never return (the start timeout ends it)
 *   +N            add N to the count */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gensup.h"

typedef struct counter {
        uint64_t n;
} counter;

static char **self_argv;

static gs_ret us_init(gs_server *s, int argc, char **argv, void **ret_state) {
        counter *c = calloc(1, sizeof(*c));
        if (!c)
                return gs_ret_stop("enomem");
        *ret_state = c;
        return gs_ret_ok();
}

static void reply_u64(gs_buf *reply, uint64_t n) {
        (void) gs_buf_printf(reply, "%" PRIu64, n);
}

static gs_ret us_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        counter *c = state;
        char text[64];
        size_t len = req->len < sizeof(text) - 1 ? req->len : sizeof(text) - 1;

        memcpy(text, req->data, len);
        text[len] = '\0';
        if (strcmp(text, "incr") == 0)
                reply_u64(reply, ++c->n);
        else if (strcmp(text, "get") == 0)
                reply_u64(reply, c->n);
        else if (strcmp(text, "vsn") == 0)
                (void) gs_buf_printf(reply, "%s", gs_server_vsn(s));
        else if (strcmp(text, "pid") == 0)
                (void) gs_buf_printf(reply, "%d", (int) getpid());
        else if (strncmp(text, "defer:", 6) == 0) {
                gs_from *f = malloc(sizeof(*f));
                if (!f)
                        return gs_ret_stop("enomem");
                *f = *from;
                (void) gs_send_after(s, strtoull(text + 6, NULL, 10), (uint64_t) (uintptr_t) f);
                return gs_ret_noreply();
        } else if (strncmp(text, "upgrade", 7) == 0) {
                int r = gs_server_upgrade(s, self_argv, text[7] == ':' ? text + 8 : NULL);
                (void) gs_buf_printf(reply, r == 0 ? "started" : "rc=%d", r);
        } else
                (void) gs_buf_printf(reply, "unknown");
        return gs_ret_reply();
}

static gs_ret us_info(gs_server *s, void *state, const gs_info *info) {
        counter *c = state;
        if (info->kind == GS_INFO_TIMER) {
                gs_from *f = (gs_from *) (uintptr_t) info->token;
                char text[32];
                int n = snprintf(text, sizeof(text), "%" PRIu64, c->n);
                (void) gs_reply(s, f, text, (size_t) n);
                free(f);
        }
        return gs_ret_ok();
}

static void us_terminate(gs_server *s, void *state, const char *reason) {
        free(state);
}

static int us_export(gs_server *s, void *state, gs_buf *out) {
        counter *c = state;
        int r = gs_buf_printf(out, "%" PRIu64, c->n);
        return r < 0 ? r : 0;
}

static gs_ret us_code_change(gs_server *s, const char *old_vsn, const gs_msg *old_state, const char *extra,
                             void **ret_state) {
        char text[32];
        size_t len = old_state->len < sizeof(text) - 1 ? old_state->len : sizeof(text) - 1;

        if (strcmp(extra, "fail") == 0)
                return gs_ret_stop("{error,refused}");
        if (strcmp(extra, "crash") == 0)
                abort();
        if (strcmp(extra, "hang") == 0) {
                fprintf(stderr, "code_change: hanging\n");
                for (;;)
                        pause();
        }
        counter *c = calloc(1, sizeof(*c));
        if (!c)
                return gs_ret_stop("enomem");
        memcpy(text, old_state->data, len);
        text[len] = '\0';
        c->n = strtoull(text, NULL, 10);
        if (extra[0] == '+')
                c->n += strtoull(extra + 1, NULL, 10);
        *ret_state = c;
        return gs_ret_ok();
}

static int us_format(gs_server *s, void *state, gs_buf *out) {
        counter *c = state;
        return gs_buf_printf(out, "count=%" PRIu64, c->n);
}

int main(int argc, char **argv) {
        static const gs_server_ops ops = {
                .init = us_init,
                .handle_call = us_call,
                .handle_info = us_info,
                .terminate = us_terminate,
                .format_status = us_format,
                .export_state = us_export,
                .code_change = us_code_change,
        };
        self_argv = argv;
        return gs_server_main(&ops, argc, argv);
}
