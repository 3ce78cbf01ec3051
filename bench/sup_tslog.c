/* sup_tslog: copies standard input to FILE, each line prefixed with the
 * CLOCK_REALTIME time (ns) at which it was read, so that the supervisor
 * benchmark (bench/sup-bench.sh) learns when gensupd logged "all
 * children started" without polling gensupd.
 *
 *   gensupd ... 2> fifo &   sup_tslog FILE < fifo &
 *
 * Each line is written (and so visible to grep) as soon as it is read. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: sup_tslog FILE < INPUT\n");
                return 2;
        }
        FILE *out = fopen(argv[1], "we");
        if (!out) {
                fprintf(stderr, "sup_tslog: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        char line[8192];
        while (fgets(line, sizeof(line), stdin)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                fprintf(out, "%lld %s%s", (long long) ts.tv_sec * 1000000000 + ts.tv_nsec, line,
                        strchr(line, '\n') ? "" : "\n");
                fflush(out);
        }
        return fclose(out) == 0 ? 0 : 1;
}
