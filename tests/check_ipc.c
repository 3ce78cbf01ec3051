/* check_ipc.c: the wire (ipc/) on socketpairs and temporary socket paths,
 * in the manner of libuv's pipe tests: short reads, one byte at a time,
 * merged writes, oversize and garbage frames, fd passing, peer close,
 * full socket buffers, listening and connecting, peer credentials. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"

Suite *ipc_suite(void);

#define WAIT_MS 5000   /* a bound on any single wait; never a speed threshold */

/* ---- helpers ---- */

static void assert_cloexec(int fd) {
        int fl = fcntl(fd, F_GETFD);
        ck_assert_int_ge(fl, 0);
        ck_assert_int_ne(fl & FD_CLOEXEC, 0);
}

static bool same_file(int a, int b) {
        struct stat sa, sb;
        ck_assert_int_eq(fstat(a, &sa), 0);
        ck_assert_int_eq(fstat(b, &sb), 0);
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Every write end of the pipe whose read end is rfd has been closed: a
 * leaked copy shows as EAGAIN at once rather than as a hang. */
static void assert_pipe_eof(int rfd) {
        ck_assert_int_eq(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
        char ch;
        ssize_t n = read(rfd, &ch, 1);
        ck_assert_msg(n == 0, "pipe read: %zd (%s), want 0 (every write end closed)", n, n < 0 ? strerror(errno) : "data");
}

/* Two framed connections joined by a socketpair. */
static void conn_pair(size_t max_frame, ipc_conn **ret_a, ipc_conn **ret_b) {
        int sv[2];
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        ck_assert_int_eq(ipc_conn_new(sv[0], max_frame, ret_a), 0);
        ck_assert_int_eq(ipc_conn_new(sv[1], max_frame, ret_b), 0);
        /* These tests are about passing fds: both ends take them. */
        ipc_conn_set_accept_fds(*ret_a, true);
        ipc_conn_set_accept_fds(*ret_b, true);
}

/* A framed connection and the raw (blocking) fd of its peer, to write
 * arbitrary bytes at it. */
static void conn_raw(size_t max_frame, ipc_conn **ret_c, int *ret_raw) {
        int sv[2];
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        ck_assert_int_eq(ipc_conn_new(sv[0], max_frame, ret_c), 0);
        *ret_raw = sv[1];
}

static void write_all(int fd, const void *buf, size_t len) {
        const uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                ck_assert_int_gt(n, 0);
                p += n;
                len -= (size_t) n;
        }
}

/* A frame with a recognisable payload: byte i is (seed + i) & 0xff. */
static void frame_with_payload(ipc_frame *f, Gensup__Kind kind, uint64_t ref, uint8_t *payload, size_t len,
                               unsigned seed) {
        for (size_t i = 0; i < len; i++)
                payload[i] = (uint8_t) (seed + i);
        ipc_frame_init(f, kind, ref);
        f->payload.data = payload;
        f->payload.len = len;
}

static void assert_payload(const ipc_frame *f, size_t len, unsigned seed) {
        ck_assert_uint_eq(f->payload.len, len);
        for (size_t i = 0; i < len; i++)
                if (f->payload.data[i] != (uint8_t) (seed + i))
                        ck_abort_msg("payload byte %zu is %u, want %u", i, f->payload.data[i],
                                     (uint8_t) (seed + i));
}

/* Encodes a frame with its prefix into a fresh buffer; returns its length. */
static size_t encode_alloc(const ipc_frame *f, uint8_t **ret) {
        size_t n = ipc_frame_wire_size(f);
        uint8_t *buf = malloc(n);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(ipc_frame_encode(f, buf), n);
        *ret = buf;
        return n;
}

/* Waits for and returns the next frame on c; fails the test on an error or
 * end of file. */
static ipc_frame *recv_frame(ipc_conn *c) {
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                ck_assert_int_ge(r, 0);
                if (r == 1)
                        return f;
                r = ipc_conn_read(c);
                if (r == -EAGAIN) {
                        r = ipc_conn_wait(c, true, WAIT_MS);
                        ck_assert_int_gt(r, 0);
                        continue;
                }
                ck_assert_int_gt(r, 0);
        }
}

/* Flushes c, waiting for the peer to make room. */
static void flush_all(ipc_conn *c) {
        int r;
        while ((r = ipc_conn_flush(c)) == -EAGAIN)
                ck_assert_int_gt(ipc_conn_wait(c, false, WAIT_MS), 0);
        ck_assert_int_eq(r, 0);
}

/* Reads everything the socket holds right now into c's buffer. */
static void read_available(ipc_conn *c) {
        int r;
        while ((r = ipc_conn_read(c)) > 0)
                ;
        ck_assert_int_eq(r, -EAGAIN);
}

/* Writes one frame with a raw length prefix of value len and no body. */
static void write_prefix(int fd, uint64_t len) {
        uint8_t buf[10];
        write_all(fd, buf, ipc_varint_encode(len, buf));
}

/* ---- varints and frames, pure ---- */

START_TEST(test_varint_round_trip) {
        static const uint64_t values[] = {
                0, 1, 2, 63, 64, 127, 128, 129, 255, 256, 300, 16383, 16384, 2097151, 2097152,
                UINT32_MAX, (uint64_t) UINT32_MAX + 1, INT64_MAX, (uint64_t) INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX,
        };
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                uint8_t buf[16];
                memset(buf, 0xaa, sizeof(buf));
                size_t n = ipc_varint_encode(values[i], buf);
                ck_assert_uint_ge(n, 1);
                ck_assert_uint_le(n, 10);
                /* Nothing written past the varint. */
                ck_assert_uint_eq(buf[n], 0xaa);
                uint64_t v = 0;
                ck_assert_int_eq(ipc_varint_decode(buf, n, &v), (int) n);
                ck_assert_uint_eq(v, values[i]);
                /* Bytes after the varint are not read as part of it. */
                ck_assert_int_eq(ipc_varint_decode(buf, sizeof(buf), &v), (int) n);
                ck_assert_uint_eq(v, values[i]);
        }
        /* Every bit position, one bit and all bits below it. */
        for (unsigned b = 0; b < 64; b++) {
                uint64_t vs[2] = { (uint64_t) 1 << b, ((uint64_t) 1 << b) - 1 };
                for (unsigned k = 0; k < 2; k++) {
                        uint8_t buf[10];
                        uint64_t v = ~vs[k];
                        size_t n = ipc_varint_encode(vs[k], buf);
                        ck_assert_int_eq(ipc_varint_decode(buf, n, &v), (int) n);
                        ck_assert_uint_eq(v, vs[k]);
                }
        }
}
END_TEST

START_TEST(test_varint_known_bytes) {
        uint8_t buf[10];

        ck_assert_uint_eq(ipc_varint_encode(0, buf), 1);
        ck_assert_uint_eq(buf[0], 0x00);
        ck_assert_uint_eq(ipc_varint_encode(127, buf), 1);
        ck_assert_uint_eq(buf[0], 0x7f);
        ck_assert_uint_eq(ipc_varint_encode(128, buf), 2);
        ck_assert_uint_eq(buf[0], 0x80);
        ck_assert_uint_eq(buf[1], 0x01);
        ck_assert_uint_eq(ipc_varint_encode(300, buf), 2);
        ck_assert_uint_eq(buf[0], 0xac);
        ck_assert_uint_eq(buf[1], 0x02);
        ck_assert_uint_eq(ipc_varint_encode(UINT64_MAX, buf), 10);
        for (int i = 0; i < 9; i++)
                ck_assert_uint_eq(buf[i], 0xff);
        ck_assert_uint_eq(buf[9], 0x01);

        /* A non-minimal encoding is still a valid varint (protobuf reads it). */
        static const uint8_t padded[] = { 0x81, 0x80, 0x00 };
        uint64_t v = 0;
        ck_assert_int_eq(ipc_varint_decode(padded, sizeof(padded), &v), 3);
        ck_assert_uint_eq(v, 1);
}
END_TEST

START_TEST(test_varint_truncated) {
        uint8_t buf[10] = { 0 };
        uint64_t v = 12345;

        ck_assert_int_eq(ipc_varint_decode(buf, 0, &v), 0);
        ck_assert_uint_eq(v, 12345);

        static const uint64_t values[] = { 128, 300, 16384, UINT32_MAX, UINT64_MAX };
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                size_t n = ipc_varint_encode(values[i], buf);
                for (size_t len = 0; len < n; len++) {
                        v = 12345;
                        ck_assert_int_eq(ipc_varint_decode(buf, len, &v), 0);
                        /* ret_value is set only on success. */
                        ck_assert_uint_eq(v, 12345);
                }
        }
        /* Nine continuation bytes: still "need more", not an error. */
        memset(buf, 0x80, 9);
        ck_assert_int_eq(ipc_varint_decode(buf, 9, &v), 0);
}
END_TEST

