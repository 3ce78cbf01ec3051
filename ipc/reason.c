/* reason.c: the spelling of exit reasons, read back into kinds. */
#include <errno.h>
#include <string.h>

#include "reason.h"

bool ipc_reason_kind_is_clean(ipc_reason_kind k) {
        switch (k) {
        case IPC_REASON_NORMAL:
        case IPC_REASON_SHUTDOWN:
        case IPC_REASON_SHUTDOWN_TEXT:
                return true;
        case IPC_REASON_ERROR:
        case IPC_REASON_KILLED:
        case IPC_REASON_EXIT_STATUS:
        case IPC_REASON_SIGNAL:
        case IPC_REASON_INIT_FAILED:
        case IPC_REASON_START_TIMEOUT:
        case _IPC_REASON_KIND_MAX:
                break;
        }
        return false;
}

bool ipc_reason_kind_is_servers(ipc_reason_kind k) {
        return k == IPC_REASON_NORMAL || k == IPC_REASON_SHUTDOWN || k == IPC_REASON_SHUTDOWN_TEXT ||
               k == IPC_REASON_ERROR;
}

static const struct {
        const char *atom;       /* the whole reason */
        const char *tag;        /* or a tuple's opening, up to its argument */
        ipc_reason_kind kind;
} spellings[] = {
        { "normal", NULL, IPC_REASON_NORMAL },
        { "shutdown", NULL, IPC_REASON_SHUTDOWN },
        { "killed", NULL, IPC_REASON_KILLED },
        { "start_timeout", NULL, IPC_REASON_START_TIMEOUT },
        { NULL, "{shutdown,", IPC_REASON_SHUTDOWN_TEXT },
        { NULL, "{error,", IPC_REASON_ERROR },
        { NULL, "{exit_status,", IPC_REASON_EXIT_STATUS },
        { NULL, "{signal,", IPC_REASON_SIGNAL },
        { NULL, "{init_failed,", IPC_REASON_INIT_FAILED },
};

int ipc_reason_parse(const char *text, ipc_reason_kind *ret_kind, const char **ret_arg, size_t *ret_arg_len) {
        if (!text)
                return -EINVAL;
        size_t n = strlen(text);
        for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
                const char *arg = NULL;
                size_t len = 0;
                if (spellings[i].atom) {
                        if (strcmp(text, spellings[i].atom) != 0)
                                continue;
                } else {
                        size_t t = strlen(spellings[i].tag);
                        /* A tuple is its tag, any text, and the closing brace. */
                        if (n <= t || strncmp(text, spellings[i].tag, t) != 0 || text[n - 1] != '}')
                                continue;
                        arg = text + t;
                        len = n - t - 1;
                }
                if (ret_kind)
                        *ret_kind = spellings[i].kind;
                if (ret_arg)
                        *ret_arg = arg;
                if (ret_arg_len)
                        *ret_arg_len = len;
                return 0;
        }
        return -EINVAL;
}
