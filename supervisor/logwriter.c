/* logwriter.c: the log_dir writer thread and its bounded queue (see
 * logwriter.h).
 *
 * The loop's side (sup_logsink_*) takes the lock only to link a record
 * or count a drop: it never waits for the writer. The writer takes
 * records in order and does the file work (logdir.c) without the lock.
 * A sink's drops are counted under the lock and handed to its file with
 * its next line, so the file says "N lines lost" where they were; if no
 * line follows, the writer says it once the queue is empty. The thread
 * touches nothing but the queue and the files: no logging, no sd-event,
 * every signal blocked (gensupd's loop takes them). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "logdir.h"
#include "logwriter.h"

struct sup_logsink {
        sup_logfile *file;             /* the writer's, once the sink exists */
        /* under W.lock: */
        uint64_t lost;                 /* dropped, not handed to the writer yet */
        bool on_lost;                  /* in W.lost_head's list */
        sup_logsink *lost_next;
};

typedef struct rec rec;
struct rec {
        rec *next;
        sup_logsink *sink;
        bool free_sink;                /* the last record of the sink: free it */
        uint64_t usec;                 /* CLOCK_REALTIME: the line's time */
        uint64_t lost_before;          /* lines dropped just before this one */
        size_t size;                   /* what it counts against the bound */
        char tag[48];
        size_t len;
        char text[];
};

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;           /* the writer: work, or stop */
        pthread_cond_t gone;           /* the loop: the writer has finished */
        pthread_t thread;
        bool running;                  /* a thread was started and not joined */
        bool stopping, finished;
        rec *head, *tail;
        size_t bytes;
        sup_logsink *lost_head;
        uint64_t dropped;              /* all sinks, all time */
} W = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .gone = PTHREAD_COND_INITIALIZER,
};

/* ---- the writer ---- */

static void rec_run(rec *r) {
        sup_logfile *f = r->sink->file;
        if (r->lost_before > 0)
                sup_logfile_add_lost(f, r->lost_before);
        if (r->len > 0 || !r->free_sink)
                (void) sup_logfile_write(f, r->usec, r->tag, r->text, r->len);
        else if (r->lost_before > 0)
                (void) sup_logfile_note_lost(f, r->usec);
        if (r->free_sink) {
                sup_logfile_free(f);
                free(r->sink);
        }
        free(r);
}

/* Called with the lock held, returns with it held. */
static bool writer_step(void) {
        rec *r = W.head;
        if (r) {
                W.head = r->next;
                if (!W.head)
                        W.tail = NULL;
                W.bytes -= r->size;
                pthread_mutex_unlock(&W.lock);
                rec_run(r);
                pthread_mutex_lock(&W.lock);
                return true;
        }
        sup_logsink *s = W.lost_head;
        if (!s)
                return false;
        /* Caught up: the drops no line followed are said now. */
        W.lost_head = s->lost_next;
        s->on_lost = false;
        uint64_t n = s->lost;
        s->lost = 0;
        pthread_mutex_unlock(&W.lock);
        sup_logfile_add_lost(s->file, n);
        (void) sup_logfile_note_lost(s->file, sup_real_usec());
        pthread_mutex_lock(&W.lock);
        return true;
}

static void *writer_main(void *arg) {
        pthread_mutex_lock(&W.lock);
        for (;;) {
                if (writer_step())
                        continue;
                if (W.stopping)
                        break;
                pthread_cond_wait(&W.wake, &W.lock);
        }
        W.finished = true;
        pthread_cond_broadcast(&W.gone);
        pthread_mutex_unlock(&W.lock);
        return NULL;
}

