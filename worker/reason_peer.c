/* reason_peer.c: the exit reason a client takes from a server's
 * EXIT_REPORT. A server gives one of its own four reasons, or, from its
 * crash handler, {signal,NAME} (crash_report.c): both are kept as they
 * are; any other text is taken as {error,Text}, as gs_reason_normalize
 * does. */
#include <string.h>

#include "client-internal.h"
#include "reason.h"

int gs__reason_from_peer(const char *reason, gs_buf *ret) {
        ipc_reason_kind kind;

        if (reason && ipc_reason_parse(reason, &kind, NULL, NULL) == 0 && kind == IPC_REASON_SIGNAL)
                return gs_buf_set(ret, reason, strlen(reason));
        return gs_reason_normalize(reason, ret);
}
