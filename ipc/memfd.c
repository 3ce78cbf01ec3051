/* memfd.c: payloads in sealed memfds (gensup-protocol(7), LARGE PAYLOADS).
 *
 * A large payload is written once into a new memfd, sealed so that it
 * cannot be written, shrunk or grown any more, and the fd is passed with
 * a frame that says how long it is. The receiver trusts nothing of it:
 * the fd must be a memfd carrying those seals and exactly that size, and
 * the receiver copies the bytes out with pread(2) rather than mapping
 * them, so that a hostile sender can neither make it fault (SIGBUS on a
 * file shrunk under a mapping) nor change bytes it is reading (through a
 * writable mapping made before sealing): what it took is a snapshot that
 * nobody else can touch, and a short read is a bad frame.
 *
 * F_SEAL_FUTURE_WRITE rather than F_SEAL_WRITE: sealing against writes
 * that way does not wait for the kernel to drain every CPU's page lists
 * (lru_add_drain_all, milliseconds on a busy machine), and with the
 * receiver copying, existing mappings are harmless. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"

#define SEALS_MADE (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define SEALS_NEEDED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define SEALS_WRITE (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

int ipc_memfd_make(const void *data, size_t len) {
        int fd = memfd_create("gensup-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        const uint8_t *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t n = write(fd, p, left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        close(fd);
                        return r;
                }
                p += n;
                left -= (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, SEALS_MADE) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int ipc_memfd_check(int fd, uint64_t len, size_t max) {
        int seals = fcntl(fd, F_GET_SEALS);
        struct stat st;

        /* Not a memfd (or a shmem file without sealing): EINVAL. */
        if (seals < 0 || (seals & SEALS_NEEDED) != SEALS_NEEDED || !(seals & SEALS_WRITE))
                return -EBADMSG;
        if (len > max)
                return -EMSGSIZE;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t) st.st_size != len)
                return -EBADMSG;
        return 0;
}

int ipc_memfd_read(int fd, uint8_t *buf, size_t len) {
        size_t at = 0;

        while (at < len) {
                ssize_t n = pread(fd, buf + at, len - at, (off_t) at);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG;   /* shorter than it said */
                at += (size_t) n;
        }
        return 0;
}
