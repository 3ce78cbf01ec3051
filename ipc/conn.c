/* conn.c: a framed connection on a non-blocking SOCK_STREAM Unix socket.
 *
 * Reads fill an input buffer with as many bytes as the socket has; frames
 * are then taken out of it one by one, so many frames cost one read.
 * Writes append to an output buffer that the owner flushes once per loop
 * iteration, so many frames cost one write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc.h"

#define READ_CHUNK (64u * 1024u)
#define VARINT_MAX 10u

typedef struct pending_fd {
        size_t offset;   /* absolute output offset of the byte it travels with */
        int fd;
} pending_fd;

struct ipc_conn {
        int fd;
        size_t max_frame;       /* frames written */
        size_t max_in;          /* frames read */

        uint8_t *in;
        size_t in_start, in_end, in_cap;

        uint8_t *out;
        size_t out_start, out_end, out_cap;
        size_t out_base;   /* absolute offset of out[0], for pending fds */

        bool accept_fds;   /* keep fds that come with frames (else closed) */
        int in_fds[IPC_MAX_PENDING_FDS];
        size_t n_in_fds;
        size_t max_in_fds;   /* held at most; more are closed */

        bool memfd_in;       /* frames with memfd_len are taken */
        size_t memfd_min;    /* payloads from this size leave in a memfd; 0: never */
        uint8_t *mbuf;       /* memfd payloads taken as views are copied here */
        size_t mbuf_cap;

        pending_fd *out_fds;
        size_t n_out_fds, cap_out_fds;

        /* A segment of the output written from its owner's memory
         * (ipc_conn_queue_borrowed): ext_len bytes at ext, of which
         * ext_done are written, going out after the output buffer's bytes
         * up to the absolute offset ext_at and before the rest. */
        const uint8_t *ext;
        size_t ext_len, ext_done, ext_at;
        void (*ext_release)(void *token);
        void *ext_token;

        size_t sndbuf;     /* SO_SNDBUF we asked for; 0: the system's default */
        bool blocking;     /* O_NONBLOCK cleared by ipc_conn_read_wait */
        int rcvtimeo_ms;   /* SO_RCVTIMEO as last set; INT_MIN: unknown */

        /* A large REPLY read straight into its owner's buffer
         * (ipc_conn_sink_arm). */
        uint64_t sink_ref;               /* armed for this ref; 0: not armed */
        ipc_sink_reserve sink_reserve;
        void *sink_ud;
        uint8_t *sink;                   /* the payload's place; NULL: dropped */
        size_t sink_len, sink_have;      /* payload bytes, and read so far */
        uint64_t sink_frame_ref;
        bool sink_active;                /* a payload is being read so */
        bool sink_ready;                 /* read: next_view hands it out */
};

int ipc_conn_new(int fd, size_t max_frame, ipc_conn **ret) {
        ipc_conn *c = calloc(1, sizeof(*c));

        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK))
                (void) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        c->fd = fd;
        c->max_frame = c->max_in = max_frame ? max_frame : IPC_DEFAULT_MAX_FRAME;
        c->rcvtimeo_ms = INT_MIN;
        c->max_in_fds = IPC_MAX_PENDING_FDS;
        *ret = c;
        return 0;
}

static void ext_release(ipc_conn *c);

ipc_conn *ipc_conn_free(ipc_conn *c) {
        if (!c)
                return NULL;
        ext_release(c);
        free(c->mbuf);
        if (c->fd >= 0)
                close(c->fd);
        for (size_t i = 0; i < c->n_in_fds; i++)
                close(c->in_fds[i]);
        for (size_t i = 0; i < c->n_out_fds; i++)
                close(c->out_fds[i].fd);
        free(c->out_fds);
        free(c->in);
        free(c->out);
        free(c);
        return NULL;
}

void ipc_conn_shrink(ipc_conn *c) {
        c->mbuf = (free(c->mbuf), NULL);
        c->mbuf_cap = 0;
        if (c->in_start == c->in_end) {
                free(c->in);
                c->in = NULL;
                c->in_cap = c->in_start = c->in_end = 0;
        }
        if (c->out_start == c->out_end && c->n_out_fds == 0 && !c->ext) {
                free(c->out);
                c->out = NULL;
                c->out_base += c->out_start;
                c->out_cap = c->out_start = c->out_end = 0;
        }
}

void ipc_conn_set_accept_fds(ipc_conn *c, bool accept) {
        c->accept_fds = accept;
}

