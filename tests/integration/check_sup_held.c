/* check_sup_held.c: a gen_server's name stays registered while it
 * restarts. With no `listen` key gensupd holds the socket the server made
 * once it handed it over with READY, so a client that connects while the
 * server is down is answered by the next instance, with no retry loop;
 * `listen = false` opts out (the client finds no server, OTP's noproc). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gensup.h>

#include "sup.h"

Suite *sup_held_suite(void);

static gsd *D;
static char *SOCK;     /* <runtime_dir>/w.sock */

static void setup(void) {
        SOCK = it_path("w.sock");
}

static void teardown(void) {
        D = gsd_finish(D);
        free(SOCK);
}

/* One child "w", a test_server restarted 700 ms after it dies (long
 * enough to connect while it is down, whatever the machine's load: the
 * state says when it is down), with listen_line as its listen key. */
static void start(const char *listen_line) {
        char *ts = it_example("test_server");
        char *conf = gsd_write_file("held.conf",
                                    "supervisor = { name = \"root\"; intensity = 10; children = (\n"
                                    "  { name = \"w\"; exec = [\"%s\"]; %s\n"
                                    "    backoff = { initial = 700; max = 700; }; }\n"
                                    "); };\n",
                                    ts, listen_line);
        free(ts);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
}

/* A call on a new connection; returns gs_call's result, the reply in buf. */
static int call_new(const char *req, gs_buf *reply) {
        gs_client *c = NULL;
        int r = gs_client_connect(SOCK, &c);
        if (r < 0)
                return r;
        r = gs_call(c, req, strlen(req), IT_WAIT_MS, reply);
        gs_client_free(c);
        return r;
}

static void kill_and_wait_down(void) {
        pid_t pid = gsd_pid(D, "w");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "restarting", IT_WAIT_MS), 0);
}

START_TEST(held_by_default) {
        gs_buf reply = GS_BUF_INIT;

        start("");
        ck_assert_int_eq(call_new("count", &reply), 0);
        kill_and_wait_down();
        /* No process serves w now: the socket is gensupd's, the connection
         * waits in its backlog, and the next instance answers it. */
        json_t *c = gsd_child(D, "w");
        ck_assert_int_eq(gsd_int(c, "pid"), -1);
        json_decref(c);
        ck_assert_int_eq(call_new("count", &reply), 0);
        ck_assert_uint_eq(reply.len, 1);
        ck_assert_int_eq(memcmp(reply.data, "1", 1), 0);
        gs_buf_done(&reply);
}
END_TEST

/* A clean stop of one instance must not take the held name away. */
START_TEST(held_across_clean_restart) {
        gs_buf reply = GS_BUF_INIT;

        start("");
        pid_t old = gsd_pid(D, "w");
        ck_assert_int_eq(call_new("stop:{shutdown,again}", &reply), -ECONNRESET);
        ck_assert_int_gt(gsd_wait_new_pid(D, "w", old, IT_WAIT_MS), 0);
        kill_and_wait_down();
        ck_assert_int_eq(call_new("name", &reply), 0);
        ck_assert_uint_eq(reply.len, 1);
        ck_assert_int_eq(memcmp(reply.data, "w", 1), 0);
        gs_buf_done(&reply);
        /* gensupd removes the name when it lets go of the child. */
        int status;
        gsd_signal(D, SIGTERM);
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        struct stat sb;
        ck_assert_int_eq(lstat(SOCK, &sb), -1);
        ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(listen_false_opts_out) {
        gs_buf reply = GS_BUF_INIT;
        gs_client *c = NULL;

        start("listen = false;");
        ck_assert_int_eq(call_new("count", &reply), 0);
        gs_buf_done(&reply);
        kill_and_wait_down();
        /* The dead server's socket is left, and nobody listens on it. */
        ck_assert_int_eq(gs_client_connect(SOCK, &c), -ENOENT);
}
END_TEST

/* The name is gone once the child will not come back. */
static void assert_no_server(void) {
        gs_client *c = NULL;
        struct stat sb;
        ck_assert_int_eq(lstat(SOCK, &sb), -1);
        ck_assert_int_eq(errno, ENOENT);
        ck_assert_int_eq(gs_client_connect(SOCK, &c), -ENOENT);
}

/* get-childspec root w: a new reference. */
static json_t *childspec(void) {
        const char *args[] = { "root", "w", NULL };
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "get-childspec", args, &j, NULL), 0);
        ck_assert_ptr_nonnull(j);
        return j;
}

/* get-childspec says what is in effect: a gen_server's own socket that
 * gensupd holds is listening, as listen = true would be. */
