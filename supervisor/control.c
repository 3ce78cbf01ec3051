/* control.c: gensupd's control socket, where gensupctl asks and steers.
 *
 * Each request is one CTL frame; each answer one CTL_REPLY frame carrying
 * a JSON document (gensupctl(1) describes them). Peers are checked with
 * SO_PEERCRED: root and gensupd's own uid may do everything, members of
 * control_group may read, everyone else is refused. What a command does
 * is the ops' business (control.h; gensupd's are in answers.c): this
 * file knows connections, not the tree.
 *
 * Map: rate-limited log lines (what a peer can make us log); sending;
 * answers that come later (pending, outliving their connection if need
 * be); requests (checked against commands.h, routed to the ops);
 * answers built in slices (a big status, one slice per loop iteration);
 * connections (16 requests per turn, half-close answered before the
 * close); accepting (refusals, and out of fds: a reserve for root and a
 * pause instead of a busy loop); events; setup.
 *
 * A peer can make gensupd hold only bounded memory and do bounded work:
 * frames are small, pending output is capped (a stuck `events --follow`
 * reader is dropped), connections are limited in number, and every
 * handler does a bounded amount per wakeup. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "commands.h"
#include "control.h"
#include "ipc.h"
#include "log.h"
#include "ratelimit.h"
#include "shared_reply.h"

#define MAX_CONNECTIONS 64   /* readers; root and gensupd's user get as many more */
#define MAX_CTL_FRAME (1u * 1024u * 1024u)   /* a request; answers may be up to the default 16 MiB */
#define MAX_PENDING_OUTPUT (4u * 1024u * 1024u)
#define EVENTS_KEPT 256
#define FRAMES_PER_TURN 16       /* requests handled per connection per loop iteration */
#define ACCEPTS_PER_TURN 16
#define ACCEPT_RETRY_USEC (100u * 1000u)   /* out of fds: try accepting again after this */
#define RESERVE_FDS 2

/* Lines a peer can cause, each kind rate-limited on its own: a client
 * that sends garbage in a loop must not fill the log (once 266,514 lines
 * in ten minutes). */
#define NOISE_INTERVAL_USEC (5u * 1000u * 1000u)
#define NOISE_BURST 10

typedef enum ctl_noise {
        NOISE_BAD_FRAME,        /* malformed or oversized frames */
        NOISE_REFUSED_PEER,     /* connections from those who may not ask */
        NOISE_REFUSED_WRITE,    /* write commands from readers */
        NOISE_DROPPED,          /* clients that do not read their answers */
        _NOISE_MAX,
} ctl_noise;

static const char *const noise_what[_NOISE_MAX] = {
        [NOISE_BAD_FRAME] = "bad frames",
        [NOISE_REFUSED_PEER] = "refused connections",
        [NOISE_REFUSED_WRITE] = "refused write commands",
        [NOISE_DROPPED] = "dropped clients",
};

typedef struct ctl_conn ctl_conn;
typedef struct pending pending;

/* An answer that comes later (a child's sys reply, a tree request). It
 * outlives its connection if need be: conn is then NULL. */
struct pending {
        ctl_conn *conn;
        uint64_t ref;
        pending *prev, *next;
};

struct ctl_conn {
        sup_control *ctl;
        ipc_conn *conn;
        sd_event_source *source;
        struct ucred cred;
        bool may_write;
        bool follow;
        char *follow_log;     /* logs -f: the child whose lines it is sent */
        bool wait_exit;       /* stop --wait: told gensupd's exit status */
        bool handling;        /* inside its frames' handlers: freeing waits until they return */
        bool dead;
        bool eof;             /* the client sent all it will: answer what it asked, then close */
        bool backlog;         /* frames read and not handled yet (FRAMES_PER_TURN at a time) */
        bool slicing;         /* a sliced answer is owed (queued, being built or shared): the next request waits */
        sup_control_slices slices;   /* its own build (not run when it shares another's) */
        uint64_t slice_ref;
        char *slice_key;      /* the request (command and arguments): equal ones waiting share a build */
        ctl_conn *slice_next; /* in the queue of builds, or in the list of those sharing one */
        ctl_conn *sharers;    /* the one being built: the connections its answer also goes to */
        pending *pendings;
        ctl_conn *prev, *next;
};

struct sup_control {
        sd_event *event;
        const sup_control_ops *ops;
        void *userdata;
        int listen_fd;
        bool owns_path;
        char *path;
        sd_event_source *listen_source;
        sd_event_source *accept_retry;   /* out of fds: accepting waits for this timer */
        bool accept_stalled;             /* that was logged */
        int reserve[RESERVE_FDS];        /* kept open, given up to accept root when out of fds */
        ctl_conn *conns;
        size_t n_conns;
        gid_t group;
        bool has_group;
        char *events[EVENTS_KEPT];   /* JSON lines, a ring */
        sup_ratelimit noise[_NOISE_MAX];   /* lines a peer can cause */
        sd_event_source *noise_timer;      /* sums up the lines held back */
        size_t events_next, events_n;
        ctl_conn *slice_head, *slice_tail;   /* sliced answers owed, built one at a time, in order */
        bool slice_started;                  /* the head's build has begun: later requests wait for the next */
        size_t slice_waits;                  /* builds that waited in a row (slice_yield) */
        sup_strbuf slice_out;                /* the head's answer so far */
        ctl_conn *sending;                   /* a finished answer's recipients not sent it yet, one a turn */
        sup_shared_text *sent_text;          /* ... that answer, one copy for all of them */
        int sent_r;                          /* ... and its result (1, or -errno) */
        sd_event_source *slice_source;       /* builds the next slice: when the loop is idle (a timer while it waits) */
        sd_event_source *slice_post;         /* ... or right after the next other event (on_slice) */
};

