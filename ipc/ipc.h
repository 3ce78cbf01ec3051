/* ipc.h: the wire. Varint-length-delimited gensup.Frame messages on
 * SOCK_STREAM Unix sockets, with non-blocking buffered reads and writes,
 * a frame size limit, fd passing and peer credentials.
 *
 * Used by libgensup (servers and clients), gensupd and gensupctl. It never
 * logs and never aborts on a peer's input: a malformed frame is -EBADMSG,
 * an oversize one -EMSGSIZE, and the caller closes that connection. */
#ifndef GENSUP_IPC_H
#define GENSUP_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "gensup.pb-c.h"

#define IPC_DEFAULT_MAX_FRAME (16u * 1024u * 1024u)
#define IPC_MAX_FDS_PER_READ 16   /* fds accepted with one recvmsg */
#define IPC_MAX_PENDING_FDS 64    /* received fds held for the reader at most */
#define IPC_DIRECT_MIN (16u * 1024u)   /* payloads written straight from the caller when nothing waits */
#define IPC_SNDBUF_GROW_MIN (128u * 1024u)   /* frames larger grow the socket's send buffer */
#define IPC_SNDBUF_MAX (4u * 1024u * 1024u)   /* up to this */
#define IPC_MEMFD_MAX_HELD 2      /* fds held at most on a connection that takes memfds */

typedef Gensup__Frame ipc_frame;

/* ---- pure framing (frame.c) ---- */

/* Decodes a base-128 varint of at most 10 bytes from buf. Returns the
 * number of bytes it used (> 0), 0 if buf ends before the varint does, or
 * -EBADMSG if it runs over 10 bytes or overflows 64 bits. */
int ipc_varint_decode(const uint8_t *buf, size_t len, uint64_t *ret_value);
/* The bytes v takes as a varint (1 to 10). */
size_t ipc_varint_size(uint64_t v);
/* Encodes v into buf (at least 10 bytes). Returns the bytes written. */
size_t ipc_varint_encode(uint64_t v, uint8_t *buf);
/* The bytes a frame takes on the wire, length prefix included. */
size_t ipc_frame_wire_size(const ipc_frame *f);
/* Writes a frame in its wire form into buf, which holds at least
 * ipc_frame_wire_size(f) bytes. Returns the bytes written. */
size_t ipc_frame_encode(const ipc_frame *f, uint8_t *buf);
/* Given the bytes at the start of an input buffer: returns the wire length
 * of the first complete frame (> 0), 0 if more bytes are needed, -EBADMSG
 * for a bad length prefix, -EMSGSIZE if the frame's length exceeds
 * max_frame. *ret_header is the prefix length. */
int64_t ipc_frame_scan(const uint8_t *buf, size_t len, size_t max_frame, size_t *ret_header);
/* Unpacks len bytes of an encoded Frame (no prefix). Returns the frame, to
 * be freed with ipc_frame_free, or NULL if the bytes are not a Frame. */
ipc_frame *ipc_frame_unpack(const uint8_t *data, size_t len);
ipc_frame *ipc_frame_free(ipc_frame *f);
/* Initialises a frame on the stack: kind and ref, everything else empty. */
void ipc_frame_init(ipc_frame *f, Gensup__Kind kind, uint64_t ref);

/* ---- connections (conn.c) ---- */

typedef struct ipc_conn ipc_conn;

/* Wraps a connected SOCK_STREAM Unix socket; the connection owns fd from
 * then on (also on failure) and makes it non-blocking. max_frame 0 means
 * IPC_DEFAULT_MAX_FRAME. Returns 0, -ENOMEM. */
int ipc_conn_new(int fd, size_t max_frame, ipc_conn **ret);
/* Closes the fd, frees buffers and any received fds not taken. */
ipc_conn *ipc_conn_free(ipc_conn *c);
int ipc_conn_fd(const ipc_conn *c);
/* Gives back the buffers while they are empty (an idle connection; a
 * server hibernating). Frames taken as views must be done with. */
void ipc_conn_shrink(ipc_conn *c);
/* fds that arrive with frames are closed unless the owner asks for them:
 * a peer must not fill a process's fd table with fds nobody takes. */
void ipc_conn_set_accept_fds(ipc_conn *c, bool accept);
void ipc_conn_set_max_frame(ipc_conn *c, size_t max_frame);
/* A lower limit for frames read than for frames written (a server of
 * small requests and large answers). 0: the same as max_frame. */
void ipc_conn_set_max_in(ipc_conn *c, size_t max_in);

