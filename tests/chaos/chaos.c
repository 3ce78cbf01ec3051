/* chaos.c: gensupd under fire. Several test_servers under one gensupd,
 * several client processes calling them without pause (gs_call with a
 * timeout), and a killer that takes servers down at random with SIGKILL,
 * SIGSEGV and SIGABRT and through gensupctl terminate-child and
 * restart-child. Checked as a user would:
 *   - every call ends with its reply or a defined error, never a hang
 *     (each client has a watchdog far above the call timeout);
 *   - gensupd is the same process from start to end;
 *   - its fd count is back to the baseline at the end, and its RSS after
 *     the warm-up grows less than a generous bound (sampled every second);
 *   - after `gensupctl stop`: no zombie, and no process of the run left.
 *
 *   chaos BUILD_DIR [SECONDS [SERVERS [CLIENTS [SEED]]]]
 *
 * Prints calls, kills, errors by kind, fd and RSS at start and end;
 * exits 0 when every check held. `make chaos` runs it for 60 s, `make
 * check` for a few seconds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gensup.h"
#include "ipc.h"

#define MAX_SERVERS 16
#define MAX_CLIENTS 16
#define CALL_TIMEOUT_MS 2000
#define WATCHDOG_S 30            /* a call not over by then hangs */
#define WAIT_MS 20000            /* bounded waits for things that must happen */
#define RSS_BOUND_KB (16 * 1024) /* RSS growth allowed after the warm-up */

/* What one client counts; sent to the parent through a pipe at its end. */
enum { RES_OK, RES_WRONG, RES_TIMEOUT, RES_RESET, RES_REFUSED, RES_REMOTE, RES_OTHER, RES_MAX };
static const char *const result_names[RES_MAX] = {
        "ok", "wrong_reply", "timeout", "connection_reset", "connect_refused", "remote_error", "other",
};
typedef struct counts {
        uint64_t n[RES_MAX];
} counts;

static const char *build;
static char runtime_dir[] = "/tmp/gs-chaos-XXXXXX";
static pid_t gensupd;
static unsigned n_servers = 4, n_clients = 4;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void remove_dir(void);

static void die(const char *what) {
        fprintf(stderr, "chaos: %s (gensupd's log follows)\n", what);
        if (gensupd > 0)
                kill(gensupd, SIGKILL);
        char *cmd;
        if (asprintf(&cmd, "cat %s/gensupd.log >&2", runtime_dir) > 0 && system(cmd) != 0)
                fprintf(stderr, "chaos: no log\n");
        remove_dir();
        exit(EXIT_FAILURE);
}

/* ---- gensupd ---- */

static char *path_in(const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", runtime_dir, name) < 0)
                die("out of memory");
        return p;
}

static void write_config(const char *conf) {
        FILE *f = fopen(conf, "we");
        if (!f)
                die("cannot write the config");
        fprintf(f, "supervisor = { name = \"root\"; strategy = \"one_for_one\"; intensity = 1000000; period = 1;\n"
                   "  children = (\n");
        for (unsigned i = 0; i < n_servers; i++)
                fprintf(f, "    { name = \"s%u\"; exec = [\"%s/examples/test_server\"]; listen = true; shutdown = 2000; }%s\n",
                        i, build, i + 1 < n_servers ? "," : "");
        fprintf(f, "  );\n};\n");
        if (fclose(f) != 0)
                die("cannot write the config");
}

static void start_gensupd(void) {
        char *conf = path_in("chaos.conf"), *log = path_in("gensupd.log"), *prog;
        if (asprintf(&prog, "%s/bin/gensupd", build) < 0)
                die("out of memory");
        write_config(conf);
        pid_t parent = getpid();
        gensupd = fork();
        if (gensupd < 0)
                die("fork");
        if (gensupd == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execl(prog, prog, "-c", conf, "--log-stderr", (char *) NULL);
                _exit(127);
        }
        free(conf);
        free(log);
        free(prog);
}

/* One control request over the socket, as gensupctl sends it. Returns
 * the reply's JSON (NULL on any failure). */
