/* proc.c: one worker process's life, as one exhaustive state machine.
 * Every change of state goes through set_state(); every switch over the
 * state names each one, so -Wswitch finds a case nobody handled.
 *
 *   state          event               action / next state
 *   DOWN           start               ask the spawner threads; SPAWNING
 *                                      (during the boot, or a hot upgrade's
 *                                      successor: spawn now, as below)
 *   SPAWNING       spawned             STARTING (start timer, or READY from
 *                                      the loop for ready = "exec"); SPAWNED
 *   SPAWNING       stop                SPAWN_ABORTED
 *   SPAWN_ABORTED  spawned             STARTING, SPAWNED, then as a stop:
 *                                      SIGKILL the group; ABORTING
 *   SPAWNING, SPAWN_ABORTED
 *                  spawn failed        DOWN; handler SPAWN_FAILED
 *   STARTING       READY / READY=1     RUNNING; handler READY
 *   STARTING       INIT_FAILED         INIT_FAILED (shutdown timer)
 *   STARTING       IGNORE              INIT_IGNORED (shutdown timer)
 *   STARTING       start timer         SIGKILL the group; START_TIMEOUT
 *   STARTING       stop                SIGKILL the group; ABORTING
 *   INIT_*         timer               SIGKILL the group (its answer stays the reason)
 *   INIT_*         stop                SIGKILL the group; ABORTING
 *   RUNNING        EXIT_REPORT         remember its reason
 *   RUNNING        stop                EXIT frame or SIGTERM; STOPPING_TERM with
 *                                      the shutdown timer (brutal_kill: SIGKILL,
 *                                      STOPPING_KILL)
 *   STOPPING_TERM  shutdown timer      SIGKILL the group; STOPPING_KILL
 *   any but DOWN   process gone        with kill_mode "cgroup" and a process
 *                                      left in the cgroup: cgroup.kill,
 *                                      DRAINING (drain timer); else DOWN and
 *                                      the handler as below
 *   DRAINING       cgroup empty        DOWN; handler:
 *                                        STARTING, INIT_FAILED: START_FAILED
 *                                        INIT_IGNORED: IGNORED
 *                                        START_TIMEOUT: START_FAILED, start_timeout
 *                                        ABORTING: START_FAILED (requested)
 *                                        RUNNING: EXITED
 *                                        STOPPING_*: EXITED (requested)
 *   DRAINING       drain timer         log what stays; DOWN, handler as above
 *
 * "SIGKILL the group" is kill_all(): cgroup.kill, the process group, or
 * the process alone, as the kill_mode says.
 *
 * Events not in the table change nothing (a stop while stopping, a READY
 * after INIT_FAILED, a timer that raced its cancel). There is one timer
 * per child at a time (start or shutdown), as s6-supervise keeps one
 * deadline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "reaper.h"
#include "exit_reason.h"
#include "ipc.h"
#include "listen.h"
#include "log.h"
#include "output.h"
#include "spawn.h"
#include "spawner.h"
#include "strv.h"

#define MAX_SYS_PENDING 64
#define CONTROL_MAX_FRAME (1u * 1024u * 1024u)
#define DRAIN_TIMEOUT_MS 10000   /* SIGKILLed processes that do not go (D state) */

typedef struct sys_pending {
        uint64_t ref;
        sup_proc_sys_done done;
        void *userdata;
} sys_pending;

struct sup_proc {
        const sup_proc_env *env;
        const sup_spec *spec;
        char **extra_args;
        sup_proc_handler handler;
        void *userdata;

        sup_proc_state state;
        pid_t pid;                     /* > 0 in every state but DOWN */
        ipc_conn *control;
        sd_event_source *control_source;
        sd_event_source *timer;        /* start timeout or shutdown deadline */
        sd_event_source *defer;        /* delivers READY for ready = "exec" */
        int listen_fd;                 /* held across restarts */
        char *listen_path;             /* removed when the child is freed */

        sup_cgroup *cgroup;            /* NULL: none (not in force, or not made) */
        sd_event_source *drain;        /* watches cgroup.events while DRAINING */
        uint64_t oom_base;             /* memory.events oom_kill when the process started */
        int64_t cpu_base;              /* cpu.stat usage_usec when the process started */
        sup_proc_state exit_was;       /* DRAINING: the state the process died in */
        sup_reason exit_reason;        /* DRAINING: its reason, told once the cgroup is empty */

        /* What the program is, not where it is in its life: one that sent
         * a frame is stopped with an EXIT frame and answers sys requests. */
        bool speaks_gensup;
        char *reported;                /* last EXIT_REPORT or INIT_FAILED reason */
        bool stop_asked;               /* its EXIT_REPORT names who sent SYS STOP: */
        uid_t stop_uid;
        pid_t stop_pid;

        sup_output_counts *output_counts;   /* lines its output limit dropped */

        char *vsn;                     /* the version its READY declared */
        const sup_proc *pred;          /* a hot upgrade's new process: the old one (upgrade.c) */
        sup_proc_waiting waiting;      /* ... told when it waits for the handoff */
        struct stat program;           /* its program file when it started (reload notices a new one) */
        bool program_known;

