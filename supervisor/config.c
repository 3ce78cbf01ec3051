/* config.c: reads gensup.conf(5) into sup_config / sup_spec and validates
 * it, collecting every error as a "FILE:LINE: message" line.
 *
 * One walk over libconfig's tree does both the reading and the checking:
 * each setting is checked where it is read, so an error always carries
 * the line of the setting (or group) it is about. Nothing stops the walk
 * early; a spec with errors is still built (partly) and thrown away at the
 * end, so that one run reports everything. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "strv.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---- */

/* "a, b or c", for the "expected ..." part of a message. */
static void format_choices(const char *const *table, size_t n, char *buf, size_t size) {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && used < size; i++) {
                const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
                int k = snprintf(buf + used, size - used, "%s%s", sep, table[i]);
                if (k < 0)
                        break;
                used += (size_t) k;
        }
}

/* ---- error lines ---- */

void sup_errors_done(sup_errors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++)
                free(e->lines[i]);
        free(e->lines);
        e->lines = NULL;
        e->n = 0;
}

typedef struct name_entry {
        const char *name;              /* borrowed from the spec */
        const char *file;
        int line;
} name_entry;

/* One load or parse. */
typedef struct ctx {
        const char *file;              /* names the text in error lines */
        const char *base_dir;          /* absolute; relative exec[0] with '/' start here */
        sup_errors *errors;
        unsigned n_errors;             /* found by this run, kept or not */
        unsigned n_dropped;            /* found but over SUP_ERRORS_MAX */
        bool oom;
        const char *const *taken;      /* names in use outside this text */
        size_t first;                  /* errors->lines[first..] are this run's */
        unsigned *lines;               /* the line of each of them, to sort by */
        bool other_files;              /* some came from @include'd files */
        name_entry *names;             /* every name seen so far, for duplicates */
        size_t n_names;
        size_t cap_names;
} ctx;

static void errors_append(ctx *c, char *text, unsigned line) {
        if (!text) {
                c->oom = true;
                return;
        }
        char **l = realloc(c->errors->lines, (c->errors->n + 1) * sizeof(char *));
        if (!l) {
                free(text);
                c->oom = true;
                return;
        }
        c->errors->lines = l;
        unsigned *n = realloc(c->lines, (c->errors->n - c->first + 1) * sizeof(unsigned));
        if (!n) {
                free(text);
                c->oom = true;
                return;
        }
        c->lines = n;
        c->lines[c->errors->n - c->first] = line;
        l[c->errors->n++] = text;
}

/* The walk reads keys in its own order; the reader wants the file's. A
 * stable sort by line keeps several errors on one line in walk order.
 * Lines of different files do not compare, so then the walk's order
 * stays. */
static void errors_sort(ctx *c) {
        if (c->other_files || !c->lines)
                return;
        char **l = c->errors->lines + c->first;
        size_t n = c->errors->n - c->first;
        for (size_t i = 1; i < n; i++) {
                char *t = l[i];
                unsigned k = c->lines[i];
                size_t j = i;
                for (; j > 0 && c->lines[j - 1] > k; j--) {
                        l[j] = l[j - 1];
                        c->lines[j] = c->lines[j - 1];
                }
                l[j] = t;
                c->lines[j] = k;
        }
}

static void verr_at(ctx *c, const char *file, unsigned line, const char *fmt, va_list ap) {
        c->n_errors++;
        if (c->errors->n >= SUP_ERRORS_MAX) {
                c->n_dropped++;
                return;
        }
        char *msg = NULL, *out = NULL;
        if (vasprintf(&msg, fmt, ap) < 0) {
                c->oom = true;
                return;
        }
        /* A setting libconfig made for the text's root group has line 0;
         * what is missing from it is missing "at the top". */
        if (line == 0)
                line = 1;
        if (file && !sup_streq(file, c->file))
                c->other_files = true;
        /* libconfig names an @include'd file as the directive spells it,
         * relative to the config's directory; say where it is from here. */
        const char *slash = strrchr(c->file, '/');
        int k;
        if (file && file[0] != '/' && slash)
                k = asprintf(&out, "%.*s/%s:%u: %s", (int) (slash - c->file), c->file, file, line, msg);
        else
                k = asprintf(&out, "%s:%u: %s", file ? file : c->file, line, msg);
        if (k < 0)
                out = NULL;
        free(msg);
        errors_append(c, out, line);
}

