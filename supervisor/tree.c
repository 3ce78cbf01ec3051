/* tree.c: supervisor nodes carrying out the decision core's plans.
 *
 * Each node runs one plan at a time, op by op, as OTP's supervisor runs
 * one restart at a time: a STOP waits for the child to be gone, a START
 * for its start result. Events that come meanwhile (a sibling's exit, a
 * due retry, a shutdown) wait in the node's queue, as messages wait in a
 * supervisor's mailbox, and are fed to the core once the plan is done.
 * Nothing here decides anything: decide.c does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "spec.h"
#include "log.h"
#include "namemap.h"
#include "pidmap.h"
#include "strv.h"
#include "tree.h"

typedef enum node_event_kind {
        EV_EXITED,     /* a running child ended on its own */
        EV_RETRY,      /* a RETRY op's time has come */
        EV_SHUTDOWN,   /* stop the node */
        EV_CTL,        /* a gensupctl request */
        EV_STARTED,    /* a solo START's result (decide.h, 3a) */
        _EV_MAX,
} node_event_kind;

typedef struct ctl_request {
        sup_ctl_kind kind;
        char *name;
        sup_spec *spec;
        bool spec_borrowed;            /* the config owns it (reload), not the request */
        char **args;
        sup_ctl_done done;
        void *userdata;
        sup_entry *entry;              /* the child it started, while it exists */
        char *started;                 /* that child's name */
} ctl_request;

typedef struct node_event node_event;
struct node_event {
        node_event_kind kind;
        sup_entry *entry;
        sup_reason reason;             /* EV_EXITED, EV_STARTED */
        sup_start_result result;       /* EV_STARTED */
        uint64_t retry_id;
        ctl_request *ctl;
        node_event *next;
};

struct sup_entry {
        sup_node *owner;
        sup_child *core;
        const sup_spec *spec;
        char *name;
        sup_proc *proc;                /* workers */
        sup_node *sub;                 /* supervisors, while they run */
        bool stopping;                 /* a STOP op waits for it */
        bool solo_start;               /* a solo START's result is due (decide.h, 3a) */
        sd_event_source *retry;
        uint64_t retry_id;
        pid_t last_pid;
        sup_spec *owned_spec;          /* made for start_child: freed with the entry */
        char **args;                   /* simple_one_for_one: extra arguments */
        sup_spec *instance_spec;       /* simple_one_for_one: the template under the instance's name
                                        * (a shallow copy: only name is its own) */
        int shortage;                  /* -errno of its last start, failed for want of resources */
        sup_exit_record *history;      /* a ring of SUP_HISTORY_MAX, made at the first exit */
        size_t hist_next, hist_len;
        uint64_t exits[_IPC_REASON_KIND_MAX];   /* exits by kind of reason, all its life */
};

/* A child's history, restart count and exit counts while its supervisor
 * restarts: put by the node freed, taken by the entry of the same name in
 * the new node. The root keeps them, one per name of the config. */
typedef struct entry_record {
        char *name;
        sup_exit_record *history;
        size_t hist_next, hist_len;
        uint64_t exits[_IPC_REASON_KIND_MAX];
        uint64_t restarts;
} entry_record;

struct sup_node {
        const sup_tree_env *env;
        sup_node *parent;
        sup_entry *as_entry;           /* this node's entry in its parent; NULL for the root */
        sup_pidmap *pids;              /* the whole tree's pid -> worker entry (the root's) */
        sup_pidmap root_pids;          /* the root: that map */
        sup_namemap *names;            /* the whole tree's entry name -> entry (the root's) */
        sup_namemap root_names;        /* the root: that map */
        size_t n_subs;                 /* entries with a running nested supervisor */
        sup_core *core;
        const sup_spec *spec;

        sup_op *ops;                   /* the current plan, copied */
        size_t n_ops, next;
        bool parallel;
        size_t waiting_stops;
        sup_entry *awaiting_start;
        bool running;                  /* inside node_run: no re-entry */

        node_event *queue, *queue_tail;
        bool boot_told;
        bool finished, failed;
        sup_reason exit_reason;        /* once finished */
        sd_event_source *tell;         /* posts boot completion or the end to the parent */
        uint64_t instances;            /* simple_one_for_one names */
        ctl_request *ctl;              /* the request being carried out */
        sup_start_result last_start;   /* the latest start result since the request began ... */
        sup_reason last_start_failure; /* ... and why it failed */
        sup_namemap records;           /* the root: name -> entry_record of a child whose supervisor restarted */
        char **went_down;              /* names of children gone down since the last release_sockets */
        size_t n_down, cap_down;
        bool down_lost;                /* a name could not be kept: look at every child */
};

static void node_run(sup_node *n);
static sup_node *node_free(sup_node *n);

static double random_fraction(void) {
        return drand48();
}

static const char *shutdown_text(const sup_spec *s, char buf[static 24]) {
        if (s->shutdown_ms == SUP_SHUTDOWN_INFINITY)
                return "infinity";
        if (s->shutdown_ms == SUP_SHUTDOWN_BRUTAL_KILL)
                return "brutal_kill";
        snprintf(buf, 24, "%lld", (long long) s->shutdown_ms);
        return buf;
}

const char *sup_exit_context_to_string(sup_exit_context c) {
        switch (c) {
        case SUP_EXIT_CHILD_TERMINATED: return "child_terminated";
        case SUP_EXIT_START_ERROR: return "start_error";
        case SUP_EXIT_SHUTDOWN_ERROR: return "shutdown_error";
        case SUP_EXIT_SHUTDOWN: return "shutdown";
        case SUP_EXIT_IGNORED: return "ignored";
        case SUP_EXIT_UPGRADED: return "upgraded";
        case SUP_EXIT_UPGRADE_FAILED: return "upgrade_failed";
        case _SUP_EXIT_CONTEXT_MAX: break;
        }
        return NULL;
}

/* The reason as the report spells it: a shutdown report is always
 * reached_max_restart_intensity (decide.h). */
static char *report_reason(sup_report_context context, const sup_reason *reason) {
        if (reason)
                return sup_reason_to_string(reason);
        return strdup(context == SUP_REPORT_SHUTDOWN ? "reached_max_restart_intensity" : "undefined");
}

/* Whether an exit recorded with x is the one a report of context c is
 * about. */
static bool exit_matches(sup_exit_context x, sup_report_context c) {
        switch (c) {
        case SUP_REPORT_CHILD_TERMINATED:
                return x == SUP_EXIT_CHILD_TERMINATED;
        case SUP_REPORT_START_ERROR:
                return x == SUP_EXIT_START_ERROR;
        case SUP_REPORT_SHUTDOWN_ERROR:
                return x == SUP_EXIT_SHUTDOWN_ERROR;
        case SUP_REPORT_SHUTDOWN:
        case _SUP_REPORT_CONTEXT_MAX:
                break;
        }
        return false;
}

