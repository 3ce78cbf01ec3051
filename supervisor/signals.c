/* signals.c: gensupd's answer to each signal (signals.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "reaper.h"
#include "signals.h"
#include "status.h"

static const int handled[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT };

void sup_signals_block(void) {
        sigset_t mask;

        sigemptyset(&mask);
        for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
                sigaddset(&mask, handled[i]);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
}

/* ---- SIGUSR1: the tree, one line per child ---- */

static void log_child(const json_t *c, const char *path) {
        const char *reason = json_string_value(json_object_get(c, "reason"));
        json_int_t pid = json_integer_value(json_object_get(c, "pid"));
        char pidtext[32] = "-";

        if (pid > 0)
                snprintf(pidtext, sizeof(pidtext), "%lld", (long long) pid);
        sup_log(LOG_INFO, "tree: %s %s %s pid %s restarts %lld up %llds last %s", path,
                json_string_value(json_object_get(c, "type")), json_string_value(json_object_get(c, "state")),
                pidtext, (long long) json_integer_value(json_object_get(c, "restarts")),
                (long long) (json_integer_value(json_object_get(c, "uptime_ms")) / 1000),
                reason ? reason : "-");
}

static void log_children(const json_t *node, const char *path) {
        size_t i;
        json_t *c;

        json_array_foreach(json_object_get(node, "children"), i, c) {
                char *sub = NULL;
                if (asprintf(&sub, "%s/%s", path, json_string_value(json_object_get(c, "name"))) < 0)
                        return;
                log_child(c, sub);
                log_children(c, sub);
                free(sub);
        }
}

static void log_tree(sup_daemon *d) {
        if (!d->root) {
                sup_log(LOG_INFO, "tree: none (stopped)");
                return;
        }
        json_t *j = sup_status_node(d->root);
        if (!j)
                return;
        const char *name = sup_node_name(d->root);
        sup_log(LOG_INFO, "tree: %s supervisor %s", name, d->stopping ? "stopping" : "running");
        log_children(j, name);
        json_decref(j);
}

/* ---- SIGUSR2: gensupd's own figures ---- */

static void log_self(sup_daemon *d) {
        size_t by_pidfd, by_scan;
        long long rss = sup_events_self_rss();

        sup_reaper_counts(&by_pidfd, &by_scan);
        sup_log(LOG_INFO, "self: pid %d up %llus rss %lld KiB fds %lld children %zu (pidfd %zu, scan %zu) config %s",
                (int) getpid(), (unsigned long long) ((sup_mono_usec() - d->started_usec) / 1000000u),
                rss >= 0 ? rss / 1024 : -1, sup_events_self_fds(), by_pidfd + by_scan, by_pidfd, by_scan,
                d->config->path);
}

/* ---- stopping ---- */

static void stop(sup_daemon *d, int signo) {
        if (d->stopping)
                return;
        sup_log(LOG_INFO, "%s: stopping the tree", strsignal(signo));
        sup_daemon_stop(d);
}

/* No shutdown times: the loop ends now, and sup_daemon_done kills every
 * process of the tree at once. */
static void quit(sup_daemon *d) {
        sup_log(LOG_WARNING, "%s: killing the tree at once, exit %d", strsignal(SIGQUIT), SUP_EXIT_QUIT);
        (void) sd_notify(0, "STOPPING=1\nSTATUS=killing the tree");
        d->stopping = true;
        d->exit_status = SUP_EXIT_QUIT;
        sd_event_exit(d->event, SUP_EXIT_QUIT);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        sup_daemon *d = userdata;
        char *error = NULL;

        switch (si->ssi_signo) {
        case SIGTERM:
        case SIGINT:
                stop(d, (int) si->ssi_signo);
                break;
        case SIGHUP:
                (void) sup_daemon_reload(d, NULL, NULL, &error);
                free(error);
                break;
        case SIGUSR1:
                log_tree(d);
                break;
        case SIGUSR2:
                log_self(d);
                break;
        case SIGQUIT:
                quit(d);
                break;
        default:
                break;
        }
        return 0;
}

int sup_signals_watch(sup_daemon *d) {
        for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
                int r = sd_event_add_signal(d->event, NULL, handled[i], on_signal, d);
                if (r < 0)
                        return r;
        }
        return 0;
}
