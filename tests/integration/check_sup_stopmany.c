/* check_sup_stopmany.c: stopping a tree with more children than the
 * pidfd budget (gensupd's fd limit is lowered, so that most children
 * are found by the SIGCHLD scan and the newest gave up their pidfds for
 * the children started after them), as a user sees it on `gensupctl
 * events --follow`: every child stopped exactly once, in reverse start
 * order, each with the reason its shutdown setting gives (a shutdown
 * timeout that expires, brutal_kill, SIGTERM obeyed), and gensupd ends
 * well. */
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_stopmany_suite(void);

static gsd *D;
static pid_t follower;

static void teardown(void) {
        if (follower > 0)
                it_kill(follower);
        follower = 0;
        D = gsd_finish(D);
}

/* A limit low enough that the tree outgrows the pidfd budget: gensupd
 * inherits it. */
static void low_fd_limit(void) {
        struct rlimit rl = { 256, 256 };
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* SIGUSR2 makes gensupd log its own figures: how many children it
 * watches by pidfd and how many by the scan (the k-th such line). */
static void path_counts(int k, unsigned *ret_pidfd, unsigned *ret_scan) {
        gsd_signal(D, SIGUSR2);
        for (int64_t end = it_now_ms() + IT_WAIT_MS; gsd_log_count(D, "(pidfd ") < (size_t) k;) {
                ck_assert_msg(it_now_ms() < end, "no self line %d from SIGUSR2", k);
                it_nap_ms(10);   /* a bounded poll of the log, not a synchronisation */
        }
        char *log = gsd_log_text(D);
        const char *p = log;
        for (int i = 0; i < k; i++) {
                p = strstr(i ? p + 1 : p, "(pidfd ");
                ck_assert_ptr_nonnull(p);
        }
        ck_assert_int_eq(sscanf(p, "(pidfd %u, scan %u)", ret_pidfd, ret_scan), 2);
        free(log);
}

/* Under valgrind (valgrind-check sets GS_TEST_WRAPPER) gensupd gets no
 * pidfd at all: every child is found by the scan. */
static bool no_pidfds(unsigned by_pidfd) {
        return by_pidfd == 0 && getenv("GS_TEST_WRAPPER");
}

static void assert_both_paths(void) {
        unsigned by_pidfd = 0, by_scan = 0;
        path_counts(1, &by_pidfd, &by_scan);
        if (!no_pidfds(by_pidfd))
                ck_assert_uint_gt(by_pidfd, 0);
        ck_assert_uint_gt(by_scan, 0);
}

/* gensupctl --json events --follow into a file, until gensupd ends. */
static char *follow_events(void) {
        char *path = it_path("events.json");
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        char *ctl = it_strf("%s/bin/gensupctl", GS_BUILD_DIR);
        char *argv[] = { ctl, (char *) "-s", D->control, (char *) "--json", (char *) "events", (char *) "--follow", NULL };
        it_fd fds[] = { { fd, 1 } };
        follower = it_spawn(argv, NULL, fds, 1, NULL);
        ck_assert_int_gt(follower, 0);
        close(fd);
        free(ctl);
        /* The recent events come first, tree_ready among them: from
         * then on it hears new ones. */
        ck_assert_int_eq(it_wait_file_contains(path, "tree_ready", IT_WAIT_MS), 0);
        return path;
}

/* SIGTERM to gensupd; it exits 0, and so does the follower. */
static void stop_tree(void) {
        gsd_signal(D, SIGTERM);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        ck_assert_int_eq(it_wait_exit(follower, IT_WAIT_MS, &status), 0);
        follower = 0;
}

/* Checks the "stopped" events: children prefix(n-1) down to prefix0,
 * once each, with reason_of(i). */
static void assert_stopped(const char *events, const char *prefix, int n, const char *(*reason_of)(int)) {
        char **lines = gsd_lines(events);
        int next = n - 1;
        for (size_t i = 0; lines[i]; i++) {
                json_t *ev = json_loads(lines[i], 0, NULL);
                ck_assert_msg(ev != NULL, "not JSON: %s", lines[i]);
                if (strcmp(gsd_str(ev, "event"), "stopped") == 0) {
                        ck_assert_msg(next >= 0, "one stop too many: %s", lines[i]);
                        char name[32];
                        snprintf(name, sizeof(name), "%s%d", prefix, next);
                        ck_assert_str_eq(gsd_str(ev, "child"), name);
                        ck_assert_str_eq(gsd_str(ev, "reason"), reason_of(next));
                        next--;
                }
                json_decref(ev);
        }
        ck_assert_int_eq(next, -1);
        gsd_lines_free(lines);
}

static const char *shutdown_reason(int i) {
        (void) i;
        return "shutdown";
}

/* Sleepers told to stop by SIGTERM: each obeys. */
START_TEST(stop_beyond_pidfd_budget) {
        enum { N = 60 };
        low_fd_limit();
        char *path = gsd_sleepers_conf("many.conf", N, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_state(D, "s59", "running", IT_WAIT_MS), 0);
        assert_both_paths();
        char *events = follow_events();
        stop_tree();
        assert_stopped(events, "s", N, shutdown_reason);
        ck_assert_uint_eq(gsd_log_count(D, "Context:"), 0);
        free(events);
}
END_TEST

/* Thirds: brutal_kill (killed at once: killed, as expected), a server
 * that takes 8 s to terminate with shutdown = 200 (killed at the
 * deadline: killed, a shutdown_error), a sleeper on the default (its
 * SIGTERM: shutdown). */
static const char *mixed_reason(int i) {
        return i % 3 == 2 ? "shutdown" : "killed";
}

START_TEST(stop_many_mixed_shutdown) {
        enum { N = 60 };
        low_fd_limit();
        char *ts = it_example("test_server");
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "supervisor = { name = \"root\"; children = (\n");
        for (int i = 0; i < N; i++) {
                const char *sep = i + 1 < N ? "," : "";
                if (i % 3 == 0)
                        fprintf(f, "  { name = \"m%d\"; ready = \"exec\"; shutdown = \"brutal_kill\"; "
                                   "exec = [\"/bin/sleep\", \"1000\"]; }%s\n", i, sep);
                else if (i % 3 == 1)
                        fprintf(f, "  { name = \"m%d\"; shutdown = 200; exec = [\"%s\", \"--slow-terminate=8000\"]; }%s\n",
                                i, ts, sep);
                else
                        fprintf(f, "  { name = \"m%d\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }%s\n", i, sep);
        }
        fprintf(f, "); };\n");
        fclose(f);
        free(ts);
        char *path = gsd_write_file("mixed.conf", "%s", text);
        free(text);
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_state(D, "m59", "running", IT_WAIT_MS), 0);
        assert_both_paths();
        char *events = follow_events();
        stop_tree();
        assert_stopped(events, "m", N, mixed_reason);
        /* Only the deadlines that expired are errors. */
        ck_assert_uint_eq(gsd_log_count(D, "Context: shutdown_error. Reason: killed."), N / 3);
        free(events);
}
END_TEST

