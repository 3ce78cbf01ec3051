/* output.c: copying children's output to gensupd's stderr, line by line,
 * each line prefixed with the child's name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "ipc.h"
#include "output.h"

#define LINE_MAX_BYTES 4096   /* a longer line is cut into pieces of this size */

typedef struct reader reader;
struct reader {
        reader *prev, *next;
        sd_event_source *source;
        int fd;
        size_t len;
        char name[64];
        char *line;      /* LINE_MAX_BYTES while a child writes; NULL when idle */
};

static reader *readers;

static void emit(reader *r, char *s, size_t n) {
        /* A child's bytes must not drive the terminal that shows the log
         * (escape sequences, C1 controls, bidi overrides). */
        n = ipc_text_sanitize(s, n, true);
        fprintf(stderr, "%s: %.*s\n", r->name, (int) n, s);
}

static void flush_partial(reader *r) {
        if (r->len > 0)
                emit(r, r->line, r->len);
        r->len = 0;
}

static void reader_free(reader *r) {
        flush_partial(r);
        free(r->line);
        sd_event_source_disable_unref(r->source);
        close(r->fd);
        if (r->prev)
                r->prev->next = r->next;
        else
                readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        free(r);
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        reader *r = userdata;

        /* Thousands of quiet children cost no line buffers. */
        if (!r->line && !(r->line = malloc(LINE_MAX_BYTES)))
                return 0;
        /* A few reads per wakeup, then back to the loop: the source is
         * level-triggered, and a child that writes without pause must not
         * keep gensupd from everything else. */
        for (int turn = 0; turn < 8; turn++) {
                ssize_t n = read(fd, r->line + r->len, LINE_MAX_BYTES - r->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        if (r->len == 0) {
                                free(r->line);
                                r->line = NULL;
                        }
                        return 0;
                }
                if (n <= 0) {
                        reader_free(r);
                        return 0;
                }
                r->len += (size_t) n;
                char *start = r->line, *nl;
                while ((nl = memchr(start, '\n', r->len - (size_t) (start - r->line)))) {
                        emit(r, start, (size_t) (nl - start));
                        start = nl + 1;
                }
                size_t rest = r->len - (size_t) (start - r->line);
                memmove(r->line, start, rest);
                r->len = rest;
                if (r->len == LINE_MAX_BYTES)
                        flush_partial(r);
        }
        return 0;
}

int sup_output_open(sd_event *e, const char *name, bool journal) {
        if (journal) {
                int fd = sd_journal_stream_fd(name, LOG_INFO, 1);
                if (fd >= 0)
                        return fd;
        }

        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        /* The child's end blocks, as a program expects of its stdout. */
        (void) fcntl(p[1], F_SETFL, 0);

        reader *r = calloc(1, sizeof(*r));
        if (!r) {
                close(p[0]);
                close(p[1]);
                return -ENOMEM;
        }
        r->fd = p[0];
        snprintf(r->name, sizeof(r->name), "%s", name);
        int ret = sd_event_add_io(e, &r->source, r->fd, EPOLLIN, on_readable, r);
        if (ret < 0) {
                close(p[0]);
                close(p[1]);
                free(r);
                return ret;
        }
        r->next = readers;
        if (readers)
                readers->prev = r;
        readers = r;
        return p[1];
}

void sup_output_close_all(void) {
        while (readers)
                reader_free(readers);
}
