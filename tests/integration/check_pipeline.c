/* check_pipeline.c: pipelined requests and batched casts end to end
 * (gs_call(3) BATCHING, ASYNCHRONOUS REQUESTS): a real gen_server built
 * with the public API in a forked child, the real client, real sockets.
 *
 * The server "seq" answers every call with its payload and checks that
 * the payloads "s<N>" of calls and casts come in the order they were
 * made; "order" answers "<seen> <out of order>". "stall" blocks the
 * server until a byte comes on a pipe (a server that stops reading);
 * "stop" ends it with the frames after it unread.
 *
 * A fake server written with ipc/ alone answers a ref nobody asked for
 * before each real answer, and can close the connection in the middle
 * of a batch of answers (half a frame written). Orderings are forced by
 * the servers, never by timing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gensup.h"
#include "it.h"

#define T_MS IT_WAIT_MS

/* ---- the gen_server "seq" ---- */

typedef struct seq_state {
        uint64_t seen, next, disorder;
} seq_state;

static int stall_fd = -1;   /* the server's end of the stall pipe */

static void seq_note(seq_state *st, const gs_msg *m) {
        char num[24];

        const char *d = (const char *) m->data;

        if (m->len < 2 || m->len >= sizeof(num) || d[0] != 's' || d[1] < '0' || d[1] > '9')
                return;
        memcpy(num, (const char *) m->data + 1, m->len - 1);
        num[m->len - 1] = 0;
        uint64_t n = strtoull(num, NULL, 10);
        if (n != st->next)
                st->disorder++;
        st->next = n + 1;
        st->seen++;
}

static bool msg_is(const gs_msg *m, const char *s) {
        return m->len == strlen(s) && memcmp(m->data, s, m->len) == 0;
}

static gs_ret seq_init(gs_server *s, int argc, char **argv, void **ret_state) {
        static seq_state st;

        *ret_state = &st;
        return gs_ret_ok();
}

static gs_ret seq_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        seq_state *st = state;
        char text[64];

        if (msg_is(req, "stop"))
                return gs_ret_stop("normal");
        if (msg_is(req, "stall")) {
                char b;
                while (read(stall_fd, &b, 1) < 0 && errno == EINTR)
                        ;
        }
        if (msg_is(req, "order")) {
                int n = snprintf(text, sizeof(text), "%llu %llu", (unsigned long long) st->seen,
                                 (unsigned long long) st->disorder);
                return gs_buf_set(reply, text, (size_t) n) < 0 ? gs_ret_stop("enomem") : gs_ret_reply();
        }
        seq_note(st, req);
        return gs_buf_set(reply, req->data, req->len) < 0 ? gs_ret_stop("enomem") : gs_ret_reply();
}

static gs_ret seq_cast(gs_server *s, void *state, const gs_msg *req) {
        seq_note(state, req);
        return gs_ret_ok();
}

static const gs_server_ops seq_ops = {
        .init = seq_init,
        .handle_call = seq_call,
        .handle_cast = seq_cast,
};

static pid_t seq_pid = -1;

/* Starts "seq" on <tmpdir>/seq.sock (stall_in: its stall pipe, or -1). */
static char *seq_start(int stall_in) {
        char *path = it_path("seq.sock");
        pid_t parent = getpid();

        seq_pid = fork();
        ck_assert_int_ge(seq_pid, 0);
        if (seq_pid == 0) {
                char name[] = "seq";
                char *argv[] = { name, NULL };
                gs_server_options o = { .name = "seq", .socket_path = path };
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                stall_fd = stall_in;
                (void) unsetenv("GENSUP_CONTROL_FD");
                (void) unsetenv("LISTEN_FDS");
                _exit(gs_server_main_with(&seq_ops, &o, 1, argv));
        }
        ck_assert_int_eq(it_wait_socket(path, T_MS), 0);
        return path;
}

static void seq_stop(void) {
        if (seq_pid > 0)
                it_kill(seq_pid);
        seq_pid = -1;
}

static gs_client *connect_path(const char *path) {
        gs_client *c = NULL;

        ck_assert_int_eq(gs_client_connect(path, &c), 0);
        return c;
}

static void assert_reply(const gs_buf *b, const char *want) {
        ck_assert_uint_eq(b->len, strlen(want));
        ck_assert_int_eq(memcmp(b->data, want, b->len), 0);
}