/* The wall-clock time of e's last exit when this report is about it: the
 * exit was stamped as it was seen, the report may come later. 0: now. */
static uint64_t exit_stamp(const sup_entry *e, sup_report_context context) {
        if (!e || !e->history || e->hist_len == 0)
                return 0;
        const sup_exit_record *r = &e->history[(e->hist_next + SUP_HISTORY_MAX - 1) % SUP_HISTORY_MAX];
        return r->pid == e->last_pid && exit_matches(r->context, context) ? r->realtime_usec : 0;
}

static void report(sup_node *n, sup_report_context context, const sup_reason *reason, sup_entry *e) {
        char sd[24];
        char *text = report_reason(context, reason);
        sup_report r = {
                .supervisor = n->spec->name,
                .context = context,
                .reason = text ? text : "undefined",
                .child = e ? e->name : "undefined",
                .pid = e ? e->last_pid : 0,
                .restart = e ? sup_restart_to_string(e->spec->restart) : "undefined",
                .shutdown = e ? shutdown_text(e->spec, sd) : "undefined",
                .type = e && e->spec->type == SUP_SUPERVISOR ? "supervisor" : "worker",
                .realtime_usec = exit_stamp(e, context),
        };
        sup_log_report(&r);
        if (n->env->event)
                n->env->event(n->env->userdata, sup_report_context_to_string(context), e, r.reason);
        free(text);
}

/* An event about e, with its reason spelled (NULL: none). */
static void tell_event(sup_node *n, const char *kind, sup_entry *e, const sup_reason *reason) {
        if (!n->env->event)
                return;
        char *text = reason ? sup_reason_to_string(reason) : NULL;
        n->env->event(n->env->userdata, kind, e, reason ? text ? text : "undefined" : NULL);
        free(text);
}

static void record_exit(sup_entry *e, sup_exit_context context, const sup_reason *reason) {
        /* Most children never exit: their history costs nothing. */
        if (!e->history && !(e->history = calloc(SUP_HISTORY_MAX, sizeof(sup_exit_record))))
                return;
        sup_exit_record *r = &e->history[e->hist_next];
        sup_reason_done(&r->reason);
        *r = (sup_exit_record) {
                .realtime_usec = sup_real_usec(),
                .pid = e->last_pid,
                .context = context,
        };
        /* Out of memory, a reason with text keeps its kind. */
        if (reason && sup_reason_copy(reason, &r->reason) < 0)
                r->reason.kind = reason->kind;
        if (e->proc)
                r->stop_asked = sup_proc_stopped_by(e->proc, &r->stop_uid, &r->stop_pid);
        e->hist_next = (e->hist_next + 1) % SUP_HISTORY_MAX;
        if (e->hist_len < SUP_HISTORY_MAX)
                e->hist_len++;
        if (reason && reason->kind < _IPC_REASON_KIND_MAX)
                e->exits[reason->kind]++;
}

/* ---- records kept across a supervisor's restart ---- */

static sup_node *node_root(sup_node *n) {
        while (n->parent)
                n = n->parent;
        return n;
}

static void history_free(sup_exit_record *h) {
        for (size_t i = 0; h && i < SUP_HISTORY_MAX; i++)
                sup_reason_done(&h[i].reason);
        free(h);
}

static entry_record *record_free(entry_record *x) {
        history_free(x->history);
        free(x->name);
        free(x);
        return NULL;
}

/* Removes and returns the root's record for name, or NULL. */
static entry_record *record_take(sup_node *root, const char *name) {
        entry_record *x = sup_namemap_get(&root->records, name);
        if (x)
                sup_namemap_remove(&root->records, x->name, x);
        return x;
}

/* A child of the config whose node is being freed while the tree goes on
 * (its supervisor restarts, or stopped): its record moves to the root.
 * Instances and children added at run time have none. */
static void record_put(sup_node *n, sup_entry *e) {
        if (!n->parent || !e->core || sup_entry_is_dynamic(e))
                return;
        sup_node *root = node_root(n);
        entry_record *x = record_take(root, e->name);
        if (x)
                record_free(x);
        if (!(x = calloc(1, sizeof(*x))) || !(x->name = strdup(e->name))) {
                free(x);
                return;
        }
        x->history = e->history;
        e->history = NULL;
        x->hist_next = e->hist_next;
        x->hist_len = e->hist_len;
        memcpy(x->exits, e->exits, sizeof(x->exits));
        x->restarts = e->core->restarts;
        if (sup_namemap_add(&root->records, x->name, x) < 0)
                record_free(x);
}

/* A new entry of the config takes the record its name left, if any. */
static void record_adopt(sup_node *n, sup_entry *e) {
        if (!e->core || sup_entry_is_dynamic(e))
                return;
        entry_record *x = record_take(node_root(n), e->name);
        if (!x)
                return;
        e->history = x->history;
        x->history = NULL;
        e->hist_next = x->hist_next;
        e->hist_len = x->hist_len;
        memcpy(e->exits, x->exits, sizeof(e->exits));
        sup_child_carry_restarts(e->core, x->restarts);
        record_free(x);
}

/* ---- the queue ---- */

static node_event *enqueue(sup_node *n, node_event_kind kind, sup_entry *e, const sup_reason *reason,
                           uint64_t retry_id, bool front) {
        node_event *ev = calloc(1, sizeof(*ev));
        if (!ev) {
                sup_log(LOG_CRIT, "out of memory queueing an event for %s", n->spec->name);
                return NULL;
        }
        *ev = (node_event) { .kind = kind, .entry = e, .retry_id = retry_id };
        if (reason && sup_reason_copy(reason, &ev->reason) < 0) {
                free(ev);
                sup_log(LOG_CRIT, "out of memory queueing an event for %s", n->spec->name);
                return NULL;
        }
        if (front) {
                ev->next = n->queue;
                n->queue = ev;
                if (!n->queue_tail)
                        n->queue_tail = ev;
        } else {
                if (n->queue_tail)
                        n->queue_tail->next = ev;
                else
                        n->queue = ev;
                n->queue_tail = ev;
        }
        return ev;
}

static node_event *dequeue(sup_node *n) {
        node_event *ev = n->queue;
        if (ev) {
                n->queue = ev->next;
                if (!n->queue)
                        n->queue_tail = NULL;
        }
        return ev;
}

static ctl_request *ctl_free(ctl_request *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->started);
        if (!c->spec_borrowed)
                sup_spec_free(c->spec);
        sup_strv_free(c->args);
        free(c);
        return NULL;
}

