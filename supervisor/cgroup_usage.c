/* cgroup_usage.c: a cgroup's figures, read from its files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_usage.h"

int sup_cgroup_file_read(int dirfd, const char *dir, const char *file, char *buf, size_t size) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int saved = errno;
        close(fd);
        if (n < 0)
                return -saved;
        buf[n] = '\0';
        return (int) n;
}

int64_t sup_cgroup_keyed(const char *text, const char *key) {
        size_t k = strlen(key);
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, k) == 0 && line[k] == ' ')
                        return strtoll(line + k + 1, NULL, 10);
        return -1;
}

size_t sup_cgroup_file_lines(int dirfd, const char *dir, const char *file) {
        char buf[65536];
        size_t n = 0;
        if (sup_cgroup_file_read(dirfd, dir, file, buf, sizeof(buf)) > 0)
                for (char *p = buf; *p; p++)
                        n += *p == '\n';
        return n;
}

/* A file holding one number; -1 when unreadable, with *missing set when
 * it is not there. */
static int64_t number(int dirfd, const char *dir, const char *file, bool *missing) {
        char buf[64];
        int r = sup_cgroup_file_read(dirfd, dir, file, buf, sizeof(buf));
        *missing = r == -ENOENT;
        return r > 0 ? strtoll(buf, NULL, 10) : -1;
}

unsigned sup_cgroup_usage_read(int dirfd, const char *dir, unsigned want, sup_cgroup_usage *ret) {
        unsigned missing = 0;
        bool gone = false;
        char stat[4096];

        ret->memory_bytes = -1;
        if (want & SUP_USAGE_MEMORY) {
                ret->memory_bytes = number(dirfd, dir, "memory.current", &gone);
                missing |= gone ? SUP_USAGE_MEMORY : 0;
        }
        ret->cpu_usec = sup_cgroup_file_read(dirfd, dir, "cpu.stat", stat, sizeof(stat)) > 0
                                ? sup_cgroup_keyed(stat, "usage_usec")
                                : -1;
        ret->pids = -1;
        if (want & SUP_USAGE_PIDS) {
                ret->pids = number(dirfd, dir, "pids.current", &gone);
                missing |= gone ? SUP_USAGE_PIDS : 0;
        }
        if (ret->pids < 0)
                ret->pids = (int64_t) sup_cgroup_file_lines(dirfd, dir, "cgroup.procs");
        return missing;
}
