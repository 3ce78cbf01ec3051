/* sup_floor: the floor under a supervisor's restart, measured in the same
 * run as the supervisors (bench/sup-bench.sh), as
 * /work/shared/reference/ipc-floor.md §6 measures it.
 *
 *   sup_floor STAMP CFG N
 *
 * Starts STAMP CFG N+1 times, one after the other, as the smallest
 * possible supervisor would: socketpair(), fork(), in the child dup2 of
 * the pair's end to fd 3 and execv; the parent blocks in read() for the
 * child's 1-byte READY (CFG says "fd:3"), then blocks in waitpid() for
 * its death and starts the next one at once. No event loop, no process
 * group, no bookkeeping: only what no supervisor can avoid.
 *
 * Prints one line per start on stdout:
 *   F <t_fork> <t_ready> <pid>
 * (CLOCK_MONOTONIC ns: before socketpair(), after read() returned), so
 * the script can compute fork -> ready (ipc-floor.md §6) and, with the
 * child's own D and S stamps, death -> restarted and death -> ready. */
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

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "sup_floor: %s: %s\n", what, strerror(errno));
        exit(1);
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: sup_floor STAMP CFG N\n");
                return 2;
        }
        long n = strtol(argv[3], NULL, 10);
        char *child_argv[] = { argv[1], argv[2], NULL };

        for (long i = 0; i <= n; i++) {
                int sv[2];
                int64_t t_fork = now_ns();
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        die("socketpair");
                pid_t pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        /* dup2 onto itself would keep CLOEXEC: clear it then. */
                        if (sv[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(sv[1], 3) < 0)
                                _exit(127);
                        execv(child_argv[0], child_argv);
                        _exit(127);
                }
                close(sv[1]);
                char c;
                ssize_t k;
                do
                        k = read(sv[0], &c, 1);
                while (k < 0 && errno == EINTR);
                int64_t t_ready = now_ns();
                close(sv[0]);
                if (k != 1) {
                        fprintf(stderr, "sup_floor: child %d sent no READY\n", (int) pid);
                        return 1;
                }
                printf("F %lld %lld %d\n", (long long) t_fork, (long long) t_ready, (int) pid);
                int status;
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                die("waitpid");
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
