/* server.c: the gen_server behaviour. The life of a server process (options,
 * sockets, init, the loop, terminate, the exit report), the callbacks and
 * what their results mean, and the timers and fds a server watches.
 * Connections are in server_conn.c, system requests in sys_server.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

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
        (void) sd_event_exit(s->event, 0);
}

/* An exit signal from the parent (gensupd's EXIT, SIGTERM, the control fd
 * closing): as a gen_server linked to its parent, a server that traps exits
 * runs terminate first; one that does not just dies. */
void gs__exit_signal(gs_server *s, const char *reason) {
        gs__stop(s, reason && *reason ? reason : "normal", s->trap_exit);
}

/* ---- results ---- */

static bool ret_valid(const gs_ret *r, cb_kind cb) {
        if ((unsigned) r->action >= _GS_ACTION_MAX)
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
        ipc_frame f;

        if (!c || c->control)
                return -ENOTCONN;
        if (!gs__pending_remove(c, from->ref))
                return -ENOENT;
        ipc_frame_init(&f, GENSUP__KIND__REPLY, from->ref);
        f.payload.data = (uint8_t *) data;
        f.payload.len = data ? len : 0;
        int r = gs__conn_queue(c, &f);
        if (r < 0) {
                /* The caller must not wait for a reply that cannot be sent. */
                gs__send_error(c, from->ref, -r, r == -EMSGSIZE ? "reply too large" : "reply not sent");
                return r;
        }
        s->replies++;
        gs__trace(s, "out", "reply", from->conn, from->ref, data, len);
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
                r = sd_event_source_set_time_relative(s->timeout_src, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->timeout_src, SD_EVENT_ONESHOT);
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
                        gs__tracef(s, "bad return value from %s", cb_name[cb]);
                        gs__stop(s, "{error,bad_return_value}", true);
                        return;
                }
                switch (r.kind) {
                case GS_RET_REPLY:
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

/* Every message (not system requests) cancels the timeout action and
 * counts as activity for hibernate_after. */
static void before_message(gs_server *s) {
        if (s->timeout_armed) {
                (void) sd_event_source_set_enabled(s->timeout_src, SD_EVENT_OFF);
                s->timeout_armed = false;
        }
        s->timeout_deferred = false;
        /* Only hibernate_after reads the time of the last activity (and
         * setting it stamps the time anew): no clock read per message
         * otherwise. */
        if (s->hibernate_after_ms > 0)
                s->last_active_usec = gs__now_usec();
        s->idle_hibernated = false;
        gs__idle_rearm(s);
}

void gs__on_call(gs_server *s, gs__conn *c, const ipc_frame *f) {
        gs_from from = { .conn = c->serial, .ref = f->ref };
        gs_msg m = { .data = f->payload.data, .len = f->payload.len };

        before_message(s);
        s->calls++;
        gs__trace(s, "in", "call", c->serial, f->ref, m.data, m.len);
        if (gs__pending_add(c, f->ref) < 0) {
                gs__send_error(c, f->ref, ENOMEM, "out of memory");
                return;
        }
        gs_buf_clear(&s->reply);
        gs_ret r = s->ops->handle_call(s, s->state, &from, &m, &s->reply);
        if (r.kind == GS_RET_NOREPLY)
                gs__trace(s, "out", "noreply", c->serial, f->ref, NULL, 0);
        apply(s, r, CB_CALL, &from);
}

void gs__on_cast(gs_server *s, gs__conn *c, const ipc_frame *f) {
        gs_msg m = { .data = f->payload.data, .len = f->payload.len };

        before_message(s);
        s->casts++;
        gs__trace(s, "in", "cast", c->serial, 0, m.data, m.len);
        if (!s->ops->handle_cast) {
                /* OTP: a cast to a module without handle_cast is undef. */
                gs__stop(s, "{error,undef_handle_cast}", true);
                return;
        }
        apply(s, s->ops->handle_cast(s, s->state, &m), CB_CAST, NULL);
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

        before_message(s);
        gs__trace(s, "in", "info", c->serial, 0, info.msg.data, info.msg.len);
        deliver_info(s, &info);
}

/* ---- the timeout action and hibernate_after ---- */

static int on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
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
        s->last_active_usec = gs__now_usec();
        s->idle_hibernated = false;
        gs__idle_rearm(s);
        deliver_info(s, &info);
        return 0;
}

