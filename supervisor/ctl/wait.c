/* wait.c: `gensupctl stop --wait` (see wait.h). The pid is the socket
 * peer's (SO_PEERCRED), which the kernel gives in our own pid namespace,
 * not the one gensupd may report from inside a container. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>

#include "gensup.pb-c.h"
#include "wait.h"

/* The status in an EVENT frame {"event":"exit","status":N}; -1: none. */
static int exit_status(const ipc_frame *f) {
        if (f->kind != GENSUP__KIND__EVENT || !f->event || !f->event->json)
                return -1;
        json_t *ev = json_loads(f->event->json, 0, NULL);
        const char *kind = json_string_value(json_object_get(ev, "event"));
        json_t *st = json_object_get(ev, "status");
        int status = kind && strcmp(kind, "exit") == 0 && json_is_integer(st) ? (int) json_integer_value(st) : -1;
        json_decref(ev);
        return status;
}

/* Takes every complete frame held; the last exit status among them
 * goes into *status. */
static void take_held(ipc_conn *c, int *status) {
        ipc_frame *f = NULL;
        while (ipc_conn_next(c, &f) > 0) {
                int s = exit_status(f);
                if (s >= 0)
                        *status = s;
                ipc_frame_free(f);
                f = NULL;
        }
}

/* Reads until gensupd closes the connection; the status it told, or -1. */
static int read_until_closed(ipc_conn *c) {
        int status = -1;
        for (;;) {
                take_held(c, &status);
                struct pollfd p = { .fd = ipc_conn_fd(c), .events = POLLIN };
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return status;
                int r = ipc_conn_read(c);
                if (r < 0 && r != -EAGAIN) {
                        take_held(c, &status);
                        return status;
                }
        }
}

int ctl_wait_exit(const ctl_command *cmd, ipc_conn *c) {
        struct ucred cred = { 0 };
        socklen_t len = sizeof(cred);
        int pidfd = -1;
        if (getsockopt(ipc_conn_fd(c), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
                pidfd = (int) syscall(SYS_pidfd_open, cred.pid, 0);
        int status = read_until_closed(c);
        if (pidfd >= 0) {
                /* The socket closes a little before the process is gone. */
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
                close(pidfd);
        }
        if (status < 0) {
                ctl_fail(cmd, "gensupd went away without telling its exit status");
                return EXIT_FAILED;
        }
        return status;
}
