/* child_signals.c: see child_signals.h. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child_signals.h"

static pthread_once_t noted = PTHREAD_ONCE_INIT;
static int not_default[NSIG];   /* the signals to reset, n_not_default of them */
static int n_not_default;

/* The kernel's struct sigaction: glibc's sigaction() refuses the two
 * signals it keeps for itself (32 and 33, SIGCANCEL and SIGSETXID), yet
 * they may come ignored from whoever started gensupd, and an ignored
 * signal stays ignored across exec. Raw rt_sigaction sees and resets
 * them too (the layout below is x86-64's; elsewhere glibc's call, which
 * leaves those two as they are). */
#ifdef __x86_64__
typedef struct kernel_sigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
} kernel_sigaction;

static int disposition(int sig, void (**ret)(int)) {
        kernel_sigaction old;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)) < 0)
                return -1;
        *ret = old.handler;
        return 0;
}

static void set_default(int sig) {
        kernel_sigaction dfl = { .handler = SIG_DFL };
        (void) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
}
#else
static int disposition(int sig, void (**ret)(int)) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) < 0)
                return -1;
        *ret = sa.sa_handler;
        return 0;
}

static void set_default(int sig) {
        (void) signal(sig, SIG_DFL);
}
#endif

static void note(void) {
        for (int sig = 1; sig < NSIG; sig++) {
                void (*handler)(int);
                if (sig == SIGKILL || sig == SIGSTOP || disposition(sig, &handler) < 0)
                        continue;
                if (handler != SIG_DFL)
                        not_default[n_not_default++] = sig;
        }
}

void sup_child_signals_note(void) {
        (void) pthread_once(&noted, note);
}

void sup_child_signals_reset(void) {
        sigset_t none;

        for (int i = 0; i < n_not_default; i++)
                set_default(not_default[i]);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}
