/* server.c: the gen_server behaviour: the callbacks and what their results
 * mean, stopping, suspension, hibernation, and the timers and fds a server
 * watches. Calls into server_conn.c (connections) and trace.c only. The
 * life of the process (setup, init, run, teardown) is in server_main.c,
 * the routing of frames in server_dispatch.c, system requests in
 * sys_server.c: those call into this file, never the other way. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "server-internal.h"

typedef enum cb_kind {
        CB_INIT,
        CB_CALL,
        CB_CAST,
        CB_INFO,
        CB_CONTINUE,
        _CB_KIND_MAX,
} cb_kind;

static const char *const cb_name[_CB_KIND_MAX] = {
        [CB_INIT] = "init",
        [CB_CALL] = "handle_call",
        [CB_CAST] = "handle_cast",
        [CB_INFO] = "handle_info",
        [CB_CONTINUE] = "handle_continue",
};

uint64_t gs__now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Milliseconds to microseconds for sd-event; UINT64_MAX (never) when the
 * product would not fit. */
static uint64_t ms_to_usec(uint64_t ms) {
        return ms >= UINT64_MAX / 1000u / 2 ? UINT64_MAX : ms * 1000u;
}

/* ---- stopping ---- */

void gs__stop(gs_server *s, const char *reason, bool run_terminate) {
        gs_buf b = GS_BUF_INIT;

        if (s->stopping)
                return;
        s->stopping = true;
        s->run_terminate = run_terminate;
        if (gs_reason_normalize(reason, &b) == 0 && b.data)
                s->exit_reason = (char *) b.data;
        else {
                gs_buf_done(&b);
                s->exit_reason = strdup("{error,enomem}");
        }
        if (s->exit_reason)
                gs__crash_capture(s, s->exit_reason);
        (void) gs__loop_exit(s->event, 0);
}

/* An exit signal from the parent (gensupd's EXIT, SIGTERM, the control fd
 * closing): as a gen_server linked to its parent, a server that traps exits
 * runs terminate first; one that does not just dies. */
void gs__exit_signal(gs_server *s, const char *reason) {
        gs__stop(s, reason && *reason ? reason : "normal", s->trap_exit);
}

/* ---- results ---- */

static const char *const kind_name[_GS_RET_KIND_MAX] = {
        [GS_RET_OK] = "ok",
        [GS_RET_REPLY] = "reply",
        [GS_RET_NOREPLY] = "noreply",
        [GS_RET_STOP] = "stop",
        [GS_RET_IGNORE] = "ignore",
};

/* What was wrong, for the crash report: "handle_cast returned reply". */
static void note_bad_return(gs_server *s, const gs_ret *r, cb_kind cb) {
        static char text[96];

        if ((unsigned) r->kind >= _GS_RET_KIND_MAX)
                snprintf(text, sizeof(text), "%s returned an unknown kind %d", cb_name[cb], (int) r->kind);
        else if ((unsigned) r->action >= _GS_ACTION_MAX)
                snprintf(text, sizeof(text), "%s returned an unknown action %d", cb_name[cb], (int) r->action);
        else
                snprintf(text, sizeof(text), "%s returned %s%s", cb_name[cb], kind_name[r->kind],
                         r->kind == GS_RET_STOP && r->reply_too ? " with a reply" : r->reply_error ? " with an error" : "");
        s->bad_return = text;
}

static bool ret_valid(const gs_ret *r, cb_kind cb) {
        if ((unsigned) r->action >= _GS_ACTION_MAX)
                return false;
        /* An error answer is a reply, from handle_call only. */
        if (r->reply_error && r->kind != GS_RET_REPLY)
                return false;
        switch (r->kind) {
        case GS_RET_OK:
                return cb != CB_CALL;
        case GS_RET_REPLY:
                return cb == CB_CALL;
        case GS_RET_NOREPLY:
                /* {noreply,State} is what OTP's handle_cast and handle_info
                 * return too, so the helper is taken there as well. */
                return cb != CB_INIT;
        case GS_RET_STOP:
                return !r->reply_too || cb == CB_CALL;
        case GS_RET_IGNORE:
                return cb == CB_INIT;
        case _GS_RET_KIND_MAX:
                break;
        }
        return false;
}

