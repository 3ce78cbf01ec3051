/* server_main.c: the life of a server process, as gs_server_main runs it:
 * setup (the library's options, the control fd, the loop, the socket),
 * init, run (READY, the loop) and teardown (terminate, the exit report,
 * freeing). The top of the server side: it calls server.c, server_conn.c
 * and server_dispatch.c, and nothing calls into it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "batch-internal.h"
#include "server-internal.h"

/* ---- options ---- */

typedef struct args {
        const char *name;
        const char *socket;
        ipc_sock_perm perm;   /* --socket-mode, --socket-user, --socket-group */
        bool trace;
        bool no_trap_exit;
        bool hibernate_after_set;
        uint64_t hibernate_after_ms;
        gs_server_options limits;   /* the limit options given; 0: not given */
        int argc;
        char **argv;    /* what init gets, NULL-terminated; the strings are argv's */
} args;

typedef enum lib_opt {
        OPT_SOCKET,
        OPT_NAME,
        OPT_SOCKET_MODE,
        OPT_SOCKET_USER,
        OPT_SOCKET_GROUP,
        OPT_VSN,
        OPT_HIBERNATE_AFTER,
        OPT_MAX_CONNECTIONS,
        OPT_RESERVED_CONNECTIONS,
        OPT_MAX_CONNECTIONS_PER_UID,
        OPT_FRAME_TIMEOUT,
        OPT_IDLE_TIMEOUT,
        OPT_MAX_INPUT,
        _OPT_MAX,
} lib_opt;

/* The options that take a value; from --hibernate-after on, unsigned
 * numbers. */
static const char *const opt_name[_OPT_MAX] = {
        [OPT_SOCKET] = "--socket",
        [OPT_NAME] = "--name",
        [OPT_SOCKET_MODE] = "--socket-mode",
        [OPT_SOCKET_USER] = "--socket-user",
        [OPT_SOCKET_GROUP] = "--socket-group",
        [OPT_VSN] = "--vsn",
        [OPT_HIBERNATE_AFTER] = "--hibernate-after",
        [OPT_MAX_CONNECTIONS] = "--max-connections",
        [OPT_RESERVED_CONNECTIONS] = "--reserved-connections",
        [OPT_MAX_CONNECTIONS_PER_UID] = "--max-connections-per-uid",
        [OPT_FRAME_TIMEOUT] = "--frame-timeout",
        [OPT_IDLE_TIMEOUT] = "--idle-timeout",
        [OPT_MAX_INPUT] = "--max-input",
};

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* A timeout in ms from the command line: 0 there means none (< 0 in
 * gs_server_options, where 0 is the default). */