/* ---- rate-limited log lines ---- */

/* Writes the "N messages suppressed" lines that are due. */
static void noise_tell(sup_control *ctl, uint64_t now) {
        for (size_t k = 0; k < _NOISE_MAX; k++) {
                uint64_t held = sup_ratelimit_take_held(&ctl->noise[k], now);
                if (held > 0)
                        sup_log(LOG_WARNING, "control: %llu messages suppressed (%s)", (unsigned long long) held,
                                noise_what[k]);
        }
}

static int on_noise_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Sets the timer for the next summary, if lines are held back. */
static void noise_arm(sup_control *ctl) {
        uint64_t next = UINT64_MAX, at;
        for (size_t k = 0; k < _NOISE_MAX; k++)
                if (sup_ratelimit_pending(&ctl->noise[k], &at) && at < next)
                        next = at;
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(ctl->noise_timer, SD_EVENT_OFF);
                return;
        }
        if (!ctl->noise_timer) {
                if (sd_event_add_time(ctl->event, &ctl->noise_timer, CLOCK_MONOTONIC, next, 0, on_noise_timer, ctl) < 0)
                        return;   /* the summary comes with the next line */
        } else
                (void) sd_event_source_set_time(ctl->noise_timer, next);
        (void) sd_event_source_set_enabled(ctl->noise_timer, SD_EVENT_ONESHOT);
}

static int on_noise_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        sup_control *ctl = userdata;
        noise_tell(ctl, sup_mono_usec());
        noise_arm(ctl);
        return 0;
}

