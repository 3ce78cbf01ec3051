/* fuzz_frame.c: the frame decoder (ipc/frame.c): the length prefix scan
 * and the protobuf unpack of the body, as every reader runs them. A frame
 * that decodes must encode again to a frame that decodes the same. */
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const ipc_frame *f) {
        size_t n = ipc_frame_wire_size(f);
        uint8_t *buf = malloc(n);
        assert(buf);
        assert(ipc_frame_encode(f, buf) == n);
        size_t header = 0;
        assert(ipc_frame_scan(buf, n, SIZE_MAX, &header) == (int64_t) n);
        ipc_frame *g = ipc_frame_unpack(buf + header, n - header);
        /* Re-encoding is canonical: the second pass must give the same. */
        if (g) {
                assert(g->kind == f->kind && g->ref == f->ref);
                assert(g->payload.len == f->payload.len);
                assert(ipc_frame_wire_size(g) == n);
        }
        ipc_frame_free(g);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t v;
        int k = ipc_varint_decode(data, size, &v);
        if (k > 0) {
                uint8_t enc[10];
                assert(ipc_varint_encode(v, enc) == ipc_varint_size(v));
        }

        /* Every frame in the input, as a connection's reader walks it. */
        while (size > 0) {
                size_t header = 0;
                int64_t n = ipc_frame_scan(data, size, IPC_DEFAULT_MAX_FRAME, &header);
                if (n <= 0)
                        break;
                assert((uint64_t) n <= size && header > 0 && header <= (size_t) n);
                ipc_frame *f = ipc_frame_unpack(data + header, (size_t) n - header);
                if (f)
                        roundtrip(f);
                ipc_frame_free(f);
                data += n;
                size -= (size_t) n;
        }
        return 0;
}
