/* check_ops.c: what an operator does every day, through the real gensupd
 * and gensupctl: a child's last lines (`logs`, -n, -f across restarts,
 * --json), log_dir files rotated by size, `restart NAME`, NAME alone
 * where SUP NAME is taken, `stop --wait`, the exit codes of `status`
 * and `is-ready`, and what a start_timeout and a start_error say. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *ops_suite(void);

static gsd *D;
static pid_t follower;

static void teardown(void) {
        if (follower > 0)
                it_kill(follower);
        follower = 0;
        D = gsd_free(D);
}

/* ---- running gensupctl ---- */

/* Starts gensupctl -s <control> ARGS... with stdout to out_path (NULL:
 * /dev/null); returns its pid. */
static pid_t ctl_spawn(const char *const *args, const char *out_path) {
        char *argv[16];
        size_t n = 0;
        argv[n++] = it_strf("%s/bin/gensupctl", GS_BUILD_DIR);
        argv[n++] = (char *) "-s";
        argv[n++] = D->control;
        for (size_t i = 0; args[i] && n < 15; i++)
                argv[n++] = (char *) args[i];
        argv[n] = NULL;
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        free(argv[0]);
        return pid;
}

/* gensupctl ARGS... to its end: its exit code, its stdout in *ret_out
 * (caller frees; may be NULL). */
static int ctl_run(const char *const *args, char **ret_out) {
        char *out = it_path("ctl.out");
        pid_t pid = ctl_spawn(args, out);
        int status;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        if (ret_out)
                *ret_out = it_read_file(out);
        free(out);
        ck_assert_msg(WIFEXITED(status), "gensupctl did not exit");
        return WEXITSTATUS(status);
}

/* The JSON Lines of `gensupctl --json logs NAME [more]`, as one array. */
static json_t *logs_json(const char *name, const char *n) {
        char *out = NULL;
        const char *args[] = { "--json", "logs", name, n ? "-n" : NULL, n, NULL };
        ck_assert_int_eq(ctl_run(args, &out), 0);
        json_t *all = json_array();
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                json_t *j = json_loads(line, 0, NULL);
                ck_assert_msg(j != NULL, "not a JSON line: %s", line);
                json_array_append_new(all, j);
        }
        free(out);
        return all;
}

/* Waits until `logs NAME` has a line whose text is text; returns that
 * line (a new reference). */
static json_t *wait_log_line(const char *name, const char *text) {
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                json_t *all = logs_json(name, NULL);
                size_t i;
                json_t *l;
                json_array_foreach(all, i, l) {
                        if (strcmp(gsd_str(l, "line"), text) == 0) {
                                json_incref(l);
                                json_decref(all);
                                return l;
                        }
                }
                json_decref(all);
                ck_assert_msg(it_now_ms() < deadline, "no line '%s' in logs %s", text, name);
                it_nap_ms(20);
        }
}

static void start(const char *children) {
        char *conf = gsd_write_file("ops.conf",
                                    "supervisor = { name = \"root\"; intensity = 20; period = 5; children = (\n%s\n); };\n",
                                    children);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
}

/* ---- logs ---- */