static json_t *ctl(const char *command, const char *arg) {
        char *path = path_in("control.sock");
        int fd = ipc_connect(path);
        free(path);
        ipc_conn *c;
        if (fd < 0 || ipc_conn_new(fd, 0, &c) < 0)
                return NULL;
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        char *args[1] = { (char *) arg };
        req.command = (char *) command;
        req.args = arg ? args : NULL;
        req.n_args = arg ? 1 : 0;
        ipc_frame f, *in = NULL;
        ipc_frame_init(&f, GENSUP__KIND__CTL, 1);
        f.ctl = &req;
        json_t *j = NULL;
        int r = ipc_conn_queue(c, &f);
        while (r == 0 && (r = ipc_conn_flush(c)) == -EAGAIN)
                r = ipc_conn_wait(c, false, WAIT_MS) > 0 ? 0 : -ETIMEDOUT;
        while (r == 0 && (r = ipc_conn_next(c, &in)) == 0)
                r = ipc_conn_wait(c, true, WAIT_MS) > 0 && ipc_conn_read(c) != -ECONNRESET ? 0 : -EIO;
        if (r > 0 && in->kind == GENSUP__KIND__CTL_REPLY && in->ctl_reply && in->ctl_reply->code == 0 &&
            in->ctl_reply->json)
                j = json_loads(in->ctl_reply->json, 0, NULL);
        ipc_frame_free(in);
        /* Our end, then gensupd's: once it has closed, its fd is gone (so
         * fd counts taken after this do not see it). */
        (void) shutdown(ipc_conn_fd(c), SHUT_WR);
        for (int64_t deadline = now_ms() + WAIT_MS; now_ms() < deadline;)
                if (ipc_conn_wait(c, true, WAIT_MS) > 0 && ipc_conn_read(c) == -ECONNRESET)
                        break;
        ipc_conn_free(c);
        return j;
}

/* The pids of the servers; true when every one runs. which-children,
 * not status: a status starts the cgroup sampler thread, whose files
 * open and close while it sweeps and would blur the fd counts. */
static bool server_pids(pid_t pids[]) {
        json_t *j = ctl("which-children", "root");
        json_t *children = json_object_get(j, "children");
        bool all = json_array_size(children) == n_servers;
        size_t i;
        json_t *c;
        json_array_foreach(children, i, c) {
                const char *state = json_string_value(json_object_get(c, "state"));
                json_int_t pid = json_integer_value(json_object_get(c, "pid"));
                if (i < MAX_SERVERS)
                        pids[i] = (pid_t) pid;
                all &= state && strcmp(state, "running") == 0 && pid > 0;
        }
        json_decref(j);
        return all;
}

static void wait_all_running(pid_t pids[]) {
        int64_t deadline = now_ms() + WAIT_MS;
        int status;
        while (!server_pids(pids)) {
                if (waitpid(gensupd, &status, WNOHANG) != 0)
                        die("gensupd ended");
                if (now_ms() > deadline)
                        die("the servers did not all come up");
                nap_ms(20);
        }
}

/* ---- what /proc says about gensupd ---- */

