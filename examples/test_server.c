/* test_server.c: a configurable gensup server for tests.
 *
 *   test_server [library options] [--init=WHAT] [--log=FILE]
 *               [--terminate-log=FILE] [--slow-terminate=MS] [--minimal]
 *
 * --init=WHAT     ok (default), stop:REASON, ignore, timeout:MS (ok with a
 *                 timeout action), continue (ok with a continue action),
 *                 hibernate, sleep:MS (sleep in init, then ok), crash
 *                 (abort in init), bad (an invalid return value)
 * --log=FILE      append one line per event: "init PID", "timeout",
 *                 "continue N", "terminate REASON", "terminate done"
 * --terminate-log=FILE  append "terminate REASON" when terminate starts
 *                 and "terminate done" when it ends
 * --slow-terminate=MS   sleep MS in terminate (between those two lines)
 * --minimal       no handle_cast, handle_info, handle_continue, terminate
 *                 or format_status (how the library fills them in)
 * --secret=TEXT   kept in the state; format_status never shows it
 * --redact        a format_message that shows "<redacted N bytes>"
 *
 * Calls are text commands, answered with text:
 *   echo:X          reply X                 count     calls seen (this one too)
 *   casts / infos / timeouts / conts   how many of those were seen
 *   last_info       the last info payload   name      gs_server_name
 *   argv            the arguments init got, space-separated
 *   env:NAME        the value of an environment variable, or "(unset)"
 *   sleep:MS        reply "slept" after MS (gs_send_after, noreply, gs_reply)
 *   noreply         never answered, but kept: answer:X answers it with X
 *                   and replies "rc=N", gs_reply's result
 *   stop:REASON     stop without reply      stopreply:REASON  reply "bye", stop
 *   crash:segv | crash:abort | crash:exitN   die in the middle of the call
 *   timeout:MS      reply "ok" with a timeout action
 *   continue:N      reply "ok" with N chained continue actions
 *   hibernate       reply "ok" with a hibernate action
 *   bad             return an invalid kind (ignore) from handle_call
 *   pipe            reply (later) "fd rc_add=.. rc_again=.. rc_mod=.. rc_rm=..": a pipe
 *                   watched with gs_add_fd, answered from its GS_INFO_FD
 *   timer_cancel    reply "rc1 rc2": gs_cancel_timer on a live timer, then again
 *   big:N           reply N bytes of 'x'
 *   busy:MS         block MS in the callback, then reply "done"
 *   error:X         answer with an error X (gs_ret_reply_error)
 *   answer_error:X  answer the "noreply" call with an error X (gs_reply_error)
 *   secret          reply "ok" (a message to crash after: stop:R in the next)
 * Casts: inc (count a cast), stop:REASON, bad (GS_RET_REPLY from a cast).
 * Infos: anything (counted, kept as last_info); stop:REASON stops. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "gensup.h"

#define TOKEN_SLEEP_BASE 1000000u

typedef struct sleeper {
        gs_from from;
        uint64_t token;
        struct sleeper *next;
} sleeper;

typedef struct st {
        uint64_t calls, casts, infos, timeouts, conts;
        char *last_info;
        char *log, *terminate_log;
        long slow_terminate_ms;
        bool has_held;
        gs_from held;           /* the "noreply" call */
        sleeper *sleepers;
        uint64_t next_token;
        int pipe_fds[2];
        bool pipe_busy;
        gs_from pipe_from;
        char pipe_rc[128];
        char *argv_text;
        char *secret;
} st;

/* The state, also reachable from here: a server that exits without
 * terminate (no trap_exit, --minimal) leaves it to the kernel, and leak
 * checkers should not call that a leak. */
static st *volatile the_state;

static void log_line(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const char *file, const char *fmt, ...) {
        char line[512];
        va_list ap;

        if (!file)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(line) - 2)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, line, (size_t) n);
        close(fd);
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static char *msg_text(const gs_msg *m) {
        char *t = malloc(m->len + 1);
        if (!t)
                abort();
        if (m->len)
                memcpy(t, m->data, m->len);
        t[m->len] = '\0';
        return t;
}

