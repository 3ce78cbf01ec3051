/* bench.h: what the benchmarks share. Each bench/<name>.c is its own
 * program; this header holds the helpers as static inline functions.
 *
 * - the clock (CLOCK_MONOTONIC), medians, CPU pinning (sched_setaffinity
 *   inside each process, as taskset does);
 * - a gensup echo server built with the public API, run in a forked child
 *   pinned to a CPU: a call echoes its payload, a cast is counted, and a
 *   call with an empty payload answers the cast count (8 bytes), so a
 *   client knows every cast before it has been handled;
 * - raw helpers: blocking write/read of whole buffers, forked children.
 *
 * Every child is killed by pid and reaped; a child that outlives its
 * parent gets SIGKILL (PR_SET_PDEATHSIG). */
#ifndef GENSUP_BENCH_H
#define GENSUP_BENCH_H

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gensup.h"

/* Where the processes run: both on one CPU, or on two different ones. */
typedef enum bench_place {
        PLACE_SAME,
        PLACE_CROSS,
        _PLACE_MAX,
} bench_place;

static const char *const bench_place_name[_PLACE_MAX] = {
        [PLACE_SAME] = "same",
        [PLACE_CROSS] = "cross",
};

static inline int64_t bench_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void bench_die(const char *what, int err) {
        fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
        exit(1);
}

static inline void bench_pin(int cpu) {
        cpu_set_t set;

        if (cpu < 0)
                return;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
                bench_die("sched_setaffinity", errno);
}

/* The CPUs this process may use: the client takes the first, a cross-core
 * server the second. Returns how many there are (at most 2 reported). */
static inline int bench_cpus(int ret_cpu[2]) {
        cpu_set_t set;
        int n = 0;

        if (sched_getaffinity(0, sizeof(set), &set) < 0)
                bench_die("sched_getaffinity", errno);
        for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
                if (CPU_ISSET(i, &set))
                        ret_cpu[n++] = i;
        return n;
}

static inline int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* The median of n values (sorted in place). */
static inline double bench_median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), bench_cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The q-quantile (0..1) of n sorted values. */
static inline double bench_quantile_sorted(const double *v, size_t n, double q) {
        if (n == 0)
                return 0;
        size_t i = (size_t) (q * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

/* min and max of n values. */
static inline void bench_range(const double *v, size_t n, double *ret_min, double *ret_max) {
        double lo = n ? v[0] : 0, hi = lo;

        for (size_t i = 1; i < n; i++) {
                lo = v[i] < lo ? v[i] : lo;
                hi = v[i] > hi ? v[i] : hi;
        }
        *ret_min = lo;
        *ret_max = hi;
}

static inline void bench_write_all(int fd, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        bench_die("write", errno);
                }
                p += n;
                len -= (size_t) n;
        }
}

/* Reads exactly len bytes; false on end of file. */
static inline int bench_read_all(int fd, void *buf, size_t len) {
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        bench_die("read", errno);
                }
                if (n == 0)
                        return 0;
                p += n;
                len -= (size_t) n;
        }
        return 1;
}

/* Forks a child pinned to cpu that runs fn(arg) and exits with its value. */
static inline pid_t bench_fork(int cpu, int (*fn)(void *), void *arg) {
        pid_t parent = getpid();

        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                bench_die("fork", errno);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                bench_pin(cpu);
                _exit(fn(arg));
        }
        return pid;
}

static inline void bench_reap(pid_t pid, bool kill_it) {
        if (pid <= 0)
                return;
        if (kill_it)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* ---- the gensup echo server ---- */

typedef struct bench_echo_state {
        uint64_t casts;
} bench_echo_state;

static inline gs_ret bench_echo_init(gs_server *s, int argc, char **argv, void **ret_state) {
        static bench_echo_state st;

        *ret_state = &st;
        return gs_ret_ok();
}

static inline gs_ret bench_echo_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req,
                                     gs_buf *reply) {
        bench_echo_state *st = state;

        if (req->len == 0) {
                if (gs_buf_set(reply, &st->casts, sizeof(st->casts)) < 0)
                        return gs_ret_stop("enomem");
                return gs_ret_reply();
        }
        if (gs_buf_set(reply, req->data, req->len) < 0)
                return gs_ret_stop("enomem");
        return gs_ret_reply();
}

static inline gs_ret bench_echo_cast(gs_server *s, void *state, const gs_msg *req) {
        bench_echo_state *st = state;

        st->casts++;
        return gs_ret_ok();
}

static const gs_server_ops bench_echo_ops = {
        .init = bench_echo_init,
        .handle_call = bench_echo_call,
        .handle_cast = bench_echo_cast,
};

static inline int bench_echo_main(void *arg) {
        const char *path = arg;
        char name[] = "bench-echo";
        char *argv[] = { name, NULL };
        gs_server_options o = { .name = "bench-echo", .socket_path = path };

        /* Standalone: no supervisor, no inherited control fd. */
        (void) unsetenv("GENSUP_CONTROL_FD");
        (void) unsetenv("LISTEN_FDS");
        return gs_server_main_with(&bench_echo_ops, &o, 1, argv);
}

/* A fresh socket path in a temporary directory (removed by bench_tmp_done). */
static inline char *bench_tmp_path(char *dir, size_t dirlen, const char *name) {
        static char path[256];

        if (!dir[0]) {
                snprintf(dir, dirlen, "/tmp/gs-bench-XXXXXX");
                if (!mkdtemp(dir))
                        bench_die("mkdtemp", errno);
        }
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return path;
}

static inline void bench_tmp_done(const char *dir, const char *path) {
        if (path)
                (void) unlink(path);
        if (dir[0])
                (void) rmdir(dir);
}

/* Starts the echo server on cpu, listening on path; connects a client
 * (retrying until it listens, at most 5 s). */
static inline pid_t bench_echo_start(const char *path, int cpu, gs_client **ret) {
        pid_t pid = bench_fork(cpu, bench_echo_main, (void *) path);

        for (int i = 0; i < 5000; i++) {
                int r = gs_client_connect(path, ret);
                if (r == 0)
                        return pid;
                if (r != -ENOENT)
                        bench_die("gs_client_connect", r);
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
        }
        bench_reap(pid, true);
        bench_die("echo server did not start", ETIMEDOUT);
        return -1;
}

/* Stops the echo server as its supervisor would (SIGTERM) and reaps it. */
static inline void bench_echo_stop(pid_t pid, gs_client *c) {
        gs_client_free(c);
        (void) kill(pid, SIGTERM);
        bench_reap(pid, false);
}

/* -p same|cross|both: which placements to run (a bit per bench_place). */
static inline unsigned bench_parse_places(const char *arg) {
        if (strcmp(arg, "same") == 0)
                return 1u << PLACE_SAME;
        if (strcmp(arg, "cross") == 0)
                return 1u << PLACE_CROSS;
        if (strcmp(arg, "both") == 0)
                return (1u << PLACE_SAME) | (1u << PLACE_CROSS);
        fprintf(stderr, "bench: -p takes same, cross or both\n");
        exit(2);
}

/* Rounds from the command line or BENCH_ROUNDS. */
static inline int bench_rounds(int dflt) {
        const char *e = getenv("BENCH_ROUNDS");
        int n = e ? atoi(e) : 0;
        return n > 0 ? n : dflt;
}

#endif
