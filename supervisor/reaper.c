/* reaper.c: children's exits from SIGCHLD, found by pid in a hash table. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "reaper.h"

typedef struct slot {
        pid_t pid;            /* 0: empty; -1: deleted */
        sup_reaper_handler handler;
        void *userdata;
} slot;

static struct {
        sd_event_source *source;
        slot *slots;
        size_t cap;           /* a power of two */
        size_t used;          /* live and deleted slots */
        size_t live;
} reaper;

static size_t hash(pid_t pid, size_t cap) {
        return ((uint32_t) pid * 2654435761u) & (cap - 1);
}

static slot *find(pid_t pid) {
        if (!reaper.slots)
                return NULL;
        for (size_t i = hash(pid, reaper.cap), n = 0; n < reaper.cap; i = (i + 1) & (reaper.cap - 1), n++) {
                if (reaper.slots[i].pid == pid)
                        return &reaper.slots[i];
                if (reaper.slots[i].pid == 0)
                        return NULL;
        }
        return NULL;
}

static int grow(void) {
        size_t cap = reaper.cap ? reaper.cap : 64;
        while (cap < 2 * (reaper.live + 1))
                cap *= 2;
        slot *slots = calloc(cap, sizeof(slot));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < reaper.cap; i++) {
                slot *s = &reaper.slots[i];
                if (s->pid <= 0)
                        continue;
                size_t j = hash(s->pid, cap);
                while (slots[j].pid != 0)
                        j = (j + 1) & (cap - 1);
                slots[j] = *s;
        }
        free(reaper.slots);
        reaper.slots = slots;
        reaper.cap = cap;
        reaper.used = reaper.live;
        return 0;
}

int sup_reaper_watch(pid_t pid, sup_reaper_handler handler, void *userdata) {
        if (pid <= 0)
                return -EINVAL;
        if (find(pid))
                return -EEXIST;
        /* Keep the table at most half full, deleted slots counted. */
        if (2 * (reaper.used + 1) > reaper.cap) {
                int r = grow();
                if (r < 0)
                        return r;
        }
        size_t i = hash(pid, reaper.cap);
        while (reaper.slots[i].pid > 0)
                i = (i + 1) & (reaper.cap - 1);
        if (reaper.slots[i].pid == 0)
                reaper.used++;
        reaper.slots[i] = (slot) { .pid = pid, .handler = handler, .userdata = userdata };
        reaper.live++;
        return 0;
}

void sup_reaper_unwatch(pid_t pid) {
        slot *s = find(pid);
        if (s) {
                *s = (slot) { .pid = -1 };
                reaper.live--;
        }
}

static int on_sigchld(sd_event_source *src, const struct signalfd_siginfo *ssi, void *userdata) {
        /* One SIGCHLD may stand for many exits: take every zombie there is. */
        for (;;) {
                siginfo_t si;
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        return 0;
                pid_t pid = si.si_pid;
                slot *s = find(pid);
                if (s) {
                        sup_reaper_handler handler = s->handler;
                        void *data = s->userdata;
                        *s = (slot) { .pid = -1 };
                        reaper.live--;
                        handler(&si, data);
                }
                /* Reap it now, heard or not (a child nobody watches any more). */
                (void) waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG);
        }
}

int sup_reaper_open(sd_event *e) {
        int r = sd_event_add_signal(e, &reaper.source, SIGCHLD, on_sigchld, NULL);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(reaper.source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

void sup_reaper_close(void) {
        reaper.source = sd_event_source_disable_unref(reaper.source);
        free(reaper.slots);
        memset(&reaper, 0, sizeof(reaper));
}
