/* check_server.c: the gen_server behaviour, end to end: real test_server
 * processes, real sockets, frames sent with ipc/ (and the client API where
 * it reads better). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gensup.h"
#include "it.h"
#include "sup.h"

#define T_MS IT_WAIT_MS

typedef struct srv {
        pid_t pid;
        char *sock;
        char *tlog;     /* --terminate-log */
        char *log;      /* --log */
        char *err;      /* its stderr */
} srv;

/* Starts test_server on <tmpdir>/<name>.sock with extra arguments (NULL
 * terminated), its logs in the temporary directory. */
static srv start_v(const char *name, const char *const *extra) {
        srv s = { 0 };
        char *argv[32];
        size_t n = 0;

        it_tmpdir();
        s.sock = it_strf("%s/%s.sock", it_tmpdir(), name);
        s.tlog = it_strf("%s/%s.tlog", it_tmpdir(), name);
        s.log = it_strf("%s/%s.log", it_tmpdir(), name);
        s.err = it_strf("%s/%s.err", it_tmpdir(), name);
        argv[n++] = it_example("test_server");
        argv[n++] = (char *) "--socket";
        argv[n++] = s.sock;
        argv[n++] = (char *) "--name";
        argv[n++] = (char *) name;
        argv[n++] = it_strf("--terminate-log=%s", s.tlog);
        argv[n++] = it_strf("--log=%s", s.log);
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
                argv[n++] = (char *) extra[i];
        argv[n] = NULL;
        s.pid = it_spawn(argv, NULL, NULL, 0, s.err);
        ck_assert_int_gt(s.pid, 0);
        return s;
}

static srv start_srv(const char *name, const char *const *extra) {
        srv s = start_v(name, extra);
        ck_assert_int_eq(it_wait_socket(s.sock, T_MS), 0);
        return s;
}

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static ipc_conn *conn(const srv *s) {
        ipc_conn *c = it_connect(s->sock);
        ck_assert_ptr_nonnull(c);
        return c;
}

static void expect_reply(ipc_conn *c, const char *req, const char *want) {
        char *got = it_call_text(c, req);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, want);
        free(got);
}

/* The next frame must be EXIT_REPORT{reason}, then EOF. */
static void expect_exit_report(ipc_conn *c, const char *reason) {
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__EXIT_REPORT);
        ck_assert_str_eq(f->reason, reason);
        ipc_frame_free(f);
        ck_assert_int_eq(it_recv(c, T_MS, &f), -ECONNRESET);
}

static void expect_eof(ipc_conn *c) {
        ipc_frame *f = NULL;
        int r = it_recv(c, T_MS, &f);
        if (r == 0)
                ck_abort_msg("expected EOF, got a frame of kind %d", f->kind);
        ck_assert_int_eq(r, -ECONNRESET);
}

static int wait_status(pid_t pid) {
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, T_MS, &status), 0);
        return status;
}

static void expect_exit(pid_t pid, int code) {
        int status = wait_status(pid);
        ck_assert_int_eq(WIFEXITED(status), 1);
        ck_assert_int_eq(WEXITSTATUS(status), code);
}

static Gensup__SysReply *sys(ipc_conn *c, Gensup__SysRequest__Op op, bool flag, uint64_t value, ipc_frame **ret) {
        static uint64_t ref = 500;
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_send_sys(c, ++ref, op, flag, value, NULL), 0);
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__SYS_REPLY);
        ck_assert_uint_eq(f->ref, ref);
        ck_assert_ptr_nonnull(f->sys_reply);
        *ret = f;
        return f->sys_reply;
}

static Gensup__Statistics stats(ipc_conn *c) {
        ipc_frame *f;
        Gensup__SysReply *r = sys(c, GENSUP__SYS_REQUEST__OP__STATISTICS, false, 0, &f);
        ck_assert_ptr_nonnull(r->statistics);
        Gensup__Statistics st = *r->statistics;
        ipc_frame_free(f);
        return st;
}

/* Waits until the server has handled n calls. */
static void wait_calls(ipc_conn *c, uint64_t n) {
        for (int i = 0; i < T_MS / 5 && stats(c).calls < n; i++)
                it_nap_ms(5);
        ck_assert_uint_eq(stats(c).calls, n);
}

/* How often text occurs in the file at path. */
static size_t count_in_file(const char *path, const char *text) {
        char *d = it_read_file(path);
        size_t n = 0;
        for (const char *p = d; p && (p = strstr(p, text)); p += strlen(text))
                n++;
        free(d);
        return n;
}

/* Waits until text occurs at least n times in the file at path. */
static void wait_count(const char *path, const char *text, size_t n) {
        for (int i = 0; i < T_MS / 5 && count_in_file(path, text) < n; i++)
                it_nap_ms(5);
        ck_assert_uint_ge(count_in_file(path, text), n);
}

/* ---- basics ---- */

START_TEST(test_call_cast_info) {
        srv s = start_srv("basic", ARGS("--name", "basic1", "plain", "--", "--trace"));
        ipc_conn *c = conn(&s);

        expect_reply(c, "echo:hello", "hello");
        expect_reply(c, "name", "basic1");
        /* Library options are taken out; "--" ends them and is dropped. */
        char *argv = it_call_text(c, "argv");
        ck_assert_ptr_nonnull(argv);
        ck_assert_ptr_nonnull(strstr(argv, "plain --trace"));
        ck_assert_ptr_null(strstr(argv, "--name"));
        ck_assert_ptr_null(strstr(argv, "--socket"));
        free(argv);
        ck_assert_int_eq(it_send_cast(c, "inc"), 0);
        ck_assert_int_eq(it_send_cast(c, "inc"), 0);
        ck_assert_int_eq(it_send_info(c, "hi there"), 0);
        expect_reply(c, "casts", "2");
        expect_reply(c, "infos", "1");
        expect_reply(c, "last_info", "hi there");
        expect_reply(c, "count", "7");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_big_reply) {
        srv s = start_srv("big", NULL);
        ipc_conn *c = conn(&s);
        char *got = it_call_text(c, "big:3000000");
        ck_assert_ptr_nonnull(got);
        ck_assert_uint_eq(strlen(got), 3000000);
        free(got);
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_unknown_kind) {
        srv s = start_srv("unknown", NULL);
        ipc_conn *c = conn(&s);
        ipc_frame f, *r = NULL;

        ipc_frame_init(&f, GENSUP__KIND__REPLY, 77);
        ck_assert_int_eq(it_send(c, &f), 0);
        ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__ERROR);
        ck_assert_uint_eq(r->ref, 77);
        ck_assert_int_eq(r->code, EPROTO);
        ipc_frame_free(r);
        /* Without a ref there is nobody to answer: ignored. */
        ipc_frame_init(&f, GENSUP__KIND__READY, 0);
        ck_assert_int_eq(it_send(c, &f), 0);
        ipc_frame_init(&f, (Gensup__Kind) 99, 5);
        ck_assert_int_eq(it_send(c, &f), 0);
        ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__ERROR);
        ck_assert_uint_eq(r->ref, 5);
        ipc_frame_free(r);
        expect_reply(c, "echo:still", "still");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST


/* ---- large payloads in memfds (gensup-protocol(7)) ---- */

#define BIG (1024u * 1024u)

/* "echo:" and BIG bytes of a pattern. */
static uint8_t *big_echo(size_t *ret_len) {
        size_t len = 5 + BIG;
        uint8_t *p = malloc(len);
        ck_assert_ptr_nonnull(p);
        memcpy(p, "echo:", 5);
        for (size_t i = 5; i < len; i++)
                p[i] = (uint8_t) ('a' + i % 23);
        *ret_len = len;
        return p;
}

START_TEST(test_memfd_both_ways) {
        srv s = start_srv("memfd", NULL);
        size_t len;
        uint8_t *req = big_echo(&len);

        /* Raw: after HELLO the request goes in a memfd, and the reply
         * (1 MiB, over the asked 4 KiB) comes in one. */
        ipc_conn *c = conn(&s);
        ipc_frame hi, f, *r = NULL;
        ipc_frame_init(&hi, GENSUP__KIND__HELLO, 0);
        hi.features = GENSUP__FEATURE__FEATURE_MEMFD;
        hi.memfd_min = 4096;
        ck_assert_int_eq(it_send(c, &hi), 0);
        ipc_conn_set_memfd(c, true, 4096);
        ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__HELLO);
        ck_assert_uint_eq(r->features & GENSUP__FEATURE__FEATURE_MEMFD, GENSUP__FEATURE__FEATURE_MEMFD);
        ipc_frame_free(r);
        ipc_frame_init(&f, GENSUP__KIND__CALL, 9);
        f.payload.data = req;
        f.payload.len = len;
        ck_assert_int_eq(it_send(c, &f), 0);
        ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(r->memfd_len, BIG);
        ck_assert_uint_eq(r->payload.len, BIG);
        ck_assert_int_eq(memcmp(r->payload.data, req + 5, BIG), 0);
        ipc_frame_free(r);
        /* Small answers stay inline. */
        expect_reply(c, "echo:small", "small");
        ipc_conn_free(c);

        /* The client API, many times over (fds do not pile up). */
        gs_client *gc;
        gs_buf reply = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect(s.sock, &gc), 0);
        ck_assert_int_eq(gs_client_set_memfd(gc, 64 * 1024), 0);
        for (int i = 0; i < 50; i++) {
                req[5] = (uint8_t) ('A' + i % 26);
                ck_assert_int_eq(gs_call(gc, req, len, T_MS, &reply), 0);
                ck_assert_uint_eq(reply.len, BIG);
                ck_assert_int_eq(memcmp(reply.data, req + 5, BIG), 0);
        }
        gs_buf_done(&reply);
        gs_client_free(gc);
        free(req);
        it_kill(s.pid);
}
END_TEST

/* An old client (no HELLO) gets large replies inline, and a frame that
 * claims a memfd without HELLO closes its connection. */
START_TEST(test_memfd_old_client) {
        srv s = start_srv("old", NULL);
        size_t len;
        uint8_t *req = big_echo(&len);
        ipc_conn *c = conn(&s);
        ipc_frame f, *r = NULL;

        ipc_frame_init(&f, GENSUP__KIND__CALL, 3);
        f.payload.data = req;
        f.payload.len = len;
        ck_assert_int_eq(it_send(c, &f), 0);
        ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(r->memfd_len, 0);
        ck_assert_uint_eq(r->payload.len, BIG);
        ipc_frame_free(r);

        int fd = ipc_memfd_make("echo:abc", 8);
        ck_assert_int_ge(fd, 0);
        ipc_frame_init(&f, GENSUP__KIND__CALL, 4);
        f.memfd_len = 8;
        ck_assert_int_eq(ipc_conn_queue_fd(c, &f, fd), 0);
        ck_assert_int_eq(ipc_conn_flush(c), 0);
        close(fd);
        expect_eof(c);
        ipc_conn_free(c);
        free(req);
        it_kill(s.pid);
}
END_TEST