        uint64_t next_ref;
        sys_pending *sys;              /* forwarded sys requests awaiting an answer */
        size_t n_sys;

        /* A start in flight (SPAWNING, SPAWN_ABORTED): the request and what
         * it points at, which are the spawner's until its result. */
        sup_spawn_req *spawn;
        sup_spawn_params params;
        int out[2];                    /* the output's child ends; -1: none */
        int cgroup_fd;                 /* -1: none */
        char *hold_path;               /* offered to hold its socket; NULL: not */
        int spawn_error;               /* the last SPAWN_FAILED's */
};

int sup_proc_new(const sup_proc_env *env, const sup_spec *spec, char *const *extra_args, sup_proc_handler handler,
                  void *userdata, sup_proc **ret) {
        sup_proc *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->env = env;
        c->spec = spec;
        c->handler = handler;
        c->userdata = userdata;
        c->listen_fd = -1;
        c->out[0] = c->out[1] = c->cgroup_fd = -1;
        c->next_ref = 1;
        if (!(c->output_counts = sup_output_counts_new())) {
                free(c);
                return -ENOMEM;
        }
        if (extra_args && !(c->extra_args = sup_strv_copy(extra_args))) {
                sup_output_counts_unref(c->output_counts);
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static void fail_pending_sys(sup_proc *c) {
        while (c->n_sys > 0) {
                sys_pending p = c->sys[--c->n_sys];
                p.done(p.userdata, NULL);
        }
}

static void close_control(sup_proc *c) {
        c->control_source = sd_event_source_disable_unref(c->control_source);
        c->control = ipc_conn_free(c->control);
        fail_pending_sys(c);
}

static void kill_all(sup_proc *c);
static void spawn_cancel(sup_proc *c);

sup_proc *sup_proc_free(sup_proc *c) {
        if (!c)
                return NULL;
        spawn_cancel(c);
        if (c->pid > 0) {
                kill_all(c);
                sup_reaper_unwatch(c->pid);
        }
        close_control(c);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->defer);
        sd_event_source_disable_unref(c->drain);
        sup_cgroup_free(c->cgroup);
        sup_reason_done(&c->exit_reason);
        if (c->listen_fd >= 0)
                close(c->listen_fd);
        if (c->listen_path)
                (void) unlink(c->listen_path);
        free(c->listen_path);
        sup_strv_free(c->extra_args);
        free(c->reported);
        free(c->vsn);
        free(c->sys);
        sup_output_counts_unref(c->output_counts);
        free(c);
        return NULL;
}

/* The one place a child changes state. A state's deadline is its own:
 * leaving the state cancels it, and the caller arms the next one. */
static void set_state(sup_proc *c, sup_proc_state s) {
        c->timer = sd_event_source_disable_unref(c->timer);
        c->state = s;
}

sup_kill_mode sup_proc_kill_mode(const sup_proc *c) {
        if (c->spec->kill_mode == SUP_KILL_CGROUP && !c->cgroup)
                return SUP_KILL_PROCESS_GROUP;
        return c->spec->kill_mode;
}

/* SIGKILL to what the kill_mode names. */
static void kill_all(sup_proc *c) {
        if (c->pid <= 0)
                return;
        switch (sup_proc_kill_mode(c)) {
        case SUP_KILL_CGROUP:
                if (sup_cgroup_kill(c->cgroup) == 0)
                        return;
                (void) kill(-c->pid, SIGKILL);
                break;
        case SUP_KILL_PROCESS_GROUP:
                /* The group first: forks of the child go too. */
                (void) kill(-c->pid, SIGKILL);
                break;
        case SUP_KILL_PROCESS:
        case _SUP_KILL_MODE_MAX:
                break;
        }
        (void) kill(c->pid, SIGKILL);
}

/* What a child says of its end is its own text: kept short and printable
 * before it reaches logs, JSON and history. */
static void set_reported(sup_proc *c, const char *reason) {
        free(c->reported);
        c->reported = reason && *reason ? sup_reason_clean(reason) : NULL;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int arm_timer(sup_proc *c, uint64_t ms) {
        c->timer = sd_event_source_disable_unref(c->timer);
        return sd_event_add_time_relative(c->env->event, &c->timer, CLOCK_MONOTONIC, ms * 1000u, 1000, on_timer, c);
}

static uint64_t shutdown_ms(const sup_proc *c) {
        return (uint64_t) (c->spec->shutdown_ms >= 0 ? c->spec->shutdown_ms : SUP_DEFAULT_WORKER_SHUTDOWN_MS);
}

static void became_ready(sup_proc *c) {
        if (c->state != SUP_PROC_STARTING)
                return;
        set_state(c, SUP_PROC_RUNNING);
        c->handler(c, SUP_PROC_OUTCOME_READY, NULL, false, c->userdata);
}

/* init said no (INIT_FAILED or IGNORE): the start is decided, and the
 * process has only to exit. It gets its shutdown time for that, not what
 * is left of the start timeout; if it lingers it is killed, and its own
 * answer stays the reason. */
static void init_answered(sup_proc *c, sup_proc_state next) {
        if (c->state != SUP_PROC_STARTING)
                return;
        set_state(c, next);
        (void) arm_timer(c, shutdown_ms(c));
}

static void finish_exit(sup_proc *c);

/* A plain program on the default ready = "notify" never says READY: say
 * how long it was waited for and what it most likely wants. */
static void start_timed_out(sup_proc *c) {
        const char *hint = c->speaks_gensup ? ""
                                            : "; it sent neither a gensup frame nor READY=1: a plain program wants "
                                              "ready = \"exec\" (or sd_notify READY=1)";
        sup_log(LOG_WARNING, "%s: not ready after %llu ms (start_timeout), killing it%s", c->spec->name,
                (unsigned long long) c->spec->start_timeout_ms, hint);
        set_state(c, SUP_PROC_START_TIMEOUT);
        kill_all(c);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        sup_proc *c = userdata;

        c->timer = sd_event_source_disable_unref(c->timer);
        switch (c->state) {
        case SUP_PROC_STARTING:
                start_timed_out(c);
                break;
        case SUP_PROC_INIT_FAILED:
        case SUP_PROC_INIT_IGNORED:
                kill_all(c);
                break;
        case SUP_PROC_STOPPING_TERM:
                set_state(c, SUP_PROC_STOPPING_KILL);
                kill_all(c);
                break;
        case SUP_PROC_DRAINING:
                sup_log(LOG_WARNING, "%s: its cgroup still holds processes %d s after SIGKILL; going on",
                        c->spec->name, DRAIN_TIMEOUT_MS / 1000);
                finish_exit(c);
                break;
        case SUP_PROC_DOWN:
        case SUP_PROC_SPAWNING:
        case SUP_PROC_SPAWN_ABORTED:
        case SUP_PROC_START_TIMEOUT:
        case SUP_PROC_ABORTING:
        case SUP_PROC_RUNNING:
        case SUP_PROC_STOPPING_KILL:
        case _SUP_PROC_STATE_MAX:
                break;
        }
        return 0;
}

static int on_defer_ready(sd_event_source *s, void *userdata) {
        sup_proc *c = userdata;
        c->defer = sd_event_source_disable_unref(c->defer);
        became_ready(c);
        return 0;
}

static void finish_sys(sup_proc *c, Gensup__Frame *f) {
        for (size_t i = 0; i < c->n_sys; i++) {
                if (c->sys[i].ref != f->ref)
                        continue;
                sys_pending p = c->sys[i];
                memmove(c->sys + i, c->sys + i + 1, (c->n_sys - i - 1) * sizeof(sys_pending));
                c->n_sys--;
                p.done(p.userdata, f);
                return;
        }
        ipc_frame_free(f);
}

/* A gen_server offered to hold its socket (GENSUP_HOLD_SOCKET) hands it
 * over with READY: from now on gensupd holds it as for listen = true. Any
 * other fd the child sent is closed. */
static void hold_handed_socket(sup_proc *c) {
        int fd;

        while ((fd = ipc_conn_take_fd(c->control)) >= 0) {
                if (c->listen_fd >= 0 || !c->spec->hold_socket) {
                        close(fd);
                        continue;
                }
                int r = sup_listen_adopt(fd, c->env->runtime_dir, c->spec, &c->listen_path);
                if (r < 0)
                        sup_log_errno(LOG_WARNING, r, "%s: not holding the socket it handed over: %m", c->spec->name);
                else
                        c->listen_fd = fd;
        }
        ipc_conn_set_accept_fds(c->control, false);
}

/* A frame from the child on its control socket. Nothing it sends can hurt
 * gensupd: a frame that makes no sense now is ignored. */
static void handle_control_frame(sup_proc *c, Gensup__Frame *f) {
        c->speaks_gensup = true;
        switch (f->kind) {
        case GENSUP__KIND__READY:
                free(c->vsn);
                c->vsn = f->vsn && *f->vsn ? ipc_text_clean(f->vsn, 64, false) : NULL;
                hold_handed_socket(c);
                became_ready(c);
                break;
        case GENSUP__KIND__INIT_FAILED: {
                char *r = NULL;
                if (asprintf(&r, "{init_failed,%s}", f->reason && *f->reason ? f->reason : "undefined") >= 0)
                        set_reported(c, r);
                free(r);
                init_answered(c, SUP_PROC_INIT_FAILED);
                break;
        }
        case GENSUP__KIND__IGNORE:
                init_answered(c, SUP_PROC_INIT_IGNORED);
                break;
        case GENSUP__KIND__HANDOFF:
                /* A hot upgrade's new process is up and waits. */
                if (c->waiting && c->state == SUP_PROC_STARTING)
                        c->waiting(c, c->userdata);
                break;
        case GENSUP__KIND__EXIT_REPORT:
                set_reported(c, f->reason);
                if (f->stopped_by) {
                        c->stop_asked = true;
                        c->stop_uid = (uid_t) f->stopped_by->uid;
                        c->stop_pid = (pid_t) f->stopped_by->pid;
                        sup_log(LOG_NOTICE, "%s: stopped at the request of uid %u pid %d", c->spec->name,
                                (unsigned) c->stop_uid, (int) c->stop_pid);
                }
                break;
        case GENSUP__KIND__SYS_REPLY:
        case GENSUP__KIND__ERROR:
                finish_sys(c, f);
                return;
        default:
                break;
        }
        ipc_frame_free(f);
}

/* Reads once and handles the frames that came. Returns whether more may
 * be waiting (the read got bytes and the connection is still open). */
static bool control_read(sup_proc *c) {
        int r = ipc_conn_read(c->control);
        if (r == -EAGAIN)
                return false;
        for (;;) {
                Gensup__Frame *f = NULL;
                int k = ipc_conn_next(c->control, &f);
                if (k < 0) {
                        sup_log(LOG_WARNING, "%s: bad frame on its control socket, closing it", c->spec->name);
                        close_control(c);
                        return false;
                }
                if (k == 0)
                        break;
                handle_control_frame(c, f);
                if (!c->control)
                        return false;
        }
        /* End of file: the child closed its end (or is gone). SIGCHLD tells
         * the rest. */
        if (r < 0) {
                close_control(c);
                return false;
        }
        return true;
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        sup_proc *c = userdata;
        bool read = false;

        if (revents & EPOLLOUT) {
                int r = ipc_conn_flush(c->control);
                if (r == 0)
                        (void) sd_event_source_set_io_events(s, EPOLLIN);
                else if (r != -EAGAIN) {
                        close_control(c);
                        return 0;
                }
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                (void) control_read(c);
                read = true;
        }
        /* A child speaks rarely: its buffers go back between frames, so
         * thousands of idle children hold none. */
        if (read && c->control && ipc_conn_pending(c->control) == 0)
                ipc_conn_shrink(c->control);
        return 0;
}

/* What gensupd did to the process, as the exit reason needs it: asked it
 * to stop (EXIT frame or SIGTERM), or killed it. */
static bool sent_term(const sup_proc *c) {
        return c->state == SUP_PROC_STOPPING_TERM ||
               (c->state == SUP_PROC_STOPPING_KILL && c->spec->shutdown_ms != SUP_SHUTDOWN_BRUTAL_KILL);
}

static bool sent_kill(const sup_proc *c) {
        return c->state == SUP_PROC_START_TIMEOUT || c->state == SUP_PROC_ABORTING ||
               c->state == SUP_PROC_STOPPING_KILL;
}

/* Tells the tree how the life that was in state `was` ended. */
static void deliver_exit(sup_proc *c, sup_proc_state was, const sup_reason *reason) {
        switch (was) {
        case SUP_PROC_STARTING:
        case SUP_PROC_INIT_FAILED:
                c->handler(c, SUP_PROC_OUTCOME_START_FAILED, reason, false, c->userdata);
                break;
        case SUP_PROC_INIT_IGNORED:
                c->handler(c, SUP_PROC_OUTCOME_IGNORED, NULL, false, c->userdata);
                break;
        case SUP_PROC_START_TIMEOUT:
                c->handler(c, SUP_PROC_OUTCOME_START_FAILED, &(sup_reason) { .kind = IPC_REASON_START_TIMEOUT }, true,
                           c->userdata);
                break;
        case SUP_PROC_ABORTING:
                /* Stopped before it was ready: its start failed, as asked. */
                c->handler(c, SUP_PROC_OUTCOME_START_FAILED, reason, true, c->userdata);
                break;
        case SUP_PROC_RUNNING:
                c->handler(c, SUP_PROC_OUTCOME_EXITED, reason, false, c->userdata);
                break;
        case SUP_PROC_STOPPING_TERM:
        case SUP_PROC_STOPPING_KILL:
                c->handler(c, SUP_PROC_OUTCOME_EXITED, reason, true, c->userdata);
                break;
        case SUP_PROC_DOWN:
        case SUP_PROC_SPAWNING:
        case SUP_PROC_SPAWN_ABORTED:
        case SUP_PROC_DRAINING:
        case _SUP_PROC_STATE_MAX:
                break;
        }
}

/* The end of a life, told to the tree: the process is gone and, with
 * kill_mode "cgroup", so is everything it started. */
static void finish_exit(sup_proc *c) {
        sup_proc_state was = c->exit_was;
        sup_reason reason = c->exit_reason;
        c->exit_reason = (sup_reason) { .kind = IPC_REASON_NORMAL };
        c->drain = sd_event_source_disable_unref(c->drain);
        set_state(c, SUP_PROC_DOWN);
        deliver_exit(c, was, &reason);
        sup_reason_done(&reason);
}

static int on_drain(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        sup_proc *c = userdata;
        if (c->state == SUP_PROC_DRAINING && sup_cgroup_populated(c->cgroup) <= 0)
                finish_exit(c);
        return 0;
}

/* What the process left behind is killed before its exit is told (and
 * so before a restart): cgroup.kill, then wait for the cgroup to empty. */
static bool start_drain(sup_proc *c) {
        if (sup_proc_kill_mode(c) != SUP_KILL_CGROUP || sup_cgroup_populated(c->cgroup) <= 0)
                return false;
        set_state(c, SUP_PROC_DRAINING);
        (void) sup_cgroup_kill(c->cgroup);
        int r = sd_event_add_inotify(c->env->event, &c->drain, sup_cgroup_events_path(c->cgroup), IN_MODIFY,
                                     on_drain, c);
        if (r < 0)
                sup_log_errno(LOG_WARNING, r, "%s: watching its cgroup: %m", c->spec->name);
        (void) arm_timer(c, DRAIN_TIMEOUT_MS);
        /* It may have emptied before the watch was there. */
        return sup_cgroup_populated(c->cgroup) > 0;
}

static void on_process_exit(const siginfo_t *si, void *userdata) {
        sup_proc *c = userdata;
        sup_reason reason;

        /* The zombie still holds the group id: kill what the child left
         * behind before anyone can reuse it. */
        if (sup_proc_kill_mode(c) == SUP_KILL_PROCESS_GROUP)
                (void) kill(-c->pid, SIGKILL);

        /* Frames sent just before exit may still be unread; a READY among
         * them (or the one ready = "exec" has yet to deliver) counts
         * first: the child was ready, then it exited. */
        for (int i = 0; i < 16 && c->control && control_read(c); i++)
                ;
        if (c->defer) {
                c->defer = sd_event_source_disable_unref(c->defer);
                became_ready(c);
        }

        sup_exit_facts facts = {
                .reported = c->reported,
                .code = si->si_code,
                .status = si->si_status,
                .sent_term = sent_term(c),
                .sent_kill = sent_kill(c),
                .oom_killed = c->cgroup && sup_cgroup_oom_kills(c->cgroup) > c->oom_base,
        };
        (void) sup_exit_reason(&facts, &reason);

        char *text = c->state == SUP_PROC_START_TIMEOUT ? strdup("start_timeout") : sup_reason_to_string(&reason);
        sup_output_exited(c->output_counts, c->pid, text);
        free(text);
        c->exit_was = c->state;
        sup_reason_done(&c->exit_reason);
        c->exit_reason = reason;
        close_control(c);
        c->pid = 0;
        if (!start_drain(c))
                finish_exit(c);
}

bool sup_proc_holds_socket(const sup_proc *c) {
        return c->listen_fd >= 0;
}

void sup_proc_release_socket(sup_proc *c) {
        if (c->state != SUP_PROC_DOWN || c->pid > 0 || c->listen_fd < 0)
                return;
        close(c->listen_fd);
        c->listen_fd = -1;
        if (c->listen_path)
                (void) unlink(c->listen_path);
        free(c->listen_path);
        c->listen_path = NULL;
}

static int open_listen_socket(sup_proc *c) {
        if (c->pred && c->listen_fd < 0 && c->pred->listen_fd >= 0 &&
            (c->listen_fd = fcntl(c->pred->listen_fd, F_DUPFD_CLOEXEC, 3)) < 0)
                return -errno;
        if (c->listen_fd >= 0 || !c->spec->listen)
                return 0;
        int r = sup_listen_open(c->env->runtime_dir, c->spec, &c->listen_path);
        if (r < 0)
                return r;
        c->listen_fd = r;
        return 0;
}

/* Where gensupd offers to hold the socket a gen_server makes, to be handed
 * over with READY (hold_handed_socket), or NULL: it holds one already,
 * the spec says listen, or the child is one of a simple_one_for_one
 * supervisor's instances, which share one name. */
static char *hold_offer(const sup_proc *c) {
        char *path = NULL;

        if (c->listen_fd >= 0 || !c->spec->hold_socket || c->extra_args ||
            sup_listen_path(c->env->runtime_dir, c->spec, &path) < 0)
                return NULL;
        return path;
}

/* The child's cgroup, made at its first start and kept across restarts:
 * an fd on it to spawn into (-1: none), and what its counters say now. */
static int cgroup_prepare(sup_proc *c) {
        /* A hot upgrade's new process is born in the old one's cgroup,
         * which it owns only once it takes over (sup_proc_adopt). */
        if (c->pred)
                return c->pred->cgroup ? sup_cgroup_open(c->pred->cgroup) : -1;
        if (!c->cgroup && sup_cgroup_root()) {
                int r = sup_cgroup_new(c->spec->name, c->spec, &c->cgroup);
                if (r < 0)
                        sup_log_errno(LOG_WARNING, r, "%s: no cgroup, a process group only: %m", c->spec->name);
        }
        if (!c->cgroup)
                return -1;
        c->cpu_base = sup_cgroup_cpu_usec(c->cgroup);
        sup_cgroup_usage_forget(c->cgroup);
        c->oom_base = sup_cgroup_oom_kills(c->cgroup);
        int fd = sup_cgroup_open(c->cgroup);
        if (fd < 0)
                sup_log_errno(LOG_WARNING, fd, "%s: opening its cgroup: %m", c->spec->name);
        return fd;
}

/* ---- starting: the request, then the result ---- */

/* Closes and frees what the start lent the spawner. */
static void start_release(sup_proc *c) {
        for (int i = 0; i < 2; i++)
                if (c->out[i] >= 0) {
                        close(c->out[i]);
                        c->out[i] = -1;
                }
        if (c->cgroup_fd >= 0) {
                close(c->cgroup_fd);
                c->cgroup_fd = -1;
        }
        free(c->hold_path);
        c->hold_path = NULL;
}

/* Everything the spawn needs, in c->params; it points into c. */
static int start_prepare(sup_proc *c) {
        int r = open_listen_socket(c);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "%s: listening socket: %m", c->spec->name);
        r = sup_output_open(c->env->event, c->spec, c->output_counts, c->env->journal, c->out);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "%s: output: %m", c->spec->name);

        c->hold_path = hold_offer(c);
        c->cgroup_fd = cgroup_prepare(c);
        c->params = (sup_spawn_params) {
                .cgroup_fd = c->cgroup_fd,
                .cgroup_join = c->cgroup && sup_cgroup_was_killed(c->cgroup),
                .spec = c->spec,
                .extra_args = c->extra_args,
                .listen_fd = c->listen_fd,
                .hold_path = c->hold_path,
                .runtime_dir = c->env->runtime_dir,
                .notify_socket = c->env->notify_socket,
                .output_fd = c->out[0],
                .error_fd = c->out[1],
                .upgrade = c->pred != NULL,
        };
        return 0;
}

