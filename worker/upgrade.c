/* upgrade.c: hot upgrade, the handoff between two versions of a server
 * (gs_upgrade(3)).
 *
 * The old process, asked by gensupd (SYS UPGRADE on the control fd, with
 * the handoff socket attached) or by gs_server_upgrade() standalone:
 * pauses (stops accepting, stops reading client frames), waits until no
 * deferred reply is owed and every answer is written (up to a deadline),
 * writes HANDOFF (its version, export_state's bytes, the extra) and one
 * HANDOFF_CONN per client connection (the fd, and the bytes read from it
 * but not handled), then waits: COMMIT ends it with {shutdown,upgraded}
 * (terminate runs with that reason), without a word to its clients; ABORT (or any
 * failure before) resumes it as it was, its connections its own.
 *
 * The new process (GENSUP_UPGRADE_FD in its environment) takes the place
 * of init: it reads the handoff, runs code_change, adopts the
 * connections, and once READY is sent says READY on the handoff socket
 * too (standalone, that is the old process's word to go).
 *
 * Called by server_main.c and server_dispatch.c; calls server.c and
 * server_conn.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server-internal.h"

#define UPGRADE_DEADLINE_MS 5000   /* standalone: deferred replies, and the successor's start */
#define HANDOFF_FD 4               /* standalone: where the successor finds the handoff socket */

struct gs__upgrade {
        ipc_conn *handoff;           /* to the successor */
        char *extra;
        uint64_t deadline_usec;      /* CLOCK_MONOTONIC: for the deferred replies and the writing */
        gs__src *post;       /* after every event: drained yet? */
        gs__src *first;      /* the same once, in the next iteration (a post source
                                      * added inside a callback is not pending there yet) */
        gs__src *timer;      /* the deadline; standalone, also the successor's start */
        gs__conn *asker;             /* gensupd's control connection; NULL standalone */
        uint64_t ref;                /* the UPGRADE request's */
        bool handed;                 /* the handoff is written: waiting for the word */
        pid_t child;                 /* standalone: the successor */
        gs__src *child_src;  /* standalone: its exit */
        gs__src *reply_src;  /* standalone: its READY or INIT_FAILED */
        char *failure;               /* new side: why the upgrade failed, for INIT_FAILED */
};

/* ---- the old side: pausing and resuming ---- */

static void pause_server(gs_server *s) {
        s->paused = true;
        if (s->listen_src)
                (void) gs__src_set_enabled(s->listen_src, GS__SRC_OFF);
        for (gs__conn *c = s->conns; c; c = c->next)
                gs__conn_update(c);
}

static void resume_server(gs_server *s) {
        s->paused = false;
        if (s->listen_src)
                (void) gs__src_set_enabled(s->listen_src, GS__SRC_ON);
        for (gs__conn *c = s->conns; c; c = c->next) {
                if (!c->control && ipc_conn_buffered(c->ipc) > 0)
                        gs__ready_push(c);
                else
                        gs__conn_update(c);
        }
}

static gs__upgrade *upgrade_free(gs__upgrade *u) {
        if (!u)
                return NULL;
        gs__src_unref(u->post);
        gs__src_unref(u->first);
        gs__src_unref(u->timer);
        gs__src_unref(u->reply_src);
        /* A successor still starting is left to its own fate: it fails
         * without the handoff socket, and its exit is reaped by sd-event. */
        gs__src_unref(u->child_src);
        ipc_conn_free(u->handoff);
        free(u->extra);
        free(u->failure);
        free(u);
        return NULL;
}

void gs__upgrade_free(gs_server *s) {
        s->upgrade = upgrade_free(s->upgrade);
}

static void answer(gs_server *s, int code, const char *why) {
        gs__upgrade *u = s->upgrade;

        if (!u->asker) {
                if (code)
                        fprintf(stderr, "%s: upgrade failed: %s; running on\n", s->name, why);
                return;
        }
        if (code) {
                gs__send_error(u->asker, u->ref, code, why);
                return;
        }
        Gensup__SysReply empty = GENSUP__SYS_REPLY__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__SYS_REPLY, u->ref);
        f.sys_reply = &empty;
        (void) gs__conn_queue(u->asker, &f);
}

/* Any failure on the old side: it resumes as it was. */
static void fail(gs_server *s, int code, const char *why) {
        gs__tracef(s, "upgrade failed: %s", why);
        if (s->upgrade->child > 0) {
                /* Killed and reaped here: no zombie per failed upgrade. */
                (void) kill(s->upgrade->child, SIGKILL);
                (void) waitpid(s->upgrade->child, NULL, 0);
        }
        answer(s, code, why);
        gs__upgrade_free(s);
        resume_server(s);
}