/* memfds a hostile client might send: each closes that connection only,
 * before the server reads a byte of it; the server serves on. */
START_TEST(test_memfd_hostile) {
        srv s = start_srv("hostile", NULL);
        enum { UNSEALED, WRONG_SIZE, SHRINKABLE, WRITABLE, NOT_MEMFD, NO_FD, TOO_BIG, _N };

        for (int how = 0; how < _N; how++) {
                ipc_conn *c = conn(&s);
                ipc_frame hi, *r = NULL;
                ipc_frame_init(&hi, GENSUP__KIND__HELLO, 0);
                hi.features = GENSUP__FEATURE__FEATURE_MEMFD;
                ck_assert_int_eq(it_send(c, &hi), 0);
                ck_assert_int_eq(it_recv(c, T_MS, &r), 0);
                ck_assert_int_eq(r->kind, GENSUP__KIND__HELLO);
                ipc_frame_free(r);

                const char text[] = "echo:hostile";
                uint64_t claim = sizeof(text) - 1;
                int fd = -1, p[2] = { -1, -1 };
                unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
                if (how == SHRINKABLE)
                        seals &= ~(unsigned) F_SEAL_SHRINK;
                if (how == WRITABLE)
                        seals &= ~(unsigned) F_SEAL_WRITE;
                if (how == NOT_MEMFD) {
                        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
                        fd = p[0];
                } else if (how != NO_FD) {
                        fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                        ck_assert_int_ge(fd, 0);
                        ck_assert_int_eq(write(fd, text, claim), (ssize_t) claim);
                        if (how != UNSEALED)
                                ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
                }
                if (how == WRONG_SIZE)
                        claim += 100;
                if (how == TOO_BIG)
                        claim = 1ull << 40;
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CALL, 1);
                f.memfd_len = claim;
                ck_assert_int_eq(ipc_conn_queue_fd(c, &f, fd), 0);
                ck_assert_int_eq(ipc_conn_flush(c), 0);
                if (how == SHRINKABLE)
                        /* Shrunk after sending: never mapped, so no SIGBUS
                         * either way; refused for the missing seal. */
                        ck_assert_int_eq(ftruncate(fd, 1), 0);
                expect_eof(c);
                if (fd >= 0)
                        close(fd);
                if (p[1] >= 0)
                        close(p[1]);
                ipc_conn_free(c);
                /* The server lives on and serves others. */
                c = conn(&s);
                expect_reply(c, "echo:alive", "alive");
                ipc_conn_free(c);
        }
        it_kill(s.pid);
}
END_TEST

/* ---- stopping ---- */

START_TEST(test_stop_with_reply) {
        srv s = start_srv("stopreply", ARGS("--slow-terminate=200"));
        ipc_conn *other = conn(&s);
        ipc_conn *c = conn(&s);
        ipc_frame *f = NULL;

        expect_reply(other, "echo:x", "x");
        ck_assert_int_eq(it_call(c, "stopreply:normal", T_MS, &f), 0);
        /* terminate has run, to its end, before the reply was sent. */
        char *log = it_read_file(s.tlog);
        ck_assert_ptr_nonnull(log);
        ck_assert_str_eq(log, "terminate normal\nterminate done\n");
        free(log);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "bye");
        free(p);
        ipc_frame_free(f);
        expect_exit_report(c, "normal");
        expect_exit_report(other, "normal");
        expect_exit(s.pid, 0);
        /* A standalone server removes its socket. */
        ck_assert_int_eq(access(s.sock, F_OK), -1);
        ipc_conn_free(c);
        ipc_conn_free(other);
}
END_TEST

START_TEST(test_stop_without_reply) {
        srv s = start_srv("stop", NULL);
        ipc_conn *other = conn(&s);
        ipc_conn *c = conn(&s);

        expect_reply(other, "echo:x", "x");
        ck_assert_int_eq(it_send_call(c, 1, "stop:boom"), 0);
        expect_exit_report(c, "{error,boom}");
        expect_exit_report(other, "{error,boom}");
        expect_exit(s.pid, 1);
        char *log = it_read_file(s.tlog);
        ck_assert_str_eq(log, "terminate {error,boom}\nterminate done\n");
        free(log);
        ipc_conn_free(c);
        ipc_conn_free(other);
}
END_TEST

START_TEST(test_stop_clean_reasons) {
        const char *reasons[] = { "shutdown", "{shutdown,maintenance}", "normal" };
        for (size_t i = 0; i < 3; i++) {
                char name[32];
                snprintf(name, sizeof(name), "clean%zu", i);
                srv s = start_srv(name, NULL);
                ipc_conn *c = conn(&s);
                char *cmd = it_strf("stop:%s", reasons[i]);
                ck_assert_int_eq(it_send_call(c, 1, cmd), 0);
                expect_exit_report(c, reasons[i]);
                expect_exit(s.pid, 0);
                ipc_conn_free(c);
        }
}
END_TEST

START_TEST(test_stop_from_cast_and_info) {
        srv s = start_srv("stopcast", NULL);
        ipc_conn *c = conn(&s);
        ck_assert_int_eq(it_send_cast(c, "stop:{shutdown,cast}"), 0);
        expect_exit_report(c, "{shutdown,cast}");
        expect_exit(s.pid, 0);
        ipc_conn_free(c);

        s = start_srv("stopinfo", NULL);
        c = conn(&s);
        ck_assert_int_eq(it_send_info(c, "stop:died"), 0);
        expect_exit_report(c, "{error,died}");
        expect_exit(s.pid, 1);
        char *log = it_read_file(s.tlog);
        ck_assert_ptr_nonnull(strstr(log, "terminate {error,died}"));
        free(log);
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_sys_stop) {
        /* gen_server:stop runs terminate even without trap_exit. */
        srv s = start_srv("sysstop", ARGS("--no-trap-exit"));
        ipc_conn *c = conn(&s);
        ck_assert_int_eq(it_send_sys(c, 9, GENSUP__SYS_REQUEST__OP__STOP, false, 0, "{shutdown,bye}"), 0);
        expect_exit_report(c, "{shutdown,bye}");
        expect_exit(s.pid, 0);
        char *log = it_read_file(s.tlog);
        ck_assert_ptr_nonnull(log);
        ck_assert_ptr_nonnull(strstr(log, "terminate {shutdown,bye}"));
        free(log);
        ipc_conn_free(c);

        /* The same through the client API (gen_server:stop/3). */
        s = start_srv("sysstop2", NULL);
        ck_assert_int_eq(gs_stop(s.sock, NULL, T_MS), 0);
        expect_exit(s.pid, 0);
        log = it_read_file(s.tlog);
        ck_assert_str_eq(log, "terminate normal\nterminate done\n");
        free(log);
}
END_TEST

START_TEST(test_bad_return_value) {
        srv s = start_srv("badcall", NULL);
        ipc_conn *c = conn(&s);
        ck_assert_int_eq(it_send_call(c, 3, "bad"), 0);
        expect_exit_report(c, "{error,bad_return_value}");
        expect_exit(s.pid, 1);
        char *log = it_read_file(s.tlog);
        ck_assert_ptr_nonnull(strstr(log, "terminate {error,bad_return_value}"));
        free(log);
        ipc_conn_free(c);

        s = start_srv("badcast", NULL);
        c = conn(&s);
        ck_assert_int_eq(it_send_cast(c, "bad"), 0);
        expect_exit_report(c, "{error,bad_return_value}");
        expect_exit(s.pid, 1);
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_sigterm) {
        srv s = start_srv("term", NULL);
        ipc_conn *c = conn(&s);
        expect_reply(c, "echo:x", "x");
        kill(s.pid, SIGTERM);
        expect_exit_report(c, "shutdown");
        expect_exit(s.pid, 0);
        char *log = it_read_file(s.tlog);
        ck_assert_str_eq(log, "terminate shutdown\nterminate done\n");
        free(log);
        ck_assert_int_eq(access(s.sock, F_OK), -1);
        ipc_conn_free(c);

        /* Without trap_exit: no terminate. */
        s = start_srv("term2", ARGS("--no-trap-exit"));
        c = conn(&s);
        expect_reply(c, "echo:x", "x");
        kill(s.pid, SIGINT);
        expect_exit_report(c, "shutdown");
        expect_exit(s.pid, 0);
        ck_assert_ptr_null(it_read_file(s.tlog));
        ipc_conn_free(c);
}
END_TEST

/* ---- crashes ---- */

static void crash_case(const char *how, int want_signal, int want_code) {
        srv s = start_srv(how, NULL);
        ipc_conn *idle = conn(&s);
        ipc_conn *waiting = conn(&s);
        ipc_conn *c = conn(&s);

        expect_reply(idle, "echo:x", "x");
        ck_assert_int_eq(it_send_call(waiting, 1, "noreply"), 0);
        expect_reply(c, "count", "3");
        char *cmd = it_strf("crash:%s", how);
        ck_assert_int_eq(it_send_call(c, 2, cmd), 0);
        /* Nobody hangs: every connection sees the end. A crash by signal
         * says why first, as OTP's callers exit with the server's reason. */
        if (want_signal) {
                char *reason = it_strf("{signal,SIG%s}", sigabbrev_np(want_signal));
                expect_exit_report(c, reason);
                expect_exit_report(waiting, reason);
                expect_exit_report(idle, reason);
        } else {
                expect_eof(c);
                expect_eof(waiting);
                expect_eof(idle);
        }
        int status = wait_status(s.pid);
        if (want_signal) {
                ck_assert_int_eq(WIFSIGNALED(status), 1);
                ck_assert_int_eq(WTERMSIG(status), want_signal);
        } else {
                ck_assert_int_eq(WIFEXITED(status), 1);
                ck_assert_int_eq(WEXITSTATUS(status), want_code);
        }
        char *err = it_read_file(s.err);
        if (want_signal) {
                /* The report the handler could write safely. */
                ck_assert_ptr_nonnull(err);
                char *head = it_strf("** Generic server %s terminating\n** Last message in was call (%zu bytes)\n", how,
                                     strlen(cmd));
                ck_assert_ptr_nonnull(strstr(err, head));
                char *tail = it_strf("** Reason for termination ==\n** {signal,SIG%s}\n", sigabbrev_np(want_signal));
                ck_assert_ptr_nonnull(strstr(err, tail));
        } else
                ck_assert(!err || !strstr(err, "terminating"));
        free(err);
        ipc_conn_free(idle);
        ipc_conn_free(waiting);
        ipc_conn_free(c);
}

