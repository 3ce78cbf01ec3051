/* journal.h: talking to journald without ever waiting for it.
 *
 * libsystemd's sd_journal_send() writes to journald's datagram socket with
 * a blocking sendmsg(): when journald is slow and its queue is full, the
 * caller waits. That may not happen in gensupd's loop, so this speaks
 * journald's native protocol (systemd's JOURNAL_NATIVE_PROTOCOL) with
 * non-blocking calls instead. Children's lines go the same way, one entry
 * each (output.c), not as a stdout stream: gensupd reads them itself, to
 * keep them for gensupctl logs. */
#ifndef GENSUP_JOURNAL_H
#define GENSUP_JOURNAL_H

#include <stddef.h>

/* Sends one entry of n fields, each "NAME=value" (a value may hold
 * newlines). A datagram journald cannot take at once is dropped and
 * counted; the next entry that goes through is preceded by one saying
 * "N messages dropped". Returns 0, -EAGAIN when dropped, or -errno. */
int sup_journal_send(const char *const *fields, size_t n);

/* Closes the datagram socket (at exit). */
void sup_journal_close(void);

#endif
