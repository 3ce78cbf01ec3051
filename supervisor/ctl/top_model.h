/* top_model.h: what `gensupctl top` shows (top_model.c), apart from the
 * screen: one row per child from a status document, the figures that
 * need two samples (CPU%, calls/s, restarts in the last minute) kept per
 * child name between refreshes, and the sort. Pure but for the clock the
 * caller passes: the same code serves the screen and --batch. */
#ifndef GENSUP_CTL_TOP_MODEL_H
#define GENSUP_CTL_TOP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum top_sort {
        TOP_SORT_TREE,       /* start order, depth first */
        TOP_SORT_NAME,
        TOP_SORT_CPU,
        TOP_SORT_MEM,
        TOP_SORT_RESTARTS,   /* in the last minute */
        TOP_SORT_UPTIME,
        TOP_SORT_CALLS,
        TOP_SORT_QUEUE,      /* message queue length */
        _TOP_SORT_MAX,
} top_sort;

const char *top_sort_to_string(top_sort s);

typedef struct top_row {
        const char *name;          /* borrowed from the model's document */
        const char *state;
        bool supervisor;
        int depth;
        size_t order;              /* start order in the tree */
        long long pid;             /* 0: none */
        uint64_t uptime_ms;
        uint64_t restarts;         /* all its life */
        uint64_t restarts_min;     /* in the last minute (since top started, if less) */
        double cpu_pct;            /* < 0: unknown */
        long long mem_bytes;       /* cgroup memory, else the server's RSS; < 0 unknown */
        double calls_s;            /* gen_servers; < 0 unknown */
        long long queue;           /* gen_servers: message queue length; < 0 unknown */
} top_row;

typedef struct top_track top_track;   /* per child name, across refreshes */

typedef struct top_model {
        json_t *doc;               /* the latest status */
        top_row *rows;
        size_t n_rows;
        top_track *tracks;         /* sorted by name */
        size_t n_tracks;
        uint64_t now_ms;
        top_sort sort;
        bool reverse;
} top_model;

/* Takes doc (a status document) as the model's new state at now_ms
 * (CLOCK_MONOTONIC): rows rebuilt, per-child samples updated, sorted.
 * 0 or -ENOMEM. */
int top_model_update(top_model *m, json_t *doc, uint64_t now_ms);
/* Adds a server's statistics document (calls, queue length) to the row
 * named there. */
void top_model_statistics(top_model *m, json_t *stats);
/* Sorts the rows by m->sort (and m->reverse). */
void top_model_sort(top_model *m);
void top_model_done(top_model *m);

#endif
