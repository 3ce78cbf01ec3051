/* cast_rate: casts per second from one client, gs_cast() with default
 * settings (batched: frames collect in the client and go out 64 KiB at a
 * time, gs_call(3) BATCHING) and corked, to a gensup server
 * that counts them, beside the raw throughput of the same frame bytes:
 * the encoded CAST frames copied into 64 KiB buffers and written with one
 * write() each, to a child that reads 256 KiB at a time and walks the
 * frames' length prefixes.
 *
 *   cast_rate [-r ROUNDS] [-p same|cross|both] [-n CASTS] [-s SIZE]
 *             [-i raw|gensup|corked|all]
 *
 * -i runs one implementation alone (for perf and strace; no ratio then).
 *
 * The clock runs from the first cast until the receiver has taken the
 * last one: the raw receiver answers one byte after the n-th frame, and
 * the gensup client ends with a gs_call() that answers after every cast
 * before it (arrival order). Rounds interleave raw and gensup, same CPU
 * and different CPUs; the table shows medians over rounds. */
#include <getopt.h>
#include <sys/socket.h>

#include "bench.h"

#define MAX_ROUNDS 64
#define RAW_CHUNK (64u * 1024u)

typedef struct raw_rx {
        int fd;
        uint64_t n;
} raw_rx;

/* Reads frames (varint length + body) until n have come, then answers. */
static int raw_rx_main(void *arg) {
        raw_rx *rx = arg;
        size_t cap = 256u * 1024u, have = 0;
        uint8_t *buf = malloc(cap);
        uint64_t seen = 0;

        if (!buf)
                return 1;
        while (seen < rx->n) {
                ssize_t got = read(rx->fd, buf + have, cap - have);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        return 1;
                have += (size_t) got;
                size_t at = 0;
                for (;;) {
                        uint64_t len = 0;
                        size_t i = at;
                        int shift = 0;
                        while (i < have && (buf[i] & 0x80)) {
                                len |= (uint64_t) (buf[i] & 0x7f) << shift;
                                shift += 7;
                                i++;
                        }
                        if (i >= have)
                                break;
                        len |= (uint64_t) buf[i] << shift;
                        i++;
                        if (i + len > have)
                                break;
                        at = i + len;
                        seen++;
                }
                memmove(buf, buf + at, have - at);
                have -= at;
        }
        bench_write_all(rx->fd, "k", 1);
        free(buf);
        return 0;
}

/* The wire form of CAST{payload}: kind 2 (field 1), the payload (field 3),
 * behind its varint length, as libgensup encodes it. */
static size_t cast_frame(uint8_t *out, size_t size) {
        uint8_t body[16 + 65536];
        size_t b = 0, o = 0;

        body[b++] = 0x08;   /* field 1, varint */
        body[b++] = 2;      /* CAST */
        body[b++] = 0x1a;   /* field 3, length-delimited */
        for (uint64_t v = size; ; v >>= 7) {
                body[b++] = (uint8_t) (v >= 0x80 ? (v & 0x7f) | 0x80 : v);
                if (v < 0x80)
                        break;
        }
        memset(body + b, 'x', size);
        b += size;
        for (uint64_t v = b; ; v >>= 7) {
                out[o++] = (uint8_t) (v >= 0x80 ? (v & 0x7f) | 0x80 : v);
                if (v < 0x80)
                        break;
        }
        memcpy(out + o, body, b);
        return o + b;
}

static double run_raw(int scpu, size_t size, uint64_t n) {
        int sv[2];
        uint8_t frame[32 + 65536];
        size_t flen = cast_frame(frame, size);
        uint8_t *chunk = malloc(RAW_CHUNK);

        if (!chunk)
                bench_die("malloc", ENOMEM);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                bench_die("socketpair", errno);
        raw_rx rx = { .fd = sv[1], .n = n };
        pid_t pid = bench_fork(scpu, raw_rx_main, &rx);
        close(sv[1]);

        int64_t t0 = bench_now_ns();
        uint64_t sent = 0;
        while (sent < n) {
                /* As a corked client: copy frames into the buffer, one write
                 * when the next frame would not fit. */
                size_t len = 0;
                while (sent < n && len + flen <= RAW_CHUNK) {
                        memcpy(chunk + len, frame, flen);
                        len += flen;
                        sent++;
                }
                bench_write_all(sv[0], chunk, len);
        }
        char k;
        if (!bench_read_all(sv[0], &k, 1))
                bench_die("raw receiver", ECONNRESET);
        int64_t t1 = bench_now_ns();
        close(sv[0]);
        bench_reap(pid, true);
        free(chunk);
        return (double) n / ((double) (t1 - t0) / 1e9);
}

static double run_gensup(gs_client *c, size_t size, uint64_t n, bool corked, uint64_t *casts_before) {
        uint8_t *msg = malloc(size ? size : 1);
        gs_buf reply = GS_BUF_INIT;
        uint64_t count;
        int r;

        if (!msg)
                bench_die("malloc", ENOMEM);
        memset(msg, 'x', size);
        int64_t t0 = bench_now_ns();
        if (corked)
                (void) gs_client_cork(c, true);
        for (uint64_t i = 0; i < n; i++)
                if ((r = gs_cast(c, msg, size)) < 0)
                        bench_die("gs_cast", r);
        if (corked)
                (void) gs_client_cork(c, false);
        /* An empty call answers the server's cast count, after every cast. */
        if ((r = gs_call(c, NULL, 0, 60000, &reply)) < 0)
                bench_die("gs_call", r);
        int64_t t1 = bench_now_ns();
        if (reply.len != sizeof(count))
                bench_die("count reply", EBADMSG);
        memcpy(&count, reply.data, sizeof(count));
        if (count != *casts_before + n)
                bench_die("cast count", EPROTO);
        *casts_before = count;
        gs_buf_done(&reply);
        free(msg);
        return (double) n / ((double) (t1 - t0) / 1e9);
}

