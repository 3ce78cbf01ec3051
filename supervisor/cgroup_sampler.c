/* cgroup_sampler.c: the cgroup figures, read in a thread of their own.
 *
 * The thread owns everything it reads with: a copy of the subtree's path,
 * an fd on it (each child's files are opened relative to it, a walk of
 * two names instead of the whole path), and the table it builds. A sweep
 * lists the subtree, reads each child's files and swaps the finished
 * table in under the lock; gensupd's loop looks names up in it under the
 * same lock. The lock is held only to swap, look up, or ask. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_sampler.h"
#include "clock.h"
#include "events.h"
#include "spawn.h"
#include "strbuf.h"

typedef struct sample {
        size_t name;            /* offset in the table's names */
        sup_cgroup_usage u;
        uint64_t at;            /* CLOCK_MONOTONIC usec, taken before the files were read */
} sample;

typedef struct table {
        uint64_t at;            /* CLOCK_MONOTONIC usec: the sweep began */
        sup_strbuf names;       /* NUL-terminated, one after the other */
        sample *v;
        size_t n, cap;
} table;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;    /* on CLOCK_MONOTONIC */
        pthread_t thread;
        bool running, stopping, idle;
        char *root;             /* the subtree (set once, freed after the thread is joined) */
        uint64_t asked_at;      /* the last ask */
        table *cur;             /* the last sweep's */
        uint64_t swept_at;      /* the last sweep began (0: none yet), whether it made a table or not */
        long long fds, rss;
        uint64_t self_at;       /* 0: none yet */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- tables ---- */

static table *table_free(table *t) {
        if (t) {
                sup_strbuf_done(&t->names);
                free(t->v);
                free(t);
        }
        return NULL;
}

static int table_add(table *t, const char *name, const sup_cgroup_usage *u, uint64_t at) {
        if (t->n == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 256;
                sample *v = realloc(t->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                t->v = v;
                t->cap = cap;
        }
        size_t off = t->names.len;
        int r = sup_strbuf_append(&t->names, name, strlen(name) + 1);
        if (r < 0)
                return r;
        t->v[t->n++] = (sample) { .name = off, .u = *u, .at = at };
        return 0;
}

static int by_name(const void *a, const void *b, void *names) {
        return strcmp((const char *) names + ((const sample *) a)->name,
                      (const char *) names + ((const sample *) b)->name);
}

/* The sample named name, or NULL (t sorted by name). */
static const sample *table_find(const table *t, const char *name) {
        size_t lo = 0, hi = t ? t->n : 0;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name, t->names.data + t->v[mid].name);
                if (c == 0)
                        return &t->v[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* ---- a sweep (the thread) ---- */

/* The files worth opening: a controller's files are there only where
 * the subtree hands it down to the children. */
static unsigned wanted_files(int rootfd) {
        char on[1024];
        unsigned want = 0;
        if (sup_cgroup_file_read(rootfd, ".", "cgroup.subtree_control", on, sizeof(on)) < 0)
                return SUP_USAGE_MEMORY | SUP_USAGE_PIDS;
        for (char *w = strtok(on, " \n"); w; w = strtok(NULL, " \n"))
                want |= strcmp(w, "memory") == 0 ? SUP_USAGE_MEMORY : strcmp(w, "pids") == 0 ? SUP_USAGE_PIDS : 0;
        return want;
}

/* Every child cgroup's figures under rootfd, sorted by name; NULL when
 * out of memory or the subtree cannot be listed. */
static table *sweep(int rootfd) {
        int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        table *t = d ? calloc(1, sizeof(*t)) : NULL;
        if (!t) {
                if (d)
                        closedir(d);
                else if (fd >= 0)
                        close(fd);
                return NULL;
        }
        t->at = sup_mono_usec();
        unsigned want = wanted_files(rootfd);
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (de->d_type != DT_DIR || strncmp(de->d_name, "child-", 6) != 0)
                        continue;
                sup_cgroup_usage u;
                uint64_t at = sup_mono_usec();
                (void) sup_cgroup_usage_read(rootfd, de->d_name, want, &u);
                r = table_add(t, de->d_name, &u, at);
        }
        closedir(d);
        if (r < 0)
                return table_free(t);
        if (t->n > 1)   /* t->v is NULL when no child has a cgroup */
                qsort_r(t->v, t->n, sizeof(*t->v), by_name, t->names.data);
        return t;
}

/* One sweep, its table and gensupd's own figures swapped in. Called and
 * returns with the lock held; drops it meanwhile. */
static void sweep_and_swap(int *rootfd) {
        const char *root = S.root;
        uint64_t began = sup_mono_usec();
        pthread_mutex_unlock(&S.lock);
        if (*rootfd < 0 && root)
                *rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        table *t = *rootfd >= 0 ? sweep(*rootfd) : NULL;
        uint64_t self_at = sup_mono_usec();
        long long fds = sup_events_self_fds(), rss = sup_events_self_rss();
        pthread_mutex_lock(&S.lock);
        if (t) {
                table *old = S.cur;
                S.cur = t;
                t = old;
        }
        S.fds = fds;
        S.rss = rss;
        S.self_at = self_at;
        S.swept_at = began;
        pthread_mutex_unlock(&S.lock);
        table_free(t);
        pthread_mutex_lock(&S.lock);
}

static void wait_until(uint64_t deadline_usec) {
        struct timespec ts = { .tv_sec = (time_t) (deadline_usec / 1000000u),
                               .tv_nsec = (long) (deadline_usec % 1000000u) * 1000L };
        (void) pthread_cond_timedwait(&S.wake, &S.lock, &ts);
}

/* When the next sweep begins, after the last one began, given that it
 * took took_usec: every SUP_SAMPLER_PERIOD_USEC, or sooner when sweeps
 * are slow, so that the next table is in before this one is older than
 * a status takes (SUP_SAMPLER_MAX_AGE_USEC), were the next sweep to
 * take twice as long: steady status traffic never waits for a sweep. */
static uint64_t next_sweep_after(uint64_t took_usec) {
        uint64_t room = SUP_SAMPLER_MAX_AGE_USEC > 2 * took_usec ? SUP_SAMPLER_MAX_AGE_USEC - 2 * took_usec : 0;
        return room < SUP_SAMPLER_PERIOD_USEC ? room : SUP_SAMPLER_PERIOD_USEC;
}

static void *sampler_main(void *arg) {
        int rootfd = -1;
        (void) pthread_setname_np(pthread_self(), "gensupd-sampler");
        /* Below the loop and the children it restarts: on a busy
         * machine a sweep waits for a CPU rather than they. */
        (void) setpriority(PRIO_PROCESS, (id_t) gettid(), SUP_SAMPLER_NICE);
        pthread_mutex_lock(&S.lock);
        while (!S.stopping) {
                uint64_t start = sup_mono_usec();
                if (start - S.asked_at > SUP_SAMPLER_IDLE_USEC) {
                        /* Nobody asked for a while: sleep until asked,
                         * holding no fd. */
                        if (rootfd >= 0)
                                close(rootfd);
                        rootfd = -1;
                        S.idle = true;
                        pthread_cond_wait(&S.wake, &S.lock);
                        S.idle = false;
                        continue;
                }
                if (!S.root) {
                        /* The subtree is named by the first figures asked
                         * for (sup_cgroup_sampler_get), which wakes us:
                         * a status right after must not wait a period. */
                        pthread_cond_wait(&S.wake, &S.lock);
                        continue;
                }
                sweep_and_swap(&rootfd);
                uint64_t next = start + next_sweep_after(sup_mono_usec() - start);
                while (!S.stopping && sup_mono_usec() < next)
                        wait_until(next);
        }
        pthread_mutex_unlock(&S.lock);
        if (rootfd >= 0)
                close(rootfd);
        return NULL;
}

/* ---- the loop's side ---- */

/* Starts the thread if it is not running (lock held); -errno. Not
 * under valgrind, where gensupd spawns by fork: the thread's stack would
 * be a leak in every child that fails before exec. There, as when
 * the thread has no figures, the loop reads them itself. */
static int start(void) {
        if (S.running)
                return 0;
        if (sup_spawn_under_valgrind())
                return -ENOTSUP;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&S.wake, &ca);
        pthread_condattr_destroy(&ca);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals are the loop's (signalfd) */
        S.stopping = false;
        int r = pthread_create(&S.thread, NULL, sampler_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                pthread_cond_destroy(&S.wake);
                return -r;
        }
        S.running = true;
        return 0;
}