/* A warning a peer caused: written if its kind is within its rate. */
static void log_noise(sup_control *ctl, ctl_noise kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_noise(sup_control *ctl, ctl_noise kind, const char *fmt, ...) {
        uint64_t now = sup_mono_usec();
        noise_tell(ctl, now);
        if (sup_ratelimit_allow(&ctl->noise[kind], now)) {
                char msg[512];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                sup_log(LOG_WARNING, "control: %s", msg);
        }
        noise_arm(ctl);
}

static void conn_free(ctl_conn *c);

/* Drops a connection now, or, from inside its own handlers, as soon as
 * they return. */
static void conn_drop(ctl_conn *c) {
        if (c->handling)
                c->dead = true;
        else
                conn_free(c);
}

/* A client that sent all it will is done with once every answer it is
 * owed, now or later, is written. */
static bool conn_finished(ctl_conn *c) {
        return c->eof && !c->backlog && !c->slicing && !c->pendings && ipc_conn_pending(c->conn) == 0;
}

/* What the connection waits for: requests while the client sends and
 * none are waiting to be handled; room while answers wait to be written,
 * or while requests wait to be handled (the next turn comes when the
 * client can take more answers, as every other source's does). Nothing
 * at all (a half-closed client waiting for an answer to come, or one
 * whose answer is being built in slices): the source is off. */
static void conn_update(ctl_conn *c) {
        uint32_t events = 0;
        if (!c->eof && !c->backlog && !c->slicing)
                events |= EPOLLIN;
        if ((c->backlog && !c->slicing) || ipc_conn_pending(c->conn) > 0)
                events |= EPOLLOUT;
        if (events)
                (void) sd_event_source_set_io_events(c->source, events);
        (void) sd_event_source_set_enabled(c->source, events ? SD_EVENT_ON : SD_EVENT_OFF);
}

/* ---- sending ---- */

static void conn_flush(ctl_conn *c) {
        int r = ipc_conn_flush(c->conn);
        if (r == -EAGAIN && ipc_conn_pending(c->conn) > MAX_PENDING_OUTPUT) {
                log_noise(c->ctl, NOISE_DROPPED, "dropping a client (pid %d) that does not read", (int) c->cred.pid);
                conn_drop(c);
        } else if ((r < 0 && r != -EAGAIN) || conn_finished(c))
                conn_drop(c);
        else
                conn_update(c);
}

/* One CTL_REPLY frame; text is the JSON document (NULL: {}). */
static void reply_text(ctl_conn *c, uint64_t ref, int code, const char *error, const char *text,
                       const void *payload, size_t len) {
        Gensup__Frame f;
        Gensup__CtlReply cr = GENSUP__CTL_REPLY__INIT;

        ipc_frame_init(&f, GENSUP__KIND__CTL_REPLY, ref);
        cr.code = code < 0 ? -code : code;
        cr.error = (char *) (error ? error : "");
        cr.json = (char *) (text ? text : "{}");
        cr.payload.data = (uint8_t *) payload;
        cr.payload.len = len;
        f.ctl_reply = &cr;
        int r = ipc_conn_queue(c->conn, &f);
        if (r == -EMSGSIZE) {
                /* Too big for the client's frame limit: say so instead. */
                cr.code = EMSGSIZE;
                cr.error = (char *) "answer too large";
                cr.json = (char *) "{}";
                cr.payload.len = 0;
                (void) ipc_conn_queue(c->conn, &f);
        }
        conn_flush(c);
}

static void reply(ctl_conn *c, uint64_t ref, int code, const char *error, json_t *json, const void *payload,
                  size_t len) {
        char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
        json_decref(json);
        reply_text(c, ref, code, error, text, payload, len);
        free(text);
}

static void reply_error(ctl_conn *c, uint64_t ref, int r, const char *text) {
        if (!text)
                text = strerror(r < 0 ? -r : r);
        /* It may be a child's own words (an ERROR frame): made printable. */
        char *clean = ipc_text_clean(text, 511, false);
        reply(c, ref, r, clean ? clean : "out of memory", NULL, NULL, 0);
        free(clean);
}

/* ---- pending answers ---- */

static pending *pending_new(ctl_conn *c, uint64_t ref) {
        pending *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->conn = c;
        p->ref = ref;
        p->next = c->pendings;
        if (c->pendings)
                c->pendings->prev = p;
        c->pendings = p;
        return p;
}

/* Detaches p from its connection; returns the connection (or NULL). */
static ctl_conn *pending_take(pending *p) {
        ctl_conn *c = p->conn;
        if (c) {
                if (p->prev)
                        p->prev->next = p->next;
                else
                        c->pendings = p->next;
                if (p->next)
                        p->next->prev = p->prev;
        }
        return c;
}

/* sup_control_done: the answer to a deferred request. */
static void on_done(void *token, int r, const char *error, json_t *json) {
        pending *p = token;
        ctl_conn *c = pending_take(p);

        if (c && r >= 0)
                reply(c, p->ref, 0, NULL, json, NULL, 0);
        else {
                if (c)
                        reply_error(c, p->ref, r, error);
                json_decref(json);
        }
        free(p);
}

/* ---- answers built in slices ----
 *
 * One answer is built at a time, in the order asked, one slice per loop
 * iteration: however many clients ask, the loop does one slice of status
 * work between two of its other events. When a build begins, every
 * request waiting for the same answer (the same command and arguments:
 * asked before the build began, so it may see what the build sees) joins
 * it and is sent the same text. A request that comes once a build has
 * begun waits for the next one. */

static void slice_arm(sup_control *ctl);
static void slice_arm_later(sup_control *ctl);

/* Forgets c's sliced answer (sent, or its client gone): its own build
 * state, its request. Its links are the caller's business. */
static void slice_done(ctl_conn *c) {
        c->slices.free(c->slices.state);
        c->slices = (sup_control_slices) { 0 };
        free(c->slice_key);
        c->slice_key = NULL;
        c->slice_next = c->sharers = NULL;
        c->slicing = false;
}

static void slice_push(sup_control *ctl, ctl_conn *c) {
        c->slice_next = NULL;
        if (ctl->slice_tail)
                ctl->slice_tail->slice_next = c;
        else
                ctl->slice_head = c;
        ctl->slice_tail = c;
}

/* Unlinks c from the list starting at *head (the queue when tail is
 * given, else a list of sharers); whether it was there. */
static bool slice_unlink(ctl_conn **head, ctl_conn **tail, ctl_conn *c) {
        ctl_conn *prev = NULL;
        for (ctl_conn *x = *head; x; prev = x, x = x->slice_next)
                if (x == c) {
                        *(prev ? &prev->slice_next : head) = c->slice_next;
                        if (tail && *tail == c)
                                *tail = prev;
                        return true;
                }
        return false;
}

/* The head's build begins: those waiting for the same answer join it. */
static void slice_gather(sup_control *ctl) {
        ctl_conn *head = ctl->slice_head;
        for (ctl_conn *w = head->slice_next, *next; w; w = next) {
                next = w->slice_next;
                if (strcmp(w->slice_key, head->slice_key) != 0)
                        continue;
                slice_unlink(&ctl->slice_head, &ctl->slice_tail, w);
                w->slice_next = head->sharers;
                head->sharers = w;
        }
        ctl->slice_started = true;
}

/* A client went away: its answer is not built, or not sent to it. The
 * head's first sharer, if any, builds anew (it asked before the build
 * began: a new build is as good for it). */
static void slice_forget(ctl_conn *c) {
        sup_control *ctl = c->ctl;
        ctl_conn *head = ctl->slice_head;
        if (!c->slicing)
                return;
        if (c == head) {
                ctl_conn *heir = c->sharers;
                slice_unlink(&ctl->slice_head, &ctl->slice_tail, c);
                if (heir) {
                        heir->sharers = heir->slice_next;
                        heir->slice_next = ctl->slice_head;
                        ctl->slice_head = heir;
                        if (!ctl->slice_tail)
                                ctl->slice_tail = heir;
                }
                sup_strbuf_done(&ctl->slice_out);
                ctl->slice_started = false;
                slice_arm(ctl);
        } else if (slice_unlink(&ctl->sending, NULL, c)) {
                if (!ctl->sending)
                        ctl->sent_text = sup_shared_text_unref(ctl->sent_text);
        } else if (!(head && slice_unlink(&head->sharers, NULL, c)))
                slice_unlink(&ctl->slice_head, &ctl->slice_tail, c);
        slice_done(c);
}

/* The finished answer to c: its text not copied, unless c cannot take
 * it so (another borrowed text not written yet, or too large for it:
 * reply_text then says so). */
static void reply_shared(ctl_conn *c, uint64_t ref, sup_shared_text *text) {
        if (sup_shared_reply_queue(c->conn, ref, text) >= 0)
                conn_flush(c);
        else
                reply_text(c, ref, 0, NULL, sup_shared_text_data(text), NULL, 0);
}

/* Sends the finished answer (or its error) to c. */
static void slice_send(ctl_conn *c, int r, sup_shared_text *text) {
        c->handling = true;
        if (r > 0)
                reply_shared(c, c->slice_ref, text);
        else
                reply_error(c, c->slice_ref, r, r == -EMSGSIZE ? "answer too large" : NULL);
        slice_done(c);
        c->handling = false;
        if (c->dead || conn_finished(c))
                conn_free(c);
        else
                conn_update(c);
}

/* Sends the finished answer to the next of its recipients. They share
 * its text (shared_reply.h), but each socket's write copies it into the
 * kernel: one a turn, as a slice, so that a status shared by many clients
 * does not hold the loop for all of their writes at once. */
static void send_next(sup_control *ctl) {
        ctl_conn *x = ctl->sending;
        ctl->sending = x->slice_next;
        slice_send(x, ctl->sent_r, ctl->sent_text);
        if (!ctl->sending)
                ctl->sent_text = sup_shared_text_unref(ctl->sent_text);
}

/* The head's build waits (a status, for the sampler's sweep): it goes
 * behind the builds queued after it, which do not wait for it (nor
 * for the sampler), and those that joined it go back in the queue after
 * it (only the head has sharers; it gathers them again when it begins).
 * Once every build queued has waited in a row, the next try is in a
 * while (slice_arm_later). A connection has one build queued at most:
 * its own answers keep their order. */
static void slice_yield(sup_control *ctl) {
        ctl_conn *c = ctl->slice_head;
        size_t queued = 0;
        for (ctl_conn *x = c; x; x = x->slice_next)
                queued++;
        if (queued > 1) {
                slice_unlink(&ctl->slice_head, &ctl->slice_tail, c);
                slice_push(ctl, c);
                for (ctl_conn *w = c->sharers, *next; w; w = next) {
                        next = w->slice_next;
                        slice_push(ctl, w);
                }
                c->sharers = NULL;
        }
        if (++ctl->slice_waits < queued) {
                slice_arm(ctl);
                return;
        }
        ctl->slice_waits = 0;
        slice_arm_later(ctl);
}

/* One slice per loop iteration, and never more than one other event
 * between two slices. sd-event dispatches one source per iteration, the
 * highest priority first. The next slice has two sources, both new for
 * each slice: a post source of high priority, pending as soon as any
 * other source has been dispatched, so that under a stream of exits,
 * READYs and restarts the answer still gets every other turn (a slice is
 * short: SUP_STATUS_SLICE_USEC); and a defer source of normal priority
 * for a loop with nothing else to do. (A defer source kept and enabled
 * again stays pending since the iteration it was made in, and would go
 * first every time.) Whichever comes first builds the slice, or sends a
 * finished answer to one more of its recipients (send_next). The text is
 * bounded by the largest frame a client takes. */
static int on_slice(sd_event_source *s, void *userdata) {
        sup_control *ctl = userdata;
        if (ctl->sending) {
                send_next(ctl);
                slice_arm(ctl);
                return 0;
        }
        ctl_conn *c = ctl->slice_head;
        if (!c)
                return 0;
        if (!ctl->slice_started)
                slice_gather(ctl);
        int r = c->slices.next(c->slices.state, &ctl->slice_out);
        if (r == 0 && ctl->slice_out.len > IPC_DEFAULT_MAX_FRAME)
                r = -EMSGSIZE;
        if (r == SUP_CONTROL_SLICE_WAIT) {
                /* Nothing built yet: the same requests that come
                 * meanwhile join it when it does begin. */
                ctl->slice_started = false;
                slice_yield(ctl);
                return 0;
        }
        ctl->slice_waits = 0;
        if (r == 0) {
                slice_arm(ctl);
                return 0;
        }
        /* Whole (or failed): to the builder, then those sharing its build. */
        slice_unlink(&ctl->slice_head, &ctl->slice_tail, c);
        ctl->slice_started = false;
        ctl->sent_text = sup_shared_text_new(&ctl->slice_out);
        if (!ctl->sent_text) {
                sup_strbuf_done(&ctl->slice_out);
                r = -ENOMEM;
        }
        ctl->sent_r = r;
        c->slice_next = c->sharers;
        c->sharers = NULL;
        ctl->sending = c;
        send_next(ctl);
        slice_arm(ctl);
        return 0;
}

static int on_slice_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_slice(s, userdata);
}