/* ---- the old side: the handoff ---- */

static bool drained(gs_server *s) {
        for (gs__conn *c = s->conns; c; c = c->next) {
                if (c->control)
                        continue;
                if (c->n_pending > 0 || c->n_held > c->held_start)
                        return false;
                if (ipc_conn_pending(c->ipc) > 0)
                        return false;
        }
        return true;
}

/* Writes what is queued on the handoff socket, waiting up to the
 * deadline. */
static int handoff_flush(gs__upgrade *u) {
        for (;;) {
                int r = ipc_conn_flush(u->handoff);
                if (r != -EAGAIN)
                        return r;
                uint64_t now = gs__now_usec();
                if (now >= u->deadline_usec)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = ipc_conn_fd(u->handoff), .events = POLLOUT };
                int left = (int) ((u->deadline_usec - now) / 1000u) + 1;
                if (poll(&p, 1, left) < 0 && errno != EINTR)
                        return -errno;
        }
}

/* The new side's one word to the old (READY or INIT_FAILED), given a
 * second to leave. */
static void handoff_tell(gs__upgrade *u, const ipc_frame *f) {
        if (ipc_conn_queue(u->handoff, f) == 0) {
                u->deadline_usec = gs__now_usec() + 1000u * 1000u;
                (void) handoff_flush(u);
        }
}

static int queue_state(gs_server *s, size_t n_conns) {
        gs__upgrade *u = s->upgrade;
        gs_buf state = GS_BUF_INIT;
        int r = 0;

        if (s->ops->export_state && (r = s->ops->export_state(s, s->state, &state)) < 0) {
                gs_buf_done(&state);
                return r;
        }
        Gensup__Handoff h = GENSUP__HANDOFF__INIT;
        h.vsn = s->vsn ? s->vsn : (char *) "";
        h.state = (ProtobufCBinaryData) { .len = state.len, .data = state.data };
        h.extra = u->extra ? u->extra : (char *) "";
        h.connections = (uint32_t) n_conns;
        h.socket_path = !u->asker && s->socket_path ? s->socket_path : (char *) "";
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__HANDOFF, 0);
        f.handoff = &h;
        r = ipc_conn_queue(u->handoff, &f);
        gs_buf_done(&state);
        return r;
}

static int queue_conn(gs__upgrade *u, gs__conn *c) {
        ipc_frame f;
        size_t len;
        const uint8_t *bytes = ipc_conn_unread(c->ipc, &len);

        ipc_frame_init(&f, GENSUP__KIND__HANDOFF_CONN, c->serial);
        f.payload = (ProtobufCBinaryData) { .len = len, .data = (uint8_t *) bytes };
        return ipc_conn_queue_fd(u->handoff, &f, ipc_conn_fd(c->ipc));
}

static void handoff(gs_server *s) {
        gs__upgrade *u = s->upgrade;
        size_t n = 0;

        for (gs__conn *c = s->conns; c; c = c->next)
                n += !c->control;
        int r = queue_state(s, n);
        if (r < 0) {
                fail(s, -r, r == -ENOMEM ? "out of memory" : "export_state failed");
                return;
        }
        for (gs__conn *c = s->conns; c && r >= 0; c = c->next)
                if (!c->control)
                        r = queue_conn(u, c);
        if (r >= 0)
                r = handoff_flush(u);
        if (r < 0) {
                fail(s, -r, "writing the handoff");
                return;
        }
        u->handed = true;
        u->post = gs__src_unref(u->post);
        if (u->asker)
                u->timer = gs__src_unref(u->timer);
        gs__tracef(s, "upgrade: handed off %zu connections", n);
        answer(s, 0, NULL);
}

static int on_post(gs__src *src, void *userdata) {
        gs_server *s = userdata;

        if (s->upgrade && !s->upgrade->handed && drained(s))
                handoff(s);
        return 0;
}

static int on_first(gs__src *src, void *userdata) {
        return on_post(src, userdata);
}

static int on_deadline(gs__src *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;

        if (!s->upgrade)
                return 0;
        fail(s, ETIMEDOUT, s->upgrade->handed ? "the successor did not become ready in time"
                                              : "a deferred reply was still owed at the deadline");
        return 0;
}

