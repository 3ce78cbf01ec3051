/* decide.c: the supervisor's decision core (see decide.h for the contract).
 *
 * Which event applies in which child state; anything else is refused
 * (-ESTALE, or -EBUSY/-EAGAIN/-ENOENT as OTP answers ctl requests):
 *
 *  state       | exited          | start result     | retry          | terminate  | restart_child | delete
 *  ------------+-----------------+------------------+----------------+------------+---------------+--------
 *  STOPPED     | -ESTALE         | -ESTALE          | ignored        | ok, no-op  | START         | DROP
 *  STARTING    | -ESTALE         | by the job below | (-EINPROGRESS) | (-EINPR.)  | (-EINPROGRESS)| (-EINPR.)
 *  RUNNING     | by restart type | -ESTALE          | ignored        | STOP       | -EBUSY        | -EBUSY
 *  RESTARTING  | -ESTALE         | -ESTALE          | group restart  | call off   | -EAGAIN       | -EAGAIN
 *
 * A start result is handled by the job that issued the START:
 *
 *  job          | ok                | ignore                      | failed
 *  -------------+-------------------+-----------------------------+----------------------------------
 *  BOOT         | RUNNING, next     | STOPPED (temporary: DROP),  | start_error, STOP started ones,
 *               |                   | next                        | BOOT_FAILED
 *  GROUP        | RUNNING, next     | STOPPED (temporary and      | start_error, RESTARTING, count:
 *               |                   | instances: DROP), next      | ESCALATE or RETRY
 *  START_CHILD  | RUNNING           | STOPPED (temporary and      | DROP
 *               |                   | instances: DROP)            |
 *  RESTART_CHILD| RUNNING           | STOPPED                     | STOPPED
 *  (solo)       | RUNNING           | STOPPED (temporary and      | start_error, RESTARTING, count:
 *               |                   | instances: DROP)            | ESCALATE or RETRY
 *
 * A solo START (decide.h, 3a) is a group of one, a one_for_one or
 * simple_one_for_one worker restarted on its own: no job waits for it,
 * so exits and retries go on meanwhile; its result is GROUP's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "namemap.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define BACKOFF_CEILING_MS 4294967295.0   /* 2^32-1 ms, about 49 days */

typedef enum sup_job {
        JOB_NONE,
        JOB_BOOT,           /* starting the queued children at boot */
        JOB_GROUP,          /* starting the queued members of a restart group */
        JOB_START_CHILD,    /* ctl start_child / start_instance */
        JOB_RESTART_CHILD,  /* ctl restart_child */
        _JOB_MAX,
} sup_job;

struct sup_core {
        const sup_spec *spec;
        sup_child *first, *last;      /* start order */
        size_t n_children;
        sup_namemap names;            /* spec name -> child (not simple_one_for_one) */
        sup_child *dropped;           /* unlinked by the current plan, freed at the next */

        uint64_t *history;            /* restart times (usec), oldest first, <= intensity + 1 */
        size_t n_history, cap_history;

        sup_job job;
        sup_child *starting;          /* whose start result the job awaits */
        size_t n_solo;                /* children STARTING by a solo START */
        sup_child *solo_last;         /* the latest of them, while its result is due */
        /* The queued children (to be started by the job) all come at or
         * after cursor in start order: finding the next, or unqueueing
         * them all, costs what is queued, not the whole list. */
        sup_child *cursor;
        size_t n_queued;

        sup_op *ops;
        size_t n_ops, cap_ops;
        sup_plan plan;
        sup_reason reason;            /* the plan's copy of the caller's reason ... */
        bool has_reason;              /* ... if it gave one */

        uint64_t next_retry_id;
        bool booted, finished;
};

/* ---- names ---- */

const char *sup_error_to_string(int r) {
        switch (r) {
        case -ENOENT: return "not_found";
        case -EBUSY: return "running";
        case -EAGAIN: return "restarting";
        case -EOPNOTSUPP: return "simple_one_for_one";
        case -EEXIST: return "already_started";
        case -EALREADY: return "already_present";
        default: return NULL;
        }
}

const char *sup_child_state_to_string(sup_child_state s) {
        switch (s) {
        case SUP_CHILD_STOPPED: return "stopped";
        case SUP_CHILD_STARTING: return "starting";
        case SUP_CHILD_RUNNING: return "running";
        case SUP_CHILD_RESTARTING: return "restarting";
        case _SUP_CHILD_STATE_MAX: break;
        }
        return NULL;
}

