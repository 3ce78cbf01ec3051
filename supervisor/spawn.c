/* spawn.c: fork and exec one child, with everything it is owed.
 *
 * Everything that can fail for a reason worth telling (user lookup, the
 * environment) is prepared before the fork. In the child, a failing step
 * writes its errno and its name to a CLOEXEC pipe and exits; a successful
 * exec closes the pipe, which is how the parent knows exec happened. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "child_cred.h"
#include "child_env.h"
#include "child_signals.h"
#include "ipc.h"
#include "spawn.h"
#include "strv.h"

#define LISTEN_FD_START 3

static struct rlimit children_nofile;   /* the limit gensupd was started with */
static bool nofile_raised;

void sup_spawn_raise_nofile(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        children_nofile = rl;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                nofile_raised = true;
}

typedef struct failure {
        int error;
        char step[28];
} failure;

/* Steps named here are what the operator reads after "failed to start". */
static const char *const step_names[] = {
        "setpgid", "prctl", "dup2", "open /dev/null", "setrlimit", "chdir", "setgroups", "setgid", "setuid", "exec",
        "cgroup",
};
enum { STEP_SETPGID, STEP_PRCTL, STEP_DUP2, STEP_DEVNULL, STEP_RLIMIT, STEP_CHDIR, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_EXEC,
       STEP_CGROUP };

static _Noreturn void child_fail(int pipe_fd, int step) {
        failure f = { .error = errno };
        snprintf(f.step, sizeof(f.step), "%s", step_names[step]);
        (void) !write(pipe_fd, &f, sizeof(f));
        _exit(127);
}

typedef struct prepared {
        char **argv;
        char **envp;          /* owned strings */
        char *listen_pid;     /* "LISTEN_PID=" in envp with room for the pid, filled in the child */
        sup_cred cred;
} prepared;

static void prepared_done(prepared *p) {
        sup_strv_free(p->envp);
        free(p->argv);
        sup_cred_done(&p->cred);
}

/* What gensupd itself tells the child, as "KEY=VALUE" strings. */
static int our_env(const sup_spawn_params *p, int control_fd_in_child, char *ours[static 10]) {
        const sup_spec *s = p->spec;
        int n = 0;

        if (asprintf(&ours[n++], "GENSUP_CONTROL_FD=%d", control_fd_in_child) < 0 ||
            asprintf(&ours[n++], "GENSUP_NAME=%s", s->name) < 0 ||
            (p->runtime_dir && asprintf(&ours[n++], "GENSUP_RUNTIME_DIR=%s", p->runtime_dir) < 0) ||
            (p->notify_socket && asprintf(&ours[n++], "NOTIFY_SOCKET=%s", p->notify_socket) < 0) ||
            (p->hold_path && asprintf(&ours[n++], "GENSUP_HOLD_SOCKET=%s", p->hold_path) < 0) ||
            (p->upgrade && asprintf(&ours[n++], "GENSUP_UPGRADE_FD=control") < 0) ||
            (p->listen_fd >= 0 && (asprintf(&ours[n++], "LISTEN_FDS=1") < 0 ||
                                   asprintf(&ours[n++], "LISTEN_FDNAMES=%s", s->name) < 0 ||
                                   asprintf(&ours[n++], "LISTEN_PID=0000000000") < 0))) {
                ours[n - 1] = NULL;
                return -ENOMEM;
        }
        ours[n] = NULL;
        return 0;
}

static int prepare(const sup_spawn_params *p, int control_fd_in_child, prepared *ret) {
        const sup_spec *s = p->spec;
        prepared pr = { 0 };
        char *ours[10] = { 0 };
        int r = -ENOMEM;

        int n_exec = (int) sup_strv_length(s->exec), n_extra = (int) sup_strv_length(p->extra_args);
        pr.argv = calloc((size_t) (n_exec + n_extra + 1), sizeof(char *));
        if (!pr.argv)
                goto fail;
        for (int i = 0; i < n_exec; i++)
                pr.argv[i] = s->exec[i];
        for (int i = 0; i < n_extra; i++)
                pr.argv[n_exec + i] = p->extra_args[i];

        if ((r = sup_cred_resolve(s, &pr.cred)) < 0 || (r = our_env(p, control_fd_in_child, ours)) < 0 ||
            (r = sup_child_env(s, &pr.cred, ours, &pr.envp)) < 0)
                goto fail;
        for (char **e = pr.envp; *e; e++)
                if (strncmp(*e, "LISTEN_PID=", strlen("LISTEN_PID=")) == 0)
                        pr.listen_pid = *e;
        for (int i = 0; ours[i]; i++)
                free(ours[i]);
        *ret = pr;
        return 0;
fail:
        for (int i = 0; ours[i]; i++)
                free(ours[i]);
        prepared_done(&pr);
        return r;
}