static int send_reply(gs_server *s, const gs_from *from, const void *data, size_t len) {
        gs__conn *c = gs__conn_find(s, from->conn);

        if (!c || c->control)
                return -ENOTCONN;
        if (!gs__pending_remove(c, from->ref))
                return -ENOENT;
        int r = gs__conn_queue_data(c, GENSUP__KIND__REPLY, from->ref, data, data ? len : 0);
        if (r < 0) {
                /* The caller must not wait for a reply that cannot be sent. */
                gs__send_error(c, from->ref, -r, r == -EMSGSIZE ? "reply too large" : "reply not sent");
                return r;
        }
        s->replies++;
        gs__trace(s, "out", "reply", from->conn, from->ref, data, len);
        return 0;
}

/* Answers from with an ERROR frame: the caller gets -EREMOTEIO and the
 * text (OTP's {reply,{error,R},State}). */
static int send_error_reply(gs_server *s, const gs_from *from, const gs_buf *text) {
        gs__conn *c = gs__conn_find(s, from->conn);
        char *t = NULL;

        if (!c || c->control)
                return -ENOTCONN;
        if (!gs__pending_remove(c, from->ref))
                return -ENOENT;
        t = strndup(text && text->data ? (const char *) text->data : "", text ? text->len : 0);
        if (!t)
                return -ENOMEM;
        gs__send_error(c, from->ref, EREMOTEIO, t);
        s->replies++;
        gs__trace(s, "out", "error", from->conn, from->ref, t, strlen(t));
        free(t);
        return 0;
}

static void arm_timeout(gs_server *s, uint64_t ms) {
        uint64_t usec = ms_to_usec(ms);
        int r;

        s->timeout_ms = ms;
        s->timeout_deferred = false;
        if (usec == UINT64_MAX)
                return;
        if (s->timeout_src) {
                r = gs__src_set_time_relative(s->timeout_src, usec);
                if (r >= 0)
                        r = gs__src_set_enabled(s->timeout_src, GS__SRC_ONESHOT);
        } else
                r = -ENOENT;
        if (r < 0)
                return;
        s->timeout_armed = true;
}

/* Carries out what a callback returned: the reply, a stop, the action.
 * Continues run here, one after another, before any new message is read. */
static void apply(gs_server *s, gs_ret r, cb_kind cb, const gs_from *from) {
        for (;;) {
                if (!ret_valid(&r, cb)) {
                        note_bad_return(s, &r, cb);
                        gs__tracef(s, "bad return value from %s", cb_name[cb]);
                        gs__stop(s, "{error,bad_return_value}", true);
                        return;
                }
                switch (r.kind) {
                case GS_RET_REPLY:
                        if (r.reply_error)
                                (void) send_error_reply(s, from, &s->reply);
                        else
                                (void) send_reply(s, from, s->reply.data, s->reply.len);
                        break;
                case GS_RET_STOP:
                        if (r.reply_too) {
                                /* The reply goes out after terminate. */
                                gs_buf_done(&s->stop_reply);
                                s->stop_reply = s->reply;
                                s->reply = (gs_buf) GS_BUF_INIT;
                                s->stop_from = *from;
                                s->has_stop_reply = true;
                        }
                        gs__tracef(s, "out stop %s from %s", r.reason ? r.reason : "normal", cb_name[cb]);
                        gs__stop(s, r.reason, true);
                        return;
                case GS_RET_OK:
                case GS_RET_NOREPLY:
                case GS_RET_IGNORE:
                case _GS_RET_KIND_MAX:
                        break;
                }
                switch (r.action) {
                case GS_ACTION_NONE:
                        return;
                case GS_ACTION_TIMEOUT:
                        arm_timeout(s, r.timeout_ms);
                        return;
                case GS_ACTION_HIBERNATE:
                        gs__hibernate(s);
                        return;
                case GS_ACTION_CONTINUE:
                        if (!s->ops->handle_continue) {
                                gs__stop(s, "{error,undef_handle_continue}", true);
                                return;
                        }
                        gs__tracef(s, "in continue");
                        r = s->ops->handle_continue(s, s->state, r.cont);
                        cb = CB_CONTINUE;
                        from = NULL;
                        continue;
                case _GS_ACTION_MAX:
                        return;
                }
                return;
        }
}

