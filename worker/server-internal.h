/* server-internal.h: the insides of the gen_server behaviour. Calls go
 * one way, top to bottom, never back:
 *
 *   enter_loop.c       gs_enter_loop: the life without init
 *   server_main.c      the process's life: setup, init, run, teardown
 *   orphan.c           what gensupd's death does to a server that traps exits
 *   server_dispatch.c  routes what the connections hand up
 *   sys_server.c       system requests
 *   server.c           callbacks and results, stop, suspend, timers, fds
 *   crash_report.c     OTP's crash report, the handler for crash signals
 *   server_conn.c      connections: reading, fairness, writing
 *   trace.c            trace lines on stderr
 *   sd_bridge.c        gs_server_event: an sd-event loop inside ours
 *
 * Beneath them all: loop.h (loop.c, loop_source.c, loop_heap.c), the
 * event loop, and notify.h (notify.c, listen_fds.c), sd-daemon's two
 * protocols; none of them knows a server.
 *
 * server_conn.c hands frames up only through s->dispatch. Not installed. */
#ifndef GENSUP_SERVER_INTERNAL_H
#define GENSUP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal.h>
#include <sys/types.h>

#include "loop.h"
#include "notify.h"

#include "gensup.h"
#include "ipc.h"

/* libgensup.sym exports gs_*, which would match gs__* too. */
#define GS__HIDDEN __attribute__((visibility("hidden")))

/* Limits: everything a peer can make the server hold is bounded. The
 * defaults of those that are options (server_limits.c): */
#define GS__FD_RESERVE 32                  /* fds kept for the server's own use */
#define GS__RESERVED_CONNECTIONS_MAX 64    /* slots kept for trusted peers, at most */
#define GS__FRAME_TIMEOUT_MS 10000         /* a started frame must be complete within */
#define GS__IDLE_TIMEOUT_MS 600000         /* an untrusted peer's idle connection is closed after */
#define GS__MAX_INPUT (256u << 20)         /* input bytes buffered in all */
/* Frames of one connection per round-robin turn. Each turn costs a loop
 * iteration (an epoll_wait) and, for calls, a write: 64 keeps that below
 * 0.1 µs a frame while a waiting connection still gets its turn after
 * 64 frames of each other one (tens of microseconds). */
#define GS__BATCH 64
/* Turns of GS__BATCH frames a connection may take in a row when nothing
 * else waits (server_conn.c, conn_turns): a loop round, an epoll_wait,
 * per 64 small casts cost more than the casts. */
#define GS__BATCH_ALONE 16
/* ... and while less than this waits to be written to it. */
#define GS__ALONE_OUT_MAX (64u * 1024u)
#define GS__HELD_MAX 1024                  /* frames held per connection while suspended */
#define GS__HELD_BYTES_MAX (4u << 20)      /* frame bytes held per connection while suspended */
#define GS__OUT_HIGH (4u << 20)            /* unread output above which a connection is not read */
#define GS__ACCEPT_BATCH 64                /* accepts per wakeup of the listening socket */
#define GS__EXIT_FLUSH_MS 1000             /* time for EXIT_REPORT frames to go out at exit */
#define GS__ORPHAN_SIGNAL (SIGRTMAX - 2)   /* asked for when gensupd dies (orphan.c) */
#define GS__ORPHAN_GRACE_S 5               /* then terminate has this long, as OTP's default shutdown */

typedef struct gs__conn gs__conn;
typedef struct gs__timer gs__timer;

/* The message being handled, or last handled, for crash reports
 * (crash_report.c). data points into a connection's buffer and is valid
 * only while its callback runs (NULL otherwise). */
typedef enum gs__msg_kind {
        GS__MSG_NONE,
        GS__MSG_CALL,
        GS__MSG_CAST,
        GS__MSG_INFO,
        GS__MSG_TIMEOUT,
        GS__MSG_TIMER,
        GS__MSG_FD,
        _GS__MSG_KIND_MAX,
} gs__msg_kind;
typedef struct gs__last_msg {
        gs__msg_kind kind;
        uint64_t conn, ref;     /* call, cast, info: the connection; call: the ref */
        uint64_t token;         /* timer, fd */
        const uint8_t *data;
        size_t len;
} gs__last_msg;
typedef struct gs__fd gs__fd;
typedef struct gs__upgrade gs__upgrade;
typedef struct gs__sd_bridge gs__sd_bridge;

/* Notices on stderr (refused requests, limits hit) come at most
 * GS__NOTICE_BURST per kind per GS__NOTICE_INTERVAL_USEC; the rest are
 * counted and the count said when the next interval begins. */
