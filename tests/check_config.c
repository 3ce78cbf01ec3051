/* Unit tests for config.c: configs in tests/data/ read to exact values
 * and defaults, every validation error as its exact "FILE:LINE: message"
 * line, exec lookup, child spec fragments, and spec comparison. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"

#define DATA GS_SOURCE_DIR "/tests/data/"

/* ---- helpers ---- */

static char *data_dir(void) {
        char *d = realpath(DATA, NULL);
        ck_assert_ptr_nonnull(d);
        return d;
}

static sup_config *load_ok(const char *path) {
        sup_errors e = { 0 };
        sup_config *c = NULL;
        int r = sup_config_load(path, &c, &e);
        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "unexpected: %s\n", e.lines[i]);
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_ptr_nonnull(c);
        sup_errors_done(&e);
        return c;
}

/* Loads tests/data/<name>, expects it to be refused with exactly the
 * given lines, each written without the "tests/data/<name>" prefix (or,
 * for lines not starting with ':', without "tests/data/"). "{DIR}" in a
 * line stands for the absolute path of tests/data. */
static void expect_errors(const char *name, const char *const *expected) {
        char path[PATH_MAX];
        sup_errors e = { 0 };
        sup_config *c = NULL;
        size_t n = 0;

        snprintf(path, sizeof(path), DATA "%s", name);
        int r = sup_config_load(path, &c, &e);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(c);
        while (expected[n])
                n++;
        /* What came, when it is not what was expected in number. */
        for (size_t i = 0; e.n != n && i < e.n; i++)
                fprintf(stderr, "got: %s\n", e.lines[i]);
        for (size_t i = 0; i < n && i < e.n; i++) {
                char want[2 * PATH_MAX + 512];
                const char *x = expected[i], *d = strstr(x, "{DIR}");
                if (d) {
                        char *dir = data_dir();
                        snprintf(want, sizeof(want), "%s%.*s%s%s", path, (int) (d - x), x, dir, d + 5);
                        free(dir);
                } else
                        snprintf(want, sizeof(want), "%s%s", x[0] == ':' ? path : DATA, x);
                ck_assert_str_eq(e.lines[i], want);
        }
        ck_assert_uint_eq(e.n, n);
        sup_errors_done(&e);
}


static void assert_strv(char **v, const char *const *want) {
        size_t i = 0;
        ck_assert_ptr_nonnull(v);
        for (; want[i]; i++) {
                ck_assert_ptr_nonnull(v[i]);
                ck_assert_str_eq(v[i], want[i]);
        }
        ck_assert_ptr_null(v[i]);
}

static const sup_rlimit *find_rlimit(const sup_spec *s, int res) {
        for (size_t i = 0; i < s->n_rlimits; i++)
                if (s->rlimits[i].resource == res)
                        return &s->rlimits[i];
        return NULL;
}

static void assert_rlimit(const sup_spec *s, int res, rlim_t soft, rlim_t hard) {
        const sup_rlimit *l = find_rlimit(s, res);
        ck_assert_ptr_nonnull(l);
        ck_assert_uint_eq(l->limit.rlim_cur, soft);
        ck_assert_uint_eq(l->limit.rlim_max, hard);
}

/* The worker defaults every spec gets where the config says nothing. */
static void assert_worker_defaults(const sup_spec *s) {
        ck_assert_int_eq(s->listen, false);
        ck_assert_int_eq(s->ready, SUP_READY_NOTIFY);
        ck_assert_uint_eq(s->start_timeout_ms, 10000);
        ck_assert_ptr_null(s->environment);
        ck_assert_ptr_null(s->working_directory);
        ck_assert_ptr_null(s->user);
        ck_assert_ptr_null(s->group);
        ck_assert_uint_eq(s->n_rlimits, 0);
        ck_assert_uint_eq(s->backoff.initial_ms, 0);
        ck_assert_uint_eq(s->backoff.max_ms, 30000);
        ck_assert_double_eq(s->backoff.factor, 2.0);
        ck_assert_double_eq(s->backoff.jitter, 0.0);
        ck_assert_uint_eq(s->backoff.reset_after_ms, 60000);
        ck_assert_uint_eq(s->output_limit.lines, 1000);
        ck_assert_uint_eq(s->output_limit.bytes, 262144);
        ck_assert_uint_eq(s->output_limit.burst_s, 10);
}

/* ---- good configs ---- */