static void ctl_finish(ctl_request *c, int r, const char *name, pid_t pid, const char *reason) {
        if (!name)
                name = c->name ? c->name : c->spec ? c->spec->name : NULL;
        if (c->done)
                c->done(c->userdata, r, name, pid, reason);
        ctl_free(c);
}

static void event_free(node_event *ev) {
        if (ev->ctl)
                ctl_finish(ev->ctl, -ECANCELED, NULL, 0, "the supervisor stopped");
        sup_reason_done(&ev->reason);
        free(ev);
}

/* Removes the queued events about e. Whether there was an exit among
 * them; its reason into *ret_exit (the caller's to sup_reason_done). */
static bool purge(sup_node *n, sup_entry *e, sup_reason *ret_exit) {
        bool exited = false;
        node_event **p = &n->queue;
        n->queue_tail = NULL;
        while (*p) {
                node_event *ev = *p;
                if (ev->entry == e) {
                        if (ev->kind == EV_EXITED && !exited) {
                                exited = true;
                                *ret_exit = ev->reason;
                                ev->reason = (sup_reason) { .kind = IPC_REASON_NORMAL };
                        }
                        *p = ev->next;
                        event_free(ev);
                        continue;
                }
                n->queue_tail = ev;
                p = &ev->next;
        }
        return exited;
}

/* ---- entries ---- */

static void on_proc(sup_proc *p, sup_proc_outcome outcome, const sup_reason *reason, bool requested,
                    void *userdata);

/* Sets e's running nested supervisor, freeing the one it had (NULL: just
 * unhooks it when the caller frees it, see node_free's caller). */
static void set_sub(sup_entry *e, sup_node *sub) {
        if (e->sub && !sub)
                e->owner->n_subs--;
        else if (!e->sub && sub)
                e->owner->n_subs++;
        sup_node *old = e->sub;
        e->sub = sub;
        if (old && old != sub)
                node_free(old);
}

/* Unhooks e's nested supervisor without freeing it. */
static sup_node *take_sub(sup_entry *e) {
        sup_node *sub = e->sub;
        if (sub) {
                e->owner->n_subs--;
                e->sub = NULL;
        }
        return sub;
}

static sup_entry *entry_new(sup_node *n, sup_child *core, const sup_spec *spec, const char *instance_name) {
        sup_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->owner = n;
        e->core = core;
        e->spec = spec;
        e->name = strdup(instance_name ? instance_name : spec->name);
        if (!e->name || sup_namemap_add(n->names, e->name, e) < 0) {
                free(e->name);
                free(e);
                return NULL;
        }
        if (core) {
                core->data = e;
                record_adopt(n, e);
        }
        return e;
}

static sup_entry *entry_free(sup_entry *e) {
        if (!e)
                return NULL;
        sup_pidmap_remove(e->owner->pids, e->last_pid, e);
        sup_namemap_remove(e->owner->names, e->name, e);
        sd_event_source_disable_unref(e->retry);
        sup_proc_free(e->proc);
        set_sub(e, NULL);
        sup_spec_free(e->owned_spec);
        if (e->instance_spec) {
                free(e->instance_spec->name);
                free(e->instance_spec);
        }
        sup_strv_free(e->args);
        history_free(e->history);
        free(e->name);
        free(e);
        return NULL;
}

static bool entry_is_down(const sup_entry *e) {
        if (e->spec->type == SUP_SUPERVISOR)
                return !e->sub;
        return !e->proc || sup_proc_get_state(e->proc) == SUP_PROC_DOWN;
}

/* ---- plans ---- */

/* A copy of a plan's reason for the node's own plan (NULL: out of memory,
 * and the reports say undefined). */
static sup_reason *reason_dup(const sup_reason *r) {
        sup_reason *copy = malloc(sizeof(*copy));
        if (copy && sup_reason_copy(r, copy) < 0) {
                free(copy);
                return NULL;
        }
        return copy;
}

static void reason_free(const sup_reason *r) {
        sup_reason_done((sup_reason *) r);
        free((sup_reason *) r);
}

static int install(sup_node *n, const sup_plan *plan) {
        for (size_t i = 0; i < n->n_ops; i++)
                if (n->ops[i].reason)
                        reason_free(n->ops[i].reason);
        free(n->ops);
        n->ops = NULL;
        n->n_ops = n->next = 0;
        n->parallel = plan->parallel;
        if (plan->n_ops == 0)
                return 0;
        n->ops = calloc(plan->n_ops, sizeof(sup_op));
        if (!n->ops)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_ops; i++) {
                n->ops[i] = plan->ops[i];
                if (plan->ops[i].reason)
                        n->ops[i].reason = reason_dup(plan->ops[i].reason);
        }
        n->n_ops = plan->n_ops;
        return 0;
}

static void install_result(sup_node *n, int r, const sup_plan *plan, const char *what) {
        if (r == -ESTALE || r == -ESHUTDOWN)
                return;
        if (r < 0) {
                sup_log_errno(LOG_ERR, r, "%s: %s: %m", n->spec->name, what);
                return;
        }
        if (install(n, plan) < 0)
                sup_log(LOG_CRIT, "%s: out of memory for a plan", n->spec->name);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        sup_entry *e = userdata;
        e->retry = sd_event_source_disable_unref(e->retry);
        enqueue(e->owner, EV_RETRY, e, NULL, e->retry_id, false);
        node_run(e->owner);
        return 0;
}

static int on_retry_defer(sd_event_source *s, void *userdata) {
        return on_retry(s, 0, userdata);
}

static void start_result(sup_node *n, sup_entry *e, sup_start_result result, const sup_reason *reason) {
        const sup_plan *plan;
        if (n->awaiting_start == e)
                n->awaiting_start = NULL;
        if (result != SUP_START_OK) {
                n->last_start = result;
                sup_reason_done(&n->last_start_failure);
                if (reason && sup_reason_copy(reason, &n->last_start_failure) < 0)
                        n->last_start_failure.kind = reason->kind;
        }
        int r = sup_core_start_result(n->core, e->core, result, reason, sup_mono_usec(), random_fraction(), &plan);
        install_result(n, r, plan, "start result");
}

static int start_sub(sup_node *n, sup_entry *e);

/* A start that failed in gensupd (r < 0): for want of resources (the
 * core retries it later, uncounted), or a failed start. */
static sup_start_result start_failure(sup_entry *e, int r) {
        if (!sup_errno_is_resource_shortage(r))
                return SUP_START_FAILED;
        e->shortage = r;
        return SUP_START_NO_RESOURCES;
}

/* No process was started (r < 0): the report's pid is undefined, not the
 * last one's. *ret_reason is the caller's to sup_reason_done. */
