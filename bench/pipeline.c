/* pipeline: pipelined asynchronous calls with a window of requests in
 * flight (64 by default) on one connection to one server, calls per
 * second, beside a raw pipelined echo of the same payloads.
 *
 *   pipeline [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-w WINDOW] [-s SIZE]
 *            [-i raw|gensup|both]
 *
 * -i runs one implementation alone (for perf and strace; no ratio then).
 *
 * gensup: default settings (no cork): gs_send_request() batches, as
 * gs_call(3) BATCHING says; it sends
 * a full window, then takes the answers in order with
 * gs_receive_response() and sends one new request per answer. Waiting
 * flushes what collected, so the refills of one batch of answers go out
 * in one write. Raw: the same refill pattern on a socketpair with a
 * 4-byte length prefix; the echo child reads what is there and writes all
 * its answers with one write per read.
 *
 * Rounds interleave raw and gensup, same CPU and different CPUs; the table
 * shows medians over rounds. */
#include <getopt.h>
#include <sys/socket.h>

#include "bench.h"

#define MAX_ROUNDS 64
#define MAX_WINDOW 4096

static int raw_echo_main(void *arg) {
        int fd = *(int *) arg;
        size_t cap = 1u << 20, have = 0;
        uint8_t *in = malloc(cap), *out = malloc(cap);

        if (!in || !out)
                return 1;
        for (;;) {
                ssize_t got = read(fd, in + have, cap - have);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                have += (size_t) got;
                size_t at = 0, olen = 0;
                while (have - at >= 4) {
                        uint32_t len;
                        memcpy(&len, in + at, 4);
                        if (have - at - 4 < len)
                                break;
                        memcpy(out + olen, in + at, 4 + (size_t) len);
                        olen += 4 + (size_t) len;
                        at += 4 + (size_t) len;
                }
                if (olen)
                        bench_write_all(fd, out, olen);
                memmove(in, in + at, have - at);
                have -= at;
        }
        free(in);
        free(out);
        return 0;
}