static const char *after(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static void st_free(st *t) {
        if (!t)
                return;
        while (t->sleepers) {
                sleeper *z = t->sleepers;
                t->sleepers = z->next;
                free(z);
        }
        free(t->last_info);
        free(t->argv_text);
        free(t);
}

/* ---- callbacks ---- */

static gs_ret ts_init(gs_server *s, int argc, char **argv, void **ret_state) {
        st *t = calloc(1, sizeof(*t));
        const char *init = "ok";
        size_t alen = 1;

        if (!t)
                return gs_ret_stop("enomem");
        t->pipe_fds[0] = t->pipe_fds[1] = -1;
        t->next_token = TOKEN_SLEEP_BASE;
        for (int i = 1; i < argc; i++) {
                const char *v;
                alen += strlen(argv[i]) + 1;
                if ((v = after(argv[i], "--init=")))
                        init = v;
                else if ((v = after(argv[i], "--log=")))
                        t->log = (char *) v;
                else if ((v = after(argv[i], "--terminate-log=")))
                        t->terminate_log = (char *) v;
                else if ((v = after(argv[i], "--slow-terminate=")))
                        t->slow_terminate_ms = atol(v);
                else if ((v = after(argv[i], "--secret=")))
                        t->secret = (char *) v;
        }
        t->argv_text = calloc(1, alen);
        if (!t->argv_text)
                abort();
        for (int i = 1; i < argc; i++) {
                if (i > 1)
                        strcat(t->argv_text, " ");
                strcat(t->argv_text, argv[i]);
        }
        log_line(t->log, "init %d", (int) getpid());

        const char *v;
        if (strcmp(init, "ok") == 0) {
                *ret_state = the_state = t;
                return gs_ret_ok();
        }
        if ((v = after(init, "stop:"))) {
                /* The reason is copied by the library when init returns. */
                static char reason[256];
                snprintf(reason, sizeof(reason), "%s", v);
                st_free(t);
                return gs_ret_stop(reason);
        }
        if (strcmp(init, "ignore") == 0) {
                st_free(t);
                return gs_ret_ignore();
        }
        if (strcmp(init, "crash") == 0)
                abort();
        *ret_state = the_state = t;
        if ((v = after(init, "timeout:")))
                return gs_with_timeout(gs_ret_ok(), strtoull(v, NULL, 10));
        if (strcmp(init, "continue") == 0)
                return gs_with_continue(gs_ret_ok(), (void *) (uintptr_t) 1);
        if (strcmp(init, "hibernate") == 0)
                return gs_with_hibernate(gs_ret_ok());
        if ((v = after(init, "sleep:"))) {
                sleep_ms(atol(v));
                return gs_ret_ok();
        }
        if (strcmp(init, "bad") == 0)
                return gs_ret_reply();
        fprintf(stderr, "test_server: unknown --init=%s\n", init);
        return gs_ret_stop("bad_init_option");
}

static gs_ret reply_text(gs_buf *reply, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gs_ret reply_text(gs_buf *reply, const char *fmt, ...) {
        char text[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        gs_buf_set(reply, text, strlen(text));
        return gs_ret_reply();
}

static gs_ret do_pipe(gs_server *s, st *t, const gs_from *from, gs_buf *reply) {
        if (t->pipe_busy)
                return reply_text(reply, "busy");
        if (pipe2(t->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return reply_text(reply, "pipe failed");
        int add = gs_add_fd(s, t->pipe_fds[0], EPOLLOUT, 7);
        int again = gs_add_fd(s, t->pipe_fds[0], EPOLLIN, 7);
        int mod = gs_modify_fd(s, t->pipe_fds[0], EPOLLIN);
        snprintf(t->pipe_rc, sizeof(t->pipe_rc), "rc_add=%d rc_again=%d rc_mod=%d", add, again, mod);
        /* Readable only once this byte is in: the answer comes from the fd. */
        (void) !write(t->pipe_fds[1], "x", 1);
        t->pipe_busy = true;
        t->pipe_from = *from;
        return gs_ret_noreply();
}

static gs_ret ts_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        st *t = state;
        char *cmd = msg_text(req);
        const char *v;
        gs_ret r;

        t->calls++;
        if ((v = after(cmd, "echo:")))
                r = (gs_buf_set(reply, v, strlen(v)), gs_ret_reply());
        else if (strcmp(cmd, "count") == 0)
                r = reply_text(reply, "%llu", (unsigned long long) t->calls);
        else if (strcmp(cmd, "casts") == 0)
                r = reply_text(reply, "%llu", (unsigned long long) t->casts);
        else if (strcmp(cmd, "infos") == 0)
                r = reply_text(reply, "%llu", (unsigned long long) t->infos);
        else if (strcmp(cmd, "timeouts") == 0)
                r = reply_text(reply, "%llu", (unsigned long long) t->timeouts);
        else if (strcmp(cmd, "conts") == 0)
                r = reply_text(reply, "%llu", (unsigned long long) t->conts);
        else if (strcmp(cmd, "last_info") == 0)
                r = reply_text(reply, "%s", t->last_info ? t->last_info : "");
        else if (strcmp(cmd, "name") == 0)
                r = reply_text(reply, "%s", gs_server_name(s));
        else if (strcmp(cmd, "argv") == 0)
                r = reply_text(reply, "%s", t->argv_text);
        else if ((v = after(cmd, "env:")))
                r = reply_text(reply, "%s", getenv(v) ? getenv(v) : "(unset)");
        else if ((v = after(cmd, "sleep:"))) {
                sleeper *z = calloc(1, sizeof(*z));
                if (!z)
                        abort();
                z->from = *from;
                z->token = t->next_token++;
                z->next = t->sleepers;
                t->sleepers = z;
                if (gs_send_after(s, strtoull(v, NULL, 10), z->token) < 0)
                        abort();
                r = gs_ret_noreply();
        } else if (strcmp(cmd, "noreply") == 0) {
                t->held = *from;
                t->has_held = true;
                r = gs_ret_noreply();
        } else if ((v = after(cmd, "answer:"))) {
                int rc = gs_reply(s, &t->held, v, strlen(v));
                r = reply_text(reply, "rc=%d", rc);
        } else if ((v = after(cmd, "stopreply:"))) {
                gs_buf_set(reply, "bye", 3);
                static char reason[256];
                snprintf(reason, sizeof(reason), "%s", v);
                r = gs_ret_stop_reply(reason);
        } else if ((v = after(cmd, "stop:"))) {
                static char reason[256];
                snprintf(reason, sizeof(reason), "%s", v);
                r = gs_ret_stop(reason);
        } else if ((v = after(cmd, "crash:"))) {
                if (strcmp(v, "segv") == 0)
                        raise(SIGSEGV);
                else if (strcmp(v, "abort") == 0)
                        abort();
                else if (after(v, "exit"))
                        exit(atoi(v + 4));
                r = reply_text(reply, "unknown crash");
        } else if ((v = after(cmd, "timeout:")))
                r = gs_with_timeout(reply_text(reply, "ok"), strtoull(v, NULL, 10));
        else if ((v = after(cmd, "continue:")))
                r = gs_with_continue(reply_text(reply, "ok"), (void *) (uintptr_t) strtoull(v, NULL, 10));
        else if (strcmp(cmd, "hibernate") == 0)
                r = gs_with_hibernate(reply_text(reply, "ok"));
        else if (strcmp(cmd, "bad") == 0)
                r = gs_ret_ignore();
        else if (strcmp(cmd, "pipe") == 0)
                r = do_pipe(s, t, from, reply);
        else if (strcmp(cmd, "timer_cancel") == 0) {
                int64_t id = gs_send_after(s, 60000, 1);
                int rc1 = gs_cancel_timer(s, id);
                int rc2 = gs_cancel_timer(s, id);
                r = reply_text(reply, "%d %d", rc1, rc2);
        } else if ((v = after(cmd, "busy:"))) {
                sleep_ms(atol(v));
                r = reply_text(reply, "done");
        } else if ((v = after(cmd, "error:"))) {
                gs_buf_set(reply, v, strlen(v));
                r = gs_ret_reply_error();
        } else if ((v = after(cmd, "answer_error:"))) {
                int rc = gs_reply_error(s, &t->held, v);
                r = reply_text(reply, "rc=%d", rc);
        } else if ((v = after(cmd, "big:"))) {
                size_t n = strtoull(v, NULL, 10);
                gs_buf_clear(reply);
                for (size_t i = 0; i < n; i++)
                        gs_buf_append(reply, "x", 1);
                r = gs_ret_reply();
        } else
                r = reply_text(reply, "unknown command");
        free(cmd);
        return r;
}

static gs_ret ts_cast(gs_server *s, void *state, const gs_msg *req) {
        st *t = state;
        char *cmd = msg_text(req);
        const char *v;
        gs_ret r = gs_ret_noreply();

        t->casts++;
        if ((v = after(cmd, "stop:"))) {
                static char reason[256];
                snprintf(reason, sizeof(reason), "%s", v);
                r = gs_ret_stop(reason);
        } else if (strcmp(cmd, "bad") == 0)
                r = gs_ret_reply();
        free(cmd);
        return r;
}

static gs_ret ts_info(gs_server *s, void *state, const gs_info *info) {
        st *t = state;

        switch (info->kind) {
        case GS_INFO_TIMEOUT:
                t->timeouts++;
                log_line(t->log, "timeout");
                return gs_ret_ok();
        case GS_INFO_TIMER:
                for (sleeper **p = &t->sleepers; *p; p = &(*p)->next)
                        if ((*p)->token == info->token) {
                                sleeper *z = *p;
                                *p = z->next;
                                (void) gs_reply(s, &z->from, "slept", 5);
                                free(z);
                                break;
                        }
                return gs_ret_ok();
        case GS_INFO_FD: {
                char c;
                (void) !read(info->fd, &c, 1);
                int rm = gs_remove_fd(s, info->fd);
                int rm2 = gs_remove_fd(s, info->fd);
                char text[256];
                snprintf(text, sizeof(text), "fd token=%llu %s rc_rm=%d rc_rm2=%d", (unsigned long long) info->token,
                         t->pipe_rc, rm, rm2);
                close(t->pipe_fds[0]);
                close(t->pipe_fds[1]);
                t->pipe_busy = false;
                (void) gs_reply(s, &t->pipe_from, text, strlen(text));
                return gs_ret_ok();
        }
        case GS_INFO_MSG: {
                char *text = msg_text(&info->msg);
                const char *v;
                t->infos++;
                free(t->last_info);
                t->last_info = text;
                if ((v = after(text, "stop:"))) {
                        static char reason[256];
                        snprintf(reason, sizeof(reason), "%s", v);
                        return gs_ret_stop(reason);
                }
                return gs_ret_ok();
        }
        case _GS_INFO_KIND_MAX:
                break;
        }
        return gs_ret_ok();
}

static gs_ret ts_continue(gs_server *s, void *state, void *cont) {
        st *t = state;
        uintptr_t left = (uintptr_t) cont;

        t->conts++;
        log_line(t->log, "continue %llu", (unsigned long long) left);
        if (left > 1)
                return gs_with_continue(gs_ret_ok(), (void *) (left - 1));
        return gs_ret_ok();
}

static void ts_terminate(gs_server *s, void *state, const char *reason) {
        st *t = state;

        log_line(t->terminate_log, "terminate %s", reason);
        log_line(t->log, "terminate %s", reason);
        if (t->slow_terminate_ms > 0)
                sleep_ms(t->slow_terminate_ms);
        log_line(t->terminate_log, "terminate done");
        log_line(t->log, "terminate done");
        st_free(t);
        the_state = NULL;
}

static int ts_format_message(gs_server *s, void *state, const gs_msg *msg, gs_buf *out) {
        return gs_buf_printf(out, "<redacted %zu bytes>", msg->len);
}

static int ts_format_status(gs_server *s, void *state, gs_buf *out) {
        st *t = state;
        return gs_buf_printf(out, "calls=%llu casts=%llu infos=%llu", (unsigned long long) t->calls,
                             (unsigned long long) t->casts, (unsigned long long) t->infos);
}

/* Under AddressSanitizer, a crash command must still end in the signal
 * it names, as it would without. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "handle_segv=0:handle_abort=0";
}

int main(int argc, char **argv) {
        gs_server_ops ops = {
                .init = ts_init,
                .handle_call = ts_call,
                .handle_cast = ts_cast,
                .handle_info = ts_info,
                .handle_continue = ts_continue,
                .terminate = ts_terminate,
                .format_status = ts_format_status,
        };

        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--minimal") == 0) {
                        ops.handle_cast = NULL;
                        ops.handle_info = NULL;
                        ops.handle_continue = NULL;
                        ops.terminate = NULL;
                        ops.format_status = NULL;
                } else if (strcmp(argv[i], "--redact") == 0)
                        ops.format_message = ts_format_message;
        return gs_server_main(&ops, argc, argv);
}