/* Reads what the socket has (one recvmsg of up to the free buffer space,
 * at least 64 KiB). Returns the bytes read (> 0), -EAGAIN if there was
 * nothing, -ECONNRESET on end of file or a reset, or another -errno. fds
 * that arrive with the bytes are kept for ipc_conn_take_fd. */
int ipc_conn_read(ipc_conn *c);
/* As ipc_conn_read, but waits up to timeout_ms (< 0: forever) for bytes
 * in the one recvmsg, rather than poll(2) and then recvmsg: one system
 * call per wait. The first use switches the fd to blocking mode (every
 * other function here passes MSG_DONTWAIT, so they do not block) and the
 * timeout is kept in SO_RCVTIMEO, set again only when it changes. Returns
 * as ipc_conn_read; -EAGAIN when the time ran out, -EINTR when a signal
 * came first. */
int ipc_conn_read_wait(ipc_conn *c, int timeout_ms);
/* Takes the next complete frame from the input buffer. Returns 1 with
 * *ret set (free it with ipc_frame_free), 0 if no complete frame is
 * buffered, -EBADMSG (garbage) or -EMSGSIZE (over the limit): close the
 * connection then. */
int ipc_conn_next(ipc_conn *c, ipc_frame **ret);
/* As ipc_conn_next, without copying or allocating for the frames that
 * carry data (only kind, ref and payload set: CALL, CAST, REPLY, INFO):
 * those are decoded into *storage, *ret is storage, and its payload points
 * into the connection's input buffer, valid until the next
 * ipc_conn_read, ipc_conn_next or ipc_conn_next_view on c; it must not be
 * freed. Any other frame comes as from ipc_conn_next (*ret != storage,
 * owned by the caller). Free with: if (f != storage) ipc_frame_free(f).
 * storage must have been set with ipc_frame_init() before its first use:
 * a view writes only kind, ref, payload and memfd_len into it, so one
 * storage serves a loop of views without a full init per frame. */
int ipc_conn_next_view(ipc_conn *c, ipc_frame *storage, ipc_frame **ret);
/* Bytes read but not yet taken as frames (a peer that closes with this
 * non-zero closed mid-frame). */
size_t ipc_conn_buffered(const ipc_conn *c);
/* The bytes read but not yet taken as frames, in place (valid until the
 * next call on c): a server handing its connections to its successor
 * (hot upgrade) sends them along. */
const uint8_t *ipc_conn_unread(const ipc_conn *c, size_t *ret_len);
/* Puts bytes into the input buffer as if they had been read: the
 * successor's side of the same. Returns 0 or -ENOMEM. */
int ipc_conn_feed(ipc_conn *c, const void *data, size_t len);
/* Takes a received fd (the oldest first). Returns the fd, which the caller
 * now owns, or -ENOENT if none is held. */
int ipc_conn_take_fd(ipc_conn *c);

/* Appends a frame to the output buffer; nothing is written yet, except
 * that a payload of IPC_DIRECT_MIN bytes or more, with nothing queued
 * before it, is written at once straight from f (what the socket does not
 * take is queued). A frame
 * larger than the limit is -EMSGSIZE and is not queued. If fd >= 0 it is
 * sent with the frame's first byte (the caller keeps its own fd; a dup is
 * queued). Returns 0, -EMSGSIZE, -ENOMEM. */
int ipc_conn_queue(ipc_conn *c, const ipc_frame *f);
int ipc_conn_queue_fd(ipc_conn *c, const ipc_frame *f, int fd);
/* Queues one frame whose last len bytes are not copied: head (copied)
 * is the frame's wire form up to them, its length prefix included, and
 * data the rest, written from the caller's memory as the socket takes it.
 * The caller keeps data as it is until release(token) is called: when
 * the last of it is written, or when the connection is freed. Frames
 * queued later go out after it. One such frame at a time, and none while
 * fds wait to be sent: -EBUSY (queue a copy instead). -EINVAL if head's
 * length prefix does not say head_len + len bytes, -EMSGSIZE over the
 * frame limit, -ENOMEM; on failure release is not called. */
int ipc_conn_queue_borrowed(ipc_conn *c, const void *head, size_t head_len, const void *data, size_t len,
                            void (*release)(void *token), void *token);
/* As ipc_conn_queue for a frame that carries data (CALL, CAST, REPLY,
 * INFO: kind, ref and payload only), without filling an ipc_frame: the
 * per-message path of clients and servers. Same bytes, same results. */
