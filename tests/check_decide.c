/* check_decide.c: the supervisor's decision core, with plain function
 * calls: no process, no clock. Each plan is rendered as one string, e.g.
 * "report(child_terminated,c2,killed) stop(c4) stop(c3) start(c2)", so a
 * failing case prints the whole plan it got. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"

#define SEC UINT64_C(1000000)
#define MAX_KIDS 8

/* ---- a small tree per test (Check forks each case) ---- */

static sup_spec sup, kid[MAX_KIDS], extra;
static sup_spec *kids[MAX_KIDS];
static char names[MAX_KIDS][24];
static sup_core *core;
static const sup_plan *P;
static char buf[8192];

/* restarts: one letter per child c1, c2, ...: p permanent, r transient
 * (restarted on abnormal exits), t temporary. */
static void tree(sup_strategy strategy, int intensity, uint64_t period_s, const char *restarts) {
        memset(&sup, 0, sizeof(sup));
        memset(kid, 0, sizeof(kid));
        sup.name = (char *) "top";
        sup.type = SUP_SUPERVISOR;
        sup.strategy = strategy;
        sup.intensity = intensity;
        sup.period_s = period_s;
        sup.children = kids;
        sup.n_children = strlen(restarts);
        ck_assert_uint_le(sup.n_children, MAX_KIDS);
        for (size_t i = 0; i < sup.n_children; i++) {
                snprintf(names[i], sizeof(names[i]), "c%zu", i + 1);
                kid[i].name = names[i];
                kid[i].type = SUP_WORKER;
                kid[i].shutdown_ms = 5000;
                kid[i].restart = restarts[i] == 'p' ? SUP_PERMANENT :
                                 restarts[i] == 'r' ? SUP_TRANSIENT : SUP_TEMPORARY;
                kids[i] = &kid[i];
        }
        ck_assert_int_eq(sup_core_new(&sup, &core), 0);
}

static void teardown(void) {
        core = sup_core_free(core);
}

/* Reasons are written as text here and parsed, as the shell's edges do.
 * A ring of them, so one expression may hold several. */
static const sup_reason *R(const char *text) {
        static sup_reason ring[8];
        static size_t next;

        if (!text)
                return NULL;
        sup_reason *r = &ring[next++ % 8];
        sup_reason_done(r);
        ck_assert_msg(sup_reason_parse(text, r) == 0, "not a reason: %s", text);
        return r;
}

/* And spelled back for the plan strings. */
static const char *S(const sup_reason *r) {
        static char ring[4][512];
        static size_t next;
        char *b = ring[next++ % 4];
        char *text = sup_reason_to_string(r);

        ck_assert_ptr_nonnull(text);
        snprintf(b, 512, "%s", text);
        free(text);
        return b;
}

/* A report's reason; a shutdown report's is always the same (decide.h). */
static const char *report_reason(const sup_op *op) {
        if (!op->reason)
                return op->context == SUP_REPORT_SHUTDOWN ? "reached_max_restart_intensity" : "undefined";
        return S(op->reason);
}

static const char *label(const sup_child *ch) {
        return ch->data ? (const char *) ch->data : ch->spec->name;
}

static const char *fmt_plan(const sup_plan *p) {
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < p->n_ops; i++) {
                const sup_op *op = &p->ops[i];
                const char *k = sup_op_kind_to_string(op->kind);
                const char *sep = n ? " " : "";
                switch (op->kind) {
                case SUP_OP_REPORT:
                        n += snprintf(buf + n, sizeof(buf) - n, "%sreport(%s,%s,%s)", sep,
                                      sup_report_context_to_string(op->context), label(op->child), report_reason(op));
                        break;
                case SUP_OP_RETRY:
                        n += snprintf(buf + n, sizeof(buf) - n, "%sretry(%s,%llu)", sep, label(op->child),
                                      (unsigned long long) op->delay_usec);
                        break;
                case SUP_OP_BOOT_FAILED:
                        n += snprintf(buf + n, sizeof(buf) - n, "%s%s(%s,%s)", sep, k, label(op->child),
                                      op->reason ? S(op->reason) : "undefined");
                        break;
                case SUP_OP_SHUTDOWN:
                        n += snprintf(buf + n, sizeof(buf) - n, "%s%s", sep, k);
                        break;
                case SUP_OP_STOP:
                case SUP_OP_START:
                case SUP_OP_DROP:
                case SUP_OP_ESCALATE:
                case SUP_OP_AUTO_SHUTDOWN:
                        n += snprintf(buf + n, sizeof(buf) - n, "%s%s(%s)", sep, k, label(op->child));
                        break;
                case _SUP_OP_KIND_MAX:
                        ck_abort_msg("bad op kind %d", op->kind);
                }
        }
        return buf;
}

/* "c1:running c2:stopped ..." in start order. */
static const char *states(void) {
        size_t n = 0;

        buf[0] = '\0';
        for (sup_child *ch = sup_core_first(core); ch; ch = ch->next)
                n += snprintf(buf + n, sizeof(buf) - n, "%s%s:%s", n ? " " : "", label(ch),
                              sup_child_state_to_string(ch->state));
        return buf;
}

static sup_child *C(const char *name) {
        sup_child *ch = sup_core_find(core, name);
        ck_assert_msg(ch, "no child %s", name);
        return ch;
}

static const sup_op *last_op(void) {
        ck_assert_uint_gt(P->n_ops, 0);
        return &P->ops[P->n_ops - 1];
}

/* Calls an entry point that fills P, asserts it succeeded and the plan. */
#define EXPECT(call, expected)                                   \
        do {                                                     \
                int r_ = (call);                                 \
                ck_assert_int_eq(r_, 0);                         \
                ck_assert_str_eq(fmt_plan(P), (expected));       \
        } while (0)

#define START_OK(now, expected) \
        EXPECT(sup_core_start_result(core, sup_core_starting(core), SUP_START_OK, NULL, (now), 0.5, &P), expected)
#define START_IGNORE(now, expected) \
        EXPECT(sup_core_start_result(core, sup_core_starting(core), SUP_START_IGNORE, NULL, (now), 0.5, &P), expected)
#define START_FAILED(now, reason, expected)                                                                      \
        EXPECT(sup_core_start_result(core, sup_core_starting(core), SUP_START_FAILED, R(reason), (now), 0.5, &P), \
               expected)
#define EXITED(name, reason, now, expected) EXPECT(sup_core_exited(core, C(name), R(reason), (now), 0.5, &P), expected)
#define RETRY(name, expected) EXPECT(sup_core_retry(core, C(name), C(name)->retry_id, &P), expected)

/* Boots the tree with every start succeeding at time 0. */
static void boot_all(void) {
        ck_assert_int_eq(sup_core_boot(core, &P), 0);
        while (sup_core_starting(core))
                ck_assert_int_eq(sup_core_start_result(core, sup_core_starting(core), SUP_START_OK, NULL, 0, 0.5, &P), 0);
        ck_assert_uint_eq(P->n_ops, 0);
}

/* Feeds ok to every START until the plan is done; returns the STARTs seen. */
static const char *start_all_ok(uint64_t now) {
        static char seen[1024];
        size_t n = 0;

        seen[0] = '\0';
        while (sup_core_starting(core)) {
                n += snprintf(seen + n, sizeof(seen) - n, "%s%s", n ? " " : "", label(sup_core_starting(core)));
                ck_assert_int_eq(sup_core_start_result(core, sup_core_starting(core), SUP_START_OK, NULL, now, 0.5, &P), 0);
        }
        return seen;
}

/* ---- boot ---- */

