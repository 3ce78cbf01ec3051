/* check_sup_statuswire.c: a big status answer goes out from one copy of
 * its text shared by every client that asked for it, written as each
 * socket takes it (issue 9 §3, supervisor/shared_reply.c). What a user
 * checks: several clients asking at once each get the whole answer, byte
 * for byte the same; a client that reads slowly, or that goes away in the
 * middle of its answer, holds up neither the restarts nor the others. The
 * frames are read raw here and decoded with protobuf-c: they must be what
 * protobuf-c packs. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "sup.h"

Suite *sup_statuswire_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

#define CLIENTS 6   /* asking at once: one slow, one gone mid-answer, one gone at once, three reading */

/* Sleepers s0 .. s(n-1), one start-child each (a boot of a thousand
 * children can outlast one wait on a busy machine, one start cannot). */
static void add_sleepers(int n) {
        for (int i = 0; i < n; i++) {
                char spec[160];
                snprintf(spec, sizeof(spec), "name = \"s%d\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\";", i);
                ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "root", spec, NULL }, NULL, NULL), 0);
        }
}

/* ---- raw frames ---- */

typedef struct raw {
        uint8_t *buf;
        size_t len, cap;
} raw;

/* Reads at most max more bytes of the socket into r (waiting for them
 * up to IT_WAIT_MS); returns the bytes read, 0 at end of file. */
static size_t read_some(int fd, raw *r, size_t max) {
        if (r->cap - r->len < max) {
                r->cap = r->len + max;
                r->buf = realloc(r->buf, r->cap);
                ck_assert_ptr_nonnull(r->buf);
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, IT_WAIT_MS), 1);
        ssize_t n = recv(fd, r->buf + r->len, max, 0);
        ck_assert_int_ge(n, 0);
        r->len += (size_t) n;
        return (size_t) n;
}

/* Reads until one whole frame is in r; returns its JSON, checked to be a
 * successful CTL_REPLY to ref that parses. The caller frees the text. */
static char *read_answer(int fd, raw *r, uint64_t ref) {
        size_t head = 0;
        int64_t wire;
        while ((wire = ipc_frame_scan(r->buf, r->len, IPC_DEFAULT_MAX_FRAME, &head)) == 0)
                ck_assert_uint_gt(read_some(fd, r, 256 * 1024), 0);
        ck_assert_int_gt(wire, 0);
        ck_assert_uint_eq(r->len, (size_t) wire);   /* one answer, nothing after it */
        ipc_frame *f = ipc_frame_unpack(r->buf + head, (size_t) wire - head);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(f->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_uint_eq(f->ref, ref);
        ck_assert_ptr_nonnull(f->ctl_reply);
        ck_assert_int_eq(f->ctl_reply->code, 0);
        /* Byte for byte what protobuf-c packs. */
        size_t body = gensup__frame__get_packed_size(f);
        ck_assert_uint_eq(body, (size_t) wire - head);
        uint8_t *packed = malloc(body);
        ck_assert_ptr_nonnull(packed);
        gensup__frame__pack(f, packed);
        ck_assert_int_eq(memcmp(packed, r->buf + head, body), 0);
        free(packed);
        json_error_t err;
        json_t *doc = json_loads(f->ctl_reply->json, 0, &err);
        ck_assert_msg(doc != NULL, "not JSON: %s (at %d)", err.text, err.position);
        json_decref(doc);
        char *text = strdup(f->ctl_reply->json);
        ipc_frame_free(f);
        return text;
}

static size_t tree_children(const char *text) {
        json_t *doc = json_loads(text, 0, NULL);
        size_t n = json_array_size(json_object_get(json_object_get(doc, "tree"), "children"));
        json_decref(doc);
        return n;
}

/* A child killed is restarted while the slow client has not read its
 * answer, and another client is answered meanwhile. */
static void restart_one(int round) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", round);
        pid_t old = gsd_pid(D, name);
        ck_assert_int_gt(old, 0);
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, name, old, IT_WAIT_MS), 0);
}

/* Under valgrind (GS_TEST_WRAPPER) gensupd is ~50x slower: 60 children,
 * an answer of some 20 kB (several slices, still past the socket's
 * buffer once the slow client shrinks its own). */
