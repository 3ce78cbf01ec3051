/* decide.h: the supervisor's decision core, one supervisor node at a time.
 *
 * A pure module: it keeps one node's children, their OTP states and the
 * node's restart history, and turns each event (boot, a child's start
 * result, a child's exit, a due retry, a ctl operation, shutdown) into a
 * plan: an ordered list of operations for the shell (gensupd) to carry
 * out. It does no I/O, reads no clock, draws no random numbers and starts
 * no process: the caller passes CLOCK_MONOTONIC time in microseconds and,
 * for backoff jitter, a random fraction in [0,1).
 *
 * How the shell drives a node
 *   1. sup_core_new(), set each child's data, sup_core_boot().
 *   2. Carry out every plan op by op, in order (see sup_op_kind). While it
 *      does, the shell defers every other event of this node (exits of
 *      children the plan does not stop, ctl requests, due retries) and
 *      feeds them afterwards, one by one, like OTP's mailbox.
 *   3. A plan that ends with START leaves the node awaiting that child's
 *      start result (sup_core_starting() names it). Only
 *      sup_core_start_result() and sup_core_shutdown() are accepted then;
 *      every other entry point answers -EINPROGRESS: defer the event.
 *   3a. Except a solo START (op.solo): a one_for_one or simple_one_for_one
 *      worker restarted on its own, which nothing else waits for. The
 *      node goes on at once: exits of other children and due retries are
 *      fed as usual, and the START's result whenever it comes (before any
 *      event deferred meanwhile). Only the ctl operations answer
 *      -EINPROGRESS while sup_core_solo_starts() is not 0 (defer them);
 *      sup_core_shutdown() stops the starting children with the rest.
 *      OTP's supervisor waits for each start_link before it reads its
 *      next message; a sibling's restart does not depend on that start,
 *      so only its order is kept: STARTs still go out in event order.
 *   4. A plan that ends with ESCALATE, AUTO_SHUTDOWN, BOOT_FAILED or
 *      SHUTDOWN is the node's last: the supervisor exits with
 *      sup_op_exit_reason(); later events answer -ESHUTDOWN.
 *
 * The exit of a child that a plan STOPs is that STOP's completion: it is
 * never fed to sup_core_exited() (OTP's supervisor consumes it the same
 * way). sup_shutdown_error_due() tells whether that exit needs a
 * shutdown_error report. A child that dies before it is ready is a start
 * result (SUP_START_FAILED), not an exit.
 *
 * Exit reasons come parsed (exit_reason.h's sup_reason): the core decides
 * on their kind, never on their spelling. "Clean" reasons are normal,
 * shutdown and {shutdown,Text} (ipc_reason_kind_is_clean).
 *
 * Restart intensity, as OTP's add_restart/1 but in exact time: every
 * restart attempt appends now_usec to the node's history (a group restart
 * once, each failed restart attempt once more; restart_child never);
 * entries older than now - period are dropped, one exactly period old is
 * kept (OTP's bound is inclusive too); more than `intensity` entries left
 * means escalation. OTP truncates times to whole seconds
 * (erlang:monotonic_time(second)), so there two restarts up to almost
 * period + 1 s apart can share a window; here the window is exactly
 * `period` seconds. The history holds at most intensity + 1 entries.
 * An attempt is counted when it is decided (on the exit, on the failed
 * start), so the escalation comes on that event, not on the retry.
 *
 * Backoff (beyond OTP, opt-in with spec->backoff.initial_ms > 0): a
 * restart waits sup_backoff_delay_usec(n) where n counts the child's
 * consecutive fast or failed restarts (n = 1 again when it had stayed up
 * reset_after_ms). A delayed restart leaves the child RESTARTING behind a
 * RETRY op, so the node stays responsive meanwhile; siblings a group
 * restart takes down are stopped at once, and started after the delay.
 *
 * Resource shortage (beyond OTP): a start that fails because gensupd
 * itself lacks a resource (no free fd: EMFILE, ENFILE; fork refused under
 * a process limit: EAGAIN; ENOMEM) says nothing about the child. OTP
 * counts every failed restart attempt, and retries at once, so a
 * supervisor out of fds would reach its intensity within milliseconds
 * and take the tree down for a passing shortage. The shell feeds such a
 * start as SUP_START_NO_RESOURCES (sup_errno_is_resource_shortage()).
 * In a restart it is reported (start_error) and retried after
 * sup_resource_delay_usec(n), n counting the child's consecutive
 * shortages, and it is not counted toward the intensity: the tree waits
 * for the resource to come back instead of giving up. At boot and for
 * start_child / restart_child it fails as any failed start does, so the
 * operator hears of it at once.
 *
 * simple_one_for_one: children are instances of the one template
 * (spec->children[0]), added with sup_core_start_instance(); they have no
 * names, are never kept when they end, and are all stopped at once
 * (sup_plan.parallel) when the node stops.
 */
