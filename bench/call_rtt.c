/* call_rtt: the round trip of a synchronous call, gs_call() against a
 * gensup echo server, beside the fastest ways to do the same job without
 * gensup, all in one run (issue 9 §1: baselines that cannot flatter):
 *
 *   stream   a raw ping-pong on a SOCK_STREAM Unix socketpair: the client
 *            writes a 4-byte length and the payload in one write and
 *            reads the echo with one read; the echo child reads the whole
 *            frame with one read and answers with one write: 4 system
 *            calls per round trip (more only when the kernel splits a
 *            large payload)
 *   seqpkt   the same on SOCK_SEQPACKET (one datagram each way)
 *   sdbus    libsystemd's sd-bus peer to peer over a socketpair (no
 *            daemon): a method call with an "ay" payload, echoed
 *   sd-memfd the same, the request's payload written into a new memfd
 *            per call and appended sealed (sd-bus seals it, so it cannot
 *            be reused: sd_bus_message_append_array_memfd), from 64 KiB
 *            up; over a socket sd-bus maps it and writes its bytes into
 *            the stream
 *
 * Both raw sockets get 4 MiB buffers (SO_SNDBUFFORCE/SO_RCVBUFFORCE when
 * allowed), so a 1 MiB frame goes in one write.
 *
 *   call_rtt [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-s SIZES] [-m MIN] [-g]
 *
 * -m MIN: the gensup client asks for payloads of MIN bytes and more in
 * sealed memfds (gs_client_set_memfd); by default they go inline.
 * -g: gensup alone, no baselines (to profile it: perf, strace); the
 * ratios are then nan.
 *
 * Each round, for each placement (client and server on the same CPU, then
 * on two different CPUs) and each size, runs every implementation one
 * after the other (the order rotates from round to round), with fresh
 * server processes per round and placement. A run is a warm-up of n/10
 * calls then n timed calls (n/4 at 64 KiB, n/40 at 1 MiB and up; sd-memfd
 * a quarter of that), each timed on its own; its value is the median call, and its p99. The ratio
 * is gensup over the fastest baseline of the same round (the one with the
 * lowest median; p99 against the lowest p99), shown as the median of the
 * per-round ratios with their range. */
#include <getopt.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bench.h"

#define MAX_SIZES 8
#define MAX_ROUNDS 64
#define RAW_BUF (4u << 20)

typedef enum impl {
        IMPL_STREAM,
        IMPL_SEQPKT,
        IMPL_SDBUS,
        IMPL_SDMEMFD,
        IMPL_GENSUP,
        _IMPL_MAX,
} impl;

static const char *const impl_name[_IMPL_MAX] = {
        [IMPL_STREAM] = "stream",
        [IMPL_SEQPKT] = "seqpkt",
        [IMPL_SDBUS] = "sdbus",
        [IMPL_SDMEMFD] = "sd-memfd",
        [IMPL_GENSUP] = "gensup",
};

typedef struct cell {
        double med[MAX_ROUNDS];   /* per-round median, µs */
        double p99[MAX_ROUNDS];   /* per-round p99, µs */
} cell;

static void raw_buffers(int fd) {
        int v = RAW_BUF;

        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* Reads one frame (4-byte length, payload) into buf: one read() when it
 * all arrived, more only if the kernel split it. Returns its size, 0 at
 * end of file. */
static size_t read_frame(int fd, uint8_t *buf, size_t cap) {
        size_t have = 0, need = 4;

        while (have < need) {
                ssize_t k = read(fd, buf + have, cap - have);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        bench_die("read", errno);
                }
                if (k == 0)
                        return 0;
                have += (size_t) k;
                if (have >= 4) {
                        uint32_t len;
                        memcpy(&len, buf, 4);
                        need = 4 + (size_t) len;
                        if (need > cap)
                                bench_die("frame too large", EMSGSIZE);
                }
        }
        return have;
}

static int raw_echo_main(void *arg) {
        int fd = *(int *) arg;
        size_t cap = RAW_BUF, n;
        uint8_t *buf = malloc(cap);

        if (!buf)
                return 1;
        while ((n = read_frame(fd, buf, cap)) > 0)
                bench_write_all(fd, buf, n);
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
                if (read_frame(fd, in, size + 4) != size + 4)
                        bench_die("raw echo", ECONNRESET);
                int64_t t1 = bench_now_ns();
                if (i >= 0)
                        lat[i] = (double) (t1 - t0) / 1000.0;
        }
        free(out);
        free(in);
}