START_TEST(test_good_values) {
        sup_config *c = load_ok(DATA "good.conf");
        char *dir = data_dir(), *want = NULL;

        ck_assert_int_ge(asprintf(&want, "%s/good.conf", dir), 0);
        ck_assert_str_eq(c->path, want);
        free(want);
        ck_assert_str_eq(c->runtime_dir, "/run/gensup-test");
        ck_assert_str_eq(c->control_group, "nogroup");

        const sup_spec *r = c->root;
        ck_assert_str_eq(r->name, "top");
        ck_assert_int_eq(r->type, SUP_SUPERVISOR);
        ck_assert_int_eq(r->line, 4);
        ck_assert_int_eq(r->strategy, SUP_REST_FOR_ONE);
        ck_assert_int_eq(r->intensity, 3);
        ck_assert_uint_eq(r->period_s, 10);
        ck_assert_int_eq(r->auto_shutdown, SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT);
        ck_assert_int_eq(r->shutdown_ms, SUP_SHUTDOWN_INFINITY);
        ck_assert_uint_eq(r->n_children, 4);

        const sup_spec *k = r->children[0];
        ck_assert_str_eq(k->name, "kitty");
        ck_assert_int_eq(k->line, 8);
        ck_assert_int_eq(k->type, SUP_WORKER);
        ck_assert_int_eq(k->restart, SUP_TRANSIENT);
        ck_assert_int_eq(k->shutdown_ms, 2500);
        ck_assert_int_eq(k->significant, true);
        ck_assert_int_eq(k->listen, true);
        ck_assert_int_eq(k->ready, SUP_READY_EXEC);
        ck_assert_uint_eq(k->start_timeout_ms, 750);
        assert_strv(k->exec, (const char *const[]) { "/bin/true", "--flag", "", NULL });
        assert_strv(k->environment, (const char *const[]) { "K=V", "EMPTY=", NULL });
        ck_assert_str_eq(k->working_directory, "/tmp");
        ck_assert_str_eq(k->user, "nobody");
        ck_assert_str_eq(k->group, "nogroup");
        ck_assert_uint_eq(k->n_rlimits, 5);
        assert_rlimit(k, RLIMIT_NOFILE, 1024, 1024);
        assert_rlimit(k, RLIMIT_CORE, 0, 0);
        assert_rlimit(k, RLIMIT_STACK, RLIM_INFINITY, RLIM_INFINITY);
        assert_rlimit(k, RLIMIT_NPROC, 10, 20);
        assert_rlimit(k, RLIMIT_AS, 4096, RLIM_INFINITY);
        ck_assert_uint_eq(k->backoff.initial_ms, 100);
        ck_assert_uint_eq(k->backoff.max_ms, 5000);
        ck_assert_double_eq(k->backoff.factor, 1.5);
        ck_assert_double_eq(k->backoff.jitter, 0.25);
        ck_assert_uint_eq(k->backoff.reset_after_ms, 1000);
        ck_assert_uint_eq(k->n_children, 0);

        /* A relative exec[0] with '/' is taken from the config's directory. */
        const sup_spec *b = r->children[1];
        ck_assert_str_eq(b->name, "brutal");
        ck_assert_int_eq(b->shutdown_ms, SUP_SHUTDOWN_BRUTAL_KILL);
        ck_assert_int_eq(b->restart, SUP_TEMPORARY);
        ck_assert_int_ge(asprintf(&want, "%s/bin/fake-server", dir), 0);
        assert_strv(b->exec, (const char *const[]) { want, NULL });

        const sup_spec *f = r->children[2];
        ck_assert_str_eq(f->name, "forever");
        ck_assert_int_eq(f->shutdown_ms, SUP_SHUTDOWN_INFINITY);
        assert_strv(f->exec, (const char *const[]) { want, "x", NULL });
        free(want);

        const sup_spec *p = r->children[3];
        ck_assert_str_eq(p->name, "pool");
        ck_assert_int_eq(p->line, 16);
        ck_assert_int_eq(p->type, SUP_SUPERVISOR);
        ck_assert_int_eq(p->strategy, SUP_SIMPLE_ONE_FOR_ONE);
        ck_assert_int_eq(p->shutdown_ms, 10000);
        ck_assert_ptr_null(p->exec);
        ck_assert_uint_eq(p->n_children, 1);
        ck_assert_str_eq(p->children[0]->name, "conn");
        ck_assert_int_eq(p->children[0]->restart, SUP_TEMPORARY);
        ck_assert_int_eq(p->children[0]->line, 21);

        free(dir);
        sup_config_free(c);
}
END_TEST

START_TEST(test_defaults) {
        sup_config *c = load_ok(DATA "defaults.conf");
        const sup_spec *r = c->root;

        ck_assert_ptr_null(c->runtime_dir);
        ck_assert_ptr_null(c->control_group);
        ck_assert_str_eq(r->name, "root");
        ck_assert_int_eq(r->type, SUP_SUPERVISOR);
        ck_assert_int_eq(r->line, 1);
        ck_assert_int_eq(r->strategy, SUP_ONE_FOR_ONE);
        ck_assert_int_eq(r->intensity, 1);
        ck_assert_uint_eq(r->period_s, 5);
        ck_assert_int_eq(r->auto_shutdown, SUP_AUTO_SHUTDOWN_NEVER);
        ck_assert_uint_eq(r->n_children, 3);

        const sup_spec *w = r->children[0];
        ck_assert_str_eq(w->name, "w");
        ck_assert_int_eq(w->type, SUP_WORKER);
        ck_assert_int_eq(w->restart, SUP_PERMANENT);
        ck_assert_int_eq(w->shutdown_ms, SUP_DEFAULT_WORKER_SHUTDOWN_MS);
        ck_assert_int_eq(w->significant, false);
        assert_worker_defaults(w);

        const sup_spec *s = r->children[1];
        ck_assert_str_eq(s->name, "s");
        ck_assert_int_eq(s->type, SUP_SUPERVISOR);
        ck_assert_int_eq(s->restart, SUP_PERMANENT);
        ck_assert_int_eq(s->shutdown_ms, SUP_SHUTDOWN_INFINITY);
        ck_assert_int_eq(s->strategy, SUP_ONE_FOR_ONE);
        ck_assert_int_eq(s->intensity, 1);
        ck_assert_uint_eq(s->period_s, 5);
        ck_assert_int_eq(s->auto_shutdown, SUP_AUTO_SHUTDOWN_NEVER);
        ck_assert_uint_eq(s->n_children, 0);
        ck_assert_ptr_null(s->exec);

        /* A backoff group fills what it leaves out with the defaults. */
        const sup_spec *b = r->children[2];
        ck_assert_uint_eq(b->backoff.initial_ms, 50);
        ck_assert_uint_eq(b->backoff.max_ms, 30000);
        ck_assert_double_eq(b->backoff.factor, 2.0);
        ck_assert_double_eq(b->backoff.jitter, 0.0);
        ck_assert_uint_eq(b->backoff.reset_after_ms, 60000);

        sup_config_free(c);
}
END_TEST