START_TEST(test_crash_segv) {
        crash_case("segv", SIGSEGV, 0);
}
END_TEST

START_TEST(test_crash_abort) {
        crash_case("abort", SIGABRT, 0);
}
END_TEST

START_TEST(test_crash_exit) {
        crash_case("exit3", 0, 3);
}
END_TEST

START_TEST(test_crash_client_api) {
        /* The client library's view of a crash in the middle of a call. */
        srv s = start_srv("crashapi", NULL);
        gs_client *a = NULL, *b = NULL;
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_eq(gs_client_connect(s.sock, &a), 0);
        ck_assert_int_eq(gs_client_connect(s.sock, &b), 0);
        ck_assert_int_eq(gs_call(b, "echo:b", 6, T_MS, &reply), 0);
        ck_assert_int_eq(gs_call(a, "crash:abort", 11, T_MS, &reply), -ECONNRESET);
        ck_assert_str_eq(gs_client_exit_reason(a), "{signal,SIGABRT}");
        ck_assert_int_eq(gs_call(b, "echo:b", 6, T_MS, &reply), -ECONNRESET);
        ck_assert_str_eq(gs_client_exit_reason(b), "{signal,SIGABRT}");
        gs_buf_done(&reply);
        gs_client_free(a);
        gs_client_free(b);
        it_kill(s.pid);
}
END_TEST


/* ---- crash reports, reasons for callers ---- */

/* An abnormal stop is reported on stderr as OTP's: the last message, the
 * state through format_status (the secret never), the reason. */
START_TEST(test_crash_report) {
        srv s = start_srv("report", ARGS("--secret=hunter2"));
        ipc_conn *c = conn(&s);
        expect_reply(c, "echo:x", "x");
        ck_assert_int_eq(it_send_call(c, 2, "stop:{error,oops}"), 0);
        expect_exit_report(c, "{error,oops}");
        expect_exit(s.pid, 1);
        char *err = it_read_file(s.err);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "** Generic server report terminating\n"
                                          "** Last message in was call (conn "));
        ck_assert_ptr_nonnull(strstr(err, ", ref 2, 17 bytes): \"stop:{error,oops}\"\n"
                                          "** When Server state == calls=2 casts=0 infos=0\n"
                                          "** Reason for termination ==\n** {error,oops}\n"));
        ck_assert_ptr_null(strstr(err, "hunter2"));
        /* After terminate, as OTP's. */
        char *log = it_read_file(s.tlog);
        ck_assert_str_eq(log, "terminate {error,oops}\nterminate done\n");
        free(log);
        free(err);
        ipc_conn_free(c);

        /* format_message keeps the message's bytes out. */
        s = start_srv("redact", ARGS("--redact"));
        c = conn(&s);
        ck_assert_int_eq(it_send_cast(c, "stop:{error,secret-in-here}"), 0);
        expect_exit_report(c, "{error,secret-in-here}");
        expect_exit(s.pid, 1);
        err = it_read_file(s.err);
        ck_assert_ptr_nonnull(strstr(err, "** Last message in was cast (conn "));
        ck_assert_ptr_nonnull(strstr(err, "27 bytes): <redacted 27 bytes>\n"));
        ck_assert_ptr_null(strstr(err, "stop:"));
        free(err);
        ipc_conn_free(c);

        /* A bad return value says which callback returned what. */
        s = start_srv("badrep", NULL);
        c = conn(&s);
        ck_assert_int_eq(it_send_cast(c, "bad"), 0);
        expect_exit_report(c, "{error,bad_return_value}");
        expect_exit(s.pid, 1);
        err = it_read_file(s.err);
        ck_assert_ptr_nonnull(strstr(err, "** {error,bad_return_value}\n** (handle_cast returned reply)\n"));
        free(err);
        ipc_conn_free(c);

        /* Clean reasons are not reported. */
        s = start_srv("cleanrep", NULL);
        c = conn(&s);
        ck_assert_int_eq(it_send_call(c, 1, "stop:{shutdown,done}"), 0);
        expect_exit_report(c, "{shutdown,done}");
        expect_exit(s.pid, 0);
        err = it_read_file(s.err);
        ck_assert(!err || !strstr(err, "terminating"));
        free(err);
        ipc_conn_free(c);
}
END_TEST

/* Under gensupd a caller of a server that crashes by a signal learns the
 * reason, and gensupd reports the signal. */
START_TEST(test_crash_reason_supervised) {
        char *conf = gsd_write_file("crashsup.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"crasher\"; listen = true; restart = \"transient\"; exec = [\"%s\"]; }\n"
                                    "); };\n",
                                    it_example("test_server"));
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start(conf, &d), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(d, "crasher", "running", T_MS), 0);
        gs_client *a = NULL, *b = NULL;
        gs_reqid id;
        gs_buf reply = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect("crasher", &a), 0);
        ck_assert_int_eq(gs_client_connect("crasher", &b), 0);
        ck_assert_int_eq(gs_call(b, "noreply", 7, T_MS, &reply), -ETIMEDOUT);
        ck_assert_int_eq(gs_send_request(b, "noreply", 7, &id), 0);
        ck_assert_int_eq(gs_call(a, "crash:segv", 10, T_MS, &reply), -ECONNRESET);
        ck_assert_str_eq(gs_client_exit_reason(a), "{signal,SIGSEGV}");
        ck_assert_int_eq(gs_wait_response(b, id, T_MS, &reply), -ECONNRESET);
        ck_assert_str_eq(gs_client_exit_reason(b), "{signal,SIGSEGV}");
        ck_assert_int_eq(gsd_wait_history(d, "crasher", NULL, NULL, 1, T_MS), 0);
        json_t *exits = gsd_history(d, "crasher");
        ck_assert_ptr_nonnull(strstr(gsd_str(json_array_get(exits, 0), "reason"), "{signal,SIGSEGV"));
        json_decref(exits);
        ck_assert_int_eq(gsd_wait_log(d, "** Generic server crasher terminating", T_MS), 0);
        gs_buf_done(&reply);
        gs_client_free(a);
        gs_client_free(b);
        d = gsd_finish(d);
}
END_TEST

/* handle_call answers with an error, now or later: -EREMOTEIO, the text
 * in the reply buffer. */
START_TEST(test_reply_error) {
        srv s = start_srv("replyerr", NULL);
        gs_client *a = NULL, *b = NULL;
        gs_buf reply = GS_BUF_INIT;
        gs_reqid id;

        ck_assert_int_eq(gs_client_connect(s.sock, &a), 0);
        ck_assert_int_eq(gs_client_connect(s.sock, &b), 0);
        ck_assert_int_eq(gs_call(a, "error:no such key", 17, T_MS, &reply), -EREMOTEIO);
        ck_assert_int_eq(reply.len, 11);
        ck_assert_str_eq((char *) reply.data, "no such key");
        ck_assert_int_eq(gs_call(a, "echo:still here", 15, T_MS, &reply), 0);

        ck_assert_int_eq(gs_send_request(a, "noreply", 7, &id), 0);
        ck_assert_int_eq(gs_call(b, "count", 5, T_MS, &reply), 0);   /* the noreply call is handled */
        ck_assert_int_eq(gs_call(b, "answer_error:later", 18, T_MS, &reply), 0);
        ck_assert_str_eq((char *) reply.data, "rc=0");
        ck_assert_int_eq(gs_wait_response(a, id, T_MS, &reply), -EREMOTEIO);
        ck_assert_str_eq((char *) reply.data, "later");
        ck_assert_int_eq(gs_call(b, "answer_error:again", 18, T_MS, &reply), 0);
        ck_assert_str_eq((char *) reply.data, "rc=-2");
        gs_buf_done(&reply);
        gs_client_free(a);
        gs_client_free(b);
        it_kill(s.pid);
}
END_TEST

/* ---- gs_stop returns once the server is dead ---- */

START_TEST(test_stop_returns_when_dead) {
        for (int i = 0; i < 40; i++) {
                char *name = it_strf("dead%d", i);
                srv s = start_srv(name, NULL);
                ck_assert_int_eq(gs_stop(s.sock, NULL, T_MS), 0);
                /* No sleep, no retry: gone already. */
                int fd = ipc_connect(s.sock);
                ck_assert_int_lt(fd, 0);
                int status = 0;
                ck_assert_int_eq(waitpid(s.pid, &status, WNOHANG), s.pid);
                ck_assert_int_eq(WIFEXITED(status), 1);
                ck_assert_int_eq(WEXITSTATUS(status), 0);
                ck_assert_int_eq(it_wait_exit(s.pid, 0, &status), -ECHILD);
        }
}
END_TEST

/* ---- hibernate_after counts from the end of a callback ---- */

