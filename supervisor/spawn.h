/* spawn.h: starting one child process as its spec says. */
#ifndef GENSUP_SPAWN_H
#define GENSUP_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec.h"

typedef struct sup_spawn_params {
        const sup_spec *spec;
        char *const *extra_args;        /* appended to spec->exec (simple_one_for_one); may be NULL */
        int listen_fd;                  /* passed as fd 3 with LISTEN_FDS=1; -1 for none */
        const char *hold_path;          /* exported as GENSUP_HOLD_SOCKET; NULL for none */
        const char *runtime_dir;        /* exported as GENSUP_RUNTIME_DIR */
        const char *notify_socket;      /* exported as NOTIFY_SOCKET; NULL for none */
        int output_fd;                  /* the child's stdout (and stderr); -1: gensupd's stderr */
        int error_fd;                   /* the child's stderr; -1: output_fd */
        int cgroup_fd;                  /* O_DIRECTORY fd on the child's cgroup; -1: none */
        bool cgroup_join;               /* the child moves itself in (cgroup.procs), not clone3 */
        bool upgrade;                   /* a hot upgrade's successor: GENSUP_UPGRADE_FD=control */
        /* Told the pid as soon as clone returns (before exec's outcome is
         * read), in the spawning thread; may be NULL (spawner.c). */
        void (*cloned)(pid_t pid, void *userdata);
        void *cloned_userdata;
        /* Where the kernel stores the pid before the child runs
         * (CLONE_PARENT_SETTID), for other threads to read; may be NULL.
         * Not under valgrind: sup_spawn_sets_parent_tid(). */
        pid_t *parent_tid;
} sup_spawn_params;

typedef struct sup_process {
        pid_t pid;
        int control_fd;   /* gensupd's end of the control socketpair; owned by the caller */
} sup_process;

/* Forks and execs a child (straight into its cgroup with clone3's
 * CLONE_INTO_CGROUP where it can, else it moves itself in first): a control socketpair (the child's end as
 * GENSUP_CONTROL_FD), its own process group, PR_SET_PDEATHSIG
 * SIGKILL, environment, working directory, user and group, rlimits, stdin
 * from /dev/null, stdout to output_fd, stderr to error_fd, then exec. Returns 0
 * once exec succeeded, or a negative errno: the exec's own failure
 * (-ENOENT, -EACCES, ...) is reported back through a CLOEXEC pipe, and the
 * child is reaped. *ret_step names the step that failed ("exec",
 * "setuid", ...). Safe to call from several threads at once (each
 * stages its children's fds on slots of its own): the child changes
 * credentials with raw system calls, never glibc's process-wide setxid
 * broadcast to the threads it shares memory with. */
int sup_spawn(const sup_spawn_params *p, sup_process *ret, const char **ret_step);
/* Whether params.parent_tid is honoured. */
bool sup_spawn_sets_parent_tid(void);
/* Whether gensupd runs under valgrind (tests), where a spawn is a plain
 * vfork, which valgrind makes a fork. */
bool sup_spawn_under_valgrind(void);

/* Raises gensupd's own soft RLIMIT_NOFILE to its hard limit (a big tree
 * holds a few fds per child), and makes children start with the soft
 * limit gensupd was given, as systemd does, unless their spec sets one.
 * Call once at start. */
void sup_spawn_raise_nofile(void);

#endif
