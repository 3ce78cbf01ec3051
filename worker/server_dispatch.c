/* server_dispatch.c: the one way up from the connections. server_conn.c
 * hands every event (a frame to handle, the start of a turn, the control
 * link going down) to s->dispatch, which server_main.c points here; this
 * routes each to server.c (messages, exit signals, fired timers) or
 * sys_server.c (system requests). Nothing here keeps state. */
#include <errno.h>

#include "server-internal.h"

static void dispatch_frame(gs_server *s, gs__conn *c, const ipc_frame *f) {
        switch ((int) f->kind) {
        case GENSUP__KIND__CALL:
                if (c->control)
                        gs__send_error(c, f->ref, EPROTO, "no calls on the control fd");
                else
                        gs__on_call(s, c, f);
                return;
        case GENSUP__KIND__CAST:
                if (!c->control)
                        gs__on_cast(s, c, f);
                return;
        case GENSUP__KIND__INFO:
                if (!c->control)
                        gs__on_info_msg(s, c, f);
                return;
        case GENSUP__KIND__SYS:
                if (f->sys && f->sys->op >= GENSUP__SYS_REQUEST__OP__UPGRADE &&
                    f->sys->op <= GENSUP__SYS_REQUEST__OP__UPGRADE_ABORT)
                        gs__on_upgrade_sys(s, c, f);
                else
                        gs__on_sys(s, c, f);
                return;
        case GENSUP__KIND__EXIT:
                if (c->control) {
                        gs__tracef(s, "in exit signal %s", f->reason && *f->reason ? f->reason : "normal");
                        gs__exit_signal(s, f->reason);
                        return;
                }
                /* A client may not send exit signals. */
                break;
        default:
                break;
        }
        /* Frames a server does not take: answer those that wait for an
         * answer, so that their sender does not wait forever. */
        if (f->ref != 0)
                gs__send_error(c, f->ref, EPROTO, "unexpected frame kind");
}

void gs__dispatch(gs_server *s, gs__event ev, gs__conn *c, const ipc_frame *f) {
        switch (ev) {
        case GS__EVENT_FRAME:
                dispatch_frame(s, c, f);
                return;
        case GS__EVENT_TURN:
                gs__deliver_fired(s);
                return;
        case GS__EVENT_LINK_DOWN:
                /* The control fd is the link to the supervisor: when it
                 * breaks, the supervisor is gone, and that is an exit
                 * signal shutdown. */
                gs__exit_signal(s, "shutdown");
                return;
        case _GS__EVENT_MAX:
                break;
        }
}