START_TEST(test_varint_too_long) {
        uint8_t buf[16];
        uint64_t v = 12345;

        /* Eleven bytes: ten with the continuation bit, then a last one. */
        memset(buf, 0x80, 10);
        buf[10] = 0x00;
        ck_assert_int_eq(ipc_varint_decode(buf, 11, &v), -EBADMSG);
        ck_assert_uint_eq(v, 12345);
        /* The tenth byte still continuing is an error as soon as it is seen,
         * not a wait for an eleventh. */
        ck_assert_int_eq(ipc_varint_decode(buf, 10, &v), -EBADMSG);
        memset(buf, 0xff, 11);
        ck_assert_int_eq(ipc_varint_decode(buf, 11, &v), -EBADMSG);

        /* Ten bytes whose last carries more than bit 63: overflow. */
        memset(buf, 0xff, 9);
        buf[9] = 0x02;
        ck_assert_int_eq(ipc_varint_decode(buf, 10, &v), -EBADMSG);
        buf[9] = 0x7f;
        ck_assert_int_eq(ipc_varint_decode(buf, 10, &v), -EBADMSG);
        ck_assert_uint_eq(v, 12345);
        /* The largest ten-byte varint is 2^64-1. */
        buf[9] = 0x01;
        ck_assert_int_eq(ipc_varint_decode(buf, 10, &v), 10);
        ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(test_frame_encode_unpack) {
        uint8_t payload[300];
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__CALL, 0x123456789abcULL, payload, sizeof(payload), 7);
        f.reason = (char *) "why";
        f.code = -5;

        uint8_t *buf;
        size_t n = encode_alloc(&f, &buf);
        size_t body = gensup__frame__get_packed_size(&f);
        /* A 2-byte prefix (body > 127), then the body. */
        ck_assert_uint_eq(n, body + 2);
        uint64_t len;
        ck_assert_int_eq(ipc_varint_decode(buf, n, &len), 2);
        ck_assert_uint_eq(len, body);

        ipc_frame *g = ipc_frame_unpack(buf + 2, body);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->kind, GENSUP__KIND__CALL);
        ck_assert_uint_eq(g->ref, 0x123456789abcULL);
        ck_assert_str_eq(g->reason, "why");
        ck_assert_int_eq(g->code, -5);
        assert_payload(g, sizeof(payload), 7);
        ck_assert_ptr_null(ipc_frame_free(g));
        ck_assert_ptr_null(ipc_frame_free(NULL));

        /* A body cut short is not a Frame. */
        ck_assert_ptr_null(ipc_frame_unpack(buf + 2, body - 1));
        free(buf);

        /* Kinds newer than ours pass, for the receiver to refuse. */
        ipc_frame_init(&f, (Gensup__Kind) 99, 1);
        n = encode_alloc(&f, &buf);
        g = ipc_frame_unpack(buf + 1, n - 1);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->kind, 99);
        ipc_frame_free(g);
        free(buf);
}
END_TEST

START_TEST(test_frame_unpack_garbage) {
        /* Empty body: no kind. */
        ck_assert_ptr_null(ipc_frame_unpack((const uint8_t *) "", 0));
        /* Kind 0 with other fields set. */
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__KIND_UNSPECIFIED, 42);
        f.reason = (char *) "no kind";
        uint8_t *buf;
        size_t n = encode_alloc(&f, &buf);
        ck_assert_ptr_null(ipc_frame_unpack(buf + 1, n - 1));
        free(buf);
        /* Field 1 with wire type 7, which does not exist. */
        static const uint8_t bad_type[] = { 0x0f, 0x01 };
        ck_assert_ptr_null(ipc_frame_unpack(bad_type, sizeof(bad_type)));
        /* A payload claiming 5 bytes and holding 1. */
        static const uint8_t short_bytes[] = { 0x08, 0x01, 0x1a, 0x05, 'a' };
        ck_assert_ptr_null(ipc_frame_unpack(short_bytes, sizeof(short_bytes)));
        /* All ones. */
        uint8_t ones[64];
        memset(ones, 0xff, sizeof(ones));
        ck_assert_ptr_null(ipc_frame_unpack(ones, sizeof(ones)));
}
END_TEST

/* Appends one field of each wire type under field numbers no Frame (nor
 * SysRequest) has: 100 + i. */
static size_t put_unknown(uint8_t *p, unsigned i) {
        size_t n = 0;
        unsigned num = 100 + i % 1000;

        switch (i % 4) {
        case 0:
                n += ipc_varint_encode((uint64_t) num << 3 | 0, p + n);
                n += ipc_varint_encode(i, p + n);
                break;
        case 1:
                n += ipc_varint_encode((uint64_t) num << 3 | 1, p + n);
                memset(p + n, 0xab, 8);
                n += 8;
                break;
        case 2:
                n += ipc_varint_encode((uint64_t) num << 3 | 2, p + n);
                p[n++] = 3;
                memcpy(p + n, "xyz", 3);
                n += 3;
                break;
        default:
                n += ipc_varint_encode((uint64_t) num << 3 | 5, p + n);
                memset(p + n, 0xcd, 4);
                n += 4;
                break;
        }
        return n;
}

/* gensup-protocol(7): unknown fields are skipped, however many, at any
 * depth, within the frame size limit. */
START_TEST(test_frame_unknown_fields_skipped) {
        const unsigned count = 100000;
        uint8_t *buf = malloc((size_t) count * 16 + 256);
        ck_assert_ptr_nonnull(buf);
        size_t n = 0;

        /* kind = SYS, ref = 7, then unknown fields around a SysRequest
         * {op = STOP, reason = "r"} that holds unknown fields too. */
        buf[n++] = 0x08;
        buf[n++] = GENSUP__KIND__SYS;
        for (unsigned i = 0; i < count / 2; i++)
                n += put_unknown(buf + n, i);
        buf[n++] = 0x10;
        buf[n++] = 7;
        uint8_t sub[4096];
        size_t m = 0;
        sub[m++] = 0x08;
        sub[m++] = GENSUP__SYS_REQUEST__OP__STOP;
        for (unsigned i = 0; i < 200; i++)
                m += put_unknown(sub + m, i);
        sub[m++] = 0x22;
        sub[m++] = 1;
        sub[m++] = 'r';
        buf[n++] = 0x32;   /* field 6, length-delimited */
        n += ipc_varint_encode(m, buf + n);
        memcpy(buf + n, sub, m);
        n += m;
        for (unsigned i = count / 2; i < count; i++)
                n += put_unknown(buf + n, i);

        ipc_frame *f = ipc_frame_unpack(buf, n);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(f->kind, GENSUP__KIND__SYS);
        ck_assert_uint_eq(f->ref, 7);
        ck_assert_ptr_nonnull(f->sys);
        ck_assert_int_eq(f->sys->op, GENSUP__SYS_REQUEST__OP__STOP);
        ck_assert_str_eq(f->sys->reason, "r");
        /* Skipped, not kept. */
        ck_assert_uint_eq(f->base.n_unknown_fields, 0);
        ck_assert_uint_eq(f->sys->base.n_unknown_fields, 0);
        ipc_frame_free(f);

        /* An unknown field cut short is still a bad frame. */
        size_t k = 2 + put_unknown(buf + 2, 1);
        ck_assert_ptr_null(ipc_frame_unpack(buf, k - 1));
        /* So is a group, which proto3 does not have. */
        static const uint8_t group[] = { 0x08, 0x01, 0xa3, 0x06, 0xa4, 0x06 };
        ck_assert_ptr_null(ipc_frame_unpack(group, sizeof(group)));
        free(buf);
}
END_TEST

START_TEST(test_frame_scan) {
        uint8_t payload[200];
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__CAST, 3, payload, sizeof(payload), 1);
        uint8_t *buf;
        size_t n = encode_alloc(&f, &buf);
        size_t header = 0;

        for (size_t len = 0; len < n; len++)
                ck_assert_int_eq(ipc_frame_scan(buf, len, IPC_DEFAULT_MAX_FRAME, &header), 0);
        ck_assert_int_eq(ipc_frame_scan(buf, n, IPC_DEFAULT_MAX_FRAME, &header), (int64_t) n);
        ck_assert_uint_eq(header, 2);
        /* Bytes after the frame do not change its length. */
        uint8_t *more = calloc(1, n + 50);
        memcpy(more, buf, n);
        ck_assert_int_eq(ipc_frame_scan(more, n + 50, IPC_DEFAULT_MAX_FRAME, &header), (int64_t) n);
        free(more);

        /* The limit is on the body; it is decided from the prefix alone. */
        ck_assert_int_eq(ipc_frame_scan(buf, n, n - 2, &header), (int64_t) n);
        ck_assert_int_eq(ipc_frame_scan(buf, n, n - 3, &header), -EMSGSIZE);
        ck_assert_int_eq(ipc_frame_scan(buf, 2, n - 3, &header), -EMSGSIZE);
        free(buf);

        uint8_t bad[11];
        memset(bad, 0x80, sizeof(bad));
        ck_assert_int_eq(ipc_frame_scan(bad, sizeof(bad), IPC_DEFAULT_MAX_FRAME, &header), -EBADMSG);
        uint8_t huge[10];
        size_t hn = ipc_varint_encode(UINT64_MAX, huge);
        ck_assert_int_eq(ipc_frame_scan(huge, hn, IPC_DEFAULT_MAX_FRAME, &header), -EMSGSIZE);
}
END_TEST

/* ---- connections on socketpairs ---- */

START_TEST(test_conn_basics) {
        int sv[2];
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        assert_cloexec(sv[0]);
        assert_cloexec(sv[1]);
        int type = 0;
        socklen_t tl = sizeof(type);
        ck_assert_int_eq(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &tl), 0);
        ck_assert_int_eq(type, SOCK_STREAM);

        ipc_conn *c;
        ck_assert_int_eq(ipc_conn_new(sv[0], 0, &c), 0);
        ck_assert_int_eq(ipc_conn_fd(c), sv[0]);
        ck_assert_int_ne(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);

        /* Nothing there yet: no frame, no fd, nothing buffered or pending. */
        ipc_frame *f = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &f), 0);
        ck_assert_ptr_null(f);
        ck_assert_int_eq(ipc_conn_read(c), -EAGAIN);
        ck_assert_int_eq(ipc_conn_next(c, &f), 0);
        ck_assert_int_eq(ipc_conn_take_fd(c), -ENOENT);
        ck_assert_uint_eq(ipc_conn_buffered(c), 0);
        ck_assert_uint_eq(ipc_conn_pending(c), 0);
        ck_assert_int_eq(ipc_conn_flush(c), 0);
        ck_assert_int_eq(ipc_conn_wait(c, true, 0), 0);

        ck_assert_ptr_null(ipc_conn_free(c));
        ck_assert_ptr_null(ipc_conn_free(NULL));
        /* The connection owned and closed the fd. */
        ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
        ck_assert_int_eq(errno, EBADF);
        close(sv[1]);
}
END_TEST

