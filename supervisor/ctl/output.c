/* output.c: what gensupctl prints for people (and --json).
 *
 * Map: small formatters (durations, CPU time, bytes, local time, JSON
 * values as text); tables with aligned columns and colour; key: value
 * blocks; then one print_* per command, chosen by ctl_print_answer from
 * the command's id; event lines (also for events --follow); and the
 * error lines on stderr (ctl_fail, OTP error names with a hint). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"
#include "gensup.h"
#include "ipc.h"
#include "output.h"

char *ctl_strf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

void ctl_fail(const ctl_command *cmd, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "gensupctl: %s: ", cmd->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}
/* ---- small formatting helpers ---- */

#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

static const char *state_color(const ctl_opts *o, const char *state) {
        if (!o->color || !state)
                return NULL;
        if (strcmp(state, "running") == 0)
                return C_GREEN;
        if (strcmp(state, "starting") == 0 || strcmp(state, "restarting") == 0 || strcmp(state, "stopping") == 0)
                return C_YELLOW;
        if (strcmp(state, "stopped") == 0)
                return C_RED;
        return NULL;
}

/* 812ms, 45s, 3m12s, 2h05m, 3d04h: two units at most, read at a glance. */
static void fmt_duration(uint64_t ms, char *buf, size_t size) {
        uint64_t s = ms / 1000;
        if (ms < 1000)
                snprintf(buf, size, "%" PRIu64 "ms", ms);
        else if (s < 60)
                snprintf(buf, size, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

/* CPU time keeps its precision below a minute: 0.8ms, 812ms, 1.234s. */
static void fmt_cpu(uint64_t us, char *buf, size_t size) {
        if (us < 1000)
                snprintf(buf, size, "%.1fms", (double) us / 1000.0);
        else if (us < 1000000)
                snprintf(buf, size, "%" PRIu64 "ms", us / 1000);
        else if (us < 60000000)
                snprintf(buf, size, "%.3fs", (double) us / 1e6);
        else
                fmt_duration(us / 1000, buf, size);
}

static void fmt_bytes(uint64_t b, char *buf, size_t size) {
        if (b < 1024 * 1024)
                snprintf(buf, size, "%" PRIu64 " KiB", (b + 1023) / 1024);
        else if (b < 1024ull * 1024 * 1024)
                snprintf(buf, size, "%.1f MiB", (double) b / (1024.0 * 1024.0));
        else
                snprintf(buf, size, "%.2f GiB", (double) b / (1024.0 * 1024.0 * 1024.0));
}

/* Local time, ISO-like, to the millisecond: 2024-05-01 12:03:04.123. */
static void fmt_time(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000u);
        struct tm tm;
        char day[32];
        if (!localtime_r(&t, &tm) || strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
                snprintf(buf, size, "%" PRIu64, usec);
                return;
        }
        snprintf(buf, size, "%s.%03u", day, (unsigned) (usec / 1000u % 1000u));
}

static const char *jstr(const json_t *obj, const char *key) {
        return json_string_value(json_object_get(obj, key));
}

static bool jhas_int(const json_t *obj, const char *key) {
        return json_is_integer(json_object_get(obj, key));
}

static json_int_t jint(const json_t *obj, const char *key) {
        return json_integer_value(json_object_get(obj, key));
}

/* Any JSON value as short text: strings as they are, null as "-". The
 * caller frees. */
static char *jtext(const json_t *v) {
        char *s = NULL;
        if (!v || json_is_null(v))
                s = strdup("-");
        else if (json_is_string(v))
                s = strdup(json_string_value(v));
        else if (json_is_true(v))
                s = strdup("yes");
        else if (json_is_false(v))
                s = strdup("no");
        else
                s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return s ? s : strdup("?");
}

/* A string list as one line, each item quoted for a shell when it needs
 * it, so an exec line can be pasted back. Caller frees. */
static char *join_words(const json_t *list) {
        gs_buf b = GS_BUF_INIT;
        size_t i;
        json_t *v;

        json_array_foreach(list, i, v) {
                const char *s = json_string_value(v);
                if (!s)
                        continue;
                if (i > 0)
                        gs_buf_append(&b, " ", 1);
                bool plain = *s != '\0';
                for (const char *p = s; *p; p++)
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_", *p))
                                plain = false;
                if (plain)
                        gs_buf_append(&b, s, strlen(s));
                else {
                        gs_buf_append(&b, "'", 1);
                        for (const char *p = s; *p; p++) {
                                if (*p == '\'')
                                        gs_buf_append(&b, "'\\''", 4);
                                else
                                        gs_buf_append(&b, p, 1);
                        }
                        gs_buf_append(&b, "'", 1);
                }
        }
        char *out = strndup(b.data ? (const char *) b.data : "", b.len);
        gs_buf_done(&b);
        return out;
}

/* ---- tables: aligned columns, colour that does not upset alignment ---- */

typedef struct table {
        size_t n_cols;
        const char *const *heads;
        const bool *right;        /* right-aligned columns (numbers), or NULL */
        char **cells;             /* n_rows * n_cols, owned */
        const char **colors;      /* per cell, static strings or NULL */
        size_t n_rows, cap;
} table;

static void table_init(table *t, size_t n_cols, const char *const *heads, const bool *right) {
        *t = (table) { .n_cols = n_cols, .heads = heads, .right = right };
}

/* Adds a row; cells are taken (NULL prints as "-"). */
static void table_add(table *t, char **cells, const char **colors) {
        if (t->n_rows == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                char **nc = realloc(t->cells, cap * t->n_cols * sizeof(*nc));
                if (nc)
                        t->cells = nc;
                const char **ncol = realloc(t->colors, cap * t->n_cols * sizeof(*ncol));
                if (ncol)
                        t->colors = ncol;
                if (!nc || !ncol) {
                        for (size_t i = 0; i < t->n_cols; i++)
                                free(cells[i]);
                        return;
                }
                t->cap = cap;
        }
        for (size_t i = 0; i < t->n_cols; i++) {
                t->cells[t->n_rows * t->n_cols + i] = cells[i];
                t->colors[t->n_rows * t->n_cols + i] = colors ? colors[i] : NULL;
        }
        t->n_rows++;
}

static void table_print(table *t, const ctl_opts *o, const char *indent) {
        size_t width[16] = { 0 };
        for (size_t c = 0; c < t->n_cols && c < 16; c++) {
                width[c] = strlen(t->heads[c]);
                for (size_t r = 0; r < t->n_rows; r++) {
                        const char *s = t->cells[r * t->n_cols + c];
                        size_t l = strlen(s ? s : "-");
                        if (l > width[c])
                                width[c] = l;
                }
        }
        for (size_t r = 0; r <= t->n_rows; r++) {
                fputs(indent, stdout);
                for (size_t c = 0; c < t->n_cols && c < 16; c++) {
                        bool head = r == 0;
                        const char *s = head ? t->heads[c] : t->cells[(r - 1) * t->n_cols + c];
                        const char *color = head ? (o->color ? C_BOLD : NULL) : t->colors[(r - 1) * t->n_cols + c];
                        bool last = c + 1 == t->n_cols;
                        if (!s)
                                s = "-";
                        int pad = (int) (width[c] - strlen(s));
                        bool right = t->right && t->right[c];
                        if (right)
                                printf("%*s", pad, "");
                        printf("%s%s%s", color ? color : "", s, color ? C_RESET : "");
                        if (!last)
                                printf("%*s  ", right ? 0 : pad, "");
                }
                putchar('\n');
        }
}

static void table_done(table *t) {
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
        *t = (table) { 0 };
}

/* ---- key: value blocks ---- */

typedef struct kv {
        char *key, *value;
        const char *color;
} kv;

typedef struct kvlist {
        kv items[64];
        size_t n;
} kvlist;

/* Takes value. */
static void kv_add(kvlist *l, const char *key, char *value, const char *color) {
        if (l->n == sizeof(l->items) / sizeof(l->items[0])) {
                free(value);
                return;
        }
        l->items[l->n++] = (kv) { .key = strdup(key), .value = value, .color = color };
}

static void kv_print(kvlist *l, const char *indent) {
        size_t w = 0;
        for (size_t i = 0; i < l->n; i++)
                if (strlen(l->items[i].key) + 1 > w)
                        w = strlen(l->items[i].key) + 1;
        for (size_t i = 0; i < l->n; i++) {
                kv *x = &l->items[i];
                printf("%s%s:%*s %s%s%s\n", indent, x->key, (int) (w - strlen(x->key) - 1), "", x->color ? x->color : "",
                       x->value ? x->value : "-", x->color ? C_RESET : "");
                free(x->key);
                free(x->value);
        }
        l->n = 0;
}

/* Adds the keys of obj not in `known`, so fields gensupd grows later still
 * show. */
static void kv_add_rest(kvlist *l, json_t *obj, const char *const *known) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                bool seen = false;
                for (const char *const *k = known; *k; k++)
                        seen |= strcmp(*k, key) == 0;
                if (!seen)
                        kv_add(l, key, jtext(v), NULL);
        }
}