static void no_process(sup_entry *e, int r, sup_reason *ret_reason) {
        sup_pidmap_remove(e->owner->pids, e->last_pid, e);
        e->last_pid = 0;
        (void) sup_reason_with_text(IPC_REASON_INIT_FAILED, strerror(-r), ret_reason);
        record_exit(e, SUP_EXIT_START_ERROR, ret_reason);
}

static void note_pid(sup_node *n, sup_entry *e) {
        e->last_pid = sup_proc_pid(e->proc);
        if (sup_pidmap_put(n->pids, e->last_pid, e) < 0)
                sup_log(LOG_CRIT, "%s: out of memory: its READY=1 will not be heard", e->name);
}

static void op_start(sup_node *n, sup_entry *e, bool solo) {
        e->shortage = 0;
        if (e->spec->type == SUP_SUPERVISOR) {
                n->awaiting_start = e;
                int r = start_sub(n, e);
                if (r < 0) {
                        sup_reason reason;
                        (void) sup_reason_with_text(IPC_REASON_ERROR, strerror(-r), &reason);
                        start_result(n, e, start_failure(e, r), &reason);
                        sup_reason_done(&reason);
                }
                return;
        }
        int r = 0;
        if (!e->proc && n->spec->strategy == SUP_SIMPLE_ONE_FOR_ONE && !e->instance_spec) {
                /* An instance runs under its own name (GENSUP_NAME, its
                 * socket, its output), not the template's: two instances
                 * of a libgensup server cannot share one socket. */
                e->instance_spec = malloc(sizeof(*e->instance_spec));
                if (!e->instance_spec)
                        r = -ENOMEM;
                else {
                        *e->instance_spec = *e->spec;
                        if (!(e->instance_spec->name = strdup(e->name))) {
                                free(e->instance_spec);
                                e->instance_spec = NULL;
                                r = -ENOMEM;
                        }
                }
        }
        if (r >= 0 && !e->proc)
                r = sup_proc_new(&n->env->proc, e->instance_spec ? e->instance_spec : e->spec, e->args, on_proc, e,
                                 &e->proc);
        if (r >= 0)
                r = sup_proc_start(e->proc);
        if (r < 0) {
                sup_reason reason;
                no_process(e, r, &reason);
                start_result(n, e, start_failure(e, r), &reason);
                sup_reason_done(&reason);
                return;
        }
        /* Spawned at once (no spawner thread), or SPAWNED tells later. */
        if (sup_proc_pid(e->proc) > 0)
                note_pid(n, e);
        if (solo)
                e->solo_start = true;
        else
                n->awaiting_start = e;
}

static void op_stop(sup_node *n, sup_entry *e) {
        if (entry_is_down(e)) {
                /* It ended on its own before we got to it: that exit is this
                 * STOP's completion, as OTP's supervisor takes it. */
                sup_reason why = { .kind = IPC_REASON_NORMAL };
                /* As OTP's shutdown/2 finds the child already dead: its real
                 * reason, reported unless it is one a stop expects. */
                if (purge(n, e, &why)) {
                        if (sup_shutdown_error_due(e->spec, &why))
                                report(n, SUP_REPORT_SHUTDOWN_ERROR, &why, e);
                        sup_reason_done(&why);
                }
                return;
        }
        e->stopping = true;
        n->waiting_stops++;
        if (e->sub)
                sup_tree_stop(e->sub);
        else
                (void) sup_proc_stop(e->proc);
}

static void op_drop(sup_node *n, sup_op *op) {
        sup_entry *e = op->child->data;
        sup_reason why = { .kind = IPC_REASON_NORMAL };
        if (purge(n, e, &why))
                sup_reason_done(&why);
        if (n->ctl && n->ctl->entry == e)
                n->ctl->entry = NULL;
        op->child->data = NULL;
        entry_free(e);
}

static void op_retry(sup_node *n, const sup_op *op) {
        sup_entry *e = op->child->data;
        e->retry = sd_event_source_disable_unref(e->retry);
        e->retry_id = op->retry_id;
        int r;
        if (op->delay_usec > 0)
                r = sd_event_add_time_relative(n->env->proc.event, &e->retry, CLOCK_MONOTONIC, op->delay_usec, 1000,
                                               on_retry, e);
        else
                r = sd_event_add_defer(n->env->proc.event, &e->retry, on_retry_defer, e);
        if (r < 0)
                sup_log_errno(LOG_ERR, r, "%s: scheduling a restart: %m", e->name);
        else if (e->shortage)
                sup_log_errno(LOG_WARNING, e->shortage,
                              "%s: no resources to start it (%m): retrying in %llu ms, not counted toward the "
                              "restart intensity",
                              e->name, (unsigned long long) (op->delay_usec / 1000));
        if (r >= 0)
                /* After the events already queued: OTP's try_again_restart is a
                 * message to itself. */
                (void) sd_event_source_set_priority(e->retry, SD_EVENT_PRIORITY_IDLE);
}

static int on_tell(sd_event_source *s, void *userdata);

static void finish(sup_node *n, const sup_op *op) {
        n->finished = true;
        n->failed = op->kind == SUP_OP_ESCALATE || op->kind == SUP_OP_BOOT_FAILED;
        sup_reason_done(&n->exit_reason);
        if (sup_op_exit_reason(op, &n->exit_reason) < 0)
                n->exit_reason = (sup_reason) { .kind = IPC_REASON_SHUTDOWN };
        n->tell = sd_event_source_disable_unref(n->tell);
        if (sd_event_add_defer(n->env->proc.event, &n->tell, on_tell, n) < 0)
                sup_log(LOG_CRIT, "%s: cannot post its end", n->spec->name);
}

static void run_op(sup_node *n, sup_op *op) {
        sup_entry *e = op->child ? op->child->data : NULL;

        switch (op->kind) {
        case SUP_OP_REPORT:
                report(n, op->context, op->reason, e);
                break;
        case SUP_OP_STOP:
                op_stop(n, e);
                break;
        case SUP_OP_START:
                if (!e && !(e = entry_new(n, op->child, op->child->spec, NULL))) {
                        const sup_plan *plan;
                        /* A static text: no memory to copy one. */
                        sup_reason oom = { .kind = IPC_REASON_ERROR, .text = (char *) "out of memory" };
                        int r = sup_core_start_result(n->core, op->child, SUP_START_NO_RESOURCES, &oom, sup_mono_usec(),
                                                      random_fraction(), &plan);
                        install_result(n, r, plan, "start result");
                        break;
                }
                op_start(n, e, op->solo);
                break;
        case SUP_OP_DROP:
                op_drop(n, op);
                break;
        case SUP_OP_RETRY:
                op_retry(n, op);
                break;
        case SUP_OP_ESCALATE:
        case SUP_OP_AUTO_SHUTDOWN:
        case SUP_OP_BOOT_FAILED:
        case SUP_OP_SHUTDOWN:
                finish(n, op);
                break;
        case _SUP_OP_KIND_MAX:
                break;
        }
}

