/* enter_server.c: a server that does its own setup, then becomes a
 * gen_server with gs_enter_loop (OTP's gen_server:enter_loop).
 *
 *   enter_server [library options] [--greeting=TEXT] [--terminate-log=FILE]
 *                [--bad-action]
 *
 * Before the loop it reads its own options, opens a pipe (a resource of its
 * own), and builds its state. Its continue action, applied as init's would
 * be, watches the pipe with gs_add_fd.
 *
 * Calls: greeting (the text given), conts (continues run), poke (writes to
 * the pipe; the reply comes from its GS_INFO_FD: "poked"), stop:REASON.
 * --bad-action passes an action gs_enter_loop refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "gensup.h"

typedef struct es {
        const char *greeting;
        const char *terminate_log;
        int pipe_fds[2];
        unsigned conts;
        bool poking;
        gs_from poke_from;
} es;

static const char *after(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static gs_ret reply_str(gs_buf *reply, const char *text) {
        (void) gs_buf_set(reply, text, strlen(text));
        return gs_ret_reply();
}

static gs_ret es_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        es *e = state;
        char cmd[256];
        size_t n = req->len < sizeof(cmd) - 1 ? req->len : sizeof(cmd) - 1;
        const char *v;

        memcpy(cmd, req->data, n);
        cmd[n] = '\0';
        if (strcmp(cmd, "greeting") == 0)
                return reply_str(reply, e->greeting);
        if (strcmp(cmd, "conts") == 0) {
                (void) gs_buf_printf(reply, "%u", e->conts);
                return gs_ret_reply();
        }
        if (strcmp(cmd, "poke") == 0 && !e->poking) {
                e->poking = true;
                e->poke_from = *from;
                (void) !write(e->pipe_fds[1], "x", 1);
                return gs_ret_noreply();
        }
        if ((v = after(cmd, "stop:"))) {
                static char reason[256];
                snprintf(reason, sizeof(reason), "%s", v);
                return gs_ret_stop(reason);
        }
        return reply_str(reply, "unknown command");
}

static gs_ret es_info(gs_server *s, void *state, const gs_info *info) {
        es *e = state;
        char c;

        if (info->kind == GS_INFO_FD && read(info->fd, &c, 1) == 1 && e->poking) {
                e->poking = false;
                (void) gs_reply(s, &e->poke_from, "poked", 5);
        }
        return gs_ret_ok();
}

static gs_ret es_continue(gs_server *s, void *state, void *cont) {
        es *e = state;

        e->conts++;
        if (gs_add_fd(s, e->pipe_fds[0], EPOLLIN, 1) < 0)
                return gs_ret_stop("{error,add_fd}");
        return gs_ret_ok();
}

static void es_terminate(gs_server *s, void *state, const char *reason) {
        es *e = state;

        if (e->terminate_log) {
                FILE *f = fopen(e->terminate_log, "ae");
                if (f) {
                        fprintf(f, "terminate %s\n", reason);
                        fclose(f);
                }
        }
        close(e->pipe_fds[0]);
        close(e->pipe_fds[1]);
        free(e);
}

static int es_status(gs_server *s, void *state, gs_buf *out) {
        es *e = state;
        return gs_buf_printf(out, "greeting=%s conts=%u", e->greeting, e->conts);
}

int main(int argc, char **argv) {
        static const gs_server_ops ops = {
                .handle_call = es_call,
                .handle_info = es_info,
                .handle_continue = es_continue,
                .terminate = es_terminate,
                .format_status = es_status,
        };
        bool bad = false;
        es *e = calloc(1, sizeof(*e));

        /* The program's own setup: its options, its resources. */
        if (!e)
                return 1;
        e->greeting = "hello";
        for (int i = 1; i < argc; i++) {
                const char *v;
                if ((v = after(argv[i], "--greeting=")))
                        e->greeting = v;
                else if ((v = after(argv[i], "--terminate-log=")))
                        e->terminate_log = v;
                else if (strcmp(argv[i], "--bad-action") == 0)
                        bad = true;
        }
        if (pipe2(e->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
                perror("pipe2");
                free(e);
                return 1;
        }
        gs_ret action = bad ? gs_ret_reply() : gs_with_continue(gs_ret_ok(), NULL);
        int status = gs_enter_loop(&ops, NULL, argc, argv, e, action);
        if (bad) {
                close(e->pipe_fds[0]);
                close(e->pipe_fds[1]);
                free(e);
        }
        return status;
}
