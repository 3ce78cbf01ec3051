/* spawner.c: the spawner thread and its two lists (see spawner.h).
 *
 * The loop keeps requests pending until the thread has room: at most
 * DEPTH are handed over (prepared: their output pipes, cgroup fd...) at
 * a time, so that a burst of restarts holds the fds of DEPTH starts, not
 * of every start queued. The thread takes them one at a time, runs
 * sup_spawn() (so only the thread waits for a CLONE_VFORK child's exec)
 * and posts the result under the lock, then wakes the loop's eventfd. The
 * loop delivers posted results in order. The pid of the spawn at hand is
 * posted as soon as clone returns (S.cloned), so that the reaper, finding
 * a zombie it does not know, can tell whether it may be the child of a
 * spawn whose result the loop has not taken yet, and wait for it rather
 * than reap it unheard. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "spawner.h"

/* Spawner threads: while one waits for its child to exec (most of it
 * the child waiting for a CPU), another clones the next. */
#define THREADS 2
/* Requests handed to the threads at once: one each, and the next,
 * prepared while the loop takes a result. */
#define DEPTH (THREADS + 1)

struct sup_spawn_req {
        sup_spawn_req *next;
        sup_spawn_params params;       /* what it points at is the submitter's */
        sup_spawner_prepare prepare;
        sup_spawner_done done;
        void *userdata;
        bool counted;                  /* handed to the thread: in S.inflight */
        /* The result, set by the thread; read under S.lock once posted. */
        bool posted;
        int r;
        sup_process proc;
        const char *step;
};

typedef struct req_list {
        sup_spawn_req *head, *tail;
} req_list;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;           /* the thread: a request, or stop */
        pthread_cond_t posted;         /* the loop: a result */
        pthread_t thread[THREADS];
        int n_threads;                 /* started and not joined */
        bool running;                  /* open */
        bool async;                    /* starts go through the queue (after the boot) */
        bool stopping;
        /* under lock: */
        req_list queue;                /* waiting for a thread */
        sup_spawn_req *current[THREADS];   /* each thread's */
        pid_t cloned[THREADS];         /* current's child once clone returned; 0 before */
        pid_t tid[THREADS];            /* current's child, stored by the kernel before it
                                        * runs (CLONE_PARENT_SETTID); read atomically */
        req_list results;              /* posted, not delivered */
        /* the loop's: */
        req_list pending;              /* not prepared, not handed over */
        int inflight;                  /* handed over, not delivered */
        int efd;
        sd_event_source *source;
} S = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .posted = PTHREAD_COND_INITIALIZER,
        .efd = -1,
};

static void list_push(req_list *l, sup_spawn_req *q) {
        q->next = NULL;
        if (l->tail)
                l->tail->next = q;
        else
                l->head = q;
        l->tail = q;
}

static sup_spawn_req *list_pop(req_list *l) {
        sup_spawn_req *q = l->head;
        if (q) {
                l->head = q->next;
                if (!l->head)
                        l->tail = NULL;
        }
        return q;
}

/* Unlinks q from l; whether it was there. */
static bool list_remove(req_list *l, sup_spawn_req *q) {
        sup_spawn_req *prev = NULL;
        for (sup_spawn_req *i = l->head; i; prev = i, i = i->next) {
                if (i != q)
                        continue;
                if (prev)
                        prev->next = q->next;
                else
                        l->head = q->next;
                if (l->tail == q)
                        l->tail = prev;
                return true;
        }
        return false;
}

/* ---- the thread ---- */

static void on_cloned(pid_t pid, void *userdata) {
        pthread_mutex_lock(&S.lock);
        S.cloned[(intptr_t) userdata] = pid;
        pthread_mutex_unlock(&S.lock);
}

