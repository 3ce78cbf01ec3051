/* reqids.c: collections of outstanding requests (OTP 25's reqids_*),
 * possibly on several clients.
 *
 * A member points at its request's slot in the client's table, and the
 * slot points back (owner, member). When a client completes a request a
 * collection owns, it tells the collection through the owner's hooks
 * (client.c never calls into this file), which append the member to the
 * collection's completion queue, so responses come out in completion order in O(1), however large
 * the collection. Waiting polls the fds of every client the collection
 * spans. Each member holds a reference on its client, so a client freed
 * while a collection still holds its requests stays allocated (its
 * requests failed with -ECONNRESET) until the collection lets go. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

typedef enum member_state {
        MEMBER_FREE,
        MEMBER_PENDING,    /* its request awaits an answer */
        MEMBER_QUEUED,     /* answered, in the completion queue */
        MEMBER_ANSWERED,   /* delivered and kept (delete false): never answers again */
        _MEMBER_STATE_MAX,
} member_state;

typedef struct member {
        gs_client *c;
        uint32_t req;          /* slot in c's request table */
        void *label;
        member_state state;
        uint32_t prev, next;   /* completion queue links; next also links the free list */
} member;

/* A client the collection spans, with how many members are on it. */
typedef struct span {
        gs_client *c;
        uint32_t members;
} span;

struct gs_reqids {
        gs__req_owner owner;   /* what the slots of its requests point at */
        member *m;
        uint32_t cap, size, free_head;
        uint32_t qhead, qtail;
        uint32_t n_pending;

        span *spans;
        uint32_t n_spans, cap_spans;

        struct pollfd *pfd;    /* reused for every wait */
        gs_client **pcl;
        uint32_t cap_pfd;
};

typedef enum wait_mode {
        WAIT_KEEP,      /* gs_reqids_wait: a timeout keeps every request */
        WAIT_ABANDON,   /* gs_reqids_receive: a timeout abandons them all */
        WAIT_CHECK,     /* gs_reqids_check: no waiting */
        _WAIT_MODE_MAX,
} wait_mode;

static void on_completed(gs__req_owner *o, uint32_t mi);
static void on_forget(gs__req_owner *o, uint32_t mi);

int gs_reqids_new(gs_reqids **ret) {
        if (!ret)
                return -EINVAL;
        gs_reqids *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->owner = (gs__req_owner) { .completed = on_completed, .forget = on_forget };
        r->free_head = r->qhead = r->qtail = GS__NONE;
        *ret = r;
        return 0;
}

size_t gs_reqids_size(const gs_reqids *r) {
        return r ? r->size : 0;
}

/* ---- spans ---- */

static int span_add(gs_reqids *r, gs_client *c) {
        for (uint32_t i = 0; i < r->n_spans; i++)
                if (r->spans[i].c == c) {
                        r->spans[i].members++;
                        return 0;
                }
        if (r->n_spans == r->cap_spans) {
                uint32_t cap = r->cap_spans ? r->cap_spans * 2 : 4;
                span *s = realloc(r->spans, (size_t) cap * sizeof(*s));
                if (!s)
                        return -ENOMEM;
                r->spans = s;
                r->cap_spans = cap;
        }
        r->spans[r->n_spans++] = (span) { .c = c, .members = 1 };
        return 0;
}

static void span_del(gs_reqids *r, gs_client *c) {
        for (uint32_t i = 0; i < r->n_spans; i++)
                if (r->spans[i].c == c) {
                        if (--r->spans[i].members == 0)
                                r->spans[i] = r->spans[--r->n_spans];
                        return;
                }
}

/* ---- members ---- */

