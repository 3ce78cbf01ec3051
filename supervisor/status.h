/* status.h: the tree as JSON, named as OTP names things (DESIGN.md,
 * "Interfaces others rely on"), for gensupctl. */
#ifndef GENSUP_STATUS_H
#define GENSUP_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "gensup.pb-c.h"
#include "tree.h"

/* A supervisor as a child object with its children (start order). */
json_t *sup_status_node(const sup_node *n);
/* A child object: name, type, state, pid, restart, restarts, uptime_ms,
 * ready, reason; supervisors add strategy, intensity, period, children. */
json_t *sup_status_entry(const sup_entry *e);
/* {"children": [{name, pid, type, state}]}, newest first. */
json_t *sup_status_which_children(const sup_node *n);
/* One of which-children's {name, pid, type, state}. */
json_t *sup_status_which_child(const sup_entry *e);
/* For answers built a piece at a time (status_stream.c): a child object
 * or a supervisor node as above, without "children" (the key that comes
 * last) unless with_children, and with its cgroup's counts read now
 * (usage_max_age_usec 0) or at most that old (cgroup.h). */
json_t *sup_status_child(const sup_entry *e, bool with_children, uint64_t usage_max_age_usec);
json_t *sup_status_node_part(const sup_node *n, bool with_children, uint64_t usage_max_age_usec);
/* A child spec, every key filled in. */
json_t *sup_status_spec(const sup_spec *s);
/* A worker spec's socket as it is in effect, into j (sup_status_spec's
 * document): "listen_mode" ("listen": gensupd makes and holds it; "hold":
 * the gen_server makes it and gensupd holds it once handed over; "off"),
 * "socket_held" (whether gensupd holds one now: held), and "listen" true
 * when gensupd holds one now or makes it. */
void sup_status_spec_socket(json_t *j, const sup_spec *s, bool held);
/* {"name", "exits": [{time_us, pid, context, reason}]}, oldest first. */
json_t *sup_status_history(const sup_entry *e);
/* What the child's cgroup counts: {kill_mode, memory_bytes, cpu_us,
 * processes}, each null where unknown (no cgroup, no controller). */
json_t *sup_status_usage(const sup_proc *p);
/* get-state: {"name", "state"}; statistics: {"name", calls, ...}. */
json_t *sup_status_sys_reply(const char *name, const Gensup__SysReply *r);
/* One event: {time_us, event, supervisor, child, pid, reason}. */
json_t *sup_status_event(const char *kind, const sup_entry *e, const char *reason);

#endif
