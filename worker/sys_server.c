/* sys_server.c: system requests (OTP's sys module) on the server side:
 * get_state, statistics, suspend, resume, trace, hibernate, stop. Called
 * by the dispatch (server_dispatch.c); calls into server.c and
 * server_conn.c, never the other way. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "queue-internal.h"
#include "server-internal.h"

/* ---- statistics ---- */

static uint64_t cpu_usec(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t) ru.ru_utime.tv_sec * 1000000u + (uint64_t) ru.ru_utime.tv_usec +
               (uint64_t) ru.ru_stime.tv_sec * 1000000u + (uint64_t) ru.ru_stime.tv_usec;
}

static uint64_t rss_bytes(void) {
        FILE *f = fopen("/proc/self/statm", "re");
        unsigned long long size = 0, resident = 0;

        if (!f)
                return 0;
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
                resident = 0;
        fclose(f);
        long page = sysconf(_SC_PAGESIZE);
        return resident * (uint64_t) (page > 0 ? page : 4096);
}

/* ---- requests ---- */

static const char *op_name(int op) {
        switch (op) {
        case GENSUP__SYS_REQUEST__OP__GET_STATE:
                return "get_state";
        case GENSUP__SYS_REQUEST__OP__STATISTICS:
                return "statistics";
        case GENSUP__SYS_REQUEST__OP__SUSPEND:
                return "suspend";
        case GENSUP__SYS_REQUEST__OP__RESUME:
                return "resume";
        case GENSUP__SYS_REQUEST__OP__TRACE:
                return "trace";
        case GENSUP__SYS_REQUEST__OP__HIBERNATE:
                return "hibernate";
        case GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER:
                return "hibernate_after";
        case GENSUP__SYS_REQUEST__OP__STOP:
                return "stop";
        default:
                return "unknown";
        }
}

/* System requests steer the server: only root, the server's own uid and
 * gensupd may send them. Everyone else is refused and goes on being
 * served (calls, casts). Both are noted on stderr, rate-limited. */
static bool sys_allowed(gs_server *s, gs__conn *c, const char *op) {
        if (c->trusted) {
                gs__notice(s, &s->rl_sys_ok, "sys %s from %suid %u pid %d: accepted", op,
                           c->control ? "gensupd " : "", (unsigned) c->uid, (int) c->pid);
                return true;
        }
        s->sys_refused++;
        gs__notice(s, &s->rl_sys_refused, "sys %s from uid %u pid %d: refused, permission denied", op,
                   (unsigned) c->uid, (int) c->pid);
        return false;
}

static void sys_stop(gs_server *s, gs__conn *c, const Gensup__SysRequest *req) {
        const char *reason = req->reason && *req->reason ? req->reason : "normal";

        if (!s->stopping) {
                /* Who asked goes into the EXIT_REPORT, for gensupd's
                 * report and history. */
                s->stop_requested = true;
                s->stop_uid = c->uid;
                s->stop_pid = c->pid;
        }
        /* As gen_server:stop: terminate runs whether or not the server
         * traps exits; the caller waits for EXIT_REPORT. */
        gs__stop(s, reason, true);
}

static void sys_statistics(gs_server *s, Gensup__Statistics *st) {
        st->calls = s->calls;
        st->casts = s->casts;
        st->infos = s->infos;
        st->replies = s->replies;
        st->uptime_ms = (gs__now_usec() - s->start_usec) / 1000u;
        st->cpu_us = cpu_usec();
        st->rss_bytes = rss_bytes();
        st->connections = s->n_clients;
        st->suspended = s->suspended;
        st->trace = s->trace;
        st->refused_connections = s->hits[GS__LIMIT_CONNECTIONS];
        st->refused_uid_quota = s->hits[GS__LIMIT_UID];
        st->frame_timeouts = s->hits[GS__LIMIT_FRAME];
        st->idle_closed = s->hits[GS__LIMIT_IDLE];
        st->input_closed = s->hits[GS__LIMIT_INPUT];
        st->sys_refused = s->sys_refused;
        st->max_connections = s->max_conns;
        gs__queue_length(s, &st->queue_length, &st->queue_socket_bytes);
}

/* Carries out a request whose answer is empty or filled in below.
 * Returns false if it is answered otherwise (stop, unknown op). */
static bool sys_act(gs_server *s, gs__conn *c, const ipc_frame *f) {
        const Gensup__SysRequest *req = f->sys;

        switch ((int) req->op) {
        case GENSUP__SYS_REQUEST__OP__GET_STATE:
        case GENSUP__SYS_REQUEST__OP__STATISTICS:
                return true;
        case GENSUP__SYS_REQUEST__OP__SUSPEND:
                gs__suspend(s);
                return true;
        case GENSUP__SYS_REQUEST__OP__RESUME:
                gs__resume(s);
                return true;
        case GENSUP__SYS_REQUEST__OP__TRACE:
                s->trace = req->flag;
                return true;
        case GENSUP__SYS_REQUEST__OP__HIBERNATE:
                gs__hibernate(s);
                return true;
        case GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER:
                s->hibernate_after_ms = req->value;
                s->idle_hibernated = false;
                s->last_active_usec = gs__now_usec();
                gs__idle_rearm(s);
                return true;
        case GENSUP__SYS_REQUEST__OP__STOP:
                sys_stop(s, c, req);
                return false;
        default:
                if (f->ref != 0)
                        gs__send_error(c, f->ref, EOPNOTSUPP, "unknown system request");
                return false;
        }
}

void gs__on_sys(gs_server *s, gs__conn *c, const ipc_frame *f) {
        const Gensup__SysRequest *req = f->sys;
        Gensup__SysReply rep = GENSUP__SYS_REPLY__INIT;
        Gensup__Statistics st = GENSUP__STATISTICS__INIT;
        gs_buf text = GS_BUF_INIT;
        ipc_frame out;

        if (!req) {
                if (f->ref != 0)
                        gs__send_error(c, f->ref, EPROTO, "sys frame without a request");
                return;
        }
        gs__tracef(s, "in sys %s conn=%llu ref=%llu", op_name((int) req->op), (unsigned long long) c->serial,
                   (unsigned long long) f->ref);
        if (!sys_allowed(s, c, op_name((int) req->op))) {
                if (f->ref != 0)
                        gs__send_error(c, f->ref, EACCES, "permission denied");
                return;
        }
        /* As OTP's loop after a system message: hibernate_after counts
         * anew (a hibernated server stays so). */
        if (s->hibernate_after_ms > 0 && !s->idle_hibernated) {
                s->last_active_usec = gs__now_usec();
                gs__idle_rearm(s);
        }
        if (!sys_act(s, c, f))
                return;
        if (req->op == GENSUP__SYS_REQUEST__OP__GET_STATE) {
                if (gs__format_state(s, &text) < 0) {
                        gs_buf_done(&text);
                        gs__send_error(c, f->ref, ENOMEM, "out of memory");
                        return;
                }
                rep.state = (char *) text.data;
        } else if (req->op == GENSUP__SYS_REQUEST__OP__STATISTICS) {
                sys_statistics(s, &st);
                rep.statistics = &st;
        }
        ipc_frame_init(&out, GENSUP__KIND__SYS_REPLY, f->ref);
        out.sys_reply = &rep;
        (void) gs__conn_queue(c, &out);
        gs_buf_done(&text);
}
