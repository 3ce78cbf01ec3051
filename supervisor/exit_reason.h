/* exit_reason.h: how a child's end is named, from what gensupd saw: a
 * parsed reason (a kind, its code and text), spelled only at the edges. */
#ifndef GENSUP_EXIT_REASON_H
#define GENSUP_EXIT_REASON_H

#include <stdbool.h>

#include "gensup.h"
#include "reason.h"

/* A reason, parsed: what the core decides on. Text only at the edges
 * (logs, JSON, frames): sup_reason_to_string() spells it. */
typedef struct sup_reason {
        ipc_reason_kind kind;
        int code;               /* EXIT_STATUS: the status; SIGNAL: the signal number */
        bool core_dumped;       /* SIGNAL */
        bool oom_kill;          /* SIGNAL: SIGKILL from the OOM killer ({signal,SIGKILL,oom_kill}) */
        char *text;             /* SHUTDOWN_TEXT, ERROR, INIT_FAILED: the Text, owned
                                 * (NULL, out of memory: spelled "undefined") */
} sup_reason;

/* A reason of kind with a copy of text (kinds that carry one). Returns 0,
 * or -ENOMEM with *ret of kind and text NULL. */
int sup_reason_with_text(ipc_reason_kind kind, const char *text, sup_reason *ret);
/* A deep copy into *ret (0), or -ENOMEM with nothing set. */
int sup_reason_copy(const sup_reason *r, sup_reason *ret);
/* Frees its text; the reason is normal again. NULL ok. */
void sup_reason_done(sup_reason *r);

/* Reads a reason spelled as DESIGN.md says (the inverse of
 * sup_reason_to_string). -EINVAL when text is not one (or N is not a
 * number, the signal has no name), -ENOMEM. */
int sup_reason_parse(const char *text, sup_reason *ret);
/* Spells the reason: "normal", "{exit_status,3}", ... Newly allocated;
 * NULL on ENOMEM. */
char *sup_reason_to_string(const sup_reason *r);

/* What gensupd knows when a child is gone. */
typedef struct sup_exit_facts {
        const char *reported;   /* the child's last EXIT_REPORT reason, or NULL */
        int code;            /* CLD_EXITED, CLD_KILLED or CLD_DUMPED */
        int status;          /* exit status or signal number */
        bool sent_term;         /* gensupd asked it to stop (EXIT frame or SIGTERM) */
        bool sent_kill;         /* gensupd killed it (deadline or brutal_kill) */
        bool oom_killed;        /* its cgroup's memory.events oom_kill rose during its life */
} sup_exit_facts;

/* Names the exit, into *ret:
 * - killed by gensupd's SIGKILL: killed;
 * - killed by the OOM killer (SIGKILL, oom_killed): {signal,SIGKILL,oom_kill};
 * - a reason the child reported (libgensup servers): that reason, taken
 *   as gs_reason_normalize() does (any other text T is {error,T}); proc.c
 *   hands an INIT_FAILED frame's reason on as {init_failed,R};
 * - status 0: normal, or shutdown after gensupd asked it to stop;
 * - killed by gensupd's own SIGTERM: shutdown;
 * - status N: {exit_status,N}; a signal: {signal,S} (core_dumped).
 * Returns 0, or -ENOMEM with the kind set and its text NULL. */
int sup_exit_reason(const sup_exit_facts *f, sup_reason *ret);

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