/* Pauses and hands off as soon as nothing is owed. Takes handoff_fd. */
static int begin(gs_server *s, int handoff_fd, uint64_t deadline_ms, const char *extra, gs__conn *asker,
                 uint64_t ref) {
        if (s->upgrade || s->suspended || s->stopping) {
                close(handoff_fd);
                return -EBUSY;
        }
        gs__upgrade *u = calloc(1, sizeof(*u));
        if (!u) {
                close(handoff_fd);
                return -ENOMEM;
        }
        s->upgrade = u;
        u->asker = asker;
        u->ref = ref;
        u->deadline_usec = gs__now_usec() + deadline_ms * 1000u;
        int r = ipc_conn_new(handoff_fd, 0, &u->handoff);
        if (r >= 0 && extra && *extra && !(u->extra = strdup(extra)))
                r = -ENOMEM;
        if (r >= 0)
                r = gs__loop_add_post(s->event, &u->post, on_post, s);
        if (r >= 0 && (r = gs__loop_add_defer(s->event, &u->first, on_first, s)) >= 0)
                r = gs__src_set_enabled(u->first, GS__SRC_ONESHOT);
        if (r >= 0)
                r = gs__loop_add_time(s->event, &u->timer, u->deadline_usec, on_deadline, s);
        if (r < 0) {
                gs__upgrade_free(s);
                return r;
        }
        gs__tracef(s, "upgrade: pausing");
        pause_server(s);
        gs__flush_dirty(s);
        if (drained(s))
                handoff(s);
        return 0;
}

/* COMMIT: the successor serves now. The connections are closed here
 * without a word (the successor holds them), the socket file is its. */
static void commit(gs_server *s) {
        for (gs__conn *c = s->conns, *n; c; c = n) {
                n = c->next;
                if (!c->control)
                        gs__conn_close(c);
        }
        if (!s->upgrade->asker)
                s->socket_path = (free(s->socket_path), NULL);
        gs__upgrade_free(s);
        /* terminate runs, and can tell by the reason that the state lives
         * on in the successor. */
        gs__stop(s, "{shutdown,upgraded}", true);
}

void gs__on_upgrade_sys(gs_server *s, gs__conn *c, const ipc_frame *f) {
        const Gensup__SysRequest *req = f->sys;

        if (!c->control) {
                gs__send_error(c, f->ref, EPERM, "upgrade requests come from gensupd only");
                return;
        }
        switch ((int) req->op) {
        case GENSUP__SYS_REQUEST__OP__UPGRADE: {
                int fd = ipc_conn_take_fd(c->ipc);
                if (fd < 0) {
                        gs__send_error(c, f->ref, EBADF, "no handoff socket");
                        return;
                }
                int r = begin(s, fd, req->value ? req->value : UPGRADE_DEADLINE_MS, req->reason, c, f->ref);
                if (r < 0)
                        gs__send_error(c, f->ref, -r, r == -EBUSY ? "busy (suspended, stopping or upgrading)"
                                                                  : strerror(-r));
                return;
        }
        case GENSUP__SYS_REQUEST__OP__UPGRADE_COMMIT:
        case GENSUP__SYS_REQUEST__OP__UPGRADE_ABORT: {
                bool go = req->op == GENSUP__SYS_REQUEST__OP__UPGRADE_COMMIT;
                Gensup__SysReply empty = GENSUP__SYS_REPLY__INIT;
                ipc_frame a;
                ipc_frame_init(&a, GENSUP__KIND__SYS_REPLY, f->ref);
                a.sys_reply = &empty;
                (void) gs__conn_queue(c, &a);
                if (!s->upgrade || !s->upgrade->handed)
                        return;
                gs__tracef(s, "upgrade: %s", go ? "commit" : "abort, resuming");
                if (go)
                        commit(s);
                else {
                        gs__upgrade_free(s);
                        resume_server(s);
                }
                return;
        }
        default:
                gs__send_error(c, f->ref, EINVAL, "unknown upgrade request");
                return;
        }
}

/* ---- standalone: the old process starts its successor ---- */

static int on_child(gs__src *src, const siginfo_t *si, void *userdata) {
        gs_server *s = userdata;
        gs__upgrade *u = s->upgrade;

        /* Ours to drop, before fail() frees u. */
        if (u && u->child_src == src)
                u->child_src = NULL;
        gs__src_unref(src);
        if (u && u->child == si->si_pid) {
                u->child = 0;
                fail(s, ECHILD, "the successor exited");
        }
        return 0;
}

