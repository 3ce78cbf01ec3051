/* check_notify.c: libgensup's own sd_notify and sd_listen_fds
 * (worker/notify.h), against what sd_notify(3) and sd_listen_fds(3)
 * promise: a datagram to a path or an abstract "@" name; the passed fds
 * from 3 on, only for the process LISTEN_PID names, close-on-exec, the
 * variables unset when asked. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"

Suite *notify_suite(void);

/* A datagram socket bound where NOTIFY_SOCKET will say. */
static int bind_at(const char *name) {
        struct sockaddr_un sa;
        socklen_t len;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(gs__notify_addr(name, &sa, &len), 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, len), 0);
        return fd;
}

static void expect_datagram(int fd, const char *want) {
        char buf[64] = { 0 };
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

        ck_assert_int_eq(n, (ssize_t) strlen(want));
        ck_assert_str_eq(buf, want);
}

START_TEST(notify_path_and_abstract) {
        char dir[] = "/tmp/gs-notify-XXXXXX", path[128], abstract[64];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/notify", dir);
        int fd = bind_at(path);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
        ck_assert_int_eq(gs__notify("READY=1"), 1);
        expect_datagram(fd, "READY=1");
        close(fd);
        unlink(path);
        rmdir(dir);

        snprintf(abstract, sizeof(abstract), "@gensup-test-notify-%d-%ld", (int) getpid(), random());
        fd = bind_at(abstract);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", abstract, 1), 0);
        ck_assert_int_eq(gs__notify("STATUS=ok"), 1);
        expect_datagram(fd, "STATUS=ok");
        close(fd);
        /* The variable is left as it was. */
        ck_assert_str_eq(getenv("NOTIFY_SOCKET"), abstract);

        ck_assert_int_eq(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
        ck_assert_int_eq(gs__notify("READY=1"), -EAFNOSUPPORT);
        ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
        ck_assert_int_eq(gs__notify("READY=1"), 0);
}
END_TEST

/* In a child, where fds 3 and 4 are free to take: what gs__listen_fds
 * says for LISTEN_PID=pid_delta+getpid() and LISTEN_FDS=fds. Exits 0 when
 * it said want and everything else holds. */
static int listen_child(int pid_delta, const char *fds, int want, bool unset) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char buf[32];
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || dup2(sv[0], 3) != 3 || dup2(sv[1], 4) != 4)
                        _exit(10);
                snprintf(buf, sizeof(buf), "%d", (int) getpid() + pid_delta);
                setenv("LISTEN_PID", buf, 1);
                setenv("LISTEN_FDS", fds, 1);
                setenv("LISTEN_FDNAMES", "a:b", 1);
                int n = gs__listen_fds(unset);
                if (n != want)
                        _exit(11);
                if (unset != !getenv("LISTEN_PID") || unset != !getenv("LISTEN_FDS") ||
                    unset != !getenv("LISTEN_FDNAMES"))
                        _exit(12);
                for (int fd = 3; fd < 3 + (n > 0 ? n : 0); fd++)
                        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
                                _exit(13);
                _exit(0);
        }
        int st = -1;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st));
        return WEXITSTATUS(st);
}

START_TEST(listen_fds_for_this_process) {
        ck_assert_int_eq(listen_child(0, "2", 2, true), 0);
        ck_assert_int_eq(listen_child(0, "1", 1, false), 0);
        /* Meant for another process: none, and still unset when asked. */
        ck_assert_int_eq(listen_child(1, "2", 0, true), 0);
        ck_assert_int_eq(listen_child(0, "two", -EINVAL, true), 0);
}
END_TEST

Suite *notify_suite(void) {
        Suite *s = suite_create("notify");
        TCase *tc = tcase_create("notify");

        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, notify_path_and_abstract);
        tcase_add_test(tc, listen_fds_for_this_process);
        suite_add_tcase(s, tc);
        return s;
}
