/* sup_stamp: the probe child of the supervisor benchmarks (bench/sup-bench.sh).
 *
 * Restart latency is measured as /work/shared/reference/peer-supervisors.md
 * §2.1 defines it: the dying process writes a CLOCK_MONOTONIC stamp "D"
 * just before it dies, the restarted process's main() writes "S" as its
 * first action; each D is paired with the next S. The same program runs
 * under every supervisor (gensupd, s6-supervise, runsv, supervisord) and
 * under the floor parent (sup_floor), so only the supervisor differs.
 *
 *   sup_stamp LIFETIME_MS MODE READY STAMPS
 *   sup_stamp CFG            the same four words read from the file CFG
 *   sup_stamp [DIR]          ... from ./cfg: runit runs ./run bare, s6
 *                            passes the service directory's name
 *
 *   MODE   kill: SIGKILL itself after LIFETIME_MS; exit: _exit(1);
 *          hold: wait until a signal ends it; a SIGTERM first
 *          appends "D" (bench/sup_stop.c times a tree's stop by them)
 *   READY  none; fd:N: write "\n" on fd N (s6 notification-fd, the floor);
 *          notify: READY=1 on $NOTIFY_SOCKET (sd_notify's protocol)
 *   STAMPS the file the stamps are appended to; "-" for none. The first
 *          process of a run (STAMPS empty) lives 100 ms longer.
 *
 * Lines appended (times in ns; one write(O_APPEND) each, so several
 * processes may share the file):
 *   S <monotonic> <pid>              first thing in main()
 *   R <monotonic> <pid>              readiness sent
 *   D <monotonic> <realtime> <pid>   just before dying (realtime to pair
 *                                    with gensupd's events, which carry
 *                                    CLOCK_REALTIME microseconds)
 *
 * Only libc: it must cost every supervisor the same to exec. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef enum stamp_mode {
        MODE_KILL,
        MODE_EXIT,
        MODE_HOLD,
        _MODE_MAX,
} stamp_mode;

typedef enum stamp_ready {
        READY_NONE,
        READY_FD,
        READY_NOTIFY,
        _READY_MAX,
} stamp_ready;

typedef struct stamp_cfg {
        long lifetime_ms;
        stamp_mode mode;
        stamp_ready ready;
        int ready_fd;
        char stamps[4096];
} stamp_cfg;

static int64_t ns_of(const struct timespec *ts) {
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t now_ns(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return ns_of(&ts);
}

static void stamp(int fd, const char *line, size_t len) {
        if (fd >= 0)
                (void) !write(fd, line, len);
}

static int parse(int argc, char **argv, stamp_cfg *cfg) {
        char words[4][4096];

        if (argc == 5) {
                for (int i = 0; i < 4; i++)
                        snprintf(words[i], sizeof(words[i]), "%s", argv[i + 1]);
        } else {
                const char *path = argc == 2 ? argv[1] : "cfg";
                struct stat st;
                if (argc == 2 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        path = "cfg";
                FILE *f = fopen(path, "re");
                if (!f)
                        return -errno;
                int n = fscanf(f, "%4095s %4095s %4095s %4095s", words[0], words[1], words[2], words[3]);
                fclose(f);
                if (n != 4)
                        return -EINVAL;
        }
        char *end;
        cfg->lifetime_ms = strtol(words[0], &end, 10);
        if (*end || cfg->lifetime_ms < 0)
                return -EINVAL;
        if (strcmp(words[1], "kill") == 0)
                cfg->mode = MODE_KILL;
        else if (strcmp(words[1], "exit") == 0)
                cfg->mode = MODE_EXIT;
        else if (strcmp(words[1], "hold") == 0)
                cfg->mode = MODE_HOLD;
        else
                return -EINVAL;
        if (strcmp(words[2], "none") == 0)
                cfg->ready = READY_NONE;
        else if (strcmp(words[2], "notify") == 0)
                cfg->ready = READY_NOTIFY;
        else if (strncmp(words[2], "fd:", 3) == 0) {
                cfg->ready = READY_FD;
                cfg->ready_fd = (int) strtol(words[2] + 3, &end, 10);
                if (*end || cfg->ready_fd < 0)
                        return -EINVAL;
        } else
                return -EINVAL;
        snprintf(cfg->stamps, sizeof(cfg->stamps), "%s", words[3]);
        return 0;
}

/* READY=1 on $NOTIFY_SOCKET: one datagram; the receiver learns our pid
 * from SO_PASSCRED. "@" starts an abstract name, as in sd_notify. */
