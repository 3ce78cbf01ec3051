/* upgrade.c: hot upgrade, gensupd's part (gs_upgrade(3) has the whole).
 *
 *   1. a socketpair: one end goes with SYS UPGRADE to the old process,
 *      which pauses, waits for the replies it owes and writes its state
 *      and connections into it; the other goes to a new process started
 *      beside it (proc.c's sup_proc_successor: the held listening socket,
 *      the old one's cgroup), which builds its state with code_change;
 *   2. the new process READY: it takes the old one's place in the tree
 *      (sup_proc_adopt, sup_entry_adopt), the old one is told COMMIT and
 *      exits {shutdown,upgraded} (history: upgraded);
 *   3. anything else (the old one refuses, the new one fails init or
 *      code_change, crashes or is not ready within its start timeout):
 *      the new one is gone, the old one told ABORT runs on as it was,
 *      and e's history says upgrade_failed with the reason.
 *
 * Calls proc.c and tree.c; nothing calls back into here but through the
 * handlers it gives them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "strv.h"
#include "upgrade.h"

#define UPGRADE_DRAIN_MS 5000   /* for the old process's deferred replies */

typedef struct upgrade {
        sup_entry *e;
        sup_proc *old, *new;
        pid_t old_pid, new_pid;
        sup_spec spec;          /* the entry's, with exec replaced (a shallow copy) */
        char **exec;            /* owned; NULL: the spec's */
        char *old_vsn;
        char *extra;
        sup_upgrade_done done;
        void *userdata;
        int old_end;            /* the handoff socket's end for the old one, until it is asked */
        bool answered_old;      /* the old one's answer to UPGRADE came (or it was never asked) */
        bool old_refused;       /* ... and it was no (it has resumed) */
        bool finished;          /* done was told: freed once the old one answered too */
        char *why;              /* the first failure */
} upgrade;

/* Only one upgrade per child at a time. */
static upgrade *running[64];

static upgrade **slot_of(const sup_entry *e) {
        for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
                if (running[i] && running[i]->e == e)
                        return &running[i];
        return NULL;
}

static upgrade **free_slot(void) {
        for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
                if (!running[i])
                        return &running[i];
        return NULL;
}

/* Old processes that have handed over and not yet exited. */
static unsigned leftovers;

bool sup_upgrade_busy(const sup_entry *e) {
        return e && (slot_of(e) || leftovers > 0);
}

bool sup_upgrade_any(void) {
        for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
                if (running[i])
                        return true;
        return leftovers > 0;
}

static void upgrade_free(upgrade *u) {
        if (u->old_end >= 0)
                close(u->old_end);
        sup_strv_free(u->exec);
        free(u->old_vsn);
        free(u->extra);
        free(u->why);
        free(u);
}

/* The outcome is told; u goes once the old one's answer is in too. */
static void upgrade_finished(upgrade *u) {
        upgrade **slot = slot_of(u->e);
        if (slot && *slot == u)
                *slot = NULL;
        u->finished = true;
        if (u->answered_old)
                upgrade_free(u);
}

static void ignore_answer(void *userdata, Gensup__Frame *f) {
        ipc_frame_free(f);
}

static void tell_old(upgrade *u, Gensup__SysRequest__Op op) {
        Gensup__SysRequest sys = GENSUP__SYS_REQUEST__INIT;
        sys.op = op;
        if (sup_entry_proc(u->e) == u->old)
                (void) sup_proc_sys(u->old, &sys, ignore_answer, NULL);
}

/* The old process after the handoff, and whose it was. */
typedef struct leftover {
        sup_entry *e;
        pid_t pid;
} leftover;

/* The old process, after the handoff: its exit goes into the history,
 * not to the tree. */
static void on_old_exit(sup_proc *p, sup_proc_outcome outcome, const sup_reason *reason, bool requested,
                        void *userdata) {
        leftover *l = userdata;
        sup_entry *e = l->e;
        if (outcome == SUP_PROC_OUTCOME_READY || outcome == SUP_PROC_OUTCOME_SPAWNED)
                return;
        sup_entry_record(e, SUP_EXIT_UPGRADED, l->pid, reason);
        free(l);
        leftovers--;
        char *text = reason ? sup_reason_to_string(reason) : NULL;
        sup_log(LOG_INFO, "%s: old process exited after the upgrade: %s", sup_entry_name(e), text ? text : "normal");
        free(text);
        sup_proc_free(p);
}

