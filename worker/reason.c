/* reason.c: exit reasons, spelled the same everywhere. */
#include <errno.h>
#include <string.h>

#include "gensup.h"

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_tuple(const char *s, const char *tag) {
        size_t n = strlen(s);
        return has_prefix(s, tag) && n > strlen(tag) && s[n - 1] == '}';
}

int gs_reason_normalize(const char *reason, gs_buf *ret) {
        if (!reason || !*reason)
                return gs_buf_set(ret, "normal", strlen("normal"));
        if (strcmp(reason, "normal") == 0 || strcmp(reason, "shutdown") == 0 ||
            is_tuple(reason, "{shutdown,") || is_tuple(reason, "{error,"))
                return gs_buf_set(ret, reason, strlen(reason));
        gs_buf_clear(ret);
        return gs_buf_printf(ret, "{error,%s}", reason);
}

bool gs_reason_is_clean(const char *reason) {
        if (!reason)
                return false;
        return strcmp(reason, "normal") == 0 || strcmp(reason, "shutdown") == 0 ||
               is_tuple(reason, "{shutdown,");
}