static long count_fds(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        DIR *d = opendir(path);
        long n = 0;
        if (!d)
                return -1;
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static long rss_kb(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

/* The fd count once no control connection is open: gensupctl's come and
 * go, so wait (bounded) until the count is back to want. */
static long settle_fds(long want) {
        int64_t deadline = now_ms() + WAIT_MS;
        long n;
        while ((n = count_fds(gensupd)) != want && now_ms() < deadline)
                nap_ms(20);
        return n;
}

/* ---- clients ---- */

static int classify(int r, const gs_buf *reply, const char *want) {
        switch (r) {
        case 0:
                return reply->len == strlen(want) && memcmp(reply->data, want, reply->len) == 0 ? RES_OK : RES_WRONG;
        case -ETIMEDOUT:
                return RES_TIMEOUT;
        case -ECONNRESET:
        case -EPIPE:
                return RES_RESET;
        case -ECONNREFUSED:
        case -ENOENT:
                return RES_REFUSED;
        case -EREMOTEIO:
                return RES_REMOTE;
        default:
                return RES_OTHER;
        }
}

/* One client: calls random servers until told to stop (its stdin, the
 * parent's pipe, closes), reconnecting after a failure. */
static void client_loop(unsigned id, int stop_fd, int out_fd) {
        counts k = { 0 };
        gs_client *c[MAX_SERVERS] = { NULL };
        gs_buf reply = GS_BUF_INIT;
        srand48((long) getpid());
        signal(SIGALRM, SIG_DFL);
        fcntl(stop_fd, F_SETFL, O_NONBLOCK);
        for (uint64_t i = 0;; i++) {
                char b;
                if (read(stop_fd, &b, 1) == 0)
                        break;
                unsigned s = (unsigned) (lrand48() % n_servers);
                char name[16], req[64], want[64];
                snprintf(name, sizeof(name), "s%u", s);
                /* Some calls take a while: kills land in the middle of them. */
                bool slow = lrand48() % 8 == 0;
                snprintf(want, sizeof(want), slow ? "slept" : "c%u-%llu", id, (unsigned long long) i);
                snprintf(req, sizeof(req), slow ? "sleep:20" : "echo:%s", want);
                alarm(WATCHDOG_S);
                int r = c[s] ? 0 : gs_client_connect(name, &c[s]);
                if (r == 0)
                        r = gs_call(c[s], req, strlen(req), CALL_TIMEOUT_MS, &reply);
                alarm(0);
                k.n[classify(r, &reply, want)]++;
                if (r < 0 && c[s])
                        c[s] = gs_client_free(c[s]);
        }
        for (unsigned s = 0; s < MAX_SERVERS; s++)
                gs_client_free(c[s]);
        gs_buf_done(&reply);
        if (write(out_fd, &k, sizeof(k)) != (ssize_t) sizeof(k))
                _exit(3);
        _exit(0);
}

typedef struct client {
        pid_t pid;
        int stop_fd, out_fd;
} client;

static void start_clients(client cl[]) {
        for (unsigned i = 0; i < n_clients; i++) {
                int stop[2], out[2];
                if (pipe2(stop, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                        die("pipe");
                pid_t pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        close(stop[1]);
                        close(out[0]);
                        client_loop(i, stop[0], out[1]);
                }
                close(stop[0]);
                close(out[1]);
                cl[i] = (client) { .pid = pid, .stop_fd = stop[1], .out_fd = out[0] };
        }
}

/* Stops the clients and adds up what they counted; a client that did not
 * end well (its watchdog fired: a call hung) counts as a hang. */
static void stop_clients(client cl[], counts *total, unsigned *hangs) {
        for (unsigned i = 0; i < n_clients; i++)
                close(cl[i].stop_fd);
        for (unsigned i = 0; i < n_clients; i++) {
                counts k;
                ssize_t n = read(cl[i].out_fd, &k, sizeof(k));
                int status;
                if (waitpid(cl[i].pid, &status, 0) != cl[i].pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
                    n != (ssize_t) sizeof(k)) {
                        fprintf(stderr, "chaos: client %u ended with status %d (a call hung?)\n", i, status);
                        (*hangs)++;
                        continue;
                }
                for (int r = 0; r < RES_MAX; r++)
                        total->n[r] += k.n[r];
                close(cl[i].out_fd);
        }
}

/* ---- the killer ---- */

enum { K_SIGKILL, K_SIGSEGV, K_SIGABRT, K_CTL, K_MAX };
static const char *const kill_names[K_MAX] = {
        "SIGKILL", "SIGSEGV", "SIGABRT", "gensupctl_terminate+restart",
};

/* gensupctl ARGS, as an operator runs it; true if it succeeded. */
static bool gensupctl(const char *cmd, const char *name) {
        char *prog;
        if (asprintf(&prog, "%s/bin/gensupctl", build) < 0)
                die("out of memory");
        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDOUT_FILENO);
                execl(prog, prog, cmd, "root", name, (char *) NULL);
                _exit(127);
        }
        free(prog);
        int status;
        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int parent_of(pid_t pid, char *ret_state) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *paren = strrchr(buf, ')'), state = 0;
        int ppid = -1;
        if (!paren || sscanf(paren + 1, " %c %d", &state, &ppid) != 2)
                return -1;
        if (ret_state)
                *ret_state = state;
        return ppid;
}

/* Signals a server, certain it is still gensupd's child: through a pidfd
 * taken before checking, so a pid used again meanwhile is never hit
 * (other programs run on this machine). */
static bool signal_server(pid_t pid, int sig) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return false;
        bool ok = parent_of(pid, NULL) == gensupd && syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0;
        close(fd);
        return ok;
}

