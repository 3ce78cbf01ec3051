/* sup_chatty: supervision latency with a child that writes without pause.
 *
 *   sup_chatty BUILD_DIR [ROUNDS [SAMPLES]]
 *
 * Interleaved rounds, each with a fresh gensupd (stderr a pipe drained by
 * `cat > /dev/null`, as a terminal or a log collector would read it):
 *   quiet   one child, "victim" (bench/sup_stamp holding);
 *   chatty  the same, plus a child running `yes` (at its default
 *           output_limit).
 * In each round, SAMPLES times:
 *   status   `gensupctl --json status`, spawn to exit;
 *   restart  SIGKILL to the victim -> the new victim's first stamp ("S"
 *            line, CLOCK_MONOTONIC, written as the first thing in main).
 * and gensupd's CPU time over the round (utime + stime from /proc).
 * Prints median and p99 per measure and setting, and chatty/quiet ratios.
 * GENSUPD=path runs another gensupd (an older build, to compare).
 *
 * The machine may be busy: the ratios, measured side by side, mean more
 * than the absolute figures. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup_bench.h"

#define MAX_SAMPLES 100000

static const char *build_dir;
static char work[256];

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void nap_us(long us) {
        struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
}

static void die(const char *what) {
        fprintf(stderr, "sup_chatty: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* Forks argv with stdin, stdout, stderr as given (-1: unchanged). */
