/* output.c: reading children's output line by line, within the child's
 * output limit: each line is kept in the child's ring (logring.h), told
 * to the listener (`gensupctl logs -f`), and copied to the child's
 * log_dir file, the journal, or gensupd's stderr prefixed with the
 * child's name.
 *
 * A child may write without pause (`yes`): reading its pipe is bounded
 * work per wakeup, and once a child is over its limit its pipe is not read
 * at all for PAUSE_USEC. What it wrote meanwhile waits in the pipe (its
 * writes block, as on any full pipe); what is over the limit when read is
 * dropped, counted, and noted at most every NOTE_USEC. So a chatty child
 * costs gensupd a few reads per pause, not a CPU. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "journal.h"
#include "logwriter.h"
#include "output.h"
#include "spawner.h"
#include "sink.h"

#define LINE_MAX_BYTES 4096    /* a longer line is cut into pieces of this size */
#define READS_PER_WAKEUP 4     /* then back to the loop */
#define PAUSE_USEC 100000u     /* not read for this long once over the limit */
#define NOTE_USEC 10000000u    /* at most one "dropped" note per this */

/* One start's limit, shared by its stdout and stderr readers. */
typedef struct budget {
        unsigned refs;                 /* readers using it */
        char name[SUP_NAME_MAX + 1];
        pid_t pid;                     /* 0 until spawned (sup_output_started) */
        bool journal;                  /* copies to the journal */
        sup_output_limit limit;
        double line_tokens, byte_tokens;
        uint64_t refilled_usec;        /* CLOCK_MONOTONIC */
        uint64_t noted_usec;           /* the last note; 0: none yet */
        uint64_t dropped_lines, dropped_bytes;   /* since the last note */
        sup_output_counts *counts;     /* all drops, for status; may be NULL */
} budget;

typedef struct reader reader;
struct reader {
        reader *prev, *next;
        sd_event_source *source;       /* EPOLLIN, off while paused */
        sd_event_source *timer;        /* end of a pause, or a note due */
        int fd;
        size_t len;
        char *line;      /* LINE_MAX_BYTES while a child writes; NULL when idle */
        budget *budget;
        char prefix[SUP_NAME_MAX + 16];   /* "NAME stdout: " */
        sup_log_stream stream;
        bool over;                     /* dropped a line in this wakeup */
};

static reader *readers;

static struct {
        sup_output_listener fn;
        void *userdata;
        char *log_dir;                 /* NULL: none */
        uint64_t log_size;
        unsigned log_keep;
        unsigned log_gen;              /* counts the settings: files of another are reopened */
} out;

/* ---- the limit ---- */

static bool limited(const budget *r) {
        return r->limit.lines > 0 || r->limit.bytes > 0;
}

static void refill(budget *r, uint64_t now) {
        double dt = (double) (now - r->refilled_usec) / 1e6;
        double burst = (double) r->limit.burst_s;

        r->refilled_usec = now;
        r->line_tokens += dt * (double) r->limit.lines;
        if (r->line_tokens > burst * (double) r->limit.lines)
                r->line_tokens = burst * (double) r->limit.lines;
        r->byte_tokens += dt * (double) r->limit.bytes;
        if (r->byte_tokens > burst * (double) r->limit.bytes)
                r->byte_tokens = burst * (double) r->limit.bytes;
}

/* Whether a line of n bytes may pass; takes its tokens if so. */
static bool admit(budget *r, size_t n) {
        if (!limited(r))
                return true;
        if ((r->limit.lines > 0 && r->line_tokens < 1.0) || (r->limit.bytes > 0 && r->byte_tokens < (double) n)) {
                r->dropped_lines++;
                r->dropped_bytes += n;
                if (r->counts) {
                        r->counts->lines++;
                        r->counts->bytes += n;
                }
                return false;
        }
        r->line_tokens -= 1.0;
        r->byte_tokens -= (double) n;
        return true;
}

static void note_drops(budget *r, uint64_t now) {
        if (r->dropped_lines == 0)
                return;
        char msg[256];
        int len = snprintf(msg, sizeof(msg),
                           "%s: output over its limit (%llu lines/s, %llu bytes/s): %llu lines (%llu bytes) dropped",
                           r->name, (unsigned long long) r->limit.lines, (unsigned long long) r->limit.bytes,
                           (unsigned long long) r->dropped_lines, (unsigned long long) r->dropped_bytes);
        (void) sup_sink_line(SUP_SINK_OWN, 0, "gensupd: ", msg, (size_t) len);
        r->dropped_lines = r->dropped_bytes = 0;
        r->noted_usec = now;
}

/* ---- lines ---- */

/* Into the ring, and to whoever follows it. */
static void keep(sup_output_counts *c, uint64_t now, pid_t pid, sup_log_stream stream, const char *s, size_t n) {
        const sup_logline *l = sup_logring_push(&c->ring, now, pid, stream, s, n);
        if (l && out.fn)
                out.fn(out.userdata, c->name, l);
}

/* The journal entry of one line: the child's name as SYSLOG_IDENTIFIER,
 * as journald names a service's stdout stream. */