/* The head's build waits (SUP_CONTROL_SLICE_WAIT): its next slice in a
 * while, from a timer, the loop free meanwhile. */
static void slice_arm_later(sup_control *ctl) {
        ctl->slice_source = sd_event_source_disable_unref(ctl->slice_source);
        ctl->slice_post = sd_event_source_disable_unref(ctl->slice_post);
        if (sd_event_add_time_relative(ctl->event, &ctl->slice_source, CLOCK_MONOTONIC,
                                       SUP_CONTROL_SLICE_WAIT_USEC, 0, on_slice_timer, ctl) < 0)
                slice_arm(ctl);   /* no timer to be had: at once after all */
}

/* Builds the head's next slice, if any answer is owed: new sources
 * (on_slice says which and why). */
static void slice_arm(sup_control *ctl) {
        ctl->slice_source = sd_event_source_disable_unref(ctl->slice_source);
        ctl->slice_post = sd_event_source_disable_unref(ctl->slice_post);
        if (!ctl->slice_head && !ctl->sending)
                return;
        if (sd_event_add_defer(ctl->event, &ctl->slice_source, on_slice, ctl) >= 0)
                (void) sd_event_source_set_enabled(ctl->slice_source, SD_EVENT_ONESHOT);
        if (sd_event_add_post(ctl->event, &ctl->slice_post, on_slice, ctl) >= 0) {
                (void) sd_event_source_set_priority(ctl->slice_post, SD_EVENT_PRIORITY_IMPORTANT);
                (void) sd_event_source_set_enabled(ctl->slice_post, SD_EVENT_ONESHOT);
        }
        /* Out of memory: the next request or the next client gone tries again. */
}

