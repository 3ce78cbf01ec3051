/* sink.c: gensupd's stderr, written without ever blocking the loop.
 *
 * How a write is kept from blocking depends on what fd 2 is. Setting
 * O_NONBLOCK on it is not an option: the flag lives in the open file
 * description, which gensupd shares with whoever started it (a shell, a
 * terminal's other programs), and they would start to see EAGAIN too. So:
 *   - a pipe, FIFO or terminal is opened again through /proc/self/fd/2:
 *     a description of our own on the same pipe or tty, O_NONBLOCK there
 *     only. (A tty paused with Ctrl-S then answers EAGAIN, which poll
 *     alone would not tell: it reports a stopped tty writable.)
 *   - a socket (journald's stdout stream, a container runtime) is written
 *     with send(MSG_DONTWAIT), a per-call flag.
 *   - where the reopen fails (no /proc, another owner's FIFO), poll for
 *     POLLOUT before each write and write at most PIPE_BUF bytes, which a
 *     pipe with room takes whole.
 *   - a regular file or /dev/null is written as it is: such writes do not
 *     wait for a reader.
 * Whatever fd 2 cannot take waits in one bounded buffer; a line that does
 * not fit is dropped and counted. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "sink.h"

#define SINK_SIZE (256u * 1024u)          /* the whole buffer */
#define CHILD_SHARE (SINK_SIZE / 4u * 3u) /* what children's copies may fill */
#define STAMP_LEN 25                      /* "2026-01-31T12:34:56.789Z " */

typedef enum way {
        WAY_DIRECT,    /* a file: write() */
        WAY_PRIVATE,   /* our own O_NONBLOCK description: write() */
        WAY_SOCKET,    /* send(MSG_DONTWAIT) */
        WAY_POLL,      /* poll(POLLOUT, 0), then write() of <= PIPE_BUF */
        _WAY_MAX,
} way;

static struct {
        int fd;                  /* where lines go */
        bool own_fd;             /* fd is our reopened description */
        way way;
        char *buf;               /* SINK_SIZE bytes; NULL: unbuffered */
        size_t head, tail;       /* pending bytes are buf[head..tail) */
        uint64_t dropped;        /* lines dropped since the last note */
        bool broken;             /* fd failed for good: lines are discarded */
        sd_event_source *source; /* EPOLLOUT while something is pending */
} sink = { .fd = 2 };

/* ---- choosing the way ---- */

static way reopen_private(int fd, const struct stat *st) {
        char path[32];
        struct stat again;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nfd < 0)
                return WAY_POLL;
        if (fstat(nfd, &again) < 0 || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
                close(nfd);
                return WAY_POLL;
        }
        sink.fd = nfd;
        sink.own_fd = true;
        return WAY_PRIVATE;
}

static way choose_way(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return WAY_DIRECT;
        if (S_ISSOCK(st.st_mode))
                return WAY_SOCKET;
        if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd)))
                return reopen_private(fd, &st);
        return WAY_DIRECT;
}

int sup_sink_open(int fd) {
        if (sink.buf)
                return -EBUSY;
        if (!(sink.buf = malloc(SINK_SIZE)))
                return -ENOMEM;
        sink.fd = fd;
        sink.way = choose_way(fd);
        return 0;
}

/* ---- writing ---- */

static ssize_t try_write(const char *p, size_t n) {
        ssize_t r;

        switch (sink.way) {
        case WAY_SOCKET:
                r = send(sink.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                break;
        case WAY_POLL: {
                struct pollfd pfd = { .fd = sink.fd, .events = POLLOUT };
                if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLOUT))
                        return (pfd.revents & (POLLERR | POLLHUP)) ? -EPIPE : -EAGAIN;
                r = write(sink.fd, p, n < PIPE_BUF ? n : PIPE_BUF);
                break;
        }
        case WAY_DIRECT:
        case WAY_PRIVATE:
        case _WAY_MAX:
        default:
                r = write(sink.fd, p, n);
                break;
        }
        return r < 0 ? -errno : r;
}