static int64_t timeout_opt(uint64_t v) {
        return v == 0 ? -1 : v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static int take_value(args *a, lib_opt which, const char *val) {
        uint64_t v = 0;

        if (which >= OPT_HIBERNATE_AFTER && parse_u64(val, &v) < 0)
                return -EINVAL;
        if (v > SIZE_MAX)
                v = SIZE_MAX;
        switch (which) {
        case OPT_SOCKET:
                a->socket = val;
                return 0;
        case OPT_NAME:
                a->name = val;
                return 0;
        case OPT_VSN:
                a->limits.vsn = val;
                return 0;
        case OPT_SOCKET_MODE:
        case OPT_SOCKET_USER:
        case OPT_SOCKET_GROUP:
                return ipc_sock_perm_parse(which == OPT_SOCKET_MODE ? val : NULL, which == OPT_SOCKET_USER ? val : NULL,
                                           which == OPT_SOCKET_GROUP ? val : NULL, &a->perm);
        case OPT_HIBERNATE_AFTER:
                a->hibernate_after_ms = v;
                a->hibernate_after_set = true;
                return 0;
        case OPT_FRAME_TIMEOUT:
                a->limits.frame_timeout_ms = timeout_opt(v);
                return 0;
        case OPT_IDLE_TIMEOUT:
                a->limits.idle_timeout_ms = timeout_opt(v);
                return 0;
        case OPT_MAX_CONNECTIONS:
                a->limits.max_connections = (size_t) v;
                break;
        case OPT_RESERVED_CONNECTIONS:
                a->limits.reserved_connections = (size_t) v;
                break;
        case OPT_MAX_CONNECTIONS_PER_UID:
                a->limits.max_connections_per_uid = (size_t) v;
                break;
        case OPT_MAX_INPUT:
                a->limits.max_input = (size_t) v;
                break;
        case _OPT_MAX:
                return -EINVAL;
        }
        /* Counts and sizes: 0 would be no server at all. */
        return v == 0 ? -EINVAL : 0;
}

/* Which option with a value arg is, if any; its value from "--opt=VALUE"
 * or the next argument. */
static int match_value(int argc, char **argv, int *i, const char **ret_val) {
        const char *arg = argv[*i];

        for (int k = 0; k < _OPT_MAX; k++) {
                size_t n = strlen(opt_name[k]);
                if (strncmp(arg, opt_name[k], n) != 0 || (arg[n] != '\0' && arg[n] != '='))
                        continue;
                if (arg[n] == '=')
                        *ret_val = arg + n + 1;
                else if (*i + 1 < argc)
                        *ret_val = argv[++*i];
                else
                        return -EINVAL;
                return k;
        }
        return _OPT_MAX;
}

/* Takes the library's options out of argv (anywhere before "--"); the rest
 * keeps its order. Accepts "--opt VALUE" and "--opt=VALUE". */
static int parse_args(int argc, char **argv, args *a) {
        a->argv = calloc((size_t) (argc > 0 ? argc : 1) + 1, sizeof(char *));
        if (!a->argv)
                return -ENOMEM;
        a->argc = 0;
        a->argv[a->argc++] = argc > 0 ? argv[0] : (char *) "gensup-server";
        a->perm = (ipc_sock_perm) { IPC_SOCK_PERM_DEFAULT_MODE, (uid_t) -1, (gid_t) -1 };

        bool done = false;
        for (int i = 1; i < argc; i++) {
                const char *val = NULL;

                if (done) {
                        a->argv[a->argc++] = argv[i];
                        continue;
                }
                if (strcmp(argv[i], "--") == 0) {
                        done = true;
                        continue;
                }
                if (strcmp(argv[i], "--trace") == 0) {
                        a->trace = true;
                        continue;
                }
                if (strcmp(argv[i], "--no-trap-exit") == 0) {
                        a->no_trap_exit = true;
                        continue;
                }
                int which = match_value(argc, argv, &i, &val);
                if (which < 0 || (which < _OPT_MAX && take_value(a, (lib_opt) which, val) < 0))
                        return -EINVAL;
                if (which == _OPT_MAX)
                        a->argv[a->argc++] = argv[i];
        }
        a->argv[a->argc] = NULL;
        return 0;
}

/* ---- sockets and signals ---- */

static int on_signal(gs__src *src, const struct signalfd_siginfo *si, void *userdata) {
        gs_server *s = userdata;

        /* As the parent's exit signal `shutdown`. */
        gs__tracef(s, "in signal %d: exit signal shutdown", (int) si->ssi_signo);
        gs__exit_signal(s, "shutdown");
        return 0;
}

static int take_control_fd(int *ret) {
        const char *e = getenv("GENSUP_CONTROL_FD");
        uint64_t v;

        if (!e)
                return 0;
        int r = parse_u64(e, &v);
        (void) unsetenv("GENSUP_CONTROL_FD");
        if (r < 0 || v > INT_MAX)
                return -EBADF;
        int fd = (int) v;
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -EBADF;
        /* The server's own children must not inherit the link. */
        if (!(flags & FD_CLOEXEC))
                (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        *ret = fd;
        return 1;
}

/* Listens on path, unless a live server already does (as OTP's
 * already_started: never take a name from a running server). */
static int listen_own(gs_server *s, const char *path, const ipc_sock_perm *perm) {
        int fd = ipc_connect(path);

        if (fd >= 0) {
                close(fd);
                return -EADDRINUSE;
        }
        char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void) ipc_mkdir_p(dir, 0755);
        }
        free(dir);
        fd = ipc_listen_as(path, SOMAXCONN, perm);
        if (fd < 0)
                return fd;
        s->socket_path = strdup(path);
        if (!s->socket_path) {
                close(fd);
                (void) unlink(path);
                return -ENOMEM;
        }
        s->listen_fd = fd;
        return 0;
}

