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

#include "pidstack.h"
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

/* Orphans (zombies gensupd adopted as a subreaper, watched by nobody)
 * are looked for at most once per this, plus ORPHAN_SCAN_PER_CHILD_USEC
 * per watched child: finding them walks every child (waitid P_ALL), and
 * a SIGCHLD per exit must not make a stop of N children cost N^2. An
 * orphan's zombie waits that long to be reaped. */
#define ORPHAN_SCAN_USEC 100000u
#define ORPHAN_SCAN_PER_CHILD_USEC 10u

/* Descriptors a child costs besides its pidfd (control socket, stdout
 * and stderr pipes): when fds run short, each new child takes this many
 * pidfds from the newest children. */
#define FDS_PER_CHILD 3

static struct {
        sd_event_source *source;
        sd_event_source *more;   /* the scan goes on in the next iteration */
        sd_event_source *orphans;   /* the next scan for orphans alone */
        uint64_t orphans_usec;   /* CLOCK_MONOTONIC of the last one */
        sup_pidstack with_fd;    /* children holding a pidfd, newest on top */
        sup_pidstack without_fd; /* watched children without one, newest on top */
        slot *slots;
        size_t cap;           /* a power of two */
        size_t used;          /* live and deleted slots */
        size_t live;
        size_t n_pidfd;       /* live slots with a pidfd */
        size_t n_unheard;     /* unwatched children, not reaped yet */
        bool adopts;          /* orphans are reparented to us: always scan */
        sd_event *event;
} reaper;

static bool holds_pidfd(pid_t pid, void *userdata);
static bool lacks_pidfd(pid_t pid, void *userdata);

static void stacks_init(void) {
        reaper.with_fd.keep = holds_pidfd;
        reaper.without_fd.keep = lacks_pidfd;
}

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

static void drop_pidfd(slot *s) {
        if (s->pidfd_source) {
                s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
                reaper.n_pidfd--;
        }
}

/* Empties a live slot. */
static void release(slot *s) {
        drop_pidfd(s);
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

static void give_back_pidfds(void);

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        pid_t pid = (pid_t) (intptr_t) userdata;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid((idtype_t) P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                return 0;
        slot *s = find(pid);
        if (s)
                deliver(s, &si);
        give_back_pidfds();
        return 0;
}

/* Descriptors kept free for what is not a pidfd: the next children's
 * sockets and pipes, gensupctl's connections, log files. */
static rlim_t reserve(rlim_t limit) {
        return limit / 32 + 32;
}

/* A pidfd for pid, or -1. -1 with *ret_short set when its number falls
 * among the last reserve() of RLIMIT_NOFILE: the kernel gives the lowest
 * free number, so the descriptors below it are all in use. */
static int open_pidfd(pid_t pid, bool *ret_short) {
        struct rlimit rl;
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -1;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (rlim_t) fd + reserve(rl.rlim_cur) >= rl.rlim_cur) {
                close(fd);
                *ret_short = true;
                return -1;
        }
        return fd;
}

static void scan_later(void);

static bool holds_pidfd(pid_t pid, void *userdata) {
        slot *s = find(pid);
        return s && s->pidfd_source;
}

static bool lacks_pidfd(pid_t pid, void *userdata) {
        slot *s = find(pid);
        return s && !s->pidfd_source;
}

/* A pidfd for s while the budget allows; false if none (*ret_short:
 * for want of fds). A child that has exited already is told at once:
 * its pidfd is readable. */
static bool attach_pidfd(slot *s, bool *ret_short) {
        int fd = reaper.event ? open_pidfd(s->pid, ret_short) : -1;
        if (fd < 0)
                return false;
        if (sd_event_add_io(reaper.event, &s->pidfd_source, fd, EPOLLIN, on_pidfd, (void *) (intptr_t) s->pid) < 0) {
                close(fd);
                return false;
        }
        (void) sd_event_source_set_io_fd_own(s->pidfd_source, true);
        reaper.n_pidfd++;
        return true;
}

/* Where a child goes once it has a pidfd or not. Out of memory it is on
 * neither stack: it keeps what it has. */
static void file_child(slot *s) {
        (void) sup_pidstack_push(s->pidfd_source ? &reaper.with_fd : &reaper.without_fd, s->pid);
}

/* Frees n descriptors for the children to come: the newest children
 * give up their pidfds (a stop, in reverse start order, takes them
 * first). A dropped pidfd may have had an exit to tell: the scan looks. */
size_t sup_reaper_spare_fds(size_t n) {
        size_t dropped = 0;
        pid_t pid;
        while (dropped < n && (pid = sup_pidstack_pop(&reaper.with_fd)) > 0) {
                slot *s = find(pid);
                drop_pidfd(s);
                file_child(s);
                dropped++;
        }
        if (dropped > 0)
                scan_later();
        return dropped;
}