static void err_at(ctx *c, const char *file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void err_at(ctx *c, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        verr_at(c, file, line, fmt, ap);
        va_end(ap);
}

/* An error about setting s, at its line (and file, for @include'd ones). */
static void err(ctx *c, const config_setting_t *s, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void err(ctx *c, const config_setting_t *s, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        verr_at(c, config_setting_source_file(s), config_setting_source_line(s), fmt, ap);
        va_end(ap);
}

/* An error about the text as a whole: "FILE: message". */
static void err_file(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_file(ctx *c, const char *fmt, ...) {
        va_list ap;
        char *msg = NULL, *out = NULL;
        c->n_errors++;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                c->oom = true;
                return;
        }
        if (asprintf(&out, "%s: %s", c->file, msg) < 0)
                out = NULL;
        free(msg);
        errors_append(c, out, 0);
}

/* Ends a run: says how many errors were left out, and picks the result. */
static int ctx_finish(ctx *c) {
        errors_sort(c);
        if (c->n_dropped > 0)
                err_file(c, "%u more errors not shown", c->n_dropped);
        free(c->names);
        c->names = NULL;
        free(c->lines);
        c->lines = NULL;
        if (c->oom)
                return -ENOMEM;
        return c->n_errors > 0 ? -EINVAL : 0;
}

static char *xstrdup(ctx *c, const char *s) {
        char *d = strdup(s);
        if (!d)
                c->oom = true;
        return d;
}

/* ---- typed values ---- */

static bool is_int(const config_setting_t *s) {
        int t = config_setting_type(s);
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static bool is_string(const config_setting_t *s) {
        return config_setting_type(s) == CONFIG_TYPE_STRING;
}

/* A [ ... ] array or ( ... ) list: libconfig's arrays cannot mix types,
 * so pairs like (1024, "infinity") need a list. */
static bool is_sequence(const config_setting_t *s) {
        return config_setting_is_array(s) || config_setting_is_list(s);
}

static bool get_string(ctx *c, const config_setting_t *s, const char *key, const char **ret) {
        if (!is_string(s)) {
                err(c, s, "%s: expected a string", key);
                return false;
        }
        *ret = config_setting_get_string(s);
        return true;
}

static bool get_int(ctx *c, const config_setting_t *s, const char *key, long long *ret) {
        if (!is_int(s)) {
                err(c, s, "%s: expected an integer", key);
                return false;
        }
        *ret = config_setting_get_int64(s);
        return true;
}

static bool get_bool(ctx *c, const config_setting_t *s, const char *key, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                err(c, s, "%s: expected true or false", key);
                return false;
        }
        *ret = config_setting_get_bool(s);
        return true;
}

/* Integers are numbers too: factor = 2 means 2.0. */
static bool get_number(ctx *c, const config_setting_t *s, const char *key, double *ret) {
        if (is_int(s))
                *ret = (double) config_setting_get_int64(s);
        else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
                *ret = config_setting_get_float(s);
        else {
                err(c, s, "%s: expected a number", key);
                return false;
        }
        return true;
}

/* An integer in [min, max]. */
static bool get_int_range(ctx *c, const config_setting_t *s, const char *key,
                          long long min, long long max, long long *ret) {
        long long v;
        if (!get_int(c, s, key, &v))
                return false;
        if (v < min) {
                err(c, s, "%s: must be %s %lld, got %lld", key, min == 1 ? ">" : ">=",
                    min == 1 ? 0LL : min, v);
                return false;
        }
        if (v > max) {
                err(c, s, "%s: must be at most %lld, got %lld", key, max, v);
                return false;
        }
        *ret = v;
        return true;
}

/* A string naming one of table's values. */
static bool get_enum(ctx *c, const config_setting_t *s, const char *key,
                     const char *const *table, size_t n, int *ret) {
        const char *v;
        char choices[256];
        if (!get_string(c, s, key, &v))
                return false;
        int r = sup_enum_from_string(table, n, v);
        if (r < 0) {
                format_choices(table, n, choices, sizeof(choices));
                err(c, s, "%s: invalid value \"%s\" (expected %s)", key, v, choices);
                return false;
        }
        *ret = r;
        return true;
}

/* A list of strings, as a NULL-terminated copy. */
static bool get_strv(ctx *c, const config_setting_t *s, const char *key, char ***ret) {
        if (!is_sequence(s)) {
                err(c, s, "%s: expected a list of strings [\"...\", ...]", key);
                return false;
        }
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++)
                if (!is_string(config_setting_get_elem(s, (unsigned) i))) {
                        err(c, config_setting_get_elem(s, (unsigned) i),
                            "%s: expected a list of strings [\"...\", ...]", key);
                        return false;
                }
        char **v = calloc((size_t) n + 1, sizeof(char *));
        if (!v) {
                c->oom = true;
                return false;
        }
        for (int i = 0; i < n; i++) {
                v[i] = xstrdup(c, config_setting_get_string_elem(s, (unsigned) i));
                if (!v[i]) {
                        sup_strv_free(v);
                        return false;
                }
        }
        *ret = v;
        return true;
}

/* ---- keys ---- */

enum {
        IN_WORKER = 1u << 0,           /* a child with type = "worker" */
        IN_SUPERVISOR = 1u << 1,       /* a child with type = "supervisor" */
        IN_ROOT = 1u << 2,             /* the top-level supervisor group */
};

static const struct {
        const char *name;
        unsigned where;
} spec_keys[] = {
        { "name", IN_WORKER | IN_SUPERVISOR | IN_ROOT },
        { "type", IN_WORKER | IN_SUPERVISOR },
        { "restart", IN_WORKER | IN_SUPERVISOR },
        { "shutdown", IN_WORKER | IN_SUPERVISOR },
        { "significant", IN_WORKER | IN_SUPERVISOR },
        { "exec", IN_WORKER },
        { "listen", IN_WORKER },
        { "ready", IN_WORKER },
        { "start_timeout", IN_WORKER },
        { "socket_mode", IN_WORKER },
        { "socket_user", IN_WORKER },
        { "socket_group", IN_WORKER },
        { "environment", IN_WORKER },
        { "pass_environment", IN_WORKER },
        { "working_directory", IN_WORKER },
        { "user", IN_WORKER },
        { "group", IN_WORKER },
        { "supplementary_groups", IN_WORKER },
        { "rlimits", IN_WORKER },
        { "backoff", IN_WORKER },
        { "output_limit", IN_WORKER },
        { "log_ring", IN_WORKER },
        { "kill_mode", IN_WORKER },
        { "on_program_change", IN_WORKER },
        { "memory_max", IN_WORKER },
        { "pids_max", IN_WORKER },
        { "cpu_weight", IN_WORKER },
        { "cpu_max", IN_WORKER },
        { "strategy", IN_SUPERVISOR | IN_ROOT },
        { "intensity", IN_SUPERVISOR | IN_ROOT },
        { "period", IN_SUPERVISOR | IN_ROOT },
        { "auto_shutdown", IN_SUPERVISOR | IN_ROOT },
        { "children", IN_SUPERVISOR | IN_ROOT },
};

/* Reports keys of group g that are unknown or do not belong where g is
 * (where 0: the child's type is unknown, so only unknown keys count). */
static void check_spec_keys(ctx *c, const config_setting_t *g, unsigned where) {
        int n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                const config_setting_t *m = config_setting_get_elem(g, (unsigned) i);
                const char *k = config_setting_name(m);
                size_t j;
                for (j = 0; j < ELEMENTSOF(spec_keys); j++)
                        if (sup_streq(spec_keys[j].name, k))
                                break;
                if (j == ELEMENTSOF(spec_keys)) {
                        err(c, m, "unknown key \"%s\"", k);
                        continue;
                }
                unsigned allowed = spec_keys[j].where;
                if (where == 0 || (allowed & where))
                        continue;
                if (where == IN_ROOT)
                        err(c, m, "%s: not allowed on the root supervisor", k);
                else if (allowed & IN_WORKER)
                        err(c, m, "%s: only for workers", k);
                else
                        err(c, m, "%s: only for supervisors (type = \"supervisor\")", k);
        }
}

/* Reports keys of a sub-group (rlimits, backoff, the top level) not in keys. */
static void check_keys(ctx *c, const config_setting_t *g, const char *const *keys, size_t n_keys,
                       const char *where) {
        int n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                const config_setting_t *m = config_setting_get_elem(g, (unsigned) i);
                const char *k = config_setting_name(m);
                size_t j;
                for (j = 0; j < n_keys; j++)
                        if (sup_streq(keys[j], k))
                                break;
                if (j < n_keys)
                        continue;
                if (where)
                        err(c, m, "unknown key \"%s\" in %s", k, where);
                else
                        err(c, m, "unknown key \"%s\"", k);
        }
}