static int on_idle(sd_event_source *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;

        gs__idle_rearm(s);
        return 0;
}

/* Keeps one idle timer at last activity + hibernate_after; messages only
 * move last_active_usec, the timer catches up when it fires. */
void gs__idle_rearm(gs_server *s) {
        if (!s->idle_src)
                return;
        if (s->hibernate_after_ms == 0 || s->idle_hibernated) {
                (void) sd_event_source_set_enabled(s->idle_src, SD_EVENT_OFF);
                return;
        }
        uint64_t after = ms_to_usec(s->hibernate_after_ms);
        if (after == UINT64_MAX) {
                (void) sd_event_source_set_enabled(s->idle_src, SD_EVENT_OFF);
                return;
        }
        uint64_t due = s->last_active_usec + after;
        if (gs__now_usec() >= due) {
                gs__hibernate(s);
                s->idle_hibernated = true;
                (void) sd_event_source_set_enabled(s->idle_src, SD_EVENT_OFF);
                return;
        }
        int enabled = SD_EVENT_OFF;
        uint64_t cur = 0;
        (void) sd_event_source_get_enabled(s->idle_src, &enabled);
        (void) sd_event_source_get_time(s->idle_src, &cur);
        /* Only move the timer when it would fire late, not on every message. */
        if (enabled == SD_EVENT_OFF || cur > due) {
                (void) sd_event_source_set_time(s->idle_src, due);
                (void) sd_event_source_set_enabled(s->idle_src, SD_EVENT_ONESHOT);
        }
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
        before_message(s);
        gs__tracef(s, "in timer token=%llu", (unsigned long long) info.token);
        deliver_info(s, &info);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        gs__timer *t = userdata;
        gs_server *s = t->server;

        timer_unlink(&s->timers, t);
        t->src = sd_event_source_disable_unref(t->src);
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
        r = sd_event_add_time_relative(s->event, &t->src, CLOCK_MONOTONIC, ms_to_usec(ms), 1, on_timer, t);
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
                        sd_event_source_disable_unref(t->src);
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

static int on_fd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        gs__fd *f = userdata;
        gs_server *s = f->server;
        gs_info info = { .kind = GS_INFO_FD, .token = f->token, .fd = fd, .revents = revents };

        /* f may be removed by the callback: only the copy is used below. */
        before_message(s);
        gs__tracef(s, "in fd %d revents=%#x token=%llu", fd, revents, (unsigned long long) info.token);
        deliver_info(s, &info);
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
        int r = sd_event_add_io(s->event, &f->src, fd, events, on_fd, f);
        if (r < 0) {
                free(f);
                return r;
        }
        if (s->suspended)
                (void) sd_event_source_set_enabled(f->src, SD_EVENT_OFF);
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
        return sd_event_source_set_io_events(f->src, events);
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
        sd_event_source_disable_unref(f->src);
        free(f);
        return 0;
}

/* ---- suspend and resume ---- */

void gs__suspend(gs_server *s) {
        s->suspended = true;
        for (gs__fd *f = s->fds; f; f = f->next)
                (void) sd_event_source_set_enabled(f->src, SD_EVENT_OFF);
}

void gs__resume(gs_server *s) {
        if (!s->suspended)
                return;
        s->suspended = false;
        for (gs__fd *f = s->fds; f; f = f->next)
                (void) sd_event_source_set_enabled(f->src, SD_EVENT_ON);
        if (s->timeout_deferred)
                arm_timeout(s, s->timeout_ms);
        /* Held frames and fired timers are handled by the work source, in
         * the loop, not inside the RESUME request. */
        gs__conns_resume(s);
        if (s->fired_head)
                (void) sd_event_source_set_enabled(s->work, SD_EVENT_ON);
}

/* ---- small accessors and replies ---- */