START_TEST(test_hibernate_after_end) {
        /* A callback longer than hibernate_after: the server hibernates
         * hibernate_after after it ends, so the next message, sent at
         * once, comes first (the margin is the whole 2 s, no threshold). */
        srv s = start_srv("hibend", ARGS("--hibernate-after", "2000", "--trace"));
        ipc_conn *c = conn(&s);
        expect_reply(c, "busy:2500", "done");
        expect_reply(c, "echo:next", "next");
        wait_count(s.err, "hibend: hibernate\n", 1);
        char *err = it_read_file(s.err);
        char *next = strstr(err, "\"echo:next\"");
        ck_assert_ptr_nonnull(next);
        ck_assert_ptr_nonnull(strstr(next, "hibend: hibernate\n"));
        free(err);

        /* System requests count as activity, as in OTP's loop: while they
         * keep coming (closer than hibernate_after), it does not
         * hibernate; once they stop, it does. */
        expect_reply(c, "echo:awake", "awake");
        int64_t t0 = it_now_ms();
        do
                (void) stats(c);
        while (it_now_ms() - t0 < 3000);
        ck_assert_uint_eq(count_in_file(s.err, "hibend: hibernate\n"), 1);
        wait_count(s.err, "hibend: hibernate\n", 2);
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- noreply, timers, fds ---- */

START_TEST(test_noreply_later_reply) {
        srv s = start_srv("later", NULL);
        ipc_conn *a = conn(&s);
        ipc_conn *b = conn(&s);
        ipc_frame *f = NULL;

        ck_assert_int_eq(it_send_call(a, 42, "noreply"), 0);
        wait_calls(b, 1);   /* a's call is handled, and held */
        expect_reply(b, "count", "2");
        expect_reply(b, "answer:late", "rc=0");
        ck_assert_int_eq(it_recv(a, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 42);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "late");
        free(p);
        ipc_frame_free(f);
        /* Answered twice: -ENOENT. */
        expect_reply(b, "answer:again", "rc=-2");

        /* The caller goes away: -ENOTCONN. */
        ck_assert_int_eq(it_send_call(a, 43, "noreply"), 0);
        wait_calls(b, 5);   /* a's second call is handled (another connection) */
        expect_reply(b, "count", "6");
        ipc_conn_free(a);
        for (int i = 0; i < T_MS / 5 && stats(b).connections != 1; i++)
                it_nap_ms(5);
        ck_assert_uint_eq(stats(b).connections, 1);
        expect_reply(b, "answer:nobody", "rc=-107");

        /* A caller that only shut its writing side still gets its answer. */
        a = conn(&s);
        ck_assert_int_eq(it_send_call(a, 44, "sleep:100"), 0);
        ck_assert_int_eq(shutdown(ipc_conn_fd(a), SHUT_WR), 0);
        ck_assert_int_eq(it_recv(a, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 44);
        ipc_frame_free(f);
        /* Then the server closes it: nothing more to answer. */
        ck_assert_int_eq(it_recv(a, T_MS, &f), -ECONNRESET);
        ipc_conn_free(a);
        ipc_conn_free(b);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_send_after) {
        srv s = start_srv("sleep", NULL);
        ipc_conn *a = conn(&s);
        ipc_conn *b = conn(&s);
        ipc_frame *f = NULL;

        ck_assert_int_eq(it_send_call(a, 7, "sleep:300"), 0);
        /* The server is not blocked meanwhile. */
        expect_reply(b, "echo:meanwhile", "meanwhile");
        ck_assert_int_eq(it_recv(a, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 7);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "slept");
        free(p);
        ipc_frame_free(f);
        expect_reply(b, "timer_cancel", "0 -2");
        ipc_conn_free(a);
        ipc_conn_free(b);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_fds) {
        srv s = start_srv("fds", NULL);
        ipc_conn *c = conn(&s);
        expect_reply(c, "pipe", "fd token=7 rc_add=0 rc_again=-17 rc_mod=0 rc_rm=0 rc_rm2=-2");
        expect_reply(c, "pipe", "fd token=7 rc_add=0 rc_again=-17 rc_mod=0 rc_rm=0 rc_rm2=-2");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- actions ---- */

START_TEST(test_timeout_action) {
        srv s = start_srv("timeout", NULL);
        ipc_conn *c = conn(&s);

        expect_reply(c, "timeout:20", "ok");
        ck_assert_int_eq(it_wait_file_contains(s.log, "timeout", T_MS), 0);
        expect_reply(c, "timeouts", "1");

        /* Any message before it runs out cancels it (a wide margin, not a
         * threshold: the second call follows at once, well within 5 s). */
        expect_reply(c, "timeout:5000", "ok");
        expect_reply(c, "count", "4");
        /* The server's own timer, due after the cancelled timeout would
         * have been: once it has fired, that timeout never will. */
        expect_reply(c, "sleep:5500", "slept");
        expect_reply(c, "timeouts", "1");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_init_timeout) {
        srv s = start_srv("inittimeout", ARGS("--init=timeout:10"));
        ck_assert_int_eq(it_wait_file_contains(s.log, "timeout", T_MS), 0);
        ipc_conn *c = conn(&s);
        expect_reply(c, "timeouts", "1");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_continue) {
        srv s = start_srv("cont", ARGS("--init=continue"));
        ipc_conn *c = conn(&s);
        /* The init continue ran before the first message. */
        expect_reply(c, "conts", "1");
        /* Chained continues all run before the next message is read. */
        ck_assert_int_eq(it_send_call(c, 1, "continue:3"), 0);
        ck_assert_int_eq(it_send_call(c, 2, "conts"), 0);
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_uint_eq(f->ref, 1);
        ipc_frame_free(f);
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_uint_eq(f->ref, 2);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "4");
        free(p);
        ipc_frame_free(f);
        char *log = it_read_file(s.log);
        ck_assert_ptr_nonnull(strstr(log, "continue 3\ncontinue 2\ncontinue 1\n"));
        free(log);
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_hibernate) {
        srv s = start_srv("hib", ARGS("--init=hibernate", "--hibernate-after", "1", "--trace"));
        ipc_conn *c = conn(&s);
        expect_reply(c, "hibernate", "ok");
        expect_reply(c, "echo:awake", "awake");
        ipc_frame *f;
        sys(c, GENSUP__SYS_REQUEST__OP__HIBERNATE, false, 0, &f);
        ipc_frame_free(f);
        sys(c, GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER, false, 5, &f);
        ipc_frame_free(f);
        /* The trace says when it hibernates: wait for that. */
        size_t before = count_in_file(s.err, "hib: hibernate\n");
        wait_count(s.err, "hib: hibernate\n", before + 1);
        expect_reply(c, "echo:again", "again");
        sys(c, GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER, false, 0, &f);
        ipc_frame_free(f);
        expect_reply(c, "echo:again", "again");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- init results ---- */

START_TEST(test_init_stop) {
        srv s = start_v("initstop", ARGS("--init=stop:boom"));
        expect_exit(s.pid, 1);
        ck_assert_ptr_null(it_read_file(s.tlog));   /* no terminate */
        ck_assert_int_eq(access(s.sock, F_OK), -1);
        /* A failed start, reported as OTP's. */
        char *err = it_read_file(s.err);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "** Generic server initstop failed to start: init returned stop\n"
                                          "** Reason for termination ==\n** {error,boom}\n"));
        free(err);

        /* The exit status follows the reason: clean reasons exit 0,
         * silently. */
        const char *clean[] = { "normal", "shutdown", "{shutdown,later}" };
        for (size_t i = 0; i < 3; i++) {
                char *name = it_strf("initclean%zu", i);
                s = start_v(name, ARGS(it_strf("--init=stop:%s", clean[i])));
                expect_exit(s.pid, 0);
                err = it_read_file(s.err);
                ck_assert(!err || !strstr(err, "failed to start"));
                free(err);
        }

        /* A bad value from init is a failed start too, and says what. */
        s = start_v("initbad", ARGS("--init=bad"));
        expect_exit(s.pid, 1);
        err = it_read_file(s.err);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "** {error,bad_return_value}\n** (init returned reply)\n"));
        free(err);
}
END_TEST

START_TEST(test_init_ignore) {
        srv s = start_v("initignore", ARGS("--init=ignore"));
        expect_exit(s.pid, 0);
        ck_assert_int_eq(access(s.sock, F_OK), -1);
        s = start_v("initbad", ARGS("--init=bad"));
        expect_exit(s.pid, 1);
}
END_TEST

START_TEST(test_sd_notify) {
        it_tmpdir();
        char *path = it_path("notify");
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        char *sock = it_path("notified.sock");
        char *argv[] = { it_example("test_server"), (char *) "--socket", sock, NULL };
        char *env[] = { it_strf("NOTIFY_SOCKET=%s", path), NULL };
        pid_t pid = it_spawn(argv, env, NULL, 0, NULL);
        ck_assert_int_gt(pid, 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, T_MS), 1);
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        ck_assert_ptr_nonnull(strstr(buf, "READY=1"));
        /* Ready means serving. */
        ipc_conn *c = it_connect(sock);
        ck_assert_ptr_nonnull(c);
        expect_reply(c, "echo:up", "up");
        ipc_conn_free(c);
        close(fd);
        it_kill(pid);
}
END_TEST

