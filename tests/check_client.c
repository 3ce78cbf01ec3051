/* check_client.c: the client side of libgensup against fake servers.
 *
 * Each fake server is a forked child written with ipc/ only, listening on
 * a socket in a temporary directory. It understands a few magic call
 * payloads that make it misbehave on cue ("hold", "exit", "eof",
 * "garbage", ...), so that every ordering the tests rely on is forced by
 * the server, never by timing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gensup.h"
#include "ipc.h"

/* ---- the fake server ---- */

typedef enum fake_mode {
        FAKE_ECHO,   /* answers everything, obeys the magic payloads */
        FAKE_MUTE,   /* reads everything, answers nothing */
        FAKE_MEMFD,  /* as FAKE_ECHO, and answers HELLO: takes memfds */
        _FAKE_MODE_MAX,
} fake_mode;

typedef struct fake_state {
        fake_mode mode;
        uint64_t calls, casts, infos, bytes;
        uint64_t held[64];
        size_t n_held;
        int last_op;
        bool last_flag;
        uint64_t last_value;
        uint64_t next_seq, disorder;   /* "s<N>" payloads of casts, infos and calls */
        uint64_t memfds;               /* frames whose payload came in a memfd */
} fake_state;

/* Casts over every connection this fake served. */
static uint64_t fake_total_casts;
/* Where a fake writes a byte for each "ping" cast (-1: nowhere). */
static int fake_notify_fd = -1;

/* Counts a payload "s<N>" that does not come right after "s<N-1>". */
static void fk_seq(fake_state *st, const ipc_frame *f) {
        char num[24];

        if (f->payload.len < 2 || f->payload.len >= sizeof(num) || f->payload.data[0] != 's')
                return;
        memcpy(num, f->payload.data + 1, f->payload.len - 1);
        num[f->payload.len - 1] = 0;
        uint64_t n = strtoull(num, NULL, 10);
        if (n != st->next_seq)
                st->disorder++;
        st->next_seq = n + 1;
}

static volatile sig_atomic_t fake_woken;

static void fake_on_usr1(int sig) {
        (void) sig;
        fake_woken = 1;
}

static void fk_flush(ipc_conn *c) {
        while (ipc_conn_flush(c) == -EAGAIN)
                (void) ipc_conn_wait(c, false, -1);
}

static void fk_reply(ipc_conn *c, uint64_t ref, const char *s) {
        ipc_frame f;

        ipc_frame_init(&f, GENSUP__KIND__REPLY, ref);
        f.payload.data = (uint8_t *) s;
        f.payload.len = strlen(s);
        (void) ipc_conn_queue(c, &f);
}

static void fk_error(ipc_conn *c, uint64_t ref, int code, const char *text) {
        ipc_frame f;

        ipc_frame_init(&f, GENSUP__KIND__ERROR, ref);
        f.code = code;
        f.reason = (char *) text;
        (void) ipc_conn_queue(c, &f);
}

static void fk_exit(ipc_conn *c, const char *reason, int status) {
        ipc_frame f;

        ipc_frame_init(&f, GENSUP__KIND__EXIT_REPORT, 0);
        f.reason = (char *) reason;
        (void) ipc_conn_queue(c, &f);
        fk_flush(c);
        _exit(status);
}

static bool is(const ipc_frame *f, const char *s) {
        return f->payload.len == strlen(s) && memcmp(f->payload.data, s, f->payload.len) == 0;
}

static void fk_call(ipc_conn *c, fake_state *st, const ipc_frame *f) {
        st->calls++;
        fk_seq(st, f);
        if (st->mode == FAKE_MUTE)
                return;
        if (is(f, "hold")) {
                if (st->n_held < 64)
                        st->held[st->n_held++] = f->ref;
                return;
        }
        /* Any other call releases the held ones first, in order. */
        for (size_t i = 0; i < st->n_held; i++)
                fk_reply(c, st->held[i], "hold");
        st->n_held = 0;

        if (is(f, "exit"))
                fk_exit(c, "{shutdown,bye}", 0);
        if (is(f, "eof")) {
                fk_flush(c);
                _exit(0);
        }
        if (is(f, "error"))
                fk_error(c, f->ref, EPERM, "nope");
        else if (is(f, "garbage")) {
                static const uint8_t junk[11] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
                fk_flush(c);
                (void) !write(ipc_conn_fd(c), junk, sizeof(junk));
        } else if (is(f, "badbody")) {
                /* A well-delimited frame whose body is no Frame. */
                static const uint8_t junk[4] = { 3, 0xff, 0xff, 0xff };
                fk_flush(c);
                (void) !write(ipc_conn_fd(c), junk, sizeof(junk));
        } else if (is(f, "badkind")) {
                ipc_frame g;
                ipc_frame_init(&g, GENSUP__KIND__CAST, 0);
                (void) ipc_conn_queue(c, &g);
        } else if (is(f, "sysreply")) {
                ipc_frame g;
                Gensup__SysReply sr;
                gensup__sys_reply__init(&sr);
                ipc_frame_init(&g, GENSUP__KIND__SYS_REPLY, f->ref);
                g.sys_reply = &sr;
                (void) ipc_conn_queue(c, &g);
        } else if (is(f, "stray")) {
                fk_reply(c, f->ref + 1000, "stray");
                fk_reply(c, 0, "stray");
                fk_reply(c, f->ref, "ok");
        } else if (is(f, "count")) {
                char buf[128];
                snprintf(buf, sizeof(buf), "%llu %llu %llu", (unsigned long long) st->casts,
                         (unsigned long long) st->infos, (unsigned long long) st->bytes);
                fk_reply(c, f->ref, buf);
        } else if (is(f, "memfds")) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) st->memfds);
                fk_reply(c, f->ref, buf);
        } else if (is(f, "badmemfd")) {
                /* A reply in a memfd that is not sealed: the client must
                 * refuse it before reading it. */
                int fd = memfd_create("bad", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                ipc_frame g;
                ipc_frame_init(&g, GENSUP__KIND__REPLY, f->ref);
                g.memfd_len = 5;
                if (fd >= 0 && write(fd, "hello", 5) == 5)
                        (void) ipc_conn_queue_fd(c, &g, fd);
                if (fd >= 0)
                        close(fd);
        } else if (is(f, "order")) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long) st->next_seq,
                         (unsigned long long) st->disorder);
                fk_reply(c, f->ref, buf);
        } else if (is(f, "total")) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) fake_total_casts);
                fk_reply(c, f->ref, buf);
        } else if (is(f, "pause")) {
                /* Stop reading until SIGUSR1 (blocked outside sigsuspend). */
                fk_reply(c, f->ref, "ok");
                fk_flush(c);
                sigset_t none;
                sigemptyset(&none);
                while (!fake_woken)
                        sigsuspend(&none);
                fake_woken = 0;
        } else {
                ipc_frame g;
                ipc_frame_init(&g, GENSUP__KIND__REPLY, f->ref);
                g.payload = f->payload;
                (void) ipc_conn_queue(c, &g);
        }
}