/* Moves fd to target, in the child. Both may be equal. */
static int move_fd(int fd, int target) {
        if (fd == target)
                return fcntl(fd, F_SETFD, 0);
        return dup2(fd, target);
}

static _Noreturn void run_child(const sup_spawn_params *p, const prepared *pr, int control_fd, int control_target, int report_fd,
                      pid_t parent) {
        const sup_spec *s = p->spec;

        /* sd-event blocked signals in gensupd, which ignores SIGPIPE: a
         * child starts clean. */
        sup_child_signals_reset();

        if (setpgid(0, 0) < 0)
                child_fail(report_fd, STEP_SETPGID);

        /* Lay fds out: 0 /dev/null, 1 output, 2 error, 3 listen (if any), then
         * control. Sources are CLOEXEC and above the targets' range (see
         * sup_spawn), so no dup2 clobbers a later source. */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
                child_fail(report_fd, STEP_DEVNULL);
        if (move_fd(null, 0) < 0)
                child_fail(report_fd, STEP_DUP2);
        if (p->output_fd >= 0 && (move_fd(p->output_fd, 1) < 0 || move_fd(p->error_fd, 2) < 0))
                child_fail(report_fd, STEP_DUP2);
        if (p->listen_fd >= 0 && move_fd(p->listen_fd, LISTEN_FD_START) < 0)
                child_fail(report_fd, STEP_DUP2);
        if (move_fd(control_fd, control_target) < 0)
                child_fail(report_fd, STEP_DUP2);
        /* A child gets exactly these fds: whatever gensupd inherited without
         * CLOEXEC stops at exec too (the report pipe stays until then). */
        (void) close_range((unsigned) control_target + 1, ~0U, CLOSE_RANGE_CLOEXEC);
        if (pr->listen_pid)
                snprintf(pr->listen_pid + strlen("LISTEN_PID="), 11, "%d", (int) getpid());

        /* Many programs still use select(): they get the usual limit back. */
        if (nofile_raised)
                (void) setrlimit(RLIMIT_NOFILE, &children_nofile);
        for (size_t i = 0; i < s->n_rlimits; i++)
                if (setrlimit((__rlimit_resource_t) s->rlimits[i].resource, &s->rlimits[i].limit) < 0)
                        child_fail(report_fd, STEP_RLIMIT);
        if (s->working_directory && chdir(s->working_directory) < 0)
                child_fail(report_fd, STEP_CHDIR);
        /* Raw system calls: in a process with threads, glibc's setuid()
         * and friends signal every thread to change it too, and this child
         * shares gensupd's memory and thread list until exec. */
        if (pr->cred.change_group) {
                if (syscall(SYS_setgroups, (size_t) pr->cred.n_groups, pr->cred.groups) < 0)
                        child_fail(report_fd, STEP_SETGROUPS);
                if (syscall(SYS_setgid, pr->cred.gid) < 0)
                        child_fail(report_fd, STEP_SETGID);
        }
        if (pr->cred.change_user && syscall(SYS_setuid, pr->cred.uid) < 0)
                child_fail(report_fd, STEP_SETUID);

        /* Last, because changing credentials clears the death signal. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(report_fd, STEP_PRCTL);
        /* gensupd may have died before prctl. */
        if (getppid() != parent)
                _exit(127);
        execve(pr->argv[0], pr->argv, pr->envp);
        child_fail(report_fd, STEP_EXEC);
}



/* ---- starting the child without copying gensupd ----
 *
 * A child is cloned with CLONE_VM | CLONE_VFORK | CLONE_FILES: it borrows
 * gensupd's memory and fd table until it execs, so nothing that grows
 * with the tree (page tables, thousands of fds) is copied per start. Its
 * fds wait on a few low "staging" slots that gensupd keeps open on
 * /dev/null; the child's first act is to unshare only the fds up to the
 * highest slot (close_range with CLOSE_RANGE_UNSHARE), then it lays them
 * out in its own table. */

enum { SLOT_CONTROL, SLOT_REPORT, SLOT_LISTEN, SLOT_OUTPUT, SLOT_ERROR, _SLOT_MAX };

/* Each thread that spawns has its own slots and child stack (a child
 * reads them through its spawning thread's thread pointer, which it
 * shares until exec). Another thread's child may copy our slots when it
 * unshares its table: they are CLOEXEC, and gone at its exec. */
