/* query.c: many requests on one connection, answered in any order (each
 * carries its ref), a window of them in flight. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "query.h"

#define QUERY_WINDOW 64

static int send_one(ipc_conn *c, const ctl_command *cmd, char *arg, uint64_t ref, int timeout_ms) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        req.command = (char *) cmd->name;
        req.n_args = arg ? 1 : 0;
        req.args = arg ? &arg : NULL;
        req.timeout_ms = (uint32_t) timeout_ms;
        f.ctl = &req;
        return ctl_send_frame(c, &f, ctl_deadline(timeout_ms));
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
                int r = ctl_recv_frame(c, deadline, &f);
                if (r < 0)
                        return r == -ETIMEDOUT ? 0 : r;
                bool ours = f->kind == GENSUP__KIND__CTL_REPLY && f->ref >= 1 && f->ref <= n && !docs[f->ref - 1];
                if (ours) {
                        docs[f->ref - 1] = reply_doc(f);
                        (*answered)++;
                }
                ipc_frame_free(f);
                if (ours)
                        return 1;
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
                r = take_reply(c, ctl_deadline(0) + 2 * (int64_t) timeout_ms, total, ret_docs, &answered);
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
