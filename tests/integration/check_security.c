/* check_security.c: issue 8's holes, tried as a local attacker would.
 *
 * The attacker is nobody (uid 65534), acting in a forked child that has
 * dropped to that uid (as `runuser -u nobody` would, without exec'ing
 * anything from the checkout, which nobody may not be able to reach),
 * on a shared sticky directory like /tmp, before root starts gensupd or
 * a client. Every case fails against gensup before issue 8 and passes
 * after. Cases that need root say so and pass without it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gensup.h"
#include "sup.h"

#define NOBODY 65534

static gsd *D;

static void teardown(void) {
        D = gsd_finish(D);
}

static bool root_or_skip(const char *what) {
        if (geteuid() == 0)
                return true;
        fprintf(stderr, "security: not root, %s not tested\n", what);
        return false;
}

/* ---- the attacker ---- */

typedef int (*attack_fn)(void *arg);

/* Runs fn as nobody in a child; returns its result (0 on success). */
static int as_nobody(attack_fn fn, void *arg) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(100);
                _exit(fn(arg) == 0 ? 0 : 1);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 100, "could not become nobody");
        return WEXITSTATUS(status);
}

/* A directory all users share, sticky as /tmp: <tmp>/pub. */
static char *shared_dir(void) {
        char *pub = it_path("pub");
        ck_assert_int_eq(chmod(it_tmpdir(), 0755), 0);
        ck_assert_int_eq(mkdir(pub, 0755), 0);
        ck_assert_int_eq(chmod(pub, 01777), 0);
        return pub;
}

static int make_dir(void *path) {
        return mkdir(path, 0777) < 0 ? -errno : chmod(path, 0777);
}

typedef struct link_args {
        const char *target, *path;
} link_args;

static int make_link(void *arg) {
        link_args *a = arg;
        if (mkdir(a->target, 0755) < 0)
                return -errno;
        return symlink(a->target, a->path) < 0 ? -errno : 0;
}

typedef struct bind_args {
        int fd;
        const char *path;
} bind_args;

static int bind_socket(void *arg) {
        bind_args *a = arg;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char *dir = strdup(a->path);
        *strrchr(dir, '/') = '\0';
        if (mkdir(dir, 0755) < 0)
                return -errno;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->path);
        if (bind(a->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return chmod(a->path, 0777) < 0 ? -errno : 0;
}

/* A socket nobody listens on at path (in a directory nobody made there):
 * the attacker's fake server. Returns the listening fd, held here. */
static int attacker_socket(const char *path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(fd, 0);
        bind_args a = { fd, path };
        ck_assert_int_eq(as_nobody(bind_socket, &a), 0);
        ck_assert_int_eq(listen(fd, 16), 0);
        return fd;
}

/* Whether someone connected to the attacker's socket (connect returns
 * once the connection is queued: no waiting needed). */
static bool got_connection(int lfd) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        return poll(&p, 1, 0) == 1;
}

/* ---- gensupd's runtime directory ---- */

/* Starts gensupd on a config whose runtime_dir is dir; it must refuse
 * and exit 1 with a log line that holds text. */
static void assert_refused(const char *dir, const char *text) {
        char *conf = gsd_write_file("refused.conf",
                                    "runtime_dir = \"%s\";\n"
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"s\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                                    "); };\n",
                                    dir);
        char *control = it_strf("%s/control.sock", dir);
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start_with(conf, control, NULL, NULL, 0, &d), 0);
        int status = 0;
        ck_assert_int_eq(gsd_wait_exit(d, IT_WAIT_MS, &status), 0);
        char *log = gsd_log_text(d);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "gensupd used %s: status %#x, log: %s", dir,
                      status, log);
        ck_assert_msg(strstr(log, "refusing runtime directory") && strstr(log, text), "log: %s", log);
        struct stat st;
        ck_assert_msg(lstat(control, &st) < 0, "%s was created", control);
        free(log);
        gsd_finish(d);
        free(control);
        free(conf);
}

