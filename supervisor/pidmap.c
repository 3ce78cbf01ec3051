/* pidmap.c: pid -> object, open addressing (see pidmap.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pidmap.h"

#define MIN_CAP 64

/* Pids are mostly consecutive: a multiplicative hash spreads them. */
static size_t home(const sup_pidmap *m, pid_t pid) {
        return (size_t) (((uint32_t) pid * UINT32_C(2654435761)) & (m->cap - 1));
}

static size_t find_slot(const sup_pidmap *m, pid_t pid) {
        size_t i = home(m, pid);
        while (m->slots[i].pid != 0 && m->slots[i].pid != pid)
                i = (i + 1) & (m->cap - 1);
        return i;
}

static int grow(sup_pidmap *m) {
        size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
        sup_pidmap_slot *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        sup_pidmap old = *m;
        m->slots = slots;
        m->cap = cap;
        for (size_t i = 0; i < old.cap; i++)
                if (old.slots[i].pid != 0)
                        m->slots[find_slot(m, old.slots[i].pid)] = old.slots[i];
        free(old.slots);
        return 0;
}

int sup_pidmap_put(sup_pidmap *m, pid_t pid, void *value) {
        if (pid <= 0)
                return -EINVAL;
        if ((m->n + 1) * 2 > m->cap) {
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        size_t i = find_slot(m, pid);
        if (m->slots[i].pid == 0)
                m->n++;
        m->slots[i] = (sup_pidmap_slot) { .pid = pid, .value = value };
        return 0;
}

void *sup_pidmap_get(const sup_pidmap *m, pid_t pid) {
        if (pid <= 0 || m->n == 0)
                return NULL;
        size_t i = find_slot(m, pid);
        return m->slots[i].pid == pid ? m->slots[i].value : NULL;
}

void sup_pidmap_remove(sup_pidmap *m, pid_t pid, const void *value) {
        if (pid <= 0 || m->n == 0)
                return;
        size_t i = find_slot(m, pid);
        if (m->slots[i].pid != pid || m->slots[i].value != value)
                return;
        /* Backward shift: move up every later entry of the run that may
         * live in the hole, so that no lookup stops short of its entry. */
        size_t mask = m->cap - 1;
        for (size_t j = (i + 1) & mask; m->slots[j].pid != 0; j = (j + 1) & mask) {
                size_t h = home(m, m->slots[j].pid);
                /* j's entry may move to i unless its home lies in (i, j]. */
                if (((j - h) & mask) >= ((j - i) & mask)) {
                        m->slots[i] = m->slots[j];
                        i = j;
                }
        }
        m->slots[i] = (sup_pidmap_slot) { 0 };
        m->n--;
}

void sup_pidmap_done(sup_pidmap *m) {
        if (!m)
                return;
        free(m->slots);
        *m = (sup_pidmap) SUP_PIDMAP_INIT;
}
