/* sup_stop: stopping a tree of N children, gensupd against the floor, in
 * interleaved rounds (issue 9 §2).
 *
 *   sup_stop [-r ROUNDS] [-C process_group|cgroup] BUILD_DIR N...
 *
 * Every child is BUILD_DIR/bench/sup_stamp holding: it blocks SIGTERM,
 * says it is ready, and on SIGTERM appends "D <monotonic ns>" to a stamps
 * file, then dies of the SIGTERM. The same probe runs under both:
 *
 *   floor    this program starts the N probes as gensupd does
 *            (clone(CLONE_VM|CLONE_VFORK) + exec, a 1-byte READY on fd 3),
 *            then stops them as a one_for_one supervisor does: newest
 *            first, each one SIGTERM, then waitpid() for it, then the
 *            next. No event loop, no bookkeeping.
 *   gensupd  a one_for_one tree of the same N probes (ready = "notify"),
 *            stopped by SIGTERM to gensupd once its READY=1 came.
 *
 * Measured per run: the stop's wall time (floor: first kill to last reap;
 * gensupd: its SIGTERM to its exit), the gap between consecutive D stamps
 * (one child's stop cycle: reap, bookkeeping, next kill, the child's
 * wakeup; median and p99), and the CPU the stopping process spent
 * (floor: CLOCK_PROCESS_CPUTIME_ID; gensupd: /proc/PID/schedstat, read
 * before the SIGTERM and on the zombie), per exit.
 *
 * Raise the fd limit (ulimit -n) and kernel.pid_max as needed for large N:
 * the floor holds no fd per child, gensupd four (gensupd(8)). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "sup_bench.h"

#define MAX_SIZES 16
#define MAX_ROUNDS 64

typedef struct run {
        double wall_ms;
        double gap_med_us, gap_p99_us;
        double cpu_us_per_exit;
} run;

static const char *build_dir, *containment;
static char work[4096];

static int64_t now_ns(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void die(const char *what) {
        fprintf(stderr, "sup_stop: %s: %s\n", what, strerror(errno));
        exit(1);
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* The p-quantile of n values (sorted in place). */
static double pct(double *v, size_t n, double p) {
        qsort(v, n, sizeof(*v), bench_cmp_double);
        return bench_quantile_sorted(v, n, p);
}

/* The D stamps of a run's stamps file: the gaps between consecutive ones. */
static void gaps(const char *path, size_t n, run *ret) {
        FILE *f = fopen(path, "re");
        if (!f)
                die(path);
        int64_t *d = calloc(n + 1, sizeof(*d));
        size_t k = 0;
        char line[256];
        while (fgets(line, sizeof(line), f))
                if (line[0] == 'D' && k <= n)
                        d[k++] = strtoll(line + 2, NULL, 10);
        fclose(f);
        if (k < 2) {
                fprintf(stderr, "sup_stop: %s: %zu D stamps\n", path, k);
                exit(1);
        }
        qsort(d, k, sizeof(*d), cmp_i64);
        double *g = calloc(k - 1, sizeof(*g));
        for (size_t i = 1; i < k; i++)
                g[i - 1] = (double) (d[i] - d[i - 1]) / 1e3;
        ret->gap_med_us = pct(g, k - 1, 0.5);
        ret->gap_p99_us = pct(g, k - 1, 0.99);
        free(g);
        free(d);
}

/* ---- the floor ---- */

typedef struct child_args {
        int fd;
        char **argv;
} child_args;

