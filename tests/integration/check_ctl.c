/* check_ctl.c: gensupctl against the real gensupd. Each case starts
 * gensupd on a config in a temporary runtime directory (plain programs
 * with ready = "exec", examples/test_server, a simple_one_for_one pool),
 * runs the real gensupctl binary, mostly with --json, and reads what it
 * prints with jansson. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it.h"

#define TIMEOUT_S 60
#define NOBODY 65534
#define MAX_ARGS 32

static const char *gensupctl = GS_BUILD_DIR "/bin/gensupctl";
static pid_t gensupd_pid = -1;
static char *gensupd_log;

/* ---- running gensupctl ---- */

typedef struct ctl_result {
        int status;   /* wait status */
        char *out, *err;
} ctl_result;

static void result_done(ctl_result *r) {
        free(r->out);
        free(r->err);
        *r = (ctl_result) { 0 };
}

static int exit_code(const ctl_result *r) {
        return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

/* Forks gensupctl with args (NULL-terminated), its stdout and stderr on
 * pipes (and stdin from a pipe when in_fd is set), as uid when uid >= 0. */
static pid_t ctl_spawn(char *const args[], uid_t uid, int *ret_out, int *ret_err, int *ret_in) {
        int out[2], err[2], in[2] = { -1, -1 };
        char *argv[MAX_ARGS + 2];
        size_t n = 0;

        /* Another user may not reach the build folder (a checkout in
         * /root): run a copy they can. */
        argv[n++] = uid != (uid_t) -1 ? it_public_copy(gensupctl) : (char *) gensupctl;
        for (size_t i = 0; args[i] && n < MAX_ARGS + 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        if (ret_in)
                ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
                        _exit(127);
                if (ret_in) {
                        if (dup2(in[0], STDIN_FILENO) < 0)
                                _exit(127);
                } else {
                        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                                _exit(127);
                }
                if (uid != (uid_t) -1) {
                        gid_t gid = NOBODY;
                        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                                _exit(126);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        if (ret_in) {
                close(in[0]);
                *ret_in = in[1];
        }
        *ret_out = out[0];
        *ret_err = err[0];
        return pid;
}

static void append(char **buf, size_t *len, const char *data, size_t n) {
        char *p = realloc(*buf, *len + n + 1);
        ck_assert_ptr_nonnull(p);
        memcpy(p + *len, data, n);
        *len += n;
        p[*len] = '\0';
        *buf = p;
}

/* Runs gensupctl to its end, feeding it input (or /dev/null), as uid
 * (or as the test's user with -1). */
static void ctl_run_as(uid_t uid, const char *input, ctl_result *r, char *const args[]) {
        int out, err, in = -1;
        pid_t pid = ctl_spawn(args, uid, &out, &err, input ? &in : NULL);
        size_t out_len = 0, err_len = 0;

        *r = (ctl_result) { 0 };
        append(&r->out, &out_len, "", 0);
        append(&r->err, &err_len, "", 0);
        if (input) {
                /* Small inputs only: they fit in the pipe. */
                ck_assert_int_eq(write(in, input, strlen(input)), (ssize_t) strlen(input));
                close(in);
        }
        struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = err, .events = POLLIN } };
        int open_fds = 2;
        while (open_fds > 0) {
                int k = poll(p, 2, IT_WAIT_MS);
                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_msg(k > 0, "gensupctl %s did not finish", args[0]);
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        char buf[4096];
                        ssize_t got = read(p[i].fd, buf, sizeof(buf));
                        if (got <= 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                open_fds--;
                        } else if (i == 0)
                                append(&r->out, &out_len, buf, (size_t) got);
                        else
                                append(&r->err, &err_len, buf, (size_t) got);
                }
        }
        ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
}

#define ARGS(...) ((char *const[]) { __VA_ARGS__, NULL })
#define ctl_run(r, ...) ctl_run_as((uid_t) -1, NULL, (r), ARGS(__VA_ARGS__))

/* gensupctl --json ARGS..., which must succeed; returns the document. */
static json_t *ctl_json_v(char *const args[]) {
        char *argv[MAX_ARGS + 1];
        size_t n = 0;
        ctl_result r;
        json_error_t jerr;

        argv[n++] = "--json";
        for (size_t i = 0; args[i] && n < MAX_ARGS; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        ctl_run_as((uid_t) -1, NULL, &r, argv);
        ck_assert_msg(exit_code(&r) == 0, "gensupctl --json %s: exit %d, stderr: %s", args[0], exit_code(&r), r.err);
        json_t *doc = json_loads(r.out, 0, &jerr);
        ck_assert_msg(doc != NULL, "gensupctl --json %s: not JSON (%s): %s", args[0], jerr.text, r.out);
        result_done(&r);
        return doc;
}

#define ctl_json(...) ctl_json_v(ARGS(__VA_ARGS__))

/* gensupctl ARGS... must fail with exit status 1 and a stderr line holding
 * text. */
static void ctl_fails_v(const char *text, char *const args[]) {
        ctl_result r;
        ctl_run_as((uid_t) -1, NULL, &r, args);
        ck_assert_msg(exit_code(&r) == 1, "gensupctl %s: exit %d (want 1), stderr: %s", args[0], exit_code(&r), r.err);
        ck_assert_msg(strstr(r.err, text) != NULL, "gensupctl %s: stderr '%s' lacks '%s'", args[0], r.err, text);
        ck_assert_msg(strncmp(r.err, "gensupctl: ", 11) == 0, "stderr: %s", r.err);
        ck_assert_str_eq(r.out, "");
        result_done(&r);
}

#define ctl_fails(text, ...) ctl_fails_v((text), ARGS(__VA_ARGS__))

/* ---- reading the tree ---- */

static const char *str(json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        ck_assert_msg(s != NULL, "no string \"%s\"", key);
        return s;
}

static json_int_t num(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);
        ck_assert_msg(json_is_integer(v), "no integer \"%s\"", key);
        return json_integer_value(v);
}

