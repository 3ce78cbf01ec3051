/* reaper.h: learning of children's exits through SIGCHLD, as s6-svscan
 * and runsv do, with no fd per child (a pidfd per child would cost a
 * third of gensupd's fds in a big tree).
 *
 * The handler runs while the child is still a zombie (waitid WNOWAIT), so
 * its pid, and so its process group id, cannot be reused while the
 * handler kills what the child left behind; the reaper reaps it after. */
#ifndef GENSUP_REAPER_H
#define GENSUP_REAPER_H

#include <signal.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef void (*sup_reaper_handler)(const siginfo_t *si, void *userdata);

/* Watches SIGCHLD (blocked by the caller) on the loop, at high priority so
 * that an exit is settled before requests about that child. */
int sup_reaper_open(sd_event *e);
void sup_reaper_close(void);

/* Calls handler once, when pid exits. -EEXIST if pid is watched. */
int sup_reaper_watch(pid_t pid, sup_reaper_handler handler, void *userdata);
/* Stops watching pid (its exit is then reaped unheard). */
void sup_reaper_unwatch(pid_t pid);

#endif
