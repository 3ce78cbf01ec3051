/* check_sup_restart.c: gensupd restarting children as OTP's supervisor
 * does: restart types against exit reasons, the three strategies with
 * the exact stop and start order, intensity and escalation (also from a
 * nested supervisor), a failing restart loop, backoff, and auto_shutdown.
 *
 * Children are examples/test_server (a libgensup server, stopped and
 * crashed by calls) or shell children that append "start NAME" and
 * "stop NAME" to one shared file (sup.h), whose lines give the order. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup.h"

#define TIMEOUT_S 20

static gsd *D;
static char *TS;       /* the test_server program */
static char *LOG;      /* the children's shared log */

static void setup(void) {
        TS = it_example("test_server");
        LOG = it_path("children.log");
}

static void teardown(void) {
        /* Under SANITIZE=... gensupd and the servers report into its log. */
        D = gsd_finish(D);
        free(TS);
        free(LOG);
}

/* Writes the config and starts gensupd on it. */
static void start(const char *config_text) {
        char *conf = gsd_write_file("gensup.conf", "%s", config_text);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
}

static void assert_lines(const char *expected) {
        gsd_assert_lines(LOG, expected);
}

/* Waits for the shared log to have as many lines as expected, then
 * checks them all. */
static void wait_lines(const char *expected) {
        size_t n = 1;
        for (const char *p = expected; *p; p++)
                n += *p == '|';
        (void) gsd_wait_lines(LOG, n, IT_WAIT_MS);
        assert_lines(expected);
}

static void kill_child(const char *name) {
        pid_t pid = gsd_pid(D, name);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
}

static int wait_daemon(void) {
        int status = -1;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        return status;
}

/* ---- restart types × exit reasons ---- */

static const struct restart_case {
        const char *restart;
        const char *call;       /* how the child ends */
        const char *reason;     /* the reason gensupd sees */
        bool restarted, reported, kept;
} restart_cases[] = {
        { "permanent", "stop:normal", "normal", true, true, true },
        { "permanent", "stop:shutdown", "shutdown", true, true, true },
        { "permanent", "crash:exit3", "{exit_status,3}", true, true, true },
        { "transient", "stop:normal", "normal", false, false, true },
        { "transient", "stop:shutdown", "shutdown", false, false, true },
        { "transient", "stop:{shutdown,done}", "{shutdown,done}", false, false, true },
        { "transient", "crash:exit3", "{exit_status,3}", true, true, true },
        { "transient", "stop:{error,bad}", "{error,bad}", true, true, true },
        { "temporary", "stop:normal", "normal", false, false, false },
        { "temporary", "stop:shutdown", "shutdown", false, false, false },
        { "temporary", "crash:exit3", "{exit_status,3}", false, true, false },
};

START_TEST(restart_types) {
        const struct restart_case *k = &restart_cases[_i];
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 5; period = 30; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\"]; restart = \"%s\"; },\n"
                             "  { name = \"other\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS, k->restart, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "other", "running", IT_WAIT_MS), 0);
        pid_t w = gsd_pid(D, "w"), other = gsd_pid(D, "other");
        ck_assert_int_gt(w, 0);

        free(gsd_call("w", k->call, IT_WAIT_MS));
        if (k->restarted) {
                ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
                json_t *c = gsd_child(D, "w");
                ck_assert_int_eq(gsd_int(c, "restarts"), 1);
                ck_assert_str_eq(gsd_str(c, "reason"), k->reason);
                json_decref(c);
        } else if (k->kept) {
                ck_assert_int_eq(gsd_wait_state(D, "w", "stopped", IT_WAIT_MS), 0);
                json_t *c = gsd_child(D, "w");
                ck_assert_int_eq(gsd_int(c, "restarts"), 0);
                ck_assert_int_eq(gsd_int(c, "pid"), -1);
                ck_assert_str_eq(gsd_str(c, "reason"), k->reason);
                json_decref(c);
        } else {
                /* The spec went with the child. */
                ck_assert_int_eq(gsd_wait_state(D, "w", NULL, IT_WAIT_MS), 0);
        }
        ck_assert_int_eq(gsd_pid_alive(w), false);

        char *report = it_strf("Supervisor: root. Context: child_terminated. Reason: %s. Offender: id=w,pid=%d,",
                               k->reason, (int) w);
        ck_assert_uint_eq(gsd_log_count(D, report), k->reported ? 1 : 0);
        free(report);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated"), k->reported ? 1 : 0);
        /* The sibling saw nothing of it. */
        ck_assert_int_eq(gsd_pid(D, "other"), other);
        ck_assert_int_eq(gsd_pid_alive(D->pid), true);
}
END_TEST

