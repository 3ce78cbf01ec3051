/* clock.h: the two clocks gensupd reads, in microseconds. */
#ifndef GENSUP_CLOCK_H
#define GENSUP_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t sup_clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Durations, deadlines, restart windows. */
static inline uint64_t sup_mono_usec(void) {
        return sup_clock_usec(CLOCK_MONOTONIC);
}

/* Wall-clock stamps for people (history, events). */
static inline uint64_t sup_real_usec(void) {
        return sup_clock_usec(CLOCK_REALTIME);
}

/* A wall-clock stamp in UTC, "2026-01-31T12:34:56.789Z" (digits 3) or
 * "2026-01-31T12:34:56.789012Z" (digits 6), into buf; its length. */
size_t sup_utc_stamp(uint64_t usec, int digits, char *buf, size_t size);

#endif