/* A child gone leaves fds free: the newest children without a pidfd get
 * one again while the budget allows, so that the scan, O(N) per exit,
 * ends as soon as the fds allow (in a stop, after a fraction of the
 * children that had none). */
static void give_back_pidfds(void) {
        pid_t pid;
        for (int n = 0; n <= FDS_PER_CHILD && reaper.live > reaper.n_pidfd; n++) {
                if ((pid = sup_pidstack_pop(&reaper.without_fd)) == 0)
                        return;
                slot *s = find(pid);
                bool fds_short = false;
                bool attached = attach_pidfd(s, &fds_short);
                file_child(s);
                if (!attached)
                        return;
        }
}

static void watch_pidfd(slot *s) {
        bool fds_short = false;
        (void) attach_pidfd(s, &fds_short);
        file_child(s);
        if (fds_short)
                sup_reaper_spare_fds(FDS_PER_CHILD);
}

int sup_reaper_watch(pid_t pid, sup_reaper_handler handler, void *userdata) {
        if (pid <= 0)
                return -EINVAL;
        if (!reaper.with_fd.keep)
                stacks_init();
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
        if (!reaper.event || (!reaper.more && sd_event_add_defer(reaper.event, &reaper.more, on_more, NULL) < 0))
                return;
        (void) sd_event_source_set_priority(reaper.more, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_enabled(reaper.more, SD_EVENT_ONESHOT);
}

/* One SIGCHLD may stand for many exits: takes the zombies there are,
 * REAPS_PER_TURN at a time, by waitid(P_ALL), which walks every child. */
static int scan(void) {
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
                        give_back_pidfds();
                        continue;
                }
                /* Reap it now: a child nobody watches any more. */
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) == 0 && reaper.n_unheard > 0)
                        reaper.n_unheard--;
        }
}

static int on_orphans(sd_event_source *src, uint64_t usec, void *userdata) {
        reaper.orphans_usec = usec;
        return scan();
}

/* Only orphans can be waiting: scan once the last orphan scan is old
 * enough (ORPHAN_SCAN_USEC). */
static void scan_orphans_later(void) {
        uint64_t now, when;
        int enabled = SD_EVENT_OFF;
        if (reaper.orphans && sd_event_source_get_enabled(reaper.orphans, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        if (sd_event_now(reaper.event, CLOCK_MONOTONIC, &now) < 0)
                return;
        when = reaper.orphans_usec + ORPHAN_SCAN_USEC + ORPHAN_SCAN_PER_CHILD_USEC * (uint64_t) reaper.live;
        if (when < now)
                when = now;
        if (!reaper.orphans) {
                if (sd_event_add_time(reaper.event, &reaper.orphans, CLOCK_MONOTONIC, when, 1000, on_orphans, NULL) < 0) {
                        scan_later();   /* no timer: scan now rather than never */
                        return;
                }
        } else
                (void) sd_event_source_set_time(reaper.orphans, when);
        (void) sd_event_source_set_enabled(reaper.orphans, SD_EVENT_ONESHOT);
}

static int on_sigchld(sd_event_source *src, const struct signalfd_siginfo *ssi, void *userdata) {
        /* A watched child without a pidfd, or an unwatched one, is found
         * by the scan alone: at once. */
        if (reaper.live > reaper.n_pidfd || reaper.n_unheard > 0)
                return scan();
        /* Every watched child tells its exit by its pidfd. */
        if (reaper.adopts)
                scan_orphans_later();
        return 0;
}

static int on_more(sd_event_source *src, void *userdata) {
        return scan();
}

int sup_reaper_open(sd_event *e) {
        reaper.event = e;
        stacks_init();
        /* Exits have the control socket's priority, not a higher one: a
         * child that exits as fast as it is restarted must not starve
         * gensupctl (sd-event serves equal priorities in turn). */
        return sd_event_add_signal(e, &reaper.source, SIGCHLD, on_sigchld, NULL);
}

void sup_reaper_close(void) {
        reaper.source = sd_event_source_disable_unref(reaper.source);
        reaper.more = sd_event_source_disable_unref(reaper.more);
        reaper.orphans = sd_event_source_disable_unref(reaper.orphans);
        sup_pidstack_done(&reaper.with_fd);
        sup_pidstack_done(&reaper.without_fd);
        for (size_t i = 0; i < reaper.cap; i++)
                sd_event_source_disable_unref(reaper.slots[i].pidfd_source);
        free(reaper.slots);
        memset(&reaper, 0, sizeof(reaper));
        stacks_init();
}
