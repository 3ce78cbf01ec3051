/* proc.h: one supervised worker process through its life: started,
 * ready, running, stopping, gone. The tree (tree.c) decides what to do;
 * this module does it to one process and says what happened. */
#ifndef GENSUP_PROC_H
#define GENSUP_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "exit_reason.h"
#include "gensup.h"
#include "ipc.h"
#include "output.h"
#include "spec.h"

/* A process's lifecycle; proc.c's opening comment has the transitions.
 * The flags a child's life used to carry are states here: whether it was
 * ready, whether gensupd asked it to stop or killed it, and how init
 * answered. */
typedef enum sup_proc_state {
        SUP_PROC_DOWN,           /* no process */
        SUP_PROC_SPAWNING,       /* the spawner thread is starting it; no pid yet */
        SUP_PROC_SPAWN_ABORTED,  /* stopped while spawning: killed once its pid is known */
        SUP_PROC_STARTING,       /* spawned, not ready yet; start timer */
        SUP_PROC_INIT_FAILED,    /* init answered INIT_FAILED; waits for the exit, shutdown timer */
        SUP_PROC_INIT_IGNORED,   /* init answered IGNORE; the same */
        SUP_PROC_START_TIMEOUT,  /* not ready within its start timeout: killed */
        SUP_PROC_ABORTING,       /* stopped before it was ready: killed */
        SUP_PROC_RUNNING,        /* ready */
        SUP_PROC_STOPPING_TERM,  /* ready, asked to stop (EXIT frame or SIGTERM); shutdown timer */
        SUP_PROC_STOPPING_KILL,  /* ready, killed by a stop (deadline or brutal_kill) */
        SUP_PROC_DRAINING,       /* the process is gone, what it left in its cgroup is being killed */
        _SUP_PROC_STATE_MAX,
} sup_proc_state;


typedef struct sup_proc sup_proc;

/* How a start or a life ended, as the tree hears of it. */
typedef enum sup_proc_outcome {
        SUP_PROC_OUTCOME_SPAWNED,      /* the process exists: sup_proc_pid() says which */
        SUP_PROC_OUTCOME_SPAWN_FAILED, /* no process was started (exec failed, ...):
                                        * sup_proc_spawn_error() says why */
        SUP_PROC_OUTCOME_READY,        /* start succeeded */
        SUP_PROC_OUTCOME_START_FAILED, /* exec failed, init failed, died or timed out before ready */
        SUP_PROC_OUTCOME_IGNORED,      /* init returned ignore */
        SUP_PROC_OUTCOME_EXITED,       /* a running child is gone (on its own or after sup_proc_stop) */
        _SUP_PROC_OUTCOME_MAX,
} sup_proc_outcome;

/* reason: why it ended (NULL for READY and IGNORED), valid during the
 * call. requested: the exit followed sup_proc_stop. */
typedef void (*sup_proc_handler)(sup_proc *c, sup_proc_outcome outcome, const sup_reason *reason, bool requested,
                                  void *userdata);

/* Everything the child needs from the daemon around it. */
typedef struct sup_proc_env {
        sd_event *event;
        const char *runtime_dir;
        const char *notify_socket;   /* NULL: none */
        bool journal;                /* children's output to the journal */
} sup_proc_env;

/* extra_args (may be NULL) are appended to the spec's exec; copied. */
int sup_proc_new(const sup_proc_env *env, const sup_spec *spec, char *const *extra_args, sup_proc_handler handler,
                  void *userdata, sup_proc **ret);
/* Frees the child and closes its held socket. A process still there is
 * killed with its group (its cgroup: killed, and waited for a short
 * while so that it can be removed), and not reaped (gensupd is exiting).
 * A spawn in flight is waited for, and its process killed and reaped. */
sup_proc *sup_proc_free(sup_proc *c);

/* Closes and unlinks the socket gensupd holds for a child that is DOWN
 * and will not be started again by its supervisor (terminated by
 * request, a transient child's clean exit): as OTP's name that is gone,
 * a client finds no server at once instead of waiting in the backlog.
 * The next start opens it anew (listen) or is offered to hold it again
 * (a gen_server's own). No-op while a process is there. */
void sup_proc_release_socket(sup_proc *c);

/* Whether gensupd holds a listening socket for the child now. */
bool sup_proc_holds_socket(const sup_proc *c);

