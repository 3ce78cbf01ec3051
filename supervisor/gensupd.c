/* gensupd: the supervisor daemon. Reads the config, starts the tree in
 * order, restarts by OTP's rules, stops the tree on SIGTERM or SIGINT,
 * answers the other signals as signals.h says. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "clock.h"
#include "cgroup.h"
#include "config.h"
#include "answers.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "notify.h"
#include "output.h"
#include "reaper.h"
#include "signals.h"
#include "spawner.h"
#include "spawn.h"
#include "tree.h"

static void help(void) {
        printf("Usage: gensupd -c FILE [OPTIONS]\n"
               "       gensupd --check -c FILE\n"
               "\n"
               "The gensup supervisor daemon: starts the tree of servers FILE describes,\n"
               "restarts them by OTP's rules and reports every exit with its reason.\n"
               "Runs in the foreground; SIGTERM or SIGINT stops the tree in order, SIGHUP\n"
               "reloads FILE (as gensupctl reload), SIGUSR1 logs the tree, SIGUSR2 logs\n"
               "gensupd's own figures, SIGQUIT kills the tree at once (exit 131). It reaps\n"
               "the orphans its children leave, so it can be the init of a container.\n"
               "\n"
               "  -c, --config FILE   the configuration (gensup.conf(5))\n"
               "      --check         validate FILE and exit: 0 if good, 1 with one\n"
               "                      FILE:LINE: line per error otherwise\n"
               "      --log-stderr    log to stderr even where journald runs\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n"
               "\n"
               "Exit status: 0 after an orderly stop; 1 when the top supervisor gave up\n"
               "(restart intensity reached, a child failed to start at boot) or on error;\n"
               "2 for a usage error. See gensupd(8).\n");
}

static void print_errors(const sup_errors *errors) {
        for (size_t i = 0; i < errors->n; i++)
                fprintf(stderr, "%s\n", errors->lines[i]);
}

static void on_notify(void *userdata, pid_t pid, bool ready, const char *status) {
        sup_daemon *d = userdata;
        if (!ready || !d->root)
                return;
        sup_entry *e = sup_tree_find_pid(d->root, pid);
        /* A child may say READY=1 before the loop has taken its spawn's
         * result, which tells its pid. */
        if (!e && sup_spawner_claim(pid))
                e = sup_tree_find_pid(d->root, pid);
        if (e && sup_entry_proc(e))
                sup_proc_notify_ready(sup_entry_proc(e));
}

static void on_root_finished(void *userdata, const char *reason, bool failed) {
        sup_daemon *d = userdata;
        if (failed) {
                sup_log(LOG_ERR, "supervisor %s gave up: %s", d->config->root->name, reason);
                d->exit_status = EXIT_FAILURE;
        } else
                sup_log(LOG_INFO, "supervisor %s stopped: %s", d->config->root->name, reason);
        (void) sd_notify(0, "STATUS=stopped");
        sd_event_exit(d->event, d->exit_status);
}

static void on_tree_event(void *userdata, const char *kind, const sup_entry *e, const char *reason) {
        sup_daemon *d = userdata;
        if (strcmp(kind, "tree_ready") == 0) {
                sup_log(LOG_INFO, "supervisor %s: all children started", d->config->root->name);
                /* From now on starts wait for their spawns off the loop. */
                sup_spawner_set_async(true);
                (void) sd_notifyf(0, "READY=1\nSTATUS=running, config %s", d->config->path);
        }
        sup_daemon_event(d, kind, e, reason);
}

/* The runtime directory holds every socket gensupd answers on: it must be
 * gensupd's own, and nobody else's to change (gensupd(8) SECURITY). */
static int open_runtime_dir(const char *dir) {
        ipc_dir_fault fault = { 0 };
        int fd = ipc_dir_open(dir, geteuid(), IPC_DIR_CREATE | IPC_DIR_OWNED, 0755, &fault);

        if (fd == -EPERM && fault.path) {
                sup_log(LOG_ERR,
                        "refusing runtime directory %s: %s is %s (uid %u, mode %04o); it must be owned by "
                        "uid %u and not writable by group or others, and so must every directory above it "
                        "(or be root's; sticky ones as /tmp may be writable); see gensupd(8) SECURITY",
                        dir, fault.path, fault.why, (unsigned) fault.uid, (unsigned) (fault.mode & 07777),
                        (unsigned) geteuid());
                ipc_dir_fault_done(&fault);
                return -EPERM;
        }
        ipc_dir_fault_done(&fault);
        if (fd < 0)
                return sup_log_errno(LOG_ERR, fd, "runtime directory %s: %m", dir);
        close(fd);
        return 0;
}

