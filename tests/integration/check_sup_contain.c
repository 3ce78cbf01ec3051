/* check_sup_contain.c: nothing a child starts escapes it. With a cgroup
 * per child, a setsid grandchild and a double-forked daemon are gone
 * after a stop, after a crash of their parent (before the restart), and
 * after a SIGKILL of gensupd followed by a new start; a fork bomb is held
 * by pids_max; an OOM kill is named as such. And status never shows a
 * running child without a pid. Cases that need cgroups skip, saying why,
 * where gensupd reports "process_group" containment. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_contain_suite(void);

static gsd *D, *D2;

static void teardown(void) {
        D2 = gsd_finish(D2);
        D = gsd_finish(D);
}

/* A child that leaves two processes outside its process group: a setsid
 * one and a double-forked one. Each appends its pid to pids, then the
 * child says it is ready (so the pids are there once it runs). */
static char *leaky_conf(const char *pids, const char *kill_mode) {
        return gsd_write_file(
                "contain.conf",
                "supervisor = { name = \"root\"; intensity = 10; children = (\n"
                "  { name = \"leaky\"; ready = \"notify\"; kill_mode = \"%s\"; exec = [\"/bin/sh\", \"-c\",\n"
                "    \"setsid sh -c 'echo s $$ >> %s; exec sleep 1000' & "
                "( sh -c 'echo d $$ >> %s; exec sleep 1001' & ) ; "
                "while [ $(wc -l < %s) -lt 2 ]; do sleep 0.01; done; "
                "/bin/systemd-notify --pid=$$ --ready; exec sleep 1002\"]; }\n"
                "); };\n",
                kill_mode, pids, pids, pids);
}

/* The pids the leaky child's helpers wrote: [0] the setsid one, [1] the
 * double-forked one (they write in either order). */
static void read_pids(const char *path, pid_t out[2]) {
        ck_assert_int_eq(gsd_wait_lines(path, 2, IT_WAIT_MS), 0);
        char **l = gsd_lines(path);
        ck_assert_uint_ge(gsd_lines_count(l), 2);
        out[0] = out[1] = 0;
        for (int i = 0; i < 2; i++)
                out[l[i][0] == 's' ? 0 : 1] = (pid_t) atoi(l[i] + 2);
        gsd_lines_free(l);
        ck_assert_int_gt(out[0], 1);
        ck_assert_int_gt(out[1], 1);
}

static bool start_leaky_mode(const char *test, const char *kill_mode, char **ret_pids) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "sup_contain: %s skipped: children cannot notify here\n", test);
                return false;
        }
        char *pids = it_path("pids");
        char *conf = leaky_conf(pids, kill_mode);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        if (!gsd_has_cgroups(D, "sup_contain", test)) {
                free(pids);
                return false;
        }
        ck_assert_int_eq(gsd_wait_state(D, "leaky", "running", IT_WAIT_MS), 0);
        *ret_pids = pids;
        return true;
}

static bool start_leaky(const char *test, char **ret_pids) {
        return start_leaky_mode(test, "cgroup", ret_pids);
}

static bool gone_soon(pid_t pid) {
        /* A SIGKILL sent is not yet a process gone: bounded wait. */
        for (int i = 0; i < 1000 && gsd_pid_alive(pid); i++)
                usleep(10000);
        return !gsd_pid_alive(pid);
}

/* kill_mode = "process_group", as systemd's KillMode=: the stop kills
 * the child's group, and the setsid one, in a session of its own, stays
 * (until the test's end removes the cgroup). */
START_TEST(kill_mode_process_group) {
        char *path;
        pid_t p[2];
        if (!start_leaky_mode("kill_mode_process_group", "process_group", &path))
                return;
        read_pids(path, p);
        json_t *doc = NULL;
        const char *args[] = { "root", "leaky", NULL };
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", args, &doc, NULL), 0);
        json_decref(doc);
        ck_assert_int_eq(gsd_wait_state(D, "leaky", "stopped", IT_WAIT_MS), 0);
        ck_assert_msg(gone_soon(p[1]), "the double-forked one, in the group, survived");
        ck_assert_msg(gsd_pid_alive(p[0]), "the setsid one was killed: not process_group's doing");
        free(path);
}
END_TEST

START_TEST(stop_kills_grandchildren) {
        char *path;
        pid_t p[2];
        if (!start_leaky("stop_kills_grandchildren", &path))
                return;
        read_pids(path, p);
        ck_assert(gsd_pid_alive(p[0]) && gsd_pid_alive(p[1]));

        json_t *doc = NULL;
        const char *args[] = { "root", "leaky", NULL };
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", args, &doc, NULL), 0);
        json_decref(doc);
        /* Stopped means its cgroup is empty: no wait for them. */
        ck_assert_int_eq(gsd_wait_state(D, "leaky", "stopped", IT_WAIT_MS), 0);
        ck_assert_msg(!gsd_pid_alive(p[0]), "setsid grandchild %d survived the stop", (int) p[0]);
        ck_assert_msg(!gsd_pid_alive(p[1]), "double-forked daemon %d survived the stop", (int) p[1]);
        free(path);
}
END_TEST

