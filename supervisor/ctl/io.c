/* io.c: gensupctl talking to gensupd over control.sock.
 *
 * Map: the deadline clock; ctl_send_frame and ctl_recv_frame (non-blocking
 * ipc_conn, waiting with poll until a deadline); then the four steps of a
 * command, which main.c runs in order: connect (find the socket),
 * send (one CTL frame), wait (the CTL_REPLY, EVENT frames before it
 * skipped) and, for events --follow, follow (EVENT frames until the user
 * interrupts). Each step prints its own error line. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "logs.h"
#include "output.h"

#define CTL_REF 1

/* ---- the clock ---- */

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ctl_deadline(int timeout_ms) {
        return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left until deadline (< 0: none), for ipc_conn_wait. */
static int left_ms(int64_t deadline) {
        if (deadline < 0)
                return -1;
        int64_t left = deadline - now_ms();
        return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
}

/* ---- frames ---- */

int ctl_send_frame(ipc_conn *c, const ipc_frame *f, int64_t deadline) {
        int r = ipc_conn_queue(c, f);
        if (r < 0)
                return r;
        for (;;) {
                r = ipc_conn_flush(c);
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, false, left_ms(deadline));
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

int ctl_recv_frame(ipc_conn *c, int64_t deadline, ipc_frame **ret) {
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = f;
                        return 0;
                }
                r = ipc_conn_read(c);
                if (r > 0)
                        continue;
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, true, left_ms(deadline));
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

/* ---- connect ---- */

/* -s, else <runtime dir>/control.sock. NULL after saying why. */
static char *control_path(const ctl_opts *o, const ctl_command *cmd) {
        char *path = NULL;
        if (o->socket)
                path = strdup(o->socket);
        else {
                char *dir = NULL;
                if (ipc_runtime_dir(&dir) < 0) {
                        fprintf(stderr,
                                "gensupctl: cannot tell where gensupd is: no runtime directory (set "
                                "GENSUP_RUNTIME_DIR or -s)\n");
                        return NULL;
                }
                if (ipc_socket_path(dir, "control", &path) < 0)
                        path = NULL;
                free(dir);
        }
        if (!path)
                ctl_fail(cmd, "out of memory");
        return path;
}

int ctl_daemon_connect(const ctl_opts *o, const ctl_command *cmd, ipc_conn **ret) {
        char *path = control_path(o, cmd);
        if (!path)
                return -ENOMEM;
        ipc_dir_fault fault = { 0 };
        int fd = ipc_dir_check_socket(path, &fault);
        if (fd == -EPERM && fault.path) {
                /* Whoever may change that directory may be the one answering. */
                fprintf(stderr, "gensupctl: not trusting %s: %s is %s (uid %u, mode %04o); see gensupctl(1) SECURITY\n",
                        path, fault.path, fault.why, (unsigned) fault.uid, (unsigned) (fault.mode & 07777));
                ipc_dir_fault_done(&fault);
                free(path);
                return fd;
        }
        ipc_dir_fault_done(&fault);
        if (fd >= 0)
                fd = ipc_connect(path);
        if (fd < 0) {
                fprintf(stderr, "gensupctl: cannot reach gensupd at %s: %s (is it running? set GENSUP_RUNTIME_DIR or -s)\n",
                        path, strerror(-fd));
                free(path);
                return fd;
        }
        free(path);
        int r = ipc_conn_new(fd, 0, ret);
        if (r < 0)
                ctl_fail(cmd, "%s", strerror(-r));
        return r;
}

/* ---- send ---- */

int ctl_daemon_send(ipc_conn *c, const ctl_command *cmd, char **args, size_t n_args, int timeout_ms,
                    int64_t deadline) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, CTL_REF);
        req.command = (char *) cmd->name;
        req.n_args = n_args;
        req.args = args;
        req.timeout_ms = timeout_ms < 0 ? 0 : (uint32_t) timeout_ms;
        f.ctl = &req;

        int r = ctl_send_frame(c, &f, deadline);
        /* A refused peer may find the connection closed before its request
         * is written: the answer that says why is still to be read. */
        if (r >= 0 || r == -ECONNRESET || r == -EPIPE)
                return 0;
        if (r == -ETIMEDOUT)
                ctl_fail(cmd, "gensupd did not take the request within %d ms", timeout_ms);
        else
                ctl_fail(cmd, "sending to gensupd: %s", strerror(-r));
        return r;
}

/* ---- wait ---- */

/* The CTL_REPLY to our request; EVENT frames that came before it (not
 * asked for yet) are skipped. */
static int recv_reply(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline, ipc_frame **ret) {
        for (;;) {
                ipc_frame *in = NULL;
                int r = ctl_recv_frame(c, deadline, &in);
                if (r == -ETIMEDOUT)
                        ctl_fail(cmd, "no answer from gensupd within %d ms (--timeout)", timeout_ms);
                else if (r == -ECONNRESET)
                        ctl_fail(cmd, "gensupd closed the connection without answering");
                else if (r < 0)
                        ctl_fail(cmd, "bad answer from gensupd: %s", strerror(-r));
                if (r < 0)
                        return r;
                if (in->kind == GENSUP__KIND__CTL_REPLY && (in->ref == CTL_REF || in->ref == 0)) {
                        *ret = in;
                        return 0;
                }
                ipc_frame_free(in);
        }
}

