/* check_sup_lifecycle.c: gensupd starting and stopping its tree: the
 * orderly stop on SIGTERM, a failed or ignored start at boot, shutdown
 * timeouts and brutal_kill, exit reasons as DESIGN.md spells them,
 * readiness over NOTIFY_SOCKET, simple_one_for_one instances, no orphans
 * when gensupd is killed, a listening socket held across crashes, and
 * gensupd --check. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

#define TIMEOUT_S 20
#define PYTHON "/usr/bin/python3"

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

static void start(const char *config_text) {
        char *conf = gsd_write_file("gensup.conf", "%s", config_text);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
}

static int wait_daemon(void) {
        int status = -1;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        return status;
}

static void assert_exit(int status, int code) {
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code, "gensupd: wait status %d, expected exit %d",
                      status, code);
}

static void assert_lines(const char *expected) {
        gsd_assert_lines(LOG, expected);
}

static bool log_has(const char *path, const char *text) {
        char *t = it_read_file(path);
        bool has = t && strstr(t, text);
        free(t);
        return has;
}

/* ---- orderly stop ---- */

/* SIGTERM: children stop one by one in reverse start order; libgensup
 * servers run terminate(shutdown); exit 0. */
START_TEST(sigterm_reverse_order) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "sigterm_reverse_order: no way for shell children to notify here, skipped\n");
                return;
        }
        char *b = gsd_sh_child("b", LOG), *d = gsd_sh_child("d", LOG);
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"b\"; exec = [%s]; },\n"
                             "  { name = \"c\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"d\"; exec = [%s]; }\n"
                             "); };\n",
                             TS, LOG, b, TS, LOG, d);
        free(b);
        free(d);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "d", "running", IT_WAIT_MS), 0);
        pid_t pa = gsd_pid(D, "a"), pc = gsd_pid(D, "c");
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        char *expected = it_strf("init %d|start b|init %d|start d|"
                                 "stop d|terminate shutdown|terminate done|stop b|terminate shutdown|terminate done",
                                 (int) pa, (int) pc);
        assert_lines(expected);
        free(expected);
        ck_assert_uint_eq(gsd_log_count(D, "Context:"), 0);
        ck_assert_uint_eq(gsd_log_count(D, "supervisor root stopped: shutdown"), 1);
        ck_assert(!gsd_pid_alive(pa));
        ck_assert(!gsd_pid_alive(pc));
}
END_TEST

/* Nested: a supervisor child stops its own children (reverse order)
 * in its turn. */
START_TEST(sigterm_nested_order) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "sigterm_nested_order: no way for shell children to notify here, skipped\n");
                return;
        }
        char *x = gsd_sh_child("x", LOG), *w1 = gsd_sh_child("w1", LOG), *w2 = gsd_sh_child("w2", LOG),
             *y = gsd_sh_child("y", LOG);
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"x\"; exec = [%s]; },\n"
                             "  { name = \"inner\"; type = \"supervisor\"; strategy = \"one_for_all\"; children = (\n"
                             "    { name = \"w1\"; exec = [%s]; },\n"
                             "    { name = \"w2\"; exec = [%s]; }\n"
                             "  ); },\n"
                             "  { name = \"y\"; exec = [%s]; }\n"
                             "); };\n",
                             x, w1, w2, y);
        free(x);
        free(w1);
        free(w2);
        free(y);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "y", "running", IT_WAIT_MS), 0);
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        assert_lines("start x|start w1|start w2|start y|stop y|stop w2|stop w1|stop x");
}
END_TEST

/* SIGTERM while a child is still in its init: it is killed (it never
 * became ready), the started ones stop as usual. */
START_TEST(sigterm_during_boot) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"b\"; exec = [\"%s\", \"--log=%s\", \"--init=sleep:30000\"]; },\n"
                             "  { name = \"c\"; exec = [\"%s\", \"--log=%s\"]; }\n"
                             "); };\n",
                             TS, LOG, TS, LOG, TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_lines(LOG, 2, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "b", "starting", IT_WAIT_MS), 0);
        pid_t a = gsd_pid(D, "a"), b = gsd_pid(D, "b");
        ck_assert_int_gt(b, 0);
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        char *expected = it_strf("init %d|init %d|terminate shutdown|terminate done", (int) a, (int) b);
        assert_lines(expected);
        free(expected);
        ck_assert(!gsd_pid_alive(b));
}
END_TEST

