/* sup.c: driving a real gensupd in integration tests (see sup.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "sup.h"

#define NOTIFY_PROGRAM "/bin/systemd-notify"   /* as in GSD_NOTIFY_READY */

char *gsd_write_file(const char *name, const char *fmt, ...) {
        char *path = it_path(name);
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        if (fclose(f) != 0)
                abort();
        return path;
}

char *gsd_sleepers_conf(const char *file, int n, const char *prefix, const char *extra) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "supervisor = { name = \"root\"; intensity = 100000; period = 1; children = (\n");
        for (int i = 0; i < n; i++)
                fprintf(f, "  { name = \"%s%d\"; ready = \"exec\"; exec = [\"/bin/sleep\", \"1000\"]; }%s\n", prefix, i,
                        i + 1 < n || *extra ? "," : "");
        fprintf(f, "%s); };\n", extra);
        fclose(f);
        char *path = gsd_write_file(file, "%s", text);
        free(text);
        return path;
}

bool gsd_pid_alive(pid_t pid) {
        if (pid <= 0)
                return false;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        char *stat = it_read_file(path);
        if (!stat)
                return false;
        /* pid (comm) S ...: the state follows the last ')'. */
        char *paren = strrchr(stat, ')');
        bool alive = paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
        free(stat);
        return alive;
}

int gsd_start(const char *config, gsd **ret) {
        return gsd_start_with(config, NULL, NULL, NULL, 0, ret);
}

int gsd_start_with(const char *config, const char *control, char *const env[], const it_fd *fds, size_t n_fds,
                   gsd **ret) {
        gsd *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        char *prog = it_strf("%s/bin/gensupd", GS_BUILD_DIR);
        d->config = strdup(config);
        d->log = it_path("gensupd.log");
        d->control = control ? strdup(control) : it_path("control.sock");
        pid_t pid = it_spawn((char *[]) { prog, (char *) "-c", d->config, (char *) "--log-stderr", NULL }, env, fds,
                             n_fds, d->log);
        free(prog);
        if (pid < 0) {
                gsd_free(d);
                return pid;
        }
        d->pid = pid;

        /* Ready when the loop answers; a daemon that gave up at boot is
         * done too (the test then waits for its exit). */
        int64_t deadline = it_now_ms() + IT_WAIT_MS;
        for (;;) {
                if (!gsd_pid_alive(pid))
                        break;
                json_t *j = NULL;
                int code = gsd_ctl(d, "status", NULL, &j, NULL);
                json_decref(j);
                if (code == 0)
                        break;
                if (it_now_ms() >= deadline) {
                        gsd_free(d);
                        return -ETIMEDOUT;
                }
                it_nap_ms(10);
        }
        *ret = d;
        return 0;
}

gsd *gsd_free(gsd *d) {
        if (!d)
                return NULL;
        if (d->pid > 0)
                it_kill(d->pid);
        /* For debugging a case: GSD_SHOW_LOG=1 shows what gensupd said. */
        if (getenv("GSD_SHOW_LOG")) {
                char *t = gsd_log_text(d);
                fprintf(stderr, "---- %s ----\n%s----\n", d->log, t);
                free(t);
        }
        free(d->config);
        free(d->log);
        free(d->control);
        free(d);
        return NULL;
}

gsd *gsd_finish(gsd *d) {
        if (d) {
                ck_assert_uint_eq(gsd_log_count(d, "Sanitizer"), 0);
                ck_assert_uint_eq(gsd_log_count(d, "runtime error"), 0);
        }
        return gsd_free(d);
}

void gsd_assert_lines(const char *path, const char *expected) {
        char **l = gsd_lines(path);
        char *got = gsd_lines_join(l);
        ck_assert_str_eq(got, expected);
        free(got);
        gsd_lines_free(l);
}

int gsd_wait_exit(gsd *d, int timeout_ms, int *ret_status) {
        int r = it_wait_exit(d->pid, timeout_ms, ret_status);
        if (r == 0)
                d->pid = 0;
        return r;
}

void gsd_signal(gsd *d, int sig) {
        if (d->pid > 0)
                (void) kill(d->pid, sig);
}

/* ---- control requests ---- */

static uint64_t next_ref = 1;

