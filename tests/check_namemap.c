/* check_namemap.c: the name -> child map behind gensupd's lookups by name
 * and its checks that a new name is free: every name found, none
 * invented, a name borne twice, removals that keep the rest findable, at
 * the size of a 100,000-child tree. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "namemap.h"

Suite *namemap_suite(void);

#define N 100000

static char (*names)[16];

static void make_names(void) {
        names = calloc(N, sizeof(*names));
        ck_assert_ptr_nonnull(names);
        for (int i = 0; i < N; i++)
                snprintf(names[i], sizeof(names[i]), "conn-%d", i + 1);
}

START_TEST(every_name_found) {
        sup_namemap m = SUP_NAMEMAP_INIT;
        make_names();
        ck_assert_ptr_null(sup_namemap_get(&m, "conn-1"));
        ck_assert_int_eq(sup_namemap_add(&m, NULL, names), -EINVAL);
        for (int i = 0; i < N; i++)
                ck_assert_int_eq(sup_namemap_add(&m, names[i], names[i]), 0);
        ck_assert_uint_eq(m.n, N);
        for (int i = 0; i < N; i++)
                ck_assert_ptr_eq(sup_namemap_get(&m, names[i]), names[i]);
        /* A key equal in text, not in address, finds it too. */
        char probe[16];
        snprintf(probe, sizeof(probe), "conn-%d", 777);
        ck_assert_ptr_eq(sup_namemap_get(&m, probe), names[776]);
        ck_assert_ptr_null(sup_namemap_get(&m, "conn-0"));
        ck_assert_ptr_null(sup_namemap_get(&m, "conn-100001"));
        sup_namemap_done(&m);
        ck_assert_uint_eq(m.n, 0);
        free(names);
}
END_TEST

START_TEST(removals_keep_the_rest) {
        sup_namemap m = SUP_NAMEMAP_INIT;
        make_names();
        for (int i = 0; i < N; i++)
                ck_assert_int_eq(sup_namemap_add(&m, names[i], names[i]), 0);
        /* Removing with the wrong value removes nothing. */
        sup_namemap_remove(&m, names[0], names[1]);
        ck_assert_ptr_eq(sup_namemap_get(&m, names[0]), names[0]);
        for (int i = 0; i < N; i += 2)
                sup_namemap_remove(&m, names[i], names[i]);
        ck_assert_uint_eq(m.n, N / 2);
        for (int i = 0; i < N; i++)
                ck_assert_ptr_eq(sup_namemap_get(&m, names[i]), i % 2 ? names[i] : NULL);
        sup_namemap_done(&m);
        free(names);
}
END_TEST

static bool is_b(const void *value, const void *userdata) {
        return value == userdata;
}

START_TEST(one_name_twice) {
        sup_namemap m = SUP_NAMEMAP_INIT;
        static char a[] = "worker", b[] = "worker";
        ck_assert_int_eq(sup_namemap_add(&m, a, a), 0);
        ck_assert_int_eq(sup_namemap_add(&m, b, b), 0);
        ck_assert_ptr_nonnull(sup_namemap_get(&m, "worker"));
        ck_assert_ptr_eq(sup_namemap_get_where(&m, "worker", is_b, b), b);
        sup_namemap_remove(&m, a, a);
        ck_assert_ptr_eq(sup_namemap_get(&m, "worker"), b);
        sup_namemap_remove(&m, b, b);
        ck_assert_ptr_null(sup_namemap_get(&m, "worker"));
        ck_assert_uint_eq(m.n, 0);
        sup_namemap_done(&m);
}
END_TEST

Suite *namemap_suite(void) {
        Suite *s = suite_create("namemap");
        TCase *tc = tcase_create("namemap");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, every_name_found);
        tcase_add_test(tc, removals_keep_the_rest);
        tcase_add_test(tc, one_name_twice);
        suite_add_tcase(s, tc);
        return s;
}
