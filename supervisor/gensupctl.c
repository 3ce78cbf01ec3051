/* gensupctl: the ctl tool. Asks gensupd about the supervision tree and
 * steers it over <runtime_dir>/control.sock (CTL frames, answered by
 * CTL_REPLY frames carrying a JSON document; control.c is the other side),
 * and talks straight to a server for `call` and `cast` (libgensup's
 * client API: gensupd is not on the data path).
 *
 * Output is for people by default (aligned tables, durations, colour on a
 * terminal) and the received JSON document with --json. Exit status: 0 ok,
 * 1 the command failed or was refused, 2 usage error (gensupctl(1)). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"   /* GENSUP_VERSION */
#include "gensup.h"
#include "ipc.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

#define DEFAULT_TIMEOUT_MS 5000
#define CTL_REF 1

/* ---- options and the command table ---- */

typedef struct opts {
        bool json;
        const char *socket;     /* -s: the control socket */
        int timeout_ms;         /* < 0: wait forever */
        bool timeout_set;
        bool follow;            /* events --follow */
        bool color;             /* stdout is a terminal and NO_COLOR is unset */
        bool tty;               /* stdout is a terminal */
} opts;

typedef enum cmd_route {
        ROUTE_DAEMON,   /* a CTL frame to gensupd */
        ROUTE_CALL,     /* straight to the server */
        ROUTE_CAST,
        _ROUTE_MAX,
} cmd_route;

typedef struct cmd_def cmd_def;
typedef void (*printer)(const opts *o, const cmd_def *cmd, char **args, json_t *doc);

struct cmd_def {
        const char *name;
        size_t min_args, max_args;
        const char *synopsis;   /* the arguments, for --help and usage errors */
        const char *help;       /* one line */
        cmd_route route;
        bool slow;              /* waits for children to start or stop: no default timeout */
        bool free_args;         /* arguments may start with '-' (a child's argv, a payload) */
        printer print;
};