/* Each line with its time, stream and pid; -n; the start mark. */
START_TEST(logs_lines) {
        start("{ name = \"two\"; ready = \"exec\";\n"
              "  exec = [\"/bin/sh\", \"-c\", \"echo to-out; echo to-err >&2; echo last; exec sleep 1000\"]; }");
        ck_assert_int_eq(gsd_wait_state(D, "two", "running", IT_WAIT_MS), 0);
        pid_t pid = gsd_pid(D, "two");
        json_t *last = wait_log_line("two", "last");
        json_decref(last);

        json_t *all = logs_json("two", NULL);
        ck_assert_uint_eq(json_array_size(all), 4);
        json_t *mark = json_array_get(all, 0);
        ck_assert_str_eq(gsd_str(mark, "stream"), "gensupd");
        ck_assert_str_eq(gsd_str(mark, "line"), it_strf("started, pid %d", (int) pid));
        json_t *err = NULL, *out = NULL;
        for (size_t i = 1; i < 4; i++) {
                json_t *l = json_array_get(all, i);
                ck_assert_int_eq(gsd_int(l, "pid"), pid);
                ck_assert_int_gt(gsd_int(l, "time_us"), 0);
                ck_assert_str_eq(gsd_str(l, "name"), "two");
                if (strcmp(gsd_str(l, "line"), "to-err") == 0)
                        err = l;
                if (strcmp(gsd_str(l, "line"), "to-out") == 0)
                        out = l;
        }
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(gsd_str(err, "stream"), "stderr");
        ck_assert_str_eq(gsd_str(out, "stream"), "stdout");
        /* stdout and stderr are two pipes: their lines may come in
         * either order, but -n 1 is the last that came. */
        json_t *newest = json_array_get(all, 3);
        char *want = it_strf("Z %s[%d]: %s\n", gsd_str(newest, "stream"), (int) pid, gsd_str(newest, "line"));
        json_t *one = logs_json("two", "1");
        ck_assert_uint_eq(json_array_size(one), 1);
        ck_assert_str_eq(gsd_str(json_array_get(one, 0), "line"), gsd_str(newest, "line"));
        json_decref(one);
        json_decref(all);

        /* For people: "TIME STREAM[PID]: text". */
        char *text = NULL;
        ck_assert_int_eq(ctl_run((const char *[]) { "logs", "two", "-n", "1", NULL }, &text), 0);
        ck_assert_msg(strstr(text, want), "logs -n 1 printed: %s", text);
        free(want);
        free(text);
        ck_assert_int_eq(ctl_run((const char *[]) { "logs", "nosuch", NULL }, NULL), 1);
        D = gsd_finish(D);
}
END_TEST

/* The ring keeps the last log_ring.lines lines, in order. */
START_TEST(logs_ring_bounded) {
        start("{ name = \"many\"; ready = \"exec\"; log_ring = { lines = 5; };\n"
              "  exec = [\"/bin/sh\", \"-c\", \"seq 1 40; exec sleep 1000\"]; }");
        json_t *l = wait_log_line("many", "40");
        json_decref(l);
        json_t *all = logs_json("many", NULL);
        ck_assert_uint_eq(json_array_size(all), 5);
        for (size_t i = 0; i < 5; i++) {
                char want[8];
                snprintf(want, sizeof(want), "%zu", 36 + i);
                ck_assert_str_eq(gsd_str(json_array_get(all, i), "line"), want);
        }
        json_decref(all);
        D = gsd_finish(D);
}
END_TEST

/* logs -f goes on across a restart, which it marks. */
START_TEST(logs_follow_restart) {
        start("{ name = \"crashy\"; ready = \"exec\";\n"
              "  exec = [\"/bin/sh\", \"-c\", \"echo up $$; exec sleep 1000\"]; }");
        ck_assert_int_eq(gsd_wait_state(D, "crashy", "running", IT_WAIT_MS), 0);
        pid_t old = gsd_pid(D, "crashy");
        char *up = it_strf("up %d", (int) old);
        json_decref(wait_log_line("crashy", up));
        free(up);

        char *out = it_path("follow.out");
        follower = ctl_spawn((const char *[]) { "logs", "crashy", "-f", NULL }, out);
        ck_assert_int_eq(it_wait_file_contains(out, it_strf("]: up %d\n", (int) old), IT_WAIT_MS), 0);
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        pid_t again = gsd_wait_new_pid(D, "crashy", old, IT_WAIT_MS);
        ck_assert_int_gt(again, 0);
        ck_assert_int_eq(it_wait_file_contains(out, it_strf("stdout[%d]: up %d\n", (int) again, (int) again),
                                               IT_WAIT_MS),
                         0);
        char *text = it_read_file(out);
        char *exited = strstr(text, "-- exited, reason {signal,SIGKILL} --");
        char *started = strstr(text, it_strf("-- started, pid %d --", (int) again));
        ck_assert_msg(exited && started && exited < started, "no restart marked in: %s", text);
        free(text);
        free(out);
        D = gsd_finish(D);
}
END_TEST