/* ---- strategies: exact stop and start orders ---- */

static const struct strategy_case {
        const char *strategy;
        const char *after_crash;   /* lines after "start a|start b|start c|start d" when b dies */
} strategy_cases[] = {
        { "one_for_one", "start b" },
        { "one_for_all", "stop d|stop c|stop a|start a|start b|start c|start d" },
        { "rest_for_one", "stop d|stop c|start b|start c|start d" },
};

static char *sh_children(const char *const *names, size_t n) {
        char *list = strdup("");
        for (size_t i = 0; i < n; i++) {
                char *exec = gsd_sh_child(names[i], LOG);
                char *more = it_strf("%s%s  { name = \"%s\"; exec = [%s]; start_timeout = 30000; shutdown = 30000; }",
                                     list, i ? ",\n" : "", names[i], exec);
                free(exec);
                free(list);
                list = more;
        }
        return list;
}

START_TEST(strategy_order) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "strategy_order: no way for shell children to notify here, skipped\n");
                return;
        }
        const struct strategy_case *k = &strategy_cases[_i];
        char *children = sh_children((const char *[]) { "a", "b", "c", "d" }, 4);
        char *conf = it_strf("supervisor = { name = \"root\"; strategy = \"%s\"; intensity = 5; period = 30;\n"
                             "children = (\n%s\n); };\n",
                             k->strategy, children);
        start(conf);
        free(conf);
        free(children);
        ck_assert_int_eq(gsd_wait_state(D, "d", "running", IT_WAIT_MS), 0);
        wait_lines("start a|start b|start c|start d");
        pid_t a = gsd_pid(D, "a"), b = gsd_pid(D, "b");

        kill_child("b");
        char *expected = it_strf("start a|start b|start c|start d|%s", k->after_crash);
        wait_lines(expected);
        ck_assert_int_gt(gsd_wait_new_pid(D, "b", b, IT_WAIT_MS), 0);
        for (const char *const *n = (const char *[]) { "a", "c", "d", NULL }; *n; n++)
                ck_assert_int_eq(gsd_wait_state(D, *n, "running", IT_WAIT_MS), 0);
        /* Nothing more happened once all run again. */
        assert_lines(expected);
        free(expected);
        if (strcmp(k->strategy, "one_for_one") == 0 || strcmp(k->strategy, "rest_for_one") == 0)
                ck_assert_int_eq(gsd_pid(D, "a"), a);
        else
                ck_assert_int_ne(gsd_pid(D, "a"), a);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated. Reason: {signal,SIGKILL}. Offender: id=b,"), 1);
        /* A group restart counts once. */
        json_t *tree = gsd_tree(D);
        ck_assert_int_eq(gsd_int(tree, "restarts_in_period"), 1);
        json_decref(tree);
}
END_TEST

/* A sibling whose restart fails in a group restart: c fails its init on
 * its second run only (a counter file), so the retry is the last word.
 * one_for_all restarts the whole group again (stopping what it had
 * restarted), rest_for_one from the failed child on. */
static const struct group_retry_case {
        const char *strategy;
        const char *lines;
} group_retry_cases[] = {
        { "one_for_all", "start a|start b|start c|stop b|start a|start b|start c|stop b|stop a|start a|start b|start c" },
        { "rest_for_one", "start a|start b|start c|stop b|start a|start b|start c|start c" },
};

