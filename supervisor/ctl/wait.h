/* wait.h: `gensupctl stop --wait` (wait.c): after gensupd answered the
 * stop, wait until it has exited and return its exit status. */
#ifndef GENSUP_CTL_WAIT_H
#define GENSUP_CTL_WAIT_H

#include "ctl.h"
#include "ipc.h"

/* Reads c (the connection the stop went on) until gensupd tells its exit
 * status and closes it, then waits for the process itself to be gone
 * (a pidfd on the socket's peer). Returns gensupd's exit status, or
 * EXIT_FAILED when it went without telling (killed, say). */
int ctl_wait_exit(const ctl_command *cmd, ipc_conn *c);

#endif