#define GS__NOTICE_BURST 10
#define GS__NOTICE_INTERVAL_USEC (10u * 1000000u)
typedef struct gs__ratelimit {
        uint64_t begin_usec;    /* CLOCK_MONOTONIC: the interval's start */
        unsigned n;             /* notices written in it */
        uint64_t suppressed;    /* notices not written in it */
} gs__ratelimit;

/* What the connections hand up, through s->dispatch. */
typedef enum gs__event {
        GS__EVENT_FRAME,        /* a frame of c to handle (f, borrowed) */
        GS__EVENT_TURN,         /* a turn of handling begins: timers that
                                 * fired while suspended go first */
        GS__EVENT_LINK_DOWN,    /* the control connection closed */
        _GS__EVENT_MAX,
} gs__event;
typedef void gs__dispatch_fn(gs_server *s, gs__event ev, gs__conn *c, const ipc_frame *f);

/* Untrusted connections of one uid. */
typedef struct gs__uid_count {
        uid_t uid;
        size_t n;
} gs__uid_count;

/* Why the limits close or refuse a connection. */
typedef enum gs__limit {
        GS__LIMIT_NONE,
        GS__LIMIT_CONNECTIONS,  /* max_connections, or the slots left to untrusted peers */
        GS__LIMIT_UID,          /* max_connections_per_uid */
        GS__LIMIT_FRAME,        /* frame_timeout */
        GS__LIMIT_IDLE,         /* idle_timeout */
        GS__LIMIT_INPUT,        /* max_input */
        _GS__LIMIT_MAX,
} gs__limit;

struct gs__conn {
        gs_server *server;
        uint64_t serial;        /* never reused: gs_from.conn */
        ipc_conn *ipc;
        gs__src *io;
        uint32_t events;        /* the io source's mask now; 0 = source off */
        bool control;           /* the control fd to gensupd */
        bool trusted;           /* root, the server's own uid, or gensupd:
                                 * may send system requests */
        uid_t uid;              /* the peer's, at connect (SO_PEERCRED) */
        pid_t pid;              /* 0 if unknown */
        bool counted;           /* in s->n_untrusted and its uid's count */
        uint64_t last_usec;     /* CLOCK_MONOTONIC: accepted, or bytes last read */
        uint64_t partial_usec;  /* since when a partial frame waits; 0: none */
        size_t in_counted;      /* its share of s->input_bytes */
        bool eof;               /* the peer closed its side; nothing more to read */
        bool hup;               /* ... and it is gone altogether (not a half-close) */
        bool want_write;        /* the last flush could not write everything */
        bool in_ready, in_dirty;
        gs__conn *prev, *next;              /* server->conns */
        gs__conn *ready_prev, *ready_next;  /* server->ready_head..ready_tail */
        gs__conn *dirty_prev, *dirty_next;  /* server->dirty */

        /* Frames that arrived while the server was suspended, in order. */
        ipc_frame **held;
        size_t held_start, n_held, cap_held;
        size_t held_bytes;

        /* Refs of CALLs handed to handle_call and not answered yet. */
        uint64_t *pending;
        size_t n_pending, cap_pending;
};

struct gs__timer {
        gs_server *server;
        int64_t id;
        uint64_t token;
        gs__src *src;   /* NULL once fired */
        gs__timer *prev, *next;
};

struct gs__fd {
        gs_server *server;
        int fd;                 /* not owned */
        uint64_t token;
        gs__src *src;
        gs__fd *prev, *next;
};

struct gs_server {
        const gs_server_ops *ops;
        gs__dispatch_fn *dispatch;      /* the one way up from server_conn.c */
        void *state;
        gs__loop *event;
        gs__sd_bridge *sd;              /* gs_server_event(); NULL until asked for */
        char *name;

        int listen_fd;
        char *socket_path;      /* the socket this process created, unlinked at exit */
        gs__src *listen_src, *listen_retry;
        gs__src *work;  /* defer: handles ready connections round-robin */
        gs__src *flush; /* defer, on while output waits outside an io callback */
        bool flush_on;          /* flush is switched on (ONESHOT) */
        bool in_io;             /* in a connection's io callback, which flushes at its end */
        gs__src *sig_term, *sig_int;
        gs__src *timeout_src;   /* GS_ACTION_TIMEOUT */
        gs__src *idle_src;      /* hibernate_after */

        gs__conn *conns;        /* every connection, control included */
        gs__conn *control;
        size_t n_clients;
        gs__conn *ready_head, *ready_tail;
        gs__conn *dirty;
        uint64_t next_serial;

        gs__timer *timers;                    /* armed */
        gs__timer *fired_head, *fired_tail;   /* fired while suspended, not delivered yet */
        int64_t next_timer_id;
        gs__fd *fds;