START_TEST(group_retry) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "group_retry: no way for shell children to notify here, skipped\n");
                return;
        }
        const struct group_retry_case *k = &group_retry_cases[_i];
        char *runs = it_path("c-runs");
        char *children = sh_children((const char *[]) { "a", "b" }, 2);
        char *conf = it_strf("supervisor = { name = \"root\"; strategy = \"%s\"; intensity = 5; period = 60;\n"
                             "children = (\n%s,\n"
                             "  { name = \"c\"; exec = [\"/bin/sh\", \"-c\", \"echo start c >> %s; "
                             "n=$(cat %s 2>/dev/null || echo 0); echo $((n + 1)) > %s; "
                             "[ $n -eq 1 ] && exec %s --init=stop:once; exec %s\"]; }\n"
                             "); };\n",
                             k->strategy, children, LOG, runs, runs, TS, TS);
        start(conf);
        free(conf);
        free(children);
        free(runs);
        ck_assert_int_eq(gsd_wait_state(D, "c", "running", IT_WAIT_MS), 0);
        pid_t c = gsd_pid(D, "c");

        kill_child("a");
        wait_lines(k->lines);
        ck_assert_int_gt(gsd_wait_new_pid(D, "c", c, IT_WAIT_MS), 0);
        for (const char *const *n = (const char *[]) { "a", "b", NULL }; *n; n++)
                ck_assert_int_eq(gsd_wait_state(D, *n, "running", IT_WAIT_MS), 0);
        assert_lines(k->lines);
        ck_assert_uint_eq(gsd_log_count(D, "Context: start_error. Reason: {init_failed,{error,once}}. Offender: id=c,"), 1);
        /* The exit and the failed attempt: two restarts. */
        json_t *tree = gsd_tree(D);
        ck_assert_int_eq(gsd_int(tree, "restarts_in_period"), 2);
        json_decref(tree);
}
END_TEST

/* A temporary bystander of a group restart is stopped and dropped. */
START_TEST(temporary_bystander) {
        char *conf = it_strf("supervisor = { name = \"root\"; strategy = \"one_for_all\"; children = (\n"
                             "  { name = \"t\"; exec = [\"%s\", \"--log=%s\"]; restart = \"temporary\"; },\n"
                             "  { name = \"w\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t w = gsd_pid(D, "w");
        kill_child("w");
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "t", NULL, IT_WAIT_MS), 0);
        char *text = it_read_file(LOG);
        ck_assert_ptr_nonnull(strstr(text, "terminate shutdown"));
        free(text);
        /* Stopped by its supervisor: no report for it. */
        ck_assert_uint_eq(gsd_log_count(D, "Offender: id=t,"), 0);
}
END_TEST

/* ---- intensity ---- */

START_TEST(escalation) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "escalation: no way for shell children to notify here, skipped\n");
                return;
        }
        char *children = sh_children((const char *[]) { "a", "b", "c" }, 3);
        char *conf = it_strf("supervisor = { name = \"root\"; strategy = \"one_for_one\"; intensity = 1; period = 60;\n"
                             "children = (\n%s\n); };\n",
                             children);
        start(conf);
        free(conf);
        free(children);
        ck_assert_int_eq(gsd_wait_state(D, "c", "running", IT_WAIT_MS), 0);
        pid_t b = gsd_pid(D, "b");

        kill_child("b");   /* the one restart allowed */
        pid_t b2 = gsd_wait_new_pid(D, "b", b, IT_WAIT_MS);
        ck_assert_int_gt(b2, 0);
        kill_child("b");   /* one too many */

        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "gensupd should fail, status %d", status);
        assert_lines("start a|start b|start c|start b|stop c|stop a");
        char *report = it_strf("Supervisor: root. Context: shutdown. Reason: reached_max_restart_intensity. "
                               "Offender: id=b,pid=%d,",
                               (int) b2);
        ck_assert_uint_eq(gsd_log_count(D, report), 1);
        free(report);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated. Reason: {signal,SIGKILL}. Offender: id=b,"), 2);
        ck_assert_uint_eq(gsd_log_count(D, "supervisor root gave up"), 1);
        /* The others stopped as asked: no shutdown errors. */
        ck_assert_uint_eq(gsd_log_count(D, "shutdown_error"), 0);
}
END_TEST