static void *spawner_main(void *arg) {
        intptr_t i = (intptr_t) arg;
        (void) pthread_setname_np(pthread_self(), "gensupd-spawner");
        pthread_mutex_lock(&S.lock);
        for (;;) {
                while (!S.queue.head && !S.stopping)
                        pthread_cond_wait(&S.wake, &S.lock);
                if (S.stopping)
                        break;
                sup_spawn_req *q = list_pop(&S.queue);
                S.current[i] = q;
                S.cloned[i] = 0;
                __atomic_store_n(&S.tid[i], 0, __ATOMIC_RELEASE);
                pthread_mutex_unlock(&S.lock);

                q->params.cloned_userdata = (void *) i;
                q->params.parent_tid = &S.tid[i];
                q->r = sup_spawn(&q->params, &q->proc, &q->step);

                pthread_mutex_lock(&S.lock);
                S.current[i] = NULL;
                S.cloned[i] = 0;
                __atomic_store_n(&S.tid[i], 0, __ATOMIC_RELEASE);
                q->posted = true;
                list_push(&S.results, q);
                pthread_cond_broadcast(&S.posted);
                (void) eventfd_write(S.efd, 1);
        }
        pthread_mutex_unlock(&S.lock);
        return NULL;
}

/* ---- the loop's side ---- */

static void hand_over(sup_spawn_req *q) {
        q->params.cloned = on_cloned;
        pthread_mutex_lock(&S.lock);
        list_push(&S.queue, q);
        pthread_cond_signal(&S.wake);
        pthread_mutex_unlock(&S.lock);
}

/* Waits, under S.lock, for what thread i spawns now. */
static void await_current_locked(int i) {
        sup_spawn_req *q = S.current[i];
        if (q)
                while (!q->posted)
                        pthread_cond_wait(&S.posted, &S.lock);
}

/* A result the loop makes itself (a failed prepare), told as any other. */
static void post_here(sup_spawn_req *q, int r) {
        q->r = r;
        q->step = NULL;
        pthread_mutex_lock(&S.lock);
        q->posted = true;
        list_push(&S.results, q);
        pthread_mutex_unlock(&S.lock);
        (void) eventfd_write(S.efd, 1);
}

/* Prepares and hands over pending requests while the thread has room. */
static void pump(void) {
        sup_spawn_req *q;
        while (S.inflight < DEPTH && (q = list_pop(&S.pending))) {
                int r = q->prepare(q->userdata, &q->params);
                if (r < 0) {
                        post_here(q, r);
                        continue;
                }
                q->counted = true;
                S.inflight++;
                hand_over(q);
        }
}

/* q leaves the thread's hands: room for the next. */
static void uncount(sup_spawn_req *q) {
        if (q->counted) {
                q->counted = false;
                S.inflight--;
                pump();
        }
}

static void deliver_results(void) {
        for (;;) {
                pthread_mutex_lock(&S.lock);
                sup_spawn_req *q = list_pop(&S.results);
                pthread_mutex_unlock(&S.lock);
                if (!q)
                        return;
                uncount(q);
                q->done(q->userdata, q->r, &q->proc, q->step);
                free(q);
        }
}

static int on_results(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        eventfd_t n;
        (void) eventfd_read(fd, &n);
        deliver_results();
        return 0;
}

