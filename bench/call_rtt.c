/* call_rtt: the round trip of a synchronous call, gs_call() against a
 * gensup echo server, beside the floor: a raw ping-pong of the same
 * payload on a SOCK_STREAM Unix socketpair (blocking write of a 4-byte
 * length and the payload, blocking reads until the whole answer is in,
 * the echo child doing the same), as /work/shared/reference/ipc-floor.md
 * measures it.
 *
 *   call_rtt [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-s SIZES]
 *
 * Each round, for each placement (client and server on the same CPU, then
 * on two different CPUs) and each size, runs raw then gensup, one after
 * the other, with fresh server processes per round and placement. A run is
 * a warm-up of n/10 calls then n timed calls (n/4 at 64 KiB), each timed
 * on its own; its value is the median call. The table shows the median of
 * the rounds' values, the p99 of the pooled calls, and the ratio
 * gensup/raw (median of the per-round ratios, and their range). */
#include <getopt.h>
#include <sys/socket.h>

#include "bench.h"

#define MAX_SIZES 8
#define MAX_ROUNDS 64

typedef enum impl {
        IMPL_RAW,
        IMPL_GENSUP,
        _IMPL_MAX,
} impl;

typedef struct cell {
        double med[MAX_ROUNDS];   /* per-round median, µs */
        double p99[MAX_ROUNDS];   /* per-round p99, µs */
} cell;

static int raw_echo_main(void *arg) {
        int fd = *(int *) arg;
        size_t cap = 1u << 20;
        uint8_t *buf = malloc(cap);

        if (!buf)
                return 1;
        for (;;) {
                uint32_t len;
                if (!bench_read_all(fd, buf, 4))
                        break;
                memcpy(&len, buf, 4);
                if (len > cap - 4 || !bench_read_all(fd, buf + 4, len))
                        break;
                bench_write_all(fd, buf, 4 + (size_t) len);
        }
        free(buf);
        return 0;
}

/* One run of n timed calls (after warm calls); fills lat (µs). */
static void run_raw(int fd, size_t size, int warm, int n, double *lat) {
        uint8_t *out = calloc(1, size + 4), *in = malloc(size + 4);
        uint32_t len = (uint32_t) size;

        if (!out || !in)
                bench_die("malloc", ENOMEM);
        memcpy(out, &len, 4);
        memset(out + 4, 'x', size);
        for (int i = -warm; i < n; i++) {
                int64_t t0 = bench_now_ns();
                bench_write_all(fd, out, size + 4);
                if (!bench_read_all(fd, in, size + 4))
                        bench_die("raw echo", ECONNRESET);
                int64_t t1 = bench_now_ns();
                if (i >= 0)
                        lat[i] = (double) (t1 - t0) / 1000.0;
        }
        free(out);
        free(in);
}

static void run_gensup(gs_client *c, size_t size, int warm, int n, double *lat) {
        uint8_t *req = malloc(size);
        gs_buf reply = GS_BUF_INIT;

        if (!req)
                bench_die("malloc", ENOMEM);
        memset(req, 'x', size);
        for (int i = -warm; i < n; i++) {
                int64_t t0 = bench_now_ns();
                int r = gs_call(c, req, size, 10000, &reply);
                int64_t t1 = bench_now_ns();
                if (r < 0)
                        bench_die("gs_call", r);
                if (reply.len != size)
                        bench_die("gs_call: short reply", EBADMSG);
                if (i >= 0)
                        lat[i] = (double) (t1 - t0) / 1000.0;
        }
        gs_buf_done(&reply);
        free(req);
}

static void summarize(double *lat, int n, double *ret_med, double *ret_p99) {
        *ret_med = bench_median(lat, (size_t) n);   /* sorts */
        *ret_p99 = bench_quantile_sorted(lat, (size_t) n, 0.99);
}

static const char *size_name(size_t s, char *buf, size_t len) {
        if (s >= 1024 && s % 1024 == 0)
                snprintf(buf, len, "%zu KiB", s / 1024);
        else
                snprintf(buf, len, "%zu B", s);
        return buf;
}