/* intensity 0: the first exit escalates (a permanent child's normal
 * exit too). */
START_TEST(intensity_zero) {
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 0; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"x\"; exec = [\"%s\", \"--log=%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "x", "running", IT_WAIT_MS), 0);
        free(gsd_call("w", "stop:normal", IT_WAIT_MS));
        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated. Reason: normal. Offender: id=w,"), 1);
        ck_assert_uint_eq(gsd_log_count(D, "Context: shutdown. Reason: reached_max_restart_intensity. Offender: id=w,"),
                          1);
        /* x ran terminate(shutdown). */
        char *text = it_read_file(LOG);
        ck_assert_ptr_nonnull(strstr(text, "terminate shutdown"));
        free(text);
}
END_TEST

/* An inner supervisor that gives up exits `shutdown`; its parent
 * restarts it like any permanent child. */
START_TEST(nested_escalation) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "nested_escalation: no way for shell children to notify here, skipped\n");
                return;
        }
        char *x = gsd_sh_child("x", LOG), *w = gsd_sh_child("w", LOG), *y = gsd_sh_child("y", LOG);
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 5; period = 60; children = (\n"
                             "  { name = \"x\"; exec = [%s]; },\n"
                             "  { name = \"inner\"; type = \"supervisor\"; intensity = 0; period = 60; children = (\n"
                             "    { name = \"w\"; exec = [%s]; }\n"
                             "  ); },\n"
                             "  { name = \"y\"; exec = [%s]; }\n"
                             "); };\n",
                             x, w, y);
        free(x);
        free(w);
        free(y);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "y", "running", IT_WAIT_MS), 0);
        wait_lines("start x|start w|start y");
        pid_t px = gsd_pid(D, "x"), py = gsd_pid(D, "y"), pw = gsd_pid(D, "w");

        kill_child("w");
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", pw, IT_WAIT_MS), 0);
        wait_lines("start x|start w|start y|start w");
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: inner. Context: child_terminated. Reason: {signal,SIGKILL}. "
                                           "Offender: id=w,"),
                          1);
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: inner. Context: shutdown. Reason: reached_max_restart_intensity. "
                                           "Offender: id=w,"),
                          1);
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: root. Context: child_terminated. Reason: shutdown. "
                                           "Offender: id=inner,"),
                          1);
        json_t *inner = gsd_child(D, "inner");
        ck_assert_str_eq(gsd_str(inner, "state"), "running");
        ck_assert_int_eq(gsd_int(inner, "restarts"), 1);
        ck_assert_str_eq(gsd_str(inner, "reason"), "shutdown");
        json_decref(inner);
        ck_assert_int_eq(gsd_pid(D, "x"), px);
        ck_assert_int_eq(gsd_pid(D, "y"), py);
        ck_assert_int_eq(gsd_pid_alive(D->pid), true);
}
END_TEST

/* ---- a restart that keeps failing ---- */

