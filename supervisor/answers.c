/* answers.c: what gensupd's control commands do. control.c carries the
 * requests (connections, permissions, frames, answers that come later);
 * this file is the sup_control_ops it is opened with, on the daemon's side.
 *
 * Map: the read commands answer from the tree at once (query); the tree
 * requests (start-child and friends) go to a supervisor of the tree,
 * sys requests to a child, and a reload to reload.c: each answers through
 * a relay when it is done. stop starts stopping the tree. Errors are
 * OTP's names where the tree has one (decide.h's sup_error_to_string). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_logs.h"
#include "answers.h"
#include "cgroup.h"
#include "cgroup_sampler.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "logwriter.h"
#include "status.h"
#include "status_stream.h"
#include "upgrade.h"

/* ---- errors ---- */

/* r, with text (NULL: OTP's name for r, if it has one) for the client. */
static int fail(int r, const char *text, char **ret_error) {
        if (!text)
                text = sup_error_to_string(r);
        *ret_error = text ? strdup(text) : NULL;
        return r;
}

static int fail_no_node(const char *name, char **ret_error) {
        char msg[160];
        snprintf(msg, sizeof(msg), "no such supervisor: %s", name);
        return fail(-ENOENT, msg, ret_error);
}

static int fail_no_entry(const char *name, char **ret_error) {
        char msg[160];
        snprintf(msg, sizeof(msg), "no such child: %s", name);
        return fail(-ENOENT, msg, ret_error);
}

static sup_node *find_node(sup_daemon *d, const char *name) {
        return d->root ? sup_tree_find_node(d->root, name) : NULL;
}

static sup_entry *find_entry(sup_daemon *d, const char *name) {
        return d->root ? sup_tree_find(d->root, name) : NULL;
}

/* ---- read commands ---- */

/* gensupd's rss and fds. Counting the fds reads /proc/self/fd, two to
 * four entries per child: the sampler's thread does it (cgroup_sampler.h)
 * and the figures may be as old as the children's cgroup figures
 * (status_stream.h); read here only until it has some. */
static void add_self_usage(json_t *daemon) {
        long long fds, rss;
        if (!sup_cgroup_sampler_self(sup_mono_usec() - SUP_STATUS_USAGE_MAX_AGE_USEC, &fds, &rss)) {
                sup_events_self_usage(daemon);
                return;
        }
        json_object_set_new(daemon, "rss_bytes", rss >= 0 ? json_integer(rss) : json_null());
        json_object_set_new(daemon, "fds", fds >= 0 ? json_integer(fds) : json_null());
}

/* {"gensupd": {pid, uptime_ms, config, runtime_dir, state, version,
 * containment, cgroup, rss_bytes, fds}} */
static json_t *daemon_object(const sup_daemon *d) {
        json_t *daemon = json_pack("{s:i,s:I,s:s,s:s,s:s}", "pid", (int) getpid(), "uptime_ms",
                                   (json_int_t) ((sup_mono_usec() - d->started_usec) / 1000u), "config", d->config->path,
                                   "runtime_dir", d->runtime_dir, "state", d->stopping ? "stopping" : "running");
        json_object_set_new(daemon, "version", json_string(GENSUP_VERSION));
        json_object_set_new(daemon, "containment", json_string(sup_cgroup_containment()));
        const char *cgroup = sup_cgroup_root();
        json_object_set_new(daemon, "cgroup", cgroup ? json_string(cgroup) : json_null());
        add_self_usage(daemon);
        /* Cheap, and a test reads it right after a loss: never kept. */
        json_object_set_new(daemon, "log_lines_dropped", json_integer((json_int_t) sup_logwriter_dropped()));
        return daemon;
}

/* {"gensupd": daemon_object, "tree": node} */
static json_t *status_document(const sup_daemon *d) {
        return json_pack("{s:o,s:o}", "gensupd", daemon_object(d), "tree",
                         d->root ? sup_status_node(d->root) : json_null());
}

static int query_status(sup_daemon *d, const sup_control_request *q, json_t **ret_json, char **ret_error) {
        if (q->n_args == 0) {
                *ret_json = status_document(d);
                return 0;
        }
        sup_node *n = find_node(d, q->args[0]);
        if (n && !sup_node_entry(n)) {
                *ret_json = sup_status_node(n);
                return 0;
        }
        sup_entry *e = find_entry(d, q->args[0]);
        if (!e)
                return fail_no_entry(q->args[0], ret_error);
        *ret_json = sup_status_entry(e);
        return 0;
}

