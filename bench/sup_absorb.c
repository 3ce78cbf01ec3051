/* sup_absorb: crash absorption (issue 9 §3): gensupd restarting children
 * killed at a steady rate while one process asks it questions.
 *
 *   sup_absorb [-r ROUNDS] [-d SECONDS] [-n CHILDREN] [-q CONTROL_PER_S] [-s PROBE] BUILD_DIR RATE...
 *
 * Each setting runs a fresh gensupd with one one_for_one supervisor of
 * CHILDREN (default 100) children, each PROBE (default
 * BUILD_DIR/bench/sup_stamp; bench/sup-bench.sh passes its static build) holding
 * (ready = "notify": it sends READY=1, then waits for its end), intensity
 * 1,000,000 in 1 s, so that it never gives up. Then, for SECONDS:
 *
 *   killer   this process: follows gensupd's events on the control socket
 *            (`events --follow`, one connection) and, RATE times a second,
 *            evenly spread, SIGKILLs one running child, picked at random
 *            among those whose "started" event came and that were not
 *            killed since, by the pid that event gave. A tick that finds
 *            no such child is skipped (the achieved rate says so).
 *   control  a forked process: CONTROL_PER_S (default 100) requests a
 *            second, evenly spread, alternately `status` and
 *            `which-children ROOT`, each on the one connection it keeps,
 *            without waiting for the previous answer.
 *
 * Measured: restart latency (SIGKILL sent -> the killed child's next
 * "started" event read: the new process said READY=1 and gensupd told
 * its followers), control latency (request written -> its answer read),
 * median, p90, p99 and max; the achieved crash rate; gensupd's CPU per
 * second, and its CPU per restart, its own and its children's (their
 * whole life: exec, start, exit; gensupd reaps them). The settings,
 * interleaved in every round (the order turns round by round): for each
 * RATE, crashes with and without control traffic, and control traffic
 * with no crashes: the two baselines. Each round also measures the
 * machine's floor: as many sup_spawn_floor loops as there are CPUs, no
 * supervisor, each starting PROBE (vfork + exec, READY on a pipe, _exit)
 * one after the other: the most starts a second the machine makes at
 * all, against which the absorbed rates are put. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "sup_bench.h"
#include "ipc.h"

#define MAX_CHILDREN 1000
#define MAX_RATES 8
#define MAX_ROUNDS 32
#define MAX_SETTINGS (2 * MAX_RATES + 1)
#define DRAIN_MS 10000   /* after the run: restarts and answers still due */

typedef struct samples {
        double *v;   /* ms */
        size_t n, cap;
} samples;

/* One setting's results, summed over its rounds. */
typedef struct setting {
        int rate, control;
        samples restart, answer;
        double kills, seconds, cpu_s, child_cpu_s;
        long sent, answered, lost_restarts;
} setting;

typedef struct kid {
        char name[32];
        pid_t pid;            /* running, as the last "started" event said; 0: not */
        int64_t killed_ns;    /* SIGKILL sent, its restart not seen yet; 0: none */
} kid;

static const char *build_dir, *probe;
static int n_children = 100, seconds = 5;
static char work[4096];
static double floor_rates[MAX_ROUNDS];   /* starts/s, one per round */

static _Noreturn void die(const char *what) {
        fprintf(stderr, "sup_absorb: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void add(samples *s, double ms) {
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 1024;
                s->v = realloc(s->v, s->cap * sizeof(*s->v));
                if (!s->v)
                        die("realloc");
        }
        s->v[s->n++] = ms;
}

/* ---- gensupd ---- */

static void write_config(const char *path, const char *dir) {
        FILE *f = fopen(path, "we");
        if (!f)
                die(path);
        fprintf(f, "runtime_dir = \"%s/run\";\n"
                   "supervisor = { name = \"root\"; strategy = \"one_for_one\"; intensity = 1000000; period = 1;\n"
                   "  children = (\n", dir);
        for (int i = 0; i < n_children; i++)
                fprintf(f, "    { name = \"c%d\"; ready = \"notify\"; shutdown = \"brutal_kill\"; "
                           "exec = [\"%s\", \"0\", \"hold\", \"notify\", \"-\"]; }%s\n",
                        i, probe, i + 1 < n_children ? "," : "");
        fprintf(f, "  );\n};\n");
        if (fclose(f) != 0)
                die(path);
}

