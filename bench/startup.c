/* startup: what starting a binary costs, exec -> exit, for several
 * binaries in interleaved rounds (issue 9 §5: a libgensup server against a
 * plain dynamic and a static binary).
 *
 *   startup [-r ROUNDS] [-n N] LABEL=BIN...
 *
 * Each round starts every BIN N times in turn, as gensupd spawns
 * (clone(CLONE_VM|CLONE_VFORK) + execve), with the one argument "exit"
 * (bench/gs_start returns from main at once; the trivial programs ignore
 * it), and times clone -> waitpid returned. Prints per binary n, median,
 * p90, p99, min, max (ms), and the ratios (median, p99) to the first. */
#include <getopt.h>

#include "bench.h"

#define MAX_BINS 12

typedef struct bin {
        const char *label;
        char *path;
        double *v;
        int n;
} bin;

static int child(void *arg) {
        char *path = arg;
        char *argv[] = { path, (char *) "exit", NULL };
        char *envp[] = { NULL };

        execve(path, argv, envp);
        _exit(127);
}

static double run_once(char *path) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        int status;
        int64_t t0 = bench_now_ns();
        pid_t pid = clone(child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, path);

        if (pid < 0)
                bench_die("clone", errno);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        bench_die("waitpid", errno);
        int64_t t1 = bench_now_ns();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "startup: %s exited with status %d\n", path, status);
                exit(1);
        }
        return (double) (t1 - t0) / 1e6;
}

int main(int argc, char **argv) {
        int rounds = 5, n = 50, opt;
        bin bins[MAX_BINS];
        int nb = 0;

        while ((opt = getopt(argc, argv, "r:n:")) != -1) {
                if (opt == 'r')
                        rounds = atoi(optarg);
                else if (opt == 'n')
                        n = atoi(optarg);
                else
                        goto usage;
        }
        if (rounds < 1 || n < 1 || optind >= argc || argc - optind > MAX_BINS)
                goto usage;
        for (int i = optind; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq)
                        goto usage;
                *eq = '\0';
                bins[nb] = (bin) { .label = argv[i], .path = eq + 1, .n = 0 };
                bins[nb].v = calloc((size_t) rounds * (size_t) n, sizeof(double));
                if (!bins[nb].v)
                        bench_die("calloc", ENOMEM);
                (void) run_once(bins[nb].path);   /* warm the page cache */
                nb++;
        }
        for (int rd = 0; rd < rounds; rd++)
                for (int b = 0; b < nb; b++)
                        for (int i = 0; i < n; i++)
                                bins[b].v[bins[b].n++] = run_once(bins[b].path);

        double med0 = 0, p990 = 0;
        printf("  %-42s %5s %8s %8s %8s %8s %8s %7s %7s\n", "exec -> exit (ms)", "n", "median", "p90", "p99", "min",
               "max", "ratio", "p99 rt");
        for (int b = 0; b < nb; b++) {
                bin *x = &bins[b];
                double med = bench_median(x->v, (size_t) x->n);
                double p90 = bench_quantile_sorted(x->v, (size_t) x->n, 0.90);
                double p99 = bench_quantile_sorted(x->v, (size_t) x->n, 0.99);
                if (b == 0) {
                        med0 = med;
                        p990 = p99;
                }
                printf("  %-42s %5d %8.3f %8.3f %8.3f %8.3f %8.3f %6.2fx %6.2fx\n", x->label, x->n, med, p90, p99,
                       x->v[0], x->v[x->n - 1], med / med0, p99 / p990);
                free(x->v);
        }
        return 0;
usage:
        fprintf(stderr, "usage: startup [-r ROUNDS] [-n N] LABEL=BINARY...\n");
        return 2;
}