/* The stop command on the control socket does the same. */
START_TEST(ctl_stop) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; }\n"
                             "); };\n",
                             TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_ctl(D, "stop", NULL, NULL, NULL), 0);
        assert_exit(wait_daemon(), 0);
        ck_assert(log_has(LOG, "terminate shutdown"));
}
END_TEST

/* ---- boot ---- */

/* a, b (init fails), c: a is started and stopped again, c never starts,
 * gensupd gives up. */
START_TEST(boot_failure) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "boot_failure: no way for shell children to notify here, skipped\n");
                return;
        }
        char *a = gsd_sh_child("a", LOG), *c = gsd_sh_child("c", LOG);
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [%s]; },\n"
                             "  { name = \"b\"; exec = [\"%s\", \"--init=stop:{shutdown,no_db}\"]; },\n"
                             "  { name = \"c\"; exec = [%s]; }\n"
                             "); };\n",
                             a, TS, c);
        free(a);
        free(c);
        start(conf);
        free(conf);
        assert_exit(wait_daemon(), 1);
        assert_lines("start a|stop a");
        ck_assert_uint_eq(gsd_log_count(D, "Supervisor: root. Context: start_error. Reason: "
                                           "{init_failed,{shutdown,no_db}}. Offender: id=b,"),
                          1);
        ck_assert_uint_eq(gsd_log_count(D, "gave up: {shutdown,{failed_to_start_child,b,{init_failed,{shutdown,no_db}}}}"),
                          1);
}
END_TEST

/* init returning ignore at boot: the spec stays, stopped (a temporary
 * one goes); the boot goes on. */
START_TEST(boot_ignore) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\"]; },\n"
                             "  { name = \"b\"; exec = [\"%s\", \"--init=ignore\"]; },\n"
                             "  { name = \"t\"; exec = [\"%s\", \"--init=ignore\"]; restart = \"temporary\"; },\n"
                             "  { name = \"c\"; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS, TS, TS, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "c", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "b", "stopped", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "t", NULL, IT_WAIT_MS), 0);
        ck_assert_int_gt(gsd_pid(D, "a"), 0);
        ck_assert_uint_eq(gsd_log_count(D, "Context:"), 0);
        /* restart-child starts it again (and it ignores again). */
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "restart-child", (const char *[]) { "root", "b", NULL }, &j, NULL), 0);
        ck_assert_str_eq(gsd_str(j, "info"), "ignore");
        json_decref(j);
        ck_assert_int_eq(gsd_pid_alive(D->pid), true);
}
END_TEST

/* A child that never says it is ready fails its start with
 * start_timeout (at boot: gensupd gives up). */
START_TEST(boot_start_timeout) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\", \"--log=%s\"]; },\n"
                             "  { name = \"mute\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"notify\"; start_timeout = 200; }\n"
                             "); };\n",
                             TS, LOG);
        start(conf);
        free(conf);
        assert_exit(wait_daemon(), 1);
        ck_assert_uint_eq(gsd_log_count(D, "Context: start_error. Reason: start_timeout. Offender: id=mute,"), 1);
        ck_assert_uint_eq(gsd_log_count(D, "gave up: {shutdown,{failed_to_start_child,mute,start_timeout}}"), 1);
        ck_assert(log_has(LOG, "terminate shutdown"));
}
END_TEST

/* READY=1 on NOTIFY_SOCKET from a program without libgensup. */
START_TEST(notify_ready) {
        if (access(PYTHON, X_OK) != 0) {
                fprintf(stderr, "notify_ready: no %s, skipped\n", PYTHON);
                return;
        }
        /* The shell execs python, so READY=1 comes from the child's pid. */
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"py\"; ready = \"notify\"; start_timeout = 8000; exec = [\"%s\", \"-c\", "
                             "\"import os, socket, time\\n"
                             "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\\n"
                             "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\\n"
                             "time.sleep(1000)\\n\"]; },\n"
                             "  { name = \"after\"; exec = [\"%s\", \"--log=%s\"]; }\n"
                             "); };\n",
                             PYTHON, TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "after", "running", IT_WAIT_MS), 0);
        json_t *py = gsd_child(D, "py");
        ck_assert_str_eq(gsd_str(py, "state"), "running");
        ck_assert(json_is_true(json_object_get(py, "ready")));
        json_decref(py);
        ck_assert_uint_eq(gsd_log_count(D, "Context:"), 0);
        /* Stopped with SIGTERM, which python dies of: shutdown. */
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", "py", NULL }, NULL, NULL), 0);
        ck_assert_uint_eq(gsd_history_count(D, "py", "shutdown", "shutdown"), 1);
}
END_TEST

