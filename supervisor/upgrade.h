/* upgrade.h: hot upgrade of one running worker (gensupctl upgrade, and
 * reload for a child whose only change is its program): gensupd's side
 * of gs_upgrade(3). */
#ifndef GENSUP_UPGRADE_H
#define GENSUP_UPGRADE_H

#include <jansson.h>

#include "tree.h"

/* r < 0 with error (a line), or r == 0 with json (taken). */
typedef void (*sup_upgrade_done)(void *userdata, int r, const char *error, json_t *json);

/* Upgrades e's process in place: a new process (exec, NULL-terminated, or
 * NULL for the spec's own program) takes the listening socket, the state
 * and the client connections of the old one, whose code_change gets extra
 * (NULL: ""). done hears the outcome once: the new process is e's, or the
 * old one runs on and the failure is in e's history (upgrade_failed).
 * -EBUSY (not running, or upgrading), -ENOTCONN (not a gensup server). */
int sup_upgrade_start(sup_entry *e, char *const *exec, const char *extra, sup_upgrade_done done, void *userdata,
                      char **ret_error);
/* Whether e is being upgraded, or any child is (sup_upgrade_any), or an
 * old process that handed over has not yet exited: requests that would
 * stop or forget a child wait for that. */
bool sup_upgrade_busy(const sup_entry *e);
bool sup_upgrade_any(void);

#endif
