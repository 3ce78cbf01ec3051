/* sup.h: driving a real gensupd in integration tests: write a config,
 * start the daemon with its log in a file, ask its control socket
 * (raw CTL frames, JSON answers parsed with jansson), wait for children
 * to reach a state, and read the lines children append to a log file.
 *
 * Everything lives in it_tmpdir() (the daemon's runtime directory too,
 * through GENSUP_RUNTIME_DIR). The daemon is started with it_spawn, so it
 * dies with the test process (PDEATHSIG) and is killed at exit; its
 * children die with it (their own PDEATHSIG). Waits poll with a deadline;
 * none is an assertion about time. */
#ifndef GENSUP_IT_SUP_H
#define GENSUP_IT_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "it.h"

/* One gensupd process. */
typedef struct gsd {
        pid_t pid;          /* 0 once reaped (gsd_wait_exit) */
        char *config;       /* the config file */
        char *log;          /* its stderr: one line per message or report */
        char *control;      /* <runtime dir>/control.sock */
} gsd;

/* printf into <it_tmpdir()>/<name>; returns the path (caller frees). */
char *gsd_write_file(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes <it_tmpdir()>/<file>: a config of n /bin/sleep children named
 * <prefix>0 .. <prefix>n-1 under root (intensity 100000 in 1 s), then the
 * children text extra (may be ""). Returns the path (caller frees). */
char *gsd_sleepers_conf(const char *file, int n, const char *prefix, const char *extra);

/* Starts GS_BUILD_DIR/bin/gensupd -c config --log-stderr, stderr to
 * <tmp>/gensupd.log, and waits until its control socket answers a
 * status request (the boot is over then: the loop runs). 0 or -errno. */
int gsd_start(const char *config, gsd **ret);
/* The same, with environment changes and fds for it_spawn, and the
 * control socket at control (NULL: <runtime dir>/control.sock). */
int gsd_start_with(const char *config, const char *control, char *const env[], const it_fd *fds, size_t n_fds,
                   gsd **ret);
/* Kills (SIGKILL) and reaps the daemon if still there, frees. NULL ok. */
gsd *gsd_free(gsd *d);
/* At the end of a test: asserts that no sanitizer reported into the
 * daemon's log (SANITIZE=... builds), then gsd_free. NULL ok. */
gsd *gsd_finish(gsd *d);
/* Asserts that the file's lines, joined with "|", are expected. */
void gsd_assert_lines(const char *path, const char *expected);
/* Waits for the daemon to exit; 0 with its wait status, or -ETIMEDOUT. */
int gsd_wait_exit(gsd *d, int timeout_ms, int *ret_status);
/* Sends a signal to the daemon. */
void gsd_signal(gsd *d, int sig);

/* One control request: command and its arguments (args NULL-terminated,
 * may be NULL). Returns the reply's code (0 ok, else a positive errno)
 * with *ret_json (the parsed document, may be NULL) and *ret_error (the
 * error text, caller frees; may be NULL), or -errno when no answer came. */
int gsd_ctl(gsd *d, const char *command, const char *const *args, json_t **ret_json, char **ret_error);

/* The answer to ref read from c, a control connection of the test's own
 * (it_connect): it must be a successful CTL_REPLY of whole JSON, which
 * the caller frees. */
json_t *gsd_recv_json(ipc_conn *c, uint64_t ref);

/* The "tree" of `status` (a new reference), or NULL. */
json_t *gsd_tree(gsd *d);
/* The node named name in a tree (borrowed), searching children
 * recursively; NULL when absent. */
json_t *gsd_find(json_t *tree, const char *name);
/* A fresh status of the child (a new reference), or NULL when absent. */
json_t *gsd_child(gsd *d, const char *name);
/* Whether gensupd gives children cgroups; prints "SUITE: TEST skipped"
 * and why when it does not. */
bool gsd_has_cgroups(gsd *d, const char *suite, const char *test);
/* A string field of a JSON object, or NULL. */
const char *gsd_str(json_t *obj, const char *key);
/* An integer field, or -1 when absent or null. */
long long gsd_int(json_t *obj, const char *key);
/* The child's pid, 0 when it has none or is absent. */
pid_t gsd_pid(gsd *d, const char *name);
/* Waits until the child's state is state (NULL: until it is absent from
 * the tree). 0 or -ETIMEDOUT. */
int gsd_wait_state(gsd *d, const char *name, const char *state, int timeout_ms);
/* Waits until the child runs with a pid other than old; returns that pid,
 * or -ETIMEDOUT. */
pid_t gsd_wait_new_pid(gsd *d, const char *name, pid_t old, int timeout_ms);
/* The `history NAME` exits (a new reference to the "exits" array). */
json_t *gsd_history(gsd *d, const char *name);
/* How many exits in the history have this context (NULL: any) and this
 * reason (NULL: any). */
size_t gsd_history_count(gsd *d, const char *name, const char *context, const char *reason);
/* Waits until gsd_history_count(...) >= n. 0 or -ETIMEDOUT. */
int gsd_wait_history(gsd *d, const char *name, const char *context, const char *reason, size_t n, int timeout_ms);

/* The daemon's log so far (caller frees; "" if none). */
char *gsd_log_text(gsd *d);
/* Waits until the daemon's log contains text. 0 or -ETIMEDOUT. */
int gsd_wait_log(gsd *d, const char *text, int timeout_ms);
/* How many times needle occurs in the daemon's log. */
size_t gsd_log_count(gsd *d, const char *needle);

/* ---- talking to a gensup server child ---- */

/* Connects to <tmp>/<name>.sock, sends the call text and waits for an
 * answer, EOF or timeout; returns the reply text (caller frees), or NULL
 * when none came (a crash or stop call). */
char *gsd_call(const char *name, const char *text, int timeout_ms);

/* ---- children that log what happens to them ---- */

/* The exec list (libconfig syntax, without brackets) of a shell child that
 * appends "start NAME" to log, tells gensupd it is ready over
 * NOTIFY_SOCKET (so the next child starts only after the line is there),
 * appends "stop NAME" and exits 0 on SIGTERM. Use with ready = "notify".
 * It leaves no process behind when killed. Caller frees. */
char *gsd_sh_child(const char *name, const char *log);
/* Whether gsd_sh_child children can tell gensupd they are ready here. */
bool gsd_can_notify(void);
/* A shell command that tells gensupd (ready = "notify") the shell is
 * ready: put it after the traps and whatever else must be in place
 * before gensupd may count the child as running. Needs gsd_can_notify. */
#define GSD_NOTIFY_READY "/bin/systemd-notify --pid=$$ --ready"

/* Lines of a file (a NULL-terminated vector, caller frees with
 * gsd_lines_free); an empty vector if the file is missing. */
char **gsd_lines(const char *path);
void gsd_lines_free(char **lines);
size_t gsd_lines_count(char *const *lines);
/* The lines joined with "|" (caller frees): handy in assertions. */
char *gsd_lines_join(char *const *lines);
/* Waits until the file has at least n lines. 0 or -ETIMEDOUT. */
int gsd_wait_lines(const char *path, size_t n, int timeout_ms);

/* Whether a process is still there (a zombie counts as gone). */
bool gsd_pid_alive(pid_t pid);

#endif
