/* ctl.h: what every part of gensupctl shares: its options and exit codes.
 *
 * Map of supervisor/ctl/ (gensupctl, a client of gensupd's control socket
 * that links only ipc/, libgensup's client, the proto and the shared
 * command table ../commands.c; no gensupd object):
 *   main.c    options, the command line, and running one command
 *             (connect, send, wait, print for gensupd; call and cast);
 *   io.c      the wire: connecting, ctl_send_frame, ctl_recv_frame, the answer,
 *             events --follow, and call/cast to a server;
 *   output.c  what people read: tables, key: value blocks, one print_*
 *             per command, JSON, and the error lines on stderr;
 *   logs.c    `logs` lines; health.c whether a status is up (the exit
 *             codes of status and is-ready); wait.c `stop --wait`. */
#ifndef GENSUP_CTL_H
#define GENSUP_CTL_H

#include <stdbool.h>

#include "commands.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

#define CTL_DEFAULT_TIMEOUT_MS 5000

typedef struct ctl_opts {
        bool json;
        const char *socket;     /* -s: the control socket */
        int timeout_ms;         /* < 0: wait forever */
        bool timeout_set;
        bool follow;            /* events --follow, logs -f */
        const char *lines;      /* logs -n N: digits; NULL: every line held */
        bool wait;              /* stop --wait */
        const char *listen;     /* metrics --listen ADDR */
        bool color;             /* stdout is a terminal and NO_COLOR is unset */
        bool tty;               /* stdout is a terminal */
} ctl_opts;

/* "gensupctl: COMMAND: ..." and a newline on stderr (output.c). */
void ctl_fail(const ctl_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