/* ---- status ---- */

/* "signal 2, normal 1" from status's "exits" object; "none" when empty. */
static char *exit_counts(json_t *exits) {
        char *text = NULL;
        const char *key;
        json_t *v;
        json_object_foreach(exits, key, v) {
                char *more = ctl_strf("%s%s%s %" JSON_INTEGER_FORMAT, text ? text : "", text ? ", " : "", key,
                                      json_integer_value(v));
                free(text);
                text = more;
        }
        return text ? text : strdup("none");
}

static const char *const tree_heads[] = { "NAME", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT" };
static const bool tree_right[] = { false, false, false, true, true, true, false };

static void tree_rows(table *t, const ctl_opts *o, json_t *node, int depth, const json_t *root_uptime) {
        char up[32] = "-";
        const char *state = jstr(node, "state");
        json_t *uptime = json_object_get(node, "uptime_ms");
        if (!uptime)
                uptime = (json_t *) root_uptime;
        if (state && strcmp(state, "running") == 0 && json_is_integer(uptime))
                fmt_duration((uint64_t) json_integer_value(uptime), up, sizeof(up));

        const char *name = jstr(node, "name");
        char *cells[7] = {
                ctl_strf("%*s%s", depth * 2, "", name ? name : "?"),
                jtext(json_object_get(node, "type")),
                jtext(json_object_get(node, "state")),
                jtext(json_object_get(node, "pid")),
                strdup(up),
                jtext(json_object_get(node, "restarts")),
                jtext(json_object_get(node, "reason")),
        };
        const char *colors[7] = { NULL, NULL, state_color(o, state), NULL, NULL, NULL, NULL };
        table_add(t, cells, colors);

        size_t i;
        json_t *child;
        json_array_foreach(json_object_get(node, "children"), i, child)
                tree_rows(t, o, child, depth + 1, NULL);
}

static void print_tree_table(const ctl_opts *o, json_t *node, const json_t *root_uptime, const char *indent,
                             bool skip_self) {
        table t;
        table_init(&t, 7, tree_heads, tree_right);
        if (skip_self) {
                size_t i;
                json_t *child;
                json_array_foreach(json_object_get(node, "children"), i, child)
                        tree_rows(&t, o, child, 0, NULL);
        } else
                tree_rows(&t, o, node, 0, root_uptime);
        table_print(&t, o, indent);
        table_done(&t);
}

static void print_status_tree(const ctl_opts *o, json_t *doc) {
        json_t *daemon = json_object_get(doc, "gensupd");
        json_t *tree = json_object_get(doc, "tree");
        json_t *uptime = json_object_get(daemon, "uptime_ms");
        char up[32] = "?";
        const char *state = jstr(daemon, "state");

        if (json_is_integer(uptime))
                fmt_duration((uint64_t) json_integer_value(uptime), up, sizeof(up));
        const char *color = state_color(o, state);
        printf("gensupd %s: %s%s%s, pid %" JSON_INTEGER_FORMAT ", up %s, config %s\n",
               jstr(daemon, "version") ? jstr(daemon, "version") : "?", color ? color : "", state ? state : "?",
               color ? C_RESET : "", jint(daemon, "pid"), up, jstr(daemon, "config") ? jstr(daemon, "config") : "?");
        if (jstr(daemon, "containment"))
                printf("containment: %s%s%s\n", jstr(daemon, "containment"), jstr(daemon, "cgroup") ? " " : "",
                       jstr(daemon, "cgroup") ? jstr(daemon, "cgroup") : "");
        if (!json_is_object(tree)) {
                printf("(no tree)\n");
                return;
        }
        putchar('\n');
        print_tree_table(o, tree, uptime, "", false);
}

static void print_status_one(const ctl_opts *o, json_t *doc) {
        kvlist l = { .n = 0 };
        const char *state = jstr(doc, "state");
        const char *type = jstr(doc, "type");
        bool sup = type && strcmp(type, "supervisor") == 0;
        char buf[64];

        kv_add(&l, "name", jtext(json_object_get(doc, "name")), NULL);
        kv_add(&l, "type", jtext(json_object_get(doc, "type")), NULL);
        kv_add(&l, "state", jtext(json_object_get(doc, "state")), state_color(o, state));
        kv_add(&l, "pid", jtext(json_object_get(doc, "pid")), NULL);
        if (jhas_int(doc, "uptime_ms") && state && strcmp(state, "running") == 0) {
                fmt_duration((uint64_t) jint(doc, "uptime_ms"), buf, sizeof(buf));
                kv_add(&l, "uptime", strdup(buf), NULL);
        }
        kv_add(&l, "restart", jtext(json_object_get(doc, "restart")), NULL);
        kv_add(&l, "restarts", jtext(json_object_get(doc, "restarts")), NULL);
        kv_add(&l, "last exit", jtext(json_object_get(doc, "reason")), NULL);
        if (json_is_object(json_object_get(doc, "exits")))
                kv_add(&l, "exits", exit_counts(json_object_get(doc, "exits")), NULL);
        if (json_object_get(doc, "ready"))
                kv_add(&l, "ready", jtext(json_object_get(doc, "ready")), NULL);
        if (json_is_array(json_object_get(doc, "args")))
                kv_add(&l, "extra args", join_words(json_object_get(doc, "args")), NULL);
        if (sup) {
                kv_add(&l, "strategy", jtext(json_object_get(doc, "strategy")), NULL);
                if (jhas_int(doc, "intensity") && jhas_int(doc, "period"))
                        kv_add(&l, "intensity",
                               ctl_strf("%" JSON_INTEGER_FORMAT " restarts in %" JSON_INTEGER_FORMAT "s",
                                     jint(doc, "intensity"), jint(doc, "period")),
                               NULL);
                if (jhas_int(doc, "restarts_in_period"))
                        kv_add(&l, "restarts in period", jtext(json_object_get(doc, "restarts_in_period")), NULL);
                kv_add(&l, "auto_shutdown", jtext(json_object_get(doc, "auto_shutdown")), NULL);
                kv_add(&l, "children", ctl_strf("%zu", json_array_size(json_object_get(doc, "children"))), NULL);
        }
        static const char *const known[] = { "name", "type", "state", "pid", "uptime_ms", "restart", "restarts",
                                             "reason", "ready", "args", "strategy", "intensity", "period",
                                             "restarts_in_period", "auto_shutdown", "children", "exits", NULL };
        kv_add_rest(&l, doc, known);
        kv_print(&l, "");
        if (sup) {
                json_t *children = json_object_get(doc, "children");
                if (json_array_size(children) > 0) {
                        putchar('\n');
                        print_tree_table(o, doc, NULL, "  ", true);
                }
        }
}

static void print_status(const ctl_opts *o, json_t *doc) {
        if (json_object_get(doc, "gensupd"))
                print_status_tree(o, doc);
        else
                print_status_one(o, doc);
}

/* ---- which-children, count-children ---- */

static void print_which_children(const ctl_opts *o, char **args, json_t *doc) {
        static const char *const heads[] = { "NAME", "PID", "TYPE", "STATE" };
        static const bool right[] = { false, true, false, false };
        table t;
        size_t i;
        json_t *c;

        table_init(&t, 4, heads, right);
        json_array_foreach(json_object_get(doc, "children"), i, c) {
                char *cells[4] = { jtext(json_object_get(c, "name")), jtext(json_object_get(c, "pid")),
                                   jtext(json_object_get(c, "type")), jtext(json_object_get(c, "state")) };
                const char *colors[4] = { NULL, NULL, NULL, state_color(o, jstr(c, "state")) };
                table_add(&t, cells, colors);
        }
        if (t.n_rows == 0)
                printf("%s has no children\n", args[0]);
        else
                table_print(&t, o, "");
        table_done(&t);
}

static void print_count_children(const ctl_opts *o, json_t *doc) {
        static const char *const heads[] = { "SPECS", "ACTIVE", "SUPERVISORS", "WORKERS" };
        static const bool right[] = { true, true, true, true };
        table t;
        table_init(&t, 4, heads, right);
        char *cells[4] = { jtext(json_object_get(doc, "specs")), jtext(json_object_get(doc, "active")),
                           jtext(json_object_get(doc, "supervisors")), jtext(json_object_get(doc, "workers")) };
        table_add(&t, cells, NULL);
        table_print(&t, o, "");
        table_done(&t);
}

/* ---- get-childspec ---- */

static char *ms_text(const json_t *v) {
        if (json_is_integer(v)) {
                char buf[32];
                json_int_t ms = json_integer_value(v);
                if (ms > 0 && ms % 1000 == 0)
                        fmt_duration((uint64_t) ms, buf, sizeof(buf));
                else
                        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "ms", ms);
                return strdup(buf);
        }
        return jtext(v);
}