START_TEST(boot_in_order) {
        tree(SUP_ONE_FOR_ONE, 1, 5, "pppp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        ck_assert_str_eq(states(), "c1:starting c2:stopped c3:stopped c4:stopped");
        START_OK(0, "start(c2)");
        START_OK(0, "start(c3)");
        START_OK(0, "start(c4)");
        START_OK(0, "");
        ck_assert_ptr_null(sup_core_starting(core));
        ck_assert_str_eq(states(), "c1:running c2:running c3:running c4:running");
        ck_assert_int_eq(sup_core_boot(core, &P), -EALREADY);
        ck_assert_uint_eq(C("c1")->restarts, 0);
}
END_TEST

START_TEST(boot_empty) {
        tree(SUP_ONE_FOR_ALL, 1, 5, "");
        EXPECT(sup_core_boot(core, &P), "");
        ck_assert_ptr_null(sup_core_starting(core));
        ck_assert(!sup_core_finished(core));
}
END_TEST

START_TEST(boot_ignore) {
        tree(SUP_ONE_FOR_ONE, 1, 5, "ptp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_IGNORE(0, "start(c2)");
        START_IGNORE(0, "drop(c2) start(c3)");
        START_OK(0, "");
        ck_assert_str_eq(states(), "c1:stopped c3:running");
        /* An ignored spec is kept, not restarted, until restart_child. */
        EXPECT(sup_core_restart_child(core, "c1", &P), "start(c1)");
        START_OK(1, "");
        ck_assert_str_eq(states(), "c1:running c3:running");
}
END_TEST

START_TEST(boot_failed) {
        sup_reason reason;

        tree(SUP_ONE_FOR_ONE, 1, 5, "ptpp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_OK(0, "start(c2)");
        START_OK(0, "start(c3)");
        START_FAILED(0, "{init_failed,no db}",
                     "report(start_error,c3,{init_failed,no db}) stop(c2) stop(c1) boot_failed(c3,{init_failed,no db})");
        ck_assert(!P->parallel);
        ck_assert_int_eq(sup_op_exit_reason(last_op(), &reason), 0);
        ck_assert_int_eq(reason.kind, IPC_REASON_SHUTDOWN_TEXT);
        ck_assert_str_eq(S(&reason), "{shutdown,{failed_to_start_child,c3,{init_failed,no db}}}");
        sup_reason_done(&reason);
        /* c4 was never started, and the node is done. */
        ck_assert_str_eq(states(), "c1:stopped c2:stopped c3:stopped c4:stopped");
        ck_assert_uint_eq(C("c4")->restarts, 0);
        ck_assert(sup_core_finished(core));
        ck_assert_int_eq(sup_core_exited(core, C("c1"), R("killed"), 1, 0.5, &P), -ESHUTDOWN);
        ck_assert_int_eq(sup_core_shutdown(core, &P), -ESHUTDOWN);
        ck_assert_int_eq(sup_core_restart_child(core, "c4", &P), -ESHUTDOWN);
}
END_TEST

START_TEST(boot_failed_first) {
        tree(SUP_ONE_FOR_ALL, 1, 5, "pp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_FAILED(0, "start_timeout", "report(start_error,c1,start_timeout) boot_failed(c1,start_timeout)");
}
END_TEST

/* While a start result is awaited, other events wait (OTP's mailbox). */
START_TEST(busy_while_starting) {
        tree(SUP_ONE_FOR_ONE, 5, 5, "pp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_OK(0, "start(c2)");
        ck_assert_int_eq(sup_core_exited(core, C("c1"), R("killed"), 1, 0.5, &P), -EINPROGRESS);
        ck_assert_int_eq(sup_core_terminate_child(core, "c1", &P), -EINPROGRESS);
        ck_assert_int_eq(sup_core_restart_child(core, "c1", &P), -EINPROGRESS);
        ck_assert_int_eq(sup_core_delete_child(core, "c1", &P), -EINPROGRESS);
        ck_assert_int_eq(sup_core_start_child(core, &kid[0], NULL, &P, NULL), -EINPROGRESS);
        ck_assert_int_eq(sup_core_retry(core, C("c1"), 1, &P), -EINPROGRESS);
        /* A result for a child not awaited is refused. */
        ck_assert_int_eq(sup_core_start_result(core, C("c1"), SUP_START_OK, NULL, 1, 0.5, &P), -ESTALE);
        START_OK(1, "");
        EXITED("c1", "killed", 2, "report(child_terminated,c1,killed) start(c1)");
        START_OK(2, "");
        /* An exit of a child not running is a shell bug. */
        ck_assert_int_eq(sup_core_terminate_child(core, "c2", &P), 0);
        ck_assert_int_eq(sup_core_exited(core, C("c2"), R("killed"), 3, 0.5, &P), -ESTALE);
        ck_assert_int_eq(sup_core_start_result(core, C("c2"), SUP_START_FAILED, NULL, 1, 0.5, &P), -EINVAL);
}
END_TEST

/* ---- strategies ---- */

START_TEST(one_for_one_restart) {
        tree(SUP_ONE_FOR_ONE, 5, 5, "pppp");
        boot_all();
        EXITED("c2", "{signal,SIGSEGV,core_dumped}", 1 * SEC,
               "report(child_terminated,c2,{signal,SIGSEGV,core_dumped}) start(c2)");
        ck_assert_str_eq(states(), "c1:running c2:starting c3:running c4:running");
        START_OK(1 * SEC, "");
        ck_assert_uint_eq(C("c2")->restarts, 1);
        ck_assert_uint_eq(C("c2")->started_at_usec, 1 * SEC);
        ck_assert_uint_eq(sup_core_history_len(core), 1);
}
END_TEST

/* A one_for_one worker's restart is solo: the node takes its siblings'
 * exits while the start is under way, STARTs go out in exit order, each
 * result comes when it comes; ctl operations wait (-EINPROGRESS). */
START_TEST(one_for_one_solo_starts) {
        tree(SUP_ONE_FOR_ONE, 5, 5, "pppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) start(c2)");
        ck_assert(last_op()->solo);
        sup_child *c2 = C("c2");
        EXITED("c3", "killed", 2, "report(child_terminated,c3,killed) start(c3)");
        ck_assert_str_eq(states(), "c1:running c2:starting c3:starting c4:running");
        ck_assert_uint_eq(sup_core_solo_starts(core), 2);
        ck_assert_int_eq(sup_core_terminate_child(core, "c1", &P), -EINPROGRESS);
        ck_assert_int_eq(sup_core_exited(core, c2, R("killed"), 3, 0.5, &P), -ESTALE);
        EXPECT(sup_core_start_result(core, C("c3"), SUP_START_OK, NULL, 3, 0.5, &P), "");
        EXPECT(sup_core_start_result(core, c2, SUP_START_FAILED, R("{exit_status,1}"), 4, 0.5, &P),
               "report(start_error,c2,{exit_status,1}) retry(c2,0)");
        ck_assert_uint_eq(sup_core_solo_starts(core), 0);
        ck_assert_uint_eq(sup_core_history_len(core), 3);
        RETRY("c2", "start(c2)");
        START_OK(5, "");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running c4:running");
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
}
END_TEST

/* Shutdown while solo starts are under way stops them with the rest. */
START_TEST(one_for_one_solo_shutdown) {
        tree(SUP_ONE_FOR_ONE, 5, 5, "pppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) start(c2)");
        sup_child *c2 = C("c2");
        EXPECT(sup_core_shutdown(core, &P), "stop(c4) stop(c3) stop(c2) stop(c1) shutdown");
        ck_assert_uint_eq(sup_core_solo_starts(core), 0);
        ck_assert_int_eq(sup_core_start_result(core, c2, SUP_START_OK, NULL, 2, 0.5, &P), -ESHUTDOWN);
}
END_TEST

START_TEST(one_for_all_restart) {
        tree(SUP_ONE_FOR_ALL, 5, 5, "pppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) stop(c4) stop(c3) stop(c1) start(c1)");
        ck_assert_str_eq(states(), "c1:starting c2:stopped c3:stopped c4:stopped");
        START_OK(1, "start(c2)");
        START_OK(1, "start(c3)");
        START_OK(1, "start(c4)");
        START_OK(1, "");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running c4:running");
        ck_assert_uint_eq(sup_core_history_len(core), 1);     /* a group restart counts once */
}
END_TEST

START_TEST(rest_for_one_restart) {
        tree(SUP_REST_FOR_ONE, 5, 5, "pppp");
        boot_all();
        /* OTP 25, verified: crash c2 of c1..c4 -> terminate c4,c3; start c2,c3,c4. */
        EXITED("c2", "{exit_status,1}", 1, "report(child_terminated,c2,{exit_status,1}) stop(c4) stop(c3) start(c2)");
        ck_assert_str_eq(start_all_ok(1), "c2 c3 c4");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running c4:running");
        /* The last child takes nobody with it. */
        EXITED("c4", "killed", 2, "report(child_terminated,c4,killed) start(c4)");
        ck_assert_str_eq(start_all_ok(2), "c4");
        /* The first takes everyone. */
        EXITED("c1", "killed", 3, "report(child_terminated,c1,killed) stop(c4) stop(c3) stop(c2) start(c1)");
        ck_assert_str_eq(start_all_ok(3), "c1 c2 c3 c4");
        ck_assert_uint_eq(sup_core_history_len(core), 3);
}
END_TEST

START_TEST(temporary_bystanders) {
        tree(SUP_ONE_FOR_ALL, 5, 5, "pptp");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) stop(c4) stop(c3) drop(c3) stop(c2) start(c1)");
        ck_assert_str_eq(start_all_ok(1), "c1 c2 c4");
        ck_assert_str_eq(states(), "c1:running c2:running c4:running");
        ck_assert_ptr_null(sup_core_find(core, "c3"));
        sup_core_free(core);

        tree(SUP_REST_FOR_ONE, 5, 5, "ptpt");
        boot_all();
        EXITED("c3", "killed", 1, "report(child_terminated,c3,killed) stop(c4) drop(c4) start(c3)");
        ck_assert_str_eq(start_all_ok(1), "c3");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running");
}
END_TEST

/* OTP's group restart starts every spec of the group, also those that
 * were not running (supervisor_SUITE's tree case: a terminated child
 * comes back with a one_for_all restart). */
START_TEST(group_restarts_stopped_specs) {
        tree(SUP_ONE_FOR_ALL, 5, 5, "ppp");
        boot_all();
        EXPECT(sup_core_terminate_child(core, "c3", &P), "stop(c3)");
        ck_assert_str_eq(states(), "c1:running c2:running c3:stopped");
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) stop(c2) start(c1)");
        ck_assert_str_eq(start_all_ok(1), "c1 c2 c3");
}
END_TEST

/* ---- restart types x reasons ---- */

static const char *const reasons[] = { "normal", "shutdown", "{shutdown,bye}", "{exit_status,3}" };
static const struct {
        const char *restarts;
        const char *plan[4];
        const char *states[4];
} matrix[] = {
        { "pp",
          { "report(child_terminated,c1,normal) start(c1)", "report(child_terminated,c1,shutdown) start(c1)",
            "report(child_terminated,c1,{shutdown,bye}) start(c1)",
            "report(child_terminated,c1,{exit_status,3}) start(c1)" },
          { "c1:starting c2:running", "c1:starting c2:running", "c1:starting c2:running", "c1:starting c2:running" } },
        { "rp",
          { "", "", "", "report(child_terminated,c1,{exit_status,3}) start(c1)" },
          { "c1:stopped c2:running", "c1:stopped c2:running", "c1:stopped c2:running", "c1:starting c2:running" } },
        { "tp",
          { "drop(c1)", "drop(c1)", "drop(c1)", "report(child_terminated,c1,{exit_status,3}) drop(c1)" },
          { "c2:running", "c2:running", "c2:running", "c2:running" } },
};

START_TEST(restart_type_by_reason) {
        size_t type = (size_t) _i / 4, reason = (size_t) _i % 4;
        tree(SUP_ONE_FOR_ONE, 5, 5, matrix[type].restarts);
        boot_all();
        EXITED("c1", reasons[reason], 1, matrix[type].plan[reason]);
        ck_assert_str_eq(states(), matrix[type].states[reason]);
        /* Not restarted: nothing counted. */
        ck_assert_uint_eq(sup_core_history_len(core), strstr(matrix[type].plan[reason], "start") ? 1 : 0);
}
END_TEST

START_TEST(reason_clean) {
        /* Text that is no reason at all: check_exit_reason.c. */
        ck_assert(sup_reason_is_clean(R("normal")));
        ck_assert(sup_reason_is_clean(R("shutdown")));
        ck_assert(sup_reason_is_clean(R("{shutdown,x}")));
        ck_assert(sup_reason_is_clean(R("{shutdown,{a,b}}")));
        ck_assert(!sup_reason_is_clean(R("killed")));
        ck_assert(!sup_reason_is_clean(R("{error,normal}")));
        ck_assert(!sup_reason_is_clean(R("{exit_status,0}")));
        ck_assert(!sup_reason_is_clean(R("start_timeout")));
        ck_assert(!sup_reason_is_clean(R("{init_failed,shutdown}")));
        ck_assert(!sup_reason_is_clean(NULL));
}
END_TEST

START_TEST(shutdown_error_due) {
        sup_spec s = { .name = (char *) "x", .restart = SUP_PERMANENT, .shutdown_ms = 500 };

        ck_assert(!sup_shutdown_error_due(&s, R("shutdown")));
        ck_assert(sup_shutdown_error_due(&s, R("killed")));          /* killed after the timeout */
        ck_assert(sup_shutdown_error_due(&s, R("normal")));
        ck_assert(sup_shutdown_error_due(&s, R("{shutdown,x}")));
        ck_assert(sup_shutdown_error_due(&s, R("{signal,SIGSEGV}")));
        s.restart = SUP_TRANSIENT;
        ck_assert(!sup_shutdown_error_due(&s, R("normal")));
        ck_assert(!sup_shutdown_error_due(&s, R("{shutdown,x}")));
        ck_assert(sup_shutdown_error_due(&s, R("killed")));
        s.shutdown_ms = SUP_SHUTDOWN_BRUTAL_KILL;
        ck_assert(!sup_shutdown_error_due(&s, R("killed")));
        ck_assert(!sup_shutdown_error_due(&s, R("shutdown")));
        s.restart = SUP_PERMANENT;
        ck_assert(!sup_shutdown_error_due(&s, R("killed")));
        ck_assert(sup_shutdown_error_due(&s, R("shutdown")));
        s.shutdown_ms = SUP_SHUTDOWN_INFINITY;
        ck_assert(!sup_shutdown_error_due(&s, R("shutdown")));
        ck_assert(sup_shutdown_error_due(&s, R("killed")));
}
END_TEST

/* ---- intensity ---- */

START_TEST(intensity_0) {
        sup_reason reason;

        tree(SUP_ONE_FOR_ONE, 0, 5, "ppp");
        boot_all();
        EXITED("c2", "killed", 100 * SEC,
               "report(child_terminated,c2,killed) report(shutdown,c2,reached_max_restart_intensity) "
               "stop(c3) stop(c1) escalate(c2)");
        ck_assert_int_eq(sup_op_exit_reason(last_op(), &reason), 0);
        ck_assert_str_eq(S(&reason), "shutdown");
        ck_assert(sup_core_finished(core));
        ck_assert_str_eq(states(), "c1:stopped c2:stopped c3:stopped");
}
END_TEST

START_TEST(intensity_1_boundary) {
        tree(SUP_ONE_FOR_ONE, 1, 5, "pp");
        boot_all();
        EXITED("c1", "killed", 10 * SEC, "report(child_terminated,c1,killed) start(c1)");
        START_OK(10 * SEC, "");
        /* An entry exactly period old is still in the window. */
        EXITED("c1", "killed", 15 * SEC,
               "report(child_terminated,c1,killed) report(shutdown,c1,reached_max_restart_intensity) "
               "stop(c2) escalate(c1)");
}
END_TEST

START_TEST(intensity_1_just_past) {
        tree(SUP_ONE_FOR_ONE, 1, 5, "pp");
        boot_all();
        EXITED("c1", "killed", 10 * SEC, "report(child_terminated,c1,killed) start(c1)");
        START_OK(10 * SEC, "");
        /* One microsecond later it has left the window (OTP's whole
         * seconds would still count it). */
        EXITED("c2", "killed", 15 * SEC + 1, "report(child_terminated,c2,killed) start(c2)");
        START_OK(15 * SEC + 1, "");
        ck_assert_uint_eq(sup_core_history_len(core), 1);
}
END_TEST

START_TEST(intensity_3) {
        tree(SUP_ONE_FOR_ONE, 3, 60, "ppp");
        boot_all();
        for (int i = 1; i <= 3; i++) {
                EXITED(i == 2 ? "c3" : "c1", "killed", (uint64_t) i * SEC,
                       i == 2 ? "report(child_terminated,c3,killed) start(c3)"
                              : "report(child_terminated,c1,killed) start(c1)");
                START_OK((uint64_t) i * SEC, "");
                ck_assert_uint_eq(sup_core_history_len(core), (size_t) i);
        }
        EXITED("c2", "killed", 4 * SEC,
               "report(child_terminated,c2,killed) report(shutdown,c2,reached_max_restart_intensity) "
               "stop(c3) stop(c1) escalate(c2)");
}
END_TEST

/* Restarts spread wider than the window never escalate, and the history
 * never holds more than intensity + 1 entries. */
START_TEST(intensity_period_passing) {
        tree(SUP_ONE_FOR_ONE, 2, 10, "p");
        boot_all();
        uint64_t t = 0;
        for (int i = 0; i < 100; i++) {
                t += 6 * SEC;   /* 3 in a 10 s window escalate; 6 s apart there are 2 */
                EXITED("c1", "killed", t, "report(child_terminated,c1,killed) start(c1)");
                START_OK(t, "");
                ck_assert_uint_le(sup_core_history_len(core), 3);
        }
        /* A crash 1 s later is the third within 10 s (7 s, 1 s, now). */
        t += 1 * SEC;
        EXITED("c1", "killed", t,
               "report(child_terminated,c1,killed) report(shutdown,c1,reached_max_restart_intensity) escalate(c1)");
}
END_TEST

START_TEST(intensity_not_reached_by_clean_exits) {
        tree(SUP_ONE_FOR_ONE, 0, 5, "rr");
        boot_all();
        EXITED("c1", "normal", 1, "");
        EXITED("c2", "{shutdown,done}", 1, "");
        ck_assert_uint_eq(sup_core_history_len(core), 0);
        ck_assert(!sup_core_finished(core));
}
END_TEST

/* ---- failed restarts ---- */

/* OTP 25, verified: intensity 3 -> 4 init calls in all, then escalation. */
START_TEST(failed_restart_retries_count) {
        tree(SUP_ONE_FOR_ONE, 3, 60, "pp");
        boot_all();
        EXITED("c1", "killed", 1 * SEC, "report(child_terminated,c1,killed) start(c1)");
        START_FAILED(1 * SEC, "{exit_status,1}", "report(start_error,c1,{exit_status,1}) retry(c1,0)");
        ck_assert_str_eq(states(), "c1:restarting c2:running");
        ck_assert_uint_eq(sup_core_history_len(core), 2);
        RETRY("c1", "start(c1)");
        START_FAILED(2 * SEC, "{exit_status,1}", "report(start_error,c1,{exit_status,1}) retry(c1,0)");
        RETRY("c1", "start(c1)");
        START_FAILED(3 * SEC, "{exit_status,1}",
                     "report(start_error,c1,{exit_status,1}) report(shutdown,c1,reached_max_restart_intensity) "
                     "stop(c2) escalate(c1)");
        ck_assert_uint_eq(C("c1")->restarts, 3);     /* 1 boot start + 3 restarts = 4 init calls */
}
END_TEST

/* A restart that fails for want of gensupd's resources waits, longer
 * each time, and does not burn the intensity: intensity 1 would give up
 * on the second failed attempt of any other kind. */
#define START_SHORT(now, expected)                                                                              \
        EXPECT(sup_core_start_result(core, sup_core_starting(core), SUP_START_NO_RESOURCES,                     \
                                     R("{init_failed,Too many open files}"), (now), 0.5, &P),                   \
               expected)
#define SHORT_REPORT "report(start_error,c1,{init_failed,Too many open files}) "

START_TEST(resource_shortage_waits_uncounted) {
        static const char *const delays[] = { "100000", "200000", "400000", "800000", "1600000",
                                               "3200000", "5000000", "5000000" };
        char expected[128];

        tree(SUP_ONE_FOR_ALL, 1, 60, "pp");
        boot_all();
        EXITED("c1", "killed", 1 * SEC, "report(child_terminated,c1,killed) stop(c2) start(c1)");
        ck_assert_uint_eq(sup_core_history_len(core), 1);
        for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
                snprintf(expected, sizeof(expected), SHORT_REPORT "retry(c1,%s)", delays[i]);
                START_SHORT((2 + i) * SEC, expected);
                ck_assert_str_eq(states(), "c1:restarting c2:stopped");
                ck_assert_uint_eq(sup_core_history_len(core), 1);
                RETRY("c1", "start(c1)");
        }
        START_OK(20 * SEC, "start(c2)");
        START_OK(20 * SEC, "");
        ck_assert_str_eq(states(), "c1:running c2:running");
        ck_assert(!sup_core_finished(core));
        /* A start that works makes the next shortage wait 100 ms again. */
        EXITED("c2", "killed", 100 * SEC, "report(child_terminated,c2,killed) stop(c1) start(c1)");
        START_SHORT(100 * SEC, SHORT_REPORT "retry(c1,100000)");
}
END_TEST

/* At boot, and for ctl operations, it is a failed start as any other. */
START_TEST(resource_shortage_at_boot) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_SHORT(0, SHORT_REPORT "boot_failed(c1,{init_failed,Too many open files})");
        core = sup_core_free(core);
        tree(SUP_ONE_FOR_ONE, 5, 60, "pp");
        boot_all();
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
        EXPECT(sup_core_restart_child(core, "c1", &P), "start(c1)");
        START_SHORT(1, "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
}
END_TEST

START_TEST(resource_shortage_classes) {
        ck_assert(sup_errno_is_resource_shortage(-EMFILE));
        ck_assert(sup_errno_is_resource_shortage(-ENFILE));
        ck_assert(sup_errno_is_resource_shortage(-EAGAIN));
        ck_assert(sup_errno_is_resource_shortage(-ENOMEM));
        ck_assert(!sup_errno_is_resource_shortage(-ENOENT));
        ck_assert(!sup_errno_is_resource_shortage(-EACCES));
        ck_assert(!sup_errno_is_resource_shortage(0));
        ck_assert_uint_eq(sup_resource_delay_usec(1), 100000);
        ck_assert_uint_eq(sup_resource_delay_usec(6), 3200000);
        ck_assert_uint_eq(sup_resource_delay_usec(7), 5000000);
        ck_assert_uint_eq(sup_resource_delay_usec(UINT32_MAX), 5000000);
}
END_TEST

START_TEST(failed_restart_then_ok) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "p");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) start(c1)");
        START_FAILED(1, "start_timeout", "report(start_error,c1,start_timeout) retry(c1,0)");
        /* A retry of another id is stale. */
        EXPECT(sup_core_retry(core, C("c1"), C("c1")->retry_id + 1, &P), "");
        RETRY("c1", "start(c1)");
        START_OK(2, "");
        ck_assert_str_eq(states(), "c1:running");
        /* Now running, the same retry is stale too. */
        EXPECT(sup_core_retry(core, C("c1"), C("c1")->retry_id, &P), "");
}
END_TEST