/* "command\x1farg\x1farg...": what makes two requests the same answer. */
static char *slice_key(const sup_control_request *q) {
        sup_strbuf b = { 0 };
        int r = sup_strbuf_puts(&b, q->cmd->name);
        for (size_t i = 0; i < q->n_args && r >= 0; i++) {
                r = sup_strbuf_puts(&b, "\x1f");
                if (r >= 0)
                        r = sup_strbuf_puts(&b, q->args[i]);
        }
        if (r < 0)
                sup_strbuf_done(&b);
        return b.data;
}

static int slices_start(ctl_conn *c, const sup_control_request *q, uint64_t ref, const sup_control_slices *sl) {
        char *key = slice_key(q);
        if (!key)
                return -ENOMEM;
        c->slices = *sl;
        c->slice_ref = ref;
        c->slice_key = key;
        c->slicing = true;
        slice_push(c->ctl, c);
        if (c->ctl->slice_head == c)
                slice_arm(c->ctl);
        return 0;
}

/* ---- requests ---- */

typedef struct request {
        ctl_conn *conn;
        uint64_t ref;
        sup_control_request q;
} request;

typedef int (*deferred_op)(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                           char **ret_error);

static void reply_unknown(ctl_conn *c, uint64_t ref, const char *command) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown command: %.64s", command);
        reply_error(c, ref, -EINVAL, msg);
}

/* A query whose answer the ops build in slices: true when it is taken
 * care of (started, or refused). */
static bool run_sliced(request *rq) {
        const sup_control_ops *ops = rq->conn->ctl->ops;
        sup_control_slices sl = { 0 };
        char *error = NULL;

        if (!ops->sliced)
                return false;
        int r = ops->sliced(rq->conn->ctl->userdata, &rq->q, &sl, &error);
        if (r > 0) {
                int k = slices_start(rq->conn, &rq->q, rq->ref, &sl);
                if (k < 0) {
                        sl.free(sl.state);
                        r = k;
                }
        }
        if (r < 0)
                reply_error(rq->conn, rq->ref, r, error);
        free(error);
        return r != 0;
}

static void run_query(request *rq) {
        const sup_control_ops *ops = rq->conn->ctl->ops;
        json_t *json = NULL;
        char *error = NULL;

        if (run_sliced(rq))
                return;
        if (!ops->query) {
                reply_unknown(rq->conn, rq->ref, rq->q.cmd->name);
                return;
        }
        int r = ops->query(rq->conn->ctl->userdata, &rq->q, &json, &error);
        if (r < 0)
                reply_error(rq->conn, rq->ref, r, error);
        else {
                /* logs NAME ... --follow: its lines from now on. */
                const sup_control_request *q = &rq->q;
                if (q->cmd->id == CTL_CMD_LOGS && strcmp(q->args[q->n_args - 1], "--follow") == 0) {
                        free(rq->conn->follow_log);
                        rq->conn->follow_log = strdup(q->args[0]);
                }
                reply(rq->conn, rq->ref, 0, NULL, json, NULL, 0);
        }
        free(error);
}

/* An op that answers later: the pending answer outlives the connection
 * if need be. */
static void run_deferred(request *rq, deferred_op op) {
        if (!op) {
                reply_unknown(rq->conn, rq->ref, rq->q.cmd->name);
                return;
        }
        pending *p = pending_new(rq->conn, rq->ref);
        if (!p) {
                reply_error(rq->conn, rq->ref, -ENOMEM, NULL);
                return;
        }
        char *error = NULL;
        int r = op(rq->conn->ctl->userdata, &rq->q, on_done, p, &error);
        if (r < 0) {
                pending_take(p);
                free(p);
                reply_error(rq->conn, rq->ref, r, error);
        }
        free(error);
}

static void run_events(request *rq) {
        sup_control *ctl = rq->conn->ctl;
        json_t *list = json_array();
        size_t start = (ctl->events_next + EVENTS_KEPT - ctl->events_n) % EVENTS_KEPT;

        for (size_t i = 0; i < ctl->events_n; i++) {
                json_t *ev = json_loads(ctl->events[(start + i) % EVENTS_KEPT], 0, NULL);
                if (ev)
                        json_array_append_new(list, ev);
        }
        if (rq->q.n_args == 1 && strcmp(rq->q.args[0], "--follow") == 0)
                rq->conn->follow = true;
        reply(rq->conn, rq->ref, 0, NULL, json_pack("{s:o}", "events", list), NULL, 0);
}

static void run_stop(request *rq) {
        const sup_control_ops *ops = rq->conn->ctl->ops;
        if (!ops->stop) {
                reply_unknown(rq->conn, rq->ref, rq->q.cmd->name);
                return;
        }
        /* The answer first: stopping may take a while, or end the loop. */
        rq->conn->wait_exit = rq->q.n_args == 1 && strcmp(rq->q.args[0], "--wait") == 0;
        reply(rq->conn, rq->ref, 0, NULL, json_pack("{s:i}", "pid", (int) getpid()), NULL, 0);
        ops->stop(rq->conn->ctl->userdata, &rq->q);
}

