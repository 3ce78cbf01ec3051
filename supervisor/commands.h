/* commands.h: the one list of control commands, shared by gensupd's
 * control socket (control.c) and the ctl tool (ctl/main.c).
 *
 * Map: commands.c holds the table (name, argument counts, whether the
 * command writes, where it is routed, its help text); control.c looks a
 * CTL frame's command up here and dispatches on `route` and `id`;
 * ctl/main.c parses the command line against it, ctl/output.c prints
 * the answer by `id`. A new command is a row here plus a handler on each
 * side; the compiler's -Wswitch finds the switch that lacks it. */
#ifndef GENSUP_COMMANDS_H
#define GENSUP_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "gensup.pb-c.h"

typedef enum ctl_cmd_id {
        CTL_CMD_STATUS,
        CTL_CMD_WHICH_CHILDREN,
        CTL_CMD_COUNT_CHILDREN,
        CTL_CMD_GET_CHILDSPEC,
        CTL_CMD_HISTORY,
        CTL_CMD_EVENTS,
        CTL_CMD_GET_STATE,
        CTL_CMD_STATISTICS,
        CTL_CMD_SUSPEND,
        CTL_CMD_RESUME,
        CTL_CMD_TRACE,
        CTL_CMD_START_CHILD,
        CTL_CMD_TERMINATE_CHILD,
        CTL_CMD_RESTART_CHILD,
        CTL_CMD_DELETE_CHILD,
        CTL_CMD_CALL,
        CTL_CMD_CAST,
        CTL_CMD_RELOAD,
        CTL_CMD_UPGRADE,
        CTL_CMD_STOP,
        CTL_CMD_LOGS,
        CTL_CMD_RESTART,
        CTL_CMD_IS_READY,
        CTL_CMD_METRICS,
        CTL_CMD_TOP,
        _CTL_CMD_MAX,
} ctl_cmd_id;

/* Who answers a command. */
typedef enum ctl_route {
        CTL_ROUTE_DAEMON,   /* gensupd, from what it holds (a CTL frame) */
        CTL_ROUTE_SYS,      /* gensupd forwards a sys request to the child and relays its answer */
        CTL_ROUTE_TREE,     /* gensupd asks a supervisor of the tree; answered when done */
        CTL_ROUTE_CALL,     /* the server itself, over its own socket: gensupd is not involved */
        CTL_ROUTE_CAST,
        CTL_ROUTE_LOCAL,    /* gensupctl itself, from other commands' answers (metrics) */
        _CTL_ROUTE_MAX,
} ctl_route;

typedef struct ctl_command {
        ctl_cmd_id id;
        const char *name;
        size_t min_args, max_args;
        bool writes;                /* needs root or gensupd's user (readers are refused) */
        ctl_route route;
        Gensup__SysRequest__Op sys_op;   /* CTL_ROUTE_SYS: the request forwarded */
        bool slow;                  /* waits for children to start or stop: no default timeout */
        bool free_args;             /* arguments may start with '-' (a child's argv, a payload) */
        const char *synopsis;       /* the arguments, for --help and usage errors */
        const char *help;           /* one line */
} ctl_command;

/* Every command, indexed by its id. */
extern const ctl_command ctl_commands[_CTL_CMD_MAX];

/* The command of that name, or NULL. */
const ctl_command *ctl_command_find(const char *name);
/* Whether a command goes to gensupd's control socket (the others go
 * straight to a server). */
bool ctl_command_to_daemon(const ctl_command *cmd);

#endif
