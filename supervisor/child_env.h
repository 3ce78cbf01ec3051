/* child_env.h: the environment a child starts with. */
#ifndef GENSUP_CHILD_ENV_H
#define GENSUP_CHILD_ENV_H

#include <stdbool.h>

#include "child_cred.h"
#include "spec.h"

/* The PATH of a clean environment, systemd's default. */
#define SUP_CLEAN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Whether the child starts from a clean environment rather than
 * gensupd's own: it runs as a user or group of its own (gensupd's
 * secrets, HOME=/root among them, are not for another user). */
bool sup_child_env_clean(const sup_spec *s);

/* The child's environment, in increasing precedence:
 *   - clean (sup_child_env_clean): PATH=SUP_CLEAN_PATH, and with a user
 *     HOME, USER, LOGNAME and SHELL from its passwd entry, then the
 *     variables named in pass_environment taken from gensupd's;
 *     otherwise: gensupd's environment;
 *   - the spec's environment;
 *   - ours ("KEY=VALUE": GENSUP_CONTROL_FD, LISTEN_FDS, ...), which
 *     nothing overrides; gensupd's own values of those, and of
 *     WATCHDOG_PID and WATCHDOG_USEC, never pass.
 * Returns 0 with *ret a NULL-terminated vector of copies (free with
 * sup_strv_free), or -ENOMEM. */
int sup_child_env(const sup_spec *s, const sup_cred *cred, char *const *ours, char ***ret);

#endif
