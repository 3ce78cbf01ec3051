/* logs.h: what `gensupctl logs` prints (logs.c): a child's lines as
 * "TIME STREAM[PID]: text", gensupd's marks (a start, an exit) as
 * "TIME -- started, pid N --", or JSON Lines with --json. */
#ifndef GENSUP_CTL_LOGS_H
#define GENSUP_CTL_LOGS_H

#include <jansson.h>

#include "ctl.h"

/* One line (a JSON object from gensupd's ring). */
void ctl_print_log_line(const ctl_opts *o, json_t *line);
/* Every line of a `logs` answer, each as ctl_print_log_line. */
void ctl_print_logs(const ctl_opts *o, json_t *doc);

#endif