int gsd_ctl(gsd *d, const char *command, const char *const *args, json_t **ret_json, char **ret_error) {
        ipc_conn *c = it_connect(d->control);
        if (!c)
                return -ECONNREFUSED;

        uint64_t ref = next_ref++;
        ipc_frame *reply = NULL;
        int r = it_send_ctl(c, ref, command, args);
        if (r >= 0)
                r = it_recv(c, IT_WAIT_MS, &reply);
        ipc_conn_free(c);
        if (r < 0)
                return r;
        if (reply->kind != GENSUP__KIND__CTL_REPLY || !reply->ctl_reply || reply->ref != ref) {
                ipc_frame_free(reply);
                return -EPROTO;
        }
        const Gensup__CtlReply *cr = reply->ctl_reply;
        int code = cr->code;
        if (ret_json)
                *ret_json = cr->json && *cr->json ? json_loads(cr->json, 0, NULL) : NULL;
        if (ret_error)
                *ret_error = cr->error && *cr->error ? strdup(cr->error) : NULL;
        ipc_frame_free(reply);
        return code;
}

json_t *gsd_tree(gsd *d) {
        json_t *j = NULL;
        if (gsd_ctl(d, "status", NULL, &j, NULL) != 0) {
                json_decref(j);
                return NULL;
        }
        json_t *tree = json_incref(json_object_get(j, "tree"));
        json_decref(j);
        return tree;
}

json_t *gsd_find(json_t *tree, const char *name) {
        if (!json_is_object(tree))
                return NULL;
        const char *n = gsd_str(tree, "name");
        if (n && strcmp(n, name) == 0)
                return tree;
        json_t *children = json_object_get(tree, "children");
        size_t i;
        json_t *c;
        json_array_foreach(children, i, c) {
                json_t *found = gsd_find(c, name);
                if (found)
                        return found;
        }
        return NULL;
}

json_t *gsd_child(gsd *d, const char *name) {
        json_t *tree = gsd_tree(d);
        json_t *c = json_incref(gsd_find(tree, name));
        json_decref(tree);
        return c;
}

bool gsd_has_cgroups(gsd *d, const char *suite, const char *test) {
        json_t *doc = NULL;
        ck_assert_int_eq(gsd_ctl(d, "status", NULL, &doc, NULL), 0);
        const char *c = gsd_str(json_object_get(doc, "gensupd"), "containment");
        bool yes = c && strcmp(c, "cgroup") == 0;
        if (!yes)
                fprintf(stderr, "%s: %s skipped: containment is %s, not cgroup (no writable cgroup2 "
                                "hierarchy here)\n",
                        suite, test, c ? c : "unknown");
        json_decref(doc);
        return yes;
}

const char *gsd_str(json_t *obj, const char *key) {
        return json_string_value(json_object_get(obj, key));
}

long long gsd_int(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);
        return json_is_integer(v) ? (long long) json_integer_value(v) : -1;
}

pid_t gsd_pid(gsd *d, const char *name) {
        json_t *c = gsd_child(d, name);
        long long pid = gsd_int(c, "pid");
        json_decref(c);
        return pid > 0 ? (pid_t) pid : 0;
}

int gsd_wait_state(gsd *d, const char *name, const char *state, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;
        for (;;) {
                json_t *c = gsd_child(d, name);
                const char *s = gsd_str(c, "state");
                bool done = state ? s && strcmp(s, state) == 0 : !c;
                json_decref(c);
                if (done)
                        return 0;
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(10);
        }
}

pid_t gsd_wait_new_pid(gsd *d, const char *name, pid_t old, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;
        for (;;) {
                json_t *c = gsd_child(d, name);
                const char *s = gsd_str(c, "state");
                long long pid = gsd_int(c, "pid");
                bool done = s && strcmp(s, "running") == 0 && pid > 0 && pid != old;
                json_decref(c);
                if (done)
                        return (pid_t) pid;
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(10);
        }
}

json_t *gsd_history(gsd *d, const char *name) {
        json_t *j = NULL;
        if (gsd_ctl(d, "history", (const char *[]) { name, NULL }, &j, NULL) != 0) {
                json_decref(j);
                return NULL;
        }
        json_t *exits = json_incref(json_object_get(j, "exits"));
        json_decref(j);
        return exits;
}

size_t gsd_history_count(gsd *d, const char *name, const char *context, const char *reason) {
        json_t *exits = gsd_history(d, name);
        size_t i, n = 0;
        json_t *e;
        json_array_foreach(exits, i, e) {
                const char *c = gsd_str(e, "context"), *r = gsd_str(e, "reason");
                if ((!context || (c && strcmp(c, context) == 0)) && (!reason || (r && strcmp(r, reason) == 0)))
                        n++;
        }
        json_decref(exits);
        return n;
}