static json_t *count_children(sup_node *n) {
        sup_counts k;
        sup_core_count_children(sup_node_core(n), &k);
        return json_pack("{s:I,s:I,s:I,s:I}", "specs", (json_int_t) k.specs, "active", (json_int_t) k.active,
                         "supervisors", (json_int_t) k.supervisors, "workers", (json_int_t) k.workers);
}

/* The request with its supervisor filled in: a command that takes SUP
 * NAME may be given NAME alone (names are unique in the tree); args holds
 * the two arguments of *named. q itself when nothing is to be done. */
static const sup_control_request *with_sup(sup_daemon *d, const sup_control_request *q, sup_control_request *named,
                                           char *args[2]) {
        bool takes_sup_name = q->cmd->id == CTL_CMD_GET_CHILDSPEC || q->cmd->id == CTL_CMD_TERMINATE_CHILD ||
                              q->cmd->id == CTL_CMD_RESTART_CHILD || q->cmd->id == CTL_CMD_DELETE_CHILD ||
                              q->cmd->id == CTL_CMD_RESTART;
        sup_entry *e = takes_sup_name && q->n_args == 1 ? find_entry(d, q->args[0]) : NULL;
        if (!e)
                return q;
        args[0] = (char *) sup_node_name(sup_entry_owner(e));
        args[1] = q->args[0];
        *named = *q;
        named->args = args;
        named->n_args = 2;
        return named;
}

/* which-children, count-children, get-childspec: about a supervisor. */
static int query_node(sup_daemon *d, const sup_control_request *q0, json_t **ret_json, char **ret_error) {
        char *args[2];
        sup_control_request named;
        const sup_control_request *q = with_sup(d, q0, &named, args);
        if (q->cmd->id == CTL_CMD_GET_CHILDSPEC && q->n_args == 1)
                return fail_no_entry(q->args[0], ret_error);
        sup_node *n = find_node(d, q->args[0]);
        if (!n)
                return fail_no_node(q->args[0], ret_error);
        if (q->cmd->id == CTL_CMD_WHICH_CHILDREN)
                *ret_json = sup_status_which_children(n);
        else if (q->cmd->id == CTL_CMD_COUNT_CHILDREN)
                *ret_json = count_children(n);
        else {
                sup_entry *e = find_entry(d, q->args[1]);
                if (!e || sup_entry_owner(e) != n)
                        return fail(-ENOENT, NULL, ret_error);
                *ret_json = sup_status_spec(sup_entry_spec(e));
                /* The version the running server declared (gs_upgrade(3)). */
                const char *vsn = sup_entry_proc(e) ? sup_proc_vsn(sup_entry_proc(e)) : NULL;
                if (json_is_object(*ret_json) && sup_entry_proc(e))
                        json_object_set_new(*ret_json, "vsn", vsn ? json_string(vsn) : json_null());
                if (json_is_object(*ret_json))
                        sup_status_spec_socket(*ret_json, sup_entry_spec(e),
                                               sup_entry_proc(e) && sup_proc_holds_socket(sup_entry_proc(e)));
        }
        return 0;
}

/* status (the tree, or a supervisor's subtree) and which-children grow
 * with the tree: built a slice at a time (status_stream.h). The rest, and
 * the cases with nothing to list or an error to tell, go to on_query. */
static int on_sliced(void *userdata, const sup_control_request *q, sup_control_slices *ret, char **ret_error) {
        sup_daemon *d = userdata;
        if (!d->root)
                return 0;
        if (q->cmd->id == CTL_CMD_WHICH_CHILDREN) {
                sup_node *n = find_node(d, q->args[0]);
                return n ? sup_status_stream_which(&d->root, n, ret) ?: 1 : 0;
        }
        if (q->cmd->id != CTL_CMD_STATUS && q->cmd->id != CTL_CMD_IS_READY)
                return 0;
        if (q->n_args == 0) {
                json_t *j = daemon_object(d);
                char *head = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                if (!head)
                        return fail(-ENOMEM, NULL, ret_error);
                return sup_status_stream_node(&d->root, d->root, head, ret) ?: 1;
        }
        /* A supervisor that runs (else on_query tells what there is). */
        sup_node *n = find_node(d, q->args[0]);
        return n ? sup_status_stream_node(&d->root, n, NULL, ret) ?: 1 : 0;
}

