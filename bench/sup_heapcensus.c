/* sup_heapcensus: where a process's live heap goes, by call site.
 * valgrind's massif cannot run gensupd (valgrind 3.19 answers pidfd_open
 * with ENOSYS), so bench/sup-bench.sh's "heap" part preloads this into
 * gensupd instead:
 *
 *   cc -O2 -shared -fPIC -DSUP_PRELOAD -o census.so bench/sup_heapcensus.c
 *   SUP_HEAP_FIFO=F SUP_HEAP_OUT=O LD_PRELOAD=./census.so gensupd -c ...
 *   echo > F        # appends the census of the live heap to O
 *
 * It wraps malloc, calloc, realloc, free and the aligned allocators,
 * keeps every live block with its size and its call site, the first
 * return address inside the main program (so an sd_event_add_io called
 * from proc.c and one from output.c count apart), and on each byte read
 * from the FIFO appends lines
 *   SITE_OFFSET BLOCKS REQUESTED_BYTES CHUNK_BYTES
 * (offset from the program's load address: `addr2line -f -i -e PROG`
 * names it; LIB+0xOFFSET: no frame in the program within 24, the
 * library function that called malloc) and a "total" line.
 * CHUNK_BYTES counts what malloc really holds (malloc_usable_size + the
 * 8-byte chunk header).
 *
 * Built as a program (as the Makefile builds every bench program) it only
 * says how to build it. */
#ifndef SUP_PRELOAD
#include <stdio.h>

int main(void) {
        fprintf(stderr, "sup_heapcensus: an LD_PRELOAD library; build it with\n"
                        "  cc -O2 -shared -fPIC -DSUP_PRELOAD -o census.so bench/sup_heapcensus.c\n");
        return 2;
}
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* dl_iterate_phdr */
#endif
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define LIVE_BITS 21                  /* 2 M slots: enough for 10,000 children */
#define LIVE_SLOTS (1u << LIVE_BITS)
#define SITES 8192
#define FRAMES 24
#define SITE_RAW ((uintptr_t) 1 << 63)   /* an absolute address outside the program */

typedef struct live {
        uintptr_t ptr;                /* 0 empty, 1 deleted */
        size_t size;
        uintptr_t site;
} live;