/* The status of one child (status NAME), or NULL if gensupctl fails. */
static json_t *child_status(const char *name) {
        ctl_result r;
        ctl_run(&r, "--json", "status", (char *) name);
        json_t *doc = exit_code(&r) == 0 ? json_loads(r.out, 0, NULL) : NULL;
        result_done(&r);
        return doc;
}

/* Waits until child name is running with a pid other than old_pid and at
 * least `restarts` restarts. Returns its pid. */
static pid_t wait_running(const char *name, pid_t old_pid, json_int_t restarts) {
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                json_t *c = child_status(name);
                const char *state = c ? json_string_value(json_object_get(c, "state")) : NULL;
                json_t *pid = c ? json_object_get(c, "pid") : NULL;
                if (state && strcmp(state, "running") == 0 && json_is_integer(pid) &&
                    json_integer_value(pid) != old_pid && json_integer_value(json_object_get(c, "restarts")) >= restarts) {
                        pid_t p = (pid_t) json_integer_value(pid);
                        json_decref(c);
                        return p;
                }
                json_decref(c);
                ck_assert_msg(it_now_ms() < deadline, "%s did not come back running", name);
                it_nap_ms(20);
        }
}

/* ---- gensupd, one per case ---- */

#define CONFIG_TEXT \
        "supervisor = {\n" \
        "  name = \"top\"; strategy = \"one_for_one\"; intensity = 20; period = 10;\n" \
        "  children = (\n" \
        "    { name = \"w1\"; exec = [\"/bin/sleep\", \"1000\"]; ready = \"exec\"; shutdown = 2000; },\n" \
        "    { name = \"ts\"; exec = [\"%s\"]; listen = true; },\n" \
        "    { name = \"pool\"; type = \"supervisor\"; strategy = \"simple_one_for_one\";\n" \
        "      children = ( { name = \"conn\"; exec = [\"/bin/sleep\"]; ready = \"exec\"; restart = \"temporary\"; } ); }\n" \
        "  );\n" \
        "};\n"

static void setup(void) {
        char *conf = it_path("gensup.conf");
        char *server = it_example("test_server");
        FILE *f = fopen(conf, "we");

        ck_assert_ptr_nonnull(f);
        fprintf(f, CONFIG_TEXT, server);
        ck_assert_int_eq(fclose(f), 0);
        free(server);

        gensupd_log = it_path("gensupd.log");
        gensupd_pid = it_spawn(ARGS(GS_BUILD_DIR "/bin/gensupd", "-c", conf, "--log-stderr"), NULL, NULL, 0,
                               gensupd_log);
        ck_assert_int_gt(gensupd_pid, 0);

        /* Ready when control.sock answers status and every child runs. */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                ctl_result r;
                ctl_run(&r, "--json", "status");
                json_t *doc = exit_code(&r) == 0 ? json_loads(r.out, 0, NULL) : NULL;
                result_done(&r);
                bool ready = false;
                if (doc) {
                        ready = true;
                        size_t i;
                        json_t *c;
                        json_array_foreach(json_object_get(json_object_get(doc, "tree"), "children"), i, c)
                                ready &= strcmp(json_string_value(json_object_get(c, "state")), "running") == 0;
                        ready &= json_array_size(json_object_get(json_object_get(doc, "tree"), "children")) == 3;
                }
                json_decref(doc);
                if (ready)
                        break;
                int status;
                ck_assert_msg(it_wait_exit(gensupd_pid, 0, &status) == -ETIMEDOUT, "gensupd exited: %s",
                              it_read_file(gensupd_log));
                ck_assert_msg(it_now_ms() < deadline, "gensupd did not get ready");
                it_nap_ms(20);
        }
        /* tree_ready follows from the loop a moment later: wait for it, so
         * that every case starts from the same event log. */
        for (bool ready = false; !ready;) {
                json_t *doc = ctl_json("events");
                size_t i;
                json_t *ev;
                json_array_foreach(json_object_get(doc, "events"), i, ev)
                        ready |= strcmp(str(ev, "event"), "tree_ready") == 0;
                json_decref(doc);
                if (!ready) {
                        ck_assert_msg(it_now_ms() < deadline, "no tree_ready event");
                        it_nap_ms(20);
                }
        }
}

/* Whatever is left dies: gensupd by SIGKILL, its children with it
 * (PR_SET_PDEATHSIG). */
static void teardown(void) {
        it_kill(gensupd_pid);
        gensupd_pid = -1;
}

/* ---- status and the read-only commands ---- */