static int child_main(void *arg) {
        child_args *a = arg;
        /* Not measured: the probes must not outlive an interrupted run. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (a->fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(a->fd, 3) < 0)
                _exit(127);
        execv(a->argv[0], a->argv);
        _exit(127);
}

static pid_t spawn_probe(char **argv) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair");
        child_args a = { sv[1], argv };
        pid_t pid = clone(child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        if (pid < 0)
                die("clone");
        close(sv[1]);
        char c;
        if (read(sv[0], &c, 1) != 1)
                die("probe READY");
        close(sv[0]);
        return pid;
}

static run run_floor(size_t n, int round) {
        char stamps[4200], probe[4200];
        snprintf(stamps, sizeof(stamps), "%s/floor-%zu-%d", work, n, round);
        snprintf(probe, sizeof(probe), "%s/bench/sup_stamp", build_dir);
        char *argv[] = { probe, "0", "hold", "fd:3", stamps, NULL };
        pid_t *pids = calloc(n, sizeof(*pids));
        for (size_t i = 0; i < n; i++)
                pids[i] = spawn_probe(argv);

        run r = { 0 };
        int64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns(CLOCK_MONOTONIC);
        for (size_t i = n; i-- > 0;) {
                kill(pids[i], SIGTERM);
                while (waitpid(pids[i], NULL, 0) < 0)
                        if (errno != EINTR)
                                die("waitpid");
        }
        r.wall_ms = (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
        r.cpu_us_per_exit = (double) (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e3 / (double) n;
        free(pids);
        gaps(stamps, n, &r);
        unlink(stamps);
        return r;
}

/* ---- gensupd ---- */

static int64_t schedstat_ns(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int) pid);
        int64_t ns = bench_schedstat_ns(path);
        if (ns < 0)
                die(path);
        return ns;
}

static void write_config(const char *path, const char *dir, const char *stamps, size_t n) {
        FILE *f = fopen(path, "we");
        if (!f)
                die(path);
        fprintf(f, "runtime_dir = \"%s/run\";\n"
                   "supervisor = { name = \"root\"; strategy = \"one_for_one\"; intensity = 1000000; period = 1;\n"
                   "  children = (\n", dir);
        for (size_t i = 1; i <= n; i++)
                fprintf(f, "    { name = \"c%zu\"; ready = \"notify\"; exec = [\"%s/bench/sup_stamp\", \"0\", "
                           "\"hold\", \"notify\", \"%s\"]; }%s\n", i, build_dir, stamps, i < n ? "," : "");
        fprintf(f, "  );\n};\n");
        if (fclose(f) != 0)
                die(path);
}

