/* check_bigmsg.c: large payloads through the client API and a real
 * test_server, byte-exact in every size class (0 B to 3 MiB), both ways:
 * gs_call (whose large answers are read straight into the caller's
 * buffer, ipc_conn_sink_arm), requests pipelined with gs_send_request,
 * casts between them, and a large answer that comes after its call timed
 * out, which must never land in a buffer the caller has back, also when
 * it was half read as the call gave up (a fake server in a child). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gensup.h"
#include "it.h"

Suite *bigmsg_suite(void);

#define T_MS IT_WAIT_MS
#define MIB (1024u * 1024u)

static const size_t sizes[] = { 0, 1, 65536, 128u * 1024u + 1u, MIB, 3u * MIB };

/* test_server on <tmpdir>/<name>.sock. */
static pid_t start(const char *name, char **ret_sock) {
        char *sock = it_strf("%s/%s.sock", it_tmpdir(), name);
        char *argv[] = { it_example("test_server"), (char *) "--socket", sock, (char *) "--name", (char *) name, NULL };
        pid_t pid = it_spawn(argv, NULL, NULL, 0, it_strf("%s/%s.err", it_tmpdir(), name));

        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(it_wait_socket(sock, T_MS), 0);
        *ret_sock = sock;
        return pid;
}

/* "echo:" and len printable bytes (the server echoes text) that differ
 * with seed. */
static char *echo_req(size_t len, unsigned seed, size_t *ret_len) {
        char *p = malloc(5 + len + 1);
        ck_assert_ptr_nonnull(p);
        memcpy(p, "echo:", 5);
        for (size_t i = 0; i < len; i++)
                p[5 + i] = (char) ('!' + (i * 7u + seed + (i >> 13)) % 90u);
        p[5 + len] = 0;
        *ret_len = 5 + len;
        return p;
}

static void assert_echo(const gs_buf *reply, const char *req, size_t len) {
        ck_assert_uint_eq(reply->len, len - 5);
        ck_assert(reply->len == 0 || memcmp(reply->data, req + 5, reply->len) == 0);
        ck_assert_uint_eq(reply->data ? reply->data[reply->len] : 0, 0);   /* the NUL after */
}

/* Every size, twice, into one reused buffer and into fresh ones. */
START_TEST(test_call_sizes) {
        char *sock;
        pid_t pid = start("sizes", &sock);
        gs_client *c;
        gs_buf kept = GS_BUF_INIT;

        ck_assert_int_eq(gs_client_connect(sock, &c), 0);
        for (unsigned round = 0; round < 2; round++)
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                        size_t len;
                        char *req = echo_req(sizes[i], round * 10 + (unsigned) i, &len);
                        gs_buf fresh = GS_BUF_INIT;
                        ck_assert_int_eq(gs_call(c, req, len, T_MS, &kept), 0);
                        assert_echo(&kept, req, len);
                        ck_assert_int_eq(gs_call(c, req, len, T_MS, &fresh), 0);
                        assert_echo(&fresh, req, len);
                        gs_buf_done(&fresh);
                        free(req);
                }
        gs_buf_done(&kept);
        gs_client_free(c);
        it_kill(pid);
}
END_TEST

/* Large requests in flight together, casts between them, then calls:
 * every answer to its own request, in order. */
