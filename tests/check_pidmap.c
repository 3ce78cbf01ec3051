/* check_pidmap.c: the pid -> child map behind gensupd's READY lookup:
 * every pid found, none invented, removals that keep the rest findable,
 * at the size of a 100,000-child tree. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "pidmap.h"

Suite *pidmap_suite(void);

#define N 100000

/* A distinct value per pid, so that a wrong hit shows. */
static void *val(pid_t pid) {
        return (void *) (uintptr_t) (pid * 2 + 1);
}

START_TEST(put_get_remove) {
        sup_pidmap m = SUP_PIDMAP_INIT;

        ck_assert_ptr_null(sup_pidmap_get(&m, 1));
        ck_assert_int_eq(sup_pidmap_put(&m, 0, val(0)), -EINVAL);
        ck_assert_int_eq(sup_pidmap_put(&m, -5, val(0)), -EINVAL);
        /* Pids as the kernel hands them out: mostly consecutive, some far. */
        for (pid_t p = 1000; p < 1000 + N; p++)
                ck_assert_int_eq(sup_pidmap_put(&m, p, val(p)), 0);
        ck_assert_int_eq(sup_pidmap_put(&m, 4194304, val(4194304)), 0);
        ck_assert_uint_eq(m.n, N + 1);
        for (pid_t p = 1000; p < 1000 + N; p++)
                ck_assert_ptr_eq(sup_pidmap_get(&m, p), val(p));
        ck_assert_ptr_eq(sup_pidmap_get(&m, 4194304), val(4194304));
        ck_assert_ptr_null(sup_pidmap_get(&m, 999));
        ck_assert_ptr_null(sup_pidmap_get(&m, 1000 + N));

        /* A removal that names another owner changes nothing. */
        sup_pidmap_remove(&m, 1000, val(1));
        ck_assert_ptr_eq(sup_pidmap_get(&m, 1000), val(1000));
        /* Every other one goes; the rest stay findable. */
        for (pid_t p = 1000; p < 1000 + N; p += 2)
                sup_pidmap_remove(&m, p, val(p));
        ck_assert_uint_eq(m.n, N / 2 + 1);
        for (pid_t p = 1000; p < 1000 + N; p++)
                ck_assert_ptr_eq(sup_pidmap_get(&m, p), p % 2 ? val(p) : NULL);
        /* A pid reused: its new owner replaces the old. */
        ck_assert_int_eq(sup_pidmap_put(&m, 1001, val(7)), 0);
        ck_assert_ptr_eq(sup_pidmap_get(&m, 1001), val(7));
        ck_assert_uint_eq(m.n, N / 2 + 1);
        sup_pidmap_done(&m);
        ck_assert_ptr_null(sup_pidmap_get(&m, 1001));
        sup_pidmap_done(&m);
}
END_TEST

/* Collisions: pids that share a home slot, removed from the middle of
 * their run, in every order. */
START_TEST(runs_survive_removal) {
        sup_pidmap m = SUP_PIDMAP_INIT;
        pid_t pids[48];

        for (size_t i = 0; i < 48; i++) {
                pids[i] = (pid_t) (i * 64 + 1);   /* 64 slots at first: many collide */
                ck_assert_int_eq(sup_pidmap_put(&m, pids[i], val(pids[i])), 0);
        }
        for (size_t k = 0; k < 48; k++) {
                size_t victim = (k * 7) % 48;
                sup_pidmap_remove(&m, pids[victim], val(pids[victim]));
                for (size_t i = 0; i < 48; i++) {
                        bool gone = false;
                        for (size_t j = 0; j <= k; j++)
                                gone |= (j * 7) % 48 == i;
                        ck_assert_ptr_eq(sup_pidmap_get(&m, pids[i]), gone ? NULL : val(pids[i]));
                }
        }
        ck_assert_uint_eq(m.n, 0);
        sup_pidmap_done(&m);
}
END_TEST

Suite *pidmap_suite(void) {
        Suite *s = suite_create("pidmap");
        TCase *tc = tcase_create("pidmap");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, put_get_remove);
        tcase_add_test(tc, runs_survive_removal);
        suite_add_tcase(s, tc);
        return s;
}
