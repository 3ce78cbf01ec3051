/* check_upgrade.c: hot upgrade through the real daemon (gensupctl
 * upgrade): clients keep their connections and the state lives on, 100
 * times over while clients call nonstop; every failure (code_change
 * error, a crash, a hang past the start timeout, a program that is not
 * there) leaves the old process serving with its state, and the history
 * says why; a deferred reply owed at the upgrade is still answered; a
 * standalone server upgrades itself with gs_server_upgrade. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gensup.h"
#include "sup.h"

Suite *upgrade_suite(void);

#define CLIENTS 3
/* Each upgrade starts a process; valgrind-check runs gensupd (and these
 * clients) under valgrind, many times slower: it does fewer. */
#define UPGRADES_FULL 100
#define UPGRADES_VALGRIND 20

static gsd *start(const char *extra_keys) {
        char *conf = gsd_write_file("upgrade.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"cnt\"; exec = [\"%s\", \"--vsn\", \"1\"]; listen = true; %s }\n"
                                    "); };\n",
                                    it_example("upgrade_server"), extra_keys ? extra_keys : "");
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start(conf, &d), 0);
        ck_assert_int_eq(gsd_wait_state(d, "cnt", "running", IT_WAIT_MS), 0);
        free(conf);
        return d;
}

static char *call(gs_client *c, const char *text) {
        gs_buf reply = GS_BUF_INIT;
        int r = gs_call(c, text, strlen(text), IT_WAIT_MS, &reply);
        ck_assert_msg(r == 0, "call %s: %s", text, strerror(-r));
        char *s = strndup(reply.data ? (char *) reply.data : "", reply.len);
        gs_buf_done(&reply);
        return s;
}

static gs_client *connect_cnt(void) {
        gs_client *c = NULL;
        ck_assert_int_eq(gs_client_connect(it_path("cnt.sock"), &c), 0);
        return c;
}

/* ---- clients that call nonstop ---- */

typedef struct caller {
        pid_t pid;
        int stop_fd;     /* closed: stop */
        int result_fd;   /* "OK FAILED\n" */
} caller;

/* In the child: one connection, calls until stop_fd says so. */
static _Noreturn void caller_main(const char *path, int stop_fd, int result_fd) {
        gs_client *c = NULL;
        uint64_t ok = 0, failed = 0;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (gs_client_connect(path, &c) < 0)
                _exit(2);
        for (;;) {
                struct pollfd p = { .fd = stop_fd, .events = POLLIN };
                if (poll(&p, 1, 0) != 0)
                        break;
                gs_buf reply = GS_BUF_INIT;
                if (gs_call(c, "incr", 4, IT_WAIT_MS, &reply) == 0)
                        ok++;
                else
                        failed++;
                gs_buf_done(&reply);
        }
        dprintf(result_fd, "%" PRIu64 " %" PRIu64 "\n", ok, failed);
        gs_client_free(c);
        _exit(0);
}

/* k[i], with the pipes of k[0..i-1] not in it: each stops when its own
 * stop pipe closes. */
static void caller_start(caller *k, int i) {
        int stop[2], result[2];
        const char *path = it_path("cnt.sock");
        ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(result, O_CLOEXEC), 0);
        k[i].pid = fork();
        ck_assert_int_ge(k[i].pid, 0);
        if (k[i].pid == 0) {
                for (int j = 0; j < i; j++) {
                        close(k[j].stop_fd);
                        close(k[j].result_fd);
                }
                close(stop[1]);
                close(result[0]);
                caller_main(path, stop[0], result[1]);
        }
        close(stop[0]);
        close(result[1]);
        k[i].stop_fd = stop[1];
        k[i].result_fd = result[0];
}

static void caller_stop(caller *k, uint64_t *ok, uint64_t *failed) {
        char buf[64] = "";
        close(k->stop_fd);
        ssize_t n = read(k->result_fd, buf, sizeof(buf) - 1);
        close(k->result_fd);
        int status = 0;
        ck_assert_int_eq(waitpid(k->pid, &status, 0), k->pid);
        ck_assert_msg(n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "caller status %d", status);
        unsigned long long a = 0, b = 0;
        ck_assert_int_eq(sscanf(buf, "%llu %llu", &a, &b), 2);
        *ok += a;
        *failed += b;
}

