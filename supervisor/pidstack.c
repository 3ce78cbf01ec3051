/* pidstack.c: see pidstack.h. */
#include <errno.h>
#include <stdlib.h>

#include "pidstack.h"

static void compact(sup_pidstack *st) {
        size_t k = 0;
        for (size_t i = 0; i < st->n; i++)
                if (st->keep(st->v[i], st->userdata))
                        st->v[k++] = st->v[i];
        st->n = k;
}

int sup_pidstack_push(sup_pidstack *st, pid_t pid) {
        if (st->n == st->cap) {
                compact(st);
                if (2 * st->n >= st->cap) {
                        size_t cap = st->cap ? 2 * st->cap : 64;
                        pid_t *v = reallocarray(st->v, cap, sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        st->v = v;
                        st->cap = cap;
                }
        }
        st->v[st->n++] = pid;
        return 0;
}

pid_t sup_pidstack_pop(sup_pidstack *st) {
        while (st->n > 0) {
                pid_t pid = st->v[--st->n];
                if (st->keep(pid, st->userdata))
                        return pid;
        }
        return 0;
}

void sup_pidstack_done(sup_pidstack *st) {
        free(st->v);
        st->v = NULL;
        st->n = st->cap = 0;
}
