/* check_sup_robust.c: nothing a child does brings gensupd down: garbage
 * or an oversized frame on its control socket, closing it, a frame that
 * makes no sense at that moment, forking and leaving the fork behind,
 * exiting in the middle of a shutdown. gensupd keeps answering and
 * stops cleanly afterwards. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sup.h"

Suite *sup_robust_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

/* A plain program that writes bytes to its control fd, then lives on. */
#define SH_CHILD(name, script) \
        "{ name = \"" name "\"; ready = \"exec\"; shutdown = 2000; exec = [\"/bin/sh\", \"-c\", \"" script "\"]; }"

START_TEST(bad_children) {
        char *conf = gsd_write_file(
                "robust.conf",
                "supervisor = { name = \"root\"; intensity = 50; period = 5; children = (\n"
                /* garbage bytes that are no frame */
                SH_CHILD("garbage", "printf 'not a frame at all' >&$GENSUP_CONTROL_FD; exec sleep 1000") ",\n"
                /* a length prefix of about 2^63 */
                SH_CHILD("huge", "printf '\\\\377\\\\377\\\\377\\\\377\\\\377\\\\377\\\\377\\\\377\\\\177' >&$GENSUP_CONTROL_FD; exec sleep 1000") ",\n"
                /* closes its control socket at once */
                SH_CHILD("closer", "exec 3>&- 4>&-; exec sleep 1000") ",\n"
                /* a READY frame (kind 8, no fields) long after it was ready,
                 * and an INIT_FAILED (kind 9) too */
                SH_CHILD("late", "sleep 0.2; printf '\\\\002\\\\010\\\\010\\\\002\\\\010\\\\011' >&$GENSUP_CONTROL_FD; exec sleep 1000") ",\n"
                /* leaves a fork behind in its process group */
                SH_CHILD("forker", "sleep 1000 & exec sleep 1000") "\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        const char *names[] = { "garbage", "huge", "closer", "late", "forker" };
        for (size_t i = 0; i < 5; i++)
                ck_assert_int_eq(gsd_wait_state(D, names[i], "running", IT_WAIT_MS), 0);
        /* Give the late frames time to arrive, then check gensupd is fine
         * and nobody was restarted for it. */
        ck_assert_int_eq(gsd_wait_log(D, "bad frame", IT_WAIT_MS), 0);
        for (size_t i = 0; i < 5; i++) {
                json_t *c = gsd_child(D, names[i]);
                ck_assert_ptr_nonnull(c);
                ck_assert_str_eq(gsd_str(c, "state"), "running");
                ck_assert_int_eq(gsd_int(c, "restarts"), 0);
                json_decref(c);
        }

        /* The fork of "forker" goes with its group when forker dies. */
        pid_t forker = gsd_pid(D, "forker");
        kill(forker, SIGKILL);
        ck_assert_int_gt(gsd_wait_new_pid(D, "forker", forker, IT_WAIT_MS), 0);

        /* An orderly stop still works: SIGTERM for these plain programs. */
        int status;
        ck_assert_int_eq(gsd_ctl(D, "stop", NULL, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gensupd exit status %d", status);
}
END_TEST

/* A child that dies on its own while gensupd is stopping it, and one that
 * ignores SIGTERM: the stop goes on and ends. Each says it is ready only
 * once its trap is set (ready = "notify"): a SIGTERM before would find
 * the shell's default action. */
START_TEST(exit_during_shutdown) {
        if (!gsd_can_notify()) {
                fprintf(stderr, "sup_robust: cannot notify for a shell here, exit_during_shutdown not run\n");
                return;
        }
        char *conf = gsd_write_file(
                "robust.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"stubborn\"; ready = \"notify\"; shutdown = 300;"
                "    exec = [\"/bin/sh\", \"-c\", \"trap '' TERM; " GSD_NOTIFY_READY "; while :; do sleep 0.05; done\"]; },\n"
                "  { name = \"quitter\"; ready = \"notify\"; shutdown = 5000;"
                "    exec = [\"/bin/sh\", \"-c\", \"trap 'exit 7' TERM; " GSD_NOTIFY_READY "; while :; do sleep 0.05; done\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "quitter", "running", IT_WAIT_MS), 0);
        pid_t stubborn = gsd_pid(D, "stubborn");
        gsd_signal(D, SIGTERM);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gensupd exit status %d", status);
        ck_assert(!gsd_pid_alive(stubborn));
        char *log = gsd_log_text(D);
        ck_assert_msg(strstr(log, "Context: shutdown_error. Reason: {exit_status,7}. Offender: id=quitter"), "%s", log);
        ck_assert_msg(strstr(log, "Context: shutdown_error. Reason: killed. Offender: id=stubborn"), "%s", log);
        free(log);
}
END_TEST

Suite *sup_robust_suite(void) {
        Suite *s = suite_create("sup_robust");
        TCase *tc = tcase_create("robust");
        tcase_set_timeout(tc, 30);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, bad_children);
        tcase_add_test(tc, exit_during_shutdown);
        suite_add_tcase(s, tc);
        return s;
}