        size_t max_frame;
        bool trap_exit;
        bool noted_no_handle_info;
        bool trace;
        bool suspended;
        uint64_t hibernate_after_ms;
        uint64_t last_active_usec;      /* CLOCK_MONOTONIC */
        bool idle_hibernated;
        uint64_t timeout_ms;            /* of the armed or deferred timeout action */
        bool timeout_armed;
        bool timeout_deferred;          /* it ran out while suspended: re-armed at resume */

        uint64_t calls, casts, infos, replies;
        uint64_t start_usec;            /* CLOCK_MONOTONIC */

        gs_buf reply;                   /* handle_call's reply, reused */
        gs__conn *current;              /* connection whose frame is being handled */

        /* Stopping: set once, by the first stop. */
        bool stopping;
        bool run_terminate;
        char *exit_reason;              /* normalized */
        bool has_stop_reply;
        gs_from stop_from;
        gs_buf stop_reply;
        bool stop_requested;            /* by a SYS STOP, from: */
        uid_t stop_uid;
        pid_t stop_pid;

        gs__ratelimit rl_sys_ok, rl_sys_refused;

        /* Hot upgrade (upgrade.c). */
        char *vsn;                      /* the version this server declares; NULL: none */
        bool paused;                    /* handing off: no accepting, no client frames */
        gs__upgrade *upgrade;           /* an upgrade under way, either side */
        /* Crash reports (crash_report.c). */
        gs__last_msg last;
        const char *bad_return;         /* what a callback returned wrongly, for the report */
        char *crash_text;               /* the report, built when the stop is decided */

        /* Limits (server_limits.c). */
        size_t max_conns;               /* client connections in all */
        size_t reserved_conns;          /* of those, kept for trusted peers */
        size_t max_conns_per_uid;       /* per untrusted uid */
        uint64_t frame_timeout_usec;    /* 0: none */
        uint64_t idle_timeout_usec;     /* untrusted peers; 0: none */
        size_t max_input;               /* bytes buffered in all */
        size_t input_bytes;             /* buffered now */
        size_t n_untrusted;
        gs__uid_count *uids;
        size_t n_uids, cap_uids;
        gs__src *sweep;         /* deadlines: frames, idle connections */
        uint64_t sweep_usec;            /* when it fires; 0: off */
        uint64_t hits[_GS__LIMIT_MAX];  /* connections refused or closed, by limit */
        uint64_t sys_refused;
        gs__ratelimit rl_limit;
};

/* trace.c */
/* Writes all of p to stderr, retrying on EINTR; only write(2), so a
 * signal handler may call it too. */
GS__HIDDEN void gs__stderr_write(const char *p, size_t len);
GS__HIDDEN void gs__trace(gs_server *s, const char *dir, const char *what, uint64_t conn, uint64_t ref,
                          const void *data, size_t len);
