/* trace.c: what a server writes on its stderr: trace lines (--trace,
 * sys trace) and rate-limited notices (system requests, refusals). The bottom of the server side: it calls nothing else in
 * libgensup. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server-internal.h"

void gs__stderr_write(const char *line, size_t len) {
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

static void vline(const gs_server *s, const char *fmt, va_list ap) {
        char line[512];

        int n = snprintf(line, sizeof(line), "%s: ", s->name);
        if (n < 0 || (size_t) n >= sizeof(line) - 2)
                return;
        int m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
        if (m < 0)
                return;
        size_t len = strlen(line);
        line[len++] = '\n';
        gs__stderr_write(line, len);
}

static void line_f(const gs_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_f(const gs_server *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vline(s, fmt, ap);
        va_end(ap);
}

void gs__tracef(gs_server *s, const char *fmt, ...) {
        va_list ap;

        if (!s->trace)
                return;
        va_start(ap, fmt);
        vline(s, fmt, ap);
        va_end(ap);
}

static uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* A peer can make a server refuse it as often as it likes: what it
 * makes the server write is bounded per interval. */
void gs__notice(gs_server *s, gs__ratelimit *rl, const char *fmt, ...) {
        uint64_t now = mono_usec();
        va_list ap;

        if (rl->n > 0 && now - rl->begin_usec >= GS__NOTICE_INTERVAL_USEC) {
                if (rl->suppressed > 0)
                        line_f(s, "%llu similar lines suppressed", (unsigned long long) rl->suppressed);
                rl->n = 0;
                rl->suppressed = 0;
        }
        if (rl->n == 0)
                rl->begin_usec = now;
        if (rl->n >= GS__NOTICE_BURST) {
                rl->suppressed++;
                return;
        }
        rl->n++;
        va_start(ap, fmt);
        vline(s, fmt, ap);
        va_end(ap);
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
