/* logdir.c: a child's rotated log file (see logdir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "logdir.h"

#define RETRY_USEC 1000000u   /* a gone or failing file is tried again after this */
#define CHECK_USEC 1000000u   /* whether the file was removed: looked at this often */

struct sup_logfile {
        char *dir;
        char *path;            /* <dir>/<name>.log */
        uint64_t max_size;
        unsigned keep;
        int fd;                /* -1: not open */
        uint64_t size;         /* of the open file */
        uint64_t retry_usec;   /* CLOCK_MONOTONIC: no open before this */
        uint64_t checked_usec; /* the last look for a removed file */
        uint64_t dropped;      /* lines lost since the last that went in */
};

sup_logfile *sup_logfile_new(const char *dir, const char *name, uint64_t max_size, unsigned keep) {
        sup_logfile *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->fd = -1;
        f->max_size = max_size ? max_size : SUP_DEFAULT_LOG_SIZE;
        f->keep = keep;
        f->dir = strdup(dir);
        if (!f->dir || asprintf(&f->path, "%s/%s.log", dir, name) < 0) {
                free(f->dir);
                free(f);
                return NULL;
        }
        return f;
}

static void file_close(sup_logfile *f) {
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
}

sup_logfile *sup_logfile_free(sup_logfile *f) {
        if (!f)
                return NULL;
        file_close(f);
        free(f->dir);
        free(f->path);
        free(f);
        return NULL;
}

static int file_open(sup_logfile *f, uint64_t now) {
        if (now < f->retry_usec)
                return -EAGAIN;
        (void) mkdir(f->dir, 0750);
        f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
        struct stat st;
        if (f->fd < 0 || fstat(f->fd, &st) < 0) {
                int r = -errno;
                file_close(f);
                f->retry_usec = now + RETRY_USEC;
                return r;
        }
        /* Opened without waiting (a FIFO nobody reads yet is ENXIO, tried
         * again later); written blocking, in the writer's thread: a slow
         * reader gets every line, later. */
        int flags = fcntl(f->fd, F_GETFL);
        if (flags >= 0)
                (void) fcntl(f->fd, F_SETFL, flags & ~O_NONBLOCK);
        f->size = (uint64_t) st.st_size;
        f->checked_usec = now;
        return 0;
}

/* <path>.N, or <path> itself for N = 0. */
static void numbered(const sup_logfile *f, unsigned n, char *buf, size_t size) {
        if (n == 0)
                snprintf(buf, size, "%s", f->path);
        else
                snprintf(buf, size, "%s.%u", f->path, n);
}

/* The current file becomes .1, each older one moves up, the last goes. */
static void rotate(sup_logfile *f) {
        char from[PATH_MAX], to[PATH_MAX];
        file_close(f);
        numbered(f, f->keep, to, sizeof(to));
        (void) unlink(to);
        for (unsigned n = f->keep; n > 0; n--) {
                numbered(f, n - 1, from, sizeof(from));
                numbered(f, n, to, sizeof(to));
                (void) rename(from, to);
        }
}

/* The file someone removed (or a log rotator moved away without telling)
 * is made again. */
static void check_gone(sup_logfile *f, uint64_t now) {
        struct stat st;
        if (now < f->checked_usec + CHECK_USEC)
                return;
        f->checked_usec = now;
        if (fstat(f->fd, &st) < 0 || st.st_nlink == 0)
                file_close(f);
}

static int write_line(sup_logfile *f, uint64_t usec, const char *tag, const char *text, size_t n) {
        char head[96];
        size_t h = sup_utc_stamp(usec, 6, head, sizeof(head));
        snprintf(head + h, sizeof(head) - h, " %s: ", tag);
        struct iovec iov[3] = {
                { .iov_base = head, .iov_len = strlen(head) },
                { .iov_base = (void *) text, .iov_len = n },
                { .iov_base = (void *) "\n", .iov_len = 1 },
        };
        size_t total = iov[0].iov_len + n + 1;
        if (f->size > 0 && f->size + total > f->max_size) {
                rotate(f);
                int r = file_open(f, sup_mono_usec());
                if (r < 0)
                        return r;
        }
        ssize_t w = writev(f->fd, iov, 3);
        if (w < 0)
                return -errno;
        f->size += (uint64_t) w;
        return (size_t) w == total ? 0 : -EIO;
}

void sup_logfile_add_lost(sup_logfile *f, uint64_t n) {
        f->dropped += n;
}

/* The file, open, or -errno. */
static int file_ready(sup_logfile *f) {
        uint64_t now = sup_mono_usec();
        if (f->fd >= 0)
                check_gone(f, now);
        return f->fd >= 0 ? 0 : file_open(f, now);
}

static void note_lost(sup_logfile *f, uint64_t realtime_usec) {
        char note[96];
        if (f->dropped == 0)
                return;
        int len = snprintf(note, sizeof(note), "%llu lines lost (the file could not take them in time)",
                           (unsigned long long) f->dropped);
        if (write_line(f, realtime_usec, "gensupd", note, (size_t) len) >= 0)
                f->dropped = 0;
}

int sup_logfile_note_lost(sup_logfile *f, uint64_t realtime_usec) {
        if (f->dropped == 0)
                return 0;
        int r = file_ready(f);
        if (r >= 0)
                note_lost(f, realtime_usec);
        return r;
}

int sup_logfile_write(sup_logfile *f, uint64_t realtime_usec, const char *tag, const char *text, size_t n) {
        int r = file_ready(f);
        if (r >= 0)
                note_lost(f, realtime_usec);
        if (r >= 0)
                r = write_line(f, realtime_usec, tag, text, n);
        if (r < 0)
                f->dropped++;
        return r;
}