static void assert_order(gs_client *c, unsigned long long seen) {
        gs_buf reply = GS_BUF_INIT;
        char want[64];

        ck_assert_int_eq(gs_call(c, "order", 5, T_MS, &reply), 0);
        snprintf(want, sizeof(want), "%llu 0", seen);
        char got[64] = "";
        memcpy(got, reply.data, reply.len < sizeof(got) - 1 ? reply.len : sizeof(got) - 1);
        ck_assert_str_eq(got, want);
        gs_buf_done(&reply);
}

/* ---- pipelined requests ---- */

/* Thousands of requests in flight before the first answer is taken (the
 * client must read answers while it waits for room to send), then taken
 * in order, then the same taken last first: every answer is its own
 * request's. */
START_TEST(test_many_outstanding) {
        const unsigned n = (unsigned) it_scaled(20000, 3000);
        gs_reqid *ids = calloc(n, sizeof(*ids));
        gs_buf reply = GS_BUF_INIT;
        char m[32];

        ck_assert_ptr_nonnull(ids);
        it_tmpdir();
        gs_client *c = connect_path(seq_start(-1));
        for (int round = 0; round < 2; round++) {
                for (unsigned i = 0; i < n; i++) {
                        snprintf(m, sizeof(m), "s%u", round * n + i);
                        ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[i]), 0);
                        if (i > 0)
                                ck_assert_uint_gt(ids[i], ids[i - 1]);
                }
                for (unsigned k = 0; k < n; k++) {
                        unsigned i = round == 0 ? k : n - 1 - k;
                        snprintf(m, sizeof(m), "s%u", round * n + i);
                        ck_assert_int_eq(gs_receive_response(c, ids[i], T_MS, &reply), 0);
                        assert_reply(&reply, m);
                        /* Taken: it is no longer outstanding. */
                        ck_assert_int_eq(gs_check_response(c, ids[i], &reply), -ENOENT);
                }
        }
        assert_order(c, 2ull * n);
        gs_buf_done(&reply);
        gs_client_free(c);
        free(ids);
        seq_stop();
}
END_TEST

/* The benchmark's pattern (a window of requests, one new per answer)
 * with casts between the requests: the server sees every cast and
 * request in the order they were made, and each answer is its own. */
START_TEST(test_casts_between_requests) {
        const unsigned n = (unsigned) it_scaled(50000, 5000), window = 64;
        gs_reqid ids[64];
        unsigned reqno[64];
        gs_buf reply = GS_BUF_INIT;
        unsigned seq = 0, sent = 0, done = 0;
        char m[32];

        it_tmpdir();
        gs_client *c = connect_path(seq_start(-1));
        while (done < n) {
                while (sent < n && sent - done < window) {
                        /* Three casts, then a request. */
                        for (int k = 0; k < 3; k++) {
                                snprintf(m, sizeof(m), "s%u", seq++);
                                ck_assert_int_eq(gs_cast(c, m, strlen(m)), 0);
                        }
                        reqno[sent % window] = seq;
                        snprintf(m, sizeof(m), "s%u", seq++);
                        ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[sent % window]), 0);
                        sent++;
                }
                ck_assert_int_eq(gs_receive_response(c, ids[done % window], T_MS, &reply), 0);
                snprintf(m, sizeof(m), "s%u", reqno[done % window]);
                assert_reply(&reply, m);
                done++;
        }
        /* Casts after the last request leave before the next call. */
        for (int k = 0; k < 100; k++) {
                snprintf(m, sizeof(m), "s%u", seq++);
                ck_assert_int_eq(gs_cast(c, m, strlen(m)), 0);
        }
        assert_order(c, seq);
        gs_buf_done(&reply);
        gs_client_free(c);
        seq_stop();
}
END_TEST

/* ---- backpressure ---- */

static int release_fd = -1;
static volatile sig_atomic_t released;

static void on_alarm(int sig) {
        (void) sig;
        released = 1;
        (void) !write(release_fd, "x", 1);
}

/* A server that stops reading (stalled in a call): casts and requests
 * with default settings wait for room (gs_call(3): a cast never queues
 * without bound), none is lost, and once the server goes on, everything
 * arrives in order. The server is let go by SIGALRM; the casts cannot
 * all fit in the socket buffers, so the client must have waited for it. */