void ipc_conn_set_memfd(ipc_conn *c, bool in, size_t out_min) {
        if (in && !c->memfd_in) {
                c->accept_fds = true;
                c->max_in_fds = IPC_MEMFD_MAX_HELD;
        }
        c->memfd_in = in;
        c->memfd_min = out_min;
}

int ipc_conn_fd(const ipc_conn *c) {
        return c->fd;
}

void ipc_conn_set_max_frame(ipc_conn *c, size_t max_frame) {
        c->max_frame = c->max_in = max_frame ? max_frame : IPC_DEFAULT_MAX_FRAME;
}

void ipc_conn_set_max_in(ipc_conn *c, size_t max_in) {
        c->max_in = max_in ? max_in : c->max_frame;
}

/* Makes room for at least want more bytes at in_end. */
static int in_reserve(ipc_conn *c, size_t want) {
        if (c->in_start == c->in_end)
                c->in_start = c->in_end = 0;
        if (c->in_cap - c->in_end >= want)
                return 0;
        if (c->in_start > 0) {
                memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
                c->in_end -= c->in_start;
                c->in_start = 0;
                if (c->in_cap - c->in_end >= want)
                        return 0;
        }
        size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
        while (cap - c->in_end < want)
                cap *= 2;
        uint8_t *p = realloc(c->in, cap);
        if (!p)
                return -ENOMEM;
        c->in = p;
        c->in_cap = cap;
        return 0;
}

static void keep_fds(ipc_conn *c, struct msghdr *mh) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) CMSG_DATA(cm);
                for (size_t i = 0; i < n; i++) {
                        /* A peer cannot make us hold fds without bound, nor
                         * any where nobody takes them. */
                        if (c->accept_fds && c->n_in_fds < c->max_in_fds)
                                c->in_fds[c->n_in_fds++] = fds[i];
                        else
                                close(fds[i]);
                }
        }
}

static size_t sink_iov(ipc_conn *c, struct iovec iov[2]);
static void sink_got(ipc_conn *c, size_t n);

static int conn_recv(ipc_conn *c, int flags) {
        int r = in_reserve(c, READ_CHUNK);
        if (r < 0)
                return r;

        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS_PER_READ)];
        } control;
        struct iovec iov[2];
        size_t n_iov = sink_iov(c, iov);
        struct msghdr mh = {
                .msg_iov = iov,
                .msg_iovlen = n_iov,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };

        ssize_t n;
        do
                n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | flags);
        while (n < 0 && errno == EINTR && (flags & MSG_DONTWAIT));
        if (n < 0 && errno == EINTR)
                return -EINTR;
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return -EAGAIN;
                if (errno == EPIPE)
                        return -ECONNRESET;
                return -errno;
        }
        if (mh.msg_controllen > 0)
                keep_fds(c, &mh);
        if (n == 0)
                return -ECONNRESET;
        sink_got(c, (size_t) n);
        return (int) (n > INT32_MAX ? INT32_MAX : n);
}

int ipc_conn_read(ipc_conn *c) {
        return conn_recv(c, MSG_DONTWAIT);
}