static double run_raw(int scpu, size_t size, uint64_t n, unsigned window) {
        int sv[2];
        size_t flen = 4 + size;
        uint8_t *out = malloc(flen * window), *in = malloc(1u << 20);
        uint32_t len = (uint32_t) size;

        if (!out || !in)
                bench_die("malloc", ENOMEM);
        for (unsigned i = 0; i < window; i++) {
                memcpy(out + i * flen, &len, 4);
                memset(out + i * flen + 4, 'x', size);
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                bench_die("socketpair", errno);
        pid_t pid = bench_fork(scpu, raw_echo_main, &sv[1]);
        close(sv[1]);

        int64_t t0 = bench_now_ns();
        uint64_t sent = n < window ? n : window, done = 0;
        size_t have = 0;
        bench_write_all(sv[0], out, flen * sent);
        while (done < n) {
                ssize_t got = read(sv[0], in + have, (1u << 20) - have);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        bench_die("raw echo", ECONNRESET);
                have += (size_t) got;
                uint64_t k = have / flen;
                done += k;
                memmove(in, in + k * flen, have - k * flen);
                have -= k * flen;
                uint64_t more = n - sent < k ? n - sent : k;
                if (more) {
                        bench_write_all(sv[0], out, flen * more);
                        sent += more;
                }
        }
        int64_t t1 = bench_now_ns();
        close(sv[0]);
        bench_reap(pid, true);
        free(out);
        free(in);
        return (double) n / ((double) (t1 - t0) / 1e9);
}

static double run_gensup(gs_client *c, size_t size, uint64_t n, unsigned window) {
        gs_reqid ids[MAX_WINDOW];
        uint8_t *req = malloc(size ? size : 1);
        gs_buf reply = GS_BUF_INIT;
        int r;

        if (!req)
                bench_die("malloc", ENOMEM);
        memset(req, 'x', size);
        int64_t t0 = bench_now_ns();
        uint64_t sent = 0, done = 0;
        for (; sent < n && sent < window; sent++)
                if ((r = gs_send_request(c, req, size, &ids[sent % window])) < 0)
                        bench_die("gs_send_request", r);
        while (done < n) {
                r = gs_receive_response(c, ids[done % window], 10000, &reply);
                if (r < 0)
                        bench_die("gs_receive_response", r);
                if (reply.len != size)
                        bench_die("short reply", EBADMSG);
                done++;
                if (sent < n) {
                        if ((r = gs_send_request(c, req, size, &ids[sent % window])) < 0)
                                bench_die("gs_send_request", r);
                        sent++;
                }
        }
        int64_t t1 = bench_now_ns();
        gs_buf_done(&reply);
        free(req);
        return (double) n / ((double) (t1 - t0) / 1e9);
}

int main(int argc, char **argv) {
        unsigned places = (1u << PLACE_SAME) | (1u << PLACE_CROSS);
        int rounds = bench_rounds(7);
        uint64_t n = 1000000;
        unsigned window = 64;
        size_t size = 16;
        unsigned impls = 3; /* bit 0: raw, bit 1: gensup */
        int opt;

        while ((opt = getopt(argc, argv, "r:n:w:s:p:i:")) != -1) {
                switch (opt) {
                case 'r':
                        rounds = atoi(optarg);
                        break;
                case 'p':
                        places = bench_parse_places(optarg);
                        break;
                case 'n':
                        n = strtoull(optarg, NULL, 10);
                        break;
                case 'w':
                        window = (unsigned) atoi(optarg);
                        break;
                case 's':
                        size = strtoul(optarg, NULL, 10);
                        break;
                case 'i':
                        impls = strcmp(optarg, "raw") == 0 ? 1 : strcmp(optarg, "gensup") == 0 ? 2 : 3;
                        break;
                default:
                        fprintf(stderr,
                                "usage: %s [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-w WINDOW] [-s SIZE] "
                                "[-i raw|gensup|both]\n",
                                argv[0]);
                        return 2;
                }
        }
        if (rounds < 1 || rounds > MAX_ROUNDS || n < 1 || window < 1 || window > MAX_WINDOW || size < 1 ||
            (4 + size) * window > (1u << 19)) {
                fprintf(stderr, "pipeline: rounds 1..%d, window 1..%d, size >= 1, window * size <= 512 KiB\n",
                        MAX_ROUNDS, MAX_WINDOW);
                return 2;
        }

        int cpu[2];
        int n_place = bench_cpus(cpu) >= 2 ? _PLACE_MAX : 1;
        static double raw[_PLACE_MAX][MAX_ROUNDS], gs[_PLACE_MAX][MAX_ROUNDS];
        char dir[64] = "";
        const char *path = bench_tmp_path(dir, sizeof(dir), "echo.sock");

        bench_pin(cpu[0]);
        fprintf(stderr, "pipeline: %d rounds of %llu calls, %u in flight, %zu B\n", rounds, (unsigned long long) n,
                window, size);
        for (int rd = 0; rd < rounds; rd++)
                for (int p = 0; p < n_place; p++) {
                        if (!(places & (1u << p)))
                                continue;
                        int scpu = p == PLACE_SAME ? cpu[0] : cpu[1];
                        gs_client *c = NULL;
                        raw[p][rd] = impls & 1 ? run_raw(scpu, size, n, window) : 1;
                        if (impls & 2) {
                                pid_t pid = bench_echo_start(path, scpu, &c);
                                gs[p][rd] = run_gensup(c, size, n, window);
                                bench_echo_stop(pid, c);
                        } else
                                gs[p][rd] = 1;
                        fprintf(stderr, ".");
                }
        fprintf(stderr, "\n");
        bench_tmp_done(dir, path);

        printf("pipelined calls, %u in flight, %zu B payload, one server (M calls/s): median over %d rounds "
               "[min-max]\n",
               window, size, rounds);
        printf("%-6s %18s %18s %8s\n", "place", "raw pipelined", "gensup default", "gs/raw");
        for (int p = 0; p < n_place; p++) {
                if (!(places & (1u << p)))
                        continue;
                double ratio[MAX_ROUNDS], rlo, rhi, glo, ghi;
                for (int rd = 0; rd < rounds; rd++)
                        ratio[rd] = gs[p][rd] / raw[p][rd];
                bench_range(raw[p], (size_t) rounds, &rlo, &rhi);
                bench_range(gs[p], (size_t) rounds, &glo, &ghi);
                double rm = bench_median(raw[p], (size_t) rounds) / 1e6;
                double gm = bench_median(gs[p], (size_t) rounds) / 1e6;
                printf("%-6s %6.2f [%4.2f-%4.2f] %6.2f [%4.2f-%4.2f] %7.2fx\n", bench_place_name[p], rm, rlo / 1e6,
                       rhi / 1e6, gm, glo / 1e6, ghi / 1e6, bench_median(ratio, (size_t) rounds));
        }
        if (n_place == 1)
                printf("(only one CPU available: no cross-core row)\n");
        return 0;
}
