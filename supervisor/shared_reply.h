/* shared_reply.h: one answer's text sent to every client that asked for
 * it, without a copy per client (shared_reply.c).
 *
 * A big status is about a megabyte of JSON. Packed into a frame for each
 * recipient, it was copied once into the frame and once more by sendmsg;
 * here the CTL_REPLY frame's first bytes are encoded by hand (the same
 * bytes protobuf-c packs) and the text goes out from the one buffer all
 * recipients share, written as each socket takes it. The buffer lives as
 * long as the last recipient that has not written it all. */
#ifndef GENSUP_SHARED_REPLY_H
#define GENSUP_SHARED_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "strbuf.h"

typedef struct sup_shared_text sup_shared_text;

/* A shared text with one reference, taking text's buffer (text is empty
 * afterwards). NULL on ENOMEM, text then untouched. */
sup_shared_text *sup_shared_text_new(sup_strbuf *text);
/* Drops a reference; the last frees the text. Returns NULL. */
sup_shared_text *sup_shared_text_unref(sup_shared_text *t);
const char *sup_shared_text_data(const sup_shared_text *t);
size_t sup_shared_text_len(const sup_shared_text *t);

/* The bytes at most before a CTL_REPLY's JSON text: the length prefix,
 * kind, ref, the CtlReply's tag and length, the json field's. */
#define SUP_CTL_REPLY_HEAD_MAX 48
/* Writes into buf the wire form of Frame{kind CTL_REPLY, ref,
 * ctl_reply {json: json_len bytes}} up to the JSON text (code 0, no
 * error, no payload), as gensup__frame__pack with its length prefix would
 * write it. json_len > 0. Returns the bytes written. */
size_t sup_ctl_reply_head(uint64_t ref, size_t json_len, uint8_t buf[static SUP_CTL_REPLY_HEAD_MAX]);

/* Queues that frame with t's text on conn, the text not copied: conn
 * holds a reference until it has written it all or is freed. 0, or
 * ipc_conn_queue_borrowed's -errno (-EBUSY: queue a copy instead),
 * -EINVAL for an empty text. */
int sup_shared_reply_queue(ipc_conn *conn, uint64_t ref, sup_shared_text *t);

#endif