#ifndef GENSUP_DECIDE_H
#define GENSUP_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exit_reason.h"
#include "spec.h"

/* ---- children ---- */

typedef enum sup_child_state {
        SUP_CHILD_STOPPED,      /* no process: OTP's pid = undefined */
        SUP_CHILD_STARTING,     /* START issued, its result awaited */
        SUP_CHILD_RUNNING,
        SUP_CHILD_RESTARTING,   /* a restart is due: a RETRY op is pending */
        _SUP_CHILD_STATE_MAX,
} sup_child_state;

typedef struct sup_child sup_child;

/* One child (or simple_one_for_one instance). The core owns it; the shell
 * reads it and owns `data`. A pointer stays valid until the child is
 * dropped: after a DROP op, until the next call into the core that returns
 * a plan. */
struct sup_child {
        const sup_spec *spec;         /* simple_one_for_one: the template */
        sup_child_state state;
        void *data;                   /* the shell's object; the core never touches it */
        uint64_t started_at_usec;     /* CLOCK_MONOTONIC; when its last start succeeded */
        unsigned backoff_n;           /* consecutive fast or failed restarts */
        unsigned shortage_n;          /* consecutive starts that failed for want of resources */
        uint64_t restarts;            /* STARTs issued after its first one */

        /* private to decide.c */
        uint64_t retry_id;            /* the pending RETRY's id while RESTARTING */
        bool started_once;
        bool queued;                  /* to be started by the current boot or group restart */
        bool solo;                    /* STARTING by a solo START */
        sup_child *prev, *next;       /* start order */
};

/* ---- plans ---- */

typedef enum sup_op_kind {
        SUP_OP_REPORT,          /* log a supervisor report (context, reason, child = offender) */
        SUP_OP_STOP,            /* stop child per its shutdown spec and wait for its exit */
        SUP_OP_START,           /* start child; feed the result to sup_core_start_result() (always last) */
        SUP_OP_DROP,            /* child and its spec are gone from the node: cancel any timer, free data
                                 * (and the spec if the shell made it for start_child) */
        SUP_OP_RETRY,           /* after delay_usec (0: after the events already queued), call
                                 * sup_core_retry(child, retry_id); replaces any pending retry (always last) */
        SUP_OP_ESCALATE,        /* reached_max_restart_intensity: the node exits `shutdown` (last) */
        SUP_OP_AUTO_SHUTDOWN,   /* significant child (= child) ended: the node exits `shutdown` (last) */
        SUP_OP_BOOT_FAILED,     /* exits {shutdown,{failed_to_start_child,NAME,REASON}} (last) */
        SUP_OP_SHUTDOWN,        /* the requested shutdown is complete: exits `shutdown` (last) */
        _SUP_OP_KIND_MAX,
} sup_op_kind;

typedef enum sup_report_context {
        SUP_REPORT_CHILD_TERMINATED,
        SUP_REPORT_START_ERROR,
        SUP_REPORT_SHUTDOWN_ERROR,    /* only ever made by the shell, see sup_shutdown_error_due() */
        SUP_REPORT_SHUTDOWN,          /* reason reached_max_restart_intensity (op reason NULL) */
        _SUP_REPORT_CONTEXT_MAX,
} sup_report_context;

typedef struct sup_op {
        sup_op_kind kind;
        sup_child *child;             /* every kind but SHUTDOWN */
        sup_report_context context;   /* REPORT */
        const sup_reason *reason;     /* REPORT, BOOT_FAILED; owned by the plan */
        uint64_t delay_usec;          /* RETRY */
        uint64_t retry_id;            /* RETRY */
        bool solo;                    /* START: the node need not wait for its result (see 3a above) */
} sup_op;

/* Owned by the core, valid until the next call that returns a plan. */
typedef struct sup_plan {
        const sup_op *ops;
        size_t n_ops;
        bool parallel;                /* its STOPs may run at once (simple_one_for_one stopping all) */
} sup_plan;

typedef enum sup_start_result {
        SUP_START_OK,                 /* ready */
        SUP_START_IGNORE,             /* init returned ignore */
        SUP_START_FAILED,             /* init failed, start timeout, exec failed, died early */
        SUP_START_NO_RESOURCES,       /* gensupd lacked a resource to start it (see above) */
        _SUP_START_RESULT_MAX,
} sup_start_result;

typedef struct sup_counts {
        size_t specs, active, supervisors, workers;
} sup_counts;

