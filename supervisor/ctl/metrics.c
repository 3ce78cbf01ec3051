/* metrics.c: gensupctl metrics. One status request gives every child's
 * state, restarts, uptime, exits by kind of reason, and what its cgroup
 * counts; then one statistics request per running worker, all on one
 * connection and in flight together (query.c), gives a gen_server's
 * calls, casts, infos, replies, connections and queue length. A server that does not
 * answer within the timeout is left out and counted, never waited for
 * longer. gensupd's own memory and fds come with status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io.h"
#include "metrics.h"
#include "metrics_http.h"
#include "query.h"

#define METRICS_TIMEOUT_MS 1000

/* The states sup_entry_state names; one 0/1 series each. */
static const char *const states[] = { "running", "starting", "restarting", "stopping", "stopped" };
static const char *const exit_kinds[] = { "normal",      "shutdown", "error",         "killed", "exit_status",
                                          "signal",      "init_failed", "start_timeout" };

typedef struct child_row {
        json_t *child;           /* borrowed from the status document */
        const char *supervisor;
} child_row;

typedef struct rows {
        child_row *v;
        size_t n, cap;
} rows;

static int rows_add(rows *r, json_t *child, const char *sup) {
        if (r->n == r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 64;
                child_row *v = realloc(r->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                r->v = v;
                r->cap = cap;
        }
        r->v[r->n++] = (child_row) { child, sup };
        return 0;
}

/* Every child under node, depth first (start order). */
static int collect(json_t *node, rows *r) {
        size_t i;
        json_t *c;
        const char *sup = json_string_value(json_object_get(node, "name"));
        json_array_foreach(json_object_get(node, "children"), i, c) {
                if (rows_add(r, c, sup ? sup : "") < 0)
                        return -ENOMEM;
                if (collect(c, r) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void put_label(FILE *out, const char *s) {
        for (; s && *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', out);
                if (*s == '\n') {
                        fputs("\\n", out);
                        continue;
                }
                fputc(*s, out);
        }
}

static void put_labels(FILE *out, const child_row *row) {
        fputs("{supervisor=\"", out);
        put_label(out, row->supervisor);
        fputs("\",child=\"", out);
        put_label(out, json_string_value(json_object_get(row->child, "name")));
        fputc('"', out);
}

static void head(FILE *out, const char *name, const char *type, const char *help) {
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool has_int(json_t *o, const char *key) {
        return json_is_integer(json_object_get(o, key));
}

static double num(json_t *o, const char *key) {
        return (double) json_integer_value(json_object_get(o, key));
}

/* ---- one family at a time: a value per child, or none ---- */

typedef bool (*value_fn)(const child_row *row, json_t *stats, double *ret);

static bool v_restarts(const child_row *w, json_t *s, double *ret) {
        *ret = num(w->child, "restarts");
        return true;
}

static bool v_uptime(const child_row *w, json_t *s, double *ret) {
        const char *state = json_string_value(json_object_get(w->child, "state"));
        *ret = num(w->child, "uptime_ms") / 1000.0;
        return state && strcmp(state, "running") == 0 && has_int(w->child, "uptime_ms");
}

static bool v_memory(const child_row *w, json_t *s, double *ret) {
        *ret = num(w->child, "memory_bytes");
        return has_int(w->child, "memory_bytes");
}

static bool v_cpu(const child_row *w, json_t *s, double *ret) {
        *ret = num(w->child, "cpu_us") / 1e6;
        return has_int(w->child, "cpu_us");
}

static bool v_processes(const child_row *w, json_t *s, double *ret) {
        *ret = num(w->child, "processes");
        return has_int(w->child, "processes");
}

#define STAT_FN(field)                                                            \
        static bool v_##field(const child_row *w, json_t *s, double *ret) {       \
                *ret = num(s, #field);                                            \
                return s && has_int(s, #field);                                   \
        }
STAT_FN(calls)
STAT_FN(casts)
STAT_FN(infos)
STAT_FN(replies)
STAT_FN(connections)
STAT_FN(queue_length)
STAT_FN(queue_socket_bytes)

static bool v_rss(const child_row *w, json_t *s, double *ret) {
        *ret = num(s, "rss_bytes");
        return s && has_int(s, "rss_bytes");
}

static void family(FILE *out, const rows *r, json_t **stats, const char *name, const char *type, const char *help,
                   value_fn fn) {
        head(out, name, type, help);
        for (size_t i = 0; i < r->n; i++) {
                double v;
                if (!fn(&r->v[i], stats[i], &v))
                        continue;
                fputs(name, out);
                put_labels(out, &r->v[i]);
                fprintf(out, "} %.17g\n", v);
        }
}

static void state_family(FILE *out, const rows *r) {
        head(out, "gensup_child_state", "gauge", "1 for the state the child is in, 0 for the others");
        for (size_t i = 0; i < r->n; i++) {
                const char *state = json_string_value(json_object_get(r->v[i].child, "state"));
                for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
                        fputs("gensup_child_state", out);
                        put_labels(out, &r->v[i]);
                        fprintf(out, ",state=\"%s\"} %d\n", states[k], state && strcmp(state, states[k]) == 0);
                }
        }
}

static void exits_family(FILE *out, const rows *r) {
        head(out, "gensup_child_exits_total", "counter",
             "exits of the child by kind of reason (gensup-protocol(7)), across its supervisor's restarts");
        for (size_t i = 0; i < r->n; i++) {
                json_t *exits = json_object_get(r->v[i].child, "exits");
                for (size_t k = 0; k < sizeof(exit_kinds) / sizeof(exit_kinds[0]); k++) {
                        fputs("gensup_child_exits_total", out);
                        put_labels(out, &r->v[i]);
                        fprintf(out, ",reason=\"%s\"} %lld\n", exit_kinds[k],
                                (long long) json_integer_value(json_object_get(exits, exit_kinds[k])));
                }
        }
}

static void daemon_gauge(FILE *out, json_t *d, const char *key, double scale, const char *name, const char *type,
                         const char *help) {
        if (!has_int(d, key))
                return;
        head(out, name, type, help);
        fprintf(out, "%s %.17g\n", name, num(d, key) * scale);
}

/* ---- the whole ---- */

/* Statistics of every running worker into stats[i] (NULL for the
 * others and for those that did not answer in time); how many were
 * asked and not answered into *ret_missing. */
static int ask_servers(ipc_conn *c, const rows *r, int timeout_ms, json_t **stats, size_t *ret_missing) {
        char **names = calloc(r->n + 1, sizeof(*names));
        size_t *at = calloc(r->n + 1, sizeof(*at));
        json_t **docs = calloc(r->n + 1, sizeof(*docs));
        size_t n = 0;
        int ret = -ENOMEM;

        if (!names || !at || !docs)
                goto out;
        for (size_t i = 0; i < r->n; i++) {
                json_t *ch = r->v[i].child;
                const char *type = json_string_value(json_object_get(ch, "type"));
                if (type && strcmp(type, "worker") == 0 && has_int(ch, "pid")) {
                        names[n] = (char *) json_string_value(json_object_get(ch, "name"));
                        at[n++] = i;
                }
        }
        ret = n ? ctl_query_many(c, &ctl_commands[CTL_CMD_STATISTICS], names, n, timeout_ms, docs) : 0;
        *ret_missing = 0;
        for (size_t k = 0; ret >= 0 && k < n; k++) {
                stats[at[k]] = docs[k];
                /* A plain program answers nothing to a sys request. */
                if (!docs[k])
                        (*ret_missing)++;
        }
out:
        free(names);
        free(at);
        free(docs);
        return ret;
}

static void write_all(FILE *out, json_t *status, const rows *r, json_t **stats, size_t missing) {
        json_t *d = json_object_get(status, "gensupd");
        state_family(out, r);
        family(out, r, stats, "gensup_child_restarts_total", "counter",
               "restarts of the child, across its supervisor's restarts", v_restarts);
        family(out, r, stats, "gensup_child_uptime_seconds", "gauge", "how long the running child has run", v_uptime);
        exits_family(out, r);
        family(out, r, stats, "gensup_child_memory_bytes", "gauge", "memory its cgroup uses", v_memory);
        family(out, r, stats, "gensup_child_cpu_seconds_total", "counter", "CPU time its cgroup used", v_cpu);
        family(out, r, stats, "gensup_child_processes", "gauge", "processes in its cgroup", v_processes);
        family(out, r, stats, "gensup_server_calls_total", "counter", "calls the gen_server handled", v_calls);
        family(out, r, stats, "gensup_server_casts_total", "counter", "casts the gen_server handled", v_casts);
        family(out, r, stats, "gensup_server_infos_total", "counter", "infos the gen_server handled", v_infos);
        family(out, r, stats, "gensup_server_replies_total", "counter", "replies the gen_server sent", v_replies);
        family(out, r, stats, "gensup_server_connections", "gauge", "client connections open", v_connections);
        family(out, r, stats, "gensup_server_queue_length", "gauge",
               "messages received and not handled yet (OTP's message_queue_len)", v_queue_length);
        family(out, r, stats, "gensup_server_queue_socket_bytes", "gauge",
               "bytes unread in the gen_server's connection sockets", v_queue_socket_bytes);
        family(out, r, stats, "gensup_server_resident_memory_bytes", "gauge", "the server process's RSS", v_rss);
        daemon_gauge(out, d, "rss_bytes", 1, "gensupd_resident_memory_bytes", "gauge", "gensupd's own RSS");
        daemon_gauge(out, d, "fds", 1, "gensupd_open_fds", "gauge", "file descriptors gensupd has open");
        daemon_gauge(out, d, "log_lines_dropped", 1, "gensupd_log_lines_dropped_total", "counter",
                     "children's lines not written to log_dir: its writer did not keep up");
        daemon_gauge(out, d, "uptime_ms", 1e-3, "gensupd_uptime_seconds", "gauge", "how long gensupd has run");
        head(out, "gensup_scrape_servers_unanswered", "gauge",
             "running workers that gave no statistics in time (plain programs, slow servers)");
        fprintf(out, "gensup_scrape_servers_unanswered %zu\n", missing);
}

int ctl_metrics_write(const ctl_opts *o, FILE *out) {
        const ctl_command *status_cmd = &ctl_commands[CTL_CMD_STATUS];
        int timeout = o->timeout_set && o->timeout_ms > 0 ? o->timeout_ms : METRICS_TIMEOUT_MS;
        ipc_conn *c = NULL;
        json_t *status = NULL, **stats = NULL;
        rows r = { 0 };
        size_t missing = 0;

        int ret = ctl_daemon_connect(o, status_cmd, &c);
        if (ret < 0)
                return ret;
        ret = ctl_query_many(c, status_cmd, NULL, 0, timeout, &status);
        if (ret >= 0 && !status) {
                fprintf(stderr, "gensupctl: metrics: no status from gensupd within %d ms\n", timeout);
                ret = -ETIMEDOUT;
        }
        if (ret >= 0)
                ret = collect(json_object_get(status, "tree"), &r);
        if (ret >= 0 && !(stats = calloc(r.n + 1, sizeof(*stats))))
                ret = -ENOMEM;
        if (ret >= 0)
                ret = ask_servers(c, &r, timeout, stats, &missing);
        if (ret >= 0)
                write_all(out, status, &r, stats, missing);
        for (size_t i = 0; stats && i < r.n; i++)
                json_decref(stats[i]);
        free(stats);
        free(r.v);
        json_decref(status);
        ipc_conn_free(c);
        return ret;
}

int ctl_metrics_run(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args) {
        if (o->listen)
                return ctl_metrics_serve(o, o->listen);
        return ctl_metrics_write(o, stdout) < 0 ? EXIT_FAILED : EXIT_OK;
}
