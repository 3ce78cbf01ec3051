/* orphan.c: what a supervised server does when gensupd dies, made
 * deterministic. gensupd starts each child with PR_SET_PDEATHSIG(SIGKILL)
 * so that none outlives it. When gensupd is killed, its end of the
 * control socket closes first (the kernel closes a dying process's files
 * before it signals its children), so a server that traps exits began
 * terminate and was then cut short by SIGKILL at some random point: in
 * some runs terminate finished, in others it did not.
 *
 * A server that traps exits therefore asks for GS__ORPHAN_SIGNAL instead
 * of SIGKILL when its parent dies. Its handler, async-signal-safe, only
 * arms alarm(GS__ORPHAN_GRACE_S) with SIGALRM's default action: the
 * control fd's end of file runs terminate(shutdown) as for any exit
 * signal from the supervisor, and a server that is stuck (in a callback,
 * in terminate) is still killed by SIGALRM within the grace time: no
 * orphans. A server that does not trap exits keeps SIGKILL: it would exit
 * at once anyway, without terminate. */
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "server-internal.h"

static void on_parent_death(int sig) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };

        (void) sigaction(SIGALRM, &dfl, NULL);
        (void) alarm(GS__ORPHAN_GRACE_S);
}

int gs__orphan_setup(void) {
        struct sigaction sa = { .sa_handler = on_parent_death };
        sigset_t alrm;

        sigemptyset(&sa.sa_mask);
        if (sigaction(GS__ORPHAN_SIGNAL, &sa, NULL) < 0)
                return -1;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        (void) sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        /* Had gensupd died before this, SIGKILL would have come already:
         * no window in which the death goes unnoticed. */
        return prctl(PR_SET_PDEATHSIG, GS__ORPHAN_SIGNAL) < 0 ? -1 : 0;
}
