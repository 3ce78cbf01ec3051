/* call.h: gensupctl's `call` and `cast` (call.c), straight to a server
 * through libgensup's client API: gensupd is not on the data path. */
#ifndef GENSUP_CTL_CALL_H
#define GENSUP_CTL_CALL_H

#include <stddef.h>

#include "ctl.h"

/* args[0] names the server (or its socket path), args[1] (if any) is the
 * payload, else standard input. Returns an exit status. */
int ctl_run_client(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args);

#endif
