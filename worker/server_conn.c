/* server_conn.c: a server's connections.
 *
 * Reading: a readable connection is read once (as many bytes as the socket
 * has, 64 KiB at least). When no other connection waits for its turn, up to
 * GS__BATCH of its frames are handled at once in its io callback, and their
 * answers written at the end of it (the fast path: one epoll_wait, one read,
 * one write per batch, no source switched). Otherwise, or with frames left
 * over, it goes on the ready queue; it is not read again until every
 * complete frame in its buffer has been handled, so a client that floods
 * the server fills only its own buffer and socket.
 *
 * Handling: a defer source takes the ready connections round-robin, at most
 * GS__BATCH frames of one before the next, so a flooding client cannot
 * starve the others. Frames of one connection are handled one at a time in
 * arrival order. While the server is suspended, only SYS (and, on the
 * control fd, EXIT) frames are handled; the others are held in order, and a
 * connection holding many is not read until the server resumes.
 *
 * Writing: answers are queued in the connection's output buffer. The io
 * callback writes them at its end; answers queued anywhere else are
 * written by a defer source switched on by the first of them, once per
 * loop iteration, so many replies cost one write. What the socket does
 * not take waits for EPOLLOUT.
 *
 * The bottom of the server side, with trace.c: it calls nothing in
 * server.c or sys_server.c, and hands everything up through the one
 * entry point s->dispatch (server_dispatch.c). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batch-internal.h"
#include "server-internal.h"

/* ---- lists ---- */

static void conns_link(gs_server *s, gs__conn *c) {
        c->prev = NULL;
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
}