static int on_query(void *userdata, const sup_control_request *q, json_t **ret_json, char **ret_error) {
        sup_daemon *d = userdata;

        switch (q->cmd->id) {
        case CTL_CMD_STATUS:
        case CTL_CMD_IS_READY:   /* gensupctl judges the status (ctl/health.c) */
                return query_status(d, q, ret_json, ret_error);
        case CTL_CMD_WHICH_CHILDREN:
        case CTL_CMD_COUNT_CHILDREN:
        case CTL_CMD_GET_CHILDSPEC:
                return query_node(d, q, ret_json, ret_error);
        case CTL_CMD_HISTORY: {
                sup_entry *e = find_entry(d, q->args[0]);
                if (!e)
                        return fail_no_entry(q->args[0], ret_error);
                *ret_json = sup_status_history(e);
                return 0;
        }
        case CTL_CMD_LOGS:
                return sup_answer_logs(d, q, ret_json, ret_error);
        case CTL_CMD_EVENTS: case CTL_CMD_GET_STATE: case CTL_CMD_STATISTICS: case CTL_CMD_SUSPEND:
        case CTL_CMD_RESUME: case CTL_CMD_TRACE: case CTL_CMD_START_CHILD: case CTL_CMD_TERMINATE_CHILD:
        case CTL_CMD_RESTART_CHILD: case CTL_CMD_DELETE_CHILD: case CTL_CMD_CALL: case CTL_CMD_CAST:
        case CTL_CMD_RELOAD: case CTL_CMD_UPGRADE: case CTL_CMD_STOP: case CTL_CMD_RESTART: case CTL_CMD_METRICS: case CTL_CMD_TOP:
        case _CTL_CMD_MAX:
                break;
        }
        return fail(-EINVAL, "not a read command", ret_error);
}

/* ---- relays: answers that come later ---- */

typedef struct relay {
        sup_control_done done;
        void *token;
        char *name;   /* the child a sys request went to */
        sup_daemon *d;   /* to find the child again (sys requests, restart) */
} relay;

static relay *relay_new(sup_daemon *d, sup_control_done done, void *token, const char *name) {
        relay *x = calloc(1, sizeof(*x));
        if (!x)
                return NULL;
        *x = (relay) { .done = done, .token = token, .name = name ? strdup(name) : NULL, .d = d };
        if (name && !x->name) {
                free(x);
                return NULL;
        }
        return x;
}

static void relay_free(relay *x) {
        free(x->name);
        free(x);
}

/* Answers and frees the relay. */
static void relay_answer(relay *x, int r, const char *error, json_t *json) {
        if (r < 0 && !error)
                error = sup_error_to_string(r);
        x->done(x->token, r, error, json);
        relay_free(x);
}

/* ---- sys requests ---- */

/* A child's answer to a forwarded sys request. */
static void on_sys_done(void *userdata, Gensup__Frame *f) {
        relay *x = userdata;

        if (!f)
                relay_answer(x, -ECONNRESET, "the child went away", NULL);
        else if (f->kind == GENSUP__KIND__ERROR)
                relay_answer(x, -(f->code ? (int) f->code : EIO), f->reason, NULL);
        else {
                json_t *j = sup_status_sys_reply(x->name, f->sys_reply);
                /* statistics: what the child's cgroup counts, beside what
                 * the server says of itself (the child may have restarted
                 * meanwhile: then these are the new process's). */
                sup_entry *e = f->sys_reply && f->sys_reply->statistics ? find_entry(x->d, x->name) : NULL;
                if (e && sup_entry_proc(e))
                        json_object_set_new(j, "cgroup", sup_status_usage(sup_entry_proc(e)));
                relay_answer(x, 0, NULL, j);
        }
        ipc_frame_free(f);
}