/* The process p exists: it is watched, its control socket read, its
 * start timed. A negative errno when it could not be watched (it is
 * killed and reaped then, DOWN). */
static int start_watch(sup_proc *c, const sup_process *p, bool offer_hold) {
        c->pid = p->pid;
        /* The process is in its cgroup now: what the sampler read while
         * it was being spawned (no process yet) is not its figures. */
        if (c->cgroup)
                sup_cgroup_usage_forget(c->cgroup);
        c->program_known = c->spec->exec && c->spec->exec[0] && stat(c->spec->exec[0], &c->program) == 0;
        sup_output_started(c->output_counts, p->pid);
        c->speaks_gensup = false;
        c->stop_asked = false;
        set_reported(c, NULL);
        set_state(c, SUP_PROC_STARTING);

        int r = sup_reaper_watch(p->pid, on_process_exit, c);
        if (r < 0) {
                close(p->control_fd);
                kill_all(c);
                (void) waitpid(c->pid, NULL, 0);
                c->pid = 0;
                set_state(c, SUP_PROC_DOWN);
                return r;
        }

        /* A child has nothing big to say on its control socket. */
        r = ipc_conn_new(p->control_fd, CONTROL_MAX_FRAME, &c->control);
        if (r < 0)
                goto fail;
        ipc_conn_set_accept_fds(c->control, offer_hold);
        r = sd_event_add_io(c->env->event, &c->control_source, p->control_fd, EPOLLIN, on_control, c);
        if (r < 0)
                goto fail;

        if (c->spec->ready == SUP_READY_EXEC)
                r = sd_event_add_defer(c->env->event, &c->defer, on_defer_ready, c);
        else
                r = arm_timer(c, c->spec->start_timeout_ms);
        if (r < 0)
                goto fail;
        return 0;
fail:
        /* The process exists: kill it; its exit arrives as START_FAILED. */
        set_state(c, SUP_PROC_ABORTING);
        kill_all(c);
        return 0;
}

