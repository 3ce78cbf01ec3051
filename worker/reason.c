/* reason.c: exit reasons, spelled the same everywhere. Their kinds, and
 * which are clean, are ipc/reason.c's (shared with gensupd). */
#include <errno.h>
#include <string.h>

#include "gensup.h"
#include "reason.h"

int gs_reason_normalize(const char *reason, gs_buf *ret) {
        ipc_reason_kind kind;

        if (!reason || !*reason)
                return gs_buf_set(ret, "normal", strlen("normal"));
        if (ipc_reason_parse(reason, &kind, NULL, NULL) == 0 && ipc_reason_kind_is_servers(kind))
                return gs_buf_set(ret, reason, strlen(reason));
        gs_buf_clear(ret);
        return gs_buf_printf(ret, "{error,%s}", reason);
}

bool gs_reason_is_clean(const char *reason) {
        ipc_reason_kind kind;

        return ipc_reason_parse(reason, &kind, NULL, NULL) == 0 && ipc_reason_kind_is_clean(kind);
}
