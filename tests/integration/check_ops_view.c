/* check_ops_view.c: what an operator watches. A child's history and
 * restart count across a restart of its supervisor; events for every
 * stop and start, and who asked for a change (the uid and pid
 * SO_PEERCRED gives); gensupctl metrics checked by Prometheus's own
 * promtool, printed and served over HTTP (--listen). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

#define TIMEOUT_S 60

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

static void start(const char *config_text) {
        char *conf = gsd_write_file("gensup.conf", "%s", config_text);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
}

static int ctl2(const char *command, const char *a, const char *b) {
        const char *args[] = { a, b, NULL };
        return gsd_ctl(D, command, args, NULL, NULL);
}

/* The events gensupd keeps (a new reference). */
static json_t *events(void) {
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(D, "events", NULL, &doc, NULL), 0);
        json_t *list = json_incref(json_object_get(doc, "events"));
        json_decref(doc);
        return list;
}

/* How many events of this kind about sup/child there are. */
static size_t count_events(json_t *list, const char *kind, const char *sup, const char *child) {
        size_t i, n = 0;
        json_t *ev;
        json_array_foreach(list, i, ev) {
                const char *k = gsd_str(ev, "event"), *s = gsd_str(ev, "supervisor"), *c = gsd_str(ev, "child");
                if (k && strcmp(k, kind) == 0 && s && strcmp(s, sup) == 0 && c && strcmp(c, child) == 0)
                        n++;
        }
        return n;
}

#define NESTED_CONF                                                                                                  \
        "supervisor = { name = \"top\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n"                 \
        "  children = (\n"                                                                                           \
        "    { name = \"mid\"; type = \"supervisor\"; strategy = \"one_for_all\"; intensity = 10; period = 60;\n"    \
        "      children = (\n"                                                                                       \
        "        { name = \"a\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\"; },\n"                          \
        "        { name = \"b\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\"; }\n"                           \
        "      ); }\n"                                                                                               \
        "  ); };\n"

/* a crashes: one_for_all takes b down (a "stopped" event) and starts
 * both. Then mid itself is terminated and restarted by request: a keeps
 * its crash in its history and its restart count goes on. */
START_TEST(test_history_survives_parent_restart) {
        start(NESTED_CONF);
        ck_assert_int_eq(gsd_wait_state(D, "b", "running", IT_WAIT_MS), 0);
        pid_t a = gsd_pid(D, "a");
        ck_assert_int_gt(a, 0);
        kill(a, SIGKILL);
        ck_assert_int_gt(gsd_wait_new_pid(D, "a", a, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "b", "running", IT_WAIT_MS), 0);

        ck_assert_int_eq(ctl2("terminate-child", "top", "mid"), 0);
        ck_assert_int_eq(ctl2("restart-child", "top", "mid"), 0);
        ck_assert_int_eq(gsd_wait_state(D, "a", "running", IT_WAIT_MS), 0);

        ck_assert_uint_eq(gsd_history_count(D, "a", "child_terminated", "{signal,SIGKILL}"), 1);
        ck_assert_uint_eq(gsd_history_count(D, "a", "shutdown", NULL), 1);
        json_t *ch = gsd_child(D, "a");
        /* Once after its crash, once with its supervisor. */
        ck_assert_int_eq(gsd_int(ch, "restarts"), 2);
        ck_assert_int_eq(gsd_int(json_object_get(ch, "exits"), "signal"), 1);
        json_decref(ch);

        json_t *list = events();
        ck_assert_uint_ge(count_events(list, "stopped", "mid", "b"), 2);   /* one_for_all, then terminate-child */
        ck_assert_uint_eq(count_events(list, "stopped", "top", "mid"), 1);
        ck_assert_uint_eq(count_events(list, "started", "top", "mid"), 2);  /* boot, restart-child */
        json_decref(list);
}
END_TEST