static void finish_ok(upgrade *u) {
        const char *vsn = sup_proc_vsn(u->new);
        sup_log(LOG_NOTICE, "%s: upgraded: pid %d (%s) -> pid %d (%s)", sup_entry_name(u->e), (int) u->old_pid,
                u->old_vsn ? u->old_vsn : "no vsn", (int) sup_proc_pid(u->new), vsn ? vsn : "no vsn");
        leftover *l = malloc(sizeof(*l));
        if (!l) {
                /* Without it the old one's exit could not be told apart:
                 * the new one goes, and its exit fails the upgrade. */
                free(u->why);
                u->why = strdup("out of memory");
                (void) sup_proc_stop(u->new);
                return;
        }
        *l = (leftover) { .e = u->e, .pid = u->old_pid };
        leftovers++;
        tell_old(u, GENSUP__SYS_REQUEST__OP__UPGRADE_COMMIT);
        sup_proc_adopt(u->new, u->old, on_old_exit, l);
        sup_entry_adopt(u->e, u->new);
        /* COMMIT ends it. No stop with a deadline on top: a slow exit
         * (terminate, a loaded machine) must not become "killed". If it
         * never goes, PR_SET_PDEATHSIG ends it with gensupd. */
        json_t *j = json_pack("{s:s,s:i,s:i}", "name", sup_entry_name(u->e), "pid", (int) sup_proc_pid(u->new),
                              "old_pid", (int) u->old_pid);
        json_object_set_new(j, "vsn", vsn ? json_string(vsn) : json_null());
        json_object_set_new(j, "old_vsn", u->old_vsn ? json_string(u->old_vsn) : json_null());
        u->done(u->userdata, 0, NULL, j);
        upgrade_finished(u);
}

static void finish_failed(upgrade *u, const sup_reason *reason) {
        char *text = reason ? sup_reason_to_string(reason) : NULL;
        const char *why = u->why ? u->why : text ? text : "failed";
        char line[512];

        if (!u->old_refused && u->old_end < 0)
                tell_old(u, GENSUP__SYS_REQUEST__OP__UPGRADE_ABORT);
        sup_entry_record(u->e, SUP_EXIT_UPGRADE_FAILED, u->new_pid,
                         reason ? reason : &(sup_reason) { .kind = IPC_REASON_ERROR });
        snprintf(line, sizeof(line), "upgrade failed, the old process runs on: %s", why);
        sup_log(LOG_WARNING, "%s: %s", sup_entry_name(u->e), line);
        u->done(u->userdata, -ECANCELED, line, NULL);
        free(text);
        upgrade_finished(u);
}

/* The new process: ready, or its start failed. */
static void on_new(sup_proc *p, sup_proc_outcome outcome, const sup_reason *reason, bool requested,
                   void *userdata) {
        upgrade *u = userdata;
        u->new = p;
        switch (outcome) {
        case SUP_PROC_OUTCOME_READY:
                if (!u->old_refused && sup_entry_proc(u->e) == u->old) {
                        finish_ok(u);
                        return;
                }
                /* Too late: the old one refused or is gone. */
                (void) sup_proc_stop(p);
                return;
        case SUP_PROC_OUTCOME_SPAWNED:
                /* Not heard: a successor is spawned at once (proc.c). */
                return;
        case SUP_PROC_OUTCOME_SPAWN_FAILED:
        case SUP_PROC_OUTCOME_START_FAILED:
        case SUP_PROC_OUTCOME_IGNORED:
        case SUP_PROC_OUTCOME_EXITED:
        case _SUP_PROC_OUTCOME_MAX:
                break;
        }
        u->new = NULL;
        finish_failed(u, reason);
        sup_proc_free(p);
}

/* The old process's answer to UPGRADE: handed off, or refused (it has
 * resumed); the new process then cannot start, and is stopped. */