static char *rlimit_value(const json_t *v) {
        if (json_is_integer(v)) {
                json_int_t x = json_integer_value(v);
                /* RLIM_INFINITY comes through as -1 (all bits set). */
                return x < 0 ? strdup("infinity") : ctl_strf("%" JSON_INTEGER_FORMAT, x);
        }
        return jtext(v);
}

/* A worker spec's rlimits and restart backoff, one line each. */
static void kv_add_limits(kvlist *l, json_t *doc) {
        gs_buf b = GS_BUF_INIT;
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(doc, "rlimits"), key, v) {
                char *soft = rlimit_value(json_array_get(v, 0)), *hard = rlimit_value(json_array_get(v, 1));
                gs_buf_printf(&b, "%s%s=%s:%s", b.len ? " " : "", key, soft ? soft : "?", hard ? hard : "?");
                free(soft);
                free(hard);
        }
        kv_add(l, "rlimits", b.len ? strndup((char *) b.data, b.len) : NULL, NULL);
        gs_buf_done(&b);

        json_t *bo = json_object_get(doc, "backoff");
        if (!json_is_object(bo))
                return;
        char *ini = ms_text(json_object_get(bo, "initial")), *max = ms_text(json_object_get(bo, "max"));
        char *reset = ms_text(json_object_get(bo, "reset_after"));
        kv_add(l, "backoff",
               ctl_strf("initial %s, max %s, factor %g, jitter %g, reset after %s", ini, max,
                        json_number_value(json_object_get(bo, "factor")),
                        json_number_value(json_object_get(bo, "jitter")), reset),
               NULL);
        free(ini);
        free(max);
        free(reset);
}

