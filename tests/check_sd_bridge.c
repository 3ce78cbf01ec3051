/* check_sd_bridge.c: gs_server_event() keeps its promise without
 * libgensup linking libsystemd: a real server (gs_server_main, in a
 * forked child) adds an sd-event time source to the loop it is given, and
 * a defer source from that timer's callback; both fire inside the
 * server's own loop, then the server stops cleanly. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "gensup.h"

Suite *sd_bridge_suite(void);

static int report_fd = -1;      /* the child's end of the pipe */

static void say(char c) {
        (void) write(report_fd, &c, 1);
}

static int on_sd_defer(sd_event_source *src, void *userdata) {
        say('D');
        /* Back to the gen_server: a message to itself ends the test. */
        (void) gs_send_after(userdata, 0, 42);
        return 0;
}

static int on_sd_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        gs_server *s = userdata;

        say('T');
        /* The same loop again, from inside one of its callbacks. */
        if (sd_event_add_defer(gs_server_event(s), NULL, on_sd_defer, s) < 0)
                say('!');
        return 0;
}

static gs_ret b_init(gs_server *s, int argc, char **argv, void **ret_state) {
        sd_event *e = gs_server_event(s);

        if (!e || gs_server_event(s) != e)
                return gs_ret_stop("{error,no_sd_event}");
        if (sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 1000, 0, on_sd_timer, s) < 0)
                return gs_ret_stop("{error,sd_event_add_time}");
        return gs_ret_ok();
}

static gs_ret b_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        return gs_ret_reply();
}

static gs_ret b_info(gs_server *s, void *state, const gs_info *info) {
        if (info->kind != GS_INFO_TIMER || info->token != 42)
                return gs_ret_noreply();
        say('I');
        return gs_ret_stop("normal");
}

static const gs_server_ops b_ops = {
        .init = b_init,
        .handle_call = b_call,
        .handle_info = b_info,
};

START_TEST(sd_event_source_fires_in_server_loop) {
        char dir[] = "/tmp/gs-sdbridge-XXXXXX", path[128], got[4] = { 0 };
        int p[2];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/bridge.sock", dir);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char *argv[] = { "sd_bridge", "--socket", path, NULL };
                close(p[0]);
                report_fd = p[1];
                _exit(gs_server_main(&b_ops, 3, argv));
        }
        close(p[1]);
        /* Reads until the child's end closes (it exits). */
        size_t n = 0;
        for (ssize_t k; n < sizeof(got) - 1 && (k = read(p[0], got + n, sizeof(got) - 1 - n)) != 0;)
                if (k > 0)
                        n += (size_t) k;
                else
                        ck_assert_int_eq(errno, EINTR);
        close(p[0]);
        int st = -1;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_str_eq(got, "TDI");
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 0);
        unlink(path);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

Suite *sd_bridge_suite(void) {
        Suite *s = suite_create("sd_bridge");
        TCase *tc = tcase_create("sd_bridge");

        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, sd_event_source_fires_in_server_loop);
        suite_add_tcase(s, tc);
        return s;
}