/* ---- shutdown: timeout, brutal_kill ---- */

START_TEST(shutdown_timeout_killed) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"slow\"; exec = [\"%s\", \"--log=%s\", \"--slow-terminate=8000\"]; shutdown = 200; },\n"
                             "  { name = \"slow2\"; exec = [\"%s\", \"--slow-terminate=8000\"]; shutdown = 200; }\n"
                             "); };\n",
                             TS, LOG, TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "slow2", "running", IT_WAIT_MS), 0);
        pid_t slow = gsd_pid(D, "slow");

        /* By request: the child runs terminate(shutdown), is killed at
         * the deadline, and its reason is killed. */
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", "slow", NULL }, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "slow", "stopped", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(D, "slow", NULL, "killed"), 1);
        ck_assert(log_has(LOG, "terminate shutdown"));
        ck_assert(!log_has(LOG, "terminate done"));
        char *report = it_strf("Supervisor: root. Context: shutdown_error. Reason: killed. Offender: id=slow,pid=%d,",
                               (int) slow);
        ck_assert_uint_eq(gsd_log_count(D, report), 1);
        free(report);

        /* On SIGTERM the same, and gensupd still ends well. */
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        ck_assert_uint_eq(gsd_log_count(D, "Context: shutdown_error. Reason: killed. Offender: id=slow2,"), 1);
}
END_TEST

START_TEST(brutal_kill) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"b\"; exec = [\"%s\", \"--log=%s\"]; shutdown = \"brutal_kill\"; },\n"
                             "  { name = \"b2\"; exec = [\"%s\", \"--log=%s\"]; shutdown = \"brutal_kill\"; }\n"
                             "); };\n",
                             TS, LOG, TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "b2", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", "b", NULL }, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "b", "stopped", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(D, "b", "shutdown", "killed"), 1);
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        /* No terminate ran, and killed is what brutal_kill expects. */
        ck_assert(!log_has(LOG, "terminate"));
        ck_assert_uint_eq(gsd_log_count(D, "shutdown_error"), 0);
}
END_TEST

/* ---- exit reasons ---- */

static const struct reason_case {
        const char *call;    /* NULL: SIGKILL from outside */
        const char *reason;
} reason_cases[] = {
        { "crash:exit3", "{exit_status,3}" },
        { "crash:segv", "{signal,SIGSEGV}" },
        { "crash:abort", "{signal,SIGABRT}" },
        { "stop:normal", "normal" },
        { "stop:shutdown", "shutdown" },
        { "stop:{shutdown,bye}", "{shutdown,bye}" },
        { "stop:{error,bad}", "{error,bad}" },
        { "stop:oops", "{error,oops}" },
        { NULL, "{signal,SIGKILL}" },
};

