/* check_loop.c: libgensup's own event loop (worker/loop.h): the order
 * of timers and priorities, defer and post sources, io switched on and
 * off, sources dropped from callbacks (their own and others'), signals by
 * signalfd, children by pidfd. Every wait is for an event, bounded by the
 * case timeout; nothing depends on how long anything takes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"

Suite *loop_suite(void);

/* What the callbacks saw, in order. */
typedef struct tlog {
        gs__loop *loop;
        int seen[32];
        size_t n;
        int exit_after;         /* exit the loop once this many are seen */
        gs__src *victim;        /* to drop from a callback */
        uint32_t revents;
        int signo;
        siginfo_t si;
} tlog;

static void note(tlog *t, int id) {
        ck_assert_uint_lt(t->n, 32);
        t->seen[t->n++] = id;
        if (t->exit_after && (int) t->n == t->exit_after)
                gs__loop_exit(t->loop, 7);
}

/* Each source's userdata is the log; its id is taken from this table. */
typedef struct tag {
        tlog *log;
        int id;
} tag;

static int on_time(gs__src *src, uint64_t usec, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        return 0;
}

static int on_defer(gs__src *src, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        return 0;
}

static int on_defer_drop_victim(gs__src *src, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        g->log->victim = gs__src_unref(g->log->victim);
        return 0;
}

static int on_io(gs__src *src, int fd, uint32_t revents, void *userdata) {
        tag *g = userdata;
        g->log->revents = revents;
        note(g->log, g->id);
        return 0;
}

static int on_io_drop_self(gs__src *src, int fd, uint32_t revents, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        /* The source is dropped inside its own callback: still valid here,
         * freed when the callback returns. */
        g->log->victim = gs__src_unref(g->log->victim);
        ck_assert_int_eq(gs__src_set_enabled(src, GS__SRC_ON), -EINVAL);
        return 0;
}

static gs__loop *new_loop(tlog *t) {
        gs__loop *l = NULL;
        ck_assert_int_eq(gs__loop_new(&l), 0);
        memset(t, 0, sizeof(*t));
        t->loop = l;
        return l;
}

/* Rounds until the loop exits. */
static void run(gs__loop *l) {
        ck_assert_int_eq(gs__loop_run(l), 7);
}

START_TEST(timer_order_and_cancel) {
        tlog t;
        gs__loop *l = new_loop(&t);
        uint64_t now = gs__loop_clock();
        tag g[4] = { { &t, 1 }, { &t, 2 }, { &t, 3 }, { &t, 4 } };
        gs__src *s[4];

        ck_assert_int_eq(gs__loop_add_time(l, &s[0], now + 30000, on_time, &g[0]), 0);
        ck_assert_int_eq(gs__loop_add_time(l, &s[1], now + 10000, on_time, &g[1]), 0);
        ck_assert_int_eq(gs__loop_add_time(l, &s[2], now + 20000, on_time, &g[2]), 0);
        ck_assert_int_eq(gs__loop_add_time(l, &s[3], now + 5000, on_time, &g[3]), 0);
        /* Cancelled before it is due; another moved later than the rest. */
        s[3] = gs__src_unref(s[3]);
        ck_assert_int_eq(gs__src_set_time(s[1], now + 40000), 0);
        t.exit_after = 3;
        run(l);
        ck_assert_int_eq(t.seen[0], 3);
        ck_assert_int_eq(t.seen[1], 1);
        ck_assert_int_eq(t.seen[2], 2);
        /* One-shot: off once fired, at the time it was set for. */
        int en = 99;
        uint64_t due = 0;
        ck_assert_int_eq(gs__src_get_enabled(s[0], &en), 0);
        ck_assert_int_eq(en, GS__SRC_OFF);
        ck_assert_int_eq(gs__src_get_time(s[1], &due), 0);
        ck_assert_uint_eq(due, now + 40000);
        for (int i = 0; i < 3; i++)
                gs__src_unref(s[i]);
        gs__loop_unref(l);
}
END_TEST