static void conns_unlink(gs_server *s, gs__conn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void ready_unlink(gs_server *s, gs__conn *c) {
        if (!c->in_ready)
                return;
        if (c->ready_prev)
                c->ready_prev->ready_next = c->ready_next;
        else
                s->ready_head = c->ready_next;
        if (c->ready_next)
                c->ready_next->ready_prev = c->ready_prev;
        else
                s->ready_tail = c->ready_prev;
        c->ready_prev = c->ready_next = NULL;
        c->in_ready = false;
}

void gs__ready_push(gs__conn *c) {
        gs_server *s = c->server;

        if (c->in_ready)
                return;
        c->ready_next = NULL;
        c->ready_prev = s->ready_tail;
        if (s->ready_tail)
                s->ready_tail->ready_next = c;
        else
                s->ready_head = c;
        s->ready_tail = c;
        c->in_ready = true;
        if (s->work)
                (void) gs__src_set_enabled(s->work, GS__SRC_ON);
        gs__conn_update(c);
}

/* The flush source runs only while there is output to write and nobody
 * is about to write it anyway: during a connection's io callback
 * (s->in_io) the callback writes at its end. */
static void flush_enable(gs_server *s) {
        if (s->flush_on || s->in_io || !s->flush)
                return;
        if (gs__src_set_enabled(s->flush, GS__SRC_ONESHOT) >= 0)
                s->flush_on = true;
}

/* Some connection has output queued. */
static void flush_arm(gs_server *s) {
        if (s->dirty)
                flush_enable(s);
}

static void dirty_link(gs_server *s, gs__conn *c) {
        if (c->in_dirty)
                return;
        c->dirty_prev = NULL;
        c->dirty_next = s->dirty;
        if (s->dirty)
                s->dirty->dirty_prev = c;
        s->dirty = c;
        c->in_dirty = true;
        flush_arm(s);
}

static void dirty_unlink(gs_server *s, gs__conn *c) {
        if (!c->in_dirty)
                return;
        if (c->dirty_prev)
                c->dirty_prev->dirty_next = c->dirty_next;
        else
                s->dirty = c->dirty_next;
        if (c->dirty_next)
                c->dirty_next->dirty_prev = c->dirty_prev;
        c->dirty_prev = c->dirty_next = NULL;
        c->in_dirty = false;
}

/* ---- held frames (suspended) ---- */

static size_t held_count(const gs__conn *c) {
        return c->n_held - c->held_start;
}

static bool held_full(const gs__conn *c) {
        return held_count(c) >= GS__HELD_MAX || c->held_bytes >= GS__HELD_BYTES_MAX;
}

static int held_push(gs__conn *c, ipc_frame *f) {
        if (c->held_start > 0 && c->n_held == c->cap_held) {
                memmove(c->held, c->held + c->held_start, held_count(c) * sizeof(*c->held));
                c->n_held -= c->held_start;
                c->held_start = 0;
        }
        if (c->n_held == c->cap_held) {
                size_t cap = c->cap_held ? c->cap_held * 2 : 16;
                ipc_frame **p = realloc(c->held, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                c->held = p;
                c->cap_held = cap;
        }
        c->held[c->n_held++] = f;
        /* What it costs to hold, not what the user sees of it. */
        c->held_bytes += gensup__frame__get_packed_size(f);
        return 0;
}

static ipc_frame *held_pop(gs__conn *c) {
        if (held_count(c) == 0)
                return NULL;
        ipc_frame *f = c->held[c->held_start++];
        c->held_bytes -= gensup__frame__get_packed_size(f);
        if (c->held_start == c->n_held)
                c->held_start = c->n_held = 0;
        return f;
}

/* ---- pending calls ---- */

int gs__pending_add(gs__conn *c, uint64_t ref) {
        if (c->n_pending == c->cap_pending) {
                size_t cap = c->cap_pending ? c->cap_pending * 2 : 8;
                uint64_t *p = realloc(c->pending, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                c->pending = p;
                c->cap_pending = cap;
        }
        c->pending[c->n_pending++] = ref;
        return 0;
}

bool gs__pending_remove(gs__conn *c, uint64_t ref) {
        /* Newest first: an immediate reply answers the last call added. */
        for (size_t i = c->n_pending; i > 0; i--)
                if (c->pending[i - 1] == ref) {
                        c->pending[i - 1] = c->pending[--c->n_pending];
                        return true;
                }
        return false;
}

gs__conn *gs__conn_find(gs_server *s, uint64_t serial) {
        if (s->current && s->current->serial == serial)
                return s->current;
        for (gs__conn *c = s->conns; c; c = c->next)
                if (c->serial == serial)
                        return c;
        return NULL;
}

/* ---- io ---- */

void gs__conn_update(gs__conn *c) {
        gs_server *s = c->server;
        bool want_in = !c->eof && !c->in_ready && !s->stopping && !(s->suspended && held_full(c)) &&
                       !(s->paused && !c->control) &&
                       ipc_conn_pending(c->ipc) < GS__OUT_HIGH;
        uint32_t events = (want_in ? EPOLLIN : 0) | (c->want_write ? EPOLLOUT : 0);

        if (events == c->events)
                return;
        /* An io source with no events would still report EPOLLHUP, over and
         * over: switch it off instead. */
        if (events == 0)
                (void) gs__src_set_enabled(c->io, GS__SRC_OFF);
        else {
                (void) gs__src_set_io_events(c->io, events);
                if (c->events == 0)
                        (void) gs__src_set_enabled(c->io, GS__SRC_ON);
        }
        c->events = events;
}

/* Closes a connection that has nothing left to do: the peer closed, every
 * frame it sent is handled and every answer written. A peer that only
 * shut its writing side still waits for its deferred (noreply) answers. */
static bool conn_maybe_close(gs__conn *c) {
        if (!c->eof || c->in_ready || held_count(c) > 0 || ipc_conn_pending(c->ipc) > 0)
                return false;
        if (c->n_pending > 0 && !c->hup)
                return false;
        gs__conn_close(c);
        return true;
}

/* Returns -1 if c was closed. */
static int conn_flush(gs__conn *c) {
        int r = ipc_conn_flush(c->ipc);

        if (r == -EAGAIN)
                c->want_write = true;
        else if (r < 0) {
                gs__conn_close(c);
                return -1;
        } else
                c->want_write = false;
        if (conn_maybe_close(c))
                return -1;
        gs__conn_update(c);
        return 0;
}

/* ---- limits: refusing, deadlines, the input budget ---- */

static uint64_t now_usec(gs_server *s) {
        uint64_t t = 0;

        /* The loop's time of this iteration: no clock read per frame. */
        if (!s->event || gs__loop_now(s->event, &t) < 0)
                t = 0;
        return t;
}

/* Notes the limit, and tells the connection in one ERROR frame (ref 0:
 * the connection's, not a request's), written at once: it is closed
 * next. */
static void limit_tell(gs_server *s, gs__conn *c, gs__limit l, const char *what) {
        ipc_frame f;

        s->hits[l]++;
        gs__notice(s, &s->rl_limit, "%s uid %u pid %d: %s", what, (unsigned) c->uid, (int) c->pid,
                   gs__limit_text(l));
        ipc_frame_init(&f, GENSUP__KIND__ERROR, 0);
        f.code = gs__limit_errno(l);
        f.reason = (char *) gs__limit_text(l);
        if (ipc_conn_queue(c->ipc, &f) == 0)
                (void) ipc_conn_flush(c->ipc);
}

/* A connection past a limit at accept is told why and closed. */
static void conn_refuse(gs_server *s, gs__conn *c, gs__limit l) {
        limit_tell(s, c, l, "refused connection from");
        ipc_conn_free(c->ipc);
        free(c);
}

/* Closes a connection that ran out of a limit, telling it why. */
static void conn_expire(gs__conn *c, gs__limit l) {
        limit_tell(c->server, c, l, "closed connection of");
        gs__conn_close(c);
}

static int on_sweep(gs__src *src, uint64_t usec, void *userdata);

/* One timer for every deadline: it fires at the earliest one known and
 * looks at every connection then. */
static void sweep_arm(gs_server *s, uint64_t due) {
        if (due == UINT64_MAX || (s->sweep_usec && s->sweep_usec <= due))
                return;
        if (!s->sweep) {
                if (gs__loop_add_time(s->event, &s->sweep, due, on_sweep, s) < 0)
                        return;
                /* After the io: a peer whose bytes are waiting is read
                 * before its deadline is judged. */
                (void) gs__src_set_priority(s->sweep, GS__PRIO_IDLE);
        } else
                (void) gs__src_set_time(s->sweep, due);
        (void) gs__src_set_enabled(s->sweep, GS__SRC_ONESHOT);
        s->sweep_usec = due;
}

static int on_sweep(gs__src *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;
        uint64_t now = now_usec(s), next = UINT64_MAX;

        s->sweep_usec = 0;
        for (gs__conn *c = s->conns, *n; c; c = n) {
                uint64_t due;
                n = c->next;
                gs__limit l = gs__limits_check(s, c, now, (c->events & EPOLLIN) != 0, &due);
                if (l != GS__LIMIT_NONE) {
                        conn_expire(c, l);
                        continue;
                }
                if (due < next)
                        next = due;
        }
        sweep_arm(s, next);
        return 0;
}

/* After a turn of c: its input counts against the server's budget, and
 * a partial frame left in it starts its deadline. Returns -1 if c was
 * closed (over the budget with a partial frame). */
static int conn_after_turn(gs__conn *c, bool partial) {
        gs_server *s = c->server;
        size_t buffered = ipc_conn_buffered(c->ipc);

        if (c->control)
                return 0;
        gs__limits_input(s, c, buffered);
        if (!partial || buffered == 0) {
                c->partial_usec = 0;
                return 0;
        }
        if (s->input_bytes > s->max_input) {
                conn_expire(c, GS__LIMIT_INPUT);
                return -1;
        }
        if (c->partial_usec == 0) {
                c->partial_usec = now_usec(s);
                if (s->frame_timeout_usec)
                        sweep_arm(s, c->partial_usec + s->frame_timeout_usec);
        }
        return 0;
}

static int conn_process(gs__conn *c, unsigned budget);
static int conn_turns(gs__conn *c);

/* Reads once. Returns 1 if there may be frames to handle (also at EOF:
 * frames read before it are still handled), 0 if nothing came, -1 if c
 * was closed. */
static int conn_read(gs__conn *c) {
        int r = ipc_conn_read(c->ipc);

        if (r == -EAGAIN)
                return 0;
        if (r > 0)
                c->last_usec = now_usec(c->server);
        if (r == -ECONNRESET) {
                c->eof = true;
                /* Gone for good, or only done writing (shutdown(SHUT_WR))?
                 * Only a full close shows POLLHUP on a Unix socket. */
                struct pollfd p = { .fd = ipc_conn_fd(c->ipc), .events = POLLOUT };
                c->hup = poll(&p, 1, 0) != 1 || (p.revents & (POLLHUP | POLLERR));
        } else if (r < 0) {
                gs__conn_close(c);
                return -1;
        }
        return 1;
}

/* The fast path. A readable connection is read and up to one batch of its
 * frames (the round-robin quantum) is handled right here, and the answers
 * are written at the end of the callback: one epoll_wait, one read and one
 * write per batch, and no source is switched on or off. Only a connection
 * with frames left over goes to the ready queue, where the defer source
 * takes it in its round-robin turn, behind every other ready connection. */
static int on_conn_io(gs__src *src, int fd, uint32_t revents, void *userdata) {
        gs__conn *c = userdata;
        gs_server *s = c->server;
        bool broken = revents & (EPOLLHUP | EPOLLERR);

        if ((c->events & EPOLLOUT) && ((revents & EPOLLOUT) || broken) && conn_flush(c) < 0)
                return 0;
        if (!(c->events & EPOLLIN) || !((revents & EPOLLIN) || broken))
                return 0;
        if (conn_read(c) <= 0)
                return 0;
        if (s->ready_head) {
                /* Others wait for their turn: this one queues behind them,
                 * so that busy connections cannot starve a flooding one. */
                if (!c->control)
                        gs__limits_input(s, c, ipc_conn_buffered(c->ipc));
                gs__ready_push(c);
                return 0;
        }
        /* Timers that fired while the server was suspended come first, as
         * they would in the defer source's turn. */
        if (s->fired_head && !s->suspended)
                s->dispatch(s, GS__EVENT_TURN, NULL, NULL);

        s->in_io = true;
        int r = conn_turns(c);
        if (r >= 0)
                r = conn_after_turn(c, r == 0) < 0 ? -1 : r;
        if (r > 0)
                gs__ready_push(c);
        else if (r == 0 && !conn_maybe_close(c))
                gs__conn_update(c);
        s->in_io = false;
        gs__flush_dirty(s);
        return 0;
}

/* Who is at the other end. Trusted, for system requests: the control fd
 * (gensupd made the socketpair and handed it down), root, the server's
 * own uid, and gensupd on the public socket: the process at the other end
 * of the control fd, known by its pid and uid. */
static void conn_identify(gs_server *s, gs__conn *c, int fd) {
        struct ucred uc;

        c->uid = (uid_t) -1;
        if (ipc_peer_cred(fd, &uc) == 0) {
                c->uid = uc.uid;
                c->pid = uc.pid;
        }
        if (c->control) {
                c->trusted = true;
                return;
        }
        if (c->uid == (uid_t) -1)
                return;
        const gs__conn *sup = s->control;
        c->trusted = c->uid == 0 || c->uid == geteuid() ||
                     (sup && sup->pid > 0 && c->pid == sup->pid && c->uid == sup->uid);
}

int gs__conn_new(gs_server *s, int fd, bool control, gs__conn **ret) {
        gs__conn *c = calloc(1, sizeof(*c));
        int r;

        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        r = ipc_conn_new(fd, s->max_frame, &c->ipc);
        if (r < 0) {
                free(c);
                return r;
        }
        c->server = s;
        c->control = control;
        c->serial = ++s->next_serial;
        conn_identify(s, c, fd);
        c->last_usec = now_usec(s);
        gs__limit l = gs__limits_admit(s, c);
        if (l != GS__LIMIT_NONE) {
                conn_refuse(s, c, l);
                return -gs__limit_errno(l);
        }
        r = gs__loop_add_io(s->event, &c->io, fd, EPOLLIN, on_conn_io, c);
        if (r < 0) {
                gs__limits_release(s, c);
                ipc_conn_free(c->ipc);
                free(c);
                return r;
        }
        if (c->counted && s->idle_timeout_usec)
                sweep_arm(s, c->last_usec + s->idle_timeout_usec);
        c->events = EPOLLIN;
        conns_link(s, c);
        if (control)
                s->control = c;
        else
                s->n_clients++;
        if (ret)
                *ret = c;
        return 0;
}

void gs__conn_close(gs__conn *c) {
        gs_server *s = c->server;
        bool control = c->control;

        if (s->current == c)
                s->current = NULL;
        conns_unlink(s, c);
        ready_unlink(s, c);
        dirty_unlink(s, c);
        if (control)
                s->control = NULL;
        else
                s->n_clients--;
        gs__limits_release(s, c);
        gs__src_unref(c->io);
        ipc_conn_free(c->ipc);
        for (ipc_frame *f; (f = held_pop(c));)
                ipc_frame_free(f);
        free(c->held);
        free(c->pending);
        free(c);
        if (control && !s->stopping)
                s->dispatch(s, GS__EVENT_LINK_DOWN, NULL, NULL);
}

int gs__conn_queue(gs__conn *c, const ipc_frame *f) {
        int r = ipc_conn_queue(c->ipc, f);

        if (r < 0)
                return r;
        dirty_link(c->server, c);
        return 0;
}

int gs__conn_queue_data(gs__conn *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len) {
        int r = ipc_conn_queue_data(c->ipc, kind, ref, data, len);

        if (r < 0)
                return r;
        dirty_link(c->server, c);
        return 0;
}

int gs__conn_queue_fd(gs__conn *c, const ipc_frame *f, int fd) {
        int r = ipc_conn_queue_fd(c->ipc, f, fd);

        if (r < 0)
                return r;
        dirty_link(c->server, c);
        return 0;
}

void gs__send_error(gs__conn *c, uint64_t ref, int code, const char *text) {
        ipc_frame f;

        ipc_frame_init(&f, GENSUP__KIND__ERROR, ref);
        f.code = code;
        f.reason = (char *) text;
        (void) gs__conn_queue(c, &f);
}

/* ---- handling frames ---- */

static bool passes_suspension(const gs__conn *c, const ipc_frame *f) {
        return f->kind == GENSUP__KIND__SYS || c->control;
}

/* A client's HELLO (gensup-protocol(7)): if it takes payloads in
 * memfds, this connection takes them too, answers from the size the
 * client asked for go in memfds, and the answer says so. */
static void conn_hello(gs__conn *c, const ipc_frame *f) {
        ipc_frame g;

        if (c->control || !(f->features & GENSUP__FEATURE__FEATURE_MEMFD))
                return;
        ipc_frame_init(&g, GENSUP__KIND__HELLO, 0);
        g.features = GENSUP__FEATURE__FEATURE_MEMFD;
        if (gs__conn_queue(c, &g) == 0)
                ipc_conn_set_memfd(c->ipc, true, (size_t) f->memfd_min);
}

static void handle_frame(gs__conn *c, const ipc_frame *f) {
        gs_server *s = c->server;

        if (f->kind == GENSUP__KIND__HELLO) {
                conn_hello(c, f);
                return;
        }

        s->current = c;
        s->dispatch(s, GS__EVENT_FRAME, c, f);
        if (s->current == c)
                s->current = NULL;
}

/* Handles up to budget frames of c. Returns 1 if it may have more, 0 if it
 * has none handleable now, -1 if it was closed. */
static int conn_process(gs__conn *c, unsigned budget) {
        gs_server *s = c->server;
        ipc_frame view;

        ipc_frame_init(&view, GENSUP__KIND__KIND_UNSPECIFIED, 0);
        while (budget > 0) {
                ipc_frame *f = NULL;

                if (s->stopping)
                        return 1;
                if (s->paused && !c->control)
                        return 0;   /* a hot upgrade hands these bytes on */
                if (!s->suspended && held_count(c) > 0)
                        f = held_pop(c);
                else {
                        if (s->suspended && held_full(c))
                                return 0;
                        /* While suspended frames may be held: they must be
                         * owned. Otherwise the data frames are decoded in
                         * place, their payload read from the input buffer. */
                        int r = s->suspended ? ipc_conn_next(c->ipc, &f) : ipc_conn_next_view(c->ipc, &view, &f);
                        if (r < 0) {
                                /* Garbage or an oversize frame: this peer
                                 * cannot be understood any more. */
                                gs__conn_close(c);
                                return -1;
                        }
                        if (r == 0)
                                return 0;
                        if (s->suspended && !passes_suspension(c, f)) {
                                if (held_push(c, f) < 0) {
                                        ipc_frame_free(f);
                                        gs__conn_close(c);
                                        return -1;
                                }
                                budget--;
                                continue;
                        }
                }
                handle_frame(c, f);
                if (f != &view)
                        ipc_frame_free(f);
                budget--;
        }
        /* A turn that used its whole budget on exactly what was buffered
         * is done: it need not queue (and switch its io source off and on)
         * only to find nothing. */
        if (held_count(c) == 0 && ipc_conn_buffered(c->ipc) == 0)
                return 0;
        return 1;
}

/* A connection's turn: one batch of its frames, then (while it is the
 * only one with work, no timer has fired, and its answers are not piling
 * up) further batches already read, up to GS__BATCH_ALONE in all. A
 * connection flooding a server alone is served without a loop round per
 * 64 frames; one with company still gets one batch a turn. Returns as
 * conn_process. */
static int conn_turns(gs__conn *c) {
        gs_server *s = c->server;
        int r = conn_process(c, GS__BATCH);

        for (unsigned i = 1; r > 0 && i < GS__BATCH_ALONE; i++) {
                if (c->control || s->ready_head || s->fired_head || s->suspended || s->stopping ||
                    ipc_conn_pending(c->ipc) >= GS__ALONE_OUT_MAX)
                        break;
                r = conn_process(c, GS__BATCH);
        }
        return r;
}

static int on_work(gs__src *src, void *userdata) {
        gs_server *s = userdata;

        if (!s->suspended && s->fired_head)
                s->dispatch(s, GS__EVENT_TURN, NULL, NULL);

        /* One round: every connection that was ready when it began gets one
         * turn; those with more go to the back. */
        gs__conn *last = s->ready_tail;
        while (s->ready_head && !s->stopping) {
                gs__conn *c = s->ready_head;
                bool was_last = c == last;

                ready_unlink(s, c);
                int r = conn_turns(c);
                if (r >= 0)
                        r = conn_after_turn(c, r == 0) < 0 ? -1 : r;
                if (r > 0)
                        gs__ready_push(c);
                else if (r == 0 && !conn_maybe_close(c))
                        gs__conn_update(c);
                if (was_last)
                        break;
        }
        if (!s->ready_head && (s->suspended || !s->fired_head))
                (void) gs__src_set_enabled(s->work, GS__SRC_OFF);
        return 0;
}

void gs__flush_dirty(gs_server *s) {
        while (s->dirty) {
                gs__conn *c = s->dirty;
                dirty_unlink(s, c);
                (void) conn_flush(c);
        }
        /* Casts this server's callbacks made as a client leave at the end
         * of the turn (gs_call(3), BATCHING). */
        (void) gs__batch_flush_all(-1, true);
}

/* A client in this thread began a batch: write it at the end of this
 * callback, or in the next iteration. */
static void batch_wakeup(void *userdata) {
        flush_enable(userdata);
}

static int on_flush(gs__src *src, void *userdata) {
        gs_server *s = userdata;

        /* ONESHOT: it is off again now. */
        s->flush_on = false;
        gs__flush_dirty(s);
        return 0;
}

int gs__work_setup(gs_server *s) {
        int r = gs__loop_add_defer(s->event, &s->work, on_work, s);
        if (r < 0)
                return r;
        /* Below the io sources: a defer source stays pending, and at the
         * same priority it would run before every newer event. */
        r = gs__src_set_priority(s->work, GS__PRIO_NORMAL + 1);
        if (r < 0)
                return r;
        (void) gs__src_set_enabled(s->work, GS__SRC_OFF);
        /* Output queued outside a connection's own io callback (the round-
         * robin turn, timers, gs_reply from any source) is written by this
         * defer source, switched on when the first connection becomes
         * dirty: it runs in the next iteration before any more input is
         * handled, so the answers of one turn still cost one write. A post
         * source would do, but sd-event marks post sources pending after
         * every dispatch, which costs an extra loop iteration (an
         * epoll_wait) per call on the fast path, where there is nothing to
         * flush. */
        r = gs__loop_add_defer(s->event, &s->flush, on_flush, s);
        if (r < 0)
                return r;
        r = gs__src_set_priority(s->flush, GS__PRIO_IMPORTANT);
        if (r < 0)
                return r;
        (void) gs__src_set_enabled(s->flush, GS__SRC_OFF);
        flush_arm(s);
        gs__batch_set_wakeup(batch_wakeup, s);
        return 0;
}

/* ---- accepting ---- */

static int on_listen_retry(gs__src *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;

        s->listen_retry = gs__src_unref(s->listen_retry);
        (void) gs__src_set_enabled(s->listen_src, GS__SRC_ON);
        return 0;
}

static int on_listen(gs__src *src, int fd, uint32_t revents, void *userdata) {
        gs_server *s = userdata;

        for (int i = 0; i < GS__ACCEPT_BATCH; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        /* Out of fds or memory: the listening socket stays
                         * readable, so pause it instead of spinning. */
                        (void) gs__src_set_enabled(s->listen_src, GS__SRC_OFF);
                        if (!s->listen_retry &&
                            gs__loop_add_time_relative(s->event, &s->listen_retry, 100 * 1000,
                                                       on_listen_retry, s) < 0)
                                (void) gs__src_set_enabled(s->listen_src, GS__SRC_ON);
                        return 0;
                }
                /* Past a limit, it is told so and closed. */
                (void) gs__conn_new(s, cfd, false, NULL);
        }
        return 0;
}

int gs__listen_start(gs_server *s) {
        if (s->listen_fd < 0)
                return 0;
        return gs__loop_add_io(s->event, &s->listen_src, s->listen_fd, EPOLLIN, on_listen, s);
}

/* ---- resume, hibernate, exit ---- */

void gs__conns_resume(gs_server *s) {
        for (gs__conn *c = s->conns; c; c = c->next) {
                if (held_count(c) > 0)
                        gs__ready_push(c);
                else
                        gs__conn_update(c);
        }
}

void gs__conns_shrink(gs_server *s) {
        for (gs__conn *c = s->conns; c; c = c->next) {
                ipc_conn_shrink(c->ipc);
                if (held_count(c) == 0) {
                        c->held = (free(c->held), NULL);
                        c->n_held = c->held_start = c->cap_held = 0;
                }
                if (c->n_pending == 0) {
                        c->pending = (free(c->pending), NULL);
                        c->cap_pending = 0;
                }
        }
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes what every connection has queued, waiting at most timeout_ms in
 * all: at exit, a client that does not read must not hold the server. */
void gs__flush_bounded(gs_server *s, int timeout_ms) {
        int64_t deadline = mono_ms() + timeout_ms;
        struct pollfd *pfd = calloc(s->n_clients + 1, sizeof(*pfd));

        if (!pfd)
                return;
        for (;;) {
                size_t n = 0;
                for (gs__conn *c = s->conns; c; c = c->next) {
                        if (ipc_conn_pending(c->ipc) == 0)
                                continue;
                        int r = ipc_conn_flush(c->ipc);
                        if (r == -EAGAIN && n <= s->n_clients)
                                pfd[n++] = (struct pollfd) { .fd = ipc_conn_fd(c->ipc), .events = POLLOUT };
                        else if (r < 0 && r != -EAGAIN)
                                /* The peer is gone; its next flush fails at
                                 * once and it is not waited for. */
                                (void) shutdown(ipc_conn_fd(c->ipc), SHUT_RDWR);
                }
                int64_t left = deadline - mono_ms();
                if (n == 0 || left <= 0)
                        break;
                int r = poll(pfd, n, (int) left);
                if (r < 0 && errno != EINTR)
                        break;
        }
        free(pfd);
}
