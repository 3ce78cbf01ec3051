/* check_kitty.c: the seed's kitty_server session against the real
 * examples/kitty_server, run standalone on a socket in a temporary
 * directory and driven through the client API. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gensup.h"
#include "it.h"
#include "kitty.pb-c.h"

#define TIMEOUT_S 20

/* ---- the server under test: one per case, started in the forked case ---- */

static char *sock_path;
static char *log_path;   /* the server's stderr */
static pid_t server_pid = -1;
static gs_client *client;

static void setup(void) {
        char *server = it_example("kitty_server");

        sock_path = it_path("kitty.sock");
        log_path = it_path("kitty.log");
        server_pid = it_spawn((char *[]) { server, "--socket", sock_path, NULL }, NULL, NULL, 0, log_path);
        ck_assert_int_gt(server_pid, 0);
        ck_assert_int_eq(it_wait_socket(sock_path, IT_WAIT_MS), 0);
        ck_assert_int_eq(gs_client_connect(sock_path, &client), 0);
        free(server);
}

/* it.c kills and removes anything left at exit, even after a failure. */
static void teardown(void) {
        client = gs_client_free(client);
        it_kill(server_pid);
        server_pid = -1;
        free(sock_path);
        free(log_path);
}

/* Waits for the server to exit by itself and returns its wait status. */
static int wait_server(void) {
        int status = 0;

        ck_assert_int_eq(it_wait_exit(server_pid, IT_WAIT_MS, &status), 0);
        server_pid = -1;
        return status;
}

/* The server's stderr so far; the caller frees it. */
static char *read_log(void) {
        char *text = it_read_file(log_path);

        ck_assert_ptr_nonnull(text);
        return text;
}

/* ---- the kitty client API, as the seed's order_cat/return_cat/close_shop ---- */

static int order_cat(gs_client *c, const char *name, const char *color, const char *description,
                     Kitty__Cat **ret_cat) {
        Kitty__OrderCat order = KITTY__ORDER_CAT__INIT;
        Kitty__KittyCall call = KITTY__KITTY_CALL__INIT;
        ProtobufCMessage *reply = NULL;
        int r;

        order.name = (char *) name;
        order.color = (char *) color;
        order.description = (char *) description;
        call.request_case = KITTY__KITTY_CALL__REQUEST_ORDER;
        call.order = &order;
        r = gs_call_msg(c, &call.base, &kitty__cat__descriptor, GS_DEFAULT_TIMEOUT, &reply);
        if (r < 0)
                return r;
        *ret_cat = (Kitty__Cat *) reply;
        return 0;
}

static int return_cat(gs_client *c, const char *name, const char *color, const char *description) {
        Kitty__Cat cat = KITTY__CAT__INIT;
        Kitty__KittyCast cast = KITTY__KITTY_CAST__INIT;

        cat.name = (char *) name;
        cat.color = (char *) color;
        cat.description = (char *) description;
        cast.message_case = KITTY__KITTY_CAST__MESSAGE_RETURN_CAT;
        cast.return_cat = &cat;
        return gs_cast_msg(c, &cast.base);
}

static int close_shop(gs_client *c) {
        Kitty__CloseShop close = KITTY__CLOSE_SHOP__INIT;
        Kitty__KittyCall call = KITTY__KITTY_CALL__INIT;
        ProtobufCMessage *reply = NULL;
        int r;

        call.request_case = KITTY__KITTY_CALL__REQUEST_CLOSE;
        call.close = &close;
        r = gs_call_msg(c, &call.base, &kitty__ok__descriptor, GS_DEFAULT_TIMEOUT, &reply);
        if (r < 0)
                return r;
        protobuf_c_message_free_unpacked(reply, NULL);
        return 0;
}

/* Orders a cat and checks it is the one expected. */
static void expect_order(const char *name, const char *color, const char *description,
                         const char *want_name, const char *want_color, const char *want_description) {
        Kitty__Cat *cat = NULL;

        ck_assert_int_eq(order_cat(client, name, color, description, &cat), 0);
        ck_assert_str_eq(cat->name, want_name);
        ck_assert_str_eq(cat->color, want_color);
        ck_assert_str_eq(cat->description, want_description);
        protobuf_c_message_free_unpacked(&cat->base, NULL);
}

static char *get_state(void) {
        gs_buf out = GS_BUF_INIT;
        char *text;

        ck_assert_int_eq(gs_sys_get_state(client, GS_DEFAULT_TIMEOUT, &out), 0);
        text = strndup((const char *) out.data, out.len);
        gs_buf_done(&out);
        ck_assert_ptr_nonnull(text);
        return text;
}

/* ---- the cases ---- */

#define CARL "carl", "brown", "loves to burn bridges"
#define JIMMY "jimmy", "orange", "cuddly"