static void upgrade_ok(gsd *d, const char *const *args) {
        json_t *doc = NULL;
        char *err = NULL;
        int r = gsd_ctl(d, "upgrade", args, &doc, &err);
        ck_assert_msg(r == 0, "upgrade: %d %s", r, err ? err : "");
        ck_assert_ptr_nonnull(doc);
        json_decref(doc);
        free(err);
}

START_TEST(test_upgrade_under_load) {
        gsd *d = start(NULL);
        gs_client *mine = connect_cnt();
        caller k[CLIENTS];
        const char *wrap = getenv("GS_TEST_WRAPPER");
        int n = wrap && strstr(wrap, "valgrind") ? UPGRADES_VALGRIND : UPGRADES_FULL;
        const char *prog = it_example("upgrade_server");

        for (int i = 0; i < CLIENTS; i++)
                caller_start(k, i);
        for (int i = 0; i < n; i++) {
                /* Up to version 2 and down to 1 again, by turns. */
                const char *args[] = { "cnt", prog, "--vsn", i % 2 ? "1" : "2", NULL };
                upgrade_ok(d, args);
        }
        uint64_t ok = 0, failed = 0;
        for (int i = 0; i < CLIENTS; i++)
                caller_stop(&k[i], &ok, &failed);
        ck_assert_uint_eq(failed, 0);
        ck_assert_uint_gt(ok, 0);

        /* Every call counted, across every process: the state lived on. A
         * connection made before the first upgrade still works. */
        char *got = call(mine, "get");
        ck_assert_str_eq(got, it_strf("%" PRIu64, ok));
        free(got);
        got = call(mine, "vsn");
        ck_assert_str_eq(got, n % 2 ? "2" : "1");
        free(got);
        gs_client_free(mine);
        ck_assert_int_eq(gsd_wait_history(d, "cnt", "upgraded", "{shutdown,upgraded}", n < 16 ? (size_t) n : 16,
                                          IT_WAIT_MS),
                         0);
        json_t *st = gsd_child(d, "cnt");
        ck_assert_str_eq(gsd_str(st, "vsn"), n % 2 ? "2" : "1");
        ck_assert_int_eq(gsd_int(st, "restarts"), 0);
        json_decref(st);
        gsd_finish(d);
}
END_TEST

/* A failed upgrade: the command fails with the reason, the old process
 * (same pid, same state, same connections) serves on. */
static void assert_rolls_back(const char *extra_keys, const char *const *args, const char *reason) {
        gsd *d = start(extra_keys);
        gs_client *c = connect_cnt();
        free(call(c, "incr"));
        free(call(c, "incr"));
        pid_t pid = gsd_pid(d, "cnt");

        char *err = NULL;
        int r = gsd_ctl(d, "upgrade", args, NULL, &err);
        ck_assert_int_ne(r, 0);
        ck_assert_msg(err && strstr(err, reason), "error: %s", err ? err : "(none)");
        free(err);
        ck_assert_int_eq(gsd_pid(d, "cnt"), pid);
        char *got = call(c, "incr");
        ck_assert_str_eq(got, "3");
        free(got);
        got = call(c, "pid");
        ck_assert_str_eq(got, it_strf("%d", (int) pid));
        free(got);
        ck_assert_uint_eq(gsd_history_count(d, "cnt", "upgrade_failed", NULL), 1);
        ck_assert_uint_eq(gsd_history_count(d, "cnt", "upgraded", NULL), 0);
        gs_client_free(c);
        gsd_finish(d);
}

START_TEST(test_rollback_code_change_error) {
        const char *args[] = { "cnt", "--extra=fail", NULL };
        assert_rolls_back(NULL, args, "{error,refused}");
}
END_TEST

START_TEST(test_rollback_crash) {
        const char *args[] = { "cnt", "--extra=crash", NULL };
        assert_rolls_back(NULL, args, "{signal,SIGABRT");
}
END_TEST

START_TEST(test_rollback_timeout) {
        const char *args[] = { "cnt", "--extra=hang", NULL };
        /* Long enough for the first start on a loaded machine under
         * sanitizers; the hang waits all of it. */
        assert_rolls_back("start_timeout = 8000;", args, "start_timeout");
}
END_TEST

