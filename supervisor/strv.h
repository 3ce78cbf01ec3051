/* strv.h: NULL-terminated string vectors (argv, environments). */
#ifndef GENSUP_STRV_H
#define GENSUP_STRV_H

#include <stddef.h>

/* The number of strings before the NULL; 0 for a NULL vector. */
size_t sup_strv_length(char *const *v);
/* A deep copy (NULL for a NULL vector), or NULL on ENOMEM. */
char **sup_strv_copy(char *const *v);
/* Frees the strings and the vector; NULL allowed. Returns NULL. */
char **sup_strv_free(char **v);

#endif