/* ---- log_dir ---- */

static off_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : -1;
}

/* One file per child, stamped lines, rotated by size keeping keep old. */
START_TEST(log_dir_rotates) {
        char *dir = it_path("logs");
        char *conf = gsd_write_file(
                "logdir.conf",
                "log_dir = \"%s\"; log_rotate = { size = 4096; keep = 2; };\n"
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"writer\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"seq 1 1000; exec sleep 1000\"]; }\n"
                "); };\n",
                dir);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        char *cur = it_strf("%s/writer.log", dir);
        ck_assert_int_eq(it_wait_file_contains(cur, "]: 1000\n", IT_WAIT_MS), 0);
        pid_t pid = gsd_pid(D, "writer");
        char *text = it_read_file(cur);
        ck_assert_msg(strstr(text, it_strf("Z stdout[%d]: 1000\n", (int) pid)), "writer.log: %s", text);
        ck_assert_msg(text[4] == '-' && text[10] == 'T', "not stamped: %s", text);
        free(text);
        ck_assert_int_le(file_size(cur), 4096);
        for (int k = 1; k <= 2; k++) {
                char *old = it_strf("%s.%d", cur, k);
                off_t size = file_size(old);
                ck_assert_msg(size > 0 && size <= 4096, "%s: size %lld", old, (long long) size);
                free(old);
        }
        char *gone = it_strf("%s.3", cur);
        ck_assert_int_eq(file_size(gone), -1);
        /* Not to stderr as well. */
        ck_assert_uint_eq(gsd_log_count(D, "writer stdout:"), 0);
        free(gone);
        free(cur);
        free(dir);
        D = gsd_finish(D);
}
END_TEST

/* A log_dir that cannot be written (its place is a file) loses lines,
 * never supervision: the child restarts, status answers, logs has them. */
START_TEST(log_dir_unwritable) {
        char *blocker = gsd_write_file("blocker", "a file where a folder should be\n");
        char *conf = gsd_write_file(
                "bad.conf",
                "log_dir = \"%s/logs\";\n"
                "supervisor = { name = \"root\"; intensity = 10; children = (\n"
                "  { name = \"w\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"echo hi $$; exec sleep 1000\"]; }\n"
                "); };\n",
                blocker);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t old = gsd_pid(D, "w");
        json_decref(wait_log_line("w", it_strf("hi %d", (int) old)));
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        pid_t again = gsd_wait_new_pid(D, "w", old, IT_WAIT_MS);
        ck_assert_int_gt(again, 0);
        json_decref(wait_log_line("w", it_strf("hi %d", (int) again)));
        free(blocker);
        D = gsd_finish(D);
}
END_TEST

/* ---- one step ---- */

static const char *const sleeper = "{ name = \"%s\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }";

/* restart NAME: a running child gets a new process; a terminated one is
 * started. The OTP-shaped forms still work; NAME alone works for each. */
START_TEST(restart_any_child) {
        char *a = it_strf(sleeper, "a");
        char *sub = it_strf("{ name = \"sub\"; type = \"supervisor\"; children = ( %s ); }", a);
        free(a);
        start(sub);
        free(sub);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);
        pid_t p1 = gsd_pid(D, "a");
        ck_assert_int_eq(ctl_run((const char *[]) { "restart", "a", NULL }, NULL), 0);
        pid_t p2 = gsd_pid(D, "a");
        ck_assert_int_gt(p2, 0);
        ck_assert_int_ne(p2, p1);

        ck_assert_int_eq(ctl_run((const char *[]) { "terminate-child", "a", NULL }, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "a", "stopped", IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "restart", "sub", "a", NULL }, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);

        ck_assert_int_eq(ctl_run((const char *[]) { "terminate-child", "sub", "a", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "restart-child", "a", NULL }, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);
        char *spec = NULL;
        ck_assert_int_eq(ctl_run((const char *[]) { "--json", "get-childspec", "a", NULL }, &spec), 0);
        ck_assert_msg(strstr(spec, "\"name\":\"a\"") || strstr(spec, "\"name\": \"a\""), "spec: %s", spec);
        free(spec);
        ck_assert_int_eq(ctl_run((const char *[]) { "terminate-child", "a", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "delete-child", "a", NULL }, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "a", NULL, IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "restart", "a", NULL }, NULL), 1);
        D = gsd_finish(D);
}
END_TEST