static pid_t spawn(char *const argv[], int in, int out, int err) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (in >= 0)
                        dup2(in, 0);
                if (out >= 0)
                        dup2(out, 1);
                if (err >= 0)
                        dup2(err, 2);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void stop(pid_t pid) {
        if (pid <= 0)
                return;
        kill(pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return;
                nap_us(10000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* ---- the victim's stamps ---- */

/* ---- gensupd ---- */

typedef struct run {
        pid_t gensupd, drain;
        char stamps[400], control[400];
} run;

static void write_conf(const char *path, const char *rundir, const char *stamps, bool chatty) {
        FILE *f = fopen(path, "we");
        if (!f)
                die(path);
        fprintf(f,
                "runtime_dir = \"%s\";\n"
                "supervisor = { name = \"bench\"; intensity = 1000000; period = 1; children = (\n"
                "  { name = \"victim\"; ready = \"exec\"; shutdown = \"brutal_kill\";\n"
                "    exec = [\"%s/bench/sup_stamp\", \"0\", \"hold\", \"none\", \"%s\"]; }%s\n"
                "%s"
                "); };\n",
                rundir, build_dir, stamps, chatty ? "," : "",
                chatty ? "  { name = \"chatty\"; ready = \"exec\"; shutdown = \"brutal_kill\";"
                         " exec = [\"/usr/bin/yes\", \"chatter\"]; }\n"
                       : "");
        fclose(f);
}

static void run_start(run *r, int round, bool chatty) {
        char dir[300], rundir[330], conf[330];
        snprintf(dir, sizeof(dir), "%s/%s.%d", work, chatty ? "chatty" : "quiet", round);
        snprintf(rundir, sizeof(rundir), "%s/run", dir);
        snprintf(conf, sizeof(conf), "%s/g.conf", dir);
        snprintf(r->stamps, sizeof(r->stamps), "%s/stamps", dir);
        snprintf(r->control, sizeof(r->control), "%s/control.sock", rundir);
        if (mkdir(dir, 0755) < 0 || mkdir(rundir, 0755) < 0)
                die(dir);
        write_conf(conf, rundir, r->stamps, chatty);

        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe");
        const char *env_gensupd = getenv("GENSUPD");
        char gensupd[300];
        snprintf(gensupd, sizeof(gensupd), "%s/bin/gensupd", build_dir);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        r->drain = spawn((char *[]) { (char *) "/bin/cat", NULL }, p[0], null, -1);
        r->gensupd = spawn((char *[]) { env_gensupd ? (char *) env_gensupd : gensupd, (char *) "-c", conf,
                                        (char *) "--log-stderr", NULL },
                           -1, -1, p[1]);
        close(p[0]);
        close(p[1]);
        close(null);
        uint64_t ns;
        pid_t pid;
        if (bench_wait_start(r->stamps, 0, 10, &ns, &pid) < 0)
                die("the victim never started");
        /* Let the chatty child get going before measuring. */
        nap_us(200000);
}

static void run_stop(run *r) {
        stop(r->gensupd);
        stop(r->drain);
}

/* ---- measures ---- */

typedef struct series {
        uint64_t *v;
        size_t n;
} series;

static void add(series *s, uint64_t v) {
        if (s->n < MAX_SAMPLES)
                s->v[s->n++] = v;
}

static uint64_t time_status(const run *r) {
        char ctl[300];
        snprintf(ctl, sizeof(ctl), "%s/bin/gensupctl", build_dir);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        uint64_t t0 = mono_ns();
        pid_t pid = spawn((char *[]) { ctl, (char *) "-s", (char *) r->control, (char *) "--json", (char *) "status",
                                       NULL },
                          -1, null, null);
        int status;
        waitpid(pid, &status, 0);
        uint64_t t1 = mono_ns();
        close(null);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "sup_chatty: gensupctl status failed (status %d)\n", status);
        return t1 - t0;
}

static int time_restart(const run *r, uint64_t *ret) {
        uint64_t ns;
        pid_t pid, npid;
        if (bench_last_start(r->stamps, &ns, &pid) < 0)
                return -1;
        uint64_t t0 = mono_ns();
        if (kill(pid, SIGKILL) < 0)
                return -1;
        if (bench_wait_start(r->stamps, pid, 10, &ns, &npid) < 0)
                return -1;
        *ret = ns - t0;
        return 0;
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

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: sup_chatty BUILD_DIR [ROUNDS [SAMPLES]]\n");
                return 2;
        }
        /* The config names programs by absolute path. */
        build_dir = realpath(argv[1], NULL);
        if (!build_dir)
                die(argv[1]);
        int rounds = argc > 2 ? atoi(argv[2]) : 3;
        int samples = argc > 3 ? atoi(argv[3]) : 100;
        snprintf(work, sizeof(work), "%s/sup-chatty.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(work))
                die("mkdtemp");
        signal(SIGPIPE, SIG_IGN);

        series st[2], rs[2];
        double cpu[2] = { 0, 0 }, wall[2] = { 0, 0 };
        for (int k = 0; k < 2; k++) {
                st[k] = (series) { calloc(MAX_SAMPLES, sizeof(uint64_t)), 0 };
                rs[k] = (series) { calloc(MAX_SAMPLES, sizeof(uint64_t)), 0 };
        }
        for (int round = 0; round < rounds; round++)
                for (int k = 0; k < 2; k++) {
                        /* Alternate which setting goes first. */
                        bool chatty = (k + round) % 2;
                        run r;
                        run_start(&r, round, chatty);
                        uint64_t c0 = bench_proc_cpu_ns(r.gensupd), w0 = mono_ns();
                        for (int i = 0; i < samples; i++) {
                                uint64_t v;
                                add(&st[chatty], time_status(&r));
                                if (time_restart(&r, &v) == 0)
                                        add(&rs[chatty], v);
                        }
                        cpu[chatty] += (double) (bench_proc_cpu_ns(r.gensupd) - c0);
                        wall[chatty] += (double) (mono_ns() - w0);
                        run_stop(&r);
                }

        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
        if (system(cmd) != 0)
                fprintf(stderr, "sup_chatty: could not remove %s\n", work);

        printf("supervision with a child running yes (chatty) against none (quiet):\n");
        printf("%d interleaved rounds x %d samples; gensupd stderr drained by cat\n", rounds, samples);
        printf("%-22s %10s %10s %10s %10s %8s %8s\n", "measure (ms)", "quiet med", "quiet p99", "chatty med",
               "chatty p99", "med x", "p99 x");
        const char *names[2] = { "status (gensupctl)", "restart (kill -> S)" };
        series *all[2] = { st, rs };
        for (int m = 0; m < 2; m++) {
                double qm = quantile(&all[m][0], 0.5), qp = quantile(&all[m][0], 0.99);
                double cm = quantile(&all[m][1], 0.5), cp = quantile(&all[m][1], 0.99);
                printf("%-22s %10.3f %10.3f %10.3f %10.3f %8.2f %8.2f\n", names[m], qm, qp, cm, cp,
                       qm > 0 ? cm / qm : 0, qp > 0 ? cp / qp : 0);
        }
        printf("gensupd CPU: quiet %.1f%%, chatty %.1f%% of one CPU\n", wall[0] > 0 ? 100 * cpu[0] / wall[0] : 0,
               wall[1] > 0 ? 100 * cpu[1] / wall[1] : 0);
        printf("load: %s", "");
        FILE *la = fopen("/proc/loadavg", "re");
        char line[128];
        if (la && fgets(line, sizeof(line), la))
                printf("%s", line);
        if (la)
                fclose(la);
        for (int k = 0; k < 2; k++) {
                free(st[k].v);
                free(rs[k].v);
        }
        return 0;
}
