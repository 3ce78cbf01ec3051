/* query.c: many requests on one connection, answered in any order (each
 * carries its ref), a window of them in flight. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "query.h"

#define QUERY_WINDOW 64

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
        int64_t left = deadline - now_ms();
        return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
}

static int send_one(ipc_conn *c, const ctl_command *cmd, char *arg, uint64_t ref, int timeout_ms) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        req.command = (char *) cmd->name;
        req.n_args = arg ? 1 : 0;
        req.args = arg ? &arg : NULL;
        req.timeout_ms = (uint32_t) timeout_ms;
        f.ctl = &req;
        int r = ipc_conn_queue(c, &f);
        if (r < 0)
                return r;
        int64_t deadline = now_ms() + timeout_ms;
        while ((r = ipc_conn_flush(c)) == -EAGAIN)
                if ((r = ipc_conn_wait(c, false, left_ms(deadline))) <= 0 && r != -EINTR)
                        return r == 0 ? -ETIMEDOUT : r;
        return r < 0 ? r : 0;
}

/* The JSON of a good CTL_REPLY, else NULL. */
static json_t *reply_doc(const ipc_frame *f) {
        const Gensup__CtlReply *cr = f->ctl_reply;
        if (!cr || cr->code != 0)
                return NULL;
        return json_loads(cr->json && *cr->json ? cr->json : "{}", JSON_DECODE_ANY, NULL);
}

/* Takes one reply (or EVENT, skipped) within deadline: 1 one answered,
 * 0 timed out, or -errno. */
static int take_reply(ipc_conn *c, int64_t deadline, size_t n, json_t **docs, size_t *answered) {
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (f->kind == GENSUP__KIND__CTL_REPLY && f->ref >= 1 && f->ref <= n && !docs[f->ref - 1]) {
                                docs[f->ref - 1] = reply_doc(f);
                                (*answered)++;
                                ipc_frame_free(f);
                                return 1;
                        }
                        ipc_frame_free(f);
                        continue;
                }
                r = ipc_conn_read(c);
                if (r > 0)
                        continue;
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, true, left_ms(deadline));
                if (r == 0)
                        return 0;
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

int ctl_query_many(ipc_conn *c, const ctl_command *command, char *const *names, size_t n, int timeout_ms,
                   json_t **ret_docs) {
        size_t total = n ? n : 1, sent = 0, answered = 0;
        int r = 0;

        memset(ret_docs, 0, total * sizeof(*ret_docs));
        while (answered < total) {
                /* A refused request answers nothing we can tell apart
                 * from a lost one: the deadline ends the wait for both. */
                while (sent < total && sent - answered < QUERY_WINDOW) {
                        r = send_one(c, command, n ? names[sent] : NULL, sent + 1, timeout_ms);
                        if (r < 0)
                                goto fail;
                        sent++;
                }
                r = take_reply(c, now_ms() + 2 * (int64_t) timeout_ms, total, ret_docs, &answered);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;   /* the rest are late: left NULL */
        }
        return 0;
fail:
        fprintf(stderr, "gensupctl: %s: talking to gensupd: %s\n", command->name, strerror(-r));
        return r;
}

int ctl_query_one(const ctl_opts *o, const ctl_command *command, json_t **ret_doc) {
        ipc_conn *c = NULL;
        int timeout = o->timeout_set && o->timeout_ms > 0 ? o->timeout_ms : CTL_DEFAULT_TIMEOUT_MS;
        int r = ctl_daemon_connect(o, command, &c);
        if (r < 0)
                return r;
        json_t *doc = NULL;
        r = ctl_query_many(c, command, NULL, 0, timeout, &doc);
        ipc_conn_free(c);
        if (r >= 0 && !doc) {
                fprintf(stderr, "gensupctl: %s: no answer from gensupd within %d ms\n", command->name, timeout);
                r = -ETIMEDOUT;
        }
        if (r >= 0)
                *ret_doc = doc;
        return r;
}
