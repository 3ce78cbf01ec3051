/* clock.c: wall-clock stamps as gensupd writes them (clock.h). */
#include <stdio.h>

#include "clock.h"

size_t sup_utc_stamp(uint64_t usec, int digits, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000u);
        struct tm tm;
        unsigned frac = (unsigned) (usec % 1000000u);

        gmtime_r(&t, &tm);
        size_t k = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        int n = snprintf(buf + k, size - k, ".%0*uZ", digits, digits == 3 ? frac / 1000u : frac);
        if (n < 0)
                return k;
        return k + (size_t) n < size ? k + (size_t) n : size - 1;
}