START_TEST(test_nested) {
        sup_config *c = load_ok(DATA "nested.conf");
        const sup_spec *r = c->root;

        ck_assert_int_eq(r->strategy, SUP_ONE_FOR_ALL);
        ck_assert_uint_eq(r->n_children, 3);
        ck_assert_str_eq(r->children[0]->name, "a");
        ck_assert_str_eq(r->children[2]->name, "d");

        const sup_spec *mid = r->children[1];
        ck_assert_str_eq(mid->name, "mid");
        ck_assert_int_eq(mid->strategy, SUP_REST_FOR_ONE);
        ck_assert_int_eq(mid->intensity, 0);
        ck_assert_uint_eq(mid->period_s, 1);
        ck_assert_int_eq(mid->auto_shutdown, SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT);
        ck_assert_uint_eq(mid->n_children, 3);
        ck_assert_int_eq(mid->children[0]->significant, true);

        const sup_spec *inner = mid->children[1];
        ck_assert_str_eq(inner->name, "inner");
        ck_assert_int_eq(inner->type, SUP_SUPERVISOR);
        ck_assert_int_eq(inner->restart, SUP_TRANSIENT);
        ck_assert_int_eq(inner->significant, true);
        ck_assert_int_eq(inner->line, 10);
        ck_assert_uint_eq(inner->n_children, 1);
        ck_assert_str_eq(inner->children[0]->name, "c");
        ck_assert_int_eq(inner->children[0]->line, 12);
        ck_assert_uint_eq(mid->children[2]->n_children, 0);

        ck_assert_ptr_eq(sup_spec_find(r, "c"), inner->children[0]);
        ck_assert_ptr_eq(sup_spec_find(r, "root"), r);
        ck_assert_ptr_null(sup_spec_find(r, "nobody"));

        const char **names = NULL;
        ck_assert_int_eq(sup_spec_names(r, &names), 0);
        const char *const want[] = { "root", "a", "mid", "b", "inner", "c", "empty", "d", NULL };
        for (size_t i = 0; want[i]; i++)
                ck_assert_str_eq(names[i], want[i]);
        ck_assert_ptr_null(names[8]);
        free(names);
        sup_config_free(c);
}
END_TEST

/* The config's path may be relative: exec[0] still resolves from its
 * directory, and path comes out absolute. */
START_TEST(test_relative_config_path) {
        char *dir = data_dir(), *want = NULL;
        ck_assert_int_eq(chdir(GS_SOURCE_DIR "/tests"), 0);
        sup_config *c = load_ok("data/good.conf");
        ck_assert_int_ge(asprintf(&want, "%s/bin/fake-server", dir), 0);
        ck_assert_str_eq(c->root->children[1]->exec[0], want);
        free(want);
        ck_assert_int_ge(asprintf(&want, "%s/good.conf", dir), 0);
        ck_assert_str_eq(c->path, want);
        free(want);
        free(dir);
        sup_config_free(c);
}
END_TEST

/* ---- exec lookup ---- */

START_TEST(test_exec_path_search) {
        char *dir = data_dir(), *path = NULL, *want = NULL;
        ck_assert_int_ge(asprintf(&path, "/nonexistent-gensup:%s/bin:/usr/bin:/bin", dir), 0);
        ck_assert_int_eq(setenv("PATH", path, 1), 0);
        sup_config *c = load_ok(DATA "path.conf");
        ck_assert_int_ge(asprintf(&want, "%s/bin/fake-server", dir), 0);
        assert_strv(c->root->children[0]->exec, (const char *const[]) { want, "arg", NULL });
        sup_config_free(c);
        free(path);
        free(dir);
        free(want);
}
END_TEST

/* A relative (or empty) $PATH entry means the working directory; the
 * result is absolute all the same. */
START_TEST(test_exec_path_relative_entry) {
        char *dir = data_dir(), *want = NULL;
        ck_assert_int_eq(chdir(dir), 0);
        ck_assert_int_eq(setenv("PATH", "/nonexistent-gensup:bin", 1), 0);
        sup_config *c = load_ok(DATA "path.conf");
        char *cwd = getcwd(NULL, 0);
        ck_assert_int_ge(asprintf(&want, "%s/bin/fake-server", cwd), 0);
        ck_assert_str_eq(c->root->children[0]->exec[0], want);
        sup_config_free(c);
        free(want);
        free(cwd);
        free(dir);
}
END_TEST

/* Without $PATH the search uses the system's default path, as execvp. */
START_TEST(test_exec_path_unset) {
        sup_errors e = { 0 };
        sup_spec *s = NULL;
        ck_assert_int_eq(unsetenv("PATH"), 0);
        int r = sup_spec_parse("name = \"t\"; exec = [\"true\"];", "frag", NULL, NULL, NULL, &s, &e);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(s->exec[0][0], '/');
        const char *base = strrchr(s->exec[0], '/');
        ck_assert_str_eq(base, "/true");
        ck_assert_int_eq(access(s->exec[0], X_OK), 0);
        sup_spec_free(s);
}
END_TEST

START_TEST(test_exec_errors) {
        ck_assert_int_eq(setenv("PATH", "/usr/bin:/bin", 1), 0);
        expect_errors("err_exec.conf", (const char *const[]) {
                ":3: exec: \"no-such-program-gensup-test\" not found in $PATH",
                ":4: exec: {DIR}/bin/no-such-file: No such file or directory",
                ":5: exec: {DIR}/bin/not-executable: not executable",
                ":6: exec: \"bin\" not found in $PATH",
                ":7: exec: /: not a regular file",
                ":8: exec: must name a program",
                ":9: exec: the program name is empty",
                ":10: exec: expected a list of strings [\"...\", ...]",
                ":11: exec: expected a list of strings [\"...\", ...]",
                NULL,
        });
}
END_TEST

/* ---- errors ---- */

START_TEST(test_syntax_error) {
        expect_errors("err_syntax.conf", (const char *const[]) {
                ":3: syntax error",
                NULL,
        });
        expect_errors("err_dupkey.conf", (const char *const[]) {
                ":3: duplicate setting name",
                NULL,
        });
}
END_TEST

START_TEST(test_flag_errors) {
        expect_errors("err_flags.conf", (const char *const[]) {
                ":4: strategy: invalid value \"one_for_most\" (expected one_for_one, one_for_all, "
                "rest_for_one or simple_one_for_one)",
                ":5: intensity: must be >= 0, got -1",
                ":6: period: must be > 0, got 0",
                ":7: auto_shutdown: invalid value \"sometimes\" (expected never, any_significant or "
                "all_significant)",
                ":9: strategy: expected a string",
                ":9: intensity: expected an integer",
                ":9: period: must be > 0, got -5",
                NULL,
        });
}
END_TEST

