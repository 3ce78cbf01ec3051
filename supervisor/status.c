/* status.c: the tree as JSON for gensupctl. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "spec.h"
#include "exit_reason.h"
#include "status.h"
#include "status_text.h"

static json_t *shutdown_json(const sup_spec *s) {
        if (s->shutdown_ms == SUP_SHUTDOWN_INFINITY)
                return json_string("infinity");
        if (s->shutdown_ms == SUP_SHUTDOWN_BRUTAL_KILL)
                return json_string("brutal_kill");
        return json_integer(s->shutdown_ms);
}

static json_t *strv_json(char *const *v) {
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

static json_t *node_children(const sup_node *n) {
        json_t *list = json_array();
        for (sup_child *c = sup_core_first(sup_node_core(n)); c; c = c->next)
                if (c->data)
                        json_array_append_new(list, sup_status_entry(c->data));
        return list;
}

static void add_supervisor_fields(json_t *j, const sup_spec *s) {
        json_object_set_new(j, "strategy", json_string(sup_strategy_to_string(s->strategy)));
        json_object_set_new(j, "intensity", json_integer(s->intensity));
        json_object_set_new(j, "period", json_integer((json_int_t) s->period_s));
        json_object_set_new(j, "auto_shutdown", json_string(sup_auto_shutdown_to_string(s->auto_shutdown)));
}

/* A reason at the edge: spelled as DESIGN.md says; null when none. */
static json_t *reason_json(const sup_reason *r) {
        if (!r)
                return json_null();
        char *text = sup_reason_to_string(r);
        json_t *j = json_string(text ? text : "undefined");
        free(text);
        return j;
}

static json_t *count_or_null(int64_t v) {
        return v >= 0 ? json_integer((json_int_t) v) : json_null();
}

/* Containment and what the child's cgroup counts (null where unknown),
 * read now (max_age_usec 0) or at most that old. */
static void add_usage_fields(json_t *j, const sup_proc *p, uint64_t max_age_usec) {
        sup_cgroup_usage u = { -1, -1, -1 };
        if (p)
                (void) sup_proc_usage_recent(p, max_age_usec, &u);
        json_object_set_new(j, "kill_mode", p ? json_string(sup_kill_mode_to_string(sup_proc_kill_mode(p))) : json_null());
        json_object_set_new(j, "memory_bytes", count_or_null(u.memory_bytes));
        json_object_set_new(j, "cpu_us", count_or_null(u.cpu_usec));
        json_object_set_new(j, "processes", count_or_null(u.pids));
}

json_t *sup_status_usage(const sup_proc *p) {
        json_t *j = json_object();
        add_usage_fields(j, p, 0);
        return j;
}

json_t *sup_status_entry(const sup_entry *e) {
        return sup_status_child(e, true, 0);
}

/* The text status_text.c writes, as a jansson object. */
static json_t *from_text(int r, sup_strbuf *b) {
        json_t *j = r >= 0 ? json_loadb(b->data, b->len, 0, NULL) : NULL;
        sup_strbuf_done(b);
        return j ? j : json_object();   /* out of memory: an empty object */
}

json_t *sup_status_child(const sup_entry *e, bool with_children, uint64_t usage_max_age_usec) {
        sup_strbuf b = { 0 };
        json_t *j = from_text(sup_status_child_text(e, false, usage_max_age_usec, &b), &b);
        if (with_children && sup_entry_spec(e)->type == SUP_SUPERVISOR) {
                sup_node *sub = sup_entry_node(e);
                json_object_set_new(j, "children", sub ? node_children(sub) : json_array());
        }
        return j;
}

json_t *sup_status_node(const sup_node *n) {
        return sup_status_node_part(n, true, 0);
}

json_t *sup_status_node_part(const sup_node *n, bool with_children, uint64_t usage_max_age_usec) {
        sup_entry *e = sup_node_entry(n);
        if (e)
                return sup_status_child(e, with_children, usage_max_age_usec);

        /* The root: a supervisor with no parent, running while gensupd is. */
        const sup_spec *s = sup_node_spec(n);
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(s->name));
        json_object_set_new(j, "type", json_string("supervisor"));
        json_object_set_new(j, "state", json_string(sup_core_finished(sup_node_core(n)) ? "stopped" : "running"));
        json_object_set_new(j, "pid", json_integer(getpid()));
        json_object_set_new(j, "restart", json_string("permanent"));
        json_object_set_new(j, "restarts", json_integer(0));
        json_object_set_new(j, "reason", json_null());
        add_supervisor_fields(j, s);
        json_object_set_new(j, "restarts_in_period", json_integer((json_int_t) sup_core_history_len(sup_node_core(n))));
        if (with_children)
                json_object_set_new(j, "children", node_children(n));
        return j;
}

