/* spawner.h: children spawned off the event loop, by two threads.
 *
 * sup_spawn() clones with CLONE_VM | CLONE_VFORK, which suspends the
 * calling thread until the child has exec'd: milliseconds on a loaded
 * machine, during which the loop would serve no exit, READY or ctl
 * request. Spawner threads make that call instead (two: while one waits
 * for its child's exec, the other clones the next); the loop hands them
 * requests and hears the results on an eventfd it watches.
 *
 * Ownership: everything a request's params point at (spec, argv, fds,
 * strings) belongs to the request until its result is delivered, or
 * until sup_spawner_cancel() returns: the caller must not free or close
 * any of it before. The threads touch nothing but the queue and
 * sup_spawn()'s own state (each its fd staging slots and child stack):
 * no logging, no sd-event, every signal blocked.
 *
 * The threads live until sup_spawner_close(): a child's PR_SET_PDEATHSIG
 * fires when the thread that cloned it ends, so close only once the tree
 * is gone. */
#ifndef GENSUP_SPAWNER_H
#define GENSUP_SPAWNER_H

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "spawn.h"

typedef struct sup_spawn_req sup_spawn_req;

/* A spawn's result, from the loop: r and step as sup_spawn() gives them
 * (step NULL: prepare failed); p (r >= 0) is the caller's to keep (its
 * control fd too). */
typedef void (*sup_spawner_done)(void *userdata, int r, const sup_process *p, const char *step);

/* Starts the threads and watches their answers on e. Under valgrind it
 * starts none, and spawns stay on the loop. */
int sup_spawner_open(sd_event *e);
/* Stops the threads (after the requests at hand) and drops what is
 * queued unheard. Safe when not open. */
void sup_spawner_close(void);
/* Whether starts are queued (sup_spawner_submit) or made at once through
 * the threads (sup_spawner_run). gensupd boots its tree the second way,
 * as it always did: a boot's starts are in order anyway, and the tree is
 * whole before the first control request is read; then the first. */
void sup_spawner_set_async(bool async);
bool sup_spawner_is_async(void);

/* Fills in the params of a request (from the loop, once the thread has
 * room for it): everything they point at stays the caller's, untouched,
 * until done or sup_spawner_cancel(). A negative errno: done hears it
 * (step NULL), and nothing was spawned. */
typedef int (*sup_spawner_prepare)(void *userdata, sup_spawn_params *ret);

/* Queues a spawn; prepare may be called from inside this call, done is
 * called later from the loop, never from inside it. *ret identifies the
 * request for sup_spawner_cancel() until done is called. */
int sup_spawner_submit(sup_spawner_prepare prepare, sup_spawner_done done, void *userdata, sup_spawn_req **ret);

/* Takes req back: done will not be called, and what prepare lent is the
 * caller's again. Waits for the spawn if the thread has started it.
 * Whether a process was spawned: it is the caller's then (*ret, its
 * control fd too), to kill and reap. */
bool sup_spawner_cancel(sup_spawn_req *req, sup_process *ret);

/* sup_spawn(), synchronously: through the thread when it is open (its
 * staging slots are its alone), else in the calling thread. */
int sup_spawner_run(const sup_spawn_params *p, sup_process *ret, const char **ret_step);

/* For the reaper, which found the zombie pid and knows no watcher for it:
 * delivers the results there are and, if pid may be the child of the
 * spawn at hand (clone returned, result not posted yet), waits for that
 * result first. Whether pid was a spawned child (now watched through its
 * result, or already reaped after a failed exec). */
bool sup_spawner_claim(pid_t pid);

/* Waits for the spawn at hand, if any, and delivers the results there
 * are: for output.c, which read a line from a process whose pid it has
 * not been told (its spawn's result not taken yet). */
void sup_spawner_settle(void);

#endif