START_TEST(test_conn_round_trip) {
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);

        uint8_t payload[1000];
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__REPLY, UINT64_MAX, payload, sizeof(payload), 9);
        f.reason = (char *) "{error,bad}";
        f.code = 110;
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        ck_assert_uint_eq(ipc_conn_pending(a), ipc_frame_wire_size(&f));
        ck_assert_int_eq(ipc_conn_flush(a), 0);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);

        ck_assert_int_gt(ipc_conn_wait(b, true, WAIT_MS) & POLLIN, 0);
        ipc_frame *g = recv_frame(b);
        ck_assert_int_eq(g->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(g->ref, UINT64_MAX);
        ck_assert_str_eq(g->reason, "{error,bad}");
        ck_assert_int_eq(g->code, 110);
        assert_payload(g, sizeof(payload), 9);
        ipc_frame_free(g);
        ck_assert_uint_eq(ipc_conn_buffered(b), 0);

        /* And back the other way. */
        ipc_frame_init(&f, GENSUP__KIND__CAST, 0);
        ck_assert_int_eq(ipc_conn_queue(b, &f), 0);
        flush_all(b);
        g = recv_frame(a);
        ck_assert_int_eq(g->kind, GENSUP__KIND__CAST);
        ipc_frame_free(g);

        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* Many frames queued cost nothing until the flush, then arrive together. */
START_TEST(test_conn_batching) {
        ipc_conn *a;
        int raw;
        conn_raw(0, &a, &raw);
        ipc_conn *b;
        ck_assert_int_eq(ipc_conn_new(raw, 0, &b), 0);

        enum { N = 200 };
        size_t total = 0;
        for (unsigned i = 0; i < N; i++) {
                uint8_t payload[100];
                ipc_frame f;
                frame_with_payload(&f, GENSUP__KIND__CAST, i, payload, i % 100, i);
                ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
                total += ipc_frame_wire_size(&f);
                ck_assert_uint_eq(ipc_conn_pending(a), total);
        }
        ck_assert_uint_lt(total, 64 * 1024);
        /* Nothing has been written yet. */
        uint8_t x;
        ck_assert_int_eq(recv(raw, &x, 1, MSG_DONTWAIT | MSG_PEEK), -1);
        ck_assert_int_eq(errno, EAGAIN);

        ck_assert_int_eq(ipc_conn_flush(a), 0);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);

        /* One read takes all of it. */
        ck_assert_int_eq(ipc_conn_read(b), (int) total);
        ck_assert_uint_eq(ipc_conn_buffered(b), total);
        for (unsigned i = 0; i < N; i++) {
                ipc_frame *g = NULL;
                ck_assert_int_eq(ipc_conn_next(b, &g), 1);
                ck_assert_uint_eq(g->ref, i);
                assert_payload(g, i % 100, i);
                ipc_frame_free(g);
        }
        ipc_frame *g = NULL;
        ck_assert_int_eq(ipc_conn_next(b, &g), 0);
        ck_assert_uint_eq(ipc_conn_buffered(b), 0);
        ck_assert_int_eq(ipc_conn_read(b), -EAGAIN);

        /* A second batch after the first reuses the buffers. */
        for (unsigned i = 0; i < 10; i++) {
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__INFO, 1000 + i);
                ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        }
        ck_assert_int_eq(ipc_conn_flush(a), 0);
        for (unsigned i = 0; i < 10; i++) {
                g = recv_frame(b);
                ck_assert_uint_eq(g->ref, 1000 + i);
                ipc_frame_free(g);
        }
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* Three frames written in two pieces, split at every possible byte. */
START_TEST(test_conn_split_reads) {
        uint8_t p0[5], p1[200], p2[130];
        ipc_frame fs[3];
        frame_with_payload(&fs[0], GENSUP__KIND__CALL, 1, p0, sizeof(p0), 0);
        frame_with_payload(&fs[1], GENSUP__KIND__CAST, 2, p1, sizeof(p1), 1);
        frame_with_payload(&fs[2], GENSUP__KIND__INFO, 300, p2, sizeof(p2), 2);
        size_t ends[3], total = 0;
        for (int i = 0; i < 3; i++)
                ends[i] = total += ipc_frame_wire_size(&fs[i]);
        uint8_t *wire = malloc(total);
        for (int i = 0, at = 0; i < 3; i++)
                at += (int) ipc_frame_encode(&fs[i], wire + at);

        for (size_t split = 1; split < total; split++) {
                ipc_conn *c;
                int raw;
                conn_raw(0, &c, &raw);
                int got = 0;

                write_all(raw, wire, split);
                ck_assert_int_eq(ipc_conn_read(c), (int) split);
                ipc_frame *g = NULL;
                int r;
                while ((r = ipc_conn_next(c, &g)) == 1) {
                        ck_assert_uint_eq(g->ref, fs[got].ref);
                        g = ipc_frame_free(g);
                        got++;
                }
                ck_assert_int_eq(r, 0);
                /* Exactly the frames wholly inside the first piece came out. */
                int want = 0;
                while (want < 3 && ends[want] <= split)
                        want++;
                ck_assert_int_eq(got, want);
                ck_assert_uint_eq(ipc_conn_buffered(c), split - (want ? ends[want - 1] : 0));

                write_all(raw, wire + split, total - split);
                ck_assert_int_eq(ipc_conn_read(c), (int) (total - split));
                while ((r = ipc_conn_next(c, &g)) == 1) {
                        ck_assert_uint_eq(g->ref, fs[got].ref);
                        assert_payload(g, fs[got].payload.len, (unsigned) got);
                        g = ipc_frame_free(g);
                        got++;
                }
                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(got, 3);
                ck_assert_uint_eq(ipc_conn_buffered(c), 0);
                ipc_conn_free(c);
                close(raw);
        }
        free(wire);
}
END_TEST

/* One byte per read: a frame comes out on exactly its last byte. */
START_TEST(test_conn_one_byte_at_a_time) {
        uint8_t p0[300], p1[1];
        ipc_frame fs[3];
        frame_with_payload(&fs[0], GENSUP__KIND__CALL, 1ULL << 40, p0, sizeof(p0), 5);  /* 2-byte prefix */
        frame_with_payload(&fs[1], GENSUP__KIND__CAST, 2, p1, sizeof(p1), 6);
        ipc_frame_init(&fs[2], GENSUP__KIND__READY, 0);                                /* body of 2 bytes */
        size_t ends[3], total = 0;
        for (int i = 0; i < 3; i++)
                ends[i] = total += ipc_frame_wire_size(&fs[i]);
        uint8_t *wire = malloc(total);
        for (int i = 0, at = 0; i < 3; i++)
                at += (int) ipc_frame_encode(&fs[i], wire + at);

        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);
        int got = 0;
        for (size_t i = 0; i < total; i++) {
                write_all(raw, wire + i, 1);
                ck_assert_int_eq(ipc_conn_read(c), 1);
                ipc_frame *g = NULL;
                int r = ipc_conn_next(c, &g);
                if (i + 1 == ends[got]) {
                        ck_assert_int_eq(r, 1);
                        ck_assert_int_eq(g->kind, fs[got].kind);
                        ck_assert_uint_eq(g->ref, fs[got].ref);
                        if (got < 2)
                                assert_payload(g, fs[got].payload.len, 5u + (unsigned) got);
                        ipc_frame_free(g);
                        got++;
                        ck_assert_uint_eq(ipc_conn_buffered(c), 0);
                } else {
                        ck_assert_int_eq(r, 0);
                        ck_assert_uint_eq(ipc_conn_buffered(c), i + 1 - (got ? ends[got - 1] : 0));
                }
                ck_assert_int_eq(ipc_conn_read(c), -EAGAIN);
        }
        ck_assert_int_eq(got, 3);
        ipc_conn_free(c);
        close(raw);
        free(wire);
}
END_TEST

START_TEST(test_conn_oversize_default) {
        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);

        /* The prefix alone decides: no need to wait for 16 MiB of body. */
        write_prefix(raw, IPC_DEFAULT_MAX_FRAME + 1);
        ck_assert_int_gt(ipc_conn_read(c), 0);
        ipc_frame *f = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &f), -EMSGSIZE);
        ck_assert_ptr_null(f);
        ipc_conn_free(c);
        close(raw);

        /* 2^64-1, the largest a prefix can say. */
        conn_raw(0, &c, &raw);
        write_prefix(raw, UINT64_MAX);
        ck_assert_int_gt(ipc_conn_read(c), 0);
        ck_assert_int_eq(ipc_conn_next(c, &f), -EMSGSIZE);
        ipc_conn_free(c);
        close(raw);

        /* Exactly the limit is allowed: it waits for the body. */
        conn_raw(0, &c, &raw);
        write_prefix(raw, IPC_DEFAULT_MAX_FRAME);
        ck_assert_int_gt(ipc_conn_read(c), 0);
        ck_assert_int_eq(ipc_conn_next(c, &f), 0);
        ipc_conn_free(c);
        close(raw);
}
END_TEST

