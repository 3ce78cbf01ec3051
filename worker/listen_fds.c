/* listen_fds.c: sd_listen_fds(3)'s protocol, without libsystemd: the fds
 * from 3 on that $LISTEN_FDS counts, when $LISTEN_PID is this process.
 * They are made close-on-exec, as sd_listen_fds does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "notify.h"

static int parse_int(const char *e, long max, long *ret) {
        char *end;

        if (!e || !*e)
                return -EINVAL;
        errno = 0;
        long v = strtol(e, &end, 10);
        if (errno || *end || v < 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int take(void) {
        long pid, n;

        if (!getenv("LISTEN_PID"))
                return 0;
        if (parse_int(getenv("LISTEN_PID"), INT_MAX, &pid) < 0)
                return -EINVAL;
        if ((pid_t) pid != getpid() || !getenv("LISTEN_FDS"))
                return 0;
        if (parse_int(getenv("LISTEN_FDS"), INT_MAX - GS__LISTEN_FDS_START, &n) < 0)
                return -EINVAL;
        for (int fd = GS__LISTEN_FDS_START; fd < GS__LISTEN_FDS_START + (int) n; fd++) {
                int fl = fcntl(fd, F_GETFD);
                if (fl < 0)
                        return -errno;
                if (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
                        return -errno;
        }
        return (int) n;
}

int gs__listen_fds(bool unset_environment) {
        int r = take();

        if (unset_environment) {
                (void) unsetenv("LISTEN_PID");
                (void) unsetenv("LISTEN_FDS");
                (void) unsetenv("LISTEN_FDNAMES");
        }
        return r;
}