START_TEST(test_status_tree) {
        json_t *doc = ctl_json("status");
        json_t *d = json_object_get(doc, "gensupd");
        json_t *tree = json_object_get(doc, "tree");

        ck_assert_int_eq(num(d, "pid"), gensupd_pid);
        ck_assert_str_eq(str(d, "state"), "running");
        ck_assert_str_eq(str(d, "runtime_dir"), it_tmpdir());
        ck_assert_str_eq(str(tree, "name"), "top");
        ck_assert_str_eq(str(tree, "type"), "supervisor");
        ck_assert_str_eq(str(tree, "strategy"), "one_for_one");

        /* Children in start order, with live pids. */
        static const char *const names[] = { "w1", "ts", "pool" };
        static const char *const types[] = { "worker", "worker", "supervisor" };
        json_t *children = json_object_get(tree, "children");
        ck_assert_int_eq(json_array_size(children), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *c = json_array_get(children, i);
                ck_assert_str_eq(str(c, "name"), names[i]);
                ck_assert_str_eq(str(c, "type"), types[i]);
                ck_assert_str_eq(str(c, "state"), "running");
                ck_assert_int_eq(num(c, "restarts"), 0);
                ck_assert(json_is_null(json_object_get(c, "reason")));
                if (i < 2) {
                        pid_t pid = (pid_t) num(c, "pid");
                        ck_assert_int_gt(pid, 0);
                        ck_assert_int_eq(kill(pid, 0), 0);
                } else
                        ck_assert(json_is_null(json_object_get(c, "pid")));
        }
        json_decref(doc);

        /* One child in detail. */
        doc = ctl_json("status", "w1");
        ck_assert_str_eq(str(doc, "name"), "w1");
        ck_assert_str_eq(str(doc, "restart"), "permanent");
        ck_assert(json_is_true(json_object_get(doc, "ready")));
        json_decref(doc);
        doc = ctl_json("status", "pool");
        ck_assert_str_eq(str(doc, "strategy"), "simple_one_for_one");
        ck_assert_int_eq(json_array_size(json_object_get(doc, "children")), 0);
        json_decref(doc);
        ctl_fails("no such child: nosuch", "status", "nosuch");

        /* The text for people names every child, once, on its own line. */
        ctl_result r;
        ctl_run(&r, "status");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
        ck_assert_ptr_nonnull(strstr(r.out, "LAST-EXIT"));
        ck_assert_ptr_nonnull(strstr(r.out, "\n  w1 "));
        ck_assert_ptr_nonnull(strstr(r.out, "\n  pool "));
        ck_assert_ptr_null(strstr(r.out, "\033["));   /* no colour into a pipe */
        result_done(&r);
}
END_TEST

START_TEST(test_children_and_specs) {
        json_t *doc = ctl_json("which-children", "top");
        json_t *list = json_object_get(doc, "children");
        static const char *const newest_first[] = { "pool", "ts", "w1" };
        ck_assert_int_eq(json_array_size(list), 3);
        for (size_t i = 0; i < 3; i++)
                ck_assert_str_eq(str(json_array_get(list, i), "name"), newest_first[i]);
        ck_assert_str_eq(str(json_array_get(list, 0), "type"), "supervisor");
        json_decref(doc);

        doc = ctl_json("count-children", "top");
        ck_assert_int_eq(num(doc, "specs"), 3);
        ck_assert_int_eq(num(doc, "active"), 3);
        ck_assert_int_eq(num(doc, "supervisors"), 1);
        ck_assert_int_eq(num(doc, "workers"), 2);
        json_decref(doc);

        doc = ctl_json("get-childspec", "top", "w1");
        ck_assert_str_eq(str(doc, "name"), "w1");
        ck_assert_str_eq(str(doc, "type"), "worker");
        ck_assert_str_eq(str(doc, "restart"), "permanent");
        ck_assert_str_eq(str(doc, "ready"), "exec");
        ck_assert_int_eq(num(doc, "shutdown"), 2000);
        json_t *exec = json_object_get(doc, "exec");
        ck_assert_int_eq(json_array_size(exec), 2);
        ck_assert_str_eq(json_string_value(json_array_get(exec, 0)), "/bin/sleep");
        ck_assert_str_eq(json_string_value(json_array_get(exec, 1)), "1000");
        json_decref(doc);

        doc = ctl_json("get-childspec", "top", "pool");
        ck_assert_str_eq(str(doc, "strategy"), "simple_one_for_one");
        ck_assert_str_eq(str(doc, "shutdown"), "infinity");
        json_decref(doc);

        ctl_fails("not_found", "get-childspec", "top", "nosuch");
        ctl_fails("no such supervisor: nosuch", "which-children", "nosuch");
        ctl_fails("no such supervisor: w1", "count-children", "w1");

        /* For people: a header and one line per child. */
        ctl_result r;
        ctl_run(&r, "which-children", "top");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_msg(strncmp(r.out, "NAME", 4) == 0, "%s", r.out);
        ck_assert_ptr_nonnull(strstr(r.out, "\npool "));
        result_done(&r);
        ctl_run(&r, "get-childspec", "top", "w1");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_ptr_nonnull(strstr(r.out, "/bin/sleep 1000"));
        result_done(&r);
}
END_TEST

/* ---- steering: OTP's start/terminate/restart/delete_child and errors ---- */

