/* journal.h: talking to journald without ever waiting for it.
 *
 * libsystemd's sd_journal_send() writes to journald's datagram socket with
 * a blocking sendmsg(): when journald is slow and its queue is full, the
 * caller waits. sd_journal_stream_fd() connects with a blocking connect()
 * that waits while journald's listen backlog is full. Neither may happen
 * in gensupd's loop, so these speak journald's two protocols (native
 * datagrams, stdout streams: systemd's JOURNAL_NATIVE_PROTOCOL) with
 * non-blocking calls instead. */
#ifndef GENSUP_JOURNAL_H
#define GENSUP_JOURNAL_H

#include <stddef.h>

/* Sends one entry of n fields, each "NAME=value" (a value may hold
 * newlines). A datagram journald cannot take at once is dropped and
 * counted; the next entry that goes through is preceded by one saying
 * "N messages dropped". Returns 0, -EAGAIN when dropped, or -errno. */
int sup_journal_send(const char *const *fields, size_t n);

/* A stream to journald for a child's output, as sd_journal_stream_fd()
 * makes (identifier, priority, <N> prefixes honoured), connected without
 * waiting: -EAGAIN when journald does not accept it at once. The fd
 * blocks, as a child expects of its stdout. Returns the fd or -errno. */
int sup_journal_stream_fd(const char *identifier, int priority);

/* Closes the datagram socket (at exit). */
void sup_journal_close(void);

#endif
