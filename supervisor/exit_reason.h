/* exit_reason.h: how a child's end is named, from what gensupd saw. */
#ifndef GENSUP_EXIT_REASON_H
#define GENSUP_EXIT_REASON_H

#include <stdbool.h>

#include "gensup.h"

/* What gensupd knows when a child is gone. */
typedef struct sup_exit_facts {
        const char *reported;   /* the child's last EXIT_REPORT reason, or NULL */
        int code;            /* CLD_EXITED, CLD_KILLED or CLD_DUMPED */
        int status;          /* exit status or signal number */
        bool sent_term;         /* gensupd asked it to stop (EXIT frame or SIGTERM) */
        bool sent_kill;         /* gensupd killed it (deadline or brutal_kill) */
} sup_exit_facts;

/* Names the exit as DESIGN.md spells reasons, into *out:
 * - killed by gensupd's SIGKILL: "killed";
 * - a reason the child reported (libgensup servers): that reason;
 * - status 0: "normal", or "shutdown" after gensupd asked it to stop;
 * - killed by gensupd's own SIGTERM: "shutdown";
 * - status N: "{exit_status,N}"; a signal: "{signal,SIGSEGV}" or
 *   "{signal,SIGSEGV,core_dumped}".
 * Returns 0 or -ENOMEM. */
int sup_exit_reason(const sup_exit_facts *f, gs_buf *out);

#define SUP_REASON_MAX 1024   /* bytes of a reason a child reports that are kept */

/* A copy of text a child sent, fit to print and to put in JSON: at most
 * max bytes, valid UTF-8, no control characters (C0 but newlines and tabs
 * when multiline, C1) and no bidi overrides; see ipc_text_clean, which
 * this is. NULL on ENOMEM. */
char *sup_text_clean(const char *text, size_t max, bool multiline);
/* An exit reason: one line of at most SUP_REASON_MAX bytes. */
char *sup_reason_clean(const char *reason);

/* "SIGSEGV" for 11; "SIG42" for a number without a name. Static storage
 * for named signals; buf (16 bytes) otherwise. */
const char *sup_signal_name(int sig, char buf[static 16]);

#endif
