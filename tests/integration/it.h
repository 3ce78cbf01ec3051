/* it.h: small helpers for integration tests: a temporary runtime
 * directory, processes started with arguments and environment (and fds),
 * waiting for a socket, killing and reaping, and gensup frames on a raw
 * ipc connection.
 *
 * Every process started here gets PR_SET_PDEATHSIG(SIGKILL) and is killed
 * and reaped at exit of the test process (atexit), and the temporary
 * directory is removed then, so a failing test leaves nothing behind. */
#ifndef GENSUP_IT_H
#define GENSUP_IT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"

/* How long helpers wait for things that must happen. Generous: on a busy
 * machine (make stress-check, CI runners shared by many jobs) a chain of
 * restarts can take many times what it takes on an idle one, and only a
 * real failure waits the whole time. */
#define IT_WAIT_MS 30000

/* CLOCK_MONOTONIC in ms, for the deadline of a bounded wait. */
int64_t it_now_ms(void);
/* Sleeps ms (through EINTR): the pause between two polls of a bounded
 * wait, never a wait in itself. */
void it_nap_ms(long ms);
/* n, or under_valgrind when the programs run under GS_TEST_WRAPPER
 * (make valgrind-check): how much of something a test does. */
int it_scaled(int n, int under_valgrind);

/* Creates a fresh temporary directory, sets GENSUP_RUNTIME_DIR to it (so
 * children inherit it) and returns it; removed at exit. One per process:
 * a second call returns the same directory. */
const char *it_tmpdir(void);
/* printf into a new string (aborts on ENOMEM). The caller may free it, or
 * leave it: the helper keeps a pointer to every string, so one left until
 * the test process ends is not reported as a leak. */
char *it_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* <it_tmpdir()>/<name>, as it_strf. */
char *it_path(const char *name);
/* GS_BUILD_DIR/examples/<prog>, as it_strf. */
char *it_example(const char *prog);
/* A copy of the program at path that every user can run: in a fresh
 * mkdtemp directory with mode 0755 (the checkout may sit in a directory
 * other users cannot enter, as /root is), removed at exit. Returns the
 * copy's path (as it_strf); aborts on failure. */
char *it_public_copy(const char *path);

/* An fd to give a child: src in the parent becomes dst in the child. */
typedef struct it_fd {
        int src, dst;
} it_fd;

/* Starts argv[0] (a path) with argv. env: NULL or a NULL-terminated list
 * of "NAME=VALUE" to set and "-NAME" to unset in the child; "@PID@" in a
 * value becomes the child's pid (for LISTEN_PID). fds: n pairs moved to
 * fixed numbers in the child (left open across exec). stdout and stderr
 * stay the test's unless stderr_path is set (then appended there).
 * Returns the pid or -errno. */
pid_t it_spawn(char *const argv[], char *const env[], const it_fd *fds, size_t n_fds, const char *stderr_path);
/* Waits until something accepts connections on path. 0 or -ETIMEDOUT. */
int it_wait_socket(const char *path, int timeout_ms);
/* it_spawn, then it_wait_socket(socket_path). Returns the pid or -errno
 * (the child is killed if its socket did not appear). */
pid_t it_start_server(const char *socket_path, char *const argv[], char *const env[]);
/* Waits up to timeout_ms for pid to exit and reaps it. Returns 0 with the
 * wait status in *ret_status, or -ETIMEDOUT (still running). */
int it_wait_exit(pid_t pid, int timeout_ms, int *ret_status);
/* True if the wait status is a normal exit with code. */
bool it_exited_with(int status, int code);
/* SIGKILL and reap (no-op for pids already reaped). */
void it_kill(pid_t pid);

/* Reads a whole file into a NUL-terminated string (caller frees), or NULL. */
char *it_read_file(const char *path);
/* Waits until the file contains text. 0 or -ETIMEDOUT. */
int it_wait_file_contains(const char *path, const char *text, int timeout_ms);

/* ---- frames ---- */

/* Connects to a Unix socket. NULL on failure. */
ipc_conn *it_connect(const char *path);
/* Queues and writes a frame, waiting for room. 0 or -errno. */
int it_send(ipc_conn *c, const ipc_frame *f);
/* Sends raw bytes (garbage) as they are. 0 or -errno. */
int it_send_raw(ipc_conn *c, const void *data, size_t len);
/* Waits up to timeout_ms for the next frame. Returns 0 with *ret (free
 * with ipc_frame_free), -ECONNRESET on EOF, -ETIMEDOUT, -EBADMSG. */
int it_recv(ipc_conn *c, int timeout_ms, ipc_frame **ret);
/* CALL/CAST/INFO with a text payload. */
int it_send_call(ipc_conn *c, uint64_t ref, const char *text);
int it_send_cast(ipc_conn *c, const char *text);
int it_send_info(ipc_conn *c, const char *text);
/* CTL{ref, command, args} (args NULL-terminated, or NULL). */
int it_send_ctl(ipc_conn *c, uint64_t ref, const char *command, const char *const *args);
/* SYS{ref, op, flag, value, reason}. */
int it_send_sys(ipc_conn *c, uint64_t ref, Gensup__SysRequest__Op op, bool flag, uint64_t value, const char *reason);
/* Sends CALL text and waits for the next frame (REPLY, ERROR or
 * EXIT_REPORT); as it_recv. */
int it_call(ipc_conn *c, const char *text, int timeout_ms, ipc_frame **ret);
/* it_call expecting a REPLY: returns its payload as a string (caller
 * frees), or NULL for anything else. */
char *it_call_text(ipc_conn *c, const char *text);
/* The payload of a frame as a new NUL-terminated string. */
char *it_payload(const ipc_frame *f);

#endif
