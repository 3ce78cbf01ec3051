/* client.c: the client side of a gensup connection.
 *
 * One blocking-style connection object on top of the non-blocking
 * ipc_conn: every wait has a deadline on CLOCK_MONOTONIC and survives
 * EINTR. A call queues its frame straight into the ipc output buffer,
 * writes it with one sendmsg, then reads, the read itself waiting (a
 * blocking recvmsg under SO_RCVTIMEO; poll(2) only while output waits for
 * room): two system calls on the fast path, with no allocation on either
 * side (replies are copied from the input buffer into the caller's gs_buf).
 *
 * Requests carry refs picked here: unique per connection, increasing from
 * 1, never reused. An answer whose ref is neither the current call's nor
 * an outstanding asynchronous request's is dropped, so a late reply (after
 * a timeout, or for an abandoned request) is never taken for another's.
 * Answers to other outstanding requests that arrive while waiting for one
 * are kept in that request's slot; storage is bounded by the number of
 * outstanding requests.
 *
 * Writes never queue without bound: a cast or request that finds the
 * socket buffer full waits for room (reading and keeping answers in the
 * meantime, so that a server blocked on writing to us cannot deadlock). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client-internal.h"

/* ---- time ---- */

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gs__deadline(int timeout_ms) {
        if (timeout_ms < 0)
                return -1;
        return now_ns() + (int64_t) timeout_ms * 1000000;
}