START_TEST(failing_restart_loop) {
        char *flag = it_path("ran-once");
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 1000; period = 60; children = (\n"
                             "  { name = \"flaky\"; exec = [\"/bin/sh\", \"-c\", "
                             "\"[ -e %s ] && exec %s --init=stop:again; touch %s; exec %s\"];\n"
                             "    backoff = { initial = 100; max = 100; factor = 1.0; }; },\n"
                             "  { name = \"steady\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             flag, TS, flag, TS, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "steady", "running", IT_WAIT_MS), 0);
        pid_t steady = gsd_pid(D, "steady");

        kill_child("flaky");
        ck_assert_int_eq(gsd_wait_history(D, "flaky", "child_terminated", "{signal,SIGKILL}", 1, IT_WAIT_MS), 0);
        /* Each retry fails its init and counts; gensupd answers meanwhile. */
        bool seen_restarting = false;
        long long restarts = 0;
        for (int polls = 0; polls < IT_WAIT_MS / 10 && restarts < 4; polls++) {
                json_t *c = gsd_child(D, "flaky");
                ck_assert_ptr_nonnull(c);
                const char *state = gsd_str(c, "state");
                seen_restarting |= strcmp(state, "restarting") == 0;
                ck_assert_str_ne(state, "running");
                restarts = gsd_int(c, "restarts");
                json_decref(c);
                usleep(10 * 1000);
        }
        ck_assert_int_ge(restarts, 4);
        ck_assert(seen_restarting);
        ck_assert_uint_ge(gsd_history_count(D, "flaky", "start_error", "{init_failed,{error,again}}"), 3);
        ck_assert_uint_ge(gsd_log_count(D, "Context: start_error. Reason: {init_failed,{error,again}}. Offender: id=flaky,"), 3);
        json_t *tree = gsd_tree(D);
        ck_assert_int_ge(gsd_int(tree, "restarts_in_period"), 4);
        json_decref(tree);
        ck_assert_int_eq(gsd_pid(D, "steady"), steady);

        /* Once init can succeed again, the next retry makes it. */
        ck_assert_int_eq(unlink(flag), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "flaky", 0, IT_WAIT_MS), 0);
        free(flag);

        gsd_signal(D, SIGTERM);
        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
END_TEST

/* Stopping the tree while a child waits for its restart. */
START_TEST(stop_while_restarting) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\", \"--log=%s\"]; backoff = { initial = 60000; max = 60000; }; },\n"
                             "  { name = \"x\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "x", "running", IT_WAIT_MS), 0);
        kill_child("w");
        ck_assert_int_eq(gsd_wait_state(D, "w", "restarting", IT_WAIT_MS), 0);
        gsd_signal(D, SIGTERM);
        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
END_TEST

/* ---- backoff ---- */

START_TEST(backoff_delay) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\"]; backoff = { initial = 700; max = 700; }; }\n"
                             "); };\n",
                             TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t w = gsd_pid(D, "w");
        free(gsd_call("w", "crash:exit3", IT_WAIT_MS));
        /* The delay shows as restarting, without a process... */
        ck_assert_int_eq(gsd_wait_state(D, "w", "restarting", IT_WAIT_MS), 0);
        json_t *c = gsd_child(D, "w");
        ck_assert_int_eq(gsd_int(c, "pid"), -1);
        ck_assert_str_eq(gsd_str(c, "reason"), "{exit_status,3}");
        json_decref(c);
        /* ... then the restart comes. */
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
        c = gsd_child(D, "w");
        ck_assert_int_eq(gsd_int(c, "restarts"), 1);
        json_decref(c);
}
END_TEST

/* ---- events that wait for the plan at hand ---- */

/* A child ends while its supervisor is busy starting another: the exit
 * waits its turn, then is dealt with as usual. a marks its first run in a
 * file of its own: b writes LOG as soon as its init starts, which may come
 * before a's shell has looked (b starts as fast as a plain program now). */
START_TEST(exit_during_boot) {
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 5; children = (\n"
                             "  { name = \"a\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"exec 2>/dev/null; "
                             "[ -e %s.a ] && exec sleep 1000; touch %s.a; exit 3\"]; },\n"
                             "  { name = \"b\"; exec = [\"%s\", \"--log=%s\", \"--init=sleep:300\"]; }\n"
                             "); };\n",
                             LOG, LOG, TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "b", "running", IT_WAIT_MS), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "a", 0, IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(D, "a", "child_terminated", "{exit_status,3}"), 1);
        json_t *a = gsd_child(D, "a");
        ck_assert_int_eq(gsd_int(a, "restarts"), 1);
        json_decref(a);
}
END_TEST

