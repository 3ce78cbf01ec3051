/* sup_status_load: restart latency of a large tree with and without status
 * traffic (issue 9 §3: "with 9,000 children and 20 status/s, restart
 * latency p99 <= 1.2x that with no status traffic").
 *
 *   sup_status_load [-n CHILDREN] [-r ROUNDS] [-s SAMPLES] [-q RATE] BUILD_DIR
 *
 * One gensupd with CHILDREN children (default 9,000; fewer when the fd
 * limit cannot hold them: the line "children:" says what stopped it), all
 * bench/sup_stamp holding, the last one the victim. In ROUNDS interleaved
 * rounds, each phase in turn (which goes first alternates):
 *   quiet   no control traffic;
 *   status  another process asks gensupd for `status` RATE times a
 *           second (default 20), each time on a new connection, as
 *           gensupctl does, without gensupctl's own start-up (a process
 *           spawned 20 times a second would compete for the CPUs with the
 *           restarted child): one every 1/RATE s while fewer than 8 are in
 *           flight; each one's time from sending to the whole answer is
 *           recorded;
 * and in each phase SAMPLES times: SIGKILL to the victim, then its
 * successor's first stamp ("S" line, CLOCK_MONOTONIC, first thing in its
 * main()), one kill every 50 ms. Prints restart p50/p99 per phase and the
 * status/quiet ratios, status latency, the status rate achieved, and
 * gensupd's CPU per phase (and its sampler thread's), with the load average.
 * GENSUPD=path runs another gensupd (an older build, to compare). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "sup_bench.h"

#define MAX_SAMPLES 100000
#define FDS_PER_CHILD 4      /* two output pipes, a pidfd, a cgroup fd: gensupd(8) */
#define FDS_SPARE 500        /* gensupd's own, the control connections */
#define KILL_EVERY_NS (50u * 1000u * 1000u)
#define MAX_INFLIGHT 8

static const char *build_dir;
static char work[256];

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void nap_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / 1000000000u), .tv_nsec = (long) (ns % 1000000000u) };
        nanosleep(&ts, NULL);
}

static void die(const char *what) {
        fprintf(stderr, "sup_status_load: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* Forks argv with stdout and stderr as given (-1: unchanged). */
static pid_t spawn(char *const argv[], int out, int err) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (out >= 0)
                        dup2(out, 1);
                if (err >= 0)
                        dup2(err, 2);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void stop(pid_t pid, int wait_s) {
        if (pid <= 0)
                return;
        kill(pid, SIGTERM);
        for (int i = 0; i < wait_s * 100; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return;
                nap_ns(10u * 1000u * 1000u);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* ---- the victim's stamps ---- */

/* ---- gensupd and its tree ---- */

typedef struct tree {
        pid_t gensupd;
        char stamps[400], control[400];
} tree;

static void write_conf(const char *path, const char *rundir, const char *stamps, int n) {
        FILE *f = fopen(path, "we");
        if (!f)
                die(path);
        fprintf(f, "runtime_dir = \"%s\";\nsupervisor = { name = \"bench\"; intensity = 1000000; period = 1;"
                   " children = (\n", rundir);
        for (int i = 1; i < n; i++)
                fprintf(f, "  { name = \"w%05d\"; ready = \"exec\"; exec = [\"%s/bench/sup_stamp\", \"0\", \"hold\","
                           " \"none\", \"-\"]; },\n", i, build_dir);
        fprintf(f, "  { name = \"victim\"; ready = \"exec\"; shutdown = \"brutal_kill\";\n"
                   "    exec = [\"%s/bench/sup_stamp\", \"0\", \"hold\", \"none\", \"%s\"]; }\n); };\n",
                build_dir, stamps);
        fclose(f);
}

static void tree_start(tree *t, int n) {
        char rundir[330], conf[330], log[330];
        snprintf(rundir, sizeof(rundir), "%s/run", work);
        snprintf(conf, sizeof(conf), "%s/g.conf", work);
        snprintf(log, sizeof(log), "%s/gensupd.log", work);
        snprintf(t->stamps, sizeof(t->stamps), "%s/stamps", work);
        snprintf(t->control, sizeof(t->control), "%s/control.sock", rundir);
        if (mkdir(rundir, 0755) < 0)
                die(rundir);
        write_conf(conf, rundir, t->stamps, n);
        const char *env_gensupd = getenv("GENSUPD");
        char gensupd[300];
        snprintf(gensupd, sizeof(gensupd), "%s/bin/gensupd", build_dir);
        int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (logfd < 0)
                die(log);
        uint64_t t0 = mono_ns();
        t->gensupd = spawn((char *[]) { env_gensupd ? (char *) env_gensupd : gensupd, (char *) "-c", conf,
                                        (char *) "--log-stderr", NULL },
                           -1, logfd);
        close(logfd);
        /* The victim is the last child: once it stamps, all have started. */
        uint64_t ns;
        pid_t pid;
        if (bench_wait_start(t->stamps, 0, 1800, &ns, &pid) < 0) {
                errno = ETIMEDOUT;
                die("the tree did not start (see gensupd.log in the work directory)");
        }
        printf("tree: %d children started in %.1f s\n", n, (double) (mono_ns() - t0) / 1e9);
}

static long fd_count(pid_t pid) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", (int) pid);
        FILE *p = popen(cmd, "r");
        long n = -1;
        if (p && fscanf(p, "%ld", &n) != 1)
                n = -1;
        if (p)
                pclose(p);
        return n;
}

/* CPU time of gensupd's sampler thread ("gensupd-sampler": it reads the
 * cgroup figures off the loop), from its schedstat (ns on a CPU, the
 * first field); 0 while it has not started. */
static uint64_t sampler_cpu_ns(pid_t pid) {
        char path[320], comm[64];
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        uint64_t ns = 0;
        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int) pid, de->d_name);
                FILE *f = fopen(path, "re");
                bool named = f && fgets(comm, sizeof(comm), f) && strcmp(comm, "gensupd-sampler\n") == 0;
                if (f)
                        fclose(f);
                if (!named)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
                int64_t run = bench_schedstat_ns(path);
                if (run > 0)
                        ns += (uint64_t) run;
        }
        closedir(d);
        return ns;
}

