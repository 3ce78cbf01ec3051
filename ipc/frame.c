/* frame.c: the pure part of the wire: varints and frame encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int ipc_varint_decode(const uint8_t *buf, size_t len, uint64_t *ret_value) {
        uint64_t v = 0;

        for (size_t i = 0; i < 10; i++) {
                if (i >= len)
                        return 0;
                uint64_t b = buf[i] & 0x7f;
                /* The tenth byte may only carry the top bit of a 64-bit value. */
                if (i == 9 && (buf[i] & 0xfe))
                        return -EBADMSG;
                v |= b << (7 * i);
                if (!(buf[i] & 0x80)) {
                        *ret_value = v;
                        return (int) i + 1;
                }
        }
        return -EBADMSG;
}

size_t ipc_varint_encode(uint64_t v, uint8_t *buf) {
        size_t n = 0;

        while (v >= 0x80) {
                buf[n++] = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        buf[n++] = (uint8_t) v;
        return n;
}

size_t ipc_varint_size(uint64_t v) {
        size_t n = 1;

        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

size_t ipc_frame_wire_size(const ipc_frame *f) {
        size_t body = gensup__frame__get_packed_size(f);
        return ipc_varint_size(body) + body;
}

size_t ipc_frame_encode(const ipc_frame *f, uint8_t *buf) {
        size_t body = gensup__frame__get_packed_size(f);
        size_t n = ipc_varint_encode(body, buf);
        return n + gensup__frame__pack(f, buf + n);
}

int64_t ipc_frame_scan(const uint8_t *buf, size_t len, size_t max_frame, size_t *ret_header) {
        uint64_t body;
        int n = ipc_varint_decode(buf, len, &body);

        if (n <= 0)
                return n;
        if (body > max_frame)
                return -EMSGSIZE;
        if ((uint64_t) n + body > len)
                return 0;
        *ret_header = (size_t) n;
        return (int64_t) ((uint64_t) n + body);
}

/* protobuf-c allocates a struct per element of a repeated field: a few
 * bytes on the wire can cost far more in memory. The budget keeps a
 * frame's unpacked size within a small multiple of its wire size. */
typedef struct budget {
        size_t left;
} budget;

static void *budget_alloc(void *data, size_t size) {
        budget *b = data;
        size_t cost = size + 16;   /* malloc's own overhead, roughly */
        if (cost > b->left)
                return NULL;
        b->left -= cost;
        return malloc(size);
}

static void budget_free(void *data, void *p) {
        free(p);
}

ipc_frame *ipc_frame_unpack(const uint8_t *data, size_t len) {
        budget b = { .left = 4 * len + 4096 };
        ProtobufCAllocator a = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
        /* Freed later with the default allocator: both are malloc/free. */
        ipc_frame *f = gensup__frame__unpack(&a, len, data);

        /* A frame without a kind (an empty body decodes as one) says
         * nothing: garbage. Kinds newer than ours pass, for the receiver
         * to refuse. */
        if (f && f->kind == GENSUP__KIND__KIND_UNSPECIFIED)
                f = ipc_frame_free(f);
        return f;
}

ipc_frame *ipc_frame_free(ipc_frame *f) {
        if (f)
                gensup__frame__free_unpacked(f, NULL);
        return NULL;
}

void ipc_frame_init(ipc_frame *f, Gensup__Kind kind, uint64_t ref) {
        gensup__frame__init(f);
        f->kind = kind;
        f->ref = ref;
}
