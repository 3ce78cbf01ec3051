/* check_sup_spawn.c: what a child is given: its user and groups, working
 * directory, environment, rlimits, stdin from /dev/null, its output named
 * in gensupd's log, exactly its fds, and death with gensupd even when it
 * runs as another user. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_spawn_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

START_TEST(child_environment) {
        if (geteuid() != 0) {
                fprintf(stderr, "sup_spawn: not root, user switching not tested\n");
                return;
        }
        char *conf = gsd_write_file(
                "spawn.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"env\"; ready = \"exec\"; user = \"nobody\"; working_directory = \"/tmp\";\n"
                "    environment = [\"FOO=bar baz\", \"GENSUP_NAME=forged\"]; rlimits = { fsize = 1048576; };\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo uid=$(id -u) pwd=$(pwd) foo=$FOO name=$GENSUP_NAME "
                "fsize=$(ulimit -f) stdin=$(readlink /proc/self/fd/0) fds=$(ls /proc/self/fd | tr '\\\\n' ' '); "
                "exec sleep 1000\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_log(D, "env stdout: uid=", IT_WAIT_MS), 0);
        char *log = gsd_log_text(D);
        char *line = strstr(log, "env stdout: uid=");
        ck_assert_ptr_nonnull(line);
        *strchrnul(line, '\n') = '\0';
        ck_assert_msg(strstr(line, "uid=65534 "), "%s", line);
        ck_assert_msg(strstr(line, "pwd=/tmp "), "%s", line);
        ck_assert_msg(strstr(line, "foo=bar baz "), "%s", line);
        /* What gensupd sets is not the spec's to override. */
        ck_assert_msg(strstr(line, "name=env "), "%s", line);
        /* 1 MiB in sh's 512-byte blocks. (Not RLIMIT_NOFILE: valgrind,
         * under make valgrind-check, keeps fds of its own up there.) */
        ck_assert_msg(strstr(line, "fsize=2048 "), "%s", line);
        ck_assert_msg(strstr(line, "stdin=/dev/null "), "%s", line);
        /* 0, 1, 2, the control socket (3), and the fd ls itself opens. */
        const char *fds = strstr(line, "fds=");
        ck_assert_msg(fds && strcmp(fds, "fds=0 1 2 3 4") == 0, "%s", line);
        free(log);

        /* It dies with gensupd although it runs as another user (the death
         * signal is set after the credentials change). */
        pid_t child = gsd_pid(D, "env");
        ck_assert_int_gt(child, 0);
        gsd_signal(D, SIGKILL);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        for (int i = 0; i < IT_WAIT_MS / 10 && gsd_pid_alive(child); i++)
                usleep(10000);
        ck_assert_msg(!gsd_pid_alive(child), "pid %d outlived gensupd", (int) child);
}
END_TEST

Suite *sup_spawn_suite(void) {
        Suite *s = suite_create("sup_spawn");
        TCase *tc = tcase_create("spawn");
        tcase_set_timeout(tc, 30);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, child_environment);
        suite_add_tcase(s, tc);
        return s;
}