static void print_childspec(json_t *doc) {
        kvlist l = { .n = 0 };
        const char *type = jstr(doc, "type");

        kv_add(&l, "name", jtext(json_object_get(doc, "name")), NULL);
        kv_add(&l, "type", jtext(json_object_get(doc, "type")), NULL);
        kv_add(&l, "restart", jtext(json_object_get(doc, "restart")), NULL);
        kv_add(&l, "shutdown", ms_text(json_object_get(doc, "shutdown")), NULL);
        kv_add(&l, "significant", jtext(json_object_get(doc, "significant")), NULL);
        if (type && strcmp(type, "supervisor") == 0) {
                kv_add(&l, "strategy", jtext(json_object_get(doc, "strategy")), NULL);
                kv_add(&l, "intensity", jtext(json_object_get(doc, "intensity")), NULL);
                kv_add(&l, "period", ctl_strf("%" JSON_INTEGER_FORMAT "s", jint(doc, "period")), NULL);
                kv_add(&l, "auto_shutdown", jtext(json_object_get(doc, "auto_shutdown")), NULL);
                gs_buf b = GS_BUF_INIT;
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(doc, "children"), i, c)
                        gs_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(c) ? json_string_value(c) : "?");
                kv_add(&l, "children", b.len ? strndup((char *) b.data, b.len) : NULL, NULL);
                gs_buf_done(&b);
        } else {
                kv_add(&l, "exec", join_words(json_object_get(doc, "exec")), NULL);
                kv_add(&l, "vsn", jtext(json_object_get(doc, "vsn")), NULL);
                kv_add(&l, "listen", jtext(json_object_get(doc, "listen")), NULL);
                kv_add(&l, "ready", jtext(json_object_get(doc, "ready")), NULL);
                kv_add(&l, "start_timeout", ms_text(json_object_get(doc, "start_timeout")), NULL);
                json_t *env = json_object_get(doc, "environment");
                kv_add(&l, "environment", json_array_size(env) ? join_words(env) : NULL, NULL);
                kv_add(&l, "working_directory", jtext(json_object_get(doc, "working_directory")), NULL);
                kv_add(&l, "user", jtext(json_object_get(doc, "user")), NULL);
                kv_add(&l, "group", jtext(json_object_get(doc, "group")), NULL);
                kv_add_limits(&l, doc);
        }
        static const char *const known[] = { "name", "type", "restart", "shutdown", "significant", "strategy",
                                             "intensity", "period", "auto_shutdown", "children", "exec", "listen",
                                             "ready", "start_timeout", "environment", "working_directory", "user",
                                             "group", "rlimits", "backoff", NULL };
        kv_add_rest(&l, doc, known);
        kv_print(&l, "");
}