static void on_old_answer(void *userdata, Gensup__Frame *f) {
        upgrade *u = userdata;
        u->answered_old = true;
        if (u->finished) {
                u->finished = false;
                upgrade_finished(u);
        } else if (!f || f->kind == GENSUP__KIND__ERROR) {
                u->old_refused = true;
                /* The handoff socket broke: the new process went away, and
                 * its own reason is the one to tell. */
                bool new_gone = f && (f->code == ECONNRESET || f->code == EPIPE);
                if (!u->why && !new_gone && asprintf(&u->why, "the old process: %s",
                                        f && f->reason && *f->reason ? f->reason : "went away") < 0)
                        u->why = NULL;
                if (u->new)
                        (void) sup_proc_stop(u->new);
        }
        ipc_frame_free(f);
}

/* The new process is up and waits for the handoff: now the old one is
 * asked, and pauses. */
static void on_new_waiting(sup_proc *p, void *userdata) {
        upgrade *u = userdata;
        if (u->old_end < 0 || u->finished)
                return;
        Gensup__SysRequest sys = GENSUP__SYS_REQUEST__INIT;
        sys.op = GENSUP__SYS_REQUEST__OP__UPGRADE;
        sys.value = UPGRADE_DRAIN_MS;
        sys.reason = u->extra ? u->extra : (char *) "";
        u->answered_old = false;
        int r = sup_proc_sys_fd(u->old, &sys, u->old_end, on_old_answer, u);
        close(u->old_end);
        u->old_end = -1;
        if (r < 0) {
                u->answered_old = u->old_refused = true;
                u->why = strdup(r == -ENOTCONN ? "not a gensup server (no control connection)"
                                               : "the old process cannot be asked");
                (void) sup_proc_stop(p);
        }
}

static int begin(upgrade *u) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        u->old_end = sv[0];
        int r = sup_proc_successor(u->old, &u->spec, sv[1], on_new, on_new_waiting, u, &u->new);
        close(sv[1]);
        if (r >= 0)
                u->new_pid = sup_proc_pid(u->new);
        /* From here on every outcome comes through on_new. */
        return r;
}

int sup_upgrade_start(sup_entry *e, char *const *exec, const char *extra, sup_upgrade_done done, void *userdata,
                      char **ret_error) {
        sup_proc *old = sup_entry_proc(e);
        upgrade **slot = free_slot();

        if (!old)
                return *ret_error = strdup("not a worker"), -EOPNOTSUPP;
        if (sup_proc_get_state(old) != SUP_PROC_RUNNING || slot_of(e))
                return *ret_error = strdup("not running, or upgrading already"), -EBUSY;
        if (!slot)
                return *ret_error = strdup("too many upgrades at once"), -EBUSY;
        upgrade *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *u = (upgrade) { .e = e, .old = old, .old_pid = sup_proc_pid(old), .spec = *sup_entry_spec(e),
                         .done = done, .userdata = userdata, .old_end = -1, .answered_old = true };
        if ((extra && *extra && !(u->extra = strdup(extra))) || (exec && exec[0] && !(u->exec = sup_strv_copy(exec)))) {
                upgrade_free(u);
                return -ENOMEM;
        }
        if (u->exec)
                u->spec.exec = u->exec;
        if (sup_proc_vsn(old))
                u->old_vsn = strdup(sup_proc_vsn(old));
        *slot = u;
        int r = begin(u);
        if (r < 0) {
                /* No new process at all (exec failed): in the history too. */
                sup_reason why = { .kind = IPC_REASON_ERROR };
                char *text = NULL;
                if (asprintf(&text, "{error,%s}", strerror(-r)) >= 0)
                        (void) sup_reason_parse(text, &why);
                free(text);
                sup_entry_record(e, SUP_EXIT_UPGRADE_FAILED, 0, &why);
                sup_reason_done(&why);
                sup_log(LOG_WARNING, "%s: upgrade failed, the old process runs on: %s", sup_entry_name(e),
                        strerror(-r));
                *slot = NULL;
                upgrade_free(u);
        }
        return r;
}
