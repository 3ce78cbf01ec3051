/* check_ops_logwriter.c: a log_dir file that blocks never blocks
 * supervision. The child's log file is a FIFO whose reader (this test)
 * does not read: gensupd's writer blocks in write(2) once the pipe is
 * full. Meanwhile another child is killed and restarts and status
 * answers; then the test reads everything, and every line the child
 * wrote is either in the file, in order, or counted in a "lines lost"
 * line there. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup.h"

Suite *ops_logwriter_suite(void);

#define LINES 50000

static gsd *D;
static int rfd = -1;

static void teardown(void) {
        D = gsd_free(D);
        if (rfd >= 0)
                close(rfd);
        rfd = -1;
}

/* The text of the last line in `logs w` ("" if none; caller frees). */
static char *last_line(void) {
        const char *args[] = { "w", "1", NULL };
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "logs", args, &j, NULL), 0);
        json_t *l = json_array_get(json_object_get(j, "lines"), 0);
        char *s = strdup(l ? gsd_str(l, "line") : "");
        json_decref(j);
        return s;
}

static void wait_last_line(const char *text) {
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                char *s = last_line();
                bool done = strcmp(s, text) == 0;
                free(s);
                if (done)
                        return;
                ck_assert_msg(it_now_ms() < deadline, "w's last line is not %s", text);
                it_nap_ms(20);
        }
}

typedef struct tally {
        long next;       /* the number the next seq line should be at least */
        long seen, lost;
} tally;

/* One line of the file: "TIME stdout[PID]: N" or "TIME gensupd: K lines lost ...". */
static void take_line(tally *t, const char *line) {
        const char *p = strstr(line, " stdout[");
        if (p && (p = strstr(p, "]: "))) {
                long n = strtol(p + 3, NULL, 10);
                ck_assert_msg(n >= t->next, "line %ld after %ld: out of order or twice", n, t->next - 1);
                t->next = n + 1;
                t->seen++;
                return;
        }
        p = strstr(line, " gensupd: ");
        ck_assert_msg(p && strstr(p, " lines lost"), "unexpected line: %s", line);
        t->lost += strtol(p + 10, NULL, 10);
}

/* Reads the FIFO until every line is accounted for. */
static tally read_all(void) {
        tally t = { .next = 1 };
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        while (t.seen + t.lost < LINES) {
                ck_assert_msg(it_now_ms() < deadline, "%ld lines seen, %ld lost, of %d", t.seen, t.lost, LINES);
                struct pollfd p = { .fd = rfd, .events = POLLIN };
                (void) poll(&p, 1, 100);
                ssize_t n = read(rfd, buf + len, cap - len - 1);
                if (n <= 0)
                        continue;
                len += (size_t) n;
                buf[len] = '\0';
                char *start = buf, *nl;
                while ((nl = strchr(start, '\n'))) {
                        *nl = '\0';
                        take_line(&t, start);
                        start = nl + 1;
                }
                len -= (size_t) (start - buf);
                memmove(buf, start, len);
        }
        free(buf);
        return t;
}

