/* shared_reply.c: a CTL_REPLY whose JSON text is shared, not copied. */
#include <errno.h>
#include <stdlib.h>

#include "shared_reply.h"

struct sup_shared_text {
        unsigned refs;   /* gensupd's loop only: no atomics */
        sup_strbuf text;
};

sup_shared_text *sup_shared_text_new(sup_strbuf *text) {
        sup_shared_text *t = malloc(sizeof(*t));
        if (!t)
                return NULL;
        t->refs = 1;
        t->text = *text;
        *text = (sup_strbuf) { 0 };
        return t;
}

sup_shared_text *sup_shared_text_unref(sup_shared_text *t) {
        if (t && --t->refs == 0) {
                sup_strbuf_done(&t->text);
                free(t);
        }
        return NULL;
}

const char *sup_shared_text_data(const sup_shared_text *t) {
        return t->text.data ? t->text.data : "";
}

size_t sup_shared_text_len(const sup_shared_text *t) {
        return t->text.len;
}

/* Protobuf wire tags: field number << 3 | wire type (0 varint, 2 bytes). */
#define TAG_FRAME_KIND 0x08       /* Frame.kind = 1 */
#define TAG_FRAME_REF 0x10        /* Frame.ref = 2 */
#define TAG_FRAME_CTL_REPLY 0x4a  /* Frame.ctl_reply = 9 */
#define TAG_CTL_REPLY_JSON 0x1a   /* CtlReply.json = 3 */

/* Fields in the order of their numbers, as protobuf-c packs them; proto3
 * leaves out those that are zero or empty (ref 0, code, error, payload). */
size_t sup_ctl_reply_head(uint64_t ref, size_t json_len, uint8_t buf[static SUP_CTL_REPLY_HEAD_MAX]) {
        size_t inner = 1 + ipc_varint_size(json_len) + json_len;
        size_t body = 1 + ipc_varint_size(GENSUP__KIND__CTL_REPLY) + 1 + ipc_varint_size(inner) + inner;
        if (ref != 0)
                body += 1 + ipc_varint_size(ref);
        size_t n = ipc_varint_encode(body, buf);
        buf[n++] = TAG_FRAME_KIND;
        n += ipc_varint_encode(GENSUP__KIND__CTL_REPLY, buf + n);
        if (ref != 0) {
                buf[n++] = TAG_FRAME_REF;
                n += ipc_varint_encode(ref, buf + n);
        }
        buf[n++] = TAG_FRAME_CTL_REPLY;
        n += ipc_varint_encode(inner, buf + n);
        buf[n++] = TAG_CTL_REPLY_JSON;
        n += ipc_varint_encode(json_len, buf + n);
        return n;
}

static void release(void *token) {
        sup_shared_text_unref(token);
}

int sup_shared_reply_queue(ipc_conn *conn, uint64_t ref, sup_shared_text *t) {
        uint8_t head[SUP_CTL_REPLY_HEAD_MAX];
        if (t->text.len == 0)
                return -EINVAL;
        size_t n = sup_ctl_reply_head(ref, t->text.len, head);
        int r = ipc_conn_queue_borrowed(conn, head, n, t->text.data, t->text.len, release, t);
        if (r >= 0)
                t->refs++;
        return r;
}
