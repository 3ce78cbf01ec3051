/* cgroup_sampler.h: the children's cgroup figures (memory.current,
 * cpu.stat usage, the processes) and gensupd's own count of fds and rss,
 * read in a thread of their own (cgroup_sampler.c) so that gensupd's loop
 * does not: at thousands of children, reading them was most of what a
 * status cost the loop.
 *
 * The thread starts when first asked and sweeps every cgroup under
 * gensupd's subtree (the directories "child-*" it lists itself: it holds
 * no pointer into the tree, so children made or removed meanwhile are
 * simply there or not) every SUP_SAMPLER_PERIOD_USEC, as long as it was
 * asked within SUP_SAMPLER_IDLE_USEC; then it waits to be asked again.
 * Every figure carries the time it was read at (or just before). */
#ifndef GENSUP_CGROUP_SAMPLER_H
#define GENSUP_CGROUP_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup_usage.h"

/* A sweep every 2 s: at 4,875 children one costs ~0.15-0.3 s of CPU on
 * the bench VM (cpu.stat flushes the cgroup's statistics, cgroup.procs
 * walks its tasks), the same reads a status at the old 2 s bound made on
 * the loop. Idle 5 s after the last ask: gensupctl top's refreshes keep
 * it going; a lone status costs two or three sweeps more, no more. */
#define SUP_SAMPLER_PERIOD_USEC (2000u * 1000u)
#define SUP_SAMPLER_IDLE_USEC (5000u * 1000u)
/* How much older than a status its cgroup figures may be (gensupd(8)):
 * the sampler begins its next sweep early enough, when sweeps are slow,
 * that the next table is in before the last one is this old. */
#define SUP_SAMPLER_MAX_AGE_USEC (3000u * 1000u)
/* The thread's nice value: a sweep yields a busy CPU to the loop and to
 * the children it restarts. */
#define SUP_SAMPLER_NICE 10

/* The figures of the cgroup directory name (a child of root, the
 * subtree's path, which must stay the same for the sampler's life) read
 * at or after since (CLOCK_MONOTONIC usec), into *ret with *ret_at when
 * they were read: true, or false when the sampler has none that recent
 * (the caller reads them itself). Keeps the sampler sweeping. Call from
 * gensupd's loop only. */
bool sup_cgroup_sampler_get(const char *root, const char *name, uint64_t since, sup_cgroup_usage *ret,
                            uint64_t *ret_at);
/* gensupd's open fds and VmRSS bytes (-1: unknown) read at or after
 * since: true, or false when the sampler has none that recent. Keeps the
 * sampler sweeping (without cgroups too). */
bool sup_cgroup_sampler_self(uint64_t since, long long *ret_fds, long long *ret_rss);
/* Whether a sweep of the subtree root (as sup_cgroup_sampler_get's)
 * begun at or after since is over, to answer from: true, or false while
 * the sampler (woken, started if need be) has yet to finish one. True
 * too when it cannot run (valgrind), root is NULL (no cgroups), or its
 * sweep made no table (out of memory: the caller reads the figures
 * itself then). A status waits for this rather than reading every
 * child's files on the loop, the first status too. */
bool sup_cgroup_sampler_ready(const char *root, uint64_t since);
/* Stops the thread and waits for it (at most one sweep); frees what it
 * kept. No-op when it never ran. gensupd's exit. */
void sup_cgroup_sampler_stop(void);

#endif