START_TEST(crash_kills_grandchildren_before_restart) {
        char *path;
        pid_t p[2];
        if (!start_leaky("crash_kills_grandchildren_before_restart", &path))
                return;
        read_pids(path, p);
        pid_t old = gsd_pid(D, "leaky");
        ck_assert_int_gt(old, 0);
        ck_assert_int_eq(kill(old, SIGSEGV), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "leaky", old, IT_WAIT_MS), 0);
        ck_assert_msg(!gsd_pid_alive(p[0]), "setsid grandchild %d survived its parent's crash", (int) p[0]);
        ck_assert_msg(!gsd_pid_alive(p[1]), "double-forked daemon %d survived its parent's crash", (int) p[1]);
        ck_assert_uint_eq(gsd_history_count(D, "leaky", "child_terminated", "{signal,SIGSEGV}"), 1);
        free(path);
}
END_TEST

START_TEST(gensupd_sigkill_then_start) {
        char *path;
        pid_t p[2];
        if (!start_leaky("gensupd_sigkill_then_start", &path))
                return;
        read_pids(path, p);
        pid_t child = gsd_pid(D, "leaky");
        int status;
        gsd_signal(D, SIGKILL);
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        /* The direct child dies with gensupd (its death signal); what it
         * left waits in its cgroup for the next gensupd. */
        ck_assert(gone_soon(child));
        ck_assert(gsd_pid_alive(p[0]) && gsd_pid_alive(p[1]));

        unlink(path);
        ck_assert_int_eq(gsd_start(D->config, &D2), 0);
        ck_assert_int_eq(gsd_wait_log(D2, "a previous gensupd left behind", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_log_count(D2, "left behind"), 1);
        ck_assert_msg(!gsd_pid_alive(p[0]), "setsid grandchild %d survived", (int) p[0]);
        ck_assert_msg(!gsd_pid_alive(p[1]), "double-forked daemon %d survived", (int) p[1]);
        ck_assert_int_eq(gsd_wait_state(D2, "leaky", "running", IT_WAIT_MS), 0);
        /* An orderly stop leaves no cgroup. */
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(D2, "status", NULL, &doc, NULL), 0);
        char *cg = strdup(gsd_str(json_object_get(doc, "gensupd"), "cgroup"));
        json_decref(doc);
        gsd_signal(D2, SIGTERM);
        ck_assert_int_eq(gsd_wait_exit(D2, IT_WAIT_MS, &status), 0);
        ck_assert_int_eq(access(cg, F_OK), -1);
        free(cg);
        free(path);
}
END_TEST

/* Whether gensupd enabled a controller for children. */
static bool has_controller(gsd *d, const char *name, const char *test) {
        char *log = gsd_log_text(d);
        const char *at = strstr(log, "(controllers: ");
        bool yes = at && strstr(at, name) && strstr(at, name) < strchrnul(at, '\n');
        free(log);
        if (!yes)
                fprintf(stderr, "sup_contain: %s skipped: no %s controller on the cgroup2 hierarchy here\n", test,
                        name);
        return yes;
}

/* Whether a gensupd here would enable the controller: asked of one with
 * a harmless child, before anything that needs the limit runs. */
static bool can_limit(const char *controller, const char *test) {
        char *conf = gsd_write_file("probe.conf", "supervisor = { name = \"root\"; children = (\n"
                                                  "  { name = \"idle\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                                                  "); };\n");
        gsd *probe = NULL;
        ck_assert_int_eq(gsd_start(conf, &probe), 0);
        free(conf);
        bool yes = gsd_has_cgroups(probe, "sup_contain", test) && has_controller(probe, controller, test);
        gsd_signal(probe, SIGTERM);
        int status;
        ck_assert_int_eq(gsd_wait_exit(probe, IT_WAIT_MS, &status), 0);
        gsd_finish(probe);
        return yes;
}

