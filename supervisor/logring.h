/* logring.h: the last lines a child wrote, kept by gensupd for
 * `gensupctl logs` (logring.c).
 *
 * A bounded ring per child: at most max_lines lines and max_bytes bytes
 * of text; the oldest go first. Each line carries its wall-clock time,
 * the stream and the pid that wrote it, and a sequence number that grows
 * by one per line over the child's whole life (a reader can tell what it
 * missed). gensupd's own marks (a start, an exit) are lines of the stream
 * "gensupd". Nothing is allocated until the first line: an idle child
 * costs sizeof(sup_logring). Pure data, no I/O. */
#ifndef GENSUP_LOGRING_H
#define GENSUP_LOGRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

typedef enum sup_log_stream {
        SUP_LOG_STDOUT,
        SUP_LOG_STDERR,
        SUP_LOG_GENSUPD,    /* gensupd's mark: started, exited */
        _SUP_LOG_STREAM_MAX,
} sup_log_stream;

typedef struct sup_logline {
        uint64_t seq;
        uint64_t realtime_usec;   /* CLOCK_REALTIME, when gensupd read it */
        pid_t pid;                /* 0: none (a mark of a start that failed) */
        uint32_t len;
        uint8_t stream;           /* sup_log_stream */
        char text[];              /* len bytes and a NUL */
} sup_logline;

typedef struct sup_logring {
        sup_logline **lines;      /* a circle of cap slots; NULL until the first line */
        size_t cap, head, n;      /* head: the oldest */
        size_t bytes;             /* text held */
        size_t max_lines, max_bytes;
        uint64_t next_seq;
} sup_logring;

#define SUP_LOGRING_MIN_CAP 16

/* "stdout", "stderr", "gensupd". */
const char *sup_log_stream_to_string(sup_log_stream s);

/* An empty ring of these bounds (0 lines: keeps nothing). */
void sup_logring_init(sup_logring *r, size_t max_lines, size_t max_bytes);
/* New bounds; the oldest lines go at once if over them. */
void sup_logring_resize(sup_logring *r, size_t max_lines, size_t max_bytes);
/* Frees every line and the slots. */
void sup_logring_done(sup_logring *r);
/* Appends a line (n bytes of text, cut to max_bytes), pushing out the
 * oldest as needed. Returns the line kept (valid until the next push),
 * or NULL when the ring keeps nothing or memory ran out (the line is
 * lost; its seq still counts). */
const sup_logline *sup_logring_push(sup_logring *r, uint64_t realtime_usec, pid_t pid, sup_log_stream stream,
                                    const char *text, size_t n);
/* The i-th line held, 0 the oldest; NULL past the end. */
const sup_logline *sup_logring_get(const sup_logring *r, size_t i);
/* Bytes allocated for the ring beyond the struct itself (slots and
 * lines, without malloc's own overhead). */
size_t sup_logring_footprint(const sup_logring *r);

/* One line as gensupctl logs shows it: {"name", "seq", "time" (RFC 3339,
 * UTC), "time_us", "stream", "pid" (null: none), "line"}. */
json_t *sup_logline_json(const char *name, const sup_logline *l);

#endif