const char *sup_op_kind_to_string(sup_op_kind k) {
        switch (k) {
        case SUP_OP_REPORT: return "report";
        case SUP_OP_STOP: return "stop";
        case SUP_OP_START: return "start";
        case SUP_OP_DROP: return "drop";
        case SUP_OP_RETRY: return "retry";
        case SUP_OP_ESCALATE: return "escalate";
        case SUP_OP_AUTO_SHUTDOWN: return "auto_shutdown";
        case SUP_OP_BOOT_FAILED: return "boot_failed";
        case SUP_OP_SHUTDOWN: return "shutdown";
        case _SUP_OP_KIND_MAX: break;
        }
        return NULL;
}

const char *sup_report_context_to_string(sup_report_context c) {
        switch (c) {
        case SUP_REPORT_CHILD_TERMINATED: return "child_terminated";
        case SUP_REPORT_START_ERROR: return "start_error";
        case SUP_REPORT_SHUTDOWN_ERROR: return "shutdown_error";
        case SUP_REPORT_SHUTDOWN: return "shutdown";
        case _SUP_REPORT_CONTEXT_MAX: break;
        }
        return NULL;
}

/* ---- pure helpers ---- */

bool sup_reason_is_clean(const sup_reason *reason) {
        return reason && ipc_reason_kind_is_clean(reason->kind);
}

bool sup_shutdown_error_due(const sup_spec *spec, const sup_reason *reason) {
        bool brutal = spec->shutdown_ms == SUP_SHUTDOWN_BRUTAL_KILL;
        bool permanent = spec->restart == SUP_PERMANENT;

        if (!reason)
                return true;
        switch (reason->kind) {
        case IPC_REASON_KILLED:
                return !brutal;
        case IPC_REASON_SHUTDOWN:
                return brutal && permanent;
        case IPC_REASON_NORMAL:
        case IPC_REASON_SHUTDOWN_TEXT:
                return permanent;
        case IPC_REASON_ERROR:
        case IPC_REASON_EXIT_STATUS:
        case IPC_REASON_SIGNAL:
        case IPC_REASON_INIT_FAILED:
        case IPC_REASON_START_TIMEOUT:
        case _IPC_REASON_KIND_MAX:
                break;
        }
        return true;
}

bool sup_errno_is_resource_shortage(int r) {
        return r == -EMFILE || r == -ENFILE || r == -EAGAIN || r == -ENOMEM;
}

uint64_t sup_resource_delay_usec(unsigned n) {
        uint64_t ms = SUP_RESOURCE_DELAY_FIRST_MS;
        for (unsigned i = 1; i < n && ms < SUP_RESOURCE_DELAY_MAX_MS; i++)
                ms *= 2;
        if (ms > SUP_RESOURCE_DELAY_MAX_MS)
                ms = SUP_RESOURCE_DELAY_MAX_MS;
        return ms * USEC_PER_MSEC;
}

uint64_t sup_backoff_delay_usec(const sup_backoff *b, unsigned n, double random) {
        if (!b || b->initial_ms == 0)
                return 0;

        double cap = b->max_ms > 0 ? (double) b->max_ms : BACKOFF_CEILING_MS;
        if (cap > BACKOFF_CEILING_MS)
                cap = BACKOFF_CEILING_MS;
        /* Written so that NaN falls to the harmless side. */
        double factor = b->factor > 1.0 ? b->factor : 1.0;
        double jitter = b->jitter > 0.0 ? (b->jitter < 1.0 ? b->jitter : 1.0) : 0.0;
        double r = random > 0.0 ? (random < 1.0 ? random : 1.0) : 0.0;

        /* Multiplying step by step stops at the cap, so neither overflow
         * nor libm's pow() is needed. */
        double d = (double) b->initial_ms;
        for (unsigned i = 1; i < n && d < cap && factor > 1.0; i++)
                d *= factor;
        if (d > cap)
                d = cap;

        d *= 1.0 + jitter * (2.0 * r - 1.0);
        if (d < 0.0)
                d = 0.0;
        return (uint64_t) (d * (double) USEC_PER_MSEC + 0.5);
}

static int failed_to_start(const sup_op *op, sup_reason *ret) {
        char *why = op->reason ? sup_reason_to_string(op->reason) : NULL;
        char *text = NULL;
        int n;

        if (op->reason && !why)
                return -ENOMEM;
        n = asprintf(&text, "{failed_to_start_child,%s,%s}", op->child->spec->name, why ? why : "undefined");
        free(why);
        if (n < 0)
                return -ENOMEM;
        *ret = (sup_reason) { .kind = IPC_REASON_SHUTDOWN_TEXT, .text = text };
        return 0;
}

