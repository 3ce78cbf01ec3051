/* control.h: gensupd's control socket (control.c): the connections, who may
 * do what, CTL frames in and CTL_REPLY frames out, answers that come
 * later, and the recent events.
 *
 * control.c knows the commands (commands.h) but not the daemon: what a
 * command does is the business of the ops it is opened with, as relayd's
 * proc.c passes each process its p_cb. gensupd's ops are in answers.c;
 * tests/check_control.c opens it with fakes. */
#ifndef GENSUP_CONTROL_H
#define GENSUP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "commands.h"
#include "strbuf.h"

typedef struct sup_control sup_control;

/* One request, as the ops see it: the command (found in commands.h's
 * table, its argument count checked, its permission granted), its
 * arguments and who asked. Valid during the op's call only. */
typedef struct sup_control_request {
        const ctl_command *cmd;
        char *const *args;
        size_t n_args;
        struct ucred peer;
} sup_control_request;

/* The answer to a deferred request, called exactly once per request an op
 * accepted: r < 0 with error (a line, or NULL for strerror's), or r >= 0
 * with json (taken; NULL answers {}). It may come after the client left:
 * it is then dropped. */
typedef void (*sup_control_done)(void *token, int r, const char *error, json_t *json);

/* An answer built a slice at a time (a status of thousands of children),
 * so that building it never holds the loop: control.c calls next once
 * per loop iteration, taking turns with the exits, READYs and restarts
 * that come meanwhile (control.c's on_slice says how), until the answer
 * is whole; then it sends it. next appends the next part of the JSON
 * text to out, a bounded amount of work, and returns 0 (more to come), 1
 * (the text is whole), SUP_CONTROL_SLICE_WAIT (only before the first
 * part: nothing done, call again in SUP_CONTROL_SLICE_WAIT_USEC, the loop
 * free meanwhile; the build has not begun, so requests for the same
 * answer that come meanwhile share it) or -errno
 * (failed: the client is told). free
 * releases state; it is called exactly once, also when the client goes
 * away in the middle. Such answers are built one at a time; requests
 * for the same answer (command and arguments) waiting when a build
 * begins share it, and their own next is never called. */
#define SUP_CONTROL_SLICE_WAIT 2
#define SUP_CONTROL_SLICE_WAIT_USEC (20u * 1000u)
typedef struct sup_control_slices {
        int (*next)(void *state, sup_strbuf *out);
        void (*free)(void *state);
        void *state;
} sup_control_slices;

/* What the commands do. Each op is given the userdata passed at open.
 * An op that fails returns -errno and may set *ret_error to a line the
 * client is told (malloc'ed, freed by control.c); one that defers returns
 * 0 and calls done(token, ...) later, or before it returns. */
typedef struct sup_control_ops {
        /* The read commands answered at once (CTL_ROUTE_DAEMON but events,
         * reload and stop): 0 with *ret_json. */
        int (*query)(void *userdata, const sup_control_request *q, json_t **ret_json, char **ret_error);
        /* Tried before query (NULL: never): 1 with *ret when the answer is
         * to be built in slices, 0 to leave the request to query, or
         * -errno. */
        int (*sliced)(void *userdata, const sup_control_request *q, sup_control_slices *ret, char **ret_error);
        /* start-child, terminate-child, restart-child, delete-child
         * (CTL_ROUTE_TREE). */
        int (*tree)(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                    char **ret_error);
        /* get-state, statistics, suspend, resume, trace (CTL_ROUTE_SYS):
         * forwarded to the child. */
        int (*sys)(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                   char **ret_error);
        /* reload: re-read the config. */
        int (*reload)(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                      char **ret_error);
        /* upgrade: hot upgrade of a worker (NULL: refused as unknown). */
        int (*upgrade)(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                       char **ret_error);
        /* stop: stop the tree, then exit. Answered before it is called. */
        void (*stop)(void *userdata, const sup_control_request *q);
} sup_control_ops;

/* Listens on <runtime_dir>/control.sock, or takes the socket systemd
 * passed (sd_listen_fds), and answers on event's loop with ops (kept, not
 * copied) and userdata. */
int sup_control_open(sd_event *event, const char *runtime_dir, const sup_control_ops *ops, void *userdata,
                     sup_control **ret);
/* Closes every connection; answers still to come are dropped. */
sup_control *sup_control_free(sup_control *ctl);
/* Grants the read-only commands to this group (a name or a number);
 * NULL: to nobody beyond root and gensupd's uid. */
void sup_control_set_group(sup_control *ctl, const char *group);
/* Keeps event (taking it) among the recent ones and sends it to every
 * `events --follow` client. */
void sup_control_event(sup_control *ctl, json_t *event);
/* Sends line (taken: one line of child name's ring) to every `logs NAME
 * --follow` client of that child. */
void sup_control_log(sup_control *ctl, const char *name, json_t *line);
/* Whether any client follows child name's lines. */
bool sup_control_log_wanted(const sup_control *ctl, const char *name);
/* gensupd exits with status: tells every `stop --wait` client
 * ({"event":"exit","status":N}). */
void sup_control_goodbye(sup_control *ctl, int status);

#endif