START_TEST(test_start_terminate_restart_delete) {
        const char *spec = "name = \"w2\"; exec = [\"/bin/sleep\", \"100\"]; ready = \"exec\";";

        json_t *doc = ctl_json("start-child", "top", (char *) spec);
        ck_assert_str_eq(str(doc, "name"), "w2");
        pid_t pid = (pid_t) num(doc, "pid");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, 0), 0);
        json_decref(doc);

        /* The newest child comes first. */
        doc = ctl_json("which-children", "top");
        ck_assert_str_eq(str(json_array_get(json_object_get(doc, "children"), 0), "name"), "w2");
        json_decref(doc);
        doc = ctl_json("count-children", "top");
        ck_assert_int_eq(num(doc, "specs"), 4);
        ck_assert_int_eq(num(doc, "active"), 4);
        json_decref(doc);

        ctl_fails("already_started", "start-child", "top", (char *) spec);
        ctl_fails("running", "delete-child", "top", "w2");
        ctl_fails("running", "restart-child", "top", "w2");
        ctl_fails("not_found", "terminate-child", "top", "nosuch");
        ctl_fails("not_found", "restart-child", "top", "nosuch");
        ctl_fails("not_found", "delete-child", "top", "nosuch");

        doc = ctl_json("terminate-child", "top", "w2");
        json_decref(doc);
        /* Not our child: gone once kill(0) fails (gensupd has reaped it). */
        for (int i = 0; i < IT_WAIT_MS / 10 && kill(pid, 0) == 0; i++)
                it_nap_ms(10);
        ck_assert_int_ne(kill(pid, 0), 0);
        doc = ctl_json("status", "w2");
        ck_assert_str_eq(str(doc, "state"), "stopped");
        ck_assert(json_is_null(json_object_get(doc, "pid")));
        json_decref(doc);
        doc = ctl_json("count-children", "top");
        ck_assert_int_eq(num(doc, "specs"), 4);
        ck_assert_int_eq(num(doc, "active"), 3);
        json_decref(doc);

        ctl_fails("already_present", "start-child", "top", (char *) spec);

        doc = ctl_json("restart-child", "top", "w2");
        pid_t pid2 = (pid_t) num(doc, "pid");
        ck_assert_int_gt(pid2, 0);
        ck_assert_int_ne(pid2, pid);
        json_decref(doc);

        json_decref(ctl_json("terminate-child", "top", "w2"));
        json_decref(ctl_json("delete-child", "top", "w2"));
        ctl_fails("not_found", "delete-child", "top", "w2");
        doc = ctl_json("count-children", "top");
        ck_assert_int_eq(num(doc, "specs"), 3);
        json_decref(doc);

        /* A bad spec says what is wrong. */
        ctl_result r;
        ctl_run(&r, "start-child", "top", "name = \"w3\";");
        ck_assert_int_eq(exit_code(&r), 1);
        ck_assert_msg(strstr(r.err, "gensupctl: start-child: ") == r.err, "%s", r.err);
        result_done(&r);

        /* For people: the confirmation names the child. */
        ctl_run(&r, "start-child", "top", (char *) spec);
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_msg(strncmp(r.out, "w2: started, pid ", 17) == 0, "%s", r.out);
        result_done(&r);
        ctl_run(&r, "delete-child", "top", "w2");
        ck_assert_int_eq(exit_code(&r), 1);
        ck_assert_msg(strncmp(r.err, "gensupctl: delete-child: running", 32) == 0, "%s", r.err);
        result_done(&r);
}
END_TEST

START_TEST(test_simple_one_for_one) {
        json_t *doc = ctl_json("start-child", "pool", "1000");
        const char *name = str(doc, "name");
        ck_assert_str_eq(name, "conn-1");
        pid_t pid = (pid_t) num(doc, "pid");
        ck_assert_int_gt(pid, 0);
        json_decref(doc);

        doc = ctl_json("start-child", "pool", "2000");
        ck_assert_str_eq(str(doc, "name"), "conn-2");
        json_decref(doc);

        doc = ctl_json("status", "conn-1");
        ck_assert_str_eq(str(doc, "state"), "running");
        json_t *args = json_object_get(doc, "args");
        ck_assert_int_eq(json_array_size(args), 1);
        ck_assert_str_eq(json_string_value(json_array_get(args, 0)), "1000");
        json_decref(doc);

        /* The process runs the template's exec with the extra argument. */
        char *cmdline = it_read_file(it_strf("/proc/%d/cmdline", (int) pid));
        ck_assert_ptr_nonnull(cmdline);
        ck_assert_str_eq(cmdline, "/bin/sleep");
        ck_assert_str_eq(cmdline + strlen("/bin/sleep") + 1, "1000");
        free(cmdline);

        doc = ctl_json("which-children", "pool");
        ck_assert_int_eq(json_array_size(json_object_get(doc, "children")), 2);
        ck_assert_str_eq(str(json_array_get(json_object_get(doc, "children"), 0), "name"), "conn-2");
        json_decref(doc);
        doc = ctl_json("count-children", "pool");
        ck_assert_int_eq(num(doc, "specs"), 1);
        ck_assert_int_eq(num(doc, "active"), 2);
        json_decref(doc);

        /* OTP: no restart-child or delete-child on simple_one_for_one. */
        ctl_fails("simple_one_for_one", "restart-child", "pool", "conn-1");
        ctl_fails("simple_one_for_one", "delete-child", "pool", "conn-1");

        json_decref(ctl_json("terminate-child", "pool", "conn-1"));
        doc = ctl_json("count-children", "pool");
        ck_assert_int_eq(num(doc, "active"), 1);
        json_decref(doc);
}
END_TEST

/* ---- history and events ---- */

START_TEST(test_history_after_kill) {
        json_t *doc = ctl_json("status", "w1");
        pid_t pid = (pid_t) num(doc, "pid");
        json_decref(doc);

        doc = ctl_json("history", "w1");
        ck_assert_int_eq(json_array_size(json_object_get(doc, "exits")), 0);
        json_decref(doc);

        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        pid_t pid2 = wait_running("w1", pid, 1);
        ck_assert_int_ne(pid2, pid);

        doc = ctl_json("history", "w1");
        ck_assert_str_eq(str(doc, "name"), "w1");
        json_t *exits = json_object_get(doc, "exits");
        ck_assert_int_eq(json_array_size(exits), 1);
        json_t *x = json_array_get(exits, 0);
        ck_assert_int_eq(num(x, "pid"), pid);
        ck_assert_str_eq(str(x, "reason"), "{signal,SIGKILL}");
        ck_assert_str_eq(str(x, "context"), "child_terminated");
        ck_assert_int_gt(num(x, "time_us"), 0);
        json_decref(doc);

        doc = ctl_json("status", "w1");
        ck_assert_str_eq(str(doc, "reason"), "{signal,SIGKILL}");
        ck_assert_int_eq(num(doc, "restarts"), 1);
        json_decref(doc);

        /* The event log has the exit and the restart. */
        doc = ctl_json("events");
        bool exited = false, restarted = false;
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(doc, "events"), i, ev) {
                const char *child = json_string_value(json_object_get(ev, "child"));
                const char *kind = json_string_value(json_object_get(ev, "event"));
                if (!child || strcmp(child, "w1") != 0)
                        continue;
                if (strcmp(kind, "exited") == 0) {
                        ck_assert_str_eq(str(ev, "reason"), "{signal,SIGKILL}");
                        ck_assert_str_eq(str(ev, "supervisor"), "top");
                        ck_assert_int_eq(num(ev, "pid"), pid);
                        exited = true;
                }
                if (strcmp(kind, "started") == 0 && json_integer_value(json_object_get(ev, "pid")) == pid2)
                        restarted = exited;
        }
        ck_assert(exited);
        ck_assert(restarted);
        json_decref(doc);

        /* For people: a table with the reason. */
        ctl_result r;
        ctl_run(&r, "history", "w1");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_msg(strncmp(r.out, "TIME", 4) == 0, "%s", r.out);
        ck_assert_ptr_nonnull(strstr(r.out, "child_terminated  {signal,SIGKILL}"));
        result_done(&r);
}
END_TEST

