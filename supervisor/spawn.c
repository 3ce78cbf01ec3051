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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "ipc.h"
#include "spawn.h"

extern char **environ;

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
};
enum { STEP_SETPGID, STEP_PRCTL, STEP_DUP2, STEP_DEVNULL, STEP_RLIMIT, STEP_CHDIR, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_EXEC };

static _Noreturn void child_fail(int pipe_fd, int step) {
        failure f = { .error = errno };
        snprintf(f.step, sizeof(f.step), "%s", step_names[step]);
        (void) !write(pipe_fd, &f, sizeof(f));
        _exit(127);
}

static int env_count(char *const *env) {
        int n = 0;
        while (env && env[n])
                n++;
        return n;
}

static bool is_ours(const char *kv) {
        static const char *const keys[] = {
                "GENSUP_CONTROL_FD=", "GENSUP_NAME=", "GENSUP_RUNTIME_DIR=", "LISTEN_FDS=",
                "LISTEN_PID=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
        };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strncmp(kv, keys[i], strlen(keys[i])) == 0)
                        return true;
        return false;
}

static bool overridden(const char *kv, char *const *spec_env) {
        const char *eq = strchr(kv, '=');
        size_t n = eq ? (size_t) (eq - kv) + 1 : strlen(kv);
        for (int i = 0; spec_env && spec_env[i]; i++)
                if (strncmp(kv, spec_env[i], n) == 0)
                        return true;
        return false;
}

typedef struct prepared {
        char **argv;
        char **envp;
        char *listen_pid;     /* "LISTEN_PID=" with room for the pid, filled in the child */
        uid_t uid;
        gid_t gid;
        gid_t *groups;        /* supplementary groups: the user's, as initgroups(3) */
        int n_groups;
        bool change_user;
        bool change_group;
} prepared;

static void prepared_done(prepared *p) {
        if (p->envp)
                for (char **e = p->envp; *e; e++)
                        if (is_ours(*e))
                                free(*e);
        free(p->envp);
        free(p->argv);
        free(p->groups);
}

static int add_env(char **envp, int *n, const char *key, const char *value) {
        char *s;
        if (asprintf(&s, "%s=%s", key, value) < 0)
                return -ENOMEM;
        envp[(*n)++] = s;
        return 0;
}

/* A name, or a number as the config allows. */
static bool numeric_id(const char *s, unsigned long *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0)
                return false;
        *ret = v;
        return true;
}

static struct passwd *lookup_user(const char *name) {
        unsigned long id;
        struct passwd *pw = getpwnam(name);
        if (!pw && numeric_id(name, &id))
                pw = getpwuid((uid_t) id);
        return pw;
}

static struct group *lookup_group(const char *name) {
        unsigned long id;
        struct group *gr = getgrnam(name);
        if (!gr && numeric_id(name, &id))
                gr = getgrgid((gid_t) id);
        return gr;
}