START_TEST(fork_bomb_contained) {
        if (!can_limit("pids", "fork_bomb_contained"))
                return;
        /* Bounded, should the limit not hold after all. */
        char *conf = gsd_write_file(
                "bomb.conf",
                "supervisor = { name = \"root\"; intensity = 1000; period = 1; children = (\n"
                "  { name = \"bomb\"; ready = \"exec\"; pids_max = 16;\n"
                "    exec = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 500 ]; do sleep 1000 & i=$((i+1)); done; "
                "exec sleep 1000\"]; },\n"
                "  { name = \"calm\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        /* The bomb fills its 16 pids and goes on trying; the rest of the
         * tree still starts processes. */
        json_t *c = NULL;
        for (int i = 0; i < IT_WAIT_MS; i++) {
                json_decref(c);
                c = gsd_child(D, "bomb");
                if (gsd_int(c, "processes") >= 16)
                        break;
                usleep(1000);
        }
        ck_assert_int_eq(gsd_int(c, "processes"), 16);
        json_decref(c);
        pid_t calm = gsd_pid(D, "calm");
        ck_assert_int_gt(calm, 0);
        ck_assert_int_eq(kill(calm, SIGSEGV), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "calm", calm, IT_WAIT_MS), 0);
        json_t *doc = NULL;
        const char *args[] = { "root", "bomb", NULL };
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", args, &doc, NULL), 0);
        json_decref(doc);
        ck_assert_int_eq(gsd_wait_state(D, "bomb", "stopped", IT_WAIT_MS), 0);
}
END_TEST

START_TEST(oom_kill_named) {
        if (!can_limit("memory", "oom_kill_named"))
                return;
        char *conf = gsd_write_file(
                "oom.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"hog\"; ready = \"exec\"; restart = \"temporary\"; memory_max = 16777216;\n"
                "    exec = [\"/bin/dd\", \"if=/dev/zero\", \"of=/dev/null\", \"bs=256M\", \"count=4\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_log(D, "Context: child_terminated", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "Reason: {signal,SIGKILL,oom_kill}", IT_WAIT_MS), 0);
}
END_TEST

/* Issue 7: a child that exits at once and is restarted at once, again and
 * again; no status in between shows it running without a pid, or
 * stopped with one. */
START_TEST(status_fields_consistent) {
        char *conf = gsd_write_file(
                "flap.conf",
                "supervisor = { name = \"root\"; intensity = 100000; period = 1; children = (\n"
                "  { name = \"flap\"; ready = \"exec\"; exec = [\"/bin/true\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        /* Under valgrind (valgrind-check sets GS_TEST_WRAPPER) each status
         * of this ever-restarting tree takes ~0.5 s: fewer samples, the
         * same checks. */
        int samples = it_scaled(300, 60);
        int seen_running = 0;
        for (int i = 0; i < samples; i++) {
                json_t *c = gsd_child(D, "flap");
                ck_assert_ptr_nonnull(c);
                const char *state = gsd_str(c, "state");
                long long pid = gsd_int(c, "pid");
                if (strcmp(state, "running") == 0) {
                        ck_assert_msg(pid > 0, "running without a pid");
                        seen_running++;
                }
                if (strcmp(state, "stopped") == 0)
                        ck_assert_msg(pid < 0 && gsd_int(c, "uptime_ms") == 0, "stopped with pid %lld", pid);
                json_decref(c);
        }
        fprintf(stderr, "sup_contain: status_fields_consistent: %d of %d showed running\n", seen_running, samples);
}
END_TEST

/* Issue 9: exits read from a pidfd each. Many children killed at once
 * are each seen exactly once and restarted. */
START_TEST(mass_exits) {
        enum { N = 60 };
        char *path = gsd_sleepers_conf("mass.conf", N, "m", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        pid_t pids[N];
        char name[16];
        for (int i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "m%d", i);
                ck_assert_int_eq(gsd_wait_state(D, name, "running", IT_WAIT_MS), 0);
                pids[i] = gsd_pid(D, name);
                ck_assert_int_gt(pids[i], 0);
        }
        for (int i = 0; i < N; i++)
                ck_assert_int_eq(kill(pids[i], SIGKILL), 0);
        for (int i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "m%d", i);
                ck_assert_int_gt(gsd_wait_new_pid(D, name, pids[i], IT_WAIT_MS), 0);
                ck_assert_uint_eq(gsd_history_count(D, name, "child_terminated", "{signal,SIGKILL}"), 1);
        }
}
END_TEST

Suite *sup_contain_suite(void) {
        Suite *s = suite_create("sup_contain");
        TCase *tc = tcase_create("contain");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, stop_kills_grandchildren);
        tcase_add_test(tc, crash_kills_grandchildren_before_restart);
        tcase_add_test(tc, gensupd_sigkill_then_start);
        tcase_add_test(tc, fork_bomb_contained);
        tcase_add_test(tc, oom_kill_named);
        tcase_add_test(tc, status_fields_consistent);
        tcase_add_test(tc, mass_exits);
        tcase_add_test(tc, kill_mode_process_group);
        suite_add_tcase(s, tc);
        return s;
}