static int spawn_prepare(void *userdata, sup_spawn_params *ret);

/* A start needs about this many fds at once: its pipes and sockets,
 * and a spawner thread's staging slots the first time it runs. */
#define START_FDS 16

/* The fds ran out (r): the newest children give up their pidfds, so that
 * a start can try again. False when there was none to give up. */
static bool fds_spared(int r) {
        return (r == -EMFILE || r == -ENFILE) && sup_reaper_spare_fds(START_FDS) > 0;
}

/* start_prepare, again once the fds ran out and some could be freed. */
static int start_prepare_spare(sup_proc *c) {
        int r = start_prepare(c);
        if (r < 0 && fds_spared(r)) {
                start_release(c);
                r = start_prepare(c);
        }
        return r;
}

/* The spawner's answer, from the loop. */
static void on_spawned(void *userdata, int r, const sup_process *p, const char *step) {
        sup_proc *c = userdata;
        bool aborted = c->state == SUP_PROC_SPAWN_ABORTED, offer_hold = c->hold_path != NULL;

        c->spawn = NULL;
        start_release(c);
        if (r < 0 && !aborted && fds_spared(r) && sup_spawner_submit(spawn_prepare, on_spawned, c, &c->spawn) == 0)
                return;
        if (r >= 0)
                r = start_watch(c, p, offer_hold);
        else if (step)
                sup_log_errno(LOG_ERR, r, "%s: %s: %m", c->spec->name, step);
        if (r < 0) {
                c->spawn_error = r;
                set_state(c, SUP_PROC_DOWN);
                sup_reason reason;
                (void) sup_reason_with_text(IPC_REASON_INIT_FAILED, strerror(-r), &reason);
                c->handler(c, SUP_PROC_OUTCOME_SPAWN_FAILED, &reason, aborted, c->userdata);
                sup_reason_done(&reason);
                return;
        }
        c->handler(c, SUP_PROC_OUTCOME_SPAWNED, NULL, false, c->userdata);
        if (aborted)
                (void) sup_proc_stop(c);
}