int ipc_conn_queue_data(ipc_conn *c, Gensup__Kind kind, uint64_t ref, const void *data, size_t len);
/* Writes as much of the output buffer as the socket takes. Returns 0 when
 * everything is written, -EAGAIN when some remains (wait for EPOLLOUT),
 * -ECONNRESET (peer gone, EPIPE) or another -errno. */
int ipc_conn_flush(ipc_conn *c);
/* Bytes queued but not yet written (borrowed ones too). */
size_t ipc_conn_pending(const ipc_conn *c);

/* Waits (poll) up to timeout_ms (< 0: forever) for the fd to become
 * readable (POLLIN) and/or writable when the output buffer is not empty.
 * Returns the revents, 0 on timeout, or -errno. */
int ipc_conn_wait(ipc_conn *c, bool for_read, int timeout_ms);

/* Payloads in sealed memfds (gensup-protocol(7)): the receiver of a
 * frame with memfd_len takes the fd that came with it, and the payload is
 * the whole memfd. in: fds are taken from the peer (at most
 * IPC_MEMFD_MAX_HELD held at once, the rest closed at once) and frames
 * with memfd_len are read from their memfd; without it such a frame is
 * -EBADMSG. out_min: payloads of CALL, CAST, REPLY and INFO frames of at
 * least this many bytes are sent in a memfd (0: never), for a peer that
 * said it takes them. */
void ipc_conn_set_memfd(ipc_conn *c, bool in, size_t out_min);

/* Reading a large answer straight into its final place. While armed
 * with a ref, a read takes at most IPC_SINK_MIN bytes into the input
 * buffer, and a REPLY with that ref and a payload over IPC_SINK_MIN, not
 * yet read whole, has its payload read straight into
 * reserve(userdata, len) (at least len bytes; NULL: the usual way): one
 * copy fewer. ipc_conn_next_view then hands it out as a view whose
 * payload is that buffer (ipc_conn_next as an owned copy). ref 0 (or a
 * NULL reserve) disarms: a payload still being read is then read and
 * dropped, never written into the owner's buffer again, and one read but
 * not yet taken is forgotten. Not with ipc_conn_unread. */
#define IPC_SINK_MIN (128u * 1024u)
typedef uint8_t *(*ipc_sink_reserve)(void *userdata, size_t len);
void ipc_conn_sink_arm(ipc_conn *c, uint64_t ref, ipc_sink_reserve reserve, void *userdata);

/* ---- sealed memfds (memfd.c) ---- */

/* A new memfd holding len bytes of data, sealed against writes, shrink,
 * growth and further sealing. Returns the fd (CLOEXEC) or -errno. */
int ipc_memfd_make(const void *data, size_t len);
/* Checks an fd from a peer before anything is read from it: a memfd
 * sealed against shrink, growth, writes (F_SEAL_WRITE or
 * F_SEAL_FUTURE_WRITE) and further sealing, exactly len bytes long. 0,
 * -EBADMSG (not sealed so, not a memfd, another size), -EMSGSIZE (len
 * over max). */
int ipc_memfd_check(int fd, uint64_t len, size_t max);
/* Copies len bytes of a checked memfd into buf (never mapped: a copy no
 * peer can change). 0, -EBADMSG if it is shorter, or -errno. */
int ipc_memfd_read(int fd, uint8_t *buf, size_t len);

/* ---- trusted directories (dir.c) ---- */

/* Why a directory was not trusted: the directory (or link) at fault,
 * its owner and mode. path is owned: ipc_dir_fault_done frees it. */
typedef struct ipc_dir_fault {
        char *path;
        uid_t uid;
        mode_t mode;
        const char *why;   /* "owned by another user", ... (static) */
} ipc_dir_fault;
void ipc_dir_fault_done(ipc_dir_fault *f);

#define IPC_DIR_CREATE (1u << 0)   /* make what is missing: dir with mode, parents 0755 */
#define IPC_DIR_OWNED (1u << 1)    /* dir itself owned by uid (not root's unless uid is 0) */

/* Opens dir (O_PATH) after checking it may be trusted by uid with its
 * sockets (see gensupd(8) SECURITY): walking from / with openat, every
 * directory above is owned by root or uid and not writable by group or
 * others unless sticky; dir itself is owned by root or uid (exactly uid
 * with IPC_DIR_OWNED) and not writable by group or others; a symbolic
 * link is followed only when root or uid owns it. Returns the fd (the
 * caller closes it), -EPERM with *ret_fault filled (when not NULL; free
 * with ipc_dir_fault_done) if something is not trusted, -ENOTDIR,
 * -ENOENT or another -errno. */