/* supervisor_SUITE's one_for_all_other_child_fails_restart: the retry
 * stops the children restarted already and starts all again. */
START_TEST(one_for_all_sibling_fails) {
        tree(SUP_ONE_FOR_ALL, 5, 60, "ppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) stop(c3) stop(c1) start(c1)");
        START_OK(1, "start(c2)");
        START_OK(1, "start(c3)");
        START_FAILED(1, "{init_failed,x}", "report(start_error,c3,{init_failed,x}) retry(c3,0)");
        ck_assert_str_eq(states(), "c1:running c2:running c3:restarting");
        ck_assert_uint_eq(sup_core_history_len(core), 2);
        RETRY("c3", "stop(c2) stop(c1) start(c1)");
        ck_assert_str_eq(start_all_ok(2), "c1 c2 c3");
        ck_assert_uint_eq(sup_core_history_len(core), 2);     /* the retry was counted when decided */
}
END_TEST

/* supervisor_SUITE's rest_for_one_other_child_fails_restart: the retry
 * restarts from the failed child; those before it keep running. */
START_TEST(rest_for_one_sibling_fails) {
        tree(SUP_REST_FOR_ONE, 5, 60, "pppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) stop(c4) stop(c3) start(c2)");
        START_OK(1, "start(c3)");
        START_FAILED(1, "{init_failed,x}", "report(start_error,c3,{init_failed,x}) retry(c3,0)");
        ck_assert_str_eq(states(), "c1:running c2:running c3:restarting c4:stopped");
        RETRY("c3", "start(c3)");
        ck_assert_str_eq(start_all_ok(2), "c3 c4");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running c4:running");
}
END_TEST