/* Reads one line from fd (blocking up to IT_WAIT_MS). Caller frees. */
static char *read_line(int fd) {
        char *line = NULL;
        size_t len = 0;
        append(&line, &len, "", 0);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, IT_WAIT_MS);
                ck_assert_msg(k > 0, "no line from events --follow (so far: '%s')", line);
                char c;
                ssize_t n = read(fd, &c, 1);
                ck_assert_msg(n == 1, "events --follow ended (so far: '%s')", line);
                if (c == '\n')
                        return line;
                append(&line, &len, &c, 1);
        }
}

START_TEST(test_events_follow) {
        int out, err;
        pid_t follower = ctl_spawn(ARGS("--json", "events", "--follow"), (uid_t) -1, &out, &err, NULL);

        /* The recent events come first; tree_ready is among them, so once
         * it is read gensupd is sending new events too. */
        for (;;) {
                char *line = read_line(out);
                json_t *ev = json_loads(line, 0, NULL);
                ck_assert_msg(ev != NULL, "not JSON: %s", line);
                bool ready = strcmp(str(ev, "event"), "tree_ready") == 0;
                json_decref(ev);
                free(line);
                if (ready)
                        break;
        }

        json_t *doc = ctl_json("status", "ts");
        pid_t pid = (pid_t) num(doc, "pid");
        json_decref(doc);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);

        bool exited = false, started = false;
        while (!started) {
                char *line = read_line(out);
                json_t *ev = json_loads(line, 0, NULL);
                ck_assert_msg(ev != NULL, "not JSON: %s", line);
                const char *child = json_string_value(json_object_get(ev, "child"));
                if (child && strcmp(child, "ts") == 0) {
                        if (strcmp(str(ev, "event"), "exited") == 0) {
                                ck_assert_str_eq(str(ev, "reason"), "{signal,SIGKILL}");
                                ck_assert_int_eq(num(ev, "pid"), pid);
                                exited = true;
                        } else if (strcmp(str(ev, "event"), "started") == 0 && exited) {
                                ck_assert_int_ne(num(ev, "pid"), pid);
                                started = true;
                        }
                }
                json_decref(ev);
                free(line);
        }

        /* Interrupted, it ends cleanly. */
        ck_assert_int_eq(kill(follower, SIGINT), 0);
        int status;
        ck_assert_int_eq(waitpid(follower, &status, 0), follower);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
        close(out);
        close(err);
}
END_TEST

/* ---- sys requests, call and cast ---- */

START_TEST(test_sys_and_call) {
        json_t *doc = ctl_json("get-state", "ts");
        ck_assert_str_eq(str(doc, "name"), "ts");
        ck_assert_ptr_nonnull(json_string_value(json_object_get(doc, "state")));
        json_decref(doc);

        ctl_result r;
        ctl_run(&r, "call", "ts", "echo:hello");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_str_eq(r.out, "hello");   /* the reply's bytes, unchanged */
        result_done(&r);

        /* Payload from stdin, absent or "-". */
        ctl_run_as((uid_t) -1, "echo:from stdin", &r, ARGS("call", "ts"));
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_str_eq(r.out, "from stdin");
        result_done(&r);
        ctl_run_as((uid_t) -1, "echo:dash", &r, ARGS("call", "ts", "-"));
        ck_assert_str_eq(r.out, "dash");
        result_done(&r);

        ctl_run(&r, "cast", "ts", "inc");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_str_eq(r.out, "");
        result_done(&r);
        ctl_run(&r, "call", "ts", "casts");
        ck_assert_str_eq(r.out, "1");
        result_done(&r);

        doc = ctl_json("statistics", "ts");
        ck_assert_str_eq(str(doc, "name"), "ts");
        ck_assert_int_eq(num(doc, "casts"), 1);
        ck_assert_int_ge(num(doc, "calls"), 3);
        ck_assert_int_gt(num(doc, "rss_bytes"), 0);
        ck_assert(json_is_false(json_object_get(doc, "suspended")));
        /* gensupd adds what the child's cgroup counts (null without one). */
        json_t *cg = json_object_get(doc, "cgroup");
        ck_assert(json_is_object(cg));
        ck_assert_ptr_nonnull(str(cg, "kill_mode"));
        ck_assert(json_is_integer(json_object_get(cg, "cpu_us")) || json_is_null(json_object_get(cg, "cpu_us")));
        ck_assert(json_is_integer(json_object_get(cg, "memory_bytes")) ||
                  json_is_null(json_object_get(cg, "memory_bytes")));
        json_decref(doc);

        ctl_run(&r, "statistics", "ts");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_ptr_nonnull(strstr(r.out, "casts:"));
        ck_assert_ptr_nonnull(strstr(r.out, "iB"));
        result_done(&r);

        /* Suspended, calls wait: a short timeout expires; resumed, they work. */
        json_decref(ctl_json("suspend", "ts"));
        doc = ctl_json("statistics", "ts");
        ck_assert(json_is_true(json_object_get(doc, "suspended")));
        json_decref(doc);
        ctl_fails("no reply within 200 ms", "--timeout", "200", "call", "ts", "count");
        json_decref(ctl_json("resume", "ts"));
        ctl_run(&r, "call", "ts", "echo:back");
        ck_assert_str_eq(r.out, "back");
        result_done(&r);

        json_decref(ctl_json("trace", "ts", "on"));
        doc = ctl_json("statistics", "ts");
        ck_assert(json_is_true(json_object_get(doc, "trace")));
        json_decref(doc);
        json_decref(ctl_json("trace", "ts", "off"));

        /* Errors. */
        ctl_fails("no such server: nosuch", "call", "nosuch", "x");
        ctl_fails("no such server: nosuch", "cast", "nosuch", "x");
        ctl_fails("not a worker", "get-state", "pool");
        ctl_fails("no such child: nosuch", "statistics", "nosuch");
        /* A server that stops in the call: its exit reason is told. */
        ctl_fails("the server exited: {error,bye}", "call", "ts", "stop:bye");
}
END_TEST

