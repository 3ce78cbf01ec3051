/* strv.c: strings and NULL-terminated string vectors. */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

size_t sup_strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

char **sup_strv_copy(char *const *v) {
        if (!v)
                return NULL;
        size_t n = sup_strv_length(v);
        char **copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(v[i])))
                        return sup_strv_free(copy);
        return copy;
}

char **sup_strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
        return NULL;
}

bool sup_streq(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool sup_strv_equal(char *const *a, char *const *b) {
        size_t n = sup_strv_length(a);
        if (n != sup_strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!sup_streq(a[i], b[i]))
                        return false;
        return true;
}