/* ---- history, events ---- */

static void print_history(const ctl_opts *o, char **args, json_t *doc) {
        static const char *const heads[] = { "TIME", "PID", "CONTEXT", "REASON" };
        static const bool right[] = { false, true, false, false };
        table t;
        size_t i;
        json_t *x;

        table_init(&t, 4, heads, right);
        json_array_foreach(json_object_get(doc, "exits"), i, x) {
                char when[64];
                fmt_time((uint64_t) jint(x, "time_us"), when, sizeof(when));
                char *cells[4] = { strdup(when), jtext(json_object_get(x, "pid")), jtext(json_object_get(x, "context")),
                                   jtext(json_object_get(x, "reason")) };
                table_add(&t, cells, NULL);
        }
        if (t.n_rows == 0)
                printf("%s has not exited yet\n", jstr(doc, "name") ? jstr(doc, "name") : args[0]);
        else
                table_print(&t, o, "");
        table_done(&t);
}

/* One event a line, fixed columns so that a followed stream stays aligned:
 * time, event, supervisor/child, pid, reason. */
static void print_event_line(json_t *ev) {
        char when[64], who[256], pid[32];
        const char *sup = jstr(ev, "supervisor"), *child = jstr(ev, "child"), *reason = jstr(ev, "reason");
        const char *kind = jstr(ev, "event");
        char *by = NULL;

        fmt_time((uint64_t) jint(ev, "time_us"), when, sizeof(when));
        /* A request: what was asked, and who asked (SO_PEERCRED). */
        json_t *who_asked = json_object_get(ev, "by");
        if (who_asked)
                reason = by = ctl_strf("%s by uid %" JSON_INTEGER_FORMAT " pid %" JSON_INTEGER_FORMAT,
                                       jstr(ev, "command") ? jstr(ev, "command") : "?", jint(who_asked, "uid"),
                                       jint(who_asked, "pid"));
        if (sup && child)
                snprintf(who, sizeof(who), "%s/%s", sup, child);
        else
                snprintf(who, sizeof(who), "%s", child ? child : "-");
        if (jhas_int(ev, "pid"))
                snprintf(pid, sizeof(pid), "%" JSON_INTEGER_FORMAT, jint(ev, "pid"));
        else
                snprintf(pid, sizeof(pid), "-");
        printf("%s  %-16s  %-24s  %7s  %s\n", when, kind ? kind : "?", who, pid, reason ? reason : "-");
        free(by);
}