int sup_op_exit_reason(const sup_op *op, sup_reason *ret) {
        if (!op || !ret)
                return -EINVAL;
        switch (op->kind) {
        case SUP_OP_ESCALATE:
        case SUP_OP_AUTO_SHUTDOWN:
        case SUP_OP_SHUTDOWN:
                *ret = (sup_reason) { .kind = IPC_REASON_SHUTDOWN };
                return 0;
        case SUP_OP_BOOT_FAILED:
                return failed_to_start(op, ret);
        case SUP_OP_REPORT:
        case SUP_OP_STOP:
        case SUP_OP_START:
        case SUP_OP_DROP:
        case SUP_OP_RETRY:
        case _SUP_OP_KIND_MAX:
                break;
        }
        return -EINVAL;
}

/* ---- the child list ---- */

static bool is_simple(const sup_core *c) {
        return c->spec->strategy == SUP_SIMPLE_ONE_FOR_ONE;
}

static bool is_temporary(const sup_child *ch) {
        return ch->spec->restart == SUP_TEMPORARY;
}

static bool is_live(const sup_child *ch) {
        return ch->state == SUP_CHILD_RUNNING || ch->state == SUP_CHILD_STARTING;
}

static sup_child *child_append(sup_core *c, const sup_spec *spec, void *data) {
        sup_child *ch = calloc(1, sizeof(*ch));
        if (!ch)
                return NULL;
        ch->spec = spec;
        ch->state = SUP_CHILD_STOPPED;
        ch->data = data;
        if (!is_simple(c) && spec->name && sup_namemap_add(&c->names, spec->name, ch) < 0) {
                free(ch);
                return NULL;
        }
        ch->prev = c->last;
        if (c->last)
                c->last->next = ch;
        else
                c->first = ch;
        c->last = ch;
        c->n_children++;
        return ch;
}

static void set_queued(sup_core *c, sup_child *ch, bool queued) {
        if (ch->queued == queued)
                return;
        ch->queued = queued;
        if (queued)
                c->n_queued++;
        else
                c->n_queued--;
}

static void child_unlink(sup_core *c, sup_child *ch) {
        set_queued(c, ch, false);
        sup_namemap_remove(&c->names, ch->spec->name, ch);
        if (c->cursor == ch)
                c->cursor = ch->next;
        if (ch->prev)
                ch->prev->next = ch->next;
        else
                c->first = ch->next;
        if (ch->next)
                ch->next->prev = ch->prev;
        else
                c->last = ch->prev;
        c->n_children--;
        /* Kept on the dropped list: the plan still names it. */
        ch->prev = NULL;
        ch->next = c->dropped;
        c->dropped = ch;
}

static void free_list(sup_child *ch) {
        while (ch) {
                sup_child *next = ch->next;
                free(ch);
                ch = next;
        }
}

/* ---- plans ---- */

/* Every plan fits 2 ops per child (STOP, DROP) plus a few (two reports,
 * START or RETRY, a terminal op): reserving that before any state changes
 * means building a plan cannot fail halfway. One more child may be
 * appended by start_child. */
static int plan_begin(sup_core *c, const sup_reason *reason) {
        size_t need = 2 * (c->n_children + 1) + 6;
        sup_reason copy = { .kind = IPC_REASON_NORMAL };

        if (need > c->cap_ops) {
                sup_op *ops = reallocarray(c->ops, need, sizeof(*ops));
                if (!ops)
                        return -ENOMEM;
                c->ops = ops;
                c->cap_ops = need;
        }
        if (reason && sup_reason_copy(reason, &copy) < 0)
                return -ENOMEM;

        free_list(c->dropped);
        c->dropped = NULL;
        sup_reason_done(&c->reason);
        c->reason = copy;
        c->has_reason = reason != NULL;
        c->n_ops = 0;
        c->plan = (sup_plan) { .ops = c->ops };
        return 0;
}

static const sup_plan *plan_end(sup_core *c) {
        c->plan.ops = c->ops;
        c->plan.n_ops = c->n_ops;
        return &c->plan;
}

static sup_op *plan_add(sup_core *c, sup_op_kind kind, sup_child *child) {
        /* plan_begin() reserved room; running out is a bug in the bound. */
        if (c->n_ops >= c->cap_ops)
                abort();
        sup_op *op = &c->ops[c->n_ops++];
        *op = (sup_op) { .kind = kind, .child = child };
        return op;
}

static void plan_report(sup_core *c, sup_report_context ctx, const sup_reason *reason, sup_child *child) {
        sup_op *op = plan_add(c, SUP_OP_REPORT, child);
        op->context = ctx;
        op->reason = reason;
}

static void plan_drop(sup_core *c, sup_child *ch) {
        ch->state = SUP_CHILD_STOPPED;
        child_unlink(c, ch);
        plan_add(c, SUP_OP_DROP, ch);
}