int ipc_dir_open(const char *dir, uid_t uid, unsigned flags, mode_t mode, ipc_dir_fault *ret_fault);
/* A runtime directory for this process: creates dir (with exactly mode)
 * and its missing parents, or takes the one there only if it is owned by
 * the effective uid and trusted as ipc_dir_open says. 0 or -errno:
 * -EPERM for a directory made or writable by someone else, -ENOTDIR. */
int ipc_mkdir_p(const char *dir, mode_t mode);
/* Whether the directory holding socket_path may be trusted by this
 * process (ipc_dir_open with the effective uid): a client's check
 * before it talks to a socket. 0, -EPERM (with *ret_fault) or -errno. */
int ipc_dir_check_socket(const char *socket_path, ipc_dir_fault *ret_fault);

/* ---- sockets (sock.c) ---- */

/* The runtime directory: $GENSUP_RUNTIME_DIR, else /run/gensup for root,
 * else $XDG_RUNTIME_DIR/gensup. Caller frees. 0, -ENOENT, -ENOMEM. */
int ipc_runtime_dir(char **ret);
/* <dir>/<name>.sock, or name itself when it contains a '/'. */
int ipc_socket_path(const char *dir, const char *name, char **ret);

/* Who may use a socket file, as systemd's SocketMode=, SocketUser= and
 * SocketGroup=. */
typedef struct ipc_sock_perm {
        mode_t mode;   /* the file's mode, exactly, whatever the umask */
        uid_t uid;     /* its owner; (uid_t) -1: the caller's */
        gid_t gid;     /* its group; (gid_t) -1: the caller's */
} ipc_sock_perm;
#define IPC_SOCK_PERM_DEFAULT_MODE 0660

/* Fills perm from text as the config and the options spell it: mode in
 * octal digits ("0660", at most 0777), user and group as names or
 * numbers; a NULL leaves that field as it is. 0, -EINVAL for a bad mode,
 * -ESRCH for an unknown user or group. */
int ipc_sock_perm_parse(const char *mode, const char *user, const char *group, ipc_sock_perm *perm);

/* Binds the Unix socket fd at path with perm (NULL: as the umask makes
 * it). The mode is set by the umask around bind (as systemd does), never
 * by a chmod of the path afterwards, which would follow a link put in its
 * place; the owner is set with lchown on what lstat found to be a socket.
 * The umask is process-wide: do not call this while another thread
 * creates files. Returns 0 or -errno. */
int ipc_bind(int fd, const char *path, const ipc_sock_perm *perm);
/* Binds and listens on a Unix socket at path (removing a stale socket
 * first), CLOEXEC and non-blocking. The directory must be trusted
 * (ipc_dir_check_socket): -EPERM otherwise. Returns the fd or -errno;
 * -EADDRINUSE if a live process still listens there, -ENAMETOOLONG if
 * path does not fit sockaddr_un. */
int ipc_listen(const char *path, int backlog);
/* The same, with the socket file's mode and owner from perm (NULL: as
 * ipc_listen). */
int ipc_listen_as(const char *path, int backlog, const ipc_sock_perm *perm);
/* Connects to a Unix socket at path (blocking connect), CLOEXEC. Returns
 * the fd or -errno: -ENOENT or -ECONNREFUSED when nothing listens. */
int ipc_connect(const char *path);
/* The peer's credentials (SO_PEERCRED). */
int ipc_peer_cred(int fd, struct ucred *ret);
/* A connected CLOEXEC SOCK_STREAM socketpair. */
int ipc_socketpair(int ret_fds[2]);

/* ---- text from a peer (text.c) ---- */

/* Whether the character cp must not be shown as it is: C0 controls (but
 * newline and tab when multiline), DEL, C1 controls, bidi embeddings,
 * overrides, isolates and marks, line and paragraph separators. */
bool ipc_char_unsafe(uint32_t cp, bool multiline);
/* A copy of text from a peer, fit to print and to put in JSON: at most
 * max bytes, valid UTF-8, each unsafe character (ipc_char_unsafe) and
 * each byte that is not UTF-8 replaced by '?'. NULL on ENOMEM. */
char *ipc_text_clean(const char *text, size_t max, bool multiline);
/* The same in place, on len bytes of buf (a NUL among them is unsafe
 * too): returns the new length, never more than len. */
size_t ipc_text_sanitize(char *buf, size_t len, bool multiline);

#endif