static int on_sys(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                  char **ret_error) {
        sup_daemon *d = userdata;
        Gensup__SysRequest sys = GENSUP__SYS_REQUEST__INIT;

        sys.op = q->cmd->sys_op;
        if (q->cmd->id == CTL_CMD_TRACE) {
                if (q->n_args != 2 || (strcmp(q->args[1], "on") != 0 && strcmp(q->args[1], "off") != 0))
                        return fail(-EINVAL, "trace NAME on|off", ret_error);
                sys.flag = strcmp(q->args[1], "on") == 0;
        }
        sup_entry *e = find_entry(d, q->args[0]);
        if (!e)
                return fail_no_entry(q->args[0], ret_error);
        sup_proc *proc = sup_entry_proc(e);
        if (!proc)
                return fail(-EOPNOTSUPP, "not a worker", ret_error);
        relay *x = relay_new(d, done, token, sup_entry_name(e));
        if (!x)
                return fail(-ENOMEM, NULL, ret_error);
        int r = sup_proc_sys(proc, &sys, on_sys_done, x);
        if (r < 0) {
                relay_free(x);
                return fail(r, r == -ENOTCONN ? "not running, or not a gensup server (no control connection)" : NULL,
                            ret_error);
        }
        return 0;
}

/* ---- tree requests ---- */

/* A tree request is done. */
static void on_tree_done(void *userdata, int r, const char *name, pid_t pid, const char *reason) {
        relay *x = userdata;
        if (r < 0) {
                relay_answer(x, r, reason, NULL);
                return;
        }
        json_t *j = json_object();
        if (name)
                json_object_set_new(j, "name", json_string(name));
        json_object_set_new(j, "pid", pid > 0 ? json_integer(pid) : json_null());
        if (reason)
                json_object_set_new(j, "info", json_string(reason));
        relay_answer(x, 0, NULL, j);
}

/* The config's errors, one line: "a; b; c". */
static char *join_errors(const sup_errors *errors) {
        char msg[1024] = "";
        for (size_t i = 0; i < errors->n; i++)
                snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s%s", i ? "; " : "", errors->lines[i]);
        return msg[0] ? strdup(msg) : NULL;
}

/* start-child SUP SPEC on an ordinary supervisor: the spec text parsed as
 * the config's would be, its name new to the tree. */
static int parse_new_spec(sup_daemon *d, sup_node *n, const char *text, sup_spec **ret, char **ret_error) {
        const char **taken = NULL;
        sup_errors errors = { 0 };
        sup_spec *spec = NULL;
        char *dir = strdup(d->config->path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash)
                *slash = '\0';
        int r = sup_spec_names(d->config->root, &taken);
        if (r >= 0)
                r = sup_spec_parse(text, "start-child", dir, sup_node_spec(n), taken, &spec, &errors);
        free(taken);
        free(dir);
        if (r >= 0 && sup_tree_find(d->root, spec->name)) {
                /* Already in the tree (a start_child'ed one, say). */
                r = sup_entry_pid(sup_tree_find(d->root, spec->name)) > 0 ? -EEXIST : -EALREADY;
                spec = sup_spec_free(spec);
        }
        if (r < 0) {
                char *msg = join_errors(&errors);
                sup_errors_done(&errors);
                r = fail(r, msg, ret_error);
                free(msg);
                return r;
        }
        sup_errors_done(&errors);
        *ret = spec;
        return 0;
}

/* The request for sup_tree_ctl: its kind, and the spec (start-child) or
 * extra arguments (a simple_one_for_one instance, NULL-terminated in
 * extra) it carries. The name stays q->args[1] but for start-child. */
