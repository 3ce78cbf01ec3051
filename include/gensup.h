/* gensup.h: the gen_server behaviour for C processes, and its clients.
 *
 * A gensup server is its own OS process. It is written as a set of
 * callbacks (gs_server_ops), as an Erlang gen_server is a callback module,
 * and run by gs_server_main(). Clients reach it over a Unix socket with
 * gs_call() (request and reply, with a timeout) and gs_cast() (one way).
 *
 * Conventions: every fallible function returns an int, >= 0 on success and
 * a negative errno value on failure. Output parameters are named ret_* and
 * are set only on success. Destructors accept NULL and return NULL.
 *
 * gensup(3) is the overview; each group below has its own man page. */
#ifndef GENSUP_H
#define GENSUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Buffers: gs_buf(3) */

/* A growable byte buffer. A reply is written into one; received replies
 * are read out of one. Zero-initialise it ({0} or GS_BUF_INIT) before use
 * and release it with gs_buf_done(). */
typedef struct gs_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
} gs_buf;

#define GS_BUF_INIT { NULL, 0, 0 }

/* Frees the contents; the buffer is empty and reusable afterwards. */
void gs_buf_done(gs_buf *b);
/* Sets the length to 0, keeping the memory. */
void gs_buf_clear(gs_buf *b);
/* Appends len bytes. Returns 0 or -ENOMEM. */
int gs_buf_append(gs_buf *b, const void *data, size_t len);
/* Replaces the contents with len bytes. Returns 0 or -ENOMEM. */
int gs_buf_set(gs_buf *b, const void *data, size_t len);
/* Appends printf-formatted text. Returns 0, -EINVAL or -ENOMEM.
 * Every gs_buf function keeps a NUL after the data (not counted in len),
 * so text in a gs_buf is a C string. */
