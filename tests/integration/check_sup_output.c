/* check_sup_output.c: what gensupd writes on its stderr, and that writing
 * it never stalls supervision: a stderr pipe nobody reads, a child that
 * prints without pause, the per-child output limit, and the line format
 * (a timestamp on every line; a child's stdout and stderr told apart). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_output_suite(void);

static gsd *D;
static int fifo_rfd = -1;

static void teardown(void) {
        D = gsd_free(D);
        if (fifo_rfd >= 0)
                close(fifo_rfd);
        fifo_rfd = -1;
}

/* ---- a gensupd whose stderr is a FIFO nobody reads ---- */

/* Starts gensupd with stderr on a FIFO of one page whose read end (kept
 * in fifo_rfd, not read) is ours; waits until its control socket answers. */
static void start_on_fifo(const char *conf) {
        char *fifo = it_path("stderr.fifo");
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        fifo_rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(fifo_rfd, 0);
        /* One page: full after a few lines. */
        (void) fcntl(fifo_rfd, F_SETPIPE_SZ, 4096);

        D = calloc(1, sizeof(*D));
        ck_assert_ptr_nonnull(D);
        D->config = strdup(conf);
        D->log = strdup(fifo);
        D->control = strdup(it_path("control.sock"));
        char *prog = it_strf("%s/bin/gensupd", GS_BUILD_DIR);
        D->pid = it_spawn((char *[]) { prog, (char *) "-c", D->config, (char *) "--log-stderr", NULL }, NULL, NULL, 0,
                          fifo);
        ck_assert_int_gt(D->pid, 0);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        while (gsd_ctl(D, "status", NULL, NULL, NULL) != 0) {
                ck_assert_msg(it_now_ms() < deadline, "gensupd did not answer");
                it_nap_ms(10);
        }
}

/* Waits until the FIFO can take no more (a writer of our own sees no
 * POLLOUT), bounded. */
static void wait_fifo_full(void) {
        int wfd = open(D->log, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(wfd, 0);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                struct pollfd p = { .fd = wfd, .events = POLLOUT };
                if (poll(&p, 1, 0) == 0)
                        break;
                ck_assert_msg(it_now_ms() < deadline, "gensupd's stderr never filled");
                it_nap_ms(10);
        }
        close(wfd);
}

/* Reads the FIFO until text has come (every needle), bounded; returns
 * all that was read (caller frees). */
static char *drain_until(const char *const *needles, size_t n_needles) {
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        ck_assert_ptr_nonnull(buf);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                buf[len] = '\0';
                size_t found = 0;
                for (size_t i = 0; i < n_needles; i++)
                        found += strstr(buf, needles[i]) != NULL;
                if (found == n_needles || it_now_ms() >= deadline)
                        return buf;
                struct pollfd p = { .fd = fifo_rfd, .events = POLLIN };
                (void) poll(&p, 1, 100);
                if (len + 4097 > cap && !(buf = realloc(buf, cap *= 2)))
                        ck_abort_msg("out of memory");
                ssize_t r = read(fifo_rfd, buf + len, 4096);
                if (r > 0)
                        len += (size_t) r;
        }
}

/* gensupctl ARGS with stdout captured; its exit status (-1: it did not
 * end in time). */
static int run_gensupctl(char *const argv[], char **ret_out) {
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(p[1], 1);
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        size_t cap = 1 << 16, len = 0;
        char *out = calloc(1, cap);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                struct pollfd pf = { .fd = p[0], .events = POLLIN };
                int left = (int) (deadline - it_now_ms());
                if (left <= 0 || poll(&pf, 1, left) <= 0)
                        break;
                ssize_t r = read(p[0], out + len, cap - len - 1);
                if (r <= 0)
                        break;
                len += (size_t) r;
        }
        close(p[0]);
        int status;
        int r = it_wait_exit(pid, 100, &status);
        if (r < 0)
                it_kill(pid);
        *ret_out = out;
        return r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A stderr pipe nobody reads must not stop supervision: a crashed child is
 * restarted, status answers, and once the pipe is read the lines that
 * could not wait are counted. */
