/* fuzz_client.c: libgensup's client against a server that answers with
 * the fuzzer's bytes: two outstanding requests and a call, then the
 * server's end. Whatever comes, the client returns (a reply or a defined
 * error) and frees everything. */
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gensup.h"
#include "ipc.h"

#define FUZZ_MAX_INPUT 65536   /* fits in a socket's buffer: no writer thread */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[] = "/tmp/gs-fuzz-client-XXXXXX";
static char *path;
static int listen_fd = -1;

static void cleanup(void) {
        if (listen_fd >= 0)
                close(listen_fd);
        if (path)
                unlink(path);
        rmdir(dir);
        free(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        assert(mkdtemp(dir));
        assert(asprintf(&path, "%s/s.sock", dir) > 0);
        listen_fd = ipc_listen(path, 16);
        assert(listen_fd >= 0);
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > FUZZ_MAX_INPUT)
                size = FUZZ_MAX_INPUT;
        gs_client *c = NULL;
        assert(gs_client_connect(path, &c) == 0);
        int s;
        do
                s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        while (s < 0 && errno == EINTR);
        assert(s >= 0);
        /* The answers are there before the questions: refs are 1, 2, 3. */
        assert(write(s, data, size) == (ssize_t) size);
        (void) shutdown(s, SHUT_WR);

        gs_reqid a, b;
        gs_buf reply = GS_BUF_INIT;
        int ra = gs_send_request(c, "a", 1, &a);
        int rb = gs_send_request(c, "b", 1, &b);
        int r = gs_call(c, "c", 1, 1000, &reply);
        assert(r == 0 || r < 0);
        if (ra == 0)
                (void) gs_check_response(c, a, &reply);
        if (rb == 0)
                (void) gs_wait_response(c, b, 0, &reply);
        (void) gs_client_exit_reason(c);
        gs_buf_done(&reply);
        gs_client_free(c);
        close(s);
        return 0;
}