static run run_gensupd(size_t n, int round) {
        char dir[4200], conf[4300], stamps[4300], log[4300], notify[4300];
        snprintf(dir, sizeof(dir), "%s/g-%zu-%d", work, n, round);
        snprintf(conf, sizeof(conf), "%s/g.conf", dir);
        snprintf(stamps, sizeof(stamps), "%s/stamps", dir);
        snprintf(log, sizeof(log), "%s/log", dir);
        snprintf(notify, sizeof(notify), "%s/n.sock", dir);
        char run_dir[4300];
        snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
        if (mkdir(dir, 0700) < 0 || mkdir(run_dir, 0700) < 0)
                die(dir);
        write_config(conf, dir, stamps, n);
        pid_t g = bench_gensupd_up(build_dir, conf, log, notify, containment);

        run r = { 0 };
        int64_t c0 = schedstat_ns(g), t0 = now_ns(CLOCK_MONOTONIC);
        kill(g, SIGTERM);
        siginfo_t si;
        while (waitid(P_PID, (id_t) g, &si, WEXITED | WNOWAIT) < 0)
                if (errno != EINTR)
                        die("waitid");
        r.wall_ms = (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
        r.cpu_us_per_exit = (double) (schedstat_ns(g) - c0) / 1e3 / (double) n;
        int status;
        waitpid(g, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "sup_stop: gensupd ended with status %#x (see %s)\n", status, log);
        gaps(stamps, n, &r);
        char cmd[8800];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (status == 0 && system(cmd) != 0)
                fprintf(stderr, "sup_stop: could not remove %s\n", dir);
        return r;
}

/* ---- the table ---- */

static double median_of(const run *v, int k, size_t field) {
        double x[MAX_ROUNDS];
        for (int i = 0; i < k; i++)
                x[i] = *(const double *) ((const char *) &v[i] + field);
        return pct(x, (size_t) k, 0.5);
}

static void print_size(size_t n, const run *fl, const run *gs, int k) {
        double ratio[MAX_ROUNDS];
        for (int i = 0; i < k; i++)
                ratio[i] = gs[i].wall_ms / fl[i].wall_ms;
        double lo = pct(ratio, (size_t) k, 0), hi = pct(ratio, (size_t) k, 1);
        double rmed = pct(ratio, (size_t) k, 0.5);
        printf("%7zu %10.1f %10.1f %6.2fx [%4.2f-%4.2f] %8.1f %8.1f %8.1f %8.1f %6.2fx %6.2fx %8.1f %8.1f\n", n,
               median_of(fl, k, offsetof(run, wall_ms)), median_of(gs, k, offsetof(run, wall_ms)), rmed, lo, hi,
               median_of(fl, k, offsetof(run, gap_med_us)), median_of(fl, k, offsetof(run, gap_p99_us)),
               median_of(gs, k, offsetof(run, gap_med_us)), median_of(gs, k, offsetof(run, gap_p99_us)),
               median_of(gs, k, offsetof(run, gap_med_us)) / median_of(fl, k, offsetof(run, gap_med_us)),
               median_of(gs, k, offsetof(run, gap_p99_us)) / median_of(fl, k, offsetof(run, gap_p99_us)),
               median_of(fl, k, offsetof(run, cpu_us_per_exit)), median_of(gs, k, offsetof(run, cpu_us_per_exit)));
        fflush(stdout);
}

int main(int argc, char **argv) {
        int rounds = 3, opt;
        while ((opt = getopt(argc, argv, "r:C:")) >= 0) {
                if (opt == 'r')
                        rounds = atoi(optarg);
                else if (opt == 'C')
                        containment = optarg;
                else
                        goto usage;
        }
        if (argc - optind < 2 || rounds < 1 || rounds > MAX_ROUNDS || argc - optind - 1 > MAX_SIZES) {
usage:
                fprintf(stderr, "usage: sup_stop [-r ROUNDS] [-C process_group|cgroup] BUILD_DIR N...\n");
                return 2;
        }
        build_dir = realpath(argv[optind], NULL);
        if (!build_dir)
                die(argv[optind]);
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(work, sizeof(work), "%s/sup-stop.XXXXXX", tmp);
        if (!mkdtemp(work))
                die("mkdtemp");

        char load[64] = "?";
        FILE *lf = fopen("/proc/loadavg", "re");
        if (lf) {
                if (!fgets(load, 15, lf))
                        snprintf(load, sizeof(load), "?");
                fclose(lf);
        }
        printf("stopping a one_for_one tree of N sup_stamp children (SIGTERM, newest first), %d rounds, "
               "containment %s; load %s\n", rounds, containment ? containment : "default", load);
        printf("%7s %10s %10s %19s %17s %17s %15s %17s\n", "N", "floor ms", "gensupd ms", "gs/floor (range)",
               "floor gap med/p99", "gensupd gap med/p99", "gap ratio m/p99", "CPU us/exit fl/gs");
        for (int s = optind + 1; s < argc; s++) {
                size_t n = (size_t) strtoul(argv[s], NULL, 10);
                run fl[MAX_ROUNDS], gs[MAX_ROUNDS];
                for (int i = 0; i < rounds; i++) {
                        if (i % 2 == 0) {
                                fl[i] = run_floor(n, i);
                                gs[i] = run_gensupd(n, i);
                        } else {
                                gs[i] = run_gensupd(n, i);
                                fl[i] = run_floor(n, i);
                        }
                }
                print_size(n, fl, gs, rounds);
        }
        rmdir(work);
        return 0;
}
