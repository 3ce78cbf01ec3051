/* signals.h: what gensupd does on each signal it takes, as the init of a
 * container or under systemd (gensupd(8), SIGNALS):
 *
 *   SIGTERM, SIGINT  stop the tree in order (shutdown times), exit 0
 *   SIGHUP           reload the config (as gensupctl reload)
 *   SIGUSR1          log the tree: one line per child (as gensupctl status)
 *   SIGUSR2          log gensupd's own figures (uptime, memory, fds)
 *   SIGQUIT          kill the whole tree at once (SIGKILL, no shutdown
 *                    times), exit 131 (128 + SIGQUIT)
 *
 * None of them is left at its default action: as PID 1 that would mean
 * ignored, elsewhere killed. */
#ifndef GENSUP_SIGNALS_H
#define GENSUP_SIGNALS_H

struct sup_daemon;

/* gensupd's exit status after SIGQUIT. */
#define SUP_EXIT_QUIT (128 + 3)

/* Blocks every signal above and SIGCHLD (before the loop exists: sd-event
 * wants them blocked), and ignores SIGPIPE. */
void sup_signals_block(void);
/* Watches them on d's loop. 0 or -errno. */
int sup_signals_watch(struct sup_daemon *d);

#endif