/* Every message (not system requests) cancels the timeout action. It is
 * noted for a crash report while its callback runs. */
static void before_message(gs_server *s, gs__msg_kind kind, uint64_t conn, uint64_t ref, const void *data, size_t len) {
        if (s->timeout_armed) {
                (void) gs__src_set_enabled(s->timeout_src, GS__SRC_OFF);
                s->timeout_armed = false;
        }
        s->timeout_deferred = false;
        s->last = (gs__last_msg) { .kind = kind, .conn = conn, .ref = ref, .token = ref, .data = data, .len = len };
        s->idle_hibernated = false;
}

/* After its callback: the message's bytes are gone, and hibernate_after
 * counts from now, the end of the callback, as OTP's loop starts its
 * receive timeout once the callback has returned. Only hibernate_after
 * reads the time (setting it stamps the time anew): no clock read per
 * message otherwise. */
static void after_message(gs_server *s) {
        s->last.data = NULL;
        if (s->hibernate_after_ms > 0)
                s->last_active_usec = gs__now_usec();
        gs__idle_rearm(s);
}

void gs__on_call(gs_server *s, gs__conn *c, const ipc_frame *f) {
        gs_from from = { .conn = c->serial, .ref = f->ref };
        gs_msg m = { .data = f->payload.data, .len = f->payload.len };

        before_message(s, GS__MSG_CALL, c->serial, f->ref, m.data, m.len);
        s->calls++;
        gs__trace(s, "in", "call", c->serial, f->ref, m.data, m.len);
        if (gs__pending_add(c, f->ref) < 0) {
                gs__send_error(c, f->ref, ENOMEM, "out of memory");
                after_message(s);
                return;
        }
        gs_buf_clear(&s->reply);
        gs_ret r = s->ops->handle_call(s, s->state, &from, &m, &s->reply);
        if (r.kind == GS_RET_NOREPLY)
                gs__trace(s, "out", "noreply", c->serial, f->ref, NULL, 0);
        apply(s, r, CB_CALL, &from);
        after_message(s);
}

void gs__on_cast(gs_server *s, gs__conn *c, const ipc_frame *f) {
        gs_msg m = { .data = f->payload.data, .len = f->payload.len };

        before_message(s, GS__MSG_CAST, c->serial, 0, m.data, m.len);
        s->casts++;
        gs__trace(s, "in", "cast", c->serial, 0, m.data, m.len);
        if (!s->ops->handle_cast)
                /* OTP: a cast to a module without handle_cast is undef. */
                gs__stop(s, "{error,undef_handle_cast}", true);
        else
                apply(s, s->ops->handle_cast(s, s->state, &m), CB_CAST, NULL);
        after_message(s);
}

static const char *const info_name[_GS_INFO_KIND_MAX] = {
        [GS_INFO_TIMEOUT] = "timeout",
        [GS_INFO_TIMER] = "timer",
        [GS_INFO_FD] = "fd",
        [GS_INFO_MSG] = "info",
};

