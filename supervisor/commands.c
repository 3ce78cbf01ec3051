/* commands.c: the table of control commands (see commands.h). Both
 * gensupd (control.c) and gensupctl (ctl/) link this file and nothing
 * else of each other's. */
#include <string.h>

#include "commands.h"

#define SYS(op) GENSUP__SYS_REQUEST__OP__##op
#define NO_SYS SYS(OP_UNSPECIFIED)

const ctl_command ctl_commands[_CTL_CMD_MAX] = {
        [CTL_CMD_STATUS] = { CTL_CMD_STATUS, "status", 0, 1, false, CTL_ROUTE_DAEMON, NO_SYS, false, false,
                             "[NAME]", "the tree, or one child in detail" },
        [CTL_CMD_WHICH_CHILDREN] = { CTL_CMD_WHICH_CHILDREN, "which-children", 1, 1, false, CTL_ROUTE_DAEMON, NO_SYS,
                                     false, false, "SUP", "SUP's children, newest first" },
        [CTL_CMD_COUNT_CHILDREN] = { CTL_CMD_COUNT_CHILDREN, "count-children", 1, 1, false, CTL_ROUTE_DAEMON, NO_SYS,
                                     false, false, "SUP", "count SUP's specs, active, supervisors, workers" },
        [CTL_CMD_GET_CHILDSPEC] = { CTL_CMD_GET_CHILDSPEC, "get-childspec", 1, 2, false, CTL_ROUTE_DAEMON, NO_SYS,
                                    false, false, "[SUP] NAME", "the child spec of NAME (under SUP)" },
        [CTL_CMD_HISTORY] = { CTL_CMD_HISTORY, "history", 1, 1, false, CTL_ROUTE_DAEMON, NO_SYS, false, false,
                              "NAME", "NAME's recent exits: time, pid, context, reason" },
        [CTL_CMD_EVENTS] = { CTL_CMD_EVENTS, "events", 0, 1, false, CTL_ROUTE_DAEMON, NO_SYS, false, false,
                             "[--follow]", "recent starts and exits; --follow waits for more" },
        [CTL_CMD_GET_STATE] = { CTL_CMD_GET_STATE, "get-state", 1, 1, false, CTL_ROUTE_SYS, SYS(GET_STATE), false,
                                false, "NAME", "the server's state text (format_status)" },
        [CTL_CMD_STATISTICS] = { CTL_CMD_STATISTICS, "statistics", 1, 1, false, CTL_ROUTE_SYS, SYS(STATISTICS),
                                 false, false, "NAME", "the server's counters, memory and CPU time" },
        [CTL_CMD_SUSPEND] = { CTL_CMD_SUSPEND, "suspend", 1, 1, true, CTL_ROUTE_SYS, SYS(SUSPEND), false, false,
                              "NAME", "suspend the server: it answers sys requests only" },
        [CTL_CMD_RESUME] = { CTL_CMD_RESUME, "resume", 1, 1, true, CTL_ROUTE_SYS, SYS(RESUME), false, false, "NAME",
                             "resume a suspended server" },
        [CTL_CMD_TRACE] = { CTL_CMD_TRACE, "trace", 2, 2, true, CTL_ROUTE_SYS, SYS(TRACE), false, false,
                            "NAME on|off", "log each message the server handles, or stop" },
        [CTL_CMD_START_CHILD] = { CTL_CMD_START_CHILD, "start-child", 1, 64, true, CTL_ROUTE_TREE, NO_SYS, true, true,
                                  "SUP SPEC|ARG...", "add a child (SPEC) or a simple_one_for_one instance" },
        [CTL_CMD_TERMINATE_CHILD] = { CTL_CMD_TERMINATE_CHILD, "terminate-child", 1, 2, true, CTL_ROUTE_TREE, NO_SYS,
                                      true, false, "[SUP] NAME", "stop a child, keeping its spec" },
        [CTL_CMD_RESTART_CHILD] = { CTL_CMD_RESTART_CHILD, "restart-child", 1, 2, true, CTL_ROUTE_TREE, NO_SYS, true,
                                    false, "[SUP] NAME", "start a terminated child again" },
        [CTL_CMD_DELETE_CHILD] = { CTL_CMD_DELETE_CHILD, "delete-child", 1, 2, true, CTL_ROUTE_TREE, NO_SYS, true,
                                   false, "[SUP] NAME", "forget a terminated child's spec" },
        [CTL_CMD_CALL] = { CTL_CMD_CALL, "call", 1, 2, false, CTL_ROUTE_CALL, NO_SYS, false, true,
                           "NAME [PAYLOAD|-]", "call the server; the reply goes to stdout" },
        [CTL_CMD_CAST] = { CTL_CMD_CAST, "cast", 1, 2, false, CTL_ROUTE_CAST, NO_SYS, false, true,
                           "NAME [PAYLOAD|-]", "cast to the server" },
        [CTL_CMD_RELOAD] = { CTL_CMD_RELOAD, "reload", 0, 0, true, CTL_ROUTE_DAEMON, NO_SYS, true, false, "",
                             "re-read the config: add, remove and restart what changed" },
        [CTL_CMD_UPGRADE] = { CTL_CMD_UPGRADE, "upgrade", 1, 64, true, CTL_ROUTE_DAEMON, NO_SYS, true, true,
                              "NAME [--extra=TEXT] [-- PROGRAM ARG...]",
                              "hot upgrade: a new process takes over state and connections" },
        [CTL_CMD_STOP] = { CTL_CMD_STOP, "stop", 0, 1, true, CTL_ROUTE_DAEMON, NO_SYS, true, false, "[--wait]",
                           "stop the tree in order; gensupd then exits (--wait: for that)" },
        [CTL_CMD_LOGS] = { CTL_CMD_LOGS, "logs", 1, 3, false, CTL_ROUTE_DAEMON, NO_SYS, false, false,
                           "NAME [-n N] [-f]", "NAME's last output lines; -f follows, across restarts" },
        [CTL_CMD_RESTART] = { CTL_CMD_RESTART, "restart", 1, 2, true, CTL_ROUTE_TREE, NO_SYS, true, false,
                              "[SUP] NAME", "stop NAME if it runs, then start it" },
        [CTL_CMD_IS_READY] = { CTL_CMD_IS_READY, "is-ready", 0, 1, false, CTL_ROUTE_DAEMON, NO_SYS, false, false,
                               "[NAME]", "exit 0 if NAME (or the whole tree) is up, else 3" },
        [CTL_CMD_METRICS] = { CTL_CMD_METRICS, "metrics", 0, 0, false, CTL_ROUTE_LOCAL, NO_SYS, false, false,
                              "[--listen ADDR]", "the tree's figures for Prometheus; --listen serves them" },
        [CTL_CMD_TOP] = { CTL_CMD_TOP, "top", 0, 4, false, CTL_ROUTE_LOCAL, NO_SYS, false, true,
                          "[--sort KEY] [--batch N]", "a live view of the tree: state, CPU, memory, restarts, calls/s" },
};

const ctl_command *ctl_command_find(const char *name) {
        for (size_t i = 0; i < _CTL_CMD_MAX; i++)
                if (strcmp(ctl_commands[i].name, name) == 0)
                        return &ctl_commands[i];
        return NULL;
}

bool ctl_command_to_daemon(const ctl_command *cmd) {
        switch (cmd->route) {
        case CTL_ROUTE_DAEMON:
        case CTL_ROUTE_SYS:
        case CTL_ROUTE_TREE:
                return true;
        case CTL_ROUTE_CALL:
        case CTL_ROUTE_CAST:
        case CTL_ROUTE_LOCAL:
        case _CTL_ROUTE_MAX:
                return false;
        }
        return false;
}