int gs_buf_printf(gs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the contents with the packed form of a protobuf-c message.
 * Returns 0 or -ENOMEM. */
int gs_buf_pack(gs_buf *b, const ProtobufCMessage *msg);

/* ------------------------------------------------------------------ */
/* Exit reasons: gs_reason(3)
 *
 * Exit reasons are text, spelled the same everywhere (logs, gensupctl,
 * JSON): "normal", "shutdown", "{shutdown,Text}", "{error,Text}",
 * "{exit_status,N}", "{signal,SIGSEGV}", "{signal,SIGSEGV,core_dumped}",
 * "killed", "{init_failed,Text}", "start_timeout".
 *
 * A server gives its stop reason as one of the first four. Any other text T
 * is taken as "{error,T}". */

/* Writes the canonical spelling of reason into ret (a buffer the caller
 * frees with gs_buf_done): "normal", "shutdown", "{shutdown,...}" and
 * "{error,...}" are kept; anything else becomes "{error,reason}"; NULL or
 * "" becomes "normal". Returns 0 or -ENOMEM. */
int gs_reason_normalize(const char *reason, gs_buf *ret);
/* True for "normal", "shutdown" and "{shutdown,...}": the reasons OTP
 * treats as an expected end (no error report, a transient child is not
 * restarted). */
bool gs_reason_is_clean(const char *reason);

/* ------------------------------------------------------------------ */
/* Servers: gs_server(3) */

typedef struct gs_server gs_server;

/* A message as the server receives it. The bytes are valid only during the
 * callback that receives them. */
typedef struct gs_msg {
        const uint8_t *data;
        size_t len;
} gs_msg;

/* Identifies the caller of a CALL, for a reply given later with gs_reply().
 * Copy it by value; it stays valid until it is answered or its client
 * disconnects (gs_reply() then returns -ENOTCONN). */
typedef struct gs_from {
        uint64_t conn;   /* connection serial number, never reused */
        uint64_t ref;    /* the caller's request id */
} gs_from;

typedef enum gs_ret_kind {
        GS_RET_OK,        /* init: {ok,State}; cast/info/continue: {noreply,State} */
        GS_RET_REPLY,     /* handle_call: {reply,Reply,State}; the reply is in *reply */
        GS_RET_NOREPLY,   /* handle_call: {noreply,State}; answer later with gs_reply() */
        GS_RET_STOP,      /* {stop,Reason,State}; from handle_call with reply_too set:
                           * {stop,Reason,Reply,State} (terminate runs first) */
        GS_RET_IGNORE,    /* init only: ignore */
        _GS_RET_KIND_MAX,
} gs_ret_kind;

typedef enum gs_action {
        GS_ACTION_NONE,
        GS_ACTION_TIMEOUT,     /* handle_info(GS_INFO_TIMEOUT) after timeout_ms unless a message comes first */
        GS_ACTION_HIBERNATE,   /* give memory back (malloc_trim) and wait */
        GS_ACTION_CONTINUE,    /* call handle_continue(cont) before reading any new message */
        _GS_ACTION_MAX,
} gs_action;

/* What every callback returns. Build it with the gs_ret_* helpers below,
 * and add an action with gs_with_*(). */
typedef struct gs_ret {
        gs_ret_kind kind;
        gs_action action;
        uint64_t timeout_ms;    /* GS_ACTION_TIMEOUT */
        void *cont;             /* GS_ACTION_CONTINUE: handed to handle_continue */
        const char *reason;     /* GS_RET_STOP: copied by the library when the callback returns */
        bool reply_too;         /* GS_RET_STOP from handle_call: send *reply after terminate */
        bool reply_error;       /* GS_RET_REPLY: *reply is error text; the caller's gs_call
                                 * returns -EREMOTEIO with it (OTP's {reply,{error,R},S}) */
} gs_ret;

static inline gs_ret gs_ret_ok(void) { return (gs_ret) { .kind = GS_RET_OK }; }
static inline gs_ret gs_ret_noreply(void) { return (gs_ret) { .kind = GS_RET_NOREPLY }; }
static inline gs_ret gs_ret_reply(void) { return (gs_ret) { .kind = GS_RET_REPLY }; }
/* handle_call: answer with an error; the text is in *reply. */
static inline gs_ret gs_ret_reply_error(void) { return (gs_ret) { .kind = GS_RET_REPLY, .reply_error = true }; }
static inline gs_ret gs_ret_ignore(void) { return (gs_ret) { .kind = GS_RET_IGNORE }; }
static inline gs_ret gs_ret_stop(const char *reason) {
        return (gs_ret) { .kind = GS_RET_STOP, .reason = reason };
}
static inline gs_ret gs_ret_stop_reply(const char *reason) {
        return (gs_ret) { .kind = GS_RET_STOP, .reason = reason, .reply_too = true };
}
static inline gs_ret gs_with_timeout(gs_ret r, uint64_t ms) {
        r.action = GS_ACTION_TIMEOUT;
        r.timeout_ms = ms;
        return r;
}
static inline gs_ret gs_with_hibernate(gs_ret r) {
        r.action = GS_ACTION_HIBERNATE;
        return r;
}
static inline gs_ret gs_with_continue(gs_ret r, void *cont) {
        r.action = GS_ACTION_CONTINUE;
        r.cont = cont;
        return r;
}

typedef enum gs_info_kind {
        GS_INFO_TIMEOUT,   /* the timeout of a GS_ACTION_TIMEOUT ran out */
        GS_INFO_TIMER,     /* a timer set with gs_send_after() fired; token is its token */
        GS_INFO_FD,        /* an fd added with gs_add_fd() is ready; fd, revents, token */
        GS_INFO_MSG,       /* an INFO frame from a client; msg */
        _GS_INFO_KIND_MAX,
} gs_info_kind;

typedef struct gs_info {
        gs_info_kind kind;
        uint64_t token;
        int fd;
        uint32_t revents;   /* EPOLLIN, EPOLLOUT, ... */
        gs_msg msg;
} gs_info;

/* The callbacks, as a gen_server callback module. init and handle_call
 * must be there; the others behave as in OTP when missing: a cast with no
 * handle_cast stops the server with {error,undef_handle_cast} (OTP's
 * undef), no handle_info drops the message (counted in statistics, the
 * first one noted on stderr), no handle_continue makes a continue action
 * stop the server with {error,undef_handle_continue}, no terminate does
 * nothing, no format_status shows "<state>".
 *
 * The state is the void * that init stores in *ret_state; the callbacks
 * change it in place. */
typedef struct gs_server_ops {
        /* argc/argv are the program's arguments after the library's own
         * options (see gs_server_main). Return ok (optionally with an
         * action), stop(reason) or ignore. */
        gs_ret (*init)(gs_server *s, int argc, char **argv, void **ret_state);
        /* Write the reply into *reply (empty on entry) and return reply;
         * or return noreply and answer later with gs_reply(s, from, ...). */
        gs_ret (*handle_call)(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply);
        gs_ret (*handle_cast)(gs_server *s, void *state, const gs_msg *req);
        gs_ret (*handle_info)(gs_server *s, void *state, const gs_info *info);
        gs_ret (*handle_continue)(gs_server *s, void *state, void *cont);
        /* Runs after a stop result, and on a shutdown from the supervisor
         * when the server traps exits. reason is the exit reason. */
        void (*terminate)(gs_server *s, void *state, const char *reason);
        /* Describe the state as text for gensupctl get-state and crash
         * reports. Return 0, or a negative errno (the status then reads
         * "format_status crashed"). */
        int (*format_status)(gs_server *s, void *state, gs_buf *out);
        /* Hot upgrade (gs_upgrade(3)), both optional. The old version
         * writes its state as bytes (any encoding); return 0 or a negative
         * errno (the upgrade then fails and the server runs on). Missing:
         * no bytes. */
        int (*export_state)(gs_server *s, void *state, gs_buf *out);
        /* The new version builds its state from the old one's bytes, in
         * init's place (init does not run): store it in *ret_state and
         * return ok (optionally with an action), or stop(reason) to refuse
         * (the old version then runs on). extra is from gensupctl upgrade
         * --extra or the config ("" if none). Missing: upgrades to this
         * program are refused. */
        gs_ret (*code_change)(gs_server *s, const char *old_vsn, const gs_msg *old_state, const char *extra,
                              void **ret_state);
        /* Describe the last message as text for a crash report (as
         * format_status does the state: keep secrets out here). Return 0
         * or a negative errno ("format_message crashed"). If missing, the
         * report shows its first 64 bytes, escaped. */
        int (*format_message)(gs_server *s, void *state, const gs_msg *msg, gs_buf *out);
} gs_server_ops;

/* Zero-initialised, every field has its default. */
typedef struct gs_server_options {
        const char *name;            /* the server's name; default: GENSUP_NAME, else argv[0]'s basename */
        const char *socket_path;     /* standalone: listen here; default <runtime_dir>/<name>.sock */
        bool no_trap_exit;           /* on a shutdown from the supervisor, exit at once without
                                      * terminate (default false: terminate runs, as for a
                                      * gen_server that traps exits) */
        uint64_t hibernate_after_ms; /* hibernate after this long idle; 0 = never (default) */
        size_t max_frame;            /* largest frame accepted; 0 = 16 MiB */
        bool trace;                  /* log each message in and out to stderr from the start */
        /* Limits (gensup(3) SECURITY); 0 means the default. "Trusted" peers
         * are root, the server's own uid and gensupd. */
        size_t max_connections;      /* client connections; default RLIMIT_NOFILE's soft limit - 32 */
        size_t reserved_connections; /* of those, kept for trusted peers; default max_connections / 8,
                                      * at most 64 */
        size_t max_connections_per_uid; /* per untrusted uid; default max_connections / 4 */
        int64_t frame_timeout_ms;    /* a frame begun must be whole within; default 10000, < 0: none */
        int64_t idle_timeout_ms;     /* an untrusted peer's idle connection is closed after;
                                      * default 600000, < 0: never */
        size_t max_input;            /* input bytes buffered in all; default 256 MiB */
        const char *vsn;             /* the server's version, shown by gensupctl status and handed to
                                      * the next version's code_change; default none ("") */
} gs_server_options;

/* Runs a server: the whole life of the process. Parses the library's own
 * options from argv and hands the rest to init:
 *   --socket PATH        listen on PATH (standalone mode)
 *   --socket-mode MODE   its file mode, octal (default 0660)
 *   --socket-user USER   its owner (default: the process's)
 *   --socket-group GROUP its group (default: the process's)
 *   --name NAME          the server's name
 *   --trace              trace messages from the start
 *   --hibernate-after MS hibernate after MS idle
 *   --no-trap-exit       on a shutdown, exit without running terminate
 *   --max-connections N, --reserved-connections N,
 *   --max-connections-per-uid N, --frame-timeout MS (0: none),
 *   --idle-timeout MS (0: never), --max-input BYTES
 *                        the limits of gs_server_options
 *   --vsn VSN            the server's version (gs_upgrade(3))
 *   --                   end of library options
 * Under gensupd (GENSUP_CONTROL_FD set) it talks to the supervisor on the
 * control fd and listens on the socket passed with LISTEN_FDS; otherwise it
 * listens on its own socket. Returns the process exit status: 0 for
 * normal, shutdown and {shutdown,_}, 1 otherwise; main() returns it. */
int gs_server_main(const gs_server_ops *ops, int argc, char **argv);
/* The same with explicit options; argv options still override them. */
int gs_server_main_with(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv);

/* The version the server declared (vsn option, --vsn), or "". */
const char *gs_server_vsn(const gs_server *s);
/* Standalone hot upgrade (gs_upgrade(3)): starts argv (argv[0] found on
 * PATH) as this server's successor and hands it the listening socket,
 * the state (export_state) and every client connection; the successor's
 * code_change gets extra. Returns 0 once begun: this process then exits
 * with {shutdown,upgraded} when the successor is ready, or, if anything
 * fails, runs on as it was (the reason on stderr). -EBUSY (suspended,
 * stopping, upgrading), -EOPNOTSUPP under gensupd (use gensupctl
 * upgrade), or another negative errno. */
int gs_server_upgrade(gs_server *s, char *const argv[], const char *extra);

/* Becomes a gen_server in a process that did its own setup (OTP's
 * gen_server:enter_loop): init is not called (ops->init may be NULL), the
 * state is the one given, and action (gs_ret_ok(), or with a gs_with_*
 * action) is applied as init's would be. argv holds the library's options
 * as for gs_server_main; other arguments are left to the program. Sends
 * READY as after init, listens, supervises, runs, and returns the process
 * exit status as gs_server_main does (1 with a line on stderr if ops or
 * action is not valid). */
int gs_enter_loop(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv, void *state,
                  gs_ret action);

/* Answers a call that handle_call left with noreply. Returns 0, -ENOTCONN
 * if the client went away, -ENOENT if from was already answered. */
int gs_reply(gs_server *s, const gs_from *from, const void *data, size_t len);
/* Answers such a call with an error: the caller's gs_call returns
 * -EREMOTEIO with text in its reply buffer. Returns as gs_reply. */
int gs_reply_error(gs_server *s, const gs_from *from, const char *text);
/* The same with a protobuf-c message as the reply. */
int gs_reply_msg(gs_server *s, const gs_from *from, const ProtobufCMessage *msg);

/* Delivers handle_info(GS_INFO_TIMER, token) after ms milliseconds.
 * Returns a timer id (> 0) or a negative errno. */
int64_t gs_send_after(gs_server *s, uint64_t ms, uint64_t token);
/* Cancels a timer. Returns 0, or -ENOENT if it already fired. */
int gs_cancel_timer(gs_server *s, int64_t timer_id);
/* Watches fd (not owned) for events (EPOLLIN, EPOLLOUT, ...) and delivers
 * handle_info(GS_INFO_FD) while it is ready. Returns 0, -EEXIST. */
int gs_add_fd(gs_server *s, int fd, uint32_t events, uint64_t token);
/* Changes the events watched on fd. Returns 0 or -ENOENT. */
int gs_modify_fd(gs_server *s, int fd, uint32_t events);
/* Stops watching fd. Returns 0 or -ENOENT. */
int gs_remove_fd(gs_server *s, int fd);
/* An sd-event loop run inside the server's own loop, for anything else a
 * server wants to watch with sd-event(3). libgensup does not link
 * libsystemd: the first call loads libsystemd.so.0 and makes the loop (a
 * program that calls sd-event links -lsystemd itself). Returns NULL if
 * libsystemd cannot be loaded. Owned by the server, freed with it: do not
 * exit or unref it. */
#ifndef foosdeventhfoo
typedef struct sd_event sd_event;
#endif
sd_event *gs_server_event(gs_server *s);
/* The server's name. */
const char *gs_server_name(const gs_server *s);

/* ------------------------------------------------------------------ */
/* Clients: gs_client(3), gs_call(3) */

typedef struct gs_client gs_client;

#define GS_DEFAULT_TIMEOUT 5000   /* milliseconds, as gen_server:call */
#define GS_INFINITY (-1)          /* timeout_ms: wait forever */

/* Connects to a server by name (its socket <runtime_dir>/<name>.sock) or
 * by path (anything containing a '/'). The runtime directory is
 * $GENSUP_RUNTIME_DIR, else /run/gensup for root, else
 * $XDG_RUNTIME_DIR/gensup. One connection serves any number of calls, one
 * thread at a time. Returns 0, -ENOENT (no such server: nothing listens
 * there), or another negative errno. */
int gs_client_connect(const char *name_or_path, gs_client **ret);
/* Closes the connection. Abandons outstanding requests. */
gs_client *gs_client_free(gs_client *c);
/* The exit reason the server sent before it went away, or NULL. Valid
 * after a function returned -ECONNRESET. */
const char *gs_client_exit_reason(const gs_client *c);
/* The connection's fd, for poll(2) (readable when a response may be in).
 * Only the library reads and writes it; it may switch the fd to blocking
 * mode (its own reads and writes never depend on O_NONBLOCK). */
int gs_client_fd(const gs_client *c);
/* With cork on, casts and asynchronous requests collect in the client's
 * buffer and go out together when 64 KiB have collected, on
 * gs_client_flush(), on uncork, with the next call, or when waiting for
 * any response. Turning cork off flushes. */
int gs_client_cork(gs_client *c, bool on);
/* Writes everything buffered, waiting for room if the server is slow.
 * Returns 0, -ECONNRESET. */
int gs_client_flush(gs_client *c);
/* Casts, infos and asynchronous requests are batched by default: each is
 * copied into the client's buffer and gs_cast() returns; the batch is
 * written with one system call when GS_BATCH_DEFAULT bytes have
 * collected, and in any case (see gs_call(3), BATCHING) before the client
 * waits for anything (a call, a response), on the next turn of the loop
 * of a gen_server running in the same thread, on gs_client_flush(),
 * gs_client_flush_all() and gs_client_free(), and at exit(3). Order is
 * always kept. gs_client_set_batch sets the threshold in bytes; 0 writes
 * every message at once, as before batching. Returns 0, or as
 * gs_client_flush when what collected had to be written. */
#define GS_BATCH_DEFAULT (64u * 1024u)
int gs_client_set_batch(gs_client *c, size_t bytes);
/* Writes what every uncorked client of the calling thread has batched,
 * waiting for room: the "loop turn" of a program that has its own event
 * loop. Returns 0 or the first failure. */
int gs_client_flush_all(void);
/* Large payloads in sealed memfds (gensup-protocol(7), LARGE PAYLOADS):
 * tells the server that this client takes them, and that payloads of at
 * least min_bytes should travel so both ways (0: it takes them but asks
 * for none). Requests go so once the server has answered that it takes
 * them too; with an older server everything stays inline. Off by
 * default: where allocating memory is dear (a VM), copying through the
 * socket is faster (bench/README.md). Returns 0 or -errno. */
int gs_client_set_memfd(gs_client *c, size_t min_bytes);

/* Calls the server and waits up to timeout_ms (GS_INFINITY: forever) for
 * its reply, which replaces the contents of *reply. Returns 0, or:
 *   -ETIMEDOUT   no reply in time (a late reply is dropped, never taken
 *                for another call's);
 *   -ECONNRESET  the server exited during the call (gs_client_exit_reason()
 *                tells why when it said so);
 *   -EDEADLK     the server is this very process (calling_self);
 *   -EREMOTEIO   the server answered with an error (text in *reply);
 *   -EMSGSIZE    the request is larger than the frame limit. */
int gs_call(gs_client *c, const void *req, size_t len, int timeout_ms, gs_buf *reply);
/* Sends a message to handle_cast and returns without waiting for the
 * server. Returns 0 once the frame is on its way: in the client's batch
 * (which leaves as gs_client_set_batch says), or in the kernel's socket
 * buffer; when the server is slow and the socket buffer is full,
 * it waits for room, so a fast producer is slowed to the server's pace
 * rather than queueing without bound. -ECONNRESET if the server is gone. */
int gs_cast(gs_client *c, const void *msg, size_t len);
/* Sends a message to handle_info. As gs_cast. */
int gs_send_info(gs_client *c, const void *msg, size_t len);

/* Typed helpers: requests and replies as the user's own protobuf-c
 * messages. gs_call_msg unpacks the reply with reply_desc into *ret_reply,
 * which the caller frees with protobuf_c_message_free_unpacked(*ret_reply,
 * NULL). An unpack failure is -EBADMSG. */
int gs_call_msg(gs_client *c, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
                int timeout_ms, ProtobufCMessage **ret_reply);
int gs_cast_msg(gs_client *c, const ProtobufCMessage *msg);
/* Unpacks a received message; free as above. NULL on malformed bytes. */
ProtobufCMessage *gs_msg_unpack(const gs_msg *m, const ProtobufCMessageDescriptor *desc);

/* ------------------------------------------------------------------ */
/* Asynchronous requests: gs_send_request(3)
 *
 * As gen_server:send_request and friends (OTP 23-25). */

typedef uint64_t gs_reqid;

/* Sends a call and returns at once with its id. Like a cast, it waits for
 * room when the socket buffer is full, and is batched as casts are
 * (gs_call(3), BATCHING): it leaves at the latest when any response is
 * waited for. */
int gs_send_request(gs_client *c, const void *req, size_t len, gs_reqid *ret_id);
/* Waits up to timeout_ms for the reply to id. Returns 0 with the reply in
 * *reply, -ETIMEDOUT (the request stays valid: wait again), -ECONNRESET,
 * -EREMOTEIO, or -ENOENT (no such outstanding request). */
int gs_wait_response(gs_client *c, gs_reqid id, int timeout_ms, gs_buf *reply);
/* As gs_wait_response, but a timeout abandons the request: its reply, if
 * it comes, is dropped. */
int gs_receive_response(gs_client *c, gs_reqid id, int timeout_ms, gs_buf *reply);
/* Looks without waiting: reads what has arrived and returns 0 with the
 * reply if it is in, -EAGAIN (no_reply) if not, or an error as above. */
int gs_check_response(gs_client *c, gs_reqid id, gs_buf *reply);

/* A collection of outstanding requests, each with a label (OTP 25's
 * reqids_*). Requests may be on different clients; responses come in
 * completion order. */
typedef struct gs_reqids gs_reqids;

int gs_reqids_new(gs_reqids **ret);
/* Abandons every request still in the collection. */
gs_reqids *gs_reqids_free(gs_reqids *r);
/* Adds a request already sent on c. -EEXIST if id is already in. */
int gs_reqids_add(gs_reqids *r, gs_client *c, gs_reqid id, void *label);
/* gs_send_request and gs_reqids_add in one. */
int gs_send_request_to(gs_reqids *r, gs_client *c, const void *req, size_t len, void *label);
size_t gs_reqids_size(const gs_reqids *r);
/* Waits up to timeout_ms for any response in the collection. Returns 0 (a
 * reply, in *reply) or a negative errno describing that request's failure
 * (-ECONNRESET, -EREMOTEIO), with *ret_label set in both cases; -ECHILD
 * when the collection is empty (no_request); -ETIMEDOUT when nothing came
 * (every request stays in). With delete the answered request leaves the
 * collection; without, it stays (and will not answer again). */
int gs_reqids_wait(gs_reqids *r, int timeout_ms, bool delete, gs_buf *reply, void **ret_label);
/* As gs_reqids_wait, but a timeout abandons every request in the
 * collection and empties it. */
int gs_reqids_receive(gs_reqids *r, int timeout_ms, bool delete, gs_buf *reply, void **ret_label);
/* Without waiting: -EAGAIN (no_reply) if nothing has come. */
int gs_reqids_check(gs_reqids *r, bool delete, gs_buf *reply, void **ret_label);

/* ------------------------------------------------------------------ */
/* Several servers, and stopping: gs_multi_call(3) */

typedef struct gs_multi_result {
        const char *name;   /* the server, as given */
        int status;         /* 0 with reply set; -ETIMEDOUT: did not answer in time;
                             * -ENOENT: no such server; -ECONNRESET: it exited */
        gs_buf reply;
} gs_multi_result;

/* Calls every named server in parallel with the same request and waits at
 * most timeout_ms in all. results must hold n entries; free each reply
 * with gs_buf_done. Returns the number that answered. */
int gs_multi_call(const char *const *names, size_t n, const void *req, size_t len, int timeout_ms,
                  gs_multi_result *results);
/* Stops a server as gen_server:stop/3: it runs terminate(reason) and
 * exits. Waits up to timeout_ms for it to be gone. Returns 0, -ENOENT (no
 * such server), -ETIMEDOUT. reason as gs_ret_stop (NULL: normal). */
int gs_stop(const char *name_or_path, const char *reason, int timeout_ms);

/* ------------------------------------------------------------------ */
/* System requests: gs_sys(3), as OTP's sys module */

typedef struct gs_statistics {
        uint64_t calls, casts, infos, replies;
        uint64_t uptime_ms;
        uint64_t cpu_us;
        uint64_t rss_bytes;
        uint64_t connections;
        bool suspended;
        bool trace;
        /* Limits hit since the start (gensup(3) SECURITY). */
        uint64_t refused_connections;   /* max_connections or reserved slots */
        uint64_t refused_uid_quota;     /* max_connections_per_uid */
        uint64_t frame_timeouts;        /* closed: a frame not complete in time */
        uint64_t idle_closed;           /* closed: idle too long */
        uint64_t input_closed;          /* closed: over the input budget */
        uint64_t sys_refused;           /* system requests refused */
        uint64_t max_connections;       /* the limit in force */
} gs_statistics;

/* The server's format_status text, into *out. Works while suspended. */
int gs_sys_get_state(gs_client *c, int timeout_ms, gs_buf *out);
int gs_sys_statistics(gs_client *c, int timeout_ms, gs_statistics *ret);
/* A suspended server answers only system requests; calls wait. */
int gs_sys_suspend(gs_client *c, int timeout_ms);
int gs_sys_resume(gs_client *c, int timeout_ms);
/* Trace every message in and out on the server's stderr. */
int gs_sys_trace(gs_client *c, bool on, int timeout_ms);
/* Give memory back now (malloc_trim). */
int gs_sys_hibernate(gs_client *c, int timeout_ms);
/* Hibernate after ms idle; 0 turns it off. */
int gs_sys_hibernate_after(gs_client *c, uint64_t ms, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Where things are: gs_runtime_dir(3) */

/* The runtime directory, as described at gs_client_connect. The caller
 * frees *ret. Returns 0, -ENOENT (no way to tell), -ENOMEM. */
int gs_runtime_dir(char **ret);

#ifdef __cplusplus
}
#endif

#endif
