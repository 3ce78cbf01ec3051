/* check_logring.c: supervisor/logring.c: nothing allocated before the
 * first line, both bounds, order and sequence numbers across wrapping and
 * growing, a resize, and a line's JSON. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "logring.h"

Suite *logring_suite(void);

static void push_n(sup_logring *r, int from, int to) {
        for (int i = from; i <= to; i++) {
                char t[16];
                int n = snprintf(t, sizeof(t), "%d", i);
                (void) sup_logring_push(r, 1000 + (uint64_t) i, 42, SUP_LOG_STDOUT, t, (size_t) n);
        }
}

START_TEST(test_idle_costs_nothing) {
        sup_logring r;
        sup_logring_init(&r, 1000, 256 * 1024);
        ck_assert_ptr_null(r.lines);
        ck_assert_uint_eq(sup_logring_footprint(&r), 0);
        ck_assert_ptr_null(sup_logring_get(&r, 0));
        sup_logring_done(&r);
}
END_TEST

START_TEST(test_lines_bound_and_order) {
        sup_logring r;
        sup_logring_init(&r, 100, 1 << 20);
        push_n(&r, 1, 1000);
        ck_assert_uint_eq(r.n, 100);
        ck_assert_uint_le(r.cap, 100);
        for (size_t i = 0; i < 100; i++) {
                const sup_logline *l = sup_logring_get(&r, i);
                char want[16];
                snprintf(want, sizeof(want), "%zu", 901 + i);
                ck_assert_str_eq(l->text, want);
                ck_assert_uint_eq(l->seq, 901 + i);
                ck_assert_int_eq(l->pid, 42);
        }
        sup_logring_done(&r);
}
END_TEST

START_TEST(test_bytes_bound) {
        sup_logring r;
        sup_logring_init(&r, 1000, 10);
        push_n(&r, 1, 20);   /* "11".."20": two bytes each */
        ck_assert_uint_le(r.bytes, 10);
        ck_assert_uint_eq(r.n, 5);
        ck_assert_str_eq(sup_logring_get(&r, 0)->text, "16");
        /* A line longer than the whole budget is cut to it. */
        const sup_logline *l = sup_logring_push(&r, 1, 1, SUP_LOG_STDERR, "abcdefghijklmnop", 16);
        ck_assert_uint_eq(l->len, 10);
        ck_assert_uint_eq(r.n, 1);
        sup_logring_done(&r);
}
END_TEST

START_TEST(test_resize_and_none) {
        sup_logring r;
        sup_logring_init(&r, 50, 1 << 20);
        push_n(&r, 1, 50);
        sup_logring_resize(&r, 3, 1 << 20);
        ck_assert_uint_eq(r.n, 3);
        ck_assert_str_eq(sup_logring_get(&r, 0)->text, "48");
        push_n(&r, 51, 52);
        ck_assert_str_eq(sup_logring_get(&r, 2)->text, "52");
        sup_logring_resize(&r, 0, 0);
        ck_assert_uint_eq(r.n, 0);
        ck_assert_ptr_null(sup_logring_push(&r, 1, 1, SUP_LOG_STDOUT, "x", 1));
        sup_logring_done(&r);
}
END_TEST

START_TEST(test_json) {
        sup_logring r;
        sup_logring_init(&r, 10, 100);
        const sup_logline *l = sup_logring_push(&r, 1700000000123456u, 7, SUP_LOG_GENSUPD, "started, pid 7", 14);
        json_t *j = sup_logline_json("w", l);
        ck_assert_str_eq(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20.123456Z");
        ck_assert_str_eq(json_string_value(json_object_get(j, "stream")), "gensupd");
        ck_assert_str_eq(json_string_value(json_object_get(j, "line")), "started, pid 7");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")), 7);
        json_decref(j);
        sup_logring_done(&r);
}
END_TEST

Suite *logring_suite(void) {
        Suite *s = suite_create("logring");
        TCase *tc = tcase_create("logring");
        tcase_add_test(tc, test_idle_costs_nothing);
        tcase_add_test(tc, test_lines_bound_and_order);
        tcase_add_test(tc, test_bytes_bound);
        tcase_add_test(tc, test_resize_and_none);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return s;
}