/* ---- the control socket ---- */

static ipc_conn *ctl_connect(const char *path) {
        int fd = ipc_connect(path);
        if (fd < 0) {
                errno = -fd;
                die(path);
        }
        ipc_conn *c;
        int r = ipc_conn_new(fd, 64u * 1024u * 1024u, &c);
        if (r < 0) {
                errno = -r;
                die("ipc_conn_new");
        }
        return c;
}

static void ctl_send(ipc_conn *c, uint64_t ref, const char *command, const char *arg) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        char *args[1] = { (char *) arg };
        req.command = (char *) command;
        req.args = arg ? args : NULL;
        req.n_args = arg ? 1 : 0;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        f.ctl = &req;
        int r = ipc_conn_queue(c, &f);
        while (r >= 0 && ipc_conn_pending(c) > 0) {
                r = ipc_conn_flush(c);
                if (r != -EAGAIN)
                        continue;
                /* gensupd writes answers while we write requests: take
                 * them in (ctl_next hands them out), or both wait. */
                struct pollfd p = { .fd = ipc_conn_fd(c), .events = POLLIN | POLLOUT };
                r = poll(&p, 1, 1000);
                if (r > 0 && (p.revents & POLLIN))
                        r = ipc_conn_read(c);
                if (r == -EAGAIN || (r < 0 && errno == EINTR))
                        r = 0;
        }
        if (r < 0) {
                errno = -r;
                die("sending a control request");
        }
}

/* The next frame, waiting at most timeout_ms: 1 with *ret, 0 for none. */
static int ctl_next(ipc_conn *c, int timeout_ms, ipc_frame **ret) {
        for (;;) {
                int r = ipc_conn_next(c, ret);
                if (r > 0)
                        return 1;
                if (r < 0) {
                        errno = -r;
                        die("control socket");
                }
                struct pollfd p = { .fd = ipc_conn_fd(c), .events = POLLIN };
                r = poll(&p, 1, timeout_ms);
                if (r == 0 || (r < 0 && errno == EINTR))
                        return 0;
                r = ipc_conn_read(c);
                if (r < 0 && r != -EAGAIN) {
                        errno = -r;
                        die("reading the control socket");
                }
                timeout_ms = 0;
        }
}

/* ---- the control process ---- */

/* Sends `per_s` requests a second for `seconds`, then waits for the
 * answers still due; writes "sent answered" and the latencies (ms, one a
 * line) to out. */
static int control_main(const char *sock, int per_s, FILE *out) {
        ipc_conn *c = ctl_connect(sock);
        long total = (long) per_s * seconds, sent = 0, answered = 0;
        int64_t *sent_ns = calloc((size_t) total + 1, sizeof(*sent_ns));
        double *lat = calloc((size_t) total + 1, sizeof(*lat));
        if (!sent_ns || !lat)
                die("calloc");
        int64_t t0 = bench_now_ns(), step = 1000000000 / per_s;
        int64_t drain_until = 0;
        while (answered < sent || sent < total) {
                int64_t now = bench_now_ns();
                if (sent < total && now >= t0 + sent * step) {
                        sent_ns[sent] = now;
                        ctl_send(c, (uint64_t) sent + 1, sent % 2 ? "which-children" : "status",
                                 sent % 2 ? "root" : NULL);
                        sent++;
                        continue;
                }
                if (sent == total && drain_until == 0)
                        drain_until = now + (int64_t) DRAIN_MS * 1000000;
                if (drain_until && now > drain_until)
                        break;
                int64_t due = sent < total ? t0 + sent * step : drain_until;
                int wait_ms = (int) ((due - now + 999999) / 1000000);
                ipc_frame *f;
                if (ctl_next(c, wait_ms, &f) == 0)
                        continue;
                int64_t got = bench_now_ns();
                if (f->kind == GENSUP__KIND__CTL_REPLY && f->ref >= 1 && f->ref <= (uint64_t) sent) {
                        if (f->ctl_reply && f->ctl_reply->code != 0)
                                fprintf(stderr, "sup_absorb: control request %llu: %s\n",
                                        (unsigned long long) f->ref, f->ctl_reply->error);
                        lat[answered++] = (double) (got - sent_ns[f->ref - 1]) / 1e6;
                }
                ipc_frame_free(f);
        }
        fprintf(out, "%ld %ld\n", sent, answered);
        for (long i = 0; i < answered; i++)
                fprintf(out, "%.6f\n", lat[i]);
        fclose(out);
        ipc_conn_free(c);
        free(sent_ns);
        free(lat);
        return 0;
}