/* A start in flight whose result nobody will hear (the child is freed):
 * its process, if there is one, is killed and reaped. */
static void spawn_cancel(sup_proc *c) {
        sup_process p;

        if (!c->spawn)
                return;
        if (sup_spawner_cancel(c->spawn, &p)) {
                close(p.control_fd);
                c->pid = p.pid;
                kill_all(c);
                (void) waitpid(p.pid, NULL, 0);
                c->pid = 0;
        }
        c->spawn = NULL;
        start_release(c);
        set_state(c, SUP_PROC_DOWN);
}

/* A hot upgrade's successor starts at once, as before the spawner:
 * upgrade.c hands it the handoff socket right after. */
static int start_now(sup_proc *c) {
        sup_process p;
        const char *step = NULL;
        bool offer_hold = c->hold_path != NULL;
        int r = sup_spawner_run(&c->params, &p, &step);
        if (r < 0 && fds_spared(r))
                r = sup_spawner_run(&c->params, &p, &step);
        start_release(c);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "%s: %s: %m", c->spec->name, step);
        return start_watch(c, &p, offer_hold);
}

/* The spawner has room for c's start: what it needs, now. */
static int spawn_prepare(void *userdata, sup_spawn_params *ret) {
        sup_proc *c = userdata;
        int r = start_prepare_spare(c);
        if (r < 0) {
                start_release(c);
                return r;
        }
        *ret = c->params;
        return 0;
}

