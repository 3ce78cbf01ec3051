/* serve_restart: a real libgensup server back in service (issue 9 §5),
 * against the same binary started by hand, in interleaved rounds.
 *
 *   serve_restart [-r ROUNDS] [-n N] [-g GENSUPD_PID] SERVER HELD [HANDED [POLLED]]
 *
 * SERVER is the server binary (bench/gs_start: an echo gen_server); HELD
 * the socket of a gensupd child running it with `listen = true` (gensupd
 * makes the socket and holds it across restarts); HANDED, optionally, one
 * with no listen key, the default (the server makes its socket and hands
 * it to gensupd with READY, which holds it from then on); POLLED one with
 * `listen = false` (the server binds its own socket at every start).
 * Each round takes N samples of each measure, one of each in turn:
 *
 *   exec->ready    by hand: clone(CLONE_VM|CLONE_VFORK) + exec of SERVER
 *                  with a listening socket passed as fd 3 (LISTEN_FDS),
 *                  until its READY=1 arrives on $NOTIFY_SOCKET: the floor
 *   exec->answer   by hand: the same spawn, until a new client's call
 *                  (connected at once to the held socket) is answered
 *   kill->answer by hand   SIGKILL, waitpid, spawn as above, a new client's
 *                  call answered: the smallest supervisor doing the job;
 *                  its first part, SIGKILL -> waitpid returned, is shown
 *                  too: the old process's teardown, in every kill row
 *   kill->answer gensupd held     SIGKILL of the server gensupd runs, a
 *                  new client connects at once and its call is answered
 *   kill->answer gensupd handed   the same with the default (no listen
 *                  key): no retry either
 *   kill->answer gensupd polled   the same with `listen = false`: the
 *                  client retries connecting every 1 ms until it works
 *
 * The server's pid comes from SO_PEERCRED on a connection (gensup
 * servers listen() again on a held socket, so it names them, not gensupd:
 * -g GENSUPD_PID checks that). Prints, per measure, n, median, p90, p99,
 * min and max in ms, then the ratios (median and p99) to the floor. */
#include <getopt.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "bench.h"

#define MAX_N 100000

typedef enum measure {
        M_READY,
        M_ANSWER,
        M_HAND,
        M_REAP,
        M_HELD,
        M_HANDED,
        M_POLLED,
        _M_MAX,
} measure;

static const char *const measure_name[_M_MAX] = {
        [M_READY] = "by hand: exec -> READY=1 (floor)",
        [M_ANSWER] = "by hand: exec -> new client's call answered",
        [M_HAND] = "by hand: kill -> waitpid, exec, call answered",
        [M_REAP] = "  of which kill -> waitpid returned",
        [M_HELD] = "gensupd, listen = true: kill -> call answered",
        [M_HANDED] = "gensupd, default (handed): kill -> answered",
        [M_POLLED] = "gensupd, listen = false: kill -> call answered",
};

typedef struct hand {
        const char *server;
        char path[108];          /* the listening socket the bench holds */
        int listen_fd;
        int notify_fd;
        char notify_env[128];    /* NOTIFY_SOCKET=@... */
        char pid_env[32];        /* LISTEN_PID=..., written by the child */
        bool notify;             /* pass NOTIFY_SOCKET (only for exec->ready:
                                  * nobody reads it otherwise, and a full
                                  * queue blocks sd_notify) */
} hand;

typedef struct series {
        double *v;
        int n;
} series;

static void add(series *s, int64_t t0, int64_t t1) {
        s->v[s->n++] = (double) (t1 - t0) / 1e6;
}

static void pause_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* In the clone(CLONE_VM) child: no allocation, only syscalls and its own
 * LISTEN_PID string (the parent sleeps until the exec). */
static int hand_child(void *arg) {
        hand *h = arg;
        char digits[16];
        int n = 0, pid = (int) getpid();
        char *argv[] = { (char *) h->server, (char *) "--name", (char *) "bench-echo", NULL };
        char *envp[] = { (char *) "LISTEN_FDS=1", h->pid_env, h->notify ? h->notify_env : NULL, NULL };

        do
                digits[n++] = (char) ('0' + pid % 10);
        while ((pid /= 10) > 0);
        char *p = h->pid_env + strlen("LISTEN_PID=");
        while (n > 0)
                *p++ = digits[--n];
        *p = '\0';
        if (dup2(h->listen_fd, 3) < 0)
                _exit(127);
        execve(h->server, argv, envp);
        _exit(127);
}