static int on_reply(gs__src *src, int fd, uint32_t revents, void *userdata) {
        gs_server *s = userdata;
        gs__upgrade *u = s->upgrade;
        ipc_frame *f = NULL;

        int r = ipc_conn_read(u->handoff);
        if (r == -EAGAIN)
                return 0;
        int k = ipc_conn_next(u->handoff, &f);
        if (k > 0 && f->kind == GENSUP__KIND__READY) {
                ipc_frame_free(f);
                /* It runs on its own now: not ours to reap or kill. */
                u->child_src = gs__src_unref(u->child_src);
                u->child = 0;
                commit(s);
                return 0;
        }
        if (k == 0 && r >= 0)
                return 0;
        char why[256];
        snprintf(why, sizeof(why), "the successor failed: %s",
                 k > 0 && f->reason && *f->reason ? f->reason : "no answer");
        ipc_frame_free(f);
        fail(s, ECANCELED, why);
        return 0;
}

static void exec_successor(int listen_fd, int handoff_fd, char *const argv[]) {
        sigset_t all;
        char pid[32];

        if (listen_fd >= 0 && dup2(listen_fd, 3) == 3)
                (void) setenv("LISTEN_FDS", "1", 1);
        if (dup2(handoff_fd, HANDOFF_FD) != HANDOFF_FD)
                _exit(127);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        (void) setenv("LISTEN_PID", pid, 1);
        (void) setenv("GENSUP_UPGRADE_FD", "4", 1);
        (void) unsetenv("LISTEN_FDNAMES");
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        execvp(argv[0], argv);
        _exit(127);
}

