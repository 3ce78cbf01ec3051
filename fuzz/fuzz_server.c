/* fuzz_server.c: what a server does with the bytes a client sends: the
 * zero-copy decode of data frames (ipc_conn_next_view, as server_conn.c
 * reads) must agree with the full decode (ipc_conn_next, as a suspended
 * server and gensupd read), frame by frame, and every frame must survive
 * being queued again (the fast encoder for data frames). */
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

#define FUZZ_MAX_INPUT 65536   /* fits in a socket's buffer: no writer thread */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A connection that has read all of data and then EOF. */
static ipc_conn *conn_with(const uint8_t *data, size_t size) {
        int sv[2];
        ipc_conn *c;

        assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        assert(ipc_conn_new(sv[1], 0, &c) == 0);
        assert(write(sv[0], data, size) == (ssize_t) size);
        close(sv[0]);
        int r;
        while ((r = ipc_conn_read(c)) > 0)
                ;
        assert(r == -ECONNRESET);
        return c;
}

static void same_frame(const ipc_frame *a, const ipc_frame *b) {
        assert(a->kind == b->kind);
        assert(a->ref == b->ref);
        assert(a->payload.len == b->payload.len);
        assert(a->payload.len == 0 || memcmp(a->payload.data, b->payload.data, a->payload.len) == 0);
}

/* Queues f, sends it, reads it back: it must come back the same. */
static void echo(const ipc_frame *f) {
        int sv[2];
        ipc_conn *out, *in;
        ipc_frame *back = NULL;

        assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        assert(ipc_conn_new(sv[0], 0, &out) == 0);
        assert(ipc_conn_new(sv[1], 0, &in) == 0);
        if (ipc_conn_queue(out, f) == 0 && ipc_conn_flush(out) == 0) {
                int r;
                while ((r = ipc_conn_next(in, &back)) == 0)
                        assert(ipc_conn_read(in) > 0);
                /* What was taken in can be sent on. */
                assert(r == 1);
                same_frame(f, back);
                ipc_frame_free(back);
        }
        ipc_conn_free(out);
        ipc_conn_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > FUZZ_MAX_INPUT)
                size = FUZZ_MAX_INPUT;
        ipc_conn *view = conn_with(data, size), *full = conn_with(data, size);

        for (;;) {
                ipc_frame storage, *v = NULL, *f = NULL;
                ipc_frame_init(&storage, GENSUP__KIND__KIND_UNSPECIFIED, 0);
                int rv = ipc_conn_next_view(view, &storage, &v);
                int rf = ipc_conn_next(full, &f);
                assert(rv == rf);
                if (rv <= 0)
                        break;
                same_frame(v, f);
                echo(v);
                if (v != &storage)
                        ipc_frame_free(v);
                ipc_frame_free(f);
        }
        ipc_conn_free(view);
        ipc_conn_free(full);
        return 0;
}
