/* logdir.h: a child's log file under log_dir (logdir.c), rotated by size
 * as s6-log and svlogd do: <dir>/<name>.log is the current file; when a
 * line would take it past max_size it becomes <name>.log.1, the older
 * ones move up one (.1 to .2, ...) and the one past keep goes.
 *
 * Writing may block (a hung filesystem, a FIFO nobody reads): only the
 * log writer's thread writes (logwriter.h), never gensupd's loop. A line
 * the file cannot take (disk full, an error) is dropped and counted, and
 * the count is written as a line once the file takes lines again. A file
 * or folder that is gone (removed, or the disk unmounted) is made again
 * at most once a second. */
#ifndef GENSUP_LOGDIR_H
#define GENSUP_LOGDIR_H

#include <stddef.h>
#include <stdint.h>

typedef struct sup_logfile sup_logfile;

#define SUP_DEFAULT_LOG_SIZE (1024u * 1024u)
#define SUP_DEFAULT_LOG_KEEP 10

/* The file for child name in dir (both copied): nothing is opened until
 * the first line. NULL on ENOMEM. */
sup_logfile *sup_logfile_new(const char *dir, const char *name, uint64_t max_size, unsigned keep);
/* Closes and frees. Returns NULL; NULL ok. */
sup_logfile *sup_logfile_free(sup_logfile *f);
/* Appends "TIME TAG: text\n" (TIME as RFC 3339 UTC with microseconds).
 * Returns 0, or -errno when the line was dropped. The file is opened
 * O_NONBLOCK (a FIFO without a reader is not waited for) and then made
 * blocking: a write may block for as long as the file does, so only
 * the log writer's thread calls this (logwriter.h). */
int sup_logfile_write(sup_logfile *f, uint64_t realtime_usec, const char *tag, const char *text, size_t n);
/* n lines were lost before the file saw them (the writer's queue was
 * full): counted with the lines the file could not take. */
void sup_logfile_add_lost(sup_logfile *f, uint64_t n);
/* Writes the "N lines lost" line now, if any were. 0 or -errno. */
int sup_logfile_note_lost(sup_logfile *f, uint64_t realtime_usec);

#endif
