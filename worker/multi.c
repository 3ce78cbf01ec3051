/* multi.c: calling several servers at once (gen_server:multi_call), and
 * stopping a server (gen_server:stop). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "client-internal.h"

int gs_multi_call(const char *const *names, size_t n, const void *req, size_t len, int timeout_ms,
                  gs_multi_result *results) {
        if (n == 0)
                return 0;
        if (!names || !results || n > INT32_MAX)
                return -EINVAL;

        /* One deadline for everything, connecting included. */
        int64_t deadline = gs__deadline(timeout_ms);
        for (size_t i = 0; i < n; i++)
                results[i] = (gs_multi_result) { .name = names[i], .status = -ETIMEDOUT, .reply = GS_BUF_INIT };

        gs_client **cl = calloc(n, sizeof(*cl));
        gs_reqids *rq = NULL;
        int r = cl ? gs_reqids_new(&rq) : -ENOMEM;
        if (r < 0) {
                free(cl);
                return r;
        }

        /* Send everything first, then wait for all together. Labels are
         * index + 1, so that no label is NULL. */
        for (size_t i = 0; i < n; i++) {
                r = names[i] ? gs_client_connect(names[i], &cl[i]) : -EINVAL;
                if (r == 0 && gs__client_is_self(cl[i]))
                        r = -EDEADLK;
                if (r == 0)
                        r = gs_send_request_to(rq, cl[i], req, len, (void *) (uintptr_t) (i + 1));
                if (r < 0)
                        results[i].status = r;
        }

        gs_buf reply = GS_BUF_INIT;
        int answered = 0;
        while (gs_reqids_size(rq) > 0) {
                void *label = NULL;
                r = gs_reqids_receive(rq, gs__remaining_ms(deadline), true, &reply, &label);
                if (r == -ETIMEDOUT || r == -ECHILD)
                        break;
                if (!label)
                        break;   /* not about one server: -ENOMEM, a poll failure */
                gs_multi_result *res = &results[(uintptr_t) label - 1];
                res->status = r;
                if (r == 0 || r == -EREMOTEIO) {
                        res->reply = reply;
                        reply = (gs_buf) GS_BUF_INIT;
                }
                if (r == 0)
                        answered++;
        }
        gs_buf_done(&reply);
        gs_reqids_free(rq);
        for (size_t i = 0; i < n; i++)
                gs_client_free(cl[i]);
        free(cl);
        return answered;
}

int gs_stop(const char *name_or_path, const char *reason, int timeout_ms) {
        gs_client *c;
        int r = gs_client_connect(name_or_path, &c);

        if (r < 0)
                return r;
        /* Taken before the stop, while the server certainly lives. */
        int pidfd = gs__pidfd_of_peer(c);
        int64_t deadline = gs__deadline(timeout_ms);
        r = gs__client_stop(c, reason, timeout_ms);
        gs_client_free(c);
        if (r == 0 && pidfd >= 0)
                r = gs__pidfd_wait(pidfd, deadline);
        if (pidfd >= 0)
                close(pidfd);
        return r;
}
