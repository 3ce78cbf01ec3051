/* loop.c: the loop's rounds (loop.h): the wait, what it makes pending,
 * and the dispatch in priority order. Sources themselves are in
 * loop_source.c. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop-internal.h"

#define EVENTS_PER_WAIT 64

uint64_t gs__loop_clock(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- the loop object ---- */

int gs__loop_new(gs__loop **ret) {
        gs__loop *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int r = -errno;
                free(l);
                return r;
        }
        l->ref = 1;
        l->sigfd = -1;
        sigemptyset(&l->sigmask);
        l->time.kind = GS__HEAP_TIME;
        l->pending.kind = GS__HEAP_PENDING;
        *ret = l;
        return 0;
}

void gs__loop_drop_ref(gs__loop *l) {
        if (--l->ref > 0)
                return;
        close(l->epfd);
        if (l->sigfd >= 0)
                close(l->sigfd);
        free(l->time.v);
        free(l->pending.v);
        free(l);
}

gs__loop *gs__loop_unref(gs__loop *l) {
        if (l)
                gs__loop_drop_ref(l);
        return NULL;
}

int gs__loop_exit(gs__loop *l, int code) {
        if (!l)
                return -EINVAL;
        l->exiting = true;
        l->exit_code = code;
        return 0;
}

int gs__loop_now(gs__loop *l, uint64_t *ret) {
        if (!l)
                return -EINVAL;
        *ret = l->now ? l->now : gs__loop_clock();
        return 0;
}

/* ---- waiting ---- */

/* epoll_wait's timeout: none while something is pending, else until the
 * first timer (rounded up: never early), at most timeout_usec. */
static int wait_ms(gs__loop *l, uint64_t timeout_usec) {
        if (l->pending.n > 0 || l->again)
                return 0;
        gs__src *t = gs__heap_top(&l->time);
        uint64_t usec = timeout_usec;
        if (t) {
                uint64_t now = gs__loop_clock();
                uint64_t left = t->due > now ? t->due - now : 0;
                if (left < usec)
                        usec = left;
        }
        if (usec == UINT64_MAX)
                return -1;
        uint64_t ms = usec / 1000u + (usec % 1000u ? 1 : 0);
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

static void read_signals(gs__loop *l) {
        struct signalfd_siginfo ssi;

        while (read(l->sigfd, &ssi, sizeof(ssi)) == (ssize_t) sizeof(ssi)) {
                if (ssi.ssi_signo >= _NSIG)
                        continue;
                if (ssi.ssi_signo == SIGCHLD)
                        gs__loop_children_check(l);
                gs__src *s = l->sig[ssi.ssi_signo];
                /* One at a time: a second one before dispatch is the same news. */
                if (!s || s->enabled == GS__SRC_OFF || s->pending)
                        continue;
                s->ssi = ssi;
                gs__src_pend(s);
        }
}

/* Waits, and makes pending what is ready and the timers that are due. */
static int wait_round(gs__loop *l, uint64_t timeout_usec) {
        struct epoll_event ev[EVENTS_PER_WAIT];
        int n = epoll_wait(l->epfd, ev, EVENTS_PER_WAIT, wait_ms(l, timeout_usec));

        if (n < 0) {
                if (errno != EINTR)
                        return -errno;
                n = 0;
        }
        l->now = gs__loop_clock();
        gs__loop_pend_again(l);
        for (int i = 0; i < n; i++) {
                if (ev[i].data.ptr == l) {
                        read_signals(l);
                        continue;
                }
                gs__src *s = ev[i].data.ptr;
                s->revents = ev[i].events;
                gs__src_pend(s);
        }
        for (gs__src *t; (t = gs__heap_top(&l->time)) && t->due <= l->now;)
                gs__src_pend(t);
        return 0;
}

/* ---- dispatching ---- */

static int call_child(gs__src *s) {
        siginfo_t si = { 0 };
        pid_t pid = s->pid;

        /* sd-event's way: the callback sees the zombie, reaped after it. */
        idtype_t type = s->fd >= 0 ? P_PIDFD : P_PID;
        if (waitid(type, (id_t) (s->fd >= 0 ? s->fd : pid), &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                return 0;
        int r = s->cb.child(s, &si, s->userdata);
        siginfo_t reaped;
        (void) waitid(P_PID, (id_t) pid, &reaped, WEXITED | WNOHANG);
        if (!s->dead)
                (void) gs__src_set_enabled(s, GS__SRC_OFF);
        return r;
}

static int call(gs__src *s) {
        switch (s->type) {
        case GS__SRC_IO:
                return s->cb.io(s, s->fd, s->revents, s->userdata);
        case GS__SRC_TIME:
                return s->cb.time(s, s->due, s->userdata);
        case GS__SRC_DEFER:
        case GS__SRC_POST:
                return s->cb.defer(s, s->userdata);
        case GS__SRC_SIGNAL:
                return s->cb.signal(s, &s->ssi, s->userdata);
        case GS__SRC_CHILD:
                return call_child(s);
        case _GS__SRC_TYPE_MAX:
                break;
        }
        return 0;
}

static void dispatch(gs__loop *l, gs__src *s) {
        s->round = l->round;
        /* A defer source stays pending while it is on: in the next round. */
        if (s->type == GS__SRC_DEFER && s->enabled == GS__SRC_ON)
                gs__src_pend_later(s);
        else
                gs__src_unpend(s);
        if (s->enabled == GS__SRC_ONESHOT)
                (void) gs__src_set_enabled(s, GS__SRC_OFF);
        if (s->type != GS__SRC_POST)
                for (gs__src *p = l->posts; p; p = p->next)
                        if (p->enabled != GS__SRC_OFF)
                                gs__src_pend(p);
        s->ref++;
        int r = call(s);
        if (r < 0 && !s->dead)
                (void) gs__src_set_enabled(s, GS__SRC_OFF);
        if (--s->ref == 0)
                gs__src_free(s);
}

int gs__loop_run_round(gs__loop *l, uint64_t timeout_usec) {
        int n = 0;

        if (!l)
                return -EINVAL;
        if (l->exiting)
                return 0;
        l->round++;
        int r = wait_round(l, timeout_usec);
        if (r < 0)
                return r;
        /* A callback may drop the owner's reference: not freed under us. */
        l->ref++;
        for (gs__src *s; !l->exiting && (s = gs__heap_top(&l->pending));) {
                /* Pending again after its dispatch (a defer switched on
                 * again, a post source): in the next round. */
                if (s->round == l->round) {
                        gs__src_pend_later(s);
                        continue;
                }
                dispatch(l, s);
                n++;
        }
        gs__loop_drop_ref(l);
        return n;
}

int gs__loop_run(gs__loop *l) {
        if (!l)
                return -EINVAL;
        while (!l->exiting) {
                int r = gs__loop_run_round(l, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return l->exit_code;
}
