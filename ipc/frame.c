/* frame.c: the pure part of the wire: varints, frame encoding and
 * decoding (unknown fields skipped, memory bounded). */
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

/* ---- unknown fields ---- */

/* The end of the field that starts at in[at] (its key already read, of
 * wire type wt): *ret_body is where a length-delimited field's bytes
 * start. Returns the offset after the field, or -EBADMSG. */
static int64_t field_end(const uint8_t *in, size_t len, size_t at, unsigned wt, size_t *ret_body) {
        uint64_t v;
        int n;

        switch (wt) {
        case 0:
                n = ipc_varint_decode(in + at, len - at, &v);
                return n <= 0 ? -EBADMSG : (int64_t) (at + (size_t) n);
        case 1:
                return len - at < 8 ? -EBADMSG : (int64_t) (at + 8);
        case 5:
                return len - at < 4 ? -EBADMSG : (int64_t) (at + 4);
        case 2:
                n = ipc_varint_decode(in + at, len - at, &v);
                if (n <= 0 || v > len - at - (size_t) n)
                        return -EBADMSG;
                *ret_body = at + (size_t) n;
                return (int64_t) (*ret_body + v);
        default:
                /* Groups (3, 4) are not proto3; 6 and 7 do not exist. */
                return -EBADMSG;
        }
}

/* Walks the fields of a message of type desc in in[0..len). Fields desc
 * does not know are counted in *unknown and, when out is not NULL, left
 * out of the copy written there (at most len bytes); known sub-messages
 * are walked the same way. Returns the bytes written (0 when out is
 * NULL) or -EBADMSG. protobuf-c keeps each unknown field it meets, a
 * struct and a copy apiece, so a small frame of many could cost a
 * thousand times its size: they are dropped here instead, at no cost. */
static int64_t walk(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len, uint8_t *out,
                    size_t *unknown) {
        size_t at = 0, o = 0;

        while (at < len) {
                size_t start = at, body = 0;
                uint64_t key;
                int n = ipc_varint_decode(in + at, len - at, &key);
                if (n <= 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
                        return -EBADMSG;
                at += (size_t) n;
                int64_t end = field_end(in, len, at, (unsigned) (key & 7), &body);
                if (end < 0)
                        return end;
                at = (size_t) end;
                const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(desc, (unsigned) (key >> 3));
                if (!fd) {
                        (*unknown)++;
                        continue;
                }
                if ((key & 7) != 2 || fd->type != PROTOBUF_C_TYPE_MESSAGE) {
                        if (out)
                                memcpy(out + o, in + start, at - start);
                        o += at - start;
                        continue;
                }
                /* A sub-message: the key, then its walked bytes under a
                 * new length prefix (never longer than the old one). */
                size_t klen = (size_t) n, plen = body - start - klen;
                uint8_t *sub = out ? out + o + klen + plen : NULL;
                int64_t m = walk(fd->descriptor, in + body, at - body, sub, unknown);
                if (m < 0)
                        return m;
                if (!out)
                        continue;
                memcpy(out + o, in + start, klen);
                size_t k = ipc_varint_encode((uint64_t) m, out + o + klen);
                memmove(out + o + klen + k, sub, (size_t) m);
                o += klen + k + (size_t) m;
        }
        return out ? (int64_t) o : 0;
}

ipc_frame *ipc_frame_unpack(const uint8_t *data, size_t len) {
        budget b = { .left = 4 * len + 4096 };
        ProtobufCAllocator a = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
        size_t unknown = 0;
        uint8_t *known = NULL;

        if (walk(&gensup__frame__descriptor, data, len, NULL, &unknown) < 0)
                return NULL;
        if (unknown > 0) {
                /* Decode what we know of it, as if the rest were not there. */
                known = malloc(len);
                if (!known)
                        return NULL;
                unknown = 0;
                int64_t n = walk(&gensup__frame__descriptor, data, len, known, &unknown);
                if (n < 0) {
                        free(known);
                        return NULL;
                }
                data = known;
                len = (size_t) n;
        }
        /* Freed later with the default allocator: both are malloc/free. */
        ipc_frame *f = gensup__frame__unpack(&a, len, data);
        free(known);

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