static int listen_name(gs_server *s, const ipc_sock_perm *perm) {
        char *dir = NULL, *path = NULL;
        int r = ipc_runtime_dir(&dir);

        if (r < 0)
                return r;
        r = ipc_socket_path(dir, s->name, &path);
        free(dir);
        if (r < 0)
                return r;
        r = listen_own(s, path, perm);
        free(path);
        return r;
}

static int setup_listen(gs_server *s, bool supervised, const char *socket_opt, bool name_known,
                        const ipc_sock_perm *perm) {
        int n = gs__listen_fds(true);   /* also unsets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES */

        /* Under gensupd the passed socket wins: it is the one clients know,
         * held by gensupd across restarts (never unlinked here). By hand,
         * an explicit --socket wins. */
        if (n > 0 && (supervised || !socket_opt || gs__upgrade_requested())) {
                int fd = GS__LISTEN_FDS_START;
                int fl = fcntl(fd, F_GETFL);
                if (fl >= 0 && !(fl & O_NONBLOCK))
                        (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
                /* Listening again makes this process the one SO_PEERCRED
                 * names to clients (gensupd called listen first), so that
                 * a server calling itself is recognised. */
                (void) listen(fd, SOMAXCONN);
                s->listen_fd = fd;
                return 0;
        }
        if (socket_opt)
                return listen_own(s, socket_opt, perm);
        if (supervised && !name_known)
                return 0;
        int r = listen_name(s, perm);
        /* Under gensupd the control fd is enough to run. */
        if (r == -ENOENT && supervised)
                return 0;
        return r;
}

static void send_control(gs_server *s, Gensup__Kind kind, const char *reason) {
        ipc_frame f;

        if (!s->control)
                return;
        ipc_frame_init(&f, kind, 0);
        if (reason)
                f.reason = (char *) reason;
        (void) gs__conn_queue(s->control, &f);
}

static void destroy(gs_server *s) {
        /* No exit signal from closing the control fd now. */
        s->stopping = true;
        gs__batch_set_wakeup(NULL, NULL);
        while (s->conns)
                gs__conn_close(s->conns);
        gs__timers_free(s);
        gs__limits_free(s);
        s->sd = gs__sd_bridge_free(s->sd);
        gs__src_unref(s->sweep);
        gs__src_unref(s->listen_src);
        gs__src_unref(s->listen_retry);
        gs__src_unref(s->work);
        gs__src_unref(s->flush);
        gs__src_unref(s->sig_term);
        gs__src_unref(s->sig_int);
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->socket_path) {
                (void) unlink(s->socket_path);
                free(s->socket_path);
        }
        gs__loop_unref(s->event);
        gs_buf_done(&s->reply);
        gs_buf_done(&s->stop_reply);
        gs__upgrade_free(s);
        free(s->vsn);
        free(s->exit_reason);
        free(s->crash_text);
        free(s->name);
        free(s);
}

static char *pick_name(const gs_server_options *o, const args *a, const char *env_name, bool supervised,
                       const char *argv0) {
        const char *name = a->name;

        /* Under gensupd the child spec names the server. */
        if (!name && supervised && env_name && *env_name)
                name = env_name;
        if (!name && o->name && *o->name)
                name = o->name;
        if (!name && env_name && *env_name)
                name = env_name;
        if (!name && argv0 && *argv0) {
                const char *slash = strrchr(argv0, '/');
                name = slash ? slash + 1 : argv0;
        }
        if (!name || !*name)
                name = "gensup-server";
        return strdup(name);
}

/* What setup gathers for the later steps. */
typedef struct start {
        gs_server_options o;
        args a;
        char *env_name;         /* GENSUP_NAME, taken out of the environment */
        char *hold_path;        /* GENSUP_HOLD_SOCKET: gensupd holds a socket made there */
        int control_fd;         /* until the control connection owns it */
        bool supervised;        /* under gensupd: a control fd was passed */
        const gs__enter *enter; /* gs_enter_loop: no init */
} start;

/* ---- setup ---- */

