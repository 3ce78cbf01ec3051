/* namemap.h: a map from a name to the objects that bear it, so that
 * gensupd finds a child by name, and checks that a new name is free, in
 * O(1) however large the tree (100,000 children and more): a start_child
 * or a simple_one_for_one instance no longer walks every sibling.
 *
 * The map borrows its keys: each is the name string of the object it
 * maps to, valid while that object is in the map. One name may map to
 * several objects (a nested supervisor may reuse a name); lookups return
 * one of them. Open addressing with linear probing and backward-shift
 * deletion; the table doubles when half full. */
#ifndef GENSUP_NAMEMAP_H
#define GENSUP_NAMEMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sup_namemap_slot {
        const char *name;       /* NULL: empty */
        size_t hash;
        void *value;
} sup_namemap_slot;

typedef struct sup_namemap {
        sup_namemap_slot *slots;
        size_t cap;             /* 0 or a power of two */
        size_t n;
} sup_namemap;

#define SUP_NAMEMAP_INIT { NULL, 0, 0 }

/* Adds name -> value (name is borrowed: it must stay valid until
 * removed). 0, -EINVAL, -ENOMEM (the map is unchanged then). */
int sup_namemap_add(sup_namemap *m, const char *name, void *value);
/* An object named name, or NULL. */
void *sup_namemap_get(const sup_namemap *m, const char *name);
/* An object named name for which accept(value, userdata) holds, or NULL. */
void *sup_namemap_get_where(const sup_namemap *m, const char *name, bool (*accept)(const void *value, const void *userdata),
                            const void *userdata);
/* Removes name -> value, if there. */
void sup_namemap_remove(sup_namemap *m, const char *name, const void *value);
/* Frees the table; the map is empty again. NULL ok. */
void sup_namemap_done(sup_namemap *m);

#endif