START_TEST(test_conn_oversize_custom) {
        enum { LIMIT = 64 };
        uint8_t payload[LIMIT];
        ipc_frame at_limit, over;
        /* kind (2 bytes) + payload tag and length (2 bytes) + payload. */
        frame_with_payload(&at_limit, GENSUP__KIND__CAST, 0, payload, LIMIT - 4, 0);
        ck_assert_uint_eq(gensup__frame__get_packed_size(&at_limit), LIMIT);
        frame_with_payload(&over, GENSUP__KIND__CAST, 0, payload, LIMIT - 3, 0);
        ck_assert_uint_eq(gensup__frame__get_packed_size(&over), LIMIT + 1);

        /* Sending: an oversize frame is refused and nothing is queued. */
        ipc_conn *a, *b;
        conn_pair(LIMIT, &a, &b);
        ck_assert_int_eq(ipc_conn_queue(a, &over), -EMSGSIZE);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &over, p[1]), -EMSGSIZE);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);
        ck_assert_int_eq(ipc_conn_queue(a, &at_limit), 0);
        flush_all(a);
        ipc_frame *g = recv_frame(b);
        assert_payload(g, LIMIT - 4, 0);
        ipc_frame_free(g);
        ipc_conn_free(a);
        ipc_conn_free(b);
        /* The refused fd was not kept: the pipe reads EOF once ours closes. */
        close(p[1]);
        assert_pipe_eof(p[0]);
        close(p[0]);

        /* Receiving with a limit from ipc_conn_new. */
        ipc_conn *c;
        int raw;
        conn_raw(LIMIT, &c, &raw);
        uint8_t *w;
        size_t n = encode_alloc(&over, &w);
        write_all(raw, w, n);
        free(w);
        ck_assert_int_eq(ipc_conn_read(c), (int) n);
        ck_assert_int_eq(ipc_conn_next(c, &g), -EMSGSIZE);
        ipc_conn_free(c);
        close(raw);

        /* ipc_conn_set_max_frame changes the limit of a live connection, and
         * 0 goes back to the default. */
        conn_raw(0, &c, &raw);
        n = encode_alloc(&over, &w);
        write_all(raw, w, n);
        free(w);
        ck_assert_int_eq(ipc_conn_read(c), (int) n);
        ipc_conn_set_max_frame(c, LIMIT);
        ck_assert_int_eq(ipc_conn_next(c, &g), -EMSGSIZE);
        ipc_conn_set_max_frame(c, 0);
        ck_assert_int_eq(ipc_conn_next(c, &g), 1);
        ipc_frame_free(g);
        /* The prefix alone is enough to refuse. */
        ipc_conn_set_max_frame(c, LIMIT);
        write_prefix(raw, LIMIT + 1);
        ck_assert_int_gt(ipc_conn_read(c), 0);
        ck_assert_int_eq(ipc_conn_next(c, &g), -EMSGSIZE);
        ipc_conn_free(c);
        close(raw);
}
END_TEST

/* Writes bytes at a fresh connection and expects -EBADMSG from it, after
 * good_before good frames. */
static void expect_badmsg(const uint8_t *bytes, size_t len, int good_before) {
        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);
        write_all(raw, bytes, len);
        ck_assert_int_eq(ipc_conn_read(c), (int) len);
        for (int i = 0; i < good_before; i++) {
                ipc_frame *g = NULL;
                ck_assert_int_eq(ipc_conn_next(c, &g), 1);
                ipc_frame_free(g);
        }
        ipc_frame *f = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &f), -EBADMSG);
        ck_assert_ptr_null(f);
        ipc_conn_free(c);
        close(raw);
}

START_TEST(test_conn_garbage) {
        /* Five bytes of 0xff are not a Frame. */
        static const uint8_t ones[] = { 0x05, 0xff, 0xff, 0xff, 0xff, 0xff };
        expect_badmsg(ones, sizeof(ones), 0);
        /* A wire type that does not exist. */
        static const uint8_t bad_type[] = { 0x02, 0x0f, 0x01 };
        expect_badmsg(bad_type, sizeof(bad_type), 0);
        /* A length field longer than the frame. */
        static const uint8_t short_bytes[] = { 0x05, 0x08, 0x01, 0x1a, 0x05, 'a' };
        expect_badmsg(short_bytes, sizeof(short_bytes), 0);
        /* An 11-byte length prefix. */
        static const uint8_t long_prefix[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
        expect_badmsg(long_prefix, sizeof(long_prefix), 0);
        /* A zero-length frame: an empty body has kind 0. */
        static const uint8_t empty[] = { 0x00 };
        expect_badmsg(empty, sizeof(empty), 0);

        /* A frame with kind 0 but other fields set. */
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__KIND_UNSPECIFIED, 77);
        f.reason = (char *) "x";
        uint8_t *w;
        size_t n = encode_alloc(&f, &w);
        expect_badmsg(w, n, 0);
        free(w);

        /* A good frame, then garbage: the good one comes out first. */
        ipc_frame_init(&f, GENSUP__KIND__CAST, 1);
        size_t gn = ipc_frame_wire_size(&f);
        uint8_t buf[64];
        ipc_frame_encode(&f, buf);
        memcpy(buf + gn, ones, sizeof(ones));
        expect_badmsg(buf, gn + sizeof(ones), 1);
}
END_TEST

/* A truncated prefix waits for more, then completes. */
START_TEST(test_conn_truncated_prefix) {
        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);
        uint8_t payload[200];
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__CALL, 5, payload, sizeof(payload), 3);
        uint8_t *w;
        size_t n = encode_alloc(&f, &w);
        ck_assert_uint_ge(w[0], 0x80);   /* a 2-byte prefix */

        write_all(raw, w, 1);
        ck_assert_int_eq(ipc_conn_read(c), 1);
        ipc_frame *g = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &g), 0);
        ck_assert_uint_eq(ipc_conn_buffered(c), 1);
        write_all(raw, w + 1, n - 1);
        ck_assert_int_eq(ipc_conn_read(c), (int) n - 1);
        ck_assert_int_eq(ipc_conn_next(c, &g), 1);
        assert_payload(g, sizeof(payload), 3);
        ipc_frame_free(g);
        free(w);
        ipc_conn_free(c);
        close(raw);
}
END_TEST

START_TEST(test_conn_fd_passing) {
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CALL, 1);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        /* The caller keeps its own fd; the frame holds a dup. */
        close(p[1]);
        flush_all(a);

        ipc_frame *g = recv_frame(b);
        ck_assert_uint_eq(g->ref, 1);
        ipc_frame_free(g);
        int fd = ipc_conn_take_fd(b);
        ck_assert_int_ge(fd, 0);
        assert_cloexec(fd);
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);

        /* The same pipe: what we write on the received fd comes out of p[0]. */
        ck_assert_int_eq(write(fd, "hi", 2), 2);
        char buf[4];
        ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 2);
        ck_assert_mem_eq(buf, "hi", 2);
        /* The only write end left is the received one: the sender closed
         * its dup once it was sent. */
        close(fd);
        assert_pipe_eof(p[0]);
        close(p[0]);

        /* A frame without an fd after one with: no fd appears. */
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        flush_all(a);
        ipc_frame_free(recv_frame(b));
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);

        /* A bad fd is refused and nothing is queued. */
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, 1 << 20), -EBADF);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);

        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* Several fds with several frames, interleaved with frames without: they
 * arrive in order, each with (or before) its frame. */
START_TEST(test_conn_fd_order) {
        enum { N = 12, PIPES = 6 };
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        int p[PIPES][2];
        for (int i = 0; i < PIPES; i++) {
                ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
                ck_assert_int_eq(fcntl(p[i][0], F_SETFL, O_NONBLOCK), 0);
        }

        for (int i = 0; i < N; i++) {
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CAST, (uint64_t) i);
                if (i % 2 == 0)
                        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[i / 2][1]), 0);
                else
                        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        }
        for (int i = 0; i < PIPES; i++)
                close(p[i][1]);
        ck_assert_int_eq(ipc_conn_flush(a), 0);

        for (int i = 0; i < N; i++) {
                ipc_frame *g = recv_frame(b);
                ck_assert_uint_eq(g->ref, (uint64_t) i);
                ipc_frame_free(g);
                if (i % 2)
                        continue;
                int fd = ipc_conn_take_fd(b);
                ck_assert_int_ge(fd, 0);
                char tag = (char) ('a' + i / 2);
                ck_assert_int_eq(write(fd, &tag, 1), 1);
                close(fd);
                /* It arrived in pipe i/2 and in no other. */
                for (int k = 0; k < PIPES; k++) {
                        char ch;
                        ssize_t n = read(p[k][0], &ch, 1);
                        if (k == i / 2) {
                                ck_assert_int_eq(n, 1);
                                ck_assert_int_eq(ch, tag);
                        } else
                                ck_assert_int_le(n, 0);
                }
        }
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);
        for (int i = 0; i < PIPES; i++)
                close(p[i][0]);
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* fds queued but never sent, and fds received but never taken, are closed
 * by ipc_conn_free. */
START_TEST(test_conn_fd_free) {
        ipc_conn *a, *b;
        int p[2];
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CAST, 1);

        conn_pair(0, &a, &b);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        close(p[1]);
        ipc_conn_free(a);
        ipc_conn_free(b);
        assert_pipe_eof(p[0]);
        close(p[0]);

        conn_pair(0, &a, &b);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        close(p[1]);
        flush_all(a);
        ipc_conn_free(a);
        /* Read them in, without taking the fds. */
        ipc_frame_free(recv_frame(b));
        ipc_frame_free(recv_frame(b));
        ipc_conn_free(b);
        assert_pipe_eof(p[0]);
        close(p[0]);
}
END_TEST

