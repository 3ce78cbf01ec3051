/* reaper.c: children's exits from a pidfd each, or from SIGCHLD, found by
 * pid in a hash table. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#include "reaper.h"
#include "spawner.h"

typedef struct slot {
        pid_t pid;            /* 0: empty; -1: deleted */
        sup_reaper_handler handler;
        void *userdata;
        sd_event_source *pidfd_source;   /* owns the pidfd; NULL: found by the scan */
} slot;

/* Exits handled per loop iteration by the scan: each may start a child
 * at once (a solo restart), and a child that dies as fast as it is
 * started must not keep the scan, and so the loop, from everything else. */
#define REAPS_PER_TURN 16

static struct {
        sd_event_source *source;
        sd_event_source *more;   /* the scan goes on in the next iteration */
        slot *slots;
        size_t cap;           /* a power of two */
        size_t used;          /* live and deleted slots */
        size_t live;
        size_t n_pidfd;       /* live slots with a pidfd */
        size_t n_unheard;     /* unwatched children, not reaped yet */
        bool adopts;          /* orphans are reparented to us: always scan */
        sd_event *event;
} reaper;

static size_t hash(pid_t pid, size_t cap) {
        return ((uint32_t) pid * 2654435761u) & (cap - 1);
}

static slot *find(pid_t pid) {
        if (!reaper.slots)
                return NULL;
        for (size_t i = hash(pid, reaper.cap), n = 0; n < reaper.cap; i = (i + 1) & (reaper.cap - 1), n++) {
                if (reaper.slots[i].pid == pid)
                        return &reaper.slots[i];
                if (reaper.slots[i].pid == 0)
                        return NULL;
        }
        return NULL;
}

static int grow(void) {
        size_t cap = reaper.cap ? reaper.cap : 64;
        while (cap < 2 * (reaper.live + 1))
                cap *= 2;
        slot *slots = calloc(cap, sizeof(slot));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < reaper.cap; i++) {
                slot *s = &reaper.slots[i];
                if (s->pid <= 0)
                        continue;
                size_t j = hash(s->pid, cap);
                while (slots[j].pid != 0)
                        j = (j + 1) & (cap - 1);
                slots[j] = *s;
        }
        free(reaper.slots);
        reaper.slots = slots;
        reaper.cap = cap;
        reaper.used = reaper.live;
        return 0;
}

/* Empties a live slot. */
static void release(slot *s) {
        if (s->pidfd_source) {
                s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
                reaper.n_pidfd--;
        }
        *s = (slot) { .pid = -1 };
        reaper.live--;
}

/* Hands the exit of the child in s (a zombie, si from WNOWAIT) to its
 * handler, then reaps it. */
static void deliver(slot *s, siginfo_t *si) {
        sup_reaper_handler handler = s->handler;
        void *data = s->userdata;
        pid_t pid = s->pid;
        release(s);
        handler(si, data);
        (void) waitid(P_PID, (id_t) pid, si, WEXITED | WNOHANG);
}

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        pid_t pid = (pid_t) (intptr_t) userdata;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid((idtype_t) P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                return 0;
        slot *s = find(pid);
        if (s)
                deliver(s, &si);
        return 0;
}

/* A pidfd for pid while fds are plentiful: below three quarters of the
 * limit, so that a tree near the limit keeps room for more children (a
 * child costs three fds without it). -1 otherwise. */
static int open_pidfd(pid_t pid) {
        struct rlimit rl;
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -1;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (rlim_t) fd >= rl.rlim_cur / 4 * 3) {
                close(fd);
                return -1;
        }
        return fd;
}

static void watch_pidfd(slot *s) {
        int fd = reaper.event ? open_pidfd(s->pid) : -1;
        if (fd < 0)
                return;
        if (sd_event_add_io(reaper.event, &s->pidfd_source, fd, EPOLLIN, on_pidfd, (void *) (intptr_t) s->pid) < 0) {
                close(fd);
                return;
        }
        (void) sd_event_source_set_io_fd_own(s->pidfd_source, true);
        reaper.n_pidfd++;
}