static bool busy(const sup_node *n) {
        if (n->awaiting_start)
                return true;
        if (n->waiting_stops == 0)
                return false;
        /* Parallel STOPs go out together. */
        return !(n->parallel && n->next < n->n_ops && n->ops[n->next].kind == SUP_OP_STOP);
}

static bool owned_by(const void *entry, const void *node) {
        return ((const sup_entry *) entry)->owner == node;
}

static sup_entry *find_here(sup_node *n, const char *name) {
        return sup_namemap_get_where(n->names, name, owned_by, n);
}

/* Hands a request to the core; the plan it gives runs next, and the
 * request is answered once that plan is done (ctl_complete). */
static void start_ctl(sup_node *n, ctl_request *c) {
        const sup_plan *plan = NULL;
        sup_child *child = NULL;
        sup_entry *e = NULL;
        int r;

        switch (c->kind) {
        case SUP_CTL_START_CHILD:
                if (!(e = entry_new(n, NULL, c->spec, NULL))) {
                        r = -ENOMEM;
                        break;
                }
                r = sup_core_start_child(n->core, c->spec, e, &plan, &child);
                if (r < 0) {
                        entry_free(e);   /* frees nothing of c's: the spec is still c's */
                        break;
                }
                if (!c->spec_borrowed)
                        e->owned_spec = c->spec;
                c->spec = NULL;
                e->core = child;
                c->entry = e;
                break;
        case SUP_CTL_START_INSTANCE: {
                if (n->spec->strategy != SUP_SIMPLE_ONE_FOR_ONE || n->spec->n_children != 1) {
                        r = -EOPNOTSUPP;
                        break;
                }
                /* <template>-N, skipping names the tree already has (a
                 * config may name a child "conn-2" too). */
                sup_node *root = n;
                while (root->parent)
                        root = root->parent;
                char name[SUP_NAME_MAX + 32];
                do
                        snprintf(name, sizeof(name), "%s-%llu", n->spec->children[0]->name,
                                 (unsigned long long) ++n->instances);
                while (sup_namemap_get(n->names, name) || sup_tree_find_node(root, name));
                if (!(e = entry_new(n, NULL, n->spec->children[0], name))) {
                        r = -ENOMEM;
                        break;
                }
                e->args = c->args;
                c->args = NULL;
                r = sup_core_start_instance(n->core, e, &plan, &child);
                if (r < 0) {
                        entry_free(e);
                        break;
                }
                e->core = child;
                c->entry = e;
                break;
        }
        case SUP_CTL_TERMINATE_CHILD:
        case SUP_CTL_STOP_FOR_RESTART:
                if (n->spec->strategy == SUP_SIMPLE_ONE_FOR_ONE) {
                        e = find_here(n, c->name);
                        r = e ? sup_core_terminate_instance(n->core, e->core, &plan) : -ENOENT;
                } else
                        r = sup_core_terminate_child(n->core, c->name, &plan);
                break;
        case SUP_CTL_RESTART_CHILD:
                r = sup_core_restart_child(n->core, c->name, &plan);
                if (r >= 0)
                        c->entry = find_here(n, c->name);
                break;
        case SUP_CTL_DELETE_CHILD:
                r = sup_core_delete_child(n->core, c->name, &plan);
                break;
        default:
                r = -EINVAL;
                break;
        }
        if (r < 0) {
                ctl_finish(c, r, NULL, 0, NULL);
                return;
        }
        n->last_start = SUP_START_OK;
        sup_reason_done(&n->last_start_failure);
        if (c->entry)
                c->started = strdup(c->entry->name);
        install_result(n, r, plan, "request");
        n->ctl = c;
}

/* The answer to a start that did not succeed: why, spelled (a frame). */
static void ctl_finish_failed(ctl_request *c, const sup_node *n) {
        char *why = n->last_start != SUP_START_IGNORE ? sup_reason_to_string(&n->last_start_failure) : NULL;
        ctl_finish(c, -EIO, c->started, 0, why ? why : "undefined");
        free(why);
}

static void ctl_complete(sup_node *n) {
        ctl_request *c = n->ctl;
        n->ctl = NULL;
        switch (c->kind) {
        case SUP_CTL_START_CHILD:
        case SUP_CTL_START_INSTANCE:
        case SUP_CTL_RESTART_CHILD:
                /* An ignore is OTP's {ok,undefined}, also when the child was
                 * then dropped (temporary, an instance). */
                if (n->last_start == SUP_START_IGNORE)
                        ctl_finish(c, 0, c->started, 0, "ignore");
                else if (c->entry && c->entry->core && c->entry->core->state == SUP_CHILD_RUNNING)
                        ctl_finish(c, 0, c->entry->name, sup_entry_pid(c->entry), NULL);
                else
                        ctl_finish_failed(c, n);
                break;
        default:
                ctl_finish(c, 0, c->name, 0, NULL);
                break;
        }
}

static void handle_event(sup_node *n, node_event *ev) {
        const sup_plan *plan = NULL;
        int r;

        switch (ev->kind) {
        case EV_EXITED:
                r = sup_core_exited(n->core, ev->entry->core, &ev->reason, sup_mono_usec(), random_fraction(), &plan);
                install_result(n, r, plan, "child exit");
                break;
        case EV_RETRY:
                r = sup_core_retry(n->core, ev->entry->core, ev->retry_id, &plan);
                install_result(n, r, plan, "restart");
                break;
        case EV_SHUTDOWN:
                r = sup_core_shutdown(n->core, &plan);
                install_result(n, r, plan, "shutdown");
                break;
        case EV_CTL:
                start_ctl(n, ev->ctl);
                ev->ctl = NULL;
                break;
        case EV_STARTED:
                start_result(n, ev->entry, ev->result, ev->result == SUP_START_OK ? NULL : &ev->reason);
                break;
        case _EV_MAX:
                break;
        }
}

static void maybe_tell_booted(sup_node *n) {
        if (n->boot_told || n->finished || n->next < n->n_ops || busy(n) || sup_core_starting(n->core))
                return;
        n->boot_told = true;
        n->tell = sd_event_source_disable_unref(n->tell);
        if (sd_event_add_defer(n->env->proc.event, &n->tell, on_tell, n) < 0)
                sup_log(LOG_CRIT, "%s: cannot post its start", n->spec->name);
}

