/* output.h: where a child's stdout and stderr go. */
#ifndef GENSUP_OUTPUT_H
#define GENSUP_OUTPUT_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "spec.h"

/* Opens the child's stdout and stderr: ret_fds[0] and ret_fds[1], to
 * give the child as fds 1 and 2 (the caller closes its copies after
 * spawning). Where journald runs, a journal stream named after the child
 * (both fds on it); else two pipes whose lines gensupd copies to its own
 * stderr as "NAME stdout: line" and "NAME stderr: line", within limit
 * (NULL: none; one budget for both), dropping and counting the rest. A
 * pipe's reader lives until the last writer (the child and anything it
 * forked) closes it. Returns 0 or -errno. */
int sup_output_open(sd_event *e, const char *name, const sup_output_limit *limit, bool journal, int ret_fds[2]);

/* Copies what is still buffered and frees every reader (at exit). */
void sup_output_close_all(void);

#endif