static int writer_start(void) {
        sigset_t all, old;
        if (W.running)
                return 0;
        W.stopping = W.finished = false;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int r = pthread_create(&W.thread, NULL, writer_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        W.running = true;
        return 0;
}

/* ---- the loop's side ---- */

sup_logsink *sup_logsink_new(const char *dir, const char *name, uint64_t max_size, unsigned keep) {
        if (writer_start() < 0)
                return NULL;
        sup_logsink *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->file = sup_logfile_new(dir, name, max_size, keep);
        if (!s->file) {
                free(s);
                return NULL;
        }
        return s;
}

static void lost_unlink(sup_logsink *s) {
        if (!s->on_lost)
                return;
        sup_logsink **p = &W.lost_head;
        while (*p != s)
                p = &(*p)->lost_next;
        *p = s->lost_next;
        s->on_lost = false;
}

/* Links r (the lock held), taking the sink's drops into it. The writer
 * waits only on an empty queue: a line behind others wakes nobody, so a
 * chatty child costs no wakeup per line. */
static void rec_push(rec *r) {
        r->lost_before = r->sink->lost;
        r->sink->lost = 0;
        lost_unlink(r->sink);
        W.bytes += r->size;
        if (W.tail)
                W.tail->next = r;
        else {
                W.head = r;
                pthread_cond_signal(&W.wake);
        }
        W.tail = r;
}

static void count_drop(sup_logsink *s) {
        pthread_mutex_lock(&W.lock);
        s->lost++;
        W.dropped++;
        if (!s->on_lost) {
                s->on_lost = true;
                s->lost_next = W.lost_head;
                W.lost_head = s;
                pthread_cond_signal(&W.wake);
        }
        pthread_mutex_unlock(&W.lock);
}

int sup_logsink_line(sup_logsink *s, uint64_t realtime_usec, const char *tag, const char *text, size_t n) {
        size_t size = sizeof(rec) + n;
        bool full;

        pthread_mutex_lock(&W.lock);
        full = !W.running || W.bytes + size > SUP_LOGWRITER_MAX_BYTES;
        pthread_mutex_unlock(&W.lock);
        rec *r = full ? NULL : malloc(size);
        if (!r) {
                count_drop(s);
                return -ENOBUFS;
        }
        *r = (rec) { .sink = s, .usec = realtime_usec, .size = size, .len = n };
        snprintf(r->tag, sizeof(r->tag), "%s", tag);
        memcpy(r->text, text, n);
        pthread_mutex_lock(&W.lock);
        rec_push(r);
        pthread_mutex_unlock(&W.lock);
        return 0;
}

sup_logsink *sup_logsink_free(sup_logsink *s) {
        if (!s)
                return NULL;
        /* Past the bound: a sink's end is never dropped, or it would leak. */
        rec *r = malloc(sizeof(rec));
        pthread_mutex_lock(&W.lock);
        bool alive = W.running && !W.finished;
        if (alive && r) {
                *r = (rec) { .sink = s, .free_sink = true, .usec = sup_real_usec(), .size = sizeof(rec) };
                rec_push(r);
                r = NULL;
        } else
                lost_unlink(s);
        pthread_mutex_unlock(&W.lock);
        free(r);
        /* No writer (never started, or joined at exit): freed here. With
         * one (out of memory for the record), its records may still name
         * the sink: it is left. */
        if (!alive) {
                sup_logfile_free(s->file);
                free(s);
        }
        return NULL;
}

uint64_t sup_logwriter_dropped(void) {
        pthread_mutex_lock(&W.lock);
        uint64_t n = W.dropped;
        pthread_mutex_unlock(&W.lock);
        return n;
}

void sup_logwriter_stop(void) {
        struct timespec until;

        if (!W.running)
                return;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SUP_LOGWRITER_EXIT_MS / 1000;
        until.tv_nsec += (long) (SUP_LOGWRITER_EXIT_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&W.lock);
        W.stopping = true;
        pthread_cond_signal(&W.wake);
        while (!W.finished && pthread_cond_timedwait(&W.gone, &W.lock, &until) != ETIMEDOUT)
                ;
        bool finished = W.finished;
        pthread_mutex_unlock(&W.lock);
        if (!finished) {
                /* Stuck in a write that may never return: left behind,
                 * with what it still holds. */
                pthread_detach(W.thread);
                return;
        }
        pthread_join(W.thread, NULL);
        W.running = false;
}