START_TEST(runtime_dir_squatted) {
        if (!root_or_skip("a runtime directory made by another user"))
                return;
        char *pub = shared_dir();
        /* gensupd(8)'s old example: nobody made the directory first. */
        char *run = it_strf("%s/run", pub);
        ck_assert_int_eq(as_nobody(make_dir, run), 0);
        assert_refused(run, "owned by another user");

        /* A link nobody planted, to a directory of their own. */
        link_args l = { it_strf("%s/mine", pub), it_strf("%s/run2", pub) };
        ck_assert_int_eq(as_nobody(make_link, &l), 0);
        assert_refused(l.path, "a symbolic link owned by another user");

        /* Root's own, but anyone may write into it. */
        char *open_dir = it_strf("%s/open", pub);
        ck_assert_int_eq(mkdir(open_dir, 0755), 0);
        ck_assert_int_eq(chmod(open_dir, 0777), 0);
        assert_refused(open_dir, "writable by group or others");

        /* Made by root, but under a directory nobody owns: nobody could
         * rename it away and put their own in its place. */
        char *under = it_strf("%s/run/sub", pub);
        ck_assert_int_eq(mkdir(under, 0755), 0);
        assert_refused(under, "owned by another user");
}
END_TEST

START_TEST(runtime_dir_made_safe) {
        if (!root_or_skip("runtime directory modes"))
                return;
        /* A strict umask must not change the modes gensupd sets. */
        umask(077);
        char *dir = it_path("fresh/run");
        char *conf = gsd_write_file("fresh.conf",
                                    "runtime_dir = \"%s\";\n"
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"s\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }\n"
                                    "); };\n",
                                    dir);
        char *control = it_strf("%s/control.sock", dir);
        ck_assert_int_eq(gsd_start_with(conf, control, NULL, NULL, 0, &D), 0);
        struct stat st;
        ck_assert_int_eq(lstat(dir, &st), 0);
        ck_assert_msg(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755, "mode %o", st.st_mode);
        ck_assert_int_eq(st.st_uid, 0);
        ck_assert_int_eq(lstat(control, &st), 0);
        ck_assert_msg(S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0666, "control.sock mode %o", st.st_mode);
        char *notify = it_strf("%s/notify.sock", dir);
        ck_assert_int_eq(lstat(notify, &st), 0);
        ck_assert_msg(S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0666, "notify.sock mode %o", st.st_mode);
}
END_TEST

/* ---- clients ---- */

