/* events.h: the events that say who changed the tree (events.c), and
 * what gensupd itself costs, for status and gensupctl metrics. */
#ifndef GENSUP_EVENTS_H
#define GENSUP_EVENTS_H

#include <jansson.h>

#include "control.h"
#include "daemon.h"

/* A write request was accepted (start-, terminate-, restart-,
 * delete-child, reload, stop): sends a "requested" event naming the
 * command, its supervisor and child where it has them, and who asked
 * ("by": the uid and pid SO_PEERCRED gave), before the stops and starts
 * it causes. */
void sup_events_request(sup_daemon *d, const sup_control_request *q);

/* Adds gensupd's own rss_bytes and fds to the status document's
 * "gensupd" object (null where /proc does not say). */
void sup_events_self_usage(json_t *daemon);
/* gensupd's VmRSS (/proc/self/status), in bytes, and its open fds
 * (/proc/self/fd); -1 when unknown. Also for SIGUSR2's line. */
long long sup_events_self_rss(void);
long long sup_events_self_fds(void);

#endif
