/* metrics_http.c: a scrape endpoint for Prometheus. libmicrohttpd parses
 * HTTP (no parser of ours); we only make the listening socket, so that
 * it is a Unix socket or a loopback port and nothing else, and answer
 * GET /metrics with what `gensupctl metrics` prints. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "metrics.h"
#include "metrics_http.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned code, char *body, size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        enum MHD_Result r = MHD_queue_response(conn, code, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
        const ctl_opts *o = cls;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET /metrics\n"), 13);
        if (strcmp(url, "/metrics") != 0)
                return answer(conn, MHD_HTTP_NOT_FOUND, strdup("GET /metrics\n"), 13);
        char *body = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);
        if (!f)
                return MHD_NO;
        int r = ctl_metrics_write(o, f);
        if (fclose(f) != 0 || r < 0) {
                free(body);
                char *msg = NULL;
                if (asprintf(&msg, "gensupd did not answer: %s\n", strerror(r < 0 ? -r : ENOMEM)) < 0)
                        return MHD_NO;
                return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg, strlen(msg));
        }
        return answer(conn, MHD_HTTP_OK, body, len);
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 16) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* HOST:PORT on loopback only. */
static int listen_loopback(const char *addr) {
        const char *colon = strrchr(addr, ':');
        if (!colon || colon == addr)
                return -EINVAL;
        char host[64];
        size_t hl = (size_t) (colon - addr);
        if (hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, addr, hl);
        host[hl] = '\0';
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 65535)
                return -EINVAL;
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        bool v6 = strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
        if (v6) {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
                *s6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port),
                                              .sin6_addr = IN6ADDR_LOOPBACK_INIT };
                len = sizeof(*s6);
        } else if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0) {
                struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
                *s4 = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                len = sizeof(*s4);
        } else
                return -EINVAL;
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 16) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Until a stop signal: the scrapes are answered on libmicrohttpd's one
 * thread, one at a time. */
static int serve_fd(const ctl_opts *o, int fd) {
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop, NULL);   /* before the thread: it inherits the mask */
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
        struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, (void *) o, MHD_OPTION_LISTEN_SOCKET,
                                                fd, MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
                                                10u, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "gensupctl: metrics: cannot start the HTTP server\n");
                close(fd);
                return EXIT_FAILED;
        }
        printf("gensupctl: metrics: serving GET /metrics\n");
        fflush(stdout);
        int sig;
        sigwait(&stop, &sig);
        MHD_stop_daemon(d);
        close(fd);
        return EXIT_OK;
}

int ctl_metrics_serve(const ctl_opts *o, const char *addr) {
        bool is_unix = strncmp(addr, "unix:", 5) == 0;
        int fd = is_unix ? listen_unix(addr + 5) : listen_loopback(addr);
        if (fd == -EINVAL) {
                fprintf(stderr, "gensupctl: metrics: --listen wants unix:PATH or 127.0.0.1:PORT, [::1]:PORT, "
                                "localhost:PORT, not '%s'\n", addr);
                return EXIT_USAGE;
        }
        if (fd < 0) {
                fprintf(stderr, "gensupctl: metrics: cannot listen on %s: %s\n", addr, strerror(-fd));
                return EXIT_FAILED;
        }
        int r = serve_fd(o, fd);
        if (is_unix)
                unlink(addr + 5);
        return r;
}