START_TEST(test_child_errors) {
        expect_errors("err_child.conf", (const char *const[]) {
                ":3: restart: invalid value \"forever\" (expected permanent, transient or temporary)",
                ":4: shutdown: must be >= 0 milliseconds, \"brutal_kill\" or \"infinity\", got -1",
                ":5: shutdown: invalid value \"never\" (expected milliseconds, \"brutal_kill\" or \"infinity\")",
                ":6: shutdown: expected milliseconds, \"brutal_kill\" or \"infinity\"",
                ":7: type: invalid value \"daemon\" (expected worker or supervisor)",
                ":7: unknown key \"colour\"",
                ":8: missing name",
                ":9: missing exec",
                ":10: duplicate name \"a\" (first used at line 3)",
                ":11: ready: invalid value \"soon\" (expected notify or exec)",
                ":11: start_timeout: must be > 0, got 0",
                ":12: working_directory: \"tmp\" is not an absolute path",
                ":12: user: unknown user \"no-such-user-xyz\"",
                ":12: group: unknown group \"no-such-group-xyz\"",
                ":13: environment: \"NOEQUALS\" is not KEY=VALUE",
                ":13: environment: \"=x\" is not KEY=VALUE",
                ":13: environment: A is set twice",
                ":15: children: each child must be a group { ... }",
                NULL,
        });
}
END_TEST

START_TEST(test_significant_errors) {
        expect_errors("err_significant.conf", (const char *const[]) {
                ":3: significant: not allowed with restart = \"permanent\"",
                ":3: significant: not allowed when the supervisor's auto_shutdown is \"never\"",
                ":4: significant: not allowed when the supervisor's auto_shutdown is \"never\"",
                ":7: significant: not allowed under a simple_one_for_one supervisor",
                NULL,
        });
}
END_TEST

START_TEST(test_simple_one_for_one_errors) {
        expect_errors("err_simple.conf", (const char *const[]) {
                ":3: children: simple_one_for_one needs exactly one child template, got 0",
                ":4: children: simple_one_for_one needs exactly one child template, got 0",
                ":6: children: simple_one_for_one needs exactly one child template, got 2",
                NULL,
        });
}
END_TEST

START_TEST(test_name_errors) {
        expect_errors("err_names.conf", (const char *const[]) {
                ":4: name: \"a/b\" may only hold letters, digits, '_', '.' and '-'",
                ":5: name: \".hidden\" must not start with '.'",
                ":6: name: must not be empty",
                ":7: name: \"control\" is reserved (control.sock is gensupd's own socket)",
                ":8: name: \"x0000000000000000000000000000000000000000000000000000000000000000\" is "
                "longer than 64 characters",
                ":9: duplicate name \"top\" (first used at line 2)",
                ":10: name: \"sp ace\" may only hold letters, digits, '_', '.' and '-'",
                ":11: name: expected a string",
                ":13: duplicate name \"ok-1.2_3\" (first used at line 12)",
                NULL,
        });
        expect_errors("err_sockpath.conf", (const char *const[]) {
                ":4: name: /run/a-rather-long-runtime-directory-name-for-testing-socket-path-limits/"
                "a-name-that-is-long-enough-to-overflow.sock is too long for a socket path",
                NULL,
        });
}
END_TEST

START_TEST(test_unknown_keys) {
        expect_errors("err_keys.conf", (const char *const[]) {
                ":2: unknown key \"colour\"",
                ":4: restart: not allowed on the root supervisor",
                ":5: type: not allowed on the root supervisor",
                ":6: unknown key \"speed\"",
                ":8: strategy: only for supervisors (type = \"supervisor\")",
                ":8: children: only for supervisors (type = \"supervisor\")",
                ":8: unknown key \"frobnicate\"",
                ":9: unknown key \"maximum\" in backoff",
                ":10: rlimits: unknown resource \"files\" (expected a lowercase RLIMIT_ name such as "
                "nofile or core)",
                ":12: exec: only for workers",
                ":12: listen: only for workers",
                ":12: rlimits: only for workers",
                NULL,
        });
}
END_TEST

static sup_spec *parse_ok(const char *text);

START_TEST(test_security_key_errors) {
        expect_errors("err_security.conf", (const char *const[]) {
                ":3: socket_mode: expected octal digits in a string, as \"0660\"",
                ":4: socket_mode: \"0999\" is not a file mode (octal, at most 0777)",
                ":4: socket_user: unknown user \"no-such-user-xyz\"",
                ":5: socket_mode: \"01777\" is not a file mode (octal, at most 0777)",
                ":5: socket_group: unknown group \"no-such-group-xyz\"",
                ":6: socket_mode, socket_user and socket_group need listen = true",
                ":7: pass_environment: \"1BAD\" is not a variable name",
                ":8: supplementary_groups: unknown group \"no-such-group-xyz\"",
                ":9: supplementary_groups: expected a list of strings [\"...\", ...]",
                NULL,
        });
}
END_TEST

START_TEST(test_security_keys) {
        sup_spec *s = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; listen = true;");
        ck_assert_uint_eq(s->socket_mode, 0660);
        ck_assert_ptr_null(s->socket_user);
        ck_assert_ptr_null(s->socket_group);
        ck_assert_ptr_null(s->pass_environment);
        ck_assert_ptr_null(s->supplementary_groups);
        sup_spec *t = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; listen = true; socket_mode = \"0600\";\n"
                               "socket_user = \"root\"; socket_group = \"4242\"; pass_environment = [\"LANG\", \"TZ\"];\n"
                               "supplementary_groups = [\"root\", \"4243\"];");
        ck_assert_uint_eq(t->socket_mode, 0600);
        ck_assert_str_eq(t->socket_user, "root");
        ck_assert_str_eq(t->socket_group, "4242");
        assert_strv(t->pass_environment, (const char *const[]) { "LANG", "TZ", NULL });
        assert_strv(t->supplementary_groups, (const char *const[]) { "root", "4243", NULL });
        /* Each key makes a different spec (a reload restarts the child). */
        ck_assert(!sup_spec_equal(s, t, false));
        sup_spec *u = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; listen = true; socket_mode = \"0660\";");
        ck_assert(sup_spec_equal(s, u, false));
        sup_spec_free(s);
        sup_spec_free(t);
        sup_spec_free(u);
}
END_TEST

