/* call.c: `gensupctl call` and `cast`: the payload from an argument or
 * stdin, a libgensup client to <name>.sock (beside -s's socket, or in the
 * runtime directory), the reply to stdout and one error line otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "gensup.h"
#include "ipc.h"
#include "output.h"

static int read_all(int fd, gs_buf *out) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (out->len + (size_t) n > IPC_DEFAULT_MAX_FRAME)
                        return -EMSGSIZE;
                if (gs_buf_append(out, buf, (size_t) n) < 0)
                        return -ENOMEM;
        }
}

static int write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* What to connect to: with -s the servers' sockets are beside the control
 * socket; else the name, which libgensup finds. The caller frees. */
static char *server_target(const ctl_opts *o, const char *name) {
        if (o->socket && !strchr(name, '/')) {
                const char *slash = strrchr(o->socket, '/');
                return slash ? ctl_strf("%.*s/%s.sock", (int) (slash - o->socket), o->socket, name)
                             : ctl_strf("./%s.sock", name);
        }
        return strdup(name);
}

static int read_payload(const ctl_command *cmd, char **args, size_t n_args, gs_buf *payload) {
        int r;
        if (n_args == 2 && strcmp(args[1], "-") != 0)
                r = gs_buf_set(payload, args[1], strlen(args[1]));
        else
                r = read_all(STDIN_FILENO, payload);
        if (r < 0)
                ctl_fail(cmd, "reading the payload from stdin: %s",
                         r == -EMSGSIZE ? "larger than the frame limit" : strerror(-r));
        return r;
}

static int connect_server(const ctl_command *cmd, const char *name, const char *target, gs_client **ret) {
        int r = gs_client_connect(target, ret);
        if (r >= 0)
                return r;
        bool path = strchr(target, '/') != NULL;
        if (r == -ENOENT || r == -ECONNREFUSED)
                ctl_fail(cmd, "no such server: %s (nothing listens%s%s)", name, path ? " at " : "", path ? target : "");
        else if (r == -EPERM)
                ctl_fail(cmd, "not trusting the socket of %s: its directory, or one above, is not root's or yours "
                              "or is writable by others (see SECURITY in gensupctl(1))", name);
        else
                ctl_fail(cmd, "cannot connect to %s: %s", name, strerror(-r));
        return r;
}

/* The reply of a call on stdout; a tty gets a final newline, to keep the
 * prompt on its own line. */
static int write_reply(const ctl_opts *o, const ctl_command *cmd, const gs_buf *reply) {
        if (reply->len > 0 && write_all(STDOUT_FILENO, reply->data, reply->len) < 0) {
                ctl_fail(cmd, "writing the reply: %s", strerror(errno));
                return EXIT_FAILED;
        }
        if (o->tty && (reply->len == 0 || reply->data[reply->len - 1] != '\n'))
                (void) write_all(STDOUT_FILENO, "\n", 1);
        return EXIT_OK;
}

static void report_error(const ctl_command *cmd, const char *name, gs_client *c, int r, int timeout,
                         const gs_buf *reply) {
        switch (r) {
        case -ETIMEDOUT:
                ctl_fail(cmd, "%s: no reply within %d ms (timeout)", name, timeout);
                break;
        case -ECONNRESET: {
                const char *why = gs_client_exit_reason(c);
                if (why)
                        ctl_fail(cmd, "%s: the server exited: %s", name, why);
                else
                        ctl_fail(cmd,
                                 "%s: the server exited during the call, without an exit report (gensupctl history %s "
                                 "may tell why)",
                                 name, name);
                break;
        }
        case -EREMOTEIO:
                ctl_fail(cmd, "%s: server error: %.*s", name, (int) reply->len, reply->data ? (char *) reply->data : "");
                break;
        case -EMSGSIZE:
                ctl_fail(cmd, "%s: the payload is larger than the frame limit", name);
                break;
        default:
                ctl_fail(cmd, "%s: %s", name, strerror(-r));
                break;
        }
}

int ctl_run_client(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args) {
        const char *name = args[0];
        gs_buf payload = GS_BUF_INIT, reply = GS_BUF_INIT;
        gs_client *c = NULL;
        int status = EXIT_FAILED;

        char *target = server_target(o, name);
        if (!target) {
                ctl_fail(cmd, "out of memory");
                return EXIT_FAILED;
        }
        if (read_payload(cmd, args, n_args, &payload) < 0 || connect_server(cmd, name, target, &c) < 0)
                goto out;

        int timeout = o->timeout_set ? (o->timeout_ms < 0 ? GS_INFINITY : o->timeout_ms) : GS_DEFAULT_TIMEOUT;
        const uint8_t *data = payload.data ? payload.data : (const uint8_t *) "";
        int r;
        if (cmd->route == CTL_ROUTE_CAST) {
                r = gs_cast(c, data, payload.len);
                if (r == 0)
                        r = gs_client_flush(c);
        } else
                r = gs_call(c, data, payload.len, timeout, &reply);
        if (r < 0)
                report_error(cmd, name, c, r, timeout, &reply);
        else
                status = cmd->route == CTL_ROUTE_CALL ? write_reply(o, cmd, &reply) : EXIT_OK;
out:
        gs_client_free(c);
        gs_buf_done(&payload);
        gs_buf_done(&reply);
        free(target);
        return status;
}
