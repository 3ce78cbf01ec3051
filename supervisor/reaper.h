/* reaper.h: learning of children's exits, in O(1) per exit where the fd
 * budget allows.
 *
 * Each child gets a pidfd while fds are plentiful (the pidfd's number is
 * below RLIMIT_NOFILE less a reserve of a 32nd of it plus 32): its exit
 * is read from it alone (waitid P_PIDFD), whatever the size of the tree.
 * When a new child's pidfd would fall in the reserve, the newest
 * children give up theirs, three per new child, so that the tree can
 * still grow to a third of the limit; when a child ends, the newest
 * children without a pidfd get one again as far as the reserve allows.
 * Children without one are found on
 * SIGCHLD by waitid(P_ALL) over every child, as s6-svscan and runsv do;
 * that scan runs on every SIGCHLD only while such children (or unwatched
 * zombies) exist. Orphans (gensupd is a subreaper) are otherwise looked
 * for by the scan at most every 100 ms plus 10 us per child.
 *
 * The handler runs while the child is still a zombie (WNOWAIT), so its
 * pid, and so its process group id, cannot be reused while the handler
 * kills what the child left behind; the reaper reaps it after. */
#ifndef GENSUP_REAPER_H
#define GENSUP_REAPER_H

#include <signal.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef void (*sup_reaper_handler)(const siginfo_t *si, void *userdata);

/* Watches SIGCHLD (blocked by the caller) on the loop, at the control
 * socket's priority (a child that exits as fast as it is restarted must
 * not starve gensupctl). */
int sup_reaper_open(sd_event *e);
void sup_reaper_close(void);

/* Calls handler once, when pid exits (pid must not have been reaped).
 * -EEXIST if pid is watched. */
int sup_reaper_watch(pid_t pid, sup_reaper_handler handler, void *userdata);
/* Stops watching pid (its exit is then reaped unheard). */
void sup_reaper_unwatch(pid_t pid);
/* Makes gensupd the reaper of its children's orphans: a child subreaper
 * (PR_SET_CHILD_SUBREAPER) unless it is PID 1, which is one already. From
 * then on every SIGCHLD reaps the zombies nobody watches. */
void sup_reaper_adopt_orphans(void);
/* Frees up to n fds when they ran out (EMFILE): the newest children
 * give up their pidfds and are found by the scan. Returns how many. */
size_t sup_reaper_spare_fds(size_t n);
/* How many children are watched by pidfd, and how many by the scan. */
void sup_reaper_counts(size_t *ret_pidfd, size_t *ret_scan);

#endif