START_TEST(test_value_errors) {
        expect_errors("err_values.conf", (const char *const[]) {
                ":1: runtime_dir: \"relative/dir\" is not an absolute path",
                ":2: control_group: unknown group \"no-such-group-xyz\"",
                ":6: rlimits.nofile: expected a number >= 0, \"infinity\" or [soft, hard]",
                ":6: rlimits.core: expected a number >= 0, \"infinity\" or [soft, hard]",
                ":6: rlimits.stack: the soft limit is above the hard limit",
                ":6: rlimits.nproc: expected [soft, hard], each a number >= 0 or \"infinity\"",
                ":6: rlimits.cpu: expected [soft, hard], each a number >= 0 or \"infinity\"",
                ":9: backoff.initial: must be >= 0, got -1",
                ":9: backoff.max: must be > 0, got 0",
                ":9: backoff.factor: must be between 1.0 and 1000.0, got 0.5",
                ":9: backoff.jitter: must be between 0.0 and 1.0, got 1.5",
                ":9: backoff.reset_after: expected an integer",
                ":11: backoff.max: must be >= backoff.initial (500), got 100",
                ":12: significant: expected true or false",
                ":12: listen: expected true or false",
                ":12: rlimits: expected a group { name = value; ... }",
                ":12: backoff: expected a group { initial = ...; ... }",
                ":13: environment: expected a list of strings [\"...\", ...]",
                ":13: user: expected a string",
                ":14: backoff.initial: must be <= backoff.max (30000), got 50000",
                ":15: children: expected a list of groups ( { ... }, ... )",
                NULL,
        });
}
END_TEST

START_TEST(test_missing_supervisor) {
        expect_errors("err_nosup.conf", (const char *const[]) {
                ":1: missing supervisor group",
                NULL,
        });
}
END_TEST

/* Errors in an @include'd file name that file, as seen from here. */
START_TEST(test_include_errors) {
        expect_errors("err_include.conf", (const char *const[]) {
                "include_part.conf:2: restart: invalid value \"sometimes\" (expected permanent, "
                "transient or temporary)",
                "include_part.conf:3: duplicate name \"inc\" (first used at line 2)",
                NULL,
        });
}
END_TEST

START_TEST(test_file_missing) {
        sup_errors e = { 0 };
        sup_config *c = NULL;
        int r = sup_config_load(DATA "no-such-file.conf", &c, &e);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], DATA "no-such-file.conf: cannot read: No such file or directory");
        sup_errors_done(&e);
        sup_errors_done(&e);
        sup_errors_done(NULL);
}
END_TEST