/* Received fds wait, oldest first, until taken; beyond
 * IPC_MAX_PENDING_FDS they are closed, not leaked. */
START_TEST(test_conn_fd_held) {
        enum { N = IPC_MAX_PENDING_FDS + 6 };
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        int p[N][2];
        for (int i = 0; i < N; i++) {
                ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CAST, (uint64_t) i);
                ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[i][1]), 0);
                close(p[i][1]);
        }
        flush_all(a);
        /* Every frame in before any fd is taken. */
        for (int i = 0; i < N; i++) {
                ipc_frame *g = recv_frame(b);
                ck_assert_uint_eq(g->ref, (uint64_t) i);
                ipc_frame_free(g);
        }
        for (int i = 0; i < IPC_MAX_PENDING_FDS; i++) {
                int fd = ipc_conn_take_fd(b);
                ck_assert_int_ge(fd, 0);
                ck_assert_msg(same_file(fd, p[i][0]), "fd %d taken is not pipe %d's", fd, i);
                close(fd);
                assert_pipe_eof(p[i][0]);
        }
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);
        for (int i = IPC_MAX_PENDING_FDS; i < N; i++)
                assert_pipe_eof(p[i][0]);
        for (int i = 0; i < N; i++)
                close(p[i][0]);
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* A peer sending more fds in one message than one read accepts: the rest
 * are closed (by the kernel), and the frame still comes through. */
/* Shrinking an idle connection gives its buffers back and changes
 * nothing else: frames still flow both ways, in order. */
START_TEST(test_conn_shrink) {
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        for (uint64_t round = 1; round <= 3; round++) {
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CAST, round);
                ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
                ck_assert_int_eq(ipc_conn_flush(a), 0);
                ipc_conn_shrink(a);
                ipc_frame *g = recv_frame(b);
                ck_assert_uint_eq(g->ref, round);
                ipc_frame_free(g);
                ck_assert_uint_eq(ipc_conn_buffered(b), 0);
                ipc_conn_shrink(b);
        }
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

/* By default a connection keeps no fd a peer sends: it is closed at once
 * (the sender's end of the pipe sees EOF), and the frame still arrives. */
START_TEST(test_conn_fd_refused_by_default) {
        int sv[2], p[2];
        ipc_conn *a, *b;
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        ck_assert_int_eq(ipc_conn_new(sv[0], 0, &a), 0);
        ck_assert_int_eq(ipc_conn_new(sv[1], 0, &b), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CAST, 9);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        ck_assert_int_eq(ipc_conn_flush(a), 0);
        close(p[1]);
        ipc_frame *g = recv_frame(b);
        ck_assert_uint_eq(g->ref, 9);
        ipc_frame_free(g);
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);
        assert_pipe_eof(p[0]);
        close(p[0]);
        ipc_conn_free(a);
        ipc_conn_free(b);
}
END_TEST

START_TEST(test_conn_fd_too_many_in_one_message) {
        enum { N = IPC_MAX_FDS_PER_READ + 4 };
        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);
        ipc_conn_set_accept_fds(c, true);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CAST, 5);
        uint8_t wire[16];
        size_t n = ipc_frame_encode(&f, wire);
        int fds[N];
        for (int i = 0; i < N; i++)
                fds[i] = p[1];
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(fds))];
        } control;
        memset(&control, 0, sizeof(control));
        struct iovec iov = { .iov_base = wire, .iov_len = n };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(cm), fds, sizeof(fds));
        ck_assert_int_eq(sendmsg(raw, &mh, 0), (ssize_t) n);
        close(p[1]);

        ipc_frame *g = recv_frame(c);
        ck_assert_uint_eq(g->ref, 5);
        ipc_frame_free(g);
        int got = 0, fd;
        while ((fd = ipc_conn_take_fd(c)) >= 0) {
                ck_assert(same_file(fd, p[0]));
                close(fd);
                got++;
        }
        ck_assert_int_eq(fd, -ENOENT);
        ck_assert_int_eq(got, IPC_MAX_FDS_PER_READ);
        assert_pipe_eof(p[0]);
        close(p[0]);
        ipc_conn_free(c);
        close(raw);
}
END_TEST

START_TEST(test_conn_peer_close_mid_frame) {
        ipc_conn *c;
        int raw;
        conn_raw(0, &c, &raw);
        uint8_t payload[500];
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__CALL, 1, payload, sizeof(payload), 0);
        uint8_t *w;
        size_t n = encode_alloc(&f, &w);

        write_all(raw, w, n / 2);
        close(raw);
        free(w);
        ck_assert_int_eq(ipc_conn_read(c), (int) (n / 2));
        ipc_frame *g = NULL;
        ck_assert_int_eq(ipc_conn_next(c, &g), 0);
        ck_assert_int_eq(ipc_conn_read(c), -ECONNRESET);
        ck_assert_uint_eq(ipc_conn_buffered(c), n / 2);
        ck_assert_int_eq(ipc_conn_next(c, &g), 0);
        /* End of file stays end of file. */
        ck_assert_int_eq(ipc_conn_read(c), -ECONNRESET);
        ipc_conn_free(c);

        /* A clean close between frames: nothing buffered. */
        conn_raw(0, &c, &raw);
        ipc_frame_init(&f, GENSUP__KIND__CAST, 2);
        n = encode_alloc(&f, &w);
        write_all(raw, w, n);
        close(raw);
        free(w);
        g = recv_frame(c);
        ipc_frame_free(g);
        ck_assert_int_eq(ipc_conn_read(c), -ECONNRESET);
        ck_assert_uint_eq(ipc_conn_buffered(c), 0);
        ipc_conn_free(c);
}
END_TEST

/* Moves one frame of len payload bytes from a to b in this process, with
 * small socket buffers so it crosses many reads; returns the reads. */
static int pump_large(size_t len) {
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        int small = 64 * 1024;
        ck_assert_int_eq(setsockopt(ipc_conn_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(setsockopt(ipc_conn_fd(b), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);

        uint8_t *payload = malloc(len);
        ck_assert_ptr_nonnull(payload);
        ipc_frame f;
        frame_with_payload(&f, GENSUP__KIND__CALL, 42, payload, len, 11);
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        /* A small frame behind it, with an fd, must follow it intact. */
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ipc_frame tail;
        ipc_frame_init(&tail, GENSUP__KIND__CAST, 43);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &tail, p[1]), 0);
        close(p[1]);
        free(payload);

        int reads = 0, flushed = -EAGAIN;
        ipc_frame *g = NULL;
        for (;;) {
                if (flushed == -EAGAIN) {
                        flushed = ipc_conn_flush(a);
                        ck_assert_msg(flushed == 0 || flushed == -EAGAIN, "flush: %d", flushed);
                }
                int r = ipc_conn_read(b);
                if (r == -EAGAIN) {
                        /* Nothing to read and nothing left to write would hang. */
                        ck_assert_int_eq(flushed, -EAGAIN);
                        continue;
                }
                ck_assert_int_gt(r, 0);
                reads++;
                r = ipc_conn_next(b, &g);
                ck_assert_int_ge(r, 0);
                if (r == 1)
                        break;
        }
        ck_assert_uint_eq(g->ref, 42);
        assert_payload(g, len, 11);
        ipc_frame_free(g);

        flush_all(a);
        g = recv_frame(b);
        ck_assert_uint_eq(g->ref, 43);
        ipc_frame_free(g);
        int fd = ipc_conn_take_fd(b);
        ck_assert_int_ge(fd, 0);
        /* Both ends of a pipe are one inode. */
        ck_assert(same_file(fd, p[0]));
        close(fd);
        close(p[0]);
        ck_assert_uint_eq(ipc_conn_buffered(b), 0);
        ipc_conn_free(a);
        ipc_conn_free(b);
        return reads;
}

START_TEST(test_conn_large_1mib) {
        ck_assert_int_gt(pump_large(1024 * 1024), 1);
}
END_TEST

START_TEST(test_conn_large_15mib) {
        ck_assert_int_gt(pump_large(15 * 1024 * 1024), 1);
}
END_TEST

enum { FULL_N = 256, FULL_PAYLOAD = 4096, FULL_FD_EVERY = 32 };

static void queue_full_frames(ipc_conn *a, int pipes[][2]) {
        static uint8_t payload[FULL_PAYLOAD];
        for (unsigned i = 0; i < FULL_N; i++) {
                ipc_frame f;
                frame_with_payload(&f, GENSUP__KIND__CAST, i, payload, FULL_PAYLOAD, i);
                if (pipes && i % FULL_FD_EVERY == 0)
                        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, pipes[i / FULL_FD_EVERY][1]), 0);
                else
                        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        }
}

/* Takes every complete frame from b, checking order, payload and fds;
 * returns the next expected index. */
static unsigned take_full_frames(ipc_conn *b, unsigned next, int pipes[][2]) {
        ipc_frame *g;
        int r;
        while ((r = ipc_conn_next(b, &g)) == 1) {
                ck_assert_uint_eq(g->ref, next);
                assert_payload(g, FULL_PAYLOAD, next);
                ipc_frame_free(g);
                if (pipes && next % FULL_FD_EVERY == 0) {
                        int fd = ipc_conn_take_fd(b);
                        ck_assert_int_ge(fd, 0);
                        ck_assert(same_file(fd, pipes[next / FULL_FD_EVERY][0]));
                        close(fd);
                }
                next++;
        }
        ck_assert_int_eq(r, 0);
        return next;
}

