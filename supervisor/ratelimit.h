/* ratelimit.h: log lines that a peer can cause, rate-limited: at most
 * `burst` lines per `interval`, the rest counted and summed up in one
 * "N messages suppressed" line once their interval has ended (as
 * systemd's log_ratelimit). Pure: the caller passes the time, so tests
 * need no clock, and decides where the lines go. */
#ifndef GENSUP_RATELIMIT_H
#define GENSUP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sup_ratelimit {
        uint64_t interval_usec;
        unsigned burst;
        uint64_t begin_usec;      /* the current interval's start; 0: none yet */
        unsigned n;               /* lines let through in it */
        uint64_t held;            /* lines held back in it */
        uint64_t held_before;     /* lines held back in intervals that have ended, not yet summed up */
} sup_ratelimit;

#define SUP_RATELIMIT_INIT(interval, burst_) ((sup_ratelimit) { .interval_usec = (interval), .burst = (burst_) })

/* Whether a line may be written at now_usec (CLOCK_MONOTONIC). A line held
 * back is counted. */
bool sup_ratelimit_allow(sup_ratelimit *rl, uint64_t now_usec);
/* How many lines were held back in intervals that have ended by now_usec,
 * forgetting them: the caller writes the summary when it is not 0. */
uint64_t sup_ratelimit_take_held(sup_ratelimit *rl, uint64_t now_usec);
/* Whether lines are held back that no summary has told yet, and when
 * (CLOCK_MONOTONIC) the interval they are in ends: the time to call
 * sup_ratelimit_take_held. */
bool sup_ratelimit_pending(const sup_ratelimit *rl, uint64_t *ret_usec);

#endif
