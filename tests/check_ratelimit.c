/* check_ratelimit.c: supervisor/ratelimit.c with a clock passed by hand:
 * the burst, the lines held back, their summary once the interval has
 * ended, and when to ask for it. */
#include <check.h>
#include <stdint.h>

#include "ratelimit.h"

Suite *ratelimit_suite(void);

#define SEC 1000000u

START_TEST(test_burst_then_held) {
        sup_ratelimit rl = SUP_RATELIMIT_INIT(5 * SEC, 3);
        uint64_t t = 100 * SEC, at = 0;

        ck_assert(!sup_ratelimit_pending(&rl, &at));
        for (int i = 0; i < 3; i++)
                ck_assert(sup_ratelimit_allow(&rl, t + (uint64_t) i));
        for (int i = 0; i < 1000; i++)
                ck_assert(!sup_ratelimit_allow(&rl, t + 10 + (uint64_t) i));
        /* Nothing to sum up before the interval ends; then all of it, once. */
        ck_assert_uint_eq(sup_ratelimit_take_held(&rl, t + 4 * SEC), 0);
        ck_assert(sup_ratelimit_pending(&rl, &at));
        ck_assert_uint_eq(at, t + 5 * SEC);
        ck_assert_uint_eq(sup_ratelimit_take_held(&rl, at), 1000);
        ck_assert_uint_eq(sup_ratelimit_take_held(&rl, at + SEC), 0);
        ck_assert(!sup_ratelimit_pending(&rl, &at));
        /* A new interval: a new burst. */
        ck_assert(sup_ratelimit_allow(&rl, at + SEC));
}
END_TEST

/* The next line after an interval with lines held back finds them to sum
 * up first, even when no timer asked. */
START_TEST(test_held_found_by_next_line) {
        sup_ratelimit rl = SUP_RATELIMIT_INIT(SEC, 1);
        uint64_t t = 7 * SEC, at = 0;

        ck_assert(sup_ratelimit_allow(&rl, t));
        ck_assert(!sup_ratelimit_allow(&rl, t + 1));
        ck_assert(!sup_ratelimit_allow(&rl, t + 2));
        ck_assert(sup_ratelimit_allow(&rl, t + 3 * SEC));
        ck_assert(sup_ratelimit_pending(&rl, &at));
        ck_assert_uint_eq(at, 0);   /* due now */
        ck_assert_uint_eq(sup_ratelimit_take_held(&rl, t + 3 * SEC), 2);
        ck_assert(!sup_ratelimit_pending(&rl, &at));
}
END_TEST

/* N lines give at most burst lines per interval, and every other line is
 * counted in a summary: none is lost without a trace. */
START_TEST(test_every_line_accounted) {
        sup_ratelimit rl = SUP_RATELIMIT_INIT(SEC, 10);
        uint64_t written = 0, held = 0;

        for (uint64_t i = 0; i < 100000; i++) {
                uint64_t now = SEC + i * 100;   /* 10 s in all */
                held += sup_ratelimit_take_held(&rl, now);
                written += sup_ratelimit_allow(&rl, now);
        }
        held += sup_ratelimit_take_held(&rl, UINT64_MAX);
        ck_assert_uint_le(written, 10 * 11);
        ck_assert_uint_eq(written + held, 100000);
}
END_TEST

Suite *ratelimit_suite(void) {
        Suite *s = suite_create("ratelimit");
        TCase *tc = tcase_create("pure");
        tcase_add_test(tc, test_burst_then_held);
        tcase_add_test(tc, test_held_found_by_next_line);
        tcase_add_test(tc, test_every_line_accounted);
        suite_add_tcase(s, tc);
        return s;
}