static live table[LIVE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int busy;
static uintptr_t prog_lo, prog_hi, prog_base;
static int ready;

static size_t slot_of(uintptr_t p) {
        return (size_t) ((p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - LIVE_BITS));
}

static void put(uintptr_t p, size_t size, uintptr_t site) {
        size_t i = slot_of(p);
        for (size_t n = 0; n < LIVE_SLOTS; n++, i = (i + 1) & (LIVE_SLOTS - 1))
                if (table[i].ptr <= 1) {
                        table[i] = (live) { p, size, site };
                        return;
                }
}

static void del(uintptr_t p) {
        size_t i = slot_of(p);
        for (size_t n = 0; n < LIVE_SLOTS; n++, i = (i + 1) & (LIVE_SLOTS - 1)) {
                if (table[i].ptr == 0)
                        return;
                if (table[i].ptr == p) {
                        table[i].ptr = 1;
                        return;
                }
        }
}

static uintptr_t site_now(void) {
        void *frames[FRAMES];
        int n = backtrace(frames, FRAMES);
        for (int i = 1; i < n; i++) {
                uintptr_t a = (uintptr_t) frames[i];
                if (a >= prog_lo && a < prog_hi)
                        return a - 1 - prog_base;   /* the call instruction */
        }
        /* No frame in the program (a library's own bookkeeping, or a
         * deeper stack): the library's caller of malloc, named at dump. */
        return n > 2 ? ((uintptr_t) frames[2] - 1) | SITE_RAW : 0;
}

static void track(void *p, size_t size, void *old) {
        if (!ready || busy)
                return;
        busy = 1;
        uintptr_t site = p ? site_now() : 0;
        pthread_mutex_lock(&lock);
        if (old)
                del((uintptr_t) old);
        if (p)
                put((uintptr_t) p, size, site);
        pthread_mutex_unlock(&lock);
        busy = 0;
}

void *malloc(size_t n) {
        void *p = __libc_malloc(n);
        track(p, n, NULL);
        return p;
}

void *calloc(size_t a, size_t b) {
        void *p = __libc_calloc(a, b);
        track(p, a * b, NULL);
        return p;
}

void *realloc(void *old, size_t n) {
        void *p = __libc_realloc(old, n);
        if (p || n == 0)
                track(p, n, old);
        return p;
}

void free(void *p) {
        if (p)
                track(NULL, 0, p);
        __libc_free(p);
}

void *memalign(size_t align, size_t n) {
        void *p = __libc_memalign(align, n);
        track(p, n, NULL);
        return p;
}

void *aligned_alloc(size_t align, size_t n) {
        return memalign(align, n);
}

int posix_memalign(void **ret, size_t align, size_t n) {
        void *p = memalign(align, n);
        if (!p)
                return 12;
        *ret = p;
        return 0;
}

typedef struct site_sum {
        uintptr_t site;
        size_t blocks, bytes, chunk;
} site_sum;

static void dump(const char *path) {
        static site_sum sums[SITES];
        size_t n_sums = 0, blocks = 0, bytes = 0, chunk = 0;

        busy = 1;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < LIVE_SLOTS; i++) {
                if (table[i].ptr <= 1)
                        continue;
                size_t c = malloc_usable_size((void *) table[i].ptr) + 8;
                size_t k = 0;
                while (k < n_sums && sums[k].site != table[i].site)
                        k++;
                if (k == n_sums) {
                        if (n_sums == SITES)
                                k = 0;
                        else
                                sums[n_sums++] = (site_sum) { .site = table[i].site };
                }
                sums[k].blocks++;
                sums[k].bytes += table[i].size;
                sums[k].chunk += c;
                blocks++;
                bytes += table[i].size;
                chunk += c;
        }
        pthread_mutex_unlock(&lock);
        FILE *f = fopen(path, "ae");
        if (f) {
                for (size_t k = 0; k < n_sums; k++) {
                        Dl_info info;
                        uintptr_t a = sums[k].site & ~SITE_RAW;
                        if ((sums[k].site & SITE_RAW) && dladdr((void *) a, &info) && info.dli_fname)
                                fprintf(f, "%s+0x%lx", info.dli_fname, (unsigned long) (a - (uintptr_t) info.dli_fbase));
                        else
                                fprintf(f, "0x%lx", (unsigned long) a);
                        fprintf(f, " %zu %zu %zu\n", sums[k].blocks, sums[k].bytes, sums[k].chunk);
                }
                fprintf(f, "total %zu %zu %zu\n", blocks, bytes, chunk);
                fclose(f);
        }
        busy = 0;
}

static void *waiter(void *arg) {
        (void) arg;
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);   /* signals stay the program's */
        const char *fifo = getenv("SUP_HEAP_FIFO"), *out = getenv("SUP_HEAP_OUT");
        for (;;) {
                int fd = open(fifo, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return NULL;
                char c;
                while (read(fd, &c, 1) == 1)
                        dump(out);
                close(fd);
        }
}

static int find_prog(struct dl_phdr_info *info, size_t size, void *data) {
        (void) size;
        (void) data;
        /* The first object is the program itself. */
        prog_base = info->dlpi_addr;
        prog_lo = UINTPTR_MAX;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type != PT_LOAD)
                        continue;
                uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
                if (lo < prog_lo)
                        prog_lo = lo;
                if (hi > prog_hi)
                        prog_hi = hi;
        }
        return 1;
}

__attribute__((constructor)) static void census_init(void) {
        void *frames[2];

        busy = 1;
        backtrace(frames, 2);   /* loads the unwinder now, not inside malloc */
        dl_iterate_phdr(find_prog, NULL);
        busy = 0;
        ready = 1;
        if (getenv("SUP_HEAP_FIFO") && getenv("SUP_HEAP_OUT")) {
                pthread_t t;
                pthread_create(&t, NULL, waiter, NULL);
        }
}
#endif