static void strike(uint64_t kills[]) {
        pid_t pids[MAX_SERVERS] = { 0 };
        (void) server_pids(pids);
        unsigned s = (unsigned) (lrand48() % n_servers);
        int what = (int) (lrand48() % K_MAX);
        char name[16];
        snprintf(name, sizeof(name), "s%u", s);
        static const int sigs[] = { SIGKILL, SIGSEGV, SIGABRT };
        switch (what) {
        case K_SIGKILL:
        case K_SIGSEGV:
        case K_SIGABRT:
                if (pids[s] <= 0 || !signal_server(pids[s], sigs[what]))
                        return;
                break;
        case K_CTL:
                /* Stopped, then started again: as OTP, restart-child
                 * starts a terminated child (and refuses a running one). */
                if (!gensupctl("terminate-child", name))
                        return;
                if (!gensupctl("restart-child", name))
                        die("restart-child after terminate-child failed");
                break;
        }
        kills[what]++;
}

/* ---- the end: nothing left behind ---- */

/* Processes started in this run (they all have GENSUP_RUNTIME_DIR set to
 * our directory) still there, and zombies among this process's children. */
static bool from_this_run(pid_t pid) {
        char needle[128], path[64], buf[16384];
        snprintf(needle, sizeof(needle), "GENSUP_RUNTIME_DIR=%s", runtime_dir);
        snprintf(path, sizeof(path), "/proc/%d/environ", (int) pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
                return false;
        buf[len] = '\0';
        for (ssize_t i = 0; i < len; i += (ssize_t) strlen(buf + i) + 1)
                if (strcmp(buf + i, needle) == 0)
                        return true;
        return false;
}

/* Zombies among parent's children; with orphans set, also every process
 * of this run still there (they all have our GENSUP_RUNTIME_DIR). */
static void leftovers(pid_t parent, unsigned *ret_orphans, unsigned *ret_zombies) {
        DIR *d = opendir("/proc");
        unsigned orphans = 0, zombies = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
                pid_t pid = (pid_t) atoi(e->d_name);
                char state = 0;
                if (pid <= 0 || pid == getpid())
                        continue;
                int ppid = parent_of(pid, &state);
                if (state == 'Z' && ppid == parent)
                        zombies++;
                if (ret_orphans && state != 'Z' && from_this_run(pid)) {
                        fprintf(stderr, "chaos: pid %d of this run is still there\n", (int) pid);
                        orphans++;
                }
        }
        if (d)
                closedir(d);
        if (ret_orphans)
                *ret_orphans = orphans;
        *ret_zombies = zombies;
}

static void remove_dir(void) {
        DIR *d = opendir(runtime_dir);
        for (struct dirent *e; d && (e = readdir(d));)
                if (e->d_name[0] != '.') {
                        char *p = path_in(e->d_name);
                        unlink(p);
                        free(p);
                }
        if (d)
                closedir(d);
        rmdir(runtime_dir);
}

