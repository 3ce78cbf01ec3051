/* loop_source.c: the loop's sources (loop.h): adding them, switching them
 * on and off, their settings, dropping them. Rounds and dispatch are in
 * loop.c. Invariants: a pending source is in the pending heap; an
 * enabled time source that is not pending is in the time heap; an
 * enabled io or child source is in the epoll set. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop-internal.h"

/* ---- pending ---- */

void gs__src_pend(gs__src *s) {
        gs__loop *l = s->loop;

        if (s->pending)
                return;
        s->pending = true;
        s->pending_seq = ++l->seq;
        gs__heap_remove(&l->time, s);
        gs__heap_push(&l->pending, s);
}

static void again_unlink(gs__src *s) {
        if (!s->in_again)
                return;
        if (s->again_prev)
                s->again_prev->again_next = s->again_next;
        else
                s->loop->again = s->again_next;
        if (s->again_next)
                s->again_next->again_prev = s->again_prev;
        s->again_prev = s->again_next = NULL;
        s->in_again = false;
}

void gs__src_pend_later(gs__src *s) {
        gs__loop *l = s->loop;

        gs__heap_remove(&l->pending, s);
        if (s->in_again)
                return;
        s->in_again = true;
        s->again_prev = NULL;
        s->again_next = l->again;
        if (l->again)
                l->again->again_prev = s;
        l->again = s;
}

void gs__loop_pend_again(gs__loop *l) {
        while (l->again) {
                gs__src *s = l->again;
                again_unlink(s);
                gs__heap_push(&l->pending, s);
        }
}

void gs__src_unpend(gs__src *s) {
        gs__loop *l = s->loop;

        if (!s->pending)
                return;
        s->pending = false;
        again_unlink(s);
        gs__heap_remove(&l->pending, s);
        if (s->type == GS__SRC_TIME && s->enabled != GS__SRC_OFF && s->due != UINT64_MAX)
                gs__heap_push(&l->time, s);
}

/* ---- on and off ---- */

static int epoll_set(gs__src *s, int op) {
        struct epoll_event ev = { .events = s->events, .data.ptr = s };

        if (epoll_ctl(s->loop->epfd, op, s->fd, &ev) < 0)
                return -errno;
        return 0;
}