START_TEST(group_failure_escalates) {
        tree(SUP_ONE_FOR_ALL, 1, 60, "ppp");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) stop(c3) stop(c2) start(c1)");
        START_OK(1, "start(c2)");
        START_FAILED(1, "{init_failed,x}",
                     "report(start_error,c2,{init_failed,x}) report(shutdown,c2,reached_max_restart_intensity) "
                     "stop(c1) escalate(c2)");
}
END_TEST

/* A group restart takes along a member whose own retry is pending; that
 * retry is stale afterwards. */
START_TEST(group_restart_supersedes_retry) {
        tree(SUP_ONE_FOR_ALL, 5, 60, "ppp");
        boot_all();
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) stop(c3) stop(c1) start(c1)");
        START_OK(1, "start(c2)");
        START_OK(1, "start(c3)");
        START_FAILED(1, "{init_failed,x}", "report(start_error,c3,{init_failed,x}) retry(c3,0)");
        uint64_t id = C("c3")->retry_id;
        /* c1 crashes before the retry is handled. */
        EXITED("c1", "killed", 2, "report(child_terminated,c1,killed) stop(c2) start(c1)");
        ck_assert_str_eq(start_all_ok(2), "c1 c2 c3");
        EXPECT(sup_core_retry(core, C("c3"), id, &P), "");
        ck_assert_str_eq(states(), "c1:running c2:running c3:running");
        ck_assert_uint_eq(sup_core_history_len(core), 3);
}
END_TEST