static int tree_kind(sup_daemon *d, sup_node *n, const sup_control_request *q, sup_ctl_kind *ret_kind,
                     sup_spec **ret_spec, char **extra, size_t n_extra_max, char **ret_error) {
        switch (q->cmd->id) {
        case CTL_CMD_START_CHILD:
                if (sup_node_spec(n)->strategy == SUP_SIMPLE_ONE_FOR_ONE) {
                        /* The frame's args are counted, not NULL-terminated
                         * as sup_tree_ctl wants them. */
                        size_t n_extra = q->n_args - 1 < n_extra_max ? q->n_args - 1 : n_extra_max - 1;
                        for (size_t i = 0; i < n_extra; i++)
                                extra[i] = q->args[i + 1];
                        extra[n_extra] = NULL;
                        *ret_kind = SUP_CTL_START_INSTANCE;
                        return 0;
                }
                if (q->n_args != 2)
                        return fail(-EINVAL, "start-child SUP SPEC (a child spec's settings)", ret_error);
                *ret_kind = SUP_CTL_START_CHILD;
                return parse_new_spec(d, n, q->args[1], ret_spec, ret_error);
        case CTL_CMD_TERMINATE_CHILD:
                *ret_kind = SUP_CTL_TERMINATE_CHILD;
                break;
        case CTL_CMD_RESTART_CHILD:
                *ret_kind = SUP_CTL_RESTART_CHILD;
                break;
        case CTL_CMD_DELETE_CHILD:
                *ret_kind = SUP_CTL_DELETE_CHILD;
                break;
        case CTL_CMD_STATUS: case CTL_CMD_WHICH_CHILDREN: case CTL_CMD_COUNT_CHILDREN: case CTL_CMD_GET_CHILDSPEC:
        case CTL_CMD_HISTORY: case CTL_CMD_EVENTS: case CTL_CMD_GET_STATE: case CTL_CMD_STATISTICS:
        case CTL_CMD_SUSPEND: case CTL_CMD_RESUME: case CTL_CMD_TRACE: case CTL_CMD_CALL: case CTL_CMD_CAST:
        case CTL_CMD_RELOAD: case CTL_CMD_UPGRADE: case CTL_CMD_STOP: case CTL_CMD_LOGS: case CTL_CMD_RESTART:
        case CTL_CMD_IS_READY: case CTL_CMD_METRICS: case CTL_CMD_TOP: case _CTL_CMD_MAX:
                return fail(-EINVAL, "not a tree request", ret_error);
        }
        if (q->n_args != 2)
                return fail(-EINVAL, "SUP NAME expected", ret_error);
        return 0;
}

/* restart [SUP] NAME: terminate-child, then restart-child, as OTP's
 * supervisor:terminate_child/2 and restart_child/2; a child that does not
 * run is only started. */
static void on_restart_stopped(void *userdata, int r, const char *name, pid_t pid, const char *reason) {
        relay *x = userdata;
        sup_entry *e = r >= 0 ? find_entry(x->d, x->name) : NULL;
        if (r >= 0 && !e)
                r = -ENOENT;
        if (r >= 0)
                r = sup_tree_ctl(sup_entry_owner(e), SUP_CTL_RESTART_CHILD, x->name, NULL, NULL, on_tree_done, x);
        if (r < 0)
                relay_answer(x, r, r == -ENOENT ? "the child is gone (a temporary child is not restarted)" : reason,
                             NULL);
}

static int restart(sup_daemon *d, const sup_control_request *q, sup_control_done done, void *token,
                   char **ret_error) {
        if (q->n_args != 2)
                return fail_no_entry(q->args[0], ret_error);
        sup_node *n = find_node(d, q->args[0]);
        sup_entry *e = find_entry(d, q->args[1]);
        if (!n)
                return fail_no_node(q->args[0], ret_error);
        if (!e || sup_entry_owner(e) != n)
                return fail_no_entry(q->args[1], ret_error);
        relay *x = relay_new(d, done, token, q->args[1]);
        if (!x)
                return fail(-ENOMEM, NULL, ret_error);
        int r = sup_tree_ctl(n, SUP_CTL_STOP_FOR_RESTART, q->args[1], NULL, NULL, on_restart_stopped, x);
        if (r < 0) {
                relay_free(x);
                return fail(r, NULL, ret_error);
        }
        return 0;
}