static int run_ctl(char *const argv[], char *const env[], char **ret_err) {
        char *prog = it_strf("%s/bin/gensupctl", GS_BUILD_DIR);
        char *err = it_path("ctl.err");
        (void) unlink(err);
        char *args[16] = { prog };
        size_t n = 1;
        for (size_t i = 0; argv[i] && n < 15; i++)
                args[n++] = argv[i];
        args[n] = NULL;
        pid_t pid = it_spawn(args, env, NULL, 0, err);
        ck_assert_int_gt(pid, 0);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        *ret_err = it_read_file(err);
        if (!*ret_err)
                *ret_err = strdup("");
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(client_refuses_foreign_socket) {
        if (!root_or_skip("sockets made by another user"))
                return;
        char *pub = shared_dir();
        /* nobody's fake gensupd, and a fake kitty beside it. */
        char *control = it_strf("%s/evil/control.sock", pub);
        int fake_ctl = attacker_socket(control);
        char *kitty = it_strf("%s/evil2/kitty.sock", pub);
        int fake_kitty = attacker_socket(kitty);

        char *err = NULL;
        int code = run_ctl((char *[]) { "-s", control, "status", NULL }, NULL, &err);
        ck_assert_msg(code == 1 && strstr(err, "not trusting"), "exit %d: %s", code, err);
        ck_assert_msg(!got_connection(fake_ctl), "gensupctl talked to nobody's socket");
        free(err);

        /* Found through the environment, as root's shell might have it. */
        char *env_dir = it_strf("GENSUP_RUNTIME_DIR=%s/evil", pub);
        code = run_ctl((char *[]) { "status", NULL }, (char *[]) { env_dir, NULL }, &err);
        ck_assert_msg(code == 1 && strstr(err, "not trusting"), "exit %d: %s", code, err);
        ck_assert(!got_connection(fake_ctl));
        free(err);

        /* Root's payload must not reach the attacker. */
        char *env_dir2 = it_strf("GENSUP_RUNTIME_DIR=%s/evil2", pub);
        code = run_ctl((char *[]) { "call", "kitty", "root-password=hunter2", NULL }, (char *[]) { env_dir2, NULL },
                       &err);
        ck_assert_msg(code == 1, "exit %d: %s", code, err);
        ck_assert_msg(!got_connection(fake_kitty), "gensupctl call connected to nobody's socket: %s", err);
        free(err);

        gs_client *c = NULL;
        ck_assert_int_eq(gs_client_connect(kitty, &c), -EPERM);
        ck_assert_ptr_null(c);
        ck_assert(!got_connection(fake_kitty));
        close(fake_ctl);
        close(fake_kitty);
}
END_TEST

/* ---- listening sockets: socket_mode, socket_user, socket_group ---- */

static int try_connect(void *path) {
        int fd = ipc_connect(path);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

static void assert_sock(const char *name, mode_t mode, uid_t uid, gid_t gid) {
        char *path = it_path(name);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_msg(S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == mode, "%s: mode %o, want %o", name,
                      st.st_mode & 07777, mode);
        ck_assert_int_eq(st.st_uid, uid);
        ck_assert_int_eq(st.st_gid, gid);
        free(path);
}

START_TEST(listen_socket_keys) {
        if (!root_or_skip("socket owners"))
                return;
        ck_assert_int_eq(chmod(it_tmpdir(), 0755), 0);
        umask(077);
        char *ts = it_example("test_server");
        char *conf = gsd_write_file("keys.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"plain\"; listen = true; exec = [\"%s\"]; },\n"
                                    "  { name = \"hers\"; listen = true; exec = [\"%s\"]; socket_mode = \"0600\";\n"
                                    "    socket_user = \"%d\"; socket_group = \"4242\"; },\n"
                                    "  { name = \"open\"; listen = true; exec = [\"%s\"]; socket_mode = \"0666\"; }\n"
                                    "); };\n",
                                    ts, ts, NOBODY, ts);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        ck_assert_int_eq(gsd_wait_state(D, "open", "running", IT_WAIT_MS), 0);
        assert_sock("plain.sock", 0660, 0, getegid());
        assert_sock("hers.sock", 0600, NOBODY, 4242);
        assert_sock("open.sock", 0666, 0, getegid());

        /* nobody is refused by the default 0660, and let in where allowed. */
        ck_assert_int_eq(as_nobody(try_connect, it_path("plain.sock")), 1);
        ck_assert_int_eq(as_nobody(try_connect, it_path("hers.sock")), 0);
        ck_assert_int_eq(as_nobody(try_connect, it_path("open.sock")), 0);

        /* get-childspec shows them. */
        json_t *j = NULL;
        ck_assert_int_eq(gsd_ctl(D, "get-childspec", (const char *[]) { "root", "hers", NULL }, &j, NULL), 0);
        ck_assert_str_eq(gsd_str(j, "socket_mode"), "0600");
        json_decref(j);
        free(ts);
        free(conf);
}
END_TEST

START_TEST(standalone_socket_options) {
        if (!root_or_skip("standalone socket owners"))
                return;
        umask(077);
        char *ts = it_example("test_server");
        char *sock = it_path("alone.sock");
        pid_t pid = it_start_server(sock,
                                    (char *[]) { ts, "--socket", sock, "--socket-mode", "0640", "--socket-group",
                                                 "4242", NULL },
                                    NULL);
        ck_assert_int_gt(pid, 0);
        assert_sock("alone.sock", 0640, 0, 4242);
        it_kill(pid);

        /* Not in a directory anyone may write to (as /tmp itself). */
        char *pub = shared_dir();
        char *bad = it_strf("%s/x.sock", pub);
        char *log = it_path("alone.log");
        pid = it_spawn((char *[]) { ts, "--socket", bad, NULL }, NULL, NULL, 0, log);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, IT_WAIT_MS, &status), 0);
        ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0, "listened in %s", pub);
        struct stat st;
        ck_assert_int_lt(lstat(bad, &st), 0);
        free(ts);
}
END_TEST