START_TEST(test_pipeline_and_casts) {
        char *sock;
        pid_t pid = start("pipe", &sock);
        gs_client *c;
        enum { N = 6 };
        char *req[N];
        size_t len[N];
        gs_reqid id[N];
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_eq(gs_client_connect(sock, &c), 0);
        for (int i = 0; i < N; i++) {
                req[i] = echo_req(sizes[i % 6] + (size_t) i, (unsigned) i, &len[i]);
                ck_assert_int_eq(gs_send_request(c, req[i], len[i], &id[i]), 0);
                ck_assert_int_eq(gs_cast(c, req[i], len[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                ck_assert_int_eq(gs_receive_response(c, id[i], T_MS, &reply), 0);
                assert_echo(&reply, req[i], len[i]);
        }
        for (int i = N - 1; i >= 0; i--) {
                ck_assert_int_eq(gs_call(c, req[i], len[i], T_MS, &reply), 0);
                assert_echo(&reply, req[i], len[i]);
        }
        ck_assert_int_eq(gs_call(c, "casts", 5, T_MS, &reply), 0);
        ck_assert_str_eq((char *) reply.data, "6");
        for (int i = 0; i < N; i++)
                free(req[i]);
        gs_buf_done(&reply);
        gs_client_free(c);
        it_kill(pid);
}
END_TEST

/* A call that timed out gets its 1 MiB answer later, while the client
 * waits for the next call's: the late one is dropped, the caller's
 * buffer from the timed-out call is left as it was, and the next answer
 * is exact. The server holds the first call until another client tells
 * it to answer, so the timeout does not depend on speed. */
START_TEST(test_late_large_answer) {
        char *sock;
        pid_t pid = start("late", &sock);
        gs_client *a, *b;
        gs_buf mine = GS_BUF_INIT, other = GS_BUF_INIT;

        ck_assert_int_eq(gs_client_connect(sock, &a), 0);
        ck_assert_int_eq(gs_client_connect(sock, &b), 0);
        ck_assert_int_eq(gs_buf_set(&mine, "untouched", 9), 0);
        ck_assert_int_eq(gs_call(a, "noreply", 7, 50, &mine), -ETIMEDOUT);

        size_t len;
        char *big = echo_req(MIB, 3, &len);
        memcpy(big, "answer:", 7);   /* "answer:" + MIB - 2 bytes */
        ck_assert_int_eq(gs_call(b, big, len, T_MS, &other), 0);
        ck_assert_str_eq((char *) other.data, "rc=0");
        ck_assert_uint_eq(mine.len, 9);
        ck_assert_int_eq(memcmp(mine.data, "untouched", 9), 0);

        char *req = echo_req(MIB, 4, &len);
        ck_assert_int_eq(gs_call(a, req, len, T_MS, &other), 0);
        assert_echo(&other, req, len);
        ck_assert_uint_eq(mine.len, 9);
        ck_assert_int_eq(memcmp(mine.data, "untouched", 9), 0);

        free(req);
        free(big);
        gs_buf_done(&mine);
        gs_buf_done(&other);
        gs_client_free(a);
        gs_client_free(b);
        it_kill(pid);
}
END_TEST

/* The fake server: answers the first CALL with the start of a 1 MiB
 * REPLY, the rest only once the parent says so (a byte on go), then
 * echoes the next CALL. Exits at once if the parent goes away. */
static void fake_server(int lfd, int go) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        ipc_conn *c;
        ipc_frame *f = NULL, r;
        char byte;

        /* The listening socket is non-blocking. */
        if (poll(&p, 1, T_MS) != 1)
                _exit(1);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0 || ipc_conn_new(fd, 0, &c) < 0 || it_recv(c, T_MS, &f) < 0)
                _exit(1);
        uint8_t *data = malloc(MIB);
        if (!data)
                _exit(1);
        memset(data, 'z', MIB);
        ipc_frame_init(&r, GENSUP__KIND__REPLY, f->ref);
        r.payload.data = data;
        r.payload.len = MIB;
        size_t n = ipc_frame_wire_size(&r);
        uint8_t *w = malloc(n);
        if (!w)
                _exit(1);
        ipc_frame_encode(&r, w);
        ipc_frame_free(f);
        if (it_send_raw(c, w, 300000) < 0 || read(go, &byte, 1) != 1)
                _exit(1);
        if (it_send_raw(c, w + 300000, n - 300000) < 0 || it_recv(c, T_MS, &f) < 0)
                _exit(1);
        ipc_frame_init(&r, GENSUP__KIND__REPLY, f->ref);
        r.payload = f->payload;
        _exit(it_send(c, &r) < 0 ? 1 : 0);
}

/* A call that times out while its 1 MiB answer is half read: the
 * caller's buffer is left a C string, nothing is written into it after
 * gs_call returned, and the next call gets its own answer. */
START_TEST(test_timeout_mid_answer) {
        char *sock = it_strf("%s/fake.sock", it_tmpdir());
        int go[2], ready[2];
        char byte;
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Listening here: a socket the caller listens on itself
                 * would be a call to itself (EDEADLK). */
                close(go[1]);
                close(ready[0]);
                int lfd = ipc_listen(sock, 4);
                if (lfd < 0 || write(ready[1], "r", 1) != 1)
                        _exit(1);
                fake_server(lfd, go[0]);
        }
        close(go[0]);
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &byte, 1), 1);   /* listening */
        close(ready[0]);

        gs_client *c;
        gs_buf mine = GS_BUF_INIT, other = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect(sock, &c), 0);
        ck_assert_int_eq(gs_buf_set(&mine, "before", 6), 0);
        /* The rest never comes before the parent says so: a timeout
         * whatever the machine's speed. */
        ck_assert_int_eq(gs_call(c, "first", 5, 1000, &mine), -ETIMEDOUT);
        ck_assert(mine.len == 0 || mine.len == 6);
        ck_assert_uint_eq(mine.data[mine.len], 0);
        memset(mine.data, 0xee, mine.cap);
        ck_assert_int_eq(write(go[1], "g", 1), 1);
        ck_assert_int_eq(gs_call(c, "second", 6, T_MS, &other), 0);
        ck_assert_uint_eq(other.len, 6);
        ck_assert_int_eq(memcmp(other.data, "second", 6), 0);
        for (size_t i = 0; i < mine.cap; i++)
                ck_assert_uint_eq(mine.data[i], 0xee);

        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(go[1]);
        gs_buf_done(&mine);
        gs_buf_done(&other);
        gs_client_free(c);
}
END_TEST

Suite *bigmsg_suite(void) {
        Suite *s = suite_create("bigmsg");
        TCase *tc = tcase_create("bigmsg");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_call_sizes);
        tcase_add_test(tc, test_pipeline_and_casts);
        tcase_add_test(tc, test_late_large_answer);
        tcase_add_test(tc, test_timeout_mid_answer);
        suite_add_tcase(s, tc);
        return s;
}
