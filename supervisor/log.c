/* log.c: gensupd's messages and supervisor reports, journal or stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "sink.h"

static bool use_journal;

void sup_log_open(bool force_stderr) {
        use_journal = !force_stderr && access("/run/systemd/journal/socket", W_OK) == 0;
        /* Children's copies go to stderr even with the journal, when a
         * child's journal stream cannot be had. */
        (void) sup_sink_open(STDERR_FILENO);
}

int sup_log_attach(sd_event *e) {
        return sup_sink_attach(e);
}

void sup_log_close(void) {
        /* The loop is over: wait a little for a slow reader, not forever. */
        sup_sink_close(2000);
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
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=gensupd", NULL);
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
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", error ? LOG_ERR : LOG_WARNING,
                                "SYSLOG_IDENTIFIER=gensupd", "GENSUP_SUPERVISOR=%s", r->supervisor,
                                "GENSUP_CONTEXT=%s", context, "GENSUP_REASON=%s", r->reason,
                                "GENSUP_CHILD=%s", r->child, "GENSUP_CHILD_PID=%s", pid,
                                "GENSUP_RESTART_TYPE=%s", r->restart, "GENSUP_SHUTDOWN=%s", r->shutdown,
                                "GENSUP_CHILD_TYPE=%s", r->type, NULL);
        else
                (void) sup_sink_line(SUP_SINK_OWN, r->realtime_usec, "gensupd: ", msg, strlen(msg));
}