/* ---- stop ---- */

START_TEST(test_stop) {
        ctl_result r;
        ctl_run(&r, "stop");
        ck_assert_msg(exit_code(&r) == 0, "stop: %s", r.err);
        result_done(&r);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(gensupd_pid, IT_WAIT_MS, &status), 0);
        gensupd_pid = -1;
        ck_assert_msg(it_exited_with(status, 0), "gensupd status %#x", status);

        /* Gone: one clear line, exit 1. */
        ctl_fails("cannot reach gensupd at ", "status");
}
END_TEST

/* ---- the control socket under abuse ---- */

START_TEST(test_permission_denied) {
        if (geteuid() != 0) {
                /* Only root can become another user here. */
                return;
        }
        /* Let nobody reach the socket, so gensupd is the one refusing. */
        ck_assert_int_eq(chmod(it_tmpdir(), 0755), 0);

        ctl_result r;
        ctl_run_as(NOBODY, NULL, &r, ARGS("status"));
        ck_assert_msg(exit_code(&r) == 1, "exit %d, stderr %s", exit_code(&r), r.err);
        ck_assert_msg(strstr(r.err, "gensupctl: status: permission denied") == r.err, "%s", r.err);
        ck_assert_str_eq(r.out, "");
        result_done(&r);

        ctl_run_as(NOBODY, NULL, &r, ARGS("--json", "stop"));
        ck_assert_int_eq(exit_code(&r), 1);
        ck_assert_ptr_nonnull(strstr(r.err, "permission denied"));
        ck_assert_str_eq(r.out, "");
        result_done(&r);

        /* gensupd is still there. */
        int status;
        ck_assert_int_eq(it_wait_exit(gensupd_pid, 0, &status), -ETIMEDOUT);
        json_decref(ctl_json("status"));
}
END_TEST

static int ctl_status_raw(ipc_conn *c, uint64_t ref) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame *in = NULL;

        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        req.command = "status";
        f.ctl = &req;
        int r = it_send(c, &f);
        if (r < 0)
                return r;
        r = it_recv(c, IT_WAIT_MS, &in);
        if (r < 0)
                return r;
        ck_assert_int_eq(in->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_int_eq(in->ref, ref);
        ck_assert_ptr_nonnull(in->ctl_reply);
        ck_assert_int_eq(in->ctl_reply->code, 0);
        json_t *doc = json_loads(in->ctl_reply->json, 0, NULL);
        ck_assert_ptr_nonnull(doc);
        ck_assert_ptr_nonnull(json_object_get(doc, "tree"));
        json_decref(doc);
        ipc_frame_free(in);
        return 0;
}

/* The connection must end (EOF) and nothing else come. */
static void expect_closed(ipc_conn *c) {
        ipc_frame *f = NULL;
        int r = it_recv(c, IT_WAIT_MS, &f);
        ck_assert_msg(r == -ECONNRESET, "want EOF, got %d (kind %d)", r, f ? (int) f->kind : -1);
}

START_TEST(test_garbage_and_oversize) {
        char *sock = it_path("control.sock");
        ipc_conn *good = it_connect(sock);
        ck_assert_ptr_nonnull(good);
        ck_assert_int_eq(ctl_status_raw(good, 7), 0);

        /* Garbage: a varint that never ends. */
        ipc_conn *bad = it_connect(sock);
        ck_assert_ptr_nonnull(bad);
        static const uint8_t garbage[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        ck_assert_int_eq(it_send_raw(bad, garbage, sizeof(garbage)), 0);
        expect_closed(bad);
        bad = ipc_conn_free(bad);

        /* A frame of the right length holding no Frame. */
        bad = it_connect(sock);
        static const uint8_t junk[] = { 6, 0xde, 0xad, 0xbe, 0xef, 0x0f, 0xff };
        ck_assert_int_eq(it_send_raw(bad, junk, sizeof(junk)), 0);
        expect_closed(bad);
        bad = ipc_conn_free(bad);

        /* An oversized length prefix (1 GiB). */
        bad = it_connect(sock);
        uint8_t prefix[10];
        size_t n = ipc_varint_encode(1ull << 30, prefix);
        ck_assert_int_eq(it_send_raw(bad, prefix, n), 0);
        expect_closed(bad);
        bad = ipc_conn_free(bad);

        /* The other client was not disturbed, and new ones are served. */
        ck_assert_int_eq(ctl_status_raw(good, 8), 0);
        good = ipc_conn_free(good);
        json_decref(ctl_json("status"));
        int status;
        ck_assert_int_eq(it_wait_exit(gensupd_pid, 0, &status), -ETIMEDOUT);
}
END_TEST

/* Clients that ask and hang up at once: gensupd's answer meets a closed
 * socket, and it must drop that connection alone (and touch nothing it
 * freed: run this under SANITIZE=address to see). */
START_TEST(test_hangup_after_request) {
        char *sock = it_path("control.sock");
        for (int i = 0; i < 20; i++) {
                ipc_conn *c = it_connect(sock);
                ck_assert_ptr_nonnull(c);
                Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CTL, 1);
                req.command = i % 2 ? "status" : "events";
                f.ctl = &req;
                ck_assert_int_eq(it_send(c, &f), 0);
                c = ipc_conn_free(c);
        }
        ctl_result r;
        ctl_run(&r, "status");
        if (exit_code(&r) != 0) {
                int status = 0;
                if (it_wait_exit(gensupd_pid, IT_WAIT_MS, &status) == 0) {
                        gensupd_pid = -1;
                        ck_abort_msg("gensupd died after clients hung up (wait status %#x: %s %d)", status,
                                     WIFSIGNALED(status) ? "signal" : "exit",
                                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                }
                ck_abort_msg("status failed: %s", r.err);
        }
        result_done(&r);
        int status;
        ck_assert_int_eq(it_wait_exit(gensupd_pid, 0, &status), -ETIMEDOUT);
}
END_TEST

/* ---- rate-limited log lines ---- */

/* The lines of gensupd's log about malformed frames (one each), and the
 * frames the "N messages suppressed (bad frames)" lines counted. */
static void count_bad_frame_lines(size_t *ret_lines, size_t *ret_held) {
        char *text = it_read_file(gensupd_log);
        size_t lines = 0, held = 0;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strstr(line, "control: malformed frame from pid "))
                        lines++;
                const char *s = strstr(line, "control: ");
                unsigned long long n;
                char what[32];
                if (s && sscanf(s, "control: %llu messages suppressed (%31[^)])", &n, what) == 2 &&
                    strcmp(what, "bad frames") == 0)
                        held += (size_t) n;
        }
        free(text);
        *ret_lines = lines;
        *ret_held = held;
}

