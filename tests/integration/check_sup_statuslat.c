/* check_sup_statuslat.c: whole-tree status while the cgroup sampler
 * (supervisor/cgroup_sampler.c) sweeps, and the answers beside it
 * (issue 9 §3). What a user checks: statuses asked one after the other,
 * and several at once while children are killed and restarted, are all
 * answered, each listing every child once with its cgroup figures (the
 * first too: it is built from the sampler's first sweep); which-children
 * asked at the same time is answered whole too. Where gensupd gives no
 * cgroups the figures are not checked (the case says so). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "sup.h"

Suite *sup_statuslat_suite(void);

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

#define CLIENTS 3   /* two asking status, one which-children, all at once */

/* Sleepers s0 .. s(n-1), one start-child each (a boot of hundreds of
 * children can outlast one wait on a busy machine, one start cannot). */
static void add_sleepers(int n) {
        for (int i = 0; i < n; i++) {
                char spec[160];
                snprintf(spec, sizeof(spec), "name = \"s%d\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\";", i);
                ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "root", spec, NULL }, NULL, NULL), 0);
        }
}

/* Each of s0 .. s(n-1) listed once in children; with figures, each
 * with its cgroup's: CPU time and its one process (a child restarted
 * just now included: its figures are read afresh). */
static void check_children(json_t *children, int n, bool figures, const char *what) {
        int *seen = calloc((size_t) n, sizeof(int));
        size_t i;
        json_t *c;
        ck_assert_ptr_nonnull(seen);
        ck_assert_msg(json_is_array(children), "%s: children is not an array", what);
        json_array_foreach(children, i, c) {
                const char *name = gsd_str(c, "name");
                ck_assert_ptr_nonnull(name);
                char *end;
                long k = strtol(name + 1, &end, 10);
                ck_assert_msg(name[0] == 's' && *end == '\0' && k >= 0 && k < n, "%s: %s listed", what, name);
                seen[k]++;
                if (!figures)
                        continue;
                ck_assert_msg(gsd_int(c, "cpu_us") >= 0, "%s: %s without cpu_us", what, name);
                ck_assert_msg(gsd_int(c, "processes") == 1, "%s: %s: processes %lld", what, name,
                              gsd_int(c, "processes"));
        }
        for (int k = 0; k < n; k++)
                ck_assert_msg(seen[k] == 1, "%s: s%d listed %d times", what, k, seen[k]);
        free(seen);
}

static void check_status(json_t *doc, int n, bool figures, const char *what) {
        json_t *self = json_object_get(doc, "gensupd");
        ck_assert_ptr_nonnull(self);
        ck_assert_msg(gsd_int(self, "fds") > 0, "%s: gensupd's fds not counted", what);
        check_children(json_object_get(json_object_get(doc, "tree"), "children"), n, figures, what);
}

/* SIGKILL to s<i>; the restart is waited for by the caller's answers
 * (they list it, running or restarting) and by gsd_wait_new_pid. */
static pid_t kill_one(int i) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        pid_t pid = gsd_pid(D, name);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        return pid;
}

START_TEST(statuses_answered_with_every_child) {
        const int N = it_scaled(300, 30), ROUNDS = it_scaled(8, 3);
        char *path = gsd_sleepers_conf("lat.conf", 0, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        add_sleepers(N);
        bool figures = gsd_has_cgroups(D, "sup_statuslat", "statuses_answered_with_every_child (figures)");

        /* In a row, one at a time: the first built from the sampler's
         * first sweep over these children, every one with figures. */
        for (int round = 0; round < ROUNDS; round++) {
                json_t *doc = NULL;
                ck_assert_int_eq(gsd_ctl(D, "status", NULL, &doc, NULL), 0);
                check_status(doc, N, figures, "status in a row");
                json_decref(doc);
        }

        /* At once, while children are killed and restarted. */
        ipc_conn *c[CLIENTS];
        for (int k = 0; k < CLIENTS; k++)
                ck_assert_ptr_nonnull(c[k] = it_connect(D->control));
        for (uint64_t ref = 1; ref <= (uint64_t) ROUNDS; ref++) {
                ck_assert_int_eq(it_send_ctl(c[0], ref, "status", NULL), 0);
                ck_assert_int_eq(it_send_ctl(c[1], ref, "which-children", (const char *[]) { "root", NULL }), 0);
                int victim = (int) (ref * 7) % N;
                pid_t old = kill_one(victim);
                ck_assert_int_eq(it_send_ctl(c[2], ref, "status", NULL), 0);
                json_t *doc = gsd_recv_json(c[0], ref);
                check_status(doc, N, false, "status under restarts");
                json_decref(doc);
                doc = gsd_recv_json(c[1], ref);
                check_children(json_object_get(doc, "children"), N, false, "which-children under restarts");
                json_decref(doc);
                doc = gsd_recv_json(c[2], ref);
                check_status(doc, N, false, "status under restarts");
                json_decref(doc);
                char name[16];
                snprintf(name, sizeof(name), "s%d", victim);
                ck_assert_int_gt(gsd_wait_new_pid(D, name, old, IT_WAIT_MS), 0);
        }
        for (int k = 0; k < CLIENTS; k++)
                ipc_conn_free(c[k]);

        /* Restarted, each has its figures again. */
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(D, "status", NULL, &doc, NULL), 0);
        check_status(doc, N, figures, "status after the restarts");
        json_decref(doc);
}
END_TEST

Suite *sup_statuslat_suite(void) {
        Suite *s = suite_create("sup_statuslat");
        TCase *tc = tcase_create("statuslat");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, statuses_answered_with_every_child);
        suite_add_tcase(s, tc);
        return s;
}