/* The requests that change the tree say who asked: here, this process. */
START_TEST(test_events_say_who_asked) {
        start(NESTED_CONF);
        ck_assert_int_eq(gsd_wait_state(D, "b", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(ctl2("terminate-child", "mid", "b"), 0);
        ck_assert_int_eq(ctl2("restart-child", "mid", "b"), 0);
        ck_assert_int_eq(gsd_ctl(D, "reload", NULL, NULL, NULL), 0);

        json_t *list = events();
        size_t i, seen = 0;
        json_t *ev;
        json_array_foreach(list, i, ev) {
                if (!gsd_str(ev, "event") || strcmp(gsd_str(ev, "event"), "requested") != 0)
                        continue;
                json_t *by = json_object_get(ev, "by");
                ck_assert_int_eq(gsd_int(by, "uid"), (long long) getuid());
                ck_assert_int_eq(gsd_int(by, "pid"), (long long) getpid());
                seen++;
        }
        ck_assert_uint_eq(seen, 3);
        ck_assert_uint_eq(count_events(list, "requested", "mid", "b"), 2);
        ck_assert_uint_eq(count_events(list, "stopped", "mid", "b"), 1);
        json_decref(list);
}
END_TEST

/* ---- metrics ---- */

#define METRICS_CONF                                                                                \
        "supervisor = { name = \"top\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n" \
        "  children = (\n"                                                                          \
        "    { name = \"srv\"; listen = true; exec = [\"%s\"]; },\n"                                \
        "    { name = \"plain\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\"; }\n"          \
        "  ); };\n"

static void start_metrics_tree(void) {
        char *ts = it_example("test_server");
        char *text = it_strf(METRICS_CONF, ts);
        start(text);
        free(text);
        free(ts);
        ck_assert_int_eq(gsd_wait_state(D, "plain", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(D, "srv", "running", IT_WAIT_MS), 0);
}

/* Runs a shell command line; its exit code. */
static int sh(const char *line) {
        int st = system(line);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void assert_contains(const char *text, const char *needle) {
        if (!strstr(text, needle))
                ck_abort_msg("no '%s' in:\n%s", needle, text);
}

START_TEST(test_metrics_promtool) {
        start_metrics_tree();
        pid_t plain = gsd_pid(D, "plain");
        kill(plain, SIGKILL);
        ck_assert_int_gt(gsd_wait_new_pid(D, "plain", plain, IT_WAIT_MS), 0);
        free(gsd_call("srv", "echo:hi", IT_WAIT_MS));

        char *out = it_path("metrics.txt");
        char *line = it_strf("'%s/bin/gensupctl' -s '%s' metrics > '%s'", GS_BUILD_DIR, D->control, out);
        ck_assert_int_eq(sh(line), 0);
        free(line);
        line = it_strf("promtool check metrics < '%s'", out);
        ck_assert_int_eq(sh(line), 0);
        free(line);
        char *text = it_read_file(out);
        ck_assert_ptr_nonnull(text);
        assert_contains(text, "gensup_child_state{supervisor=\"top\",child=\"plain\",state=\"running\"} 1\n");
        assert_contains(text, "gensup_child_restarts_total{supervisor=\"top\",child=\"plain\"} 1\n");
        assert_contains(text, "gensup_child_exits_total{supervisor=\"top\",child=\"plain\",reason=\"signal\"} 1\n");
        assert_contains(text, "gensup_server_calls_total{supervisor=\"top\",child=\"srv\"} 1\n");
        assert_contains(text, "gensup_child_uptime_seconds{supervisor=\"top\",child=\"srv\"} ");
        assert_contains(text, "gensupd_open_fds ");
        assert_contains(text, "gensupd_resident_memory_bytes ");
        /* The plain program answers no sys request. */
        assert_contains(text, "gensup_scrape_servers_unanswered 1\n");
        free(text);
        free(out);
}
END_TEST

/* One HTTP/1.0 GET over the Unix socket: the whole answer (caller frees). */
static char *http_get(const char *path, const char *url) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        char *req = it_strf("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", url);
        ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t) strlen(req));
        free(req);
        size_t len = 0, cap = 1 << 16;
        char *buf = malloc(cap + 1);
        ssize_t n;
        while ((n = read(fd, buf + len, cap - len)) > 0) {
                len += (size_t) n;
                if (len == cap)
                        buf = realloc(buf, (cap *= 2) + 1);
        }
        close(fd);
        buf[len] = '\0';
        return buf;
}

START_TEST(test_metrics_listen) {
        start_metrics_tree();
        char *sock = it_path("metrics.sock");
        char *listen = it_strf("unix:%s", sock);
        char *argv[] = { GS_BUILD_DIR "/bin/gensupctl", "-s", D->control, "metrics", "--listen", listen, NULL };
        pid_t pid = it_spawn(argv, NULL, NULL, 0, NULL);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(it_wait_socket(sock, IT_WAIT_MS), 0);

        char *answer = http_get(sock, "/metrics");
        assert_contains(answer, " 200 OK\r\n");
        assert_contains(answer, "text/plain; version=0.0.4");
        char *body = strstr(answer, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        char *file = gsd_write_file("scraped.txt", "%s", body + 4);
        char *line = it_strf("promtool check metrics < '%s'", file);
        ck_assert_int_eq(sh(line), 0);
        assert_contains(body, "gensup_child_state{supervisor=\"top\",child=\"srv\",state=\"running\"} 1\n");
        free(answer);
        answer = http_get(sock, "/other");
        assert_contains(answer, " 404 ");

        kill(pid, SIGTERM);
        int status;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        ck_assert_int_ne(access(sock, F_OK), 0);
        free(answer);
        free(line);
        free(file);
        free(listen);
        free(sock);
}
END_TEST

Suite *ops_view_suite(void);
Suite *ops_view_suite(void) {
        Suite *s = suite_create("ops_view");
        TCase *tc = tcase_create("events");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_history_survives_parent_restart);
        tcase_add_test(tc, test_events_say_who_asked);
        suite_add_tcase(s, tc);
        tc = tcase_create("metrics");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_metrics_promtool);
        tcase_add_test(tc, test_metrics_listen);
        suite_add_tcase(s, tc);
        return s;
}