START_TEST(test_already_started) {
        srv s = start_srv("dup", NULL);
        srv t = start_v("dup", NULL);
        expect_exit(t.pid, 1);
        ipc_conn *c = conn(&s);
        expect_reply(c, "echo:first", "first");
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- missing callbacks ---- */

START_TEST(test_minimal) {
        srv s = start_srv("minimal", ARGS("--minimal"));
        ipc_conn *c = conn(&s);
        /* No handle_info: dropped, counted, noted once on stderr. */
        ck_assert_int_eq(it_send_info(c, "dropped"), 0);
        ck_assert_int_eq(it_send_info(c, "dropped too"), 0);
        expect_reply(c, "count", "1");
        Gensup__Statistics st = stats(c);
        ck_assert_uint_eq(st.infos, 2);
        ipc_frame *f;
        Gensup__SysReply *r = sys(c, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ck_assert_str_eq(r->state, "<state>");
        ipc_frame_free(f);
        char *err = it_read_file(s.err);
        ck_assert_ptr_nonnull(err);
        char *note = strstr(err, "minimal: no handle_info: dropped a message (info)");
        ck_assert_msg(note, "stderr: %s", err);
        ck_assert_ptr_null(strstr(note + strlen("minimal: no handle_info"), "no handle_info"));
        free(err);
        /* A continue without handle_continue stops the server. */
        expect_reply(c, "continue:1", "ok");
        expect_exit_report(c, "{error,undef_handle_continue}");
        expect_exit(s.pid, 1);
        ipc_conn_free(c);

        /* A cast without handle_cast stops it too, as OTP's undef. */
        srv t = start_srv("minimal2", ARGS("--minimal"));
        c = conn(&t);
        ck_assert_int_eq(it_send_cast(c, "inc"), 0);
        expect_exit_report(c, "{error,undef_handle_cast}");
        expect_exit(t.pid, 1);
        ipc_conn_free(c);
}
END_TEST

/* ---- system requests ---- */

START_TEST(test_statistics_get_state) {
        srv s = start_srv("stats", NULL);
        ipc_conn *c = conn(&s);
        ipc_conn *d = conn(&s);

        expect_reply(c, "echo:a", "a");
        expect_reply(c, "echo:b", "b");
        ck_assert_int_eq(it_send_cast(c, "inc"), 0);
        ck_assert_int_eq(it_send_info(c, "i"), 0);
        expect_reply(c, "count", "3");
        Gensup__Statistics st = stats(d);
        ck_assert_uint_eq(st.calls, 3);
        ck_assert_uint_eq(st.casts, 1);
        ck_assert_uint_eq(st.infos, 1);
        ck_assert_uint_eq(st.replies, 3);
        ck_assert_uint_eq(st.connections, 2);
        ck_assert_uint_gt(st.rss_bytes, 0);
        ck_assert_int_eq(st.suspended, 0);
        ck_assert_int_eq(st.trace, 0);

        ipc_frame *f;
        Gensup__SysReply *r = sys(d, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ck_assert_str_eq(r->state, "calls=3 casts=1 infos=1");
        ipc_frame_free(f);

        /* An unknown system request is an error, not a crash. */
        ck_assert_int_eq(it_send_sys(d, 77, (Gensup__SysRequest__Op) 99, false, 0, NULL), 0);
        ck_assert_int_eq(it_recv(d, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__ERROR);
        ck_assert_uint_eq(f->ref, 77);
        ipc_frame_free(f);

        /* The client API reads the same. */
        gs_client *gc = NULL;
        gs_statistics gst;
        gs_buf text = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect(s.sock, &gc), 0);
        ck_assert_int_eq(gs_sys_statistics(gc, T_MS, &gst), 0);
        ck_assert_uint_eq(gst.calls, 3);
        ck_assert_uint_eq(gst.connections, 3);
        ck_assert_int_eq(gs_sys_get_state(gc, T_MS, &text), 0);
        ck_assert_str_eq((char *) text.data, "calls=3 casts=1 infos=1");
        gs_buf_done(&text);
        gs_client_free(gc);
        ipc_conn_free(c);
        ipc_conn_free(d);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_suspend_resume) {
        srv s = start_srv("susp", NULL);
        ipc_conn *ctl = conn(&s);
        ipc_conn *c = conn(&s);
        ipc_frame *f = NULL;

        sys(ctl, GENSUP__SYS_REQUEST__OP__SUSPEND, false, 0, &f);
        ipc_frame_free(f);
        ck_assert_int_eq(it_send_call(c, 1, "echo:waited"), 0);
        ck_assert_int_eq(it_send_cast(c, "inc"), 0);
        /* System requests are answered while the call waits, even behind it
         * on the same connection. */
        Gensup__SysReply *r = sys(c, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ck_assert_str_eq(r->state, "calls=0 casts=0 infos=0");
        ipc_frame_free(f);
        Gensup__Statistics st = stats(ctl);
        ck_assert_int_eq(st.suspended, 1);
        ck_assert_uint_eq(st.calls, 0);
        ck_assert_int_eq(it_recv(c, 200, &f), -ETIMEDOUT);

        sys(ctl, GENSUP__SYS_REQUEST__OP__RESUME, false, 0, &f);
        ipc_frame_free(f);
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 1);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "waited");
        free(p);
        ipc_frame_free(f);
        expect_reply(c, "casts", "1");
        ipc_conn_free(c);
        ipc_conn_free(ctl);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_suspend_held_limit) {
        /* Many frames while suspended: the connection is no longer read,
         * nothing is lost, and all are handled in order after resume. */
        srv s = start_srv("held", NULL);
        ipc_conn *ctl = conn(&s);
        ipc_conn *c = conn(&s);
        ipc_frame *f = NULL;
        enum { N = 3000 };

        sys(ctl, GENSUP__SYS_REQUEST__OP__SUSPEND, false, 0, &f);
        ipc_frame_free(f);
        for (int i = 0; i < N; i++) {
                ipc_frame fr;
                ipc_frame_init(&fr, GENSUP__KIND__CAST, 0);
                fr.payload.data = (uint8_t *) "inc";
                fr.payload.len = 3;
                ck_assert_int_eq(ipc_conn_queue(c, &fr), 0);
        }
        /* The server may stop reading before all are in; they go out after
         * the resume. */
        int r = ipc_conn_flush(c);
        ck_assert(r == 0 || r == -EAGAIN);
        sys(ctl, GENSUP__SYS_REQUEST__OP__RESUME, false, 0, &f);
        ipc_frame_free(f);
        while ((r = ipc_conn_flush(c)) == -EAGAIN)
                ck_assert_int_ge(ipc_conn_wait(c, false, T_MS), 0);
        ck_assert_int_eq(r, 0);
        char *want = it_strf("%d", N);
        expect_reply(c, "casts", want);
        ipc_conn_free(c);
        ipc_conn_free(ctl);
        it_kill(s.pid);
}
END_TEST

START_TEST(test_trace) {
        srv s = start_srv("tracer", NULL);
        ipc_conn *c = conn(&s);
        ipc_frame *f;

        expect_reply(c, "echo:quiet", "quiet");
        sys(c, GENSUP__SYS_REQUEST__OP__TRACE, true, 0, &f);
        ipc_frame_free(f);
        ck_assert_int_eq(stats(c).trace, 1);
        expect_reply(c, "echo:loud", "loud");
        sys(c, GENSUP__SYS_REQUEST__OP__TRACE, false, 0, &f);
        ipc_frame_free(f);
        expect_reply(c, "echo:quiet2", "quiet2");
        char *err = it_read_file(s.err);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "tracer: in call"));
        ck_assert_ptr_nonnull(strstr(err, "\"echo:loud\""));
        ck_assert_ptr_nonnull(strstr(err, "tracer: out reply"));
        ck_assert_ptr_null(strstr(err, "quiet"));
        free(err);
        ipc_conn_free(c);
        it_kill(s.pid);

        /* --trace traces from the start. */
        s = start_srv("tracer2", ARGS("--trace"));
        c = conn(&s);
        expect_reply(c, "echo:early", "early");
        err = it_read_file(s.err);
        ck_assert_ptr_nonnull(strstr(err, "tracer2: in call"));
        ck_assert_ptr_nonnull(strstr(err, "init ok"));
        free(err);
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_bad_frames) {
        srv s = start_srv("garbage", NULL);
        ipc_conn *good = conn(&s);
        static const uint8_t garbage[] = { 0x03, 0x0f, 0x0f, 0x0f };   /* wire type 7: not a Frame */
        static const uint8_t oversize[] = { 0x80, 0x80, 0x80, 0x10 };  /* 32 MiB > 16 MiB */
        static const uint8_t long_varint[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        const struct {
                const uint8_t *data;
                size_t len;
        } cases[] = { { garbage, sizeof(garbage) }, { oversize, sizeof(oversize) }, { long_varint, sizeof(long_varint) } };

        expect_reply(good, "echo:before", "before");
        for (size_t i = 0; i < 3; i++) {
                ipc_conn *bad = conn(&s);
                ck_assert_int_eq(it_send_raw(bad, cases[i].data, cases[i].len), 0);
                expect_eof(bad);
                ipc_conn_free(bad);
                expect_reply(good, "echo:after", "after");
        }
        /* A peer that closes mid-frame. */
        ipc_conn *half = conn(&s);
        ck_assert_int_eq(it_send_raw(half, "\x20\x08", 2), 0);
        ipc_conn_free(half);
        expect_reply(good, "echo:still", "still");
        ipc_conn_free(good);
        it_kill(s.pid);
}
END_TEST

/* A CALL from a newer peer, with 20,000 fields this server does not know:
 * skipped, and the call answered (gensup-protocol(7)). */
START_TEST(test_unknown_fields_skipped) {
        srv s = start_srv("newer", NULL);
        ipc_conn *c = conn(&s);
        size_t cap = 20000 * 4 + 64, n = 0;
        uint8_t *body = malloc(cap), *wire = malloc(cap + 10);
        ck_assert_ptr_nonnull(body);
        ck_assert_ptr_nonnull(wire);

        body[n++] = 0x08;
        body[n++] = GENSUP__KIND__CALL;
        body[n++] = 0x10;
        body[n++] = 5;
        for (unsigned i = 0; i < 20000; i++) {
                n += ipc_varint_encode((uint64_t) (50 + i % 50) << 3, body + n);   /* varint field 50..99 */
                body[n++] = (uint8_t) (i & 0x7f);
        }
        body[n++] = 0x1a;
        body[n++] = 8;
        memcpy(body + n, "echo:new", 8);
        n += 8;
        size_t k = ipc_varint_encode(n, wire);
        memcpy(wire + k, body, n);
        ck_assert_int_eq(it_send_raw(c, wire, k + n), 0);
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(f->ref, 5);
        char *p = it_payload(f);
        ck_assert_str_eq(p, "new");
        free(p);
        ipc_frame_free(f);
        free(body);
        free(wire);
        ipc_conn_free(c);
        it_kill(s.pid);
}
END_TEST

/* ---- fairness ---- */

START_TEST(test_fairness) {
        srv s = start_srv("fair", NULL);
        ipc_conn *ctl = conn(&s);
        ipc_conn *flood = conn(&s);
        ipc_conn *b = conn(&s);
        ipc_frame *f = NULL;
        enum { N = 5000 };

        /* Suspended, so that both connections have their frames in before
         * the server handles any: then it is the scheduling that decides. */
        sys(ctl, GENSUP__SYS_REQUEST__OP__SUSPEND, false, 0, &f);
        ipc_frame_free(f);
        for (int i = 0; i < N; i++) {
                ipc_frame fr;
                ipc_frame_init(&fr, GENSUP__KIND__CALL, (uint64_t) i + 1);
                fr.payload.data = (uint8_t *) "echo:f";
                fr.payload.len = 6;
                ck_assert_int_eq(ipc_conn_queue(flood, &fr), 0);
        }
        int r;
        while ((r = ipc_conn_flush(flood)) == -EAGAIN)
                ck_assert_int_ge(ipc_conn_wait(flood, false, T_MS), 0);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(it_send_call(b, 1, "count"), 0);
        /* b's call is in the server (held) once its SYS request behind it
         * is answered. */
        sys(b, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ipc_frame_free(f);
        sys(ctl, GENSUP__SYS_REQUEST__OP__RESUME, false, 0, &f);
        ipc_frame_free(f);
        ck_assert_int_eq(it_recv(b, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__REPLY);
        char *p = it_payload(f);
        long seen = atol(p);
        free(p);
        ipc_frame_free(f);
        /* Round-robin: b waited for a few batches of the flood, not all. */
        ck_assert_int_lt(seen, N / 2);

        /* The flood is answered completely and in order. */
        for (int i = 0; i < N; i++) {
                ck_assert_int_eq(it_recv(flood, T_MS, &f), 0);
                ck_assert_uint_eq(f->ref, (uint64_t) i + 1);
                ipc_frame_free(f);
        }
        ipc_conn_free(ctl);
        ipc_conn_free(flood);
        ipc_conn_free(b);
        it_kill(s.pid);
}
END_TEST

/* ---- supervised mode ---- */

typedef struct sup {
        pid_t pid;
        ipc_conn *ctl;  /* gensupd's end of the control socket */
        char *sock;
        char *tlog;
} sup;

static sup start_supervised_prog(const char *prog, const char *name, const char *const *extra, int listen_fd) {
        sup u = { 0 };
        int sp[2];
        char *argv[16];
        size_t n = 0;

        it_tmpdir();
        ck_assert_int_eq(ipc_socketpair(sp), 0);
        u.sock = it_strf("%s/%s.sock", it_tmpdir(), name);
        u.tlog = it_strf("%s/%s.tlog", it_tmpdir(), name);
        argv[n++] = it_example(prog);
        argv[n++] = it_strf("--terminate-log=%s", u.tlog);
        for (size_t i = 0; extra && extra[i] && n < 15; i++)
                argv[n++] = (char *) extra[i];
        argv[n] = NULL;
        char *env_fd = it_strf("GENSUP_CONTROL_FD=%d", listen_fd >= 0 ? 4 : 3);
        char *env_name = it_strf("GENSUP_NAME=%s", name);
        char *env[] = { env_fd, env_name, listen_fd >= 0 ? "LISTEN_FDS=1" : "-LISTEN_FDS",
                        listen_fd >= 0 ? "LISTEN_PID=@PID@" : "-LISTEN_PID", NULL };
        it_fd fds[2] = { { sp[1], listen_fd >= 0 ? 4 : 3 }, { listen_fd, 3 } };
        u.pid = it_spawn(argv, env, fds, listen_fd >= 0 ? 2 : 1, NULL);
        ck_assert_int_gt(u.pid, 0);
        close(sp[1]);
        ck_assert_int_eq(ipc_conn_new(sp[0], 0, &u.ctl), 0);
        return u;
}

static sup start_supervised(const char *name, const char *const *extra, int listen_fd) {
        return start_supervised_prog("test_server", name, extra, listen_fd);
}

static void expect_ctl(sup *u, Gensup__Kind kind, const char *reason) {
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(u->ctl, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, kind);
        if (reason)
                ck_assert_str_eq(f->reason, reason);
        ipc_frame_free(f);
}

static void send_exit(sup *u, const char *reason) {
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__EXIT, 0);
        f.reason = (char *) reason;
        ck_assert_int_eq(it_send(u->ctl, &f), 0);
}

START_TEST(test_supervised_ready_exit) {
        sup u = start_supervised("sup1", NULL, -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        /* No LISTEN_FDS: it listens on <runtime_dir>/<GENSUP_NAME>.sock. */
        ipc_conn *c = it_connect(u.sock);
        ck_assert_ptr_nonnull(c);
        expect_reply(c, "name", "sup1");
        /* What it took from the environment, its own children do not get. */
        expect_reply(c, "env:GENSUP_CONTROL_FD", "(unset)");
        expect_reply(c, "env:GENSUP_NAME", "(unset)");
        /* System requests come on the control fd too (gensupctl via gensupd). */
        ipc_frame *f;
        Gensup__SysReply *r = sys(u.ctl, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ck_assert_str_eq(r->state, "calls=3 casts=0 infos=0");
        ipc_frame_free(f);
        ck_assert_uint_eq(stats(u.ctl).connections, 1);

        send_exit(&u, "shutdown");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "shutdown");
        expect_exit_report(c, "shutdown");
        expect_exit(u.pid, 0);
        char *log = it_read_file(u.tlog);
        ck_assert_str_eq(log, "terminate shutdown\nterminate done\n");
        free(log);
        ipc_conn_free(c);
        ipc_conn_free(u.ctl);
}
END_TEST

START_TEST(test_supervised_no_trap_exit) {
        sup u = start_supervised("sup2", ARGS("--no-trap-exit"), -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        send_exit(&u, "shutdown");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "shutdown");
        expect_exit(u.pid, 0);
        ck_assert_ptr_null(it_read_file(u.tlog));
        ipc_conn_free(u.ctl);

        u = start_supervised("sup2b", NULL, -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        send_exit(&u, "{error,killed_by_test}");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "{error,killed_by_test}");
        expect_exit(u.pid, 1);
        ipc_conn_free(u.ctl);
}
END_TEST

START_TEST(test_supervised_init_failed_ignore) {
        sup u = start_supervised("sup3", ARGS("--init=stop:boom"), -1);
        expect_ctl(&u, GENSUP__KIND__INIT_FAILED, "{error,boom}");
        expect_exit(u.pid, 1);
        ck_assert_ptr_null(it_read_file(u.tlog));
        ipc_conn_free(u.ctl);

        u = start_supervised("sup4", ARGS("--init=ignore"), -1);
        expect_ctl(&u, GENSUP__KIND__IGNORE, NULL);
        expect_exit(u.pid, 0);
        ipc_conn_free(u.ctl);
}
END_TEST

START_TEST(test_supervised_control_eof) {
        sup u = start_supervised("sup5", NULL, -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        u.ctl = ipc_conn_free(u.ctl);
        expect_exit(u.pid, 0);
        char *log = it_read_file(u.tlog);
        ck_assert_str_eq(log, "terminate shutdown\nterminate done\n");
        free(log);
}
END_TEST

START_TEST(test_supervised_suspended_exit) {
        /* An exit signal is obeyed while suspended. */
        sup u = start_supervised("sup6", NULL, -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        ipc_frame *f;
        sys(u.ctl, GENSUP__SYS_REQUEST__OP__SUSPEND, false, 0, &f);
        ipc_frame_free(f);
        send_exit(&u, "shutdown");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "shutdown");
        expect_exit(u.pid, 0);
        ipc_conn_free(u.ctl);
}
END_TEST

START_TEST(test_listen_fds) {
        it_tmpdir();
        char *path = it_path("passed.sock");
        int lfd = ipc_listen(path, 16);
        ck_assert_int_ge(lfd, 0);
        /* Connect before the server even runs: it waits in the backlog. */
        ipc_conn *early = it_connect(path);
        ck_assert_ptr_nonnull(early);
        ck_assert_int_eq(it_send_call(early, 5, "echo:early"), 0);

        sup u = start_supervised("sup7", NULL, lfd);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(early, T_MS, &f), 0);
        ck_assert_uint_eq(f->ref, 5);
        ipc_frame_free(f);
        ipc_conn *c = it_connect(path);
        ck_assert_ptr_nonnull(c);
        expect_reply(c, "env:LISTEN_FDS", "(unset)");
        expect_reply(c, "env:LISTEN_PID", "(unset)");
        /* It did not make a socket of its own. */
        ck_assert_int_eq(access(u.sock, F_OK), -1);
        send_exit(&u, "shutdown");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "shutdown");
        expect_exit(u.pid, 0);
        /* The passed socket belongs to the supervisor: still there, still
         * listening (connections wait for the next instance). */
        ck_assert_int_eq(access(path, F_OK), 0);
        int fd = ipc_connect(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        close(lfd);
        ipc_conn_free(c);
        ipc_conn_free(early);
        ipc_conn_free(u.ctl);
}
END_TEST

Suite *server_suite(void);
/* ---- who may steer a server (as a local attacker would) ---- */

/* Lets every user reach s's socket, as a socket_mode 0666 would. */
static void open_to_all(const srv *s) {
        ck_assert_int_eq(chmod(it_tmpdir(), 0711), 0);
        ck_assert_int_eq(chmod(s->sock, 0666), 0);
}

/* Starts fn(arg) in a child that has become nobody (no groups); returns
 * its pid. Its exit status is 0 if every check in it held. Nothing is
 * exec'd: the checkout may be unreadable to nobody. */
static pid_t nobody_spawn(void (*fn)(const void *arg), const void *arg) {
        struct passwd *pw = getpwnam("nobody");
        ck_assert_ptr_nonnull(pw);
        uid_t uid = pw->pw_uid;
        gid_t gid = pw->pw_gid;
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(99);
                fn(arg);
                _exit(0);
        }
        return pid;
}

/* Runs fn(arg) as nobody (nobody_spawn) and returns its exit status. */
static int as_nobody(void (*fn)(const void *arg), const void *arg) {
        pid_t pid = nobody_spawn(fn, arg);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, 4 * T_MS, &status), 0);
        ck_assert_int_eq(WIFEXITED(status), 1);
        return WEXITSTATUS(status);
}