/* ---- children as another user ---- */

/* The line the child printed after "NAME stdout: " in gensupd's log. */
static char *child_line(const char *name) {
        char *tag = it_strf("%s stdout: ", name);
        ck_assert_int_eq(gsd_wait_log(D, tag, IT_WAIT_MS), 0);
        char *log = gsd_log_text(D);
        char *line = strstr(log, tag);
        *strchrnul(line, '\n') = '\0';
        char *copy = strdup(line + strlen(tag));
        free(log);
        free(tag);
        return copy;
}

START_TEST(clean_environment) {
        if (!root_or_skip("another user's environment"))
                return;
        char *conf = gsd_write_file(
                "env.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"other\"; ready = \"exec\"; user = \"%d\"; pass_environment = [\"PASSME\", \"UNSET_ONE\"];\n"
                "    environment = [\"FOO=bar\"];\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo \\\" $(env | sort | tr '\\\\n' ' ')\\\"; exec sleep 1000\"]; },\n"
                "  { name = \"same\"; ready = \"exec\";\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo \\\" $(env | sort | tr '\\\\n' ' ')\\\"; exec sleep 1000\"]; }\n"
                "); };\n",
                NOBODY);
        char *env[] = { "SECRET_TOKEN=hunter2", "PASSME=yes", "HOME=/root", NULL };
        ck_assert_int_eq(gsd_start_with(conf, NULL, env, NULL, 0, &D), 0);
        struct passwd *pw = getpwuid(NOBODY);
        ck_assert_ptr_nonnull(pw);
        char *home = it_strf(" HOME=%s ", pw->pw_dir);
        char *user = it_strf(" USER=%s ", pw->pw_name);

        char *line = child_line("other");
        ck_assert_msg(!strstr(line, "SECRET_TOKEN"), "gensupd's secret reached nobody: %s", line);
        ck_assert_msg(!strstr(line, "HOME=/root"), "%s", line);
        ck_assert_msg(strstr(line, home) && strstr(line, user), "%s", line);
        ck_assert_msg(strstr(line, " PASSME=yes ") && strstr(line, " FOO=bar "), "%s", line);
        ck_assert_msg(strstr(line, " PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "), "%s",
                      line);
        ck_assert_msg(!strstr(line, "UNSET_ONE"), "%s", line);
        ck_assert_msg(strstr(line, " GENSUP_NAME=other "), "%s", line);
        free(line);

        /* A child that runs as gensupd's own user keeps its environment. */
        line = child_line("same");
        ck_assert_msg(strstr(line, " SECRET_TOKEN=hunter2 "), "%s", line);
        free(line);
        free(home);
        free(user);
}
END_TEST

