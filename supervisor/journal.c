/* journal.c: journald's native and stream protocols, never blocking.
 *
 * Native entries are datagrams of "NAME=value\n" fields; a value holding
 * a newline is sent as "NAME\n", its length as 64-bit little endian, the
 * value, "\n". Streams start with a header of seven lines: identifier,
 * unit id, priority, level prefix, forward to syslog, kmsg, console. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"

#define NATIVE_SOCKET "/run/systemd/journal/socket"
#define ENTRY_MAX (32u * 1024u)   /* gensupd's entries are a few KiB */

static int native_fd = -1;
static unsigned long long dropped;

static struct sockaddr_un address(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        return sa;
}

/* Appends one field to buf (of ENTRY_MAX); false when it does not fit. */
static bool put_field(char *buf, size_t *len, const char *field) {
        const char *eq = strchr(field, '=');
        size_t n = strlen(field);
        if (!eq)
                return true;
        bool binary = memchr(field, '\n', n) != NULL;
        size_t name = (size_t) (eq - field), value = n - name - 1;
        size_t need = binary ? name + 1 + 8 + value + 1 : n + 1;
        if (*len + need > ENTRY_MAX)
                return false;
        char *p = buf + *len;
        if (binary) {
                uint64_t le = htole64((uint64_t) value);
                memcpy(p, field, name);
                p[name] = '\n';
                memcpy(p + name + 1, &le, 8);
                memcpy(p + name + 9, eq + 1, value);
        } else
                memcpy(p, field, n);
        p[need - 1] = '\n';
        *len += need;
        return true;
}

static int send_entry(const char *const *fields, size_t n) {
        static char buf[ENTRY_MAX];
        size_t len = 0;

        for (size_t i = 0; i < n; i++)
                if (!put_field(buf, &len, fields[i]))
                        return -EMSGSIZE;
        if (native_fd < 0 && (native_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
                return -errno;
        struct sockaddr_un sa = address(NATIVE_SOCKET);
        /* MSG_DONTWAIT: a full journald queue is EAGAIN, not a wait. */
        if (sendto(native_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

int sup_journal_send(const char *const *fields, size_t n) {
        if (dropped > 0) {
                char msg[96];
                snprintf(msg, sizeof(msg), "MESSAGE=%llu messages dropped (journald could not take them)", dropped);
                const char *note[] = { msg, "PRIORITY=4", "SYSLOG_IDENTIFIER=gensupd" };
                if (send_entry(note, 3) < 0) {
                        dropped++;
                        return -EAGAIN;
                }
                dropped = 0;
        }
        int r = send_entry(fields, n);
        if (r == -EAGAIN || r == -ENOBUFS)
                dropped++;
        return r;
}

void sup_journal_close(void) {
        if (native_fd >= 0)
                close(native_fd);
        native_fd = -1;
}