static const Gensup__SysRequest__Op steering_ops[] = {
        GENSUP__SYS_REQUEST__OP__SUSPEND,  GENSUP__SYS_REQUEST__OP__STOP,       GENSUP__SYS_REQUEST__OP__TRACE,
        GENSUP__SYS_REQUEST__OP__GET_STATE, GENSUP__SYS_REQUEST__OP__STATISTICS, GENSUP__SYS_REQUEST__OP__HIBERNATE,
        GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER, GENSUP__SYS_REQUEST__OP__RESUME,
};

static void nobody_steers(const void *arg) {
        const srv *s = arg;
        ipc_conn *c = conn(s);
        ipc_frame *f = NULL;

        for (size_t i = 0; i < sizeof(steering_ops) / sizeof(steering_ops[0]); i++) {
                ck_assert_int_eq(it_send_sys(c, 700 + i, steering_ops[i], true, 1, "{shutdown,pwned}"), 0);
                ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
                ck_assert_int_eq(f->kind, GENSUP__KIND__ERROR);
                ck_assert_uint_eq(f->ref, 700 + i);
                ck_assert_int_eq(f->code, EACCES);
                ck_assert_str_eq(f->reason, "permission denied");
                ipc_frame_free(f);
                /* ... and its calls and casts are still served. */
                ck_assert_int_eq(it_send_cast(c, "inc"), 0);
                expect_reply(c, "echo:still", "still");
        }
        expect_reply(c, "casts", "8");
        ipc_conn_free(c);

        /* The client API says the same: -EACCES. */
        gs_client *gc = NULL;
        gs_buf b = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect(s->sock, &gc), 0);
        ck_assert_int_eq(gs_sys_suspend(gc, T_MS), -EACCES);
        ck_assert_int_eq(gs_sys_get_state(gc, T_MS, &b), -EACCES);
        ck_assert_int_eq(gs_call(gc, "echo:api", 8, T_MS, &b), 0);
        ck_assert_int_eq(b.len, 3);
        gc = gs_client_free(gc);
        gs_buf_done(&b);
        ck_assert_int_eq(gs_stop(s->sock, "{shutdown,pwned}", T_MS), -EACCES);
}