/* While an upgrade is under way, what would stop or forget the child
 * (terminate-child, restart, delete-child, reload) is refused, not
 * carried out under the upgrade's feet; once it is over they work. */
START_TEST(test_busy_while_upgrading) {
        gsd *d = start("start_timeout = 8000;");
        pid_t up = fork();
        ck_assert_int_ge(up, 0);
        if (up == 0) {
                const char *args[] = { "cnt", "--extra=hang", NULL };
                _exit(gsd_ctl(d, "upgrade", args, NULL, NULL) == 0 ? 0 : 1);
        }
        ck_assert_int_eq(gsd_wait_log(d, "code_change: hanging", IT_WAIT_MS), 0);
        const char *cnt[] = { "cnt", NULL };
        const char *root_cnt[] = { "root", "cnt", NULL };
        char *err = NULL;
        ck_assert_int_eq(gsd_ctl(d, "terminate-child", root_cnt, NULL, &err), EBUSY);
        ck_assert_msg(err && strstr(err, "upgrade"), "error: %s", err ? err : "(none)");
        free(err);
        err = NULL;
        ck_assert_int_eq(gsd_ctl(d, "restart", cnt, NULL, &err), EBUSY);
        free(err);
        err = NULL;
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, NULL, &err), EBUSY);
        ck_assert_msg(err && strstr(err, "upgrade"), "error: %s", err ? err : "(none)");
        free(err);

        int status = 0;
        ck_assert_int_eq(it_wait_exit(up, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 1));   /* rolled back at the start timeout */
        ck_assert_int_eq(gsd_ctl(d, "terminate-child", root_cnt, NULL, NULL), 0);
        gsd_finish(d);
}
END_TEST

START_TEST(test_rollback_no_program) {
        const char *args[] = { "cnt", it_path("no-such-program"), NULL };
        assert_rolls_back(NULL, args, "No such file");
}
END_TEST

START_TEST(test_rollback_no_code_change) {
        /* test_server has no code_change: it cannot take the state. */
        const char *args[] = { "cnt", it_example("test_server"), NULL };
        assert_rolls_back(NULL, args, "undef_code_change");
}
END_TEST

/* A deferred reply owed when the upgrade begins is answered (by the old
 * process, before it hands off), and the extra reaches code_change. */
START_TEST(test_deferred_reply_and_extra) {
        gsd *d = start(NULL);
        gs_client *c = connect_cnt();
        free(call(c, "incr"));
        gs_reqid id;
        ck_assert_int_eq(gs_send_request(c, "defer:300", 9, &id), 0);
        /* Handled in order: once this is answered, the old process owes
         * the deferred reply. */
        free(call(c, "get"));
        const char *args[] = { "cnt", "--extra=+10", NULL };
        upgrade_ok(d, args);
        gs_buf reply = GS_BUF_INIT;
        ck_assert_int_eq(gs_wait_response(c, id, IT_WAIT_MS, &reply), 0);
        ck_assert_int_eq((int) reply.len, 1);
        ck_assert_int_eq(reply.data[0], '1');
        gs_buf_done(&reply);
        char *got = call(c, "get");
        ck_assert_str_eq(got, "11");
        free(got);
        gs_client_free(c);
        gsd_finish(d);
}
END_TEST

/* Standalone: the server upgrades itself (gs_server_upgrade); the old
 * process exits {shutdown,upgraded}, the client's connection and the
 * count live on in the new one. */
START_TEST(test_standalone_upgrade) {
        const char *sock = it_path("alone.sock");
        char *argv[] = { it_example("upgrade_server"), (char *) "--socket", (char *) sock, NULL };
        pid_t pid = it_start_server(sock, argv, NULL);
        ck_assert_int_gt(pid, 0);
        gs_client *c = NULL;
        ck_assert_int_eq(gs_client_connect(sock, &c), 0);
        free(call(c, "incr"));
        char *got = call(c, "upgrade:+1");
        ck_assert_str_eq(got, "started");
        free(got);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        got = call(c, "get");
        ck_assert_str_eq(got, "2");
        free(got);
        got = call(c, "pid");
        pid_t new_pid = atoi(got);
        free(got);
        ck_assert_int_ne(new_pid, pid);
        ck_assert_int_eq(gs_stop(sock, NULL, IT_WAIT_MS), 0);
        gs_client_free(c);
}
END_TEST

