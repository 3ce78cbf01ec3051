/* main.c: gensupctl, the ctl tool. Asks gensupd about the supervision
 * tree and steers it over <runtime_dir>/control.sock (CTL frames,
 * answered by CTL_REPLY frames carrying a JSON document; control.c is the
 * other side), and talks straight to a server for `call` and `cast`
 * (libgensup's client API: gensupd is not on the data path).
 *
 * Output is for people by default (aligned tables, durations, colour on a
 * terminal) and the received JSON document with --json. Exit status: 0 ok,
 * 1 the command failed or was refused, 2 usage error (gensupctl(1)).
 *
 * Map: this file reads the options and the command line (the commands
 * are ../commands.c's table) and runs one command; io.c connects, sends
 * and waits, output.c prints, call.c does call and cast; ctl.h lists
 * them all. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "call.h"
#include "ctl.h"
#include "health.h"
#include "io.h"
#include "logs.h"
#include "metrics.h"
#include "top.h"
#include "output.h"
#include "version.h"
#include "wait.h"

/* ---- help and usage ---- */

static void help(void) {
        printf("Usage: gensupctl [OPTIONS] COMMAND [ARGS]...\n"
               "\n"
               "Inspects and steers the supervision tree that gensupd runs, and calls its\n"
               "servers.\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < _CTL_CMD_MAX; i++) {
                char left[64];
                snprintf(left, sizeof(left), "%s %s", ctl_commands[i].name, ctl_commands[i].synopsis);
                if (strlen(left) > 24)
                        printf("  %s\n  %-24s  %s\n", left, "", ctl_commands[i].help);
                else
                        printf("  %-24s  %s\n", left, ctl_commands[i].help);
        }
        printf("\nPAYLOAD is the argument, or standard input when absent or \"-\".\n"
               "\n"
               "Options:\n"
               "      --json          print the answer as JSON (events --follow, logs: JSON\n"
               "                      Lines)\n"
               "  -s, --socket PATH   gensupd's control socket (default:\n"
               "                      $GENSUP_RUNTIME_DIR/control.sock, see gensupctl(1))\n"
               "      --timeout MS    wait at most MS milliseconds for the answer (default\n"
               "                      5000; none for start/terminate/restart/delete-child\n"
               "                      and stop; 0 waits forever)\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n"
               "\n"
               "Exit status: 0 ok, 1 the command failed or was refused, 2 usage error,\n"
               "3 (status, is-ready) a child that should run does not; stop --wait:\n"
               "gensupd's own.\n"
               "See gensupctl(1).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
        va_list ap;
        fputs("gensupctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'gensupctl --help'.\n", stderr);
        return EXIT_USAGE;
}

/* ---- running a command ---- */

/* status and is-ready: 3 when something that should run does not. */
static int health_status(const ctl_opts *o, const ctl_command *cmd, json_t *doc) {
        const char *name = NULL, *state = NULL;
        if (ctl_status_up(doc, cmd->id == CTL_CMD_IS_READY, &name, &state))
                return EXIT_OK;
        if (cmd->id == CTL_CMD_IS_READY && !o->json)
                fprintf(stderr, "gensupctl: is-ready: %s is %s\n", name ? name : "?", state ? state : "not up");
        return EXIT_NOT_RUNNING;
}

/* The answer arrived: print it, or follow events after it. */
static int daemon_print(const ctl_opts *o, const ctl_command *cmd, char **args, json_t *doc, ipc_conn *c) {
        int status = EXIT_OK;
        if (cmd->id == CTL_CMD_LOGS) {
                ctl_print_logs(o, doc);
                fflush(stdout);
                return o->follow ? ctl_follow_events(o, cmd, c) : EXIT_OK;
        }
        if (cmd->id == CTL_CMD_STOP && o->wait) {
                if (!o->json)
                        printf("gensupd: stopping the tree, waiting for it to exit\n");
                fflush(stdout);
                return ctl_wait_exit(cmd, c);
        }
        if (cmd->id == CTL_CMD_STATUS || cmd->id == CTL_CMD_IS_READY) {
                if (cmd->id == CTL_CMD_STATUS)
                        ctl_print_answer(o, cmd, args, doc);
                return health_status(o, cmd, doc);
        }
        if (o->follow) {
                ctl_print_events(o, doc);
                fflush(stdout);
                return ctl_follow_events(o, cmd, c);
        }
        ctl_print_answer(o, cmd, args, doc);
        /* A reload that could not carry out every change did not succeed. */
        if (cmd->id == CTL_CMD_RELOAD && json_array_size(json_object_get(doc, "failed")) > 0) {
                fprintf(stderr, "gensupctl: reload: some changes failed (listed above)\n");
                status = EXIT_FAILED;
        }
        return status;
}

/* A command for gensupd: connect, send, wait, print. */
static int run_daemon_command(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args) {
        ipc_conn *c = NULL;
        json_t *doc = NULL;
        int status = EXIT_FAILED;

        if (ctl_daemon_connect(o, cmd, &c) < 0)
                return EXIT_FAILED;
        int timeout = o->timeout_set ? o->timeout_ms : cmd->slow ? -1 : CTL_DEFAULT_TIMEOUT_MS;
        int64_t deadline = ctl_deadline(timeout);
        int r = ctl_daemon_send(c, cmd, args, n_args, timeout, deadline);
        if (r >= 0 && ctl_json_as_sent(o, cmd)) {
                /* status's exit status is read from its answer. */
                bool health = cmd->id == CTL_CMD_STATUS;
                status = ctl_daemon_print_as_sent(c, cmd, timeout, deadline, health ? &doc : NULL);
                if (status == EXIT_OK && health)
                        status = health_status(o, cmd, doc);
        }
        else if (r >= 0 && ctl_daemon_wait(c, cmd, timeout, deadline, &doc) >= 0)
                status = daemon_print(o, cmd, args, doc, c);
        json_decref(doc);
        ipc_conn_free(c);
        return status;
}

/* ---- the command line ---- */

static int parse_timeout(const char *s, ctl_opts *o) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > INT_MAX)
                return -EINVAL;
        o->timeout_ms = v == 0 ? -1 : (int) v;
        o->timeout_set = true;
        return 0;
}