static int spawn_successor(gs_server *s, char *const argv[], int handoff_fd, pid_t *ret) {
        /* Out of the way of fd 3 and 4, where the child puts them. */
        int lfd = s->listen_fd >= 0 ? fcntl(s->listen_fd, F_DUPFD, 5) : -1;
        int hfd = fcntl(handoff_fd, F_DUPFD, 5);

        if (hfd < 0 || (s->listen_fd >= 0 && lfd < 0)) {
                int r = -errno;
                if (lfd >= 0)
                        close(lfd);
                if (hfd >= 0)
                        close(hfd);
                return r;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
                exec_successor(lfd, hfd, argv);
        int r = pid < 0 ? -errno : 0;
        if (lfd >= 0)
                close(lfd);
        close(hfd);
        if (r < 0)
                return r;
        *ret = pid;
        return 0;
}

int gs_server_upgrade(gs_server *s, char *const argv[], const char *extra) {
        int sv[2];

        if (!s || !argv || !argv[0])
                return -EINVAL;
        if (s->control)
                return -EOPNOTSUPP;   /* under gensupd: gensupctl upgrade */
        if (s->upgrade || s->suspended || s->stopping)
                return -EBUSY;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid_t pid = 0;
        int r = spawn_successor(s, argv, sv[1], &pid);
        close(sv[1]);
        if (r < 0) {
                close(sv[0]);
                return r;
        }
        r = begin(s, sv[0], UPGRADE_DEADLINE_MS, extra, NULL, 0);
        if (r < 0 || !s->upgrade) {
                /* Failed before it began, or at once (it said why). */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r < 0 ? r : -ECANCELED;
        }
        gs__upgrade *u = s->upgrade;
        u->child = pid;
        if ((r = gs__loop_add_child(s->event, &u->child_src, pid, WEXITED, on_child, s)) < 0 ||
            (r = gs__loop_add_io(s->event, &u->reply_src, ipc_conn_fd(u->handoff), EPOLLIN, on_reply, s)) < 0) {
                fail(s, -r, "watching the successor");
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        return 0;
}

/* ---- the new side ---- */

bool gs__upgrade_requested(void) {
        return getenv("GENSUP_UPGRADE_FD") != NULL;
}

/* One frame from the handoff socket, waiting for it. */
static int recv_frame(ipc_conn *c, ipc_frame **ret) {
        for (;;) {
                int r = ipc_conn_next(c, ret);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = ipc_conn_read_wait(c, -1);
                if (r < 0 && r != -EINTR && r != -EAGAIN)
                        return r;
        }
}

static gs_ret fail_new(gs_server *s, const char *why) {
        gs__upgrade *u = s->upgrade;
        ipc_frame f;

        free(u->failure);
        u->failure = strdup(why);
        ipc_frame_init(&f, GENSUP__KIND__INIT_FAILED, 0);
        f.reason = u->failure ? u->failure : (char *) "{error,upgrade}";
        handoff_tell(u, &f);
        return gs_ret_stop(u->failure ? u->failure : "{error,upgrade}");
}

/* Takes the connections: each becomes the server's, with the bytes the
 * old process had read from it. */
static int adopt(gs_server *s, ipc_conn *h, uint32_t n) {
        for (uint32_t i = 0; i < n; i++) {
                ipc_frame *f = NULL;
                gs__conn *c = NULL;
                int r = recv_frame(h, &f);
                if (r < 0 || f->kind != GENSUP__KIND__HANDOFF_CONN) {
                        ipc_frame_free(f);
                        return r < 0 ? r : -EBADMSG;
                }
                int fd = ipc_conn_take_fd(h);
                if (fd >= 0 && gs__conn_new(s, fd, false, &c) >= 0 && ipc_conn_feed(c->ipc, f->payload.data,
                                                                                    f->payload.len) >= 0 &&
                    f->payload.len > 0)
                        gs__ready_push(c);
                ipc_frame_free(f);
        }
        return 0;
}

static gs_ret code_change(gs_server *s, const Gensup__Handoff *h) {
        if (!s->ops->code_change)
                return fail_new(s, "{error,undef_code_change}");
        gs_msg m = { .data = h->state.data, .len = h->state.len };
        gs__tracef(s, "code_change from %s", h->vsn && *h->vsn ? h->vsn : "(none)");
        gs_ret r = s->ops->code_change(s, h->vsn ? h->vsn : "", &m, h->extra ? h->extra : "", &s->state);
        if (r.kind == GS_RET_STOP) {
                gs_buf b = GS_BUF_INIT;
                (void) gs_reason_normalize(r.reason, &b);
                r = fail_new(s, b.data ? (const char *) b.data : "{error,code_change}");
                gs_buf_done(&b);
                return r;
        }
        if (r.kind != GS_RET_OK || !gs__init_ret_valid(s, &r))
                return fail_new(s, "{error,bad_return_value}");
        return r;
}

/* Tells gensupd this process is up and waits for the handoff: only now
 * is the old one paused, so that the pause does not include our start. */
static int say_waiting(gs_server *s) {
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__HANDOFF, 0);
        int r = ipc_conn_queue(s->control->ipc, &f);
        while (r >= 0 && (r = ipc_conn_flush(s->control->ipc)) == -EAGAIN)
                (void) ipc_conn_wait(s->control->ipc, false, 1000);
        return r;
}

/* Under gensupd the handoff socket comes in the first frame on the
 * control fd; standalone, it is fd GENSUP_UPGRADE_FD. */
static int handoff_fd(gs_server *s) {
        const char *e = getenv("GENSUP_UPGRADE_FD");
        ipc_frame *f = NULL;
        int fd = -1;

        if (e && strcmp(e, "control") != 0)
                fd = atoi(e);
        else if (e && s->control && say_waiting(s) >= 0 && recv_frame(s->control->ipc, &f) >= 0 &&
                 f->kind == GENSUP__KIND__HANDOFF)
                fd = ipc_conn_take_fd(s->control->ipc);
        ipc_frame_free(f);
        (void) unsetenv("GENSUP_UPGRADE_FD");
        return fd;
}

gs_ret gs__upgrade_init(gs_server *s) {
        int fd = handoff_fd(s);
        ipc_frame *f = NULL;

        s->upgrade = calloc(1, sizeof(*s->upgrade));
        if (!s->upgrade || fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || ipc_conn_new(fd, 0, &s->upgrade->handoff) < 0)
                return gs_ret_stop("{error,upgrade_handoff}");
        ipc_conn_set_accept_fds(s->upgrade->handoff, true);
        int r = recv_frame(s->upgrade->handoff, &f);
        if (r < 0 || f->kind != GENSUP__KIND__HANDOFF || !f->handoff) {
                ipc_frame_free(f);
                return fail_new(s, "{error,no_handoff}");
        }
        const Gensup__Handoff *h = f->handoff;
        if (h->socket_path && *h->socket_path && !s->socket_path)
                s->socket_path = strdup(h->socket_path);
        gs_ret ir = code_change(s, h);
        if (ir.kind == GS_RET_OK && adopt(s, s->upgrade->handoff, h->connections) < 0)
                ir = fail_new(s, "{error,handoff_connections}");
        ipc_frame_free(f);
        return ir;
}

void gs__upgrade_ready(gs_server *s) {
        gs__upgrade *u = s->upgrade;
        ipc_frame f;

        if (!u || !u->handoff || u->handed)
                return;
        ipc_frame_init(&f, GENSUP__KIND__READY, 0);
        f.vsn = s->vsn ? s->vsn : (char *) "";
        handoff_tell(u, &f);
        gs__upgrade_free(s);
}

const char *gs_server_vsn(const gs_server *s) {
        return s && s->vsn ? s->vsn : "";
}
