/* strv.h: strings and NULL-terminated string vectors (argv, environments). */
#ifndef GENSUP_STRV_H
#define GENSUP_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* The number of strings before the NULL; 0 for a NULL vector. */
size_t sup_strv_length(char *const *v);
/* A deep copy (NULL for a NULL vector), or NULL on ENOMEM. */
char **sup_strv_copy(char *const *v);
/* Frees the strings and the vector; NULL allowed. Returns NULL. */
char **sup_strv_free(char **v);

/* Whether a and b hold the same text; NULL equals only NULL. */
bool sup_streq(const char *a, const char *b);
/* Whether the two vectors hold the same strings in the same order. */
bool sup_strv_equal(char *const *a, char *const *b);

#endif