/* Once a plan is carried out, a worker left stopped will not be started
 * again by this supervisor (terminated by request, a transient child's
 * clean exit): the socket gensupd held for it goes, so that clients
 * fail at once (OTP's noproc) rather than wait in the backlog. Children
 * between a stop and their restart are restarting, not stopped. */
static void release_socket_of(sup_node *n, sup_entry *e) {
        sup_child *c = e->core;
        bool restarting = n->ctl && n->ctl->kind == SUP_CTL_STOP_FOR_RESTART && strcmp(n->ctl->name, e->name) == 0;
        if (c && e->proc && !e->stopping && c->state == SUP_CHILD_STOPPED && !restarting)
                sup_proc_release_socket(e->proc);
}

/* Only the children that went down are looked at: O(1) per exit. */
static void release_sockets(sup_node *n) {
        if ((n->n_down == 0 && !n->down_lost) || n->next < n->n_ops || busy(n))
                return;
        if (n->down_lost)
                for (sup_child *c = sup_core_first(n->core); c; c = c->next)
                        if (c->data)
                                release_socket_of(n, c->data);
        for (size_t i = 0; i < n->n_down; i++) {
                sup_entry *e = find_here(n, n->went_down[i]);
                if (e)
                        release_socket_of(n, e);
                free(n->went_down[i]);
        }
        n->n_down = 0;
        n->down_lost = false;
}

/* Notes that e went down, for release_sockets. */
static void note_went_down(sup_node *n, const sup_entry *e) {
        if (n->n_down == n->cap_down) {
                size_t cap = n->cap_down ? 2 * n->cap_down : 8;
                char **v = reallocarray(n->went_down, cap, sizeof(*v));
                if (!v) {
                        n->down_lost = true;
                        return;
                }
                n->went_down = v;
                n->cap_down = cap;
        }
        char *name = strdup(e->name);
        if (!name) {
                n->down_lost = true;
                return;
        }
        n->went_down[n->n_down++] = name;
}

/* Carries the plan forward until it has to wait, then feeds queued
 * events one by one. */
static void node_run(sup_node *n) {
        if (n->running)
                return;
        n->running = true;
        while (!n->finished && !busy(n)) {
                if (n->next < n->n_ops) {
                        sup_op *op = &n->ops[n->next++];
                        run_op(n, op);
                        continue;
                }
                if (n->waiting_stops > 0)
                        break;
                if (n->ctl) {
                        /* Before the answer: a terminated child's name
                         * is gone by the time its requester hears. */
                        release_sockets(n);
                        ctl_complete(n);
                        continue;
                }
                /* A ctl request waits for the solo starts under way. */
                if (n->queue && n->queue->kind == EV_CTL && sup_core_solo_starts(n->core) > 0)
                        break;
                node_event *ev = dequeue(n);
                if (!ev)
                        break;
                handle_event(n, ev);
                event_free(ev);
        }
        n->running = false;
        release_sockets(n);
        maybe_tell_booted(n);
}

/* ---- what processes tell us ---- */

static void stop_done(sup_node *n, sup_entry *e, const sup_reason *reason) {
        e->stopping = false;
        n->waiting_stops--;
        /* Every stop the plan made (a terminate-child, siblings that
         * one_for_all or rest_for_one take down, the tree's stop). */
        tell_event(n, "stopped", e, reason);
        if (reason && sup_shutdown_error_due(e->spec, reason))
                report(n, SUP_REPORT_SHUTDOWN_ERROR, reason, e);
        node_run(n);
}

/* A solo START's result: fed before the events deferred meanwhile, as
 * OTP's start_link returns before the supervisor reads its mailbox. */
static void solo_result(sup_node *n, sup_entry *e, sup_start_result result, const sup_reason *reason) {
        e->solo_start = false;
        node_event *ev = enqueue(n, EV_STARTED, e, reason, 0, true);
        if (ev)
                ev->result = result;
        node_run(n);
}

/* A start the spawner thread could not make (SPAWN_FAILED): as a start
 * that failed at once in op_start, told now. */
static void spawn_failed(sup_node *n, sup_entry *e, int r) {
        sup_reason reason;
        no_process(e, r, &reason);
        if (e->stopping) {
                /* Stopped while spawning: the stop is done, as for an exit. */
                note_went_down(n, e);
                e->solo_start = false;
                stop_done(n, e, NULL);
        } else if (e->solo_start) {
                solo_result(n, e, start_failure(e, r), &reason);
        } else if (n->awaiting_start == e) {
                start_result(n, e, start_failure(e, r), &reason);
                node_run(n);
        }
        sup_reason_done(&reason);
}

static void on_proc(sup_proc *p, sup_proc_outcome outcome, const sup_reason *reason, bool requested,
                    void *userdata) {
        sup_entry *e = userdata;
        sup_node *n = e->owner;

        switch (outcome) {
        case SUP_PROC_OUTCOME_SPAWNED:
                note_pid(n, e);
                return;
        case SUP_PROC_OUTCOME_SPAWN_FAILED:
                spawn_failed(n, e, sup_proc_spawn_error(p));
                return;
        case SUP_PROC_OUTCOME_READY:
                if (n->awaiting_start == e) {
                        tell_event(n, "started", e, NULL);
                        start_result(n, e, SUP_START_OK, NULL);
                        node_run(n);
                } else if (e->solo_start) {
                        tell_event(n, "started", e, NULL);
                        solo_result(n, e, SUP_START_OK, NULL);
                }
                return;
        case SUP_PROC_OUTCOME_START_FAILED:
                record_exit(e, e->stopping ? SUP_EXIT_SHUTDOWN : SUP_EXIT_START_ERROR, reason);
                break;
        case SUP_PROC_OUTCOME_IGNORED:
                record_exit(e, SUP_EXIT_IGNORED, &(sup_reason) { .kind = IPC_REASON_NORMAL });
                break;
        case SUP_PROC_OUTCOME_EXITED:
                record_exit(e,
                            !requested                                  ? SUP_EXIT_CHILD_TERMINATED
                            : sup_shutdown_error_due(e->spec, reason) ? SUP_EXIT_SHUTDOWN_ERROR
                                                                        : SUP_EXIT_SHUTDOWN,
                            reason);
                break;
        case _SUP_PROC_OUTCOME_MAX:
                return;
        }
        /* The process is gone: its pid is no longer this entry's. */
        sup_pidmap_remove(n->pids, e->last_pid, e);
        note_went_down(n, e);

        if (e->stopping) {
                e->solo_start = false;
                stop_done(n, e, outcome == SUP_PROC_OUTCOME_EXITED ? reason : NULL);
                return;
        }
        if (e->solo_start) {
                solo_result(n, e, outcome == SUP_PROC_OUTCOME_IGNORED ? SUP_START_IGNORE : SUP_START_FAILED, reason);
                return;
        }
        if (n->awaiting_start == e) {
                start_result(n, e, outcome == SUP_PROC_OUTCOME_IGNORED ? SUP_START_IGNORE : SUP_START_FAILED, reason);
                node_run(n);
                return;
        }
        if (outcome == SUP_PROC_OUTCOME_EXITED) {
                tell_event(n, "exited", e, reason);
                enqueue(n, EV_EXITED, e, reason, 0, false);
                node_run(n);
        }
}

