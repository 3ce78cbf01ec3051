/* check_sup_scale.c: the paths issue 9 made O(1) or streamed, checked for
 * what a user sees: gensupctl --json prints gensupd's document as it came
 * and it is valid JSON; simple_one_for_one instances get free, unique
 * names and are found by name; mass exits are each seen once when some
 * children are reaped by pidfd and some by the SIGCHLD scan; and the
 * control plane answers correctly while children keep exiting. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "sup.h"

Suite *sup_scale_suite(void);

static gsd *D;

/* Under valgrind (valgrind-check sets GS_TEST_WRAPPER) gensupd is ~50x
 * slower: smaller trees and fewer rounds, the same checks. */

static void teardown(void) {
        D = gsd_finish(D);
}

/* gensupctl's whole standard output for args (a shell word list), with
 * its exit status; the caller frees. */
static char *ctl_output(const char *args, int *ret_status) {
        char *cmd = it_strf("'%s/bin/gensupctl' -s '%s' %s", GS_BUILD_DIR, D->control, args);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        char *out = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&out, &len);
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), p)) > 0)
                fwrite(buf, 1, k, m);
        fclose(m);
        *ret_status = pclose(p);
        free(cmd);
        return out;
}

/* --json output is one line: the document as gensupd sent it. */
static json_t *ctl_json_line(const char *args) {
        int status;
        char *out = ctl_output(args, &status);
        ck_assert_int_eq(status, 0);
        size_t len = strlen(out);
        ck_assert_uint_gt(len, 1);
        ck_assert_int_eq(out[len - 1], '\n');
        ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
        json_error_t err;
        json_t *doc = json_loads(out, 0, &err);
        ck_assert_msg(doc != NULL, "gensupctl %s: not JSON: %s", args, err.text);
        free(out);
        return doc;
}

START_TEST(json_streamed_as_sent) {
        const int N = it_scaled(150, 20);
        char *path = gsd_sleepers_conf("json.conf", N, "s", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        char last[16];
        snprintf(last, sizeof(last), "s%d", N - 1);
        ck_assert_int_eq(gsd_wait_state(D, last, "running", IT_WAIT_MS), 0);

        json_t *doc = ctl_json_line("--json status");
        json_t *children = json_object_get(json_object_get(doc, "tree"), "children");
        ck_assert_uint_eq(json_array_size(children), (size_t) N);
        for (size_t i = 0; i < (size_t) N; i++) {
                json_t *c = json_array_get(children, i);
                char name[24];
                snprintf(name, sizeof(name), "s%zu", i);
                ck_assert_str_eq(gsd_str(c, "name"), name);
                ck_assert_int_gt(gsd_int(c, "pid"), 0);
        }
        json_decref(doc);

        doc = ctl_json_line("--json count-children root");
        ck_assert_int_eq(gsd_int(doc, "specs"), N);
        ck_assert_int_eq(gsd_int(doc, "active"), N);
        json_decref(doc);

        /* The text output is as before: one line per child and more. */
        int status;
        char *text = ctl_output("status", &status);
        ck_assert_int_eq(status, 0);
        ck_assert_ptr_nonnull(strstr(text, last));
        ck_assert_ptr_null(strstr(text, "\"name\""));
        free(text);

        /* A refusal still prints nothing on stdout, and fails. */
        text = ctl_output("--json status no-such-child 2>/dev/null", &status);
        ck_assert_int_ne(status, 0);
        ck_assert_str_eq(text, "");
        free(text);
}
END_TEST

static bool has_child(json_t *children, const char *name) {
        for (size_t i = 0; i < json_array_size(children); i++)
                if (strcmp(gsd_str(json_array_get(children, i), "name"), name) == 0)
                        return true;
        return false;
}

/* Instances are named <template>-N, skipping a name the tree has; each is
 * found by name, and terminated by name. */
START_TEST(instances_named_and_found) {
        enum { N = 120 };
        char *path = gsd_sleepers_conf("pool.conf", 0, "x",
                                   "  { name = \"w-3\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; },\n"
                                   "  { name = \"pool\"; type = \"supervisor\"; strategy = \"simple_one_for_one\";\n"
                                   "    children = ( { name = \"w\"; ready = \"exec\"; restart = \"temporary\";\n"
                                   "                   exec = [\"/bin/sleep\"]; } ); }\n");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        for (int i = 0; i < N; i++) {
                json_t *doc = NULL;
                ck_assert_int_eq(gsd_ctl(D, "start-child", (const char *[]) { "pool", "1000", NULL }, &doc, NULL), 0);
                const char *name = gsd_str(doc, "name");
                ck_assert_str_ne(name, "w-3");
                json_decref(doc);
        }
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(D, "which-children", (const char *[]) { "pool", NULL }, &doc, NULL), 0);
        json_t *children = json_object_get(doc, "children");
        ck_assert_uint_eq(json_array_size(children), N);
        ck_assert(has_child(children, "w-1"));
        ck_assert(has_child(children, "w-121"));
        ck_assert(!has_child(children, "w-3"));
        json_decref(doc);

        /* Every other one terminated by name; the rest still found. */
        for (int i = 1; i <= N + 1; i += 2) {
                if (i == 3)
                        continue;
                char name[16];
                snprintf(name, sizeof(name), "w-%d", i);
                ck_assert_int_eq(gsd_ctl(D, "terminate-child", (const char *[]) { "pool", name, NULL }, NULL, NULL), 0);
                ck_assert_int_eq(gsd_ctl(D, "status", (const char *[]) { name, NULL }, NULL, NULL), ENOENT);
        }
        ck_assert_int_eq(gsd_ctl(D, "which-children", (const char *[]) { "pool", NULL }, &doc, NULL), 0);
        children = json_object_get(doc, "children");
        ck_assert_uint_eq(json_array_size(children), N / 2);
        ck_assert(has_child(children, "w-2"));
        ck_assert(!has_child(children, "w-1"));
        json_decref(doc);
        /* The config's w-3 is untouched, and found by name. */
        json_t *w3 = gsd_child(D, "w-3");
        ck_assert_ptr_nonnull(w3);
        ck_assert_str_eq(gsd_str(w3, "state"), "running");
        json_decref(w3);
}
END_TEST

