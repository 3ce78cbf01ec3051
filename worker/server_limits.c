/* server_limits.c: what peers may take of a server: connection slots (in
 * all, per uid, some kept for trusted peers), time (a frame begun must
 * end by a deadline; other users' idle connections are closed) and
 * buffered input. Bookkeeping only, on the server's and connections'
 * fields: server_conn.c asks and acts on the answers. Calls nothing.
 *
 * Trusted peers (root, the server's own uid, gensupd: conn_identify in
 * server_conn.c) have no per-uid quota, keep reserved_conns slots that
 * nobody else may take, and are not closed for being idle. */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "server-internal.h"

static uint64_t ms_usec(int64_t ms, uint64_t dflt_ms) {
        if (ms < 0)
                return 0;
        return (ms == 0 ? dflt_ms : (uint64_t) ms) * 1000u;
}

static size_t default_max_conns(void) {
        struct rlimit rl;

        /* Each connection is an fd: follow the fd limit, keeping some for
         * the server's own files. */
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20))
                return 1u << 20;
        return rl.rlim_cur > GS__FD_RESERVE + 1 ? (size_t) rl.rlim_cur - GS__FD_RESERVE : 1;
}

void gs__limits_set(gs_server *s, const gs_server_options *o) {
        s->max_conns = o->max_connections ? o->max_connections : default_max_conns();
        size_t reserved = s->max_conns / 8;
        if (reserved > GS__RESERVED_CONNECTIONS_MAX)
                reserved = GS__RESERVED_CONNECTIONS_MAX;
        s->reserved_conns = o->reserved_connections ? o->reserved_connections : reserved;
        if (s->reserved_conns > s->max_conns)
                s->reserved_conns = s->max_conns;
        s->max_conns_per_uid = o->max_connections_per_uid ? o->max_connections_per_uid : s->max_conns / 4;
        if (s->max_conns_per_uid == 0)
                s->max_conns_per_uid = 1;
        s->frame_timeout_usec = ms_usec(o->frame_timeout_ms, GS__FRAME_TIMEOUT_MS);
        s->idle_timeout_usec = ms_usec(o->idle_timeout_ms, GS__IDLE_TIMEOUT_MS);
        s->max_input = o->max_input ? o->max_input : GS__MAX_INPUT;
}

void gs__limits_free(gs_server *s) {
        free(s->uids);
        s->uids = NULL;
        s->n_uids = s->cap_uids = 0;
}

static gs__uid_count *uid_find(gs_server *s, uid_t uid) {
        for (size_t i = 0; i < s->n_uids; i++)
                if (s->uids[i].uid == uid)
                        return &s->uids[i];
        return NULL;
}

static gs__uid_count *uid_add(gs_server *s, uid_t uid) {
        if (s->n_uids == s->cap_uids) {
                size_t cap = s->cap_uids ? s->cap_uids * 2 : 8;
                gs__uid_count *p = realloc(s->uids, cap * sizeof(*p));
                if (!p)
                        return NULL;
                s->uids = p;
                s->cap_uids = cap;
        }
        s->uids[s->n_uids] = (gs__uid_count) { .uid = uid };
        return &s->uids[s->n_uids++];
}

gs__limit gs__limits_admit(gs_server *s, gs__conn *c) {
        if (c->control)
                return GS__LIMIT_NONE;
        if (s->n_clients >= s->max_conns)
                return GS__LIMIT_CONNECTIONS;
        if (c->trusted)
                return GS__LIMIT_NONE;
        if (s->n_untrusted >= s->max_conns - s->reserved_conns)
                return GS__LIMIT_CONNECTIONS;
        gs__uid_count *u = uid_find(s, c->uid);
        if (u && u->n >= s->max_conns_per_uid)
                return GS__LIMIT_UID;
        if (!u && !(u = uid_add(s, c->uid)))
                return GS__LIMIT_CONNECTIONS;   /* out of memory: as full */
        u->n++;
        s->n_untrusted++;
        c->counted = true;
        return GS__LIMIT_NONE;
}

void gs__limits_release(gs_server *s, gs__conn *c) {
        gs__limits_input(s, c, 0);
        if (!c->counted)
                return;
        c->counted = false;
        s->n_untrusted--;
        gs__uid_count *u = uid_find(s, c->uid);
        if (u && --u->n == 0)
                *u = s->uids[--s->n_uids];
}

void gs__limits_input(gs_server *s, gs__conn *c, size_t buffered) {
        s->input_bytes = s->input_bytes - c->in_counted + buffered;
        c->in_counted = buffered;
}

gs__limit gs__limits_check(const gs_server *s, gs__conn *c, uint64_t now, bool reading, uint64_t *ret_due) {
        uint64_t due = UINT64_MAX;

        if (c->control) {
                *ret_due = due;
                return GS__LIMIT_NONE;
        }
        if (c->partial_usec && s->frame_timeout_usec) {
                /* Not read now (the server is busy with it, or suspended):
                 * its clock starts again, the wait is not the peer's. */
                if (!reading)
                        c->partial_usec = now;
                uint64_t d = c->partial_usec + s->frame_timeout_usec;
                if (d <= now)
                        return GS__LIMIT_FRAME;
                due = d;
        }
        if (c->counted && s->idle_timeout_usec) {
                bool idle = c->n_pending == 0 && !c->in_ready && !c->want_write && c->in_counted == 0 &&
                            c->n_held == c->held_start;
                uint64_t d = c->last_usec + s->idle_timeout_usec;
                if (d <= now && idle)
                        return GS__LIMIT_IDLE;
                if (d <= now)
                        d = now + s->idle_timeout_usec;
                if (d < due)
                        due = d;
        }
        *ret_due = due;
        return GS__LIMIT_NONE;
}

const char *gs__limit_text(gs__limit l) {
        switch (l) {
        case GS__LIMIT_CONNECTIONS:
                return "too many connections";
        case GS__LIMIT_UID:
                return "too many connections from this user";
        case GS__LIMIT_FRAME:
                return "frame not complete in time";
        case GS__LIMIT_IDLE:
                return "idle too long";
        case GS__LIMIT_INPUT:
                return "input budget exceeded";
        case GS__LIMIT_NONE:
        case _GS__LIMIT_MAX:
                break;
        }
        return "limit";
}

int gs__limit_errno(gs__limit l) {
        switch (l) {
        case GS__LIMIT_CONNECTIONS:
                return EMFILE;
        case GS__LIMIT_UID:
                return EUSERS;
        case GS__LIMIT_FRAME:
        case GS__LIMIT_IDLE:
                return ETIMEDOUT;
        case GS__LIMIT_INPUT:
                return ENOBUFS;
        case GS__LIMIT_NONE:
        case _GS__LIMIT_MAX:
                break;
        }
        return EIO;
}
