/* check_sup_init.c: gensupd as the init of a container (PID 1 of its own
 * pid namespace, started by unshare --pid --fork --mount-proc as a
 * container runtime would), and as the reaper of orphans outside one:
 * it reaps orphaned grandchildren, stops the tree on SIGTERM and SIGINT
 * with exit 0, answers SIGHUP, SIGUSR1, SIGUSR2 and SIGQUIT as gensupd(8)
 * says, tells by its exit status whether the tree gave up, and answers
 * the HEALTHCHECK command of examples/Containerfile. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_init_suite(void);

static gsd *D;
static pid_t GSD_PID;   /* gensupd as seen from here (D->pid is unshare, when PID 1) */

static void teardown(void) {
        D = gsd_finish(D);
        GSD_PID = 0;
}

/* The first pid in /proc/PID/task/PID/children, 0 when none (yet). */
static pid_t first_child(pid_t pid) {
        char *path = it_strf("/proc/%d/task/%d/children", (int) pid, (int) pid);
        char *text = it_read_file(path);
        pid_t child = text ? (pid_t) atoi(text) : 0;
        free(text);
        free(path);
        return child;
}

/* Whether this machine lets us make a pid namespace (root, no seccomp
 * profile forbidding it). */
static bool can_unshare(void) {
        pid_t pid = it_spawn((char *[]) { (char *) "/usr/bin/unshare", (char *) "--pid", (char *) "--fork",
                                          (char *) "--mount-proc", (char *) "/bin/true", NULL },
                             NULL, NULL, 0, "/dev/null");
        int status = 0;
        return pid > 0 && it_wait_exit(pid, IT_WAIT_MS, &status) == 0 && it_exited_with(status, 0);
}

/* Starts gensupd as PID 1 of a new pid namespace and waits until its
 * control socket answers; sets D (its pid: unshare's, which exits with
 * gensupd's status) and GSD_PID (gensupd's own pid, to signal). */
static void start_pid1(const char *config) {
        D = calloc(1, sizeof(*D));
        ck_assert_ptr_nonnull(D);
        D->config = strdup(config);
        D->log = it_path("gensupd.log");
        D->control = it_path("control.sock");
        char *prog = it_strf("%s/bin/gensupd", GS_BUILD_DIR);
        /* --kill-child: if the test dies, gensupd dies, and the kernel
         * kills everything in its namespace. */
        D->pid = it_spawn((char *[]) { (char *) "/usr/bin/unshare", (char *) "--pid", (char *) "--mount-proc",
                                       (char *) "--kill-child", prog, (char *) "-c", D->config,
                                       (char *) "--log-stderr", NULL },
                          NULL, NULL, 0, D->log);
        ck_assert_int_gt(D->pid, 0);
        for (int i = 0; i < IT_WAIT_MS / 10; i++) {
                if (!GSD_PID)
                        GSD_PID = first_child(D->pid);
                json_t *j = NULL;
                int code = gsd_ctl(D, "status", NULL, &j, NULL);
                json_decref(j);
                if (GSD_PID && code == 0)
                        return;
                ck_assert_msg(gsd_pid_alive(D->pid), "gensupd as PID 1 did not start: %s", gsd_log_text(D));
                it_nap_ms(10);
        }
        ck_abort_msg("gensupd as PID 1 did not answer");
}

static void start_plain(const char *config) {
        ck_assert_int_eq(gsd_start(config, &D), 0);
        GSD_PID = D->pid;
}

static void signal_gensupd(int sig) {
        ck_assert_int_gt(GSD_PID, 0);
        ck_assert_int_eq(kill(GSD_PID, sig), 0);
}

static int wait_exit_status(void) {
        int status = 0;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert_msg(WIFEXITED(status), "gensupd did not exit by itself (status 0x%x)", (unsigned) status);
        return WEXITSTATUS(status);
}

/* ---- orphans ---- */

/* A child whose shell leaves an orphan behind: a grandchild, its parent
 * gone at once, that writes its pid (as its namespace sees it) to
 * orphan.pid and exits when a line comes on go.fifo. */