int gs_reply(gs_server *s, const gs_from *from, const void *data, size_t len) {
        if (!s || !from)
                return -EINVAL;
        return send_reply(s, from, data, len);
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

sd_event *gs_server_event(gs_server *s) {
        return s ? s->event : NULL;
}

const char *gs_server_name(const gs_server *s) {
        return s ? s->name : NULL;
}

/* ---- options ---- */

typedef struct args {
        const char *name;
        const char *socket;
        ipc_sock_perm perm;   /* --socket-mode, --socket-user, --socket-group */
        bool trace;
        bool no_trap_exit;
        bool hibernate_after_set;
        uint64_t hibernate_after_ms;
        int argc;
        char **argv;    /* what init gets, NULL-terminated; the strings are argv's */
} args;

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Takes the library's options out of argv (anywhere before "--"); the rest
 * keeps its order. Accepts "--opt VALUE" and "--opt=VALUE". */
static int parse_args(int argc, char **argv, args *a) {
        a->argv = calloc((size_t) (argc > 0 ? argc : 1) + 1, sizeof(char *));
        if (!a->argv)
                return -ENOMEM;
        a->argc = 0;
        a->argv[a->argc++] = argc > 0 ? argv[0] : (char *) "gensup-server";
        a->perm = (ipc_sock_perm) { IPC_SOCK_PERM_DEFAULT_MODE, (uid_t) -1, (gid_t) -1 };

        bool done = false;
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                const char *val = NULL;
                size_t n;

                if (done) {
                        a->argv[a->argc++] = argv[i];
                        continue;
                }
                if (strcmp(arg, "--") == 0) {
                        done = true;
                        continue;
                }
                if (strcmp(arg, "--trace") == 0) {
                        a->trace = true;
                        continue;
                }
                if (strcmp(arg, "--no-trap-exit") == 0) {
                        a->no_trap_exit = true;
                        continue;
                }
                const char *with_value[] = { "--socket", "--name", "--hibernate-after", "--socket-mode",
                                             "--socket-user", "--socket-group" };
                int which = -1;
                for (int k = 0; k < 6; k++) {
                        n = strlen(with_value[k]);
                        if (strncmp(arg, with_value[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                                which = k;
                                if (arg[n] == '=')
                                        val = arg + n + 1;
                                else if (i + 1 < argc)
                                        val = argv[++i];
                                else
                                        return -EINVAL;
                                break;
                        }
                }
                switch (which) {
                case 0:
                        a->socket = val;
                        break;
                case 1:
                        a->name = val;
                        break;
                case 2:
                        if (parse_u64(val, &a->hibernate_after_ms) < 0)
                                return -EINVAL;
                        a->hibernate_after_set = true;
                        break;
                case 3 ... 5:
                        if (ipc_sock_perm_parse(which == 3 ? val : NULL, which == 4 ? val : NULL,
                                                which == 5 ? val : NULL, &a->perm) < 0)
                                return -EINVAL;
                        break;
                default:
                        a->argv[a->argc++] = argv[i];
                        break;
                }
        }
        a->argv[a->argc] = NULL;
        return 0;
}

/* ---- setup ---- */

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        gs_server *s = userdata;

        /* As the parent's exit signal `shutdown`. */
        gs__tracef(s, "in signal %d: exit signal shutdown", (int) si->ssi_signo);
        gs__exit_signal(s, "shutdown");
        return 0;
}

static int take_control_fd(int *ret) {
        const char *e = getenv("GENSUP_CONTROL_FD");
        uint64_t v;

        if (!e)
                return 0;
        int r = parse_u64(e, &v);
        (void) unsetenv("GENSUP_CONTROL_FD");
        if (r < 0 || v > INT_MAX)
                return -EBADF;
        int fd = (int) v;
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -EBADF;
        /* The server's own children must not inherit the link. */
        if (!(flags & FD_CLOEXEC))
                (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        *ret = fd;
        return 1;
}

/* Listens on path, unless a live server already does (as OTP's
 * already_started: never take a name from a running server). */
static int listen_own(gs_server *s, const char *path, const ipc_sock_perm *perm) {
        int fd = ipc_connect(path);

        if (fd >= 0) {
                close(fd);
                return -EADDRINUSE;
        }
        char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void) ipc_mkdir_p(dir, 0755);
        }
        free(dir);
        fd = ipc_listen_as(path, SOMAXCONN, perm);
        if (fd < 0)
                return fd;
        s->socket_path = strdup(path);
        if (!s->socket_path) {
                close(fd);
                (void) unlink(path);
                return -ENOMEM;
        }
        s->listen_fd = fd;
        return 0;
}

