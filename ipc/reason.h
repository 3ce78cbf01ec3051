/* reason.h: the kinds of exit reason, as DESIGN.md spells them, and which
 * of them are clean: the one copy of that rule.
 *
 * Shared by libgensup (gs_reason_normalize, gs_reason_is_clean in
 * worker/reason.c) and gensupd (exit_reason.c parses a child's reason
 * into a kind, decide.c decides on the kind). Pure: no I/O, no
 * allocation, nothing but this header's own names. */
#ifndef GENSUP_IPC_REASON_H
#define GENSUP_IPC_REASON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ipc_reason_kind {
        IPC_REASON_NORMAL,          /* normal */
        IPC_REASON_SHUTDOWN,        /* shutdown */
        IPC_REASON_SHUTDOWN_TEXT,   /* {shutdown,Text} */
        IPC_REASON_ERROR,           /* {error,Text} */
        IPC_REASON_KILLED,          /* killed: gensupd's SIGKILL */
        IPC_REASON_EXIT_STATUS,     /* {exit_status,N} */
        IPC_REASON_SIGNAL,          /* {signal,SIGSEGV} or {signal,SIGSEGV,core_dumped} */
        IPC_REASON_INIT_FAILED,     /* {init_failed,Text} */
        IPC_REASON_START_TIMEOUT,   /* start_timeout */
        _IPC_REASON_KIND_MAX,
} ipc_reason_kind;

/* normal, shutdown and {shutdown,Text}: the reasons OTP takes as a
 * deliberate end (a transient child is not restarted). */
bool ipc_reason_kind_is_clean(ipc_reason_kind k);

/* The four a server may give itself (gs_reason(3)); gensupd derives the
 * others from what it saw. */
bool ipc_reason_kind_is_servers(ipc_reason_kind k);

/* Reads text as a reason. On success *ret_kind is its kind and
 * *ret_arg, *ret_arg_len the span inside the tuple after the tag
 * (Text; N; "SIGSEGV" or "SIGSEGV,core_dumped"), or NULL and 0 for the
 * atoms. -EINVAL when text is not spelled as any reason (nor NULL). Any
 * output may be NULL. */
int ipc_reason_parse(const char *text, ipc_reason_kind *ret_kind, const char **ret_arg, size_t *ret_arg_len);

#endif
