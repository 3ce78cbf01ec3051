/* notify.c: sd_notify(3)'s protocol, without libsystemd: one datagram
 * with the state to $NOTIFY_SOCKET, an absolute path or, with a leading
 * '@', an abstract name. The variable is left as it is. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int gs__notify_addr(const char *path, struct sockaddr_un *ret, socklen_t *ret_len) {
        size_t len = path ? strlen(path) : 0;

        if (len < 2 || (path[0] != '/' && path[0] != '@'))
                return -EAFNOSUPPORT;
        if (len >= sizeof(ret->sun_path))
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        memcpy(ret->sun_path, path, len);
        if (path[0] == '@')
                ret->sun_path[0] = '\0';
        /* An abstract name is exactly its bytes; a path ends with its NUL. */
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
        return 0;
}

int gs__notify(const char *state) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa;
        socklen_t sa_len;

        if (!state || !*state)
                return -EINVAL;
        if (!path)
                return 0;
        int r = gs__notify_addr(path, &sa, &sa_len);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sa, sa_len);
        r = n < 0 ? -errno : 1;
        close(fd);
        return r;
}
