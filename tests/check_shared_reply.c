/* check_shared_reply.c: a CTL_REPLY written from a text shared by its
 * recipients (supervisor/shared_reply.c) over ipc_conn_queue_borrowed
 * (ipc/conn.c). The frame's hand-made first bytes are what protobuf-c
 * packs; the text goes out whole and in order however the socket takes
 * it; the text lives until the last recipient has written it or is
 * gone (ASan and valgrind see the rest). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipc.h"
#include "shared_reply.h"

Suite *shared_reply_suite(void);

/* ---- the frame's first bytes ---- */

START_TEST(test_head_is_what_protobuf_c_packs) {
        static const uint64_t refs[] = { 0, 1, 127, 128, 300, 1ull << 32, UINT64_MAX };
        static const size_t lens[] = { 1, 2, 100, 117, 118, 127, 128, 16370, 16383, 16384, 70000, 2097151, 2097152 };
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
                for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
                        char *json = malloc(lens[k] + 1);
                        ck_assert_ptr_nonnull(json);
                        memset(json, 'x', lens[k]);
                        json[lens[k]] = '\0';
                        Gensup__CtlReply cr = GENSUP__CTL_REPLY__INIT;
                        ipc_frame f;
                        ipc_frame_init(&f, GENSUP__KIND__CTL_REPLY, refs[i]);
                        cr.error = (char *) "";
                        cr.json = json;
                        f.ctl_reply = &cr;
                        size_t wire = ipc_frame_wire_size(&f);
                        uint8_t *packed = malloc(wire), head[SUP_CTL_REPLY_HEAD_MAX];
                        ck_assert_ptr_nonnull(packed);
                        ck_assert_uint_eq(ipc_frame_encode(&f, packed), wire);
                        size_t n = sup_ctl_reply_head(refs[i], lens[k], head);
                        ck_assert_uint_eq(n + lens[k], wire);
                        ck_assert_msg(memcmp(head, packed, n) == 0, "ref %llu, %zu bytes: the head differs",
                                      (unsigned long long) refs[i], lens[k]);
                        free(packed);
                        free(json);
                }
}
END_TEST

/* ---- written as the socket takes it ---- */

/* Past the send buffer's largest size (IPC_SNDBUF_MAX, doubled by the
 * kernel): it cannot go out in one write. */
#define BIG (10u * 1024u * 1024u)

static int n_released;

static void count_release(void *token) {
        ck_assert_ptr_eq(token, &n_released);
        n_released++;
}

static void pair(ipc_conn **ret_w, ipc_conn **ret_r) {
        int fds[2];
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        ck_assert_int_eq(ipc_conn_new(fds[0], 0, ret_w), 0);
        ck_assert_int_eq(ipc_conn_new(fds[1], 0, ret_r), 0);
}

static void cast_frame(ipc_frame *f, const char *text) {
        ipc_frame_init(f, GENSUP__KIND__CAST, 0);
        f->payload.data = (uint8_t *) text;
        f->payload.len = strlen(text);
}

static void queue_cast(ipc_conn *c, const char *text) {
        ipc_frame f;
        cast_frame(&f, text);
        ck_assert_int_eq(ipc_conn_queue(c, &f), 0);
}

static size_t cast_wire(const char *text) {
        ipc_frame f;
        cast_frame(&f, text);
        return ipc_frame_wire_size(&f);
}

static char *big_text(size_t len) {
        char *t = malloc(len + 1);
        ck_assert_ptr_nonnull(t);
        for (size_t i = 0; i < len; i++)
                t[i] = (char) ('a' + i % 26);
        t[len] = '\0';
        return t;
}

/* Flushes w and reads r in turns until want frames are read into got. */
static void pump(ipc_conn *w, ipc_conn *r, ipc_frame **got, size_t want) {
        size_t n = 0;
        for (int turn = 0; n < want && turn < 1000000; turn++) {
                int f = ipc_conn_flush(w);
                ck_assert_msg(f == 0 || f == -EAGAIN, "flush: %d", f);
                int k = ipc_conn_read(r);
                ck_assert_msg(k > 0 || k == -EAGAIN, "read: %d", k);
                while (n < want && ipc_conn_next(r, &got[n]) > 0)
                        n++;
        }
        ck_assert_uint_eq(n, want);
}