json_t *sup_status_which_child(const sup_entry *e) {
        sup_strbuf b = { 0 };
        return from_text(sup_status_which_child_text(e, &b), &b);
}

json_t *sup_status_which_children(const sup_node *n) {
        sup_core *core = sup_node_core(n);
        size_t count = sup_core_n_children(core);
        sup_child **buf = calloc(count ? count : 1, sizeof(*buf));
        json_t *list = json_array();

        if (buf) {
                count = sup_core_which_children(core, buf, count);
                for (size_t i = 0; i < count; i++)
                        if (buf[i]->data)
                                json_array_append_new(list, sup_status_which_child(buf[i]->data));
                free(buf);
        }
        return json_pack("{s:o}", "children", list);
}

void sup_status_spec_socket(json_t *j, const sup_spec *s, bool held) {
        if (s->type != SUP_WORKER)
                return;
        const char *mode = s->listen ? "listen" : s->hold_socket ? "hold" : "off";
        json_object_set_new(j, "listen_mode", json_string(mode));
        json_object_set_new(j, "socket_held", json_boolean(held));
        json_object_set_new(j, "listen", json_boolean(s->listen || held));
}

json_t *sup_status_spec(const sup_spec *s) {
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(s->name));
        json_object_set_new(j, "type", json_string(sup_child_type_to_string(s->type)));
        json_object_set_new(j, "restart", json_string(sup_restart_to_string(s->restart)));
        json_object_set_new(j, "shutdown", shutdown_json(s));
        json_object_set_new(j, "significant", json_boolean(s->significant));
        if (s->type == SUP_SUPERVISOR) {
                add_supervisor_fields(j, s);
                json_t *children = json_array();
                for (size_t i = 0; i < s->n_children; i++)
                        json_array_append_new(children, json_string(s->children[i]->name));
                json_object_set_new(j, "children", children);
                return j;
        }
        json_object_set_new(j, "exec", strv_json(s->exec));
        json_object_set_new(j, "listen", json_boolean(s->listen));
        json_object_set_new(j, "ready", json_string(sup_ready_to_string(s->ready)));
        json_object_set_new(j, "start_timeout", json_integer((json_int_t) s->start_timeout_ms));
        json_object_set_new(j, "environment", strv_json(s->environment));
        json_object_set_new(j, "working_directory", or_null(s->working_directory));
        json_object_set_new(j, "user", or_null(s->user));
        json_object_set_new(j, "group", or_null(s->group));
        json_object_set_new(j, "supplementary_groups", strv_json(s->supplementary_groups));
        json_object_set_new(j, "pass_environment", strv_json(s->pass_environment));
        if (s->listen) {
                char mode[8];
                snprintf(mode, sizeof(mode), "%04o", s->socket_mode);
                json_object_set_new(j, "socket_mode", json_string(mode));
                json_object_set_new(j, "socket_user", or_null(s->socket_user));
                json_object_set_new(j, "socket_group", or_null(s->socket_group));
        }
        json_t *rl = json_object();
        for (size_t i = 0; i < s->n_rlimits; i++)
                json_object_set_new(rl, sup_rlimit_to_string(s->rlimits[i].resource),
                                    json_pack("[I,I]", (json_int_t) s->rlimits[i].limit.rlim_cur,
                                              (json_int_t) s->rlimits[i].limit.rlim_max));
        json_object_set_new(j, "rlimits", rl);
        json_object_set_new(j, "kill_mode", json_string(sup_kill_mode_to_string(s->kill_mode)));
        json_object_set_new(j, "on_program_change", json_string(sup_program_change_names[s->upgrade_on_reload]));
        json_object_set_new(j, "memory_max", s->memory_max ? json_integer((json_int_t) s->memory_max) : json_null());
        json_object_set_new(j, "pids_max", s->pids_max ? json_integer((json_int_t) s->pids_max) : json_null());
        json_object_set_new(j, "cpu_weight", s->cpu_weight ? json_integer(s->cpu_weight) : json_null());
        json_object_set_new(j, "cpu_max", s->cpu_max_percent ? json_integer(s->cpu_max_percent) : json_null());
        json_object_set_new(j, "backoff",
                            json_pack("{s:I,s:I,s:f,s:f,s:I}", "initial", (json_int_t) s->backoff.initial_ms, "max",
                                      (json_int_t) s->backoff.max_ms, "factor", s->backoff.factor, "jitter",
                                      s->backoff.jitter, "reset_after", (json_int_t) s->backoff.reset_after_ms));
        json_object_set_new(j, "output_limit",
                            json_pack("{s:I,s:I,s:I}", "lines", (json_int_t) s->output_limit.lines, "bytes",
                                      (json_int_t) s->output_limit.bytes, "burst", (json_int_t) s->output_limit.burst_s));
        return j;
}

