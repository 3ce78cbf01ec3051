/* output.h: where a child's stdout and stderr go. */
#ifndef GENSUP_OUTPUT_H
#define GENSUP_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "spec.h"

/* What a child's output limit dropped, over all its starts. Its sup_proc
 * holds one reference and each of its pipe readers another: a reader may
 * outlive the child (a grandchild keeps the pipe open). */
typedef struct sup_output_counts {
        unsigned refs;
        uint64_t lines, bytes;
} sup_output_counts;

/* A new count (one reference), or NULL on ENOMEM. */
sup_output_counts *sup_output_counts_new(void);
/* Drops a reference; frees at the last. Returns NULL; NULL ok. */
sup_output_counts *sup_output_counts_unref(sup_output_counts *c);

/* Opens the child's stdout and stderr: ret_fds[0] and ret_fds[1], to
 * give the child as fds 1 and 2 (the caller closes its copies after
 * spawning). Where journald runs, a journal stream named after the child
 * (both fds on it); else two pipes whose lines gensupd copies to its own
 * stderr as "NAME stdout: line" and "NAME stderr: line", within limit
 * (NULL: none; one budget for both), dropping the rest and counting it
 * in counts (may be NULL; the readers take a reference). A
 * pipe's reader lives until the last writer (the child and anything it
 * forked) closes it. Returns 0 or -errno. */
int sup_output_open(sd_event *e, const char *name, const sup_output_limit *limit, sup_output_counts *counts,
                    bool journal, int ret_fds[2]);

/* Copies what is still buffered and frees every reader (at exit). */
void sup_output_close_all(void);

#endif