static int prepare(const sup_spawn_params *p, int control_fd_in_child, prepared *ret) {
        const sup_spec *s = p->spec;
        prepared pr = { 0 };
        char user_name[256] = "";
        int r = -ENOMEM;

        int n_exec = env_count(s->exec), n_extra = env_count(p->extra_args);
        pr.argv = calloc((size_t) (n_exec + n_extra + 1), sizeof(char *));
        if (!pr.argv)
                goto fail;
        for (int i = 0; i < n_exec; i++)
                pr.argv[i] = s->exec[i];
        for (int i = 0; i < n_extra; i++)
                pr.argv[n_exec + i] = p->extra_args[i];

        int n_base = env_count(environ), n_spec = env_count(s->environment), n = 0;
        pr.envp = calloc((size_t) (n_base + n_spec + 8), sizeof(char *));
        if (!pr.envp)
                goto fail;
        for (int i = 0; i < n_base; i++)
                if (!is_ours(environ[i]) && !overridden(environ[i], s->environment))
                        pr.envp[n++] = environ[i];
        /* What gensupd sets for the child is its to set. */
        for (int i = 0; i < n_spec; i++)
                if (!is_ours(s->environment[i]))
                        pr.envp[n++] = s->environment[i];
        char num[16];
        snprintf(num, sizeof(num), "%d", control_fd_in_child);
        if (add_env(pr.envp, &n, "GENSUP_CONTROL_FD", num) < 0 ||
            add_env(pr.envp, &n, "GENSUP_NAME", s->name) < 0 ||
            (p->runtime_dir && add_env(pr.envp, &n, "GENSUP_RUNTIME_DIR", p->runtime_dir) < 0) ||
            (p->notify_socket && add_env(pr.envp, &n, "NOTIFY_SOCKET", p->notify_socket) < 0))
                goto fail;
        if (p->listen_fd >= 0) {
                if (add_env(pr.envp, &n, "LISTEN_FDS", "1") < 0 ||
                    add_env(pr.envp, &n, "LISTEN_FDNAMES", s->name) < 0 ||
                    add_env(pr.envp, &n, "LISTEN_PID", "0000000000") < 0)
                        goto fail;
                pr.listen_pid = pr.envp[n - 1];
        }

        if (s->user) {
                struct passwd *pw = lookup_user(s->user);
                if (!pw) {
                        r = -ESRCH;
                        goto fail;
                }
                pr.uid = pw->pw_uid;
                pr.gid = pw->pw_gid;
                pr.change_user = pr.change_group = true;
                snprintf(user_name, sizeof(user_name), "%s", pw->pw_name);
        }
        if (s->group) {
                struct group *gr = lookup_group(s->group);
                if (!gr) {
                        r = -ESRCH;
                        goto fail;
                }
                pr.gid = gr->gr_gid;
                pr.change_group = true;
        }
        if (pr.change_user) {
                /* The user's own groups, as a login would give them. */
                int room = 32;
                for (;;) {
                        gid_t *g = realloc(pr.groups, (size_t) room * sizeof(gid_t));
                        if (!g) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        pr.groups = g;
                        int want = room;
                        if (getgrouplist(user_name, pr.gid, pr.groups, &want) >= 0) {
                                pr.n_groups = want;
                                break;
                        }
                        if (want <= room || want > 65536) {
                                r = -EINVAL;
                                goto fail;
                        }
                        room = want;
                }
        } else if (pr.change_group) {
                if (!(pr.groups = malloc(sizeof(gid_t)))) {
                        r = -ENOMEM;
                        goto fail;
                }
                pr.groups[0] = pr.gid;
                pr.n_groups = 1;
        }
        *ret = pr;
        return 0;
fail:
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
        sigset_t all;

        /* sd-event blocked these in gensupd; a child starts clean. */
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);

        if (setpgid(0, 0) < 0)
                child_fail(report_fd, STEP_SETPGID);

        /* Lay fds out: 0 /dev/null, 1 and 2 output, 3 listen (if any), then
         * control. Sources are CLOEXEC and above the targets' range (see
         * sup_spawn), so no dup2 clobbers a later source. */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
                child_fail(report_fd, STEP_DEVNULL);
        if (move_fd(null, 0) < 0)
                child_fail(report_fd, STEP_DUP2);
        if (p->output_fd >= 0 && (move_fd(p->output_fd, 1) < 0 || move_fd(p->output_fd, 2) < 0))
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
        if (pr->change_group) {
                if (setgroups((size_t) pr->n_groups, pr->groups) < 0)
                        child_fail(report_fd, STEP_SETGROUPS);
                if (setgid(pr->gid) < 0)
                        child_fail(report_fd, STEP_SETGID);
        }
        if (pr->change_user && setuid(pr->uid) < 0)
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

/* vfork: the child borrows gensupd's memory until it execs, instead of
 * copying page tables that grow with the tree (with thousands of
 * children, fork's copy made every start slower than the last). The child
 * only makes system calls and writes its own stack. Returns the pid, or -1
 * with errno. */
static pid_t start_child(const sup_spawn_params *p, const prepared *pr, int control_fd, int control_target,
                         int report_fd) {
        pid_t parent = getpid();
        pid_t pid = vfork();
        if (pid == 0)
                run_child(p, pr, control_fd, control_target, report_fd, parent);
        return pid;
}

/* An fd above the child's fixed layout (0..4), so dup2 never clobbers it. */
static int lift_fd(int fd) {
        if (fd < 0 || fd > 4)
                return fd;
        int lifted = fcntl(fd, F_DUPFD_CLOEXEC, 5);
        close(fd);
        return lifted;
}

int sup_spawn(const sup_spawn_params *p, sup_process *ret, const char **ret_step) {
        int sv[2] = { -1, -1 }, report[2] = { -1, -1 };
        int control_target = p->listen_fd >= 0 ? LISTEN_FD_START + 1 : LISTEN_FD_START;
        prepared pr = { 0 };
        int r;

        *ret_step = "prepare";
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
        sv[1] = lift_fd(sv[1]);
        report[1] = lift_fd(report[1]);
        sup_spawn_params lifted = *p;
        /* listen and output fds belong to the caller; lift copies if low. */
        int listen_copy = -1, output_copy = -1;
        if (p->listen_fd >= 0 && p->listen_fd <= 4)
                lifted.listen_fd = listen_copy = fcntl(p->listen_fd, F_DUPFD_CLOEXEC, 5);
        if (p->output_fd >= 0 && p->output_fd <= 4)
                lifted.output_fd = output_copy = fcntl(p->output_fd, F_DUPFD_CLOEXEC, 5);

        pid_t pid = start_child(&lifted, &pr, sv[1], control_target, report[1]);
        if (pid < 0) {
                r = -errno;
                if (listen_copy >= 0)
                        close(listen_copy);
                if (output_copy >= 0)
                        close(output_copy);
                goto fail;
        }
        if (listen_copy >= 0)
                close(listen_copy);
        if (output_copy >= 0)
                close(output_copy);
        close(sv[1]);
        sv[1] = -1;
        close(report[1]);
        report[1] = -1;

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