int gs__remaining_ms(int64_t deadline) {
        if (deadline < 0)
                return -1;
        int64_t left = deadline - now_ns();
        if (left <= 0)
                return 0;
        int64_t ms = (left + 999999) / 1000000;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* ---- the request table ---- */

static uint32_t home_of(const gs_client *c, uint64_t ref) {
        /* Fibonacci hashing spreads consecutive refs over the index. */
        return (uint32_t) ((ref * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & c->index_mask;
}

int gs__client_req_find(const gs_client *c, uint64_t ref) {
        if (!c->index || ref == 0)
                return -1;
        for (uint32_t i = home_of(c, ref);; i = (i + 1) & c->index_mask) {
                uint32_t s = c->index[i];
                if (s == 0)
                        return -1;
                if (c->reqs[s - 1].ref == ref)
                        return (int) (s - 1);
        }
}

static void index_put(gs_client *c, uint32_t idx) {
        uint32_t i = home_of(c, c->reqs[idx].ref);

        while (c->index[i] != 0)
                i = (i + 1) & c->index_mask;
        c->index[i] = idx + 1;
}

static int index_grow(gs_client *c) {
        uint32_t size = c->index ? (c->index_mask + 1) * 2 : 16;

        if (size == 0)
                return -ENOMEM;
        uint32_t *n = calloc(size, sizeof(*n));
        if (!n)
                return -ENOMEM;
        free(c->index);
        c->index = n;
        c->index_mask = size - 1;
        for (uint32_t i = 0; i < c->cap_reqs; i++)
                if (c->reqs[i].state != GS__REQ_FREE)
                        index_put(c, i);
        return 0;
}

static int req_insert(gs_client *c, uint64_t ref, uint32_t *ret_idx) {
        int r;

        /* Keep the index at most half full. */
        if (!c->index || (uint64_t) (c->n_reqs + 1) * 2 > (uint64_t) c->index_mask + 1) {
                r = index_grow(c);
                if (r < 0)
                        return r;
        }
        if (c->free_head == GS__NONE) {
                uint32_t cap = c->cap_reqs ? c->cap_reqs * 2 : 16;
                if (cap <= c->cap_reqs || cap > UINT32_MAX / 2)
                        return -ENOMEM;
                gs__req *n = realloc(c->reqs, (size_t) cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                memset(n + c->cap_reqs, 0, (size_t) (cap - c->cap_reqs) * sizeof(*n));
                for (uint32_t i = cap; i > c->cap_reqs; i--) {
                        n[i - 1].next_free = c->free_head;
                        c->free_head = i - 1;
                }
                c->reqs = n;
                c->cap_reqs = cap;
        }
        uint32_t idx = c->free_head;
        gs__req *e = &c->reqs[idx];
        c->free_head = e->next_free;
        e->ref = ref;
        e->state = GS__REQ_PENDING;
        e->status = 0;
        e->owner = NULL;
        e->member = GS__NONE;
        e->next_free = GS__NONE;
        gs_buf_clear(&e->reply);
        index_put(c, idx);
        c->n_reqs++;
        *ret_idx = idx;
        return 0;
}

void gs__client_req_remove(gs_client *c, uint32_t idx) {
        gs__req *e = &c->reqs[idx];
        uint32_t i = home_of(c, e->ref);

        while (c->index[i] != idx + 1)
                i = (i + 1) & c->index_mask;
        /* Backward-shift deletion: pull later entries of the probe run
         * into the hole unless their home lies cyclically in (hole, j]. */
        c->index[i] = 0;
        for (uint32_t j = (i + 1) & c->index_mask; c->index[j] != 0; j = (j + 1) & c->index_mask) {
                uint32_t k = home_of(c, c->reqs[c->index[j] - 1].ref);
                bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
                if (stays)
                        continue;
                c->index[i] = c->index[j];
                c->index[j] = 0;
                i = j;
        }

        e->ref = 0;
        e->state = GS__REQ_FREE;
        e->owner = NULL;
        e->member = GS__NONE;
        if (e->reply.cap > GS__KEEP_BUF_MAX)
                gs_buf_done(&e->reply);
        else
                gs_buf_clear(&e->reply);
        e->next_free = c->free_head;
        c->free_head = idx;
        c->n_reqs--;
}

static void req_complete(gs_client *c, uint32_t idx, int status) {
        gs__req *e = &c->reqs[idx];

        e->state = GS__REQ_DONE;
        e->status = status;
        if (e->owner)
                e->owner->completed(e->owner, e->member);
}

int gs__client_req_take(gs_client *c, uint32_t idx, gs_buf *reply) {
        gs__req *e = &c->reqs[idx];
        int status = e->status;

        if (reply && (status == 0 || status == -EREMOTEIO)) {
                gs_buf t = *reply;
                *reply = e->reply;
                e->reply = t;
                gs_buf_clear(&e->reply);
        }
        return status;
}

/* ---- connection state ---- */

/* The connection is over: fail whoever waits, and every outstanding
 * request, with err. Later uses see -ECONNRESET. */
static void conn_fail(gs_client *c, int err) {
        if (c->dead)
                return;
        c->dead = true;
        c->dead_err = err;
        /* Tell the server at once, rather than when the fd is closed. */
        if (c->conn)
                (void) shutdown(ipc_conn_fd(c->conn), SHUT_RDWR);
        if (c->wait_ref != 0 && !c->wait_done) {
                c->wait_done = true;
                c->wait_status = err;
        }
        for (uint32_t i = 0; i < c->cap_reqs; i++)
                if (c->reqs[i].state == GS__REQ_PENDING)
                        req_complete(c, i, err);
}

bool gs__client_is_self(const gs_client *c) {
        /* Only a connection made by the process that listens can be to
         * itself (a child's pid is never an existing listener's), so
         * getpid() is asked only in that rare case. */
        return c->peer_pid > 0 && c->peer_pid == c->connect_pid && getpid() == c->peer_pid;
}

static int error_code(const ipc_frame *f) {
        return f->code > 0 && f->code < 4096 ? -f->code : -EREMOTEIO;
}

/* A large reply read straight into the waiter's buffer
 * (ipc_conn_sink_arm): room for len bytes and the NUL after them. */
static uint8_t *reply_reserve(void *userdata, size_t len) {
        gs_buf *b = userdata;

        if (len >= b->cap) {
                gs_buf_done(b);
                b->data = malloc(len + 1);
                if (!b->data)
                        return NULL;
                b->cap = len + 1;
        }
        b->len = 0;
        return b->data;
}

/* The reply's payload into the waiter's buffer, unless it was read there. */
static int reply_set(gs_buf *b, const ipc_frame *f) {
        if (f->payload.len == 0 || f->payload.data != b->data)
                return gs_buf_set(b, f->payload.data, f->payload.len);
        b->len = f->payload.len;
        b->data[b->len] = 0;
        return 0;
}

/* An answer to a CALL or SYS: for the synchronous waiter, for an
 * outstanding request, or for nobody (dropped). */
static int dispatch_answer(gs_client *c, ipc_frame **pf) {
        ipc_frame *f = *pf;

        if (f->ref != 0 && f->ref == c->wait_ref && !c->wait_done) {
                int st;
                switch (f->kind) {
                case GENSUP__KIND__REPLY:
                        if (c->wait_sys)
                                return -EBADMSG;
                        st = c->wait_buf ? reply_set(c->wait_buf, f) : 0;
                        break;
                case GENSUP__KIND__SYS_REPLY:
                        if (!c->wait_sys)
                                return -EBADMSG;
                        c->wait_frame = f;
                        *pf = NULL;
                        st = 0;
                        break;
                default: /* ERROR */
                        st = c->wait_sys ? error_code(f) : -EREMOTEIO;
                        if (c->wait_buf) {
                                int r = gs_buf_set(c->wait_buf, f->reason, strlen(f->reason));
                                if (r < 0)
                                        st = r;
                        }
                        break;
                }
                c->wait_done = true;
                c->wait_status = st;
                return 0;
        }

        int idx = gs__client_req_find(c, f->ref);
        if (idx < 0 || c->reqs[idx].state != GS__REQ_PENDING)
                return 0;   /* late, abandoned, or never asked for */
        gs__req *e = &c->reqs[idx];
        int st;
        switch (f->kind) {
        case GENSUP__KIND__REPLY:
                st = gs_buf_set(&e->reply, f->payload.data, f->payload.len);
                break;
        case GENSUP__KIND__SYS_REPLY:
                return -EBADMSG;
        default: /* ERROR */
                st = gs_buf_set(&e->reply, f->reason, strlen(f->reason));
                if (st == 0)
                        st = -EREMOTEIO;
                break;
        }
        req_complete(c, (uint32_t) idx, st);
        return 0;
}

/* Handles one frame from the server. Returns 0 or -EBADMSG (a frame no
 * server sends). *pf is set to NULL if the frame was kept. */
static int dispatch(gs_client *c, ipc_frame **pf) {
        ipc_frame *f = *pf;

        switch (f->kind) {
        case GENSUP__KIND__ERROR:
                if (f->ref == 0) {
                        /* About the connection, not a request: the server
                         * refuses or closes it (a limit), and says why. */
                        conn_fail(c, error_code(f));
                        return 0;
                }
                return dispatch_answer(c, pf);
        case GENSUP__KIND__REPLY:
        case GENSUP__KIND__SYS_REPLY:
                return dispatch_answer(c, pf);
        case GENSUP__KIND__HELLO:
                /* The server takes payloads in memfds: large ones go so. */
                if (f->features & GENSUP__FEATURE__FEATURE_MEMFD) {
                        c->memfd_on = true;
                        ipc_conn_set_memfd(c->conn, true, c->memfd_min);
                }
                return 0;
        case GENSUP__KIND__EXIT_REPORT: {
                gs_buf b = GS_BUF_INIT;
                if (!c->exit_reason && gs__reason_from_peer(f->reason, &b) == 0)
                        c->exit_reason = (char *) b.data;
                else
                        gs_buf_done(&b);
                conn_fail(c, -ECONNRESET);
                return 0;
        }
        case GENSUP__KIND__KIND_UNSPECIFIED:
        case GENSUP__KIND__CALL:
        case GENSUP__KIND__CAST:
        case GENSUP__KIND__INFO:
        case GENSUP__KIND__EXIT:
        case GENSUP__KIND__READY:
        case GENSUP__KIND__INIT_FAILED:
        case GENSUP__KIND__IGNORE:
        case GENSUP__KIND__SYS:
        case GENSUP__KIND__CTL:
        case GENSUP__KIND__CTL_REPLY:
        case GENSUP__KIND__EVENT:
                return -EBADMSG;
        default:
                /* A kind newer than this library: nothing it can act on. */
                return 0;
        }
}

/* Reads once and dispatches every complete frame: without waiting when
 * wait_ms is 0, else waiting up to wait_ms (< 0: forever) in the read
 * itself. Returns the bytes read, -EAGAIN if nothing was there (in time),
 * -EINTR, or the connection's failure. */
static int read_wait(gs_client *c, int wait_ms) {
        if (c->dead)
                return -ECONNRESET;
        int n = wait_ms == 0 ? ipc_conn_read(c->conn) : ipc_conn_read_wait(c->conn, wait_ms);
        if (n == -EAGAIN || n == -ENOMEM || n == -EINTR)
                return n;
        if (n < 0) {
                conn_fail(c, -ECONNRESET);
                return -ECONNRESET;
        }
        ipc_frame view;
        ipc_frame_init(&view, GENSUP__KIND__KIND_UNSPECIFIED, 0);
        for (;;) {
                ipc_frame *f = NULL;
                /* Replies are copied straight out of the input buffer into
                 * the caller's gs_buf (no frame allocated); other frames,
                 * such as a SYS_REPLY handed to the caller, are owned. */
                int r = ipc_conn_next_view(c->conn, &view, &f);
                if (r == 0)
                        break;
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        /* Garbage or an oversize frame: the stream cannot be
                         * resynchronised. */
                        conn_fail(c, -EBADMSG);
                        return -EBADMSG;
                }
                r = dispatch(c, &f);
                if (f != &view)
                        ipc_frame_free(f);
                if (r < 0) {
                        conn_fail(c, r);
                        return r;
                }
                if (c->dead)
                        return -ECONNRESET;
        }
        return n;
}

static int read_some(gs_client *c) {
        return read_wait(c, 0);
}

int gs__client_read_all(gs_client *c) {
        for (;;) {
                int r = read_some(c);
                if (r == -EAGAIN)
                        return 0;
                if (r < 0)
                        return r;
        }
}

/* Writes what the socket takes. Returns 0 (all written), -EAGAIN, or
 * -ECONNRESET; a server that has gone may have left its EXIT_REPORT
 * behind, so that is read before giving up. */
static int flush_some(gs_client *c) {
        if (c->dead)
                return -ECONNRESET;
        int r = ipc_conn_flush(c->conn);
        if (r == 0 && c->batch.linked)
                /* Nothing batched is left: the next batch is news again. */
                gs__batch_forget(&c->batch);
        if (r == 0 || r == -EAGAIN)
                return r;
        (void) gs__client_read_all(c);
        conn_fail(c, -ECONNRESET);
        /* A server that refused the connection said why (EMFILE, ...). */
        return c->dead_err;
}

short gs__client_events(const gs_client *c) {
        return POLLIN | (ipc_conn_pending(c->conn) > 0 ? POLLOUT : 0);
}

int gs__client_handle(gs_client *c, short revents) {
        int r;

        if (c->dead)
                return -ECONNRESET;
        if (revents & POLLOUT) {
                r = flush_some(c);
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
                r = read_some(c);
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
        if (revents & POLLNVAL)
                return -EBADF;
        return 0;
}

/* Waits until the socket is ready (or deadline) and handles it once.
 * Returns 0 (something happened: look again), -ETIMEDOUT, or an error. */
static int pump(gs_client *c, int64_t deadline) {
        /* Write what collected (corked requests) before sleeping: the
         * socket has room nearly always, and then poll waits for POLLIN
         * alone instead of returning at once for POLLOUT. */
        if (!c->dead && ipc_conn_pending(c->conn) > 0) {
                int r = flush_some(c);
                if (r == 0)
                        /* Written: that is news for a caller waiting for
                         * room, and one waiting for an answer looks again. */
                        return 0;
                if (r != -EAGAIN)
                        return r;
        } else if (!c->dead) {
                /* Only input to wait for: the read itself waits, one
                 * system call instead of poll and recvmsg. */
                int ms = gs__remaining_ms(deadline);
                if (ms == 0)
                        return -ETIMEDOUT;
                int r = read_wait(c, ms);
                if (r == -EAGAIN)
                        /* SO_RCVTIMEO ran out; the caller's deadline
                         * decides (the next pump sees 0 ms left). */
                        return gs__remaining_ms(deadline) == 0 ? -ETIMEDOUT : 0;
                if (r == -EINTR)
                        return 0;
                return r < 0 ? r : 0;
        }
        for (;;) {
                if (c->dead)
                        return -ECONNRESET;
                struct pollfd p = { .fd = ipc_conn_fd(c->conn), .events = gs__client_events(c) };
                int n = poll(&p, 1, gs__remaining_ms(deadline));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ETIMEDOUT;
                return gs__client_handle(c, p.revents);
        }
}

/* Writes everything queued, waiting up to deadline for room. */
static int flush_all(gs_client *c, int64_t deadline) {
        for (;;) {
                int r = flush_some(c);
                if (r != -EAGAIN)
                        return r;
                r = pump(c, deadline);
                if (r < 0)
                        return r;
        }
}

/* ---- batching (batch.c keeps the list) ---- */

static int batch_flush(gs__batch *b, int64_t deadline, bool turn) {
        gs_client *c = (gs_client *) ((char *) b - offsetof(gs_client, batch));

        if (c->dead || !c->conn || ipc_conn_pending(c->conn) == 0)
                return 0;
        if (turn && c->corked) {
                /* Corked output waits for its owner (or for exit). */
                gs__batch_keep(b);
                return 0;
        }
        int r = flush_all(c, deadline);
        if (r == -ETIMEDOUT && ipc_conn_pending(c->conn) > 0)
                /* Not all written by the deadline: the rest stays in the
                 * list, for the owner's next flush, the next turn or exit. */
                gs__batch_keep(b);
        return r;
}

void gs__client_flush_thread(void) {
        /* Deadline 0: what the sockets take now, without waiting. */
        (void) gs__batch_flush_all(0, true);
}

/* After a cast or request was queued: it leaves now if batching is off or the batch is
 * full, else at the latest before the client waits for anything, on the
 * next turn of this thread's gen_server loop, on gs_client_flush(_all)
 * or gs_client_free, or at exit. */
static int batch_after_queue(gs_client *c) {
        size_t limit = c->corked ? GS__CORK_LIMIT : c->batch_limit;

        if (ipc_conn_pending(c->conn) >= limit)   /* always with limit 0 */
                return flush_all(c, -1);
        if (!c->batch.linked)
                gs__batch_note(&c->batch);
        return 0;
}

int gs_client_set_batch(gs_client *c, size_t bytes) {
        if (!c)
                return -EINVAL;
        c->batch_limit = bytes;
        if (c->dead || c->corked || ipc_conn_pending(c->conn) < bytes)
                return c->dead ? -ECONNRESET : 0;
        return flush_all(c, -1);
}

/* ---- connecting ---- */

/* Tells the server (gensup-protocol(7), HELLO) that this client takes
 * payloads in memfds, and from which size it wants them so. It leaves
 * with the next request, in the same write; a server that knows HELLO
 * answers with its own, and only then do requests go in memfds too. One
 * that does not ignores it (ref 0), and payloads stay inline both ways. */
int gs_client_set_memfd(gs_client *c, size_t min_bytes) {
        ipc_frame f;

        if (!c)
                return -EINVAL;
        if (c->dead)
                return -ECONNRESET;
        ipc_frame_init(&f, GENSUP__KIND__HELLO, 0);
        f.features = GENSUP__FEATURE__FEATURE_MEMFD;
        f.memfd_min = min_bytes;
        int r = ipc_conn_queue(c->conn, &f);
        if (r < 0)
                return r;
        c->memfd_min = min_bytes;
        /* From now on memfds may come; requests go in them once the server
         * said it takes them too (0 until then). */
        ipc_conn_set_memfd(c->conn, true, c->memfd_on ? min_bytes : 0);
        return batch_after_queue(c);
}

int gs_client_connect(const char *name_or_path, gs_client **ret) {
        char *dir = NULL, *path = NULL;
        int r;

        if (!name_or_path || !*name_or_path || !ret)
                return -EINVAL;
        if (!strchr(name_or_path, '/')) {
                r = ipc_runtime_dir(&dir);
                if (r < 0)
                        return r;
        }
        r = ipc_socket_path(dir, name_or_path, &path);
        free(dir);
        if (r < 0)
                return r;
        /* A socket in a directory someone else may change may be anyone's:
         * only root's or our own are trusted (gensup(3) SECURITY). */
        int fd = ipc_dir_check_socket(path, NULL);
        if (fd >= 0)
                fd = ipc_connect(path);
        free(path);
        if (fd < 0)
                /* A socket file nobody listens on is no server either. */
                return fd == -ECONNREFUSED || fd == -ENOTDIR ? -ENOENT : fd;

        struct ucred uc;
        pid_t peer = ipc_peer_cred(fd, &uc) == 0 ? uc.pid : 0;

        gs_client *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        r = ipc_conn_new(fd, 0, &c->conn);
        if (r < 0) {
                free(c);
                return r;
        }
        c->peer_pid = peer;
        c->connect_pid = getpid();
        c->batch_limit = GS_BATCH_DEFAULT;
        c->batch.pid = c->connect_pid;
        c->batch.flush = batch_flush;
        c->free_head = GS__NONE;
        *ret = c;
        return 0;
}

static void client_destroy(gs_client *c) {
        ipc_conn_free(c->conn);
        for (uint32_t i = 0; i < c->cap_reqs; i++)
                gs_buf_done(&c->reqs[i].reply);
        free(c->reqs);
        free(c->index);
        free(c->exit_reason);
        gs_buf_done(&c->scratch);
        free(c);
}

gs_client *gs_client_free(gs_client *c) {
        if (!c)
                return NULL;
        /* What collected leaves first: a returned cast is on its way. */
        if (!c->dead && c->connect_pid == getpid() && ipc_conn_pending(c->conn) > 0)
                (void) flush_all(c, gs__deadline(GS__BATCH_EXIT_MS));
        gs__batch_forget(&c->batch);
        conn_fail(c, -ECONNRESET);
        c->conn = ipc_conn_free(c->conn);
        /* Requests a collection holds stay (failed) until it lets go of
         * them; the rest go now. */
        for (uint32_t i = 0; i < c->cap_reqs; i++)
                if (c->reqs[i].state != GS__REQ_FREE && !c->reqs[i].owner)
                        gs__client_req_remove(c, i);
        c->freed = true;
        if (c->nref == 0)
                client_destroy(c);
        return NULL;
}

void gs__client_unref(gs_client *c) {
        if (--c->nref == 0 && c->freed)
                client_destroy(c);
}

const char *gs_client_exit_reason(const gs_client *c) {
        return c ? c->exit_reason : NULL;
}

int gs_client_fd(const gs_client *c) {
        return c && c->conn ? ipc_conn_fd(c->conn) : -EBADF;
}

int gs_client_cork(gs_client *c, bool on) {
        if (!c)
                return -EINVAL;
        c->corked = on;
        if (on)
                return 0;
        return gs_client_flush(c);
}

int gs_client_flush(gs_client *c) {
        if (!c)
                return -EINVAL;
        if (c->dead)
                return -ECONNRESET;
        return flush_all(c, -1);
}

/* ---- calls ---- */

/* Waits for the answer to ref (already queued) as the synchronous waiter.
 * sys: a SYS_REPLY is expected and handed over in *ret_frame. */
static int wait_answer(gs_client *c, uint64_t ref, bool sys, int timeout_ms, gs_buf *buf, ipc_frame **ret_frame) {
        int r;

        c->wait_ref = ref;
        c->wait_done = false;
        c->wait_sys = sys;
        c->wait_status = 0;
        c->wait_buf = buf;
        c->wait_frame = NULL;

        gs__client_flush_thread();
        r = flush_some(c);
        if (r == 0 || r == -EAGAIN) {
                int64_t deadline = gs__deadline(timeout_ms);
                if (buf && !sys)
                        ipc_conn_sink_arm(c->conn, ref, reply_reserve, buf);
                while (!c->wait_done) {
                        r = pump(c, deadline);
                        if (r < 0 && !c->wait_done)
                                break;
                }
                /* Never written into once the caller has it back, and
                 * text again (its NUL) if a payload stopped half read. */
                ipc_conn_sink_arm(c->conn, 0, NULL, NULL);
                if (buf && !sys && buf->data)
                        buf->data[buf->len] = 0;
        }
        if (c->wait_done) {
                r = c->wait_status;
                if (r == 0 && ret_frame)
                        *ret_frame = c->wait_frame;
                else
                        ipc_frame_free(c->wait_frame);
        }
        c->wait_ref = 0;
        c->wait_buf = NULL;
        c->wait_frame = NULL;
        return r;
}

static int queue_payload(gs_client *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len) {
        if (len > 0 && !data)
                return -EINVAL;
        return ipc_conn_queue_data(c->conn, kind, ref, data, len);
}

/* Whether c may start a synchronous request now: 0 or why not. */
static int may_call(gs_client *c) {
        if (!c)
                return -EINVAL;
        if (c->dead)
                return -ECONNRESET;
        if (c->wait_ref != 0)
                return -EBUSY;
        if (gs__client_is_self(c))
                return -EDEADLK;
        return 0;
}

int gs_call(gs_client *c, const void *req, size_t len, int timeout_ms, gs_buf *reply) {
        int r = may_call(c);
        if (r < 0)
                return r;
        r = queue_payload(c, GENSUP__KIND__CALL, c->last_ref + 1, req, len);
        if (r < 0)
                return r;
        c->last_ref++;
        return wait_answer(c, c->last_ref, false, timeout_ms, reply, NULL);
}

static int send_oneway(gs_client *c, Gensup__Kind kind, const void *msg, size_t len) {
        if (!c)
                return -EINVAL;
        if (c->dead)
                return -ECONNRESET;
        int r = queue_payload(c, kind, 0, msg, len);
        if (r < 0)
                return r;
        return batch_after_queue(c);
}

int gs_cast(gs_client *c, const void *msg, size_t len) {
        return send_oneway(c, GENSUP__KIND__CAST, msg, len);
}

int gs_send_info(gs_client *c, const void *msg, size_t len) {
        return send_oneway(c, GENSUP__KIND__INFO, msg, len);
}

/* ---- typed helpers ---- */

int gs_call_msg(gs_client *c, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
                int timeout_ms, ProtobufCMessage **ret_reply) {
        if (!c || !req || !reply_desc || !ret_reply)
                return -EINVAL;
        int r = gs_buf_pack(&c->scratch, req);
        if (r < 0)
                return r;
        /* The request is copied into the output buffer before any reply
         * is written, so one scratch buffer serves both. */
        r = gs_call(c, c->scratch.data, c->scratch.len, timeout_ms, &c->scratch);
        if (r < 0)
                return r;
        ProtobufCMessage *m = protobuf_c_message_unpack(reply_desc, NULL, c->scratch.len, c->scratch.data);
        if (c->scratch.cap > GS__KEEP_BUF_MAX)
                gs_buf_done(&c->scratch);
        if (!m)
                return -EBADMSG;
        *ret_reply = m;
        return 0;
}

int gs_cast_msg(gs_client *c, const ProtobufCMessage *msg) {
        if (!c || !msg)
                return -EINVAL;
        int r = gs_buf_pack(&c->scratch, msg);
        if (r < 0)
                return r;
        r = gs_cast(c, c->scratch.data, c->scratch.len);
        if (c->scratch.cap > GS__KEEP_BUF_MAX)
                gs_buf_done(&c->scratch);
        return r;
}

ProtobufCMessage *gs_msg_unpack(const gs_msg *m, const ProtobufCMessageDescriptor *desc) {
        if (!m || !desc || (m->len > 0 && !m->data))
                return NULL;
        return protobuf_c_message_unpack(desc, NULL, m->len, m->data);
}

/* ---- asynchronous requests ---- */

int gs_send_request(gs_client *c, const void *req, size_t len, gs_reqid *ret_id) {
        uint32_t idx;

        if (!c || !ret_id)
                return -EINVAL;
        if (c->dead)
                return -ECONNRESET;
        uint64_t ref = c->last_ref + 1;
        int r = req_insert(c, ref, &idx);
        if (r < 0)
                return r;
        r = queue_payload(c, GENSUP__KIND__CALL, ref, req, len);
        if (r < 0) {
                gs__client_req_remove(c, idx);
                return r;
        }
        c->last_ref = ref;
        /* Requests collect like casts: 64 of them in flight cost one
         * write instead of 64. Waiting for any answer flushes. */
        r = batch_after_queue(c);
        if (r < 0) {
                gs__client_req_remove(c, idx);
                return r;
        }
        *ret_id = ref;
        return 0;
}

/* Hands over a done request's answer and releases it. */
static int deliver(gs_client *c, uint32_t idx, gs_buf *reply) {
        int st = gs__client_req_take(c, idx, reply);
        gs__req_owner *owner = c->reqs[idx].owner;
        uint32_t member = c->reqs[idx].member;

        gs__client_req_remove(c, idx);
        /* Taken outside its collection: it leaves the collection too. */
        if (owner)
                owner->forget(owner, member);
        return st;
}

static int find_outstanding(gs_client *c, gs_reqid id) {
        int idx = gs__client_req_find(c, id);

        if (idx < 0)
                return -ENOENT;
        gs__req_state s = c->reqs[idx].state;
        return s == GS__REQ_PENDING || s == GS__REQ_DONE ? idx : -ENOENT;
}

static int await(gs_client *c, gs_reqid id, int timeout_ms, gs_buf *reply, bool abandon) {
        if (!c)
                return -EINVAL;
        int idx = find_outstanding(c, id);
        if (idx < 0)
                return idx;
        int64_t deadline = 0;
        bool started = false;
        for (;;) {
                if (c->reqs[idx].state == GS__REQ_DONE)
                        return deliver(c, (uint32_t) idx, reply);
                if (!started) {
                        gs__client_flush_thread();
                        deadline = gs__deadline(timeout_ms);
                        started = true;
                }
                int r = pump(c, deadline);
                if (r == -ETIMEDOUT) {
                        if (abandon) {
                                gs__req_owner *owner = c->reqs[idx].owner;
                                uint32_t member = c->reqs[idx].member;
                                gs__client_req_remove(c, (uint32_t) idx);
                                if (owner)
                                        owner->forget(owner, member);
                        }
                        return r;
                }
                if (r < 0 && c->reqs[idx].state != GS__REQ_DONE)
                        return r;
        }
}

int gs_wait_response(gs_client *c, gs_reqid id, int timeout_ms, gs_buf *reply) {
        return await(c, id, timeout_ms, reply, false);
}

int gs_receive_response(gs_client *c, gs_reqid id, int timeout_ms, gs_buf *reply) {
        return await(c, id, timeout_ms, reply, true);
}

int gs_check_response(gs_client *c, gs_reqid id, gs_buf *reply) {
        if (!c)
                return -EINVAL;
        int idx = find_outstanding(c, id);
        if (idx < 0)
                return idx;
        if (c->reqs[idx].state != GS__REQ_DONE && !c->dead) {
                if (ipc_conn_pending(c->conn) > 0)
                        (void) flush_some(c);
                int r = gs__client_read_all(c);
                if (r < 0 && c->reqs[idx].state != GS__REQ_DONE)
                        return r;
        }
        if (c->reqs[idx].state == GS__REQ_DONE)
                return deliver(c, (uint32_t) idx, reply);
        return -EAGAIN;
}

/* ---- system requests ---- */

static int queue_sys(gs_client *c, Gensup__SysRequest__Op op, bool flag, uint64_t value, const char *reason) {
        ipc_frame f;
        Gensup__SysRequest s;

        gensup__sys_request__init(&s);
        s.op = op;
        s.flag = flag;
        s.value = value;
        s.reason = (char *) (reason ? reason : "");
        ipc_frame_init(&f, GENSUP__KIND__SYS, c->last_ref + 1);
        f.sys = &s;
        int r = ipc_conn_queue(c->conn, &f);
        if (r < 0)
                return r;
        c->last_ref++;
        return 0;
}

int gs__client_sys(gs_client *c, Gensup__SysRequest__Op op, bool flag, uint64_t value, const char *reason,
                   int timeout_ms, gs_buf *errtext, ipc_frame **ret_frame) {
        int r = may_call(c);
        if (r < 0)
                return r;
        r = queue_sys(c, op, flag, value, reason);
        if (r < 0)
                return r;
        return wait_answer(c, c->last_ref, true, timeout_ms, errtext, ret_frame);
}

int gs__client_stop(gs_client *c, const char *reason, int timeout_ms) {
        ipc_frame *f = NULL;

        if (c->dead)
                return -ECONNRESET;
        if (gs__client_is_self(c))
                return -EDEADLK;
        int r = queue_sys(c, GENSUP__SYS_REQUEST__OP__STOP, false, 0, reason ? reason : "normal");
        if (r < 0)
                return r;
        int64_t deadline = gs__deadline(timeout_ms);
        r = wait_answer(c, c->last_ref, true, timeout_ms, NULL, &f);
        /* The server answers a stop by going away: EXIT_REPORT or EOF. */
        if (r == -ECONNRESET)
                return 0;
        if (r < 0)
                return r;
        /* A server that acknowledges the stop is still to be waited for. */
        ipc_frame_free(f);
        while (!c->dead) {
                r = pump(c, deadline);
                if (r == -ECONNRESET)
                        break;
                if (r < 0)
                        return r;
        }
        return 0;
}