int sup_proc_start(sup_proc *c) {
        if (c->state != SUP_PROC_DOWN)
                return -EBUSY;
        if (c->pred || !sup_spawner_is_async()) {
                int r = start_prepare_spare(c);
                if (r < 0) {
                        start_release(c);
                        return r;
                }
                return start_now(c);
        }
        set_state(c, SUP_PROC_SPAWNING);
        int r = sup_spawner_submit(spawn_prepare, on_spawned, c, &c->spawn);
        if (r < 0) {
                set_state(c, SUP_PROC_DOWN);
                return sup_log_errno(LOG_ERR, r, "%s: spawning: %m", c->spec->name);
        }
        return 0;
}

int sup_proc_spawn_error(const sup_proc *c) {
        return c->spawn_error;
}

/* Asks a ready child to stop: an EXIT frame to a libgensup server,
 * SIGTERM to any other program. */
static void ask_to_stop(sup_proc *c) {
        bool framed = false;
        if (c->control && c->speaks_gensup) {
                Gensup__Frame f;
                ipc_frame_init(&f, GENSUP__KIND__EXIT, 0);
                f.reason = (char *) "shutdown";
                if (ipc_conn_queue(c->control, &f) == 0) {
                        int r = ipc_conn_flush(c->control);
                        if (r == -EAGAIN)
                                (void) sd_event_source_set_io_events(c->control_source, EPOLLIN | EPOLLOUT);
                        framed = r == 0 || r == -EAGAIN;
                }
        }
        if (!framed) {
                (void) kill(c->pid, SIGTERM);
                (void) kill(c->pid, SIGCONT);
        }
}

