/* sup_bench.h: starting gensupd for a bench and waiting until it says
 * READY=1 on a notify socket of its own, as sup_stop and sup_absorb do.
 * Header-only, like bench.h. */
#ifndef GENSUP_SUP_BENCH_H
#define GENSUP_SUP_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* A datagram socket bound at path, for NOTIFY_SOCKET. */
static inline int bench_notify_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "bench: %s: path too long (set TMPDIR)\n", path);
                exit(1);
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                bench_die("notify socket", errno);
        return fd;
}

/* Waits for READY=1 on fd; exits if gensupd (pid g) dies first. */
static inline void bench_wait_ready(int fd, pid_t g, const char *log) {
        char buf[4096];
        struct timeval tv = { .tv_sec = 1 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
                if (k < 0) {
                        if (errno != EINTR && errno != EAGAIN)
                                bench_die("recv", errno);
                        k = 0;
                }
                buf[k] = '\0';
                if (strstr(buf, "READY=1"))
                        return;
                if (waitpid(g, NULL, WNOHANG) == g) {
                        fprintf(stderr, "bench: gensupd exited before READY (see %s)\n", log);
                        exit(1);
                }
        }
}

/* Runs BUILD_DIR/bin/gensupd -c conf --log-stderr, stderr to log, dying
 * with the bench, GENSUP_CONTAINMENT=containment unless NULL; returns its
 * pid once it is ready (READY=1 on a socket at notify). */
static inline pid_t bench_gensupd_up(const char *build_dir, const char *conf, const char *log, const char *notify,
                                     const char *containment) {
        char exe[4200];
        snprintf(exe, sizeof(exe), "%s/bin/gensupd", build_dir);
        int nfd = bench_notify_socket(notify);
        fflush(NULL);
        pid_t g = fork();
        if (g < 0)
                bench_die("fork", errno);
        if (g == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                setenv("NOTIFY_SOCKET", notify, 1);
                if (containment)
                        setenv("GENSUP_CONTAINMENT", containment, 1);
                execl(exe, exe, "-c", conf, "--log-stderr", (char *) NULL);
                _exit(127);
        }
        bench_wait_ready(nfd, g, log);
        close(nfd);
        return g;
}

/* Fields `field` and the next of /proc/pid/stat (1-based, as proc(5)
 * counts them, 14 or later), in clock ticks, summed; 0 if unread. */
static inline unsigned long long bench_proc_stat_pair(pid_t pid, int field) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* After ") " comes field 3, the state. */
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        p += 2;
        for (int f = 3; f < field && p; f++)
                if ((p = strchr(p, ' ')))
                        p++;
        unsigned long long a = 0, b = 0;
        if (!p || sscanf(p, "%llu %llu", &a, &b) != 2)
                return 0;
        return a + b;
}

/* The first field of a schedstat file (/proc/PID/schedstat, or a
 * thread's under /proc/PID/task): its time on a CPU, in ns; -1 if
 * unread. Read from a zombie too, unlike a parent's times. */
static inline int64_t bench_schedstat_ns(const char *path) {
        long long ns = -1;
        FILE *f = fopen(path, "re");
        if (f && fscanf(f, "%lld", &ns) != 1)
                ns = -1;
        if (f)
                fclose(f);
        return ns;
}

/* The CPU time (user + system) of pid so far; 0 if it cannot be read. */
static inline uint64_t bench_proc_cpu_ns(pid_t pid) {
        return bench_proc_stat_pair(pid, 14) * (1000000000u / (uint64_t) sysconf(_SC_CLK_TCK));
}

/* The last "S <ns> <pid>" line of a sup_stamp stamps file: its time and
 * pid; 0, or -1 if there is none. */
static inline int bench_last_start(const char *path, uint64_t *ret_ns, pid_t *ret_pid) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        char line[256];
        int found = -1;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long ns;
                int pid;
                if (sscanf(line, "S %llu %d", &ns, &pid) == 2) {
                        *ret_ns = ns;
                        *ret_pid = pid;
                        found = 0;
                }
        }
        fclose(f);
        return found;
}

/* Waits (up to about max_s) for a start by a pid other than old, looking
 * every 200 us; 0 with its stamp, or -1. */
static inline int bench_wait_start(const char *path, pid_t old, int max_s, uint64_t *ret_ns, pid_t *ret_pid) {
        int64_t end = bench_now_ns() + (int64_t) max_s * 1000000000;
        while (bench_now_ns() < end) {
                uint64_t ns = 0;
                pid_t pid = 0;
                if (bench_last_start(path, &ns, &pid) == 0 && pid != old) {
                        *ret_ns = ns;
                        *ret_pid = pid;
                        return 0;
                }
                struct timespec ts = { .tv_nsec = 200 * 1000 };
                nanosleep(&ts, NULL);
        }
        return -1;
}

#endif
