/* status_stream.h: status and which-children of a tree of any size, built
 * a slice at a time (status_stream.c) so that gensupd's loop serves exits,
 * READYs and restarts between two slices (control.h's sup_control_slices).
 *
 * The answer names the children the tree had when it was asked, each
 * exactly once, each as it is when its slice is built; one that is gone by
 * then is left out, and so are the children of a supervisor that is gone.
 * Nothing of the tree is held between slices: the names are copied, and
 * each slice looks its children up again. */
#ifndef GENSUP_STATUS_STREAM_H
#define GENSUP_STATUS_STREAM_H

#include "cgroup_sampler.h"
#include "control.h"
#include "tree.h"

/* Children looked at per slice at most, and the time a slice may take
 * (it ends at the first child past it). */
#define SUP_STATUS_SLICE_CHILDREN 64
#define SUP_STATUS_SLICE_USEC 200
/* How much older than the request the cgroup figures (memory_bytes,
 * cpu_us, processes) of a whole-tree status may be: reading them (three or four files, eight
 * system calls per child) was most of a big status's cost on the loop.
 * The sampler's thread (cgroup_sampler.h) reads them every
 * SUP_SAMPLER_PERIOD_USEC while status is asked; the loop reads a child's
 * only where the sampler has none this recent. */
#define SUP_STATUS_USAGE_MAX_AGE_USEC SUP_SAMPLER_MAX_AGE_USEC

/* status [SUP]: the supervisor node n as sup_status_node(n) has it; with
 * head (a JSON object's text, taken), the whole document
 * {"gensupd": head, "tree": n}. *rootp is where the tree is found at each
 * slice (gensupd's root: it may change or go meanwhile). 0 or -ENOMEM. */
int sup_status_stream_node(sup_node *const *rootp, const sup_node *n, char *head, sup_control_slices *ret);
/* which-children SUP: {"children": [...]} as sup_status_which_children. */
int sup_status_stream_which(sup_node *const *rootp, const sup_node *n, sup_control_slices *ret);

#endif
