/* check_sink.c: a large REPLY read straight into its owner's buffer
 * (ipc_conn_sink_arm), on socketpairs whose bytes the test writes in the
 * pieces it chooses, so that what each read finds is known: the payload
 * lands byte-exact in the owner's buffer, the frames around it are read
 * as usual, a disarmed sink never writes into the buffer again, and a
 * frame that lies about its lengths is not taken for a payload. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

Suite *sink_suite(void);

#define BIG (1024u * 1024u + 3u)

typedef struct owner {
        uint8_t *buf;
        size_t cap;
        unsigned reserved;   /* times reserve was called */
} owner;

static uint8_t *reserve(void *userdata, size_t len) {
        owner *o = userdata;

        o->reserved++;
        if (len > o->cap) {
                free(o->buf);
                o->buf = malloc(len);
                ck_assert_ptr_nonnull(o->buf);
                o->cap = len;
        }
        return o->buf;
}

static uint8_t *pattern(size_t len, unsigned seed) {
        uint8_t *p = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t) (i * 131u + seed + (i >> 12));
        return p;
}

/* The wire bytes of a frame, as ipc_conn_queue writes them. */
static uint8_t *wire(Gensup__Kind kind, uint64_t ref, const uint8_t *data, size_t len, size_t *ret_len) {
        ipc_frame f;

        ipc_frame_init(&f, kind, ref);
        f.payload.data = (uint8_t *) data;
        f.payload.len = len;
        size_t n = ipc_frame_wire_size(&f);
        uint8_t *w = malloc(n);
        ck_assert_ptr_nonnull(w);
        ck_assert_uint_eq(ipc_frame_encode(&f, w), n);
        *ret_len = n;
        return w;
}

/* A reader end (the connection) and the raw fd of the writer end. */
static ipc_conn *reader(int *ret_wfd) {
        int sv[2];
        ipc_conn *c;

        ck_assert_int_eq(ipc_socketpair(sv), 0);
        /* Large enough that every write below goes in at once (else put
         * reads in between). */
        int v = 8 << 20;
        if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        ck_assert_int_eq(ipc_conn_new(sv[0], 0, &c), 0);
        *ret_wfd = sv[1];
        return c;
}

/* Writes len bytes to fd; when its buffer is full (a user without
 * SO_SNDBUFFORCE), c reads some to make room. */
static void put(ipc_conn *c, int fd, const uint8_t *p, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_DONTWAIT);
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pf = { .fd = ipc_conn_fd(c), .events = POLLIN };
                        ck_assert_int_eq(poll(&pf, 1, 5000), 1);
                        ck_assert_int_gt(ipc_conn_read(c), 0);
                        continue;
                }
                ck_assert_int_gt(n, 0);
                p += n;
                len -= (size_t) n;
        }
}

/* Reads until every byte written so far is in (the writes are done: a
 * read returning -EAGAIN means there is nothing left). */
static void read_all(ipc_conn *c) {
        int r;
        while ((r = ipc_conn_read(c)) > 0)
                ;
        ck_assert_int_eq(r, -EAGAIN);
}

static ipc_frame *next(ipc_conn *c, ipc_frame *storage) {
        ipc_frame *f = NULL;
        ck_assert_int_eq(ipc_conn_next_view(c, storage, &f), 1);
        return f;
}

/* The awaited REPLY, written in pieces, lands in the owner's buffer; the
 * CAST behind it (sent in the same write as the payload's end) is read
 * as usual. */