static char *orphan_config(void) {
        char *fifo = it_path("go.fifo");
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        char *conf = gsd_write_file(
                "init.conf",
                "supervisor = { name = \"root\"; intensity = 1000; period = 1; children = (\n"
                "  { name = \"w\"; ready = \"exec\"; exec = [\"/bin/sh\", \"-c\",\n"
                "    \"(sh -c 'echo $$ > %s/orphan.pid.new && mv %s/orphan.pid.new %s/orphan.pid; read x < %s' &); "
                "exec sleep 100000\"]; }\n"
                "); };\n",
                it_tmpdir(), it_tmpdir(), it_tmpdir(), fifo);
        free(fifo);
        return conf;
}

/* The pid in the last field of NSpid (the innermost namespace's) of pid. */
static pid_t innermost_pid(pid_t pid) {
        char *path = it_strf("/proc/%d/status", (int) pid);
        char *text = it_read_file(path);
        free(path);
        char *line = text ? strstr(text, "\nNSpid:") : NULL;
        pid_t inner = 0;
        if (line) {
                char *end = strchr(line + 1, '\n');
                if (end)
                        *end = '\0';
                char *last = strrchr(line, '\t');
                inner = last ? (pid_t) atoi(last + 1) : 0;
        }
        free(text);
        return inner;
}

/* The child of gensupd whose innermost pid is inner, 0 when none. */
static pid_t child_of_gensupd(pid_t inner) {
        char *path = it_strf("/proc/%d/task/%d/children", (int) GSD_PID, (int) GSD_PID);
        char *text = it_read_file(path);
        free(path);
        pid_t found = 0;
        for (char *t = text ? strtok(text, " \n") : NULL; t && !found; t = strtok(NULL, " \n"))
                if (innermost_pid((pid_t) atoi(t)) == inner)
                        found = (pid_t) atoi(t);
        free(text);
        return found;
}

/* The orphan is reparented to gensupd; once it exits, gensupd reaps it:
 * its zombie goes away while gensupd and its child run on. */
static void assert_orphan_reaped(void) {
        char *pidfile = it_path("orphan.pid");
        ck_assert_int_eq(it_wait_file_contains(pidfile, "\n", IT_WAIT_MS), 0);
        char *text = it_read_file(pidfile);
        pid_t inner = (pid_t) atoi(text);
        free(text);
        free(pidfile);
        ck_assert_int_gt(inner, 1);

        pid_t orphan = 0;
        for (int i = 0; i < IT_WAIT_MS / 10 && !orphan; i++, it_nap_ms(10))
                orphan = child_of_gensupd(inner);
        ck_assert_msg(orphan > 0, "the orphan (pid %d inside) is not gensupd's child", (int) inner);

        char *fifo = it_path("go.fifo");
        int fd = open(fifo, O_WRONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "go\n", 3), 3);
        close(fd);
        free(fifo);

        char *proc = it_strf("/proc/%d", (int) orphan);
        for (int i = 0; i < IT_WAIT_MS / 10 && access(proc, F_OK) == 0; i++)
                it_nap_ms(10);
        ck_assert_msg(access(proc, F_OK) != 0, "the orphan %d exited but was not reaped", (int) orphan);
        free(proc);
        ck_assert_int_gt(gsd_pid(D, "w"), 0);
}

START_TEST(pid1_reaps_orphans_and_stops_on_sigterm) {
        if (!can_unshare())
                return;
        char *conf = orphan_config();
        start_pid1(conf);
        free(conf);
        assert_orphan_reaped();

        signal_gensupd(SIGTERM);
        ck_assert_int_eq(wait_exit_status(), 0);
        ck_assert_uint_eq(gsd_log_count(D, "stopping the tree"), 1);
}
END_TEST

/* Not PID 1: gensupd is a child subreaper, so the orphans of its
 * children come to it rather than to the machine's init. */
START_TEST(subreaper_reaps_orphans) {
        char *conf = orphan_config();
        start_plain(conf);
        free(conf);
        assert_orphan_reaped();
}
END_TEST

/* ---- signals ---- */

static const char *const CONFIG =
        "supervisor = { name = \"root\"; children = (\n"
        "  { name = \"w\"; exec = [\"/bin/sleep\", \"100000\"]; ready = \"exec\"; }\n"
        "); };\n";

START_TEST(pid1_sigint_stops_with_exit_0) {
        if (!can_unshare())
                return;
        char *conf = gsd_write_file("init.conf", "%s", CONFIG);
        start_pid1(conf);
        free(conf);
        signal_gensupd(SIGINT);
        ck_assert_int_eq(wait_exit_status(), 0);
        ck_assert_uint_eq(gsd_log_count(D, "stopping the tree"), 1);
}
END_TEST