START_TEST(childspec_shows_held) {
        start("");
        json_t *j = childspec();
        ck_assert_msg(json_is_true(json_object_get(j, "listen")), "listen: %s", json_dumps(j, 0));
        ck_assert_str_eq(gsd_str(j, "listen_mode"), "hold");
        ck_assert(json_is_true(json_object_get(j, "socket_held")));
        json_decref(j);
}
END_TEST

START_TEST(childspec_listen_false) {
        start("listen = false;");
        json_t *j = childspec();
        ck_assert(json_is_false(json_object_get(j, "listen")));
        ck_assert_str_eq(gsd_str(j, "listen_mode"), "off");
        ck_assert(json_is_false(json_object_get(j, "socket_held")));
        json_decref(j);
}
END_TEST

/* terminate-child: as OTP's name that is gone, a client finds no server
 * at once instead of waiting in the backlog; restart-child makes the
 * name anew. */
START_TEST(terminated_child_lets_go) {
        gs_buf reply = GS_BUF_INIT;
        const char *args[] = { "root", "w", NULL };

        start("");
        ck_assert_int_eq(call_new("count", &reply), 0);
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", args, NULL, NULL), 0);
        assert_no_server();
        json_t *j = childspec();
        ck_assert(json_is_false(json_object_get(j, "socket_held")));
        json_decref(j);
        ck_assert_int_eq(gsd_ctl(D, "restart-child", args, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(call_new("name", &reply), 0);
        ck_assert_uint_eq(reply.len, 1);
        ck_assert_int_eq(memcmp(reply.data, "w", 1), 0);
        j = childspec();
        ck_assert(json_is_true(json_object_get(j, "socket_held")));
        json_decref(j);
        gs_buf_done(&reply);
}
END_TEST

/* The same for listen = true: gensupd's own socket goes, and comes back. */
START_TEST(terminated_listen_child_lets_go) {
        gs_buf reply = GS_BUF_INIT;
        const char *args[] = { "w", NULL };

        start("listen = true;");
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", args, NULL, NULL), 0);
        assert_no_server();
        ck_assert_int_eq(gsd_ctl(D, "restart-child", args, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(call_new("count", &reply), 0);
        gs_buf_done(&reply);
}
END_TEST

/* A transient child that ends cleanly is not restarted: its name goes. */
START_TEST(transient_clean_exit_lets_go) {
        gs_buf reply = GS_BUF_INIT;

        start("restart = \"transient\";");
        ck_assert_int_eq(call_new("stop:normal", &reply), -ECONNRESET);
        ck_assert_int_eq(gsd_wait_history(D, "w", NULL, "normal", 1, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "stopped", IT_WAIT_MS), 0);
        /* The socket goes once the supervisor has decided, which the
         * state shows first: wait for it as a client would see it. */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        struct stat sb;
        while (lstat(SOCK, &sb) == 0 && it_now_ms() < deadline)
                it_nap_ms(20);
        assert_no_server();
        gs_buf_done(&reply);
}
END_TEST

/* A temporary child is not restarted: its spec goes, and its name. */
START_TEST(temporary_exit_lets_go) {
        gs_buf reply = GS_BUF_INIT;

        start("restart = \"temporary\";");
        ck_assert_int_eq(call_new("stop:{error,crashed}", &reply), -ECONNRESET);
        ck_assert_int_eq(gsd_wait_state(D, "w", NULL, IT_WAIT_MS), 0);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        struct stat sb;
        while (lstat(SOCK, &sb) == 0 && it_now_ms() < deadline)
                it_nap_ms(20);
        assert_no_server();
        gs_buf_done(&reply);
}
END_TEST

/* A program that is not a gen_server makes no socket: gensupd holds none
 * for it, and the name stays free. */
START_TEST(no_socket_for_other_programs) {
        char *conf = gsd_write_file("plain.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"w\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                                    "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        struct stat sb;
        ck_assert_int_eq(lstat(SOCK, &sb), -1);
        ck_assert_int_eq(errno, ENOENT);
}
END_TEST

Suite *sup_held_suite(void) {
        Suite *s = suite_create("sup_held");
        TCase *tc = tcase_create("held");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, held_by_default);
        tcase_add_test(tc, held_across_clean_restart);
        tcase_add_test(tc, listen_false_opts_out);
        tcase_add_test(tc, no_socket_for_other_programs);
        tcase_add_test(tc, childspec_shows_held);
        tcase_add_test(tc, childspec_listen_false);
        tcase_add_test(tc, terminated_child_lets_go);
        tcase_add_test(tc, terminated_listen_child_lets_go);
        tcase_add_test(tc, transient_clean_exit_lets_go);
        tcase_add_test(tc, temporary_exit_lets_go);
        suite_add_tcase(s, tc);
        return s;
}