/* Past SUP_ERRORS_MAX lines, one last line counts the rest. */
START_TEST(test_too_many_errors) {
        char path[] = "/tmp/gensup-config-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        FILE *f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "supervisor = {\n");
        for (int i = 0; i < 150; i++)
                fprintf(f, "  unknown%d = 1;\n", i);
        fprintf(f, "};\n");
        fclose(f);

        sup_errors e = { 0 };
        sup_config *c = NULL;
        int r = sup_config_load(path, &c, &e);
        unlink(path);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_uint_eq(e.n, SUP_ERRORS_MAX + 1);
        char want[256];
        snprintf(want, sizeof(want), "%s:2: unknown key \"unknown0\"", path);
        ck_assert_str_eq(e.lines[0], want);
        snprintf(want, sizeof(want), "%s: 50 more errors not shown", path);
        ck_assert_str_eq(e.lines[SUP_ERRORS_MAX], want);
        sup_errors_done(&e);
}
END_TEST

/* ---- fragments ---- */

START_TEST(test_fragment) {
        sup_errors e = { 0 };
        sup_spec *s = NULL;
        const char *text = "name = \"conn2\";\nexec = [\"/bin/true\", \"-x\"];\nrestart = \"transient\";\n";
        ck_assert_int_eq(sup_spec_parse(text, "start-child", NULL, NULL, NULL, &s, &e), 0);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_str_eq(s->name, "conn2");
        ck_assert_int_eq(s->restart, SUP_TRANSIENT);
        assert_strv(s->exec, (const char *const[]) { "/bin/true", "-x", NULL });
        assert_worker_defaults(s);

        /* With braces, the same spec. */
        sup_spec *t = NULL;
        ck_assert_int_eq(sup_spec_parse("  {\n name = \"conn2\"; exec = [\"/bin/true\", \"-x\"];\n"
                                        "restart = \"transient\"; }\n",
                                        "start-child", NULL, NULL, NULL, &t, &e), 0);
        ck_assert_int_eq(sup_spec_equal(s, t, true), true);
        ck_assert_int_eq(t->line, 1);
        sup_spec_free(t);
        sup_spec_free(s);
}
END_TEST

/* output_limit: parsed, checked, compared. */
START_TEST(test_output_limit) {
        sup_errors e = { 0 };
        sup_spec *s = NULL, *t = NULL;
        ck_assert_int_eq(sup_spec_parse("name = \"w\"; exec = [\"/bin/true\"];\n"
                                        "output_limit = { lines = 0; bytes = 4096; burst = 60; };\n",
                                        "frag", NULL, NULL, NULL, &s, &e), 0);
        ck_assert_uint_eq(s->output_limit.lines, 0);
        ck_assert_uint_eq(s->output_limit.bytes, 4096);
        ck_assert_uint_eq(s->output_limit.burst_s, 60);
        /* Keys left out keep their defaults. */
        ck_assert_int_eq(sup_spec_parse("name = \"w\"; exec = [\"/bin/true\"]; output_limit = { lines = 5; };\n",
                                        "frag", NULL, NULL, NULL, &t, &e), 0);
        ck_assert_uint_eq(t->output_limit.lines, 5);
        ck_assert_uint_eq(t->output_limit.bytes, 262144);
        ck_assert_uint_eq(t->output_limit.burst_s, 10);
        ck_assert_int_eq(sup_spec_equal(s, t, true), false);
        t = sup_spec_free(t);
        ck_assert_int_eq(sup_spec_parse("name = \"w\"; exec = [\"/bin/true\"];\n"
                                        "output_limit = { lines = 0; bytes = 4096; burst = 60; };\n",
                                        "frag", NULL, NULL, NULL, &t, &e), 0);
        ck_assert_int_eq(sup_spec_equal(s, t, true), true);
        sup_spec_free(t);
        sup_spec_free(s);

        s = NULL;
        ck_assert_int_eq(sup_spec_parse("name = \"w\"; exec = [\"/bin/true\"];\n"
                                        "output_limit = { lines = -1; burst = 0; rate = 3; };\n",
                                        "frag", NULL, NULL, NULL, &s, &e), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(e.n, 3);
        ck_assert_str_eq(e.lines[0], "frag:2: unknown key \"rate\" in output_limit");
        ck_assert_str_eq(e.lines[1], "frag:2: output_limit.lines: must be >= 0, got -1");
        ck_assert_str_eq(e.lines[2], "frag:2: output_limit.burst: must be > 0, got 0");
        sup_errors_done(&e);
        ck_assert_int_eq(sup_spec_parse("name = \"w\"; exec = [\"/bin/true\"]; output_limit = 5;\n",
                                        "frag", NULL, NULL, NULL, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], "frag:1: output_limit: expected a group { lines = ...; bytes = ...; burst = ...; }");
        sup_errors_done(&e);
}
END_TEST

/* log_dir, log_rotate and log_ring: parsed, defaulted, checked. */
START_TEST(test_logs) {
        sup_config *c = load_ok(DATA "logs.conf");
        ck_assert_str_eq(c->log_dir, "/var/log/gensup");
        ck_assert_uint_eq(c->log_size, 65536);
        ck_assert_uint_eq(c->log_keep, 3);
        ck_assert_uint_eq(c->root->children[0]->log_ring.lines, 50);
        ck_assert_uint_eq(c->root->children[0]->log_ring.bytes, 4096);
        ck_assert_uint_eq(c->root->children[1]->log_ring.lines, 1000);
        ck_assert_uint_eq(c->root->children[1]->log_ring.bytes, 262144);
        ck_assert_int_eq(sup_spec_equal(c->root->children[0], c->root->children[1], false), false);
        sup_config_free(c);

        c = load_ok(DATA "defaults.conf");
        ck_assert_ptr_null(c->log_dir);
        ck_assert_uint_eq(c->log_size, 1048576);
        ck_assert_uint_eq(c->log_keep, 10);
        sup_config_free(c);

        static const char *const expected[] = {
                ":1: log_dir: \"relative/logs\" is not an absolute path",
                ":2: unknown key \"every\" in log_rotate",
                ":2: log_rotate.size: must be >= 4096, got 10",
                ":2: log_rotate.keep: must be >= 0, got -1",
                ":5: unknown key \"pages\" in log_ring",
                ":5: log_ring.lines: must be >= 0, got -5",
                NULL,
        };
        expect_errors("err_logs.conf", expected);
}
END_TEST

/* kill_mode and the cgroup limits (issue 7 §2). */
START_TEST(test_containment_keys) {
        sup_errors e = { 0 };
        sup_spec *s = NULL;
        ck_assert_int_eq(sup_spec_parse("name = \"c\"; exec = [\"/bin/true\"];\n", "start-child", NULL, NULL, NULL,
                                        &s, &e),
                         0);
        ck_assert_int_eq(s->kill_mode, SUP_KILL_CGROUP);
        ck_assert_uint_eq(s->memory_max, 0);
        ck_assert_uint_eq(s->pids_max, 0);
        sup_spec_free(s);

        ck_assert_int_eq(sup_spec_parse("name = \"c\"; exec = [\"/bin/true\"]; kill_mode = \"process\";\n"
                                        "memory_max = 67108864; pids_max = 64; cpu_weight = 50; cpu_max = 150;\n",
                                        "start-child", NULL, NULL, NULL, &s, &e),
                         0);
        ck_assert_int_eq(s->kill_mode, SUP_KILL_PROCESS);
        ck_assert_uint_eq(s->memory_max, 67108864);
        ck_assert_uint_eq(s->pids_max, 64);
        ck_assert_uint_eq(s->cpu_weight, 50);
        ck_assert_uint_eq(s->cpu_max_percent, 150);
        ck_assert_str_eq(sup_kill_mode_to_string(s->kill_mode), "process");
        sup_spec *t = NULL;
        ck_assert_int_eq(sup_spec_parse("name = \"c\"; exec = [\"/bin/true\"]; kill_mode = \"process\";\n"
                                        "memory_max = 67108864; pids_max = 64; cpu_weight = 50; cpu_max = 100;\n",
                                        "start-child", NULL, NULL, NULL, &t, &e),
                         0);
        ck_assert(!sup_spec_equal(s, t, true));
        sup_spec_free(t);
        sup_spec_free(s);

        s = NULL;
        int r = sup_spec_parse("name = \"c\"; exec = [\"/bin/true\"]; kill_mode = \"mixed\"; pids_max = 0;\n"
                               "cpu_weight = 20000; memory_max = 100;\n",
                               "start-child", NULL, NULL, NULL, &s, &e);
        ck_assert_int_lt(r, 0);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(e.n, 4);
        sup_errors_done(&e);
}
END_TEST

START_TEST(test_fragment_errors) {
        sup_errors e = { 0 };
        sup_spec *s = NULL;
        const char *const taken[] = { "root", "kitty", NULL };
        int r = sup_spec_parse("name = \"kitty\";\nexec = [\"/bin/true\"];\nsignificant = true;\nfoo = 1;\n",
                               "start-child", NULL, NULL, taken, &s, &e);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(e.n, 4);
        ck_assert_str_eq(e.lines[0], "start-child:1: name: \"kitty\" is already taken");
        ck_assert_str_eq(e.lines[1], "start-child:3: significant: not allowed with restart = \"permanent\"");
        ck_assert_str_eq(e.lines[2],
                         "start-child:3: significant: not allowed when the supervisor's auto_shutdown is \"never\"");
        ck_assert_str_eq(e.lines[3], "start-child:4: unknown key \"foo\"");
        sup_errors_done(&e);

        /* Missing keys are reported at line 1; a syntax error at its line. */
        ck_assert_int_eq(sup_spec_parse("", "frag", NULL, NULL, NULL, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 2);
        ck_assert_str_eq(e.lines[0], "frag:1: missing name");
        ck_assert_str_eq(e.lines[1], "frag:1: missing exec");
        /* Lines already there stay first, and are not sorted in. */
        ck_assert_int_eq(sup_spec_parse("\n\nname = 1;", "later", NULL, NULL, NULL, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 4);
        ck_assert_str_eq(e.lines[0], "frag:1: missing name");
        ck_assert_str_eq(e.lines[1], "frag:1: missing exec");
        ck_assert_str_eq(e.lines[2], "later:1: missing exec");
        ck_assert_str_eq(e.lines[3], "later:3: name: expected a string");
        sup_errors_done(&e);
        ck_assert_int_eq(sup_spec_parse("name = \"x\";\nexec = [\"/bin/true\"\n", "frag", NULL, NULL, NULL, &s, &e),
                         -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], "frag:3: syntax error");
        sup_errors_done(&e);

        /* A fragment never makes gensupd read another file. */
        ck_assert_int_eq(sup_spec_parse("name = \"x\";\n@include \"/etc/passwd\"\n", "frag", NULL, NULL, NULL, &s, &e),
                         -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], "frag:2: @include is not allowed here");
        sup_errors_done(&e);
        /* Only where libconfig would take it: first on a line. */
        ck_assert_int_eq(sup_spec_parse("name = \"x\"; exec = [\"/bin/true\", \"@include\"];", "frag", NULL, NULL,
                                        NULL, &s, &e), 0);
        ck_assert_uint_eq(e.n, 0);
        s = sup_spec_free(s);

        /* Duplicates inside the fragment (a supervisor with children). */
        ck_assert_int_eq(sup_spec_parse("name = \"s\"; type = \"supervisor\";\n"
                                        "children = ( { name = \"s\"; exec = [\"/bin/true\"]; } );\n",
                                        "frag", NULL, NULL, NULL, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], "frag:2: duplicate name \"s\" (first used at line 1)");
        sup_errors_done(&e);
}
END_TEST

/* What the parent allows: significant needs auto_shutdown other than
 * never, and no simple_one_for_one. */
START_TEST(test_fragment_parent) {
        sup_config *c = load_ok(DATA "nested.conf");
        const sup_spec *mid = sup_spec_find(c->root, "mid");
        const char *text = "name = \"n\"; exec = [\"/bin/true\"]; restart = \"temporary\"; significant = true;";
        sup_errors e = { 0 };
        sup_spec *s = NULL;

        ck_assert_int_eq(sup_spec_parse(text, "frag", NULL, mid, NULL, &s, &e), 0);
        ck_assert_int_eq(s->significant, true);
        s = sup_spec_free(s);
        ck_assert_ptr_null(s);

        ck_assert_int_eq(sup_spec_parse(text, "frag", NULL, c->root, NULL, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.lines[0], "frag:1: significant: not allowed when the supervisor's auto_shutdown is \"never\"");
        sup_errors_done(&e);
        sup_config_free(c);
}
END_TEST

START_TEST(test_fragment_base_dir) {
        char *dir = data_dir(), *want = NULL;
        sup_errors e = { 0 };
        sup_spec *s = NULL;

        ck_assert_int_eq(sup_spec_parse("name = \"x\"; exec = [\"./bin/fake-server\"];", "frag", dir, NULL, NULL,
                                        &s, &e), 0);
        ck_assert_int_ge(asprintf(&want, "%s/bin/fake-server", dir), 0);
        ck_assert_str_eq(s->exec[0], want);
        s = sup_spec_free(s);

        /* Without base_dir: the working directory. */
        ck_assert_int_eq(chdir(dir), 0);
        ck_assert_int_eq(sup_spec_parse("name = \"x\"; exec = [\"bin/fake-server\"];", "frag", NULL, NULL, NULL,
                                        &s, &e), 0);
        ck_assert_str_eq(s->exec[0], want);
        sup_spec_free(s);
        free(want);
        free(dir);
}
END_TEST

/* ---- comparing ---- */

static sup_spec *parse_ok(const char *text) {
        sup_errors e = { 0 };
        sup_spec *s = NULL;
        int r = sup_spec_parse(text, "frag", NULL, NULL, NULL, &s, &e);
        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "unexpected: %s\n", e.lines[i]);
        ck_assert_int_eq(r, 0);
        sup_errors_done(&e);
        return s;
}

START_TEST(test_equal) {
        sup_spec *a = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; rlimits = { nofile = 10; core = 0; };");
        /* Another line, another rlimits order, defaults spelled out: the same. */
        sup_spec *b = parse_ok("\n\nname = \"x\"; exec = [\"/bin/true\"]; rlimits = { core = 0; nofile = [10, 10]; };\n"
                               "shutdown = 5000; restart = \"permanent\"; backoff = { initial = 0; };");
        sup_spec *d = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; rlimits = { nofile = 10; core = 0; };"
                               "environment = [\"A=1\"];");
        sup_spec *e = parse_ok("name = \"x\"; exec = [\"/bin/true\", \"arg\"]; rlimits = { nofile = 10; core = 0; };");
        sup_spec *f = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; rlimits = { nofile = 11; core = 0; };");
        sup_spec *g = parse_ok("name = \"x\"; exec = [\"/bin/true\"]; rlimits = { nofile = 10; core = 0; }; "
                               "backoff = { jitter = 0.5; };");

        ck_assert_int_eq(sup_spec_equal(a, b, true), true);
        ck_assert_int_eq(sup_spec_equal(a, a, false), true);
        ck_assert_int_eq(sup_spec_equal(a, d, true), false);
        ck_assert_int_eq(sup_spec_equal(a, e, true), false);
        ck_assert_int_eq(sup_spec_equal(a, f, true), false);
        ck_assert_int_eq(sup_spec_equal(a, g, true), false);
        ck_assert_int_eq(sup_spec_equal(a, NULL, true), false);
        ck_assert_int_eq(sup_spec_equal(NULL, NULL, true), true);
        sup_spec_free(a);
        sup_spec_free(b);
        sup_spec_free(d);
        sup_spec_free(e);
        sup_spec_free(f);
        sup_spec_free(g);
        ck_assert_ptr_null(sup_spec_free(NULL));
}
END_TEST

START_TEST(test_equal_deep) {
        sup_config *a = load_ok(DATA "nested.conf");
        sup_config *b = load_ok(DATA "nested.conf");

        ck_assert_int_eq(sup_spec_equal(a->root, b->root, true), true);
        /* A grandchild's change shows deep only. */
        sup_spec_find(b->root, "c")->restart = SUP_TEMPORARY;
        ck_assert_int_eq(sup_spec_equal(a->root, b->root, true), false);
        ck_assert_int_eq(sup_spec_equal(a->root, b->root, false), true);
        ck_assert_int_eq(sup_spec_equal(a->root->children[1], b->root->children[1], false), true);
        ck_assert_int_eq(sup_spec_equal(a->root->children[1], b->root->children[1], true), false);
        ck_assert_ptr_null(sup_config_free(a));
        sup_config_free(b);
        ck_assert_ptr_null(sup_config_free(NULL));
}
END_TEST

/* ---- names of values ---- */

START_TEST(test_enum_strings) {
        for (int i = 0; i < _SUP_STRATEGY_MAX; i++)
                ck_assert_int_eq(sup_strategy_from_string(sup_strategy_to_string(i)), i);
        for (int i = 0; i < _SUP_RESTART_MAX; i++)
                ck_assert_int_eq(sup_restart_from_string(sup_restart_to_string(i)), i);
        for (int i = 0; i < _SUP_CHILD_TYPE_MAX; i++)
                ck_assert_int_eq(sup_child_type_from_string(sup_child_type_to_string(i)), i);
        for (int i = 0; i < _SUP_AUTO_SHUTDOWN_MAX; i++)
                ck_assert_int_eq(sup_auto_shutdown_from_string(sup_auto_shutdown_to_string(i)), i);
        for (int i = 0; i < _SUP_READY_MAX; i++)
                ck_assert_int_eq(sup_ready_from_string(sup_ready_to_string(i)), i);
        ck_assert_str_eq(sup_strategy_to_string(SUP_SIMPLE_ONE_FOR_ONE), "simple_one_for_one");
        ck_assert_ptr_null(sup_strategy_to_string(_SUP_STRATEGY_MAX));
        ck_assert_int_eq(sup_strategy_from_string("One_for_one"), -EINVAL);
        ck_assert_int_eq(sup_restart_from_string(NULL), -EINVAL);
        ck_assert_int_eq(sup_rlimit_from_string("nofile"), RLIMIT_NOFILE);
        ck_assert_int_eq(sup_rlimit_from_string("NOFILE"), -EINVAL);
        ck_assert_str_eq(sup_rlimit_to_string(RLIMIT_MEMLOCK), "memlock");
        ck_assert_ptr_null(sup_rlimit_to_string(-1));
}
END_TEST

Suite *config_suite(void);
Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("load");
        tcase_add_test(tc, test_good_values);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_nested);
        tcase_add_test(tc, test_relative_config_path);
        tcase_add_test(tc, test_file_missing);
        suite_add_tcase(s, tc);

        tc = tcase_create("exec");
        tcase_add_test(tc, test_exec_path_search);
        tcase_add_test(tc, test_exec_path_relative_entry);
        tcase_add_test(tc, test_exec_path_unset);
        tcase_add_test(tc, test_exec_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_syntax_error);
        tcase_add_test(tc, test_flag_errors);
        tcase_add_test(tc, test_child_errors);
        tcase_add_test(tc, test_significant_errors);
        tcase_add_test(tc, test_simple_one_for_one_errors);
        tcase_add_test(tc, test_name_errors);
        tcase_add_test(tc, test_unknown_keys);
        tcase_add_test(tc, test_value_errors);
        tcase_add_test(tc, test_security_key_errors);
        tcase_add_test(tc, test_missing_supervisor);
        tcase_add_test(tc, test_include_errors);
        tcase_add_test(tc, test_too_many_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("fragment");
        tcase_add_test(tc, test_fragment);
        tcase_add_test(tc, test_fragment_errors);
        tcase_add_test(tc, test_output_limit);
        tcase_add_test(tc, test_logs);
        tcase_add_test(tc, test_containment_keys);
        tcase_add_test(tc, test_fragment_parent);
        tcase_add_test(tc, test_fragment_base_dir);
        suite_add_tcase(s, tc);

        tc = tcase_create("compare");
        tcase_add_test(tc, test_equal);
        tcase_add_test(tc, test_security_keys);
        tcase_add_test(tc, test_equal_deep);
        tcase_add_test(tc, test_enum_strings);
        suite_add_tcase(s, tc);
        return s;
}
