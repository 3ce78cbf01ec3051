/* buf.c: growable byte buffers (gs_buf). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gensup.h"

void gs_buf_done(gs_buf *b) {
        free(b->data);
        *b = (gs_buf) GS_BUF_INIT;
}

void gs_buf_clear(gs_buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
}

/* Room for len more bytes plus a NUL that is never counted. */
static int reserve(gs_buf *b, size_t more) {
        if (more > SIZE_MAX / 2 - b->len)
                return -ENOMEM;
        size_t need = b->len + more + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int gs_buf_append(gs_buf *b, const void *data, size_t len) {
        int r = reserve(b, len);
        if (r < 0)
                return r;
        if (len > 0)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
        return 0;
}

int gs_buf_set(gs_buf *b, const void *data, size_t len) {
        gs_buf_clear(b);
        return gs_buf_append(b, data, len);
}

int gs_buf_printf(gs_buf *b, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        int r = reserve(b, (size_t) n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
        return 0;
}

int gs_buf_pack(gs_buf *b, const ProtobufCMessage *msg) {
        size_t n = protobuf_c_message_get_packed_size(msg);

        gs_buf_clear(b);
        int r = reserve(b, n);
        if (r < 0)
                return r;
        b->len = protobuf_c_message_pack(msg, b->data);
        b->data[b->len] = 0;
        return 0;
}