START_TEST(test_sink_direct) {
        int wfd;
        ipc_conn *c = reader(&wfd);
        owner o = { 0 };
        uint8_t *data = pattern(BIG, 1);
        size_t n1, n2;
        uint8_t *w1 = wire(GENSUP__KIND__REPLY, 7, data, BIG, &n1);
        uint8_t *w2 = wire(GENSUP__KIND__CAST, 0, (const uint8_t *) "tail", 4, &n2);
        uint8_t *all = malloc(n1 + n2);
        memcpy(all, w1, n1);
        memcpy(all + n1, w2, n2);

        ipc_conn_sink_arm(c, 7, reserve, &o);
        size_t cut[] = { 0, 100, 70000, 500000, n1 - 1, n1 + n2 };
        for (size_t i = 1; i < sizeof(cut) / sizeof(cut[0]); i++) {
                ipc_frame view, *f = NULL;
                put(c, wfd, all + cut[i - 1], cut[i] - cut[i - 1]);
                read_all(c);
                if (cut[i] < n1) {
                        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), 0);
                        ck_assert_uint_gt(ipc_conn_buffered(c), 0);
                }
        }
        ck_assert_uint_eq(o.reserved, 1);
        ipc_frame view, *f = next(c, &view);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 7);
        ck_assert_ptr_eq(f->payload.data, o.buf);   /* read straight there */
        ck_assert_uint_eq(f->payload.len, BIG);
        ck_assert_int_eq(memcmp(f->payload.data, data, BIG), 0);
        f = next(c, &view);
        ck_assert_int_eq(f->kind, GENSUP__KIND__CAST);
        ck_assert_uint_eq(f->payload.len, 4);
        ck_assert_int_eq(memcmp(f->payload.data, "tail", 4), 0);
        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), 0);
        ck_assert_uint_eq(ipc_conn_buffered(c), 0);

        ipc_conn_sink_arm(c, 0, NULL, NULL);
        ipc_conn_free(c);
        close(wfd);
        free(all);
        free(w1);
        free(w2);
        free(data);
        free(o.buf);
}
END_TEST

/* Answers to other refs, small answers and other kinds go the usual
 * way, byte-exact; so does a large REPLY taken with ipc_conn_next. */
START_TEST(test_sink_others) {
        static const size_t sizes[] = { 0, 1, 65536, 128u * 1024u + 1, BIG, 3u * 1024u * 1024u };
        int wfd;
        ipc_conn *c = reader(&wfd);
        owner o = { 0 };

        ipc_conn_sink_arm(c, 8, reserve, &o);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                uint8_t *data = pattern(sizes[i], (unsigned) i);
                size_t n;
                uint8_t *w = wire(i % 2 ? GENSUP__KIND__REPLY : GENSUP__KIND__INFO, 9, data, sizes[i], &n);
                put(c, wfd, w, n / 2);
                read_all(c);
                put(c, wfd, w + n / 2, n - n / 2);
                read_all(c);
                ipc_frame view, *f = next(c, &view);
                ck_assert_uint_eq(f->payload.len, sizes[i]);
                ck_assert(sizes[i] == 0 || memcmp(f->payload.data, data, sizes[i]) == 0);
                free(w);
                free(data);
        }
        ck_assert_uint_eq(o.reserved, 0);

        /* The awaited one, taken owned. */
        ipc_conn_sink_arm(c, 9, reserve, &o);
        uint8_t *data = pattern(BIG, 5);
        size_t n;
        uint8_t *w = wire(GENSUP__KIND__REPLY, 9, data, BIG, &n);
        put(c, wfd, w, 1000);
        read_all(c);
        put(c, wfd, w + 1000, n - 1000);
        read_all(c);
        ck_assert_uint_eq(o.reserved, 1);
        ipc_frame *f = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &f), 1);
        ck_assert_ptr_ne(f->payload.data, o.buf);
        ck_assert_uint_eq(f->payload.len, BIG);
        ck_assert_int_eq(memcmp(f->payload.data, data, BIG), 0);
        ipc_frame_free(f);

        ipc_conn_free(c);
        close(wfd);
        free(w);
        free(data);
        free(o.buf);
}
END_TEST

/* Disarmed in the middle of the payload (the caller's call timed out):
 * the rest is read and dropped, the owner's buffer is not written into
 * again, and the next frame is read as usual. */