/* ---- reload: a new binary at the same path ---- */

/* Copies the program at src to dst through a new file renamed into place:
 * a new inode, as a package manager installs one. */
static void install(const char *src, const char *dst) {
        char *text = NULL;
        size_t len = 0;
        FILE *in = fopen(src, "re");
        ck_assert_ptr_nonnull(in);
        FILE *mem = open_memstream(&text, &len);
        for (int ch; (ch = fgetc(in)) != EOF;)
                fputc(ch, mem);
        fclose(in);
        fclose(mem);
        char *tmp = it_strf("%s.new", dst);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
        close(fd);
        ck_assert_int_eq(rename(tmp, dst), 0);
        free(text);
}

static gsd *start_installed(const char *prog, const char *policy) {
        install(it_example("upgrade_server"), prog);
        char *conf = gsd_write_file("upgrade.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"cnt\"; exec = [\"%s\"]; listen = true; %s }\n"
                                    "); };\n",
                                    prog, policy);
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start(conf, &d), 0);
        ck_assert_int_eq(gsd_wait_state(d, "cnt", "running", IT_WAIT_MS), 0);
        free(conf);
        return d;
}

static bool listed(json_t *doc, const char *list, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, list), i, v) if (strcmp(json_string_value(v), name) == 0) return true;
        return false;
}

/* on_program_change = "upgrade": reload notices the new binary and
 * upgrades in place; the count lives on. */
START_TEST(test_reload_upgrades_new_binary) {
        const char *prog = it_path("counter");
        gsd *d = start_installed(prog, "on_program_change = \"upgrade\";");
        gs_client *c = connect_cnt();
        free(call(c, "incr"));
        pid_t pid = gsd_pid(d, "cnt");

        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, &doc, NULL), 0);
        ck_assert_msg(!listed(doc, "program_changed", "cnt"), "%s", json_dumps(doc, 0));
        json_decref(doc);
        install(it_example("upgrade_server"), prog);
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, &doc, NULL), 0);
        ck_assert_msg(listed(doc, "program_changed", "cnt") && listed(doc, "upgraded", "cnt") &&
                              !listed(doc, "changed", "cnt"),
                      "%s", json_dumps(doc, 0));
        json_decref(doc);
        ck_assert_int_ne(gsd_pid(d, "cnt"), pid);
        char *got = call(c, "incr");
        ck_assert_str_eq(got, "2");
        free(got);
        /* The old process's exit comes after the answer. */
        ck_assert_int_eq(gsd_wait_history(d, "cnt", "upgraded", "{shutdown,upgraded}", 1, IT_WAIT_MS), 0);
        gs_client_free(c);
        gsd_finish(d);
}
END_TEST

/* The default: reload notices the new binary, says so, and restarts. */
START_TEST(test_reload_restarts_new_binary) {
        const char *prog = it_path("counter");
        gsd *d = start_installed(prog, "");
        pid_t pid = gsd_pid(d, "cnt");
        install(it_example("upgrade_server"), prog);
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, &doc, NULL), 0);
        ck_assert_msg(listed(doc, "program_changed", "cnt") && listed(doc, "changed", "cnt") &&
                              !listed(doc, "upgraded", "cnt"),
                      "%s", json_dumps(doc, 0));
        json_decref(doc);
        ck_assert_int_gt(gsd_wait_new_pid(d, "cnt", pid, IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_history_count(d, "cnt", "upgraded", NULL), 0);
        gsd_finish(d);
}
END_TEST

Suite *upgrade_suite(void) {
        Suite *s = suite_create("upgrade");
        TCase *tc = tcase_create("upgrade");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_upgrade_under_load);
        tcase_add_test(tc, test_rollback_code_change_error);
        tcase_add_test(tc, test_rollback_crash);
        tcase_add_test(tc, test_rollback_timeout);
        tcase_add_test(tc, test_busy_while_upgrading);
        tcase_add_test(tc, test_rollback_no_program);
        tcase_add_test(tc, test_rollback_no_code_change);
        tcase_add_test(tc, test_deferred_reply_and_extra);
        tcase_add_test(tc, test_standalone_upgrade);
        tcase_add_test(tc, test_reload_upgrades_new_binary);
        tcase_add_test(tc, test_reload_restarts_new_binary);
        suite_add_tcase(s, tc);
        return s;
}
