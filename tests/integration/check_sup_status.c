/* check_sup_status.c: status and which-children of a large tree are built
 * a slice at a time (issue 9 §3), the tree changing between slices. What
 * a user checks: every answer is whole JSON and lists each child that
 * lived through the request exactly once, while children crash and
 * restart, are deleted and added, and a nested supervisor restarts; and a
 * client that asks and never reads holds up neither the restarts nor the
 * other clients. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ipc.h"
#include "sup.h"

Suite *sup_status_suite(void);

static gsd *D;

/* Under valgrind (valgrind-check sets GS_TEST_WRAPPER) gensupd is ~50x
 * slower: a smaller tree (a few slices per answer) and fewer rounds, the
 * same checks. */

static void teardown(void) {
        D = gsd_finish(D);
}

#define CLIENTS 4   /* connections asking at once */
#define CHURNED 8   /* d0 .. d7 are added by start-child, deleted and added again */
#define POOL 8      /* workers of the nested supervisor */

/* Adds sleepers s0 .. s(n-1) to root with start-child, one request each:
 * a boot of a thousand children can outlast one wait on a busy machine,
 * one start cannot. */
static void add_sleepers(int n) {
        for (int i = 0; i < n; i++) {
                char spec[160];
                snprintf(spec, sizeof(spec), "name = \"s%d\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\";", i);
                ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "root", spec, NULL }, NULL, NULL), 0);
        }
}

/* root: a child that crashes soon after each start, and a nested
 * one_for_all supervisor "pool" of POOL sleepers (the sleepers s0 ..
 * come with add_sleepers). */
static char *churn_conf(void) {
        char *crash = gsd_write_file("crash.sh", "#!/bin/sh\nsleep 0.05\nexit 3\n");
        ck_assert_int_eq(chmod(crash, 0755), 0);
        char *pool = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&pool, &len);
        fprintf(f, "  { name = \"crash\"; ready = \"exec\"; exec = [\"%s\"]; },\n", crash);
        fprintf(f, "  { name = \"pool\"; type = \"supervisor\"; strategy = \"one_for_all\"; intensity = 100000;"
                   " period = 1; children = (\n");
        for (int i = 0; i < POOL; i++)
                fprintf(f, "    { name = \"p%d\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }%s\n", i,
                        i + 1 < POOL ? "," : "");
        fprintf(f, "  ); }\n");
        fclose(f);
        char *path = gsd_sleepers_conf("churn.conf", 0, "s", pool);
        free(pool);
        free(crash);
        return path;
}

/* ---- raw requests, several in flight ---- */


/* ---- what an answer must hold ---- */

/* Counts each name in a status tree (names: index by the s/d/p number,
 * crash and pool apart), recursively. */
typedef struct seen {
        int *s, p[POOL], d[CHURNED];
        int crash, pool, other;
} seen;

static void count_name(seen *w, const char *name, int n) {
        char *end;
        long i = strtol(name + 1, &end, 10);
        bool numbered = name[1] && *end == '\0' && i >= 0;
        if (numbered && name[0] == 's' && i < n)
                w->s[i]++;
        else if (numbered && name[0] == 'p' && i < POOL)
                w->p[i]++;
        else if (numbered && name[0] == 'd' && i < CHURNED)
                w->d[i]++;
        else if (strcmp(name, "crash") == 0)
                w->crash++;
        else if (strcmp(name, "pool") == 0)
                w->pool++;
        else
                w->other++;
}

static void count_tree(seen *w, json_t *children, int n, bool nested) {
        size_t i;
        json_t *c;
        ck_assert_msg(json_is_array(children), "children is not an array");
        json_array_foreach(children, i, c) {
                const char *name = gsd_str(c, "name");
                ck_assert_ptr_nonnull(name);
                ck_assert_ptr_nonnull(gsd_str(c, "state"));
                count_name(w, name, n);
                if (nested && strcmp(gsd_str(c, "type"), "supervisor") == 0)
                        count_tree(w, json_object_get(c, "children"), n, nested);
        }
}

/* Every child that lived through the request once; the churned ones and
 * the pool's at most once (a pool that restarted is listed as it is). */
static void check_seen(const seen *w, int n, const char *what) {
        for (int i = 0; i < n; i++)
                ck_assert_msg(w->s[i] == 1, "%s: s%d listed %d times", what, i, w->s[i]);
        for (int i = 0; i < CHURNED; i++)
                ck_assert_msg(w->d[i] <= 1, "%s: d%d listed %d times", what, i, w->d[i]);
        for (int i = 0; i < POOL; i++)
                ck_assert_msg(w->p[i] <= 1, "%s: p%d listed %d times", what, i, w->p[i]);
        ck_assert_int_eq(w->crash, 1);
        ck_assert_int_eq(w->other, 0);
}

static void check_status(json_t *doc, int n, bool top_level) {
        seen w = { .s = calloc((size_t) n, sizeof(int)) };
        json_t *children = top_level ? json_object_get(json_object_get(doc, "tree"), "children")
                                     : json_object_get(doc, "children");
        if (top_level)
                ck_assert_ptr_nonnull(json_object_get(doc, "gensupd"));
        count_tree(&w, children, n, top_level);
        check_seen(&w, n, top_level ? "status" : "which-children");
        ck_assert_int_eq(w.pool, 1);
        free(w.s);
}

/* ---- the churn ---- */