int sup_proc_stop(sup_proc *c) {
        switch (c->state) {
        case SUP_PROC_SPAWNING:
                /* No pid yet: killed once the spawner says which. */
                set_state(c, SUP_PROC_SPAWN_ABORTED);
                return 0;
        case SUP_PROC_DOWN:
        case SUP_PROC_SPAWN_ABORTED:
        case SUP_PROC_START_TIMEOUT:
        case SUP_PROC_ABORTING:
        case SUP_PROC_STOPPING_TERM:
        case SUP_PROC_STOPPING_KILL:
        case SUP_PROC_DRAINING:
                return 0;
        case SUP_PROC_STARTING:
        case SUP_PROC_INIT_FAILED:
        case SUP_PROC_INIT_IGNORED:
                set_state(c, SUP_PROC_ABORTING);
                kill_all(c);
                return 0;
        case SUP_PROC_RUNNING:
                break;
        case _SUP_PROC_STATE_MAX:
                return -EINVAL;
        }

        if (c->spec->shutdown_ms == SUP_SHUTDOWN_BRUTAL_KILL) {
                set_state(c, SUP_PROC_STOPPING_KILL);
                kill_all(c);
                return 0;
        }
        set_state(c, SUP_PROC_STOPPING_TERM);
        ask_to_stop(c);
        if (c->spec->shutdown_ms >= 0)
                return arm_timer(c, (uint64_t) c->spec->shutdown_ms);
        return 0;
}

void sup_proc_notify_ready(sup_proc *c) {
        became_ready(c);
}

int sup_proc_sys(sup_proc *c, const Gensup__SysRequest *req, sup_proc_sys_done done, void *userdata) {
        return sup_proc_sys_fd(c, req, -1, done, userdata);
}

