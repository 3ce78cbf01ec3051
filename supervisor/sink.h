/* sink.h: gensupd's stderr as a sink that never blocks the loop.
 *
 * Lines are queued in one bounded buffer and written as the fd takes
 * them; a line that does not fit is dropped and counted, and once the
 * buffer has drained a line "gensupd: N lines dropped" says so. Children's
 * lines may fill only part of the buffer, so gensupd's own reports still
 * find room while a chatty child's copies are being dropped. */
#ifndef GENSUP_SINK_H
#define GENSUP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

/* Sets the sink up on fd (gensupd's stderr, 2), choosing a way to write
 * that cannot block (see sink.c). Lines queued before the loop exists are
 * written at once where the fd takes them. 0 or -errno (then lines go
 * straight to fd with no buffer: only for an fd that cannot be used). */
int sup_sink_open(int fd);
/* Writes what is queued from the loop, whenever fd can take more. */
int sup_sink_attach(sd_event *e);

typedef enum sup_sink_class {
        SUP_SINK_OWN,      /* gensupd's messages and reports */
        SUP_SINK_CHILD,    /* a copy of a child's line: the first to go */
        _SUP_SINK_CLASS_MAX,
} sup_sink_class;

/* Queues one line: the wall-clock time realtime_usec (0: now) as
 * "2026-01-31T12:34:56.789Z ", prefix, text (n bytes; a newline in it is
 * written as the two characters \n), then a newline. Returns false when
 * the line was dropped (and counted). */
bool sup_sink_line(sup_sink_class class, uint64_t realtime_usec, const char *prefix, const char *text, size_t n);

/* At exit: writes what is queued, waiting for the fd at most timeout_ms in
 * all, then frees the buffer. Lines after this go straight to fd. */
void sup_sink_close(int timeout_ms);

#endif
