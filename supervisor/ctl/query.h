/* query.h: gensupctl asking gensupd on its own behalf (query.c), for
 * the commands made of other commands (metrics, top): one request, or
 * many at once on one connection, each answer bounded by a timeout so
 * that a slow server holds up nothing but its own answer. */
#ifndef GENSUP_CTL_QUERY_H
#define GENSUP_CTL_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "ctl.h"
#include "ipc.h"

/* Asks command (a row of the command table) for each of the n names
 * (one argument each; n may be 0 with names NULL for one request without
 * arguments), at most window at a time. gensupd gives each request
 * timeout_ms; the whole waits at most twice that beyond the last send.
 * ret_docs[i] is the answer's JSON or NULL (refused, failed, no answer:
 * nothing printed). 0, or -errno when the connection failed (said on
 * stderr). */
int ctl_query_many(ipc_conn *c, const ctl_command *command, char *const *names, size_t n, int timeout_ms,
                   json_t **ret_docs);

#endif
