/* daemon.c: gensupd's state as a whole. */
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "output.h"
#include "status.h"

int sup_daemon_control_open(sup_daemon *d) {
        return sup_control_open(d, &d->control);
}

void sup_daemon_event(sup_daemon *d, const char *kind, const sup_entry *e, const char *reason) {
        if (d->control)
                sup_control_event(d->control, sup_status_event(kind, e, reason));
}

void sup_daemon_done(sup_daemon *d) {
        d->control = sup_control_free(d->control);
        d->root = sup_tree_free(d->root);
        d->notify = sup_notify_free(d->notify);
        sup_output_close_all();
        d->event = sd_event_unref(d->event);
        d->config = sup_config_free(d->config);
        free(d->runtime_dir);
        d->runtime_dir = NULL;
}