static gs_server *server_new(const gs_server_ops *ops, const start *st, int argc, char **argv) {
        gs_server *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->ops = ops;
        s->listen_fd = -1;
        s->dispatch = gs__dispatch;
        s->max_frame = st->o.max_frame ? st->o.max_frame : IPC_DEFAULT_MAX_FRAME;
        s->trap_exit = !st->o.no_trap_exit && !st->a.no_trap_exit;
        s->trace = st->o.trace || st->a.trace;
        s->hibernate_after_ms = st->a.hibernate_after_set ? st->a.hibernate_after_ms : st->o.hibernate_after_ms;
        s->start_usec = s->last_active_usec = gs__now_usec();
        /* Every argv option overrides its gs_server_options field. */
        gs_server_options lim = st->o;
        const gs_server_options *al = &st->a.limits;
        if (al->max_connections)
                lim.max_connections = al->max_connections;
        if (al->reserved_connections)
                lim.reserved_connections = al->reserved_connections;
        if (al->max_connections_per_uid)
                lim.max_connections_per_uid = al->max_connections_per_uid;
        if (al->frame_timeout_ms)
                lim.frame_timeout_ms = al->frame_timeout_ms;
        if (al->idle_timeout_ms)
                lim.idle_timeout_ms = al->idle_timeout_ms;
        if (al->max_input)
                lim.max_input = al->max_input;
        gs__limits_set(s, &lim);
        const char *vsn = al->vsn ? al->vsn : st->o.vsn;
        if (vsn && *vsn && !(s->vsn = strdup(vsn))) {
                free(s);
                return NULL;
        }
        s->name = pick_name(&st->o, &st->a, st->env_name, st->supervised, argc > 0 ? argv[0] : NULL);
        if (!s->name) {
                free(s->vsn);
                free(s);
                return NULL;
        }
        return s;
}

static int setup_loop(gs_server *s) {
        sigset_t mask;
        int r;

        /* Signals become events: sd-event needs them blocked first (and
         * SIGCHLD blocked lets a server add child sources to its loop). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        /* They stay blocked after the loop: a second SIGTERM pending then
         * must not kill the process on its way out with its exit status. */
        sigprocmask(SIG_BLOCK, &mask, NULL);

        if ((r = gs__loop_new(&s->event)) < 0 ||
            (r = gs__loop_add_signal(s->event, &s->sig_term, SIGTERM, on_signal, s)) < 0 ||
            (r = gs__loop_add_signal(s->event, &s->sig_int, SIGINT, on_signal, s)) < 0 ||
            (r = gs__work_setup(s)) < 0 || (r = gs__timers_setup(s)) < 0)
                return r;
        /* The supervisor's and the signals' word comes before clients'. */
        (void) gs__src_set_priority(s->sig_term, GS__PRIO_IMPORTANT);
        (void) gs__src_set_priority(s->sig_int, GS__PRIO_IMPORTANT);
        return 0;
}

static int setup_control(gs_server *s, start *st) {
        if (!st->supervised)
                return 0;
        if (s->trap_exit)
                (void) gs__orphan_setup();
        int r = gs__conn_new(s, st->control_fd, true, NULL);
        st->control_fd = -1;
        if (r < 0)
                return r;
        (void) gs__src_set_priority(s->control->io, GS__PRIO_IMPORTANT);
        /* gensupd's UPGRADE request carries the handoff socket. */
        ipc_conn_set_accept_fds(s->control->ipc, true);
        return 0;
}

static int setup_socket(gs_server *s, const start *st) {
        /* --socket overrides the socket_path option, as every argv option
         * overrides its gs_server_options field. */
        const char *opt = st->a.socket ? st->a.socket : (st->o.socket_path && *st->o.socket_path ? st->o.socket_path : NULL);
        int r = setup_listen(s, st->supervised, opt, st->a.name || st->o.name || st->env_name, &st->a.perm);

        if (r < 0) {
                fprintf(stderr, "%s: cannot listen%s%s: %s\n", s->name, opt ? " on " : "", opt ? opt : "",
                        strerror(-r));
                /* Under gensupd this is an init failure the supervisor hears of. */
                send_control(s, GENSUP__KIND__INIT_FAILED, "{error,listen}");
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
        }
        return r;
}

/* Everything before init. Returns 0, or < 0 having said why on stderr;
 * *ret_s is set as soon as the server exists, for teardown. */
