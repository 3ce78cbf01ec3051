/* output.h: where a child's stdout and stderr go. */
#ifndef GENSUP_OUTPUT_H
#define GENSUP_OUTPUT_H

#include <stdbool.h>

#include <systemd/sd-event.h>

/* Returns an fd to give the child as stdout and stderr (the caller closes
 * its copy after spawning): a journal stream named after the child where
 * journald runs, else a pipe whose lines gensupd copies to its own stderr
 * as "NAME: line". The pipe's reader lives until the last writer (the
 * child and anything it forked) closes it. Returns the fd or -errno. */
int sup_output_open(sd_event *e, const char *name, bool journal);

/* Copies what is still buffered and frees every reader (at exit). */
void sup_output_close_all(void);

#endif