/* status and is-ready: 0 when all that should run runs, 3 when a child
 * waits to be restarted or was asked about and does not run. */
START_TEST(exit_codes) {
        char *a = it_strf(sleeper, "a");
        char *kids = it_strf("%s,\n{ name = \"slow\"; ready = \"exec\"; backoff = { initial = 600000; max = 600000; };\n"
                             "  exec = [\"/bin/sleep\", \"1000\"]; }",
                             a);
        start(kids);
        free(a);
        free(kids);
        ck_assert_int_eq(gsd_wait_state(D, "slow", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "status", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", "a", NULL }, NULL), 0);

        ck_assert_int_eq(ctl_run((const char *[]) { "terminate-child", "a", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "status", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", NULL }, NULL), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", "a", NULL }, NULL), 3);
        /* Terminated on request: not meant to run. */
        ck_assert_int_eq(ctl_run((const char *[]) { "status", "a", NULL }, NULL), 0);

        ck_assert_int_eq(kill(gsd_pid(D, "slow"), SIGKILL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "slow", "restarting", IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "status", NULL }, NULL), 3);
        ck_assert_int_eq(ctl_run((const char *[]) { "status", "slow", NULL }, NULL), 3);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", NULL }, NULL), 3);
        ck_assert_int_eq(ctl_run((const char *[]) { "is-ready", "nosuch", NULL }, NULL), 1);
        D = gsd_finish(D);
}
END_TEST

/* stop --wait returns once gensupd has exited, with its exit status. */
START_TEST(stop_wait) {
        char *a = it_strf(sleeper, "a");
        start(a);
        free(a);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl_run((const char *[]) { "stop", "--wait", NULL }, NULL), 0);
        /* Gone already: a zombie waiting for us, its parent. */
        ck_assert(!gsd_pid_alive(D->pid));
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        D = gsd_finish(D);
}
END_TEST

/* A plain program on the default ready = "notify": the start_timeout
 * line says how long it waited and what the program wants. */
START_TEST(start_timeout_hint) {
        start("{ name = \"plain\"; start_timeout = 200; exec = [\"/bin/sleep\", \"1000\"]; }");
        ck_assert_int_eq(gsd_wait_log(D, "plain: not ready after 200 ms (start_timeout)", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "wants ready = \"exec\"", IT_WAIT_MS), 0);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        D = gsd_finish(D);
}
END_TEST

/* A start that started no process reports pid undefined. */
START_TEST(start_error_pid_undefined) {
        start("{ name = \"nowhere\"; ready = \"exec\"; working_directory = \"/nonexistent-gensup-dir\";\n"
              "  exec = [\"/bin/sleep\", \"1000\"]; }");
        ck_assert_int_eq(gsd_wait_log(D, "Context: start_error.", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "Offender: id=nowhere,pid=undefined,", IT_WAIT_MS), 0);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        D = gsd_finish(D);
}
END_TEST

Suite *ops_suite(void) {
        Suite *s = suite_create("ops");
        TCase *tc = tcase_create("ops");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, logs_lines);
        tcase_add_test(tc, logs_ring_bounded);
        tcase_add_test(tc, logs_follow_restart);
        tcase_add_test(tc, log_dir_rotates);
        tcase_add_test(tc, log_dir_unwritable);
        tcase_add_test(tc, restart_any_child);
        tcase_add_test(tc, exit_codes);
        tcase_add_test(tc, stop_wait);
        tcase_add_test(tc, start_timeout_hint);
        tcase_add_test(tc, start_error_pid_undefined);
        suite_add_tcase(s, tc);
        return s;
}