/* A flush against a full socket buffer: -EAGAIN, then it completes as the
 * peer (this process, non-blocking) drains. */
START_TEST(test_conn_flush_full_same_process) {
        int pipes[FULL_N / FULL_FD_EVERY][2];
        for (unsigned i = 0; i < FULL_N / FULL_FD_EVERY; i++)
                ck_assert_int_eq(pipe2(pipes[i], O_CLOEXEC), 0);
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        int small = 32 * 1024;
        ck_assert_int_eq(setsockopt(ipc_conn_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);

        queue_full_frames(a, pipes);
        size_t total = ipc_conn_pending(a);
        ck_assert_uint_gt(total, (size_t) FULL_N * FULL_PAYLOAD);

        ck_assert_int_eq(ipc_conn_flush(a), -EAGAIN);
        size_t left = ipc_conn_pending(a);
        ck_assert_uint_gt(left, 0);
        ck_assert_uint_lt(left, total);
        /* Nobody reads, so it stays full. */
        ck_assert_int_eq(ipc_conn_flush(a), -EAGAIN);
        ck_assert_uint_eq(ipc_conn_pending(a), left);
        ck_assert_int_eq(ipc_conn_wait(a, false, 0), 0);

        unsigned next = 0;
        int rounds = 0;
        for (;;) {
                read_available(b);
                next = take_full_frames(b, next, pipes);
                /* The reader has drained, so there is room again. */
                ck_assert_int_gt(ipc_conn_wait(a, false, WAIT_MS) & POLLOUT, 0);
                int r = ipc_conn_flush(a);
                if (r == 0)
                        break;
                ck_assert_int_eq(r, -EAGAIN);
                rounds++;
        }
        ck_assert_int_gt(rounds, 0);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);
        while (next < FULL_N) {
                ck_assert_int_gt(ipc_conn_wait(b, true, WAIT_MS), 0);
                read_available(b);
                next = take_full_frames(b, next, pipes);
        }
        ck_assert_uint_eq(next, FULL_N);
        ck_assert_uint_eq(ipc_conn_buffered(b), 0);
        ck_assert_int_eq(ipc_conn_take_fd(b), -ENOENT);
        ipc_conn_free(a);
        ipc_conn_free(b);
        for (unsigned i = 0; i < FULL_N / FULL_FD_EVERY; i++) {
                close(pipes[i][0]);
                close(pipes[i][1]);
        }
}
END_TEST

/* The same with the reader in a second process. */
START_TEST(test_conn_flush_full_two_processes) {
        int sv[2];
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        int small = 32 * 1024;
        ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        int go[2];
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* The reader: exits 0 if every frame came in order. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(sv[0]);
                close(go[1]);
                char ch;
                /* Wait until the writer has filled the buffer. */
                if (read(go[0], &ch, 1) != 1)
                        _exit(10);
                ipc_conn *b;
                if (ipc_conn_new(sv[1], 0, &b) < 0)
                        _exit(11);
                unsigned next = 0;
                while (next < FULL_N) {
                        ipc_frame *g;
                        int r = ipc_conn_next(b, &g);
                        if (r < 0)
                                _exit(12);
                        if (r == 1) {
                                bool ok = g->ref == next && g->payload.len == FULL_PAYLOAD &&
                                          g->payload.data[FULL_PAYLOAD - 1] == (uint8_t) (next + FULL_PAYLOAD - 1);
                                ipc_frame_free(g);
                                if (!ok)
                                        _exit(13);
                                next++;
                                continue;
                        }
                        r = ipc_conn_read(b);
                        if (r == -EAGAIN)
                                r = ipc_conn_wait(b, true, WAIT_MS) > 0 ? 0 : -ETIMEDOUT;
                        if (r < 0)
                                _exit(14);
                }
                ipc_conn_free(b);
                _exit(0);
        }
        close(sv[1]);
        close(go[0]);

        ipc_conn *a;
        ck_assert_int_eq(ipc_conn_new(sv[0], 0, &a), 0);
        queue_full_frames(a, NULL);
        ck_assert_int_eq(ipc_conn_flush(a), -EAGAIN);
        ck_assert_uint_gt(ipc_conn_pending(a), 0);
        ck_assert_int_eq(write(go[1], "g", 1), 1);
        close(go[1]);
        flush_all(a);
        ck_assert_uint_eq(ipc_conn_pending(a), 0);

        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(status, 0);   /* exited 0 */
        ipc_conn_free(a);
}
END_TEST

START_TEST(test_conn_flush_peer_closed) {
        /* A missing MSG_NOSIGNAL would kill this test with SIGPIPE. */
        signal(SIGPIPE, SIG_DFL);

        ipc_conn *a;
        int raw;
        conn_raw(0, &a, &raw);
        close(raw);
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CAST, 1);
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        ck_assert_int_eq(ipc_conn_flush(a), -ECONNRESET);
        ck_assert_uint_gt(ipc_conn_pending(a), 0);
        ck_assert_int_eq(ipc_conn_read(a), -ECONNRESET);
        ipc_conn_free(a);

        /* The peer closes with our frames unread: both directions report
         * the reset. */
        ipc_conn *b;
        conn_pair(0, &a, &b);
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        ck_assert_int_eq(ipc_conn_flush(a), 0);
        ipc_conn_free(b);
        ck_assert_int_eq(ipc_conn_read(a), -ECONNRESET);
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        ck_assert_int_eq(ipc_conn_flush(a), -ECONNRESET);
        ipc_conn_free(a);

        /* With an fd attached. */
        conn_raw(0, &a, &raw);
        close(raw);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(ipc_conn_queue_fd(a, &f, p[1]), 0);
        ck_assert_int_eq(ipc_conn_flush(a), -ECONNRESET);
        ipc_conn_free(a);
        close(p[1]);
        assert_pipe_eof(p[0]);
        close(p[0]);
}
END_TEST

START_TEST(test_conn_wait) {
        ipc_conn *a, *b;
        conn_pair(0, &a, &b);
        /* Nothing to read and nothing to write: a timeout. */
        ck_assert_int_eq(ipc_conn_wait(b, true, 0), 0);
        ck_assert_int_eq(ipc_conn_wait(a, false, 0), 0);

        /* With output pending it waits for writability too. */
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CAST, 1);
        ck_assert_int_eq(ipc_conn_queue(a, &f), 0);
        ck_assert_int_ne(ipc_conn_wait(a, false, WAIT_MS) & POLLOUT, 0);
        ck_assert_int_eq(ipc_conn_flush(a), 0);

        int r = ipc_conn_wait(b, true, WAIT_MS);
        ck_assert_int_ne(r & POLLIN, 0);
        ipc_frame_free(recv_frame(b));

        /* The peer's close wakes a reader. */
        ipc_conn_free(a);
        r = ipc_conn_wait(b, true, WAIT_MS);
        ck_assert_int_gt(r, 0);
        ck_assert_int_eq(ipc_conn_read(b), -ECONNRESET);
        ipc_conn_free(b);
}
END_TEST

/* ---- sockets on paths ---- */

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void tmpdir_setup(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/gensup-ipct-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void) {
        if (tmpdir[0])
                (void) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
}

/* Paths live on the stack: a forked child then leaks nothing that
 * valgrind could count against it. */
typedef struct tpath {
        char s[256];
} tpath;

static tpath tmp_path(const char *name) {
        tpath p;
        int n = snprintf(p.s, sizeof(p.s), "%s/%s", tmpdir, name);
        ck_assert_int_lt(n, (int) sizeof(p.s));
        return p;
}

/* Accepts one connection on a non-blocking listener, waiting for it. */
static int accept_one(int lfd) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

START_TEST(test_sock_listen_connect) {
        tpath path = tmp_path("a.sock");
        int lfd = ipc_listen(path.s, 8);
        ck_assert_int_ge(lfd, 0);
        assert_cloexec(lfd);
        ck_assert_int_ne(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
        struct stat st;
        ck_assert_int_eq(lstat(path.s, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));

        int cfd = ipc_connect(path.s);
        ck_assert_int_ge(cfd, 0);
        assert_cloexec(cfd);
        int sfd = accept_one(lfd);

        /* Frames flow over it both ways. */
        ipc_conn *client, *server;
        ck_assert_int_eq(ipc_conn_new(cfd, 0, &client), 0);
        ck_assert_int_eq(ipc_conn_new(sfd, 0, &server), 0);
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CALL, 9);
        ck_assert_int_eq(ipc_conn_queue(client, &f), 0);
        flush_all(client);
        ipc_frame *g = recv_frame(server);
        ck_assert_uint_eq(g->ref, 9);
        ipc_frame_free(g);
        ipc_frame_init(&f, GENSUP__KIND__REPLY, 9);
        ck_assert_int_eq(ipc_conn_queue(server, &f), 0);
        flush_all(server);
        g = recv_frame(client);
        ck_assert_int_eq(g->kind, GENSUP__KIND__REPLY);
        ipc_frame_free(g);

        ipc_conn_free(client);
        ipc_conn_free(server);
        close(lfd);
}
END_TEST