/* ---- sd-bus peer to peer ---- */

static int sdbus_echo_cb(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const void *p;
        size_t sz;
        sd_bus_message *reply = NULL;
        int r = sd_bus_message_read_array(m, 'y', &p, &sz);

        if (r >= 0)
                r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', p, sz);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 1;
}

static int sdbus_echo_main(void *arg) {
        int fd = *(int *) arg;
        sd_bus *b = NULL;
        sd_id128_t id;
        int r = sd_bus_new(&b);

        if (r >= 0)
                r = sd_bus_set_fd(b, fd, fd);
        if (r >= 0)
                r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_set_server(b, 1, id);
        if (r >= 0)
                r = sd_bus_start(b);
        if (r >= 0)
                r = sd_bus_add_object(b, NULL, "/", sdbus_echo_cb, NULL);
        while (r >= 0) {
                r = sd_bus_process(b, NULL);
                if (r == 0)
                        r = sd_bus_wait(b, UINT64_MAX);
        }
        sd_bus_flush_close_unref(b);
        return 0;
}

static sd_bus *sdbus_client(int fd) {
        sd_bus *b = NULL;
        int r = sd_bus_new(&b);

        if (r >= 0)
                r = sd_bus_set_fd(b, fd, fd);
        if (r >= 0)
                r = sd_bus_start(b);
        if (r < 0)
                bench_die("sd-bus client", r);
        return b;
}

