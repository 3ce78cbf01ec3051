/* tree.h: the supervision tree at run time: supervisor nodes carrying out
 * the decision core's plans on real processes (proc.c) and nested
 * nodes. */
#ifndef GENSUP_TREE_H
#define GENSUP_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "decide.h"
#include "proc.h"
#include "spec.h"

#define SUP_HISTORY_MAX 16   /* exits kept per child */

typedef struct sup_node sup_node;
typedef struct sup_entry sup_entry;

/* How an exit in a child's history came about. */
typedef enum sup_exit_context {
        SUP_EXIT_CHILD_TERMINATED,    /* it ended on its own */
        SUP_EXIT_START_ERROR,         /* its start failed */
        SUP_EXIT_SHUTDOWN_ERROR,      /* stopped, with a reason the stop did not expect */
        SUP_EXIT_SHUTDOWN,            /* stopped as asked */
        SUP_EXIT_IGNORED,             /* init returned ignore */
        SUP_EXIT_UPGRADED,            /* the old process, after a hot upgrade */
        SUP_EXIT_UPGRADE_FAILED,      /* a hot upgrade's new process, which failed */
        _SUP_EXIT_CONTEXT_MAX,
} sup_exit_context;

const char *sup_exit_context_to_string(sup_exit_context c);   /* "child_terminated", ... */

/* One exit in a child's history. The reason's text belongs to the child:
 * valid while it exists and until its next exit. */
typedef struct sup_exit_record {
        uint64_t realtime_usec;
        pid_t pid;
        sup_exit_context context;
        sup_reason reason;
        bool stop_asked;      /* a SYS STOP from stop_uid, stop_pid ended it */
        uid_t stop_uid;
        pid_t stop_pid;
} sup_exit_record;

/* What the tree needs from the daemon around it. */
typedef struct sup_tree_env {
        sup_proc_env proc;
        /* Called once when the root node has finished; reason is its exit
         * reason, escalated says it gave up (intensity, failed boot). */
        void (*root_finished)(void *userdata, const char *reason, bool failed);
        /* Called for every report and state change worth an event
         * (gensupctl events); may be NULL. */
        void (*event)(void *userdata, const char *kind, const sup_entry *e, const char *reason);
        void *userdata;
} sup_tree_env;

/* Builds the root node for spec (a supervisor spec) and boots it: its
 * children start in order. */
int sup_tree_start(const sup_tree_env *env, const sup_spec *root, sup_node **ret);
/* Orderly stop of the whole tree (reverse start order); root_finished
 * follows. Safe to call more than once. */
void sup_tree_stop(sup_node *root);
/* Kills every process at once (no waiting) and frees the tree. */
sup_node *sup_tree_free(sup_node *root);

/* Finds the worker entry whose process has pid (for NOTIFY_SOCKET). */
sup_entry *sup_tree_find_pid(sup_node *root, pid_t pid);
/* Finds a child by name anywhere in the tree (supervisors too). */
sup_entry *sup_tree_find(sup_node *root, const char *name);
/* Finds a supervisor node by name (the root included). */
sup_node *sup_tree_find_node(sup_node *root, const char *name);

/* ---- steering the tree (gensupctl), as OTP's supervisor API ---- */

typedef enum sup_ctl_kind {
        SUP_CTL_START_CHILD,      /* spec: a new child spec (ordinary supervisors) */
        SUP_CTL_START_INSTANCE,   /* args: extra arguments (simple_one_for_one) */
        SUP_CTL_TERMINATE_CHILD,  /* name */
        SUP_CTL_RESTART_CHILD,    /* name */
        SUP_CTL_DELETE_CHILD,     /* name */
        SUP_CTL_STOP_FOR_RESTART, /* name: as TERMINATE_CHILD, keeping the socket
                                   * gensupd holds for it: a restart follows */
        _SUP_CTL_KIND_MAX,
} sup_ctl_kind;

/* r is 0 or a negative errno (decide.h's sup_error_to_string names OTP's
 * errors); name and pid tell which child (started ones); reason why a
 * start failed. */
typedef void (*sup_ctl_done)(void *userdata, int r, const char *name, pid_t pid, const char *reason);

/* Carries out one request on node when the node is free (after the plan
 * at hand and the events before it), then calls done (right away, before
 * this returns, when the request is refused at once). The tree takes
 * spec (also on failure). */
int sup_tree_ctl(sup_node *node, sup_ctl_kind kind, const char *name, sup_spec *spec, char *const *args,
                 sup_ctl_done done, void *userdata);
/* start_child with a spec the caller keeps (the config, on reload): it
 * must outlive the child. */
int sup_tree_start_spec(sup_node *node, const sup_spec *spec, sup_ctl_done done, void *userdata);
/* Forgets the pending requests of this userdata (its client went away). */
void sup_tree_ctl_cancel(sup_node *root, void *userdata);

/* ---- reading the tree (status, ctl) ---- */
const char *sup_node_name(const sup_node *n);
const sup_spec *sup_node_spec(const sup_node *n);
sup_core *sup_node_core(const sup_node *n);
sup_entry *sup_node_entry(const sup_node *n);        /* NULL for the root */

const char *sup_entry_name(const sup_entry *e);
const sup_spec *sup_entry_spec(const sup_entry *e);
sup_child *sup_entry_core(const sup_entry *e);
sup_proc *sup_entry_proc(const sup_entry *e);        /* workers; NULL otherwise */
sup_node *sup_entry_node(const sup_entry *e);        /* a running nested supervisor */
sup_node *sup_entry_owner(const sup_entry *e);       /* the supervisor it is under */
const char *sup_entry_state(const sup_entry *e);     /* running, starting, restarting, stopping, stopped */
pid_t sup_entry_pid(const sup_entry *e);              /* 0 when not running */
pid_t sup_entry_last_pid(const sup_entry *e);         /* the latest process, running or not */
uint64_t sup_entry_uptime_ms(const sup_entry *e, uint64_t now_usec);
const sup_reason *sup_entry_last_reason(const sup_entry *e);   /* NULL: never exited */
char *const *sup_entry_args(const sup_entry *e);        /* simple_one_for_one instances' extra args */
bool sup_entry_is_dynamic(const sup_entry *e);          /* added at run time, not from the config */
/* Hot upgrade (upgrade.c): p, the new process, becomes e's; and an exit
 * of a process that is not e's own (pid) goes into e's history. */
void sup_entry_adopt(sup_entry *e, sup_proc *p);
void sup_entry_record(sup_entry *e, sup_exit_context context, pid_t pid, const sup_reason *reason);
/* How many times it exited, by ipc_reason_kind (_IPC_REASON_KIND_MAX
 * counts), all its life: across restarts of its supervisor too. */
const uint64_t *sup_entry_exit_counts(const sup_entry *e);
/* Copies the exits kept, oldest first, into out (SUP_HISTORY_MAX entries). */
void sup_entry_history_copy(const sup_entry *e, sup_exit_record *out, size_t *n);

#endif
