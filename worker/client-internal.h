/* client-internal.h: what the client-side files of libgensup share
 * (client.c, client_sys.c, reqids.c, multi.c). client.c owns it: the
 * others call into client.c, and client.c calls none of them (a
 * collection hears of its requests through gs__req_owner). Nothing here is public:
 * every symbol is gs__-prefixed and hidden from the shared library. */
#ifndef GENSUP_CLIENT_INTERNAL_H
#define GENSUP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch-internal.h"
#include "gensup.h"
#include "ipc.h"


/* Corked casts go out once this much has collected. */
#define GS__CORK_LIMIT (64u * 1024u)
/* A reply buffer larger than this is freed, not kept for reuse, when its
 * request slot is released. */
#define GS__KEEP_BUF_MAX (64u * 1024u)
#define GS__NONE UINT32_MAX

typedef enum gs__req_state {
        GS__REQ_FREE,       /* slot unused */
        GS__REQ_PENDING,    /* sent, no answer yet */
        GS__REQ_DONE,       /* answered (status, reply), not yet delivered */
        GS__REQ_ANSWERED,   /* delivered by a collection that keeps it (delete false) */
        _GS__REQ_STATE_MAX,
} gs__req_state;

/* Who owns a request slot (a gs_reqids collection, in reqids.c): the
 * client tells it through these two hooks, so that client.c never calls
 * into reqids.c (reqids.c calls into client.c, one way). */
typedef struct gs__req_owner gs__req_owner;
struct gs__req_owner {
        /* The request of member was answered, or failed. */
        void (*completed)(gs__req_owner *o, uint32_t member);
        /* The request of member was taken or dropped outside its owner:
         * the owner lets go of the member. */
        void (*forget)(gs__req_owner *o, uint32_t member);
};

/* One outstanding asynchronous request on a client. Slots live in a dense
 * array reused through a free list, so their reply buffers are reused and
 * indices stay valid while a slot is in use. */
typedef struct gs__req {
        uint64_t ref;
        gs__req_state state;
        int status;           /* GS__REQ_DONE: 0, -EREMOTEIO, -ECONNRESET, ... */
        gs_buf reply;         /* the payload, or the error text for -EREMOTEIO */
        gs__req_owner *owner; /* the collection it belongs to, or NULL */
        uint32_t member;      /* its index in owner */
        uint32_t next_free;
} gs__req;

struct gs_client {
        ipc_conn *conn;       /* NULL once gs_client_free ran */
        uint64_t last_ref;    /* refs are last_ref + 1, never reused */
        pid_t peer_pid;       /* SO_PEERCRED at connect, 0 if unknown */
        pid_t connect_pid;    /* getpid() at connect */
        bool corked;
        size_t batch_limit;   /* casts and requests collect up to this many bytes; 0: none */
        gs__batch batch;      /* on the process's list while output collects */
        size_t memfd_min;     /* gs_client_set_memfd: payloads from this size in memfds; 0 never */
        bool memfd_on;        /* the server said it takes memfds */
        bool dead;            /* EOF, EXIT_REPORT, garbage or write error seen */
        int dead_err;         /* why: what the waiters got */
        bool freed;           /* gs_client_free ran; collections still hold it */
        unsigned nref;        /* collection members that point here */
        char *exit_reason;

        /* The one synchronous waiter (gs_call, sys requests): its answer
         * goes straight to the caller, not through the request table. */
        uint64_t wait_ref;    /* 0: none */
        bool wait_done;
        bool wait_sys;        /* expects SYS_REPLY rather than REPLY */
        int wait_status;
        gs_buf *wait_buf;     /* REPLY payload or ERROR text; may be NULL */
        ipc_frame *wait_frame; /* SYS_REPLY, handed to the caller */

        /* Outstanding asynchronous requests: slots, and an open-addressing
         * index (linear probing, backward-shift deletion) of slot + 1 by ref. */
        gs__req *reqs;
        uint32_t cap_reqs, n_reqs, free_head;
        uint32_t *index;
        uint32_t index_mask;  /* index size - 1; 0 while index is NULL */

        gs_buf scratch;       /* packing typed requests */
};

/* Before this thread waits on any client: what its clients batched
 * leaves too, as far as the sockets take it now, so that a thread's
 * messages leave in the order sent, as an OTP process's do (gs_call(3),
 * BATCHING). */
GS__HIDDEN void gs__client_flush_thread(void);
/* CLOCK_MONOTONIC deadline in ns for a timeout in ms; -1 for forever. */
GS__HIDDEN int64_t gs__deadline(int timeout_ms);
/* Milliseconds left until deadline, rounded up, for poll: -1 forever. */
GS__HIDDEN int gs__remaining_ms(int64_t deadline);

/* The poll events the client wants: POLLIN, and POLLOUT while output waits. */
GS__HIDDEN short gs__client_events(const gs_client *c);
/* Handles revents from poll: writes what it can, reads once and
 * dispatches every complete frame. Returns 0, or the connection's failure
 * (-ECONNRESET, -EBADMSG) or another negative errno. */
GS__HIDDEN int gs__client_handle(gs_client *c, short revents);
/* Reads, without waiting, everything that has arrived. Same returns. */
GS__HIDDEN int gs__client_read_all(gs_client *c);
GS__HIDDEN bool gs__client_is_self(const gs_client *c);

/* The request table. */
GS__HIDDEN int gs__client_req_find(const gs_client *c, uint64_t ref);
GS__HIDDEN void gs__client_req_remove(gs_client *c, uint32_t idx);
/* Moves a done request's answer out: swaps its reply into *reply (if not
 * NULL) for 0 and -EREMOTEIO. Returns the status. */
GS__HIDDEN int gs__client_req_take(gs_client *c, uint32_t idx, gs_buf *reply);
/* A collection member lets go of its client. */
GS__HIDDEN void gs__client_unref(gs_client *c);

/* Sends SYS{op,flag,value,reason} and waits for SYS_REPLY. On success
 * *ret_frame (if not NULL) is the SYS_REPLY frame, for ipc_frame_free.
 * An ERROR answer is -code (or -EREMOTEIO), its text in *errtext. */
GS__HIDDEN int gs__client_sys(gs_client *c, Gensup__SysRequest__Op op, bool flag, uint64_t value,
                              const char *reason, int timeout_ms, gs_buf *errtext, ipc_frame **ret_frame);
/* reason_peer.c: the reason of an EXIT_REPORT, kept if it is a server's
 * own or {signal,NAME} (a crash handler's), else as {error,Text}. */
GS__HIDDEN int gs__reason_from_peer(const char *reason, gs_buf *ret);

/* stop_wait.c: a pidfd on the process that listens at the other end of
 * c (CLOEXEC), or -ESRCH / another negative errno. */
GS__HIDDEN int gs__pidfd_of_peer(const gs_client *c);
/* Waits until the process of pidfd has exited (0) or deadline passes
 * (-ETIMEDOUT). */
GS__HIDDEN int gs__pidfd_wait(int pidfd, int64_t deadline);

/* Sends SYS STOP{reason} and waits for the server to be gone. */
GS__HIDDEN int gs__client_stop(gs_client *c, const char *reason, int timeout_ms);

#endif