GS__HIDDEN void gs__tracef(gs_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line "NAME: ..." on stderr, trace or not, within rl's limit. */
GS__HIDDEN void gs__notice(gs_server *s, gs__ratelimit *rl, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* server_limits.c */
/* Sets the limits from the options, defaults where they are 0. */
GS__HIDDEN void gs__limits_set(gs_server *s, const gs_server_options *o);
GS__HIDDEN void gs__limits_free(gs_server *s);
/* May c (identified, not yet linked) be taken? Counts it if so. */
GS__HIDDEN gs__limit gs__limits_admit(gs_server *s, gs__conn *c);
/* c is going: its slot and input are given back. */
GS__HIDDEN void gs__limits_release(gs_server *s, gs__conn *c);
/* c's buffered input changed: keeps s->input_bytes. */
GS__HIDDEN void gs__limits_input(gs_server *s, gs__conn *c, size_t buffered);
/* What c has run out of at now, if anything; else *ret_due is when it
 * next may (UINT64_MAX: never). reading: the server reads c now (a
 * frame it does not read is not the peer's fault). */
GS__HIDDEN gs__limit gs__limits_check(const gs_server *s, gs__conn *c, uint64_t now, bool reading,
                                      uint64_t *ret_due);
GS__HIDDEN const char *gs__limit_text(gs__limit l);
GS__HIDDEN int gs__limit_errno(gs__limit l);

/* server_conn.c */
GS__HIDDEN int gs__conn_new(gs_server *s, int fd, bool control, gs__conn **ret);
GS__HIDDEN void gs__conn_close(gs__conn *c);
GS__HIDDEN int gs__conn_queue(gs__conn *c, const ipc_frame *f);
/* The same, with fd (>= 0) sent along with the frame (the caller keeps
 * its own fd). */
GS__HIDDEN int gs__conn_queue_fd(gs__conn *c, const ipc_frame *f, int fd);
/* The same for a data frame (REPLY, ...), without an ipc_frame to fill. */
GS__HIDDEN int gs__conn_queue_data(gs__conn *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len);
GS__HIDDEN void gs__conn_update(gs__conn *c);
GS__HIDDEN void gs__send_error(gs__conn *c, uint64_t ref, int code, const char *text);
GS__HIDDEN gs__conn *gs__conn_find(gs_server *s, uint64_t serial);
GS__HIDDEN int gs__pending_add(gs__conn *c, uint64_t ref);
GS__HIDDEN bool gs__pending_remove(gs__conn *c, uint64_t ref);
GS__HIDDEN void gs__ready_push(gs__conn *c);
GS__HIDDEN int gs__work_setup(gs_server *s);
GS__HIDDEN int gs__listen_start(gs_server *s);
GS__HIDDEN void gs__flush_dirty(gs_server *s);
GS__HIDDEN void gs__flush_bounded(gs_server *s, int timeout_ms);
GS__HIDDEN void gs__conns_resume(gs_server *s);
GS__HIDDEN void gs__conns_shrink(gs_server *s);

/* server.c */
GS__HIDDEN uint64_t gs__now_usec(void);
GS__HIDDEN void gs__stop(gs_server *s, const char *reason, bool run_terminate);
GS__HIDDEN void gs__exit_signal(gs_server *s, const char *reason);
GS__HIDDEN void gs__on_call(gs_server *s, gs__conn *c, const ipc_frame *f);
GS__HIDDEN void gs__on_cast(gs_server *s, gs__conn *c, const ipc_frame *f);
GS__HIDDEN void gs__on_info_msg(gs_server *s, gs__conn *c, const ipc_frame *f);
GS__HIDDEN void gs__deliver_fired(gs_server *s);
GS__HIDDEN void gs__suspend(gs_server *s);
GS__HIDDEN void gs__resume(gs_server *s);
GS__HIDDEN void gs__hibernate(gs_server *s);
GS__HIDDEN void gs__idle_rearm(gs_server *s);
GS__HIDDEN bool gs__init_ret_valid(gs_server *s, const gs_ret *r);
GS__HIDDEN void gs__apply_init(gs_server *s, gs_ret r);
GS__HIDDEN int gs__timers_setup(gs_server *s);
GS__HIDDEN void gs__timers_free(gs_server *s);
GS__HIDDEN void gs__send_stop_reply(gs_server *s);

/* sys_server.c */
GS__HIDDEN void gs__on_sys(gs_server *s, gs__conn *c, const ipc_frame *f);

/* upgrade.c */
GS__HIDDEN void gs__on_upgrade_sys(gs_server *s, gs__conn *c, const ipc_frame *f);
GS__HIDDEN void gs__upgrade_free(gs_server *s);
/* The new side: whether this process is a successor (GENSUP_UPGRADE_FD),
 * the handoff and code_change in init's place, and READY to the old. */
GS__HIDDEN bool gs__upgrade_requested(void);
GS__HIDDEN gs_ret gs__upgrade_init(gs_server *s);
GS__HIDDEN void gs__upgrade_ready(gs_server *s);
/* crash_report.c: OTP's "Generic server NAME terminating" report on
 * stderr, and the signal handler for crashes. Calls only the user's
 * format callbacks and ipc/. */
GS__HIDDEN int gs__format_state(gs_server *s, gs_buf *out);
/* Builds the report of an abnormal stop with reason (normalized), while
 * the last message is still readable. Nothing for a clean reason. */
GS__HIDDEN void gs__crash_capture(gs_server *s, const char *reason);
/* Writes the report built by gs__crash_capture, if any. */
GS__HIDDEN void gs__crash_write(gs_server *s);
/* init returned stop with an unclean reason: OTP's failed start. */
GS__HIDDEN void gs__crash_init_failed(gs_server *s, const char *reason);
/* Installs the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT
 * (s = NULL uninstalls it). */
GS__HIDDEN void gs__crash_handler(gs_server *s);

/* orphan.c: under gensupd, a server that traps exits is told of gensupd's
 * death by a signal whose handler arms the backstop alarm, rather than
 * killed, so that terminate runs every time. 0 or -1. */
GS__HIDDEN int gs__orphan_setup(void);

/* server_main.c: the life of a server process. enter, if not NULL,
 * replaces init (gs_enter_loop): its state and action are taken as init's
 * ok result would be. Returns the exit status. */
typedef struct gs__enter {
        void *state;
        gs_ret action;
} gs__enter;
GS__HIDDEN int gs__server_run(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv,
                              const gs__enter *enter);

/* sd_bridge.c: gs_server_event()'s sd-event loop, freed with the server. */
GS__HIDDEN gs__sd_bridge *gs__sd_bridge_free(gs__sd_bridge *b);

/* server_dispatch.c */
GS__HIDDEN void gs__dispatch(gs_server *s, gs__event ev, gs__conn *c, const ipc_frame *f);

#endif