static int setup(start *st, const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv,
                 gs_server **ret_s) {
        const char *prog = argc > 0 ? argv[0] : "server";

        if (opts)
                st->o = *opts;
        if (!ops || (!st->enter && !ops->init) || !ops->handle_call) {
                fprintf(stderr, st->enter ? "gs_enter_loop: handle_call is required\n"
                                          : "gs_server_main: init and handle_call are required\n");
                return -EINVAL;
        }
        if (st->enter && (st->enter->action.kind != GS_RET_OK || st->enter->action.reply_error ||
                          (unsigned) st->enter->action.action >= _GS_ACTION_MAX)) {
                fprintf(stderr, "gs_enter_loop: the action must be gs_ret_ok(), with or without a gs_with_* action\n");
                return -EINVAL;
        }
        if (parse_args(argc, argv, &st->a) < 0) {
                fprintf(stderr, "%s: bad library options (--socket PATH, --socket-mode MODE, --socket-user USER, "
                                "--socket-group GROUP, --name NAME, --trace, --hibernate-after MS, --no-trap-exit, "
                                "--max-connections N, --reserved-connections N, --max-connections-per-uid N, "
                                "--frame-timeout MS, --idle-timeout MS, --max-input BYTES, --vsn VSN, --)\n",
                        prog);
                return -EINVAL;
        }
        int r = take_control_fd(&st->control_fd);
        if (r < 0) {
                fprintf(stderr, "%s: GENSUP_CONTROL_FD is not an open fd\n", prog);
                return r;
        }
        st->supervised = r > 0;
        if (getenv("GENSUP_NAME")) {
                st->env_name = strdup(getenv("GENSUP_NAME"));
                (void) unsetenv("GENSUP_NAME");
        }
        if (st->supervised && getenv("GENSUP_HOLD_SOCKET"))
                st->hold_path = strdup(getenv("GENSUP_HOLD_SOCKET"));
        (void) unsetenv("GENSUP_HOLD_SOCKET");
        gs_server *s = server_new(ops, st, argc, argv);
        if (!s) {
                fprintf(stderr, "gs_server_main: out of memory\n");
                return -ENOMEM;
        }
        *ret_s = s;
        gs__crash_handler(s);
        if ((r = setup_loop(s)) < 0 || (r = setup_control(s, st)) < 0) {
                fprintf(stderr, "%s: cannot set up the event loop: %s\n", s->name, strerror(-r));
                return r;
        }
        return setup_socket(s, st);
}

/* ---- init ---- */

/* init, synchronously, as gen_server:start_link. Returns true to run
 * with *ret_ir; false with the exit status in *ret_status. */
static bool init(gs_server *s, const start *st, gs_ret *ret_ir, int *ret_status) {
        if (st->enter) {
                /* gs_enter_loop: the program's own setup was its init. */
                s->state = st->enter->state;
                *ret_ir = st->enter->action;
                return true;
        }
        /* A successor (hot upgrade) builds its state with code_change. */
        gs_ret ir = gs__upgrade_requested() ? gs__upgrade_init(s) : s->ops->init(s, st->a.argc, st->a.argv, &s->state);

        if (!gs__init_ret_valid(s, &ir))
                ir = gs_ret_stop("{error,bad_return_value}");
        switch (ir.kind) {
        case GS_RET_STOP: {
                /* OTP: {stop,R} from init is a failed start; the process
                 * exits with R (status 0 if it is clean), and an unclean R
                 * is reported. */
                gs_buf b = GS_BUF_INIT;
                (void) gs_reason_normalize(ir.reason, &b);
                const char *reason = b.data ? (char *) b.data : "normal";
                gs__tracef(s, "init stop %s", reason);
                gs__crash_init_failed(s, reason);
                send_control(s, GENSUP__KIND__INIT_FAILED, reason);
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
                *ret_status = gs_reason_is_clean(reason) ? 0 : 1;
                gs_buf_done(&b);
                return false;
        }
        case GS_RET_IGNORE:
                gs__tracef(s, "init ignore");
                send_control(s, GENSUP__KIND__IGNORE, NULL);
                gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
                *ret_status = 0;
                return false;
        case GS_RET_OK:
        case GS_RET_REPLY:
        case GS_RET_NOREPLY:
        case _GS_RET_KIND_MAX:
                break;
        }
        *ret_ir = ir;
        return true;
}

/* ---- run ---- */