/* The plan keeps its own copy of the reason. */
START_TEST(plan_owns_reason) {
        sup_reason reason;

        tree(SUP_ONE_FOR_ONE, 5, 60, "p");
        boot_all();
        ck_assert_int_eq(sup_reason_with_text(IPC_REASON_ERROR, "disk full", &reason), 0);
        ck_assert_int_eq(sup_core_exited(core, C("c1"), &reason, 1, 0.5, &P), 0);
        strcpy(reason.text, "overwrite");
        sup_reason_done(&reason);
        ck_assert_str_eq(fmt_plan(P), "report(child_terminated,c1,{error,disk full}) start(c1)");
}
END_TEST

START_TEST(ignore_on_restart) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pp");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) start(c1)");
        START_IGNORE(1, "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
        /* Group restarts keep going past an ignore. */
        sup_core_free(core);
        tree(SUP_ONE_FOR_ALL, 5, 60, "ppp");
        boot_all();
        EXITED("c3", "killed", 1, "report(child_terminated,c3,killed) stop(c2) stop(c1) start(c1)");
        START_OK(1, "start(c2)");
        START_IGNORE(1, "start(c3)");
        START_OK(1, "");
        ck_assert_str_eq(states(), "c1:running c2:stopped c3:running");
}
END_TEST

START_TEST(terminate_restarting_child) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pt");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) start(c1)");
        START_FAILED(1, "start_timeout", "report(start_error,c1,start_timeout) retry(c1,0)");
        uint64_t id = C("c1")->retry_id;
        ck_assert_int_eq(sup_core_restart_child(core, "c1", &P), -EAGAIN);
        ck_assert_int_eq(sup_core_delete_child(core, "c1", &P), -EAGAIN);
        EXPECT(sup_core_terminate_child(core, "c1", &P), "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
        EXPECT(sup_core_retry(core, C("c1"), id, &P), "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
        EXPECT(sup_core_delete_child(core, "c1", &P), "drop(c1)");
        ck_assert_str_eq(states(), "c2:running");
}
END_TEST

/* ---- significant children and auto_shutdown ---- */

START_TEST(any_significant) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "ptrp");
        sup.auto_shutdown = SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
        kid[1].significant = true;
        kid[2].significant = true;
        boot_all();
        /* Restarted: no auto_shutdown. */
        EXITED("c3", "killed", 1, "report(child_terminated,c3,killed) start(c3)");
        START_OK(1, "");
        /* A terminated significant child does not count either. */
        EXPECT(sup_core_terminate_child(core, "c3", &P), "stop(c3)");
        EXPECT(sup_core_restart_child(core, "c3", &P), "start(c3)");
        START_OK(2, "");
        /* A transient one ending cleanly ends the node. */
        EXITED("c3", "normal", 3, "stop(c4) stop(c2) stop(c1) auto_shutdown(c3)");
        ck_assert(sup_core_finished(core));
        sup_reason reason;
        ck_assert_int_eq(sup_op_exit_reason(last_op(), &reason), 0);
        ck_assert_str_eq(S(&reason), "shutdown");
}
END_TEST

START_TEST(any_significant_temporary) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "ptp");
        sup.auto_shutdown = SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
        kid[1].significant = true;
        boot_all();
        EXITED("c2", "{error,bad}", 1, "report(child_terminated,c2,{error,bad}) drop(c2) stop(c3) stop(c1) auto_shutdown(c2)");
}
END_TEST

START_TEST(all_significant) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "prtp");
        sup.auto_shutdown = SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT;
        kid[1].significant = true;
        kid[2].significant = true;
        boot_all();
        EXITED("c2", "shutdown", 1, "");
        ck_assert(!sup_core_finished(core));
        EXITED("c3", "normal", 2, "drop(c3) stop(c4) stop(c1) auto_shutdown(c3)");
}
END_TEST

/* A significant child restarting still counts as there. */
START_TEST(all_significant_restarting) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "rr");
        sup.auto_shutdown = SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT;
        kid[0].significant = true;
        kid[1].significant = true;
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) start(c1)");
        START_FAILED(1, "start_timeout", "report(start_error,c1,start_timeout) retry(c1,0)");
        EXITED("c2", "normal", 2, "");
        RETRY("c1", "start(c1)");
        START_OK(3, "");
        EXITED("c1", "normal", 4, "auto_shutdown(c1)");
}
END_TEST

/* Bystanders taken down by a group restart never trigger it. */
START_TEST(significant_bystander) {
        tree(SUP_ONE_FOR_ALL, 5, 60, "pt");
        sup.auto_shutdown = SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
        kid[1].significant = true;
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) stop(c2) drop(c2) start(c1)");
        START_OK(1, "");
        ck_assert(!sup_core_finished(core));
}
END_TEST

START_TEST(auto_shutdown_never) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "rp");
        kid[0].significant = true;     /* the parser refuses this; the core ignores it */
        boot_all();
        EXITED("c1", "normal", 1, "");
        ck_assert(!sup_core_finished(core));
}
END_TEST

/* ---- ctl operations ---- */

START_TEST(ctl_start_child) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pp");
        boot_all();
        sup_child *ch = NULL;

        ck_assert_int_eq(sup_core_start_child(core, &kid[0], NULL, &P, &ch), -EEXIST);
        ck_assert_str_eq(sup_error_to_string(-EEXIST), "already_started");
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
        ck_assert_int_eq(sup_core_start_child(core, &kid[0], NULL, &P, &ch), -EALREADY);
        ck_assert_str_eq(sup_error_to_string(-EALREADY), "already_present");
        ck_assert_ptr_null(ch);

        extra = kid[1];
        extra.name = (char *) "x";
        EXPECT(sup_core_start_child(core, &extra, (void *) "x", &P, &ch), "start(x)");
        ck_assert_ptr_eq(ch, sup_core_starting(core));
        ck_assert_str_eq((const char *) ch->data, "x");
        START_OK(1, "");
        ck_assert_str_eq(states(), "c1:stopped c2:running x:running");

        /* which_children: newest first. */
        sup_child *wc[8];
        ck_assert_uint_eq(sup_core_which_children(core, wc, 8), 3);
        ck_assert_str_eq(wc[0]->spec->name, "x");
        ck_assert_str_eq(wc[1]->spec->name, "c2");
        ck_assert_str_eq(wc[2]->spec->name, "c1");
        ck_assert_uint_eq(sup_core_which_children(core, wc, 1), 3);
        ck_assert_str_eq(wc[0]->spec->name, "x");

        /* A failed start_child discards the spec. */
        sup_spec y = kid[1];
        y.name = (char *) "y";
        EXPECT(sup_core_start_child(core, &y, NULL, &P, &ch), "start(y)");
        START_FAILED(2, "{init_failed,x}", "drop(y)");
        ck_assert_ptr_null(sup_core_find(core, "y"));
        /* A temporary one that ignores is not kept either; others are. */
        y.restart = SUP_TEMPORARY;
        EXPECT(sup_core_start_child(core, &y, NULL, &P, &ch), "start(y)");
        START_IGNORE(2, "drop(y)");
        y.restart = SUP_TRANSIENT;
        EXPECT(sup_core_start_child(core, &y, NULL, &P, &ch), "start(y)");
        START_IGNORE(2, "");
        ck_assert_str_eq(states(), "c1:stopped c2:running x:running y:stopped");
        ck_assert_int_eq(sup_core_start_instance(core, NULL, &P, &ch), -EOPNOTSUPP);
}
END_TEST

