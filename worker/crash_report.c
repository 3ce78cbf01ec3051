/* crash_report.c: OTP's error report when a gen_server terminates
 * abnormally, on stderr (which reaches the journal or gensupd's child
 * logs):
 *
 *   ** Generic server NAME terminating
 *   ** Last message in was KIND (...): SUMMARY
 *   ** When Server state == FORMAT_STATUS
 *   ** Reason for termination ==
 *   ** REASON
 *
 * The report of a stop is built when the stop is decided (gs__stop), while
 * the last message's bytes are still readable, and written when the
 * server ends. A crash by signal runs an async-signal-safe handler that
 * writes what it safely can (the name, the last message's kind and size,
 * the reason), sends an EXIT_REPORT frame with {signal,NAME} to each
 * client connection with nothing else half-written on it (so that a
 * caller learns the reason, as OTP's caller exits with the server's), and
 * lets the signal kill the process, so that the exit status and gensupd's
 * reason stay {signal,NAME}. The state and the message's bytes are not
 * shown then: format_status cannot run in a signal handler, and secrets
 * stay out. Calls the user's format callbacks and ipc/ only. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server-internal.h"

#define SUMMARY_BYTES 64       /* message bytes shown by default */
#define SUMMARY_MAX 256        /* the message's summary, at most */
#define STATE_MAX 4096         /* the state's text, at most */

static const char *const msg_kind_name[_GS__MSG_KIND_MAX] = {
        [GS__MSG_NONE] = "none",
        [GS__MSG_CALL] = "call",
        [GS__MSG_CAST] = "cast",
        [GS__MSG_INFO] = "info",
        [GS__MSG_TIMEOUT] = "timeout",
        [GS__MSG_TIMER] = "timer",
        [GS__MSG_FD] = "fd",
};

/* ---- the text of a report ---- */

int gs__format_state(gs_server *s, gs_buf *out) {
        int r;

        gs_buf_clear(out);
        if (s->ops->format_status)
                r = s->ops->format_status(s, s->state, out);
        else
                r = gs_buf_set(out, "<state>", strlen("<state>"));
        if (r < 0)
                r = gs_buf_set(out, "format_status crashed", strlen("format_status crashed"));
        return r < 0 ? r : gs_buf_append(out, "", 0);
}

/* Appends text cut to max bytes and cleaned of what must not reach a
 * terminal or a log line unescaped. */
static void append_clean(gs_buf *b, const char *text, size_t len, size_t max, bool multiline) {
        char *t = strndup(text ? text : "", len < max ? len : max);
        char *c = t ? ipc_text_clean(t, max, multiline) : NULL;

        (void) gs_buf_printf(b, "%s%s", c ? c : "?", len > max ? "..." : "");
        free(c);
        free(t);
}

static void append_bytes(gs_buf *b, const uint8_t *data, size_t len) {
        size_t n = len < SUMMARY_BYTES ? len : SUMMARY_BYTES;

        (void) gs_buf_append(b, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                uint8_t c = data[i];
                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                        (void) gs_buf_append(b, &c, 1);
                else
                        (void) gs_buf_printf(b, "\\x%02x", c);
        }
        (void) gs_buf_printf(b, "\"%s", len > n ? "..." : "");
}

static void append_message(gs_server *s, gs_buf *b) {
        const gs__last_msg *m = &s->last;

        (void) gs_buf_printf(b, "** Last message in was %s", msg_kind_name[m->kind]);
        switch (m->kind) {
        case GS__MSG_CALL:
        case GS__MSG_CAST:
        case GS__MSG_INFO:
                if (m->kind == GS__MSG_CALL)
                        (void) gs_buf_printf(b, " (conn %llu, ref %llu, %zu bytes)", (unsigned long long) m->conn,
                                             (unsigned long long) m->ref, m->len);
                else
                        (void) gs_buf_printf(b, " (conn %llu, %zu bytes)", (unsigned long long) m->conn, m->len);
                break;
        case GS__MSG_TIMER:
        case GS__MSG_FD:
                (void) gs_buf_printf(b, " (token %llu)", (unsigned long long) m->token);
                break;
        case GS__MSG_NONE:
        case GS__MSG_TIMEOUT:
        case _GS__MSG_KIND_MAX:
                break;
        }
        bool payload = m->kind == GS__MSG_CALL || m->kind == GS__MSG_CAST || m->kind == GS__MSG_INFO;
        if (!payload || (!m->data && m->len > 0)) {
                (void) gs_buf_append(b, "\n", 1);
                return;
        }
        (void) gs_buf_append(b, ": ", 2);
        if (s->ops->format_message) {
                gs_buf t = GS_BUF_INIT;
                gs_msg msg = { .data = m->data, .len = m->len };
                if (s->ops->format_message(s, s->state, &msg, &t) < 0)
                        (void) gs_buf_set(&t, "format_message crashed", strlen("format_message crashed"));
                append_clean(b, (const char *) t.data, t.len, SUMMARY_MAX, false);
                gs_buf_done(&t);
        } else
                append_bytes(b, m->data, m->len);
        (void) gs_buf_append(b, "\n", 1);
}