static bool child_exited(pid_t pid) {
        siginfo_t si = { 0 };

        return waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static int src_on(gs__src *s) {
        if (s->type == GS__SRC_CHILD && s->fd < 0) {
                /* Watched by SIGCHLD: it may have exited while off. */
                if (child_exited(s->pid))
                        gs__src_pend(s);
                return 0;
        }
        switch (s->type) {
        case GS__SRC_IO:
        case GS__SRC_CHILD: {
                int r = epoll_set(s, EPOLL_CTL_ADD);
                if (r < 0)
                        return r;
                s->in_epoll = true;
                return 0;
        }
        case GS__SRC_TIME:
                if (!s->pending && s->due != UINT64_MAX)
                        gs__heap_push(&s->loop->time, s);
                return 0;
        case GS__SRC_DEFER:
                gs__src_pend(s);
                return 0;
        case GS__SRC_POST:
        case GS__SRC_SIGNAL:
        case _GS__SRC_TYPE_MAX:
                return 0;
        }
        return 0;
}

static void src_off(gs__src *s) {
        gs__src_unpend(s);
        gs__heap_remove(&s->loop->time, s);
        if (s->in_epoll) {
                /* The fd may be closed already: nothing to take out then. */
                (void) epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
                s->in_epoll = false;
        }
}

int gs__src_set_enabled(gs__src *s, int enabled) {
        if (!s || s->dead || enabled < GS__SRC_ONESHOT || enabled > GS__SRC_ON)
                return -EINVAL;
        int was = s->enabled;
        s->enabled = enabled;
        if (was == GS__SRC_OFF && enabled != GS__SRC_OFF) {
                int r = src_on(s);
                if (r < 0) {
                        s->enabled = GS__SRC_OFF;
                        return r;
                }
        } else if (was != GS__SRC_OFF && enabled == GS__SRC_OFF)
                src_off(s);
        return 0;
}

int gs__src_get_enabled(gs__src *s, int *ret) {
        if (!s)
                return -EINVAL;
        *ret = s->enabled;
        return 0;
}

/* ---- settings ---- */

int gs__src_set_priority(gs__src *s, int64_t priority) {
        if (!s || s->dead)
                return -EINVAL;
        if (s->pending) {
                gs__heap_remove(&s->loop->pending, s);
                s->priority = priority;
                gs__heap_push(&s->loop->pending, s);
        } else
                s->priority = priority;
        return 0;
}

int gs__src_set_io_events(gs__src *s, uint32_t events) {
        if (!s || s->dead || s->type != GS__SRC_IO)
                return -EINVAL;
        if (s->events == events)
                return 0;
        s->events = events;
        return s->in_epoll ? epoll_set(s, EPOLL_CTL_MOD) : 0;
}

int gs__src_set_time(gs__src *s, uint64_t usec) {
        if (!s || s->dead || s->type != GS__SRC_TIME)
                return -EINVAL;
        gs__src_unpend(s);
        gs__heap_remove(&s->loop->time, s);
        s->due = usec;
        if (s->enabled != GS__SRC_OFF && usec != UINT64_MAX)
                gs__heap_push(&s->loop->time, s);
        return 0;
}

static uint64_t add_usec(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int gs__src_set_time_relative(gs__src *s, uint64_t usec) {
        return gs__src_set_time(s, add_usec(gs__loop_clock(), usec));
}

int gs__src_get_time(gs__src *s, uint64_t *ret) {
        if (!s || s->type != GS__SRC_TIME)
                return -EINVAL;
        *ret = s->due;
        return 0;
}

/* ---- adding and dropping ---- */

static int src_new(gs__loop *l, gs__src_type type, void *userdata, gs__src **ret) {
        int r;

        if (!l || !ret)
                return -EINVAL;
        if ((r = gs__heap_reserve(&l->time, l->n_src + 1)) < 0 ||
            (r = gs__heap_reserve(&l->pending, l->n_src + 1)) < 0)
                return r;
        gs__src *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = l;
        s->type = type;
        s->ref = 1;
        s->userdata = userdata;
        s->fd = -1;
        for (int k = 0; k < _GS__HEAP_KIND_MAX; k++)
                s->idx[k] = GS__HEAP_NONE;
        l->ref++;
        l->n_src++;
        *ret = s;
        return 0;
}

void gs__src_free(gs__src *s) {
        gs__loop *l = s->loop;

        if (s->type == GS__SRC_CHILD && s->fd >= 0)
                close(s->fd);
        free(s);
        l->n_src--;
        gs__loop_drop_ref(l);
}

static void signal_forget(gs__src *s) {
        gs__loop *l = s->loop;

        if (l->sig[s->sig] != s)
                return;
        l->sig[s->sig] = NULL;
        sigdelset(&l->sigmask, s->sig);
        (void) signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
}

gs__src *gs__src_unref(gs__src *s) {
        if (!s || s->dead)
                return NULL;
        (void) gs__src_set_enabled(s, GS__SRC_OFF);
        if (s->type == GS__SRC_SIGNAL)
                signal_forget(s);
        if (s->type == GS__SRC_POST || (s->type == GS__SRC_CHILD && s->fd < 0)) {
                gs__src **head = s->type == GS__SRC_POST ? &s->loop->posts : &s->loop->children;
                if (s->prev)
                        s->prev->next = s->next;
                else
                        *head = s->next;
                if (s->next)
                        s->next->prev = s->prev;
        }
        s->dead = true;
        if (--s->ref == 0)
                gs__src_free(s);
        return NULL;
}

int gs__loop_add_io(gs__loop *l, gs__src **ret, int fd, uint32_t events, gs__io_fn *cb, void *userdata) {
        gs__src *s;
        int r = fd < 0 || !cb ? -EINVAL : src_new(l, GS__SRC_IO, userdata, &s);

        if (r < 0)
                return r;
        s->cb.io = cb;
        s->fd = fd;
        s->events = events;
        if ((r = gs__src_set_enabled(s, GS__SRC_ON)) < 0) {
                gs__src_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int gs__loop_add_time(gs__loop *l, gs__src **ret, uint64_t usec, gs__time_fn *cb, void *userdata) {
        gs__src *s;
        int r = !cb ? -EINVAL : src_new(l, GS__SRC_TIME, userdata, &s);

        if (r < 0)
                return r;
        s->cb.time = cb;
        s->due = usec;
        (void) gs__src_set_enabled(s, GS__SRC_ONESHOT);
        *ret = s;
        return 0;
}

int gs__loop_add_time_relative(gs__loop *l, gs__src **ret, uint64_t usec, gs__time_fn *cb, void *userdata) {
        return gs__loop_add_time(l, ret, add_usec(gs__loop_clock(), usec), cb, userdata);
}

static int add_deferish(gs__loop *l, gs__src **ret, gs__src_type type, gs__defer_fn *cb, void *userdata) {
        gs__src *s;
        int r = !cb ? -EINVAL : src_new(l, type, userdata, &s);

        if (r < 0)
                return r;
        s->cb.defer = cb;
        if (type == GS__SRC_POST) {
                s->next = l->posts;
                if (l->posts)
                        l->posts->prev = s;
                l->posts = s;
        }
        (void) gs__src_set_enabled(s, GS__SRC_ON);
        *ret = s;
        return 0;
}

int gs__loop_add_defer(gs__loop *l, gs__src **ret, gs__defer_fn *cb, void *userdata) {
        return add_deferish(l, ret, GS__SRC_DEFER, cb, userdata);
}

int gs__loop_add_post(gs__loop *l, gs__src **ret, gs__defer_fn *cb, void *userdata) {
        return add_deferish(l, ret, GS__SRC_POST, cb, userdata);
}

/* The loop's one signalfd, for every signal source's signal. */
static int signal_watch(gs__loop *l, int sig) {
        sigset_t mask = l->sigmask;

        sigaddset(&mask, sig);
        int fd = signalfd(l->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (l->sigfd < 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
                if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                l->sigfd = fd;
        }
        l->sigmask = mask;
        return 0;
}

int gs__loop_add_signal(gs__loop *l, gs__src **ret, int sig, gs__signal_fn *cb, void *userdata) {
        sigset_t cur;
        gs__src *s;

        if (!l || sig <= 0 || sig >= _NSIG || !cb)
                return -EINVAL;
        if (sigprocmask(SIG_SETMASK, NULL, &cur) < 0 || !sigismember(&cur, sig) || l->sig[sig])
                return -EBUSY;
        int r = signal_watch(l, sig);
        if (r < 0 || (r = src_new(l, GS__SRC_SIGNAL, userdata, &s)) < 0)
                return r;
        s->cb.signal = cb;
        s->sig = sig;
        l->sig[sig] = s;
        (void) gs__src_set_enabled(s, GS__SRC_ON);
        *ret = s;
        return 0;
}

void gs__loop_children_check(gs__loop *l) {
        for (gs__src *s = l->children; s; s = s->next)
                if (s->enabled != GS__SRC_OFF && !s->pending && child_exited(s->pid))
                        gs__src_pend(s);
}

/* Without pidfd_open (valgrind 3.19 does not know it): SIGCHLD, which
 * must be blocked, as sd-event's fallback. */
static int child_by_sigchld(gs__loop *l, gs__src *s) {
        sigset_t cur;

        if (sigprocmask(SIG_SETMASK, NULL, &cur) < 0 || !sigismember(&cur, SIGCHLD))
                return -EBUSY;
        if (!sigismember(&l->sigmask, SIGCHLD)) {
                int r = signal_watch(l, SIGCHLD);
                if (r < 0)
                        return r;
        }
        s->next = l->children;
        if (l->children)
                l->children->prev = s;
        l->children = s;
        /* It may be gone already, its SIGCHLD read by someone else. */
        if (child_exited(s->pid))
                gs__src_pend(s);
        return 0;
}

int gs__loop_add_child(gs__loop *l, gs__src **ret, pid_t pid, int options, gs__child_fn *cb, void *userdata) {
        gs__src *s;

        if (pid <= 0 || options != WEXITED || !cb)
                return -EINVAL;
        int r = src_new(l, GS__SRC_CHILD, userdata, &s);
        if (r < 0)
                return r;
        s->cb.child = cb;
        s->pid = pid;
        s->events = EPOLLIN;
        s->fd = pidfd_open(pid, 0);
        if (s->fd < 0 && errno == ENOSYS) {
                s->enabled = GS__SRC_ON;
                r = child_by_sigchld(l, s);
        } else if (s->fd < 0)
                r = -errno;
        else
                r = gs__src_set_enabled(s, GS__SRC_ON);
        if (r < 0) {
                gs__src_free(s);
                return r;
        }
        *ret = s;
        return 0;
}
