/* fuzz_control.c: gensupd's control socket, in process: a real daemon
 * (config, tree, control.c) on a runtime directory of its own, and each
 * input sent on a fresh connection, as gensupctl would, followed by the
 * client's end. The daemon must answer and close that connection, and
 * stay up for the next one (after `stop` it is started again).
 *
 * The tree is a simple_one_for_one pool whose template runs /bin/true:
 * start-child can start nothing else, whatever the input asks. */
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answers.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "reaper.h"

#define FUZZ_MAX_INPUT 65536      /* fits in a socket's buffer: no writer thread */
#define MAX_TURNS 2000       /* loop turns of 10 ms before it counts as a hang */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[] = "/tmp/gs-fuzz-control-XXXXXX";
static char *conf_path, *control_path;
static sup_daemon d;
static bool finished;

static void on_root_finished(void *userdata, const char *reason, bool failed) {
        finished = true;
}

static void daemon_start(void) {
        sup_errors e = { 0 };
        d = (sup_daemon) { 0 };
        finished = false;
        assert(sup_config_load(conf_path, &d.config, &e) == 0);
        sup_errors_done(&e);
        assert(sd_event_new(&d.event) >= 0);
        assert(sup_reaper_open(d.event) >= 0);
        d.runtime_dir = strdup(dir);
        assert(d.runtime_dir && sup_answers_open(&d) == 0);
        d.tree_env = (sup_tree_env) {
                .proc = { .event = d.event, .runtime_dir = d.runtime_dir },
                .root_finished = on_root_finished,
                .userdata = &d,
        };
        assert(sup_tree_start(&d.tree_env, d.config->root, &d.root) == 0);
}

static void cleanup(void) {
        sup_daemon_done(&d);
        unlink(conf_path);
        unlink(control_path);
        rmdir(dir);
        free(conf_path);
        free(control_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        assert(mkdtemp(dir));
        assert(asprintf(&conf_path, "%s/gensup.conf", dir) > 0);
        assert(asprintf(&control_path, "%s/control.sock", dir) > 0);
        FILE *f = fopen(conf_path, "we");
        assert(f);
        fprintf(f, "runtime_dir = \"%s\";\n"
                   "supervisor = { name = \"root\"; strategy = \"simple_one_for_one\"; intensity = 1000000;\n"
                   "  children = ( { name = \"w\"; exec = [\"/bin/true\"]; restart = \"temporary\"; ready = \"exec\"; } );\n"
                   "};\n", dir);
        assert(fclose(f) == 0);
        sup_log_open(true);
        daemon_start();
        atexit(cleanup);
        return 0;
}

/* Drains what the daemon sent; true once it closed the connection. */
static bool drained(int fd) {
        char buf[65536];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return true;
                if (n < 0)
                        return false;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > FUZZ_MAX_INPUT)
                size = FUZZ_MAX_INPUT;
        int fd = ipc_connect(control_path);
        assert(fd >= 0);
        assert(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t) size);
        (void) shutdown(fd, SHUT_WR);

        bool closed = false;
        for (int turn = 0; turn < MAX_TURNS && !closed; turn++) {
                int r = sd_event_run(d.event, 10 * 1000);
                assert(r >= 0 || finished);
                closed = drained(fd);
        }
        /* A peer that has sent everything and closed is answered and let go. */
        assert(closed);
        close(fd);
        if (d.stopping || finished) {
                /* As gensupd does: the loop runs until the tree has stopped
                 * (every child reaped); only then is everything freed. */
                for (int turn = 0; turn < MAX_TURNS && !finished; turn++)
                        (void) sd_event_run(d.event, 10 * 1000);
                assert(finished);
                sup_daemon_done(&d);
                daemon_start();
        }
        return 0;
}