static void dispatch(request *rq) {
        const sup_control_ops *ops = rq->conn->ctl->ops;

        switch (rq->q.cmd->route) {
        case CTL_ROUTE_DAEMON:
                if (rq->q.cmd->id == CTL_CMD_EVENTS)
                        run_events(rq);
                else if (rq->q.cmd->id == CTL_CMD_STOP)
                        run_stop(rq);
                else if (rq->q.cmd->id == CTL_CMD_RELOAD)
                        run_deferred(rq, ops->reload);
                else if (rq->q.cmd->id == CTL_CMD_UPGRADE)
                        run_deferred(rq, ops->upgrade);
                else
                        run_query(rq);
                return;
        case CTL_ROUTE_SYS:
                run_deferred(rq, ops->sys);
                return;
        case CTL_ROUTE_TREE:
                run_deferred(rq, ops->tree);
                return;
        case CTL_ROUTE_CALL:
        case CTL_ROUTE_CAST:
        case CTL_ROUTE_LOCAL:
        case _CTL_ROUTE_MAX:
                /* Those go straight to the server, never through gensupd. */
                reply_unknown(rq->conn, rq->ref, rq->q.cmd->name);
                return;
        }
}

static void handle_frame(ctl_conn *c, Gensup__Frame *f) {
        if (f->kind != GENSUP__KIND__CTL || !f->ctl || !f->ctl->command) {
                reply_error(c, f->ref, -EPROTO, "expected a CTL frame");
                return;
        }
        const Gensup__CtlRequest *in = f->ctl;
        const ctl_command *cmd = ctl_command_find(in->command);
        if (!cmd) {
                reply_unknown(c, f->ref, in->command);
                return;
        }
        if (in->n_args < cmd->min_args || in->n_args > cmd->max_args) {
                reply_error(c, f->ref, -EINVAL, "wrong number of arguments");
                return;
        }
        if (cmd->writes && !c->may_write) {
                log_noise(c->ctl, NOISE_REFUSED_WRITE, "refused %s from pid %d (uid %d): not permitted", cmd->name,
                          (int) c->cred.pid, (int) c->cred.uid);
                reply_error(c, f->ref, -EPERM, "permission denied: this command needs root or gensupd's user");
                return;
        }
        request rq = {
                .conn = c,
                .ref = f->ref,
                .q = { .cmd = cmd, .args = in->args, .n_args = in->n_args, .peer = c->cred },
        };
        dispatch(&rq);
}

/* ---- connections ---- */

/* Handles the requests read so far, FRAMES_PER_TURN at most: a client
 * that sends many at once takes turns with the others. A malformed frame
 * ends the connection. */
static void conn_handle(ctl_conn *c) {
        c->handling = true;
        c->backlog = true;   /* until the loop below sees the end */
        for (int n = 0; n < FRAMES_PER_TURN && !c->dead && !c->slicing; n++) {
                Gensup__Frame *f = NULL;
                int k = ipc_conn_next(c->conn, &f);
                if (k < 0) {
                        log_noise(c->ctl, NOISE_BAD_FRAME, "%s from pid %d, closing that connection",
                                  k == -EMSGSIZE ? "oversized frame" : "malformed frame", (int) c->cred.pid);
                        c->dead = true;
                        break;
                }
                if (k == 0) {
                        c->backlog = false;
                        break;
                }
                handle_frame(c, f);
                ipc_frame_free(f);
        }
        c->handling = false;
}

/* One read per wakeup, or, with requests still waiting, none. At EOF the
 * requests read are still answered, deferred ones too, before the
 * connection closes: a client may shut down its write side and wait for
 * its answer. */
static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ctl_conn *c = userdata;

        if (revents & EPOLLOUT) {
                int r = ipc_conn_flush(c->conn);
                if (r < 0 && r != -EAGAIN) {
                        conn_free(c);
                        return 0;
                }
        }
        if (c->backlog) {
                if (!c->slicing)
                        conn_handle(c);
        } else if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof) {
                int r = ipc_conn_read(c->conn);
                if (r == -ECONNRESET)
                        c->eof = true;
                else if (r < 0 && r != -EAGAIN) {
                        conn_free(c);
                        return 0;
                }
                if (r != -EAGAIN)
                        conn_handle(c);
        }
        if (c->dead || conn_finished(c))
                conn_free(c);
        else
                conn_update(c);
        return 0;
}

static bool peer_in_group(int fd, const struct ucred *cred, gid_t group) {
        if (cred->gid == group)
                return true;
        gid_t groups[256];
        socklen_t len = sizeof(groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == group)
                        return true;
        return false;
}

/* Says why before closing: one frame, best effort. */
static void refuse(int cfd, int code, const char *why) {
        ipc_conn *tmp = NULL;
        if (ipc_conn_new(cfd, 0, &tmp) < 0)
                return;
        Gensup__Frame f;
        Gensup__CtlReply cr = GENSUP__CTL_REPLY__INIT;
        ipc_frame_init(&f, GENSUP__KIND__CTL_REPLY, 0);
        cr.code = code;
        cr.error = (char *) why;
        f.ctl_reply = &cr;
        (void) ipc_conn_queue(tmp, &f);
        (void) ipc_conn_flush(tmp);
        ipc_conn_free(tmp);
}