static int on_tree(void *userdata, const sup_control_request *q0, sup_control_done done, void *token,
                   char **ret_error) {
        sup_daemon *d = userdata;
        char *args[2];
        sup_control_request named;
        const sup_control_request *q = with_sup(d, q0, &named, args);
        if (q->n_args == 2 && q->cmd->id != CTL_CMD_START_CHILD && sup_upgrade_busy(find_entry(d, q->args[1])))
                return fail(-EBUSY, "an upgrade of it is under way; try again once it is over", ret_error);
        if (q->cmd->id == CTL_CMD_RESTART)
                return restart(d, q, done, token, ret_error);
        if (q->n_args == 1 && q->cmd->id != CTL_CMD_START_CHILD)
                return fail_no_entry(q->args[0], ret_error);   /* NAME alone, and no such child */
        sup_node *n = find_node(d, q->args[0]);
        if (!n)
                return fail_no_node(q->args[0], ret_error);

        sup_ctl_kind kind = _SUP_CTL_KIND_MAX;
        sup_spec *spec = NULL;
        char *extra[64];   /* start-child takes at most 64 arguments, the SUP among them */
        int r = tree_kind(d, n, q, &kind, &spec, extra, sizeof(extra) / sizeof(extra[0]), ret_error);
        if (r < 0)
                return r;
        /* A new child is named by its spec, an instance by its supervisor. */
        const char *name = kind == SUP_CTL_START_CHILD || kind == SUP_CTL_START_INSTANCE ? NULL : q->args[1];
        relay *x = relay_new(d, done, token, NULL);
        if (!x) {
                sup_spec_free(spec);
                return fail(-ENOMEM, NULL, ret_error);
        }
        sup_events_request(d, q);
        r = sup_tree_ctl(n, kind, name, spec, kind == SUP_CTL_START_INSTANCE ? extra : NULL, on_tree_done, x);
        if (r < 0) {
                relay_free(x);
                return fail(r, NULL, ret_error);
        }
        return 0;
}

/* ---- reload and stop ---- */

static void on_reload_done(void *userdata, json_t *result) {
        relay_answer(userdata, 0, NULL, result);
}

static int on_reload(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                     char **ret_error) {
        sup_daemon *d = userdata;
        relay *x = relay_new(d, done, token, NULL);
        if (!x)
                return fail(-ENOMEM, NULL, ret_error);
        sup_log(LOG_INFO, "reload requested by pid %d (uid %d)", (int) q->peer.pid, (int) q->peer.uid);
        sup_events_request(d, q);
        char *error = NULL;
        int r = sup_daemon_reload(d, on_reload_done, x, &error);
        if (r < 0) {
                relay_free(x);
                r = fail(r, error, ret_error);
        }
        free(error);
        return r;
}

/* ---- upgrade ---- */

static void on_upgrade_done(void *userdata, int r, const char *error, json_t *json) {
        relay_answer(userdata, r, error, json);
}

/* upgrade NAME [--extra=TEXT] [PROGRAM ARG...] */
static int on_upgrade(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                      char **ret_error) {
        sup_daemon *d = userdata;
        sup_entry *e = find_entry(d, q->args[0]);
        if (!e)
                return fail_no_entry(q->args[0], ret_error);
        size_t i = 1;
        const char *extra = NULL;
        if (i < q->n_args && strncmp(q->args[i], "--extra=", 8) == 0)
                extra = q->args[i++] + 8;
        char *exec[65] = { 0 };
        for (size_t k = 0; i < q->n_args && k < 64; k++)
                exec[k] = q->args[i++];
        relay *x = relay_new(d, done, token, NULL);
        if (!x)
                return fail(-ENOMEM, NULL, ret_error);
        sup_log(LOG_INFO, "upgrade of %s requested by pid %d (uid %d)", q->args[0], (int) q->peer.pid,
                (int) q->peer.uid);
        int r = sup_upgrade_start(e, exec[0] ? exec : NULL, extra, on_upgrade_done, x, ret_error);
        if (r < 0)
                relay_free(x);
        return r;
}

static void on_stop(void *userdata, const sup_control_request *q) {
        sup_daemon *d = userdata;
        if (d->stopping || !d->root)
                return;
        sup_log(LOG_INFO, "stop requested by pid %d (uid %d): stopping the tree", (int) q->peer.pid,
                (int) q->peer.uid);
        sup_events_request(d, q);
        sup_daemon_stop(d);
}

static const sup_control_ops answers = {
        .query = on_query,
        .sliced = on_sliced,
        .tree = on_tree,
        .sys = on_sys,
        .reload = on_reload,
        .upgrade = on_upgrade,
        .stop = on_stop,
};

int sup_answers_open(sup_daemon *d) {
        int r = sup_control_open(d->event, d->runtime_dir, &answers, d, &d->control);
        if (r < 0)
                return r;
        sup_control_set_group(d->control, d->config->control_group);
        sup_answer_logs_listen(d);
        return 0;
}