static void plan_start(sup_core *c, sup_job job, sup_child *ch) {
        ch->state = SUP_CHILD_STARTING;
        set_queued(c, ch, false);
        if (ch->started_once)
                ch->restarts++;
        ch->started_once = true;
        c->job = job;
        c->starting = ch;
        plan_add(c, SUP_OP_START, ch);
}

/* A restart of ch alone that the node need not wait for (decide.h, 3a). */
static void plan_start_solo(sup_core *c, sup_child *ch) {
        ch->state = SUP_CHILD_STARTING;
        set_queued(c, ch, false);
        if (ch->started_once)
                ch->restarts++;
        ch->started_once = true;
        ch->solo = true;
        c->n_solo++;
        c->solo_last = ch;
        plan_add(c, SUP_OP_START, ch)->solo = true;
}

static void plan_retry(sup_core *c, sup_child *ch, uint64_t delay_usec) {
        ch->state = SUP_CHILD_RESTARTING;
        ch->retry_id = ++c->next_retry_id;
        sup_op *op = plan_add(c, SUP_OP_RETRY, ch);
        op->delay_usec = delay_usec;
        op->retry_id = ch->retry_id;
}

/* The node's end: every live child stopped, newest first, then the
 * terminal op. */
static void plan_terminal(sup_core *c, sup_op_kind kind, sup_child *child, const sup_reason *reason) {
        for (sup_child *ch = c->last; ch; ch = ch->prev) {
                if (is_live(ch))
                        plan_add(c, SUP_OP_STOP, ch);
                ch->state = SUP_CHILD_STOPPED;
                ch->solo = false;
                set_queued(c, ch, false);
        }
        c->n_solo = 0;
        c->solo_last = NULL;
        c->plan.parallel = is_simple(c);
        sup_op *op = plan_add(c, kind, child);
        op->reason = reason;
        c->job = JOB_NONE;
        c->starting = NULL;
        c->finished = true;
}

/* ---- intensity ---- */

static uint64_t period_usec(const sup_core *c) {
        uint64_t p = c->spec->period_s;
        return p > UINT64_MAX / USEC_PER_SEC ? UINT64_MAX : p * USEC_PER_SEC;
}

static int history_reserve(sup_core *c) {
        if (c->n_history < c->cap_history)
                return 0;
        size_t cap = c->cap_history ? 2 * c->cap_history : 4;
        size_t max = (size_t) (c->spec->intensity < 0 ? 0 : c->spec->intensity) + 1;
        if (cap > max)
                cap = max;
        if (cap <= c->n_history)
                cap = c->n_history + 1;
        uint64_t *h = reallocarray(c->history, cap, sizeof(*h));
        if (!h)
                return -ENOMEM;
        c->history = h;
        c->cap_history = cap;
        return 0;
}

/* OTP's add_restart/3 in microseconds: drop what is older than the
 * window (keeping an entry exactly period old), append now, and tell
 * whether the node may still restart. history_reserve() came first. */
static bool add_restart(sup_core *c, uint64_t now_usec) {
        uint64_t period = period_usec(c);
        size_t keep = 0;

        if (now_usec >= period) {
                uint64_t threshold = now_usec - period;
                while (keep < c->n_history && c->history[keep] < threshold)
                        keep++;
        }
        memmove(c->history, c->history + keep, (c->n_history - keep) * sizeof(*c->history));
        c->n_history -= keep;
        c->history[c->n_history++] = now_usec;
        return c->n_history <= (size_t) (c->spec->intensity < 0 ? 0 : c->spec->intensity);
}

/* ---- restarts ---- */

/* Starts the next queued child of the boot or group job, or ends it. */
static void start_next(sup_core *c, sup_job job) {
        for (sup_child *ch = c->cursor; ch && c->n_queued > 0; ch = ch->next)
                if (ch->queued) {
                        c->cursor = ch->next;
                        plan_start(c, job, ch);
                        return;
                }
        c->job = JOB_NONE;
        c->starting = NULL;
}

static void unqueue_all(sup_core *c) {
        for (sup_child *ch = c->cursor; ch && c->n_queued > 0; ch = ch->next)
                set_queued(c, ch, false);
}

/* Restarts child's group as its strategy says: the other running members
 * stop newest first (temporary ones go for good), then every
 * non-temporary member starts in start order, child's group start now or,
 * with a delay, behind a RETRY. child is not running (it exited, or is
 * RESTARTING). */