START_TEST(test_sys_refused_to_others) {
        srv s = start_srv("guarded", NULL);
        open_to_all(&s);

        ck_assert_int_eq(as_nobody(nobody_steers, &s), 0);

        /* Nothing it asked for happened: not suspended, not tracing,
         * still running, serving root. */
        ipc_conn *c = conn(&s);
        Gensup__Statistics st = stats(c);
        ck_assert_int_eq(st.suspended, 0);
        ck_assert_int_eq(st.trace, 0);
        expect_reply(c, "echo:root", "root");
        ck_assert_int_eq(kill(s.pid, 0), 0);
        /* The refusals are on the server's stderr, with who asked. */
        struct passwd *pw = getpwnam("nobody");
        char *want = it_strf("guarded: sys suspend from uid %u pid ", (unsigned) pw->pw_uid);
        ck_assert_int_eq(it_wait_file_contains(s.err, want, T_MS), 0);
        ck_assert_int_eq(it_wait_file_contains(s.err, ": refused, permission denied", T_MS), 0);
        free(want);
        /* Rate-limited: 16 refusals, at most GS__NOTICE_BURST (10) lines. */
        char *err = it_read_file(s.err);
        int n = 0;
        for (char *p = err; (p = strstr(p, "refused, permission denied")); p++)
                n++;
        ck_assert_int_le(n, 10);
        free(err);

        /* Root may stop it; the EXIT_REPORT says who asked. */
        ck_assert_int_eq(it_send_sys(c, 9, GENSUP__SYS_REQUEST__OP__STOP, false, 0, "{shutdown,asked}"), 0);
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__EXIT_REPORT);
        ck_assert_str_eq(f->reason, "{shutdown,asked}");
        ck_assert_ptr_nonnull(f->stopped_by);
        ck_assert_uint_eq(f->stopped_by->uid, getuid());
        ck_assert_uint_eq(f->stopped_by->pid, (uint32_t) getpid());
        ipc_frame_free(f);
        expect_exit(s.pid, 0);
        ipc_conn_free(c);
}
END_TEST

/* ---- limits: slots, deadlines, input (as a local attacker would) ---- */

/* The next frame on c is the connection-level ERROR{code, text} (ref 0),
 * then end of file. */
static void expect_conn_error(ipc_conn *c, int code, const char *text) {
        ipc_frame *f = NULL;
        ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__ERROR);
        ck_assert_uint_eq(f->ref, 0);
        ck_assert_int_eq(f->code, code);
        ck_assert_str_eq(f->reason, text);
        ipc_frame_free(f);
        expect_eof(c);
}

/* Issue: connection 1025 was accepted and closed with no word. Now the
 * limit is an option, and past it a client is told. */
START_TEST(test_max_connections) {
        srv s = start_srv("capped", ARGS("--max-connections", "4"));
        ipc_conn *c[4];
        for (int i = 0; i < 4; i++) {
                c[i] = conn(&s);
                expect_reply(c[i], "echo:in", "in");
        }
        ipc_conn *fifth = conn(&s);
        expect_conn_error(fifth, EMFILE, "too many connections");
        ipc_conn_free(fifth);
        /* The client library says so too. */
        gs_client *gc = NULL;
        gs_buf b = GS_BUF_INIT;
        ck_assert_int_eq(gs_client_connect(s.sock, &gc), 0);
        ck_assert_int_eq(gs_call(gc, "echo:x", 6, T_MS, &b), -EMFILE);
        gc = gs_client_free(gc);
        gs_buf_done(&b);

        Gensup__Statistics st = stats(c[0]);
        ck_assert_uint_eq(st.max_connections, 4);
        ck_assert_uint_eq(st.refused_connections, 2);
        ck_assert_uint_eq(st.connections, 4);
        char *want = it_strf("capped: refused connection from uid %u pid %d: too many connections",
                             (unsigned) getuid(), (int) getpid());
        ck_assert_int_eq(it_wait_file_contains(s.err, want, T_MS), 0);
        free(want);
        /* A slot freed is a slot taken again. */
        ipc_conn_free(c[3]);
        for (int i = 0; i < 1000 && stats(c[0]).connections != 3; i++)
                it_nap_ms(5);
        c[3] = conn(&s);
        expect_reply(c[3], "echo:again", "again");
        for (int i = 0; i < 4; i++)
                ipc_conn_free(c[i]);
        it_kill(s.pid);

        /* By default the limit follows RLIMIT_NOFILE (less the server's own
         * 32 fds; valgrind keeps a few more for itself). */
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        s = start_srv("uncapped", NULL);
        ipc_conn *u = conn(&s);
        st = stats(u);
        ck_assert_uint_le(st.max_connections, rl.rlim_cur - 32);
        ck_assert_uint_gt(st.max_connections, rl.rlim_cur / 2);
        ipc_conn_free(u);
        it_kill(s.pid);
}
END_TEST

typedef struct hog {
        const srv *s;
        int ready_fd;           /* written once the slots are taken */
        int go_fd;              /* read: let go */
} hog;

/* As nobody: takes every connection the server gives this uid (up to
 * 1024 tries, each checked with a call), tells the parent how many, and
 * holds them until told to let go. */
static void nobody_hogs(const void *arg) {
        const hog *h = arg;
        ipc_conn **kept = calloc(1024, sizeof(*kept));
        uint32_t n = 0, refused = 0;

        for (int i = 0; i < 1024 && refused < 4; i++) {
                ipc_conn *c = it_connect(h->s->sock);
                if (!c)
                        break;   /* out of fds */
                ipc_frame *f = NULL;
                /* A refused connection may be closed before the call is
                 * sent (EPIPE): its ERROR is there to read all the same. */
                (void) it_send_call(c, 1, "echo:mine");
                ck_assert_int_eq(it_recv(c, T_MS, &f), 0);
                if (f->kind == GENSUP__KIND__ERROR) {
                        ck_assert_uint_eq(f->ref, 0);
                        ck_assert_int_eq(f->code, EUSERS);
                        refused++;
                        ipc_conn_free(c);
                } else
                        kept[n++] = c;
                ipc_frame_free(f);
        }
        ck_assert_int_eq(write(h->ready_fd, &n, sizeof(n)), (ssize_t) sizeof(n));
        char x;
        ck_assert_int_eq(read(h->go_fd, &x, 1), 1);
        for (uint32_t i = 0; i < n; i++)
                ipc_conn_free(kept[i]);
        free(kept);
}

/* Issue: 1024 idle connections from one unprivileged uid locked everyone
 * out, root included (0 of 20 calls). */
START_TEST(test_uid_quota_keeps_root_in) {
        /* The old hard cap, now the option; the defaults follow from it. */
        srv s = start_srv("crowded", ARGS("--max-connections", "1024"));
        open_to_all(&s);
        int ready[2], go[2];
        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        hog h = { .s = &s, .ready_fd = ready[1], .go_fd = go[0] };
        pid_t pid = nobody_spawn(nobody_hogs, &h);

        uint32_t taken = 0;
        struct pollfd p = { .fd = ready[0], .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 4 * T_MS), 1);
        ck_assert_int_eq(read(ready[0], &taken, sizeof(taken)), (ssize_t) sizeof(taken));

        /* While nobody holds all it may: root's 20 calls all answered. */
        for (int i = 0; i < 20; i++) {
                ipc_conn *c = conn(&s);
                expect_reply(c, "echo:root", "root");
                ipc_conn_free(c);
        }
        ipc_conn *c = conn(&s);
        /* Root's 20 are closed; wait until the server has seen them go. */
        for (int i = 0; i < 1000 && stats(c).connections != taken + 1; i++)
                it_nap_ms(5);
        Gensup__Statistics st = stats(c);
        ck_assert_uint_eq(taken, st.max_connections / 4);
        ck_assert_uint_ge(st.refused_uid_quota, 1);
        ck_assert_uint_eq(st.connections, taken + 1);

        ck_assert_int_eq(write(go[1], "x", 1), 1);
        int status = 0;
        ck_assert_int_eq(it_wait_exit(pid, 4 * T_MS, &status), 0);
        ck_assert_int_eq(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
        ipc_conn_free(c);
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
        it_kill(s.pid);
}
END_TEST

/* Issue: a half-sent frame held its buffer for ever. */
START_TEST(test_frame_deadline) {
        srv s = start_srv("deadline", ARGS("--frame-timeout", "300"));
        ipc_conn *good = conn(&s);
        ipc_conn *half = conn(&s);
        /* A frame of 32 bytes, of which 1 comes. */
        ck_assert_int_eq(it_send_raw(half, "\x20\x08", 2), 0);
        expect_conn_error(half, ETIMEDOUT, "frame not complete in time");
        ipc_conn_free(half);
        expect_reply(good, "echo:fine", "fine");
        ck_assert_uint_eq(stats(good).frame_timeouts, 1);
        ipc_conn_free(good);
        it_kill(s.pid);
}
END_TEST

static void nobody_idles(const void *arg) {
        const srv *s = arg;
        ipc_conn *c = conn(s);
        expect_reply(c, "echo:hello", "hello");
        /* Then nothing: the server closes it, and says why. */
        expect_conn_error(c, ETIMEDOUT, "idle too long");
        ipc_conn_free(c);
}

START_TEST(test_idle_timeout) {
        srv s = start_srv("idler", ARGS("--idle-timeout", "300"));
        open_to_all(&s);
        ipc_conn *root = conn(&s);
        expect_reply(root, "echo:first", "first");
        ck_assert_int_eq(as_nobody(nobody_idles, &s), 0);
        /* Root's connection, idle as long, is trusted and stays. */
        expect_reply(root, "echo:still", "still");
        Gensup__Statistics st = stats(root);
        ck_assert_uint_eq(st.idle_closed, 1);
        ck_assert_uint_eq(st.connections, 1);
        ipc_conn_free(root);
        it_kill(s.pid);
}
END_TEST

/* Issue: 64 half-sent frames pinned 1 GB. The input all connections hold
 * together is bounded. The frame fits the budget alone (a partial frame
 * over it would be cut even on its own, gensup(3)): two of them half sent
 * do not. */
START_TEST(test_input_budget) {
        srv s = start_srv("budget", ARGS("--max-input", "100000", "--frame-timeout", "0"));
        size_t plen = 5 + 85000;
        uint8_t *payload = malloc(plen);
        memcpy(payload, "echo:", 5);
        memset(payload + 5, 'x', plen - 5);
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CALL, 77);
        f.payload.data = payload;
        f.payload.len = plen;
        size_t wlen = ipc_frame_wire_size(&f);
        uint8_t *wire = malloc(wlen);
        ck_assert_uint_eq(ipc_frame_encode(&f, wire), wlen);

        ipc_conn *a = conn(&s), *b = conn(&s);
        ck_assert_int_eq(it_send_raw(a, wire, 60000), 0);
        ck_assert_int_eq(it_send_raw(b, wire, 60000), 0);
        /* Together over 100000: one of them is closed, the other goes on. */
        struct pollfd p[2] = { { .fd = ipc_conn_fd(a), .events = POLLIN }, { .fd = ipc_conn_fd(b), .events = POLLIN } };
        ck_assert_int_ge(poll(p, 2, T_MS), 1);
        ipc_conn *cut = p[0].revents ? a : b, *rest = cut == a ? b : a;
        expect_conn_error(cut, ENOBUFS, "input budget exceeded");
        ipc_conn_free(cut);
        ck_assert_int_eq(it_send_raw(rest, wire + 60000, wlen - 60000), 0);
        ipc_frame *r = NULL;
        ck_assert_int_eq(it_recv(rest, T_MS, &r), 0);
        ck_assert_int_eq(r->kind, GENSUP__KIND__REPLY);
        ck_assert_uint_eq(r->payload.len, 85000);
        ipc_frame_free(r);
        ck_assert_uint_eq(stats(rest).input_closed, 1);
        ipc_conn_free(rest);
        free(wire);
        free(payload);
        it_kill(s.pid);
}
END_TEST

