/* log.c: gensupd's messages and supervisor reports, journal or stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "sink.h"

static bool use_journal;

void sup_log_open(bool force_stderr) {
        use_journal = !force_stderr && access("/run/systemd/journal/socket", W_OK) == 0;
        /* Children's copies go to stderr even with the journal, when
         * journald refuses a line for good (output.c). */
        (void) sup_sink_open(STDERR_FILENO);
}

int sup_log_attach(sd_event *e) {
        return sup_sink_attach(e);
}

void sup_log_close(void) {
        /* The loop is over: wait a little for a slow reader, not forever. */
        sup_sink_close(2000);
        sup_journal_close();
}

/* printf into the next free part of a field buffer; returns the field. */
static const char *field(char **next, char *end, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *field(char **next, char *end, const char *fmt, ...) {
        char *f = *next;
        va_list ap;

        /* Out of room: a field that says so (values are cut, not lost). */
        if (end - f < 16)
                return "GENSUP_TRUNCATED=1";
        va_start(ap, fmt);
        vsnprintf(f, (size_t) (end - f), fmt, ap);
        va_end(ap);
        *next = f + strlen(f) + 1;
        return f;
}

static void journal_message(int priority, const char *msg) {
        char buf[2300], *next = buf, *end = buf + sizeof(buf);
        const char *fields[] = {
                field(&next, end, "MESSAGE=%s", msg),
                field(&next, end, "PRIORITY=%d", priority),
                "SYSLOG_IDENTIFIER=gensupd",
        };
        (void) sup_journal_send(fields, sizeof(fields) / sizeof(fields[0]));
}

static void journal_report(const sup_report *r, const char *context, const char *msg, const char *pid,
                           int priority) {
        char buf[8192], *next = buf, *end = buf + sizeof(buf);
        const char *fields[] = {
                field(&next, end, "MESSAGE=%s", msg),
                field(&next, end, "PRIORITY=%d", priority),
                "SYSLOG_IDENTIFIER=gensupd",
                field(&next, end, "GENSUP_SUPERVISOR=%s", r->supervisor),
                field(&next, end, "GENSUP_CONTEXT=%s", context),
                field(&next, end, "GENSUP_REASON=%s", r->reason),
                field(&next, end, "GENSUP_CHILD=%s", r->child),
                field(&next, end, "GENSUP_CHILD_PID=%s", pid),
                field(&next, end, "GENSUP_RESTART_TYPE=%s", r->restart),
                field(&next, end, "GENSUP_SHUTDOWN=%s", r->shutdown),
                field(&next, end, "GENSUP_CHILD_TYPE=%s", r->type),
                /* When the exit was seen; journald stamps the entry on receipt. */
                field(&next, end, "GENSUP_TIME_USEC=%llu", (unsigned long long) r->realtime_usec),
        };
        size_t n = sizeof(fields) / sizeof(fields[0]);
        (void) sup_journal_send(fields, r->realtime_usec ? n : n - 1);
}

bool sup_log_to_journal(void) {
        return use_journal;
}

int sup_log_errno(int priority, int error, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                errno = -error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        errno = saved;

        if (use_journal)
                journal_message(priority, msg);
        else
                (void) sup_sink_line(SUP_SINK_OWN, 0, "gensupd: ", msg, strlen(msg));
        return error < 0 ? error : 0;
}

void sup_log_report(const sup_report *r) {
        char pid[24] = "undefined";

        if (r->pid > 0)
                snprintf(pid, sizeof(pid), "%d", (int) r->pid);
        /* OTP's single-line report, so that Erlang people read it at once. */
        const char *context = sup_report_context_to_string(r->context);
        char msg[2048];
        snprintf(msg, sizeof(msg),
                 "Supervisor: %s. Context: %s. Reason: %s. Offender: id=%s,pid=%s,restart_type=%s,shutdown=%s,child_type=%s.",
                 r->supervisor, context, r->reason, r->child, pid, r->restart, r->shutdown, r->type);

        /* A child that ended and is dealt with is a warning; a supervisor
         * that could not do its job is an error. */
        bool error = r->context != SUP_REPORT_CHILD_TERMINATED;
        if (use_journal)
                journal_report(r, context, msg, pid, error ? LOG_ERR : LOG_WARNING);
        else
                (void) sup_sink_line(SUP_SINK_OWN, r->realtime_usec, "gensupd: ", msg, strlen(msg));
}
