/* logwriter.h: children's log_dir files written off gensupd's loop
 * (logwriter.c). A file under log_dir may be full, slow or gone: a hung
 * filesystem (NFS, a stuck FUSE) or a FIFO nobody reads blocks write(2)
 * for as long as it likes. So gensupd's loop only queues lines; one
 * writer thread does every open, rotation and write (logdir.c).
 *
 * The queue is bounded (SUP_LOGWRITER_MAX_BYTES). When it is full a line
 * is dropped and counted against its file, as the ring drops; the count
 * is written into the file as "N lines lost" where the lines would have
 * been, once the writer catches up. So a stuck file costs lines, never
 * supervision, and what is lost is said. The writer is one thread: while
 * one file blocks it, every file's lines wait in the queue (and past its
 * bound, are dropped and counted). */
#ifndef GENSUP_LOGWRITER_H
#define GENSUP_LOGWRITER_H

#include <stddef.h>
#include <stdint.h>

/* Lines queued at most, in bytes (text plus bookkeeping). */
#define SUP_LOGWRITER_MAX_BYTES (1024u * 1024u)
/* At exit, how long the writer is given to write what is queued. */
#define SUP_LOGWRITER_EXIT_MS 2000

typedef struct sup_logsink sup_logsink;

/* The log file of child name under dir (logdir.h), written by the
 * writer thread, which is started with the first sink. NULL on ENOMEM
 * or when the thread cannot be started. */
sup_logsink *sup_logsink_new(const char *dir, const char *name, uint64_t max_size, unsigned keep);
/* Queues "TIME TAG: text" for the sink's file. Never blocks. Returns 0,
 * or -ENOBUFS when the queue is full (the line is counted as lost). */
int sup_logsink_line(sup_logsink *s, uint64_t realtime_usec, const char *tag, const char *text, size_t n);
/* The sink is the caller's no more: the writer writes what is queued
 * for it, then closes and frees it. Returns NULL; NULL ok. */
sup_logsink *sup_logsink_free(sup_logsink *s);
/* Lines dropped so far because the queue was full (all sinks). */
uint64_t sup_logwriter_dropped(void);
/* Stops the writer: what is queued is written within
 * SUP_LOGWRITER_EXIT_MS, then the thread is joined; a writer still stuck
 * then is left behind (gensupd is exiting). */
void sup_logwriter_stop(void);

#endif
