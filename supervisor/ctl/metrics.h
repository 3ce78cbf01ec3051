/* metrics.h: `gensupctl metrics` (metrics.c): the tree's figures in the
 * Prometheus text format (0.0.4), for a scrape or a file. */
#ifndef GENSUP_CTL_METRICS_H
#define GENSUP_CTL_METRICS_H

#include <stdio.h>

#include "ctl.h"

/* Asks gensupd for status, and every running worker for statistics (each
 * answer bounded by the timeout: --timeout, else 1000 ms), and writes the
 * metrics to out. 0, or -errno after saying why on stderr. */
int ctl_metrics_write(const ctl_opts *o, FILE *out);
/* The command: ctl_metrics_write to stdout, or with --listen the scrape
 * endpoint (metrics_http.c). An exit status. */
int ctl_metrics_run(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args);

#endif