static void root_finished(sup_node *n) {
        char *text = sup_reason_to_string(&n->exit_reason);
        n->env->root_finished(n->env->userdata, text ? text : "shutdown", n->failed);
        free(text);
}

/* A nested node has booted or finished: tell its parent (or the daemon),
 * from the loop, never from inside the node's own run. */
static int on_tell(sd_event_source *s, void *userdata) {
        sup_node *n = userdata;
        sup_node *p = n->parent;
        sup_entry *e = n->as_entry;

        n->tell = sd_event_source_disable_unref(n->tell);
        if (!p) {
                if (n->finished)
                        root_finished(n);
                else if (n->env->event)
                        n->env->event(n->env->userdata, "tree_ready", NULL, NULL);
                return 0;
        }

        if (!n->finished) {
                if (p->awaiting_start == e) {
                        tell_event(p, "started", e, NULL);
                        start_result(p, e, SUP_START_OK, NULL);
                        node_run(p);
                }
                return 0;
        }

        sup_reason reason = n->exit_reason;
        bool failed_boot = p->awaiting_start == e;
        n->exit_reason = (sup_reason) { .kind = IPC_REASON_NORMAL };
        /* Unhooked first: freeing it answers its queued requests, and
         * those callbacks may look at the tree. */
        node_free(take_sub(e));
        if (e->stopping) {
                record_exit(e, SUP_EXIT_SHUTDOWN, &reason);
                stop_done(p, e, &reason);
        } else if (failed_boot) {
                record_exit(e, SUP_EXIT_START_ERROR, &reason);
                start_result(p, e, SUP_START_FAILED, &reason);
                node_run(p);
        } else {
                record_exit(e, SUP_EXIT_CHILD_TERMINATED, &reason);
                tell_event(p, "exited", e, &reason);
                enqueue(p, EV_EXITED, e, &reason, 0, false);
                node_run(p);
        }
        sup_reason_done(&reason);
        return 0;
}

/* ---- nodes ---- */

static int node_new(const sup_tree_env *env, const sup_spec *spec, sup_node *parent, sup_entry *as_entry,
                    sup_node **ret) {
        sup_node *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->env = env;
        n->spec = spec;
        n->parent = parent;
        n->as_entry = as_entry;
        n->pids = parent ? parent->pids : &n->root_pids;
        n->names = parent ? parent->names : &n->root_names;
        int r = sup_core_new(spec, &n->core);
        if (r < 0) {
                free(n);
                return r;
        }
        for (sup_child *c = sup_core_first(n->core); c; c = c->next)
                if (!entry_new(n, c, c->spec, NULL)) {
                        node_free(n);
                        return -ENOMEM;
                }
        *ret = n;
        return 0;
}

static sup_node *node_free(sup_node *n) {
        if (!n)
                return NULL;
        for (sup_child *c = sup_core_first(n->core); c; c = c->next) {
                if (c->data)
                        record_put(n, c->data);
                c->data = entry_free(c->data);
        }
        node_event *ev;
        while ((ev = dequeue(n)))
                event_free(ev);
        install(n, &(sup_plan) { 0 });
        if (n->ctl)
                ctl_finish(n->ctl, -ECANCELED, NULL, 0, "the supervisor stopped");
        sup_reason_done(&n->last_start_failure);
        sd_event_source_disable_unref(n->tell);
        sup_core_free(n->core);
        sup_reason_done(&n->exit_reason);
        sup_pidmap_done(&n->root_pids);
        for (size_t i = 0; i < n->records.cap; i++)
                if (n->records.slots[i].name)
                        record_free(n->records.slots[i].value);
        sup_namemap_done(&n->records);
        sup_namemap_done(&n->root_names);
        for (size_t i = 0; i < n->n_down; i++)
                free(n->went_down[i]);
        free(n->went_down);
        free(n);
        return NULL;
}

static int node_boot(sup_node *n) {
        const sup_plan *plan;
        int r = sup_core_boot(n->core, &plan);
        if (r < 0)
                return r;
        r = install(n, plan);
        if (r < 0)
                return r;
        node_run(n);
        return 0;
}

static int start_sub(sup_node *n, sup_entry *e) {
        sup_node *sub;
        int r = node_new(n->env, e->spec, n, e, &sub);
        if (r < 0)
                return r;
        set_sub(e, sub);
        r = node_boot(sub);
        if (r < 0)
                node_free(take_sub(e));
        return r;
}

int sup_tree_start(const sup_tree_env *env, const sup_spec *root, sup_node **ret) {
        sup_node *n;
        int r = node_new(env, root, NULL, NULL, &n);
        if (r < 0)
                return r;
        *ret = n;
        r = node_boot(n);
        if (r < 0) {
                *ret = node_free(n);
                return r;
        }
        return 0;
}

void sup_tree_stop(sup_node *n) {
        if (n->finished)
                return;
        if (n->awaiting_start && !n->running) {
                /* The core takes a shutdown while a start is awaited; that
                 * child is stopped by the plan, and its result is not fed. */
                const sup_plan *plan;
                int r = sup_core_shutdown(n->core, &plan);
                if (r >= 0) {
                        n->awaiting_start = NULL;
                        install_result(n, r, plan, "shutdown");
                        node_run(n);
                        return;
                }
        }
        enqueue(n, EV_SHUTDOWN, NULL, NULL, 0, true);
        node_run(n);
}

sup_node *sup_tree_free(sup_node *root) {
        return node_free(root);
}

static int tree_ctl(sup_node *n, sup_ctl_kind kind, const char *name, sup_spec *spec, bool borrowed,
                    char *const *args, sup_ctl_done done, void *userdata) {
        ctl_request *c = calloc(1, sizeof(*c));
        if (!c) {
                if (!borrowed)
                        sup_spec_free(spec);
                return -ENOMEM;
        }
        *c = (ctl_request) {
                .kind = kind, .spec = spec, .spec_borrowed = borrowed, .done = done, .userdata = userdata,
        };
        if ((name && !(c->name = strdup(name))) || (args && !(c->args = sup_strv_copy(args)))) {
                ctl_free(c);
                return -ENOMEM;
        }
        if (n->finished) {
                ctl_finish(c, -ESHUTDOWN, NULL, 0, "the supervisor has stopped");
                return 0;
        }
        node_event *ev = calloc(1, sizeof(*ev));
        if (!ev) {
                ctl_free(c);
                return -ENOMEM;
        }
        *ev = (node_event) { .kind = EV_CTL, .ctl = c };
        if (n->queue_tail)
                n->queue_tail->next = ev;
        else
                n->queue = ev;
        n->queue_tail = ev;
        node_run(n);
        return 0;
}