#define BAD_CLIENTS 200

/* Garbage in a loop (once 266,514 lines in ten minutes): a bounded number
 * of lines, the rest counted in "N messages suppressed" lines, so that
 * every frame is accounted for, and nothing else disturbed. */
START_TEST(test_bad_frames_rate_limited) {
        char *sock = it_path("control.sock");
        static const uint8_t junk[] = { 6, 0xde, 0xad, 0xbe, 0xef, 0x0f, 0xff };
        for (int i = 0; i < BAD_CLIENTS; i++) {
                ipc_conn *bad = it_connect(sock);
                ck_assert_ptr_nonnull(bad);
                ck_assert_int_eq(it_send_raw(bad, junk, sizeof(junk)), 0);
                expect_closed(bad);
                ipc_conn_free(bad);
        }
        /* The last summary comes when its interval ends (5 s). */
        size_t lines, held;
        int64_t deadline = it_now_ms() + 4 * IT_WAIT_MS;
        for (;;) {
                count_bad_frame_lines(&lines, &held);
                if (lines + held >= BAD_CLIENTS)
                        break;
                ck_assert_msg(it_now_ms() < deadline, "%zu lines and %zu suppressed for %d bad frames", lines, held,
                              BAD_CLIENTS);
                it_nap_ms(50);
        }
        ck_assert_int_eq(lines + held, BAD_CLIENTS);
        ck_assert_int_ge(held, 1);
        ck_assert_msg(lines < BAD_CLIENTS / 2, "%zu lines for %d bad frames", lines, BAD_CLIENTS);
        json_decref(ctl_json("status"));
}
END_TEST

/* ---- the control socket under pressure ---- */

/* A raw CTL request. */
static void send_ctl_raw(ipc_conn *c, uint64_t ref, const char *command, char **args, size_t n_args) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        req.command = (char *) command;
        req.args = args;
        req.n_args = n_args;
        f.ctl = &req;
        ck_assert_int_eq(it_send(c, &f), 0);
}

/* The answer to ref: the reply's JSON (a new reference); the reply must
 * say ok. */
static json_t *recv_ctl_json(ipc_conn *c, uint64_t ref) {
        ipc_frame *in = NULL;
        int r = it_recv(c, IT_WAIT_MS, &in);
        ck_assert_msg(r == 0, "no answer to request %llu: %d", (unsigned long long) ref, r);
        ck_assert_int_eq(in->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_int_eq(in->ref, ref);
        ck_assert_msg(in->ctl_reply->code == 0, "error %u: %s", in->ctl_reply->code, in->ctl_reply->error);
        json_t *doc = json_loads(in->ctl_reply->json, 0, NULL);
        ck_assert_ptr_nonnull(doc);
        ipc_frame_free(in);
        return doc;
}

/* A client that sends its request and shuts down its write side still
 * gets the answer, also one that comes later (a sys request to a child),
 * and then EOF. */
START_TEST(test_half_close) {
        char *sock = it_path("control.sock");
        static const char *const commands[] = { "statistics", "get-state", "status" };
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                ipc_conn *c = it_connect(sock);
                ck_assert_ptr_nonnull(c);
                char *args[] = { "ts" };
                send_ctl_raw(c, 40 + i, commands[i], args, 1);
                ck_assert_int_eq(shutdown(ipc_conn_fd(c), SHUT_WR), 0);
                json_t *doc = recv_ctl_json(c, 40 + i);
                ck_assert_str_eq(str(doc, "name"), "ts");
                json_decref(doc);
                expect_closed(c);
                ipc_conn_free(c);
        }
        int status;
        ck_assert_int_eq(it_wait_exit(gensupd_pid, 0, &status), -ETIMEDOUT);
}
END_TEST