/* An ask: the sampler (started if need be) keeps sweeping. Lock held. */
static void ask(void) {
        S.asked_at = sup_mono_usec();
        if (start() >= 0 && S.idle)
                pthread_cond_signal(&S.wake);
}

/* The subtree, named by the first to ask with it; wakes the thread
 * waiting for it. Lock held. */
static void name_root(const char *root) {
        if (!S.root && root && (S.root = strdup(root)) && S.running)
                pthread_cond_signal(&S.wake);
}

bool sup_cgroup_sampler_get(const char *root, const char *name, uint64_t since, sup_cgroup_usage *ret,
                            uint64_t *ret_at) {
        pthread_mutex_lock(&S.lock);
        name_root(root);
        ask();
        const sample *s = table_find(S.cur, name);
        bool found = s && s->at >= since;
        if (found) {
                *ret = s->u;
                *ret_at = s->at;
        }
        pthread_mutex_unlock(&S.lock);
        return found;
}

bool sup_cgroup_sampler_self(uint64_t since, long long *ret_fds, long long *ret_rss) {
        pthread_mutex_lock(&S.lock);
        ask();
        bool found = S.self_at > 0 && S.self_at >= since;
        if (found) {
                *ret_fds = S.fds;
                *ret_rss = S.rss;
        }
        pthread_mutex_unlock(&S.lock);
        return found;
}

bool sup_cgroup_sampler_ready(const char *root, uint64_t since) {
        pthread_mutex_lock(&S.lock);
        name_root(root);
        ask();
        bool ready = !S.running || !S.root || (S.swept_at > 0 && S.swept_at >= since);
        pthread_mutex_unlock(&S.lock);
        return ready;
}

void sup_cgroup_sampler_stop(void) {
        pthread_mutex_lock(&S.lock);
        bool running = S.running;
        S.stopping = true;
        if (running)
                pthread_cond_signal(&S.wake);
        pthread_mutex_unlock(&S.lock);
        if (running) {
                pthread_join(S.thread, NULL);
                pthread_cond_destroy(&S.wake);
        }
        S.cur = table_free(S.cur);
        free(S.root);
        S.root = NULL;
        S.running = S.idle = false;
        S.asked_at = S.self_at = S.swept_at = 0;
}
