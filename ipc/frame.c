/* frame.c: the pure part of the wire: varints and frame encoding. */
#include <errno.h>
#include <stdbool.h>
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

/* protobuf-c takes field number 0, which protobuf forbids, as an unknown
 * field when its tag is spelled in two bytes or more, and refuses it in
 * one: such a frame could not even be sent on as it came (fuzz_server
 * found it). Refused here, in every nested message too. */
static bool has_field_zero(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *d = m->descriptor;
        const char *base = (const char *) m;

        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                if (m->unknown_fields[i].tag == 0)
                        return true;
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *fd = &d->fields[i];
                if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) (base + fd->quantifier_offset);
                        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) (base + fd->offset);
                        for (size_t k = 0; k < n; k++)
                                if (has_field_zero(v[k]))
                                        return true;
                } else {
                        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) (base + fd->offset);
                        if (sub && has_field_zero(sub))
                                return true;
                }
        }
        return false;
}

ipc_frame *ipc_frame_unpack(const uint8_t *data, size_t len) {
        budget b = { .left = 4 * len + 4096 };
        ProtobufCAllocator a = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
        /* Freed later with the default allocator: both are malloc/free. */
        ipc_frame *f = gensup__frame__unpack(&a, len, data);

        /* A frame without a kind (an empty body decodes as one) says
         * nothing: garbage. Kinds newer than ours pass, for the receiver
         * to refuse. */
        if (f && (f->kind == GENSUP__KIND__KIND_UNSPECIFIED || has_field_zero(&f->base)))
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
