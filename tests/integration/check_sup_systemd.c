/* check_sup_systemd.c: gensupd under systemd, with systemd played by the
 * test: READY=1 once the tree is up, STATUS=, STOPPING=1 and WATCHDOG=1 on
 * NOTIFY_SOCKET, and a control socket passed by socket activation. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_systemd_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

static const char *const CONFIG =
        "supervisor = { name = \"root\"; children = (\n"
        "  { name = \"w\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\"; }\n"
        "); };\n";

static int bind_dgram(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* Reads notification datagrams until one contains want; returns it
 * (caller frees) or NULL when none came in time. */
static char *wait_notify(int fd, const char *want) {
        for (int tries = 0; tries < 200; tries++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, IT_WAIT_MS / 200) <= 0)
                        continue;
                char buf[4096];
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (strstr(buf, want))
                        return strdup(buf);
        }
        return NULL;
}

START_TEST(notify_ready_status_watchdog_stopping) {
        char *conf = gsd_write_file("systemd.conf", "%s", CONFIG);
        char *path = it_path("sd-notify.sock");
        int fd = bind_dgram(path);
        char *env_notify = it_strf("NOTIFY_SOCKET=%s", path);
        char *env[] = { env_notify, (char *) "WATCHDOG_USEC=200000", NULL };
        ck_assert_int_eq(gsd_start_with(conf, NULL, env, NULL, 0, &D), 0);

        /* READY=1 comes once every child has started. */
        char *msg = wait_notify(fd, "READY=1");
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strstr(msg, "STATUS="), "%s", msg);
        ck_assert_int_gt(gsd_pid(D, "w"), 0);
        free(msg);
        /* Half WATCHDOG_USEC later, and again. */
        msg = wait_notify(fd, "WATCHDOG=1");
        ck_assert_ptr_nonnull(msg);
        free(msg);

        gsd_signal(D, SIGTERM);
        msg = wait_notify(fd, "STOPPING=1");
        ck_assert_ptr_nonnull(msg);
        free(msg);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        close(fd);
        free(env_notify);
        free(path);
        free(conf);
}
END_TEST

START_TEST(socket_activated_control) {
        char *conf = gsd_write_file("systemd.conf", "%s", CONFIG);
        char *path = it_path("activated.sock");
        int lfd = ipc_listen(path, 16);
        ck_assert_int_ge(lfd, 0);
        /* As systemd hands it over: fd 3, LISTEN_FDS, LISTEN_PID. */
        int flags = fcntl(lfd, F_GETFL);
        ck_assert_int_eq(fcntl(lfd, F_SETFL, flags & ~O_NONBLOCK), 0);
        it_fd fds[] = { { lfd, 3 } };
        char *env[] = { (char *) "LISTEN_FDS=1", (char *) "LISTEN_PID=@PID@", NULL };
        ck_assert_int_eq(gsd_start_with(conf, path, env, fds, 1, &D), 0);
        close(lfd);

        /* gensupd answers on the socket it was given, and made none. */
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        char *own = it_path("control.sock");
        ck_assert_int_ne(access(own, F_OK), 0);
        free(own);
        /* Its children do not inherit the activation. */
        char *environ_text = it_read_file(it_strf("/proc/%d/environ", (int) gsd_pid(D, "w")));
        ck_assert_ptr_nonnull(environ_text);
        ck_assert_ptr_null(strstr(environ_text, "LISTEN_FDS"));
        free(environ_text);
        free(path);
        free(conf);
}
END_TEST

Suite *sup_systemd_suite(void) {
        Suite *s = suite_create("sup_systemd");
        TCase *tc = tcase_create("systemd");
        tcase_set_timeout(tc, 30);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, notify_ready_status_watchdog_stopping);
        tcase_add_test(tc, socket_activated_control);
        suite_add_tcase(s, tc);
        return s;
}