int gsd_wait_history(gsd *d, const char *name, const char *context, const char *reason, size_t n, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;
        for (;;) {
                if (gsd_history_count(d, name, context, reason) >= n)
                        return 0;
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(10);
        }
}

/* ---- the daemon's log ---- */

char *gsd_log_text(gsd *d) {
        char *t = it_read_file(d->log);
        return t ? t : strdup("");
}

int gsd_wait_log(gsd *d, const char *text, int timeout_ms) {
        return it_wait_file_contains(d->log, text, timeout_ms);
}

size_t gsd_log_count(gsd *d, const char *needle) {
        char *t = gsd_log_text(d);
        size_t n = 0;
        for (const char *p = t; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        free(t);
        return n;
}

/* ---- servers ---- */

char *gsd_call(const char *name, const char *text, int timeout_ms) {
        char *path = it_strf("%s/%s.sock", it_tmpdir(), name);
        ipc_conn *c = it_connect(path);
        free(path);
        if (!c)
                return NULL;
        char *answer = NULL;
        ipc_frame *f = NULL;
        if (it_call(c, text, timeout_ms, &f) == 0) {
                if (f->kind == GENSUP__KIND__REPLY)
                        answer = it_payload(f);
                ipc_frame_free(f);
        }
        ipc_conn_free(c);
        return answer;
}

/* ---- logging children ---- */

bool gsd_can_notify(void) {
        /* systemd-notify --pid speaks for the shell: credentials naming
         * another process need root. */
        return geteuid() == 0 && access(NOTIFY_PROGRAM, X_OK) == 0;
}

char *gsd_sh_child(const char *name, const char *log) {
        /* Short sleeps in a loop, not one long one: the trap runs after
         * the current sleep, and when the shell is killed (gensupd killed,
         * PDEATHSIG) no long-lived grandchild is left behind. */
        return it_strf("\"/bin/sh\", \"-c\", \"echo start %s >> %s; "
                       "trap 'echo stop %s >> %s; exit 0' TERM; " NOTIFY_PROGRAM " --pid=$$ --ready; "
                       "while :; do sleep 0.05; done\"",
                       name, log, name, log);
}

char **gsd_lines(const char *path) {
        char *text = it_read_file(path);
        size_t n = 0, cap = 8;
        char **v = calloc(cap, sizeof(char *));
        if (!v)
                abort();
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (n + 2 > cap) {
                        cap *= 2;
                        v = realloc(v, cap * sizeof(char *));
                        if (!v)
                                abort();
                }
                v[n] = strdup(line);
                if (!v[n])
                        abort();
                v[++n] = NULL;
        }
        free(text);
        return v;
}

void gsd_lines_free(char **lines) {
        for (size_t i = 0; lines && lines[i]; i++)
                free(lines[i]);
        free(lines);
}

size_t gsd_lines_count(char *const *lines) {
        size_t n = 0;
        while (lines && lines[n])
                n++;
        return n;
}

char *gsd_lines_join(char *const *lines) {
        size_t len = 1;
        for (size_t i = 0; lines && lines[i]; i++)
                len += strlen(lines[i]) + 1;
        char *s = calloc(1, len);
        if (!s)
                abort();
        for (size_t i = 0; lines && lines[i]; i++) {
                if (i)
                        strcat(s, "|");
                strcat(s, lines[i]);
        }
        return s;
}

int gsd_wait_lines(const char *path, size_t n, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;
        for (;;) {
                char **l = gsd_lines(path);
                size_t have = gsd_lines_count(l);
                gsd_lines_free(l);
                if (have >= n)
                        return 0;
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(10);
        }
}

json_t *gsd_recv_json(ipc_conn *c, uint64_t ref) {
        ipc_frame *reply = NULL;
        ck_assert_int_eq(it_recv(c, IT_WAIT_MS, &reply), 0);
        ck_assert_int_eq(reply->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_uint_eq(reply->ref, ref);
        ck_assert_msg(reply->ctl_reply->code == 0, "error %d: %s", reply->ctl_reply->code, reply->ctl_reply->error);
        json_error_t err;
        json_t *doc = json_loads(reply->ctl_reply->json, 0, &err);
        ck_assert_msg(doc != NULL, "not JSON: %s (at %d)", err.text, err.position);
        ipc_frame_free(reply);
        return doc;
}