static int listen_name(gs_server *s, const ipc_sock_perm *perm) {
        char *dir = NULL, *path = NULL;
        int r = ipc_runtime_dir(&dir);

        if (r < 0)
                return r;
        r = ipc_socket_path(dir, s->name, &path);
        free(dir);
        if (r < 0)
                return r;
        r = listen_own(s, path, perm);
        free(path);
        return r;
}

static int setup_listen(gs_server *s, bool supervised, const char *socket_opt, bool name_known,
                        const ipc_sock_perm *perm) {
        int n = sd_listen_fds(1);   /* also unsets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES */

        /* Under gensupd the passed socket wins: it is the one clients know,
         * held by gensupd across restarts (never unlinked here). By hand,
         * an explicit --socket wins. */
        if (n > 0 && (supervised || !socket_opt)) {
                int fd = SD_LISTEN_FDS_START;
                int fl = fcntl(fd, F_GETFL);
                if (fl >= 0 && !(fl & O_NONBLOCK))
                        (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
                /* Listening again makes this process the one SO_PEERCRED
                 * names to clients (gensupd called listen first), so that
                 * a server calling itself is recognised. */
                (void) listen(fd, SOMAXCONN);
                s->listen_fd = fd;
                return 0;
        }
        if (socket_opt)
                return listen_own(s, socket_opt, perm);
        if (supervised && !name_known)
                return 0;
        int r = listen_name(s, perm);
        /* Under gensupd the control fd is enough to run. */
        if (r == -ENOENT && supervised)
                return 0;
        return r;
}

static void send_control(gs_server *s, Gensup__Kind kind, const char *reason) {
        ipc_frame f;

        if (!s->control)
                return;
        ipc_frame_init(&f, kind, 0);
        if (reason)
                f.reason = (char *) reason;
        (void) gs__conn_queue(s->control, &f);
}

static void destroy(gs_server *s) {
        while (s->conns) {
                gs__conn *c = s->conns;
                /* No exit signal from closing the control fd now. */
                s->stopping = true;
                gs__conn_close(c);
        }
        while (s->timers) {
                gs__timer *t = s->timers;
                timer_unlink(&s->timers, t);
                sd_event_source_disable_unref(t->src);
                free(t);
        }
        while (s->fired_head) {
                gs__timer *t = s->fired_head;
                s->fired_head = t->next;
                free(t);
        }
        while (s->fds)
                (void) gs_remove_fd(s, s->fds->fd);
        sd_event_source_disable_unref(s->listen_src);
        sd_event_source_disable_unref(s->listen_retry);
        sd_event_source_disable_unref(s->work);
        sd_event_source_disable_unref(s->flush);
        sd_event_source_disable_unref(s->sig_term);
        sd_event_source_disable_unref(s->sig_int);
        sd_event_source_disable_unref(s->timeout_src);
        sd_event_source_disable_unref(s->idle_src);
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->socket_path) {
                (void) unlink(s->socket_path);
                free(s->socket_path);
        }
        sd_event_unref(s->event);
        gs_buf_done(&s->reply);
        gs_buf_done(&s->stop_reply);
        free(s->exit_reason);
        free(s->name);
        free(s);
}

static char *pick_name(const gs_server_options *o, const args *a, const char *env_name, bool supervised,
                       const char *argv0) {
        const char *name = a->name;

        /* Under gensupd the child spec names the server. */
        if (!name && supervised && env_name && *env_name)
                name = env_name;
        if (!name && o->name && *o->name)
                name = o->name;
        if (!name && env_name && *env_name)
                name = env_name;
        if (!name && argv0 && *argv0) {
                const char *slash = strrchr(argv0, '/');
                name = slash ? slash + 1 : argv0;
        }
        if (!name || !*name)
                name = "gensup-server";
        return strdup(name);
}

