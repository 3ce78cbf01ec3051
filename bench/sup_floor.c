/* sup_floor: the floor under a supervisor's restart, measured in the same
 * run as the supervisors (bench/sup-bench.sh), as
 * /work/shared/reference/ipc-floor.md §6 measures it.
 *
 *   sup_floor [-m spawn|fork] STAMP CFG N
 *
 * Starts STAMP CFG N+1 times, one after the other, as the smallest
 * possible supervisor would: socketpair(), then clone(CLONE_VM |
 * CLONE_VFORK) and in the child dup2 of the pair's end to fd 3 and execv
 * (-m spawn, the default: what glibc's posix_spawn does, no page tables
 * copied, as gensupd spawns), or fork() and in the child dup2 and execv (-m fork, about twice
 * the cost on a small VM); the parent blocks in read() for the child's
 * 1-byte READY (CFG says "fd:3"), then blocks in waitpid() for its death
 * and starts the next one at once. No event loop, no process group, no
 * bookkeeping: only what no supervisor can avoid.
 *
 * Prints one line per start on stdout:
 *   F <t_fork> <t_ready> <pid>
 * (CLOCK_MONOTONIC ns: before socketpair(), after read() returned), so
 * the script can compute fork -> ready (ipc-floor.md §6) and, with the
 * child's own D and S stamps, death -> restarted and death -> ready. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
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

typedef struct child_args {
        int fd;
        char **argv;
} child_args;

/* In the child: fd 3 = the pair's end, then exec. */
static int child_main(void *arg) {
        child_args *a = arg;

        /* dup2 onto itself would keep CLOEXEC: clear it then. */
        if (a->fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(a->fd, 3) < 0)
                _exit(127);
        execv(a->argv[0], a->argv);
        _exit(127);
}

/* Starts argv[0] with fd 3 = fd; -errno on failure. */
static pid_t start_child(int use_fork, int fd, char **argv) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        child_args a = { fd, argv };
        pid_t pid;

        if (use_fork) {
                pid = fork();
                if (pid == 0)
                        child_main(&a);
        } else
                /* The parent sleeps until the child has exec'd. */
                pid = clone(child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        return pid < 0 ? -errno : pid;
}

int main(int argc, char **argv) {
        int use_fork = 0;

        if (argc == 6 && strcmp(argv[1], "-m") == 0) {
                if (strcmp(argv[2], "fork") == 0)
                        use_fork = 1;
                else if (strcmp(argv[2], "spawn") != 0)
                        argc = 0;
                argv += 2;
                argc -= 2;
        }
        if (argc != 4) {
                fprintf(stderr, "usage: sup_floor [-m spawn|fork] STAMP CFG N\n");
                return 2;
        }
        long n = strtol(argv[3], NULL, 10);
        char *child_argv[] = { argv[1], argv[2], NULL };

        for (long i = 0; i <= n; i++) {
                int sv[2];
                int64_t t_fork = now_ns();
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        die("socketpair");
                pid_t pid = start_child(use_fork, sv[1], child_argv);
                if (pid < 0) {
                        errno = -pid;
                        die("spawn");
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
