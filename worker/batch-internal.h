/* batch-internal.h: the process's clients with batched output waiting
 * (batch.c). A client's casts and asynchronous requests collect in its
 * output buffer; this list is how they still leave when nobody calls
 * that client again: on the next turn of a gen_server's loop in this
 * process, on gs_client_flush_all(), and at exit(3).
 *
 * The list knows nothing of gs_client: an entry carries the function
 * that flushes it, so client.c calls in here and never the other way
 * (as reqids.c's gs__req_owner). */
#ifndef GENSUP_BATCH_INTERNAL_H
#define GENSUP_BATCH_INTERNAL_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef GS__HIDDEN
#define GS__HIDDEN __attribute__((visibility("hidden")))
#endif

/* What exit(3) waits at most, in all, for batched output to be written
 * to servers that do not read. */
#define GS__BATCH_EXIT_MS 5000

typedef struct gs__batch gs__batch;
struct gs__batch {
        gs__batch *prev, *next;
        bool linked;
        pid_t pid;   /* the process whose output it is: a fork's child never writes it */
        pthread_t thread;   /* the thread that last queued on it */
        /* Writes what is buffered, waiting up to deadline (CLOCK_MONOTONIC
         * ns, -1 forever) for room. turn: a loop turn, not exit (a corked
         * client keeps its output then, and calls gs__batch_keep). 0 or
         * -errno. */
        int (*flush)(gs__batch *b, int64_t deadline, bool turn);
};

/* Output began to collect on b: link it (once), and tell the loop of
 * this thread's gen_server, if any, to flush at its next turn. */
GS__HIDDEN void gs__batch_note(gs__batch *b);
/* Links b again without waking anyone (it stays for exit). */
GS__HIDDEN void gs__batch_keep(gs__batch *b);
/* b is being freed (or is empty for good). */
GS__HIDDEN void gs__batch_forget(gs__batch *b);
/* A gen_server's loop asks to hear of new batches made in its thread (to
 * arm its flush source). NULL fn: no longer. */
GS__HIDDEN void gs__batch_set_wakeup(void (*fn)(void *userdata), void *userdata);
/* Flushes the linked entries of this process: on a loop turn (turn) only
 * those of the calling thread, at exit all. 0, or the first failure. */
GS__HIDDEN int gs__batch_flush_all(int64_t deadline, bool turn);

#endif