/* ---- names ---- */

static bool name_char_ok(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '.' || ch == '-';
}

/* Names make socket file names (<runtime_dir>/<name>.sock) and ctl
 * targets: no '/', no leading '.', nothing a shell or a path would read
 * twice. "control" and "notify" would collide with gensupd's own
 * control.sock and notify.sock. */
static bool check_name(ctx *c, const config_setting_t *s, const char *name) {
        size_t len = strlen(name);
        if (len == 0) {
                err(c, s, "name: must not be empty");
                return false;
        }
        if (len > SUP_NAME_MAX) {
                err(c, s, "name: \"%s\" is longer than %d characters", name, SUP_NAME_MAX);
                return false;
        }
        for (size_t i = 0; i < len; i++)
                if (!name_char_ok(name[i])) {
                        err(c, s, "name: \"%s\" may only hold letters, digits, '_', '.' and '-'", name);
                        return false;
                }
        if (name[0] == '.') {
                err(c, s, "name: \"%s\" must not start with '.'", name);
                return false;
        }
        if (sup_streq(name, "control") || sup_streq(name, "notify")) {
                err(c, s, "name: \"%s\" is reserved (%s.sock is gensupd's own socket)", name, name);
                return false;
        }
        return true;
}

/* Records a name, reporting it if it is taken already. */
static void register_name(ctx *c, const config_setting_t *s, const char *name) {
        for (const char *const *t = c->taken; t && *t; t++)
                if (sup_streq(*t, name)) {
                        err(c, s, "name: \"%s\" is already taken", name);
                        return;
                }
        const char *file = config_setting_source_file(s);
        for (size_t i = 0; i < c->n_names; i++) {
                const name_entry *e = &c->names[i];
                if (!sup_streq(e->name, name))
                        continue;
                if (sup_streq(e->file, file))
                        err(c, s, "duplicate name \"%s\" (first used at line %d)", name, e->line);
                else
                        err(c, s, "duplicate name \"%s\" (first used at %s:%d)", name,
                            e->file ? e->file : c->file, e->line);
                return;
        }
        if (c->n_names == c->cap_names) {
                size_t cap = c->cap_names ? c->cap_names * 2 : 16;
                name_entry *n = realloc(c->names, cap * sizeof(name_entry));
                if (!n) {
                        c->oom = true;
                        return;
                }
                c->names = n;
                c->cap_names = cap;
        }
        c->names[c->n_names++] = (name_entry) {
                .name = name,
                .file = file,
                .line = (int) config_setting_source_line(s),
        };
}

/* Reads the name of group g into s. Root is named "root" by default;
 * every other spec needs a name. */
static void parse_name(ctx *c, const config_setting_t *g, sup_spec *s, bool root) {
        const config_setting_t *v = config_setting_get_member(g, "name");
        const char *name = NULL;

        if (!v) {
                if (!root) {
                        err(c, g, "missing name");
                        return;
                }
                s->name = xstrdup(c, SUP_DEFAULT_ROOT_NAME);
                if (s->name)
                        register_name(c, g, s->name);
                return;
        }
        if (!get_string(c, v, "name", &name) || !check_name(c, v, name))
                return;
        s->name = xstrdup(c, name);
        if (s->name)
                register_name(c, v, s->name);
}

/* ---- exec ---- */

static char *path_join(ctx *c, const char *dir, const char *rel) {
        char *p = NULL;
        while (rel[0] == '.' && rel[1] == '/') {
                rel += 2;
                while (*rel == '/')
                        rel++;
        }
        size_t dl = strlen(dir);
        if (asprintf(&p, "%s%s%s", dir, dl > 0 && dir[dl - 1] == '/' ? "" : "/", rel) < 0) {
                c->oom = true;
                return NULL;
        }
        return p;
}

/* 0 if path is a regular file we may execute, else -errno (-EACCES for
 * "not executable", -EISDIR or -ENOEXEC for "not a regular file"). */
static int check_executable(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -ENOEXEC;
        if (access(path, X_OK) < 0)
                return -errno;
        return 0;
}

static void err_exec(ctx *c, const config_setting_t *s, const char *path, int r) {
        switch (r) {
        case -EISDIR:
        case -ENOEXEC:
                err(c, s, "exec: %s: not a regular file", path);
                break;
        case -EACCES:
                err(c, s, "exec: %s: not executable", path);
                break;
        default:
                err(c, s, "exec: %s: %s", path, strerror(-r));
                break;
        }
}

static char *working_dir(ctx *c) {
        char *d = getcwd(NULL, 0);
        if (!d && errno == ENOMEM)
                c->oom = true;
        return d;
}

/* Searches prog in $PATH as execvp would, but to an absolute path, so
 * the spawned child does not depend on its own environment or working
 * directory. */
static char *search_path(ctx *c, const char *prog) {
        const char *path = getenv("PATH");
        char *dflt = NULL, *cwd = NULL, *found = NULL;

        if (!path) {
                size_t n = confstr(_CS_PATH, NULL, 0);
                dflt = n > 0 ? malloc(n) : NULL;
                if (!dflt) {
                        c->oom = n > 0;
                        return NULL;
                }
                confstr(_CS_PATH, dflt, n);
                path = dflt;
        }
        for (const char *p = path; !found && !c->oom;) {
                const char *end = strchrnul(p, ':');
                char *dir = strndup(p, (size_t) (end - p));
                if (!dir) {
                        c->oom = true;
                        break;
                }
                char *cand = NULL;
                if (dir[0] == '/')
                        cand = path_join(c, dir, prog);
                else {
                        /* An empty or relative entry means the working directory. */
                        if (!cwd)
                                cwd = working_dir(c);
                        if (cwd) {
                                char *abs = dir[0] ? path_join(c, cwd, dir) : xstrdup(c, cwd);
                                if (abs)
                                        cand = path_join(c, abs, prog);
                                free(abs);
                        }
                }
                free(dir);
                if (cand && check_executable(cand) == 0)
                        found = cand;
                else
                        free(cand);
                if (*end == '\0')
                        break;
                p = end + 1;
        }
        free(cwd);
        free(dflt);
        return found;
}