START_TEST(exit_reasons) {
        const struct reason_case *k = &reason_cases[_i];
        /* Without core dumps a SIGSEGV is not core_dumped. */
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 5; children = (\n"
                             "  { name = \"w\"; exec = [\"%s\"]; rlimits = { core = 0; }; }\n"
                             "); };\n",
                             TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t w = gsd_pid(D, "w");
        if (k->call)
                free(gsd_call("w", k->call, IT_WAIT_MS));
        else
                ck_assert_int_eq(kill(w, SIGKILL), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
        json_t *c = gsd_child(D, "w");
        ck_assert_str_eq(gsd_str(c, "reason"), k->reason);
        json_decref(c);
        ck_assert_uint_eq(gsd_history_count(D, "w", "child_terminated", k->reason), 1);
        char *report = it_strf("Context: child_terminated. Reason: %s. Offender: id=w,pid=%d,", k->reason, (int) w);
        ck_assert_uint_eq(gsd_log_count(D, report), 1);
        free(report);
}
END_TEST

/* Plain programs: exit status, signals, and SIGTERM as shutdown. */
START_TEST(program_reasons) {
        char *conf = strdup("supervisor = { name = \"root\"; intensity = 5; children = (\n"
                            "  { name = \"e\"; ready = \"exec\"; restart = \"transient\"; exec = [\"/bin/sleep\", \"0.2\"]; },\n"
                            "  { name = \"x\"; ready = \"exec\"; restart = \"transient\"; "
                            "exec = [\"/bin/sh\", \"-c\", \"sleep 0.2; exit 3\"]; backoff = { initial = 60000; max = 60000; }; },\n"
                            "  { name = \"s\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                            "); };\n");
        start(conf);
        free(conf);
        /* e: ends with status 0 on its own, normal: a transient child stays down. */
        ck_assert_int_eq(gsd_wait_state(D, "e", "stopped", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(D, "e", "child_terminated", "normal"), 1);
        /* x: exit status 3, abnormal: restarted (after a long backoff). */
        ck_assert_int_eq(gsd_wait_state(D, "x", "restarting", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(D, "x", "child_terminated", "{exit_status,3}"), 1);
        ck_assert_uint_eq(gsd_log_count(D, "Context: child_terminated. Reason: {exit_status,3}. Offender: id=x,"), 1);
        /* s: SIGTERM from gensupd is shutdown. */
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", "s", NULL }, NULL, NULL), 0);
        ck_assert_uint_eq(gsd_history_count(D, "s", "shutdown", "shutdown"), 1);
        ck_assert_uint_eq(gsd_log_count(D, "Context:"), 1);
}
END_TEST

/* ---- simple_one_for_one ---- */

START_TEST(simple_one_for_one) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"pool\"; type = \"supervisor\"; strategy = \"simple_one_for_one\"; children = (\n"
                             "    { name = \"conn\"; exec = [\"%s\", \"--log=%s\", \"--slow-terminate=1500\"]; "
                             "restart = \"temporary\"; }\n"
                             "  ); }\n"
                             "); };\n",
                             TS, LOG);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "pool", "running", IT_WAIT_MS), 0);

        const char *const names[] = { "first", "second", "third" };
        char *inst[3];
        pid_t pids[3];
        for (int i = 0; i < 3; i++) {
                json_t *j = NULL;
                char *err = NULL;
                int code = gsd_ctl(D, "start-child", (const char *[]) { "pool", names[i], "--extra", NULL }, &j, &err);
                ck_assert_msg(code == 0, "start-child: %d %s", code, err ? err : "");
                free(err);
                ck_assert_ptr_nonnull(gsd_str(j, "name"));
                inst[i] = strdup(gsd_str(j, "name"));
                pids[i] = (pid_t) gsd_int(j, "pid");
                ck_assert_int_gt(pids[i], 0);
                json_decref(j);
        }
        /* Each instance got the template's argv plus its own. */
        for (int i = 0; i < 3; i++) {
                json_t *c = gsd_child(D, inst[i]);
                ck_assert_ptr_nonnull(c);
                ck_assert_str_eq(gsd_str(c, "state"), "running");
                json_t *args = json_object_get(c, "args");
                ck_assert_int_eq(json_array_size(args), 2);
                ck_assert_str_eq(json_string_value(json_array_get(args, 0)), names[i]);
                ck_assert_str_eq(json_string_value(json_array_get(args, 1)), "--extra");
                json_decref(c);
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pids[i]);
                /* argv as the kernel has it: NUL-separated. */
                char *cmdline = it_read_file(path);
                ck_assert_ptr_nonnull(cmdline);
                const char *p = cmdline;
                p += strlen(p) + 1;   /* the program */
                p += strlen(p) + 1;   /* --log= */
                p += strlen(p) + 1;   /* --slow-terminate= */
                ck_assert_str_eq(p, names[i]);
                free(cmdline);
                /* Each listens under its own name. */
                char *argv = gsd_call(inst[i], "argv", IT_WAIT_MS);
                ck_assert_ptr_nonnull(argv);
                char *want = it_strf("--log=%s --slow-terminate=1500 %s --extra", LOG, names[i]);
                ck_assert_str_eq(argv, want);
                free(want);
                free(argv);
        }

        /* Stopped all at once: every terminate starts before any ends. */
        gsd_signal(D, SIGTERM);
        assert_exit(wait_daemon(), 0);
        char **l = gsd_lines(LOG);
        char *got = gsd_lines_join(l);
        char *expected = it_strf("init %d|init %d|init %d|terminate shutdown|terminate shutdown|terminate shutdown|"
                                 "terminate done|terminate done|terminate done",
                                 (int) pids[0], (int) pids[1], (int) pids[2]);
        ck_assert_str_eq(got, expected);
        free(expected);
        free(got);
        gsd_lines_free(l);
        for (int i = 0; i < 3; i++)
                free(inst[i]);
}
END_TEST

