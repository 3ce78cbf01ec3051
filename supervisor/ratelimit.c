/* ratelimit.c: at most `burst` lines per interval (ratelimit.h). The first
 * line opens an interval; lines held back in it are summed up when it has
 * ended, by the next line or by the caller's timer. */
#include "ratelimit.h"

/* Closes the current interval if it has ended by now. */
static void roll(sup_ratelimit *rl, uint64_t now_usec) {
        if (rl->begin_usec == 0 || now_usec - rl->begin_usec < rl->interval_usec)
                return;
        rl->held_before += rl->held;
        rl->held = 0;
        rl->n = 0;
        rl->begin_usec = 0;
}

bool sup_ratelimit_allow(sup_ratelimit *rl, uint64_t now_usec) {
        roll(rl, now_usec);
        if (rl->begin_usec == 0)
                rl->begin_usec = now_usec ? now_usec : 1;
        if (rl->n < rl->burst) {
                rl->n++;
                return true;
        }
        rl->held++;
        return false;
}

uint64_t sup_ratelimit_take_held(sup_ratelimit *rl, uint64_t now_usec) {
        roll(rl, now_usec);
        uint64_t held = rl->held_before;
        rl->held_before = 0;
        return held;
}

bool sup_ratelimit_pending(const sup_ratelimit *rl, uint64_t *ret_usec) {
        if (rl->held_before > 0) {
                *ret_usec = 0;   /* now */
                return true;
        }
        if (rl->held == 0)
                return false;
        *ret_usec = rl->begin_usec + rl->interval_usec;
        return true;
}