static void print_status(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_which_children(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_count_children(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_childspec(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_history(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_events(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_state(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_statistics(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_done(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_tree_done(const opts *o, const cmd_def *cmd, char **args, json_t *doc);
static void print_reload(const opts *o, const cmd_def *cmd, char **args, json_t *doc);

static const cmd_def commands[] = {
        { "status", 0, 1, "[NAME]", "the tree, or one child in detail", ROUTE_DAEMON, false, false,
          print_status },
        { "which-children", 1, 1, "SUP", "SUP's children, newest first", ROUTE_DAEMON, false, false,
          print_which_children },
        { "count-children", 1, 1, "SUP", "count SUP's specs, active, supervisors, workers",
          ROUTE_DAEMON, false, false, print_count_children },
        { "get-childspec", 2, 2, "SUP NAME", "the child spec of NAME under SUP", ROUTE_DAEMON, false, false,
          print_childspec },
        { "history", 1, 1, "NAME", "NAME's recent exits: time, pid, context, reason", ROUTE_DAEMON, false, false,
          print_history },
        { "events", 0, 1, "[--follow]", "recent starts and exits; --follow waits for more", ROUTE_DAEMON,
          false, false, print_events },
        { "get-state", 1, 1, "NAME", "the server's state text (format_status)", ROUTE_DAEMON, false, false,
          print_state },
        { "statistics", 1, 1, "NAME", "the server's counters, memory and CPU time", ROUTE_DAEMON, false, false,
          print_statistics },
        { "suspend", 1, 1, "NAME", "suspend the server: it answers sys requests only", ROUTE_DAEMON, false,
          false, print_done },
        { "resume", 1, 1, "NAME", "resume a suspended server", ROUTE_DAEMON, false, false, print_done },
        { "trace", 2, 2, "NAME on|off", "log each message the server handles, or stop", ROUTE_DAEMON, false, false,
          print_done },
        { "start-child", 1, 64, "SUP SPEC|ARG...",
          "add a child (SPEC) or a simple_one_for_one instance", ROUTE_DAEMON, true, true,
          print_tree_done },
        { "terminate-child", 2, 2, "SUP NAME", "stop a child, keeping its spec",
          ROUTE_DAEMON, true, false, print_tree_done },
        { "restart-child", 2, 2, "SUP NAME", "start a terminated child again", ROUTE_DAEMON, true, false,
          print_tree_done },
        { "delete-child", 2, 2, "SUP NAME", "forget a terminated child's spec", ROUTE_DAEMON, true, false,
          print_tree_done },
        { "call", 1, 2, "NAME [PAYLOAD|-]", "call the server; the reply goes to stdout",
          ROUTE_CALL, false, true, NULL },
        { "cast", 1, 2, "NAME [PAYLOAD|-]", "cast to the server", ROUTE_CAST, false, true,
          NULL },
        { "reload", 0, 0, "", "re-read the config: add, remove and restart what changed", ROUTE_DAEMON, true,
          false, print_reload },
        { "stop", 0, 0, "", "stop the tree in order; gensupd then exits", ROUTE_DAEMON, true, false,
          print_done },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cmd_def *find_command(const char *name) {
        for (size_t i = 0; i < N_COMMANDS; i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

static void help(void) {
        printf("Usage: gensupctl [OPTIONS] COMMAND [ARGS]...\n"
               "\n"
               "Inspects and steers the supervision tree that gensupd runs, and calls its\n"
               "servers.\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++) {
                char left[64];
                snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].synopsis);
                if (strlen(left) > 24)
                        printf("  %s\n  %-24s  %s\n", left, "", commands[i].help);
                else
                        printf("  %-24s  %s\n", left, commands[i].help);
        }
        printf("\nPAYLOAD is the argument, or standard input when absent or \"-\".\n"
               "\n"
               "Options:\n"
               "      --json          print the answer as JSON (events --follow: JSON Lines)\n"
               "  -s, --socket PATH   gensupd's control socket (default:\n"
               "                      $GENSUP_RUNTIME_DIR/control.sock, see gensupctl(1))\n"
               "      --timeout MS    wait at most MS milliseconds for the answer (default\n"
               "                      5000; none for start/terminate/restart/delete-child\n"
               "                      and stop; 0 waits forever)\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n"
               "\n"
               "Exit status: 0 ok, 1 the command failed or was refused, 2 usage error.\n"
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

static void fail(const cmd_def *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const cmd_def *cmd, const char *fmt, ...) {
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

static const char *state_color(const opts *o, const char *state) {
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

static void table_print(table *t, const opts *o, const char *indent) {
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

static char *xstrf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
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

static const char *const tree_heads[] = { "NAME", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT" };
static const bool tree_right[] = { false, false, false, true, true, true, false };

static void tree_rows(table *t, const opts *o, json_t *node, int depth, const json_t *root_uptime) {
        char up[32] = "-";
        const char *state = jstr(node, "state");
        json_t *uptime = json_object_get(node, "uptime_ms");
        if (!uptime)
                uptime = (json_t *) root_uptime;
        if (state && strcmp(state, "running") == 0 && json_is_integer(uptime))
                fmt_duration((uint64_t) json_integer_value(uptime), up, sizeof(up));

        const char *name = jstr(node, "name");
        char *cells[7] = {
                xstrf("%*s%s", depth * 2, "", name ? name : "?"),
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

static void print_tree_table(const opts *o, json_t *node, const json_t *root_uptime, const char *indent,
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

static void print_status_tree(const opts *o, json_t *doc) {
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

static void print_status_one(const opts *o, json_t *doc) {
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
        if (json_object_get(doc, "ready"))
                kv_add(&l, "ready", jtext(json_object_get(doc, "ready")), NULL);
        if (json_is_array(json_object_get(doc, "args")))
                kv_add(&l, "extra args", join_words(json_object_get(doc, "args")), NULL);
        if (sup) {
                kv_add(&l, "strategy", jtext(json_object_get(doc, "strategy")), NULL);
                if (jhas_int(doc, "intensity") && jhas_int(doc, "period"))
                        kv_add(&l, "intensity",
                               xstrf("%" JSON_INTEGER_FORMAT " restarts in %" JSON_INTEGER_FORMAT "s",
                                     jint(doc, "intensity"), jint(doc, "period")),
                               NULL);
                if (jhas_int(doc, "restarts_in_period"))
                        kv_add(&l, "restarts in period", jtext(json_object_get(doc, "restarts_in_period")), NULL);
                kv_add(&l, "auto_shutdown", jtext(json_object_get(doc, "auto_shutdown")), NULL);
                kv_add(&l, "children", xstrf("%zu", json_array_size(json_object_get(doc, "children"))), NULL);
        }
        static const char *const known[] = { "name", "type", "state", "pid", "uptime_ms", "restart", "restarts",
                                             "reason", "ready", "args", "strategy", "intensity", "period",
                                             "restarts_in_period", "auto_shutdown", "children", NULL };
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

static void print_status(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        if (json_object_get(doc, "gensupd"))
                print_status_tree(o, doc);
        else
                print_status_one(o, doc);
}

/* ---- which-children, count-children ---- */

static void print_which_children(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
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

static void print_count_children(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
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
                return x < 0 ? strdup("infinity") : xstrf("%" JSON_INTEGER_FORMAT, x);
        }
        return jtext(v);
}

static void print_childspec(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
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
                kv_add(&l, "period", xstrf("%" JSON_INTEGER_FORMAT "s", jint(doc, "period")), NULL);
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
                kv_add(&l, "listen", jtext(json_object_get(doc, "listen")), NULL);
                kv_add(&l, "ready", jtext(json_object_get(doc, "ready")), NULL);
                kv_add(&l, "start_timeout", ms_text(json_object_get(doc, "start_timeout")), NULL);
                json_t *env = json_object_get(doc, "environment");
                kv_add(&l, "environment", json_array_size(env) ? join_words(env) : NULL, NULL);
                kv_add(&l, "working_directory", jtext(json_object_get(doc, "working_directory")), NULL);
                kv_add(&l, "user", jtext(json_object_get(doc, "user")), NULL);
                kv_add(&l, "group", jtext(json_object_get(doc, "group")), NULL);

                gs_buf b = GS_BUF_INIT;
                const char *key;
                json_t *v;
                json_object_foreach(json_object_get(doc, "rlimits"), key, v) {
                        char *soft = rlimit_value(json_array_get(v, 0)), *hard = rlimit_value(json_array_get(v, 1));
                        gs_buf_printf(&b, "%s%s=%s:%s", b.len ? " " : "", key, soft ? soft : "?", hard ? hard : "?");
                        free(soft);
                        free(hard);
                }
                kv_add(&l, "rlimits", b.len ? strndup((char *) b.data, b.len) : NULL, NULL);
                gs_buf_done(&b);

                json_t *bo = json_object_get(doc, "backoff");
                if (json_is_object(bo)) {
                        char *ini = ms_text(json_object_get(bo, "initial")), *max = ms_text(json_object_get(bo, "max"));
                        char *reset = ms_text(json_object_get(bo, "reset_after"));
                        kv_add(&l, "backoff",
                               xstrf("initial %s, max %s, factor %g, jitter %g, reset after %s", ini, max,
                                     json_number_value(json_object_get(bo, "factor")),
                                     json_number_value(json_object_get(bo, "jitter")), reset),
                               NULL);
                        free(ini);
                        free(max);
                        free(reset);
                }
        }
        static const char *const known[] = { "name", "type", "restart", "shutdown", "significant", "strategy",
                                             "intensity", "period", "auto_shutdown", "children", "exec", "listen",
                                             "ready", "start_timeout", "environment", "working_directory", "user",
                                             "group", "rlimits", "backoff", NULL };
        kv_add_rest(&l, doc, known);
        kv_print(&l, "");
}

/* ---- history, events ---- */

static void print_history(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
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
static void print_event_line(const opts *o, json_t *ev) {
        char when[64], who[256], pid[32];
        const char *sup = jstr(ev, "supervisor"), *child = jstr(ev, "child"), *reason = jstr(ev, "reason");
        const char *kind = jstr(ev, "event");

        fmt_time((uint64_t) jint(ev, "time_us"), when, sizeof(when));
        if (sup && child)
                snprintf(who, sizeof(who), "%s/%s", sup, child);
        else
                snprintf(who, sizeof(who), "%s", child ? child : "-");
        if (jhas_int(ev, "pid"))
                snprintf(pid, sizeof(pid), "%" JSON_INTEGER_FORMAT, jint(ev, "pid"));
        else
                snprintf(pid, sizeof(pid), "-");
        printf("%s  %-16s  %-24s  %7s  %s\n", when, kind ? kind : "?", who, pid, reason ? reason : "-");
}

static void print_events(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(doc, "events"), i, ev)
                print_event_line(o, ev);
}

/* ---- sys requests ---- */

static void print_state(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        const char *s = jstr(doc, "state");
        if (!s)
                s = "";
        fputs(s, stdout);
        if (!*s || s[strlen(s) - 1] != '\n')
                putchar('\n');
}

static void print_statistics(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        kvlist l = { .n = 0 };
        char buf[64];

        kv_add(&l, "name", jtext(json_object_get(doc, "name")), NULL);
        kv_add(&l, "calls", jtext(json_object_get(doc, "calls")), NULL);
        kv_add(&l, "casts", jtext(json_object_get(doc, "casts")), NULL);
        kv_add(&l, "infos", jtext(json_object_get(doc, "infos")), NULL);
        kv_add(&l, "replies", jtext(json_object_get(doc, "replies")), NULL);
        kv_add(&l, "connections", jtext(json_object_get(doc, "connections")), NULL);
        fmt_duration((uint64_t) jint(doc, "uptime_ms"), buf, sizeof(buf));
        kv_add(&l, "uptime", strdup(buf), NULL);
        fmt_cpu((uint64_t) jint(doc, "cpu_us"), buf, sizeof(buf));
        kv_add(&l, "cpu time", strdup(buf), NULL);
        fmt_bytes((uint64_t) jint(doc, "rss_bytes"), buf, sizeof(buf));
        kv_add(&l, "memory (rss)", strdup(buf), NULL);
        kv_add(&l, "suspended", jtext(json_object_get(doc, "suspended")), NULL);
        kv_add(&l, "trace", strdup(json_is_true(json_object_get(doc, "trace")) ? "on" : "off"), NULL);
        static const char *const known[] = { "name", "calls", "casts", "infos", "replies", "connections",
                                             "uptime_ms", "cpu_us", "rss_bytes", "suspended", "trace", NULL };
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

static void print_reload(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        print_names("added", json_object_get(doc, "added"));
        print_names("removed", json_object_get(doc, "removed"));
        print_names("changed", json_object_get(doc, "changed"));
        printf("unchanged: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(doc, "unchanged")));
        print_names("failed", json_object_get(doc, "failed"));
}

static void print_done(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        if (strcmp(cmd->name, "suspend") == 0)
                printf("%s: suspended\n", args[0]);
        else if (strcmp(cmd->name, "resume") == 0)
                printf("%s: resumed\n", args[0]);
        else if (strcmp(cmd->name, "trace") == 0)
                printf("%s: trace %s\n", args[0], args[1]);
        else if (strcmp(cmd->name, "stop") == 0)
                printf("gensupd: stopping the tree\n");
}

static void print_tree_done(const opts *o, const cmd_def *cmd, char **args, json_t *doc) {
        const char *name = jstr(doc, "name");
        const char *info = jstr(doc, "info");
        json_t *pid = json_object_get(doc, "pid");
        char pidtext[48] = "";

        if (!name)
                name = args[1] && strcmp(cmd->name, "start-child") != 0 ? args[1] : "child";
        if (json_is_integer(pid))
                snprintf(pidtext, sizeof(pidtext), ", pid %" JSON_INTEGER_FORMAT, json_integer_value(pid));
        /* An ignore is OTP's {ok,undefined}: nothing runs, and that is fine.
         * A nested supervisor runs inside gensupd: started, without a pid
         * of its own. */
        if (strcmp(cmd->name, "start-child") == 0 || strcmp(cmd->name, "restart-child") == 0) {
                bool ignored = info && strcmp(info, "ignore") == 0;
                printf("%s: %s%s\n", name, ignored ? "not started: init returned ignore" : "started", pidtext);
        }
        else if (strcmp(cmd->name, "terminate-child") == 0)
                printf("%s: terminated\n", name);
        else
                printf("%s: deleted\n", name);
}

/* ---- talking to gensupd ---- */

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (< 0: none), for ipc_conn_wait. */
static int left_ms(int64_t deadline) {
        if (deadline < 0)
                return -1;
        int64_t left = deadline - now_ms();
        return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
}

static int send_frame(ipc_conn *c, const ipc_frame *f, int64_t deadline) {
        int r = ipc_conn_queue(c, f);
        if (r < 0)
                return r;
        for (;;) {
                r = ipc_conn_flush(c);
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, false, left_ms(deadline));
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

/* The next frame: 0 with *ret, -ETIMEDOUT, -ECONNRESET (EOF), -EBADMSG,
 * -EMSGSIZE or another -errno. */
static int recv_frame(ipc_conn *c, int64_t deadline, ipc_frame **ret) {
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = f;
                        return 0;
                }
                r = ipc_conn_read(c);
                if (r > 0)
                        continue;
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, true, left_ms(deadline));
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

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

static void report_reply_error_text(const cmd_def *cmd, int code, const char *error) {
        if (code == EPERM && strncmp(error, "permission denied", 17) != 0) {
                fail(cmd, "permission denied: %s", error);
                return;
        }
        const char *hint = otp_hint(error);
        if (hint)
                fail(cmd, "%s (%s)", error, hint);
        else
                fail(cmd, "%s", error);
}

static void report_reply_error(const cmd_def *cmd, int code, const char *error_in) {
        /* Shown on a terminal: no escape sequences or bidi overrides from a peer. */
        char *clean = error_in && *error_in ? ipc_text_clean(error_in, 1024, false) : NULL;
        report_reply_error_text(cmd, code, clean ? clean : strerror(code));
        free(clean);
}

/* One EVENT frame: a line for people, or a JSON line. */
static void emit_event(const opts *o, const ipc_frame *f) {
        if (f->kind != GENSUP__KIND__EVENT || !f->event || !f->event->json)
                return;
        json_t *ev = json_loads(f->event->json, 0, NULL);
        if (!ev)
                return;
        if (o->json) {
                json_dumpf(ev, stdout, JSON_COMPACT);
                putchar('\n');
        } else
                print_event_line(o, ev);
        json_decref(ev);
}

/* events --follow: EVENT frames until the user interrupts (SIGINT, SIGTERM:
 * exit 0) or gensupd closes the connection (exit 1). Signals arrive on a
 * signalfd polled with the socket, so none is lost between checks. */
static int follow_events(const opts *o, const cmd_def *cmd, ipc_conn *c) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                fail(cmd, "blocking signals: %s", strerror(errno));
                return EXIT_FAILED;
        }
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                fail(cmd, "signalfd: %s", strerror(errno));
                return EXIT_FAILED;
        }
        int status = EXIT_OK;
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(c, &f);
                if (r > 0) {
                        emit_event(o, f);
                        fflush(stdout);
                        ipc_frame_free(f);
                        continue;
                }
                if (r < 0) {
                        fail(cmd, "bad frame from gensupd: %s", strerror(-r));
                        status = EXIT_FAILED;
                        break;
                }
                struct pollfd p[2] = { { .fd = ipc_conn_fd(c), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fail(cmd, "poll: %s", strerror(errno));
                        status = EXIT_FAILED;
                        break;
                }
                if (p[1].revents & POLLIN)
                        break;   /* interrupted: a normal end */
                if (p[0].revents) {
                        r = ipc_conn_read(c);
                        if (r == -ECONNRESET) {
                                /* Frames read with the EOF are still to be printed. */
                                ipc_frame *g = NULL;
                                while (ipc_conn_next(c, &g) > 0) {
                                        emit_event(o, g);
                                        ipc_frame_free(g);
                                }
                                fflush(stdout);
                                fail(cmd, "gensupd closed the connection");
                                status = EXIT_FAILED;
                                break;
                        }
                        if (r < 0 && r != -EAGAIN) {
                                fail(cmd, "reading from gensupd: %s", strerror(-r));
                                status = EXIT_FAILED;
                                break;
                        }
                }
        }
        close(sfd);
        return status;
}

static void print_json(const opts *o, json_t *doc) {
        json_dumpf(doc, stdout, (o->tty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_ENCODE_ANY);
        putchar('\n');
}

static int run_daemon_command(const opts *o, const cmd_def *cmd, char **args, size_t n_args) {
        char *path = NULL;
        int r;

        if (o->socket)
                path = strdup(o->socket);
        else {
                char *dir = NULL;
                r = ipc_runtime_dir(&dir);
                if (r < 0) {
                        fprintf(stderr,
                                "gensupctl: cannot tell where gensupd is: no runtime directory (set "
                                "GENSUP_RUNTIME_DIR or -s)\n");
                        return EXIT_FAILED;
                }
                r = ipc_socket_path(dir, "control", &path);
                free(dir);
                if (r < 0)
                        path = NULL;
        }
        if (!path) {
                fail(cmd, "out of memory");
                return EXIT_FAILED;
        }

        ipc_dir_fault fault = { 0 };
        int fd = ipc_dir_check_socket(path, &fault);
        if (fd == -EPERM && fault.path) {
                /* Whoever may change that directory may be the one answering. */
                fprintf(stderr, "gensupctl: not trusting %s: %s is %s (uid %u, mode %04o); see gensupctl(1) SECURITY\n",
                        path, fault.path, fault.why, (unsigned) fault.uid, (unsigned) (fault.mode & 07777));
                ipc_dir_fault_done(&fault);
                free(path);
                return EXIT_FAILED;
        }
        ipc_dir_fault_done(&fault);
        if (fd >= 0)
                fd = ipc_connect(path);
        if (fd < 0) {
                fprintf(stderr, "gensupctl: cannot reach gensupd at %s: %s (is it running? set GENSUP_RUNTIME_DIR or -s)\n",
                        path, strerror(-fd));
                free(path);
                return EXIT_FAILED;
        }
        ipc_conn *c = NULL;
        r = ipc_conn_new(fd, 0, &c);
        if (r < 0) {
                fail(cmd, "%s", strerror(-r));
                free(path);
                return EXIT_FAILED;
        }

        int timeout = o->timeout_set ? o->timeout_ms : cmd->slow ? -1 : DEFAULT_TIMEOUT_MS;
        int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;

        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, CTL_REF);
        req.command = (char *) cmd->name;
        req.n_args = n_args;
        req.args = args;
        req.timeout_ms = timeout < 0 ? 0 : (uint32_t) timeout;
        f.ctl = &req;

        int status = EXIT_FAILED;
        ipc_frame *in = NULL;
        r = send_frame(c, &f, deadline);
        /* A refused peer may find the connection closed before its request
         * is written: the answer that says why is still to be read. */
        if (r < 0 && r != -ECONNRESET && r != -EPIPE) {
                if (r == -ETIMEDOUT)
                        fail(cmd, "gensupd did not take the request within %d ms", timeout);
                else
                        fail(cmd, "sending to gensupd at %s: %s", path, strerror(-r));
                goto out;
        }
        for (;;) {
                r = recv_frame(c, deadline, &in);
                if (r == -ETIMEDOUT) {
                        fail(cmd, "no answer from gensupd within %d ms (--timeout)", timeout);
                        goto out;
                }
                if (r == -ECONNRESET) {
                        fail(cmd, "gensupd closed the connection without answering");
                        goto out;
                }
                if (r < 0) {
                        fail(cmd, "bad answer from gensupd: %s", strerror(-r));
                        goto out;
                }
                if (in->kind == GENSUP__KIND__CTL_REPLY && (in->ref == CTL_REF || in->ref == 0))
                        break;
                /* Events that came before our answer (not asked for yet). */
                in = ipc_frame_free(in);
        }

        const Gensup__CtlReply *cr = in->ctl_reply;
        if (!cr) {
                fail(cmd, "bad answer from gensupd: no reply");
                goto out;
        }
        if (cr->code != 0) {
                report_reply_error(cmd, cr->code, cr->error);
                goto out;
        }
        json_error_t jerr;
        json_t *doc = json_loads(cr->json && *cr->json ? cr->json : "{}", JSON_DECODE_ANY, &jerr);
        if (!doc) {
                fail(cmd, "bad JSON from gensupd: %s", jerr.text);
                goto out;
        }
        status = EXIT_OK;
        if (o->follow) {
                if (o->json) {
                        size_t i;
                        json_t *ev;
                        json_array_foreach(json_object_get(doc, "events"), i, ev) {
                                json_dumpf(ev, stdout, JSON_COMPACT);
                                putchar('\n');
                        }
                } else
                        print_events(o, cmd, args, doc);
                fflush(stdout);
                json_decref(doc);
                status = follow_events(o, cmd, c);
                goto out;
        }
        if (o->json)
                print_json(o, doc);
        else if (cmd->print)
                cmd->print(o, cmd, args, doc);
        /* A reload that could not carry out every change did not succeed. */
        if (strcmp(cmd->name, "reload") == 0 && json_array_size(json_object_get(doc, "failed")) > 0) {
                fprintf(stderr, "gensupctl: reload: some changes failed (listed above)\n");
                status = EXIT_FAILED;
        }
        json_decref(doc);
out:
        ipc_frame_free(in);
        ipc_conn_free(c);
        free(path);
        return status;
}

/* ---- call and cast: straight to the server ---- */

static int read_all(int fd, gs_buf *out) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (out->len + (size_t) n > IPC_DEFAULT_MAX_FRAME)
                        return -EMSGSIZE;
                if (gs_buf_append(out, buf, (size_t) n) < 0)
                        return -ENOMEM;
        }
}

static int write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int run_client_command(const opts *o, const cmd_def *cmd, char **args, size_t n_args) {
        const char *name = args[0];
        char *target = NULL;
        gs_buf payload = GS_BUF_INIT, reply = GS_BUF_INIT;
        gs_client *c = NULL;
        int status = EXIT_FAILED;
        int r;

        /* With -s the servers' sockets are beside the control socket. */
        if (o->socket && !strchr(name, '/')) {
                const char *slash = strrchr(o->socket, '/');
                target = slash ? xstrf("%.*s/%s.sock", (int) (slash - o->socket), o->socket, name)
                               : xstrf("./%s.sock", name);
        } else
                target = strdup(name);
        if (!target) {
                fail(cmd, "out of memory");
                return EXIT_FAILED;
        }

        if (n_args == 2 && strcmp(args[1], "-") != 0)
                r = gs_buf_set(&payload, args[1], strlen(args[1]));
        else
                r = read_all(STDIN_FILENO, &payload);
        if (r < 0) {
                fail(cmd, "reading the payload from stdin: %s",
                     r == -EMSGSIZE ? "larger than the frame limit" : strerror(-r));
                goto out;
        }

        r = gs_client_connect(target, &c);
        if (r < 0) {
                if (r == -ENOENT || r == -ECONNREFUSED)
                        fail(cmd, "no such server: %s (nothing listens%s%s)", name, strchr(target, '/') ? " at " : "",
                             strchr(target, '/') ? target : "");
                else if (r == -EPERM)
                        fail(cmd, "not trusting the socket of %s: its directory, or one above, is not root's or yours "
                                  "or is writable by others (see SECURITY in gensupctl(1))", name);
                else
                        fail(cmd, "cannot connect to %s: %s", name, strerror(-r));
                goto out;
        }

        int timeout = o->timeout_set ? (o->timeout_ms < 0 ? GS_INFINITY : o->timeout_ms) : GS_DEFAULT_TIMEOUT;
        if (cmd->route == ROUTE_CAST) {
                r = gs_cast(c, payload.data ? payload.data : (const uint8_t *) "", payload.len);
                if (r == 0)
                        r = gs_client_flush(c);
        } else
                r = gs_call(c, payload.data ? payload.data : (const uint8_t *) "", payload.len, timeout, &reply);

        switch (r) {
        case 0:
                status = EXIT_OK;
                if (cmd->route == ROUTE_CALL) {
                        if (reply.len > 0 && write_all(STDOUT_FILENO, reply.data, reply.len) < 0) {
                                fail(cmd, "writing the reply: %s", strerror(errno));
                                status = EXIT_FAILED;
                        } else if (o->tty && (reply.len == 0 || reply.data[reply.len - 1] != '\n'))
                                (void) write_all(STDOUT_FILENO, "\n", 1);   /* keep the prompt on its own line */
                }
                break;
        case -ETIMEDOUT:
                fail(cmd, "%s: no reply within %d ms (timeout)", name, timeout);
                break;
        case -ECONNRESET: {
                const char *why = gs_client_exit_reason(c);
                if (why)
                        fail(cmd, "%s: the server exited: %s", name, why);
                else
                        fail(cmd, "%s: the server exited during the call, without an exit report (gensupctl history %s "
                                  "may tell why)",
                             name, name);
                break;
        }
        case -EREMOTEIO:
                fail(cmd, "%s: server error: %.*s", name, (int) reply.len, reply.data ? (char *) reply.data : "");
                break;
        case -EMSGSIZE:
                fail(cmd, "%s: the payload is larger than the frame limit", name);
                break;
        default:
                fail(cmd, "%s: %s", name, strerror(-r));
                break;
        }
out:
        gs_client_free(c);
        gs_buf_done(&payload);
        gs_buf_done(&reply);
        free(target);
        return status;
}

/* ---- main ---- */

static int parse_timeout(const char *s, opts *o) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > INT_MAX)
                return -EINVAL;
        o->timeout_ms = v == 0 ? -1 : (int) v;
        o->timeout_set = true;
        return 0;
}

/* After the command: gensupctl's own options are still taken (so
 * `gensupctl status --json` works) until "--"; the rest are arguments.
 * For commands whose arguments may look like options (a child's argv, a
 * payload), unknown ones are arguments too. Returns 0 or EXIT_USAGE. */
static int parse_rest(int argc, char **argv, const cmd_def *cmd, opts *o, char ***ret_args, size_t *ret_n) {
        char **args = calloc((size_t) argc + 1, sizeof(*args));
        size_t n = 0;
        bool dashdash = false;

        if (!args) {
                fprintf(stderr, "gensupctl: out of memory\n");
                return EXIT_FAILED;
        }
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                const char *v;
                if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
                        args[n++] = argv[i];
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        dashdash = true;
                        continue;
                }
                if (strcmp(a, "--json") == 0) {
                        o->json = true;
                        continue;
                }
                if (strcmp(cmd->name, "events") == 0 && strcmp(a, "--follow") == 0) {
                        o->follow = true;
                        continue;
                }
                if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "--timeout") == 0) {
                        if (i + 1 >= argc) {
                                free(args);
                                return usage_error("%s: option %s needs a value", cmd->name, a);
                        }
                        v = argv[++i];
                        if (a[1] == 's' || strcmp(a, "--socket") == 0)
                                o->socket = v;
                        else if (parse_timeout(v, o) < 0) {
                                free(args);
                                return usage_error("%s: --timeout wants milliseconds, not '%s'", cmd->name, v);
                        }
                        continue;
                }
                if (strncmp(a, "--socket=", 9) == 0) {
                        o->socket = a + 9;
                        continue;
                }
                if (strncmp(a, "--timeout=", 10) == 0) {
                        if (parse_timeout(a + 10, o) < 0) {
                                free(args);
                                return usage_error("%s: --timeout wants milliseconds, not '%s'", cmd->name, a + 10);
                        }
                        continue;
                }
                if (cmd->free_args) {
                        args[n++] = argv[i];
                        continue;
                }
                free(args);
                return usage_error("%s: unknown option '%s'", cmd->name, a);
        }
        *ret_args = args;
        *ret_n = n;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "json", no_argument, NULL, 'j' },
                { "socket", required_argument, NULL, 's' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        opts o = { .timeout_ms = DEFAULT_TIMEOUT_MS };
        int c;

        opterr = 0;
        /* "+": stop at the command; what follows is parse_rest's. */
        while ((c = getopt_long(argc, argv, "+hs:", longopts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        o.json = true;
                        break;
                case 's':
                        o.socket = optarg;
                        break;
                case 't':
                        if (parse_timeout(optarg, &o) < 0)
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

        const cmd_def *cmd = find_command(argv[optind]);
        if (!cmd)
                return usage_error("unknown command '%s'", argv[optind]);

        char **args = NULL;
        size_t n_args = 0;
        int r = parse_rest(argc - optind - 1, argv + optind + 1, cmd, &o, &args, &n_args);
        if (r != 0)
                return r;
        if (n_args < cmd->min_args || n_args > cmd->max_args) {
                free(args);
                return usage_error("%s: usage: gensupctl %s %s", cmd->name, cmd->name, cmd->synopsis);
        }
        if (strcmp(cmd->name, "trace") == 0 && strcmp(args[1], "on") != 0 && strcmp(args[1], "off") != 0) {
                free(args);
                return usage_error("trace: usage: gensupctl trace NAME on|off");
        }
        if (o.follow)
                args[n_args++] = (char *) "--follow";

        const char *nc = getenv("NO_COLOR");
        const char *term = getenv("TERM");
        o.tty = isatty(STDOUT_FILENO) == 1;
        o.color = o.tty && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

        switch (cmd->route) {
        case ROUTE_DAEMON:
                r = run_daemon_command(&o, cmd, args, n_args);
                break;
        case ROUTE_CALL:
        case ROUTE_CAST:
                r = run_client_command(&o, cmd, args, n_args);
                break;
        case _ROUTE_MAX:
        default:
                r = EXIT_FAILED;
                break;
        }
        free(args);
        if (fflush(stdout) != 0 && r == EXIT_OK) {
                fprintf(stderr, "gensupctl: %s: writing the output: %s\n", cmd->name, strerror(errno));
                r = EXIT_FAILED;
        }
        return r;
}