static size_t count_fds(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        DIR *d = opendir(path);
        ck_assert_ptr_nonnull(d);
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* The state letter of /proc/PID/stat: R running (or runnable), S asleep. */
static char proc_state(pid_t pid) {
        char *text = it_read_file(it_strf("/proc/%d/stat", (int) pid));
        ck_assert_ptr_nonnull(text);
        char *paren = strrchr(text, ')');
        ck_assert_ptr_nonnull(paren);
        char state = paren[2];
        free(text);
        return state;
}

#define HELD 24   /* control connections the test holds, more than gensupd has fds left */
#define SAMPLES 200

/* Out of fds with clients waiting to be accepted: gensupd must wait, not
 * spin on a listener that stays readable, and serve again once fds are
 * free. A spinning process is in state R in nearly every sample, a
 * waiting one in S. */
START_TEST(test_out_of_fds) {
        char *sock = it_path("control.sock");
        size_t in_use = count_fds(gensupd_pid);
        struct rlimit lim, old;
        ck_assert_int_eq(prlimit(gensupd_pid, RLIMIT_NOFILE, NULL, &old), 0);
        lim = (struct rlimit) { .rlim_cur = in_use + 6, .rlim_max = old.rlim_max };
        ck_assert_int_eq(prlimit(gensupd_pid, RLIMIT_NOFILE, &lim, NULL), 0);

        ipc_conn *held[HELD];
        for (size_t i = 0; i < HELD; i++) {
                held[i] = it_connect(sock);
                ck_assert_ptr_nonnull(held[i]);
        }
        /* gensupd took what it could: its table is full. */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        while (count_fds(gensupd_pid) < lim.rlim_cur) {
                ck_assert_msg(it_now_ms() < deadline, "gensupd holds %zu fds, not %zu", count_fds(gensupd_pid),
                              (size_t) lim.rlim_cur);
                it_nap_ms(10);
        }
        int running = 0;
        for (int i = 0; i < SAMPLES; i++) {
                running += proc_state(gensupd_pid) == 'R';
                it_nap_ms(1);
        }
        ck_assert_msg(running < SAMPLES / 2, "gensupd was running in %d of %d samples: it spins", running, SAMPLES);

        /* Room again: the connections waiting are taken, and served. */
        for (size_t i = 0; i < HELD; i++)
                held[i] = ipc_conn_free(held[i]);
        ck_assert_int_eq(prlimit(gensupd_pid, RLIMIT_NOFILE, &old, NULL), 0);
        json_t *doc = ctl_json("status");
        ck_assert_ptr_nonnull(json_object_get(doc, "tree"));
        json_decref(doc);
}
END_TEST

/* ---- without gensupd: usage errors and an absent daemon ---- */

START_TEST(test_usage) {
        ctl_result r;
        const char *const *cases[] = {
                (const char *[]) { "bogus", NULL },
                (const char *[]) { "--bogus", "status", NULL },
                (const char *[]) { "status", "a", "b", NULL },
                (const char *[]) { "history", NULL },
                (const char *[]) { "trace", "x", "maybe", NULL },
                (const char *[]) { "--timeout", "soon", "status", NULL },
                (const char *[]) { "stop", "now", NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ctl_run_as((uid_t) -1, NULL, &r, (char *const *) cases[i]);
                ck_assert_msg(exit_code(&r) == 2, "%s: exit %d", cases[i][0], exit_code(&r));
                ck_assert_msg(strncmp(r.err, "gensupctl: ", 11) == 0, "%s", r.err);
                result_done(&r);
        }
        ctl_run_as((uid_t) -1, NULL, &r, (char *const *) (const char *[]) { NULL });
        ck_assert_int_eq(exit_code(&r), 2);
        result_done(&r);

        /* --help lists every command, one line each. */
        ctl_run(&r, "--help");
        ck_assert_int_eq(exit_code(&r), 0);
        static const char *const names[] = { "status", "which-children", "count-children", "get-childspec",
                                             "history", "events", "get-state", "statistics", "suspend", "resume",
                                             "trace", "start-child", "terminate-child", "restart-child",
                                             "delete-child", "call", "cast", "reload", "stop" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                ck_assert_msg(strstr(r.out, it_strf("\n  %s ", names[i])), "--help lacks %s", names[i]);
        result_done(&r);

        ctl_run(&r, "--version");
        ck_assert_int_eq(exit_code(&r), 0);
        ck_assert_msg(strncmp(r.out, "gensupctl ", 10) == 0, "%s", r.out);
        result_done(&r);

        /* Nobody listening: one clear line naming the socket. */
        char *missing = it_path("missing.sock");
        ctl_run(&r, "-s", missing, "status");
        ck_assert_int_eq(exit_code(&r), 1);
        ck_assert_str_eq(r.err, it_strf("gensupctl: cannot reach gensupd at %s: No such file or directory "
                                        "(is it running? set GENSUP_RUNTIME_DIR or -s)\n",
                                        missing));
        result_done(&r);
}
END_TEST

Suite *ctl_suite(void);

Suite *ctl_suite(void) {
        Suite *s = suite_create("ctl");
        TCase *tc;

        tc = tcase_create("read");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_status_tree);
        tcase_add_test(tc, test_children_and_specs);
        suite_add_tcase(s, tc);

        tc = tcase_create("steer");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_start_terminate_restart_delete);
        tcase_add_test(tc, test_simple_one_for_one);
        suite_add_tcase(s, tc);

        tc = tcase_create("exits");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_history_after_kill);
        tcase_add_test(tc, test_events_follow);
        suite_add_tcase(s, tc);

        tc = tcase_create("server");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_sys_and_call);
        tcase_add_test(tc, test_stop);
        suite_add_tcase(s, tc);

        tc = tcase_create("abuse");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_permission_denied);
        tcase_add_test(tc, test_garbage_and_oversize);
        tcase_add_test(tc, test_hangup_after_request);
        tcase_add_test(tc, test_bad_frames_rate_limited);
        suite_add_tcase(s, tc);

        tc = tcase_create("pressure");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_half_close);
        tcase_add_test(tc, test_out_of_fds);
        suite_add_tcase(s, tc);

        tc = tcase_create("usage");
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_usage);
        suite_add_tcase(s, tc);
        return s;
}
