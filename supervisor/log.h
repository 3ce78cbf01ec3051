/* log.h: gensupd's own messages and its supervisor reports.
 *
 * Where journald runs they go to the journal with structured fields;
 * elsewhere each is one line on stderr (sink.h: stamped, never blocking):
 * "2026-01-31T12:34:56.789Z gensupd: <message>". */
#ifndef GENSUP_LOG_H
#define GENSUP_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include <systemd/sd-event.h>

#include "decide.h"

/* Chooses the journal when its socket is there (call once at start);
 * force_stderr keeps everything on stderr (tests, --log-target=stderr). */
void sup_log_open(bool force_stderr);
bool sup_log_to_journal(void);
/* Lets the loop write what stderr could not take at once. 0 or -errno. */
int sup_log_attach(sd_event *e);
/* At exit: writes what is still queued (waiting a bounded time). */
void sup_log_close(void);

/* One line: "<time> gensupd: <message>". Returns -error when error < 0, so
 * `return sup_log_errno(LOG_ERR, r, "...: %m")` reads naturally (%m is
 * -error's text). */
int sup_log_errno(int priority, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define sup_log(priority, ...) ((void) sup_log_errno((priority), 0, __VA_ARGS__))

/* A supervisor report in OTP's shape; offender is the child. */
typedef struct sup_report {
        const char *supervisor;
        sup_report_context context;
        const char *reason;
        const char *child;
        pid_t pid;              /* 0: none */
        const char *restart;    /* permanent, transient, temporary */
        const char *shutdown;   /* "5000", "infinity", "brutal_kill" */
        const char *type;       /* worker, supervisor */
        uint64_t realtime_usec; /* when it happened (CLOCK_REALTIME); 0: now */
} sup_report;

void sup_log_report(const sup_report *r);

#endif