int sup_proc_sys_fd(sup_proc *c, const Gensup__SysRequest *req, int fd, sup_proc_sys_done done, void *userdata) {
        if (!c->control || !c->speaks_gensup || c->state == SUP_PROC_DOWN)
                return -ENOTCONN;
        if (c->n_sys == MAX_SYS_PENDING)
                return -EBUSY;
        sys_pending *grown = realloc(c->sys, (c->n_sys + 1) * sizeof(sys_pending));
        if (!grown)
                return -ENOMEM;
        c->sys = grown;
        Gensup__Frame f;
        ipc_frame_init(&f, GENSUP__KIND__SYS, c->next_ref++);
        f.sys = (Gensup__SysRequest *) req;
        int r = ipc_conn_queue_fd(c->control, &f, fd);
        if (r < 0)
                return r;
        r = ipc_conn_flush(c->control);
        if (r == -EAGAIN)
                (void) sd_event_source_set_io_events(c->control_source, EPOLLIN | EPOLLOUT);
        else if (r < 0)
                return r;
        c->sys[c->n_sys++] = (sys_pending) { .ref = f.ref, .done = done, .userdata = userdata };
        return 0;
}

/* ---- hot upgrade (upgrade.c) ---- */

int sup_proc_successor(const sup_proc *old, const sup_spec *spec, int handoff_fd, sup_proc_handler handler,
                       sup_proc_waiting waiting, void *userdata, sup_proc **ret) {
        sup_proc *c;
        int r = sup_proc_new(old->env, spec, old->extra_args, handler, userdata, &c);
        if (r < 0)
                return r;
        c->pred = old;
        c->waiting = waiting;
        if ((r = sup_proc_start(c)) < 0) {
                sup_proc_free(c);
                return r;
        }
        *ret = c;
        /* Its first frame: the handoff socket, which it waits for. */
        Gensup__Frame f;
        ipc_frame_init(&f, GENSUP__KIND__HANDOFF, 0);
        if (!c->control || (r = ipc_conn_queue_fd(c->control, &f, handoff_fd)) < 0 ||
            ((r = ipc_conn_flush(c->control)) < 0 && r != -EAGAIN)) {
                (void) sup_proc_stop(c);   /* its exit is heard as START_FAILED */
                return 0;
        }
        if (r == -EAGAIN)
                (void) sd_event_source_set_io_events(c->control_source, EPOLLIN | EPOLLOUT);
        return 0;
}

void sup_proc_adopt(sup_proc *c, sup_proc *old, sup_proc_handler old_handler, void *old_userdata) {
        c->listen_path = old->listen_path;
        old->listen_path = NULL;
        c->cgroup = old->cgroup;   /* the old one is killed alone now */
        old->cgroup = NULL;
        c->spec = old->spec;
        c->pred = NULL;
        c->waiting = NULL;
        c->handler = old->handler;
        c->userdata = old->userdata;
        old->handler = old_handler;
        old->userdata = old_userdata;
}

bool sup_proc_program_changed(const sup_proc *c, const sup_spec *spec) {
        struct stat now;
        if (!c->program_known || !spec->exec || !spec->exec[0] || stat(spec->exec[0], &now) < 0)
                return false;
        return now.st_dev != c->program.st_dev || now.st_ino != c->program.st_ino ||
               now.st_size != c->program.st_size || now.st_mtim.tv_sec != c->program.st_mtim.tv_sec ||
               now.st_mtim.tv_nsec != c->program.st_mtim.tv_nsec;
}

const char *sup_proc_vsn(const sup_proc *c) {
        return c->vsn;
}

const sup_output_counts *sup_proc_output_counts(const sup_proc *c) {
        return c->output_counts;
}

sup_proc_state sup_proc_get_state(const sup_proc *c) {
        return c->state;
}

bool sup_proc_stopped_by(const sup_proc *c, uid_t *ret_uid, pid_t *ret_pid) {
        if (!c->stop_asked)
                return false;
        *ret_uid = c->stop_uid;
        *ret_pid = c->stop_pid;
        return true;
}

pid_t sup_proc_pid(const sup_proc *c) {
        return c->pid;
}

const sup_spec *sup_proc_spec(const sup_proc *c) {
        return c->spec;
}

bool sup_proc_is_ready(const sup_proc *c) {
        switch (c->state) {
        case SUP_PROC_RUNNING:
        case SUP_PROC_STOPPING_TERM:
        case SUP_PROC_STOPPING_KILL:
                return true;
        case SUP_PROC_DOWN:
        case SUP_PROC_SPAWNING:
        case SUP_PROC_SPAWN_ABORTED:
        case SUP_PROC_STARTING:
        case SUP_PROC_INIT_FAILED:
        case SUP_PROC_INIT_IGNORED:
        case SUP_PROC_START_TIMEOUT:
        case SUP_PROC_ABORTING:
        case SUP_PROC_DRAINING:
        case _SUP_PROC_STATE_MAX:
                break;
        }
        return false;
}

bool sup_proc_usage(const sup_proc *c, sup_cgroup_usage *ret) {
        return sup_proc_usage_recent(c, 0, ret);
}

bool sup_proc_usage_recent(const sup_proc *c, uint64_t max_age_usec, sup_cgroup_usage *ret) {
        if (!c->cgroup)
                return false;
        sup_cgroup_usage_recent(c->cgroup, max_age_usec, ret);
        if (ret->cpu_usec >= 0 && c->cpu_base >= 0 && ret->cpu_usec >= c->cpu_base)
                ret->cpu_usec -= c->cpu_base;
        return true;
}