static int copy_to_journal(const budget *b, const reader *r, const char *s, size_t n) {
        char msg[LINE_MAX_BYTES + 16], ident[SUP_NAME_MAX + 32], pid[48], stream[32];
        snprintf(msg, sizeof(msg), "MESSAGE=%.*s", (int) n, s);
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", b->name);
        snprintf(pid, sizeof(pid), "SYSLOG_PID=%d", (int) b->pid);
        snprintf(stream, sizeof(stream), "GENSUP_STREAM=%s", sup_log_stream_to_string(r->stream));
        const char *fields[] = { msg, "PRIORITY=6", ident, stream, pid };
        return sup_journal_send(fields, b->pid > 0 ? 5 : 4);
}

/* The copy: the log_dir file, the journal, or gensupd's stderr. */
static void copy(reader *r, uint64_t now, const char *s, size_t n) {
        budget *b = r->budget;
        sup_output_counts *c = b->counts;
        if (c && c->file && c->file_gen != out.log_gen)
                c->file = sup_logsink_free(c->file);   /* log_dir changed (reload) */
        if (c && out.log_dir) {
                if (!c->file) {
                        c->file = sup_logsink_new(out.log_dir, c->name, out.log_size, out.log_keep);
                        c->file_gen = out.log_gen;
                }
                char tag[48];
                snprintf(tag, sizeof(tag), "%s[%d]", sup_log_stream_to_string(r->stream), (int) b->pid);
                if (c->file)
                        (void) sup_logsink_line(c->file, now, tag, s, n);
                return;
        }
        int k = b->journal ? copy_to_journal(b, r, s, n) : -ENOTCONN;
        if (k < 0 && k != -EAGAIN)
                (void) sup_sink_line(SUP_SINK_CHILD, now, r->prefix, s, n);
}

static void emit(reader *r, char *s, size_t n) {
        if (!admit(r->budget, n)) {
                r->over = true;
                return;
        }
        /* A child's bytes must not drive the terminal that shows the log
         * (escape sequences, C1 controls, bidi overrides). */
        n = ipc_text_sanitize(s, n, true);
        uint64_t now = sup_real_usec();
        if (r->budget->counts)
                keep(r->budget->counts, now, r->budget->pid, r->stream, s, n);
        copy(r, now, s, n);
}

static void flush_partial(reader *r) {
        if (r->len > 0)
                emit(r, r->line, r->len);
        r->len = 0;
}

/* Emits the complete lines in the buffer and keeps the rest. */
static void split_lines(reader *r) {
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

static void budget_unref(budget *b) {
        if (--b->refs > 0)
                return;
        note_drops(b, sup_mono_usec());
        if (b->counts && b->counts->opening == b)
                b->counts->opening = NULL;
        sup_output_counts_unref(b->counts);
        free(b);
}

static void reader_free(reader *r) {
        flush_partial(r);
        budget_unref(r->budget);
        free(r->line);
        sd_event_source_disable_unref(r->source);
        sd_event_source_disable_unref(r->timer);
        close(r->fd);
        if (r->prev)
                r->prev->next = r->next;
        else
                readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        free(r);
}

/* ---- the loop ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm_timer(reader *r, uint64_t when) {
        if (!r->timer) {
                sd_event *e = sd_event_source_get_event(r->source);
                if (sd_event_add_time(e, &r->timer, CLOCK_MONOTONIC, when, PAUSE_USEC / 10u, on_timer, r) < 0) {
                        /* No timer: read on, unlimited in effect, rather than stall. */
                        (void) sd_event_source_set_enabled(r->source, SD_EVENT_ON);
                        return;
                }
        } else
                (void) sd_event_source_set_time(r->timer, when);
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

/* After a wakeup: pause if over the limit; keep a note of drops due. */
static void schedule(reader *r, uint64_t now) {
        budget *b = r->budget;
        uint64_t note_due = b->noted_usec ? b->noted_usec + NOTE_USEC : now;

        if (r->over) {
                r->over = false;
                (void) sd_event_source_set_enabled(r->source, SD_EVENT_OFF);
                arm_timer(r, now + PAUSE_USEC);
        } else if (b->dropped_lines > 0)
                arm_timer(r, note_due > now ? note_due : now);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        reader *r = userdata;
        budget *b = r->budget;
        uint64_t now = sup_mono_usec();

        if (b->dropped_lines > 0 && (b->noted_usec == 0 || now >= b->noted_usec + NOTE_USEC))
                note_drops(b, now);
        (void) sd_event_source_set_enabled(r->source, SD_EVENT_ON);
        if (b->dropped_lines > 0)
                arm_timer(r, b->noted_usec + NOTE_USEC);
        return 0;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        reader *r = userdata;
        uint64_t now = sup_mono_usec();

        /* Its process wrote before the loop took its spawn's result,
         * which tells the pid its lines carry (spawner.h). */
        if (r->budget->pid == 0)
                sup_spawner_settle();
        /* Thousands of quiet children cost no line buffers. */
        if (!r->line && !(r->line = malloc(LINE_MAX_BYTES)))
                return 0;
        if (limited(r->budget))
                refill(r->budget, now);
        /* A few reads per wakeup, then back to the loop: the source is
         * level-triggered, and a child that writes without pause must not
         * keep gensupd from everything else. */
        for (int turn = 0; turn < READS_PER_WAKEUP && !r->over; turn++) {
                ssize_t n = read(fd, r->line + r->len, LINE_MAX_BYTES - r->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        if (r->len == 0) {
                                free(r->line);
                                r->line = NULL;
                        }
                        break;
                }
                if (n <= 0) {
                        reader_free(r);
                        return 0;
                }
                r->len += (size_t) n;
                split_lines(r);
        }
        schedule(r, now);
        return 0;
}