START_TEST(ctl_terminate_child) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pt");
        boot_all();
        ck_assert_int_eq(sup_core_terminate_child(core, "nope", &P), -ENOENT);
        ck_assert_str_eq(sup_error_to_string(-ENOENT), "not_found");
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
        EXPECT(sup_core_terminate_child(core, "c1", &P), "");      /* ok when not running */
        EXPECT(sup_core_terminate_child(core, "c2", &P), "stop(c2) drop(c2)");
        ck_assert_str_eq(states(), "c1:stopped");
        ck_assert_int_eq(sup_core_terminate_instance(core, C("c1"), &P), -ENOENT);
        ck_assert_uint_eq(sup_core_history_len(core), 0);
}
END_TEST

START_TEST(ctl_restart_child) {
        tree(SUP_ONE_FOR_ONE, 0, 60, "pp");
        boot_all();
        ck_assert_int_eq(sup_core_restart_child(core, "c1", &P), -EBUSY);
        ck_assert_str_eq(sup_error_to_string(-EBUSY), "running");
        ck_assert_int_eq(sup_core_restart_child(core, "nope", &P), -ENOENT);
        /* restart_child never counts: intensity 0 survives it. */
        for (int i = 0; i < 5; i++) {
                EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
                EXPECT(sup_core_restart_child(core, "c1", &P), "start(c1)");
                START_OK((uint64_t) i, "");
        }
        ck_assert_uint_eq(sup_core_history_len(core), 0);
        ck_assert_uint_eq(C("c1")->restarts, 5);
        /* A failed restart_child keeps the spec, silently. */
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
        EXPECT(sup_core_restart_child(core, "c1", &P), "start(c1)");
        START_FAILED(9, "{exit_status,2}", "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
        EXPECT(sup_core_restart_child(core, "c1", &P), "start(c1)");
        START_IGNORE(9, "");
        ck_assert_str_eq(states(), "c1:stopped c2:running");
        ck_assert_uint_eq(sup_core_history_len(core), 0);
}
END_TEST

START_TEST(ctl_delete_child) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pp");
        boot_all();
        ck_assert_int_eq(sup_core_delete_child(core, "c1", &P), -EBUSY);
        ck_assert_int_eq(sup_core_delete_child(core, "nope", &P), -ENOENT);
        EXPECT(sup_core_terminate_child(core, "c1", &P), "stop(c1)");
        EXPECT(sup_core_delete_child(core, "c1", &P), "drop(c1)");
        ck_assert_int_eq(sup_core_delete_child(core, "c1", &P), -ENOENT);
        ck_assert_str_eq(states(), "c2:running");
        ck_assert_uint_eq(sup_core_n_children(core), 1);
}
END_TEST

START_TEST(ctl_count_children) {
        sup_counts n;

        tree(SUP_ONE_FOR_ONE, 5, 60, "pppp");
        kid[1].type = SUP_SUPERVISOR;
        kid[3].type = SUP_SUPERVISOR;
        boot_all();
        EXPECT(sup_core_terminate_child(core, "c4", &P), "stop(c4)");
        sup_core_count_children(core, &n);
        ck_assert_uint_eq(n.specs, 4);
        ck_assert_uint_eq(n.active, 3);
        ck_assert_uint_eq(n.supervisors, 2);
        ck_assert_uint_eq(n.workers, 2);
}
END_TEST

/* ---- simple_one_for_one ---- */

static void simple_tree(char restart, int intensity) {
        char r[2] = { restart, '\0' };
        tree(SUP_SIMPLE_ONE_FOR_ONE, intensity, 60, r);
        boot_all();
}

/* A new instance labelled by its data, started ok. */
static sup_child *add_instance(const char *label_) {
        sup_child *ch = NULL;
        ck_assert_int_eq(sup_core_start_instance(core, (void *) label_, &P, &ch), 0);
        ck_assert_ptr_eq(sup_core_starting(core), ch);
        ck_assert_uint_eq(P->n_ops, 1);
        START_OK(0, "");
        return ch;
}

START_TEST(simple_instances) {
        sup_counts n;

        simple_tree('p', 5);
        sup_child *a = add_instance("a"), *b = add_instance("b"), *c = add_instance("c");
        ck_assert_str_eq(states(), "a:running b:running c:running");
        ck_assert_ptr_null(sup_core_find(core, "c1"));
        EXPECT(sup_core_exited(core, b, R("killed"), 1, 0.5, &P), "report(child_terminated,b,killed) start(b)");
        START_OK(1, "");
        ck_assert_ptr_eq(sup_core_first(core)->next, b);
        EXPECT(sup_core_terminate_instance(core, a, &P), "stop(a) drop(a)");
        ck_assert_str_eq(states(), "b:running c:running");
        sup_core_count_children(core, &n);
        ck_assert_uint_eq(n.specs, 1);
        ck_assert_uint_eq(n.active, 2);
        ck_assert_uint_eq(n.workers, 2);
        ck_assert_uint_eq(n.supervisors, 0);

        ck_assert_int_eq(sup_core_terminate_child(core, "c1", &P), -EOPNOTSUPP);
        ck_assert_str_eq(sup_error_to_string(-EOPNOTSUPP), "simple_one_for_one");
        ck_assert_int_eq(sup_core_restart_child(core, "c1", &P), -EOPNOTSUPP);
        ck_assert_int_eq(sup_core_delete_child(core, "c1", &P), -EOPNOTSUPP);
        ck_assert_int_eq(sup_core_start_child(core, &kid[0], NULL, &P, NULL), -EOPNOTSUPP);

        EXPECT(sup_core_shutdown(core, &P), "stop(c) stop(b) shutdown");
        ck_assert(P->parallel);
        (void) c;
}
END_TEST

START_TEST(simple_clean_exit_drops) {
        simple_tree('r', 5);
        sup_child *a = add_instance("a");
        add_instance("b");
        EXPECT(sup_core_exited(core, a, R("normal"), 1, 0.5, &P), "drop(a)");
        ck_assert_str_eq(states(), "b:running");
        sup_core_free(core);

        simple_tree('t', 5);
        a = add_instance("a");
        EXPECT(sup_core_exited(core, a, R("killed"), 1, 0.5, &P), "report(child_terminated,a,killed) drop(a)");
        ck_assert_uint_eq(sup_core_n_children(core), 0);
}
END_TEST

/* supervisor_SUITE's simple_one_for_one_restart_ignore. */
START_TEST(simple_restart_ignore) {
        simple_tree('p', 10);
        sup_child *a = add_instance("a");
        EXPECT(sup_core_exited(core, a, R("killed"), 1, 0.5, &P), "report(child_terminated,a,killed) start(a)");
        START_IGNORE(1, "drop(a)");
        ck_assert_uint_eq(sup_core_n_children(core), 0);
}
END_TEST