/* Under gensupd: a stop by request says who asked, in gensupd's log and
 * in the child's history. */
START_TEST(test_stop_request_in_history) {
        char *conf = gsd_write_file("stopby.conf",
                                    "supervisor = { name = \"root\"; children = (\n"
                                    "  { name = \"stopme\"; listen = true; restart = \"transient\"; exec = [\"%s\"]; }\n"
                                    "); };\n",
                                    it_example("test_server"));
        gsd *d = NULL;
        ck_assert_int_eq(gsd_start(conf, &d), 0);
        free(conf);
        ck_assert_int_eq(gsd_wait_state(d, "stopme", "running", T_MS), 0);
        char *path = it_path("stopme.sock");
        ck_assert_int_eq(gs_stop(path, "{shutdown,asked}", T_MS), 0);
        free(path);
        ck_assert_int_eq(gsd_wait_history(d, "stopme", NULL, "{shutdown,asked}", 1, T_MS), 0);
        json_t *exits = gsd_history(d, "stopme");
        json_t *by = json_object_get(json_array_get(exits, 0), "stopped_by");
        ck_assert_ptr_nonnull(by);
        ck_assert_int_eq(gsd_int(by, "uid"), (long long) getuid());
        ck_assert_int_eq(gsd_int(by, "pid"), (long long) getpid());
        json_decref(exits);
        char *line = it_strf("stopme: stopped at the request of uid %u pid %d", (unsigned) getuid(), (int) getpid());
        ck_assert_int_eq(gsd_wait_log(d, line, T_MS), 0);
        free(line);
        d = gsd_finish(d);
}
END_TEST



/* gensupd killed by SIGKILL: a server that traps exits runs terminate to
 * its end, every time; one that does not exits without it. */
START_TEST(test_gensupd_killed_terminate) {
        for (int round = 0; round < 3; round++) {
                char *tlog = it_strf("%s/orphan%d.tlog", it_tmpdir(), round);
                char *tlog2 = it_strf("%s/orphan%d-no.tlog", it_tmpdir(), round);
                char *conf = gsd_write_file(
                        "orphan.conf",
                        "supervisor = { name = \"root\"; children = (\n"
                        "  { name = \"traps\"; exec = [\"%s\", \"--terminate-log=%s\", \"--slow-terminate=300\"]; },\n"
                        "  { name = \"plain\"; exec = [\"%s\", \"--terminate-log=%s\", \"--no-trap-exit\"]; }\n"
                        "); };\n",
                        it_example("test_server"), tlog, it_example("test_server"), tlog2);
                gsd *d = NULL;
                ck_assert_int_eq(gsd_start(conf, &d), 0);
                free(conf);
                ck_assert_int_eq(gsd_wait_state(d, "traps", "running", T_MS), 0);
                ck_assert_int_eq(gsd_wait_state(d, "plain", "running", T_MS), 0);
                pid_t traps = gsd_pid(d, "traps"), plain = gsd_pid(d, "plain");
                gsd_signal(d, SIGKILL);
                int status;
                ck_assert_int_eq(gsd_wait_exit(d, T_MS, &status), 0);
                ck_assert_int_eq(it_wait_file_contains(tlog, "terminate shutdown\nterminate done\n", T_MS), 0);
                for (int i = 0; i < T_MS / 5 && (gsd_pid_alive(traps) || gsd_pid_alive(plain)); i++)
                        it_nap_ms(5);
                ck_assert(!gsd_pid_alive(traps));
                ck_assert(!gsd_pid_alive(plain));
                ck_assert_ptr_null(it_read_file(tlog2));
                d = gsd_finish(d);
        }
}
END_TEST

/* ---- gs_enter_loop ---- */

/* A process that did its own setup becomes a server with the state it
 * built: the library's options, its continue action, stop and terminate
 * work as for gs_server_main. */
START_TEST(test_enter_loop) {
        it_tmpdir();
        char *sock = it_path("entered.sock");
        char *tlog = it_path("entered.tlog");
        char *err = it_path("entered.err");
        char *argv[] = { it_example("enter_server"), "--greeting=hi there", "--socket", sock,
                         it_strf("--terminate-log=%s", tlog), NULL };
        pid_t pid = it_spawn(argv, NULL, NULL, 0, err);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(it_wait_socket(sock, T_MS), 0);
        ipc_conn *c = it_connect(sock);
        ck_assert_ptr_nonnull(c);
        expect_reply(c, "greeting", "hi there");
        /* The action ran before the first message, as after init. */
        expect_reply(c, "conts", "1");
        /* The fd the continue added delivers handle_info. */
        expect_reply(c, "poke", "poked");
        ipc_frame *f;
        Gensup__SysReply *r = sys(c, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, &f);
        ck_assert_str_eq(r->state, "greeting=hi there conts=1");
        ipc_frame_free(f);
        ipc_conn_free(c);
        ck_assert_int_eq(gs_stop(sock, "{shutdown,bye}", T_MS), 0);
        expect_exit(pid, 0);
        char *log = it_read_file(tlog);
        ck_assert_str_eq(log, "terminate {shutdown,bye}\n");
        free(log);

        /* An action gs_enter_loop cannot take: exit 1, said on stderr. */
        char *argv2[] = { it_example("enter_server"), "--bad-action", "--socket", sock, NULL };
        pid = it_spawn(argv2, NULL, NULL, 0, err);
        ck_assert_int_gt(pid, 0);
        expect_exit(pid, 1);
        char *text = it_read_file(err);
        ck_assert_ptr_nonnull(strstr(text, "gs_enter_loop: the action must be gs_ret_ok()"));
        free(text);
}
END_TEST

/* Under gensupd: READY once it has entered the loop, and the exit signal. */
START_TEST(test_enter_loop_supervised) {
        sup u = start_supervised_prog("enter_server", "entsup", ARGS("--greeting=supervised"), -1);
        expect_ctl(&u, GENSUP__KIND__READY, NULL);
        ipc_conn *c = it_connect(u.sock);
        ck_assert_ptr_nonnull(c);
        expect_reply(c, "greeting", "supervised");
        send_exit(&u, "shutdown");
        expect_ctl(&u, GENSUP__KIND__EXIT_REPORT, "shutdown");
        expect_exit_report(c, "shutdown");
        expect_exit(u.pid, 0);
        char *log = it_read_file(u.tlog);
        ck_assert_str_eq(log, "terminate shutdown\n");
        free(log);
        ipc_conn_free(c);
        ipc_conn_free(u.ctl);
}
END_TEST

Suite *server_suite(void) {
        Suite *s = suite_create("server");
        TCase *tc;

        tc = tcase_create("basics");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_call_cast_info);
        tcase_add_test(tc, test_big_reply);
        tcase_add_test(tc, test_unknown_kind);
        suite_add_tcase(s, tc);

        tc = tcase_create("memfd");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_memfd_both_ways);
        tcase_add_test(tc, test_memfd_old_client);
        tcase_add_test(tc, test_memfd_hostile);
        suite_add_tcase(s, tc);

        tc = tcase_create("stop");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_stop_with_reply);
        tcase_add_test(tc, test_stop_without_reply);
        tcase_add_test(tc, test_stop_clean_reasons);
        tcase_add_test(tc, test_stop_from_cast_and_info);
        tcase_add_test(tc, test_sys_stop);
        tcase_add_test(tc, test_bad_return_value);
        tcase_add_test(tc, test_sigterm);
        suite_add_tcase(s, tc);

        tc = tcase_create("crash");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_crash_segv);
        tcase_add_test(tc, test_crash_abort);
        tcase_add_test(tc, test_crash_exit);
        tcase_add_test(tc, test_crash_client_api);
        tcase_add_test(tc, test_crash_report);
        tcase_add_test(tc, test_crash_reason_supervised);
        tcase_add_test(tc, test_reply_error);
        suite_add_tcase(s, tc);

        tc = tcase_create("stop_dead");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_stop_returns_when_dead);
        suite_add_tcase(s, tc);

        tc = tcase_create("enter_loop");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_enter_loop);
        tcase_add_test(tc, test_enter_loop_supervised);
        suite_add_tcase(s, tc);

        tc = tcase_create("callbacks");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_noreply_later_reply);
        tcase_add_test(tc, test_send_after);
        tcase_add_test(tc, test_fds);
        tcase_add_test(tc, test_timeout_action);
        tcase_add_test(tc, test_init_timeout);
        tcase_add_test(tc, test_continue);
        tcase_add_test(tc, test_hibernate);
        tcase_add_test(tc, test_hibernate_after_end);
        tcase_add_test(tc, test_init_stop);
        tcase_add_test(tc, test_init_ignore);
        tcase_add_test(tc, test_already_started);
        tcase_add_test(tc, test_sd_notify);
        tcase_add_test(tc, test_minimal);
        suite_add_tcase(s, tc);

        tc = tcase_create("sys");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_statistics_get_state);
        tcase_add_test(tc, test_suspend_resume);
        tcase_add_test(tc, test_suspend_held_limit);
        tcase_add_test(tc, test_trace);
        tcase_add_test(tc, test_sys_refused_to_others);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_max_connections);
        tcase_add_test(tc, test_uid_quota_keeps_root_in);
        tcase_add_test(tc, test_frame_deadline);
        tcase_add_test(tc, test_idle_timeout);
        tcase_add_test(tc, test_input_budget);
        suite_add_tcase(s, tc);

        tc = tcase_create("input");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_bad_frames);
        tcase_add_test(tc, test_unknown_fields_skipped);
        tcase_add_test(tc, test_fairness);
        suite_add_tcase(s, tc);

        tc = tcase_create("supervised");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_supervised_ready_exit);
        tcase_add_test(tc, test_supervised_no_trap_exit);
        tcase_add_test(tc, test_supervised_init_failed_ignore);
        tcase_add_test(tc, test_supervised_control_eof);
        tcase_add_test(tc, test_supervised_suspended_exit);
        tcase_add_test(tc, test_listen_fds);
        tcase_add_test(tc, test_stop_request_in_history);
        tcase_add_test(tc, test_gensupd_killed_terminate);
        suite_add_tcase(s, tc);
        return s;
}
