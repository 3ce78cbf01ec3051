/* child_signals.c: see child_signals.h. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "child_signals.h"

static pthread_once_t noted = PTHREAD_ONCE_INIT;
static int not_default[NSIG];   /* the signals to reset, n_not_default of them */
static int n_not_default;

static void note(void) {
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;
                if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler != SIG_DFL)
                        not_default[n_not_default++] = sig;
        }
}

void sup_child_signals_note(void) {
        (void) pthread_once(&noted, note);
}

void sup_child_signals_reset(void) {
        sigset_t none;

        for (int i = 0; i < n_not_default; i++)
                (void) signal(not_default[i], SIG_DFL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}