/* A child crashes while its sibling is being stopped slowly by request:
 * the crash is handled once that stop is done; both requests and status
 * are answered meanwhile. */
START_TEST(exit_during_stop) {
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 5; children = (\n"
                             "  { name = \"slow\"; exec = [\"%s\", \"--log=%s\", \"--slow-terminate=600\"]; },\n"
                             "  { name = \"w\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t w = gsd_pid(D, "w");
        /* terminate-child answers when the stop is done: ask on a side
         * connection, without waiting. */
        ipc_conn *c = it_connect(D->control);
        ck_assert_ptr_nonnull(c);
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        char *args[] = { (char *) "root", (char *) "slow" };
        req.command = (char *) "terminate-child";
        req.args = args;
        req.n_args = 2;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, 77);
        f.ctl = &req;
        ck_assert_int_eq(it_send(c, &f), 0);
        ck_assert_int_eq(it_wait_file_contains(LOG, "terminate shutdown", IT_WAIT_MS), 0);
        ck_assert_int_eq(kill(w, SIGKILL), 0);
        /* Status answers while slow is stopping. */
        json_t *slow = gsd_child(D, "slow");
        ck_assert_ptr_nonnull(slow);
        json_decref(slow);

        ipc_frame *reply = NULL;
        ck_assert_int_eq(it_recv(c, IT_WAIT_MS, &reply), 0);
        ck_assert_int_eq(reply->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_int_eq(reply->ctl_reply->code, 0);
        ipc_frame_free(reply);
        ipc_conn_free(c);
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "slow", "stopped", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated. Reason: {signal,SIGKILL}. Offender: id=w,"), 1);
        ck_assert_uint_eq(gsd_log_count(D, "shutdown_error"), 0);
}
END_TEST

/* terminate-child on a child waiting for its restart calls the restart
 * off; restart-child brings it back. */
START_TEST(terminate_restarting) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\"]; backoff = { initial = 60000; max = 60000; }; }\n"
                             "); };\n",
                             TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        kill_child("w");
        ck_assert_int_eq(gsd_wait_state(D, "w", "restarting", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", "w", NULL }, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "stopped", IT_WAIT_MS), 0);
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "restart-child", (const char *[]) { "root", "w", NULL }, &j, NULL), 0);
        ck_assert_int_gt(gsd_int(j, "pid"), 0);
        json_decref(j);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
}
END_TEST

/* A nested supervisor whose child fails at boot fails the whole boot. */
START_TEST(nested_boot_failure) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"inner\"; type = \"supervisor\"; children = (\n"
                             "    { name = \"w\"; exec = [\"%s\", \"--init=stop:{shutdown,no}\"]; }\n"
                             "  ); },\n"
                             "  { name = \"never\"; exec = [\"%s\", \"--log=%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS, TS, LOG);
        start(conf);
        free(conf);
        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: inner. Context: start_error. Reason: {init_failed,{shutdown,no}}. "
                                           "Offender: id=w,"),
                          1);
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: root. Context: start_error. Reason: "
                                           "{shutdown,{failed_to_start_child,w,{init_failed,{shutdown,no}}}}. "
                                           "Offender: id=inner,"),
                          1);
        ck_assert_uint_eq(gsd_log_count(D, "gave up: {shutdown,{failed_to_start_child,inner,{shutdown,"
                                           "{failed_to_start_child,w,{init_failed,{shutdown,no}}}}}}"),
                          1);
        /* a started and stopped; never never started. */
        char **l = gsd_lines(LOG);
        ck_assert_uint_eq(gsd_lines_count(l), 3);
        ck_assert_str_eq(l[1], "terminate shutdown");
        gsd_lines_free(l);
}
END_TEST

/* ---- significant children and auto_shutdown ---- */

