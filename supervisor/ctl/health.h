/* health.h: whether what a status answer describes is up (health.c),
 * for the exit codes of `status` and `is-ready`. */
#ifndef GENSUP_CTL_HEALTH_H
#define GENSUP_CTL_HEALTH_H

#include <stdbool.h>

#include <jansson.h>

#include "ctl.h"

/* LSB's "program is not running", as supervisorctl and systemctl use it. */
#define EXIT_NOT_RUNNING 3

/* A status answer (the whole tree with "gensupd" and "tree", or one
 * child or supervisor) is up when gensupd is not stopping, the child
 * asked about runs (a worker: and is ready; without must_run, a child
 * that is not meant to run counts as up too), and under it every child
 * runs but those that are not meant to ("stopped": terminated on
 * request, a transient or temporary one that ended); none is starting,
 * restarting or stopping. The first that is not: its name and state in
 * *ret_name and *ret_state (borrowed from doc; either may be NULL). */
bool ctl_status_up(json_t *doc, bool must_run, const char **ret_name, const char **ret_state);

#endif
