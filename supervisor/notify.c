/* notify.c: a NOTIFY_SOCKET for children, as systemd offers one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"
#include "notify.h"

#define DATAGRAM_MAX 4096

#define RETRY_USEC (100u * 1000u)

struct sup_notify {
        sd_event_source *source;
        sd_event_source *retry;   /* receiving failed: it waits for this timer */
        int fd;
        char *path;
        sup_notify_handler handler;
        void *userdata;
};

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        sup_notify *n = userdata;
        n->retry = sd_event_source_disable_unref(n->retry);
        (void) sd_event_source_set_enabled(n->source, SD_EVENT_ON);
        return 0;
}

/* A failure other than "nothing left" (out of memory, say) leaves the
 * datagram queued and the socket readable: trying again at once would be
 * a busy loop, so receiving waits a little. */
static void pause_receiving(sup_notify *n) {
        (void) sd_event_source_set_enabled(n->source, SD_EVENT_OFF);
        if (!n->retry && sd_event_add_time_relative(sd_event_source_get_event(n->source), &n->retry, CLOCK_MONOTONIC,
                                                    RETRY_USEC, 0, on_retry, n) < 0)
                (void) sd_event_source_set_enabled(n->source, SD_EVENT_ON);
}

static int on_datagram(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        sup_notify *n = userdata;

        /* A bounded number per wakeup: the source is level-triggered. */
        for (int turn = 0; turn < 64; turn++) {
                char buf[DATAGRAM_MAX + 1];
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = DATAGRAM_MAX };
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
                };
                ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                pause_receiving(n);
                        return 0;
                }
                pid_t pid = 0;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                        if (cm->cmsg_level != SOL_SOCKET)
                                continue;
                        if (cm->cmsg_type == SCM_CREDENTIALS) {
                                struct ucred uc;
                                memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
                                pid = uc.pid;
                        } else if (cm->cmsg_type == SCM_RIGHTS) {
                                /* FDSTORE is not ours to keep: close what came. */
                                size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                int *fds = (int *) CMSG_DATA(cm);
                                for (size_t i = 0; i < k; i++)
                                        close(fds[i]);
                        }
                }
                if (pid <= 0 || (size_t) len > DATAGRAM_MAX)
                        continue;
                buf[len] = '\0';

                bool ready = false;
                const char *status = NULL;
                for (char *line = buf, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        if (strcmp(line, "READY=1") == 0)
                                ready = true;
                        else if (strncmp(line, "STATUS=", 7) == 0)
                                status = line + 7;
                }
                n->handler(n->userdata, pid, ready, status);
        }
        return 0;
}

int sup_notify_open(sd_event *e, const char *path, sup_notify_handler handler, void *userdata, sup_notify **ret) {
        int one = 1, r;

        sup_notify *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->handler = handler;
        n->userdata = userdata;
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (n->fd < 0) {
                r = -errno;
                goto fail;
        }
        (void) unlink(path);
        /* Children may run as other users; senders are told apart by pid.
         * The mode is set at bind, never by a chmod that follows links. */
        r = ipc_bind(n->fd, path, &(ipc_sock_perm) { 0666, (uid_t) -1, (gid_t) -1 });
        if (r < 0)
                goto fail;
        if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                r = -errno;
                goto fail;
        }
        n->path = strdup(path);
        if (!n->path) {
                r = -ENOMEM;
                goto fail;
        }
        r = sd_event_add_io(e, &n->source, n->fd, EPOLLIN, on_datagram, n);
        if (r < 0)
                goto fail;
        *ret = n;
        return 0;
fail:
        sup_notify_free(n);
        return r;
}

sup_notify *sup_notify_free(sup_notify *n) {
        if (!n)
                return NULL;
        sd_event_source_disable_unref(n->source);
        sd_event_source_disable_unref(n->retry);
        if (n->fd >= 0)
                close(n->fd);
        if (n->path)
                (void) unlink(n->path);
        free(n->path);
        free(n);
        return NULL;
}

const char *sup_notify_path(const sup_notify *n) {
        return n->path;
}