static void deliver_info(gs_server *s, const gs_info *info) {
        s->infos++;
        if (!s->ops->handle_info) {
                /* OTP logs every such message; once is enough to tell the
                 * programmer, and a client cannot flood the log. */
                if (!s->noted_no_handle_info)
                        fprintf(stderr, "%s: no handle_info: dropped a message (%s); later ones are only counted\n",
                                s->name, info_name[info->kind]);
                s->noted_no_handle_info = true;
                gs__tracef(s, "dropped %s: no handle_info", info_name[info->kind]);
                return;
        }
        apply(s, s->ops->handle_info(s, s->state, info), CB_INFO, NULL);
}

void gs__on_info_msg(gs_server *s, gs__conn *c, const ipc_frame *f) {
        gs_info info = {
                .kind = GS_INFO_MSG,
                .fd = -1,
                .msg = { .data = f->payload.data, .len = f->payload.len },
        };

        before_message(s, GS__MSG_INFO, c->serial, 0, info.msg.data, info.msg.len);
        gs__trace(s, "in", "info", c->serial, 0, info.msg.data, info.msg.len);
        deliver_info(s, &info);
        after_message(s);
}

/* ---- the timeout action, hibernate and hibernate_after ---- */

void gs__hibernate(gs_server *s) {
        /* Give back what the server does not use now: its own idle buffers,
         * then whatever malloc holds free. */
        gs_buf_done(&s->reply);
        gs__conns_shrink(s);
        (void) malloc_trim(0);
        gs__tracef(s, "hibernate");
}


static int on_timeout(gs__src *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;
        gs_info info = { .kind = GS_INFO_TIMEOUT, .fd = -1 };

        s->timeout_armed = false;
        if (s->suspended) {
                /* A suspended server handles no messages; as OTP's loop,
                 * the timeout starts again when it resumes. */
                s->timeout_deferred = true;
                return 0;
        }
        gs__tracef(s, "in timeout");
        s->last = (gs__last_msg) { .kind = GS__MSG_TIMEOUT };
        s->idle_hibernated = false;
        deliver_info(s, &info);
        after_message(s);
        return 0;
}

/* Keeps one idle timer at last activity + hibernate_after; messages only
 * move last_active_usec, the timer catches up when it fires. Only the
 * timer hibernates: elsewhere a frame being handled may still point into
 * the connection buffers hibernating gives back, so a due time already
 * past makes the timer fire in the next iteration instead. */
static void idle_rearm(gs_server *s, bool may_hibernate) {
        if (!s->idle_src)
                return;
        if (s->hibernate_after_ms == 0 || s->idle_hibernated) {
                (void) gs__src_set_enabled(s->idle_src, GS__SRC_OFF);
                return;
        }
        uint64_t after = ms_to_usec(s->hibernate_after_ms);
        if (after == UINT64_MAX) {
                (void) gs__src_set_enabled(s->idle_src, GS__SRC_OFF);
                return;
        }
        uint64_t due = s->last_active_usec + after;
        if (may_hibernate && gs__now_usec() >= due) {
                gs__hibernate(s);
                s->idle_hibernated = true;
                (void) gs__src_set_enabled(s->idle_src, GS__SRC_OFF);
                return;
        }
        int enabled = GS__SRC_OFF;
        uint64_t cur = 0;
        (void) gs__src_get_enabled(s->idle_src, &enabled);
        (void) gs__src_get_time(s->idle_src, &cur);
        /* Only move the timer when it would fire late, not on every message. */
        if (enabled == GS__SRC_OFF || cur > due) {
                (void) gs__src_set_time(s->idle_src, due);
                (void) gs__src_set_enabled(s->idle_src, GS__SRC_ONESHOT);
        }
}

static int on_idle(gs__src *src, uint64_t usec, void *userdata) {
        idle_rearm(userdata, true);
        return 0;
}

void gs__idle_rearm(gs_server *s) {
        idle_rearm(s, false);
}

/* ---- timers: gs_send_after ---- */

static void timer_unlink(gs__timer **head, gs__timer *t) {
        if (t->prev)
                t->prev->next = t->next;
        else
                *head = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->prev = t->next = NULL;
}