int main(int argc, char **argv) {
        unsigned places = (1u << PLACE_SAME) | (1u << PLACE_CROSS);
        int rounds = bench_rounds(7);
        uint64_t n = 3000000;
        size_t size = 16;
        unsigned impls = 7; /* bit 0: raw, 1: gensup default, 2: corked */
        int opt;

        while ((opt = getopt(argc, argv, "r:n:s:p:i:")) != -1) {
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
                case 's':
                        size = strtoul(optarg, NULL, 10);
                        break;
                case 'i':
                        impls = strcmp(optarg, "raw") == 0      ? 1
                                : strcmp(optarg, "gensup") == 0 ? 2
                                : strcmp(optarg, "corked") == 0 ? 4
                                                                : 7;
                        break;
                default:
                        fprintf(stderr,
                                "usage: %s [-r ROUNDS] [-p same|cross|both] [-n CASTS] [-s SIZE] "
                                "[-i raw|gensup|corked|all]\n",
                                argv[0]);
                        return 2;
                }
        }
        if (rounds < 1 || rounds > MAX_ROUNDS || n < 1 || size > 65536) {
                fprintf(stderr, "cast_rate: rounds 1..%d, casts >= 1, size <= 65536\n", MAX_ROUNDS);
                return 2;
        }

        int cpu[2];
        int n_place = bench_cpus(cpu) >= 2 ? _PLACE_MAX : 1;
        static double raw[_PLACE_MAX][MAX_ROUNDS], gs[_PLACE_MAX][MAX_ROUNDS], gsc[_PLACE_MAX][MAX_ROUNDS];
        char dir[64] = "";
        const char *path = bench_tmp_path(dir, sizeof(dir), "echo.sock");

        bench_pin(cpu[0]);
        fprintf(stderr, "cast_rate: %d rounds of %llu casts of %zu B\n", rounds, (unsigned long long) n, size);
        for (int rd = 0; rd < rounds; rd++)
                for (int p = 0; p < n_place; p++) {
                        if (!(places & (1u << p)))
                                continue;
                        int scpu = p == PLACE_SAME ? cpu[0] : cpu[1];
                        gs_client *c = NULL;
                        uint64_t casts = 0;
                        raw[p][rd] = impls & 1 ? run_raw(scpu, size, n) : 1;
                        gs[p][rd] = gsc[p][rd] = 1;
                        if (!(impls & 6)) {
                                fprintf(stderr, ".");
                                continue;
                        }
                        pid_t pid = bench_echo_start(path, scpu, &c);
                        if (rd % 2 == 0) {
                                if (impls & 2)
                                        gs[p][rd] = run_gensup(c, size, n, false, &casts);
                                if (impls & 4)
                                        gsc[p][rd] = run_gensup(c, size, n, true, &casts);
                        } else {
                                if (impls & 4)
                                        gsc[p][rd] = run_gensup(c, size, n, true, &casts);
                                if (impls & 2)
                                        gs[p][rd] = run_gensup(c, size, n, false, &casts);
                        }
                        bench_echo_stop(pid, c);
                        fprintf(stderr, ".");
                }
        fprintf(stderr, "\n");
        bench_tmp_done(dir, path);

        printf("casts from one client, %zu B payload (M msgs/s): median over %d rounds [min-max]\n", size, rounds);
        printf("%-6s %18s %18s %18s %8s\n", "place", "raw (same bytes)", "gensup default", "gensup corked",
               "gs/raw");
        for (int p = 0; p < n_place; p++) {
                if (!(places & (1u << p)))
                        continue;
                double ratio[MAX_ROUNDS], rlo, rhi, glo, ghi, clo, chi;
                for (int rd = 0; rd < rounds; rd++)
                        ratio[rd] = gs[p][rd] / raw[p][rd];
                bench_range(raw[p], (size_t) rounds, &rlo, &rhi);
                bench_range(gs[p], (size_t) rounds, &glo, &ghi);
                bench_range(gsc[p], (size_t) rounds, &clo, &chi);
                double rm = bench_median(raw[p], (size_t) rounds) / 1e6;
                double gm = bench_median(gs[p], (size_t) rounds) / 1e6;
                double cm = bench_median(gsc[p], (size_t) rounds) / 1e6;
                printf("%-6s %6.2f [%4.1f-%4.1f] %6.2f [%4.1f-%4.1f] %6.2f [%4.1f-%4.1f] %7.2fx\n", bench_place_name[p],
                       rm, rlo / 1e6, rhi / 1e6, gm, glo / 1e6, ghi / 1e6, cm, clo / 1e6, chi / 1e6,
                       bench_median(ratio, (size_t) rounds));
        }
        if (n_place == 1)
                printf("(only one CPU available: no cross-core row)\n");
        return 0;
}
