/* loop_heap.c: the loop's two binary heaps (loop-internal.h): time
 * sources by due time, pending sources by priority and then by the order
 * they became pending. O(log n) push and remove; each source keeps its
 * index in each heap. */
#include <errno.h>
#include <stdlib.h>

#include "loop-internal.h"

static bool before(gs__heap_kind k, const gs__src *a, const gs__src *b) {
        if (k == GS__HEAP_TIME)
                return a->due < b->due;
        if (a->priority != b->priority)
                return a->priority < b->priority;
        return a->pending_seq < b->pending_seq;
}

static void put(gs__heap *h, size_t i, gs__src *s) {
        h->v[i] = s;
        s->idx[h->kind] = i;
}

static void up(gs__heap *h, size_t i) {
        gs__src *s = h->v[i];

        while (i > 0) {
                size_t p = (i - 1) / 2;
                if (!before(h->kind, s, h->v[p]))
                        break;
                put(h, i, h->v[p]);
                i = p;
        }
        put(h, i, s);
}

static void down(gs__heap *h, size_t i) {
        gs__src *s = h->v[i];

        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= h->n)
                        break;
                if (c + 1 < h->n && before(h->kind, h->v[c + 1], h->v[c]))
                        c++;
                if (!before(h->kind, h->v[c], s))
                        break;
                put(h, i, h->v[c]);
                i = c;
        }
        put(h, i, s);
}

int gs__heap_reserve(gs__heap *h, size_t n) {
        if (n <= h->cap)
                return 0;
        size_t cap = h->cap ? h->cap : 16;
        while (cap < n)
                cap *= 2;
        gs__src **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
                return -ENOMEM;
        h->v = v;
        h->cap = cap;
        return 0;
}

void gs__heap_push(gs__heap *h, gs__src *s) {
        /* Room for every source was reserved when it was added. */
        put(h, h->n++, s);
        up(h, h->n - 1);
}

void gs__heap_remove(gs__heap *h, gs__src *s) {
        size_t i = s->idx[h->kind];

        if (i == GS__HEAP_NONE)
                return;
        s->idx[h->kind] = GS__HEAP_NONE;
        gs__src *last = h->v[--h->n];
        if (i == h->n)
                return;
        put(h, i, last);
        up(h, i);
        down(h, last->idx[h->kind]);
}

gs__src *gs__heap_top(const gs__heap *h) {
        return h->n ? h->v[0] : NULL;
}