START_TEST(test_sink_disarm) {
        int wfd;
        ipc_conn *c = reader(&wfd);
        owner o = { 0 };
        uint8_t *data = pattern(BIG, 3);
        size_t n1, n2;
        uint8_t *w1 = wire(GENSUP__KIND__REPLY, 4, data, BIG, &n1);
        uint8_t *w2 = wire(GENSUP__KIND__REPLY, 5, (const uint8_t *) "next", 4, &n2);

        ipc_conn_sink_arm(c, 4, reserve, &o);
        put(c, wfd, w1, 300000);
        read_all(c);
        ck_assert_uint_eq(o.reserved, 1);
        ipc_conn_sink_arm(c, 0, NULL, NULL);
        memset(o.buf, 0xee, o.cap);
        put(c, wfd, w1 + 300000, n1 - 300000);
        put(c, wfd, w2, n2);
        read_all(c);
        for (size_t i = 0; i < o.cap; i++)
                ck_assert_uint_eq(o.buf[i], 0xee);
        ipc_frame view, *f = next(c, &view);
        ck_assert_uint_eq(f->ref, 5);
        ck_assert_uint_eq(f->payload.len, 4);
        ck_assert_int_eq(memcmp(f->payload.data, "next", 4), 0);
        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), 0);

        /* Disarmed after it was read but before it was taken: forgotten. */
        ipc_conn_sink_arm(c, 6, reserve, &o);
        uint8_t *w3 = wire(GENSUP__KIND__REPLY, 6, data, BIG, &n1);
        put(c, wfd, w3, 1000);
        read_all(c);
        put(c, wfd, w3 + 1000, n1 - 1000);
        put(c, wfd, w2, n2);
        read_all(c);
        ipc_conn_sink_arm(c, 0, NULL, NULL);
        f = next(c, &view);
        ck_assert_uint_eq(f->ref, 5);
        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), 0);

        ipc_conn_free(c);
        close(wfd);
        free(w1);
        free(w2);
        free(w3);
        free(data);
        free(o.buf);
}
END_TEST

/* A peer that lies: a payload length longer than the frame, and a frame
 * over the limit. Neither is taken for a payload to read into the
 * owner's buffer; the reader sees a bad frame and closes. */
START_TEST(test_sink_lies) {
        int wfd;
        ipc_conn *c = reader(&wfd);
        owner o = { 0 };
        uint8_t *data = pattern(BIG, 9);
        size_t n;
        uint8_t *w = wire(GENSUP__KIND__REPLY, 2, data, BIG, &n);

        /* The frame's length prefix (3 bytes for this size) says 200 KiB
         * fewer: the payload's own length runs past the frame's end. */
        uint64_t body;
        int hn = ipc_varint_decode(w, n, &body);
        ck_assert_int_eq(hn, 3);
        ck_assert_uint_eq(ipc_varint_encode(body - 200 * 1024, w), 3);
        ipc_conn_sink_arm(c, 2, reserve, &o);
        put(c, wfd, w, 1000);
        read_all(c);
        ck_assert_uint_eq(o.reserved, 0);
        put(c, wfd, w + 1000, n - 1000 - 200 * 1024);
        read_all(c);
        ipc_frame view, *f = NULL;
        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), -EBADMSG);
        ipc_conn_free(c);
        close(wfd);

        /* Over the reader's limit: -EMSGSIZE, nothing reserved. */
        c = reader(&wfd);
        ipc_conn_set_max_in(c, 512 * 1024);
        ipc_conn_sink_arm(c, 2, reserve, &o);
        free(w);
        w = wire(GENSUP__KIND__REPLY, 2, data, BIG, &n);
        put(c, wfd, w, 1000);
        read_all(c);
        ck_assert_int_eq(ipc_conn_next_view(c, &view, &f), -EMSGSIZE);
        ck_assert_uint_eq(o.reserved, 0);

        ipc_conn_free(c);
        close(wfd);
        free(w);
        free(data);
        free(o.buf);
}
END_TEST

Suite *sink_suite(void) {
        Suite *s = suite_create("sink");
        TCase *tc = tcase_create("sink");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_sink_direct);
        tcase_add_test(tc, test_sink_others);
        tcase_add_test(tc, test_sink_disarm);
        tcase_add_test(tc, test_sink_lies);
        suite_add_tcase(s, tc);
        return s;
}