static int on_repeat(gs__src *src, uint64_t usec, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        /* Repeating: ON stays on; the callback sets the next time. */
        ck_assert_int_eq(gs__src_set_time(src, usec + 1000), 0);
        return 0;
}

START_TEST(timer_repeats) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        gs__src *s;

        ck_assert_int_eq(gs__loop_add_time_relative(l, &s, 0, on_repeat, &g), 0);
        ck_assert_int_eq(gs__src_set_enabled(s, GS__SRC_ON), 0);
        t.exit_after = 3;
        run(l);
        ck_assert_uint_eq(t.n, 3);
        gs__src_unref(s);
        gs__loop_unref(l);
}
END_TEST

START_TEST(defer_once_per_round_by_priority) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g[3] = { { &t, 1 }, { &t, 2 }, { &t, 3 } };
        gs__src *normal, *important, *once;

        ck_assert_int_eq(gs__loop_add_defer(l, &normal, on_defer, &g[0]), 0);
        ck_assert_int_eq(gs__loop_add_defer(l, &important, on_defer, &g[1]), 0);
        ck_assert_int_eq(gs__loop_add_defer(l, &once, on_defer, &g[2]), 0);
        ck_assert_int_eq(gs__src_set_priority(important, GS__PRIO_IMPORTANT), 0);
        ck_assert_int_eq(gs__src_set_priority(once, GS__PRIO_IDLE), 0);
        ck_assert_int_eq(gs__src_set_enabled(once, GS__SRC_ONESHOT), 0);
        /* Pending: no round waits. */
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 3);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 2);
        ck_assert_int_eq(gs__src_set_enabled(normal, GS__SRC_OFF), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        int want[] = { 2, 1, 3, 2, 1, 2 };
        ck_assert_uint_eq(t.n, 6);
        for (size_t i = 0; i < 6; i++)
                ck_assert_int_eq(t.seen[i], want[i]);
        gs__src_unref(normal);
        gs__src_unref(important);
        gs__src_unref(once);
        gs__loop_unref(l);
}
END_TEST

START_TEST(post_runs_after_other_sources) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g[2] = { { &t, 1 }, { &t, 2 } };
        gs__src *post, *defer;

        ck_assert_int_eq(gs__loop_add_post(l, &post, on_defer, &g[0]), 0);
        /* Nothing else ran: the post source is not pending. */
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_int_eq(gs__loop_add_defer(l, &defer, on_defer, &g[1]), 0);
        ck_assert_int_eq(gs__src_set_enabled(defer, GS__SRC_ONESHOT), 0);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 2);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_uint_eq(t.n, 2);
        ck_assert_int_eq(t.seen[0], 2);
        ck_assert_int_eq(t.seen[1], 1);
        gs__src_unref(post);
        gs__src_unref(defer);
        gs__loop_unref(l);
}
END_TEST