/* With a low fd limit only the first children get a pidfd; the rest are
 * found by the SIGCHLD scan. All killed at once, each is seen once. */
START_TEST(mass_exits_pidfd_and_scan) {
        enum { N = 100 };
        struct rlimit rl = { 512, 512 };
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        char *path = gsd_sleepers_conf("mass.conf", N, "m", "");
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        pid_t pids[N];
        char name[16];
        for (int i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "m%d", i);
                ck_assert_int_eq(gsd_wait_state(D, name, "running", IT_WAIT_MS), 0);
                pids[i] = gsd_pid(D, name);
                ck_assert_int_gt(pids[i], 0);
        }
        for (int i = 0; i < N; i++)
                ck_assert_int_eq(kill(pids[i], SIGKILL), 0);
        for (int i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "m%d", i);
                ck_assert_int_gt(gsd_wait_new_pid(D, name, pids[i], IT_WAIT_MS), 0);
                ck_assert_int_eq(gsd_wait_history(D, name, "child_terminated", "{signal,SIGKILL}", 1, IT_WAIT_MS), 0);
                ck_assert_uint_eq(gsd_history_count(D, name, "child_terminated", "{signal,SIGKILL}"), 1);
        }
        /* And the tree stops cleanly, every child reaped. */
        gsd_signal(D, SIGTERM);
        int status;
        ck_assert_int_eq(gsd_wait_exit(D, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        ck_assert_uint_eq(gsd_log_count(D, "stopping the tree"), 1);
}
END_TEST

/* status, which-children and count-children while every child keeps
 * crashing and being restarted: every answer whole and consistent. */
START_TEST(control_while_exiting) {
        enum { N = 40 };
        const int ROUNDS = it_scaled(60, 5);
        /* Each lives a moment (not a synchronisation: its lifetime). */
        char *path = gsd_write_file("crash.sh", "#!/bin/sh\nsleep 0.05\nexit 3\n");
        ck_assert_int_eq(chmod(path, 0755), 0);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "supervisor = { name = \"root\"; intensity = 1000000; period = 1; children = (\n");
        for (int i = 0; i < N; i++)
                fprintf(f, "  { name = \"c%d\"; ready = \"exec\"; exec = [\"%s\"]; }%s\n", i, path, i + 1 < N ? "," : "");
        fprintf(f, "); };\n");
        fclose(f);
        free(path);
        path = gsd_write_file("crash.conf", "%s", text);
        free(text);
        ck_assert_int_eq(gsd_start(path, &D), 0);
        free(path);
        for (int round = 0; round < ROUNDS; round++) {
                json_t *tree = gsd_tree(D);
                ck_assert_ptr_nonnull(tree);
                json_t *children = json_object_get(tree, "children");
                ck_assert_uint_eq(json_array_size(children), N);
                for (size_t i = 0; i < N; i++) {
                        json_t *c = json_array_get(children, i);
                        if (strcmp(gsd_str(c, "state"), "running") == 0)
                                ck_assert_int_gt(gsd_int(c, "pid"), 0);
                }
                json_decref(tree);
                json_t *doc = NULL;
                ck_assert_int_eq(gsd_ctl(D, "which-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
                ck_assert_uint_eq(json_array_size(json_object_get(doc, "children")), N);
                json_decref(doc);
                ck_assert_int_eq(gsd_ctl(D, "count-children", (const char *[]) { "root", NULL }, &doc, NULL), 0);
                ck_assert_int_eq(gsd_int(doc, "specs"), N);
                json_decref(doc);
                ck_assert_int_eq(gsd_ctl(D, "status", (const char *[]) { "c7", NULL }, &doc, NULL), 0);
                ck_assert_str_eq(gsd_str(doc, "name"), "c7");
                json_decref(doc);
        }
        ck_assert_int_eq(gsd_wait_history(D, "c0", "child_terminated", "{exit_status,3}", 2, IT_WAIT_MS), 0);
}
END_TEST

Suite *sup_scale_suite(void) {
        Suite *s = suite_create("sup_scale");
        TCase *tc = tcase_create("scale");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, json_streamed_as_sent);
        tcase_add_test(tc, instances_named_and_found);
        tcase_add_test(tc, mass_exits_pidfd_and_scan);
        tcase_add_test(tc, control_while_exiting);
        suite_add_tcase(s, tc);
        return s;
}
