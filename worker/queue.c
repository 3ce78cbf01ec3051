/* queue.c: a server's message queue length (queue-internal.h). Called
 * from sys_server.c only; reads the connections' state, changes none. */
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "queue-internal.h"
#include "server-internal.h"

/* Complete frames in bytes read and not yet taken. The buffer was checked
 * as it came (a bad prefix closes the connection), so a prefix that does
 * not scan here ends the count rather than being an error. */
static uint64_t buffered_frames(const gs__conn *c) {
        size_t len = 0, header;
        const uint8_t *p = ipc_conn_unread(c->ipc, &len);
        uint64_t n = 0;

        while (p && len > 0) {
                int64_t wire = ipc_frame_scan(p, len, SIZE_MAX, &header);
                if (wire <= 0 || (uint64_t) wire > len)
                        break;
                p += wire;
                len -= (size_t) wire;
                n++;
        }
        return n;
}

static uint64_t socket_bytes(const gs__conn *c) {
        int n = 0;

        if (ioctl(ipc_conn_fd(c->ipc), SIOCINQ, &n) < 0 || n < 0)
                return 0;
        return (uint64_t) n;
}

void gs__queue_length(const gs_server *s, uint64_t *ret_frames, uint64_t *ret_socket_bytes) {
        uint64_t frames = 0, bytes = 0;

        for (const gs__conn *c = s->conns; c; c = c->next) {
                frames += c->n_held - c->held_start;
                frames += buffered_frames(c);
                bytes += socket_bytes(c);
        }
        *ret_frames = frames;
        *ret_socket_bytes = bytes;
}
