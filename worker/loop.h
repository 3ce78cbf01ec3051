/* loop.h: libgensup's own event loop, on epoll. It does for a server what
 * sd-event did, with the same rules, so that the code above it reads the
 * same; libgensup then needs no libsystemd (bench/README.md, Start-up).
 *
 * Sources: io (an fd), time (CLOCK_MONOTONIC, absolute microseconds),
 * defer (pending while enabled), post (pending after any other source was
 * dispatched), signal (signalfd; the signal must be blocked) and child (a
 * pidfd; the exited child is reaped after its callback).
 *
 * One round: wait (epoll_wait, not at all when something is pending),
 * mark what is ready pending, then dispatch the pending sources, highest
 * priority (lowest number) first and, at one priority, in the order they
 * became pending. A source is dispatched at most once per round: one
 * pending again after its dispatch (a defer source that stays on, a post
 * source) waits for the next round, which then does not block in its
 * wait. A ONESHOT source is switched off before
 * its callback runs; a callback that returns < 0 switches its source off.
 * A source may be switched off or dropped from any callback, its own
 * included. After gs__loop_exit() nothing more is dispatched.
 *
 * Every source holds a reference to its loop. Not installed. */
#ifndef GENSUP_LOOP_H
#define GENSUP_LOOP_H

#include <stdint.h>
#include <signal.h>
#include <sys/epoll.h>      /* io events are epoll's */
#include <sys/signalfd.h>
#include <sys/types.h>

#define GS__LOOP_HIDDEN __attribute__((visibility("hidden")))

typedef struct gs__loop gs__loop;
typedef struct gs__src gs__src;

/* The values of SD_EVENT_OFF, SD_EVENT_ON, SD_EVENT_ONESHOT. */
enum {
        GS__SRC_OFF = 0,
        GS__SRC_ON = 1,
        GS__SRC_ONESHOT = -1,
};

/* The values of SD_EVENT_PRIORITY_*. */
#define GS__PRIO_IMPORTANT (-100)
#define GS__PRIO_NORMAL 0
#define GS__PRIO_IDLE 100

typedef int gs__io_fn(gs__src *src, int fd, uint32_t revents, void *userdata);
typedef int gs__time_fn(gs__src *src, uint64_t usec, void *userdata);
typedef int gs__defer_fn(gs__src *src, void *userdata);
typedef int gs__signal_fn(gs__src *src, const struct signalfd_siginfo *si, void *userdata);
typedef int gs__child_fn(gs__src *src, const siginfo_t *si, void *userdata);

/* The loop. gs__loop_unref() drops the caller's reference; the loop is
 * freed when its last source is gone too. */
GS__LOOP_HIDDEN int gs__loop_new(gs__loop **ret);
GS__LOOP_HIDDEN gs__loop *gs__loop_unref(gs__loop *l);

/* Every add returns 0 and the new source (ON; time sources ONESHOT, as
 * sd-event's), priority GS__PRIO_NORMAL, in *ret; or -errno. io: fd is not
 * owned, one source per fd. time: usec on CLOCK_MONOTONIC, UINT64_MAX
 * never. signal: -EBUSY unless sig is blocked; one source per signal.
 * child: pid must be this process's child; options WEXITED. */
GS__LOOP_HIDDEN int gs__loop_add_io(gs__loop *l, gs__src **ret, int fd, uint32_t events, gs__io_fn *cb,
                                    void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_time(gs__loop *l, gs__src **ret, uint64_t usec, gs__time_fn *cb, void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_time_relative(gs__loop *l, gs__src **ret, uint64_t usec, gs__time_fn *cb,
                                               void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_defer(gs__loop *l, gs__src **ret, gs__defer_fn *cb, void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_post(gs__loop *l, gs__src **ret, gs__defer_fn *cb, void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_signal(gs__loop *l, gs__src **ret, int sig, gs__signal_fn *cb, void *userdata);
GS__LOOP_HIDDEN int gs__loop_add_child(gs__loop *l, gs__src **ret, pid_t pid, int options, gs__child_fn *cb,
                                       void *userdata);

/* Switches src off and drops it (sd_event_source_disable_unref). Takes
 * NULL, returns NULL. Safe inside any callback, src's own included. */
GS__LOOP_HIDDEN gs__src *gs__src_unref(gs__src *src);
GS__LOOP_HIDDEN int gs__src_set_enabled(gs__src *src, int enabled);
GS__LOOP_HIDDEN int gs__src_get_enabled(gs__src *src, int *ret);
GS__LOOP_HIDDEN int gs__src_set_priority(gs__src *src, int64_t priority);
GS__LOOP_HIDDEN int gs__src_set_io_events(gs__src *src, uint32_t events);
/* Time sources: a new due time makes a pending source not pending. */
GS__LOOP_HIDDEN int gs__src_set_time(gs__src *src, uint64_t usec);
GS__LOOP_HIDDEN int gs__src_set_time_relative(gs__src *src, uint64_t usec);
GS__LOOP_HIDDEN int gs__src_get_time(gs__src *src, uint64_t *ret);

/* One round, waiting at most timeout_usec (UINT64_MAX: as long as it
 * takes). Returns the number of sources dispatched, or -errno. */
GS__LOOP_HIDDEN int gs__loop_run_round(gs__loop *l, uint64_t timeout_usec);
/* Rounds until gs__loop_exit(); returns its code, or -errno. */
GS__LOOP_HIDDEN int gs__loop_run(gs__loop *l);
GS__LOOP_HIDDEN int gs__loop_exit(gs__loop *l, int code);
/* CLOCK_MONOTONIC when the last wait ended (now, before the first). */
GS__LOOP_HIDDEN int gs__loop_now(gs__loop *l, uint64_t *ret);
/* CLOCK_MONOTONIC now, in microseconds. */
GS__LOOP_HIDDEN uint64_t gs__loop_clock(void);

#endif