/* ---- series ---- */

typedef struct series {
        uint64_t *v;
        size_t n;
} series;

static void add(series *s, uint64_t v) {
        if (s->n < MAX_SAMPLES)
                s->v[s->n++] = v;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static double quantile(series *s, double q) {
        if (s->n == 0)
                return 0;
        qsort(s->v, s->n, sizeof(uint64_t), cmp_u64);
        size_t i = (size_t) (q * (double) (s->n - 1) + 0.5);
        return (double) s->v[i] / 1e6;
}

/* ---- the status traffic: another process ---- */

static volatile sig_atomic_t loader_stopping;

static void on_loader_term(int sig) {
        (void) sig;
        loader_stopping = 1;
}

/* One status request in flight on its own connection, as gensupctl
 * makes one (connect, CTL "status", read the answer). */
typedef struct slot {
        ipc_conn *c;
        uint64_t started;
} slot;

static void slot_start(slot *sl, const char *control, uint64_t now) {
        int fd = ipc_connect(control);
        if (fd < 0 || ipc_conn_new(fd, 0, &sl->c) < 0) {
                if (fd >= 0)
                        close(fd);
                sl->c = NULL;
                return;
        }
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        req.command = (char *) "status";
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, 1);
        f.ctl = &req;
        if (ipc_conn_queue(sl->c, &f) < 0 || ipc_conn_flush(sl->c) < 0)
                sl->c = ipc_conn_free(sl->c);
        sl->started = now;
}

/* Reads what came; 1 when the answer is whole (ok), -1 on a failure, 0
 * while more is to come. */
static int slot_read(slot *sl) {
        int r = ipc_conn_read(sl->c);
        if (r < 0 && r != -EAGAIN)
                return -1;
        ipc_frame *f = NULL;
        r = ipc_conn_next(sl->c, &f);
        if (r <= 0)
                return r < 0 ? -1 : 0;
        bool ok = f->kind == GENSUP__KIND__CTL_REPLY && f->ctl_reply && f->ctl_reply->code == 0 &&
                  f->ctl_reply->json && f->ctl_reply->json[0] == '{';
        ipc_frame_free(f);
        return ok ? 1 : -1;
}

/* Asks for status rate times a second (at most MAX_INFLIGHT at once) until
 * SIGTERM, then waits for those in flight; writes each one's send-to-answer
 * ns to out_path, one a line. */