static pid_t hand_spawn(hand *h) {
        static char stack[64 * 1024] __attribute__((aligned(16)));

        strcpy(h->pid_env, "LISTEN_PID=");
        pid_t pid = clone(hand_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, h);
        if (pid < 0)
                bench_die("clone", errno);
        return pid;
}

static void hand_setup(hand *h, const char *dir) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        snprintf(h->path, sizeof(h->path), "%s/hand.sock", dir);
        h->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);   /* no CLOEXEC: it is dup2'ed */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->path);
        if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(h->listen_fd, SOMAXCONN) < 0)
                bench_die("hand socket", errno);
        struct sockaddr_un na = { .sun_family = AF_UNIX };
        int len = snprintf(na.sun_path + 1, sizeof(na.sun_path) - 1, "gs-bench-notify-%d", (int) getpid());
        h->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (h->notify_fd < 0 ||
            bind(h->notify_fd, (struct sockaddr *) &na, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0)
                bench_die("notify socket", errno);
        struct timeval tv = { 10, 0 };
        (void) setsockopt(h->notify_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        snprintf(h->notify_env, sizeof(h->notify_env), "NOTIFY_SOCKET=@%s", na.sun_path + 1);
}

/* A new client's call, answered; retry_ms > 0: retry connecting (and a
 * call cut by a dying server) every retry_ms until it works. */
static void call_once(const char *path, long retry_ms) {
        gs_buf reply = GS_BUF_INIT;

        for (int tries = 0;; tries++) {
                gs_client *c = NULL;
                int r = gs_client_connect(path, &c);
                if (r == 0) {
                        r = gs_call(c, "ping", 4, 10000, &reply);
                        gs_client_free(c);
                }
                if (r == 0 && reply.len == 4)
                        break;
                if (retry_ms <= 0 || tries > 10000 / retry_ms)
                        bench_die(path, r < 0 ? r : EBADMSG);
                pause_ms(retry_ms);
        }
        gs_buf_done(&reply);
}

static void drain_notify(hand *h) {
        char b[256];

        while (recv(h->notify_fd, b, sizeof(b), MSG_DONTWAIT) > 0)
                ;
}

static void wait_ready(hand *h) {
        char b[256];
        ssize_t k;

        do
                k = recv(h->notify_fd, b, sizeof(b) - 1, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                bench_die("no READY=1 from the server", errno);
}

static void kill_wait(pid_t pid) {
        bench_reap(pid, true);
}

/* The pid on the other end of a connection to path (SO_PEERCRED). */
static pid_t server_pid(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cr;
        socklen_t len = sizeof(cr);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
                bench_die(path, errno);
        close(fd);
        return cr.pid;
}

/* One sample of each by-hand measure. */
static void sample_by_hand(hand *h, series *s) {
        h->notify = true;
        drain_notify(h);
        int64_t t0 = bench_now_ns();
        pid_t pid = hand_spawn(h);
        wait_ready(h);
        add(&s[M_READY], t0, bench_now_ns());
        call_once(h->path, 0);
        kill_wait(pid);
        h->notify = false;
        pause_ms(10);

        t0 = bench_now_ns();
        pid = hand_spawn(h);
        call_once(h->path, 0);
        add(&s[M_ANSWER], t0, bench_now_ns());
        pause_ms(10);

        t0 = bench_now_ns();
        kill_wait(pid);
        add(&s[M_REAP], t0, bench_now_ns());
        pid = hand_spawn(h);
        call_once(h->path, 0);
        add(&s[M_HAND], t0, bench_now_ns());
        kill_wait(pid);
}

/* One sample: SIGKILL the server behind path, then a new client's call
 * answered (retrying every retry_ms if > 0). */
static void sample_gensupd(const char *path, long retry_ms, pid_t gensupd, series *s) {
        call_once(path, retry_ms);
        pause_ms(10);
        pid_t pid = server_pid(path);
        if (pid == gensupd)
                bench_die("SO_PEERCRED names gensupd, not the server", EINVAL);
        int64_t t0 = bench_now_ns();
        if (kill(pid, SIGKILL) < 0)
                bench_die("kill", errno);
        call_once(path, retry_ms);
        add(s, t0, bench_now_ns());
}

static void print_stats(const char *name, series *s, double *ret_med, double *ret_p99) {
        if (s->n == 0)
                return;
        double med = bench_median(s->v, (size_t) s->n);   /* sorts */
        double p90 = bench_quantile_sorted(s->v, (size_t) s->n, 0.90);
        double p99 = bench_quantile_sorted(s->v, (size_t) s->n, 0.99);
        printf("  %-48s %5d %8.3f %8.3f %8.3f %8.3f %8.3f\n", name, s->n, med, p90, p99, s->v[0],
               s->v[s->n - 1]);
        *ret_med = med;
        *ret_p99 = p99;
}

int main(int argc, char **argv) {
        int rounds = 3, n = 20, opt;
        pid_t gensupd = 0;

        while ((opt = getopt(argc, argv, "r:n:g:")) != -1) {
                switch (opt) {
                case 'r':
                        rounds = atoi(optarg);
                        break;
                case 'n':
                        n = atoi(optarg);
                        break;
                case 'g':
                        gensupd = (pid_t) atoi(optarg);
                        break;
                default:
                        goto usage;
                }
        }
        if (argc - optind < 2 || argc - optind > 4 || rounds < 1 || n < 1 || rounds * n > MAX_N)
                goto usage;
        const char *held = argv[optind + 1], *handed = argc - optind >= 3 ? argv[optind + 2] : NULL;
        const char *polled = argc - optind == 4 ? argv[optind + 3] : NULL;
        char dir[64] = "";
        (void) bench_tmp_path(dir, sizeof(dir), "x");
        hand h = { .server = argv[optind] };
        hand_setup(&h, dir);
        series s[_M_MAX];
        for (int m = 0; m < _M_MAX; m++) {
                s[m].v = calloc((size_t) (rounds * n), sizeof(double));
                s[m].n = 0;
                if (!s[m].v)
                        bench_die("calloc", ENOMEM);
        }
        (void) signal(SIGPIPE, SIG_IGN);
        /* Every measure takes one sample in turn, so that a change in the
         * machine's load falls on all of them alike. */
        for (int rd = 0; rd < rounds; rd++) {
                for (int i = 0; i < n; i++) {
                        sample_by_hand(&h, s);
                        sample_gensupd(held, 0, gensupd, &s[M_HELD]);
                        if (handed)
                                sample_gensupd(handed, 0, gensupd, &s[M_HANDED]);
                        if (polled)
                                sample_gensupd(polled, 1, gensupd, &s[M_POLLED]);
                }
                fprintf(stderr, ".");
        }
        fprintf(stderr, "\n");
        close(h.listen_fd);
        (void) unlink(h.path);
        bench_tmp_done(dir, NULL);

        double med[_M_MAX] = { 0 }, p99[_M_MAX] = { 0 };
        printf("  %-48s %5s %8s %8s %8s %8s %8s\n", "ms", "n", "median", "p90", "p99", "min", "max");
        for (int m = 0; m < _M_MAX; m++)
                print_stats(measure_name[m], &s[m], &med[m], &p99[m]);
        printf("\n  ratios (median, p99):\n");
        for (int m = M_ANSWER; m < _M_MAX; m++)
                if (s[m].n > 0 && m != M_REAP)
                        printf("  %-48s %5.2fx %5.2fx  over exec -> READY=1 (floor)%s\n", measure_name[m],
                               med[m] / med[M_READY], p99[m] / p99[M_READY], m == M_HANDED ? ", target <= 1.3" : "");
        for (int m = M_HELD; m < _M_MAX; m++)
                if (s[m].n > 0)
                        printf("  %-48s %5.2fx %5.2fx  over kill -> answered by hand\n", measure_name[m],
                               med[m] / med[M_HAND], p99[m] / p99[M_HAND]);
        for (int m = 0; m < _M_MAX; m++)
                free(s[m].v);
        return 0;
usage:
        fprintf(stderr, "usage: serve_restart [-r ROUNDS] [-n N] [-g GENSUPD_PID] SERVER HELD_SOCKET [HANDED_SOCKET [POLLED_SOCKET]]\n");
        return 2;
}