/* The end of a server: terminate when due, the stop reply, then an
 * EXIT_REPORT on every connection. Returns the exit status. */
static int finish(gs_server *s) {
        const char *reason = s->exit_reason ? s->exit_reason : "normal";

        if (s->run_terminate && s->ops->terminate) {
                gs__tracef(s, "terminate %s", reason);
                s->ops->terminate(s, s->state, reason);
        }
        /* OTP's order: terminate, then the report. */
        gs__crash_write(s);
        gs__send_stop_reply(s);
        gs__tracef(s, "exit %s", reason);
        Gensup__Peer by = GENSUP__PEER__INIT;
        by.uid = (uint32_t) s->stop_uid;
        by.pid = (uint32_t) s->stop_pid;
        for (gs__conn *c = s->conns; c; c = c->next) {
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__EXIT_REPORT, 0);
                f.reason = (char *) reason;
                if (s->stop_requested)
                        f.stopped_by = &by;
                (void) ipc_conn_queue(c->ipc, &f);
        }
        gs__flush_bounded(s, GS__EXIT_FLUSH_MS);
        return gs_reason_is_clean(reason) ? 0 : 1;
}

/* READY. Under gensupd, a server that made its own socket where gensupd
 * offered to hold it (GENSUP_HOLD_SOCKET) hands it over with READY:
 * gensupd keeps it open and passes it to every later instance, so the
 * name stays registered while this server restarts (gensup.conf(5),
 * listen). The path is gensupd's to remove from then on. */
static void send_ready(gs_server *s, const start *st) {
        ipc_frame f;
        bool hand = st->hold_path && s->socket_path && strcmp(st->hold_path, s->socket_path) == 0;

        if (!s->control)
                return;
        ipc_frame_init(&f, GENSUP__KIND__READY, 0);
        f.vsn = s->vsn ? s->vsn : (char *) "";
        if (gs__conn_queue_fd(s->control, &f, hand ? s->listen_fd : -1) >= 0 && hand) {
                free(s->socket_path);
                s->socket_path = NULL;
        }
}

/* READY, init's actions, the loop, then the end. Returns the exit status. */
static int run(gs_server *s, const start *st, gs_ret ir) {
        gs__tracef(s, "init ok");
        send_ready(s, st);
        /* READY goes out before any handle_continue runs: the supervisor
         * starts the next child while this one finishes setting up, as
         * OTP's start_link returns before handle_continue. */
        gs__flush_dirty(s);
        if (!st->supervised && getenv("NOTIFY_SOCKET"))
                (void) gs__notify("READY=1");
        gs__upgrade_ready(s);
        int r = gs__listen_start(s);
        if (r < 0)
                gs__stop(s, "{error,listen}", true);
        else
                gs__apply_init(s, ir);
        /* Nothing has been dispatched yet: write what init's actions
         * queued. */
        gs__flush_dirty(s);
        gs__idle_rearm(s);

        if (!s->stopping) {
                r = gs__loop_run(s->event);
                if (r < 0 && !s->stopping)
                        gs__stop(s, "{error,event_loop}", true);
                if (!s->stopping)
                        /* Someone else ended the loop. */
                        gs__stop(s, "normal", true);
        }
        return finish(s);
}

/* ---- teardown ---- */

static void teardown(gs_server *s, start *st) {
        gs__crash_handler(NULL);
        if (s)
                destroy(s);
        if (st->control_fd >= 0)
                close(st->control_fd);
        free(st->env_name);
        free(st->hold_path);
        free(st->a.argv);
}

int gs__server_run(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv,
                   const gs__enter *enter) {
        start st = { .control_fd = -1, .enter = enter };
        gs_server *s = NULL;
        gs_ret ir;
        int status = 1;

        if (setup(&st, ops, opts, argc, argv, &s) >= 0 && init(s, &st, &ir, &status))
                status = run(s, &st, ir);
        teardown(s, &st);
        return status;
}

int gs_server_main_with(const gs_server_ops *ops, const gs_server_options *opts, int argc, char **argv) {
        return gs__server_run(ops, opts, argc, argv, NULL);
}

int gs_server_main(const gs_server_ops *ops, int argc, char **argv) {
        return gs_server_main_with(ops, NULL, argc, argv);
}
