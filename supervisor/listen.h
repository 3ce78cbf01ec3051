/* listen.h: the listening sockets gensupd holds for its children
 * (listen = true), kept open across restarts and passed to each new
 * instance with LISTEN_FDS. */
#ifndef GENSUP_LISTEN_H
#define GENSUP_LISTEN_H

#include "spec.h"

/* Binds and listens on <runtime_dir>/<spec's name>.sock, as the spec's
 * socket keys say. Returns the fd (CLOEXEC, non-blocking) and the path in
 * *ret_path (caller frees), or -errno. */
int sup_listen_open(const char *runtime_dir, const sup_spec *spec, char **ret_path);

#endif
