/* daemon.h: gensupd's state as a whole: the loop, the config, the tree,
 * and the control socket that gensupctl talks to. */
#ifndef GENSUP_DAEMON_H
#define GENSUP_DAEMON_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "notify.h"
#include "reload.h"
#include "tree.h"
#include "version.h"

#include <jansson.h>

#include "control.h"

typedef struct sup_daemon {
        sd_event *event;
        sup_config *config;
        char *runtime_dir;
        sup_notify *notify;
        sup_tree_env tree_env;
        sup_node *root;
        sup_control *control;
        bool stopping;
        int exit_status;
        uint64_t started_usec;   /* CLOCK_MONOTONIC */
        sup_reload_state reload;
} sup_daemon;

/* A tree event, for gensupctl events --follow. */
void sup_daemon_event(sup_daemon *d, const char *kind, const sup_entry *e, const char *reason);
/* Reloads the config (reload.c), then brings control_group up to date,
 * logs the outcome and calls done (which may be NULL). */
int sup_daemon_reload(sup_daemon *d, void (*done)(void *userdata, json_t *result), void *userdata,
                      char **ret_error);
/* Stops the tree in order (SIGTERM, gensupctl stop): tells systemd, and
 * the tree's supervisors stop their children. */
void sup_daemon_stop(sup_daemon *d);
/* Frees everything (after the loop ended). */
void sup_daemon_done(sup_daemon *d);

#endif