int sup_spawner_open(sd_event *e) {
        sigset_t all, old;

        /* Under valgrind a spawn is a fork, which copies one thread: the
         * other threads' allocations would be leaks in every child that
         * fails before exec. Valgrind runs one thread at a time anyway:
         * there, children are spawned on the loop, as before. */
        if (S.running || sup_spawn_under_valgrind())
                return 0;
        S.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (S.efd < 0)
                return -errno;
        int r = sd_event_add_io(e, &S.source, S.efd, EPOLLIN, on_results, NULL);
        if (r < 0)
                goto fail;
        S.stopping = false;
        S.running = true;
        /* The loop takes the signals; a child resets its mask anyway. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (r = 0; r >= 0 && S.n_threads < THREADS; S.n_threads += r >= 0)
                r = -pthread_create(&S.thread[S.n_threads], NULL, spawner_main, (void *) (intptr_t) S.n_threads);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (S.n_threads > 0)
                return 0;
        S.running = false;
fail:
        S.source = sd_event_source_disable_unref(S.source);
        close(S.efd);
        S.efd = -1;
        return r;
}

void sup_spawner_set_async(bool async) {
        S.async = async;
}

bool sup_spawner_is_async(void) {
        return S.running && S.async;
}

/* A result nobody will take: its process is not wanted. */
static void drop(sup_spawn_req *q) {
        if (q->posted && q->r >= 0) {
                (void) kill(q->proc.pid, SIGKILL);
                close(q->proc.control_fd);
        }
        free(q);
}

void sup_spawner_close(void) {
        if (!S.running)
                return;
        pthread_mutex_lock(&S.lock);
        S.stopping = true;
        pthread_cond_broadcast(&S.wake);
        pthread_mutex_unlock(&S.lock);
        for (int i = 0; i < S.n_threads; i++)
                pthread_join(S.thread[i], NULL);
        S.n_threads = 0;
        S.running = S.async = false;
        sup_spawn_req *q;
        while ((q = list_pop(&S.pending)))
                drop(q);
        while ((q = list_pop(&S.queue)))
                drop(q);
        while ((q = list_pop(&S.results)))
                drop(q);
        S.inflight = 0;
        S.source = sd_event_source_disable_unref(S.source);
        close(S.efd);
        S.efd = -1;
}

int sup_spawner_submit(sup_spawner_prepare prepare, sup_spawner_done done, void *userdata, sup_spawn_req **ret) {
        if (!S.running)
                return -ESRCH;
        sup_spawn_req *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->prepare = prepare;
        q->done = done;
        q->userdata = userdata;
        list_push(&S.pending, q);
        *ret = q;
        pump();
        return 0;
}

/* Waits for q's result and takes it out of the results (under S.lock). */
static void await_locked(sup_spawn_req *q) {
        while (!q->posted)
                pthread_cond_wait(&S.posted, &S.lock);
        (void) list_remove(&S.results, q);
}

bool sup_spawner_cancel(sup_spawn_req *q, sup_process *ret) {
        if (list_remove(&S.pending, q)) {
                free(q);
                return false;
        }
        pthread_mutex_lock(&S.lock);
        bool queued = list_remove(&S.queue, q);
        if (!queued)
                await_locked(q);
        pthread_mutex_unlock(&S.lock);
        uncount(q);
        bool spawned = !queued && q->r >= 0;
        if (spawned)
                *ret = q->proc;
        free(q);
        return spawned;
}

int sup_spawner_run(const sup_spawn_params *p, sup_process *ret, const char **ret_step) {
        sup_spawn_req *q;
        if (!S.running)
                return sup_spawn(p, ret, ret_step);
        if (!(q = calloc(1, sizeof(*q))))
                return -ENOMEM;
        q->params = *p;
        hand_over(q);
        pthread_mutex_lock(&S.lock);
        await_locked(q);
        pthread_mutex_unlock(&S.lock);
        int r = q->r;
        *ret_step = q->step;
        if (r >= 0)
                *ret = q->proc;
        free(q);
        return r;
}

bool sup_spawner_claim(pid_t pid) {
        bool ours = false;

        if (!S.running)
                return false;
        pthread_mutex_lock(&S.lock);
        /* Its clone has returned if pid is its child: the wait is short.
         * The kernel stores the pid before the child runs; without that
         * (valgrind), a spawn whose pid is not known yet may be it. */
        for (int i = 0; i < S.n_threads; i++)
                if (S.current[i] && (__atomic_load_n(&S.tid[i], __ATOMIC_ACQUIRE) == pid || S.cloned[i] == pid ||
                                     (S.cloned[i] == 0 && !sup_spawn_sets_parent_tid())))
                        await_current_locked(i);
        for (sup_spawn_req *q = S.results.head; q; q = q->next)
                if (q->r >= 0 && q->proc.pid == pid)
                        ours = true;
        pthread_mutex_unlock(&S.lock);
        deliver_results();
        return ours;
}

void sup_spawner_settle(void) {
        if (!S.running)
                return;
        pthread_mutex_lock(&S.lock);
        /* A spawn whose child does not exist yet is not the writer's. */
        for (int i = 0; i < S.n_threads; i++)
                if (__atomic_load_n(&S.tid[i], __ATOMIC_ACQUIRE) != 0 || S.cloned[i] != 0 ||
                    !sup_spawn_sets_parent_tid())
                        await_current_locked(i);
        pthread_mutex_unlock(&S.lock);
        deliver_results();
}
