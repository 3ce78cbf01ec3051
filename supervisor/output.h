/* output.h: where a child's stdout and stderr go. */
#ifndef GENSUP_OUTPUT_H
#define GENSUP_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "logring.h"
#include "logwriter.h"
#include "spec.h"

/* What a child's output leaves behind, over all its starts: what its
 * output limit dropped, its last lines (the ring `gensupctl logs` reads),
 * its log_dir file. Its sup_proc holds one reference and each of its pipe
 * readers another: a reader may outlive the child (a grandchild keeps the
 * pipe open). */
typedef struct sup_output_counts {
        unsigned refs;
        uint64_t lines, bytes;         /* dropped by the output limit */
        char name[SUP_NAME_MAX + 1];   /* the child's */
        sup_logring ring;
        sup_logsink *file;             /* log_dir: NULL until the first line */
        unsigned file_gen;             /* the log_dir setting it was opened under */
        struct budget *opening;        /* the start being spawned (sup_output_started) */
} sup_output_counts;

/* A new count (one reference), or NULL on ENOMEM. */
sup_output_counts *sup_output_counts_new(void);
/* Drops a reference; frees at the last. Returns NULL; NULL ok. */
sup_output_counts *sup_output_counts_unref(sup_output_counts *c);

/* Opens the child's stdout and stderr: ret_fds[0] and ret_fds[1], to
 * give the child as fds 1 and 2 (the caller closes its copies after
 * spawning): two pipes whose lines gensupd reads within the spec's
 * output_limit (one budget for both; the rest is dropped and counted in
 * counts), keeps in counts' ring (the spec's log_ring; the readers take
 * a reference to counts), tells the listener, and copies: to the
 * child's file under log_dir when there is one (sup_output_set_log_dir),
 * else to the journal with journal (SYSLOG_IDENTIFIER the child's name),
 * else to gensupd's stderr as "NAME stdout: line" and "NAME stderr:
 * line". A pipe's reader lives until the last writer (the child and
 * anything it forked) closes it. Returns 0 or -errno. */
int sup_output_open(sd_event *e, const sup_spec *spec, sup_output_counts *counts, bool journal, int ret_fds[2]);

/* The process of the last sup_output_open was spawned: its lines carry
 * pid, and the ring gets the mark "started". */
void sup_output_started(sup_output_counts *counts, pid_t pid);
/* The mark "exited REASON" (pid: the process that exited). */
void sup_output_exited(sup_output_counts *counts, pid_t pid, const char *reason);

/* Told of every line a ring takes (a child's or a mark), with the
 * child's name: `gensupctl logs -f`. NULL: nobody. */
typedef void (*sup_output_listener)(void *userdata, const char *name, const sup_logline *line);
void sup_output_set_listener(sup_output_listener fn, void *userdata);

/* Children's lines go to files under dir (NULL: none), rotated past size
 * bytes, keep old files kept (logdir.h); copied. Every child's next line
 * goes by the new setting: a file opened under another one is closed
 * first (reload). 0 or -ENOMEM. */
int sup_output_set_log_dir(const char *dir, uint64_t size, unsigned keep);

/* Copies what is still buffered and frees every reader (at exit). */
void sup_output_close_all(void);

#endif