/* One of gensupctl's options after the command, at argv[*i]: 1 taken
 * (*i moved past its value), 0 not one of ours, or EXIT_USAGE. */
static int take_option(int argc, char **argv, int *i, const ctl_command *cmd, ctl_opts *o) {
        const char *a = argv[*i];
        if (strcmp(a, "--json") == 0) {
                o->json = true;
                return 1;
        }
        if ((cmd->id == CTL_CMD_EVENTS && strcmp(a, "--follow") == 0) ||
            (cmd->id == CTL_CMD_LOGS && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0))) {
                o->follow = true;
                return 1;
        }
        if (cmd->id == CTL_CMD_STOP && strcmp(a, "--wait") == 0) {
                o->wait = true;
                return 1;
        }
        if (cmd->id == CTL_CMD_LOGS && (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0)) {
                if (*i + 1 >= argc || !*argv[*i + 1] || strspn(argv[*i + 1], "0123456789") != strlen(argv[*i + 1]))
                        return usage_error("logs: %s wants a number of lines", a);
                o->lines = argv[++*i];
                return 1;
        }
        if (cmd->id == CTL_CMD_METRICS && strcmp(a, "--listen") == 0) {
                if (*i + 1 >= argc)
                        return usage_error("%s: option %s needs a value", cmd->name, a);
                o->listen = argv[++*i];
                return 1;
        }
        const char *v = NULL;
        bool socket = false;
        if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "--timeout") == 0) {
                if (*i + 1 >= argc)
                        return usage_error("%s: option %s needs a value", cmd->name, a);
                v = argv[++*i];
                socket = a[1] == 's' || strcmp(a, "--socket") == 0;
        } else if (strncmp(a, "--socket=", 9) == 0) {
                v = a + 9;
                socket = true;
        } else if (strncmp(a, "--timeout=", 10) == 0)
                v = a + 10;
        else
                return 0;
        if (socket)
                o->socket = v;
        else if (parse_timeout(v, o) < 0)
                return usage_error("%s: --timeout wants milliseconds, not '%s'", cmd->name, v);
        return 1;
}

/* After the command: gensupctl's own options are still taken (so
 * `gensupctl status --json` works) until "--"; the rest are arguments.
 * For commands whose arguments may look like options (a child's argv, a
 * payload), unknown ones are arguments too. Returns 0 or EXIT_USAGE. */