static _Noreturn void loader(const tree *t, double rate, const char *out_path) {
        signal(SIGTERM, on_loader_term);
        FILE *out = fopen(out_path, "we");
        if (!out)
                die(out_path);
        slot slots[MAX_INFLIGHT] = { 0 };
        uint64_t period = (uint64_t) (1e9 / rate), next = mono_ns();
        unsigned long skipped = 0, failed = 0;
        for (;;) {
                struct pollfd pf[MAX_INFLIGHT];
                int n = 0, at[MAX_INFLIGHT];
                for (int k = 0; k < MAX_INFLIGHT; k++)
                        if (slots[k].c) {
                                pf[n] = (struct pollfd) { .fd = ipc_conn_fd(slots[k].c), .events = POLLIN };
                                at[n++] = k;
                        }
                if (loader_stopping && n == 0)
                        break;
                (void) poll(pf, (nfds_t) n, 1);
                for (int i = 0; i < n; i++) {
                        slot *sl = &slots[at[i]];
                        int r = pf[i].revents ? slot_read(sl) : 0;
                        if (r > 0)
                                fprintf(out, "%llu\n", (unsigned long long) (mono_ns() - sl->started));
                        failed += r < 0;
                        if (r != 0)
                                sl->c = ipc_conn_free(sl->c);
                }
                uint64_t now = mono_ns();
                if (!loader_stopping && now >= next) {
                        int k = 0;
                        while (k < MAX_INFLIGHT && slots[k].c)
                                k++;
                        if (k < MAX_INFLIGHT) {
                                slot_start(&slots[k], t->control, now);
                                failed += !slots[k].c;
                        } else
                                skipped++;
                        next += period;
                }
        }
        fprintf(out, "skipped %lu failed %lu\n", skipped, failed);
        fclose(out);
        _exit(0);
}

static pid_t loader_start(const tree *t, double rate, const char *out_path) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                loader(t, rate, out_path);
        }
        return pid;
}

/* Stops the loader and adds what it measured. */
static void loader_end(pid_t pid, const char *out_path, series *st, unsigned long *skipped, unsigned long *failed) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        FILE *f = fopen(out_path, "re");
        if (!f)
                return;
        char line[128];
        while (fgets(line, sizeof(line), f)) {
                unsigned long long ns;
                unsigned long s, fl;
                if (sscanf(line, "skipped %lu failed %lu", &s, &fl) == 2) {
                        *skipped += s;
                        *failed += fl;
                } else if (sscanf(line, "%llu", &ns) == 1)
                        add(st, ns);
        }
        fclose(f);
}

/* ---- restarts ---- */

/* Kills the victim and times its successor's first stamp; *ret_kill is
 * when it was killed. */
static int time_restart(const tree *t, uint64_t *ret, uint64_t *ret_kill) {
        uint64_t ns;
        pid_t pid, npid;
        if (bench_last_start(t->stamps, &ns, &pid) < 0)
                return -1;
        uint64_t t0 = mono_ns();
        *ret_kill = t0;
        if (kill(pid, SIGKILL) < 0)
                return -1;
        if (bench_wait_start(t->stamps, pid, 60, &ns, &npid) < 0)
                return -1;
        *ret = ns - t0;
        return 0;
}

/* ---- main ---- */

/* As many children as the fd limit allows, at most want. */
static int fit_children(int want) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                die("getrlimit");
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        long fit = rl.rlim_max == RLIM_INFINITY ? want : ((long) rl.rlim_max - FDS_SPARE) / FDS_PER_CHILD;
        if (fit >= want) {
                printf("children: %d (RLIMIT_NOFILE hard %llu)\n", want, (unsigned long long) rl.rlim_max);
                return want;
        }
        printf("children: %ld, not %d: RLIMIT_NOFILE's hard limit is %llu, gensupd holds %d fds per child "
               "(gensupd(8)), and raising the limit needs CAP_SYS_RESOURCE\n",
               fit, want, (unsigned long long) rl.rlim_max, FDS_PER_CHILD);
        return (int) fit;
}

static void usage(void) {
        fprintf(stderr, "usage: sup_status_load [-n CHILDREN] [-r ROUNDS] [-s SAMPLES] [-q RATE] BUILD_DIR\n");
        exit(2);
}