/* The seed's shell session, step by step. */
START_TEST(test_seed_session) {
        gs_client *c = NULL;
        char *log;
        int status;

        expect_order(CARL, CARL);
        ck_assert_int_eq(return_cat(client, CARL), 0);
        expect_order(JIMMY, CARL);    /* the returned cat is handed out first */
        expect_order(JIMMY, JIMMY);   /* the stock is empty again */
        ck_assert_int_eq(return_cat(client, CARL), 0);

        /* close_shop: terminate sets the cats free before the reply. */
        ck_assert_int_eq(close_shop(client), 0);
        log = read_log();
        ck_assert_msg(strstr(log, "carl was set free.\n"), "no free cat in the server's stderr: \"%s\"", log);
        free(log);

        status = wait_server();
        ck_assert_msg(WIFEXITED(status), "kitty_server did not exit: wait status %#x", status);
        ck_assert_int_eq(WEXITSTATUS(status), 0);

        /* The second close_shop of the seed: no such process. */
        ck_assert_int_eq(gs_client_connect(sock_path, &c), -ENOENT);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_get_state) {
        char *state;

        state = get_state();
        ck_assert_str_eq(state, "no cats in stock");
        free(state);

        ck_assert_int_eq(return_cat(client, CARL), 0);
        state = get_state();
        ck_assert_str_eq(state, "1 cat in stock: carl");
        free(state);

        ck_assert_int_eq(return_cat(client, JIMMY), 0);
        state = get_state();
        ck_assert_str_eq(state, "2 cats in stock: jimmy, carl");
        free(state);

        expect_order(CARL, JIMMY);
        state = get_state();
        ck_assert_str_eq(state, "1 cat in stock: carl");
        free(state);
}
END_TEST

/* Every cat in stock is set free, the last returned first; an empty shop
 * closes without a word. */
START_TEST(test_close_frees_every_cat) {
        char *log;

        ck_assert_int_eq(return_cat(client, CARL), 0);
        ck_assert_int_eq(return_cat(client, JIMMY), 0);
        ck_assert_int_eq(close_shop(client), 0);
        ck_assert_int_eq(WEXITSTATUS(wait_server()), 0);
        log = read_log();
        ck_assert_msg(strstr(log, "jimmy was set free.\ncarl was set free.\n"),
                      "not every cat was set free: \"%s\"", log);
        free(log);
}
END_TEST

START_TEST(test_close_empty_shop) {
        char *log;

        ck_assert_int_eq(close_shop(client), 0);
        ck_assert_int_eq(WEXITSTATUS(wait_server()), 0);
        log = read_log();
        ck_assert_msg(!strstr(log, "set free"), "a cat came out of an empty shop: \"%s\"", log);
        free(log);
}
END_TEST

/* SIGTERM is a shutdown: terminate still sets the cats free, and a
 * shutdown is a clean exit. */
START_TEST(test_sigterm_frees_cats) {
        char *log;
        int status;

        ck_assert_int_eq(return_cat(client, CARL), 0);
        free(get_state());   /* the cast is handled once this is answered */
        ck_assert_int_eq(kill(server_pid, SIGTERM), 0);
        status = wait_server();
        ck_assert_msg(WIFEXITED(status), "kitty_server did not exit: wait status %#x", status);
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        log = read_log();
        ck_assert_msg(strstr(log, "carl was set free.\n"), "no free cat in the server's stderr: \"%s\"", log);
        free(log);
}
END_TEST

/* A call kitty_server cannot read crashes it, as a gen_server with no
 * matching handle_call clause: the caller learns why. */
START_TEST(test_bad_call_crashes) {
        static const uint8_t garbage[] = { 0xff, 0xff, 0xff };
        gs_buf reply = GS_BUF_INIT;
        const char *reason;
        int status;

        ck_assert_int_eq(gs_call(client, garbage, sizeof(garbage), GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        reason = gs_client_exit_reason(client);
        ck_assert_ptr_nonnull(reason);
        ck_assert_str_eq(reason, "{error,bad_call}");
        gs_buf_done(&reply);

        status = wait_server();
        ck_assert_msg(WIFEXITED(status), "kitty_server did not exit: wait status %#x", status);
        ck_assert_int_eq(WEXITSTATUS(status), 1);
}
END_TEST

Suite *kitty_suite(void);
Suite *kitty_suite(void) {
        Suite *s = suite_create("kitty");
        TCase *tc = tcase_create("session");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_seed_session);
        tcase_add_test(tc, test_get_state);
        tcase_add_test(tc, test_close_frees_every_cat);
        tcase_add_test(tc, test_close_empty_shop);
        tcase_add_test(tc, test_sigterm_frees_cats);
        tcase_add_test(tc, test_bad_call_crashes);
        suite_add_tcase(s, tc);
        return s;
}
