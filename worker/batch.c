/* batch.c: the process's clients whose batched casts and requests have
 * not left yet (see batch-internal.h), so that a batched cast leaves at
 * a gen_server's next loop turn, on gs_client_flush_all(), and at exit,
 * even when the program never touches that client again.
 *
 * Clients are used by one thread at a time, but different threads may
 * use different clients, so the list has a lock. It is taken once per
 * batch (when output starts to collect), not once per cast. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "batch-internal.h"
#include "gensup.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static gs__batch *head;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* Each thread may run its own gen_server loop. */
static __thread void (*wakeup_fn)(void *userdata);
static __thread void *wakeup_data;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void unlink_locked(gs__batch *b) {
        if (!b->linked)
                return;
        if (b->prev)
                b->prev->next = b->next;
        else
                __atomic_store_n(&head, b->next, __ATOMIC_RELAXED);
        if (b->next)
                b->next->prev = b->prev;
        b->prev = b->next = NULL;
        b->linked = false;
}

static void on_exit_flush(void) {
        /* Casts that returned are on their way: exit writes them, but a
         * server that does not read cannot hold the process for ever. */
        (void) gs__batch_flush_all(now_ns() + (int64_t) GS__BATCH_EXIT_MS * 1000000, false);
}

/* This process's pid, asked once per process rather than on every
 * flush (a getpid(2) per batch); a child of fork(2) asks again. Only a
 * process that has batched anything uses it, and then register_exit has
 * hooked the fork. */
static pid_t self_pid;

static void on_fork_child(void) {
        __atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED);
}

static pid_t own_pid(void) {
        pid_t p = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);

        if (p == 0) {
                p = getpid();
                __atomic_store_n(&self_pid, p, __ATOMIC_RELAXED);
        }
        return p;
}

static void register_exit(void) {
        (void) atexit(on_exit_flush);
        (void) pthread_atfork(NULL, NULL, on_fork_child);
}

void gs__batch_keep(gs__batch *b) {
        if (b->linked)
                return;
        (void) pthread_once(&exit_once, register_exit);
        b->thread = pthread_self();
        pthread_mutex_lock(&lock);
        b->prev = NULL;
        b->next = head;
        if (head)
                head->prev = b;
        __atomic_store_n(&head, b, __ATOMIC_RELAXED);
        b->linked = true;
        pthread_mutex_unlock(&lock);
}

void gs__batch_note(gs__batch *b) {
        gs__batch_keep(b);
        if (wakeup_fn)
                wakeup_fn(wakeup_data);
}

void gs__batch_forget(gs__batch *b) {
        if (!b->linked)
                return;
        pthread_mutex_lock(&lock);
        unlink_locked(b);
        pthread_mutex_unlock(&lock);
}

void gs__batch_set_wakeup(void (*fn)(void *userdata), void *userdata) {
        wakeup_fn = fn;
        wakeup_data = userdata;
}

/* Takes this process's entries off the list: all, or (turn) those of
 * this thread. Entries inherited over fork are dropped unwritten. */
static gs__batch *take_own(pid_t pid, bool turn) {
        gs__batch *todo = NULL;

        pthread_mutex_lock(&lock);
        for (gs__batch *b = head, *n; b; b = n) {
                n = b->next;
                if (b->pid == pid && turn && !pthread_equal(b->thread, pthread_self()))
                        continue;
                unlink_locked(b);
                if (b->pid != pid)
                        continue;
                b->next = todo;
                todo = b;
        }
        pthread_mutex_unlock(&lock);
        return todo;
}

int gs__batch_flush_all(int64_t deadline, bool turn) {
        /* The common case, every loop turn: nothing batched anywhere. No
         * lock and no getpid() for it (a stale answer only delays a
         * batch of another thread to that thread's own next turn). */
        if (!__atomic_load_n(&head, __ATOMIC_RELAXED))
                return 0;
        gs__batch *todo = take_own(own_pid(), turn);
        int ret = 0;

        /* The list is taken first: a flush may link its entry again
         * (gs__batch_keep), and that one waits for the next time. */
        while (todo) {
                gs__batch *b = todo;
                todo = b->next;
                b->next = NULL;
                int r = b->flush(b, deadline, turn);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

int gs_client_flush_all(void) {
        return gs__batch_flush_all(-1, true);
}