static pid_t start_control(const char *sock, int per_s, int *ret_fd) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                FILE *out = fdopen(p[1], "w");
                if (!out)
                        _exit(1);
                _exit(control_main(sock, per_s, out));
        }
        close(p[1]);
        *ret_fd = p[0];
        return pid;
}

static void collect_control(int fd, pid_t pid, setting *s) {
        FILE *in = fdopen(fd, "r");
        long sent = 0, answered = 0;
        if (!in || fscanf(in, "%ld %ld", &sent, &answered) != 2) {
                fprintf(stderr, "sup_absorb: the control process gave no results\n");
                exit(1);
        }
        double ms;
        while (fscanf(in, "%lf", &ms) == 1)
                add(&s->answer, ms);
        fclose(in);
        bench_reap(pid, false);
        s->sent += sent;
        s->answered += answered;
}

/* ---- the killer: events in, SIGKILLs out ---- */

static kid *kid_named(kid *kids, const char *name) {
        for (int i = 0; i < n_children; i++)
                if (strcmp(kids[i].name, name) == 0)
                        return &kids[i];
        return NULL;
}

/* An event: a "started" one makes its child a target again. */
static void on_event(kid *kids, const char *text, setting *s) {
        json_t *j = json_loads(text, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *child = json_string_value(json_object_get(j, "child"));
        kid *k = child ? kid_named(kids, child) : NULL;
        if (k && ev && strcmp(ev, "started") == 0) {
                k->pid = (pid_t) json_integer_value(json_object_get(j, "pid"));
                if (k->killed_ns && s)
                        add(&s->restart, (double) (bench_now_ns() - k->killed_ns) / 1e6);
                k->killed_ns = 0;
        }
        json_decref(j);
}

/* Subscribes; the events kept so far give the children's pids. */
static ipc_conn *follow_events(const char *sock, kid *kids) {
        ipc_conn *c = ctl_connect(sock);
        ctl_send(c, 1, "events", "--follow");
        ipc_frame *f = NULL;
        while (!f)
                if (ctl_next(c, 1000, &f) == 0)
                        f = NULL;
        if (f->kind != GENSUP__KIND__CTL_REPLY || !f->ctl_reply || f->ctl_reply->code != 0) {
                fprintf(stderr, "sup_absorb: events --follow refused\n");
                exit(1);
        }
        json_t *j = json_loads(f->ctl_reply->json, 0, NULL), *ev;
        size_t i;
        json_array_foreach(json_object_get(j, "events"), i, ev) {
                char *t = json_dumps(ev, 0);
                if (t)
                        on_event(kids, t, NULL);
                free(t);
        }
        json_decref(j);
        ipc_frame_free(f);
        return c;
}

/* Reads the events there are (waiting at most timeout_ms for the first). */
static void read_events(ipc_conn *c, kid *kids, int timeout_ms, setting *s) {
        ipc_frame *f;
        while (ctl_next(c, timeout_ms, &f) == 1) {
                if (f->kind == GENSUP__KIND__EVENT && f->event && f->event->json)
                        on_event(kids, f->event->json, s);
                ipc_frame_free(f);
                timeout_ms = 0;
        }
}

/* SIGKILL to a random running child not killed yet: false if none. */
static bool kill_one(kid *kids) {
        int pick = (int) (lrand48() % n_children);
        for (int i = 0; i < n_children; i++) {
                kid *k = &kids[(pick + i) % n_children];
                if (k->pid > 0 && !k->killed_ns) {
                        k->killed_ns = bench_now_ns();
                        (void) kill(k->pid, SIGKILL);
                        k->pid = 0;
                        return true;
                }
        }
        return false;
}

static int pending_restarts(const kid *kids) {
        int n = 0;
        for (int i = 0; i < n_children; i++)
                n += kids[i].killed_ns != 0;
        return n;
}

static void kill_loop(ipc_conn *ev, kid *kids, int rate, setting *s) {
        int64_t t0 = bench_now_ns(), end = t0 + (int64_t) seconds * 1000000000;
        int64_t step = rate > 0 ? 1000000000 / rate : 0;
        long tick = 0, kills = 0;
        for (;;) {
                int64_t now = bench_now_ns();
                if (now >= end)
                        break;
                if (rate > 0 && now >= t0 + tick * step) {
                        kills += kill_one(kids);
                        tick++;
                        continue;
                }
                int64_t due = rate > 0 ? t0 + tick * step : end;
                read_events(ev, kids, (int) ((due - now + 999999) / 1000000), s);
        }
        int64_t drain = bench_now_ns() + (int64_t) DRAIN_MS * 1000000;
        while (pending_restarts(kids) > 0 && bench_now_ns() < drain)
                read_events(ev, kids, 100, s);
        s->lost_restarts += pending_restarts(kids);
        s->kills += (double) kills;
        s->seconds += seconds;
}

/* ---- CPU and the floor ---- */

/* The CPU time (user + system) of pid's reaped children so far: for
 * gensupd, every child it has reaped. */
static double children_cpu_s(pid_t pid) {
        return (double) bench_proc_stat_pair(pid, 16) / (double) sysconf(_SC_CLK_TCK);
}

/* The machine's floor: one sup_spawn_floor loop per CPU at once, each
 * starting the probe (READY on fd 3, then _exit) one after the other
 * for about the setting's length; starts a second, all loops together. */
static double floor_rate(void) {
        char cfg[4200], exe[4200];
        snprintf(cfg, sizeof(cfg), "%s/floor.cfg", work);
        snprintf(exe, sizeof(exe), "%s/bench/sup_spawn_floor", build_dir);
        FILE *f = fopen(cfg, "we");
        if (!f || fprintf(f, "0 exit fd:3 -\n") < 0 || fclose(f) != 0)
                die(cfg);
        long n_cpu = sysconf(_SC_NPROCESSORS_ONLN), per = 100L * seconds;
        if (n_cpu < 1 || n_cpu > 64)
                n_cpu = 1;
        char count[32];
        snprintf(count, sizeof(count), "%ld", per);
        pid_t pids[64];
        int64_t t0 = bench_now_ns();
        fflush(NULL);
        for (long i = 0; i < n_cpu; i++) {
                pids[i] = fork();
                if (pids[i] < 0)
                        die("fork");
                if (pids[i] == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        if (null < 0 || dup2(null, 1) < 0)
                                _exit(127);
                        execl(exe, exe, probe, cfg, count, (char *) NULL);
                        _exit(127);
                }
        }
        bool ok = true;
        for (long i = 0; i < n_cpu; i++) {
                int status = 0;
                while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
                        ;
                ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        double wall = (double) (bench_now_ns() - t0) / 1e9;
        if (!ok) {
                fprintf(stderr, "sup_absorb: %s failed: no floor\n", exe);
                return 0;
        }
        return (double) (n_cpu * (per + 1)) / wall;
}

/* ---- one setting, one round ---- */

static void run_setting(setting *s, int round) {
        char dir[4200], conf[4300], log[4300], notify[4300], sock[4400], rundir[4300];
        snprintf(dir, sizeof(dir), "%s/r%d-%d-%d", work, round, s->rate, s->control);
        snprintf(conf, sizeof(conf), "%s/g.conf", dir);
        snprintf(log, sizeof(log), "%s/log", dir);
        snprintf(notify, sizeof(notify), "%s/n.sock", dir);
        snprintf(rundir, sizeof(rundir), "%s/run", dir);
        snprintf(sock, sizeof(sock), "%s/control.sock", rundir);
        if (mkdir(dir, 0700) < 0 || mkdir(rundir, 0700) < 0)
                die(dir);
        write_config(conf, dir);
        pid_t g = bench_gensupd_up(build_dir, conf, log, notify, NULL);

        kid kids[MAX_CHILDREN] = { 0 };
        for (int i = 0; i < n_children; i++)
                snprintf(kids[i].name, sizeof(kids[i].name), "c%d", i);
        ipc_conn *ev = follow_events(sock, kids);
        int cfd = -1;
        pid_t cp = s->control > 0 ? start_control(sock, s->control, &cfd) : 0;
        double c0 = ((double) bench_proc_cpu_ns(g) / 1e9), k0 = children_cpu_s(g);
        kill_loop(ev, kids, s->rate, s);
        if (cp > 0)
                collect_control(cfd, cp, s);
        s->cpu_s += ((double) bench_proc_cpu_ns(g) / 1e9) - c0;
        s->child_cpu_s += children_cpu_s(g) - k0;
        ipc_conn_free(ev);

        kill(g, SIGTERM);
        int status = 0;
        while (waitpid(g, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "sup_absorb: gensupd ended with status %#x (see %s)\n", status, log);
        char cmd[8800];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (status == 0 && system(cmd) != 0)
                fprintf(stderr, "sup_absorb: could not remove %s\n", dir);
}

/* ---- the table ---- */

typedef struct quant {
        double med, p90, p99, max;
} quant;

static quant quantiles(samples *x) {
        quant q = { 0 };
        if (x->n == 0)
                return q;
        qsort(x->v, x->n, sizeof(*x->v), bench_cmp_double);
        q.med = bench_quantile_sorted(x->v, x->n, 0.5);
        q.p90 = bench_quantile_sorted(x->v, x->n, 0.9);
        q.p99 = bench_quantile_sorted(x->v, x->n, 0.99);
        q.max = x->v[x->n - 1];
        return q;
}

static double ratio(double a, double b) {
        return b > 0 ? a / b : 0;
}

static void print_row(setting *s) {
        quant r = quantiles(&s->restart), a = quantiles(&s->answer);
        char label[64];
        snprintf(label, sizeof(label), "%d crashes/s, %d ctl/s", s->rate, s->control);
        printf("  %-26s %7.1f %7.2f %5zu %7.2f %7.2f %7.2f %7.1f  %5ld/%-5ld %7.2f %7.2f %7.2f %7.1f  %5.2f %6.3f %6.3f\n",
               label, s->seconds > 0 ? s->kills / s->seconds : 0, 0.0 + (double) s->lost_restarts, s->restart.n, r.med,
               r.p90, r.p99, r.max, s->answered, s->sent, a.med, a.p90, a.p99, a.max,
               s->seconds > 0 ? s->cpu_s / s->seconds : 0, s->kills > 0 ? 1e3 * s->cpu_s / s->kills : 0,
               s->kills > 0 ? 1e3 * s->child_cpu_s / s->kills : 0);
}

static void print_floor(setting *set, int n_rates, int rounds) {
        samples f = { 0 };
        printf("\n  floor (no supervisor, %ld sup_spawn_floor loops at once): starts/s per round:",
               sysconf(_SC_NPROCESSORS_ONLN));
        for (int r = 0; r < rounds; r++) {
                printf(" %.1f", floor_rates[r]);
                add(&f, floor_rates[r]);
        }
        double med = quantiles(&f).med;
        printf("; median %.1f\n", med);
        for (int i = 0; i < 2 * n_rates; i++) {
                setting *s = &set[i];
                double got = s->seconds > 0 ? s->kills / s->seconds : 0;
                printf("  %4d crashes/s, %3d ctl/s: absorbed %.1f/s = %.2f of the floor; asked %.2f of it\n",
                       s->rate, s->control, got, ratio(got, med), ratio(s->rate, med));
        }
        free(f.v);
}

static void print_ratios(setting *set, int n_rates) {
        setting *idle = &set[2 * n_rates];
        quant qi = quantiles(&idle->answer);
        printf("\n  ratios (with control traffic / without, same run):\n");
        for (int i = 0; i < n_rates; i++) {
                setting *with = &set[2 * i], *without = &set[2 * i + 1];
                quant w = quantiles(&with->restart), wo = quantiles(&without->restart), a = quantiles(&with->answer);
                printf("  %4d crashes/s: restart median %5.2fx p99 %5.2fx (p99 %.2f ms, target <= 20 ms); "
                       "control median %5.2fx p99 %5.2fx vs no crashes (p99 %.2f ms, target <= 10 ms)\n",
                       with->rate, ratio(w.med, wo.med), ratio(w.p99, wo.p99), w.p99, ratio(a.med, qi.med),
                       ratio(a.p99, qi.p99), a.p99);
        }
}

int main(int argc, char **argv) {
        int rounds = 3, control = 100, opt;
        while ((opt = getopt(argc, argv, "r:d:n:q:s:")) >= 0) {
                if (opt == 'r')
                        rounds = atoi(optarg);
                else if (opt == 'd')
                        seconds = atoi(optarg);
                else if (opt == 'n')
                        n_children = atoi(optarg);
                else if (opt == 'q')
                        control = atoi(optarg);
                else if (opt == 's')
                        probe = optarg;
                else
                        goto usage;
        }
        int n_rates = argc - optind - 1;
        if (n_rates < 1 || n_rates > MAX_RATES || rounds < 1 || rounds > MAX_ROUNDS || seconds < 1 ||
            n_children < 1 || n_children > MAX_CHILDREN || control < 1) {
usage:
                fprintf(stderr, "usage: sup_absorb [-r ROUNDS] [-d SECONDS] [-n CHILDREN] [-q CONTROL_PER_S] "
                                "[-s PROBE] BUILD_DIR RATE...\n");
                return 2;
        }
        build_dir = realpath(argv[optind], NULL);
        if (!build_dir)
                die(argv[optind]);
        static char probe_path[4200];
        if (!probe) {
                snprintf(probe_path, sizeof(probe_path), "%s/bench/sup_stamp", build_dir);
                probe = probe_path;
        }
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(work, sizeof(work), "%s/sup-absorb.XXXXXX", tmp);
        if (!mkdtemp(work))
                die("mkdtemp");
        srand48(1);

        /* For each rate: with and without control traffic; then control
         * traffic alone. */
        setting set[MAX_SETTINGS] = { { 0 } };
        int n_set = 2 * n_rates + 1;
        for (int i = 0; i < n_rates; i++) {
                set[2 * i] = (setting) { .rate = atoi(argv[optind + 1 + i]), .control = control };
                set[2 * i + 1] = (setting) { .rate = set[2 * i].rate, .control = 0 };
        }
        set[2 * n_rates] = (setting) { .rate = 0, .control = control };

        char load[64] = "?";
        FILE *lf = fopen("/proc/loadavg", "re");
        if (lf) {
                if (!fgets(load, 15, lf))
                        snprintf(load, sizeof(load), "?");
                fclose(lf);
        }
        printf("crash absorption: one_for_one, %d children (%s holding, ready = notify), %d rounds x %d s per "
               "setting, interleaved; load before %s\n", n_children, probe, rounds, seconds, load);
        for (int r = 0; r < rounds; r++) {
                floor_rates[r] = floor_rate();
                for (int k = 0; k < n_set; k++)
                        run_setting(&set[r % 2 ? n_set - 1 - k : k], r);
        }
        printf("  (ms; restart = SIGKILL -> the child's next \"started\" event read; control = request written ->"
               " answer read;\n   lost = kills whose restart was not seen %d s after the run; CPU = gensupd's, s/s;"
               "\n   ms/kill = gensupd's CPU per kill, and its children's (exec, start, exit), ms)\n",
               DRAIN_MS / 1000);
        printf("  %-26s %7s %7s %5s %7s %7s %7s %7s  %11s %7s %7s %7s %7s  %5s %6s %6s\n", "setting", "kills/s",
               "lost", "n", "median", "p90", "p99", "max", "answered", "median", "p90", "p99", "max", "CPU", "ms/k",
               "kid/k");
        for (int k = 0; k < n_set; k++)
                print_row(&set[k]);
        print_ratios(set, n_rates);
        print_floor(set, n_rates, rounds);
        lf = fopen("/proc/loadavg", "re");
        if (lf) {
                if (fgets(load, 15, lf))
                        printf("  load after %s\n", load);
                fclose(lf);
        }
        fflush(stdout);
        rmdir(work);
        return 0;
}