int main(int argc, char **argv) {
        unsigned places = (1u << PLACE_SAME) | (1u << PLACE_CROSS);
        int rounds = bench_rounds(7), n = 20000;
        size_t sizes[MAX_SIZES] = { 16, 1024, 65536 };
        size_t n_sizes = 3;
        int opt;

        while ((opt = getopt(argc, argv, "r:n:s:p:")) != -1) {
                switch (opt) {
                case 'r':
                        rounds = atoi(optarg);
                        break;
                case 'p':
                        places = bench_parse_places(optarg);
                        break;
                case 'n':
                        n = atoi(optarg);
                        break;
                case 's': {
                        n_sizes = 0;
                        for (char *t = strtok(optarg, ","); t && n_sizes < MAX_SIZES; t = strtok(NULL, ","))
                                sizes[n_sizes++] = strtoul(t, NULL, 10);
                        break;
                }
                default:
                        fprintf(stderr, "usage: %s [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-s SIZE,SIZE,...]\n", argv[0]);
                        return 2;
                }
        }
        if (rounds < 1 || rounds > MAX_ROUNDS || n < 10 || n_sizes == 0) {
                fprintf(stderr, "call_rtt: rounds 1..%d, calls >= 10\n", MAX_ROUNDS);
                return 2;
        }

        int cpu[2];
        int n_cpu = bench_cpus(cpu);
        int n_place = n_cpu >= 2 ? _PLACE_MAX : 1;
        static cell cells[_PLACE_MAX][MAX_SIZES][_IMPL_MAX];
        double *lat = malloc((size_t) n * sizeof(double));
        char dir[64] = "";
        const char *path = bench_tmp_path(dir, sizeof(dir), "echo.sock");

        if (!lat)
                bench_die("malloc", ENOMEM);
        bench_pin(cpu[0]);
        fprintf(stderr, "call_rtt: %d rounds, %d calls per run (%d at 64 KiB and up)\n", rounds, n, n / 4);
        for (int rd = 0; rd < rounds; rd++) {
                for (int p = 0; p < n_place; p++) {
                        if (!(places & (1u << p)))
                                continue;
                        int scpu = p == PLACE_SAME ? cpu[0] : cpu[1];
                        int sv[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                                bench_die("socketpair", errno);
                        pid_t raw = bench_fork(scpu, raw_echo_main, &sv[1]);
                        close(sv[1]);
                        gs_client *c = NULL;
                        pid_t gs = bench_echo_start(path, scpu, &c);

                        for (size_t si = 0; si < n_sizes; si++) {
                                int cnt = sizes[si] >= 65536 ? n / 4 : n;
                                cell *cr = &cells[p][si][IMPL_RAW], *cg = &cells[p][si][IMPL_GENSUP];
                                run_raw(sv[0], sizes[si], cnt / 10, cnt, lat);
                                summarize(lat, cnt, &cr->med[rd], &cr->p99[rd]);
                                run_gensup(c, sizes[si], cnt / 10, cnt, lat);
                                summarize(lat, cnt, &cg->med[rd], &cg->p99[rd]);
                        }
                        close(sv[0]);
                        bench_reap(raw, true);
                        bench_echo_stop(gs, c);
                        fprintf(stderr, ".");
                }
        }
        fprintf(stderr, "\n");
        bench_tmp_done(dir, path);

        printf("call round trip (µs): median over %d rounds of each run's median call; p99 median over rounds\n",
               rounds);
        printf("%-6s %-7s %9s %9s %9s %9s %8s %15s\n", "place", "size", "raw", "gensup", "raw p99", "gs p99",
               "ratio", "ratio min-max");
        for (int p = 0; p < n_place; p++)
                for (size_t si = 0; si < n_sizes && (places & (1u << p)); si++) {
                        cell *cr = &cells[p][si][IMPL_RAW], *cg = &cells[p][si][IMPL_GENSUP];
                        double ratio[MAX_ROUNDS], tmp[MAX_ROUNDS], lo, hi;
                        char sb[32];
                        for (int rd = 0; rd < rounds; rd++)
                                ratio[rd] = cg->med[rd] / cr->med[rd];
                        bench_range(ratio, (size_t) rounds, &lo, &hi);
                        double rmed = bench_median(ratio, (size_t) rounds);
                        memcpy(tmp, cr->med, sizeof(tmp));
                        double raw_med = bench_median(tmp, (size_t) rounds);
                        memcpy(tmp, cg->med, sizeof(tmp));
                        double gs_med = bench_median(tmp, (size_t) rounds);
                        memcpy(tmp, cr->p99, sizeof(tmp));
                        double raw_p99 = bench_median(tmp, (size_t) rounds);
                        memcpy(tmp, cg->p99, sizeof(tmp));
                        double gs_p99 = bench_median(tmp, (size_t) rounds);
                        printf("%-6s %-7s %9.2f %9.2f %9.1f %9.1f %7.2fx %7.2f-%.2f\n", bench_place_name[p],
                               size_name(sizes[si], sb, sizeof(sb)), raw_med, gs_med, raw_p99, gs_p99,
                               rmed, lo, hi);
                }
        if (n_place == 1)
                printf("(only one CPU available: no cross-core rows)\n");
        free(lat);
        return 0;
}
