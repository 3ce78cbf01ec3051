/* namemap.c: name -> objects, open addressing (see namemap.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "namemap.h"

#define MIN_CAP 64

/* FNV-1a. */
static size_t hash_name(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
        return (size_t) (h ^ (h >> 32));
}

static bool same(const sup_namemap_slot *s, const char *name, size_t hash) {
        return s->hash == hash && strcmp(s->name, name) == 0;
}

static int grow(sup_namemap *m) {
        size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
        sup_namemap_slot *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
                if (!m->slots[i].name)
                        continue;
                size_t j = m->slots[i].hash & (cap - 1);
                while (slots[j].name)
                        j = (j + 1) & (cap - 1);
                slots[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
        return 0;
}

int sup_namemap_add(sup_namemap *m, const char *name, void *value) {
        if (!name)
                return -EINVAL;
        if ((m->n + 1) * 2 > m->cap) {
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        size_t h = hash_name(name), i = h & (m->cap - 1);
        while (m->slots[i].name)
                i = (i + 1) & (m->cap - 1);
        m->slots[i] = (sup_namemap_slot) { .name = name, .hash = h, .value = value };
        m->n++;
        return 0;
}

void *sup_namemap_get_where(const sup_namemap *m, const char *name, bool (*accept)(const void *value, const void *userdata),
                            const void *userdata) {
        if (!name || m->n == 0)
                return NULL;
        size_t h = hash_name(name);
        for (size_t i = h & (m->cap - 1); m->slots[i].name; i = (i + 1) & (m->cap - 1))
                if (same(&m->slots[i], name, h) && (!accept || accept(m->slots[i].value, userdata)))
                        return m->slots[i].value;
        return NULL;
}

void *sup_namemap_get(const sup_namemap *m, const char *name) {
        return sup_namemap_get_where(m, name, NULL, NULL);
}

/* Backward shift from the hole at i: every later entry of the run that
 * may live in the hole moves up, so that no lookup stops short. */
static void close_hole(sup_namemap *m, size_t i) {
        size_t mask = m->cap - 1;
        for (size_t j = (i + 1) & mask; m->slots[j].name; j = (j + 1) & mask) {
                size_t home = m->slots[j].hash & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        m->slots[i] = m->slots[j];
                        i = j;
                }
        }
        m->slots[i] = (sup_namemap_slot) { 0 };
}

void sup_namemap_remove(sup_namemap *m, const char *name, const void *value) {
        if (!name || m->n == 0)
                return;
        size_t h = hash_name(name);
        for (size_t i = h & (m->cap - 1); m->slots[i].name; i = (i + 1) & (m->cap - 1))
                if (m->slots[i].value == value && same(&m->slots[i], name, h)) {
                        close_hole(m, i);
                        m->n--;
                        return;
                }
}

void sup_namemap_done(sup_namemap *m) {
        if (!m)
                return;
        free(m->slots);
        *m = (sup_namemap) SUP_NAMEMAP_INIT;
}
