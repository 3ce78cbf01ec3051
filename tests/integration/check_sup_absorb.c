/* check_sup_absorb.c: crash absorption (issue 9 §3), checked for what a
 * user sees: children SIGKILLed one after another, without waiting for
 * their restarts, while a client keeps asking status and which-children
 * on one connection. Every kill is followed by exactly one restart (the
 * "started" events and each child's restart count match the kills),
 * every control request is answered, and the tree ends with every child
 * running. No timing: the test waits for events, never for time. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup.h"

Suite *sup_absorb_suite(void);

enum { N = 20 };

static gsd *D;

typedef struct kid {
        pid_t pid;          /* running, as its last "started" event said; 0: not known to run */
        int kills;          /* SIGKILLs sent */
        int starts;         /* "started" events after the first */
        bool seen;          /* its first start is known */
} kid;

static void teardown(void) {
        D = gsd_finish(D);
}



/* A "started" event (JSON text) for one of the children. */
static void on_event(kid *kids, const char *text) {
        json_t *j = json_loads(text, 0, NULL);
        ck_assert_ptr_nonnull(j);
        const char *ev = gsd_str(j, "event"), *child = gsd_str(j, "child");
        int i;
        if (ev && strcmp(ev, "started") == 0 && child && sscanf(child, "k%d", &i) == 1 && i >= 0 && i < N) {
                if (kids[i].seen)
                        kids[i].starts++;
                kids[i].seen = true;
                kids[i].pid = (pid_t) gsd_int(j, "pid");
                ck_assert_int_gt(kids[i].pid, 0);
        }
        json_decref(j);
}

/* Reads the events that come within wait_ms (the first one; then only
 * what is already there). */
static void read_events(ipc_conn *ev, kid *kids, int wait_ms) {
        ipc_frame *f;
        while (it_recv(ev, wait_ms, &f) == 0) {
                ck_assert_int_eq(f->kind, GENSUP__KIND__EVENT);
                on_event(kids, f->event->json);
                ipc_frame_free(f);
                wait_ms = 1;
        }
}

/* Answers that came; each must be a whole, successful one. */
static int read_answers(ipc_conn *c, int wait_ms) {
        int n = 0;
        ipc_frame *f;
        while (it_recv(c, wait_ms, &f) == 0) {
                ck_assert_int_eq(f->kind, GENSUP__KIND__CTL_REPLY);
                ck_assert_int_eq(f->ctl_reply->code, 0);
                json_t *doc = json_loads(f->ctl_reply->json, 0, NULL);
                ck_assert_ptr_nonnull(doc);
                /* which-children: {"children"}; status: {"tree": {"children"}}. */
                json_t *tree = json_object_get(doc, "tree");
                ck_assert_uint_eq(json_array_size(json_object_get(tree ? tree : doc, "children")), N);
                json_decref(doc);
                ipc_frame_free(f);
                n++;
                wait_ms = 1;
        }
        return n;
}

static ipc_conn *follow(kid *kids) {
        ipc_conn *ev = it_connect(D->control);
        ck_assert_ptr_nonnull(ev);
        ck_assert_int_eq(it_send_ctl(ev, 1, "events", (const char *[]) { "--follow", NULL }), 0);
        ipc_frame *f;
        ck_assert_int_eq(it_recv(ev, IT_WAIT_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__CTL_REPLY);
        json_t *doc = json_loads(f->ctl_reply->json, 0, NULL), *e;
        size_t i;
        json_array_foreach(json_object_get(doc, "events"), i, e) {
                char *t = json_dumps(e, 0);
                on_event(kids, t);
                free(t);
        }
        json_decref(doc);
        ipc_frame_free(f);
        /* The kept events and those that follow: every boot start. */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (int k = 0; k < N; k++)
                while (!kids[k].seen) {
                        ck_assert_int_lt(it_now_ms(), deadline);
                        read_events(ev, kids, IT_WAIT_MS);
                }
        for (int k = 0; k < N; k++)
                kids[k].starts = 0;
        return ev;
}

/* SIGKILL to a running child that is not being restarted: false if none. */
static bool kill_one(kid *kids, int *next) {
        for (int k = 0; k < N; k++) {
                kid *x = &kids[(*next + k) % N];
                if (x->pid > 0 && x->starts == x->kills) {
                        ck_assert_int_eq(kill(x->pid, SIGKILL), 0);
                        x->kills++;
                        x->pid = 0;
                        *next = (*next + k + 1) % N;
                        return true;
                }
        }
        return false;
}

static bool all_restarted(const kid *kids) {
        for (int k = 0; k < N; k++)
                if (kids[k].starts < kids[k].kills)
                        return false;
        return true;
}

START_TEST(kills_absorbed_while_asked) {
        const int KILLS = it_scaled(300, 40);
        char *path = gsd_sleepers_conf("absorb.conf", N, "k", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        kid kids[N] = { { 0 } };
        ipc_conn *ev = follow(kids);
        ipc_conn *ctl = it_connect(D->control);
        ck_assert_ptr_nonnull(ctl);

        int sent = 0, answered = 0, next = 0, kills = 0;
        int64_t deadline = it_now_ms() + 4 * IT_WAIT_MS;
        while (kills < KILLS) {
                ck_assert_int_lt(it_now_ms(), deadline);
                if (!kill_one(kids, &next)) {
                        read_events(ev, kids, IT_WAIT_MS);   /* every child is restarting */
                        continue;
                }
                kills++;
                sent++;
                ck_assert_int_eq(it_send_ctl(ctl, (uint64_t) sent, sent % 2 ? "status" : "which-children",
                                             sent % 2 ? NULL : (const char *[]) { "root", NULL }),
                                 0);
                read_events(ev, kids, 1);
                answered += read_answers(ctl, 1);
        }
        while (!all_restarted(kids)) {
                ck_assert_int_lt(it_now_ms(), deadline);
                read_events(ev, kids, IT_WAIT_MS);
        }
        while (answered < sent) {
                ck_assert_int_lt(it_now_ms(), deadline);
                answered += read_answers(ctl, IT_WAIT_MS);
        }
        ck_assert_int_eq(answered, sent);

        /* One restart per kill: each child's count says so, and the tree
         * ends with every child running under the pid its event gave. */
        json_t *tree = gsd_tree(D);
        ck_assert_ptr_nonnull(tree);
        for (int k = 0; k < N; k++) {
                char name[16];
                snprintf(name, sizeof(name), "k%d", k);
                json_t *c = gsd_find(tree, name);
                ck_assert_ptr_nonnull(c);
                ck_assert_str_eq(gsd_str(c, "state"), "running");
                ck_assert_int_eq(gsd_int(c, "restarts"), kids[k].kills);
                ck_assert_int_eq(kids[k].starts, kids[k].kills);
                ck_assert_int_eq(gsd_int(c, "pid"), kids[k].pid);
                ck_assert(gsd_pid_alive(kids[k].pid));
        }
        json_decref(tree);
        ipc_conn_free(ctl);
        ipc_conn_free(ev);
}
END_TEST

Suite *sup_absorb_suite(void) {
        Suite *s = suite_create("sup_absorb");
        TCase *tc = tcase_create("absorb");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, kills_absorbed_while_asked);
        suite_add_tcase(s, tc);
        return s;
}