START_TEST(stalled_stderr) {
        char *conf = gsd_write_file(
                "stall.conf",
                "supervisor = { name = \"root\"; intensity = 10; period = 5; children = (\n"
                "  { name = \"chatty\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"exec yes chatter\"]; },\n"
                "  { name = \"victim\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                "); };\n");
        start_on_fifo(conf);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "victim", "running", IT_WAIT_MS), 0);
        wait_fifo_full();

        pid_t victim = gsd_pid(D, "victim");
        ck_assert_int_gt(victim, 0);
        ck_assert_int_eq(kill(victim, SIGSEGV), 0);
        pid_t again = gsd_wait_new_pid(D, "victim", victim, IT_WAIT_MS);
        ck_assert_int_gt(again, 0);

        /* What an operator runs, with the pipe still full. */
        char *out = NULL;
        char *ctl = it_strf("%s/bin/gensupctl", GS_BUILD_DIR);
        int code = run_gensupctl((char *[]) { ctl, (char *) "--json", (char *) "status", NULL }, &out);
        ck_assert_msg(code == 0, "gensupctl status: exit %d", code);
        json_t *j = json_loads(out, 0, NULL);
        ck_assert_msg(j != NULL, "gensupctl status: %s", out);
        json_t *v = gsd_find(json_object_get(j, "tree"), "victim");
        ck_assert_int_eq(gsd_int(v, "restarts"), 1);
        ck_assert_int_eq(gsd_int(v, "pid"), again);
        ck_assert_str_eq(gsd_str(v, "reason"), "{signal,SIGSEGV}");
        json_decref(j);
        free(out);

        /* The exit was stamped when it happened: before the pipe drained. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long drain_us = (long long) now.tv_sec * 1000000LL + now.tv_nsec / 1000;
        json_t *h = gsd_history(D, "victim");
        json_t *last = json_array_get(h, json_array_size(h) - 1);
        ck_assert_int_gt(gsd_int(last, "time_us"), 0);
        ck_assert_int_le(gsd_int(last, "time_us"), drain_us);
        json_decref(h);

        const char *needles[] = {
                "lines dropped (stderr could not take them)",
                "Context: child_terminated. Reason: {signal,SIGSEGV}. Offender: id=victim,",
        };
        char *text = drain_until(needles, 2);
        ck_assert_msg(strstr(text, needles[0]), "no drop count in what gensupd wrote");
        ck_assert_msg(strstr(text, needles[1]), "no crash report in what gensupd wrote");
        ck_assert_ptr_null(strstr(text, "Sanitizer"));
        ck_assert_ptr_null(strstr(text, "runtime error"));
        free(text);
}
END_TEST

/* ---- the output limit ---- */

/* A child over its limit: lines beyond it are dropped and counted, and
 * gensupd answers meanwhile. */
START_TEST(output_limit) {
        char *conf = gsd_write_file(
                "limit.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"burst\"; ready = \"exec\"; output_limit = { lines = 10; burst = 1; };\n"
                "    exec = [\"/bin/sh\", \"-c\", \"seq 1 5000; exec sleep 1000\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_log(D, "gensupd: burst: output over its limit (10 lines/s, 262144 bytes/s): ",
                                      IT_WAIT_MS),
                         0);
        ck_assert_int_eq(gsd_wait_state(D, "burst", "running", IT_WAIT_MS), 0);
        size_t copied = gsd_log_count(D, " burst stdout: ");
        ck_assert_uint_gt(copied, 0);
        ck_assert_uint_lt(copied, 5000);
        ck_assert_uint_eq(gsd_log_count(D, " burst stdout: 1\n"), 1);
        /* status counts them too. */
        json_t *c = gsd_child(D, "burst");
        json_t *dropped = json_object_get(c, "output_dropped");
        ck_assert_msg(json_is_object(dropped), "no output_dropped in status");
        ck_assert_int_gt(gsd_int(dropped, "lines"), 0);
        ck_assert_int_gt(gsd_int(dropped, "bytes"), 0);
        json_decref(c);
        D = gsd_finish(D);
}
END_TEST

/* ---- the line format ---- */

static bool stamped(const char *line) {
        regex_t re;
        ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ",
                                 REG_EXTENDED | REG_NOSUB),
                         0);
        bool ok = regexec(&re, line, 0, NULL, 0) == 0;
        regfree(&re);
        return ok;
}

/* Every line begins with a timestamp; a child's stdout and stderr carry
 * their stream's name. */
START_TEST(line_format) {
        char *conf = gsd_write_file(
                "format.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"two\"; ready = \"exec\";\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo to-out; echo to-err >&2; exec sleep 1000\"]; }\n"
                "); };\n");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_log(D, "to-err", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "to-out", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(D, "all children started", IT_WAIT_MS), 0);
        ck_assert_uint_eq(gsd_log_count(D, " two stdout: to-out\n"), 1);
        ck_assert_uint_eq(gsd_log_count(D, " two stderr: to-err\n"), 1);

        char **lines = gsd_lines(D->log);
        size_t n = gsd_lines_count(lines);
        ck_assert_uint_ge(n, 3);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(stamped(lines[i]), "no timestamp: %s", lines[i]);
        gsd_lines_free(lines);
        D = gsd_finish(D);
}
END_TEST

Suite *sup_output_suite(void) {
        Suite *s = suite_create("sup_output");
        TCase *tc = tcase_create("output");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, stalled_stderr);
        tcase_add_test(tc, output_limit);
        tcase_add_test(tc, line_format);
        suite_add_tcase(s, tc);
        return s;
}
