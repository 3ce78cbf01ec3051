/* strbuf.h: a growing text buffer (strbuf.c), for answers built a piece
 * at a time (control.c's sliced answers, status_stream.c). */
#ifndef GENSUP_STRBUF_H
#define GENSUP_STRBUF_H

#include <stddef.h>

typedef struct sup_strbuf {
        char *data;    /* NUL-terminated once anything was appended; NULL before */
        size_t len;    /* bytes, the NUL not counted */
        size_t cap;
} sup_strbuf;

/* Appends n bytes of s. 0 or -ENOMEM (the buffer is then unchanged). */
int sup_strbuf_append(sup_strbuf *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
int sup_strbuf_puts(sup_strbuf *b, const char *s);
/* Frees the contents; the buffer is empty again. */
void sup_strbuf_done(sup_strbuf *b);

#endif
