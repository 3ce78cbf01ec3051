/* check_sup_sample.c: the cgroup figures of a whole-tree status
 * (memory_bytes, cpu_us, processes), which gensupd reads in a thread of
 * its own (supervisor/cgroup_sampler.c). What a user checks: a child's
 * figures appear, and follow what the child does (it allocates memory,
 * burns CPU and starts a process once told to, and status shows it
 * within a bounded poll); children added and deleted while the figures
 * are being read are shown with figures of their own, and gensupd stays
 * sanitizer- and valgrind-clean; gensupd, its sampler running, stops
 * cleanly on SIGTERM. Cases skip, saying why, where gensupd reports
 * "process_group" containment or the hierarchy lacks a controller. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

Suite *sup_sample_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

#define MIB (1024 * 1024)
#define GROWTH (24 * MIB)   /* what the hog allocates once told to */

/* How many of gensupd's threads are named name (/proc/PID/task/T/comm). */
static int threads_named(pid_t pid, const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        int n = 0;
        if (!d)
                return -1;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                char *comm = it_strf("%s/%s/comm", path, de->d_name);
                char buf[32] = "";
                FILE *f = fopen(comm, "r");
                free(comm);
                if (f && fgets(buf, sizeof(buf), f))
                        buf[strcspn(buf, "\n")] = '\0';
                if (f)
                        fclose(f);
                n += strcmp(buf, name) == 0;
        }
        closedir(d);
        return n;
}

/* ---- figures follow the child (gsd_child: a whole-tree status) ---- */

/* hog: once <tmp>/go exists, holds GROWTH bytes in a shell variable
 * (dash keeps a command substitution's output in memory: the cgroup's
 * memory.current grows by at least that), burning CPU to make them, and
 * runs a second process, a sleep, from then on. */
static char *hog_conf(void) {
        char *go = it_path("go");
        char *hog = gsd_write_file("hog.sh",
                                   "#!/bin/sh\n"
                                   "while [ ! -e %s ]; do sleep 0.05; done\n"
                                   "x=$(head -c %d /dev/zero | tr '\\0' x)\n"
                                   "while :; do sleep 1000; done\n",
                                   go, GROWTH);
        ck_assert_int_eq(chmod(hog, 0755), 0);
        char *extra = it_strf("  { name = \"hog\"; ready = \"exec\"; exec = [\"%s\"]; }\n", hog);
        char *conf = gsd_sleepers_conf("hog.conf", 3, "s", extra);
        free(extra);
        free(hog);
        free(go);
        return conf;
}

START_TEST(figures_follow_the_child) {
        char *conf = hog_conf();
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "hog", "running", IT_WAIT_MS), 0);
        if (!gsd_has_cgroups(D, "sup_sample", "figures_follow_the_child"))
                return;
        json_t *c = gsd_child(D, "hog");
        ck_assert_ptr_nonnull(c);
        long long mem0 = gsd_int(c, "memory_bytes"), cpu0 = gsd_int(c, "cpu_us"), procs0 = gsd_int(c, "processes");
        json_decref(c);
        ck_assert_int_ge(cpu0, 0);
        ck_assert_int_ge(procs0, 1);
        bool has_memory = mem0 >= 0;
        if (!has_memory)
                fprintf(stderr, "sup_sample: figures_follow_the_child: memory_bytes not checked: no memory "
                                "controller here\n");

        char *go = gsd_write_file("go", "go\n");
        free(go);
        /* Within a bounded poll of whole-tree status: the memory the hog
         * holds, the CPU it burnt making it, its second process. */
        long long mem = mem0, cpu = cpu0, procs = procs0;
        int64_t deadline = it_now_ms() + 4 * IT_WAIT_MS;
        while (((has_memory && mem < mem0 + GROWTH) || cpu < cpu0 + 1000 || procs < 2) && it_now_ms() < deadline) {
                it_nap_ms(50);
                c = gsd_child(D, "hog");
                ck_assert_ptr_nonnull(c);
                mem = gsd_int(c, "memory_bytes");
                cpu = gsd_int(c, "cpu_us");
                procs = gsd_int(c, "processes");
                json_decref(c);
        }
        if (has_memory)
                ck_assert_msg(mem >= mem0 + GROWTH, "memory_bytes %lld, was %lld: not %d MiB more", mem, mem0,
                              GROWTH / MIB);
        ck_assert_msg(cpu >= cpu0 + 1000, "cpu_us %lld, was %lld", cpu, cpu0);
        ck_assert_int_ge(procs, 2);
        /* status NAME reads them afresh: at least as much. */
        json_t *one = NULL;
        ck_assert_int_eq(gsd_ctl(D, "status", (const char *[]) { "hog", NULL }, &one, NULL), 0);
        ck_assert_int_ge(gsd_int(one, "cpu_us"), cpu);
        if (has_memory)
                ck_assert_int_ge(gsd_int(one, "memory_bytes"), mem0 + GROWTH);
        json_decref(one);
}
END_TEST