static void restart_group(sup_core *c, sup_child *child, uint64_t delay_usec) {
        /* The group is [from, last], or child alone. */
        sup_child *from = child;
        bool one = true;

        switch (c->spec->strategy) {
        case SUP_ONE_FOR_ONE:
        case SUP_SIMPLE_ONE_FOR_ONE:
        case _SUP_STRATEGY_MAX:
                break;
        case SUP_ONE_FOR_ALL:
                from = c->first;
                one = false;
                break;
        case SUP_REST_FOR_ONE:
                one = false;
                break;
        }

        unqueue_all(c);
        sup_child *prev;
        for (sup_child *ch = from == child && one ? child : c->last; ch; ch = prev) {
                prev = ch->prev;
                if (ch != child) {
                        if (ch->state == SUP_CHILD_RUNNING)
                                plan_add(c, SUP_OP_STOP, ch);
                        if (is_temporary(ch))
                                plan_drop(c, ch);
                        else {
                                ch->state = SUP_CHILD_STOPPED;
                                set_queued(c, ch, true);
                                c->cursor = ch;
                        }
                } else {
                        ch->state = SUP_CHILD_STOPPED;
                        set_queued(c, ch, true);
                        c->cursor = ch;
                }
                if (ch == from)
                        break;
        }

        if (delay_usec > 0) {
                unqueue_all(c);
                plan_retry(c, child, delay_usec);
                return;
        }
        /* A worker alone: nothing after it waits for its start. */
        if (one && child->spec->type == SUP_WORKER) {
                plan_start_solo(c, child);
                return;
        }
        start_next(c, JOB_GROUP);
}

static bool auto_shutdown_due(const sup_core *c, const sup_child *child) {
        if (!child->spec->significant)
                return false;
        switch (c->spec->auto_shutdown) {
        case SUP_AUTO_SHUTDOWN_NEVER:
                return false;
        case SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT:
                return true;
        case SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT:
                for (const sup_child *ch = c->first; ch; ch = ch->next)
                        if (ch->spec->significant && ch->state != SUP_CHILD_STOPPED)
                                return false;
                return true;
        case _SUP_AUTO_SHUTDOWN_MAX:
                break;
        }
        return false;
}

/* A child ended and is not restarted: keep or drop it, and see whether
 * the node ends with it. */
static void child_done(sup_core *c, sup_child *child) {
        child->state = SUP_CHILD_STOPPED;
        if (is_temporary(child) || is_simple(c))
                plan_drop(c, child);
        if (auto_shutdown_due(c, child))
                plan_terminal(c, SUP_OP_AUTO_SHUTDOWN, child, NULL);
}

/* One more restart attempt for child is decided: count it, then escalate
 * or go on with the group (now, or after backoff's delay). */
static void restart_attempt(sup_core *c, sup_child *child, uint64_t now_usec, double random, bool group_now) {
        if (!add_restart(c, now_usec)) {
                plan_report(c, SUP_REPORT_SHUTDOWN, NULL, child);
                child->state = SUP_CHILD_STOPPED;
                plan_terminal(c, SUP_OP_ESCALATE, child, NULL);
                return;
        }
        uint64_t delay = sup_backoff_delay_usec(&child->spec->backoff, child->backoff_n, random);
        if (group_now)
                restart_group(c, child, delay);
        else
                plan_retry(c, child, delay);
}

static unsigned saturating_inc(unsigned n) {
        return n == UINT_MAX ? n : n + 1;
}

/* A restart's start failed for want of gensupd's resources: report it,
 * and retry after a growing delay, not counted toward the intensity. */
static void start_short(sup_core *c, sup_child *child) {
        plan_report(c, SUP_REPORT_START_ERROR, c->has_reason ? &c->reason : NULL, child);
        unqueue_all(c);
        child->shortage_n = saturating_inc(child->shortage_n);
        plan_retry(c, child, sup_resource_delay_usec(child->shortage_n));
}

/* ---- entry points ---- */

int sup_core_new(const sup_spec *sup, sup_core **ret) {
        if (!sup || !ret)
                return -EINVAL;
        if (sup->strategy == SUP_SIMPLE_ONE_FOR_ONE && (sup->n_children != 1 || !sup->children[0]))
                return -EINVAL;

        sup_core *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->spec = sup;
        if (sup->strategy != SUP_SIMPLE_ONE_FOR_ONE)
                for (size_t i = 0; i < sup->n_children; i++)
                        if (!sup->children[i] || !child_append(c, sup->children[i], NULL)) {
                                int r = sup->children[i] ? -ENOMEM : -EINVAL;
                                sup_core_free(c);
                                return r;
                        }
        *ret = c;
        return 0;
}

sup_core *sup_core_free(sup_core *c) {
        if (!c)
                return NULL;
        free_list(c->first);
        free_list(c->dropped);
        sup_namemap_done(&c->names);
        free(c->history);
        free(c->ops);
        sup_reason_done(&c->reason);
        free(c);
        return NULL;
}

/* Checks shared by exits and retries: a living node, no job running
 * (solo starts may be under way). */
