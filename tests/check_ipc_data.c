/* check_ipc_data.c: the per-message codec of data frames on a
 * socketpair: ipc_conn_queue_data writes the same bytes as
 * ipc_conn_queue, and one view storage serves a loop of frames of every
 * kind without leaking fields from one frame into the next. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

static void pair(ipc_conn **a, ipc_conn **b) {
        int sv[2];

        ck_assert_int_eq(ipc_socketpair(sv), 0);
        ck_assert_int_eq(ipc_conn_new(sv[0], 0, a), 0);
        ck_assert_int_eq(ipc_conn_new(sv[1], 0, b), 0);
}

/* Everything b has, read until the bytes stop coming (the writer has
 * flushed all of it before). */
static size_t drain(ipc_conn *b, uint8_t *out, size_t cap) {
        size_t have = 0;

        while (ipc_conn_wait(b, true, 0) > 0 && ipc_conn_read(b) > 0)
                ;
        const uint8_t *p = ipc_conn_unread(b, &have);
        ck_assert_uint_le(have, cap);
        memcpy(out, p, have);
        return have;
}

static void flush_all(ipc_conn *a) {
        int r;

        while ((r = ipc_conn_flush(a)) == -EAGAIN)
                ck_assert_int_ge(ipc_conn_wait(a, false, 10000), 0);
        ck_assert_int_eq(r, 0);
}

/* Same bytes for kinds, refs and lengths at every varint boundary. */
START_TEST(test_queue_data_same_bytes) {
        static const Gensup__Kind kinds[] = { GENSUP__KIND__CALL, GENSUP__KIND__CAST, GENSUP__KIND__REPLY,
                                              GENSUP__KIND__INFO };
        static const uint64_t refs[] = { 0, 1, 127, 128, 16383, 16384, UINT64_MAX };
        static const size_t lens[] = { 0, 1, 100, 115, 116, 127, 128, 16383, 16384 };
        uint8_t *payload = malloc(16384), *x = malloc(1 << 16), *y = malloc(1 << 16);

        ck_assert_ptr_nonnull(payload);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(y);
        for (size_t i = 0; i < 16384; i++)
                payload[i] = (uint8_t) (i * 7);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
                for (size_t r = 0; r < sizeof(refs) / sizeof(refs[0]); r++)
                        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
                                ipc_conn *a, *b, *c, *d;
                                ipc_frame f;
                                pair(&a, &b);
                                pair(&c, &d);
                                ipc_frame_init(&f, kinds[k], refs[r]);
                                f.payload.data = lens[l] ? payload : NULL;
                                f.payload.len = lens[l];
                                ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
                                ck_assert_int_eq(ipc_conn_queue_data(c, kinds[k], refs[r], f.payload.data, lens[l]), 0);
                                flush_all(a);
                                flush_all(c);
                                size_t nx = drain(b, x, 1 << 16), ny = drain(d, y, 1 << 16);
                                ck_assert_uint_eq(nx, ny);
                                ck_assert_int_eq(memcmp(x, y, nx), 0);
                                ipc_conn_free(a);
                                ipc_conn_free(b);
                                ipc_conn_free(c);
                                ipc_conn_free(d);
                        }
        free(payload);
        free(x);
        free(y);
}
END_TEST

/* Over the limit: -EMSGSIZE, nothing queued. */
START_TEST(test_queue_data_limit) {
        ipc_conn *a, *b;
        uint8_t p[200] = { 0 };

        pair(&a, &b);
        ipc_conn_set_max_frame(a, 100);
        ck_assert_int_eq(ipc_conn_queue_data(a, GENSUP__KIND__CAST, 0, p, sizeof(p)), -EMSGSIZE);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);
        ck_assert_int_eq(ipc_conn_queue_data(a, GENSUP__KIND__CAST, 0, p, 10), 0);
        ck_assert_uint_gt(ipc_conn_pending(a), 0);
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* One storage, many views: data frames mixed with frames that are not
 * views (an ERROR with a reason and code, a HELLO with features); every
 * view has exactly its own kind, ref, payload and nothing else set. */
START_TEST(test_view_storage_reused) {
        ipc_conn *a, *b;
        ipc_frame f, storage;

        pair(&a, &b);
        for (int i = 0; i < 30; i++) {
                if (i % 3 == 1) {
                        ipc_frame_init(&f, GENSUP__KIND__ERROR, (uint64_t) i);
                        f.code = EPERM;
                        f.reason = (char *) "no";
                        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
                } else if (i % 3 == 2) {
                        ipc_frame_init(&f, GENSUP__KIND__HELLO, 0);
                        f.features = GENSUP__FEATURE__FEATURE_MEMFD;
                        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
                } else
                        ck_assert_int_eq(ipc_conn_queue_data(a, i % 2 ? GENSUP__KIND__CAST : GENSUP__KIND__REPLY,
                                                             (uint64_t) i * 1000, i % 4 ? "data" : NULL, i % 4 ? 4 : 0),
                                         0);
        }
        flush_all(a);
        ipc_frame_init(&storage, GENSUP__KIND__KIND_UNSPECIFIED, 0);
        int seen = 0;
        while (seen < 30) {
                ipc_frame *v = NULL;
                int r = ipc_conn_next_view(b, &storage, &v);
                ck_assert_int_ge(r, 0);
                if (r == 0) {
                        ck_assert_int_gt(ipc_conn_wait(b, true, 10000), 0);
                        ck_assert_int_gt(ipc_conn_read(b), 0);
                        continue;
                }
                if (seen % 3 == 0) {
                        ck_assert_ptr_eq(v, &storage);
                        ck_assert_int_eq(v->kind, seen % 2 ? GENSUP__KIND__CAST : GENSUP__KIND__REPLY);
                        ck_assert_uint_eq(v->ref, (uint64_t) seen * 1000);
                        ck_assert_uint_eq(v->payload.len, seen % 4 ? 4 : 0);
                        ck_assert_int_eq(v->code, 0);
                        ck_assert_uint_eq(v->features, 0);
                        ck_assert_uint_eq(v->memfd_len, 0);
                        ck_assert(!v->reason || !*v->reason);
                } else {
                        ck_assert_ptr_ne(v, &storage);
                        ipc_frame_free(v);
                }
                seen++;
        }
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

Suite *ipc_data_suite(void);

Suite *ipc_data_suite(void) {
        Suite *s = suite_create("ipc_data");
        TCase *tc = tcase_create("ipc_data");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_queue_data_same_bytes);
        tcase_add_test(tc, test_queue_data_limit);
        tcase_add_test(tc, test_view_storage_reused);
        suite_add_tcase(s, tc);
        return s;
}
