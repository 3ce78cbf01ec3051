/* pidmap.h: a map from a pid to the object that stands for it, so that
 * gensupd finds the child a message came from (READY=1 on NOTIFY_SOCKET)
 * in O(1), however large the tree (100,000 children and more).
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones); the table doubles when half full. Owned by tree.c. */
#ifndef GENSUP_PIDMAP_H
#define GENSUP_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

typedef struct sup_pidmap_slot {
        pid_t pid;              /* 0: empty */
        void *value;
} sup_pidmap_slot;

typedef struct sup_pidmap {
        sup_pidmap_slot *slots;
        size_t cap;             /* 0 or a power of two */
        size_t n;
} sup_pidmap;

#define SUP_PIDMAP_INIT { NULL, 0, 0 }

/* Maps pid (> 0) to value, replacing what it mapped to. 0, -EINVAL,
 * -ENOMEM (the map is unchanged then). */
int sup_pidmap_put(sup_pidmap *m, pid_t pid, void *value);
/* What pid maps to, or NULL. */
void *sup_pidmap_get(const sup_pidmap *m, pid_t pid);
/* Forgets pid, if it maps to value (a pid reused meanwhile keeps its new
 * owner). */
void sup_pidmap_remove(sup_pidmap *m, pid_t pid, const void *value);
/* Frees the table; the map is empty again. NULL ok. */
void sup_pidmap_done(sup_pidmap *m);

#endif