static void set_watch(bool on) {
        if (sink.source)
                (void) sd_event_source_set_enabled(sink.source, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void note_drops(void);

/* Writes as much as the fd takes now. */
static void flush(void) {
        while (sink.head < sink.tail) {
                ssize_t r = try_write(sink.buf + sink.head, sink.tail - sink.head);
                if (r == -EINTR)
                        continue;
                if (r == -EAGAIN || r == 0)
                        break;
                if (r < 0) {
                        /* Gone (EPIPE) or failing: nothing will be read. */
                        sink.broken = true;
                        sink.head = sink.tail;
                        break;
                }
                sink.head += (size_t) r;
        }
        if (sink.head == sink.tail)
                sink.head = sink.tail = 0;
        if (sink.dropped > 0 && sink.tail - sink.head < CHILD_SHARE / 2)
                note_drops();
        set_watch(sink.head < sink.tail);
}

static int on_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        flush();
        return 0;
}

int sup_sink_attach(sd_event *e) {
        if (!sink.buf || sink.way == WAY_DIRECT)
                return 0;
        int r = sd_event_add_io(e, &sink.source, sink.fd, EPOLLOUT, on_writable, NULL);
        if (r < 0)
                return r;
        set_watch(sink.head < sink.tail);
        return 0;
}

/* ---- formatting ---- */

static void format_stamp(uint64_t usec, char out[static STAMP_LEN + 1]) {
        size_t n = sup_utc_stamp(usec, 3, out, STAMP_LEN + 1);
        snprintf(out + n, STAMP_LEN + 1 - n, " ");
}

static size_t escaped_len(const char *text, size_t n) {
        size_t len = n;
        for (const char *p = text; (p = memchr(p, '\n', n - (size_t) (p - text))); p++)
                len++;
        return len;
}

static void put_escaped(char *out, const char *text, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (text[i] == '\n') {
                        *out++ = '\\';
                        *out++ = 'n';
                } else
                        *out++ = text[i];
        }
}

/* Before sup_sink_open and after sup_sink_close: one plain write. */
static void write_unbuffered(const char *stamp, const char *prefix, const char *text, size_t n) {
        dprintf(sink.fd, "%s%s%.*s\n", stamp, prefix, (int) n, text);
}

bool sup_sink_line(sup_sink_class class, uint64_t realtime_usec, const char *prefix, const char *text, size_t n) {
        char stamp[STAMP_LEN + 1];

        format_stamp(realtime_usec ? realtime_usec : sup_real_usec(), stamp);
        if (!sink.buf) {
                write_unbuffered(stamp, prefix, text, n);
                return true;
        }
        if (sink.broken)
                return false;

        size_t plen = strlen(prefix), tlen = escaped_len(text, n);
        size_t need = STAMP_LEN + plen + tlen + 1;
        size_t limit = class == SUP_SINK_CHILD ? CHILD_SHARE : SINK_SIZE;
        if (sink.tail - sink.head + need > limit) {
                sink.dropped++;
                return false;
        }
        if (sink.tail + need > SINK_SIZE) {
                memmove(sink.buf, sink.buf + sink.head, sink.tail - sink.head);
                sink.tail -= sink.head;
                sink.head = 0;
        }
        char *p = sink.buf + sink.tail;
        memcpy(p, stamp, STAMP_LEN);
        memcpy(p + STAMP_LEN, prefix, plen);
        put_escaped(p + STAMP_LEN + plen, text, n);
        p[need - 1] = '\n';
        sink.tail += need;
        /* With the loop watching, the lines of one iteration go out in one
         * write when it next polls; without, at once. */
        if (sink.source)
                set_watch(true);
        else
                flush();
        return true;
}

/* Says how many lines went, once the fd has taken most of what waited. */
static void note_drops(void) {
        char msg[64];
        int len = snprintf(msg, sizeof(msg), "%llu lines dropped (stderr could not take them)",
                           (unsigned long long) sink.dropped);
        sink.dropped = 0;
        /* Queued behind what is pending; flush() comes back here only if
         * that line too was dropped, which needs the buffer full again. */
        if (!sup_sink_line(SUP_SINK_OWN, 0, "gensupd: ", msg, (size_t) len))
                sink.dropped++;
}

/* ---- closing ---- */

void sup_sink_close(int timeout_ms) {
        uint64_t deadline = sup_mono_usec() + (uint64_t) timeout_ms * 1000u;

        if (!sink.buf)
                return;
        sink.source = sd_event_source_disable_unref(sink.source);
        for (;;) {
                flush();
                uint64_t now = sup_mono_usec();
                if (sink.head == sink.tail || sink.broken || now >= deadline)
                        break;
                struct pollfd pfd = { .fd = sink.fd, .events = POLLOUT };
                (void) poll(&pfd, 1, (int) ((deadline - now + 999u) / 1000u));
        }
        free(sink.buf);
        sink.buf = NULL;
        sink.head = sink.tail = 0;
        if (sink.own_fd)
                close(sink.fd);
        sink.fd = 2;
        sink.own_fd = false;
}
