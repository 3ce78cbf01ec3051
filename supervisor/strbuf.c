/* strbuf.c: a growing text buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int sup_strbuf_append(sup_strbuf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->data, cap);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int sup_strbuf_puts(sup_strbuf *b, const char *s) {
        return sup_strbuf_append(b, s, strlen(s));
}

void sup_strbuf_done(sup_strbuf *b) {
        free(b->data);
        *b = (sup_strbuf) { 0 };
}