/* The end of a server: terminate when due, the stop reply, then an
 * EXIT_REPORT on every connection. Returns the exit status. */
static int finish(gs_server *s) {
        const char *reason = s->exit_reason ? s->exit_reason : "normal";

        if (s->run_terminate && s->ops->terminate) {
                gs__tracef(s, "terminate %s", reason);
                s->ops->terminate(s, s->state, reason);
        }
        if (s->has_stop_reply)
                (void) send_reply(s, &s->stop_from, s->stop_reply.data, s->stop_reply.len);
        gs__tracef(s, "exit %s", reason);
        for (gs__conn *c = s->conns; c; c = c->next) {
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__EXIT_REPORT, 0);
                f.reason = (char *) reason;
                (void) ipc_conn_queue(c->ipc, &f);
        }
        gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
        return gs_reason_is_clean(reason) ? 0 : 1;
}

int gs_server_main_with(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv) {
        gs_server_options o = { 0 };
        args a = { 0 };
        gs_server *s = NULL;
        char *env_name = NULL;
        sigset_t mask;
        int control_fd = -1;
        int status = 1;
        int r;

        if (opts)
                o = *opts;
        if (!ops || !ops->init || !ops->handle_call) {
                fprintf(stderr, "gs_server_main: init and handle_call are required\n");
                return 1;
        }
        if (parse_args(argc, argv, &a) < 0) {
                fprintf(stderr, "%s: bad library options (--socket PATH, --socket-mode MODE, --socket-user USER, "
                                "--socket-group GROUP, --name NAME, --trace, --hibernate-after MS, --no-trap-exit, --)\n",
                        argc > 0 ? argv[0] : "server");
                free(a.argv);
                return 1;
        }

        r = take_control_fd(&control_fd);
        if (r < 0) {
                fprintf(stderr, "%s: GENSUP_CONTROL_FD is not an open fd\n", argc > 0 ? argv[0] : "server");
                free(a.argv);
                return 1;
        }
        bool supervised = r > 0;
        if (getenv("GENSUP_NAME")) {
                env_name = strdup(getenv("GENSUP_NAME"));
                (void) unsetenv("GENSUP_NAME");
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                goto fail_early;
        s->ops = ops;
        s->listen_fd = -1;
        s->max_frame = o.max_frame ? o.max_frame : IPC_DEFAULT_MAX_FRAME;
        s->trap_exit = !o.no_trap_exit && !a.no_trap_exit;
        s->trace = o.trace || a.trace;
        s->hibernate_after_ms = a.hibernate_after_set ? a.hibernate_after_ms : o.hibernate_after_ms;
        s->start_usec = s->last_active_usec = gs__now_usec();
        s->name = pick_name(&o, &a, env_name, supervised, argc > 0 ? argv[0] : NULL);
        if (!s->name)
                goto fail_early;

        /* Signals become events: sd-event needs them blocked first (and
         * SIGCHLD blocked lets a server add child sources to its loop). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        /* They stay blocked after the loop: a second SIGTERM pending then
         * must not kill the process on its way out with its exit status. */
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_new(&s->event);
        if (r < 0)
                goto fail_setup;
        if ((r = sd_event_add_signal(s->event, &s->sig_term, SIGTERM, on_signal, s)) < 0 ||
            (r = sd_event_add_signal(s->event, &s->sig_int, SIGINT, on_signal, s)) < 0 ||
            (r = gs__work_setup(s)) < 0 ||
            (r = sd_event_add_time(s->event, &s->timeout_src, CLOCK_MONOTONIC, 0, 1, on_timeout, s)) < 0 ||
            (r = sd_event_add_time(s->event, &s->idle_src, CLOCK_MONOTONIC, 0, 1000, on_idle, s)) < 0)
                goto fail_setup;
        (void) sd_event_source_set_enabled(s->timeout_src, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->idle_src, SD_EVENT_OFF);
        /* The supervisor's and the signals' word comes before clients'. */
        (void) sd_event_source_set_priority(s->sig_term, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_priority(s->sig_int, SD_EVENT_PRIORITY_IMPORTANT);

        if (supervised) {
                r = gs__conn_new(s, control_fd, true, NULL);
                control_fd = -1;
                if (r < 0)
                        goto fail_setup;
                (void) sd_event_source_set_priority(s->control->io, SD_EVENT_PRIORITY_IMPORTANT);
        }
        /* --socket overrides the socket_path option, as every argv option
         * overrides its gs_server_options field. */
        const char *socket_opt = a.socket ? a.socket : (o.socket_path && *o.socket_path ? o.socket_path : NULL);
        r = setup_listen(s, supervised, socket_opt, a.name || o.name || env_name, &a.perm);
        if (r < 0) {
                fprintf(stderr, "%s: cannot listen%s%s: %s\n", s->name, socket_opt ? " on " : "",
                        socket_opt ? socket_opt : "", strerror(-r));
                /* Under gensupd this is an init failure the supervisor hears of. */
                send_control(s, GENSUP__KIND__INIT_FAILED, "{error,listen}");
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
                goto out;
        }

        /* init, synchronously, as gen_server:start_link. */
        gs_ret ir = ops->init(s, a.argc, a.argv, &s->state);
        if (!ret_valid(&ir, CB_INIT))
                ir = gs_ret_stop("{error,bad_return_value}");
        switch (ir.kind) {
        case GS_RET_STOP: {
                gs_buf b = GS_BUF_INIT;
                (void) gs_reason_normalize(ir.reason, &b);
                gs__tracef(s, "init stop %s", b.data ? (char *) b.data : "normal");
                send_control(s, GENSUP__KIND__INIT_FAILED, b.data ? (char *) b.data : "normal");
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
                gs_buf_done(&b);
                status = 1;
                goto out;
        }
        case GS_RET_IGNORE:
                gs__tracef(s, "init ignore");
                send_control(s, GENSUP__KIND__IGNORE, NULL);
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
                status = 0;
                goto out;
        case GS_RET_OK:
        case GS_RET_REPLY:
        case GS_RET_NOREPLY:
        case _GS_RET_KIND_MAX:
                break;
        }

        gs__tracef(s, "init ok");
        send_control(s, GENSUP__KIND__READY, NULL);
        /* READY goes out before any handle_continue runs: the supervisor
         * starts the next child while this one finishes setting up, as
         * OTP's start_link returns before handle_continue. */
        gs__flush_dirty(s);
        if (!supervised && getenv("NOTIFY_SOCKET"))
                (void) sd_notify(0, "READY=1");
        r = gs__listen_start(s);
        if (r < 0)
                gs__stop(s, "{error,listen}", true);
        else
                apply(s, ir, CB_INIT, NULL);
        /* Nothing has been dispatched yet: write what init's actions
         * queued. */
        gs__flush_dirty(s);
        gs__idle_rearm(s);

        if (!s->stopping) {
                r = sd_event_loop(s->event);
                if (r < 0 && !s->stopping)
                        gs__stop(s, "{error,event_loop}", true);
                if (!s->stopping)
                        /* Someone else ended the loop. */
                        gs__stop(s, "normal", true);
        }
        status = finish(s);
        goto out;

fail_setup:
        fprintf(stderr, "%s: cannot set up the event loop: %s\n", s->name, strerror(-r));
        status = 1;
out:
        destroy(s);
        if (control_fd >= 0)
                close(control_fd);
        free(env_name);
        free(a.argv);
        return status;

fail_early:
        fprintf(stderr, "gs_server_main: out of memory\n");
        if (s)
                free(s);
        if (control_fd >= 0)
                close(control_fd);
        free(env_name);
        free(a.argv);
        return 1;
}

int gs_server_main(const gs_server_ops *ops, int argc, char **argv) {
        return gs_server_main_with(ops, NULL, argc, argv);
}