START_TEST(test_backpressure) {
        const unsigned n = (unsigned) it_scaled(400000, 400000);   /* about 8 MiB of frames */
        gs_reqid first, last;
        gs_buf reply = GS_BUF_INIT;
        int p[2];
        char m[32];

        it_tmpdir();
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        gs_client *c = connect_path(seq_start(p[0]));
        close(p[0]);
        release_fd = p[1];
        ck_assert_int_eq(gs_send_request(c, "stall", 5, &first), 0);
        struct sigaction sa = { .sa_handler = on_alarm };
        ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
        released = 0;
        alarm(1);
        for (unsigned i = 0; i < n; i++) {
                snprintf(m, sizeof(m), "s%u", i);
                ck_assert_int_eq(gs_cast(c, m, strlen(m)), 0);
        }
        snprintf(m, sizeof(m), "s%u", n);
        ck_assert_int_eq(gs_send_request(c, m, strlen(m), &last), 0);
        ck_assert_int_eq(released, 1);
        ck_assert_int_eq(gs_receive_response(c, last, T_MS, &reply), 0);
        assert_reply(&reply, m);
        ck_assert_int_eq(gs_receive_response(c, first, T_MS, &reply), 0);
        assert_reply(&reply, "stall");
        assert_order(c, n + 1ull);
        gs_buf_done(&reply);
        gs_client_free(c);
        close(p[1]);
        seq_stop();
}
END_TEST

/* ---- a server that ends in the middle of a batch ---- */

/* Requests after "stop" in the same batch are never answered: they fail
 * with -ECONNRESET; those before it got their answers. */
START_TEST(test_stop_mid_batch) {
        const unsigned n = 64, stop_at = 40;
        gs_reqid ids[64];
        gs_buf reply = GS_BUF_INIT;
        char m[32];

        it_tmpdir();
        gs_client *c = connect_path(seq_start(-1));
        for (unsigned i = 0; i < n; i++) {
                if (i == stop_at)
                        snprintf(m, sizeof(m), "stop");
                else
                        snprintf(m, sizeof(m), "s%u", i);
                ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[i]), 0);
        }
        for (unsigned i = 0; i < n; i++) {
                int r = gs_receive_response(c, ids[i], T_MS, &reply);
                if (i < stop_at) {
                        ck_assert_int_eq(r, 0);
                        snprintf(m, sizeof(m), "s%u", i);
                        assert_reply(&reply, m);
                } else
                        ck_assert_int_eq(r, -ECONNRESET);
        }
        ck_assert_int_eq(gs_cast(c, "s0", 2), -ECONNRESET);
        int status;
        ck_assert_int_eq(it_wait_exit(seq_pid, T_MS, &status), 0);
        seq_pid = -1;
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

/* ---- the fake server ---- */

typedef enum fake_mode {
        FAKE_STRAY,   /* before each answer, a REPLY and an ERROR for refs nobody asked for */
        FAKE_CUT,     /* answers the first cut_after calls of a batch, then half a frame, then closes */
        _FAKE_MODE_MAX,
} fake_mode;

static void fake_reply(ipc_conn *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len) {
        ipc_frame f;

        ipc_frame_init(&f, kind, ref);
        f.payload.data = (uint8_t *) data;
        f.payload.len = len;
        if (kind == GENSUP__KIND__ERROR) {
                f.payload.len = 0;
                f.code = EPERM;
                f.reason = (char *) "not yours";
        }
        ck_assert_int_eq(ipc_conn_queue(c, &f), 0);
}

static void fake_flush(ipc_conn *c) {
        while (ipc_conn_flush(c) == -EAGAIN)
                (void) ipc_conn_wait(c, false, -1);
}

/* Serves one connection until its end; in FAKE_CUT mode it answers cut_after calls,
 * then writes the first bytes of the next answer and exits. */
static void fake_serve(ipc_conn *c, fake_mode mode, unsigned cut_after) {
        unsigned answered = 0;

        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r < 0)
                        _exit(2);
                if (r == 0) {
                        fake_flush(c);
                        if (ipc_conn_wait(c, true, -1) < 0 || ipc_conn_read(c) == -ECONNRESET)
                                return;
                        continue;
                }
                if (f->kind == GENSUP__KIND__CALL) {
                        if (mode == FAKE_STRAY) {
                                fake_reply(c, GENSUP__KIND__REPLY, f->ref + 1000000, "stray", 5);
                                fake_reply(c, GENSUP__KIND__ERROR, f->ref + 2000000, NULL, 0);
                        }
                        if (mode == FAKE_CUT && answered == cut_after) {
                                /* Half of an answer, then the end. */
                                ipc_conn *tmp;
                                int sv[2];
                                ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                                ck_assert_int_eq(ipc_conn_new(sv[0], 0, &tmp), 0);
                                fake_reply(tmp, GENSUP__KIND__REPLY, f->ref, f->payload.data, f->payload.len);
                                fake_flush(tmp);
                                uint8_t half[64];
                                ssize_t got = read(sv[1], half, sizeof(half));
                                ck_assert_int_gt(got, 2);
                                fake_flush(c);
                                ck_assert_int_eq(write(ipc_conn_fd(c), half, (size_t) got / 2), got / 2);
                                _exit(0);
                        }
                        fake_reply(c, GENSUP__KIND__REPLY, f->ref, f->payload.data, f->payload.len);
                        answered++;
                }
                ipc_frame_free(f);
        }
}