void ctl_print_event(const ctl_opts *o, json_t *ev) {
        if (o->json) {
                json_dumpf(ev, stdout, JSON_COMPACT);
                putchar('\n');
        } else
                print_event_line(ev);
}

void ctl_print_events(const ctl_opts *o, json_t *doc) {
        size_t i;
        json_t *ev;
        /* The header, once (events --follow too): the columns of
         * print_event_line. */
        if (!o->json)
                printf("%-23s  %-16s  %-24s  %7s  %s\n", "TIME", "EVENT", "SUPERVISOR/CHILD", "PID",
                       "REASON (requests: COMMAND by UID PID)");
        json_array_foreach(json_object_get(doc, "events"), i, ev)
                ctl_print_event(o, ev);
}

/* ---- sys requests ---- */

static void print_state(json_t *doc) {
        const char *s = jstr(doc, "state");
        if (!s)
                s = "";
        fputs(s, stdout);
        if (!*s || s[strlen(s) - 1] != '\n')
                putchar('\n');
}

static void print_statistics(json_t *doc) {
        kvlist l = { .n = 0 };
        char buf[64];

        kv_add(&l, "name", jtext(json_object_get(doc, "name")), NULL);
        kv_add(&l, "calls", jtext(json_object_get(doc, "calls")), NULL);
        kv_add(&l, "casts", jtext(json_object_get(doc, "casts")), NULL);
        kv_add(&l, "infos", jtext(json_object_get(doc, "infos")), NULL);
        kv_add(&l, "replies", jtext(json_object_get(doc, "replies")), NULL);
        kv_add(&l, "connections", jtext(json_object_get(doc, "connections")), NULL);
        kv_add(&l, "queue length", jtext(json_object_get(doc, "queue_length")), NULL);
        fmt_duration((uint64_t) jint(doc, "uptime_ms"), buf, sizeof(buf));
        kv_add(&l, "uptime", strdup(buf), NULL);
        fmt_cpu((uint64_t) jint(doc, "cpu_us"), buf, sizeof(buf));
        kv_add(&l, "cpu time", strdup(buf), NULL);
        fmt_bytes((uint64_t) jint(doc, "rss_bytes"), buf, sizeof(buf));
        kv_add(&l, "memory (rss)", strdup(buf), NULL);
        kv_add(&l, "suspended", jtext(json_object_get(doc, "suspended")), NULL);
        kv_add(&l, "trace", strdup(json_is_true(json_object_get(doc, "trace")) ? "on" : "off"), NULL);
        /* What gensupd's cgroup for the child counts (the whole cgroup:
         * helpers the server started included), where it knows. */
        json_t *cg = json_object_get(doc, "cgroup");
        if (json_is_integer(json_object_get(cg, "memory_bytes"))) {
                fmt_bytes((uint64_t) jint(cg, "memory_bytes"), buf, sizeof(buf));
                kv_add(&l, "cgroup memory", strdup(buf), NULL);
        }
        if (json_is_integer(json_object_get(cg, "cpu_us"))) {
                fmt_cpu((uint64_t) jint(cg, "cpu_us"), buf, sizeof(buf));
                kv_add(&l, "cgroup cpu time", strdup(buf), NULL);
        }
        static const char *const known[] = { "name", "calls", "casts", "infos", "replies", "connections",
                                             "uptime_ms", "cpu_us", "rss_bytes", "suspended", "trace", "cgroup",
                                             "queue_length", NULL };
        kv_add_rest(&l, doc, known);
        kv_print(&l, "");
}