START_TEST(simple_start_failed_or_ignored) {
        sup_child *ch = NULL;

        simple_tree('p', 10);
        EXPECT(sup_core_start_instance(core, (void *) "a", &P, &ch), "start(a)");
        START_FAILED(1, "{init_failed,x}", "drop(a)");
        EXPECT(sup_core_start_instance(core, (void *) "b", &P, &ch), "start(b)");
        START_IGNORE(1, "drop(b)");
        ck_assert_uint_eq(sup_core_n_children(core), 0);
        ck_assert_uint_eq(sup_core_history_len(core), 0);
}
END_TEST

START_TEST(simple_escalation) {
        simple_tree('p', 1);
        sup_child *a = add_instance("a");
        add_instance("b");
        EXPECT(sup_core_exited(core, a, R("killed"), 1, 0.5, &P), "report(child_terminated,a,killed) start(a)");
        START_OK(1, "");
        EXPECT(sup_core_exited(core, a, R("killed"), 2, 0.5, &P),
               "report(child_terminated,a,killed) report(shutdown,a,reached_max_restart_intensity) "
               "stop(b) escalate(a)");
        ck_assert(P->parallel);
}
END_TEST

START_TEST(simple_new_bad) {
        sup_spec s = { .name = (char *) "s", .strategy = SUP_SIMPLE_ONE_FOR_ONE, .children = kids, .n_children = 2 };

        ck_assert_int_eq(sup_core_new(&s, &core), -EINVAL);
        ck_assert_ptr_null(core);
        s.n_children = 0;
        ck_assert_int_eq(sup_core_new(&s, &core), -EINVAL);
        ck_assert_int_eq(sup_core_new(NULL, &core), -EINVAL);
}
END_TEST

/* ---- shutdown ---- */

START_TEST(shutdown_order) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "pppp");
        boot_all();
        EXPECT(sup_core_terminate_child(core, "c3", &P), "stop(c3)");
        EXITED("c2", "killed", 1, "report(child_terminated,c2,killed) start(c2)");
        START_FAILED(1, "start_timeout", "report(start_error,c2,start_timeout) retry(c2,0)");
        /* Only running children are stopped; the restarting one is called off. */
        EXPECT(sup_core_shutdown(core, &P), "stop(c4) stop(c1) shutdown");
        ck_assert(!P->parallel);
        ck_assert(sup_core_finished(core));
        ck_assert_str_eq(states(), "c1:stopped c2:stopped c3:stopped c4:stopped");
        ck_assert_int_eq(sup_core_retry(core, C("c2"), C("c2")->retry_id, &P), -ESHUTDOWN);
        ck_assert_int_eq(sup_core_start_child(core, &kid[0], NULL, &P, NULL), -ESHUTDOWN);
}
END_TEST

START_TEST(shutdown_while_starting) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "ppp");
        EXPECT(sup_core_boot(core, &P), "start(c1)");
        START_OK(0, "start(c2)");
        EXPECT(sup_core_shutdown(core, &P), "stop(c2) stop(c1) shutdown");
        ck_assert_ptr_null(sup_core_starting(core));
        ck_assert_int_eq(sup_core_start_result(core, C("c2"), SUP_START_OK, NULL, 0, 0.5, &P), -ESHUTDOWN);
}
END_TEST

/* ---- backoff ---- */

START_TEST(backoff_growth_and_cap) {
        sup_backoff b = { .initial_ms = 100, .max_ms = 1000, .factor = 2.0, .jitter = 0.0, .reset_after_ms = 10000 };
        static const uint64_t want_ms[] = { 100, 200, 400, 800, 1000, 1000, 1000 };

        for (unsigned n = 1; n <= 7; n++)
                ck_assert_uint_eq(sup_backoff_delay_usec(&b, n, 0.3), want_ms[n - 1] * 1000);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 0, 0.3), 100 * 1000);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, UINT32_MAX, 0.3), 1000 * 1000);
        b.factor = 0.5;         /* no shrinking */
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 5, 0.3), 100 * 1000);
        b.factor = 3.0;
        b.max_ms = 0;           /* no cap but the ceiling */
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 3, 0.3), 900 * 1000);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1000, 0.3), UINT64_C(4294967295) * 1000);
        b.initial_ms = 0;       /* off */
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 5, 0.3), 0);
        ck_assert_uint_eq(sup_backoff_delay_usec(NULL, 5, 0.3), 0);
}
END_TEST

START_TEST(backoff_jitter_bounds) {
        sup_backoff b = { .initial_ms = 1000, .max_ms = 1000, .factor = 2.0, .jitter = 0.2 };

        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, 0.0), 800 * 1000);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, 0.5), 1000 * 1000);
        for (int i = 0; i < 1000; i++) {
                double r = i / 1000.0;
                uint64_t d = sup_backoff_delay_usec(&b, 3, r);
                ck_assert_uint_ge(d, 800 * 1000);
                ck_assert_uint_lt(d, 1200 * 1000);
        }
        ck_assert_uint_le(sup_backoff_delay_usec(&b, 1, 0.9999999), 1200 * 1000);
        /* Out of range fractions are clamped. */
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, -3.0), 800 * 1000);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, 7.0), 1200 * 1000);
        b.jitter = 5.0;         /* at most the whole delay */
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, 0.0), 0);
        ck_assert_uint_eq(sup_backoff_delay_usec(&b, 1, 1.0), 2000 * 1000);
}
END_TEST

static void backoff_tree(const char *restarts, sup_strategy strategy) {
        tree(strategy, 100, 3600, restarts);
        for (size_t i = 0; i < sup.n_children; i++)
                kid[i].backoff = (sup_backoff) { .initial_ms = 100, .max_ms = 1000, .factor = 2.0,
                                                 .reset_after_ms = 10000 };
        boot_all();
}

START_TEST(backoff_restarts) {
        backoff_tree("pp", SUP_ONE_FOR_ONE);
        uint64_t t = 1 * SEC;
        EXITED("c1", "killed", t, "report(child_terminated,c1,killed) retry(c1,100000)");
        ck_assert_str_eq(states(), "c1:restarting c2:running");
        ck_assert_uint_eq(sup_core_history_len(core), 1);
        /* Other events go on meanwhile. */
        EXITED("c2", "killed", t, "report(child_terminated,c2,killed) retry(c2,100000)");
        RETRY("c1", "start(c1)");
        START_OK(t + 100000, "");
        /* Crashing fast doubles the delay. */
        EXITED("c1", "killed", t + 200000, "report(child_terminated,c1,killed) retry(c1,200000)");
        RETRY("c1", "start(c1)");
        START_FAILED(t + 400000, "start_timeout", "report(start_error,c1,start_timeout) retry(c1,400000)");
        RETRY("c1", "start(c1)");
        START_OK(t + SEC, "");
        EXITED("c1", "killed", t + 2 * SEC, "report(child_terminated,c1,killed) retry(c1,800000)");
        RETRY("c1", "start(c1)");
        START_OK(t + 3 * SEC, "");
        EXITED("c1", "killed", t + 4 * SEC, "report(child_terminated,c1,killed) retry(c1,1000000)");
        RETRY("c1", "start(c1)");
        START_OK(t + 5 * SEC, "");
        /* Up for reset_after_ms: back to the first delay. */
        EXITED("c1", "killed", t + 15 * SEC, "report(child_terminated,c1,killed) retry(c1,100000)");
        ck_assert_uint_eq(C("c1")->backoff_n, 1);
        ck_assert_uint_eq(sup_core_history_len(core), 7);
}
END_TEST

START_TEST(backoff_jitter_in_core) {
        backoff_tree("p", SUP_ONE_FOR_ONE);
        kid[0].backoff.jitter = 0.5;
        EXPECT(sup_core_exited(core, C("c1"), R("killed"), SEC, 0.0, &P), "report(child_terminated,c1,killed) retry(c1,50000)");
}
END_TEST

/* A group's siblings stop at once; the group starts after the delay. */
START_TEST(backoff_group) {
        backoff_tree("ppp", SUP_REST_FOR_ONE);
        EXITED("c2", "killed", SEC, "report(child_terminated,c2,killed) stop(c3) retry(c2,100000)");
        ck_assert_str_eq(states(), "c1:running c2:restarting c3:stopped");
        RETRY("c2", "start(c2)");
        ck_assert_str_eq(start_all_ok(SEC + 100000), "c2 c3");
        ck_assert_uint_eq(sup_core_history_len(core), 1);
}
END_TEST

