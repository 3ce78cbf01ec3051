/* sup_bench.h: starting gensupd for a bench and waiting until it says
 * READY=1 on a notify socket of its own, as sup_stop and sup_absorb do.
 * Header-only, like bench.h. */
#ifndef GENSUP_SUP_BENCH_H
#define GENSUP_SUP_BENCH_H

#include <errno.h>
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

#endif