/* Children that leave free fds: the newest children without a pidfd
 * get one back, so that fewer are left to the scan than went. */
START_TEST(pidfds_given_back) {
        enum { N = 60, GONE = 10 };
        low_fd_limit();
        char *path = gsd_sleepers_conf("back.conf", N, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_state(D, "s59", "running", IT_WAIT_MS), 0);
        unsigned pidfd1, scan1, pidfd2, scan2;
        path_counts(1, &pidfd1, &scan1);
        ck_assert_uint_eq(pidfd1 + scan1, N);
        if (no_pidfds(pidfd1)) {
                fprintf(stderr, "pidfds_given_back: no pidfds under the wrapper, skipped\n");
                return;
        }
        ck_assert_uint_gt(scan1, GONE);
        char name[16];
        for (int i = N - 1; i >= N - GONE; i--) {
                snprintf(name, sizeof(name), "s%d", i);
                ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", name, NULL }, NULL, NULL), 0);
        }
        path_counts(2, &pidfd2, &scan2);
        ck_assert_uint_eq(pidfd2 + scan2, N - GONE);
        ck_assert_uint_lt(scan2, scan1 - GONE);
        ck_assert_uint_gt(pidfd2, pidfd1);
}
END_TEST

Suite *sup_stopmany_suite(void) {
        Suite *s = suite_create("sup_stopmany");
        TCase *tc = tcase_create("stopmany");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, stop_beyond_pidfd_budget);
        tcase_add_test(tc, stop_many_mixed_shutdown);
        tcase_add_test(tc, pidfds_given_back);
        suite_add_tcase(s, tc);
        return s;
}