json_t *sup_status_history(const sup_entry *e) {
        sup_exit_record records[SUP_HISTORY_MAX];
        size_t n;
        json_t *list = json_array();

        sup_entry_history_copy(e, records, &n);
        for (size_t i = 0; i < n; i++) {
                const sup_exit_record *x = &records[i];
                json_t *by = x->stop_asked ? json_pack("{s:I,s:I}", "uid", (json_int_t) x->stop_uid, "pid",
                                                       (json_int_t) x->stop_pid)
                                           : json_null();
                json_array_append_new(list, json_pack("{s:I,s:o,s:s,s:o,s:o}", "time_us",
                                                      (json_int_t) x->realtime_usec, "pid",
                                                      x->pid > 0 ? json_integer(x->pid) : json_null(),
                                                      "context", sup_exit_context_to_string(x->context),
                                                      "reason", reason_json(&x->reason), "stopped_by", by));
        }
        return json_pack("{s:s,s:o}", "name", sup_entry_name(e), "exits", list);
}

json_t *sup_status_sys_reply(const char *name, const Gensup__SysReply *r) {
        json_t *j = json_pack("{s:s}", "name", name ? name : "");
        if (!r)
                return j;
        if (r->state && *r->state) {
                /* The server's own text: made valid for JSON. */
                char *text = sup_text_clean(r->state, 1u << 20, true);
                if (text)
                        json_object_set_new(j, "state", json_string(text));
                free(text);
        }
        const Gensup__Statistics *s = r->statistics;
        if (s) {
                json_object_set_new(j, "calls", json_integer((json_int_t) s->calls));
                json_object_set_new(j, "casts", json_integer((json_int_t) s->casts));
                json_object_set_new(j, "infos", json_integer((json_int_t) s->infos));
                json_object_set_new(j, "replies", json_integer((json_int_t) s->replies));
                json_object_set_new(j, "uptime_ms", json_integer((json_int_t) s->uptime_ms));
                json_object_set_new(j, "cpu_us", json_integer((json_int_t) s->cpu_us));
                json_object_set_new(j, "rss_bytes", json_integer((json_int_t) s->rss_bytes));
                json_object_set_new(j, "connections", json_integer((json_int_t) s->connections));
                json_object_set_new(j, "max_connections", json_integer((json_int_t) s->max_connections));
                json_object_set_new(j, "refused_connections", json_integer((json_int_t) s->refused_connections));
                json_object_set_new(j, "refused_uid_quota", json_integer((json_int_t) s->refused_uid_quota));
                json_object_set_new(j, "frame_timeouts", json_integer((json_int_t) s->frame_timeouts));
                json_object_set_new(j, "idle_closed", json_integer((json_int_t) s->idle_closed));
                json_object_set_new(j, "input_closed", json_integer((json_int_t) s->input_closed));
                json_object_set_new(j, "sys_refused", json_integer((json_int_t) s->sys_refused));
                json_object_set_new(j, "queue_length", json_integer((json_int_t) s->queue_length));
                json_object_set_new(j, "queue_socket_bytes", json_integer((json_int_t) s->queue_socket_bytes));
                json_object_set_new(j, "suspended", json_boolean(s->suspended));
                json_object_set_new(j, "trace", json_boolean(s->trace));
        }
        return j;
}

json_t *sup_status_event(const char *kind, const sup_entry *e, const char *reason) {
        json_t *j = json_pack("{s:I,s:s}", "time_us", (json_int_t) sup_real_usec(), "event", kind);
        if (e) {
                pid_t pid = sup_entry_pid(e) ?: sup_entry_last_pid(e);
                json_object_set_new(j, "supervisor", json_string(sup_node_name(sup_entry_owner(e))));
                json_object_set_new(j, "child", json_string(sup_entry_name(e)));
                json_object_set_new(j, "pid", pid > 0 ? json_integer(pid) : json_null());
        }
        if (reason)
                json_object_set_new(j, "reason", json_string(reason));
        return j;
}
