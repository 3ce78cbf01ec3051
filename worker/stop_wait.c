/* stop_wait.c: gs_stop returns once the server is dead, as OTP's
 * gen_server:stop/3 returns once the process is gone. End of file on the
 * stopping connection is not enough: the server closes its connections
 * before it has closed its listening socket and exited. So gs_stop takes
 * a pidfd on the server (the listener SO_PEERCRED named) before it asks
 * it to stop, and waits on it: the pidfd is readable once the process has
 * exited, and by then the kernel has closed every fd it had, its
 * listening socket too. */
#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client-internal.h"

int gs__pidfd_of_peer(const gs_client *c) {
        if (!c || c->peer_pid <= 0)
                return -ESRCH;
        int fd = (int) syscall(SYS_pidfd_open, c->peer_pid, 0);
        return fd < 0 ? -errno : fd;
}

int gs__pidfd_wait(int pidfd, int64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int n = poll(&p, 1, gs__remaining_ms(deadline));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                return n == 0 ? -ETIMEDOUT : 0;
        }
}