static void conn_add(sup_control *ctl, int cfd, const struct ucred *cred, bool full) {
        ctl_conn *c = calloc(1, sizeof(*c));
        if (!c || ipc_conn_new(cfd, 0, &c->conn) < 0) {
                if (c)
                        free(c);
                else
                        close(cfd);
                return;
        }
        /* Requests are small; answers (status of a big tree) are not. */
        ipc_conn_set_max_in(c->conn, MAX_CTL_FRAME);
        c->ctl = ctl;
        c->cred = *cred;
        c->may_write = full;
        if (sd_event_add_io(ctl->event, &c->source, cfd, EPOLLIN, on_conn, c) < 0) {
                ipc_conn_free(c->conn);
                free(c);
                return;
        }
        c->next = ctl->conns;
        if (ctl->conns)
                ctl->conns->prev = c;
        ctl->conns = c;
        ctl->n_conns++;
}

/* A new connection: kept, or refused with the reason. One accepted with
 * a reserve fd (out_of_fds) is kept for root and gensupd's user only,
 * who may need it to stop things. */
static void accept_one(sup_control *ctl, int cfd, bool out_of_fds) {
        struct ucred cred;
        if (ipc_peer_cred(cfd, &cred) < 0) {
                close(cfd);
                return;
        }
        bool full = cred.uid == 0 || cred.uid == geteuid();
        bool read_only = !full && ctl->has_group && peer_in_group(cfd, &cred, ctl->group);
        /* Readers cannot take the places root needs to stop things. */
        bool crowded = ctl->n_conns >= (full ? 2 * MAX_CONNECTIONS : MAX_CONNECTIONS) || (out_of_fds && !full);
        if (!full && !read_only) {
                refuse(cfd, EPERM, "permission denied: not root, not gensupd's user, not in control_group");
                log_noise(ctl, NOISE_REFUSED_PEER, "refused pid %d (uid %d): not permitted", (int) cred.pid,
                          (int) cred.uid);
        } else if (crowded)
                refuse(cfd, EBUSY, "too many control connections");
        else
                conn_add(ctl, cfd, &cred, full);
}

/* ---- out of fds: a reserve, and a pause ---- */