START_TEST(io_enable_disable_events) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        int sv[2];
        gs__src *s;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(gs__loop_add_io(l, &s, sv[0], EPOLLIN, on_io, &g), 0);
        /* Nothing to read yet. */
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_int_eq(write(sv[1], "x", 1), 1);
        ck_assert_int_eq(gs__src_set_enabled(s, GS__SRC_OFF), 0);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_int_eq(gs__src_set_enabled(s, GS__SRC_ON), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_uint_eq(t.revents & EPOLLIN, EPOLLIN);
        /* Level-triggered: still readable, so again. */
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_int_eq(gs__src_set_io_events(s, EPOLLOUT), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_uint_eq(t.revents & (EPOLLIN | EPOLLOUT), EPOLLOUT);
        /* ONESHOT: once, then off. */
        ck_assert_int_eq(gs__src_set_enabled(s, GS__SRC_ONESHOT), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_uint_eq(t.n, 4);
        gs__src_unref(s);
        gs__loop_unref(l);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

START_TEST(unref_inside_own_callback) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(gs__loop_add_io(l, &t.victim, sv[0], EPOLLIN, on_io_drop_self, &g), 0);
        ck_assert_int_eq(write(sv[1], "x", 1), 1);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_ptr_null(t.victim);
        /* Still readable, but gone from the loop. */
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_uint_eq(t.n, 1);
        /* The loop outlives the owner's reference while... nothing holds it. */
        gs__loop_unref(l);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

START_TEST(unref_of_another_pending_source) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g[2] = { { &t, 1 }, { &t, 2 } };
        gs__src *killer;
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* Both pending in one round: the IMPORTANT one runs first and drops
         * the other, which must then not run. */
        ck_assert_int_eq(gs__loop_add_io(l, &t.victim, sv[0], EPOLLOUT, on_io, &g[1]), 0);
        ck_assert_int_eq(gs__loop_add_defer(l, &killer, on_defer_drop_victim, &g[0]), 0);
        ck_assert_int_eq(gs__src_set_priority(killer, GS__PRIO_IMPORTANT), 0);
        ck_assert_int_eq(gs__src_set_enabled(killer, GS__SRC_ONESHOT), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), 1);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_uint_eq(t.n, 1);
        ck_assert_int_eq(t.seen[0], 1);
        gs__src_unref(killer);
        /* Dropping the loop first is fine too: the source holds it. */
        gs__loop_unref(l);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

static int on_error(gs__src *src, void *userdata) {
        tag *g = userdata;
        note(g->log, g->id);
        return -EIO;
}

START_TEST(callback_error_switches_source_off) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        gs__src *s;
        int en = 99;

        ck_assert_int_eq(gs__loop_add_defer(l, &s, on_error, &g), 0);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 1);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        ck_assert_int_eq(gs__src_get_enabled(s, &en), 0);
        ck_assert_int_eq(en, GS__SRC_OFF);
        gs__src_unref(s);
        gs__loop_unref(l);
}
END_TEST

static int on_signal(gs__src *src, const struct signalfd_siginfo *si, void *userdata) {
        tag *g = userdata;
        g->log->signo = (int) si->ssi_signo;
        note(g->log, g->id);
        return 0;
}

START_TEST(signal_by_signalfd) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        gs__src *s = NULL;
        sigset_t mask, old;

        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR2);
        ck_assert_int_eq(sigprocmask(SIG_UNBLOCK, &mask, &old), 0);
        /* Not blocked: refused, as sd-event does. */
        ck_assert_int_eq(gs__loop_add_signal(l, &s, SIGUSR2, on_signal, &g), -EBUSY);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        ck_assert_int_eq(gs__loop_add_signal(l, &s, SIGUSR2, on_signal, &g), 0);
        ck_assert_int_eq(gs__loop_add_signal(l, &s, SIGUSR2, on_signal, &g), -EBUSY);
        ck_assert_int_eq(raise(SIGUSR2), 0);
        t.exit_after = 1;
        run(l);
        ck_assert_int_eq(t.signo, SIGUSR2);
        gs__src_unref(s);
        gs__loop_unref(l);
        ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

static int on_child(gs__src *src, const siginfo_t *si, void *userdata) {
        tag *g = userdata;
        g->log->si = *si;
        /* Still a zombie: the loop reaps it after this callback. */
        siginfo_t peek = { 0 };
        ck_assert_int_eq(waitid(P_PID, (id_t) si->si_pid, &peek, WEXITED | WNOHANG | WNOWAIT), 0);
        ck_assert_int_eq(peek.si_pid, si->si_pid);
        note(g->log, g->id);
        return 0;
}