/* ---- children come and go while the figures are read ---- */

static void start_child(const char *name) {
        char spec[160];
        snprintf(spec, sizeof(spec), "name = \"%s\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\";", name);
        ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "root", spec, NULL }, NULL, NULL), 0);
}

static void delete_child(const char *name) {
        ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", name, NULL }, NULL, NULL), 0);
        ck_assert_int_eq(gsd_ctl(D, "delete-child", (const char *[]) { "root", name, NULL }, NULL, NULL), 0);
}

/* Every worker listed has its figures: the sleepers that stay one
 * process each, the others a count (their cgroup may be new, or going). */
static void check_figures(json_t *tree) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(tree, "children"), i, c) {
                const char *name = gsd_str(c, "name");
                ck_assert_ptr_nonnull(name);
                if (name[0] == 's')
                        ck_assert_msg(gsd_int(c, "processes") == 1, "%s: processes %lld", name,
                                      gsd_int(c, "processes"));
                else
                        ck_assert_msg(gsd_int(c, "processes") >= 0, "%s: no processes figure", name);
                ck_assert_msg(gsd_int(c, "cpu_us") >= 0, "%s: no cpu_us figure", name);
        }
}

START_TEST(children_come_and_go) {
        const int N = it_scaled(100, 10), ROUNDS = it_scaled(40, 8);
        char *conf = gsd_sleepers_conf("come-go.conf", N, "s", "");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        char last[16];
        snprintf(last, sizeof(last), "s%d", N - 1);
        ck_assert_int_eq(gsd_wait_state(D, last, "running", IT_WAIT_MS), 0);
        if (!gsd_has_cgroups(D, "sup_sample", "children_come_and_go"))
                return;
        for (int round = 0; round < ROUNDS; round++) {
                char name[16];
                snprintf(name, sizeof(name), "d%d", round % 4);
                /* d0 .. d3: started in the first rounds, then deleted and
                 * started again in turn, their cgroups made and removed
                 * while the sampler lists and reads the subtree. */
                if (round >= 4)
                        delete_child(name);
                start_child(name);
                json_t *tree = gsd_tree(D);
                ck_assert_ptr_nonnull(tree);
                check_figures(tree);
                ck_assert_uint_eq(json_array_size(json_object_get(tree, "children")), (size_t) N + (round < 4 ? round + 1 : 4));
                json_decref(tree);
        }
}
END_TEST

/* ---- a clean stop ---- */

START_TEST(stops_with_its_sampler) {
        char *conf = gsd_sleepers_conf("stop.conf", 4, "s", "");
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(D, "s3", "running", IT_WAIT_MS), 0);
        /* A whole-tree status starts the sampler (gensupd's own fd count
         * comes from it, cgroups or not), a thread named gensupd-sampler.
         * Under valgrind (valgrind-check sets GS_TEST_WRAPPER) gensupd
         * runs none (gensupd(8)): the status is answered all the same. */
        bool valgrind = getenv("GS_TEST_WRAPPER") != NULL;
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        int n;
        do {
                json_t *tree = gsd_tree(D);
                ck_assert_ptr_nonnull(tree);
                json_decref(tree);
                n = threads_named(D->pid, "gensupd-sampler");
        } while (!valgrind && n < 1 && it_now_ms() < deadline && (it_nap_ms(20), true));
        ck_assert_int_eq(n, valgrind ? 0 : 1);
        gsd_signal(D, SIGTERM);
        int status = 0;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gensupd ended with status 0x%x", status);
}
END_TEST

Suite *sup_sample_suite(void) {
        Suite *s = suite_create("sup_sample");
        TCase *tc = tcase_create("sample");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, figures_follow_the_child);
        tcase_add_test(tc, children_come_and_go);
        tcase_add_test(tc, stops_with_its_sampler);
        suite_add_tcase(s, tc);
        return s;
}
