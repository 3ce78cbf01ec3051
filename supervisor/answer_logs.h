/* answer_logs.h: `gensupctl logs` on gensupd's side (answer_logs.c): a
 * child's ring (logring.h) as JSON, and its new lines to the clients
 * that follow them. */
#ifndef GENSUP_ANSWER_LOGS_H
#define GENSUP_ANSWER_LOGS_H

#include <jansson.h>

#include "control.h"
#include "daemon.h"

/* logs NAME [N] [--follow]: {"name", "lines": [the last N lines, or all
 * held; each as sup_logline_json], "kept", "max_lines", "max_bytes"}.
 * 0 with *ret_json, or -errno with *ret_error. */
int sup_answer_logs(sup_daemon *d, const sup_control_request *q, json_t **ret_json, char **ret_error);
/* Sends every new line of every ring to d's followers (control.c). */
void sup_answer_logs_listen(sup_daemon *d);

#endif
