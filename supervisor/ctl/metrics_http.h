/* metrics_http.h: the optional scrape endpoint of `gensupctl metrics
 * --listen` (metrics_http.c), served by libmicrohttpd. */
#ifndef GENSUP_CTL_METRICS_HTTP_H
#define GENSUP_CTL_METRICS_HTTP_H

#include "ctl.h"

/* Serves GET /metrics on addr until SIGINT, SIGTERM or SIGHUP: each
 * scrape asks gensupd afresh (ctl_metrics_write). addr is unix:PATH (a
 * new socket, mode 0600: its user and root may scrape) or HOST:PORT with
 * HOST 127.0.0.1, ::1 or localhost (every local user may scrape). An
 * exit status. */
int ctl_metrics_serve(const ctl_opts *o, const char *addr);

#endif
