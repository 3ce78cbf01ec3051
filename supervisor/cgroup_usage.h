/* cgroup_usage.h: what a child's cgroup counts (cgroup_usage.c), read
 * from its files. Shared by cgroup.c (a read on gensupd's loop) and
 * cgroup_sampler.c (reads in a thread of their own), which must not
 * include each other. */
#ifndef GENSUP_CGROUP_USAGE_H
#define GENSUP_CGROUP_USAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sup_cgroup_usage {
        int64_t memory_bytes;   /* memory.current; -1: no memory controller */
        int64_t cpu_usec;       /* cpu.stat usage_usec, over the cgroup's life; -1: unknown */
        int64_t pids;           /* processes in it now (pids.current, else cgroup.procs); -1: unknown */
} sup_cgroup_usage;

/* Which files to look at: without SUP_USAGE_MEMORY memory_bytes is -1
 * unread, without SUP_USAGE_PIDS the processes are counted from
 * cgroup.procs (pids.current is not looked for). */
enum {
        SUP_USAGE_MEMORY = 1 << 0,
        SUP_USAGE_PIDS = 1 << 1,
};

/* Reads the file named file in the cgroup directory dir (relative to
 * dirfd, or AT_FDCWD) into buf, NUL-terminated: its length or -errno. */
int sup_cgroup_file_read(int dirfd, const char *dir, const char *file, char *buf, size_t size);
/* The value after "key " in a flat keyed file's text; -1 when absent. */
int64_t sup_cgroup_keyed(const char *text, const char *key);
/* The lines of a file (cgroup.procs), 0 when unreadable. */
size_t sup_cgroup_file_lines(int dirfd, const char *dir, const char *file);

/* What the cgroup at dir (relative to dirfd, or AT_FDCWD) counts now,
 * looking only at the files want names (SUP_USAGE_*). Returns the
 * SUP_USAGE_* bits of the files wanted and found missing (ENOENT: no
 * such controller), so that a caller can stop looking for them. */
unsigned sup_cgroup_usage_read(int dirfd, const char *dir, unsigned want, sup_cgroup_usage *ret);

#endif