static pid_t fake_pid = -1;

static char *fake_start(fake_mode mode, unsigned cut_after) {
        char *path = it_path(mode == FAKE_STRAY ? "stray.sock" : "cut.sock");
        pid_t parent = getpid();

        fake_pid = fork();
        ck_assert_int_ge(fake_pid, 0);
        if (fake_pid == 0) {
                /* Listens itself: the peer credentials a client sees
                 * are the listener's, and a client of its own process's
                 * socket is refused a call (-EDEADLK). */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                int lfd = ipc_listen(path, 4);
                if (lfd < 0)
                        _exit(2);
                (void) fcntl(lfd, F_SETFL, 0);   /* accept waits */
                for (;;) {
                        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd < 0 && errno == EINTR)
                                continue;
                        if (fd < 0)
                                _exit(3);
                        ipc_conn *c;
                        if (ipc_conn_new(fd, 0, &c) < 0)
                                _exit(4);
                        fake_serve(c, mode, cut_after);
                        ipc_conn_free(c);
                }
        }
        ck_assert_int_eq(it_wait_socket(path, T_MS), 0);
        return path;
}

static void fake_stop(void) {
        if (fake_pid > 0)
                it_kill(fake_pid);
        fake_pid = -1;
}

/* Answers for refs the client never asked for (a REPLY and an ERROR
 * before each real answer) are dropped: every request, many in flight,
 * gets its own answer, and the connection stays up. */
START_TEST(test_stray_refs) {
        const unsigned n = (unsigned) it_scaled(2000, 300), window = 64;
        gs_reqid ids[64];
        gs_buf reply = GS_BUF_INIT;
        unsigned sent = 0, done = 0;
        char m[32];

        it_tmpdir();
        gs_client *c = connect_path(fake_start(FAKE_STRAY, 0));
        while (done < n) {
                while (sent < n && sent - done < window) {
                        snprintf(m, sizeof(m), "s%u", sent);
                        ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[sent % window]), 0);
                        sent++;
                }
                ck_assert_int_eq(gs_receive_response(c, ids[done % window], T_MS, &reply), 0);
                snprintf(m, sizeof(m), "s%u", done);
                assert_reply(&reply, m);
                done++;
        }
        ck_assert_int_eq(gs_call(c, "last", 4, T_MS, &reply), 0);
        assert_reply(&reply, "last");
        gs_buf_done(&reply);
        gs_client_free(c);
        fake_stop();
}
END_TEST

/* A connection closed in the middle of a batch of answers, half a frame
 * written: the whole answers before it are delivered, the request whose
 * answer was cut and every later one fail with -ECONNRESET. */
START_TEST(test_closed_mid_batch) {
        const unsigned n = 64, cut = 25;
        gs_reqid ids[64];
        gs_buf reply = GS_BUF_INIT;
        char m[32];

        it_tmpdir();
        gs_client *c = connect_path(fake_start(FAKE_CUT, cut));
        for (unsigned i = 0; i < n; i++) {
                snprintf(m, sizeof(m), "s%u", i);
                ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[i]), 0);
        }
        for (unsigned i = 0; i < n; i++) {
                int r = gs_receive_response(c, ids[i], T_MS, &reply);
                if (i < cut) {
                        ck_assert_int_eq(r, 0);
                        snprintf(m, sizeof(m), "s%u", i);
                        assert_reply(&reply, m);
                } else
                        ck_assert_int_eq(r, -ECONNRESET);
        }
        ck_assert_int_eq(gs_call(c, "x", 1, T_MS, &reply), -ECONNRESET);
        int status;
        ck_assert_int_eq(it_wait_exit(fake_pid, T_MS, &status), 0);
        fake_pid = -1;
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

Suite *pipeline_suite(void);

Suite *pipeline_suite(void) {
        Suite *s = suite_create("pipeline");
        TCase *tc = tcase_create("pipeline");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_many_outstanding);
        tcase_add_test(tc, test_casts_between_requests);
        tcase_add_test(tc, test_backpressure);
        tcase_add_test(tc, test_stop_mid_batch);
        tcase_add_test(tc, test_stray_refs);
        tcase_add_test(tc, test_closed_mid_batch);
        suite_add_tcase(s, tc);
        return s;
}