START_TEST(child_by_pidfd) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g = { &t, 1 };
        gs__src *s;
        int p[2];

        /* Blocked, for the SIGCHLD fallback where pidfd_open is missing
         * (valgrind 3.19). */
        sigset_t mask, old;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &mask, &old), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char c;
                close(p[1]);
                /* Exits when the test closes its end. */
                (void) read(p[0], &c, 1);
                _exit(7);
        }
        close(p[0]);
        ck_assert_int_eq(gs__loop_add_child(l, &s, pid, WEXITED, on_child, &g), 0);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        close(p[1]);
        t.exit_after = 1;
        run(l);
        ck_assert_int_eq(t.si.si_pid, pid);
        ck_assert_int_eq(t.si.si_code, CLD_EXITED);
        ck_assert_int_eq(t.si.si_status, 7);
        /* Reaped by the loop. */
        ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        gs__src_unref(s);
        gs__loop_unref(l);
        ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

START_TEST(exit_stops_dispatch) {
        tlog t;
        gs__loop *l = new_loop(&t);
        tag g[2] = { { &t, 1 }, { &t, 2 } };
        gs__src *a, *b;

        ck_assert_int_eq(gs__loop_add_defer(l, &a, on_defer, &g[0]), 0);
        ck_assert_int_eq(gs__loop_add_defer(l, &b, on_defer, &g[1]), 0);
        ck_assert_int_eq(gs__src_set_priority(a, GS__PRIO_IMPORTANT), 0);
        t.exit_after = 1;
        run(l);
        /* b was pending in the same round, but the loop had exited. */
        ck_assert_uint_eq(t.n, 1);
        ck_assert_int_eq(t.seen[0], 1);
        ck_assert_int_eq(gs__loop_run_round(l, 0), 0);
        gs__src_unref(a);
        gs__src_unref(b);
        gs__loop_unref(l);
}
END_TEST

/* Many timers, due in a scrambled order, a third cancelled, some moved:
 * the heap hands them out in order of due time. All are due already, so
 * one round dispatches them all. */
typedef struct many {
        uint64_t last;
        int fired;
        bool ordered;
} many;

static int on_many(gs__src *src, uint64_t usec, void *userdata) {
        many *m = userdata;

        if (usec < m->last)
                m->ordered = false;
        m->last = usec;
        m->fired++;
        return 0;
}

START_TEST(timer_heap_many) {
        enum { N = 300 };
        gs__loop *l = NULL;
        gs__src *s[N];
        many m = { .ordered = true };
        uint64_t base = gs__loop_clock() - 10000000u;
        int cancelled = 0;

        ck_assert_int_eq(gs__loop_new(&l), 0);
        for (int i = 0; i < N; i++)
                ck_assert_int_eq(gs__loop_add_time(l, &s[i], base + (uint64_t) ((i * 7919) % 1009) * 10u, on_many, &m), 0);
        for (int i = 0; i < N; i += 3) {
                s[i] = gs__src_unref(s[i]);
                cancelled++;
        }
        for (int i = 1; i < N; i += 5)
                if (s[i])
                        ck_assert_int_eq(gs__src_set_time(s[i], base + (uint64_t) ((i * 104729) % 997) * 7u), 0);
        ck_assert_int_eq(gs__loop_run_round(l, UINT64_MAX), N - cancelled);
        ck_assert_int_eq(m.fired, N - cancelled);
        ck_assert(m.ordered);
        for (int i = 0; i < N; i++)
                gs__src_unref(s[i]);
        gs__loop_unref(l);
}
END_TEST

Suite *loop_suite(void) {
        Suite *s = suite_create("loop");
        TCase *tc = tcase_create("loop");

        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, timer_order_and_cancel);
        tcase_add_test(tc, timer_repeats);
        tcase_add_test(tc, timer_heap_many);
        tcase_add_test(tc, defer_once_per_round_by_priority);
        tcase_add_test(tc, post_runs_after_other_sources);
        tcase_add_test(tc, io_enable_disable_events);
        tcase_add_test(tc, unref_inside_own_callback);
        tcase_add_test(tc, unref_of_another_pending_source);
        tcase_add_test(tc, callback_error_switches_source_off);
        tcase_add_test(tc, signal_by_signalfd);
        tcase_add_test(tc, child_by_pidfd);
        tcase_add_test(tc, exit_stops_dispatch);
        suite_add_tcase(s, tc);
        return s;
}
