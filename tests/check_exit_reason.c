/* check_exit_reason.c: exit reasons from reports and wait statuses. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "exit_reason.h"

Suite *exit_reason_suite(void);

static const char *name(sup_exit_facts f) {
        static char *text;
        sup_reason r;

        ck_assert_int_eq(sup_exit_reason(&f, &r), 0);
        free(text);
        text = sup_reason_to_string(&r);
        sup_reason_done(&r);
        ck_assert_ptr_nonnull(text);
        return text;
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

/* The OOM killer's SIGKILL, seen in the cgroup's memory.events. */
START_TEST(test_oom_kill) {
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGKILL, .oom_killed = true }),
                         "{signal,SIGKILL,oom_kill}");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGKILL }), "{signal,SIGKILL}");
        /* Ours still wins; another death is its own. */
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_KILLED, .status = SIGKILL, .sent_kill = true,
                                                 .oom_killed = true }),
                         "killed");
        ck_assert_str_eq(name((sup_exit_facts) { .code = CLD_EXITED, .status = 1, .oom_killed = true }),
                         "{exit_status,1}");
}
END_TEST

START_TEST(test_reported) {
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "{shutdown,drained}", .code = CLD_EXITED }),
                         "{shutdown,drained}");
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "disk full", .code = CLD_EXITED, .status = 1 }),
                         "{error,disk full}");
        /* The report is the server's own last word, as OTP's exit reason. */
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "normal", .code = CLD_EXITED }), "normal");
        /* A server cannot claim what only gensupd can see. */
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "killed", .code = CLD_EXITED, .status = 1 }),
                         "{error,killed}");
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "{exit_status,0}", .code = CLD_EXITED, .status = 1 }),
                         "{error,{exit_status,0}}");
        /* proc.c's wrapping of an INIT_FAILED frame stays as it is. */
        ck_assert_str_eq(name((sup_exit_facts) { .reported = "{init_failed,no db}", .code = CLD_EXITED, .status = 1 }),
                         "{init_failed,no db}");
}
END_TEST

/* Every spelling DESIGN.md gives parses to its kind and back. */
START_TEST(test_parse_round_trip) {
        static const struct {
                const char *text;
                ipc_reason_kind kind;
        } cases[] = {
                { "normal", IPC_REASON_NORMAL },
                { "shutdown", IPC_REASON_SHUTDOWN },
                { "{shutdown,drained}", IPC_REASON_SHUTDOWN_TEXT },
                { "{shutdown,{failed_to_start_child,db,{init_failed,x}}}", IPC_REASON_SHUTDOWN_TEXT },
                { "{shutdown,}", IPC_REASON_SHUTDOWN_TEXT },
                { "{error,disk full}", IPC_REASON_ERROR },
                { "killed", IPC_REASON_KILLED },
                { "{exit_status,3}", IPC_REASON_EXIT_STATUS },
                { "{signal,SIGSEGV}", IPC_REASON_SIGNAL },
                { "{signal,SIGABRT,core_dumped}", IPC_REASON_SIGNAL },
                { "{signal,SIG74}", IPC_REASON_SIGNAL },
                { "{init_failed,no db}", IPC_REASON_INIT_FAILED },
                { "start_timeout", IPC_REASON_START_TIMEOUT },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sup_reason r;
                ck_assert_int_eq(sup_reason_parse(cases[i].text, &r), 0);
                ck_assert_int_eq(r.kind, cases[i].kind);
                char *text = sup_reason_to_string(&r);
                ck_assert_str_eq(text, cases[i].text);
                free(text);
                sup_reason_done(&r);
        }
        sup_reason r;
        ck_assert_int_eq(sup_reason_parse("{signal,SIGABRT,core_dumped}", &r), 0);
        ck_assert_int_eq(r.code, SIGABRT);
        ck_assert(r.core_dumped);
        ck_assert_int_eq(sup_reason_parse("{exit_status,42}", &r), 0);
        ck_assert_int_eq(r.code, 42);
}
END_TEST

/* Text that is no reason; and the one "clean" rule, as libgensup's
 * public gs_reason_is_clean() sees it too. */
START_TEST(test_parse_refuses) {
        static const char *const bad[] = {
                "", "{shutdown,x", "{shutdownx}", "shutdown2", "{exit_status,}", "{exit_status,x}",
                "{signal,SIGNOPE}", "{signal,}", "{error,", "Normal", "{killed}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                sup_reason r;
                ck_assert_msg(sup_reason_parse(bad[i], &r) == -EINVAL, "parsed %s", bad[i]);
                ck_assert_msg(!gs_reason_is_clean(bad[i]), "clean: %s", bad[i]);
        }
        ck_assert_int_eq(sup_reason_parse(NULL, &(sup_reason) { 0 }), -EINVAL);
        ck_assert(!gs_reason_is_clean(NULL));
        ck_assert(gs_reason_is_clean("normal"));
        ck_assert(gs_reason_is_clean("shutdown"));
        ck_assert(gs_reason_is_clean("{shutdown,{a,b}}"));
        ck_assert(!gs_reason_is_clean("{error,normal}"));
        ck_assert(!gs_reason_is_clean("killed"));
        /* Only the kinds: every other one is not clean. */
        for (int k = 0; k < _IPC_REASON_KIND_MAX; k++)
                ck_assert_int_eq(ipc_reason_kind_is_clean((ipc_reason_kind) k),
                                 k == IPC_REASON_NORMAL || k == IPC_REASON_SHUTDOWN || k == IPC_REASON_SHUTDOWN_TEXT);
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
        tcase_add_test(tc, test_oom_kill);
        tcase_add_test(tc, test_reported);
        tcase_add_test(tc, test_parse_round_trip);
        tcase_add_test(tc, test_parse_refuses);
        tcase_add_test(tc, test_reason_clean);
        tcase_add_test(tc, test_signal_names);
        suite_add_tcase(s, tc);
        return s;
}
