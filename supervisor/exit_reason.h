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

/* "SIGSEGV" for 11; "SIG42" for a number without a name. Static storage
 * for named signals; buf (16 bytes) otherwise. */
const char *sup_signal_name(int sig, char buf[static 16]);

#endif
