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

/* The path where a gen_server child of spec makes its own socket, which
 * gensupd offers to hold (spec->hold_socket). Caller frees. */
int sup_listen_path(const char *runtime_dir, const sup_spec *spec, char **ret_path);

/* Takes fd, handed over by a child with READY, as the socket gensupd holds
 * for spec from now on, if it is what it should be: a listening Unix
 * stream socket bound at sup_listen_path(). Returns 0 with the path in
 * *ret_path (caller frees), or -errno having closed fd. */
int sup_listen_adopt(int fd, const char *runtime_dir, const sup_spec *spec, char **ret_path);

#endif
