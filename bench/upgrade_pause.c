/* upgrade_pause: the pause a hot upgrade causes, against a plain restart,
 * side by side in interleaved rounds (issue 10 §1).
 *
 *   upgrade_pause [-r ROUNDS] [-n OPS] BUILD_DIR
 *
 * Starts BUILD_DIR/bin/gensupd in a temporary directory with one child,
 * examples/upgrade_server (listen = true), and one client that calls it
 * nonstop on one connection. Each round does OPS of each, by turns:
 *
 *   idle      nothing (the baseline: the worst call over the same time)
 *   upgrade   gensupctl upgrade cnt
 *   restart   gensupctl terminate-child root cnt; restart-child root cnt
 *             (the client's connection breaks: it reconnects and calls
 *             again, and the call's latency counts from its first try)
 *
 * and records the worst latency of a call made while the operation ran
 * (from just before it starts until just after gensupctl returns), and
 * how many calls failed outright (none should, for upgrade). Prints per
 * kind the median and the worst of those worst latencies, in ms, and
 * their ratios to idle. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/wait.h>

#include "bench.h"

typedef enum kind {
        K_IDLE,
        K_UPGRADE,
        K_RESTART,
        _K_MAX,
} kind;

static const char *const kind_name[_K_MAX] = {
        [K_IDLE] = "idle (baseline)",
        [K_UPGRADE] = "gensupctl upgrade",
        [K_RESTART] = "terminate-child + restart-child",
};

static char sock_path[4200], ctl_path[4200];

static pid_t run_ctl(const char *cmd) {
        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                        dup2(null, 1);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* A call, reconnecting as long as it takes; returns its latency in ms
 * from the first try, or < 0 when it failed for good. */
static double one_call(gs_client **c) {
        int64_t t0 = bench_now_ns();
        for (int tries = 0; tries < 20000; tries++) {
                gs_buf b = GS_BUF_INIT;
                int r = *c ? gs_call(*c, "incr", 4, 10000, &b) : -ECONNRESET;
                gs_buf_done(&b);
                if (r == 0)
                        return (double) (bench_now_ns() - t0) / 1e6;
                if (r != -ECONNRESET && r != -ENOENT && r != -ECONNREFUSED && r != -EPIPE)
                        return -1;
                *c = gs_client_free(*c);
                if (gs_client_connect(sock_path, c) < 0) {
                        *c = NULL;
                        usleep(200);
                }
        }
        return -1;
}

/* Calls while the operation runs; the worst latency. */
static double measure(gs_client **c, kind k, unsigned *failed) {
        char cmd[9000];
        double worst = 0;
        pid_t pid = -1;
        int64_t until = 0;

        if (k == K_UPGRADE)
                snprintf(cmd, sizeof(cmd), "%s upgrade cnt", ctl_path);
        else if (k == K_RESTART)
                snprintf(cmd, sizeof(cmd), "%s terminate-child root cnt && %s restart-child root cnt", ctl_path,
                         ctl_path);
        if (k == K_IDLE)
                until = bench_now_ns() + 100 * 1000000LL;
        else
                pid = run_ctl(cmd);
        for (;;) {
                double ms = one_call(c);
                if (ms < 0)
                        (*failed)++;
                else if (ms > worst)
                        worst = ms;
                if (k == K_IDLE ? bench_now_ns() >= until : waitpid(pid, NULL, WNOHANG) == pid)
                        break;
        }
        /* A few more: what the operation left behind. */
        for (int i = 0; i < 50; i++) {
                double ms = one_call(c);
                if (ms > worst)
                        worst = ms;
        }
        return worst;
}

static pid_t start_gensupd(const char *build, const char *dir) {
        char conf[4200];
        snprintf(conf, sizeof(conf), "%s/g.conf", dir);
        FILE *f = fopen(conf, "w");
        if (!f)
                bench_die("config", errno);
        fprintf(f,
                "runtime_dir = \"%s\";\nsupervisor = { name = \"root\"; intensity = 1000; children = (\n"
                "  { name = \"cnt\"; exec = [\"%s/examples/upgrade_server\"]; listen = true; }\n); };\n",
                dir, build);
        fclose(f);
        pid_t pid = fork();
        if (pid == 0) {
                char bin[4200], log[4200];
                snprintf(bin, sizeof(bin), "%s/bin/gensupd", build);
                snprintf(log, sizeof(log), "%s/gensupd.log", dir);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0)
                        dup2(fd, 2);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execl(bin, bin, "-c", conf, "--log-stderr", (char *) NULL);
                _exit(127);
        }
        return pid;
}

int main(int argc, char **argv) {
        int rounds = bench_rounds(3), ops = 10, opt;
        while ((opt = getopt(argc, argv, "r:n:")) != -1) {
                if (opt == 'r')
                        rounds = atoi(optarg);
                else if (opt == 'n')
                        ops = atoi(optarg);
        }
        if (optind >= argc || rounds < 1 || ops < 1) {
                fprintf(stderr, "usage: upgrade_pause [-r ROUNDS] [-n OPS] BUILD_DIR\n");
                return 2;
        }
        char *build = realpath(argv[optind], NULL);
        if (!build)
                bench_die(argv[optind], errno);
        char dir[] = "/tmp/gensup-upgrade-bench-XXXXXX";
        if (!mkdtemp(dir))
                bench_die("mkdtemp", errno);
        setenv("GENSUP_RUNTIME_DIR", dir, 1);
        snprintf(sock_path, sizeof(sock_path), "%s/cnt.sock", dir);
        snprintf(ctl_path, sizeof(ctl_path), "%s/bin/gensupctl", build);
        pid_t d = start_gensupd(build, dir);

        gs_client *c = NULL;
        int64_t give_up = bench_now_ns() + 60 * 1000000000LL;
        while (one_call(&c) < 0)
                if (bench_now_ns() > give_up)
                        bench_die("first call (see the gensupd.log in the runtime directory)", EIO);
        size_t n = (size_t) rounds * (size_t) ops;
        double *worst[_K_MAX];
        unsigned failed[_K_MAX] = { 0 };
        for (int k = 0; k < _K_MAX; k++)
                worst[k] = calloc(n, sizeof(double));
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < _K_MAX; k++)
                        worst[k][i] = measure(&c, (kind) k, &failed[k]);

        printf("upgrade_pause: worst call latency while the operation runs, %d rounds x %d, one client calling "
               "nonstop\n",
               rounds, ops);
        printf("%-34s %10s %10s %8s %8s %7s\n", "operation", "median ms", "worst ms", "x idle", "x idle",
               "failed");
        printf("%-34s %10s %10s %8s %8s %7s\n", "", "", "", "(median)", "(worst)", "calls");
        double base_med = 0, base_max = 0;
        for (int k = 0; k < _K_MAX; k++) {
                qsort(worst[k], n, sizeof(double), bench_cmp_double);
                double med = bench_median(worst[k], n), max = worst[k][n - 1];
                if (k == K_IDLE) {
                        base_med = med;
                        base_max = max;
                }
                printf("%-34s %10.2f %10.2f %8.1f %8.1f %7u\n", kind_name[k], med, max, med / base_med,
                       max / base_max, failed[k]);
                free(worst[k]);
        }
        gs_client_free(c);
        kill(d, SIGTERM);
        waitpid(d, NULL, 0);
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void) !system(cmd);
        free(build);
        return 0;
}
