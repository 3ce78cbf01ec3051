/* check_exit_reason.c: exit reasons from reports and wait statuses. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "exit_reason.h"

Suite *exit_reason_suite(void);

static const char *name(sup_exit_facts f) {
        static gs_buf out = GS_BUF_INIT;
        ck_assert_int_eq(sup_exit_reason(&f, &out), 0);
        return (const char *) out.data;
}

START_TEST(test_plain_programs) {
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_EXITED, .status = 0 }), "normal");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_EXITED, .status = 3 }), "{exit_status,3}");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGSEGV }), "{signal,SIGSEGV}");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_DUMPED, .status = SIGABRT }),
                         "{signal,SIGABRT,core_dumped}");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGKILL }), "{signal,SIGKILL}");
}
END_TEST

START_TEST(test_stopped_by_us) {
        /* Our SIGTERM, or exit 0 after it: the stop we asked for. */
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGTERM, .sent_term = true }),
                         "shutdown");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_EXITED, .status = 0, .sent_term = true }), "shutdown");
        /* Someone else's SIGTERM is just a signal. */
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGTERM }), "{signal,SIGTERM}");
        /* Our SIGKILL at the deadline wins over what the child said. */
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "shutdown", .code = CLD_KILLED, .status = SIGKILL,
                                                 .sent_term = true, .sent_kill = true }),
                         "killed");
}
END_TEST

START_TEST(test_reported) {
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "{shutdown,drained}", .code = CLD_EXITED }),
                         "{shutdown,drained}");
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "disk full", .code = CLD_EXITED, .status = 1 }),
                         "{error,disk full}");
        /* The report is the server's own last word, as OTP's exit reason. */
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "normal", .code = CLD_EXITED }), "normal");
}
END_TEST

START_TEST(test_reason_clean) {
        char *r = sup_reason_clean("{error,disk full}");
        ck_assert_str_eq(r, "{error,disk full}");
        free(r);
        /* A newline would forge a log line; invalid UTF-8 breaks JSON. */
        r = sup_reason_clean("a\nSupervisor: fake\x01\xff\xc3\xa9");
        ck_assert_str_eq(r, "a?Supervisor: fake??\xc3\xa9");
        free(r);
        /* A truncated sequence at the end, an overlong form, a surrogate. */
        r = sup_reason_clean("x\xe2\x82 \xc0\xaf \xed\xa0\x80");
        ck_assert_str_eq(r, "x?? ?? ???");
        free(r);
        /* Cut to SUP_REASON_MAX bytes. */
        char *big = malloc(5000);
        memset(big, 'z', 4999);
        big[4999] = '\0';
        r = sup_reason_clean(big);
        ck_assert_uint_eq(strlen(r), SUP_REASON_MAX);
        free(r);
        free(big);
        /* C1 controls (U+009B, a terminal's CSI) and bidi overrides
         * (U+202E) from a STOP reason neither drive a terminal nor
         * reorder what an operator reads. */
        r = sup_reason_clean("{shutdown,a\xc2\x9b" "31mb\xe2\x80\xae" "c\xe2\x81\xa9}");
        ck_assert_str_eq(r, "{shutdown,a?31mb?c?}");
        free(r);
        /* Multi-line text keeps its lines and tabs. */
        r = sup_text_clean("one\ntwo\tthree\r", 100, true);
        ck_assert_str_eq(r, "one\ntwo\tthree?");
        free(r);
}
END_TEST

START_TEST(test_signal_names) {
        char buf[16];
        ck_assert_str_eq(sup_signal_name(SIGSEGV, buf), "SIGSEGV");
        ck_assert_str_eq(sup_signal_name(SIGRTMIN + 40, buf), "SIG74");
}
END_TEST

Suite *exit_reason_suite(void) {
        Suite *s = suite_create("exit_reason");
        TCase *tc = tcase_create("reasons");
        tcase_add_test(tc, test_plain_programs);
        tcase_add_test(tc, test_stopped_by_us);
        tcase_add_test(tc, test_reported);
        tcase_add_test(tc, test_reason_clean);
        tcase_add_test(tc, test_signal_names);
        suite_add_tcase(s, tc);
        return s;
}