/* ---- errors ----
 * Besides -ENOMEM and -EINVAL (bad arguments), entry points answer:
 *   -EINPROGRESS  a start result is awaited: defer this event
 *   -ESHUTDOWN    the node has finished (its last plan was terminal)
 *   -ESTALE       the child is not in a state this event applies to
 * and the ctl operations OTP's answers:
 *   -ENOENT not_found, -EBUSY running, -EAGAIN restarting,
 *   -EOPNOTSUPP simple_one_for_one, -EEXIST already_started,
 *   -EALREADY already_present. */
const char *sup_error_to_string(int r);   /* "not_found", ...; NULL for others */

/* ---- the node ---- */

typedef struct sup_core sup_core;

/* A node for sup (a spec of type supervisor, or the root), with its
 * children in start order, all STOPPED. sup and every spec must outlive
 * the core. -EINVAL if simple_one_for_one has not exactly one child spec. */
int sup_core_new(const sup_spec *sup, sup_core **ret);

/* Frees the core and its child records, not the specs nor data. NULL ok. */
sup_core *sup_core_free(sup_core *c);

/* Starts every child in start order, one START at a time (a plan with one
 * START, or an empty plan when there is nothing to start). The boot is
 * complete when sup_core_starting() is NULL with the node not finished.
 * -EALREADY when called twice. */
int sup_core_boot(sup_core *c, const sup_plan **ret_plan);

/* The result of the START of child (reason: why it failed, else may be
 * NULL). What follows depends on why it was started:
 * - boot: ok/ignore -> next START (ignore: spec kept STOPPED, a temporary
 *   one dropped); failed -> start_error report, STOP the started ones in
 *   reverse order, BOOT_FAILED; later children are never started.
 * - a restart: ok/ignore -> the group's next START (ignore: one_for_one
 *   keeps the spec STOPPED; simple_one_for_one and temporary: DROP);
 *   failed -> start_error report, child RESTARTING, one more restart
 *   counted: ESCALATE, or RETRY (with backoff's delay). The rest of the
 *   group stays STOPPED; the retry restarts the group again from the
 *   failed child as the strategy says (one_for_all: all of them, so those
 *   restarted already are stopped again; rest_for_one: the failed child
 *   and those after it).
 * - a restart, no resources: start_error report, child RESTARTING, not
 *   counted, RETRY after sup_resource_delay_usec(). At boot and for the
 *   ctl operations below, no resources is a failed start.
 * - start_child / start_instance: failed -> DROP (spec discarded; answer
 *   the ctl with the reason); ignore -> temporary or instance: DROP.
 * - restart_child: failed/ignore -> back to STOPPED; no report, no count.
 * -ESTALE if child is not the one awaited. */
int sup_core_start_result(sup_core *c, sup_child *child, sup_start_result result, const sup_reason *reason,
                          uint64_t now_usec, double random, const sup_plan **ret_plan);

/* A RUNNING child exited on its own with reason. Reports as OTP does
 * (permanent: always child_terminated; transient: unless clean;
 * temporary: when not clean), then:
 * - not restarted (transient clean, temporary): temporary and instances
 *   DROP, transient specs stay STOPPED; a significant child may end the
 *   node (AUTO_SHUTDOWN, stopping the others in reverse start order);
 * - restarted: one restart counted; too many -> shutdown report, STOP the
 *   running children in reverse start order, ESCALATE. Else the strategy's
 *   group: one_for_one, simple_one_for_one: the child; one_for_all: every
 *   child; rest_for_one: the child and those started after it. Running
 *   group members are stopped in reverse start order (temporary ones also
 *   dropped), then all non-temporary members are started in start order,
 *   including ones that were STOPPED before (as OTP does). With backoff
 *   the STARTs wait behind a RETRY. */
int sup_core_exited(sup_core *c, sup_child *child, const sup_reason *reason, uint64_t now_usec, double random,
                    const sup_plan **ret_plan);

/* A RETRY op is due. Restarts child's group as on an exit, without a
 * report and without counting (the attempt was counted when decided).
 * A stale retry (child no longer RESTARTING, or another retry_id) gives
 * an empty plan. */
int sup_core_retry(sup_core *c, sup_child *child, uint64_t retry_id, const sup_plan **ret_plan);

/* ---- ctl operations (OTP's answers as -errno, see above) ---- */

/* Appends spec (non-simple nodes): START it; on success *ret_child is the
 * new child (its data set to data). -EEXIST already_started (running),
 * -EALREADY already_present, -EOPNOTSUPP on simple_one_for_one. */
int sup_core_start_child(sup_core *c, const sup_spec *spec, void *data, const sup_plan **ret_plan,
                         sup_child **ret_child);

/* simple_one_for_one: a new instance of the template with data (its extra
 * arguments are the shell's). -EOPNOTSUPP on other nodes. */
int sup_core_start_instance(sup_core *c, void *data, const sup_plan **ret_plan, sup_child **ret_child);