/* A memfd holding the payload (sd-bus seals it when appended). */
static int sdbus_memfd(size_t size, const uint8_t *data) {
        int fd = memfd_create("bench-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                bench_die("memfd_create", errno);
        bench_write_all(fd, data, size);
        return fd;
}

static void run_sdbus(sd_bus *b, bool memfd, size_t size, int warm, int n, double *lat) {
        uint8_t *req = malloc(size);

        if (!req)
                bench_die("malloc", ENOMEM);
        memset(req, 'x', size);
        if (memfd && size < 65536) {
                for (int i = 0; i < n; i++)
                        lat[i] = INFINITY;   /* not run: "-" */
                free(req);
                return;
        }
        for (int i = -warm; i < n; i++) {
                sd_bus_message *m = NULL, *reply = NULL;
                sd_bus_error err = SD_BUS_ERROR_NULL;
                const void *p;
                size_t sz = 0;
                int64_t t0 = bench_now_ns();
                int mfd = memfd ? sdbus_memfd(size, req) : -1;
                int r = sd_bus_message_new_method_call(b, &m, NULL, "/", "org.gensup.Bench", "Echo");
                if (r >= 0)
                        r = mfd >= 0 ? sd_bus_message_append_array_memfd(m, 'y', mfd, 0, size)
                                     : sd_bus_message_append_array(m, 'y', req, size);
                if (r >= 0)
                        r = sd_bus_call(b, m, 10 * 1000000ULL, &err, &reply);
                if (r >= 0)
                        r = sd_bus_message_read_array(reply, 'y', &p, &sz);
                int64_t t1 = bench_now_ns();
                if (r < 0)
                        bench_die("sd_bus_call", r);
                if (sz != size)
                        bench_die("sd-bus: short reply", EBADMSG);
                sd_bus_error_free(&err);
                sd_bus_message_unref(m);
                sd_bus_message_unref(reply);
                if (mfd >= 0)
                        close(mfd);
                if (i >= 0)
                        lat[i] = (double) (t1 - t0) / 1000.0;
        }
        free(req);
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
        if (s >= 1048576 && s % 1048576 == 0)
                snprintf(buf, len, "%zu MiB", s / 1048576);
        else if (s >= 1024 && s % 1024 == 0)
                snprintf(buf, len, "%zu KiB", s / 1024);
        else
                snprintf(buf, len, "%zu B", s);
        return buf;
}

/* The servers of one round and placement, and the client ends. */
typedef struct peers {
        int fd[_IMPL_MAX];        /* client ends (gensup: unused) */
        pid_t pid[_IMPL_MAX];
        sd_bus *bus;
        gs_client *gs;
} peers;

static size_t memfd_min;   /* -m */
static bool only_gensup;   /* -g: no baselines (to profile gensup alone) */

static void peers_start(peers *pp, int scpu, const char *path) {
        static const int type[] = { [IMPL_STREAM] = SOCK_STREAM, [IMPL_SEQPKT] = SOCK_SEQPACKET,
                                    [IMPL_SDBUS] = SOCK_STREAM };
        static int (*const fn[])(void *) = { [IMPL_STREAM] = raw_echo_main, [IMPL_SEQPKT] = raw_echo_main,
                                             [IMPL_SDBUS] = sdbus_echo_main };

        for (int i = IMPL_STREAM; i <= IMPL_SDBUS; i++) {
                int sv[2];
                if (socketpair(AF_UNIX, type[i] | SOCK_CLOEXEC, 0, sv) < 0)
                        bench_die("socketpair", errno);
                if (i != IMPL_SDBUS) {
                        raw_buffers(sv[0]);
                        raw_buffers(sv[1]);
                }
                pp->pid[i] = bench_fork(scpu, fn[i], &sv[1]);
                close(sv[1]);
                pp->fd[i] = sv[0];
        }
        pp->bus = sdbus_client(pp->fd[IMPL_SDBUS]);
        pp->pid[IMPL_GENSUP] = bench_echo_start(path, scpu, &pp->gs);
        if (memfd_min > 0 && gs_client_set_memfd(pp->gs, memfd_min) < 0)
                bench_die("gs_client_set_memfd", EIO);
}

static void peers_stop(peers *pp) {
        sd_bus_flush_close_unref(pp->bus);   /* closes fd[IMPL_SDBUS] */
        close(pp->fd[IMPL_STREAM]);
        close(pp->fd[IMPL_SEQPKT]);
        for (int i = IMPL_STREAM; i <= IMPL_SDBUS; i++)
                bench_reap(pp->pid[i], true);
        bench_echo_stop(pp->pid[IMPL_GENSUP], pp->gs);
}

static void run_one(peers *pp, impl i, size_t size, int warm, int n, double *lat) {
        switch (i) {
        case IMPL_STREAM:
        case IMPL_SEQPKT:
                run_raw(pp->fd[i], size, warm, n, lat);
                break;
        case IMPL_SDBUS:
        case IMPL_SDMEMFD:
                run_sdbus(pp->bus, i == IMPL_SDMEMFD, size, warm, n, lat);
                break;
        case IMPL_GENSUP:
        case _IMPL_MAX:
                run_gensup(pp->gs, size, warm, n, lat);
                break;
        }
}

static int calls_for(size_t size, int n) {
        int c = size >= 1048576 ? n / 40 : size >= 65536 ? n / 4 : n;
        return c < 10 ? 10 : c;
}

static double median_copy(const double *v, int n) {
        double tmp[MAX_ROUNDS];

        memcpy(tmp, v, (size_t) n * sizeof(double));
        return bench_median(tmp, (size_t) n);
}

/* gensup over the fastest baseline of each round (lowest median; for p99
 * the lowest p99), medians over the rounds. */
static void print_row(cell *c, int p, size_t size, int rounds) {
        double rm[MAX_ROUNDS] = { 0 }, rp[MAX_ROUNDS] = { 0 }, best[MAX_ROUNDS] = { 0 }, bestp[MAX_ROUNDS] = { 0 };
        double lo, hi, plo, phi;
        int wins[_IMPL_MAX] = { 0 };
        char sb[32];

        for (int rd = 0; rd < rounds; rd++) {
                int b = IMPL_STREAM;
                double bp = c[IMPL_STREAM].p99[rd];
                for (int i = IMPL_SEQPKT; i < IMPL_GENSUP; i++) {
                        if (c[i].med[rd] < c[b].med[rd])
                                b = i;
                        if (c[i].p99[rd] < bp)
                                bp = c[i].p99[rd];
                }
                wins[b]++;
                best[rd] = c[b].med[rd];
                bestp[rd] = bp;
                rm[rd] = c[IMPL_GENSUP].med[rd] / best[rd];
                rp[rd] = c[IMPL_GENSUP].p99[rd] / bp;
        }
        int w = IMPL_STREAM;
        for (int i = IMPL_SEQPKT; i < IMPL_GENSUP; i++)
                if (wins[i] > wins[w])
                        w = i;
        bench_range(rm, (size_t) rounds, &lo, &hi);
        bench_range(rp, (size_t) rounds, &plo, &phi);
        printf("%-6s %-7s", bench_place_name[p], size_name(size, sb, sizeof(sb)));
        for (int i = 0; i < _IMPL_MAX; i++) {
                double v = median_copy(c[i].med, rounds);
                if (isinf(v))
                        printf(" %8s", "-");
                else
                        printf(" %8.2f", v);
        }
        printf(" %8s %6.2fx %5.2f-%-5.2f", impl_name[w], bench_median(rm, (size_t) rounds), lo, hi);
        printf(" %8.1f %8.1f %6.2fx %5.2f-%.2f\n", median_copy(bestp, rounds),
               median_copy(c[IMPL_GENSUP].p99, rounds), bench_median(rp, (size_t) rounds), plo, phi);
}

static int usage(const char *prog) {
        fprintf(stderr, "usage: %s [-r ROUNDS] [-p same|cross|both] [-n CALLS] [-s SIZE,SIZE,...] [-m MEMFD_MIN] [-g]\n", prog);
        return 2;
}

int main(int argc, char **argv) {
        unsigned places = (1u << PLACE_SAME) | (1u << PLACE_CROSS);
        int rounds = bench_rounds(7), n = 20000;
        size_t sizes[MAX_SIZES] = { 16, 1024, 65536, 1048576 };
        size_t n_sizes = 4;
        int opt;

        while ((opt = getopt(argc, argv, "r:n:s:p:m:g")) != -1) {
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
                case 'g':
                        only_gensup = true;
                        break;
                case 'm':
                        memfd_min = strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        n_sizes = 0;
                        for (char *t = strtok(optarg, ","); t && n_sizes < MAX_SIZES; t = strtok(NULL, ","))
                                sizes[n_sizes++] = strtoul(t, NULL, 10);
                        break;
                default:
                        return usage(argv[0]);
                }
        }
        if (rounds < 1 || rounds > MAX_ROUNDS || n < 10 || n_sizes == 0) {
                fprintf(stderr, "call_rtt: rounds 1..%d, calls >= 10\n", MAX_ROUNDS);
                return 2;
        }
        for (size_t si = 0; si < n_sizes; si++)
                if (sizes[si] == 0 || sizes[si] > RAW_BUF - 4) {
                        fprintf(stderr, "call_rtt: sizes 1..%u\n", RAW_BUF - 4);
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
        fprintf(stderr, "call_rtt: %d rounds, %d calls per run (%d at 64 KiB, %d at 1 MiB)\n", rounds, n,
                calls_for(65536, n), calls_for(1048576, n));
        for (int rd = 0; rd < rounds; rd++) {
                for (int p = 0; p < n_place; p++) {
                        if (!(places & (1u << p)))
                                continue;
                        peers pp;
                        peers_start(&pp, p == PLACE_SAME ? cpu[0] : cpu[1], path);
                        for (size_t si = 0; si < n_sizes; si++) {
                                int cnt = calls_for(sizes[si], n);
                                for (int k = 0; k < _IMPL_MAX; k++) {
                                        impl i = (impl) ((k + rd) % _IMPL_MAX);
                                        cell *c = &cells[p][si][i];
                                        if (only_gensup && i != IMPL_GENSUP) {
                                                c->med[rd] = c->p99[rd] = NAN;
                                                continue;
                                        }
                                        /* sd-memfd costs a memfd per call: a quarter of the calls */
                                        int k_cnt = i == IMPL_SDMEMFD && cnt >= 40 ? cnt / 4 : cnt;
                                        run_one(&pp, i, sizes[si], k_cnt / 10, k_cnt, lat);
                                        summarize(lat, k_cnt, &c->med[rd], &c->p99[rd]);
                                }
                        }
                        peers_stop(&pp);
                        fprintf(stderr, ".");
                }
        }
        fprintf(stderr, "\n");
        bench_tmp_done(dir, path);

        printf("call round trip (µs): median over %d rounds of each run's median call and p99;\n"
               "ratio = gensup / the round's fastest baseline (median of per-round ratios, range)\n", rounds);
        printf("%-6s %-7s %8s %8s %8s %8s %8s %8s %7s %11s %8s %8s %7s %s\n", "place", "size", "stream", "seqpkt",
               "sdbus", "sd-memfd", "gensup", "fastest", "ratio", "min-max", "best p99", "gs p99", "p99 rt", "min-max");
        for (int p = 0; p < n_place; p++)
                for (size_t si = 0; si < n_sizes && (places & (1u << p)); si++)
                        print_row(cells[p][si], p, sizes[si], rounds);
        if (n_place == 1)
                printf("(only one CPU available: no cross-core rows)\n");
        free(lat);
        return 0;
}
