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
#include "strv.h"
#include "tree.h"

typedef enum node_event_kind {
        EV_EXITED,     /* a running child ended on its own */
        EV_RETRY,      /* a RETRY op's time has come */
        EV_SHUTDOWN,   /* stop the node */
        EV_CTL,        /* a gensupctl request */
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
        char *reason;
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
        sd_event_source *retry;
        uint64_t retry_id;
        pid_t last_pid;
        sup_spec *owned_spec;          /* made for start_child: freed with the entry */
        char **args;                   /* simple_one_for_one: extra arguments */
        sup_spec *instance_spec;       /* simple_one_for_one: the template under the instance's name
                                        * (a shallow copy: only name is its own) */
        sup_exit_record *history;      /* a ring of SUP_HISTORY_MAX, made at the first exit */
        size_t hist_next, hist_len;
};

struct sup_node {
        const sup_tree_env *env;
        sup_node *parent;
        sup_entry *as_entry;           /* this node's entry in its parent; NULL for the root */
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
        char *exit_reason;
        sd_event_source *tell;         /* posts boot completion or the end to the parent */
        uint64_t instances;            /* simple_one_for_one names */
        ctl_request *ctl;              /* the request being carried out */
        char *last_start_failure;
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

static void report(sup_node *n, const char *context, const char *reason, sup_entry *e) {
        char sd[24];
        sup_report r = {
                .supervisor = n->spec->name,
                .context = context,
                .reason = reason ? reason : "undefined",
                .child = e ? e->name : "undefined",
                .pid = e ? e->last_pid : 0,
                .restart = e ? sup_restart_to_string(e->spec->restart) : "undefined",
                .shutdown = e ? shutdown_text(e->spec, sd) : "undefined",
                .type = e && e->spec->type == SUP_SUPERVISOR ? "supervisor" : "worker",
        };
        sup_log_report(&r);
        if (n->env->event)
                n->env->event(n->env->userdata, context, e, reason);
}

static void record_exit(sup_entry *e, const char *context, const char *reason) {
        /* Most children never exit: their history costs nothing. */
        if (!e->history && !(e->history = calloc(SUP_HISTORY_MAX, sizeof(sup_exit_record))))
                return;
        sup_exit_record *r = &e->history[e->hist_next];
        free(r->reason);
        *r = (sup_exit_record) {
                .realtime_usec = sup_real_usec(),
                .pid = e->last_pid,
                .context = context,
                .reason = strdup(reason ? reason : "undefined"),
        };
        e->hist_next = (e->hist_next + 1) % SUP_HISTORY_MAX;
        if (e->hist_len < SUP_HISTORY_MAX)
                e->hist_len++;
}

/* ---- the queue ---- */

static void enqueue(sup_node *n, node_event_kind kind, sup_entry *e, const char *reason, uint64_t retry_id,
                    bool front) {
        node_event *ev = calloc(1, sizeof(*ev));
        if (!ev) {
                sup_log(LOG_CRIT, "out of memory queueing an event for %s", n->spec->name);
                return;
        }
        *ev = (node_event) { .kind = kind, .entry = e, .retry_id = retry_id };
        if (reason && !(ev->reason = strdup(reason))) {
                free(ev);
                sup_log(LOG_CRIT, "out of memory queueing an event for %s", n->spec->name);
                return;
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
        free(ev->reason);
        free(ev);
}

/* Removes the queued events about e. Returns the reason of an exit among
 * them (the caller frees it), or NULL. */
static char *purge(sup_node *n, sup_entry *e) {
        char *exit_reason = NULL;
        node_event **p = &n->queue;
        n->queue_tail = NULL;
        while (*p) {
                node_event *ev = *p;
                if (ev->entry == e) {
                        if (ev->kind == EV_EXITED && !exit_reason) {
                                exit_reason = ev->reason;
                                ev->reason = NULL;
                        }
                        *p = ev->next;
                        event_free(ev);
                        continue;
                }
                n->queue_tail = ev;
                p = &ev->next;
        }
        return exit_reason;
}

/* ---- entries ---- */

static void on_proc(sup_proc *p, sup_proc_outcome outcome, const char *reason, bool requested, void *userdata);

static sup_entry *entry_new(sup_node *n, sup_child *core, const sup_spec *spec, const char *instance_name) {
        sup_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->owner = n;
        e->core = core;
        e->spec = spec;
        e->name = strdup(instance_name ? instance_name : spec->name);
        if (!e->name) {
                free(e);
                return NULL;
        }
        if (core)
                core->data = e;
        return e;
}

static sup_entry *entry_free(sup_entry *e) {
        if (!e)
                return NULL;
        sd_event_source_disable_unref(e->retry);
        sup_proc_free(e->proc);
        e->sub = node_free(e->sub);
        sup_spec_free(e->owned_spec);
        if (e->instance_spec) {
                free(e->instance_spec->name);
                free(e->instance_spec);
        }
        sup_strv_free(e->args);
        for (size_t i = 0; e->history && i < SUP_HISTORY_MAX; i++)
                free(e->history[i].reason);
        free(e->history);
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

static int install(sup_node *n, const sup_plan *plan) {
        for (size_t i = 0; i < n->n_ops; i++)
                free((char *) n->ops[i].reason);
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
                        n->ops[i].reason = strdup(plan->ops[i].reason);
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

static void start_result(sup_node *n, sup_entry *e, sup_start_result result, const char *reason) {
        const sup_plan *plan;
        n->awaiting_start = NULL;
        if (result != SUP_START_OK) {
                free(n->last_start_failure);
                n->last_start_failure = strdup(result == SUP_START_IGNORE ? "ignore" : reason ? reason : "undefined");
        }
        int r = sup_core_start_result(n->core, e->core, result, reason, sup_mono_usec(), random_fraction(), &plan);
        install_result(n, r, plan, "start result");
}

static int start_sub(sup_node *n, sup_entry *e);

static void op_start(sup_node *n, sup_entry *e) {
        if (e->spec->type == SUP_SUPERVISOR) {
                n->awaiting_start = e;
                int r = start_sub(n, e);
                if (r < 0) {
                        char reason[128];
                        snprintf(reason, sizeof(reason), "{error,%s}", strerror(-r));
                        start_result(n, e, SUP_START_FAILED, reason);
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
                char reason[160];
                snprintf(reason, sizeof(reason), "{init_failed,%s}", strerror(-r));
                record_exit(e, "start_error", reason);
                start_result(n, e, SUP_START_FAILED, reason);
                return;
        }
        e->last_pid = sup_proc_pid(e->proc);
        n->awaiting_start = e;
}

static void op_stop(sup_node *n, sup_entry *e) {
        if (entry_is_down(e)) {
                /* It ended on its own before we got to it: that exit is this
                 * STOP's completion, as OTP's supervisor takes it. */
                char *why = purge(n, e);
                /* As OTP's shutdown/2 finds the child already dead: its real
                 * reason, reported unless it is one a stop expects. */
                if (why && sup_shutdown_error_due(e->spec, why))
                        report(n, "shutdown_error", why, e);
                free(why);
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
        free(purge(n, e));
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
        else
                /* After the events already queued: OTP's try_again_restart is a
                 * message to itself. */
                (void) sd_event_source_set_priority(e->retry, SD_EVENT_PRIORITY_IDLE);
}

static int on_tell(sd_event_source *s, void *userdata);

static void finish(sup_node *n, const sup_op *op) {
        char reason[512];
        if (sup_op_exit_reason(op, reason, sizeof(reason)) < 0)
                snprintf(reason, sizeof(reason), "shutdown");
        n->finished = true;
        n->failed = op->kind == SUP_OP_ESCALATE || op->kind == SUP_OP_BOOT_FAILED;
        free(n->exit_reason);
        n->exit_reason = strdup(reason);
        n->tell = sd_event_source_disable_unref(n->tell);
        if (sd_event_add_defer(n->env->proc.event, &n->tell, on_tell, n) < 0)
                sup_log(LOG_CRIT, "%s: cannot post its end", n->spec->name);
}

static void run_op(sup_node *n, sup_op *op) {
        sup_entry *e = op->child ? op->child->data : NULL;

        switch (op->kind) {
        case SUP_OP_REPORT:
                report(n, sup_report_context_to_string(op->context), op->reason, e);
                break;
        case SUP_OP_STOP:
                op_stop(n, e);
                break;
        case SUP_OP_START:
                if (!e && !(e = entry_new(n, op->child, op->child->spec, NULL))) {
                        const sup_plan *plan;
                        int r = sup_core_start_result(n->core, op->child, SUP_START_FAILED, "{error,out of memory}",
                                                      sup_mono_usec(), random_fraction(), &plan);
                        install_result(n, r, plan, "start result");
                        break;
                }
                op_start(n, e);
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

static sup_entry *find_here(sup_node *n, const char *name) {
        for (sup_child *c = sup_core_first(n->core); c; c = c->next) {
                sup_entry *e = c->data;
                if (e && strcmp(e->name, name) == 0)
                        return e;
        }
        return NULL;
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
                while (sup_tree_find(root, name) || sup_tree_find_node(root, name));
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
        free(n->last_start_failure);
        n->last_start_failure = NULL;
        if (c->entry)
                c->started = strdup(c->entry->name);
        install_result(n, r, plan, "request");
        n->ctl = c;
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
                if (n->last_start_failure && strcmp(n->last_start_failure, "ignore") == 0)
                        ctl_finish(c, 0, c->started, 0, "ignore");
                else if (c->entry && c->entry->core && c->entry->core->state == SUP_CHILD_RUNNING)
                        ctl_finish(c, 0, c->entry->name, sup_entry_pid(c->entry), NULL);
                else
                        ctl_finish(c, -EIO, c->started, 0,
                                   n->last_start_failure ? n->last_start_failure : "undefined");
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
                r = sup_core_exited(n->core, ev->entry->core, ev->reason, sup_mono_usec(), random_fraction(), &plan);
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
                        ctl_complete(n);
                        continue;
                }
                node_event *ev = dequeue(n);
                if (!ev)
                        break;
                handle_event(n, ev);
                event_free(ev);
        }
        n->running = false;
        maybe_tell_booted(n);
}

/* ---- what processes tell us ---- */

static void stop_done(sup_node *n, sup_entry *e, const char *reason) {
        e->stopping = false;
        n->waiting_stops--;
        if (reason && sup_shutdown_error_due(e->spec, reason))
                report(n, "shutdown_error", reason, e);
        node_run(n);
}

static void on_proc(sup_proc *p, sup_proc_outcome outcome, const char *reason, bool requested, void *userdata) {
        sup_entry *e = userdata;
        sup_node *n = e->owner;

        switch (outcome) {
        case SUP_PROC_OUTCOME_READY:
                if (n->awaiting_start == e) {
                        if (n->env->event)
                                n->env->event(n->env->userdata, "started", e, NULL);
                        start_result(n, e, SUP_START_OK, NULL);
                        node_run(n);
                }
                return;
        case SUP_PROC_OUTCOME_START_FAILED:
                record_exit(e, e->stopping ? "shutdown" : "start_error", reason);
                break;
        case SUP_PROC_OUTCOME_IGNORED:
                record_exit(e, "ignored", "normal");
                break;
        case SUP_PROC_OUTCOME_EXITED:
                record_exit(e,
                            !requested                                  ? "child_terminated"
                            : sup_shutdown_error_due(e->spec, reason) ? "shutdown_error"
                                                                        : "shutdown",
                            reason);
                break;
        case _SUP_PROC_OUTCOME_MAX:
                return;
        }

        if (e->stopping) {
                stop_done(n, e, outcome == SUP_PROC_OUTCOME_EXITED ? reason : NULL);
                return;
        }
        if (n->awaiting_start == e) {
                start_result(n, e, outcome == SUP_PROC_OUTCOME_IGNORED ? SUP_START_IGNORE : SUP_START_FAILED, reason);
                node_run(n);
                return;
        }
        if (outcome == SUP_PROC_OUTCOME_EXITED) {
                if (n->env->event)
                        n->env->event(n->env->userdata, "exited", e, reason);
                enqueue(n, EV_EXITED, e, reason, 0, false);
                node_run(n);
        }
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
                        n->env->root_finished(n->env->userdata, n->exit_reason, n->failed);
                else if (n->env->event)
                        n->env->event(n->env->userdata, "tree_ready", NULL, NULL);
                return 0;
        }

        if (!n->finished) {
                if (p->awaiting_start == e) {
                        start_result(p, e, SUP_START_OK, NULL);
                        node_run(p);
                }
                return 0;
        }

        char *reason = n->exit_reason;
        bool failed_boot = p->awaiting_start == e;
        n->exit_reason = NULL;
        /* Unhooked first: freeing it answers its queued requests, and
         * those callbacks may look at the tree. */
        e->sub = NULL;
        node_free(n);
        if (e->stopping) {
                record_exit(e, "shutdown", reason);
                stop_done(p, e, reason);
        } else if (failed_boot) {
                record_exit(e, "start_error", reason);
                start_result(p, e, SUP_START_FAILED, reason);
                node_run(p);
        } else {
                record_exit(e, "child_terminated", reason);
                enqueue(p, EV_EXITED, e, reason, 0, false);
                node_run(p);
        }
        free(reason);
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
                c->data = entry_free(c->data);
        }
        node_event *ev;
        while ((ev = dequeue(n)))
                event_free(ev);
        install(n, &(sup_plan) { 0 });
        if (n->ctl)
                ctl_finish(n->ctl, -ECANCELED, NULL, 0, "the supervisor stopped");
        free(n->last_start_failure);
        sd_event_source_disable_unref(n->tell);
        sup_core_free(n->core);
        free(n->exit_reason);
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
        e->sub = sub;
        r = node_boot(sub);
        if (r < 0)
                e->sub = node_free(sub);
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

static sup_entry *find(sup_node *n, const char *name, pid_t pid) {
        for (sup_child *c = sup_core_first(n->core); c; c = c->next) {
                sup_entry *e = c->data;
                if (!e)
                        continue;
                if (name && strcmp(e->name, name) == 0)
                        return e;
                if (pid > 0 && e->proc && sup_proc_pid(e->proc) == pid)
                        return e;
                if (e->sub) {
                        sup_entry *found = find(e->sub, name, pid);
                        if (found)
                                return found;
                }
        }
        return NULL;
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
        for (sup_child *c = sup_core_first(n->core); c; c = c->next) {
                sup_entry *e = c->data;
                if (e && e->sub)
                        sup_tree_ctl_cancel(e->sub, userdata);
        }
}

sup_node *sup_tree_find_node(sup_node *n, const char *name) {
        if (strcmp(n->spec->name, name) == 0)
                return n;
        for (sup_child *c = sup_core_first(n->core); c; c = c->next) {
                sup_entry *e = c->data;
                sup_node *found = e && e->sub ? sup_tree_find_node(e->sub, name) : NULL;
                if (found)
                        return found;
        }
        return NULL;
}

sup_entry *sup_tree_find_pid(sup_node *root, pid_t pid) {
        return find(root, NULL, pid);
}

sup_entry *sup_tree_find(sup_node *root, const char *name) {
        return find(root, name, 0);
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

sup_node *sup_entry_node(const sup_entry *e) {
        return e->sub;
}

sup_node *sup_entry_owner(const sup_entry *e) {
        return e->owner;
}

const char *sup_entry_state(const sup_entry *e) {
        if (e->stopping)
                return "stopping";
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
        if (e->core->state != SUP_CHILD_RUNNING || e->core->started_at_usec == 0 || now < e->core->started_at_usec)
                return 0;
        return (now - e->core->started_at_usec) / 1000u;
}

char *const *sup_entry_args(const sup_entry *e) {
        return e->args;
}

const char *sup_entry_last_reason(const sup_entry *e) {
        if (e->hist_len == 0)
                return NULL;
        const char *r = e->history[(e->hist_next + SUP_HISTORY_MAX - 1) % SUP_HISTORY_MAX].reason;
        return r ? r : "undefined";
}

void sup_entry_history_copy(const sup_entry *e, sup_exit_record *out, size_t *n) {
        size_t start = (e->hist_next + SUP_HISTORY_MAX - e->hist_len) % SUP_HISTORY_MAX;
        for (size_t i = 0; i < e->hist_len; i++)
                out[i] = e->history[(start + i) % SUP_HISTORY_MAX];
        *n = e->hist_len;
}