START_TEST(test_borrowed_goes_out_whole_in_order) {
        ipc_conn *w, *r;
        pair(&w, &r);
        char *text = big_text(BIG);
        uint8_t head[SUP_CTL_REPLY_HEAD_MAX];
        size_t hn = sup_ctl_reply_head(5, BIG, head);
        n_released = 0;

        queue_cast(w, "before");
        ck_assert_int_eq(ipc_conn_queue_borrowed(w, head, hn, text, BIG, count_release, &n_released), 0);
        ck_assert_int_eq(ipc_conn_queue_borrowed(w, head, hn, text, BIG, count_release, &n_released), -EBUSY);
        ck_assert_int_eq(ipc_conn_queue_borrowed(w, head, hn, text, BIG - 1, count_release, &n_released), -EINVAL);
        queue_cast(w, "after");
        ck_assert_uint_eq(ipc_conn_pending(w), cast_wire("before") + hn + BIG + cast_wire("after"));
        ck_assert_int_eq(ipc_conn_flush(w), -EAGAIN);   /* the socket takes part of it */
        ck_assert_int_eq(n_released, 0);

        ipc_frame *got[3] = { 0 };
        pump(w, r, got, 3);
        ck_assert_int_eq(ipc_conn_flush(w), 0);
        ck_assert_int_eq(n_released, 1);
        ck_assert_uint_eq(ipc_conn_pending(w), 0);
        ck_assert_int_eq(got[0]->kind, GENSUP__KIND__CAST);
        ck_assert_int_eq(memcmp(got[0]->payload.data, "before", 6), 0);
        ck_assert_int_eq(got[1]->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_uint_eq(got[1]->ref, 5);
        ck_assert_str_eq(got[1]->ctl_reply->json, text);
        ck_assert_int_eq(got[2]->kind, GENSUP__KIND__CAST);
        ck_assert_int_eq(memcmp(got[2]->payload.data, "after", 5), 0);
        for (int i = 0; i < 3; i++)
                ipc_frame_free(got[i]);

        /* The connection takes another one once the first is written. */
        ck_assert_int_eq(ipc_conn_queue_borrowed(w, head, hn, text, BIG, count_release, &n_released), 0);
        ipc_conn_free(w);   /* not written: given back all the same */
        ck_assert_int_eq(n_released, 2);
        ipc_conn_free(r);
        free(text);
}
END_TEST

/* ---- one text, several recipients ---- */

/* Each of two recipients gets the whole text; a third, whose peer never
 * reads, is freed before it has written it; the text is freed after the
 * last of them (ASan, valgrind: neither a use after free nor a leak). */
START_TEST(test_shared_text_outlives_no_recipient) {
        ipc_conn *w[3], *r[3];
        for (int i = 0; i < 3; i++)
                pair(&w[i], &r[i]);
        char *raw = big_text(BIG);
        sup_strbuf b = { 0 };
        ck_assert_int_eq(sup_strbuf_append(&b, raw, BIG), 0);
        sup_shared_text *t = sup_shared_text_new(&b);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_null(b.data);
        ck_assert_uint_eq(sup_shared_text_len(t), BIG);
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(sup_shared_reply_queue(w[i], (uint64_t) i + 1, t), 0);
        ck_assert_int_eq(sup_shared_reply_queue(w[0], 9, t), -EBUSY);
        t = sup_shared_text_unref(t);   /* the recipients hold it now */

        ipc_frame *got = NULL;
        pump(w[0], r[0], &got, 1);
        ck_assert_str_eq(got->ctl_reply->json, raw);
        ipc_frame_free(got);
        w[2] = ipc_conn_free(w[2]);   /* gone in the middle */
        pump(w[1], r[1], &got, 1);
        ck_assert_uint_eq(got->ref, 2);
        ck_assert_str_eq(got->ctl_reply->json, raw);
        ipc_frame_free(got);
        for (int i = 0; i < 3; i++) {
                ipc_conn_free(w[i]);
                ipc_conn_free(r[i]);
        }
        free(raw);
}
END_TEST

START_TEST(test_empty_text_not_borrowed) {
        ipc_conn *w, *r;
        pair(&w, &r);
        sup_strbuf b = { 0 };
        sup_shared_text *t = sup_shared_text_new(&b);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(sup_shared_reply_queue(w, 1, t), -EINVAL);
        ck_assert_str_eq(sup_shared_text_data(t), "");
        sup_shared_text_unref(t);
        ipc_conn_free(w);
        ipc_conn_free(r);
}
END_TEST

Suite *shared_reply_suite(void) {
        Suite *s = suite_create("shared_reply");
        TCase *tc = tcase_create("shared_reply");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_head_is_what_protobuf_c_packs);
        tcase_add_test(tc, test_borrowed_goes_out_whole_in_order);
        tcase_add_test(tc, test_shared_text_outlives_no_recipient);
        tcase_add_test(tc, test_empty_text_not_borrowed);
        suite_add_tcase(s, tc);
        return s;
}