/* SIGUSR1 logs the tree, SIGUSR2 gensupd's own figures, SIGHUP reloads;
 * gensupd and its child run on through all three. SIGQUIT then kills
 * the tree at once: exit 131. */
START_TEST(pid1_usr1_usr2_hup_quit) {
        if (!can_unshare())
                return;
        char *conf = gsd_write_file("init.conf", "%s", CONFIG);
        start_pid1(conf);
        free(conf);
        pid_t w = gsd_pid(D, "w");
        ck_assert_int_gt(w, 0);

        signal_gensupd(SIGUSR1);
        ck_assert_int_eq(gsd_wait_log(D, "tree: root/w worker running pid ", IT_WAIT_MS), 0);
        signal_gensupd(SIGUSR2);
        ck_assert_int_eq(gsd_wait_log(D, "self: pid 1 up ", IT_WAIT_MS), 0);
        signal_gensupd(SIGHUP);
        ck_assert_int_eq(gsd_wait_log(D, "reloaded ", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_pid(D, "w"), w);

        signal_gensupd(SIGQUIT);
        ck_assert_int_eq(wait_exit_status(), 131);
        ck_assert_uint_eq(gsd_log_count(D, "killing the tree at once"), 1);
}
END_TEST

/* A tree that gives up (its restart intensity reached) ends gensupd with
 * exit status 1, and the log says why. */
START_TEST(pid1_gave_up_exit_1) {
        if (!can_unshare())
                return;
        char *conf = gsd_write_file(
                "init.conf",
                "supervisor = { name = \"root\"; intensity = 1; period = 3600; children = (\n"
                "  { name = \"w\"; exec = [\"/bin/sh\", \"-c\", \"read x < %s/never.fifo\"]; ready = \"exec\"; }\n"
                "); };\n",
                it_tmpdir());
        char *fifo = it_path("never.fifo");
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        start_pid1(conf);
        free(conf);
        /* Two exits in the hour: one more than intensity allows. */
        for (int i = 0; i < 2; i++) {
                pid_t w = 0;
                for (int n = 0; n < IT_WAIT_MS / 10 && w <= 0; n++, it_nap_ms(10))
                        w = gsd_pid(D, "w");
                ck_assert_int_gt(w, 0);
                int fd = open(fifo, O_WRONLY | O_CLOEXEC);
                ck_assert_int_ge(fd, 0);
                close(fd);
                if (i == 0)
                        ck_assert_int_gt(gsd_wait_new_pid(D, "w", w, IT_WAIT_MS), 0);
        }
        free(fifo);
        ck_assert_int_eq(wait_exit_status(), 1);
        ck_assert_uint_eq(gsd_log_count(D, "supervisor root gave up"), 1);
}
END_TEST

/* The HEALTHCHECK of examples/Containerfile, against gensupd as PID 1. */
START_TEST(pid1_healthcheck_command) {
        if (!can_unshare())
                return;
        char *conf = gsd_write_file("init.conf", "%s", CONFIG);
        start_pid1(conf);
        free(conf);
        /* The very command (tools/check-examples checks they agree). */
        char *ctl = it_strf("exec %s/bin/gensupctl --timeout 4000 is-ready >/dev/null", GS_BUILD_DIR);
        pid_t pid = it_spawn((char *[]) { (char *) "/bin/sh", (char *) "-c", ctl, NULL }, NULL, NULL, 0, "/dev/null");
        free(ctl);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));

        signal_gensupd(SIGTERM);
        ck_assert_int_eq(wait_exit_status(), 0);
}
END_TEST

Suite *sup_init_suite(void) {
        Suite *s = suite_create("sup_init");
        TCase *tc = tcase_create("pid1");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, pid1_reaps_orphans_and_stops_on_sigterm);
        tcase_add_test(tc, subreaper_reaps_orphans);
        tcase_add_test(tc, pid1_sigint_stops_with_exit_0);
        tcase_add_test(tc, pid1_usr1_usr2_hup_quit);
        tcase_add_test(tc, pid1_gave_up_exit_1);
        tcase_add_test(tc, pid1_healthcheck_command);
        suite_add_tcase(s, tc);
        return s;
}