static int run(sup_daemon *d) {
        int r;

        /* sd-event wants these blocked before it watches them (and children). */
        sup_signals_block();

        d->started_usec = sup_mono_usec();

        r = sd_event_default(&d->event);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "event loop: %m");
        r = sup_signals_watch(d);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "watching signals: %m");
        r = sup_log_attach(d->event);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "watching stderr: %m");
        r = sup_reaper_open(d->event);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "watching children: %m");
        /* Orphans the children leave are reparented here, as to an init. */
        sup_reaper_adopt_orphans();
        /* Children are cloned by a thread of their own, off the loop. */
        r = sup_spawner_open(d->event);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "spawner thread: %m");
        /* WATCHDOG=1 at half of WATCHDOG_USEC, when systemd asks for it. */
        (void) sd_event_set_watchdog(d->event, true);

        if (d->config->runtime_dir)
                d->runtime_dir = strdup(d->config->runtime_dir);
        else if ((r = ipc_runtime_dir(&d->runtime_dir)) < 0)
                return sup_log_errno(LOG_ERR, r, "no runtime directory (set GENSUP_RUNTIME_DIR): %m");
        if (!d->runtime_dir)
                return -ENOMEM;
        r = open_runtime_dir(d->runtime_dir);
        if (r < 0)
                return r;
        r = sup_output_set_log_dir(d->config->log_dir, d->config->log_size, d->config->log_keep);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "log_dir: %m");

        /* The control socket first: a second gensupd on the same runtime
         * directory stops here, before it touches anything of the first. */
        r = sup_answers_open(d);
        if (r < 0)
                return r;
        /* Then containment, which kills what a SIGKILLed gensupd on this
         * runtime directory left, and says which is in force. */
        (void) sup_cgroup_setup(d->runtime_dir);

        char *notify_path = NULL;
        if (asprintf(&notify_path, "%s/notify.sock", d->runtime_dir) < 0)
                return -ENOMEM;
        r = sup_notify_open(d->event, notify_path, on_notify, d, &d->notify);
        free(notify_path);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "notify socket: %m");

        d->tree_env = (sup_tree_env) {
                .proc = {
                        .event = d->event,
                        .runtime_dir = d->runtime_dir,
                        .notify_socket = sup_notify_path(d->notify),
                        .journal = sup_log_to_journal(),
                },
                .root_finished = on_root_finished,
                .event = on_tree_event,
                .userdata = d,
        };
        srand48((long) time(NULL) ^ (long) getpid());
        (void) sd_notify(0, "STATUS=starting");
        r = sup_tree_start(&d->tree_env, d->config->root, &d->root);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "starting the tree: %m");

        r = sd_event_loop(d->event);
        if (r < 0)
                return sup_log_errno(LOG_ERR, r, "event loop: %m");
        return r;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, 'C' },
                { "log-stderr", no_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *config_path = NULL;
        bool check = false, log_stderr = false;
        int c;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'C':
                        check = true;
                        break;
                case 'L':
                        log_stderr = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("gensupd %s\n", GENSUP_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'gensupd --help'.\n");
                        return 2;
                }
        }
        if (!config_path || optind != argc) {
                fprintf(stderr, "gensupd: %s\nTry 'gensupd --help'.\n",
                        config_path ? "unexpected arguments" : "no config file given (-c FILE)");
                return 2;
        }

        sup_errors errors = { 0 };
        sup_daemon d = { .exit_status = EXIT_SUCCESS };
        int r = sup_config_load(config_path, &d.config, &errors);
        print_errors(&errors);
        if (r < 0 && errors.n == 0)
                fprintf(stderr, "gensupd: %s: %s\n", config_path, strerror(-r));
        sup_errors_done(&errors);
        if (r < 0)
                return EXIT_FAILURE;
        if (check) {
                printf("%s: ok\n", config_path);
                d.config = sup_config_free(d.config);
                return EXIT_SUCCESS;
        }

        sup_log_open(log_stderr);
        sup_spawn_raise_nofile();
        r = run(&d);
        if (r < 0)
                d.exit_status = EXIT_FAILURE;

        sup_daemon_done(&d);
        /* After the tree: a child's death signal follows its spawning thread. */
        sup_spawner_close();
        sup_cgroup_teardown();
        sup_log_close();
        return d.exit_status;
}