static _Thread_local int slot_fd[_SLOT_MAX] = { -1, -1, -1, -1, -1 };
static _Thread_local int slot_null = -1;
static _Thread_local int slot_max = -1;
static _Thread_local _Alignas(16) char child_stack[256 * 1024];

static int slots_open(void) {
        if (slot_null >= 0)
                return 0;
        slot_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (slot_null < 0)
                return -errno;
        for (int i = 0; i < _SLOT_MAX; i++) {
                slot_fd[i] = fcntl(slot_null, F_DUPFD_CLOEXEC, 3);
                if (slot_fd[i] < 0)
                        return -errno;
                if (slot_fd[i] > slot_max)
                        slot_max = slot_fd[i];
        }
        return 0;
}

/* Puts fd on slot (a copy: the caller keeps fd); -1 leaves /dev/null. */
static int slot_stage(int slot, int fd) {
        if (dup3(fd >= 0 ? fd : slot_null, slot_fd[slot], O_CLOEXEC) < 0)
                return -errno;
        return 0;
}

static void slots_clear(void) {
        for (int i = 0; i < _SLOT_MAX; i++)
                (void) dup3(slot_null, slot_fd[i], O_CLOEXEC);
}

typedef struct child_args {
        const sup_spawn_params *p;
        const prepared *pr;
        int control_target;
        bool has_listen, has_output;
        bool join_cgroup;     /* not cloned into it: the child moves itself in */
        pid_t parent;
} child_args;

/* In the child, before its fd table is its own (gensupd waits). */
static bool join_cgroup(int cgroup_fd) {
        int fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        bool ok = write(fd, "0", 1) == 1;
        close(fd);
        return ok;
}

/* In the child, its fd table now its own: a copy of a slot, above the
 * layout's targets (0..4), so that laying out never clobbers a source. */
static int unstage(int slot) {
        return fcntl(slot_fd[slot], F_DUPFD_CLOEXEC, 5);
}

static _Noreturn int child_main(void *arg) {
        const child_args *a = arg;
        bool joined = !a->join_cgroup || join_cgroup(a->p->cgroup_fd);

        if (close_range((unsigned) slot_max + 1, ~0U, CLOSE_RANGE_UNSHARE) < 0 && unshare(CLONE_FILES) < 0)
                _exit(127);
        int report = unstage(SLOT_REPORT), control = unstage(SLOT_CONTROL);
        if (report < 0 || control < 0)
                _exit(127);
        sup_spawn_params p = *a->p;
        p.listen_fd = a->has_listen ? unstage(SLOT_LISTEN) : -1;
        p.output_fd = a->has_output ? unstage(SLOT_OUTPUT) : -1;
        p.error_fd = a->has_output ? unstage(SLOT_ERROR) : -1;
        if ((a->has_listen && p.listen_fd < 0) || (a->has_output && (p.output_fd < 0 || p.error_fd < 0)))
                child_fail(report, STEP_DUP2);
        if (!joined)
                child_fail(report, STEP_CGROUP);
        run_child(&p, a->pr, control, a->control_target, report, a->parent);
}

/* valgrind runs a clone that shares the fd table only as a thread, and
 * gives up: under it (tests), the plain vfork, which copies the table. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND RUNNING_ON_VALGRIND
#else
#define UNDER_VALGRIND 0
#endif

/* clone3 with CLONE_INTO_CGROUP: the child is born in its cgroup, with
 * no migration (which takes a lock every fork in the system waits on).
 * glibc has no clone3 wrapper that runs a function on a new stack, so
 * this is the few instructions one takes; elsewhere, -ENOSYS. */
#if defined(__x86_64__) && __has_include(<linux/sched.h>)
#include <linux/sched.h>
#ifdef CLONE_INTO_CGROUP
#define HAVE_CLONE3_ASM 1
static pid_t clone3_run(struct clone_args *ca, int (*fn)(void *), void *arg) {
        long ret;
        __asm__ volatile("syscall\n\t"
                         "test %%rax, %%rax\n\t"
                         "jnz 1f\n\t"
                         /* The child, on its own stack: fn(arg), then exit. */
                         "xor %%ebp, %%ebp\n\t"
                         "mov %[arg], %%rdi\n\t"
                         "call *%[fn]\n\t"
                         "mov %%eax, %%edi\n\t"
                         "mov $60, %%eax\n\t"
                         "syscall\n\t"
                         "hlt\n\t"
                         "1:\n\t"
                         : "=a"(ret)
                         : "0"((long) SYS_clone3), "D"(ca), "S"(sizeof(*ca)), [fn] "r"(fn), [arg] "r"(arg)
                         : "rcx", "r11", "memory");
        if (ret < 0) {
                errno = (int) -ret;
                return -1;
        }
        return (pid_t) ret;
}
#endif
#endif