static size_t log_count(const char *needle) {
        char *log = path_in("gensupd.log");
        FILE *f = fopen(log, "re");
        free(log);
        char line[4096];
        size_t n = 0;
        while (f && fgets(line, sizeof(line), f))
                n += strstr(line, needle) != NULL;
        if (f)
                fclose(f);
        return n;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: chaos BUILD_DIR [SECONDS [SERVERS [CLIENTS [SEED]]]]\n");
                return 2;
        }
        build = realpath(argv[1], NULL);
        if (!build)
                die("no build directory");
        int seconds = argc > 2 ? atoi(argv[2]) : 10;
        n_servers = argc > 3 ? (unsigned) atoi(argv[3]) : 4;
        n_clients = argc > 4 ? (unsigned) atoi(argv[4]) : 4;
        long seed = argc > 5 ? atol(argv[5]) : (long) time(NULL);
        if (seconds <= 0 || n_servers < 1 || n_servers > MAX_SERVERS || n_clients < 1 || n_clients > MAX_CLIENTS)
                die("bad arguments");
        srand48(seed);
        signal(SIGPIPE, SIG_IGN);
        /* Crashed servers leave no core files behind. */
        struct rlimit no_core = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &no_core);
        if (!mkdtemp(runtime_dir))
                die("mkdtemp");
        setenv("GENSUP_RUNTIME_DIR", runtime_dir, 1);

        start_gensupd();
        pid_t pids[MAX_SERVERS];
        wait_all_running(pids);
        long fd_start = settle_fds(count_fds(gensupd)), rss_start = rss_kb(gensupd);

        client cl[MAX_CLIENTS];
        start_clients(cl);
        uint64_t kills[K_MAX] = { 0 };
        long rss_warm = -1, rss_max = 0, fd_max = 0;
        int64_t start = now_ms(), end = start + seconds * 1000LL, next_sample = start;
        while (now_ms() < end) {
                strike(kills);
                nap_ms(20 + lrand48() % 80);
                if (now_ms() >= next_sample) {
                        long rss = rss_kb(gensupd), fds = count_fds(gensupd);
                        if (rss < 0 || fds < 0)
                                die("gensupd is gone");
                        if (rss_warm < 0 && now_ms() - start >= seconds * 200LL)
                                rss_warm = rss;   /* after a fifth of the run */
                        rss_max = rss > rss_max ? rss : rss_max;
                        fd_max = fds > fd_max ? fds : fd_max;
                        next_sample += 1000;
                }
        }
        counts total = { 0 };
        unsigned hangs = 0;
        stop_clients(cl, &total, &hangs);

        /* The tree settles: every server up again, gensupd's fds back. */
        wait_all_running(pids);
        long fd_end = settle_fds(fd_start), rss_end = rss_kb(gensupd);
        if (rss_warm < 0)
                rss_warm = rss_start;
        unsigned gensupd_zombies = 0;
        leftovers(gensupd, NULL, &gensupd_zombies);
        int status = -1;
        bool same = waitpid(gensupd, &status, WNOHANG) == 0;

        /* An orderly stop, then nothing may be left. */
        json_decref(ctl("stop", NULL));
        int64_t deadline = now_ms() + WAIT_MS;
        while (same && waitpid(gensupd, &status, WNOHANG) == 0 && now_ms() < deadline)
                nap_ms(20);
        bool stopped = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!stopped)
                kill(gensupd, SIGKILL);
        unsigned orphans = 0, zombies = 0;
        deadline = now_ms() + WAIT_MS;
        do
                leftovers(getpid(), &orphans, &zombies);
        while ((orphans || zombies) && now_ms() < deadline && (nap_ms(50), true));
        size_t sanitizer = log_count("Sanitizer") + log_count("runtime error");

        uint64_t calls = 0, all_kills = 0;
        for (int r = 0; r < RES_MAX; r++)
                calls += total.n[r];
        for (int k = 0; k < K_MAX; k++)
                all_kills += kills[k];
        printf("chaos: %d s, %u servers, %u clients, seed %ld\n", seconds, n_servers, n_clients, seed);
        printf("chaos: calls %llu:", (unsigned long long) calls);
        for (int r = 0; r < RES_MAX; r++)
                printf(" %s %llu", result_names[r], (unsigned long long) total.n[r]);
        printf("\nchaos: kills %llu:", (unsigned long long) all_kills);
        for (int k = 0; k < K_MAX; k++)
                printf(" %s %llu", kill_names[k], (unsigned long long) kills[k]);
        printf("\nchaos: gensupd pid %d %s; fds start %ld max %ld end %ld; rss start %ld kB, after warm-up %ld kB, "
               "max %ld kB, end %ld kB\n",
               (int) gensupd, same ? "the same throughout" : "GONE", fd_start, fd_max, fd_end, rss_start, rss_warm,
               rss_max, rss_end);
        printf("chaos: hung calls %u, wrong replies %llu, stop %s, orphans %u, zombies %u (gensupd's %u), "
               "sanitizer reports %zu\n",
               hangs, (unsigned long long) total.n[RES_WRONG], stopped ? "clean (exit 0)" : "FAILED", orphans, zombies,
               gensupd_zombies, sanitizer);

        bool ok = same && stopped && hangs == 0 && total.n[RES_WRONG] == 0 && total.n[RES_OK] > 0 && fd_end == fd_start &&
                  rss_end - rss_warm < RSS_BOUND_KB && orphans == 0 && zombies == 0 && gensupd_zombies == 0 &&
                  sanitizer == 0;
        printf("chaos: %s\n", ok ? "passed" : "FAILED");
        fflush(stdout);
        if (!ok)
                die("a check failed");
        remove_dir();
        return EXIT_SUCCESS;
}