/* Without backoff a retry after a failed start is immediate, as OTP. */
START_TEST(no_backoff_immediate) {
        tree(SUP_ONE_FOR_ONE, 5, 60, "p");
        boot_all();
        EXITED("c1", "killed", 1, "report(child_terminated,c1,killed) start(c1)");
}
END_TEST

/* ---- scale ---- */

#define BIG 100000

/* A tree of 100,000 children boots one START at a time, in order, and a
 * restart in it starts just the one child: start_next and unqueue_all
 * look at what is queued, not at the whole list (each used to walk it,
 * which made the boot quadratic). */
START_TEST(boot_and_restart_100k) {
        static sup_spec big[BIG];
        static sup_spec *bigs[BIG];
        static char big_names[BIG][8];

        memset(&sup, 0, sizeof(sup));
        sup = (sup_spec) { .name = (char *) "top", .type = SUP_SUPERVISOR, .strategy = SUP_ONE_FOR_ONE,
                           .intensity = 5, .period_s = 60, .children = bigs, .n_children = BIG };
        for (size_t i = 0; i < BIG; i++) {
                snprintf(big_names[i], sizeof(big_names[i]), "b%zu", i);
                big[i] = (sup_spec) { .name = big_names[i], .type = SUP_WORKER, .restart = SUP_PERMANENT,
                                      .shutdown_ms = 5000 };
                bigs[i] = &big[i];
        }
        ck_assert_int_eq(sup_core_new(&sup, &core), 0);
        ck_assert_int_eq(sup_core_boot(core, &P), 0);
        size_t started = 0;
        sup_child *expect = sup_core_first(core);
        while (sup_core_starting(core)) {
                ck_assert_ptr_eq(sup_core_starting(core), expect);
                ck_assert_uint_eq(P->n_ops, 1);
                ck_assert_int_eq(P->ops[0].kind, SUP_OP_START);
                started++;
                expect = expect->next;
                ck_assert_int_eq(sup_core_start_result(core, sup_core_starting(core), SUP_START_OK, NULL, 0, 0.5, &P),
                                 0);
        }
        ck_assert_uint_eq(started, BIG);
        ck_assert_ptr_null(expect);
        sup_counts n;
        sup_core_count_children(core, &n);
        ck_assert_uint_eq(n.active, BIG);

        sup_child *mid = sup_core_find(core, "b50000");
        ck_assert_ptr_nonnull(mid);
        EXPECT(sup_core_exited(core, mid, R("killed"), SEC, 0.5, &P), "report(child_terminated,b50000,killed) start(b50000)");
        START_OK(SEC, "");
        sup_core_count_children(core, &n);
        ck_assert_uint_eq(n.active, BIG);
}
END_TEST

/* ---- names ---- */

START_TEST(string_names) {
        sup_op op = { .kind = SUP_OP_STOP };
        sup_reason b;

        ck_assert_str_eq(sup_child_state_to_string(SUP_CHILD_RESTARTING), "restarting");
        ck_assert_ptr_null(sup_child_state_to_string(_SUP_CHILD_STATE_MAX));
        ck_assert_str_eq(sup_report_context_to_string(SUP_REPORT_SHUTDOWN_ERROR), "shutdown_error");
        ck_assert_str_eq(sup_op_kind_to_string(SUP_OP_AUTO_SHUTDOWN), "auto_shutdown");
        ck_assert_str_eq(sup_error_to_string(-EAGAIN), "restarting");
        ck_assert_ptr_null(sup_error_to_string(-ENOMEM));
        ck_assert_int_eq(sup_op_exit_reason(&op, &b), -EINVAL);
        for (int k = 0; k < _SUP_OP_KIND_MAX; k++)
                ck_assert_ptr_nonnull(sup_op_kind_to_string((sup_op_kind) k));
        for (int k = 0; k < _SUP_REPORT_CONTEXT_MAX; k++)
                ck_assert_ptr_nonnull(sup_report_context_to_string((sup_report_context) k));
}
END_TEST

Suite *decide_suite(void);
Suite *decide_suite(void) {
        Suite *s = suite_create("decide");
        TCase *tc;

        tc = tcase_create("boot");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, boot_in_order);
        tcase_add_test(tc, boot_empty);
        tcase_add_test(tc, boot_ignore);
        tcase_add_test(tc, boot_failed);
        tcase_add_test(tc, boot_failed_first);
        tcase_add_test(tc, busy_while_starting);
        suite_add_tcase(s, tc);

        tc = tcase_create("strategies");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, one_for_one_restart);
        tcase_add_test(tc, one_for_one_solo_starts);
        tcase_add_test(tc, one_for_one_solo_shutdown);
        tcase_add_test(tc, one_for_all_restart);
        tcase_add_test(tc, rest_for_one_restart);
        tcase_add_test(tc, temporary_bystanders);
        tcase_add_test(tc, group_restarts_stopped_specs);
        suite_add_tcase(s, tc);

        tc = tcase_create("restart_types");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_loop_test(tc, restart_type_by_reason, 0, 12);
        tcase_add_test(tc, reason_clean);
        tcase_add_test(tc, shutdown_error_due);
        suite_add_tcase(s, tc);

        tc = tcase_create("intensity");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, intensity_0);
        tcase_add_test(tc, intensity_1_boundary);
        tcase_add_test(tc, intensity_1_just_past);
        tcase_add_test(tc, intensity_3);
        tcase_add_test(tc, intensity_period_passing);
        tcase_add_test(tc, intensity_not_reached_by_clean_exits);
        suite_add_tcase(s, tc);

        tc = tcase_create("failed_restarts");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, failed_restart_retries_count);
        tcase_add_test(tc, failed_restart_then_ok);
        tcase_add_test(tc, resource_shortage_waits_uncounted);
        tcase_add_test(tc, resource_shortage_at_boot);
        tcase_add_test(tc, resource_shortage_classes);
        tcase_add_test(tc, one_for_all_sibling_fails);
        tcase_add_test(tc, rest_for_one_sibling_fails);
        tcase_add_test(tc, group_failure_escalates);
        tcase_add_test(tc, ignore_on_restart);
        tcase_add_test(tc, group_restart_supersedes_retry);
        tcase_add_test(tc, plan_owns_reason);
        tcase_add_test(tc, terminate_restarting_child);
        suite_add_tcase(s, tc);

        tc = tcase_create("auto_shutdown");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, any_significant);
        tcase_add_test(tc, any_significant_temporary);
        tcase_add_test(tc, all_significant);
        tcase_add_test(tc, all_significant_restarting);
        tcase_add_test(tc, significant_bystander);
        tcase_add_test(tc, auto_shutdown_never);
        suite_add_tcase(s, tc);

        tc = tcase_create("ctl");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, ctl_start_child);
        tcase_add_test(tc, ctl_terminate_child);
        tcase_add_test(tc, ctl_restart_child);
        tcase_add_test(tc, ctl_delete_child);
        tcase_add_test(tc, ctl_count_children);
        suite_add_tcase(s, tc);

        tc = tcase_create("simple_one_for_one");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, simple_instances);
        tcase_add_test(tc, simple_clean_exit_drops);
        tcase_add_test(tc, simple_restart_ignore);
        tcase_add_test(tc, simple_start_failed_or_ignored);
        tcase_add_test(tc, simple_escalation);
        tcase_add_test(tc, simple_new_bad);
        suite_add_tcase(s, tc);

        tc = tcase_create("scale");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, boot_and_restart_100k);
        suite_add_tcase(s, tc);

        tc = tcase_create("shutdown");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, shutdown_order);
        tcase_add_test(tc, shutdown_while_starting);
        suite_add_tcase(s, tc);

        tc = tcase_create("backoff");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, backoff_growth_and_cap);
        tcase_add_test(tc, backoff_jitter_bounds);
        tcase_add_test(tc, backoff_restarts);
        tcase_add_test(tc, backoff_jitter_in_core);
        tcase_add_test(tc, backoff_group);
        tcase_add_test(tc, no_backoff_immediate);
        tcase_add_test(tc, string_names);
        suite_add_tcase(s, tc);

        return s;
}
