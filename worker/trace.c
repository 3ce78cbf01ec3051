/* trace.c: what a server writes on its stderr: trace lines (--trace,
 * sys trace). The bottom of the server side: it calls nothing else in
 * libgensup. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server-internal.h"

static void trace_write(const char *line, size_t len) {
        /* One write per line, so lines of several processes do not mix. */
        while (len > 0) {
                ssize_t n = write(STDERR_FILENO, line, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                line += n;
                len -= (size_t) n;
        }
}

void gs__tracef(gs_server *s, const char *fmt, ...) {
        char line[512];
        va_list ap;

        if (!s->trace)
                return;
        int n = snprintf(line, sizeof(line), "%s: ", s->name);
        if (n < 0 || (size_t) n >= sizeof(line) - 2)
                return;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
        va_end(ap);
        if (m < 0)
                return;
        size_t len = strlen(line);
        line[len++] = '\n';
        trace_write(line, len);
}

/* A message in or out: what, which connection and ref, and the start of
 * the payload with unprintable bytes escaped. */
void gs__trace(gs_server *s, const char *dir, const char *what, uint64_t conn, uint64_t ref, const void *data,
               size_t len) {
        char preview[4 * 48 + sizeof("...")];   /* every byte may become \xNN */
        const uint8_t *p = data;
        size_t o = 0;

        if (!s->trace)
                return;
        for (size_t i = 0; i < len && i < 48; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                        preview[o++] = (char) p[i];
                else {
                        static const char hex[] = "0123456789abcdef";
                        preview[o++] = '\\';
                        preview[o++] = 'x';
                        preview[o++] = hex[p[i] >> 4];
                        preview[o++] = hex[p[i] & 15];
                }
        }
        if (len > 48) {
                memcpy(preview + o, "...", 3);
                o += 3;
        }
        preview[o] = '\0';
        gs__tracef(s, "%s %s conn=%llu ref=%llu len=%zu \"%s\"", dir, what, (unsigned long long) conn,
                   (unsigned long long) ref, len, preview);
}