static void timer_deliver(gs_server *s, gs__timer *t) {
        gs_info info = { .kind = GS_INFO_TIMER, .token = t->token, .fd = -1 };

        free(t);
        before_message(s, GS__MSG_TIMER, 0, info.token, NULL, 0);
        gs__tracef(s, "in timer token=%llu", (unsigned long long) info.token);
        deliver_info(s, &info);
        after_message(s);
}

static int on_timer(gs__src *src, uint64_t usec, void *userdata) {
        gs__timer *t = userdata;
        gs_server *s = t->server;

        timer_unlink(&s->timers, t);
        t->src = gs__src_unref(t->src);
        if (s->suspended) {
                /* It is a message: it waits, in order, until resume. */
                t->prev = s->fired_tail;
                if (s->fired_tail)
                        s->fired_tail->next = t;
                else
                        s->fired_head = t;
                s->fired_tail = t;
                return 0;
        }
        timer_deliver(s, t);
        return 0;
}

void gs__deliver_fired(gs_server *s) {
        while (s->fired_head && !s->suspended && !s->stopping) {
                gs__timer *t = s->fired_head;
                s->fired_head = t->next;
                if (!s->fired_head)
                        s->fired_tail = NULL;
                timer_deliver(s, t);
        }
}

int64_t gs_send_after(gs_server *s, uint64_t ms, uint64_t token) {
        gs__timer *t;
        int r;

        if (!s)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->server = s;
        t->token = token;
        r = gs__loop_add_time_relative(s->event, &t->src, ms_to_usec(ms), on_timer, t);
        if (r < 0) {
                free(t);
                return r;
        }
        t->id = ++s->next_timer_id;
        t->next = s->timers;
        if (s->timers)
                s->timers->prev = t;
        s->timers = t;
        return t->id;
}

int gs_cancel_timer(gs_server *s, int64_t timer_id) {
        if (!s)
                return -EINVAL;
        for (gs__timer *t = s->timers; t; t = t->next)
                if (t->id == timer_id) {
                        timer_unlink(&s->timers, t);
                        gs__src_unref(t->src);
                        free(t);
                        return 0;
                }
        return -ENOENT;
}

/* ---- fds: gs_add_fd ---- */

static gs__fd *fd_find(gs_server *s, int fd) {
        for (gs__fd *f = s->fds; f; f = f->next)
                if (f->fd == fd)
                        return f;
        return NULL;
}

static int on_fd(gs__src *src, int fd, uint32_t revents, void *userdata) {
        gs__fd *f = userdata;
        gs_server *s = f->server;
        gs_info info = { .kind = GS_INFO_FD, .token = f->token, .fd = fd, .revents = revents };

        /* f may be removed by the callback: only the copy is used below. */
        before_message(s, GS__MSG_FD, 0, info.token, NULL, 0);
        gs__tracef(s, "in fd %d revents=%#x token=%llu", fd, revents, (unsigned long long) info.token);
        deliver_info(s, &info);
        after_message(s);
        return 0;
}

int gs_add_fd(gs_server *s, int fd, uint32_t events, uint64_t token) {
        if (!s || fd < 0)
                return -EINVAL;
        if (fd_find(s, fd))
                return -EEXIST;
        gs__fd *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->server = s;
        f->fd = fd;
        f->token = token;
        int r = gs__loop_add_io(s->event, &f->src, fd, events, on_fd, f);
        if (r < 0) {
                free(f);
                return r;
        }
        if (s->suspended)
                (void) gs__src_set_enabled(f->src, GS__SRC_OFF);
        f->next = s->fds;
        if (s->fds)
                s->fds->prev = f;
        s->fds = f;
        return 0;
}

int gs_modify_fd(gs_server *s, int fd, uint32_t events) {
        gs__fd *f = s ? fd_find(s, fd) : NULL;

        if (!f)
                return -ENOENT;
        return gs__src_set_io_events(f->src, events);
}