int sup_tree_ctl(sup_node *n, sup_ctl_kind kind, const char *name, sup_spec *spec, char *const *args,
                 sup_ctl_done done, void *userdata) {
        return tree_ctl(n, kind, name, spec, false, args, done, userdata);
}

int sup_tree_start_spec(sup_node *n, const sup_spec *spec, sup_ctl_done done, void *userdata) {
        return tree_ctl(n, SUP_CTL_START_CHILD, NULL, (sup_spec *) spec, true, NULL, done, userdata);
}

bool sup_entry_is_dynamic(const sup_entry *e) {
        return e->owned_spec || e->owner->spec->strategy == SUP_SIMPLE_ONE_FOR_ONE;
}

void sup_tree_ctl_cancel(sup_node *n, void *userdata) {
        if (!n)
                return;
        if (n->ctl && n->ctl->userdata == userdata)
                n->ctl->done = NULL;
        for (node_event *ev = n->queue; ev; ev = ev->next)
                if (ev->ctl && ev->ctl->userdata == userdata)
                        ev->ctl->done = NULL;
        /* Only nested supervisors hold requests: a flat tree costs nothing. */
        for (sup_child *c = n->n_subs > 0 ? sup_core_first(n->core) : NULL; c; c = c->next) {
                sup_entry *e = c->data;
                if (e && e->sub)
                        sup_tree_ctl_cancel(e->sub, userdata);
        }
}

sup_node *sup_tree_find_node(sup_node *n, const char *name) {
        if (strcmp(n->spec->name, name) == 0)
                return n;
        for (sup_child *c = n->n_subs > 0 ? sup_core_first(n->core) : NULL; c; c = c->next) {
                sup_entry *e = c->data;
                sup_node *found = e && e->sub ? sup_tree_find_node(e->sub, name) : NULL;
                if (found)
                        return found;
        }
        return NULL;
}

sup_entry *sup_tree_find_pid(sup_node *root, pid_t pid) {
        sup_entry *e = sup_pidmap_get(root->pids, pid);
        return e && e->proc && sup_proc_pid(e->proc) == pid ? e : NULL;
}

sup_entry *sup_tree_find(sup_node *root, const char *name) {
        return sup_namemap_get(root->names, name);
}

/* ---- reading ---- */

const char *sup_node_name(const sup_node *n) {
        return n->spec->name;
}

const sup_spec *sup_node_spec(const sup_node *n) {
        return n->spec;
}

sup_core *sup_node_core(const sup_node *n) {
        return n->core;
}

sup_entry *sup_node_entry(const sup_node *n) {
        return n->as_entry;
}

const char *sup_entry_name(const sup_entry *e) {
        return e->name;
}

const sup_spec *sup_entry_spec(const sup_entry *e) {
        return e->spec;
}

sup_child *sup_entry_core(const sup_entry *e) {
        return e->core;
}

sup_proc *sup_entry_proc(const sup_entry *e) {
        return e->proc;
}

void sup_entry_adopt(sup_entry *e, sup_proc *p) {
        sup_pidmap_remove(e->owner->pids, e->last_pid, e);
        e->proc = p;
        e->last_pid = sup_proc_pid(p);
        if (sup_pidmap_put(e->owner->pids, e->last_pid, e) < 0)
                sup_log(LOG_WARNING, "%s: out of memory mapping pid %d", e->name, (int) e->last_pid);
        tell_event(e->owner, "upgraded", e, NULL);
}

void sup_entry_record(sup_entry *e, sup_exit_context context, pid_t pid, const sup_reason *reason) {
        pid_t last = e->last_pid;
        e->last_pid = pid;
        record_exit(e, context, reason);
        e->last_pid = last;
}

sup_node *sup_entry_node(const sup_entry *e) {
        return e->sub;
}

sup_node *sup_entry_owner(const sup_entry *e) {
        return e->owner;
}

/* A worker whose process is gone counts as stopping while its cgroup is
 * emptied, then as stopped until its supervisor has taken the exit in,
 * so that status never shows a running child without a pid. */
static bool exit_pending(const sup_entry *e) {
        return e->core->state == SUP_CHILD_RUNNING && e->spec->type == SUP_WORKER && sup_entry_pid(e) == 0;
}

const char *sup_entry_state(const sup_entry *e) {
        if (e->stopping)
                return "stopping";
        if (exit_pending(e))
                return e->proc && sup_proc_get_state(e->proc) == SUP_PROC_DRAINING ? "stopping" : "stopped";
        switch (e->core->state) {
        case SUP_CHILD_RESTARTING:
                return "restarting";
        case SUP_CHILD_STARTING:
                return "starting";
        case SUP_CHILD_STOPPED:
                return "stopped";
        case SUP_CHILD_RUNNING:
                return "running";
        case _SUP_CHILD_STATE_MAX:
                break;
        }
        return "unknown";
}

pid_t sup_entry_pid(const sup_entry *e) {
        if (e->proc && sup_proc_get_state(e->proc) != SUP_PROC_DOWN)
                return sup_proc_pid(e->proc);
        return 0;
}

pid_t sup_entry_last_pid(const sup_entry *e) {
        return e->last_pid;
}

uint64_t sup_entry_uptime_ms(const sup_entry *e, uint64_t now) {
        if (e->core->state != SUP_CHILD_RUNNING || exit_pending(e) || e->core->started_at_usec == 0 ||
            now < e->core->started_at_usec)
                return 0;
        return (now - e->core->started_at_usec) / 1000u;
}

char *const *sup_entry_args(const sup_entry *e) {
        return e->args;
}

const sup_reason *sup_entry_last_reason(const sup_entry *e) {
        if (e->hist_len == 0)
                return NULL;
        return &e->history[(e->hist_next + SUP_HISTORY_MAX - 1) % SUP_HISTORY_MAX].reason;
}

const uint64_t *sup_entry_exit_counts(const sup_entry *e) {
        return e->exits;
}

void sup_entry_history_copy(const sup_entry *e, sup_exit_record *out, size_t *n) {
        size_t start = (e->hist_next + SUP_HISTORY_MAX - e->hist_len) % SUP_HISTORY_MAX;
        for (size_t i = 0; i < e->hist_len; i++)
                out[i] = e->history[(start + i) % SUP_HISTORY_MAX];
        *n = e->hist_len;
}