START_TEST(stuck_file_does_not_block) {
        char *dir = it_path("logs");
        char *fifo = it_strf("%s/w.log", dir);
        ck_assert_int_eq(mkdir(dir, 0750), 0);
        ck_assert_int_eq(mkfifo(fifo, 0640), 0);
        rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(rfd, 0);
        char *conf = gsd_write_file(
                "stuck.conf",
                "log_dir = \"%s\"; log_rotate = { size = 1073741824; keep = 1; };\n"
                "supervisor = { name = \"root\"; intensity = 100; period = 5; children = (\n"
                "  { name = \"other\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; },\n"
                "  { name = \"w\"; ready = \"exec\"; output_limit = { lines = 0; bytes = 0; };\n"
                "    exec = [\"/bin/sh\", \"-c\", \"seq 1 %d; exec sleep 1000\"]; }\n"
                "); };\n",
                dir, LINES);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);

        /* The pipe fills: the writer is stuck in write(2) from then on. */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (int queued = 0; queued < 60000;) {
                ck_assert_msg(it_now_ms() < deadline, "the FIFO holds %d bytes only", queued);
                it_nap_ms(20);
                ck_assert_int_eq(ioctl(rfd, FIONREAD, &queued), 0);
        }
        /* gensupd still reads the child's every line, ... */
        wait_last_line(it_strf("%d", LINES));
        /* ... restarts children and answers. */
        pid_t old = gsd_pid(D, "other");
        ck_assert_int_gt(old, 0);
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        ck_assert_int_gt(gsd_wait_new_pid(D, "other", old, IT_WAIT_MS), 0);
        json_t *c = gsd_child(D, "w");
        ck_assert_str_eq(gsd_str(c, "state"), "running");
        json_decref(c);

        /* Unstuck: every line is there or counted as lost. */
        tally t = read_all();
        fprintf(stderr, "ops_logwriter: %ld lines in the file, %ld counted as lost\n", t.seen, t.lost);
        ck_assert_int_eq(t.seen + t.lost, LINES);
        ck_assert_int_gt(t.seen, 0);
        ck_assert_int_gt(t.lost, 0);   /* the queue is bounded */
        /* status counts what the queue dropped: all of it, here. */
        json_t *st = NULL;
        ck_assert_int_eq(gsd_ctl(D, "status", NULL, &st, NULL), 0);
        ck_assert_int_eq(gsd_int(json_object_get(st, "gensupd"), "log_lines_dropped"), t.lost);
        json_decref(st);
        free(conf);
        free(fifo);
        free(dir);
        D = gsd_finish(D);
}
END_TEST

static char *reload_conf(const char *logdir) {
        return gsd_write_file("reload.conf",
                              "log_dir = \"%s\"; log_rotate = { size = 8192; keep = 3; };\n"
                              "supervisor = { name = \"root\"; intensity = 100; period = 5; children = (\n"
                              "  { name = \"w\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\", \"echo hi $$; exec sleep 1000\"]; }\n"
                              "); };\n",
                              logdir);
}

/* reload applies log_dir (and log_rotate): the child's next line goes
 * to the file under the new folder, none to the old one. */
START_TEST(reload_moves_log_dir) {
        char *a = it_path("logs-a"), *b = it_path("logs-b");
        char *conf = reload_conf(a);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        ck_assert_int_eq(gsd_wait_state(D, "w", "running", IT_WAIT_MS), 0);
        pid_t old = gsd_pid(D, "w");
        char *fa = it_strf("%s/w.log", a), *fb = it_strf("%s/w.log", b);
        char *first = it_strf("]: hi %d\n", (int) old);
        ck_assert_int_eq(it_wait_file_contains(fa, first, IT_WAIT_MS), 0);
        free(first);

        free(reload_conf(b));
        char *error = NULL;
        ck_assert_int_eq(gsd_ctl(D, "reload", NULL, NULL, &error), 0);
        free(error);
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        pid_t again = gsd_wait_new_pid(D, "w", old, IT_WAIT_MS);
        ck_assert_int_gt(again, 0);
        char *hi = it_strf("]: hi %d\n", (int) again);
        ck_assert_int_eq(it_wait_file_contains(fb, hi, IT_WAIT_MS), 0);
        char *text = it_read_file(fa);
        ck_assert_msg(!strstr(text, hi), "the old file has the new line too: %s", text);
        free(text);
        free(hi);
        free(fa);
        free(fb);
        free(conf);
        free(a);
        free(b);
        D = gsd_finish(D);
}
END_TEST

Suite *ops_logwriter_suite(void) {
        Suite *s = suite_create("ops_logwriter");
        TCase *tc = tcase_create("logwriter");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, stuck_file_does_not_block);
        tcase_add_test(tc, reload_moves_log_dir);
        suite_add_tcase(s, tc);
        return s;
}
