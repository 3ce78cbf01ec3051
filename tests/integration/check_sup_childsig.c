/* check_sup_childsig.c: a child starts with every signal at its default
 * disposition and none blocked, whatever gensupd ignores (SIGPIPE) or
 * inherited ignored from whoever started it (nohup's SIGHUP, a shell's
 * SIGTTOU, even glibc's own signal 32), at its first start and at a restart (through the spawner
 * thread). gensupd resets only the signals it found not at their default
 * (child_signals.h), so this is what that list must cover. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_childsig_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

/* A "SigXxx:\t<hex mask>" line of /proc/<pid>/status, as a number. */
static unsigned long long sig_mask(pid_t pid, const char *field) {
        char *path = it_strf("/proc/%d/status", (int) pid);
        char *text = it_read_file(path);
        free(path);
        ck_assert_ptr_nonnull(text);
        char *line = strstr(text, field);
        ck_assert_msg(line != NULL, "no %s in /proc/%d/status", field, (int) pid);
        unsigned long long mask = strtoull(line + strlen(field), NULL, 16);
        free(text);
        return mask;
}

static unsigned long long bit(int sig) {
        return 1ull << (sig - 1);
}

static void assert_clean(pid_t pid) {
        ck_assert_msg(sig_mask(pid, "SigIgn:") == 0, "child %d ignores %llx", (int) pid, sig_mask(pid, "SigIgn:"));
        ck_assert_msg(sig_mask(pid, "SigBlk:") == 0, "child %d blocks %llx", (int) pid, sig_mask(pid, "SigBlk:"));
        ck_assert_msg(sig_mask(pid, "SigCgt:") == 0, "child %d catches %llx", (int) pid, sig_mask(pid, "SigCgt:"));
}

/* Signal 32, which glibc keeps for itself (its sigaction() refuses it),
 * ignored with the raw system call, as a caller may hand it over, and
 * put back as it was (restore_raw) once gensupd has it. */
#ifdef __x86_64__
typedef struct raw_action {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long long mask;
} raw_action;
static raw_action saved;

static void ignore_raw(int sig) {
        raw_action ign = { .handler = SIG_IGN };
        ck_assert_int_eq(syscall(SYS_rt_sigaction, sig, &ign, &saved, sizeof(ign.mask)), 0);
}

static void restore_raw(int sig) {
        ck_assert_int_eq(syscall(SYS_rt_sigaction, sig, &saved, NULL, sizeof(saved.mask)), 0);
}
#else
static void ignore_raw(int sig) {
        (void) sig;
}

static void restore_raw(int sig) {
        (void) sig;
}
#endif

START_TEST(child_dispositions_default) {
        /* gensupd inherits these ignored (it_spawn keeps dispositions). */
        signal(SIGHUP, SIG_IGN);
        signal(SIGTTOU, SIG_IGN);
        signal(SIGALRM, SIG_IGN);
        ignore_raw(32);
        char *path = gsd_sleepers_conf("childsig.conf", 1, "s", "");
        int r = gsd_start(path, &D);
        signal(SIGHUP, SIG_DFL);
        signal(SIGTTOU, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        restore_raw(32);
        ck_assert_int_eq(r, 0);
        free(path);

        /* The test means something only if gensupd does ignore them.
         * (SIGHUP it handles itself, by signalfd: blocked there.) */
        unsigned long long ign = sig_mask(D->pid, "SigIgn:");
        ck_assert_msg((ign & (bit(SIGPIPE) | bit(SIGTTOU) | bit(SIGALRM))) ==
                              (bit(SIGPIPE) | bit(SIGTTOU) | bit(SIGALRM)),
                      "gensupd ignores %llx", ign);

        ck_assert_int_eq(gsd_wait_state(D, "s0", "running", 10000), 0);
        pid_t first = gsd_pid(D, "s0");
        ck_assert_int_gt(first, 0);
        assert_clean(first);

        /* A restart goes through the spawner thread (after the boot). */
        ck_assert_int_eq(kill(first, SIGKILL), 0);
        pid_t second = gsd_wait_new_pid(D, "s0", first, 10000);
        ck_assert_int_gt(second, 0);
        ck_assert_int_eq(gsd_wait_state(D, "s0", "running", 10000), 0);
        assert_clean(second);
}
END_TEST

Suite *sup_childsig_suite(void) {
        Suite *s = suite_create("sup_childsig");
        TCase *tc = tcase_create("childsig");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, child_dispositions_default);
        suite_add_tcase(s, tc);
        return s;
}
