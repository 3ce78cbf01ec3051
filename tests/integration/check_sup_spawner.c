/* check_sup_spawner.c: children are spawned by gensupd's spawner thread,
 * off its event loop (issue 9 §3). What a user sees must not change:
 * children that die at exec while they are terminated, deleted and the
 * tree stopped leave no process behind and no exit unheard; a start that
 * cannot exec is reported as a start error; a child that exits at once
 * after exec is counted once. No timing: every wait is for an event or a
 * state, with a deadline. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_spawner_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

/* A config of n children named <prefix>0.. running sh -c script, with
 * the test's own directory as their $0 (to find strays by), under a root
 * with the given intensity in one second. */
static char *conf(int n, const char *prefix, const char *restart, const char *script, int intensity) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "supervisor = { name = \"root\"; intensity = %d; period = 1; children = (\n", intensity);
        for (int i = 0; i < n; i++)
                fprintf(f, "  { name = \"%s%d\"; ready = \"exec\"; restart = \"%s\"; shutdown = \"brutal_kill\";\n"
                           "    exec = [\"/bin/sh\", \"-c\", \"%s\", \"%s/stray\"]; }%s\n",
                        prefix, i, restart, script, it_tmpdir(), i + 1 < n ? "," : "");
        fprintf(f, "); };\n");
        fclose(f);
        char *path = gsd_write_file("gensupd.conf", "%s", text);
        free(text);
        return path;
}

/* How many live processes name the test's directory in their command
 * line (gensupd's own config path does: call once it is gone). */
static int strays(void) {
        DIR *proc = opendir("/proc");
        struct dirent *de;
        int n = 0;
        char *marker = it_strf("%s/stray", it_tmpdir());
        ck_assert_ptr_nonnull(proc);
        while ((de = readdir(proc))) {
                pid_t pid = (pid_t) atoi(de->d_name);
                if (pid <= 0 || pid == getpid())
                        continue;
                char *path = it_strf("/proc/%d/cmdline", (int) pid);
                FILE *f = fopen(path, "r");
                free(path);
                if (!f)
                        continue;
                char buf[4096];
                size_t got = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                for (size_t i = 0; i < got; i++)
                        if (buf[i] == '\0')
                                buf[i] = ' ';
                buf[got] = '\0';
                if (strstr(buf, marker) && gsd_pid_alive(pid))
                        n++;
        }
        closedir(proc);
        free(marker);
        return n;
}

/* SIGTERM stops gensupd cleanly (exit 0) and no child outlives it. */
static void stop_leaves_nothing(void) {
        gsd_signal(D, SIGTERM);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        ck_assert_int_eq(strays(), 0);
}

static long long restarts(const char *name) {
        json_t *c = gsd_child(D, name);
        long long n = gsd_int(c, "restarts");
        json_decref(c);
        return n;
}

/* Waits until the child's restart count reaches n. 0 or -ETIMEDOUT. */
static int wait_restarts(const char *name, long long n) {
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        while (restarts(name) < n) {
                if (it_now_ms() > deadline)
                        return -ETIMEDOUT;
                it_nap_ms(10);
        }
        return 0;
}

/* Children that die as soon as they are exec'd, restarted at once, so
 * that spawns are always in flight: terminate-child and delete-child
 * are answered and take effect, the tree stops with status 0, and no
 * child outlives gensupd. */