static void fk_sys(ipc_conn *c, fake_state *st, const ipc_frame *f) {
        const Gensup__SysRequest *s = f->sys;

        if (!s || st->mode == FAKE_MUTE)
                return;
        ipc_frame g;
        Gensup__SysReply sr;
        Gensup__Statistics stats;
        char text[160];
        gensup__sys_reply__init(&sr);
        ipc_frame_init(&g, GENSUP__KIND__SYS_REPLY, f->ref);
        g.sys_reply = &sr;

        switch (s->op) {
        case GENSUP__SYS_REQUEST__OP__STOP: {
                gs_buf b = GS_BUF_INIT;
                (void) gs_reason_normalize(s->reason, &b);
                int status = strcmp((char *) b.data, "{shutdown,done}") == 0 ? 42 :
                             strcmp((char *) b.data, "normal") == 0 ? 0 : 3;
                fk_exit(c, (char *) b.data, status);
                break;
        }
        case GENSUP__SYS_REQUEST__OP__GET_STATE:
                snprintf(text, sizeof(text), "op=%d flag=%d value=%llu", st->last_op, st->last_flag,
                         (unsigned long long) st->last_value);
                sr.state = text;
                break;
        case GENSUP__SYS_REQUEST__OP__STATISTICS:
                gensup__statistics__init(&stats);
                stats.calls = st->calls;
                stats.casts = st->casts;
                stats.infos = st->infos;
                stats.replies = 99;
                stats.connections = 1;
                stats.suspended = st->last_op == GENSUP__SYS_REQUEST__OP__SUSPEND;
                sr.statistics = &stats;
                break;
        case GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER:
                if (s->value == 999) {
                        fk_error(c, f->ref, EINVAL, "bad value");
                        return;
                }
                /* fall through */
        default:
                st->last_op = s->op;
                st->last_flag = s->flag;
                st->last_value = s->value;
                break;
        }
        (void) ipc_conn_queue(c, &g);
}

static void fk_serve_conn(ipc_conn *c, fake_state *st) {
        for (;;) {
                (void) ipc_conn_wait(c, true, -1);
                int r = ipc_conn_read(c);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return;
                ipc_frame *f;
                while (ipc_conn_next(c, &f) == 1) {
                        if (f->memfd_len > 0)
                                st->memfds++;
                        switch (f->kind) {
                        case GENSUP__KIND__HELLO:
                                /* An old peer (FAKE_ECHO) ignores it. */
                                if (st->mode == FAKE_MEMFD) {
                                        ipc_frame g;
                                        ipc_frame_init(&g, GENSUP__KIND__HELLO, 0);
                                        g.features = GENSUP__FEATURE__FEATURE_MEMFD;
                                        (void) ipc_conn_queue(c, &g);
                                        ipc_conn_set_memfd(c, true, 0);
                                }
                                break;
                        case GENSUP__KIND__CALL:
                                fk_call(c, st, f);
                                break;
                        case GENSUP__KIND__CAST:
                                st->casts++;
                                fake_total_casts++;
                                st->bytes += f->payload.len;
                                fk_seq(st, f);
                                if (fake_notify_fd >= 0 && is(f, "ping"))
                                        (void) !write(fake_notify_fd, "p", 1);
                                break;
                        case GENSUP__KIND__INFO:
                                fk_seq(st, f);
                                st->infos++;
                                st->bytes += f->payload.len;
                                break;
                        case GENSUP__KIND__SYS:
                                fk_sys(c, st, f);
                                break;
                        default:
                                break;
                        }
                        ipc_frame_free(f);
                }
                fk_flush(c);
        }
}

/* Connections are served one at a time, each with fresh counters. */
static _Noreturn void fk_main(int lfd, fake_mode mode) {
        for (;;) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                if (poll(&p, 1, -1) < 0)
                        continue;
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                ipc_conn *c;
                if (ipc_conn_new(fd, 0, &c) < 0)
                        _exit(1);
                fake_state st = { .mode = mode };
                fk_serve_conn(c, &st);
                ipc_conn_free(c);
        }
}

/* ---- fixtures ---- */

#define MAX_FAKES 8

static char tmpdir[256];
static pid_t fakes[MAX_FAKES];
static size_t n_fakes;

/* The temporary directory is made and removed by an unchecked fixture,
 * in the runner itself, so that it goes even when a test fails (Check
 * runs no checked teardown after a failure). Fake servers die with the
 * test process that started them (PR_SET_PDEATHSIG). */