/* ---- gensupd killed: no orphans ---- */

START_TEST(no_orphans) {
        char *conf = it_strf("supervisor = { name = \"root\"; children = (\n"
                             "  { name = \"a\"; exec = [\"%s\"]; },\n"
                             "  { name = \"s\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; },\n"
                             "  { name = \"inner\"; type = \"supervisor\"; children = (\n"
                             "    { name = \"b\"; exec = [\"%s\"]; },\n"
                             "    { name = \"t\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"trap '' TERM; exec sleep 1000\"]; }\n"
                             "  ); }\n"
                             "); };\n",
                             TS, TS);
        start(conf);
        free(conf);
        const char *const names[] = { "a", "s", "b", "t" };
        pid_t pids[4];
        for (int i = 0; i < 4; i++) {
                ck_assert_int_eq(gsd_wait_state(D, names[i], "running", IT_WAIT_MS), 0);
                pids[i] = gsd_pid(D, names[i]);
                ck_assert(gsd_pid_alive(pids[i]));
        }
        gsd_signal(D, SIGKILL);
        int status = wait_daemon();
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        for (int i = 0; i < 4; i++) {
                int polls = 0;
                while (gsd_pid_alive(pids[i]) && polls++ < IT_WAIT_MS / 10)
                        usleep(10 * 1000);
                ck_assert_msg(!gsd_pid_alive(pids[i]), "%s (pid %d) outlived gensupd", names[i], (int) pids[i]);
        }
}
END_TEST

/* ---- a listening socket held across crashes ---- */

START_TEST(listen_held) {
        char *conf = it_strf("supervisor = { name = \"root\"; intensity = 100; period = 60; children = (\n"
                             "  { name = \"srv\"; listen = true; exec = [\"%s\"]; }\n"
                             "); };\n",
                             TS);
        start(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "srv", "running", IT_WAIT_MS), 0);
        char *path = it_path("srv.sock");
        for (int round = 0; round < 5; round++) {
                pid_t old = gsd_pid(D, "srv");
                ipc_conn *victim = it_connect(path);
                ck_assert_ptr_nonnull(victim);
                ck_assert_int_eq(it_send_call(victim, 1, "crash:segv"), 0);
                /* The crash's reason, then EOF: that instance is gone; the
                 * socket is not. */
                ipc_frame *f = NULL;
                ck_assert_int_eq(it_recv(victim, IT_WAIT_MS, &f), 0);
                ck_assert_int_eq(f->kind, GENSUP__KIND__EXIT_REPORT);
                ck_assert_str_eq(f->reason, "{signal,SIGSEGV}");
                ipc_frame_free(f);
                ck_assert_int_eq(it_recv(victim, IT_WAIT_MS, &f), -ECONNRESET);
                ipc_conn_free(victim);

                /* Connecting while it restarts: never refused, answered by
                 * the next instance. */
                ipc_conn *c = it_connect(path);
                ck_assert_msg(c != NULL, "round %d: connect refused", round);
                char *answer = it_call_text(c, "echo:hello");
                ck_assert_msg(answer != NULL, "round %d: no answer", round);
                ck_assert_str_eq(answer, "hello");
                free(answer);
                ipc_conn_free(c);
                ck_assert_int_gt(gsd_wait_new_pid(D, "srv", old, IT_WAIT_MS), 0);
        }
        free(path);
        json_t *c = gsd_child(D, "srv");
        ck_assert_int_eq(gsd_int(c, "restarts"), 5);
        json_decref(c);
}
END_TEST

