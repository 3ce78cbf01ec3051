/* reload.h: re-reading the config into the running tree. */
#ifndef GENSUP_RELOAD_H
#define GENSUP_RELOAD_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "tree.h"

/* gensupd's reloads: the one being carried out, and the configs that
 * children of earlier ones may still run on. Start all-zero. */
typedef struct sup_reload_state {
        struct sup_reload_job *job;           /* NULL: none in progress */
        struct sup_reload_retired *retired;
} sup_reload_state;

/* result: {"added": [...], "removed": [...], "changed": [...],
 * "unchanged": N, "failed": [{"name", "reason"}]}, taken by the callee. */
typedef void (*sup_reload_done)(void *userdata, json_t *result);

/* Reads the config file again and brings the tree in line with it, as
 * OTP's supervisor API would by hand: children no longer in the file are
 * terminated and deleted, changed ones are terminated, deleted and started
 * again from their new spec (at the end of their supervisor's start
 * order, as start_child puts them), new ones are started, and unchanged
 * ones keep running untouched. Removals go first, everywhere, so a name
 * that moved is free before it is used again. A nested supervisor whose
 * own flags are unchanged is reloaded child by child; one whose flags
 * changed is restarted as a whole. Children added at run time
 * (start-child) are left alone.
 *
 * Refused, with nothing changed (returns a negative errno and sets
 * *ret_error, one line per problem): a config with errors (FILE:LINE
 * lines), a change to runtime_dir or to the top supervisor's own flags
 * (restart gensupd for those), a reload already in progress (-EBUSY).
 * Otherwise returns 0 and calls done once everything is carried out.
 *
 * config is gensupd's config, replaced by the new one once the reload
 * starts; root points at its running tree, kept by the caller for as long
 * as the reload runs. */
int sup_reload(sup_reload_state *st, sup_config **config, sup_node *const *root, bool stopping,
               sup_reload_done done, void *userdata, char **ret_error);

/* At exit: abandons a reload in progress (before the tree is freed) ... */
void sup_reload_cancel(sup_reload_state *st);
/* ... and frees the configs reloads kept for running children (after). */
void sup_reload_done_all(sup_reload_state *st);

#endif