/* ---- confirmations ---- */

static void print_names(const char *label, json_t *list) {
        size_t i;
        json_t *v;

        if (json_array_size(list) == 0)
                return;
        printf("%s:", label);
        json_array_foreach(list, i, v) {
                if (json_is_string(v))
                        printf(" %s", json_string_value(v));
                else if (json_is_object(v))
                        printf(" %s (%s)", jstr(v, "name") ?: "?", jstr(v, "reason") ?: "?");
        }
        printf("\n");
}

static void print_reload(json_t *doc) {
        print_names("added", json_object_get(doc, "added"));
        print_names("removed", json_object_get(doc, "removed"));
        print_names("changed", json_object_get(doc, "changed"));
        printf("unchanged: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(doc, "unchanged")));
        print_names("failed", json_object_get(doc, "failed"));
        print_names("program_changed", json_object_get(doc, "program_changed"));
        print_names("upgraded", json_object_get(doc, "upgraded"));
}

/* start-child and restart-child: the child and its pid. An ignore is
 * OTP's {ok,undefined}: nothing runs, and that is fine. A nested
 * supervisor runs inside gensupd: started, without a pid of its own. */
static void print_started(const char *name, json_t *doc) {
        const char *info = jstr(doc, "info");
        json_t *pid = json_object_get(doc, "pid");
        char pidtext[48] = "";

        if (json_is_integer(pid))
                snprintf(pidtext, sizeof(pidtext), ", pid %" JSON_INTEGER_FORMAT, json_integer_value(pid));
        bool ignored = info && strcmp(info, "ignore") == 0;
        printf("%s: %s%s\n", name, ignored ? "not started: init returned ignore" : "started", pidtext);
}

/* The name a tree command's answer is about. */
static const char *tree_name(const ctl_command *cmd, char **args, json_t *doc) {
        const char *name = jstr(doc, "name");
        if (name)
                return name;
        if (cmd->id == CTL_CMD_START_CHILD)
                return "child";
        return args[1] ? args[1] : args[0] ? args[0] : "child";
}

static void print_json(const ctl_opts *o, json_t *doc) {
        json_dumpf(doc, stdout, (o->tty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_ENCODE_ANY);
        putchar('\n');
}

bool ctl_json_as_sent(const ctl_opts *o, const ctl_command *cmd) {
        /* A terminal gets it indented; reload's and is-ready's answers
         * are read for the exit status; logs prints JSON Lines; stop
         * --wait and events --follow go on after the answer. */
        return o->json && !o->tty && !o->follow && cmd->id != CTL_CMD_RELOAD && cmd->id != CTL_CMD_IS_READY &&
               cmd->id != CTL_CMD_LOGS && !(cmd->id == CTL_CMD_STOP && o->wait);
}

int ctl_print_json_text(const char *json) {
        const char *text = json && *json ? json : "{}";
        size_t len = strlen(text);
        if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

void ctl_print_answer(const ctl_opts *o, const ctl_command *cmd, char **args, json_t *doc) {
        if (o->json) {
                print_json(o, doc);
                return;
        }
        switch (cmd->id) {
        case CTL_CMD_STATUS:
                print_status(o, doc);
                break;
        case CTL_CMD_WHICH_CHILDREN:
                print_which_children(o, args, doc);
                break;
        case CTL_CMD_COUNT_CHILDREN:
                print_count_children(o, doc);
                break;
        case CTL_CMD_GET_CHILDSPEC:
                print_childspec(doc);
                break;
        case CTL_CMD_HISTORY:
                print_history(o, args, doc);
                break;
        case CTL_CMD_EVENTS:
                ctl_print_events(o, doc);
                break;
        case CTL_CMD_GET_STATE:
                print_state(doc);
                break;
        case CTL_CMD_STATISTICS:
                print_statistics(doc);
                break;
        case CTL_CMD_SUSPEND:
                printf("%s: suspended\n", args[0]);
                break;
        case CTL_CMD_RESUME:
                printf("%s: resumed\n", args[0]);
                break;
        case CTL_CMD_TRACE:
                printf("%s: trace %s\n", args[0], args[1]);
                break;
        case CTL_CMD_START_CHILD:
        case CTL_CMD_RESTART_CHILD:
                print_started(tree_name(cmd, args, doc), doc);
                break;
        case CTL_CMD_TERMINATE_CHILD:
                printf("%s: terminated\n", tree_name(cmd, args, doc));
                break;
        case CTL_CMD_DELETE_CHILD:
                printf("%s: deleted\n", tree_name(cmd, args, doc));
                break;
        case CTL_CMD_RELOAD:
                print_reload(doc);
                break;
        case CTL_CMD_UPGRADE:
                ctl_print_upgrade(doc);
                break;
        case CTL_CMD_STOP:
                printf("gensupd: stopping the tree\n");
                break;
        case CTL_CMD_RESTART:
                print_started(tree_name(cmd, args, doc), doc);
                break;
        case CTL_CMD_LOGS:
        case CTL_CMD_IS_READY:
                /* Printed by logs.c; is-ready answers with its exit code. */
                break;
        case CTL_CMD_CALL:
        case CTL_CMD_CAST:
        case CTL_CMD_METRICS:
        case CTL_CMD_TOP:
        case _CTL_CMD_MAX:
                break;
        }
}

/* ---- errors from gensupd ---- */

/* OTP's error names, as control.c answers them, with a hint for people. */
static const char *otp_hint(const char *error) {
        static const struct {
                const char *name, *hint;
        } hints[] = {
                { "not_found", "no such child under that supervisor" },
                { "running", "the child is running: terminate-child it first" },
                { "restarting", "the child is waiting to be restarted" },
                { "already_present", "a child of that name is there, not running: restart-child or delete-child it" },
                { "already_started", "a child of that name is already running" },
                { "simple_one_for_one", "not available on a simple_one_for_one supervisor" },
        };
        for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
                if (strcmp(hints[i].name, error) == 0)
                        return hints[i].hint;
        return NULL;
}

static void print_reply_error_text(const ctl_command *cmd, int code, const char *error) {
        if (code == EPERM && strncmp(error, "permission denied", 17) != 0) {
                ctl_fail(cmd, "permission denied: %s", error);
                return;
        }
        const char *hint = otp_hint(error);
        if (hint)
                ctl_fail(cmd, "%s (%s)", error, hint);
        else
                ctl_fail(cmd, "%s", error);
}

void ctl_print_reply_error(const ctl_command *cmd, int code, const char *error) {
        /* Shown on a terminal: no escape sequences or bidi overrides from a peer. */
        char *clean = error && *error ? ipc_text_clean(error, 1024, false) : NULL;
        print_reply_error_text(cmd, code, clean ? clean : strerror(code));
        free(clean);
}