/* ---- gensupd --check ---- */

/* Runs gensupd --check -c conf; its stdout and stderr in *ret_out. */
static int run_check(const char *conf, char **ret_out) {
        char *prog = it_strf("%s/bin/gensupd", GS_BUILD_DIR);
        char *out = it_path("check.out");
        (void) unlink(out);
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        pid_t pid = it_spawn((char *[]) { prog, (char *) "--check", (char *) "-c", (char *) conf, NULL }, NULL,
                             &(it_fd) { .src = fd, .dst = STDOUT_FILENO }, 1, out);
        close(fd);
        free(prog);
        ck_assert_int_gt(pid, 0);
        int status = -1;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        *ret_out = it_read_file(out);
        if (!*ret_out)
                *ret_out = strdup("");
        free(out);
        return status;
}

START_TEST(check_config) {
        char *good = gsd_write_file("good.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"a\"; exec = [\"/bin/sleep\", \"1\"]; ready = \"exec\"; }\n"
                                    "); };\n");
        char *out = NULL;
        assert_exit(run_check(good, &out), 0);
        char *ok = it_strf("%s: ok\n", good);
        ck_assert_str_eq(out, ok);
        free(ok);
        free(out);

        char *bad = gsd_write_file("bad.conf",
                                   "supervisor = {\n"
                                   "  name = \"root\";\n"
                                   "  strategy = \"one_for_most\";\n"
                                   "  children = (\n"
                                   "    { name = \"a\"; exec = [\"/bin/sleep\"]; colour = 1; },\n"
                                   "    { name = \"a\"; exec = [\"/bin/sleep\"]; }\n"
                                   "  );\n"
                                   "};\n");
        assert_exit(run_check(bad, &out), 1);
        char *line3 = it_strf("%s:3: ", bad), *line5 = it_strf("%s:5: ", bad);
        ck_assert_msg(strstr(out, line3) != NULL, "no %s in: %s", line3, out);
        ck_assert_msg(strstr(out, line5) != NULL, "no %s in: %s", line5, out);
        /* Every line names the file and a line. */
        for (char *p = out, *next; p && *p; p = next) {
                next = strchr(p, '\n');
                if (next)
                        *next++ = '\0';
                ck_assert_msg(strncmp(p, bad, strlen(bad)) == 0 && p[strlen(bad)] == ':', "bad line: %s", p);
        }
        free(line3);
        free(line5);
        free(out);

        char *broken = gsd_write_file("broken.conf", "supervisor = {\n  name = \"root\"\n  children = ( ;\n};\n");
        assert_exit(run_check(broken, &out), 1);
        char *line = it_strf("%s:", broken);
        ck_assert_msg(strstr(out, line) != NULL, "no %s in: %s", line, out);
        free(line);
        free(out);
        free(good);
        free(bad);
        free(broken);
}
END_TEST

Suite *sup_lifecycle_suite(void);
Suite *sup_lifecycle_suite(void) {
        Suite *s = suite_create("sup_lifecycle");
        TCase *tc;

        tc = tcase_create("stop");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, sigterm_reverse_order);
        tcase_add_test(tc, sigterm_nested_order);
        tcase_add_test(tc, sigterm_during_boot);
        tcase_add_test(tc, ctl_stop);
        tcase_add_test(tc, shutdown_timeout_killed);
        tcase_add_test(tc, brutal_kill);
        tcase_add_test(tc, no_orphans);
        suite_add_tcase(s, tc);

        tc = tcase_create("boot");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, boot_failure);
        tcase_add_test(tc, boot_ignore);
        tcase_add_test(tc, boot_start_timeout);
        tcase_add_test(tc, notify_ready);
        tcase_add_test(tc, check_config);
        suite_add_tcase(s, tc);

        tc = tcase_create("reasons");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_loop_test(tc, exit_reasons, 0, (int) (sizeof(reason_cases) / sizeof(reason_cases[0])));
        tcase_add_test(tc, program_reasons);
        suite_add_tcase(s, tc);

        tc = tcase_create("children");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, simple_one_for_one);
        tcase_add_test(tc, listen_held);
        suite_add_tcase(s, tc);
        return s;
}