int sup_reaper_watch(pid_t pid, sup_reaper_handler handler, void *userdata) {
        if (pid <= 0)
                return -EINVAL;
        if (find(pid))
                return -EEXIST;
        /* Keep the table at most half full, deleted slots counted. */
        if (2 * (reaper.used + 1) > reaper.cap) {
                int r = grow();
                if (r < 0)
                        return r;
        }
        size_t i = hash(pid, reaper.cap);
        while (reaper.slots[i].pid > 0)
                i = (i + 1) & (reaper.cap - 1);
        if (reaper.slots[i].pid == 0)
                reaper.used++;
        reaper.slots[i] = (slot) { .pid = pid, .handler = handler, .userdata = userdata };
        reaper.live++;
        watch_pidfd(&reaper.slots[i]);
        return 0;
}

void sup_reaper_unwatch(pid_t pid) {
        slot *s = find(pid);
        if (s) {
                release(s);
                reaper.n_unheard++;
        }
}

void sup_reaper_adopt_orphans(void) {
        if (getpid() != 1)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        reaper.adopts = true;
}

void sup_reaper_counts(size_t *ret_pidfd, size_t *ret_scan) {
        *ret_pidfd = reaper.n_pidfd;
        *ret_scan = reaper.live - reaper.n_pidfd;
}

static int on_more(sd_event_source *src, void *userdata);

/* The scan stopped with zombies perhaps left: go on after the other
 * sources have had their turn (a SIGCHLD may not come again). */
static void scan_later(void) {
        if (!reaper.more && sd_event_add_defer(reaper.event, &reaper.more, on_more, NULL) < 0)
                return;
        (void) sd_event_source_set_priority(reaper.more, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_enabled(reaper.more, SD_EVENT_ONESHOT);
}

static int scan(void) {
        /* Every child has its pidfd: nothing to look for. */
        if (reaper.live == reaper.n_pidfd && reaper.n_unheard == 0 && !reaper.adopts)
                return 0;
        /* One SIGCHLD may stand for many exits: take the zombies there are,
         * REAPS_PER_TURN at a time. */
        for (int n = 0;; n++) {
                if (n == REAPS_PER_TURN) {
                        scan_later();
                        return 0;
                }
                siginfo_t si;
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        return 0;
                pid_t pid = si.si_pid;
                slot *s = find(pid);
                /* Perhaps a child whose spawn result the loop has not
                 * taken yet: taken now, it is watched (or was reaped). */
                if (!s && sup_spawner_claim(pid))
                        s = find(pid);
                if (s) {
                        deliver(s, &si);
                        continue;
                }
                /* Reap it now: a child nobody watches any more. */
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) == 0 && reaper.n_unheard > 0)
                        reaper.n_unheard--;
        }
}

static int on_sigchld(sd_event_source *src, const struct signalfd_siginfo *ssi, void *userdata) {
        return scan();
}

static int on_more(sd_event_source *src, void *userdata) {
        return scan();
}

int sup_reaper_open(sd_event *e) {
        reaper.event = e;
        /* Exits have the control socket's priority, not a higher one: a
         * child that exits as fast as it is restarted must not starve
         * gensupctl (sd-event serves equal priorities in turn). */
        return sd_event_add_signal(e, &reaper.source, SIGCHLD, on_sigchld, NULL);
}

void sup_reaper_close(void) {
        reaper.source = sd_event_source_disable_unref(reaper.source);
        reaper.more = sd_event_source_disable_unref(reaper.more);
        for (size_t i = 0; i < reaper.cap; i++)
                sd_event_source_disable_unref(reaper.slots[i].pidfd_source);
        free(reaper.slots);
        memset(&reaper, 0, sizeof(reaper));
}