/* Stops the named child (if running), keeps its spec STOPPED (temporary:
 * DROP). Allowed on a RESTARTING child: its restart is called off. Never
 * triggers auto_shutdown. */
int sup_core_terminate_child(sup_core *c, const char *name, const sup_plan **ret_plan);

/* simple_one_for_one: stops the instance and drops it. child must be an
 * instance of this node. -ENOENT on other nodes (OTP: a pid there is
 * not_found). */
int sup_core_terminate_instance(sup_core *c, sup_child *child, const sup_plan **ret_plan);

/* STARTs a STOPPED child; not counted toward intensity. */
int sup_core_restart_child(sup_core *c, const char *name, const sup_plan **ret_plan);

/* DROPs a STOPPED child's spec. */
int sup_core_delete_child(sup_core *c, const char *name, const sup_plan **ret_plan);

/* Stops the whole node: STOP every running (or starting) child in
 * reverse start order (parallel for simple_one_for_one), then SHUTDOWN.
 * Accepted while a start result is awaited: that child is stopped too,
 * and its result must not be fed. */
int sup_core_shutdown(sup_core *c, const sup_plan **ret_plan);

/* ---- queries (any time) ---- */

const sup_spec *sup_core_spec(const sup_core *c);
sup_child *sup_core_find(const sup_core *c, const char *name);   /* NULL: none (or simple) */
sup_child *sup_core_first(const sup_core *c);                    /* start order ... */
sup_child *sup_core_last(const sup_core *c);                     /* ... and back */
size_t sup_core_n_children(const sup_core *c);
/* Whose start result is awaited: the job's child, else the latest solo
 * START's while its result is due. */
sup_child *sup_core_starting(const sup_core *c);
size_t sup_core_solo_starts(const sup_core *c);                  /* solo STARTs without a result yet */
bool sup_core_finished(const sup_core *c);
size_t sup_core_history_len(const sup_core *c);                  /* restarts within the window */
/* A child whose supervisor restarted (tree.c keeps its record): its
 * restart count goes on from restarts, and its next start counts. */
void sup_child_carry_restarts(sup_child *ch, uint64_t restarts);

/* OTP's which_children order, newest first: fills up to size entries of
 * buf and returns how many children there are. */
size_t sup_core_which_children(const sup_core *c, sup_child **buf, size_t size);

/* count_children: specs (simple_one_for_one: 1), active (running),
 * supervisors and workers (by spec type; simple: instances). */
void sup_core_count_children(const sup_core *c, sup_counts *ret);

/* ---- pure helpers ---- */

/* normal, shutdown or {shutdown,Text} (ipc_reason_kind_is_clean); false
 * for NULL. */
bool sup_reason_is_clean(const sup_reason *reason);

/* Whether a stopped child's exit reason deserves a shutdown_error
 * report, as OTP's shutdown/1: killed is expected only from brutal_kill,
 * shutdown always (from brutal_kill only for non-permanent children),
 * normal and {shutdown,_} for non-permanent children. */
bool sup_shutdown_error_due(const sup_spec *spec, const sup_reason *reason);

/* Whether a start that failed with r (-errno) failed for want of
 * gensupd's own resources: -EMFILE, -ENFILE, -EAGAIN, -ENOMEM. */
bool sup_errno_is_resource_shortage(int r);

#define SUP_RESOURCE_DELAY_FIRST_MS 100    /* the first retry after a shortage ... */
#define SUP_RESOURCE_DELAY_MAX_MS 5000     /* ... doubling up to this */

/* The delay before the retry after the n-th consecutive shortage (n >= 1):
 * 100 ms, 200 ms, ..., at most 5 s. */
uint64_t sup_resource_delay_usec(unsigned n);

/* The delay of the n-th consecutive restart (n >= 1): initial_ms *
 * factor^(n-1), at most max_ms (0: no cap but 2^32-1 ms), then moved by
 * up to +/- jitter of itself: random 0 gives delay*(1-jitter), random
 * near 1 delay*(1+jitter), so a jittered delay may pass max_ms. 0 when
 * backoff is off (initial_ms 0). */
uint64_t sup_backoff_delay_usec(const sup_backoff *b, unsigned n, double random);

/* The node's exit reason for a terminal op, into *ret: shutdown, or
 * {shutdown,{failed_to_start_child,NAME,REASON}}. Returns 0, -ENOMEM,
 * -EINVAL for other ops. */
int sup_op_exit_reason(const sup_op *op, sup_reason *ret);

const char *sup_child_state_to_string(sup_child_state s);       /* "stopped", "starting", ... */
const char *sup_op_kind_to_string(sup_op_kind k);                /* "report", "stop", ... */
const char *sup_report_context_to_string(sup_report_context c);  /* "child_terminated", ... */

#endif