int gs_remove_fd(gs_server *s, int fd) {
        gs__fd *f = s ? fd_find(s, fd) : NULL;

        if (!f)
                return -ENOENT;
        if (f->prev)
                f->prev->next = f->next;
        else
                s->fds = f->next;
        if (f->next)
                f->next->prev = f->prev;
        gs__src_unref(f->src);
        free(f);
        return 0;
}

/* ---- suspend and resume ---- */

void gs__suspend(gs_server *s) {
        s->suspended = true;
        for (gs__fd *f = s->fds; f; f = f->next)
                (void) gs__src_set_enabled(f->src, GS__SRC_OFF);
}

void gs__resume(gs_server *s) {
        if (!s->suspended)
                return;
        s->suspended = false;
        for (gs__fd *f = s->fds; f; f = f->next)
                (void) gs__src_set_enabled(f->src, GS__SRC_ON);
        if (s->timeout_deferred)
                arm_timeout(s, s->timeout_ms);
        /* Held frames and fired timers are handled by the work source, in
         * the loop, not inside the RESUME request. */
        gs__conns_resume(s);
        if (s->fired_head)
                (void) gs__src_set_enabled(s->work, GS__SRC_ON);
}

/* ---- small accessors and replies ---- */

int gs_reply(gs_server *s, const gs_from *from, const void *data, size_t len) {
        if (!s || !from)
                return -EINVAL;
        return send_reply(s, from, data, len);
}

int gs_reply_error(gs_server *s, const gs_from *from, const char *text) {
        gs_buf b = { .data = (uint8_t *) text, .len = text ? strlen(text) : 0 };

        if (!s || !from)
                return -EINVAL;
        return send_error_reply(s, from, &b);
}

int gs_reply_msg(gs_server *s, const gs_from *from, const ProtobufCMessage *msg) {
        gs_buf b = GS_BUF_INIT;

        if (!msg)
                return -EINVAL;
        int r = gs_buf_pack(&b, msg);
        if (r >= 0)
                r = gs_reply(s, from, b.data, b.len);
        gs_buf_done(&b);
        return r;
}

const char *gs_server_name(const gs_server *s) {
        return s ? s->name : NULL;
}


/* ---- for the lifecycle (server_main.c) ---- */

bool gs__init_ret_valid(gs_server *s, const gs_ret *r) {
        if (ret_valid(r, CB_INIT))
                return true;
        note_bad_return(s, r, CB_INIT);
        return false;
}

void gs__apply_init(gs_server *s, gs_ret r) {
        apply(s, r, CB_INIT, NULL);
}

int gs__timers_setup(gs_server *s) {
        int r = gs__loop_add_time(s->event, &s->timeout_src, 0, on_timeout, s);
        if (r < 0)
                return r;
        r = gs__loop_add_time(s->event, &s->idle_src, 0, on_idle, s);
        if (r < 0)
                return r;
        (void) gs__src_set_enabled(s->timeout_src, GS__SRC_OFF);
        (void) gs__src_set_enabled(s->idle_src, GS__SRC_OFF);
        return 0;
}

void gs__timers_free(gs_server *s) {
        while (s->timers) {
                gs__timer *t = s->timers;
                timer_unlink(&s->timers, t);
                gs__src_unref(t->src);
                free(t);
        }
        while (s->fired_head) {
                gs__timer *t = s->fired_head;
                s->fired_head = t->next;
                free(t);
        }
        while (s->fds)
                (void) gs_remove_fd(s, s->fds->fd);
        s->timeout_src = gs__src_unref(s->timeout_src);
        s->idle_src = gs__src_unref(s->idle_src);
}

void gs__send_stop_reply(gs_server *s) {
        if (s->has_stop_reply)
                (void) send_reply(s, &s->stop_from, s->stop_reply.data, s->stop_reply.len);
}