/* Replaces exec[0] with the absolute path of the program it names. */
static bool resolve_exec(ctx *c, const config_setting_t *s, char **exec) {
        const char *prog = exec[0];
        char *path = NULL;

        if (prog[0] == '\0') {
                err(c, s, "exec: the program name is empty");
                return false;
        }
        if (strchr(prog, '/')) {
                if (prog[0] == '/')
                        path = xstrdup(c, prog);
                else if (c->base_dir)
                        path = path_join(c, c->base_dir, prog);
                else {
                        char *cwd = working_dir(c);
                        if (!cwd) {
                                if (!c->oom)
                                        err(c, s, "exec: %s: cannot find the working directory", prog);
                                return false;
                        }
                        path = path_join(c, cwd, prog);
                        free(cwd);
                }
                if (!path)
                        return false;
                int r = check_executable(path);
                if (r < 0) {
                        err_exec(c, s, path, r);
                        free(path);
                        return false;
                }
        } else {
                path = search_path(c, prog);
                if (!path) {
                        if (!c->oom)
                                err(c, s, "exec: \"%s\" not found in $PATH", prog);
                        return false;
                }
        }
        free(exec[0]);
        exec[0] = path;
        return true;
}

/* ---- specs ---- */

static void spec_defaults(sup_spec *s) {
        s->type = SUP_WORKER;
        s->restart = SUP_PERMANENT;
        s->shutdown_ms = SUP_DEFAULT_WORKER_SHUTDOWN_MS;
        s->significant = false;
        s->listen = false;
        s->hold_socket = true;
        s->ready = SUP_READY_NOTIFY;
        s->start_timeout_ms = SUP_DEFAULT_START_TIMEOUT_MS;
        s->socket_mode = SUP_DEFAULT_SOCKET_MODE;
        /* Filled in even when backoff is absent: initial 0 turns it off,
         * and equal settings give equal specs. */
        s->backoff = (sup_backoff) {
                .initial_ms = 0,
                .max_ms = 30000,
                .factor = 2.0,
                .jitter = 0.0,
                .reset_after_ms = 60000,
        };
        s->output_limit = (sup_output_limit) {
                .lines = SUP_DEFAULT_OUTPUT_LINES,
                .bytes = SUP_DEFAULT_OUTPUT_BYTES,
                .burst_s = SUP_DEFAULT_OUTPUT_BURST_S,
        };
        s->log_ring = (sup_log_ring) { .lines = SUP_DEFAULT_LOG_RING_LINES, .bytes = SUP_DEFAULT_LOG_RING_BYTES };
        s->strategy = SUP_ONE_FOR_ONE;
        s->intensity = 1;
        s->period_s = 5;
        s->auto_shutdown = SUP_AUTO_SHUTDOWN_NEVER;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* rlimits: one value is "a number, "infinity", or [soft, hard]". */
static bool rlimit_value(const config_setting_t *v, rlim_t *ret) {
        if (is_int(v)) {
                long long n = config_setting_get_int64(v);
                if (n < 0)
                        return false;
                *ret = (rlim_t) n;
                return true;
        }
        if (is_string(v) && sup_streq(config_setting_get_string(v), "infinity")) {
                *ret = RLIM_INFINITY;
                return true;
        }
        return false;
}

static void parse_rlimits(ctx *c, const config_setting_t *g, sup_spec *s) {
        if (!config_setting_is_group(g)) {
                err(c, g, "rlimits: expected a group { name = value; ... }");
                return;
        }
        int n = config_setting_length(g);
        s->rlimits = calloc((size_t) n + 1, sizeof(sup_rlimit));
        if (!s->rlimits) {
                c->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                const config_setting_t *m = config_setting_get_elem(g, (unsigned) i);
                const char *k = config_setting_name(m);
                int res = sup_rlimit_from_string(k);
                if (res < 0) {
                        err(c, m, "rlimits: unknown resource \"%s\" (expected a lowercase RLIMIT_ name such as nofile or core)", k);
                        continue;
                }
                struct rlimit lim;
                if (is_sequence(m)) {
                        if (config_setting_length(m) != 2 ||
                            !rlimit_value(config_setting_get_elem(m, 0), &lim.rlim_cur) ||
                            !rlimit_value(config_setting_get_elem(m, 1), &lim.rlim_max)) {
                                err(c, m, "rlimits.%s: expected [soft, hard], each a number >= 0 or \"infinity\"", k);
                                continue;
                        }
                        if (lim.rlim_cur > lim.rlim_max) {
                                err(c, m, "rlimits.%s: the soft limit is above the hard limit", k);
                                continue;
                        }
                } else if (rlimit_value(m, &lim.rlim_cur))
                        lim.rlim_max = lim.rlim_cur;
                else {
                        err(c, m, "rlimits.%s: expected a number >= 0, \"infinity\" or [soft, hard]", k);
                        continue;
                }
                s->rlimits[s->n_rlimits++] = (sup_rlimit) { .resource = res, .limit = lim };
        }
}

static void parse_backoff(ctx *c, const config_setting_t *g, sup_spec *s) {
        static const char *const keys[] = { "initial", "max", "factor", "jitter", "reset_after" };
        const config_setting_t *v;
        long long n;
        double d;

        if (!config_setting_is_group(g)) {
                err(c, g, "backoff: expected a group { initial = ...; ... }");
                return;
        }
        check_keys(c, g, keys, ELEMENTSOF(keys), "backoff");
        if ((v = config_setting_get_member(g, "initial")) &&
            get_int_range(c, v, "backoff.initial", 0, LLONG_MAX, &n))
                s->backoff.initial_ms = (uint64_t) n;
        if ((v = config_setting_get_member(g, "max")) && get_int_range(c, v, "backoff.max", 1, LLONG_MAX, &n))
                s->backoff.max_ms = (uint64_t) n;
        if (s->backoff.max_ms < s->backoff.initial_ms) {
                if (v)
                        err(c, v, "backoff.max: must be >= backoff.initial (%llu), got %llu",
                            (unsigned long long) s->backoff.initial_ms, (unsigned long long) s->backoff.max_ms);
                else
                        err(c, config_setting_get_member(g, "initial"),
                            "backoff.initial: must be <= backoff.max (%llu), got %llu",
                            (unsigned long long) s->backoff.max_ms, (unsigned long long) s->backoff.initial_ms);
        }
        if ((v = config_setting_get_member(g, "factor")) && get_number(c, v, "backoff.factor", &d)) {
                if (!(d >= 1.0 && d <= 1000.0))
                        err(c, v, "backoff.factor: must be between 1.0 and 1000.0, got %g", d);
                else
                        s->backoff.factor = d;
        }
        if ((v = config_setting_get_member(g, "jitter")) && get_number(c, v, "backoff.jitter", &d)) {
                if (!(d >= 0.0 && d <= 1.0))
                        err(c, v, "backoff.jitter: must be between 0.0 and 1.0, got %g", d);
                else
                        s->backoff.jitter = d;
        }
        if ((v = config_setting_get_member(g, "reset_after")) &&
            get_int_range(c, v, "backoff.reset_after", 0, LLONG_MAX, &n))
                s->backoff.reset_after_ms = (uint64_t) n;
}

static void parse_output_limit(ctx *c, const config_setting_t *g, sup_spec *s) {
        static const char *const keys[] = { "lines", "bytes", "burst" };
        const config_setting_t *v;
        long long n;

        if (!config_setting_is_group(g)) {
                err(c, g, "output_limit: expected a group { lines = ...; bytes = ...; burst = ...; }");
                return;
        }
        check_keys(c, g, keys, ELEMENTSOF(keys), "output_limit");
        if ((v = config_setting_get_member(g, "lines")) &&
            get_int_range(c, v, "output_limit.lines", 0, INT32_MAX, &n))
                s->output_limit.lines = (uint64_t) n;
        if ((v = config_setting_get_member(g, "bytes")) &&
            get_int_range(c, v, "output_limit.bytes", 0, INT32_MAX, &n))
                s->output_limit.bytes = (uint64_t) n;
        if ((v = config_setting_get_member(g, "burst")) && get_int_range(c, v, "output_limit.burst", 1, 3600, &n))
                s->output_limit.burst_s = (uint64_t) n;
}

static void parse_log_ring(ctx *c, const config_setting_t *g, sup_spec *s) {
        static const char *const keys[] = { "lines", "bytes" };
        const config_setting_t *v;
        long long n;

        if (!config_setting_is_group(g)) {
                err(c, g, "log_ring: expected a group { lines = ...; bytes = ...; }");
                return;
        }
        check_keys(c, g, keys, ELEMENTSOF(keys), "log_ring");
        if ((v = config_setting_get_member(g, "lines")) && get_int_range(c, v, "log_ring.lines", 0, 1000000, &n))
                s->log_ring.lines = (uint64_t) n;
        if ((v = config_setting_get_member(g, "bytes")) &&
            get_int_range(c, v, "log_ring.bytes", 0, 64 * 1024 * 1024, &n))
                s->log_ring.bytes = (uint64_t) n;
}

static void parse_environment(ctx *c, const config_setting_t *v, sup_spec *s) {
        char **env = NULL;
        if (!get_strv(c, v, "environment", &env))
                return;
        bool ok = true;
        for (size_t i = 0; env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (!eq || eq == env[i]) {
                        err(c, v, "environment: \"%s\" is not KEY=VALUE", env[i]);
                        ok = false;
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (strncmp(env[j], env[i], (size_t) (eq - env[i]) + 1) == 0) {
                                err(c, v, "environment: %.*s is set twice", (int) (eq - env[i]), env[i]);
                                ok = false;
                                break;
                        }
        }
        if (!ok) {
                sup_strv_free(env);
                return;
        }
        s->environment = env;
}

static void parse_user_group(ctx *c, const config_setting_t *g, sup_spec *s) {
        const config_setting_t *v;
        const char *str;

        if ((v = config_setting_get_member(g, "user")) && get_string(c, v, "user", &str)) {
                if (!all_digits(str) && !getpwnam(str))
                        err(c, v, "user: unknown user \"%s\"", str);
                else
                        s->user = xstrdup(c, str);
        }
        if ((v = config_setting_get_member(g, "group")) && get_string(c, v, "group", &str)) {
                if (!all_digits(str) && !getgrnam(str))
                        err(c, v, "group: unknown group \"%s\"", str);
                else
                        s->group = xstrdup(c, str);
        }
}

/* socket_mode is a string of octal digits, as systemd's SocketMode=:
 * libconfig would read 0660 as the decimal number 660. */
static void parse_socket_mode(ctx *c, const config_setting_t *v, sup_spec *s) {
        ipc_sock_perm perm = { .mode = SUP_DEFAULT_SOCKET_MODE };
        const char *str;

        if (!is_string(v)) {
                err(c, v, "socket_mode: expected octal digits in a string, as \"0660\"");
                return;
        }
        (void) get_string(c, v, "socket_mode", &str);
        if (ipc_sock_perm_parse(str, NULL, NULL, &perm) < 0)
                err(c, v, "socket_mode: \"%s\" is not a file mode (octal, at most 0777)", str);
        else
                s->socket_mode = (unsigned) perm.mode;
}

/* The socket keys of a listening child (gensupd(8) SECURITY). */
static void parse_socket_keys(ctx *c, const config_setting_t *g, sup_spec *s) {
        const config_setting_t *v;
        const char *str;

        if ((v = config_setting_get_member(g, "socket_mode")))
                parse_socket_mode(c, v, s);
        if ((v = config_setting_get_member(g, "socket_user")) && get_string(c, v, "socket_user", &str)) {
                if (!all_digits(str) && !getpwnam(str))
                        err(c, v, "socket_user: unknown user \"%s\"", str);
                else
                        s->socket_user = xstrdup(c, str);
        }
        if ((v = config_setting_get_member(g, "socket_group")) && get_string(c, v, "socket_group", &str)) {
                if (!all_digits(str) && !getgrnam(str))
                        err(c, v, "socket_group: unknown group \"%s\"", str);
                else
                        s->socket_group = xstrdup(c, str);
        }
        if (!s->listen && (s->socket_user || s->socket_group || config_setting_get_member(g, "socket_mode")))
                err(c, g, "socket_mode, socket_user and socket_group need listen = true");
}

/* Names of variables, as the shell allows them. */
static bool env_name_ok(const char *n) {
        if (!*n || (*n >= '0' && *n <= '9'))
                return false;
        for (; *n; n++)
                if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') || *n == '_'))
                        return false;
        return true;
}

static void parse_pass_environment(ctx *c, const config_setting_t *v, sup_spec *s) {
        char **names = NULL;
        if (!get_strv(c, v, "pass_environment", &names))
                return;
        for (size_t i = 0; names[i]; i++)
                if (!env_name_ok(names[i])) {
                        err(c, v, "pass_environment: \"%s\" is not a variable name", names[i]);
                        sup_strv_free(names);
                        return;
                }
        s->pass_environment = names;
}

static void parse_supplementary_groups(ctx *c, const config_setting_t *v, sup_spec *s) {
        char **groups = NULL;
        if (!get_strv(c, v, "supplementary_groups", &groups))
                return;
        for (size_t i = 0; groups[i]; i++)
                if (!all_digits(groups[i]) && !getgrnam(groups[i])) {
                        err(c, v, "supplementary_groups: unknown group \"%s\"", groups[i]);
                        sup_strv_free(groups);
                        return;
                }
        s->supplementary_groups = groups;
}

/* kill_mode and the cgroup limits (gensup.conf(5)). */
static void parse_containment(ctx *c, const config_setting_t *g, sup_spec *s) {
        const config_setting_t *v;
        long long n;
        int e;

        if ((v = config_setting_get_member(g, "kill_mode")) &&
            get_enum(c, v, "kill_mode", sup_kill_mode_names, ELEMENTSOF(sup_kill_mode_names), &e))
                s->kill_mode = (sup_kill_mode) e;
        if ((v = config_setting_get_member(g, "memory_max")) && get_int_range(c, v, "memory_max", 4096, LLONG_MAX, &n))
                s->memory_max = (uint64_t) n;
        if ((v = config_setting_get_member(g, "pids_max")) && get_int_range(c, v, "pids_max", 1, LLONG_MAX, &n))
                s->pids_max = (uint64_t) n;
        if ((v = config_setting_get_member(g, "cpu_weight")) && get_int_range(c, v, "cpu_weight", 1, 10000, &n))
                s->cpu_weight = (unsigned) n;
        if ((v = config_setting_get_member(g, "cpu_max")) && get_int_range(c, v, "cpu_max", 1, 100000, &n))
                s->cpu_max_percent = (unsigned) n;
}

static void parse_worker(ctx *c, const config_setting_t *g, sup_spec *s) {
        const config_setting_t *v;
        const char *str;
        long long n;
        int e;

        if (!(v = config_setting_get_member(g, "exec")))
                err(c, g, "missing exec");
        else if (get_strv(c, v, "exec", &s->exec)) {
                if (!s->exec[0]) {
                        err(c, v, "exec: must name a program");
                        s->exec = sup_strv_free(s->exec);
                } else
                        (void) resolve_exec(c, v, s->exec);
        }
        /* Given either way, listen says what gensupd does; absent, gensupd
         * holds the socket a gen_server makes (gensup.conf(5)). */
        if ((v = config_setting_get_member(g, "listen")) && get_bool(c, v, "listen", &s->listen))
                s->hold_socket = false;
        if ((v = config_setting_get_member(g, "ready")) &&
            get_enum(c, v, "ready", sup_ready_names, ELEMENTSOF(sup_ready_names), &e))
                s->ready = (sup_ready) e;
        if ((v = config_setting_get_member(g, "on_program_change")) &&
            get_enum(c, v, "on_program_change", sup_program_change_names, ELEMENTSOF(sup_program_change_names), &e))
                s->upgrade_on_reload = e == 1;
        if ((v = config_setting_get_member(g, "start_timeout")) &&
            get_int_range(c, v, "start_timeout", 1, LLONG_MAX, &n))
                s->start_timeout_ms = (uint64_t) n;
        if ((v = config_setting_get_member(g, "environment")))
                parse_environment(c, v, s);
        if ((v = config_setting_get_member(g, "working_directory")) &&
            get_string(c, v, "working_directory", &str)) {
                if (str[0] != '/')
                        err(c, v, "working_directory: \"%s\" is not an absolute path", str);
                else
                        s->working_directory = xstrdup(c, str);
        }
        parse_user_group(c, g, s);
        parse_socket_keys(c, g, s);
        if ((v = config_setting_get_member(g, "pass_environment")))
                parse_pass_environment(c, v, s);
        if ((v = config_setting_get_member(g, "supplementary_groups")))
                parse_supplementary_groups(c, v, s);
        if ((v = config_setting_get_member(g, "rlimits")))
                parse_rlimits(c, v, s);
        if ((v = config_setting_get_member(g, "backoff")))
                parse_backoff(c, v, s);
        if ((v = config_setting_get_member(g, "output_limit")))
                parse_output_limit(c, v, s);
        if ((v = config_setting_get_member(g, "log_ring")))
                parse_log_ring(c, v, s);
        parse_containment(c, g, s);
}

static sup_spec *parse_child(ctx *c, const config_setting_t *g, const sup_spec *parent);

/* The supervisor flags and children of g (the root, or a child of type
 * supervisor) into s. */
static void parse_supervisor(ctx *c, const config_setting_t *g, sup_spec *s) {
        const config_setting_t *v;
        long long n;
        int e;

        if ((v = config_setting_get_member(g, "strategy")) &&
            get_enum(c, v, "strategy", sup_strategy_names, ELEMENTSOF(sup_strategy_names), &e))
                s->strategy = (sup_strategy) e;
        if ((v = config_setting_get_member(g, "intensity")) &&
            get_int_range(c, v, "intensity", 0, INT_MAX, &n))
                s->intensity = (int) n;
        if ((v = config_setting_get_member(g, "period")) && get_int_range(c, v, "period", 1, LLONG_MAX, &n))
                s->period_s = (uint64_t) n;
        if ((v = config_setting_get_member(g, "auto_shutdown")) &&
            get_enum(c, v, "auto_shutdown", sup_auto_shutdown_names, ELEMENTSOF(sup_auto_shutdown_names), &e))
                s->auto_shutdown = (sup_auto_shutdown) e;

        size_t n_children = 0;
        v = config_setting_get_member(g, "children");
        if (v) {
                /* An empty [] is an empty array; any other children need ( ). */
                if (!config_setting_is_list(v) &&
                    !(config_setting_is_array(v) && config_setting_length(v) == 0))
                        err(c, v, "children: expected a list of groups ( { ... }, ... )");
                else {
                        n_children = (size_t) config_setting_length(v);
                        s->children = calloc(n_children + 1, sizeof(sup_spec *));
                        if (!s->children) {
                                c->oom = true;
                                return;
                        }
                        for (size_t i = 0; i < n_children; i++) {
                                sup_spec *child = parse_child(c, config_setting_get_elem(v, (unsigned) i), s);
                                if (child)
                                        s->children[s->n_children++] = child;
                        }
                }
        }
        if (s->strategy == SUP_SIMPLE_ONE_FOR_ONE && n_children != 1)
                err(c, v ? v : g, "children: simple_one_for_one needs exactly one child template, got %zu",
                    n_children);
}

/* The common keys of a child, then its worker or supervisor keys. */
static sup_spec *parse_child(ctx *c, const config_setting_t *g, const sup_spec *parent) {
        const config_setting_t *v;
        const char *str;
        long long n;
        int e;
        bool type_known = true;

        if (!config_setting_is_group(g)) {
                err(c, g, "children: each child must be a group { ... }");
                return NULL;
        }
        sup_spec *s = calloc(1, sizeof(sup_spec));
        if (!s) {
                c->oom = true;
                return NULL;
        }
        spec_defaults(s);
        s->line = (int) config_setting_source_line(g);

        if ((v = config_setting_get_member(g, "type"))) {
                if (get_enum(c, v, "type", sup_child_type_names, ELEMENTSOF(sup_child_type_names), &e))
                        s->type = (sup_child_type) e;
                else
                        type_known = false;
        }
        check_spec_keys(c, g, !type_known ? 0 : s->type == SUP_WORKER ? IN_WORKER : IN_SUPERVISOR);
        if (s->type == SUP_SUPERVISOR)
                s->shutdown_ms = SUP_SHUTDOWN_INFINITY;

        parse_name(c, g, s, false);
        if ((v = config_setting_get_member(g, "restart")) &&
            get_enum(c, v, "restart", sup_restart_names, ELEMENTSOF(sup_restart_names), &e))
                s->restart = (sup_restart) e;
        if ((v = config_setting_get_member(g, "shutdown"))) {
                if (is_int(v)) {
                        n = config_setting_get_int64(v);
                        if (n < 0)
                                err(c, v, "shutdown: must be >= 0 milliseconds, \"brutal_kill\" or \"infinity\", got %lld", n);
                        else
                                s->shutdown_ms = n;
                } else if (is_string(v)) {
                        str = config_setting_get_string(v);
                        if (sup_streq(str, "brutal_kill"))
                                s->shutdown_ms = SUP_SHUTDOWN_BRUTAL_KILL;
                        else if (sup_streq(str, "infinity"))
                                s->shutdown_ms = SUP_SHUTDOWN_INFINITY;
                        else
                                err(c, v, "shutdown: invalid value \"%s\" (expected milliseconds, \"brutal_kill\" or \"infinity\")", str);
                } else
                        err(c, v, "shutdown: expected milliseconds, \"brutal_kill\" or \"infinity\"");
        }
        if ((v = config_setting_get_member(g, "significant")) && get_bool(c, v, "significant", &s->significant) &&
            s->significant) {
                /* OTP's bad_combination checks. */
                if (s->restart == SUP_PERMANENT)
                        err(c, v, "significant: not allowed with restart = \"permanent\"");
                if (!parent || parent->auto_shutdown == SUP_AUTO_SHUTDOWN_NEVER)
                        err(c, v, "significant: not allowed when the supervisor's auto_shutdown is \"never\"");
                if (parent && parent->strategy == SUP_SIMPLE_ONE_FOR_ONE)
                        err(c, v, "significant: not allowed under a simple_one_for_one supervisor");
        }

        if (type_known) {
                switch (s->type) {
                case SUP_WORKER:
                        parse_worker(c, g, s);
                        break;
                case SUP_SUPERVISOR:
                        parse_supervisor(c, g, s);
                        break;
                case _SUP_CHILD_TYPE_MAX:
                        break;
                }
        }
        return s;
}

/* The top-level supervisor group. */
static sup_spec *parse_root(ctx *c, const config_setting_t *g) {
        sup_spec *s = calloc(1, sizeof(sup_spec));
        if (!s) {
                c->oom = true;
                return NULL;
        }
        spec_defaults(s);
        s->type = SUP_SUPERVISOR;
        s->shutdown_ms = SUP_SHUTDOWN_INFINITY;
        s->line = (int) config_setting_source_line(g);
        check_spec_keys(c, g, IN_ROOT);
        parse_name(c, g, s, true);
        parse_supervisor(c, g, s);
        return s;
}

/* ---- files ---- */

/* Reads a whole file through an O_CLOEXEC fd (libconfig's own fopen is
 * not), NUL-terminated. */
static int read_file(const char *path, char **ret, size_t *ret_size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t size = 0, cap = 0;
        char *buf = NULL;
        int r = 0;
        for (;;) {
                if (cap - size < 4096) {
                        size_t ncap = cap ? cap * 2 : 16384;
                        char *n = realloc(buf, ncap + 1);
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + size, cap - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > SUP_CONFIG_SIZE_MAX) {
                        r = -EFBIG;
                        break;
                }
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = '\0';
        *ret = buf;
        *ret_size = size;
        return 0;
}

/* Hands text to libconfig, reporting a syntax error (libconfig stops at
 * the first) or a NUL byte (libconfig would silently stop there). */
static bool parse_text(ctx *c, config_t *cfg, const char *text, size_t size) {
        const char *nul = memchr(text, '\0', size);
        if (nul) {
                unsigned line = 1;
                for (const char *p = text; p < nul; p++)
                        line += *p == '\n';
                err_at(c, NULL, line, "NUL byte in the text");
                return false;
        }
        if (!config_read_string(cfg, text)) {
                if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
                        err_at(c, config_error_file(cfg), (unsigned) config_error_line(cfg),
                               "cannot read an @include'd file: %s",
                               config_error_text(cfg) ? config_error_text(cfg) : "I/O error");
                else
                        err_at(c, config_error_file(cfg), (unsigned) config_error_line(cfg), "%s",
                               config_error_text(cfg) ? config_error_text(cfg) : "syntax error");
                return false;
        }
        return true;
}

/* The absolute directory of path, with symlinks in it resolved. */
static int config_dir(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        char *abs = realpath(dir, NULL);
        int r = abs ? 0 : -errno;
        free(dir);
        if (r < 0)
                return r;
        *ret = abs;
        return 0;
}

/* Socket paths must fit a sockaddr_un; checked once runtime_dir is known. */
static void check_socket_paths(ctx *c, const char *runtime_dir, const config_setting_t *rd) {
        size_t max = sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1;
        size_t base = strlen(runtime_dir) + 1;
        if (base + strlen("control.sock") > max) {
                err(c, rd, "runtime_dir: \"%s\" is too long for socket paths under it", runtime_dir);
                return;
        }
        for (size_t i = 0; i < c->n_names; i++)
                if (base + strlen(c->names[i].name) + strlen(".sock") > max)
                        err_at(c, c->names[i].file, (unsigned) c->names[i].line,
                               "name: %s/%s.sock is too long for a socket path", runtime_dir,
                               c->names[i].name);
}

/* log_dir = "/var/log/gensup"; log_rotate = { size = 1048576; keep = 10; }; */
static void parse_log_dir(ctx *c, const config_setting_t *top, sup_config *conf) {
        static const char *const keys[] = { "size", "keep" };
        const config_setting_t *v, *g;
        const char *str;
        long long n;

        conf->log_size = 1024 * 1024;
        conf->log_keep = 10;
        if ((v = config_setting_get_member(top, "log_dir")) && get_string(c, v, "log_dir", &str)) {
                if (str[0] != '/')
                        err(c, v, "log_dir: \"%s\" is not an absolute path", str);
                else
                        conf->log_dir = xstrdup(c, str);
        }
        if (!(g = config_setting_get_member(top, "log_rotate")))
                return;
        if (!config_setting_is_group(g)) {
                err(c, g, "log_rotate: expected a group { size = ...; keep = ...; }");
                return;
        }
        check_keys(c, g, keys, ELEMENTSOF(keys), "log_rotate");
        if ((v = config_setting_get_member(g, "size")) && get_int_range(c, v, "log_rotate.size", 4096, LLONG_MAX, &n))
                conf->log_size = (uint64_t) n;
        if ((v = config_setting_get_member(g, "keep")) && get_int_range(c, v, "log_rotate.keep", 0, 1000, &n))
                conf->log_keep = (unsigned) n;
}

static void parse_top(ctx *c, config_t *cfg, sup_config *conf) {
        static const char *const keys[] = { "runtime_dir", "control_group", "log_dir", "log_rotate", "supervisor" };
        const config_setting_t *top = config_root_setting(cfg), *v, *rd;
        const char *str;

        check_keys(c, top, keys, ELEMENTSOF(keys), NULL);
        if ((rd = config_setting_get_member(top, "runtime_dir")) && get_string(c, rd, "runtime_dir", &str)) {
                if (str[0] != '/')
                        err(c, rd, "runtime_dir: \"%s\" is not an absolute path", str);
                else
                        conf->runtime_dir = xstrdup(c, str);
        }
        if ((v = config_setting_get_member(top, "control_group")) &&
            get_string(c, v, "control_group", &str)) {
                if (!all_digits(str) && !getgrnam(str))
                        err(c, v, "control_group: unknown group \"%s\"", str);
                else
                        conf->control_group = xstrdup(c, str);
        }
        parse_log_dir(c, top, conf);
        v = config_setting_get_member(top, "supervisor");
        if (!v)
                err(c, top, "missing supervisor group");
        else if (!config_setting_is_group(v))
                err(c, v, "supervisor: expected a group { name = ...; children = ( ... ); }");
        else
                conf->root = parse_root(c, v);
        if (conf->runtime_dir)
                check_socket_paths(c, conf->runtime_dir, rd);
}

sup_config *sup_config_free(sup_config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->runtime_dir);
        free(c->control_group);
        free(c->log_dir);
        sup_spec_free(c->root);
        free(c);
        return NULL;
}

int sup_config_load(const char *path, sup_config **ret_config, sup_errors *errors) {
        ctx c = { .file = path, .errors = errors, .first = errors->n };
        char *text = NULL, *dir = NULL;
        size_t size = 0;
        sup_config *conf = NULL;
        config_t cfg;
        int r;

        r = read_file(path, &text, &size);
        if (r >= 0)
                r = config_dir(path, &dir);
        if (r < 0) {
                if (r == -EFBIG)
                        err_file(&c, "larger than %u bytes", SUP_CONFIG_SIZE_MAX);
                else
                        err_file(&c, "cannot read: %s", strerror(-r));
                free(text);
                int f = ctx_finish(&c);
                return f == -ENOMEM ? f : r;
        }
        c.base_dir = dir;

        config_init(&cfg);
        /* @include "x" is taken from the config's directory. */
        config_set_include_dir(&cfg, dir);
        conf = calloc(1, sizeof(sup_config));
        if (!conf)
                c.oom = true;
        else if (parse_text(&c, &cfg, text, size)) {
                const char *base = strrchr(path, '/');
                if (asprintf(&conf->path, "%s/%s", dir, base ? base + 1 : path) < 0) {
                        conf->path = NULL;
                        c.oom = true;
                }
                parse_top(&c, &cfg, conf);
        }
        config_destroy(&cfg);
        free(text);
        free(dir);

        r = ctx_finish(&c);
        if (r < 0) {
                sup_config_free(conf);
                return r;
        }
        *ret_config = conf;
        return 0;
}

/* ---- fragments ---- */

/* A child spec from the ctl socket must not make gensupd read files.
 * libconfig takes @include only first on a line, after blanks. */
static bool has_include(ctx *c, const char *text) {
        unsigned line = 1;
        bool line_start = true;
        for (const char *p = text; *p; p++) {
                if (*p == '\n') {
                        line++;
                        line_start = true;
                } else if (line_start && *p == '@' && strncmp(p, "@include", 8) == 0) {
                        err_at(c, NULL, line, "@include is not allowed here");
                        return true;
                } else if (*p != ' ' && *p != '\t' && *p != '\r')
                        line_start = false;
        }
        return false;
}

int sup_spec_parse(const char *text, const char *origin, const char *base_dir,
                   const sup_spec *parent, const char *const *taken_names,
                   sup_spec **ret_spec, sup_errors *errors) {
        ctx c = { .file = origin, .base_dir = base_dir, .errors = errors, .first = errors->n, .taken = taken_names };
        size_t size = strlen(text);
        char *wrapped = NULL;
        sup_spec *s = NULL;
        config_t cfg;
        int r;

        if (size > SUP_CONFIG_SIZE_MAX) {
                err_file(&c, "larger than %u bytes", SUP_CONFIG_SIZE_MAX);
                r = ctx_finish(&c);
                return r == -ENOMEM ? r : -EFBIG;
        }
        if (has_include(&c, text))
                return ctx_finish(&c);

        /* "{ name = ...; }" reads as a setting named child; the bare
         * settings read as the text's root group. Both keep the lines. */
        const char *p = text;
        while (isspace((unsigned char) *p))
                p++;
        if (*p == '{') {
                if (asprintf(&wrapped, "child = %s", text) < 0)
                        return -ENOMEM;
        }

        config_init(&cfg);
        if (parse_text(&c, &cfg, wrapped ? wrapped : text, wrapped ? strlen(wrapped) : size)) {
                const config_setting_t *g = config_root_setting(&cfg);
                if (wrapped) {
                        static const char *const keys[] = { "child" };
                        check_keys(&c, g, keys, ELEMENTSOF(keys), NULL);
                        g = config_setting_get_member(g, "child");
                }
                if (g)
                        s = parse_child(&c, g, parent);
        }
        config_destroy(&cfg);
        free(wrapped);

        r = ctx_finish(&c);
        if (r < 0) {
                sup_spec_free(s);
                return r;
        }
        if (!s)
                return -EINVAL;
        *ret_spec = s;
        return 0;
}
