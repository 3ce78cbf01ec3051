/* sd_bridge.c: gs_server_event(), an sd-event loop inside libgensup's own
 * (loop.h), for servers that watch more with sd-event. libgensup does not
 * link libsystemd: the first call dlopen()s libsystemd.so.0 (a program
 * that calls sd-event itself links it anyway, so it is loaded already).
 *
 * The sd_event's fd is watched in the server's loop; sd_event_run(e, 0)
 * runs when it is readable, after every other event (a post source: a
 * source added or a timer set in a callback is armed there), and again
 * in the next round while the last run dispatched something (its defer
 * sources are never "readable"). Freed with the server. */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "loop.h"
#include "server-internal.h"

#define PUMP_RUNS 16   /* sd_event_run calls per wakeup, at most */

struct gs__sd_bridge {
        void *dl;
        sd_event *e;
        int (*run)(sd_event *e, uint64_t usec);
        sd_event *(*unref)(sd_event *e);
        gs__src *io, *post, *again;
};

static void pump(gs__sd_bridge *b) {
        int r = 0;

        for (int i = 0; i < PUMP_RUNS; i++) {
                r = b->run(b->e, 0);
                if (r <= 0)
                        break;
        }
        if (r < 0) {
                /* Exited or broken: nothing more to run. */
                (void) gs__src_set_enabled(b->io, GS__SRC_OFF);
                (void) gs__src_set_enabled(b->post, GS__SRC_OFF);
        }
        (void) gs__src_set_enabled(b->again, r > 0 ? GS__SRC_ON : GS__SRC_OFF);
}

static int on_io(gs__src *src, int fd, uint32_t revents, void *userdata) {
        pump(userdata);
        return 0;
}

static int on_pump(gs__src *src, void *userdata) {
        pump(userdata);
        return 0;
}

gs__sd_bridge *gs__sd_bridge_free(gs__sd_bridge *b) {
        if (!b)
                return NULL;
        gs__src_unref(b->io);
        gs__src_unref(b->post);
        gs__src_unref(b->again);
        if (b->e)
                b->unref(b->e);
        if (b->dl)
                dlclose(b->dl);
        free(b);
        return NULL;
}

static int bridge_open(gs__sd_bridge *b) {
        int (*new)(sd_event **ret);
        int (*get_fd)(sd_event *e);

        b->dl = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!b->dl)
                return -1;
        *(void **) &new = dlsym(b->dl, "sd_event_new");
        *(void **) &get_fd = dlsym(b->dl, "sd_event_get_fd");
        *(void **) &b->run = dlsym(b->dl, "sd_event_run");
        *(void **) &b->unref = dlsym(b->dl, "sd_event_unref");
        if (!new || !get_fd || !b->run || !b->unref || new(&b->e) < 0)
                return -1;
        return get_fd(b->e);
}

static gs__sd_bridge *bridge_new(gs_server *s) {
        gs__sd_bridge *b = calloc(1, sizeof(*b));

        if (!b)
                return NULL;
        int fd = bridge_open(b);
        if (fd < 0 || gs__loop_add_io(s->event, &b->io, fd, EPOLLIN, on_io, b) < 0 ||
            gs__loop_add_post(s->event, &b->post, on_pump, b) < 0 ||
            gs__loop_add_defer(s->event, &b->again, on_pump, b) < 0)
                return gs__sd_bridge_free(b);
        return b;
}

sd_event *gs_server_event(gs_server *s) {
        if (!s || !s->event)
                return NULL;
        if (!s->sd && !(s->sd = bridge_new(s)))
                return NULL;
        /* Whatever the caller adds now is armed in the next round. */
        (void) gs__src_set_enabled(s->sd->again, GS__SRC_ON);
        return s->sd->e;
}
