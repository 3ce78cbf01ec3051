/* queue-internal.h: a server's message queue length (queue.c), for the
 * statistics system request. Not installed. */
#ifndef GENSUP_QUEUE_INTERNAL_H
#define GENSUP_QUEUE_INTERNAL_H

#include <stdint.h>

#include "gensup.h"

#ifndef GS__HIDDEN
#define GS__HIDDEN __attribute__((visibility("hidden")))
#endif

/* What OTP's message_queue_len means, for a server whose mailbox is its
 * connections: *ret_frames is the frames received and not handled yet
 * (held while suspended, or read and waiting for their turn), on every
 * connection, the control one included. *ret_socket_bytes is what waits
 * unread in the connections' socket buffers (SIOCINQ), whose frames the
 * server cannot count without reading them. Both are taken at the time
 * of the call; it reads nothing. */
GS__HIDDEN void gs__queue_length(const gs_server *s, uint64_t *ret_frames, uint64_t *ret_socket_bytes);

#endif