static int notify_ready(void) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static const char msg[] = "READY=1";

        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, strlen(path));
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0';
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int r = 0;
        if (sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
                r = -errno;
        close(fd);
        return r;
}

int main(int argc, char **argv) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);   /* the first action: "S" */

        /* hold: SIGTERM waits for sigwait() below, from before readiness. */
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        stamp_cfg cfg = { 0 };
        int r = parse(argc, argv, &cfg);
        if (r == 0 && cfg.mode == MODE_HOLD)
                sigprocmask(SIG_BLOCK, &term, NULL);
        if (r < 0) {
                fprintf(stderr, "sup_stamp: bad configuration: %s\n"
                        "usage: sup_stamp [LIFETIME_MS kill|exit|hold none|fd:N|notify STAMPS | CFG]\n",
                        strerror(-r));
                return 2;
        }
        int fd = -1;
        if (strcmp(cfg.stamps, "-") != 0)
                fd = open(cfg.stamps, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        /* The first process of a run (STAMPS still empty) lives 100 ms
         * more: a supervisor's boot counts a child that dies at once as a
         * failed start (OTP's start_link) and gives up; restarts are what
         * is measured. */
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0 && cfg.mode != MODE_HOLD)
                cfg.lifetime_ms += 100;
        char line[96];
        int n = snprintf(line, sizeof(line), "S %lld %d\n", (long long) ns_of(&start), (int) getpid());
        stamp(fd, line, (size_t) n);

        switch (cfg.ready) {
        case READY_NONE:
                break;
        case READY_FD:
                (void) !write(cfg.ready_fd, "\n", 1);
                close(cfg.ready_fd);
                break;
        case READY_NOTIFY:
                if ((r = notify_ready()) < 0)
                        fprintf(stderr, "sup_stamp: NOTIFY_SOCKET: %s\n", strerror(-r));
                break;
        case _READY_MAX:
                break;
        }
        if (cfg.ready != READY_NONE) {
                n = snprintf(line, sizeof(line), "R %lld %d\n", (long long) now_ns(CLOCK_MONOTONIC),
                             (int) getpid());
                stamp(fd, line, (size_t) n);
        }

        switch (cfg.mode) {
        case MODE_HOLD: {
                int sig;
                while (sigwait(&term, &sig) != 0)
                        ;
                n = snprintf(line, sizeof(line), "D %lld %lld %d\n", (long long) now_ns(CLOCK_MONOTONIC),
                             (long long) now_ns(CLOCK_REALTIME), (int) getpid());
                stamp(fd, line, (size_t) n);
                signal(SIGTERM, SIG_DFL);
                sigprocmask(SIG_UNBLOCK, &term, NULL);
                _exit(1);   /* not reached: SIGTERM ends it */
        }
        case MODE_KILL:
        case MODE_EXIT:
                break;
        case _MODE_MAX:
                break;
        }
        if (cfg.lifetime_ms > 0) {
                struct timespec life = { cfg.lifetime_ms / 1000, (cfg.lifetime_ms % 1000) * 1000000 };
                while (nanosleep(&life, &life) < 0 && errno == EINTR)
                        ;
        }
        n = snprintf(line, sizeof(line), "D %lld %lld %d\n", (long long) now_ns(CLOCK_MONOTONIC),
                     (long long) now_ns(CLOCK_REALTIME), (int) getpid());
        stamp(fd, line, (size_t) n);
        if (cfg.mode == MODE_KILL)
                kill(getpid(), SIGKILL);
        _exit(1);
}
