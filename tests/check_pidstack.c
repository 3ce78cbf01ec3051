/* check_pidstack.c: the reaper's stacks of children by pidfd or not:
 * newest first, stale entries skipped and dropped, bounded by twice the
 * entries that count however many pushes a long life makes. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pidstack.h"

Suite *pidstack_suite(void);

#define MAXPID 200000

/* Which pids still count (a child that still holds, or lacks, a pidfd). */
static bool live[MAXPID];

static bool is_live(pid_t pid, void *userdata) {
        (void) userdata;
        return pid > 0 && pid < MAXPID && live[pid];
}

START_TEST(newest_first_skipping_stale) {
        sup_pidstack st = { .keep = is_live };
        for (pid_t p = 1; p <= 10; p++) {
                live[p] = true;
                ck_assert_int_eq(sup_pidstack_push(&st, p), 0);
        }
        live[10] = live[9] = live[5] = false;
        ck_assert_int_eq(sup_pidstack_pop(&st), 8);
        ck_assert_int_eq(sup_pidstack_pop(&st), 7);
        ck_assert_int_eq(sup_pidstack_pop(&st), 6);
        ck_assert_int_eq(sup_pidstack_pop(&st), 4);
        /* Pushed again: on top. */
        ck_assert_int_eq(sup_pidstack_push(&st, 7), 0);
        ck_assert_int_eq(sup_pidstack_pop(&st), 7);
        ck_assert_int_eq(sup_pidstack_pop(&st), 3);
        ck_assert_int_eq(sup_pidstack_pop(&st), 2);
        ck_assert_int_eq(sup_pidstack_pop(&st), 1);
        ck_assert_int_eq(sup_pidstack_pop(&st), 0);
        ck_assert_int_eq(sup_pidstack_pop(&st), 0);
        sup_pidstack_done(&st);
        for (pid_t p = 1; p <= 10; p++)
                live[p] = false;
}
END_TEST

/* 1,000 children restarted 100 times each (each start pushes a new pid,
 * the old one goes stale): the stack stays within twice the live ones. */
START_TEST(bounded_over_a_long_life) {
        enum { CHILDREN = 1000, RESTARTS = 100 };
        sup_pidstack st = { .keep = is_live };
        pid_t pid[CHILDREN];
        pid_t next = 1;
        for (int i = 0; i < CHILDREN; i++) {
                pid[i] = next++;
                live[pid[i]] = true;
                ck_assert_int_eq(sup_pidstack_push(&st, pid[i]), 0);
        }
        for (int r = 0; r < RESTARTS; r++)
                for (int i = 0; i < CHILDREN; i++) {
                        live[pid[i]] = false;
                        pid[i] = next++;
                        live[pid[i]] = true;
                        ck_assert_int_eq(sup_pidstack_push(&st, pid[i]), 0);
                        ck_assert_uint_le(st.cap, 4 * CHILDREN + 64);
                }
        /* Every live one comes back, newest first, and nothing else. */
        for (int i = CHILDREN - 1; i >= 0; i--)
                ck_assert_int_eq(sup_pidstack_pop(&st), pid[i]);
        ck_assert_int_eq(sup_pidstack_pop(&st), 0);
        sup_pidstack_done(&st);
        for (int i = 0; i < CHILDREN; i++)
                live[pid[i]] = false;
}
END_TEST

Suite *pidstack_suite(void) {
        Suite *s = suite_create("pidstack");
        TCase *tc = tcase_create("pidstack");
        tcase_add_test(tc, newest_first_skipping_stale);
        tcase_add_test(tc, bounded_over_a_long_life);
        suite_add_tcase(s, tc);
        return s;
}