START_TEST(supplementary_groups) {
        if (!root_or_skip("supplementary groups"))
                return;
        char *conf = gsd_write_file(
                "groups.conf",
                "supervisor = { name = \"root\"; children = (\n"
                "  { name = \"own\"; ready = \"exec\"; user = \"%d\";\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo \\\" $(id -G) \\\"; exec sleep 1000\"]; },\n"
                "  { name = \"more\"; ready = \"exec\"; user = \"%d\"; supplementary_groups = [\"4242\", \"4243\"];\n"
                "    exec = [\"/bin/sh\", \"-c\", \"echo \\\" $(id -G) \\\"; exec sleep 1000\"]; }\n"
                "); };\n",
                NOBODY, NOBODY);
        ck_assert_int_eq(gsd_start(conf, &D), 0);

        /* The user's own groups, as a login (and systemd's User=) gives. */
        struct passwd *pw = getpwuid(NOBODY);
        gid_t groups[64];
        int n = 64;
        ck_assert_int_ge(getgrouplist(pw->pw_name, pw->pw_gid, groups, &n), 0);
        char *line = child_line("own");
        for (int i = 0; i < n; i++) {
                char *g = it_strf(" %u ", (unsigned) groups[i]);
                ck_assert_msg(strstr(line, g), "group %u missing: %s", (unsigned) groups[i], line);
                free(g);
        }
        ck_assert_msg(!strstr(line, " 0 ") && !strstr(line, " 4242 "), "%s", line);
        free(line);

        line = child_line("more");
        ck_assert_msg(strstr(line, " 4242 ") && strstr(line, " 4243 "), "%s", line);
        ck_assert_msg(!strstr(line, " 0 "), "root's group: %s", line);
        free(line);
}
END_TEST

/* ---- text from peers ---- */

START_TEST(peer_text_cleaned) {
        ck_assert_int_eq(chmod(it_tmpdir(), 0755), 0);
        char *ts = it_example("test_server");
        char *conf = gsd_write_file(
                "text.conf",
                "supervisor = { name = \"root\"; intensity = 10; children = (\n"
                "  { name = \"srv\"; listen = true; exec = [\"%s\"]; },\n"
                "  { name = \"loud\"; ready = \"exec\"; restart = \"temporary\";\n"
                "    exec = [\"/usr/bin/printf\", \"red\\\\033[31m csi\\\\302\\\\233 rlo\\\\342\\\\200\\\\256 end\\\\n\"]; }\n"
                "); };\n",
                ts);
        ck_assert_int_eq(gsd_start(conf, &D), 0);
        ck_assert_int_eq(gsd_wait_state(D, "srv", "running", IT_WAIT_MS), 0);
        pid_t old = gsd_pid(D, "srv");

        /* A stop reason with a C1 CSI and a right-to-left override. */
        ipc_conn *c = it_connect(it_path("srv.sock"));
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(
                it_send_sys(c, 1, GENSUP__SYS_REQUEST__OP__STOP, false, 0, "{shutdown,a\xc2\x9b" "31mb\xe2\x80\xae" "c}"),
                0);
        ipc_conn_free(c);
        ck_assert_int_gt(gsd_wait_new_pid(D, "srv", old, IT_WAIT_MS), 0);
        ck_assert_int_eq(gsd_wait_history(D, "srv", NULL, "{shutdown,a?31mb?c}", 1, IT_WAIT_MS), 0);

        ck_assert_int_eq(gsd_wait_log(D, "loud stdout: red", IT_WAIT_MS), 0);
        char *log = gsd_log_text(D);
        ck_assert_msg(!strstr(log, "\xc2\x9b") && !strstr(log, "\xe2\x80\xae") && !strchr(log, '\033'),
                      "raw control characters in gensupd's log: %s", log);
        ck_assert_msg(strstr(log, "loud stdout: red?[31m csi? rlo? end"), "%s", log);
        ck_assert_msg(strstr(log, "{shutdown,a?31mb?c}"), "%s", log);
        free(log);
        free(ts);
        free(conf);
}
END_TEST

Suite *security_suite(void);
Suite *security_suite(void) {
        Suite *s = suite_create("security");
        TCase *tc = tcase_create("attacks");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, runtime_dir_squatted);
        tcase_add_test(tc, runtime_dir_made_safe);
        tcase_add_test(tc, client_refuses_foreign_socket);
        tcase_add_test(tc, listen_socket_keys);
        tcase_add_test(tc, standalone_socket_options);
        tcase_add_test(tc, clean_environment);
        tcase_add_test(tc, supplementary_groups);
        tcase_add_test(tc, peer_text_cleaned);
        suite_add_tcase(s, tc);
        return s;
}