static void report(series rs[2], series *st, double cpu[2], double sampler[2], double wall[2],
                   unsigned long skipped, unsigned long failed, double rate) {
        double qm = quantile(&rs[0], 0.5), qp = quantile(&rs[0], 0.99);
        double bm = quantile(&rs[1], 0.5), bp = quantile(&rs[1], 0.99);
        printf("%-28s %8s %10s %10s %10s\n", "restart (kill -> S), ms", "n", "median", "p99", "max");
        printf("%-28s %8zu %10.3f %10.3f %10.3f\n", "quiet", rs[0].n, qm, qp, quantile(&rs[0], 1.0));
        printf("%-28s %8zu %10.3f %10.3f %10.3f\n", "with status traffic", rs[1].n, bm, bp, quantile(&rs[1], 1.0));
        printf("status / quiet: median %.2fx, p99 %.2fx  (target p99 <= 1.2x)\n", qm > 0 ? bm / qm : 0,
               qp > 0 ? bp / qp : 0);
        printf("status (request sent -> whole answer read): n %zu, median %.1f ms, p99 %.1f ms, max %.1f ms;"
               " %.1f/s achieved of %.0f/s asked (%lu not started: %d already running; %lu failed)\n",
               st->n, quantile(st, 0.5), quantile(st, 0.99), quantile(st, 1.0),
               wall[1] > 0 ? (double) st->n / (wall[1] / 1e9) : 0, rate, skipped, MAX_INFLIGHT, failed);
        printf("gensupd CPU: quiet %.1f%%, with status traffic %.1f%% of one CPU"
               " (of which the sampler thread %.1f%%, %.1f%%)\n",
               wall[0] > 0 ? 100 * cpu[0] / wall[0] : 0, wall[1] > 0 ? 100 * cpu[1] / wall[1] : 0,
               wall[0] > 0 ? 100 * sampler[0] / wall[0] : 0, wall[1] > 0 ? 100 * sampler[1] / wall[1] : 0);
        FILE *la = fopen("/proc/loadavg", "re");
        char line[128];
        if (la && fgets(line, sizeof(line), la))
                printf("load average: %s", line);
        if (la)
                fclose(la);
}

int main(int argc, char **argv) {
        int want = 9000, rounds = 3, samples = 100, opt;
        double rate = 20;
        while ((opt = getopt(argc, argv, "n:r:s:q:")) != -1)
                switch (opt) {
                case 'n': want = atoi(optarg); break;
                case 'r': rounds = atoi(optarg); break;
                case 's': samples = atoi(optarg); break;
                case 'q': rate = atof(optarg); break;
                default: usage();
                }
        if (optind + 1 != argc || want < 1 || rounds < 1 || samples < 1 || samples > MAX_SAMPLES || rate <= 0)
                usage();
        build_dir = realpath(argv[optind], NULL);   /* the config names programs by absolute path */
        if (!build_dir)
                die(argv[optind]);
        snprintf(work, sizeof(work), "%s/sup-status-load.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(work))
                die("mkdtemp");
        signal(SIGPIPE, SIG_IGN);
        printf("sup_status_load: restart latency with and without %.0f status/s, %d interleaved rounds x %d restarts\n",
               rate, rounds, samples);
        int n = fit_children(want);
        tree t;
        tree_start(&t, n);
        printf("gensupd holds %ld fds\n", fd_count(t.gensupd));

        series rs[2], st = { calloc(MAX_SAMPLES, sizeof(uint64_t)), 0 };
        for (int k = 0; k < 2; k++)
                rs[k] = (series) { calloc(MAX_SAMPLES, sizeof(uint64_t)), 0 };
        double cpu[2] = { 0, 0 }, sampler[2] = { 0, 0 }, wall[2] = { 0, 0 };
        unsigned long skipped = 0, failed = 0;
        char out_path[330];
        snprintf(out_path, sizeof(out_path), "%s/status.times", work);
        for (int round = 0; round < rounds; round++)
                for (int k = 0; k < 2; k++) {
                        bool busy = (k + round) % 2;   /* which goes first alternates */
                        pid_t ld = busy ? loader_start(&t, rate, out_path) : 0;
                        uint64_t c0 = bench_proc_cpu_ns(t.gensupd), s0 = sampler_cpu_ns(t.gensupd), w0 = mono_ns();
                        for (int i = 0; i < samples; i++) {
                                uint64_t v, killed = mono_ns();
                                if (time_restart(&t, &v, &killed) == 0)
                                        add(&rs[busy], v);
                                else
                                        fprintf(stderr, "sup_status_load: a restart was not seen\n");
                                uint64_t now = mono_ns();
                                if (now < killed + KILL_EVERY_NS)
                                        nap_ns(killed + KILL_EVERY_NS - now);
                        }
                        cpu[busy] += (double) (bench_proc_cpu_ns(t.gensupd) - c0);
                        sampler[busy] += (double) (sampler_cpu_ns(t.gensupd) - s0);
                        wall[busy] += (double) (mono_ns() - w0);
                        if (busy)
                                loader_end(ld, out_path, &st, &skipped, &failed);
                }
        stop(t.gensupd, 600);
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
        if (system(cmd) != 0)
                fprintf(stderr, "sup_status_load: could not remove %s\n", work);
        report(rs, &st, cpu, sampler, wall, skipped, failed, rate);
        free(st.v);
        for (int k = 0; k < 2; k++)
                free(rs[k].v);
        return 0;
}
