/* client_sys.c: system requests to a server, as OTP's sys module. Each is
 * one SYS frame answered by SYS_REPLY (or ERROR, returned as -code). */
#include <errno.h>
#include <string.h>

#include "client-internal.h"

/* A request whose answer carries nothing but success. */
static int sys_simple(gs_client *c, Gensup__SysRequest__Op op, bool flag, uint64_t value, int timeout_ms) {
        ipc_frame *f = NULL;
        int r = gs__client_sys(c, op, flag, value, NULL, timeout_ms, NULL, &f);

        ipc_frame_free(f);
        return r;
}

int gs_sys_get_state(gs_client *c, int timeout_ms, gs_buf *out) {
        ipc_frame *f = NULL;

        if (!out)
                return -EINVAL;
        int r = gs__client_sys(c, GENSUP__SYS_REQUEST__OP__GET_STATE, false, 0, NULL, timeout_ms, NULL, &f);
        if (r < 0)
                return r;
        const char *s = f->sys_reply && f->sys_reply->state ? f->sys_reply->state : "";
        r = gs_buf_set(out, s, strlen(s));
        ipc_frame_free(f);
        return r;
}

int gs_sys_statistics(gs_client *c, int timeout_ms, gs_statistics *ret) {
        ipc_frame *f = NULL;

        if (!ret)
                return -EINVAL;
        int r = gs__client_sys(c, GENSUP__SYS_REQUEST__OP__STATISTICS, false, 0, NULL, timeout_ms, NULL, &f);
        if (r < 0)
                return r;
        const Gensup__Statistics *s = f->sys_reply ? f->sys_reply->statistics : NULL;
        if (!s) {
                ipc_frame_free(f);
                return -EBADMSG;
        }
        *ret = (gs_statistics) {
                .calls = s->calls,
                .casts = s->casts,
                .infos = s->infos,
                .replies = s->replies,
                .uptime_ms = s->uptime_ms,
                .cpu_us = s->cpu_us,
                .rss_bytes = s->rss_bytes,
                .connections = s->connections,
                .suspended = s->suspended,
                .trace = s->trace,
                .refused_connections = s->refused_connections,
                .refused_uid_quota = s->refused_uid_quota,
                .frame_timeouts = s->frame_timeouts,
                .idle_closed = s->idle_closed,
                .input_closed = s->input_closed,
                .sys_refused = s->sys_refused,
                .max_connections = s->max_connections,
        };
        ipc_frame_free(f);
        return 0;
}

int gs_sys_suspend(gs_client *c, int timeout_ms) {
        return sys_simple(c, GENSUP__SYS_REQUEST__OP__SUSPEND, false, 0, timeout_ms);
}

int gs_sys_resume(gs_client *c, int timeout_ms) {
        return sys_simple(c, GENSUP__SYS_REQUEST__OP__RESUME, false, 0, timeout_ms);
}

int gs_sys_trace(gs_client *c, bool on, int timeout_ms) {
        return sys_simple(c, GENSUP__SYS_REQUEST__OP__TRACE, on, 0, timeout_ms);
}

int gs_sys_hibernate(gs_client *c, int timeout_ms) {
        return sys_simple(c, GENSUP__SYS_REQUEST__OP__HIBERNATE, false, 0, timeout_ms);
}

int gs_sys_hibernate_after(gs_client *c, uint64_t ms, int timeout_ms) {
        return sys_simple(c, GENSUP__SYS_REQUEST__OP__HIBERNATE_AFTER, false, ms, timeout_ms);
}