START_TEST(shared_answer_whole_for_each) {
        const int N = it_scaled(1500, 60);
        char *path = gsd_sleepers_conf("wire.conf", 0, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        add_sleepers(N);

        int fd[CLIENTS];
        ipc_conn *conn[CLIENTS];
        for (int k = 0; k < CLIENTS; k++) {
                ck_assert_ptr_nonnull(conn[k] = it_connect(D->control));
                fd[k] = ipc_conn_fd(conn[k]);
        }
        int small = 4096;
        ck_assert_int_eq(setsockopt(fd[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        /* All at once: the ones waiting when the build begins share it. */
        for (int k = 0; k < CLIENTS; k++)
                ck_assert_int_eq(it_send_ctl(conn[k], 7, "status", NULL), 0);
        ck_assert_int_eq(shutdown(fd[2], SHUT_RDWR), 0);   /* gone before its answer */

        raw r[CLIENTS] = { 0 };
        /* Client 1 reads a little, then goes away mid-answer. */
        ck_assert_uint_gt(read_some(fd[1], &r[1], 1000), 0);
        conn[1] = ipc_conn_free(conn[1]);
        /* Client 0 has read a little too, and then nothing for a while. */
        ck_assert_uint_gt(read_some(fd[0], &r[0], 1000), 0);

        char *first = read_answer(fd[3], &r[3], 7);
        ck_assert_uint_eq(tree_children(first), (size_t) N);
        for (int round = 0; round < it_scaled(3, 2); round++) {
                restart_one(round);
                json_t *doc = NULL;
                ck_assert_int_eq(gsd_ctl(D, "which-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
                ck_assert_uint_eq(json_array_size(json_object_get(doc, "children")), (size_t) N);
                json_decref(doc);
        }
        /* The others' answers, the slow one's too: whole. (Which of
         * them shared a build depends on when their requests came.) */
        for (int k = 0; k < CLIENTS; k++) {
                if (k == 1 || k == 2 || k == 3)
                        continue;
                char *text = read_answer(fd[k], &r[k], 7);
                ck_assert_uint_eq(tree_children(text), (size_t) N);
                free(text);
        }
        free(first);
        for (int k = 0; k < CLIENTS; k++) {
                ipc_conn_free(conn[k]);
                free(r[k].buf);
        }
        /* gensupd is still serving, its tree whole. */
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(D, "count-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
        ck_assert_int_eq(gsd_int(doc, "specs"), N);
        json_decref(doc);
}
END_TEST

/* A client asking again and again on one connection, reading only once
 * it has asked for all: each answer is whole and in order (one whose text
 * is borrowed, and the copy of the next, queued while the first still
 * waits to be written, keep their order). */
START_TEST(answers_in_order_on_one_connection) {
        const int N = it_scaled(1200, 40);
        const int ROUNDS = it_scaled(6, 3);
        char *path = gsd_sleepers_conf("order.conf", 0, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        add_sleepers(N);

        ipc_conn *c = it_connect(D->control);
        ck_assert_ptr_nonnull(c);
        int fd = ipc_conn_fd(c);
        for (uint64_t ref = 1; ref <= (uint64_t) ROUNDS; ref++)
                ck_assert_int_eq(it_send_ctl(c, ref, ref % 2 ? "status" : "which-children",
                                             ref % 2 ? NULL : (const char *[]) { "root", NULL }),
                                 0);
        /* Restarts go on while the answers wait in the socket. */
        restart_one(0);
        for (uint64_t ref = 1; ref <= (uint64_t) ROUNDS; ref++) {
                raw r = { 0 };
                /* One frame at a time: its length prefix first, a byte
                 * at a time, then the rest. */
                uint64_t body = 0;
                int k;
                while ((k = ipc_varint_decode(r.buf, r.len, &body)) == 0)
                        ck_assert_uint_gt(read_some(fd, &r, 1), 0);
                ck_assert_int_gt(k, 0);
                size_t wire = (size_t) k + body;
                while (r.len < wire)
                        ck_assert_uint_gt(read_some(fd, &r, wire - r.len), 0);
                char *text = read_answer(fd, &r, ref);
                json_t *doc = json_loads(text, 0, NULL);
                json_t *list = ref % 2 ? json_object_get(json_object_get(doc, "tree"), "children")
                                       : json_object_get(doc, "children");
                ck_assert_uint_eq(json_array_size(list), (size_t) N);
                json_decref(doc);
                free(text);
                free(r.buf);
        }
        ipc_conn_free(c);
}
END_TEST

Suite *sup_statuswire_suite(void) {
        Suite *s = suite_create("sup_statuswire");
        TCase *tc = tcase_create("statuswire");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, shared_answer_whole_for_each);
        tcase_add_test(tc, answers_in_order_on_one_connection);
        suite_add_tcase(s, tc);
        return s;
}