static const struct significant_case {
        const char *auto_shutdown;
        const char *restart;
        const char *call;
        bool ends;     /* the tree shuts down */
} significant_cases[] = {
        { "any_significant", "transient", "stop:normal", true },
        { "any_significant", "transient", "stop:{shutdown,done}", true },
        { "any_significant", "temporary", "crash:exit3", true },
        { "any_significant", "transient", "crash:exit3", false },   /* restarted instead */
};

START_TEST(significant) {
        const struct significant_case *k = &significant_cases[_i];
        char *conf = it_strf("supervisor = { name = \"root\"; auto_shutdown = \"%s\"; intensity = 5; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"job\"; exec = [\"%s\"]; restart = \"%s\"; significant = true; }\n"
                             "); };\n",
                             k->auto_shutdown, TS, LOG, TS, k->restart);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "job", "running", IT_WAIT_MS), 0);
        pid_t job = gsd_pid(D, "job");
        free(gsd_call("job", k->call, IT_WAIT_MS));
        if (k->ends) {
                int status = wait_daemon();
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
                char *text = it_read_file(LOG);
                ck_assert_ptr_nonnull(strstr(text, "terminate shutdown"));
                free(text);
        } else {
                ck_assert_int_gt(gsd_wait_new_pid(D, "job", job, IT_WAIT_MS), 0);
                ck_assert_int_eq(gsd_pid_alive(D->pid), true);
        }
}
END_TEST

/* all_significant: the tree ends with the last significant child. */
START_TEST(all_significant) {
        char *conf = it_strf("supervisor = { name = \"root\"; auto_shutdown = \"all_significant\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"j1\"; exec = [\"%s\"]; restart = \"transient\"; significant = true; },\n"
                             "  { name = \"j2\"; exec = [\"%s\"]; restart = \"temporary\"; significant = true; }\n"
                             "); };\n",
                             TS, LOG, TS, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "j2", "running", IT_WAIT_MS), 0);
        free(gsd_call("j1", "stop:normal", IT_WAIT_MS));
        ck_assert_int_eq(gsd_wait_state(D, "j1", "stopped", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_pid_alive(D->pid), true);
        ck_assert_int_gt(gsd_pid(D, "a"), 0);
        free(gsd_call("j2", "stop:normal", IT_WAIT_MS));
        int status = wait_daemon();
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        char *text = it_read_file(LOG);
        ck_assert_ptr_nonnull(strstr(text, "terminate shutdown"));
        free(text);
}
END_TEST

Suite *sup_restart_suite(void);
Suite *sup_restart_suite(void) {
        Suite *s = suite_create("sup_restart");
        TCase *tc;

        tc = tcase_create("restart_types");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_loop_test(tc, restart_types, 0, (int) (sizeof(restart_cases) / sizeof(restart_cases[0])));
        suite_add_tcase(s, tc);

        tc = tcase_create("strategies");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_loop_test(tc, strategy_order, 0, (int) (sizeof(strategy_cases) / sizeof(strategy_cases[0])));
        tcase_add_loop_test(tc, group_retry, 0, (int) (sizeof(group_retry_cases) / sizeof(group_retry_cases[0])));
        tcase_add_test(tc, temporary_bystander);
        suite_add_tcase(s, tc);

        tc = tcase_create("intensity");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, escalation);
        tcase_add_test(tc, intensity_zero);
        tcase_add_test(tc, nested_escalation);
        tcase_add_test(tc, failing_restart_loop);
        tcase_add_test(tc, stop_while_restarting);
        tcase_add_test(tc, backoff_delay);
        suite_add_tcase(s, tc);

        tc = tcase_create("deferred");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, exit_during_boot);
        tcase_add_test(tc, exit_during_stop);
        tcase_add_test(tc, terminate_restarting);
        tcase_add_test(tc, nested_boot_failure);
        suite_add_tcase(s, tc);

        tc = tcase_create("auto_shutdown");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_loop_test(tc, significant, 0, (int) (sizeof(significant_cases) / sizeof(significant_cases[0])));
        tcase_add_test(tc, all_significant);
        suite_add_tcase(s, tc);
        return s;
}
