/* notify.h: what libgensup took from sd-daemon(3), in its own files:
 * notify.c (sd_notify) and listen_fds.c (sd_listen_fds). Not installed. */
#ifndef GENSUP_NOTIFY_H
#define GENSUP_NOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#define GS__NOTIFY_HIDDEN __attribute__((visibility("hidden")))

#define GS__LISTEN_FDS_START 3   /* SD_LISTEN_FDS_START */

/* Sends state ("READY=1", ...) to $NOTIFY_SOCKET. Returns 1 when sent, 0
 * when the variable is not set, or -errno (-EAFNOSUPPORT: not a path or
 * an abstract "@" name). */
GS__NOTIFY_HIDDEN int gs__notify(const char *state);
/* $NOTIFY_SOCKET's value as an address. */
GS__NOTIFY_HIDDEN int gs__notify_addr(const char *path, struct sockaddr_un *ret, socklen_t *ret_len);
/* The number of fds passed from GS__LISTEN_FDS_START on (0: none, or
 * not for this process), or -errno; unset_environment drops LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES in any case. */
GS__NOTIFY_HIDDEN int gs__listen_fds(bool unset_environment);

#endif
