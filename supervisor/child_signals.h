/* child_signals.h: the signal dispositions a new child must not keep.
 *
 * exec(2) resets a caught signal to its default, but an ignored one stays
 * ignored, and between clone and exec a child that shares gensupd's
 * memory would run gensupd's handler. So the child sets to SIG_DFL every
 * signal whose disposition in gensupd is not SIG_DFL: the few gensupd
 * ignores or handles (SIGPIPE, what its parent left ignored), read once,
 * rather than all 64, each a system call in the child before its exec,
 * while its spawner waits (a start's critical path). */
#ifndef GENSUP_CHILD_SIGNALS_H
#define GENSUP_CHILD_SIGNALS_H

#include <signal.h>

/* Reads gensupd's dispositions, once per process (later calls return at
 * once; safe from any thread). Call before a spawn, after gensupd set
 * its own (sup_signals_block): a disposition changed later is not seen. */
void sup_child_signals_note(void);

/* In the child before exec: sets to SIG_DFL the signals noted, and
 * unblocks every signal. Async-signal-safe. */
void sup_child_signals_reset(void);

#endif
