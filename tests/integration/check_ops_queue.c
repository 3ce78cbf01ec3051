/* check_ops_queue.c: a gen_server's message queue length (OTP's
 * message_queue_len), through the real gensupd: a server suspended (as
 * sys:suspend) while clients cast to it shows every cast as queued in
 * `statistics`, in `metrics`, and none handled; once resumed it handles
 * them and the queue is empty again. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *ops_queue_suite(void);

#define CLIENTS 3
#define CASTS_EACH 5

static gsd *D;

static void teardown(void) {
        D = gsd_free(D);
}

/* `statistics srv` (a new reference). */
static json_t *stats(void) {
        const char *args[] = { "srv", NULL };
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "statistics", args, &j, NULL), 0);
        ck_assert_ptr_nonnull(j);
        return j;
}

/* Waits until the server's queue_length is n; returns its statistics
 * then (a new reference). */
static json_t *wait_queue(long long n) {
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                json_t *j = stats();
                long long q = gsd_int(j, "queue_length");
                ck_assert_int_ge(q, 0);
                ck_assert_int_le(q, n > 0 ? n : CLIENTS * CASTS_EACH);
                if (q == n)
                        return j;
                json_decref(j);
                ck_assert_msg(it_now_ms() < deadline, "queue_length %lld, not %lld", q, n);
                it_nap_ms(20);
        }
}

/* `gensupctl metrics`' stdout (caller frees). */
static char *metrics(void) {
        char *out = it_path("metrics.out");
        char *bin = it_strf("%s/bin/gensupctl", GS_BUILD_DIR);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0)
                        _exit(126);
                execl(bin, bin, "-s", D->control, "metrics", (char *) NULL);
                _exit(127);
        }
        int status;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        ck_assert_msg(it_exited_with(status, 0), "gensupctl metrics failed");
        char *text = it_read_file(out);
        free(bin);
        free(out);
        return text;
}

START_TEST(queue_while_suspended) {
        char *ts = it_example("test_server");
        char *conf = gsd_write_file("queue.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"srv\"; listen = true; exec = [\"%s\"]; }\n"
                                    "); };\n",
                                    ts);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        ck_assert_int_eq(gsd_wait_state(D, "srv", "running", IT_WAIT_MS), 0);
        json_t *j = wait_queue(0);
        long long casts0 = gsd_int(j, "casts");
        json_decref(j);

        const char *args[] = { "srv", NULL };
        ck_assert_int_eq(gsd_ctl(D, "suspend", args, NULL, NULL), 0);
        char *path = it_path("srv.sock");
        ipc_conn *c[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
                c[i] = it_connect(path);
                ck_assert_ptr_nonnull(c[i]);
                for (int k = 0; k < CASTS_EACH; k++)
                        ck_assert_int_eq(it_send_cast(c[i], "queued"), 0);
        }

        /* Every cast is queued and none handled. */
        j = wait_queue(CLIENTS * CASTS_EACH);
        ck_assert_int_eq(gsd_int(j, "casts"), casts0);
        ck_assert_int_ge(gsd_int(j, "queue_socket_bytes"), 0);
        json_decref(j);
        char *m = metrics();
        char *line = it_strf("gensup_server_queue_length{supervisor=\"root\",child=\"srv\"} %d\n",
                             CLIENTS * CASTS_EACH);
        ck_assert_msg(strstr(m, line), "no '%s' in metrics:\n%s", line, m);
        ck_assert_msg(strstr(m, "# TYPE gensup_server_queue_length gauge\n"), "metrics:\n%s", m);
        free(line);
        free(m);

        /* Resumed, it handles them all. */
        ck_assert_int_eq(gsd_ctl(D, "resume", args, NULL, NULL), 0);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                j = stats();
                bool done = gsd_int(j, "casts") == casts0 + CLIENTS * CASTS_EACH;
                if (done)
                        ck_assert_int_eq(gsd_int(j, "queue_length"), 0);
                json_decref(j);
                if (done)
                        break;
                ck_assert_msg(it_now_ms() < deadline, "the casts were not handled after resume");
                it_nap_ms(20);
        }
        for (int i = 0; i < CLIENTS; i++)
                ipc_conn_free(c[i]);
        free(path);
        free(conf);
        free(ts);
        D = gsd_finish(D);
}
END_TEST

Suite *ops_queue_suite(void) {
        Suite *s = suite_create("ops_queue");
        TCase *tc = tcase_create("queue");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, queue_while_suspended);
        suite_add_tcase(s, tc);
        return s;
}