START_TEST(crash_at_exec_stopped) {
        enum { N = 8 };
        char *path = conf(N, "c", "permanent", "exit 3", 1000000);
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        /* Each has crashed and been restarted: spawns go on all the time. */
        for (int i = 0; i < N; i++) {
                char *name = it_strf("c%d", i);
                ck_assert_int_eq(gsd_wait_history(D, name, NULL, "{exit_status,3}", 2, IT_WAIT_MS), 0);
                free(name);
        }
        for (int i = 0; i < N / 2; i++) {
                char *name = it_strf("c%d", i);
                ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { name, NULL }, NULL, NULL), 0);
                ck_assert_int_eq(gsd_wait_state(D, name, "stopped", IT_WAIT_MS), 0);
                ck_assert_int_eq(gsd_pid(D, name), 0);
                free(name);
        }
        for (int i = 0; i < N / 4; i++) {
                char *name = it_strf("c%d", i);
                ck_assert_int_eq(gsd_ctl(D, "delete-child", (const char *[]) { name, NULL }, NULL, NULL), 0);
                ck_assert_int_eq(gsd_wait_state(D, name, NULL, IT_WAIT_MS), 0);
                free(name);
        }
        /* A terminated child stays down while the others go on (their
         * restart counts grow; the history keeps only the last exits). */
        char *name = it_strf("c%d", N - 1);
        ck_assert_int_eq(wait_restarts(name, restarts(name) + 2), 0);
        free(name);
        json_t *c2 = gsd_child(D, "c2");
        ck_assert_str_eq(gsd_str(c2, "state"), "stopped");
        json_decref(c2);

        stop_leaves_nothing();
}
END_TEST

/* A restart whose program is gone: the spawner's exec error is the start
 * error it always was (its step and errno in the log, start_error with
 * pid undefined in the report), and the tree gives up as it did. */
START_TEST(exec_error_reported) {
        char *prog = it_path("prog");
        char *copy = it_strf("cp /bin/sleep %s", prog);
        ck_assert_int_eq(system(copy), 0);
        free(copy);
        char *path = gsd_write_file("gensupd.conf",
                                    "supervisor = { name = \"root\"; intensity = 1; period = 3600; children = (\n"
                                    "  { name = \"gone\"; ready = \"exec\"; exec = [\"%s\", \"1000\"]; }); };\n",
                                    prog);
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_state(D, "gone", "running", IT_WAIT_MS), 0);
        pid_t pid = gsd_pid(D, "gone");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(unlink(prog), 0);
        free(prog);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(gsd_wait_log(D, "gone: exec: No such file or directory", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "Context: start_error.", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "Offender: id=gone,pid=undefined,", IT_WAIT_MS), 0);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(!it_exited_with(status, 0));
}
END_TEST

/* Children that exit the moment they are exec'd, before gensupd can have
 * registered their pids: each exit is heard, and heard once, at boot and
 * when they are all restarted again. */
START_TEST(exit_at_exec_counted_once) {
        enum { N = 10 };
        char *path = conf(N, "t", "transient", "exit 0", 1000);
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        for (int round = 1; round <= 2; round++) {
                for (int i = 0; i < N; i++) {
                        char *name = it_strf("t%d", i);
                        ck_assert_int_eq(gsd_wait_history(D, name, NULL, "normal", (size_t) round, IT_WAIT_MS), 0);
                        ck_assert_int_eq(gsd_wait_state(D, name, "stopped", IT_WAIT_MS), 0);
                        free(name);
                }
                if (round == 1)
                        for (int i = 0; i < N; i++) {
                                char *name = it_strf("t%d", i);
                                ck_assert_int_eq(gsd_ctl(D, "restart-child", (const char *[]) { name, NULL }, NULL,
                                                         NULL), 0);
                                free(name);
                        }
        }
        /* Every exit heard is in the history once: no more than started. */
        for (int i = 0; i < N; i++) {
                char *name = it_strf("t%d", i);
                ck_assert_uint_eq(gsd_history_count(D, name, NULL, NULL), 2);
                json_t *c = gsd_child(D, name);
                ck_assert_int_eq(gsd_int(c, "pid"), -1);
                json_decref(c);
                free(name);
        }
        stop_leaves_nothing();
}
END_TEST

Suite *sup_spawner_suite(void) {
        Suite *s = suite_create("sup_spawner");
        TCase *tc = tcase_create("sup_spawner");
        tcase_set_timeout(tc, 300);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, crash_at_exec_stopped);
        tcase_add_test(tc, exec_error_reported);
        tcase_add_test(tc, exit_at_exec_counted_once);
        suite_add_tcase(s, tc);
        return s;
}