static pid_t clone_into_cgroup(child_args *a) {
#ifdef HAVE_CLONE3_ASM
        struct clone_args ca = {
                .flags = CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_INTO_CGROUP |
                         (a->p->parent_tid ? CLONE_PARENT_SETTID : 0),
                .parent_tid = (uint64_t) (uintptr_t) a->p->parent_tid,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) child_stack,
                .stack_size = sizeof(child_stack),
                .cgroup = (uint64_t) a->p->cgroup_fd,
        };
        return clone3_run(&ca, child_main, a);
#else
        errno = ENOSYS;
        return -1;
#endif
}

static _Thread_local bool clone3_works = true;   /* until the kernel says otherwise */

static pid_t start_child(child_args *a) {
        a->join_cgroup = false;
        if (!UNDER_VALGRIND && a->p->cgroup_fd >= 0 && !a->p->cgroup_join && clone3_works) {
                pid_t pid = clone_into_cgroup(a);
                if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
                        return pid;
                clone3_works = false;
        }
        a->join_cgroup = a->p->cgroup_fd >= 0;
        if (!UNDER_VALGRIND)
                return clone(child_main, child_stack + sizeof(child_stack),
                             CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD |
                                     (a->p->parent_tid ? CLONE_PARENT_SETTID : 0),
                             a, a->p->parent_tid);
        pid_t pid = vfork();
        if (pid == 0)
                child_main(a);
        return pid;
}

bool sup_spawn_sets_parent_tid(void) {
        return !UNDER_VALGRIND;
}

bool sup_spawn_under_valgrind(void) {
        return UNDER_VALGRIND;
}

int sup_spawn(const sup_spawn_params *p, sup_process *ret, const char **ret_step) {
        int sv[2] = { -1, -1 }, report[2] = { -1, -1 };
        int control_target = p->listen_fd >= 0 ? LISTEN_FD_START + 1 : LISTEN_FD_START;
        prepared pr = { 0 };
        int r;

        *ret_step = "prepare";
        sup_child_signals_note();
        r = slots_open();
        if (r < 0)
                return r;
        r = prepare(p, control_target, &pr);
        if (r < 0)
                return r;
        r = ipc_socketpair(sv);
        if (r < 0)
                goto fail;
        if (pipe2(report, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = slot_stage(SLOT_CONTROL, sv[1])) < 0 || (r = slot_stage(SLOT_REPORT, report[1])) < 0 ||
            (r = slot_stage(SLOT_LISTEN, p->listen_fd)) < 0 || (r = slot_stage(SLOT_OUTPUT, p->output_fd)) < 0 ||
            (r = slot_stage(SLOT_ERROR, p->error_fd >= 0 ? p->error_fd : p->output_fd)) < 0) {
                slots_clear();
                goto fail;
        }
        /* The slots hold the child's ends now. */
        close(sv[1]);
        sv[1] = -1;
        close(report[1]);
        report[1] = -1;

        child_args a = {
                .p = p,
                .pr = &pr,
                .control_target = control_target,
                .has_listen = p->listen_fd >= 0,
                .has_output = p->output_fd >= 0,
                .parent = getpid(),
        };
        pid_t pid = start_child(&a);
        int saved = errno;
        if (pid > 0 && p->cloned)
                p->cloned(pid, p->cloned_userdata);
        /* The child has exec'ed or died: our copies of its ends go, so the
         * report pipe reads end of file after a successful exec. */
        slots_clear();
        if (pid < 0) {
                r = -saved;
                goto fail;
        }

        failure f;
        ssize_t n;
        do
                n = read(report[0], &f, sizeof(f));
        while (n < 0 && errno == EINTR);
        close(report[0]);
        report[0] = -1;

        if (n == (ssize_t) sizeof(f)) {
                r = -f.error;
                for (size_t i = 0; i < sizeof(step_names) / sizeof(step_names[0]); i++)
                        if (strcmp(step_names[i], f.step) == 0)
                                *ret_step = step_names[i];
                (void) waitpid(pid, NULL, 0);
                goto fail;
        }
        *ret = (sup_process) { .pid = pid, .control_fd = sv[0] };
        prepared_done(&pr);
        return 0;

fail:
        prepared_done(&pr);
        for (int i = 0; i < 2; i++) {
                if (sv[i] >= 0)
                        close(sv[i]);
                if (report[i] >= 0)
                        close(report[i]);
        }
        return r;
}