void gs__crash_capture(gs_server *s, const char *reason) {
        gs_buf b = GS_BUF_INIT, st = GS_BUF_INIT;

        if (gs_reason_is_clean(reason) || s->crash_text)
                return;
        (void) gs_buf_printf(&b, "** Generic server %s terminating\n", s->name);
        append_message(s, &b);
        (void) gs__format_state(s, &st);
        (void) gs_buf_append(&b, "** When Server state == ", strlen("** When Server state == "));
        append_clean(&b, (const char *) st.data, st.data ? strlen((char *) st.data) : 0, STATE_MAX, true);
        (void) gs_buf_printf(&b, "\n** Reason for termination ==\n** %s\n", reason);
        if (s->bad_return)
                (void) gs_buf_printf(&b, "** (%s)\n", s->bad_return);
        gs_buf_done(&st);
        s->crash_text = (char *) b.data;
}

void gs__crash_write(gs_server *s) {
        if (s->crash_text)
                gs__stderr_write(s->crash_text, strlen(s->crash_text));
}

void gs__crash_init_failed(gs_server *s, const char *reason) {
        gs_buf b = GS_BUF_INIT;

        if (gs_reason_is_clean(reason))
                return;
        (void) gs_buf_printf(&b, "** Generic server %s failed to start: init returned stop\n"
                                 "** Reason for termination ==\n** %s\n", s->name, reason);
        if (s->bad_return)
                (void) gs_buf_printf(&b, "** (%s)\n", s->bad_return);
        if (b.data)
                gs__stderr_write((char *) b.data, b.len);
        gs_buf_done(&b);
}

/* ---- crashes by signal ---- */

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static const char *const crash_names[] = { "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT" };
#define N_CRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))

/* Everything the handler uses is made ready beforehand: it formats only
 * numbers, and reads the server's connection list and last message. */
static gs_server *volatile crash_server;
static char crash_head[256];
static char crash_reason[N_CRASH][40];
static uint8_t crash_frame[N_CRASH][64];
static size_t crash_frame_len[N_CRASH];
static char crash_stack[64 * 1024];   /* the handler runs here: a stack overflow is a SIGSEGV too */
static volatile sig_atomic_t crashing;
static pid_t crash_pid;   /* a child forked without exec has the handler, not the server's clients */

static void put(const char *p) {
        gs__stderr_write(p, strlen(p));
}

static void put_u64(uint64_t v) {
        char d[24];
        size_t i = sizeof(d);

        d[--i] = '\0';
        do
                d[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0 && i > 0);
        put(d + i);
}

static void crash_tell_clients(gs_server *s, size_t k) {
        for (gs__conn *c = s->conns; c; c = c->next) {
                /* Output half-written would make the frame unreadable:
                 * that client only sees the connection reset. */
                if (c->control || !c->ipc || ipc_conn_pending(c->ipc) > 0)
                        continue;
                (void) send(ipc_conn_fd(c->ipc), crash_frame[k], crash_frame_len[k], MSG_DONTWAIT | MSG_NOSIGNAL);
        }
}

static void on_crash(int sig) {
        gs_server *s = crash_server;
        size_t k = 0;

        while (k < N_CRASH - 1 && crash_signals[k] != sig)
                k++;
        if (!crashing && s && getpid() == crash_pid) {
                crashing = 1;
                const gs__last_msg *m = &s->last;
                put(crash_head);
                put("** Last message in was ");
                put(m->kind < _GS__MSG_KIND_MAX ? msg_kind_name[m->kind] : "?");
                put(" (");
                put_u64(m->len);
                put(" bytes)\n** When Server state == (not shown: crashed by a signal)\n"
                    "** Reason for termination ==\n** ");
                put(crash_reason[k]);
                put("\n");
                crash_tell_clients(s, k);
        }
        /* SA_RESETHAND made the action the default again: once this
         * handler returns, the signal, pending now, kills the process. */
        (void) raise(sig);
}

static void prepare(gs_server *s) {
        snprintf(crash_head, sizeof(crash_head), "** Generic server %.200s terminating\n", s->name);
        for (size_t k = 0; k < N_CRASH; k++) {
                ipc_frame f;
                snprintf(crash_reason[k], sizeof(crash_reason[k]), "{signal,%s}", crash_names[k]);
                ipc_frame_init(&f, GENSUP__KIND__EXIT_REPORT, 0);
                f.reason = crash_reason[k];
                size_t n = ipc_frame_wire_size(&f);
                crash_frame_len[k] = n <= sizeof(crash_frame[k]) ? ipc_frame_encode(&f, crash_frame[k]) : 0;
        }
}

void gs__crash_handler(gs_server *s) {
        struct sigaction sa = { 0 };

        if (!s) {
                crash_server = NULL;
                sa.sa_handler = SIG_DFL;
                for (size_t k = 0; k < N_CRASH; k++)
                        (void) sigaction(crash_signals[k], &sa, NULL);
                return;
        }
        prepare(s);
        stack_t st = { .ss_sp = crash_stack, .ss_size = sizeof(crash_stack) };
        (void) sigaltstack(&st, NULL);
        sa.sa_handler = on_crash;
        sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < N_CRASH; k++)
                sigaddset(&sa.sa_mask, crash_signals[k]);
        crash_pid = getpid();
        crash_server = s;
        for (size_t k = 0; k < N_CRASH; k++)
                (void) sigaction(crash_signals[k], &sa, NULL);
}