int ipc_conn_read_wait(ipc_conn *c, int timeout_ms) {
        if (timeout_ms == 0)
                return conn_recv(c, MSG_DONTWAIT);
        if (!c->blocking) {
                /* Every other read and write here passes MSG_DONTWAIT, so
                 * only this one blocks. */
                int flags = fcntl(c->fd, F_GETFL);
                if (flags < 0)
                        return -errno;
                if ((flags & O_NONBLOCK) && fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                        return -errno;
                c->blocking = true;
        }
        if (timeout_ms < 0)
                timeout_ms = -1;
        if (timeout_ms != c->rcvtimeo_ms) {
                /* A zero timeval means no timeout at all. */
                struct timeval tv = { 0, 0 };
                if (timeout_ms > 0) {
                        tv.tv_sec = timeout_ms / 1000;
                        tv.tv_usec = (timeout_ms % 1000) * 1000;
                }
                if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
                c->rcvtimeo_ms = timeout_ms;
        }
        return conn_recv(c, 0);
}

/* The fd that came with a frame claiming a memfd payload of len bytes,
 * checked. Returns it or -EBADMSG, -EMSGSIZE. */
static int memfd_take(ipc_conn *c, const ipc_frame *f) {
        if (!c->memfd_in || f->payload.len > 0)
                return -EBADMSG;
        int fd = ipc_conn_take_fd(c);
        if (fd < 0)
                return -EBADMSG;
        int r = ipc_memfd_check(fd, f->memfd_len, c->max_in);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

/* The frame's payload, read out of its memfd: into the connection's
 * memfd buffer, kept for the next one (a view: valid until the next
 * frame, as every view), or (owned) into a buffer of the frame's own. */
static int memfd_payload(ipc_conn *c, ipc_frame *f, bool owned) {
        int fd = memfd_take(c, f);
        if (fd < 0)
                return fd;
        size_t len = (size_t) f->memfd_len;
        uint8_t *p = owned ? malloc(len) : c->mbuf;
        if (!owned && len > c->mbuf_cap) {
                p = realloc(c->mbuf, len);
                if (p) {
                        c->mbuf = p;
                        c->mbuf_cap = len;
                }
        }
        int r = p ? ipc_memfd_read(fd, p, len) : -ENOMEM;
        close(fd);
        if (r < 0) {
                if (owned)
                        free(p);
                return r;
        }
        f->payload.data = p;
        f->payload.len = len;
        return 0;
}

static int sink_take(ipc_conn *c, ipc_frame *storage, ipc_frame **ret);
static int sink_take_owned(ipc_conn *c, ipc_frame **ret);

int ipc_conn_next(ipc_conn *c, ipc_frame **ret) {
        size_t avail = c->in_end - c->in_start;
        size_t header;

        if (c->sink_ready)
                return sink_take_owned(c, ret);
        /* Nothing buffered (c->in may be NULL then: NULL + 0 is undefined). */
        if (avail == 0)
                return 0;
        int64_t wire = ipc_frame_scan(c->in + c->in_start, avail, c->max_in, &header);

        if (wire < 0)
                return (int) wire;
        if (wire == 0) {
                /* A frame larger than the buffer: grow it now so that the next
                 * read can complete it (scan has checked the limit). */
                uint64_t body;
                if (ipc_varint_decode(c->in + c->in_start, avail, &body) > 0) {
                        int r = in_reserve(c, (size_t) body + VARINT_MAX - avail);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        ipc_frame *f = ipc_frame_unpack(c->in + c->in_start + header, (size_t) wire - header);
        if (!f)
                return -EBADMSG;
        c->in_start += (size_t) wire;
        if (f->memfd_len > 0) {
                int r = memfd_payload(c, f, true);
                if (r < 0) {
                        ipc_frame_free(f);
                        return r;
                }
        }
        *ret = f;
        return 1;
}

/* The frames that carry data (CALL, CAST, REPLY, INFO) hold a kind, a ref
 * and a payload and nothing else. Those are decoded and encoded here by
 * hand: protobuf-c's generic walk over the descriptor, its two mallocs
 * (message and payload copy) and the frees cost more than the rest of a
 * frame's handling. Everything else goes through protobuf-c. The bytes
 * are the same as protobuf-c's: fields in order, zero fields left out. */

/* Varints of one byte, which every field of a small data frame is but
 * the ref, inline: a call into frame.c per field was a tenth of the
 * client's time per batched cast. */
static inline size_t vsize(uint64_t v) {
        return v < 0x80 ? 1 : ipc_varint_size(v);
}

static inline size_t venc(uint64_t v, uint8_t *out) {
        if (v < 0x80) {
                *out = (uint8_t) v;
                return 1;
        }
        return ipc_varint_encode(v, out);
}

static inline int vdec(const uint8_t *buf, size_t len, uint64_t *ret) {
        if (len > 0 && buf[0] < 0x80) {
                *ret = buf[0];
                return 1;
        }
        return ipc_varint_decode(buf, len, ret);
}

/* Decodes a body made only of fields 1 (kind), 2 (ref), 3 (payload) and
 * 14 (memfd_len), each at most once, into *f with the payload pointing into buf. Returns 1
 * on success, 0 if the body holds anything else (protobuf-c decides). */
static int simple_decode(const uint8_t *buf, size_t len, ipc_frame *f) {
        size_t at = 0;
        unsigned seen = 0;
        uint64_t kind = 0, ref = 0, memfd_len = 0;
        ProtobufCBinaryData payload = { 0, NULL };

        /* Decoded into locals and stored at the end: the other fields of
         * *f are left as they are (ipc_frame_init's, see ipc.h), as a
         * full init per frame cost more than the decoding. */
        while (at < len) {
                uint8_t tag = buf[at++];
                uint64_t v;
                int n;

                if (tag != 0x08 && tag != 0x10 && tag != 0x1a && tag != 0x70)
                        return 0;
                unsigned bit = 1u << (tag >> 3);
                if (seen & bit)
                        return 0;
                seen |= bit;
                n = vdec(buf + at, len - at, &v);
                if (n <= 0)
                        return 0;
                at += (size_t) n;
                switch (tag) {
                case 0x08:
                        kind = v;
                        break;
                case 0x10:
                        ref = v;
                        break;
                case 0x70:
                        memfd_len = v;
                        break;
                default:
                        if (v > len - at)
                                return 0;
                        payload.len = (size_t) v;
                        payload.data = v > 0 ? (uint8_t *) buf + at : NULL;
                        at += (size_t) v;
                        break;
                }
        }
        /* Only the kinds that carry data: a view is never an answer that
         * its reader keeps (SYS_REPLY) or a frame it must copy first. */
        switch (kind) {
        case GENSUP__KIND__CALL:
        case GENSUP__KIND__CAST:
        case GENSUP__KIND__REPLY:
        case GENSUP__KIND__INFO:
                break;
        default:
                return 0;
        }
        f->kind = (Gensup__Kind) kind;
        f->ref = ref;
        f->payload = payload;
        f->memfd_len = memfd_len;
        return 1;
}

static bool is_simple(const ipc_frame *f) {
        return (int) f->kind > 0 && (!f->reason || !*f->reason) && f->code == 0 && !f->sys && !f->sys_reply && !f->ctl &&
               !f->ctl_reply && !f->event && !f->stopped_by && (!f->vsn || !*f->vsn) && !f->handoff &&
               f->memfd_len == 0 && f->features == 0 && f->memfd_min == 0 &&
               f->base.n_unknown_fields == 0;
}

static size_t simple_size(const ipc_frame *f) {
        size_t n = 1 + vsize((uint64_t) f->kind);

        if (f->ref != 0)
                n += 1 + vsize(f->ref);
        if (f->payload.len > 0)
                n += 1 + vsize(f->payload.len) + f->payload.len;
        return n;
}

/* A simple body up to the payload's bytes: kind, ref, and the payload's
 * tag and length. Returns its length. */
static size_t simple_head(const ipc_frame *f, uint8_t *out) {
        size_t n = 0;

        out[n++] = 0x08;
        n += venc((uint64_t) f->kind, out + n);
        if (f->ref != 0) {
                out[n++] = 0x10;
                n += venc(f->ref, out + n);
        }
        if (f->payload.len > 0) {
                out[n++] = 0x1a;
                n += venc(f->payload.len, out + n);
        }
        return n;
}

static size_t simple_encode(const ipc_frame *f, uint8_t *out) {
        size_t n = simple_head(f, out);

        if (f->payload.len > 0)
                memcpy(out + n, f->payload.data, f->payload.len);
        return n + f->payload.len;
}

int ipc_conn_next_view(ipc_conn *c, ipc_frame *storage, ipc_frame **ret) {
        size_t avail = c->in_end - c->in_start;
        size_t header = 1;
        int64_t wire;

        if (c->sink_ready)
                return sink_take(c, storage, ret);
        if (avail == 0)
                return 0;
        /* A small frame's length is one byte: ipc_frame_scan's answer
         * without the call. */
        uint8_t b0 = c->in[c->in_start];
        if (b0 < 0x80 && b0 <= c->max_in && (size_t) b0 < avail)
                wire = 1 + (int64_t) b0;
        else
                wire = ipc_frame_scan(c->in + c->in_start, avail, c->max_in, &header);

        if (wire <= 0)
                return ipc_conn_next(c, ret);
        const uint8_t *body = c->in + c->in_start + header;
        size_t len = (size_t) wire - header;
        if (simple_decode(body, len, storage)) {
                c->in_start += (size_t) wire;
                if (storage->memfd_len > 0) {
                        int r = memfd_payload(c, storage, false);
                        if (r < 0)
                                return r;
                }
                *ret = storage;
                return 1;
        }
        return ipc_conn_next(c, ret);
}

size_t ipc_conn_buffered(const ipc_conn *c) {
        return c->in_end - c->in_start + (c->sink_active || c->sink_ready ? c->sink_have : 0);
}

const uint8_t *ipc_conn_unread(const ipc_conn *c, size_t *ret_len) {
        *ret_len = c->in_end - c->in_start;
        return c->in + c->in_start;
}

int ipc_conn_feed(ipc_conn *c, const void *data, size_t len) {
        if (len == 0)
                return 0;
        int r = in_reserve(c, len);
        if (r < 0)
                return r;
        memcpy(c->in + c->in_end, data, len);
        c->in_end += len;
        return 0;
}

int ipc_conn_take_fd(ipc_conn *c) {
        if (c->n_in_fds == 0)
                return -ENOENT;
        int fd = c->in_fds[0];
        memmove(c->in_fds, c->in_fds + 1, (c->n_in_fds - 1) * sizeof(int));
        c->n_in_fds--;
        return fd;
}

static int out_reserve(ipc_conn *c, size_t want) {
        if (c->out_start == c->out_end) {
                c->out_base += c->out_start;
                c->out_start = c->out_end = 0;
        }
        if (c->out_cap - c->out_end >= want)
                return 0;
        if (c->out_start > 0) {
                memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
                c->out_end -= c->out_start;
                c->out_base += c->out_start;
                c->out_start = 0;
                if (c->out_cap - c->out_end >= want)
                        return 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap - c->out_end < want)
                cap *= 2;
        uint8_t *p = realloc(c->out, cap);
        if (!p)
                return -ENOMEM;
        c->out = p;
        c->out_cap = cap;
        return 0;
}

static bool carries_data(const ipc_frame *f) {
        switch ((int) f->kind) {
        case GENSUP__KIND__CALL:
        case GENSUP__KIND__CAST:
        case GENSUP__KIND__REPLY:
        case GENSUP__KIND__INFO:
                return true;
        default:
                return false;
        }
}

/* Queues f with its payload in a new sealed memfd. 1 if queued that way,
 * 0 if it should go inline after all (no memfd to be had), or -errno. */
static int queue_memfd(ipc_conn *c, const ipc_frame *f) {
        if (f->payload.len > c->max_frame)
                return -EMSGSIZE;
        int mfd = ipc_memfd_make(f->payload.data, f->payload.len);
        if (mfd < 0)
                return 0;
        ipc_frame g = *f;
        g.payload.data = NULL;
        g.payload.len = 0;
        g.memfd_len = f->payload.len;
        int r = ipc_conn_queue_fd(c, &g, mfd);
        close(mfd);
        return r < 0 ? r : 1;
}

/* A frame larger than the socket's send buffer would go out in pieces,
 * each a wakeup of the reader and a turn of both loops: the buffer grows
 * (never shrinks) to hold the largest frame sent, up to IPC_SNDBUF_MAX
 * (SO_SNDBUFFORCE where allowed, else as far as wmem_max lets it). The
 * kernel counts queued bytes against it only while they wait, so a large
 * buffer costs memory only while the peer does not read. */
static void sndbuf_fit(ipc_conn *c, size_t wire) {
        if (wire <= IPC_SNDBUF_GROW_MIN || wire <= c->sndbuf || c->sndbuf >= IPC_SNDBUF_MAX)
                return;
        /* The kernel doubles the value, and one write goes in one piece
         * up to half of that. */
        size_t want = wire + 64u * 1024u;
        int v = (int) (want < IPC_SNDBUF_MAX ? want : IPC_SNDBUF_MAX);
        if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        c->sndbuf = (size_t) v;
}

/* A large payload with nothing queued before it is written straight from
 * the caller's memory (one copy fewer); what the socket does not take is
 * queued as usual. Returns 1 if it was handled (all written or the rest
 * queued), 0 to queue it the usual way, or -errno. */
static int send_direct(ipc_conn *c, const ipc_frame *f, size_t body) {
        uint8_t head[4 * VARINT_MAX + 4];
        /* The length prefix, then the body up to the payload's bytes. */
        size_t hn = ipc_varint_encode(body, head);
        hn += simple_head(f, head + hn);
        struct iovec iov[2] = {
                { .iov_base = head, .iov_len = hn },
                { .iov_base = f->payload.data, .iov_len = f->payload.len },
        };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t n;

        do
                n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return 0;   /* full, or broken: the flush will tell */
        size_t sent = (size_t) n, total = hn + f->payload.len;
        if (sent == total)
                return 1;
        int r = out_reserve(c, total - sent);
        if (r < 0)
                return r;   /* a frame half sent: the stream is lost */
        size_t at = c->out_end;
        if (sent < hn) {
                memcpy(c->out + at, head + sent, hn - sent);
                at += hn - sent;
                sent = hn;
        }
        memcpy(c->out + at, f->payload.data + (sent - hn), total - sent);
        c->out_end = at + (total - sent);
        return 1;
}

int ipc_conn_queue_fd(ipc_conn *c, const ipc_frame *f, int fd) {
        bool simple = is_simple(f);

        if (fd < 0 && c->memfd_min > 0 && f->payload.len >= c->memfd_min && carries_data(f) && simple) {
                int r = queue_memfd(c, f);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        size_t body = simple ? simple_size(f) : gensup__frame__get_packed_size(f);

        if (body > c->max_frame)
                return -EMSGSIZE;
        sndbuf_fit(c, body + VARINT_MAX);
        if (fd < 0 && simple && f->payload.len >= IPC_DIRECT_MIN && ipc_conn_pending(c) == 0 && c->n_out_fds == 0) {
                int r = send_direct(c, f, body);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        int r = out_reserve(c, body + VARINT_MAX);
        if (r < 0)
                return r;

        if (fd >= 0) {
                if (c->n_out_fds == c->cap_out_fds) {
                        size_t cap = c->cap_out_fds ? c->cap_out_fds * 2 : 4;
                        pending_fd *p = realloc(c->out_fds, cap * sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        c->out_fds = p;
                        c->cap_out_fds = cap;
                }
                int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (dup < 0)
                        return -errno;
                c->out_fds[c->n_out_fds++] = (pending_fd) { .offset = c->out_base + c->out_end, .fd = dup };
        }

        size_t n = ipc_varint_encode(body, c->out + c->out_end);
        if (simple)
                (void) simple_encode(f, c->out + c->out_end + n);
        else
                gensup__frame__pack(f, c->out + c->out_end + n);
        c->out_end += n + body;
        return 0;
}

int ipc_conn_queue(ipc_conn *c, const ipc_frame *f) {
        return ipc_conn_queue_fd(c, f, -1);
}

int ipc_conn_queue_data(ipc_conn *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len) {
        ipc_frame f;

        /* Large payloads (a memfd, a direct write) take the general way. */
        if (len >= IPC_DIRECT_MIN || (c->memfd_min > 0 && len >= c->memfd_min)) {
                ipc_frame_init(&f, kind, ref);
                f.payload.data = (uint8_t *) data;
                f.payload.len = len;
                return ipc_conn_queue_fd(c, &f, -1);
        }
        /* A small one goes straight into the output buffer, the frame
         * filled only with what simple_encode reads (no ipc_frame_init). */
        f.kind = kind;
        f.ref = ref;
        f.payload.data = (uint8_t *) data;
        f.payload.len = len;
        size_t body = simple_size(&f);
        if (body > c->max_frame)
                return -EMSGSIZE;
        int r = out_reserve(c, body + VARINT_MAX);
        if (r < 0)
                return r;
        uint8_t *o = c->out + c->out_end;
        size_t n = venc(body, o);
        c->out_end += n + simple_encode(&f, o + n);
        return 0;
}

/* Sends out[out_start..limit), with fd attached if fd >= 0. */
static ssize_t send_some(ipc_conn *c, size_t limit, int fd) {
        struct iovec iov = { .iov_base = c->out + c->out_start, .iov_len = limit - c->out_start };
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd >= 0) {
                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        ssize_t n;
        do
                n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        return n;
}

static int ext_flush(ipc_conn *c);

int ipc_conn_flush(ipc_conn *c) {
        int r = ext_flush(c);
        if (r < 0)
                return r;
        while (c->out_start < c->out_end) {
                size_t limit = c->out_end;
                int fd = -1;

                /* An fd travels with the first byte of its frame, so a write
                 * stops just before the next fd's byte and starts a new
                 * sendmsg there. */
                if (c->n_out_fds > 0) {
                        size_t at = c->out_fds[0].offset - c->out_base;
                        if (at == c->out_start) {
                                fd = c->out_fds[0].fd;
                                if (c->n_out_fds > 1)
                                        limit = c->out_fds[1].offset - c->out_base;
                        } else
                                limit = at;
                }

                ssize_t n = send_some(c, limit, fd);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return -EAGAIN;
                        if (errno == EPIPE)
                                return -ECONNRESET;
                        return -errno;
                }
                if (fd >= 0 && n > 0) {
                        close(fd);
                        memmove(c->out_fds, c->out_fds + 1, (c->n_out_fds - 1) * sizeof(pending_fd));
                        c->n_out_fds--;
                }
                c->out_start += (size_t) n;
        }
        return 0;
}

size_t ipc_conn_pending(const ipc_conn *c) {
        return c->out_end - c->out_start + (c->ext ? c->ext_len - c->ext_done : 0);
}

int ipc_conn_wait(ipc_conn *c, bool for_read, int timeout_ms) {
        struct pollfd p = { .fd = c->fd };

        if (for_read)
                p.events |= POLLIN;
        if (ipc_conn_pending(c) > 0)
                p.events |= POLLOUT;
        int r;
        do
                r = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? 0 : p.revents;
}

/* ---- output written from its owner's memory ---- */

static void ext_release(ipc_conn *c) {
        if (!c->ext)
                return;
        void (*release)(void *) = c->ext_release;
        void *token = c->ext_token;
        c->ext = NULL;
        c->ext_release = NULL;
        c->ext_token = NULL;
        c->ext_len = c->ext_done = 0;
        if (release)
                release(token);
}

/* Writes until the borrowed segment is all out: in one sendmsg the
 * buffer's bytes before it, what is left of it, and the buffer's bytes
 * after it up to the next fd's (which goes with its own sendmsg). */
static int ext_flush(ipc_conn *c) {
        while (c->ext) {
                size_t at = c->ext_at - c->out_base, end = c->out_end;
                if (c->n_out_fds > 0)
                        end = c->out_fds[0].offset - c->out_base;
                struct iovec iov[3] = {
                        { .iov_base = c->out + c->out_start, .iov_len = at - c->out_start },
                        { .iov_base = (void *) (c->ext + c->ext_done), .iov_len = c->ext_len - c->ext_done },
                        { .iov_base = c->out + at, .iov_len = end - at },
                };
                struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
                ssize_t n;
                do
                        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : errno == EPIPE ? -ECONNRESET : -errno;
                size_t k = (size_t) n, before = iov[0].iov_len < k ? iov[0].iov_len : k;
                c->out_start += before;
                k -= before;
                size_t mid = iov[1].iov_len < k ? iov[1].iov_len : k;
                c->ext_done += mid;
                c->out_start += k - mid;
                if (c->ext_done == c->ext_len)
                        ext_release(c);
        }
        return 0;
}

int ipc_conn_queue_borrowed(ipc_conn *c, const void *head, size_t head_len, const void *data, size_t len,
                            void (*release)(void *token), void *token) {
        uint64_t body;
        int k = ipc_varint_decode(head, head_len, &body);
        if (k <= 0 || body != head_len - (size_t) k + len)
                return -EINVAL;
        if (body > c->max_frame)
                return -EMSGSIZE;
        if (c->ext || c->n_out_fds > 0)
                return -EBUSY;
        int r = out_reserve(c, head_len);
        if (r < 0)
                return r;
        sndbuf_fit(c, head_len + len);
        memcpy(c->out + c->out_end, head, head_len);
        c->out_end += head_len;
        c->ext_at = c->out_base + c->out_end;
        c->ext = data;
        c->ext_len = len;
        c->ext_done = 0;
        c->ext_release = release;
        c->ext_token = token;
        if (len == 0)
                ext_release(c);
        return 0;
}

/* ---- a large REPLY read straight into its place (ipc_conn_sink_arm) ----
 *
 * A caller waiting for the answer to one call (gs_call) would otherwise
 * have the answer's payload copied twice: by the kernel into the input
 * buffer, then out of it into the caller's buffer. Armed, a read takes at
 * most IPC_SINK_MIN bytes into the input buffer; if they begin the
 * awaited REPLY and its payload is larger, what came of the payload is
 * copied to the caller's buffer and the rest is read straight into it.
 * A read while a payload is read so has two parts: the rest of the
 * payload, then the input buffer for what follows it. */

void ipc_conn_sink_arm(ipc_conn *c, uint64_t ref, ipc_sink_reserve reserve, void *userdata) {
        c->sink_ref = reserve ? ref : 0;
        c->sink_reserve = reserve;
        c->sink_ud = userdata;
        if (c->sink_ref != 0)
                return;
        /* The owner gave its buffer up: the rest of a payload being read
         * is read and dropped, and one read but not taken is forgotten
         * (an answer nobody waits for, as any such answer is). */
        c->sink = NULL;
        c->sink_ready = false;
}

static size_t sink_iov(ipc_conn *c, struct iovec iov[2]) {
        size_t room = c->in_cap - c->in_end, n = 0;

        if (c->sink_ref != 0 && room > IPC_SINK_MIN)
                room = IPC_SINK_MIN;
        if (c->sink_active && c->sink)
                iov[n++] = (struct iovec) { c->sink + c->sink_have, c->sink_len - c->sink_have };
        iov[n++] = (struct iovec) { c->in + c->in_end, room };
        return n;
}

/* The head of the frame at in_start, when it is a REPLY made of kind,
 * ref and a payload that ends it (the bytes gensup writes). Returns the
 * head's length with *ret_ref and *ret_len, or 0. */
static size_t sink_head(const uint8_t *p, size_t avail, uint64_t body, uint64_t *ret_ref, uint64_t *ret_len) {
        uint64_t kind, ref = 0, len;
        size_t at = 1;
        int n;

        if (avail < 2 || p[0] != 0x08 || (n = ipc_varint_decode(p + at, avail - at, &kind)) <= 0)
                return 0;
        at += (size_t) n;
        if (at < avail && p[at] == 0x10) {
                at++;
                if ((n = ipc_varint_decode(p + at, avail - at, &ref)) <= 0)
                        return 0;
                at += (size_t) n;
        }
        if (at >= avail || p[at] != 0x1a || kind != GENSUP__KIND__REPLY)
                return 0;
        at++;
        if ((n = ipc_varint_decode(p + at, avail - at, &len)) <= 0)
                return 0;
        at += (size_t) n;
        if (at > avail || at > body || len != body - at)
                return 0;
        *ret_ref = ref;
        *ret_len = len;
        return at;
}

/* After a read: starts reading the awaited REPLY's payload straight into
 * the owner's buffer, if the input buffer ends with its beginning. */
static void sink_try(ipc_conn *c) {
        size_t avail = c->in_end - c->in_start, header;
        const uint8_t *p = c->in + c->in_start;
        uint64_t body, ref, len;

        if (c->sink_ref == 0 || c->sink_active || c->sink_ready || avail == 0)
                return;
        /* Complete, bad or over the limit: the usual way tells. */
        if (ipc_frame_scan(p, avail, c->max_in, &header) != 0)
                return;
        int n = ipc_varint_decode(p, avail, &body);
        if (n <= 0)
                return;
        header = (size_t) n;
        size_t hl = sink_head(p + header, avail - header, body, &ref, &len);
        if (hl == 0 || ref != c->sink_ref || len <= IPC_SINK_MIN)
                return;
        uint8_t *dst = c->sink_reserve(c->sink_ud, (size_t) len);
        if (!dst)
                return;
        size_t have = avail - header - hl;   /* less than len: not complete */
        memcpy(dst, p + header + hl, have);
        c->in_start = c->in_end;
        c->sink = dst;
        c->sink_len = (size_t) len;
        c->sink_have = have;
        c->sink_frame_ref = ref;
        c->sink_active = true;
}

/* n bytes came: the payload's first (if one is being read), the rest in
 * the input buffer. */
static void sink_got(ipc_conn *c, size_t n) {
        if (c->sink_active) {
                size_t k = c->sink_len - c->sink_have;
                if (k > n)
                        k = n;
                c->sink_have += k;
                n -= k;
                if (!c->sink) {
                        /* Dropped: those bytes went to the input buffer. */
                        c->in_end += k;
                        c->in_start += k;
                }
                if (c->sink_have == c->sink_len) {
                        c->sink_active = false;
                        c->sink_ready = c->sink != NULL;
                }
        }
        c->in_end += n;
        sink_try(c);
}

static int sink_take(ipc_conn *c, ipc_frame *storage, ipc_frame **ret) {
        ipc_frame_init(storage, GENSUP__KIND__REPLY, c->sink_frame_ref);
        storage->payload.data = c->sink;
        storage->payload.len = c->sink_len;
        c->sink_ready = false;
        c->sink = NULL;
        *ret = storage;
        return 1;
}

static int sink_take_owned(ipc_conn *c, ipc_frame **ret) {
        ipc_frame *f = malloc(sizeof(*f));
        uint8_t *p = malloc(c->sink_len);

        if (!f || !p) {
                free(f);
                free(p);
                return -ENOMEM;
        }
        ipc_frame view;
        (void) sink_take(c, &view, ret);
        *f = view;
        memcpy(p, view.payload.data, view.payload.len);
        f->payload.data = p;
        *ret = f;
        return 1;
}