/* DOWN -> SPAWNING: the spawner threads (spawner.h) start the process
 * off the loop, once gensupd has booted; else, and for a hot upgrade's
 * successor, DOWN -> STARTING at once. The handler hears SPAWNED (the
 * pid is known) then READY, START_FAILED or IGNORED; or SPAWN_FAILED.
 * Always later from the loop, never from inside this call. A negative
 * return: nothing was started, and the handler hears nothing. */
int sup_proc_start(sup_proc *c);
/* Why the last SPAWN_FAILED start failed: a negative errno. */
int sup_proc_spawn_error(const sup_proc *c);
/* Stops the process as its spec's shutdown says: EXIT{shutdown} on the
 * control socket (SIGTERM for programs without libgensup), SIGKILL to
 * what its kill_mode names at the deadline (its cgroup: cgroup.kill);
 * brutal_kill at once; infinity waits. STARTING children are killed at
 * once. The handler hears EXITED (requested = true) or START_FAILED,
 * with kill_mode "cgroup" only once the cgroup is empty. No-op when
 * DOWN or stopping. */
int sup_proc_stop(sup_proc *c);

/* A READY=1 from NOTIFY_SOCKET by this child's pid. */
void sup_proc_notify_ready(sup_proc *c);

/* Forwards a system request to the child's control socket. The reply
 * (SYS_REPLY or ERROR frame) is handed to done, which owns the frame;
 * -ENOTCONN when the child has no live control socket. */
typedef void (*sup_proc_sys_done)(void *userdata, Gensup__Frame *reply);
int sup_proc_sys(sup_proc *c, const Gensup__SysRequest *req, sup_proc_sys_done done, void *userdata);

/* The same with fd (>= 0) sent along (the caller keeps its own). */
int sup_proc_sys_fd(sup_proc *c, const Gensup__SysRequest *req, int fd, sup_proc_sys_done done, void *userdata);

/* Hot upgrade (upgrade.c). Starts a new process for old's child with
 * spec (its exec may differ), old's listening socket and, in old's
 * cgroup, and sends it handoff_fd; handler hears of it as of any start,
 * waiting once it has started and waits for the handoff.
 * A failure after the start is heard later (START_FAILED). */
typedef void (*sup_proc_waiting)(sup_proc *c, void *userdata);
int sup_proc_successor(const sup_proc *old, const sup_spec *spec, int handoff_fd, sup_proc_handler handler,
                       sup_proc_waiting waiting, void *userdata, sup_proc **ret);
/* c (ready) takes old's place: its socket file, cgroup, spec and handler;
 * old is left with old_handler, and is killed alone. */
void sup_proc_adopt(sup_proc *c, sup_proc *old, sup_proc_handler old_handler, void *old_userdata);
/* Whether spec's program file (exec[0]) is not the file the process
 * started from: replaced, rebuilt (inode, size or mtime differ). */
bool sup_proc_program_changed(const sup_proc *c, const sup_spec *spec);
/* The version its READY declared, or NULL. */
const char *sup_proc_vsn(const sup_proc *c);

sup_proc_state sup_proc_get_state(const sup_proc *c);
/* What its output limit dropped over all its starts. */
const sup_output_counts *sup_proc_output_counts(const sup_proc *c);
pid_t sup_proc_pid(const sup_proc *c);
/* Whether its last exit was asked for by a SYS STOP, and by whom
 * (libgensup's EXIT_REPORT says). */
bool sup_proc_stopped_by(const sup_proc *c, uid_t *ret_uid, pid_t *ret_pid);
const sup_spec *sup_proc_spec(const sup_proc *c);
bool sup_proc_is_ready(const sup_proc *c);
/* The kill_mode in force: the spec's, but process_group for "cgroup"
 * where cgroups are not. */
sup_kill_mode sup_proc_kill_mode(const sup_proc *c);
/* Memory, processes and CPU (since the process started) from the child's
 * cgroup; false when it has none. */
bool sup_proc_usage(const sup_proc *c, sup_cgroup_usage *ret);
/* The same, from figures at most max_age_usec old (cgroup.h). */
bool sup_proc_usage_recent(const sup_proc *c, uint64_t max_age_usec, sup_cgroup_usage *ret);

#endif