sup_output_counts *sup_output_counts_new(void) {
        sup_output_counts *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->refs = 1;
        sup_logring_init(&c->ring, SUP_DEFAULT_LOG_RING_LINES, SUP_DEFAULT_LOG_RING_BYTES);
        return c;
}

sup_output_counts *sup_output_counts_unref(sup_output_counts *c) {
        if (c && --c->refs == 0) {
                sup_logring_done(&c->ring);
                sup_logsink_free(c->file);
                free(c);
        }
        return NULL;
}

void sup_output_started(sup_output_counts *c, pid_t pid) {
        if (c->opening)
                c->opening->pid = pid;
        c->opening = NULL;
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "started, pid %d", (int) pid);
        keep(c, sup_real_usec(), pid, SUP_LOG_GENSUPD, msg, (size_t) n);
}

void sup_output_exited(sup_output_counts *c, pid_t pid, const char *reason) {
        char msg[600];
        int n = snprintf(msg, sizeof(msg), "exited, reason %s", reason ? reason : "undefined");
        keep(c, sup_real_usec(), pid, SUP_LOG_GENSUPD, msg, (size_t) n < sizeof(msg) ? (size_t) n : sizeof(msg) - 1);
}

void sup_output_set_listener(sup_output_listener fn, void *userdata) {
        out.fn = fn;
        out.userdata = userdata;
}

int sup_output_set_log_dir(const char *dir, uint64_t size, unsigned keep) {
        char *copy = dir ? strdup(dir) : NULL;
        if (dir && !copy)
                return -ENOMEM;
        bool same = (dir ? out.log_dir && strcmp(dir, out.log_dir) == 0 : !out.log_dir) && size == out.log_size &&
                    keep == out.log_keep;
        free(out.log_dir);
        out.log_dir = copy;
        out.log_size = size;
        out.log_keep = keep;
        if (!same)
                out.log_gen++;
        return 0;
}

static budget *budget_new(const char *name, const sup_output_limit *limit, sup_output_counts *counts) {
        budget *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        if (counts) {
                counts->refs++;
                b->counts = counts;
        }
        snprintf(b->name, sizeof(b->name), "%s", name);
        if (limit)
                b->limit = *limit;
        if (b->limit.burst_s == 0)
                b->limit.burst_s = 1;
        /* A new child starts with a full bucket: its first burst passes. */
        b->refilled_usec = sup_mono_usec();
        b->line_tokens = (double) (b->limit.lines * b->limit.burst_s);
        b->byte_tokens = (double) (b->limit.bytes * b->limit.burst_s);
        return b;
}

/* A pipe whose read end a new reader watches; returns the write end. */
static int reader_open(sd_event *e, budget *b, sup_log_stream stream) {
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
        r->budget = b;
        r->stream = stream;
        snprintf(r->prefix, sizeof(r->prefix), "%s %s: ", b->name, sup_log_stream_to_string(stream));
        int ret = sd_event_add_io(e, &r->source, r->fd, EPOLLIN, on_readable, r);
        if (ret < 0) {
                close(p[0]);
                close(p[1]);
                free(r);
                return ret;
        }
        b->refs++;
        r->next = readers;
        if (readers)
                readers->prev = r;
        readers = r;
        return p[1];
}

int sup_output_open(sd_event *e, const sup_spec *spec, sup_output_counts *counts, bool journal, int ret_fds[2]) {
        budget *b = budget_new(spec->name, &spec->output_limit, counts);
        if (!b)
                return -ENOMEM;
        b->journal = journal;
        b->refs = 1;    /* ours, while opening */
        if (counts) {
                snprintf(counts->name, sizeof(counts->name), "%s", spec->name);
                sup_logring_resize(&counts->ring, spec->log_ring.lines, spec->log_ring.bytes);
                counts->opening = b;
        }
        int o = reader_open(e, b, SUP_LOG_STDOUT);
        int err = o < 0 ? o : reader_open(e, b, SUP_LOG_STDERR);
        if (err < 0) {
                if (o >= 0) {
                        close(o);
                        /* Its reader sees end of file and goes, with its ref. */
                }
                budget_unref(b);
                return err;
        }
        budget_unref(b);
        ret_fds[0] = o;
        ret_fds[1] = err;
        return 0;
}

void sup_output_close_all(void) {
        while (readers)
                reader_free(readers);
        free(out.log_dir);
        out.log_dir = NULL;
        sup_logwriter_stop();
}
