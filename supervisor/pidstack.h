/* pidstack.h: pids in the order they were pushed, newest on top, for
 * the reaper's choice of which children hold a pidfd. An entry may go
 * stale (its child left the state it was pushed for): the caller's keep
 * predicate says which entries still count, pop skips the others, and
 * push drops them when the stack is full, so the stack stays within
 * twice the entries that count (amortised O(1) per push). */
#ifndef GENSUP_PIDSTACK_H
#define GENSUP_PIDSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef bool (*sup_pidstack_keep)(pid_t pid, void *userdata);

typedef struct sup_pidstack {
        pid_t *v;
        size_t n, cap;
        sup_pidstack_keep keep;
        void *userdata;
} sup_pidstack;

/* Pushes pid; out of memory, pid is not pushed (-ENOMEM). */
int sup_pidstack_push(sup_pidstack *st, pid_t pid);
/* Takes the newest pid that keep accepts off the stack; 0 when none. */
pid_t sup_pidstack_pop(sup_pidstack *st);
/* Frees the entries; the stack is empty and usable again. */
void sup_pidstack_done(sup_pidstack *st);

#endif