static void dir_setup(void) {
        snprintf(tmpdir, sizeof(tmpdir), "%s/gs-client-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmpdir))
                tmpdir[0] = 0;
}

static void dir_teardown(void) {
        if (!tmpdir[0])
                return;
        char cmd[sizeof(tmpdir) + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
        tmpdir[0] = 0;
}

static void setup(void) {
        ck_assert_msg(tmpdir[0] != 0, "no temporary directory");
        /* Set here, in the test's own process, not in the runner. */
        ck_assert_int_eq(setenv("GENSUP_RUNTIME_DIR", tmpdir, 1), 0);
        n_fakes = 0;
}

static void teardown(void) {
        for (size_t i = 0; i < n_fakes; i++) {
                kill(fakes[i], SIGKILL);
                (void) waitpid(fakes[i], NULL, 0);
        }
        n_fakes = 0;
}

static void path_of(const char *name, char *path) {
        int n = snprintf(path, PATH_MAX, "%s/%s.sock", tmpdir, name);
        ck_assert_int_lt(n, PATH_MAX);
}

/* Starts a fake server listening at <tmpdir>/<name>.sock; returns once
 * it listens. It dies with the test (PR_SET_PDEATHSIG). */
static pid_t fake_start(const char *name, fake_mode mode) {
        char path[PATH_MAX];
        int p[2];
        pid_t parent = getpid();

        path_of(name, path);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                alarm(60);
                struct sigaction sa = { .sa_handler = fake_on_usr1 };
                sigaction(SIGUSR1, &sa, NULL);
                sigset_t usr1;
                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                sigprocmask(SIG_BLOCK, &usr1, NULL);
                /* SIGPIPE would kill the fake when a test hangs up on it. */
                signal(SIGPIPE, SIG_IGN);
                int lfd = ipc_listen(path, 16);
                if (lfd < 0)
                        _exit(1);
                (void) !write(p[1], "x", 1);
                close(p[1]);
                fk_main(lfd, mode);
        }
        close(p[1]);
        char x;
        ck_assert_int_eq(read(p[0], &x, 1), 1);
        close(p[0]);
        ck_assert_uint_lt(n_fakes, MAX_FAKES);
        fakes[n_fakes++] = pid;
        return pid;
}

static gs_client *connect_to(const char *name) {
        gs_client *c = NULL;
        ck_assert_int_eq(gs_client_connect(name, &c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

static int call_str(gs_client *c, const char *s, int timeout_ms, gs_buf *reply) {
        return gs_call(c, s, strlen(s), timeout_ms, reply);
}

static void assert_buf(const gs_buf *b, const char *s) {
        ck_assert_uint_eq(b->len, strlen(s));
        ck_assert_str_eq((const char *) b->data, s);
}

static gs_reqid send_str(gs_client *c, const char *s) {
        gs_reqid id = 0;
        ck_assert_int_eq(gs_send_request(c, s, strlen(s), &id), 0);
        ck_assert_uint_gt(id, 0);
        return id;
}

/* ---- connecting ---- */

START_TEST(test_connect_enoent) {
        gs_client *c = NULL;
        char path[PATH_MAX];

        ck_assert_int_eq(gs_client_connect("nosuch", &c), -ENOENT);
        path_of("nosuch", path);
        ck_assert_int_eq(gs_client_connect(path, &c), -ENOENT);
        /* A socket file with nobody listening: a dead server. */
        path_of("stale", path);
        int fd = ipc_listen(path, 1);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(gs_client_connect(path, &c), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(gs_stop("nosuch", NULL, 1000), -ENOENT);
        ck_assert_ptr_null(gs_client_free(NULL));
}
END_TEST

START_TEST(test_call_basic) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");   /* by name, in $GENSUP_RUNTIME_DIR */
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_ge(gs_client_fd(c), 0);
        ck_assert_int_eq(call_str(c, "hello", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "hello");
        for (int i = 0; i < 1000; i++) {
                char s[32];
                snprintf(s, sizeof(s), "n%d", i);
                ck_assert_int_eq(call_str(c, s, GS_INFINITY, &reply), 0);
                assert_buf(&reply, s);
        }
        /* Empty requests and replies. */
        ck_assert_int_eq(gs_call(c, NULL, 0, 1000, &reply), 0);
        ck_assert_uint_eq(reply.len, 0);
        /* A large one, bigger than a socket buffer. */
        size_t big = 4u << 20;
        char *p = malloc(big);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < big; i++)
                p[i] = (char) ('a' + i % 26);
        ck_assert_int_eq(gs_call(c, p, big, 10000, &reply), 0);
        ck_assert_uint_eq(reply.len, big);
        ck_assert_int_eq(memcmp(reply.data, p, big), 0);
        free(p);
        /* An error answer. */
        ck_assert_int_eq(call_str(c, "error", 1000, &reply), -EREMOTEIO);
        assert_buf(&reply, "nope");
        /* Answers with an unknown ref (or none) are dropped. */
        ck_assert_int_eq(call_str(c, "stray", 1000, &reply), 0);
        assert_buf(&reply, "ok");
        ck_assert_ptr_null(gs_client_exit_reason(c));
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

START_TEST(test_call_too_big) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;
        size_t big = IPC_DEFAULT_MAX_FRAME + 1;
        char *p = calloc(1, big);

        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(gs_call(c, p, big, 1000, &reply), -EMSGSIZE);
        ck_assert_int_eq(gs_cast(c, p, big), -EMSGSIZE);
        gs_reqid id;
        ck_assert_int_eq(gs_send_request(c, p, big, &id), -EMSGSIZE);
        free(p);
        /* The connection is still good. */
        ck_assert_int_eq(call_str(c, "still", 1000, &reply), 0);
        assert_buf(&reply, "still");
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

START_TEST(test_call_late_reply) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_eq(gs_buf_set(&reply, "untouched", 9), 0);
        /* The server holds "hold" until the next call, so this times out
         * whatever the machine's speed. */
        ck_assert_int_eq(call_str(c, "hold", 20, &reply), -ETIMEDOUT);
        assert_buf(&reply, "untouched");
        ck_assert_int_eq(call_str(c, "hold", 0, &reply), -ETIMEDOUT);
        /* Now both held replies arrive first; they must be dropped. */
        ck_assert_int_eq(call_str(c, "next", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "next");
        ck_assert_int_eq(call_str(c, "again", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "again");
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

START_TEST(test_call_exit_report) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;

        gs_reqid id = send_str(c, "hold");
        ck_assert_int_eq(call_str(c, "exit", GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        ck_assert_ptr_nonnull(gs_client_exit_reason(c));
        ck_assert_str_eq(gs_client_exit_reason(c), "{shutdown,bye}");
        /* The held request was answered before the exit; take it, and
         * then everything else fails. */
        ck_assert_int_eq(gs_wait_response(c, id, 1000, &reply), 0);
        assert_buf(&reply, "hold");
        ck_assert_int_eq(call_str(c, "x", 1000, &reply), -ECONNRESET);
        ck_assert_int_eq(gs_cast(c, "x", 1), -ECONNRESET);
        ck_assert_int_eq(gs_send_request(c, "x", 1, &id), -ECONNRESET);
        ck_assert_int_eq(gs_client_flush(c), -ECONNRESET);
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

START_TEST(test_exit_fails_outstanding) {
        fake_start("a", FAKE_ECHO);
        fake_start("b", FAKE_MUTE);
        gs_client *a = connect_to("a");
        gs_client *b = connect_to("b");
        gs_buf reply = GS_BUF_INIT;

        /* b never answers; when it dies its requests fail. */
        gs_reqid id = send_str(b, "x");
        kill(fakes[1], SIGKILL);
        ck_assert_int_eq(gs_wait_response(b, id, GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        ck_assert_ptr_null(gs_client_exit_reason(b));
        ck_assert_int_eq(gs_wait_response(b, id, 0, &reply), -ENOENT);

        /* a sends EXIT_REPORT while a request waits. */
        gs_reqid id2;
        ck_assert_int_eq(gs_send_request(a, "exit", 4, &id2), 0);
        ck_assert_int_eq(gs_wait_response(a, id2, GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        ck_assert_str_eq(gs_client_exit_reason(a), "{shutdown,bye}");
        gs_buf_done(&reply);
        gs_client_free(a);
        gs_client_free(b);
}
END_TEST

START_TEST(test_call_eof) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_eq(call_str(c, "eof", GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        ck_assert_ptr_null(gs_client_exit_reason(c));
        ck_assert_int_eq(call_str(c, "x", GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

START_TEST(test_call_self) {
        char path[PATH_MAX];
        gs_buf reply = GS_BUF_INIT;

        /* This process listens, so the server is this very process. */
        path_of("self", path);
        int lfd = ipc_listen(path, 8);
        ck_assert_int_ge(lfd, 0);
        gs_client *c = connect_to(path);
        ck_assert_int_eq(call_str(c, "x", GS_INFINITY, &reply), -EDEADLK);
        ck_assert_int_eq(gs_sys_get_state(c, GS_INFINITY, &reply), -EDEADLK);
        ck_assert_int_eq(gs_stop(path, NULL, GS_INFINITY), -EDEADLK);
        /* Asynchronous requests to oneself are allowed (the loop may
         * answer them later). */
        gs_reqid id = send_str(c, "x");
        ck_assert_int_eq(gs_check_response(c, id, &reply), -EAGAIN);
        const char *names[] = { path };
        gs_multi_result res[1];
        ck_assert_int_eq(gs_multi_call(names, 1, "x", 1, GS_INFINITY, res), 0);
        ck_assert_int_eq(res[0].status, -EDEADLK);
        gs_buf_done(&res[0].reply);
        gs_client_free(c);
        close(lfd);
        gs_buf_done(&reply);
}
END_TEST

START_TEST(test_garbage) {
        static const char *const kinds[] = { "garbage", "badbody", "badkind", "sysreply" };
        fake_start("echo", FAKE_ECHO);
        gs_buf reply = GS_BUF_INIT;

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                gs_client *c = connect_to("echo");
                gs_reqid id = send_str(c, "hold");
                ck_assert_msg(call_str(c, kinds[i], GS_DEFAULT_TIMEOUT, &reply) == -EBADMSG, "%s", kinds[i]);
                ck_assert_int_eq(call_str(c, "x", GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
                ck_assert_int_eq(gs_cast(c, "x", 1), -ECONNRESET);
                /* The held reply came before the garbage; it is kept. */
                ck_assert_int_eq(gs_wait_response(c, id, 0, &reply), 0);
                gs_client_free(c);
        }
        /* Garbage while a request is outstanding fails it. */
        gs_client *c = connect_to("echo");
        gs_reqid id = send_str(c, "garbage");
        ck_assert_int_eq(gs_wait_response(c, id, GS_DEFAULT_TIMEOUT, &reply), -EBADMSG);
        ck_assert_int_eq(call_str(c, "x", GS_DEFAULT_TIMEOUT, &reply), -ECONNRESET);
        gs_client_free(c);
        gs_buf_done(&reply);
}
END_TEST

/* ---- casts ---- */

static void assert_count(gs_client *c, uint64_t casts, uint64_t infos, uint64_t bytes) {
        gs_buf reply = GS_BUF_INIT;
        char want[128];

        snprintf(want, sizeof(want), "%llu %llu %llu", (unsigned long long) casts, (unsigned long long) infos,
                 (unsigned long long) bytes);
        ck_assert_int_eq(call_str(c, "count", 30000, &reply), 0);
        assert_buf(&reply, want);
        gs_buf_done(&reply);
}

START_TEST(test_casts) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        const int n = 20000;

        for (int i = 0; i < n; i++)
                ck_assert_int_eq(gs_cast(c, "cast", 4), 0);
        ck_assert_int_eq(gs_send_info(c, "info", 4), 0);
        assert_count(c, (uint64_t) n, 1, (uint64_t) n * 4 + 4);
        gs_client_free(c);

        /* Corked: they collect, and the call flushes them first. */
        c = connect_to("echo");
        ck_assert_int_eq(gs_client_cork(c, true), 0);
        for (int i = 0; i < 10 * n; i++)
                ck_assert_int_eq(gs_cast(c, "cast", 4), 0);
        ck_assert_int_eq(gs_send_info(c, "info", 4), 0);
        assert_count(c, (uint64_t) n * 10, 1, (uint64_t) n * 40 + 4);
        ck_assert_int_eq(gs_cast(c, "12", 2), 0);
        ck_assert_int_eq(gs_client_flush(c), 0);
        ck_assert_int_eq(gs_cast(c, "34", 2), 0);
        ck_assert_int_eq(gs_client_cork(c, false), 0);
        ck_assert_int_eq(gs_cast(c, "56", 2), 0);
        assert_count(c, (uint64_t) n * 10 + 3, 1, (uint64_t) n * 40 + 10);
        gs_client_free(c);

        /* Corked, far more than the socket buffers hold, then a call with
         * no flush before it: the call writes everything, then waits. */
        c = connect_to("echo");
        const size_t chunk = 64 * 1024, chunks = 128;
        char *p = calloc(1, chunk);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(gs_client_cork(c, true), 0);
        for (size_t i = 0; i < chunks; i++)
                ck_assert_int_eq(gs_cast(c, p, chunk), 0);
        assert_count(c, chunks, 0, chunks * chunk);
        free(p);
        gs_client_free(c);
}
END_TEST

static volatile sig_atomic_t resumed;
static pid_t paused_pid;

static void on_alarm(int sig) {
        (void) sig;
        resumed = 1;
        kill(paused_pid, SIGUSR1);
}

START_TEST(test_cast_backpressure) {
        paused_pid = fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;
        const size_t chunk = 64 * 1024, n = 256;   /* 16 MiB: far more than socket buffers hold */
        char *p = calloc(1, chunk);

        ck_assert_ptr_nonnull(p);
        /* The server stops reading until SIGUSR1, which the alarm sends.
         * Every cast returns 0, and the last could only go out after
         * the server resumed: the casts waited for room. */
        ck_assert_int_eq(call_str(c, "pause", GS_DEFAULT_TIMEOUT, &reply), 0);
        struct sigaction sa = { .sa_handler = on_alarm };
        ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
        resumed = 0;
        alarm(1);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(gs_cast(c, p, chunk), 0);
        ck_assert_int_eq(resumed, 1);
        assert_count(c, n, 0, n * chunk);

        /* The same, corked. */
        ck_assert_int_eq(call_str(c, "pause", GS_DEFAULT_TIMEOUT, &reply), 0);
        ck_assert_int_eq(gs_client_cork(c, true), 0);
        resumed = 0;
        alarm(1);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(gs_cast(c, p, chunk), 0);
        ck_assert_int_eq(gs_client_flush(c), 0);
        ck_assert_int_eq(resumed, 1);
        assert_count(c, 2 * n, 0, 2 * n * chunk);
        free(p);
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST


/* ---- batching ---- */

static void assert_call(gs_client *c, const char *req, const char *want) {
        gs_buf reply = GS_BUF_INIT;

        ck_assert_int_eq(call_str(c, req, 30000, &reply), 0);
        assert_buf(&reply, want);
        gs_buf_done(&reply);
}

/* Casts, infos, asynchronous requests and calls mixed, with batching on
 * (the default), off, and corked: the server sees them in the order they
 * were made, and every request gets its own answer. */
START_TEST(test_batch_order) {
        static const size_t limits[] = { GS_BATCH_DEFAULT, 0, 100, GS_BATCH_DEFAULT };
        fake_start("echo", FAKE_ECHO);
        gs_buf reply = GS_BUF_INIT;
        const unsigned n = 30000;

        for (size_t round = 0; round < sizeof(limits) / sizeof(limits[0]); round++) {
                gs_client *c = connect_to("echo");
                gs_reqid ids[64];
                unsigned n_ids = 0, first_id = 0;
                char m[32];

                ck_assert_int_eq(gs_client_set_batch(c, limits[round]), 0);
                if (round == 3)
                        ck_assert_int_eq(gs_client_cork(c, true), 0);
                for (unsigned i = 0; i < n; i++) {
                        snprintf(m, sizeof(m), "s%u", i);
                        if (i % 997 == 0)
                                ck_assert_int_eq(call_str(c, m, 30000, &reply), 0);
                        else if (i % 101 == 0) {
                                if (n_ids == 0)
                                        first_id = i;
                                ck_assert_int_eq(gs_send_request(c, m, strlen(m), &ids[n_ids++]), 0);
                        } else if (i % 13 == 0)
                                ck_assert_int_eq(gs_send_info(c, m, strlen(m)), 0);
                        else
                                ck_assert_int_eq(gs_cast(c, m, strlen(m)), 0);
                        if (n_ids == 64 || (i + 1 == n && n_ids > 0)) {
                                for (unsigned k = 0; k < n_ids; k++) {
                                        ck_assert_int_eq(gs_wait_response(c, ids[k], 30000, &reply), 0);
                                        snprintf(m, sizeof(m), "s%u", first_id + 101 * k);
                                        assert_buf(&reply, m);
                                }
                                n_ids = 0;
                        }
                }
                snprintf(m, sizeof(m), "%u 0", n);
                assert_call(c, "order", m);
                gs_client_free(c);
        }
        gs_buf_done(&reply);
}
END_TEST

/* A batched cast is on its way when gs_cast returns: gs_client_free and
 * exit(3) write what collected, also for a corked client, and
 * gs_client_flush_all() writes every client's batch. */
/* The client a child leaves to exit(3): reachable, so that a leak
 * checker does not count it. */
static gs_client *exit_client;

START_TEST(test_batch_exit) {
        fake_start("echo", FAKE_ECHO);
        char want[32];

        for (int how = 0; how < 3; how++) {
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        gs_client *c;
                        if (gs_client_connect("echo", &c) < 0)
                                _exit(3);
                        exit_client = c;
                        if (how == 1)
                                (void) gs_client_cork(c, true);
                        for (int i = 0; i < 1000; i++)
                                if (gs_cast(c, "x", 1) < 0)
                                        _exit(4);
                        if (how == 2) {
                                /* Nothing is queued after flush_all: a
                                 * process that ends with _exit loses
                                 * nothing. */
                                if (gs_client_flush_all() < 0)
                                        _exit(5);
                                _exit(0);
                        }
                        exit(0);   /* neither flushed nor freed */
                }
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_int_eq(status, 0);
        }
        gs_client *c = connect_to("echo");
        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(gs_cast(c, "x", 1), 0);
        gs_client_free(c);
        c = connect_to("echo");
        snprintf(want, sizeof(want), "%d", 3 * 1000 + 10);
        assert_call(c, "total", want);
        gs_client_free(c);
}
END_TEST

/* Batched small casts still wait for room when the server does not
 * read: the producer is slowed to the server's pace, nothing is lost. */
START_TEST(test_batch_backpressure) {
        paused_pid = fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        const size_t n = 500000;   /* about 11 MiB of frames */

        assert_call(c, "pause", "ok");
        struct sigaction sa = { .sa_handler = on_alarm };
        ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
        resumed = 0;
        alarm(1);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(gs_cast(c, "0123456789abcdef", 16), 0);
        ck_assert_int_eq(resumed, 1);
        assert_count(c, n, 0, n * 16);
        gs_client_free(c);
}
END_TEST

/* A gen_server that casts "ping" to the fake "echo" on every call, and
 * never touches that client again: the cast must leave at the end of the
 * loop turn. */
static gs_client *relay_client;

static gs_ret relay_init(gs_server *s, int argc, char **argv, void **ret_state) {
        *ret_state = NULL;
        return gs_ret_ok();
}

static gs_ret relay_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        if (!relay_client && gs_client_connect("echo", &relay_client) < 0)
                return gs_ret_stop("connect");
        if (gs_cast(relay_client, "ping", 4) < 0)
                return gs_ret_stop("cast");
        if (gs_buf_set(reply, "ok", 2) < 0)
                return gs_ret_stop("enomem");
        return gs_ret_reply();
}

static const gs_server_ops relay_ops = {
        .init = relay_init,
        .handle_call = relay_call,
};

START_TEST(test_batch_loop_turn) {
        char path[PATH_MAX];
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        fake_notify_fd = p[1];
        fake_start("echo", FAKE_ECHO);
        fake_notify_fd = -1;
        close(p[1]);

        path_of("relay", path);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char name[] = "relay";
                char *argv[] = { name, NULL };
                gs_server_options o = { .name = "relay", .socket_path = path };
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void) unsetenv("GENSUP_CONTROL_FD");
                (void) unsetenv("LISTEN_FDS");
                _exit(gs_server_main_with(&relay_ops, &o, 1, argv));
        }
        fakes[n_fakes++] = pid;
        /* Until it listens: a bounded wait for the socket. */
        gs_client *c = NULL;
        for (int i = 0; i < 10000 && gs_client_connect(path, &c) == -ENOENT; i++) {
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
        }
        ck_assert_ptr_nonnull(c);
        for (int i = 0; i < 3; i++) {
                char b = 0;
                assert_call(c, "relay", "ok");
                struct pollfd pf = { .fd = p[0], .events = POLLIN };
                ck_assert_int_eq(poll(&pf, 1, 30000), 1);
                ck_assert_int_eq(read(p[0], &b, 1), 1);
                ck_assert_int_eq(b, 'p');
        }
        gs_client_free(c);
        close(p[0]);
}
END_TEST

/* ---- memfd payloads ---- */

/* Large requests go in memfds only to a server that said it takes them
 * (an old one gets them inline), and a reply in a memfd that is not
 * sealed fails the call and closes the connection. */
START_TEST(test_memfd_client) {
        fake_start("old", FAKE_ECHO);
        fake_start("new", FAKE_MEMFD);
        const size_t big = 512 * 1024;
        char *p = malloc(big);
        gs_buf reply = GS_BUF_INIT;

        ck_assert_ptr_nonnull(p);
        memset(p, 'm', big);
        for (int i = 0; i < 2; i++) {
                gs_client *c = connect_to(i == 0 ? "old" : "new");
                ck_assert_int_eq(gs_client_set_memfd(c, 1024), 0);
                assert_call(c, "small", "small");   /* the HELLO answer, if any */
                for (int k = 0; k < 3; k++) {
                        ck_assert_int_eq(gs_call(c, p, big, 30000, &reply), 0);
                        ck_assert_uint_eq(reply.len, big);
                        ck_assert_int_eq(memcmp(reply.data, p, big), 0);
                }
                ck_assert_int_eq(gs_cast(c, p, big), 0);
                assert_call(c, "memfds", i == 0 ? "0" : "4");
                if (i == 1) {
                        ck_assert_int_eq(call_str(c, "badmemfd", 30000, &reply), -EBADMSG);
                        ck_assert_int_eq(call_str(c, "x", 30000, &reply), -ECONNRESET);
                }
                gs_client_free(c);
        }
        gs_buf_done(&reply);
        free(p);
}
END_TEST

/* ---- asynchronous requests ---- */

START_TEST(test_async) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf reply = GS_BUF_INIT;

        gs_reqid a = send_str(c, "a"), b = send_str(c, "b"), d = send_str(c, "d");
        ck_assert_uint_lt(a, b);
        ck_assert_uint_lt(b, d);
        /* Waiting for the last keeps the others' replies. */
        ck_assert_int_eq(gs_wait_response(c, d, GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "d");
        ck_assert_int_eq(gs_check_response(c, a, &reply), 0);
        assert_buf(&reply, "a");
        /* A call in between does not take b's reply. */
        ck_assert_int_eq(call_str(c, "call", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "call");
        ck_assert_int_eq(gs_receive_response(c, b, GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "b");
        /* Answered ids, and ids never sent, are unknown. */
        ck_assert_int_eq(gs_wait_response(c, a, 0, &reply), -ENOENT);
        ck_assert_int_eq(gs_check_response(c, 12345, &reply), -ENOENT);

        /* wait keeps a request that timed out. */
        gs_reqid h = send_str(c, "hold");
        ck_assert_int_eq(gs_wait_response(c, h, 10, &reply), -ETIMEDOUT);
        ck_assert_int_eq(gs_wait_response(c, h, 0, &reply), -ETIMEDOUT);
        ck_assert_int_eq(gs_check_response(c, h, &reply), -EAGAIN);
        gs_reqid x = send_str(c, "x");
        ck_assert_int_eq(gs_wait_response(c, x, GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "x");
        ck_assert_int_eq(gs_wait_response(c, h, GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "hold");

        /* receive abandons it: its late reply is dropped. */
        h = send_str(c, "hold");
        ck_assert_int_eq(gs_receive_response(c, h, 10, &reply), -ETIMEDOUT);
        ck_assert_int_eq(gs_wait_response(c, h, 0, &reply), -ENOENT);
        ck_assert_int_eq(call_str(c, "y", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "y");

        /* Errors. */
        gs_reqid e = send_str(c, "error");
        ck_assert_int_eq(gs_wait_response(c, e, GS_DEFAULT_TIMEOUT, &reply), -EREMOTEIO);
        assert_buf(&reply, "nope");

        /* Many in flight, answered in any order of waiting. */
        gs_reqid ids[500];
        for (int i = 0; i < 500; i++) {
                char s[16];
                snprintf(s, sizeof(s), "%d", i);
                ids[i] = send_str(c, s);
        }
        for (int i = 499; i >= 0; i -= 2) {
                char s[16];
                snprintf(s, sizeof(s), "%d", i);
                ck_assert_int_eq(gs_wait_response(c, ids[i], GS_DEFAULT_TIMEOUT, &reply), 0);
                assert_buf(&reply, s);
        }
        for (int i = 0; i < 500; i += 2) {
                char s[16];
                snprintf(s, sizeof(s), "%d", i);
                ck_assert_int_eq(gs_wait_response(c, ids[i], GS_DEFAULT_TIMEOUT, &reply), 0);
                assert_buf(&reply, s);
        }
        /* The fd tells an outside poll loop when to check. */
        gs_reqid p = send_str(c, "polled");
        struct pollfd pfd = { .fd = gs_client_fd(c), .events = POLLIN };
        int rc;
        while ((rc = gs_check_response(c, p, &reply)) == -EAGAIN)
                ck_assert_int_eq(poll(&pfd, 1, -1), 1);
        ck_assert_int_eq(rc, 0);
        assert_buf(&reply, "polled");

        /* Freeing with requests outstanding abandons them. */
        send_str(c, "hold");
        send_str(c, "late");
        gs_buf_done(&reply);
        gs_client_free(c);
}
END_TEST

/* ---- collections ---- */

START_TEST(test_reqids_order) {
        fake_start("a", FAKE_ECHO);
        fake_start("b", FAKE_ECHO);
        gs_client *a = connect_to("a"), *b = connect_to("b");
        gs_reqids *r = NULL;
        gs_buf reply = GS_BUF_INIT;
        void *label = NULL;
        char la1, la2, lb1;

        ck_assert_int_eq(gs_reqids_new(&r), 0);
        ck_assert_uint_eq(gs_reqids_size(r), 0);
        ck_assert_int_eq(gs_reqids_wait(r, 0, true, &reply, &label), -ECHILD);
        ck_assert_int_eq(gs_reqids_check(r, true, &reply, &label), -ECHILD);

        /* a holds its request; b answers: b comes first. */
        ck_assert_int_eq(gs_send_request_to(r, a, "hold", 4, &la1), 0);
        ck_assert_int_eq(gs_send_request_to(r, b, "b1", 2, &lb1), 0);
        ck_assert_uint_eq(gs_reqids_size(r), 2);
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), 0);
        ck_assert_ptr_eq(label, &lb1);
        assert_buf(&reply, "b1");
        ck_assert_uint_eq(gs_reqids_size(r), 1);
        ck_assert_int_eq(gs_reqids_check(r, true, &reply, &label), -EAGAIN);
        ck_assert_int_eq(gs_reqids_wait(r, 10, true, &reply, &label), -ETIMEDOUT);
        ck_assert_uint_eq(gs_reqids_size(r), 1);

        /* A second request to a releases the first: a1, then a2. */
        ck_assert_int_eq(gs_send_request_to(r, a, "a2", 2, &la2), 0);
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), 0);
        ck_assert_ptr_eq(label, &la1);
        assert_buf(&reply, "hold");
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), 0);
        ck_assert_ptr_eq(label, &la2);
        assert_buf(&reply, "a2");
        ck_assert_uint_eq(gs_reqids_size(r), 0);
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), -ECHILD);

        /* Errors come with their label. */
        ck_assert_int_eq(gs_send_request_to(r, b, "error", 5, &lb1), 0);
        ck_assert_int_eq(gs_reqids_receive(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), -EREMOTEIO);
        ck_assert_ptr_eq(label, &lb1);
        assert_buf(&reply, "nope");

        /* Many across both, all answered exactly once. */
        int seen[200] = { 0 };
        for (int i = 0; i < 200; i++) {
                char s[16];
                snprintf(s, sizeof(s), "%d", i);
                ck_assert_int_eq(gs_send_request_to(r, i % 2 ? a : b, s, strlen(s), &seen[i]), 0);
        }
        ck_assert_uint_eq(gs_reqids_size(r), 200);
        for (int i = 0; i < 200; i++) {
                ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), 0);
                int k = (int) ((int *) label - seen);
                ck_assert_int_ge(k, 0);
                ck_assert_int_lt(k, 200);
                ck_assert_int_eq(seen[k], 0);
                seen[k] = 1;
                char s[16];
                snprintf(s, sizeof(s), "%d", k);
                assert_buf(&reply, s);
        }
        ck_assert_uint_eq(gs_reqids_size(r), 0);
        gs_reqids_free(r);
        gs_client_free(a);
        gs_client_free(b);
        gs_buf_done(&reply);
}
END_TEST

START_TEST(test_reqids_add) {
        fake_start("a", FAKE_ECHO);
        gs_client *a = connect_to("a");
        gs_reqids *r = NULL, *r2 = NULL;
        gs_buf reply = GS_BUF_INIT;
        void *label = NULL;
        int l1, l2;

        ck_assert_int_eq(gs_reqids_new(&r), 0);
        ck_assert_int_eq(gs_reqids_new(&r2), 0);
        gs_reqid id = send_str(a, "hold");
        ck_assert_int_eq(gs_reqids_add(r, a, id, &l1), 0);
        ck_assert_int_eq(gs_reqids_add(r, a, id, &l2), -EEXIST);
        ck_assert_int_eq(gs_reqids_add(r2, a, id, &l2), -EBUSY);
        ck_assert_int_eq(gs_reqids_add(r, a, 9999, &l2), -ENOENT);
        ck_assert_uint_eq(gs_reqids_size(r), 1);
        /* receive abandons everything on a timeout. */
        ck_assert_int_eq(gs_reqids_receive(r, 10, true, &reply, &label), -ETIMEDOUT);
        ck_assert_uint_eq(gs_reqids_size(r), 0);
        ck_assert_int_eq(gs_wait_response(a, id, 0, &reply), -ENOENT);
        /* Its late reply is dropped. */
        ck_assert_int_eq(call_str(a, "x", GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "x");

        /* Without delete an answered request stays in, silent. */
        id = send_str(a, "k");
        ck_assert_int_eq(gs_reqids_add(r, a, id, &l1), 0);
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, false, &reply, &label), 0);
        ck_assert_ptr_eq(label, &l1);
        assert_buf(&reply, "k");
        ck_assert_uint_eq(gs_reqids_size(r), 1);
        ck_assert_int_eq(gs_reqids_add(r, a, id, &l1), -EEXIST);
        ck_assert_int_eq(gs_reqids_wait(r, 10, false, &reply, &label), -ETIMEDOUT);
        ck_assert_int_eq(gs_reqids_check(r, false, &reply, &label), -EAGAIN);
        ck_assert_int_eq(gs_wait_response(a, id, 0, &reply), -ENOENT);

        /* A request already answered when added comes out at once. */
        id = send_str(a, "early");
        ck_assert_int_eq(call_str(a, "sync", GS_DEFAULT_TIMEOUT, &reply), 0);
        ck_assert_int_eq(gs_reqids_add(r2, a, id, &l2), 0);
        ck_assert_int_eq(gs_reqids_check(r2, true, &reply, &label), 0);
        ck_assert_ptr_eq(label, &l2);
        assert_buf(&reply, "early");

        /* Taken outside the collection: it leaves the collection. */
        id = send_str(a, "outside");
        ck_assert_int_eq(gs_reqids_add(r2, a, id, &l2), 0);
        ck_assert_int_eq(gs_wait_response(a, id, GS_DEFAULT_TIMEOUT, &reply), 0);
        assert_buf(&reply, "outside");
        ck_assert_uint_eq(gs_reqids_size(r2), 0);

        /* A client freed while its requests are in a collection. */
        id = send_str(a, "hold");
        ck_assert_int_eq(gs_reqids_add(r2, a, id, &l2), 0);
        gs_client_free(a);
        ck_assert_int_eq(gs_reqids_wait(r2, GS_DEFAULT_TIMEOUT, true, &reply, &label), -ECONNRESET);
        ck_assert_ptr_eq(label, &l2);
        ck_assert_uint_eq(gs_reqids_size(r2), 0);

        gs_reqids_free(r);
        gs_reqids_free(r2);
        ck_assert_ptr_null(gs_reqids_free(NULL));
        gs_buf_done(&reply);
}
END_TEST

START_TEST(test_reqids_server_dies) {
        fake_start("a", FAKE_ECHO);
        gs_client *a = connect_to("a");
        gs_reqids *r = NULL;
        gs_buf reply = GS_BUF_INIT;
        void *label = NULL;
        int l1, l2;

        ck_assert_int_eq(gs_reqids_new(&r), 0);
        ck_assert_int_eq(gs_send_request_to(r, a, "hold", 4, &l1), 0);
        ck_assert_int_eq(gs_send_request_to(r, a, "eof", 3, &l2), 0);
        /* The held one is answered before the server goes away. */
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), 0);
        ck_assert_ptr_eq(label, &l1);
        ck_assert_int_eq(gs_reqids_wait(r, GS_DEFAULT_TIMEOUT, true, &reply, &label), -ECONNRESET);
        ck_assert_ptr_eq(label, &l2);
        ck_assert_int_eq(gs_send_request_to(r, a, "x", 1, &l1), -ECONNRESET);
        ck_assert_uint_eq(gs_reqids_size(r), 0);
        gs_reqids_free(r);
        gs_client_free(a);
        gs_buf_done(&reply);
}
END_TEST

/* ---- several servers, stopping ---- */

START_TEST(test_multi_call) {
        char pa[PATH_MAX], pe[PATH_MAX];

        fake_start("a", FAKE_ECHO);
        fake_start("mute", FAKE_MUTE);
        path_of("a", pa);
        path_of("e", pe);
        fake_start("e", FAKE_ECHO);
        const char *names[] = { pa, "mute", "nosuch", "e" };
        gs_multi_result res[4];

        ck_assert_int_eq(gs_multi_call(names, 4, "m", 1, 300, res), 2);
        ck_assert_ptr_eq(res[0].name, names[0]);
        ck_assert_int_eq(res[0].status, 0);
        assert_buf(&res[0].reply, "m");
        ck_assert_str_eq(res[1].name, "mute");
        ck_assert_int_eq(res[1].status, -ETIMEDOUT);
        ck_assert_int_eq(res[2].status, -ENOENT);
        ck_assert_int_eq(res[3].status, 0);
        for (int i = 0; i < 4; i++)
                gs_buf_done(&res[i].reply);

        ck_assert_int_eq(gs_multi_call(names, 1, "error", 5, GS_INFINITY, res), 0);
        ck_assert_int_eq(res[0].status, -EREMOTEIO);
        assert_buf(&res[0].reply, "nope");
        gs_buf_done(&res[0].reply);
        ck_assert_int_eq(gs_multi_call(names, 0, "x", 1, 0, res), 0);
}
END_TEST

START_TEST(test_stop) {
        pid_t a = fake_start("a", FAKE_ECHO);
        pid_t b = fake_start("b", FAKE_ECHO);
        int status;

        ck_assert_int_eq(gs_stop("a", "{shutdown,done}", GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(waitpid(a, &status, 0), a);
        ck_assert_int_eq(WIFEXITED(status), 1);
        ck_assert_int_eq(WEXITSTATUS(status), 42);
        ck_assert_int_eq(gs_stop("b", NULL, GS_INFINITY), 0);
        ck_assert_int_eq(waitpid(b, &status, 0), b);
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        n_fakes = 0;

        fake_start("mute", FAKE_MUTE);
        ck_assert_int_eq(gs_stop("mute", NULL, 50), -ETIMEDOUT);
        ck_assert_int_eq(gs_stop("a", NULL, 50), -ENOENT);
}
END_TEST

/* ---- system requests ---- */

START_TEST(test_sys) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        gs_buf out = GS_BUF_INIT;
        gs_statistics st;

        ck_assert_int_eq(gs_sys_get_state(c, GS_DEFAULT_TIMEOUT, &out), 0);
        assert_buf(&out, "op=0 flag=0 value=0");
        ck_assert_int_eq(gs_sys_trace(c, true, GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(gs_sys_get_state(c, GS_DEFAULT_TIMEOUT, &out), 0);
        assert_buf(&out, "op=5 flag=1 value=0");
        ck_assert_int_eq(gs_sys_hibernate_after(c, 1234, GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(gs_sys_get_state(c, GS_DEFAULT_TIMEOUT, &out), 0);
        assert_buf(&out, "op=7 flag=0 value=1234");
        ck_assert_int_eq(gs_sys_hibernate(c, GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(gs_sys_get_state(c, GS_DEFAULT_TIMEOUT, &out), 0);
        assert_buf(&out, "op=6 flag=0 value=0");
        ck_assert_int_eq(gs_sys_hibernate_after(c, 999, GS_DEFAULT_TIMEOUT), -EINVAL);

        ck_assert_int_eq(gs_cast(c, "x", 1), 0);
        ck_assert_int_eq(gs_sys_suspend(c, GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(gs_sys_statistics(c, GS_DEFAULT_TIMEOUT, &st), 0);
        ck_assert_uint_eq(st.casts, 1);
        ck_assert_uint_eq(st.calls, 0);
        ck_assert_uint_eq(st.replies, 99);
        ck_assert_uint_eq(st.connections, 1);
        ck_assert_int_eq(st.suspended, 1);
        ck_assert_int_eq(gs_sys_resume(c, GS_DEFAULT_TIMEOUT), 0);
        ck_assert_int_eq(gs_sys_statistics(c, GS_DEFAULT_TIMEOUT, &st), 0);
        ck_assert_int_eq(st.suspended, 0);

        /* A sys request's late answer is dropped like a call's. */
        gs_client_free(c);
        fake_start("mute", FAKE_MUTE);
        c = connect_to("mute");
        ck_assert_int_eq(gs_sys_get_state(c, 10, &out), -ETIMEDOUT);
        ck_assert_int_eq(gs_sys_statistics(c, 0, &st), -ETIMEDOUT);
        gs_client_free(c);
        gs_buf_done(&out);
}
END_TEST

/* ---- typed helpers ---- */

START_TEST(test_typed) {
        fake_start("echo", FAKE_ECHO);
        gs_client *c = connect_to("echo");
        Gensup__Statistics req;
        ProtobufCMessage *m = NULL;

        gensup__statistics__init(&req);
        req.calls = 7;
        req.rss_bytes = 1u << 20;
        req.trace = true;
        ck_assert_int_eq(gs_call_msg(c, &req.base, &gensup__statistics__descriptor, GS_DEFAULT_TIMEOUT, &m), 0);
        ck_assert_ptr_nonnull(m);
        Gensup__Statistics *rep = (Gensup__Statistics *) m;
        ck_assert_uint_eq(rep->calls, 7);
        ck_assert_uint_eq(rep->rss_bytes, 1u << 20);
        ck_assert_int_eq(rep->trace, 1);
        protobuf_c_message_free_unpacked(m, NULL);

        /* A reply that is not the message asked for. */
        m = NULL;
        Gensup__Frame fr;
        gensup__frame__init(&fr);
        fr.payload.data = (uint8_t *) "\xff\xff";
        fr.payload.len = 2;
        fr.kind = GENSUP__KIND__CALL;
        ck_assert_int_eq(gs_call(c, "\x08\xff", 2, GS_DEFAULT_TIMEOUT, NULL), 0);
        ck_assert_int_eq(gs_call_msg(c, &fr.base, &gensup__statistics__descriptor, GS_DEFAULT_TIMEOUT, &m),
                         -EBADMSG);
        ck_assert_ptr_null(m);

        size_t packed = gensup__statistics__get_packed_size(&req);
        ck_assert_int_eq(gs_cast_msg(c, &req.base), 0);
        assert_count(c, 1, 0, packed);

        uint8_t buf[64];
        gs_msg msg = { .data = buf, .len = gensup__statistics__pack(&req, buf) };
        m = gs_msg_unpack(&msg, &gensup__statistics__descriptor);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(((Gensup__Statistics *) m)->calls, 7);
        protobuf_c_message_free_unpacked(m, NULL);
        gs_msg bad = { .data = (const uint8_t *) "\xff", .len = 1 };
        ck_assert_ptr_null(gs_msg_unpack(&bad, &gensup__statistics__descriptor));
        gs_client_free(c);
}
END_TEST

Suite *client_suite(void);

Suite *client_suite(void) {
        Suite *s = suite_create("client");
        struct {
                const char *name;
                const TTest *test;
        } cases[] = {
                { "connect_enoent", test_connect_enoent },
                { "call_basic", test_call_basic },
                { "call_too_big", test_call_too_big },
                { "call_late_reply", test_call_late_reply },
                { "call_exit_report", test_call_exit_report },
                { "exit_fails_outstanding", test_exit_fails_outstanding },
                { "call_eof", test_call_eof },
                { "call_self", test_call_self },
                { "garbage", test_garbage },
                { "casts", test_casts },
                { "cast_backpressure", test_cast_backpressure },
                { "batch_order", test_batch_order },
                { "batch_exit", test_batch_exit },
                { "batch_backpressure", test_batch_backpressure },
                { "batch_loop_turn", test_batch_loop_turn },
                { "memfd_client", test_memfd_client },
                { "async", test_async },
                { "reqids_order", test_reqids_order },
                { "reqids_add", test_reqids_add },
                { "reqids_server_dies", test_reqids_server_dies },
                { "multi_call", test_multi_call },
                { "stop", test_stop },
                { "sys", test_sys },
                { "typed", test_typed },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                TCase *tc = tcase_create(cases[i].name);
                tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
                tcase_add_checked_fixture(tc, setup, teardown);
                tcase_set_timeout(tc, 60);
                tcase_add_test(tc, cases[i].test);
                suite_add_tcase(s, tc);
        }
        return s;
}
