/* loop-internal.h: the insides of loop.h, shared by loop.c (rounds and
 * dispatch), loop_source.c (sources) and loop_heap.c (the two heaps).
 * Not installed. */
#ifndef GENSUP_LOOP_INTERNAL_H
#define GENSUP_LOOP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

typedef enum gs__src_type {
        GS__SRC_IO,
        GS__SRC_TIME,
        GS__SRC_DEFER,
        GS__SRC_POST,
        GS__SRC_SIGNAL,
        GS__SRC_CHILD,
        _GS__SRC_TYPE_MAX,
} gs__src_type;

/* A binary heap of sources; each source knows its index in each heap. */
typedef enum gs__heap_kind {
        GS__HEAP_TIME,          /* enabled time sources not pending, by due time */
        GS__HEAP_PENDING,       /* pending sources, by priority, then order */
        _GS__HEAP_KIND_MAX,
} gs__heap_kind;

typedef struct gs__heap {
        gs__heap_kind kind;
        gs__src **v;
        size_t n, cap;
} gs__heap;

#define GS__HEAP_NONE ((size_t) -1)

struct gs__src {
        gs__loop *loop;
        gs__src_type type;
        int enabled;
        int64_t priority;
        unsigned ref;           /* 1, and 1 more while its callback runs */
        bool dead;              /* dropped: freed when the callback returns */
        void *userdata;
        union {
                gs__io_fn *io;
                gs__time_fn *time;
                gs__defer_fn *defer;
                gs__signal_fn *signal;
                gs__child_fn *child;
        } cb;
        size_t idx[_GS__HEAP_KIND_MAX];
        bool pending;           /* in the pending heap, or on l->again */
        bool in_again;
        gs__src *again_prev, *again_next;
        uint64_t pending_seq;   /* order of becoming pending */
        uint64_t round;         /* the round it was last dispatched in */
        gs__src *prev, *next;   /* l->posts, for post sources; l->children */

        int fd;                 /* io; child: the pidfd (owned) */
        uint32_t events, revents;
        bool in_epoll;
        uint64_t due;           /* time: CLOCK_MONOTONIC usec */
        int sig;
        struct signalfd_siginfo ssi;
        pid_t pid;
};

struct gs__loop {
        unsigned ref;           /* the owner's, and one per source */
        size_t n_src;           /* sources not freed yet */
        int epfd;
        int sigfd;              /* -1 until the first signal source */
        sigset_t sigmask;
        gs__src *sig[_NSIG];
        gs__heap time, pending;
        gs__src *posts;
        gs__src *children;      /* child sources without a pidfd (no pidfd_open:
                                 * valgrind 3.19): watched by SIGCHLD */
        gs__src *again;         /* pending, for the next round: dispatched in this one */
        uint64_t seq, round;
        uint64_t now;           /* 0 before the first wait */
        bool exiting;
        int exit_code;
};

/* loop_heap.c */
/* Room for n sources; push never fails then. */
GS__LOOP_HIDDEN int gs__heap_reserve(gs__heap *h, size_t n);
GS__LOOP_HIDDEN void gs__heap_push(gs__heap *h, gs__src *s);
GS__LOOP_HIDDEN void gs__heap_remove(gs__heap *h, gs__src *s);
GS__LOOP_HIDDEN gs__src *gs__heap_top(const gs__heap *h);

/* loop_source.c */
GS__LOOP_HIDDEN void gs__src_pend(gs__src *s);
GS__LOOP_HIDDEN void gs__src_unpend(gs__src *s);
/* Keeps s pending, but for the next round. */
GS__LOOP_HIDDEN void gs__src_pend_later(gs__src *s);
/* SIGCHLD came: the child sources without a pidfd whose child exited
 * become pending. */
GS__LOOP_HIDDEN void gs__loop_children_check(gs__loop *l);
/* The next round: what waited joins the pending heap. */
GS__LOOP_HIDDEN void gs__loop_pend_again(gs__loop *l);
GS__LOOP_HIDDEN void gs__src_free(gs__src *s);
GS__LOOP_HIDDEN void gs__loop_drop_ref(gs__loop *l);

#endif
