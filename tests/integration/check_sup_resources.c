/* check_sup_resources.c: a restart that fails because gensupd itself is
 * short of a resource (here: no free fd) waits and retries, uncounted,
 * instead of burning the restart intensity in milliseconds; once the
 * resource is back, the child is restarted and the tree lives on.
 *
 * The shortage is real: gensupd's RLIMIT_NOFILE is lowered (prlimit) to
 * 3 while fds 0-2 are open, so no new fd can be had, then given back.
 * The test waits on gensupd's log and on `status`, never on time. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_resources_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

/* Whether the daemon has its fds 0, 1 and 2 open: then a limit of 3
 * leaves it no fd at all. */
static bool low_fds_open(pid_t pid) {
        for (int fd = 0; fd < 3; fd++) {
                char *path = it_strf("/proc/%d/fd/%d", (int) pid, fd);
                bool open = access(path, F_OK) == 0;
                free(path);
                if (!open)
                        return false;
        }
        return true;
}

START_TEST(restart_waits_for_fds) {
        char *ts = it_example("test_server");
        /* intensity 1: two failed restarts in a row would end the tree. */
        char *conf = gsd_write_file("gensup.conf",
                                    "supervisor = { name = \"root\"; intensity = 1; period = 3600; children = (\n"
                                    "  { name = \"w\"; exec = [\"%s\"]; }\n"
                                    "); };\n",
                                    ts);
        free(ts);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t old = gsd_pid(D, "w");
        ck_assert_int_gt(old, 0);
        ck_assert_msg(low_fds_open(D->pid), "gensupd has a free fd below 3");

        struct rlimit none = { 0 }, saved;
        ck_assert_int_eq(prlimit(D->pid, RLIMIT_NOFILE, NULL, &saved), 0);
        none = (struct rlimit) { .rlim_cur = 3, .rlim_max = saved.rlim_max };
        ck_assert_int_eq(prlimit(D->pid, RLIMIT_NOFILE, &none, NULL), 0);
        ck_assert_int_eq(kill(old, SIGKILL), 0);

        /* Three failed restarts (100, 200, 400 ms apart), none counted. */
        int r = gsd_wait_log(D, "retrying in 400 ms", IT_WAIT_MS);
        char *log = gsd_log_text(D);
        ck_assert_msg(r == 0, "no third retry; log:\n%s", log);
        ck_assert_msg(strstr(log, "Context: start_error. Reason: {init_failed,Too many open files}. Offender: id=w"),
                      "%s", log);
        ck_assert_msg(strstr(log, "w: no resources to start it (Too many open files): retrying in 100 ms"), "%s", log);
        ck_assert_msg(!strstr(log, "reached_max_restart_intensity"), "%s", log);
        free(log);
        ck_assert(gsd_pid_alive(D->pid));

        /* The fds come back: the next retry starts it, and the tree lives. */
        ck_assert_int_eq(prlimit(D->pid, RLIMIT_NOFILE, &saved, NULL), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", old, IT_WAIT_MS), 0);
        json_t *tree = gsd_tree(D);
        ck_assert_ptr_nonnull(tree);
        ck_assert_str_eq(gsd_str(tree, "state"), "running");
        json_decref(tree);
        ck_assert_uint_ge(gsd_history_count(D, "w", "start_error", "{init_failed,Too many open files}"), 3);
}
END_TEST

Suite *sup_resources_suite(void) {
        Suite *s = suite_create("sup_resources");
        TCase *tc = tcase_create("resources");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, restart_waits_for_fds);
        suite_add_tcase(s, tc);
        return s;
}