static int member_alloc(gs_reqids *r, uint32_t *ret) {
        if (r->free_head == GS__NONE) {
                uint32_t cap = r->cap ? r->cap * 2 : 8;
                if (cap <= r->cap || cap > UINT32_MAX / 2)
                        return -ENOMEM;
                member *n = realloc(r->m, (size_t) cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                memset(n + r->cap, 0, (size_t) (cap - r->cap) * sizeof(*n));
                for (uint32_t i = cap; i > r->cap; i--) {
                        n[i - 1].next = r->free_head;
                        r->free_head = i - 1;
                }
                r->m = n;
                r->cap = cap;
        }
        *ret = r->free_head;
        r->free_head = r->m[*ret].next;
        return 0;
}

static void queue_append(gs_reqids *r, uint32_t mi) {
        member *m = &r->m[mi];

        m->state = MEMBER_QUEUED;
        m->next = GS__NONE;
        m->prev = r->qtail;
        if (r->qtail != GS__NONE)
                r->m[r->qtail].next = mi;
        else
                r->qhead = mi;
        r->qtail = mi;
}

static void queue_unlink(gs_reqids *r, uint32_t mi) {
        member *m = &r->m[mi];

        if (m->prev != GS__NONE)
                r->m[m->prev].next = m->next;
        else
                r->qhead = m->next;
        if (m->next != GS__NONE)
                r->m[m->next].prev = m->prev;
        else
                r->qtail = m->prev;
        m->prev = m->next = GS__NONE;
}

/* Takes a member out of the collection; its request slot is the
 * caller's business. */
static void member_release(gs_reqids *r, uint32_t mi) {
        member *m = &r->m[mi];
        gs_client *c = m->c;

        switch (m->state) {
        case MEMBER_PENDING:
                r->n_pending--;
                break;
        case MEMBER_QUEUED:
                queue_unlink(r, mi);
                break;
        case MEMBER_ANSWERED:
        case MEMBER_FREE:
        case _MEMBER_STATE_MAX:
                break;
        }
        *m = (member) { .state = MEMBER_FREE, .req = GS__NONE, .prev = GS__NONE, .next = r->free_head };
        r->free_head = mi;
        r->size--;
        span_del(r, c);
        gs__client_unref(c);
}

/* The owner is the first field: the hooks get the collection back. */
static void on_completed(gs__req_owner *o, uint32_t mi) {
        gs_reqids *r = (gs_reqids *) o;

        if (r->m[mi].state != MEMBER_PENDING)
                return;
        r->n_pending--;
        queue_append(r, mi);
}

static void on_forget(gs__req_owner *o, uint32_t mi) {
        member_release((gs_reqids *) o, mi);
}

int gs_reqids_add(gs_reqids *r, gs_client *c, gs_reqid id, void *label) {
        uint32_t mi;

        if (!r || !c || c->freed)
                return -EINVAL;
        int idx = gs__client_req_find(c, id);
        if (idx < 0)
                return -ENOENT;
        gs__req *e = &c->reqs[idx];
        if (e->owner == &r->owner)
                return -EEXIST;
        if (e->owner)
                return -EBUSY;   /* a request belongs to one collection at most */
        if (e->state != GS__REQ_PENDING && e->state != GS__REQ_DONE)
                return -ENOENT;
        int ret = member_alloc(r, &mi);
        if (ret < 0)
                return ret;
        ret = span_add(r, c);
        if (ret < 0) {
                r->m[mi].next = r->free_head;
                r->free_head = mi;
                return ret;
        }
        c->nref++;
        r->size++;
        r->m[mi] = (member) {
                .c = c, .req = (uint32_t) idx, .label = label,
                .state = MEMBER_PENDING, .prev = GS__NONE, .next = GS__NONE,
        };
        e->owner = &r->owner;
        e->member = mi;
        if (e->state == GS__REQ_DONE)
                queue_append(r, mi);
        else
                r->n_pending++;
        return 0;
}

int gs_send_request_to(gs_reqids *r, gs_client *c, const void *req, size_t len, void *label) {
        gs_reqid id;

        if (!r || !c)
                return -EINVAL;
        int ret = gs_send_request(c, req, len, &id);
        if (ret < 0)
                return ret;
        ret = gs_reqids_add(r, c, id, label);
        if (ret < 0) {
                int idx = gs__client_req_find(c, id);
                if (idx >= 0)
                        gs__client_req_remove(c, (uint32_t) idx);
        }
        return ret;
}

/* Abandons every request: their answers, if they come, are dropped. */
static void abandon_all(gs_reqids *r) {
        for (uint32_t i = 0; i < r->cap; i++) {
                if (r->m[i].state == MEMBER_FREE)
                        continue;
                gs__client_req_remove(r->m[i].c, r->m[i].req);
                member_release(r, i);
        }
}

gs_reqids *gs_reqids_free(gs_reqids *r) {
        if (!r)
                return NULL;
        abandon_all(r);
        free(r->m);
        free(r->spans);
        free(r->pfd);
        free(r->pcl);
        free(r);
        return NULL;
}

/* ---- waiting ---- */

/* Hands over the first answer in the completion queue. */
static int take(gs_reqids *r, bool delete, gs_buf *reply, void **ret_label) {
        uint32_t mi = r->qhead;
        member *m = &r->m[mi];
        gs_client *c = m->c;
        void *label = m->label;

        queue_unlink(r, mi);
        int st = gs__client_req_take(c, m->req, reply);
        if (delete) {
                gs__client_req_remove(c, m->req);
                m->state = MEMBER_ANSWERED;
                member_release(r, mi);
        } else {
                /* It stays, answered, so that adding it again is -EEXIST
                 * and it counts in the size, as in OTP. */
                gs__req *e = &c->reqs[m->req];
                e->state = GS__REQ_ANSWERED;
                gs_buf_clear(&e->reply);
                m->state = MEMBER_ANSWERED;
        }
        if (ret_label)
                *ret_label = label;
        return st;
}

static int pfd_reserve(gs_reqids *r, uint32_t n) {
        if (n <= r->cap_pfd)
                return 0;
        struct pollfd *p = realloc(r->pfd, (size_t) n * sizeof(*p));
        if (!p)
                return -ENOMEM;
        r->pfd = p;
        gs_client **q = realloc(r->pcl, (size_t) n * sizeof(*q));
        if (!q)
                return -ENOMEM;
        r->pcl = q;
        r->cap_pfd = n;
        return 0;
}

static int wait_common(gs_reqids *r, int timeout_ms, bool delete, gs_buf *reply, void **ret_label, wait_mode mode) {
        int64_t deadline = 0;
        bool started = false;

        if (!r)
                return -EINVAL;
        if (r->size == 0)
                return -ECHILD;
        for (;;) {
                if (r->qhead != GS__NONE)
                        return take(r, delete, reply, ret_label);

                switch (mode) {
                case WAIT_CHECK:
                        if (started)
                                return -EAGAIN;
                        started = true;
                        for (uint32_t i = 0; i < r->n_spans; i++) {
                                gs_client *c = r->spans[i].c;
                                if (c->dead)
                                        continue;
                                (void) gs__client_handle(c, POLLOUT);
                                (void) gs__client_read_all(c);
                        }
                        continue;
                case WAIT_KEEP:
                case WAIT_ABANDON:
                case _WAIT_MODE_MAX:
                        break;
                }

                if (!started) {
                        gs__client_flush_thread();
                        deadline = gs__deadline(timeout_ms);
                        started = true;
                }
                int ret = pfd_reserve(r, r->n_spans);
                if (ret < 0)
                        return ret;
                /* With nothing pending (every request answered and kept)
                 * there is nothing to read: wait out the timeout, as OTP. */
                uint32_t n = 0;
                for (uint32_t i = 0; r->n_pending > 0 && i < r->n_spans; i++) {
                        gs_client *c = r->spans[i].c;
                        if (c->dead)
                                continue;
                        r->pfd[n] = (struct pollfd) { .fd = gs_client_fd(c), .events = gs__client_events(c) };
                        r->pcl[n++] = c;
                }
                int k = poll(n ? r->pfd : NULL, n, gs__remaining_ms(deadline));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0) {
                        if (mode == WAIT_ABANDON)
                                abandon_all(r);
                        return -ETIMEDOUT;
                }
                /* A client's failure fails its requests, which then come
                 * out of the queue with their status. */
                for (uint32_t i = 0; i < n; i++)
                        if (r->pfd[i].revents)
                                (void) gs__client_handle(r->pcl[i], r->pfd[i].revents);
        }
}

int gs_reqids_wait(gs_reqids *r, int timeout_ms, bool delete, gs_buf *reply, void **ret_label) {
        return wait_common(r, timeout_ms, delete, reply, ret_label, WAIT_KEEP);
}

int gs_reqids_receive(gs_reqids *r, int timeout_ms, bool delete, gs_buf *reply, void **ret_label) {
        return wait_common(r, timeout_ms, delete, reply, ret_label, WAIT_ABANDON);
}

int gs_reqids_check(gs_reqids *r, bool delete, gs_buf *reply, void **ret_label) {
        return wait_common(r, 0, delete, reply, ret_label, WAIT_CHECK);
}
