/* sup_spawn_floor: sup_floor's loop with posix_spawn(3)'s way instead of
 * fork: vfork() (clone(CLONE_VM | CLONE_VFORK), what glibc's posix_spawn
 * does) + dup2 + exec, the cheapest way to start a process, as gensupd
 * itself starts its children. The floor under bench/sup-cgroup-bench.sh.
 * (<spawn.h> itself is out of reach: the build's -Isupervisor has a
 * spawn.h of its own.)
 *
 *   sup_spawn_floor STAMP CFG N
 *
 * Starts STAMP CFG N+1 times, one after the other: socketpair(),
 * vfork + exec with the pair's end on fd 3, read() of the child's 1-byte
 * READY (CFG says "fd:3"), waitpid() for its death, and at once the next.
 * Prints "F <t_spawn> <t_ready> <pid>" per start (CLOCK_MONOTONIC ns), as
 * sup_floor does. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int error) {
        fprintf(stderr, "sup_spawn_floor: %s: %s\n", what, strerror(error));
        exit(1);
}

/* One start: spawn, wait for READY; returns the pid. */
static pid_t start_one(char **child_argv, int64_t *ret_ready) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair", errno);
        /* dup2 onto the same fd would keep CLOEXEC: keep it off 3. */
        if (sv[1] == 3) {
                int fd = fcntl(3, F_DUPFD_CLOEXEC, 4);
                close(3);
                sv[1] = fd;
        }
        pid_t pid = vfork();
        if (pid == 0) {
                if (dup2(sv[1], 3) < 0)
                        _exit(127);
                execve(child_argv[0], child_argv, environ);
                _exit(127);
        }
        if (pid < 0)
                die("vfork", errno);
        close(sv[1]);
        char c;
        ssize_t k;
        do
                k = read(sv[0], &c, 1);
        while (k < 0 && errno == EINTR);
        *ret_ready = now_ns();
        close(sv[0]);
        if (k != 1) {
                fprintf(stderr, "sup_spawn_floor: child %d sent no READY\n", (int) pid);
                exit(1);
        }
        return pid;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: sup_spawn_floor STAMP CFG N\n");
                return 2;
        }
        long n = strtol(argv[3], NULL, 10);
        char *child_argv[] = { argv[1], argv[2], NULL };

        for (long i = 0; i <= n; i++) {
                int64_t t_spawn = now_ns(), t_ready;
                pid_t pid = start_one(child_argv, &t_ready);
                printf("F %lld %lld %d\n", (long long) t_spawn, (long long) t_ready, (int) pid);
                int status;
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                die("waitpid", errno);
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