static int parse_rest(int argc, char **argv, const ctl_command *cmd, ctl_opts *o, char ***ret_args, size_t *ret_n) {
        char **args = calloc((size_t) argc + 1, sizeof(*args));
        size_t n = 0;
        bool dashdash = false;

        if (!args) {
                fprintf(stderr, "gensupctl: out of memory\n");
                return EXIT_FAILED;
        }
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
                        args[n++] = argv[i];
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        dashdash = true;
                        continue;
                }
                int r = take_option(argc, argv, &i, cmd, o);
                if (r == 1)
                        continue;
                if (r == 0 && cmd->free_args) {
                        args[n++] = argv[i];
                        continue;
                }
                free(args);
                return r == 0 ? usage_error("%s: unknown option '%s'", cmd->name, a) : r;
        }
        *ret_args = args;
        *ret_n = n;
        return 0;
}

/* The options before the command. -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, ctl_opts *o) {
        static const struct option longopts[] = {
                { "json", no_argument, NULL, 'j' },
                { "socket", required_argument, NULL, 's' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        int c;

        opterr = 0;
        /* "+": stop at the command; what follows is parse_rest's. */
        while ((c = getopt_long(argc, argv, "+hs:", longopts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        o->json = true;
                        break;
                case 's':
                        o->socket = optarg;
                        break;
                case 't':
                        if (parse_timeout(optarg, o) < 0)
                                return usage_error("--timeout wants milliseconds, not '%s'", optarg);
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                case 'V':
                        printf("gensupctl %s\n", GENSUP_VERSION);
                        return EXIT_OK;
                case ':':
                        return usage_error("option '%s' needs a value", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return usage_error("no command given");
        return -1;
}

/* The command's arguments, counted and checked against the table. 0, or
 * an exit status. */
static int parse_command(int argc, char **argv, const ctl_command *cmd, ctl_opts *o, char ***ret_args,
                         size_t *ret_n) {
        char **args = NULL;
        size_t n_args = 0;
        int r = parse_rest(argc, argv, cmd, o, &args, &n_args);
        if (r != 0)
                return r;
        size_t max = cmd->id == CTL_CMD_LOGS || cmd->id == CTL_CMD_STOP ? cmd->min_args : cmd->max_args;
        if (n_args < cmd->min_args || n_args > max) {
                free(args);
                return usage_error("%s: usage: gensupctl %s %s", cmd->name, cmd->name, cmd->synopsis);
        }
        if (cmd->id == CTL_CMD_TRACE && strcmp(args[1], "on") != 0 && strcmp(args[1], "off") != 0) {
                free(args);
                return usage_error("trace: usage: gensupctl trace NAME on|off");
        }
        /* Without -n, following starts from the last ten, as tail -f. */
        if (cmd->id == CTL_CMD_LOGS && (o->lines || o->follow))
                args[n_args++] = (char *) (o->lines ? o->lines : "10");
        if (o->follow)
                args[n_args++] = (char *) "--follow";
        if (o->wait)
                args[n_args++] = (char *) "--wait";
        *ret_args = args;
        *ret_n = n_args;
        return 0;
}

int main(int argc, char **argv) {
        ctl_opts o = { .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
        int r = parse_options(argc, argv, &o);
        if (r >= 0)
                return r;

        const ctl_command *cmd = ctl_command_find(argv[optind]);
        if (!cmd)
                return usage_error("unknown command '%s'", argv[optind]);
        char **args = NULL;
        size_t n_args = 0;
        r = parse_command(argc - optind - 1, argv + optind + 1, cmd, &o, &args, &n_args);
        if (r != 0)
                return r;

        const char *nc = getenv("NO_COLOR");
        const char *term = getenv("TERM");
        o.tty = isatty(STDOUT_FILENO) == 1;
        o.color = o.tty && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

        if (cmd->route == CTL_ROUTE_LOCAL)
                r = cmd->id == CTL_CMD_TOP ? ctl_top_run(&o, cmd, args, n_args) : ctl_metrics_run(&o, cmd, args, n_args);
        else if (ctl_command_to_daemon(cmd))
                r = run_daemon_command(&o, cmd, args, n_args);
        else
                r = ctl_run_client(&o, cmd, args, n_args);
        free(args);
        if (fflush(stdout) != 0 && r == EXIT_OK) {
                fprintf(stderr, "gensupctl: %s: writing the output: %s\n", cmd->name, strerror(errno));
                r = EXIT_FAILED;
        }
        return r;
}
