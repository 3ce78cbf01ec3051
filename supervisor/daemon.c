/* daemon.c: gensupd's state as a whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "output.h"
#include "reaper.h"
#include "status.h"
#include "upgrade.h"

void sup_daemon_event(sup_daemon *d, const char *kind, const sup_entry *e, const char *reason) {
        if (d->control)
                sup_control_event(d->control, sup_status_event(kind, e, reason));
}

typedef struct reload_call {
        sup_daemon *d;
        void (*done)(void *userdata, json_t *result);
        void *userdata;
} reload_call;

static void on_reloaded(void *userdata, json_t *result) {
        reload_call *c = userdata;
        sup_daemon *d = c->d;

        if (d->control)
                sup_control_set_group(d->control, d->config->control_group);
        char *text = json_dumps(result, JSON_COMPACT);
        sup_log(LOG_INFO, "reloaded %s: %s", d->config->path, text ? text : "");
        free(text);
        sup_daemon_event(d, "reloaded", NULL, NULL);
        if (c->done)
                c->done(c->userdata, result);
        else
                json_decref(result);
        free(c);
}

int sup_daemon_reload(sup_daemon *d, void (*done)(void *userdata, json_t *result), void *userdata,
                      char **ret_error) {
        if (sup_upgrade_any()) {
                /* A reload could stop or forget the child being upgraded. */
                *ret_error = strdup("an upgrade is under way; reload once it is over");
                sup_log(LOG_ERR, "reload of %s refused, nothing changed: %s", d->config->path,
                        *ret_error ? *ret_error : "an upgrade is under way");
                return -EBUSY;
        }
        reload_call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (reload_call) { .d = d, .done = done, .userdata = userdata };
        int r = sup_reload(&d->reload, &d->config, &d->root, d->stopping, on_reloaded, c, ret_error);
        if (r < 0) {
                sup_log(LOG_ERR, "reload of %s refused, nothing changed: %s", d->config->path,
                        *ret_error ? *ret_error : strerror(-r));
                free(c);
        }
        return r;
}

void sup_daemon_stop(sup_daemon *d) {
        d->stopping = true;
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
        sup_tree_stop(d->root);
}

void sup_daemon_done(sup_daemon *d) {
        /* gensupctl stop --wait hears the status gensupd exits with. */
        if (d->control)
                sup_control_goodbye(d->control, d->exit_status);
        d->control = sup_control_free(d->control);
        sup_reload_cancel(&d->reload);
        d->root = sup_tree_free(d->root);
        sup_reload_done_all(&d->reload);
        d->notify = sup_notify_free(d->notify);
        sup_output_close_all();
        sup_reaper_close();
        d->event = sd_event_unref(d->event);
        d->config = sup_config_free(d->config);
        free(d->runtime_dir);
        d->runtime_dir = NULL;
}