/* Deletes d<i> or, when it is not there, starts it (again). */
static void churn_one(int i) {
        char name[16], spec[160];
        snprintf(name, sizeof(name), "d%d", i);
        if (gsd_pid(D, name) > 0) {
                ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "root", name, NULL }, NULL, NULL), 0);
                ck_assert_int_eq(gsd_ctl(D, "delete-child", (const char *[]) { "root", name, NULL }, NULL, NULL), 0);
                return;
        }
        snprintf(spec, sizeof(spec), "name = \"%s\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\";", name);
        ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "root", spec, NULL }, NULL, NULL), 0);
}

/* While the answers are being built: the tree changes. */
static void churn(int round, int n) {
        churn_one(round % CHURNED);
        /* A crash of a child that stays. */
        char name[16];
        snprintf(name, sizeof(name), "s%d", (round * 7) % n);
        pid_t pid = gsd_pid(D, name);
        if (pid > 0)
                (void) kill(pid, SIGKILL);
        /* The nested supervisor stopped and started again, or all of
         * its children restarted by one_for_all. */
        if (round % 2 == 0)
                ck_assert_int_eq(gsd_ctl(D, "restart", (const char *[]) { "root", "pool", NULL }, NULL, NULL), 0);
        else if ((pid = gsd_pid(D, "p3")) > 0)
                (void) kill(pid, SIGKILL);
}

START_TEST(answers_whole_while_tree_changes) {
        const int N = it_scaled(1000, 30);
        const int ROUNDS = it_scaled(12, 3);
        char *path = churn_conf();
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_state(D, "p7", "running", IT_WAIT_MS), 0);
        add_sleepers(N);

        ipc_conn *c[CLIENTS];
        for (int k = 0; k < CLIENTS; k++)
                ck_assert_ptr_nonnull(c[k] = it_connect(D->control));
        uint64_t ref = 1;
        for (int round = 0; round < ROUNDS; round++) {
                /* Two asking status, one the pool's status, one
                 * which-children: all four in flight at once. */
                ck_assert_int_eq(it_send_ctl(c[0], ref, "status", NULL), 0);
                ck_assert_int_eq(it_send_ctl(c[1], ref, "status", NULL), 0);
                ck_assert_int_eq(it_send_ctl(c[2], ref, "which-children", (const char *[]) { "root", NULL }), 0);
                ck_assert_int_eq(it_send_ctl(c[3], ref, "status", (const char *[]) { "pool", NULL }), 0);
                churn(round, N);
                json_t *doc;
                for (int k = 0; k < 2; k++) {
                        doc = gsd_recv_json(c[k], ref);
                        check_status(doc, N, true);
                        json_decref(doc);
                }
                doc = gsd_recv_json(c[2], ref);
                check_status(doc, N, false);
                json_decref(doc);
                /* The pool's own status: the pool, its children once each
                 * (or, stopped for a moment, none). */
                doc = gsd_recv_json(c[3], ref);
                ck_assert_str_eq(gsd_str(doc, "name"), "pool");
                seen w = { .s = calloc((size_t) N, sizeof(int)) };
                count_tree(&w, json_object_get(doc, "children"), N, true);
                for (int i = 0; i < POOL; i++)
                        ck_assert_int_le(w.p[i], 1);
                ck_assert_int_eq(w.crash + w.pool + w.other, 0);
                free(w.s);
                json_decref(doc);
                ref++;
        }
        for (int k = 0; k < CLIENTS; k++)
                ipc_conn_free(c[k]);
        /* The crasher went on being restarted meanwhile. */
        ck_assert_int_eq(gsd_wait_history(D, "crash", "child_terminated", "{exit_status,3}", 2, IT_WAIT_MS), 0);
}
END_TEST

/* A client that asks for status again and again and never reads: its
 * answers wait (one at a time) in its socket and gensupd's buffer; the
 * tree goes on restarting children and other clients are answered. */
START_TEST(client_that_never_reads) {
        const int N = it_scaled(1000, 30);
        char *path = gsd_sleepers_conf("stuck.conf", 0, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        add_sleepers(N);

        ipc_conn *stuck = it_connect(D->control);
        ck_assert_ptr_nonnull(stuck);
        int small = 4096;
        ck_assert_int_eq(setsockopt(ipc_conn_fd(stuck), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        for (uint64_t ref = 1; ref <= 64; ref++)
                ck_assert_int_eq(it_send_ctl(stuck, ref, "status", NULL), 0);

        for (int round = 0; round < it_scaled(5, 2); round++) {
                char name[16];
                snprintf(name, sizeof(name), "s%d", round * 3);
                pid_t old = gsd_pid(D, name);
                ck_assert_int_gt(old, 0);
                ck_assert_int_eq(kill(old, SIGKILL), 0);
                ck_assert_int_gt(gsd_wait_new_pid(D, name, old, IT_WAIT_MS), 0);
                json_t *doc = NULL;
                ck_assert_int_eq(gsd_ctl(D, "which-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
                ck_assert_uint_eq(json_array_size(json_object_get(doc, "children")), (size_t) N);
                json_decref(doc);
        }
        /* The stuck client's first answer is whole when it does read. */
        json_t *doc = gsd_recv_json(stuck, 1);
        ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "tree"), "children")), (size_t) N);
        json_decref(doc);
        ipc_conn_free(stuck);
        ck_assert_int_eq(gsd_ctl(D, "count-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
        ck_assert_int_eq(gsd_int(doc, "specs"), N);
        json_decref(doc);
}
END_TEST

Suite *sup_status_suite(void) {
        Suite *s = suite_create("sup_status");
        TCase *tc = tcase_create("status");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, answers_whole_while_tree_changes);
        tcase_add_test(tc, client_that_never_reads);
        suite_add_tcase(s, tc);
        return s;
}