int ctl_daemon_wait_frame(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline,
                          ipc_frame **ret_frame) {
        ipc_frame *in = NULL;
        int r = recv_reply(c, cmd, timeout_ms, deadline, &in);
        if (r < 0)
                return r;

        const Gensup__CtlReply *cr = in->ctl_reply;
        if (!cr) {
                ctl_fail(cmd, "bad answer from gensupd: no reply");
                r = -EBADMSG;
        } else if (cr->code != 0) {
                ctl_print_reply_error(cmd, (int) cr->code, cr->error);
                r = -(int) cr->code;
        }
        if (r < 0) {
                ipc_frame_free(in);
                return r;
        }
        *ret_frame = in;
        return 0;
}

int ctl_daemon_print_as_sent(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline, json_t **ret_doc) {
        ipc_frame *in = NULL;
        if (ctl_daemon_wait_frame(c, cmd, timeout_ms, deadline, &in) < 0)
                return EXIT_FAILED;
        int r = ctl_print_json_text(in->ctl_reply->json);
        if (r >= 0 && ret_doc) {
                *ret_doc = json_loads(in->ctl_reply->json ? in->ctl_reply->json : "{}", 0, NULL);
                if (!*ret_doc)
                        r = -EBADMSG;
        }
        ipc_frame_free(in);
        if (r < 0) {
                ctl_fail(cmd, "writing the answer: %s", strerror(-r));
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

int ctl_daemon_wait(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline, json_t **ret_doc) {
        ipc_frame *in = NULL;
        int r = ctl_daemon_wait_frame(c, cmd, timeout_ms, deadline, &in);
        if (r < 0)
                return r;

        const Gensup__CtlReply *cr = in->ctl_reply;
        json_error_t jerr;
        json_t *doc = json_loads(cr->json && *cr->json ? cr->json : "{}", JSON_DECODE_ANY, &jerr);
        if (!doc) {
                ctl_fail(cmd, "bad JSON from gensupd: %s", jerr.text);
                r = -EBADMSG;
        }
        ipc_frame_free(in);
        if (r < 0)
                return r;
        *ret_doc = doc;
        return 0;
}

/* ---- events --follow ---- */

/* One EVENT frame, as ctl_print_event (logs -f: a line, as
 * ctl_print_log_line). */
static void emit_event(const ctl_opts *o, const ipc_frame *f) {
        if (f->kind != GENSUP__KIND__EVENT || !f->event || !f->event->json)
                return;
        json_t *ev = json_loads(f->event->json, 0, NULL);
        if (!ev)
                return;
        if (o->lines || json_object_get(ev, "line"))
                ctl_print_log_line(o, ev);
        else
                ctl_print_event(o, ev);
        json_decref(ev);
}

/* Prints every complete frame held; 0, or -errno for a bad one. */
static int emit_held(const ctl_opts *o, ipc_conn *c) {
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r <= 0) {
                        fflush(stdout);
                        return r;
                }
                emit_event(o, f);
                ipc_frame_free(f);
        }
}

/* A signalfd for the signals that end following, or -errno. */
static int follow_signals(const ctl_command *cmd) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                ctl_fail(cmd, "blocking signals: %s", strerror(errno));
                return -errno;
        }
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                ctl_fail(cmd, "signalfd: %s", strerror(errno));
        return sfd < 0 ? -errno : sfd;
}

/* Signals arrive on a signalfd polled with the socket, so none is lost
 * between checks. */
int ctl_follow_events(const ctl_opts *o, const ctl_command *cmd, ipc_conn *c) {
        int sfd = follow_signals(cmd);
        if (sfd < 0)
                return EXIT_FAILED;
        int status = EXIT_FAILED;
        for (;;) {
                int r = emit_held(o, c);
                if (r < 0) {
                        ctl_fail(cmd, "bad frame from gensupd: %s", strerror(-r));
                        break;
                }
                struct pollfd p[2] = { { .fd = ipc_conn_fd(c), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        ctl_fail(cmd, "poll: %s", strerror(errno));
                        break;
                }
                if (p[1].revents & POLLIN) {
                        status = EXIT_OK;   /* interrupted: a normal end */
                        break;
                }
                if (!p[0].revents)
                        continue;
                r = ipc_conn_read(c);
                if (r == -ECONNRESET) {
                        /* Frames read with the EOF are still to be printed. */
                        (void) emit_held(o, c);
                        ctl_fail(cmd, "gensupd closed the connection");
                        break;
                }
                if (r < 0 && r != -EAGAIN) {
                        ctl_fail(cmd, "reading from gensupd: %s", strerror(-r));
                        break;
                }
        }
        close(sfd);
        return status;
}