START_TEST(test_sock_stale_replaced) {
        tpath path = tmp_path("stale.sock");
        int lfd = ipc_listen(path.s, 8);
        ck_assert_int_ge(lfd, 0);
        close(lfd);
        /* The file is left behind, nobody listens: connect is refused. */
        struct stat st;
        ck_assert_int_eq(lstat(path.s, &st), 0);
        ck_assert_int_eq(ipc_connect(path.s), -ECONNREFUSED);

        lfd = ipc_listen(path.s, 8);
        ck_assert_int_ge(lfd, 0);
        int cfd = ipc_connect(path.s);
        ck_assert_int_ge(cfd, 0);
        close(accept_one(lfd));
        close(cfd);
        close(lfd);

        /* A file that is not a socket is left alone. */
        tpath file = tmp_path("plain");
        int fd = open(file.s, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(ipc_listen(file.s, 8), -EADDRINUSE);
        ck_assert_int_eq(lstat(file.s, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_sock_path_length) {
        struct sockaddr_un sa;
        size_t max = sizeof(sa.sun_path) - 1;   /* room for the NUL */
        size_t dl = strlen(tmpdir) + 1;
        char name[sizeof(sa.sun_path) + 2];

        /* The longest path that fits works. */
        memset(name, 'n', max - dl);
        name[max - dl] = '\0';
        tpath path = tmp_path(name);
        ck_assert_uint_eq(strlen(path.s), max);
        int lfd = ipc_listen(path.s, 8);
        ck_assert_int_ge(lfd, 0);
        int cfd = ipc_connect(path.s);
        ck_assert_int_ge(cfd, 0);
        close(accept_one(lfd));
        close(cfd);
        close(lfd);

        /* One more byte does not. */
        memset(name, 'n', max - dl + 1);
        name[max - dl + 1] = '\0';
        path = tmp_path(name);
        ck_assert_uint_eq(strlen(path.s), max + 1);
        ck_assert_int_eq(ipc_listen(path.s, 8), -ENAMETOOLONG);
        ck_assert_int_eq(ipc_connect(path.s), -ENAMETOOLONG);
        struct stat st;
        ck_assert_int_eq(lstat(path.s, &st), -1);
}
END_TEST

START_TEST(test_sock_connect_nothing) {
        tpath path = tmp_path("nobody.sock");
        ck_assert_int_eq(ipc_connect(path.s), -ENOENT);
        path = tmp_path("no/such/dir.sock");
        ck_assert_int_eq(ipc_connect(path.s), -ENOENT);
        ck_assert_int_eq(ipc_listen("/nonexistent-gensup-dir/x.sock", 8), -ENOENT);
}
END_TEST

START_TEST(test_sock_peer_cred) {
        int sv[2];
        ck_assert_int_eq(ipc_socketpair(sv), 0);
        struct ucred uc;
        ck_assert_int_eq(ipc_peer_cred(sv[0], &uc), 0);
        ck_assert_int_eq(uc.pid, getpid());
        ck_assert_int_eq(uc.uid, getuid());
        ck_assert_int_eq(uc.gid, getgid());
        close(sv[0]);
        close(sv[1]);

        /* Over a path, from another process: its pid, not ours. */
        tpath path = tmp_path("cred.sock");
        int lfd = ipc_listen(path.s, 8);
        ck_assert_int_ge(lfd, 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = ipc_connect(path.s);
                if (fd < 0)
                        _exit(1);
                char ch;
                /* Hold the connection until the parent closes it. */
                if (read(fd, &ch, 1) < 0)
                        _exit(2);
                _exit(0);
        }
        int sfd = accept_one(lfd);
        ck_assert_int_eq(ipc_peer_cred(sfd, &uc), 0);
        ck_assert_int_eq(uc.pid, pid);
        ck_assert_int_eq(uc.uid, getuid());
        close(sfd);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(status, 0);   /* exited 0 */
        close(lfd);

        /* Not a socket. */
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        uc.pid = 4242;
        ck_assert_int_eq(ipc_peer_cred(p[0], &uc), -ENOTSOCK);
        ck_assert_int_eq(uc.pid, 4242);
        close(p[0]);
        close(p[1]);
}
END_TEST

/* Saves and restores an environment variable around a test (Check may run
 * without fork). */
typedef struct saved_env {
        const char *name;
        char *value;
} saved_env;

static saved_env env_save(const char *name) {
        const char *v = getenv(name);
        return (saved_env) { name, v ? strdup(v) : NULL };
}

static void env_restore(saved_env *s) {
        if (s->value)
                setenv(s->name, s->value, 1);
        else
                unsetenv(s->name);
        free(s->value);
}

START_TEST(test_sock_runtime_dir) {
        saved_env g = env_save("GENSUP_RUNTIME_DIR"), x = env_save("XDG_RUNTIME_DIR");
        char *dir = NULL;

        setenv("GENSUP_RUNTIME_DIR", "/tmp/gensup-rt-test", 1);
        setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
        ck_assert_int_eq(ipc_runtime_dir(&dir), 0);
        ck_assert_str_eq(dir, "/tmp/gensup-rt-test");
        free(dir);

        /* Empty counts as unset. */
        setenv("GENSUP_RUNTIME_DIR", "", 1);
        dir = NULL;
        ck_assert_int_eq(ipc_runtime_dir(&dir), 0);
        ck_assert_str_eq(dir, geteuid() == 0 ? "/run/gensup" : "/run/user/4242/gensup");
        free(dir);

        unsetenv("GENSUP_RUNTIME_DIR");
        if (geteuid() == 0) {
                dir = NULL;
                ck_assert_int_eq(ipc_runtime_dir(&dir), 0);
                ck_assert_str_eq(dir, "/run/gensup");
                free(dir);
                /* The non-root branches, in a child that drops to nobody. */
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        /* The parent restores these; the child only leaves. */
                        free(g.value);
                        free(x.value);
                        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                                _exit(10);
                        char *d = NULL;
                        if (ipc_runtime_dir(&d) < 0 || strcmp(d, "/run/user/4242/gensup") != 0)
                                _exit(11);
                        free(d);
                        unsetenv("XDG_RUNTIME_DIR");
                        d = NULL;
                        if (ipc_runtime_dir(&d) != -ENOENT || d)
                                _exit(12);
                        setenv("XDG_RUNTIME_DIR", "", 1);
                        if (ipc_runtime_dir(&d) != -ENOENT || d)
                                _exit(13);
                        _exit(0);
                }
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_int_eq(status, 0);   /* exited 0 */
        } else {
                dir = NULL;
                ck_assert_int_eq(ipc_runtime_dir(&dir), 0);
                ck_assert_str_eq(dir, "/run/user/4242/gensup");
                free(dir);
                unsetenv("XDG_RUNTIME_DIR");
                dir = NULL;
                ck_assert_int_eq(ipc_runtime_dir(&dir), -ENOENT);
                ck_assert_ptr_null(dir);
        }
        env_restore(&g);
        env_restore(&x);
}
END_TEST

START_TEST(test_sock_socket_path) {
        char *p = NULL;
        ck_assert_int_eq(ipc_socket_path("/run/gensup", "kitty", &p), 0);
        ck_assert_str_eq(p, "/run/gensup/kitty.sock");
        free(p);
        ck_assert_int_eq(ipc_socket_path("/run/gensup", "control", &p), 0);
        ck_assert_str_eq(p, "/run/gensup/control.sock");
        free(p);
        /* A name with a '/' is a path, taken as it is. */
        ck_assert_int_eq(ipc_socket_path("/run/gensup", "/tmp/other.sock", &p), 0);
        ck_assert_str_eq(p, "/tmp/other.sock");
        free(p);
        ck_assert_int_eq(ipc_socket_path("/run/gensup", "./here", &p), 0);
        ck_assert_str_eq(p, "./here");
        free(p);
}
END_TEST

START_TEST(test_sock_mkdir_p) {
        tpath deep = tmp_path("a/b/c");
        ck_assert_int_eq(ipc_mkdir_p(deep.s, 0755), 0);
        struct stat st;
        ck_assert_int_eq(stat(deep.s, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        /* Again: it exists, fine. */
        ck_assert_int_eq(ipc_mkdir_p(deep.s, 0755), 0);

        tpath slash = tmp_path("d/e/");
        ck_assert_int_eq(ipc_mkdir_p(slash.s, 0755), 0);
        ck_assert_int_eq(stat(slash.s, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));

        /* A path through a regular file cannot be a directory. */
        tpath file = tmp_path("f");
        int fd = open(file.s, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        tpath under = tmp_path("f/g");
        ck_assert_int_eq(ipc_mkdir_p(under.s, 0755), -ENOTDIR);
        /* Nor is the file itself (mkdir -p says "File exists"). */
        int r = ipc_mkdir_p(file.s, 0755);
        ck_assert_msg(r == -ENOTDIR || r == -EEXIST, "ipc_mkdir_p on a regular file: %d, want -ENOTDIR or -EEXIST", r);
}
END_TEST

/* ---- trusted directories, socket modes ---- */

static void assert_fault(const char *dir, const char *at, const char *why) {
        ipc_dir_fault f = { 0 };
        ck_assert_int_eq(ipc_dir_open(dir, geteuid(), 0, 0, &f), -EPERM);
        ck_assert_ptr_nonnull(f.path);
        ck_assert_str_eq(f.path, at);
        ck_assert_str_eq(f.why, why);
        ipc_dir_fault_done(&f);
        ck_assert_ptr_null(f.path);
}

START_TEST(test_dir_foreign_owner) {
        if (geteuid() != 0)
                return;   /* only root can give a directory away */
        tpath foreign = tmp_path("foreign");
        ck_assert_int_eq(mkdir(foreign.s, 0755), 0);
        ck_assert_int_eq(chown(foreign.s, 65534, 65534), 0);
        ck_assert_int_eq(ipc_mkdir_p(foreign.s, 0755), -EPERM);
        assert_fault(foreign.s, foreign.s, "owned by another user");
        tpath sock = tmp_path("foreign/x.sock");
        ck_assert_int_eq(ipc_dir_check_socket(sock.s, NULL), -EPERM);
        ck_assert_int_eq(ipc_listen(sock.s, 8), -EPERM);
        struct stat st;
        ck_assert_int_lt(lstat(sock.s, &st), 0);

        /* Root's own directory below it is no better: nobody may rename it. */
        tpath below = tmp_path("foreign/mine");
        ck_assert_int_eq(mkdir(below.s, 0755), 0);
        ck_assert_int_eq(ipc_mkdir_p(below.s, 0755), -EPERM);
        assert_fault(below.s, foreign.s, "owned by another user");

        /* A link nobody owns is not followed, wherever it points. */
        tpath target = tmp_path("target"), link = tmp_path("link");
        ck_assert_int_eq(mkdir(target.s, 0755), 0);
        ck_assert_int_eq(symlink(target.s, link.s), 0);
        ck_assert_int_eq(ipc_mkdir_p(link.s, 0755), 0);   /* root's link: fine */
        ck_assert_int_eq(lchown(link.s, 65534, 65534), 0);
        ck_assert_int_eq(ipc_mkdir_p(link.s, 0755), -EPERM);
        assert_fault(link.s, link.s, "a symbolic link owned by another user");
}
END_TEST

START_TEST(test_dir_writable) {
        tpath open_dir = tmp_path("open");
        ck_assert_int_eq(mkdir(open_dir.s, 0755), 0);
        ck_assert_int_eq(chmod(open_dir.s, 0777), 0);
        ck_assert_int_eq(ipc_mkdir_p(open_dir.s, 0755), -EPERM);
        assert_fault(open_dir.s, open_dir.s, "writable by group or others");
        ck_assert_int_eq(chmod(open_dir.s, 0775), 0);
        assert_fault(open_dir.s, open_dir.s, "writable by group or others");

        /* Sticky, as /tmp: fine above, not as the directory itself. */
        ck_assert_int_eq(chmod(open_dir.s, 01777), 0);
        assert_fault(open_dir.s, open_dir.s, "writable by group or others");
        tpath sub = tmp_path("open/sub");
        ck_assert_int_eq(ipc_mkdir_p(sub.s, 0755), 0);
        ck_assert_int_eq(chmod(open_dir.s, 0777), 0);
        assert_fault(sub.s, open_dir.s, "writable by group or others");

        /* Not a directory. */
        tpath file = tmp_path("plainfile");
        int fd = open(file.s, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(ipc_dir_open(file.s, geteuid(), 0, 0, NULL), -ENOTDIR);
}
END_TEST

START_TEST(test_dir_made_with_mode) {
        umask(077);
        tpath deep = tmp_path("made/a/b");
        ck_assert_int_eq(ipc_mkdir_p(deep.s, 0750), 0);
        struct stat st;
        ck_assert_int_eq(stat(deep.s, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0750);
        tpath parent = tmp_path("made/a");
        ck_assert_int_eq(stat(parent.s, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0755);
        /* A relative path is taken from the working directory. */
        ck_assert_int_eq(chdir(tmpdir), 0);
        int fd = ipc_dir_open("made/a", geteuid(), 0, 0, NULL);
        ck_assert_int_ge(fd, 0);
        assert_cloexec(fd);
        close(fd);
        ck_assert_int_eq(ipc_dir_check_socket("made/a/x.sock", NULL), 0);
        ck_assert_int_eq(ipc_dir_check_socket("x.sock", NULL), 0);
}
END_TEST

START_TEST(test_sock_modes) {
        /* The mode is exact, whatever the umask. */
        umask(077);
        ipc_sock_perm perm = { .mode = 0640, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        if (geteuid() == 0)
                perm.gid = 4242;
        tpath path = tmp_path("moded.sock");
        int lfd = ipc_listen_as(path.s, 8, &perm);
        ck_assert_int_ge(lfd, 0);
        struct stat st;
        ck_assert_int_eq(lstat(path.s, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        ck_assert_uint_eq(st.st_gid, geteuid() == 0 ? 4242 : getegid());
        close(lfd);
        /* The umask is the process's again. */
        ck_assert_uint_eq(umask(077), 077);

        /* Modes, users and groups as the config spells them. */
        ipc_sock_perm p = { 0660, (uid_t) -1, (gid_t) -1 };
        ck_assert_int_eq(ipc_sock_perm_parse("0600", "root", "4242", &p), 0);
        ck_assert_uint_eq(p.mode, 0600);
        ck_assert_uint_eq(p.uid, 0);
        ck_assert_uint_eq(p.gid, 4242);
        ck_assert_int_eq(ipc_sock_perm_parse("777", NULL, NULL, &p), 0);
        ck_assert_uint_eq(p.mode, 0777);
        const char *bad[] = { "", "0999", "01777", "-1", "+1", "0x1ff", " 660", "rw-rw----" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_int_eq(ipc_sock_perm_parse(bad[i], NULL, NULL, &p), -EINVAL);
        ck_assert_int_eq(ipc_sock_perm_parse(NULL, "no-such-user-xyz", NULL, &p), -ESRCH);
        ck_assert_int_eq(ipc_sock_perm_parse(NULL, NULL, "no-such-group-xyz", &p), -ESRCH);
        /* A failed parse changes nothing. */
        ck_assert_uint_eq(p.mode, 0777);
        ck_assert_uint_eq(p.uid, 0);
}
END_TEST

START_TEST(test_text_clean) {
        /* C1 controls: U+009B CSI, U+0085 NEL; bidi: U+202E RLO, U+2066
         * LRI, U+200F RLM; U+2028 LINE SEPARATOR; ESC and DEL. */
        char *t = ipc_text_clean("a\xc2\x9b" "31m b\xc2\x85 c\xe2\x80\xae d\xe2\x81\xa6 e\xe2\x80\x8f f\xe2\x80\xa8 "
                                 "g\x1b[0m h\x7f", 1000, false);
        ck_assert_str_eq(t, "a?31m b? c? d? e? f? g?[0m h?");
        free(t);
        /* What is only text stays: accents, other scripts, emoji, U+00A0. */
        t = ipc_text_clean("caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x90\xb1 \xc2\xa0|", 1000, false);
        ck_assert_str_eq(t, "caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x90\xb1 \xc2\xa0|");
        free(t);
        t = ipc_text_clean("one\ttwo\nthree\r", 1000, true);
        ck_assert_str_eq(t, "one\ttwo\nthree?");
        free(t);
        /* In place, a NUL included. */
        char buf[] = { 'x', '\0', 'y', (char) 0xc2, (char) 0x9b, 'z' };
        size_t n = ipc_text_sanitize(buf, sizeof(buf), false);
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(memcmp(buf, "x?y?z", 5), 0);
}
END_TEST

Suite *ipc_suite(void) {
        Suite *s = suite_create("ipc");

        TCase *tc = tcase_create("frame");
        tcase_add_test(tc, test_varint_round_trip);
        tcase_add_test(tc, test_varint_known_bytes);
        tcase_add_test(tc, test_varint_truncated);
        tcase_add_test(tc, test_varint_too_long);
        tcase_add_test(tc, test_frame_encode_unpack);
        tcase_add_test(tc, test_frame_unpack_garbage);
        tcase_add_test(tc, test_frame_unknown_fields_skipped);
        tcase_add_test(tc, test_frame_scan);
        suite_add_tcase(s, tc);

        tc = tcase_create("conn");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_conn_basics);
        tcase_add_test(tc, test_conn_round_trip);
        tcase_add_test(tc, test_conn_batching);
        tcase_add_test(tc, test_conn_split_reads);
        tcase_add_test(tc, test_conn_one_byte_at_a_time);
        tcase_add_test(tc, test_conn_oversize_default);
        tcase_add_test(tc, test_conn_oversize_custom);
        tcase_add_test(tc, test_conn_garbage);
        tcase_add_test(tc, test_conn_truncated_prefix);
        tcase_add_test(tc, test_conn_fd_passing);
        tcase_add_test(tc, test_conn_fd_order);
        tcase_add_test(tc, test_conn_fd_free);
        tcase_add_test(tc, test_conn_fd_held);
        tcase_add_test(tc, test_conn_fd_refused_by_default);
        tcase_add_test(tc, test_conn_shrink);
        tcase_add_test(tc, test_conn_fd_too_many_in_one_message);
        tcase_add_test(tc, test_conn_peer_close_mid_frame);
        tcase_add_test(tc, test_conn_large_1mib);
        tcase_add_test(tc, test_conn_large_15mib);
        tcase_add_test(tc, test_conn_flush_full_same_process);
        tcase_add_test(tc, test_conn_flush_full_two_processes);
        tcase_add_test(tc, test_conn_flush_peer_closed);
        tcase_add_test(tc, test_conn_wait);
        suite_add_tcase(s, tc);

        tc = tcase_create("sock");
        tcase_set_timeout(tc, 20);
        tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
        tcase_add_test(tc, test_sock_listen_connect);
        tcase_add_test(tc, test_sock_stale_replaced);
        tcase_add_test(tc, test_sock_path_length);
        tcase_add_test(tc, test_sock_connect_nothing);
        tcase_add_test(tc, test_sock_peer_cred);
        tcase_add_test(tc, test_sock_runtime_dir);
        tcase_add_test(tc, test_sock_socket_path);
        tcase_add_test(tc, test_sock_mkdir_p);
        tcase_add_test(tc, test_dir_foreign_owner);
        tcase_add_test(tc, test_dir_writable);
        tcase_add_test(tc, test_dir_made_with_mode);
        tcase_add_test(tc, test_sock_modes);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_text_clean);
        suite_add_tcase(s, tc);

        return s;
}
