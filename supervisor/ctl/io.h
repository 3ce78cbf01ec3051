/* io.h: gensupctl's side of the control socket (io.c): one CTL frame out,
 * frames in, each step bounded by a deadline. Every function that fails
 * has already said why on stderr (ctl_fail). */
#ifndef GENSUP_CTL_IO_H
#define GENSUP_CTL_IO_H

#include <stdint.h>

#include <jansson.h>

#include "ctl.h"
#include "ipc.h"

/* CLOCK_MONOTONIC milliseconds timeout_ms from now; -1 (none) when
 * timeout_ms < 0. */
int64_t ctl_deadline(int timeout_ms);

/* Queues f and writes it out, waiting until deadline (ctl_deadline) if
 * the socket is full: 0, -ETIMEDOUT or another -errno. */
int ctl_send_frame(ipc_conn *c, const ipc_frame *f, int64_t deadline);
/* The next frame, read and waited for until deadline: 0 with *ret (the
 * caller frees it), -ETIMEDOUT, -ECONNRESET (EOF), -EBADMSG, -EMSGSIZE or
 * another -errno. Nothing printed. */
int ctl_recv_frame(ipc_conn *c, int64_t deadline, ipc_frame **ret);

/* Connects to gensupd's control socket: -s, else control.sock in the
 * runtime directory. 0 with *ret, or -errno. */
int ctl_daemon_connect(const ctl_opts *o, const ctl_command *cmd, ipc_conn **ret);
/* Sends cmd with its arguments as one CTL frame. timeout_ms (< 0: none)
 * is passed on to gensupd, and bounds the send with deadline. 0 or
 * -errno. */
int ctl_daemon_send(ipc_conn *c, const ctl_command *cmd, char **args, size_t n_args, int timeout_ms,
                    int64_t deadline);
/* Waits for the CTL_REPLY: 0 with the parsed JSON document (the caller
 * decrefs), or -errno after the refusal or failure was printed. */
int ctl_daemon_wait(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline, json_t **ret_doc);
/* The same, without parsing: 0 with the CTL_REPLY frame of a success (the
 * caller frees it; ctl_reply->json is gensupd's document as it sent it). */
int ctl_daemon_wait_frame(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline,
                          ipc_frame **ret_frame);
/* Waits for gensupd's answer and prints its JSON as it came (--json,
 * ctl_json_as_sent); with ret_doc, parses it too (for an exit status
 * that depends on it). EXIT_OK or EXIT_FAILED. */
int ctl_daemon_print_as_sent(ipc_conn *c, const ctl_command *cmd, int timeout_ms, int64_t deadline, json_t **ret_doc);
/* events --follow: prints EVENT frames until the user interrupts (SIGINT,
 * SIGTERM, SIGHUP: EXIT_OK) or gensupd closes the connection
 * (EXIT_FAILED). */
int ctl_follow_events(const ctl_opts *o, const ctl_command *cmd, ipc_conn *c);

#endif