static int check_open(const sup_core *c) {
        if (c->finished)
                return -ESHUTDOWN;
        if (c->job != JOB_NONE)
                return -EINPROGRESS;
        return 0;
}

/* ... and by the events that need an idle node: no start at all. */
static int check_idle(const sup_core *c) {
        int r = check_open(c);
        if (r < 0)
                return r;
        return c->n_solo > 0 ? -EINPROGRESS : 0;
}

int sup_core_boot(sup_core *c, const sup_plan **ret_plan) {
        if (!c || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        if (c->booted)
                return -EALREADY;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        c->booted = true;
        for (sup_child *ch = c->first; ch; ch = ch->next)
                set_queued(c, ch, true);
        c->cursor = c->first;
        start_next(c, JOB_BOOT);
        *ret_plan = plan_end(c);
        return 0;
}

/* Opens the plan for a start result: room for its ops and its history. */
static int result_begin(sup_core *c, const sup_reason *reason) {
        int r = plan_begin(c, reason);
        return r < 0 ? r : history_reserve(c);
}

/* A start that succeeded, or that init ignored. */
static void start_settled(sup_core *c, sup_child *child, sup_start_result result, uint64_t now_usec) {
        if (result == SUP_START_OK) {
                child->state = SUP_CHILD_RUNNING;
                child->started_at_usec = now_usec;
                child->shortage_n = 0;
                return;
        }
        child->state = SUP_CHILD_STOPPED;
        if (is_temporary(child) || is_simple(c))
                plan_drop(c, child);
}

/* A restart's start that failed: reported, and tried again as the
 * restart says (restart_attempt). */
static void start_failed_again(sup_core *c, sup_child *child, const sup_reason *reason, uint64_t now_usec,
                               double random) {
        plan_report(c, SUP_REPORT_START_ERROR, reason, child);
        child->state = SUP_CHILD_RESTARTING;
        child->backoff_n = saturating_inc(child->backoff_n);
        restart_attempt(c, child, now_usec, random, false);
}

/* A solo START's result: GROUP's, with no job to go on with. */
static int solo_result(sup_core *c, sup_child *child, sup_start_result result, const sup_reason *reason,
                       uint64_t now_usec, double random, const sup_plan **ret_plan) {
        int r = result_begin(c, reason);
        if (r < 0)
                return r;
        child->solo = false;
        c->n_solo--;
        if (c->solo_last == child)
                c->solo_last = NULL;
        reason = c->has_reason ? &c->reason : NULL;

        switch (result) {
        case SUP_START_OK:
        case SUP_START_IGNORE:
                start_settled(c, child, result, now_usec);
                break;
        case SUP_START_NO_RESOURCES:
                start_short(c, child);
                break;
        case SUP_START_FAILED:
                start_failed_again(c, child, reason, now_usec, random);
                break;
        case _SUP_START_RESULT_MAX:
                abort();        /* refused by the caller */
        }
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_start_result(sup_core *c, sup_child *child, sup_start_result result, const sup_reason *reason,
                          uint64_t now_usec, double random, const sup_plan **ret_plan) {
        if (!c || !child || !ret_plan || (unsigned) result >= _SUP_START_RESULT_MAX ||
            ((result == SUP_START_FAILED || result == SUP_START_NO_RESOURCES) && !reason))
                return -EINVAL;
        if (c->finished)
                return -ESHUTDOWN;
        if (child->solo && child->state == SUP_CHILD_STARTING)
                return solo_result(c, child, result, reason, now_usec, random, ret_plan);
        if (c->job == JOB_NONE || child != c->starting || child->state != SUP_CHILD_STARTING)
                return -ESTALE;
        int r = result_begin(c, reason);
        if (r < 0)
                return r;

        sup_job job = c->job;
        c->job = JOB_NONE;
        c->starting = NULL;
        reason = c->has_reason ? &c->reason : NULL;

        switch (result) {
        case SUP_START_OK:
        case SUP_START_IGNORE:
                start_settled(c, child, result, now_usec);
                break;
        case SUP_START_NO_RESOURCES:
                if (job == JOB_GROUP) {
                        start_short(c, child);
                        *ret_plan = plan_end(c);
                        return 0;
                }
                /* At boot and for the ctl operations: a failed start. */
                /* fall through */
        case SUP_START_FAILED:
                switch (job) {
                case JOB_BOOT:
                        plan_report(c, SUP_REPORT_START_ERROR, reason, child);
                        child->state = SUP_CHILD_STOPPED;
                        plan_terminal(c, SUP_OP_BOOT_FAILED, child, reason);
                        break;
                case JOB_GROUP:
                        unqueue_all(c);
                        start_failed_again(c, child, reason, now_usec, random);
                        break;
                case JOB_START_CHILD:
                        plan_drop(c, child);
                        break;
                case JOB_RESTART_CHILD:
                        child->state = SUP_CHILD_STOPPED;
                        break;
                case JOB_NONE:
                case _JOB_MAX:
                        abort();
                }
                *ret_plan = plan_end(c);
                return 0;
        case _SUP_START_RESULT_MAX:
                abort();        /* refused above */
        }

        /* ok or ignore: the boot or the group goes on with its next child. */
        switch (job) {
        case JOB_BOOT:
        case JOB_GROUP:
                start_next(c, job);
                break;
        case JOB_START_CHILD:
        case JOB_RESTART_CHILD:
                break;
        case JOB_NONE:
        case _JOB_MAX:
                abort();
        }
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_exited(sup_core *c, sup_child *child, const sup_reason *reason, uint64_t now_usec, double random,
                    const sup_plan **ret_plan) {
        if (!c || !child || !reason || !ret_plan)
                return -EINVAL;
        int r = check_open(c);
        if (r < 0)
                return r;
        if (child->state != SUP_CHILD_RUNNING)
                return -ESTALE;
        r = plan_begin(c, reason);
        if (r < 0)
                return r;
        r = history_reserve(c);
        if (r < 0)
                return r;
        reason = c->has_reason ? &c->reason : NULL;

        bool clean = sup_reason_is_clean(reason);
        bool restart = false;
        switch (child->spec->restart) {
        case SUP_PERMANENT:
                restart = true;
                break;
        case SUP_TRANSIENT:
                restart = !clean;
                break;
        case SUP_TEMPORARY:
                restart = false;
                break;
        case _SUP_RESTART_MAX:
                return -EINVAL;
        }
        if (restart || !clean)
                plan_report(c, SUP_REPORT_CHILD_TERMINATED, reason, child);

        child->state = SUP_CHILD_STOPPED;
        if (!restart) {
                child_done(c, child);
                *ret_plan = plan_end(c);
                return 0;
        }

        /* Backoff: a child that stayed up long enough starts afresh. */
        uint64_t up = now_usec >= child->started_at_usec ? now_usec - child->started_at_usec : 0;
        uint64_t reset = child->spec->backoff.reset_after_ms;
        reset = reset > UINT64_MAX / USEC_PER_MSEC ? UINT64_MAX : reset * USEC_PER_MSEC;
        if (up >= reset)
                child->backoff_n = 1;
        else
                child->backoff_n = saturating_inc(child->backoff_n);

        restart_attempt(c, child, now_usec, random, true);
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_retry(sup_core *c, sup_child *child, uint64_t retry_id, const sup_plan **ret_plan) {
        if (!c || !child || !ret_plan)
                return -EINVAL;
        int r = check_open(c);
        if (r < 0)
                return r;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;
        if (child->state == SUP_CHILD_RESTARTING && child->retry_id == retry_id)
                restart_group(c, child, 0);
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_start_child(sup_core *c, const sup_spec *spec, void *data, const sup_plan **ret_plan,
                         sup_child **ret_child) {
        if (!c || !spec || !spec->name || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        if (is_simple(c))
                return -EOPNOTSUPP;
        sup_child *old = sup_core_find(c, spec->name);
        if (old)
                return old->state == SUP_CHILD_RUNNING ? -EEXIST : -EALREADY;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;
        sup_child *ch = child_append(c, spec, data);
        if (!ch)
                return -ENOMEM;

        plan_start(c, JOB_START_CHILD, ch);
        *ret_plan = plan_end(c);
        if (ret_child)
                *ret_child = ch;
        return 0;
}

int sup_core_start_instance(sup_core *c, void *data, const sup_plan **ret_plan, sup_child **ret_child) {
        if (!c || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        if (!is_simple(c))
                return -EOPNOTSUPP;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;
        sup_child *ch = child_append(c, c->spec->children[0], data);
        if (!ch)
                return -ENOMEM;

        plan_start(c, JOB_START_CHILD, ch);
        *ret_plan = plan_end(c);
        if (ret_child)
                *ret_child = ch;
        return 0;
}

/* Stops one child on request: no report, no restart, no auto_shutdown. */
static void terminate(sup_core *c, sup_child *ch, bool drop) {
        switch (ch->state) {
        case SUP_CHILD_RUNNING:
                plan_add(c, SUP_OP_STOP, ch);
                break;
        case SUP_CHILD_RESTARTING:      /* its pending retry is now stale */
        case SUP_CHILD_STOPPED:
                break;
        case SUP_CHILD_STARTING:        /* excluded by check_idle() */
        case _SUP_CHILD_STATE_MAX:
                abort();
        }
        ch->state = SUP_CHILD_STOPPED;
        if (drop)
                plan_drop(c, ch);
}

int sup_core_terminate_child(sup_core *c, const char *name, const sup_plan **ret_plan) {
        if (!c || !name || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        if (is_simple(c))
                return -EOPNOTSUPP;
        sup_child *ch = sup_core_find(c, name);
        if (!ch)
                return -ENOENT;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        terminate(c, ch, is_temporary(ch));
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_terminate_instance(sup_core *c, sup_child *child, const sup_plan **ret_plan) {
        if (!c || !child || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        if (!is_simple(c))
                return -ENOENT;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        terminate(c, child, true);
        *ret_plan = plan_end(c);
        return 0;
}

/* restart_child and delete_child answer alike for a child not STOPPED. */
static int check_stopped(const sup_core *c, const char *name, sup_child **ret) {
        if (is_simple(c))
                return -EOPNOTSUPP;
        sup_child *ch = sup_core_find(c, name);
        if (!ch)
                return -ENOENT;
        switch (ch->state) {
        case SUP_CHILD_STOPPED:
                *ret = ch;
                return 0;
        case SUP_CHILD_RESTARTING:
                return -EAGAIN;
        case SUP_CHILD_STARTING:
        case SUP_CHILD_RUNNING:
                return -EBUSY;
        case _SUP_CHILD_STATE_MAX:
                break;
        }
        return -EINVAL;
}

int sup_core_restart_child(sup_core *c, const char *name, const sup_plan **ret_plan) {
        sup_child *ch = NULL;

        if (!c || !name || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        r = check_stopped(c, name, &ch);
        if (r < 0)
                return r;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        plan_start(c, JOB_RESTART_CHILD, ch);
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_delete_child(sup_core *c, const char *name, const sup_plan **ret_plan) {
        sup_child *ch = NULL;

        if (!c || !name || !ret_plan)
                return -EINVAL;
        int r = check_idle(c);
        if (r < 0)
                return r;
        r = check_stopped(c, name, &ch);
        if (r < 0)
                return r;
        r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        plan_drop(c, ch);
        *ret_plan = plan_end(c);
        return 0;
}

int sup_core_shutdown(sup_core *c, const sup_plan **ret_plan) {
        if (!c || !ret_plan)
                return -EINVAL;
        if (c->finished)
                return -ESHUTDOWN;
        int r = plan_begin(c, NULL);
        if (r < 0)
                return r;

        plan_terminal(c, SUP_OP_SHUTDOWN, NULL, NULL);
        *ret_plan = plan_end(c);
        return 0;
}

/* ---- queries ---- */

const sup_spec *sup_core_spec(const sup_core *c) {
        return c ? c->spec : NULL;
}

sup_child *sup_core_find(const sup_core *c, const char *name) {
        if (!c || !name || is_simple(c))
                return NULL;
        return sup_namemap_get(&c->names, name);
}

sup_child *sup_core_first(const sup_core *c) {
        return c ? c->first : NULL;
}

sup_child *sup_core_last(const sup_core *c) {
        return c ? c->last : NULL;
}

size_t sup_core_n_children(const sup_core *c) {
        return c ? c->n_children : 0;
}

sup_child *sup_core_starting(const sup_core *c) {
        return !c ? NULL : c->starting ? c->starting : c->solo_last;
}

size_t sup_core_solo_starts(const sup_core *c) {
        return c ? c->n_solo : 0;
}

bool sup_core_finished(const sup_core *c) {
        return c && c->finished;
}

void sup_child_carry_restarts(sup_child *ch, uint64_t restarts) {
        ch->restarts = restarts;
        ch->started_once = true;
}

size_t sup_core_history_len(const sup_core *c) {
        return c ? c->n_history : 0;
}

size_t sup_core_which_children(const sup_core *c, sup_child **buf, size_t size) {
        size_t i = 0;

        if (!c)
                return 0;
        for (sup_child *ch = c->last; ch && i < size; ch = ch->prev)
                buf[i++] = ch;
        return c->n_children;
}

void sup_core_count_children(const sup_core *c, sup_counts *ret) {
        sup_counts n = { 0 };

        for (const sup_child *ch = c ? c->first : NULL; ch; ch = ch->next) {
                n.specs++;
                if (ch->state == SUP_CHILD_RUNNING)
                        n.active++;
                switch (ch->spec->type) {
                case SUP_SUPERVISOR:
                        n.supervisors++;
                        break;
                case SUP_WORKER:
                case _SUP_CHILD_TYPE_MAX:
                        n.workers++;
                        break;
                }
        }
        if (c && is_simple(c))
                n.specs = 1;
        *ret = n;
}
