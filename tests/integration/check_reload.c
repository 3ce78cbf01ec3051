/* check_reload.c: gensupctl reload through the real daemon: what is new
 * starts, what is gone stops, what changed restarts, the rest keeps
 * running with the same pid; a bad config changes nothing. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sup.h"

Suite *reload_suite(void);

#define CHILD(name, arg) "{ name = \"" name "\"; exec = [\"/bin/sleep\", \"" arg "\"]; ready = \"exec\"; }"

static const char *const before =
        "supervisor = { name = \"root\"; intensity = 5; children = (\n"
        "  " CHILD("keep", "1000") ",\n"
        "  " CHILD("gone", "1001") ",\n"
        "  " CHILD("chg", "1002") ",\n"
        "  { name = \"inner\"; type = \"supervisor\"; children = (\n"
        "    " CHILD("ikeep", "1003") ",\n"
        "    " CHILD("ichg", "1004") ") }\n"
        "); };\n";

static const char *const after =
        "supervisor = { name = \"root\"; intensity = 5; children = (\n"
        "  " CHILD("keep", "1000") ",\n"
        "  " CHILD("chg", "2002") ",\n"
        "  { name = \"inner\"; type = \"supervisor\"; children = (\n"
        "    " CHILD("ikeep", "1003") ",\n"
        "    " CHILD("ichg", "2004") ",\n"
        "    " CHILD("inew", "2005") ") },\n"
        "  " CHILD("new", "2006") "\n"
        "); };\n";

static bool listed(json_t *doc, const char *list, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, list), i, v) if (strcmp(json_string_value(v), name) == 0) return true;
        return false;
}

static gsd *start(void) {
        char *conf = gsd_write_file("reload.conf", "%s", before);
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start(conf, &d), 0);
        ck_assert_int_eq(gsd_wait_state(d, "ichg", "running", IT_WAIT_MS), 0);
        free(conf);
        return d;
}

START_TEST(test_reload_applies_changes) {
        gsd *d = start();
        pid_t keep = gsd_pid(d, "keep"), ikeep = gsd_pid(d, "ikeep");
        pid_t gone = gsd_pid(d, "gone"), chg = gsd_pid(d, "chg"), ichg = gsd_pid(d, "ichg");

        free(gsd_write_file("reload.conf", "%s", after));
        json_t *doc = NULL;
        char *err = NULL;
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, &doc, &err), 0);
        ck_assert_msg(listed(doc, "added", "new") && listed(doc, "added", "inew"), "added: %s", json_dumps(doc, 0));
        ck_assert_msg(listed(doc, "removed", "gone"), "removed: %s", json_dumps(doc, 0));
        ck_assert_msg(listed(doc, "changed", "chg") && listed(doc, "changed", "ichg"), "changed: %s",
                      json_dumps(doc, 0));
        ck_assert_int_eq(json_array_size(json_object_get(doc, "failed")), 0);
        json_decref(doc);

        /* Unchanged children were not touched. */
        ck_assert_int_eq(gsd_pid(d, "keep"), keep);
        ck_assert_int_eq(gsd_pid(d, "ikeep"), ikeep);
        /* Gone is gone, changed ones run new processes, new ones run. */
        ck_assert_int_eq(gsd_wait_state(d, "gone", NULL, IT_WAIT_MS), 0);
        ck_assert(!gsd_pid_alive(gone));
        ck_assert_int_eq(gsd_wait_state(d, "chg", "running", IT_WAIT_MS), 0);
        ck_assert_int_ne(gsd_pid(d, "chg"), chg);
        ck_assert_int_ne(gsd_pid(d, "ichg"), ichg);
        ck_assert_int_eq(gsd_wait_state(d, "new", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_state(d, "inew", "running", IT_WAIT_MS), 0);

        /* The changed child runs its new command line. */
        char *cmdline = it_read_file(it_strf("/proc/%d/cmdline", (int) gsd_pid(d, "chg")));
        ck_assert_ptr_nonnull(cmdline);
        ck_assert_str_eq(cmdline + strlen(cmdline) + 1, "2002");
        free(cmdline);

        /* Reloading the same file again changes nothing. */
        ck_assert_int_eq(gsd_ctl(d, "reload", NULL, &doc, &err), 0);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "added")), 0);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "removed")), 0);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "changed")), 0);
        json_decref(doc);
        ck_assert_int_eq(gsd_pid(d, "keep"), keep);

        /* And the tree still stops cleanly. */
        int status;
        ck_assert_int_eq(gsd_ctl(d, "stop", NULL, NULL, NULL), 0);
        ck_assert_int_eq(gsd_wait_exit(d, IT_WAIT_MS, &status), 0);
        ck_assert(it_exited_with(status, 0));
        gsd_free(d);
}
END_TEST

START_TEST(test_reload_refuses_bad_config) {
        gsd *d = start();
        pid_t keep = gsd_pid(d, "keep"), gone = gsd_pid(d, "gone");

        free(gsd_write_file("reload.conf", "supervisor = { children = (\n"
                                           "  { name = \"keep\"; exec = [\"/bin/sleep\", \"1\"]; restart = \"sometimes\"; }\n"
                                           "); };\n"));
        char *err = NULL;
        int r = gsd_ctl(d, "reload", NULL, NULL, &err);
        ck_assert_int_ne(r, 0);
        ck_assert_ptr_nonnull(err);
        /* file:line, as gensupd --check says it. */
        ck_assert_msg(strstr(err, "reload.conf:2:") && strstr(err, "sometimes"), "error: %s", err);
        free(err);

        /* Nothing changed. */
        ck_assert_int_eq(gsd_pid(d, "keep"), keep);
        ck_assert_int_eq(gsd_pid(d, "gone"), gone);
        ck_assert(gsd_pid_alive(gone));

        /* The top supervisor's own flags cannot change under it. */
        free(gsd_write_file("reload.conf", "supervisor = { name = \"root\"; intensity = 7; children = ( %s ); };\n",
                            CHILD("keep", "1000")));
        err = NULL;
        ck_assert_int_ne(gsd_ctl(d, "reload", NULL, NULL, &err), 0);
        ck_assert_msg(err && strstr(err, "restart gensupd"), "error: %s", err ? err : "(none)");
        free(err);
        ck_assert_int_eq(gsd_pid(d, "gone"), gone);
        gsd_free(d);
}
END_TEST

START_TEST(test_sighup_reloads) {
        gsd *d = start();
        free(gsd_write_file("reload.conf", "%s", after));
        gsd_signal(d, SIGHUP);
        ck_assert_int_eq(gsd_wait_state(d, "new", "running", IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_log(d, "reloaded", IT_WAIT_MS), 0);
        gsd_free(d);
}
END_TEST

Suite *reload_suite(void) {
        Suite *s = suite_create("reload");
        TCase *tc = tcase_create("reload");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_reload_applies_changes);
        tcase_add_test(tc, test_reload_refuses_bad_config);
        tcase_add_test(tc, test_sighup_reloads);
        suite_add_tcase(s, tc);
        return s;
}