static void reserve_fill(sup_control *ctl) {
        for (size_t i = 0; i < RESERVE_FDS; i++)
                if (ctl->reserve[i] < 0)
                        ctl->reserve[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Gives up one reserve fd; false when none is left. */
static bool reserve_release(sup_control *ctl) {
        for (size_t i = 0; i < RESERVE_FDS; i++)
                if (ctl->reserve[i] >= 0) {
                        close(ctl->reserve[i]);
                        ctl->reserve[i] = -1;
                        return true;
                }
        return false;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        sup_control *ctl = userdata;
        ctl->accept_retry = sd_event_source_disable_unref(ctl->accept_retry);
        reserve_fill(ctl);
        (void) sd_event_source_set_enabled(ctl->listen_source, SD_EVENT_ON);
        return 0;
}

/* The listening socket stays readable while connections wait, so instead
 * of trying again at once (a busy loop) accepting waits for a timer, as
 * libgensup's listener does. Connections wait in the backlog meanwhile. */
static void accept_pause(sup_control *ctl) {
        (void) sd_event_source_set_enabled(ctl->listen_source, SD_EVENT_OFF);
        if (!ctl->accept_retry &&
            sd_event_add_time_relative(ctl->event, &ctl->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                       on_accept_retry, ctl) < 0)
                (void) sd_event_source_set_enabled(ctl->listen_source, SD_EVENT_ON);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        sup_control *ctl = userdata;
        bool out_of_fds = false;

        /* A bounded number per wakeup: the source is level-triggered. */
        for (int turn = 0; turn < ACCEPTS_PER_TURN; turn++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd >= 0) {
                        ctl->accept_stalled = false;
                        accept_one(ctl, cfd, out_of_fds);
                        if (out_of_fds)
                                reserve_fill(ctl);   /* back, unless the connection kept it */
                        out_of_fds = false;
                        continue;
                }
                if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return 0;
                /* Out of fds (or memory): one reserve fd lets root in. */
                if ((errno == EMFILE || errno == ENFILE) && !out_of_fds && reserve_release(ctl)) {
                        out_of_fds = true;
                        continue;
                }
                if (!ctl->accept_stalled)
                        sup_log(LOG_WARNING, "control: cannot accept connections (%s): trying again every %ums",
                                strerror(errno), ACCEPT_RETRY_USEC / 1000u);
                ctl->accept_stalled = true;   /* one line per episode */
                accept_pause(ctl);
                return 0;
        }
        return 0;
}

static void conn_free(ctl_conn *c) {
        sup_control *ctl = c->ctl;

        /* Answers still to come have nowhere to go. */
        for (pending *p = c->pendings; p; p = p->next)
                p->conn = NULL;
        slice_forget(c);
        sd_event_source_disable_unref(c->source);
        ipc_conn_free(c->conn);
        if (c->prev)
                c->prev->next = c->next;
        else
                ctl->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        ctl->n_conns--;
        free(c->follow_log);
        free(c);
        reserve_fill(ctl);   /* if a connection had taken one */
}

/* ---- events ---- */

/* An EVENT frame to every connection that pick()s. */
static void send_event(sup_control *ctl, const char *json, bool (*pick)(const ctl_conn *c, const void *arg),
                       const void *arg) {
        Gensup__Frame f;
        Gensup__Event ev = GENSUP__EVENT__INIT;
        ipc_frame_init(&f, GENSUP__KIND__EVENT, 0);
        ev.time_us = sup_real_usec();
        ev.json = (char *) json;
        f.event = &ev;
        for (ctl_conn *c = ctl->conns, *next; c; c = next) {
                next = c->next;
                if (pick(c, arg) && ipc_conn_queue(c->conn, &f) == 0)
                        conn_flush(c);
        }
}

static bool follows_events(const ctl_conn *c, const void *arg) {
        return c->follow;
}

void sup_control_event(sup_control *ctl, json_t *event) {
        char *line = json_dumps(event, JSON_COMPACT);
        json_decref(event);
        if (!line)
                return;
        free(ctl->events[ctl->events_next]);
        ctl->events[ctl->events_next] = line;
        ctl->events_next = (ctl->events_next + 1) % EVENTS_KEPT;
        if (ctl->events_n < EVENTS_KEPT)
                ctl->events_n++;
        send_event(ctl, line, follows_events, NULL);
}

static bool follows_log(const ctl_conn *c, const void *name) {
        return c->follow_log && strcmp(c->follow_log, name) == 0;
}

bool sup_control_log_wanted(const sup_control *ctl, const char *name) {
        for (const ctl_conn *c = ctl->conns; c; c = c->next)
                if (follows_log(c, name))
                        return true;
        return false;
}

void sup_control_log(sup_control *ctl, const char *name, json_t *line) {
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        json_decref(line);
        if (text)
                send_event(ctl, text, follows_log, name);
        free(text);
}

static bool waits_exit(const ctl_conn *c, const void *arg) {
        return c->wait_exit;
}

void sup_control_goodbye(sup_control *ctl, int status) {
        char text[64];
        snprintf(text, sizeof(text), "{\"event\":\"exit\",\"status\":%d}", status);
        send_event(ctl, text, waits_exit, NULL);
}

/* ---- setup ---- */

void sup_control_set_group(sup_control *ctl, const char *group) {
        ctl->has_group = false;
        if (!group)
                return;
        struct group *gr = getgrnam(group);
        if (gr) {
                ctl->group = gr->gr_gid;
                ctl->has_group = true;
                return;
        }
        char *end;
        unsigned long g = strtoul(group, &end, 10);
        if (*end == '\0' && end != group) {
                ctl->group = (gid_t) g;
                ctl->has_group = true;
        }
}

int sup_control_open(sd_event *event, const char *runtime_dir, const sup_control_ops *ops, void *userdata,
                     sup_control **ret) {
        sup_control *ctl = calloc(1, sizeof(*ctl));
        int r;

        if (!ctl)
                return -ENOMEM;
        ctl->event = event;
        ctl->ops = ops;
        ctl->userdata = userdata;
        ctl->listen_fd = -1;
        for (size_t i = 0; i < RESERVE_FDS; i++)
                ctl->reserve[i] = -1;
        for (size_t k = 0; k < _NOISE_MAX; k++)
                ctl->noise[k] = SUP_RATELIMIT_INIT(NOISE_INTERVAL_USEC, NOISE_BURST);

        /* Socket activation: systemd may hand us the control socket. */
        int n = sd_listen_fds(1);
        if (n > 0 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
                ctl->listen_fd = SD_LISTEN_FDS_START;
                /* systemd passes it blocking; accepting here must not block. */
                int flags = fcntl(ctl->listen_fd, F_GETFL);
                if (flags >= 0)
                        (void) fcntl(ctl->listen_fd, F_SETFL, flags | O_NONBLOCK);
        }
        else {
                if (asprintf(&ctl->path, "%s/control.sock", runtime_dir) < 0) {
                        free(ctl);
                        return -ENOMEM;
                }
                /* Anyone may connect, to be told clearly whether they may
                 * ask: 0666, set at bind (never by a chmod that follows links). */
                r = ipc_listen_as(ctl->path, 128, &(ipc_sock_perm) { 0666, (uid_t) -1, (gid_t) -1 });
                if (r < 0) {
                        sup_log_errno(LOG_ERR, r, "control socket %s: %m", ctl->path);
                        sup_control_free(ctl);
                        return r;
                }
                ctl->listen_fd = r;
                ctl->owns_path = true;
        }
        r = sd_event_add_io(event, &ctl->listen_source, ctl->listen_fd, EPOLLIN, on_accept, ctl);
        if (r < 0) {
                sup_control_free(ctl);
                return r;
        }
        reserve_fill(ctl);
        *ret = ctl;
        return 0;
}

sup_control *sup_control_free(sup_control *ctl) {
        if (!ctl)
                return NULL;
        while (ctl->conns)
                conn_free(ctl->conns);
        sd_event_source_disable_unref(ctl->slice_source);
        sd_event_source_disable_unref(ctl->slice_post);
        sup_strbuf_done(&ctl->slice_out);
        ctl->sent_text = sup_shared_text_unref(ctl->sent_text);
        sd_event_source_disable_unref(ctl->listen_source);
        sd_event_source_disable_unref(ctl->accept_retry);
        noise_tell(ctl, UINT64_MAX);   /* what is held back is told at exit */
        sd_event_source_disable_unref(ctl->noise_timer);
        for (size_t i = 0; i < RESERVE_FDS; i++)
                if (ctl->reserve[i] >= 0)
                        close(ctl->reserve[i]);
        if (ctl->listen_fd >= 0)
                close(ctl->listen_fd);
        if (ctl->owns_path)
                (void) unlink(ctl->path);
        free(ctl->path);
        for (size_t i = 0; i < EVENTS_KEPT; i++)
                free(ctl->events[i]);
        free(ctl);
        return NULL;
}
