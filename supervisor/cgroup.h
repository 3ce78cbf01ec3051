/* cgroup.h: containment. Where gensupd can write a cgroup v2 hierarchy
 * (as root on the unified hierarchy wherever it is mounted, or in a
 * subtree systemd delegated to it), each child gets a cgroup of its own
 * under one of gensupd's:
 *
 *   <gensupd's cgroup>/gensup-<hash of runtime_dir>/<child name>
 *
 * so that a stop kills everything the child started (cgroup.kill), a child
 * counts as gone only when its cgroup is empty, resource limits apply, and
 * a gensupd started after a SIGKILLed one on the same runtime directory
 * finds and kills what the old one left behind. Where none can be made,
 * children are contained by process groups only. */
#ifndef GENSUP_CGROUP_H
#define GENSUP_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup_usage.h"
#include "spec.h"

/* Finds the hierarchy (/proc/self/mountinfo, /proc/self/cgroup), makes
 * gensupd's subtree for runtime_dir, enables the controllers it can, and
 * kills what a previous gensupd left in the subtree (one log line per
 * cgroup). Returns 1 when children get cgroups, 0 when they get process
 * groups only (the reason is logged), never fails. Call once at start. */
int sup_cgroup_setup(const char *runtime_dir);
/* Removes gensupd's subtree (the children's cgroups must be gone). */
void sup_cgroup_teardown(void);
/* The subtree's path, or NULL when cgroups are not in force. */
const char *sup_cgroup_root(void);
/* "cgroup" or "process_group": the containment in force. */
const char *sup_cgroup_containment(void);

typedef struct sup_cgroup sup_cgroup;

/* Makes (or takes over) the cgroup of the child named name and writes
 * the spec's limits where their controller is enabled (a limit without
 * its controller is logged once, not enforced). -EOPNOTSUPP when cgroups
 * are not in force. */
int sup_cgroup_new(const char *name, const sup_spec *spec, sup_cgroup **ret);
/* Removes the cgroup: it kills what is left and waits (bounded) for it
 * to empty first. NULL ok; returns NULL. */
sup_cgroup *sup_cgroup_free(sup_cgroup *cg);

/* An O_DIRECTORY fd on the cgroup, for CLONE_INTO_CGROUP (caller closes). */
int sup_cgroup_open(const sup_cgroup *cg);
/* The cgroup.procs file, for a child that moves itself in. */
int sup_cgroup_open_procs(const sup_cgroup *cg);
/* Kills every process in the cgroup (cgroup.kill). */
int sup_cgroup_kill(sup_cgroup *cg);
/* Whether cgroup.kill was ever written. Linux (6.18 at least) SIGKILLs
 * a child that clone3 puts straight into such a cgroup (CLONE_INTO_CGROUP
 * compares the kill counts of the parent's cgroup and the target's): the
 * next child has to move itself in instead. */
bool sup_cgroup_was_killed(const sup_cgroup *cg);
/* 1 when a process is in the cgroup, 0 when it is empty, or -errno. */
int sup_cgroup_populated(const sup_cgroup *cg);
/* The cgroup.events file, to watch for the cgroup emptying (IN_MODIFY). */
const char *sup_cgroup_events_path(const sup_cgroup *cg);
/* How many times the OOM killer killed in this cgroup (memory.events
 * oom_kill); 0 without the memory controller, which is then not looked
 * for again until sup_cgroup_usage_forget(). */
uint64_t sup_cgroup_oom_kills(sup_cgroup *cg);

/* cpu.stat usage_usec, over the cgroup's life; -1: unknown. */
int64_t sup_cgroup_cpu_usec(const sup_cgroup *cg);

void sup_cgroup_usage_get(const sup_cgroup *cg, sup_cgroup_usage *ret);
/* The same, at most max_age_usec old (0: read now): the copy kept from
 * the last read if it is young enough, else the sampler's
 * (cgroup_sampler.h) if it has one read since, else read now. Figures
 * read before the last sup_cgroup_usage_forget are never given. */
void sup_cgroup_usage_recent(sup_cgroup *cg, uint64_t max_age_usec, sup_cgroup_usage *ret);
/* Drops the kept copy (a new process in the cgroup). */
void sup_cgroup_usage_forget(sup_cgroup *cg);

#endif
