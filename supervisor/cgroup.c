/* cgroup.c: a cgroup v2 per child, under gensupd's own subtree.
 *
 * The subtree is named from the runtime directory, so that two gensupd on
 * one machine never share one, and a gensupd started on the runtime
 * directory of a SIGKILLed one finds what that one left. Children's
 * cgroups are "child-<name>" (no kernel file starts so) and live as long
 * as the child's spec: a restart reuses its cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup_sampler.h"
#include "clock.h"
#include "log.h"

#define DRAIN_WAIT_MS 5000   /* how long a start or an exit waits for a cgroup to empty */

struct sup_cgroup {
        char *path;
        char *events;        /* <path>/cgroup.events */
        bool killed;         /* cgroup.kill was written */
        const char *name;         /* "child-<name>": the last part of path */
        sup_cgroup_usage usage;   /* the last read (sup_cgroup_usage_recent) */
        uint64_t usage_at;        /* CLOCK_MONOTONIC, when; 0: none kept */
        uint64_t forgot_at;       /* CLOCK_MONOTONIC: figures read before are the previous process's */
        bool no_memory, no_pids;  /* memory.current, pids.current missing (no controller) since the process started */
};

static struct {
        char *base;          /* gensupd's own cgroup: the subtree's parent */
        char *root;          /* the subtree; NULL: process groups only */
        char *moved_from;    /* where gensupd itself was, if it had to move to a leaf */
        char *marker;        /* <runtime_dir>/gensupd.cgroup: names root */
} cg;

/* ---- small file helpers ---- */

static int read_text(const char *dir, const char *file, char *buf, size_t size) {
        return sup_cgroup_file_read(AT_FDCWD, dir, file, buf, size);
}

static int write_text(const char *dir, const char *file, const char *text) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int saved = errno;
        close(fd);
        return n < 0 ? -saved : 0;
}

/* The value after "key " in a flat keyed file (cgroup.events, cpu.stat). */
static int64_t keyed_value(const char *dir, const char *file, const char *key) {
        char buf[4096];
        if (read_text(dir, file, buf, sizeof(buf)) < 0)
                return -1;
        return sup_cgroup_keyed(buf, key);
}

static int populated(const char *dir) {
        int64_t v = keyed_value(dir, "cgroup.events", "populated");
        return v < 0 ? -ENOENT : v > 0;
}

static size_t count_lines(const char *dir, const char *file) {
        return sup_cgroup_file_lines(AT_FDCWD, dir, file);
}

/* Kills what is in dir and waits, watching cgroup.events, until it is
 * empty or timeout_ms passed. 0, or -ETIMEDOUT. */
static int kill_and_wait(const char *dir, int timeout_ms) {
        char events[PATH_MAX];
        snprintf(events, sizeof(events), "%s/cgroup.events", dir);
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd >= 0)
                (void) inotify_add_watch(fd, events, IN_MODIFY);
        (void) write_text(dir, "cgroup.kill", "1");
        uint64_t deadline = sup_mono_usec() + (uint64_t) timeout_ms * 1000u;
        int r = 0;
        while (populated(dir) > 0) {
                uint64_t now = sup_mono_usec();
                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                /* Without inotify, look again every 10 ms. */
                int wait = fd >= 0 ? (int) ((deadline - now) / 1000u) + 1 : 10;
                if (fd < 0 || poll(&p, 1, wait) > 0) {
                        char buf[4096];
                        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                                ;
                }
                if (fd < 0)
                        (void) poll(NULL, 0, wait);
        }
        if (fd >= 0)
                close(fd);
        return r;
}

/* ---- finding the hierarchy ---- */

/* The cgroup2 mount point whose root is a prefix of own (gensupd's
 * cgroup path); ret_root is that mount's root. */
static int find_mount(const char *own, char **ret_mount, char **ret_root) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        int r = -ENOENT;
        while (r == -ENOENT && getline(&line, &cap, f) > 0) {
                char root[PATH_MAX], mount[PATH_MAX], type[64];
                char *dash = strstr(line, " - ");
                if (!dash || sscanf(dash, " - %63s", type) != 1 || strcmp(type, "cgroup2") != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mount) != 2)
                        continue;
                size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
                if (strncmp(own, root, rl) != 0 || (own[rl] != '/' && own[rl] != '\0'))
                        continue;
                *ret_mount = strdup(mount);
                *ret_root = strdup(root);
                r = *ret_mount && *ret_root ? 0 : -ENOMEM;
        }
        free(line);
        fclose(f);
        return r;
}

/* gensupd's own cgroup on the unified hierarchy ("0::/path"). */
static int own_cgroup(char **ret) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        int r = -ENOENT;
        while (r == -ENOENT && getline(&line, &cap, f) > 0)
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        *ret = strdup(line + 3);
                        r = *ret ? 0 : -ENOMEM;
                }
        free(line);
        fclose(f);
        return r;
}

static int find_base(char **ret) {
        char *own = NULL, *mount = NULL, *root = NULL;
        int r = own_cgroup(&own);
        if (r >= 0)
                r = find_mount(own, &mount, &root);
        if (r >= 0) {
                const char *rel = own + (strcmp(root, "/") == 0 ? 0 : strlen(root));
                r = asprintf(ret, "%s%s", mount, strcmp(rel, "/") == 0 ? "" : rel) < 0 ? -ENOMEM : 0;
        }
        free(own);
        free(mount);
        free(root);
        return r;
}

static uint64_t fnv1a(const char *s) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ull;
        return h;
}

/* ---- controllers ---- */

static const char *const controllers[] = { "memory", "pids", "cpu" };

static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

/* Enables in dir's subtree_control what dir has and we want. */
static int enable_controllers(const char *dir) {
        char have[1024], on[1024];
        if (read_text(dir, "cgroup.controllers", have, sizeof(have)) < 0 ||
            read_text(dir, "cgroup.subtree_control", on, sizeof(on)) < 0)
                return -ENOENT;
        int r = 0;
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
                char plus[32];
                if (!has_word(have, controllers[i]) || has_word(on, controllers[i]))
                        continue;
                snprintf(plus, sizeof(plus), "+%s", controllers[i]);
                int k = write_text(dir, "cgroup.subtree_control", plus);
                if (k < 0)
                        r = k;
        }
        return r;
}

/* A cgroup with processes cannot hand controllers down (the "no internal
 * processes" rule), the root excepted: under a delegated subtree gensupd
 * moves itself to a leaf of its own first, <subtree>/gensupd. */
static void enable_in_base(void) {
        if (enable_controllers(cg.base) != -EBUSY)
                return;
        char leaf[PATH_MAX], pid[32];
        snprintf(leaf, sizeof(leaf), "%s/gensupd", cg.root);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        if ((mkdir(leaf, 0755) < 0 && errno != EEXIST) || write_text(leaf, "cgroup.procs", pid) < 0)
                return;
        cg.moved_from = strdup(cg.base);
        (void) enable_controllers(cg.base);
}

/* ---- setup, sweep, teardown ---- */

/* Kills what a previous gensupd on this runtime directory left. */
static void sweep(void) {
        DIR *d = opendir(cg.root);
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                char path[PATH_MAX];
                if (de->d_type != DT_DIR || de->d_name[0] == '.' || strcmp(de->d_name, "gensupd") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", cg.root, de->d_name);
                size_t n = count_lines(path, "cgroup.procs");
                if (n > 0 || populated(path) > 0) {
                        int r = kill_and_wait(path, DRAIN_WAIT_MS);
                        sup_log(LOG_WARNING, "cgroup %s: killed %zu process%s a previous gensupd left behind%s",
                                path, n, n == 1 ? "" : "es", r < 0 ? " (some still there)" : "");
                }
                if (rmdir(path) < 0 && errno != ENOENT)
                        sup_log_errno(LOG_WARNING, -errno, "cgroup %s: cannot remove it: %m", path);
        }
        closedir(d);
}

static int make_root(const char *runtime_dir) {
        char *rd = realpath(runtime_dir, NULL);
        uint64_t h = fnv1a(rd ? rd : runtime_dir);
        free(rd);
        int r = find_base(&cg.base);
        if (r < 0)
                return sup_log_errno(LOG_INFO, r, "no cgroup2 hierarchy of gensupd's: %m");
        if (asprintf(&cg.root, "%s/gensup-%016llx", cg.base, (unsigned long long) h) < 0) {
                cg.root = NULL;
                return -ENOMEM;
        }
        if (mkdir(cg.root, 0755) < 0 && errno != EEXIST)
                return sup_log_errno(LOG_INFO, -errno, "cannot make cgroup %s: %m", cg.root);
        char kill_file[PATH_MAX];
        snprintf(kill_file, sizeof(kill_file), "%s/cgroup.kill", cg.root);
        if (access(kill_file, W_OK) < 0) {
                (void) rmdir(cg.root);
                return sup_log_errno(LOG_INFO, -errno, "no cgroup.kill in %s (Linux 5.14 has it): %m", cg.root);
        }
        return 0;
}

/* <runtime_dir>/gensupd.cgroup names the subtree, for whoever cleans up
 * after a gensupd they killed (tests, scripts). */
static void write_marker(const char *runtime_dir) {
        if (asprintf(&cg.marker, "%s/gensupd.cgroup", runtime_dir) < 0) {
                cg.marker = NULL;
                return;
        }
        FILE *f = fopen(cg.marker, "we");
        if (f) {
                fprintf(f, "%s\n", cg.root);
                fclose(f);
        }
}

int sup_cgroup_setup(const char *runtime_dir) {
        const char *want = getenv("GENSUP_CONTAINMENT");
        if (want && strcmp(want, "process_group") == 0) {
                sup_log(LOG_INFO, "containment: process groups (GENSUP_CONTAINMENT=process_group)");
                return 0;
        }
        if (make_root(runtime_dir) < 0) {
                free(cg.base);
                free(cg.root);
                cg.base = cg.root = NULL;
                sup_log(LOG_INFO, "containment: process groups (no writable cgroup2 hierarchy)");
                return 0;
        }
        sweep();
        enable_in_base();
        (void) enable_controllers(cg.root);
        char on[1024] = "";
        (void) read_text(cg.root, "cgroup.subtree_control", on, sizeof(on));
        on[strcspn(on, "\n")] = '\0';
        sup_log(LOG_INFO, "containment: cgroup %s (controllers: %s)", cg.root, *on ? on : "none");
        write_marker(runtime_dir);
        return 1;
}

void sup_cgroup_teardown(void) {
        sup_cgroup_sampler_stop();
        if (cg.moved_from) {
                char pid[32];
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                (void) write_text(cg.moved_from, "cgroup.procs", pid);
                char leaf[PATH_MAX];
                snprintf(leaf, sizeof(leaf), "%s/gensupd", cg.root);
                (void) rmdir(leaf);
        }
        if (cg.root && rmdir(cg.root) == 0 && cg.marker)
                (void) unlink(cg.marker);
        free(cg.marker);
        free(cg.base);
        free(cg.root);
        free(cg.moved_from);
        memset(&cg, 0, sizeof(cg));
}

const char *sup_cgroup_root(void) {
        return cg.root;
}

const char *sup_cgroup_containment(void) {
        return cg.root ? "cgroup" : "process_group";
}

/* ---- one child's cgroup ---- */

static void set_limit(const sup_cgroup *c, const char *name, const char *file, const char *value) {
        int r = write_text(c->path, file, value);
        if (r == -ENOENT)
                sup_log(LOG_WARNING, "%s: %s not enforced: the controller of %s is not enabled in %s", name, file,
                        file, cg.root);
        else if (r < 0)
                sup_log_errno(LOG_WARNING, r, "%s: %s = %s: %m", name, file, value);
}

static void set_limits(const sup_cgroup *c, const char *name, const sup_spec *s) {
        char v[64];
        if (s->memory_max > 0) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long) s->memory_max);
                set_limit(c, name, "memory.max", v);
        }
        if (s->pids_max > 0) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long) s->pids_max);
                set_limit(c, name, "pids.max", v);
        }
        if (s->cpu_weight > 0) {
                snprintf(v, sizeof(v), "%u", s->cpu_weight);
                set_limit(c, name, "cpu.weight", v);
        }
        if (s->cpu_max_percent > 0) {
                snprintf(v, sizeof(v), "%u 100000", s->cpu_max_percent * 1000u);
                set_limit(c, name, "cpu.max", v);
        }
}

int sup_cgroup_new(const char *name, const sup_spec *spec, sup_cgroup **ret) {
        if (!cg.root)
                return -EOPNOTSUPP;
        sup_cgroup *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (asprintf(&c->path, "%s/child-%s", cg.root, name) < 0 ||
            asprintf(&c->events, "%s/child-%s/cgroup.events", cg.root, name) < 0) {
                c->path = c->events = NULL;
                sup_cgroup_free(c);
                return -ENOMEM;
        }
        if (mkdir(c->path, 0755) < 0 && errno != EEXIST) {
                int r = -errno;
                free(c->path);
                c->path = NULL;
                sup_cgroup_free(c);
                return r;
        }
        c->name = strrchr(c->path, '/') + 1;
        set_limits(c, name, spec);
        *ret = c;
        return 0;
}

sup_cgroup *sup_cgroup_free(sup_cgroup *c) {
        if (!c)
                return NULL;
        if (c->path) {
                if (populated(c->path) > 0)
                        (void) kill_and_wait(c->path, DRAIN_WAIT_MS);
                if (rmdir(c->path) < 0 && errno != ENOENT)
                        sup_log_errno(LOG_WARNING, -errno, "cgroup %s: cannot remove it: %m", c->path);
        }
        free(c->path);
        free(c->events);
        free(c);
        return NULL;
}

int sup_cgroup_open(const sup_cgroup *c) {
        int fd = open(c->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int sup_cgroup_open_procs(const sup_cgroup *c) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/cgroup.procs", c->path);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int sup_cgroup_kill(sup_cgroup *c) {
        c->killed = true;
        return write_text(c->path, "cgroup.kill", "1");
}

bool sup_cgroup_was_killed(const sup_cgroup *c) {
        return c->killed;
}

int sup_cgroup_populated(const sup_cgroup *c) {
        return populated(c->path);
}

const char *sup_cgroup_events_path(const sup_cgroup *c) {
        return c->events;
}

uint64_t sup_cgroup_oom_kills(sup_cgroup *c) {
        char buf[4096];
        if (c->no_memory)
                return 0;
        int r = read_text(c->path, "memory.events", buf, sizeof(buf));
        if (r < 0) {
                /* No memory controller: not looked for again until the
                 * next start (a failed open walks the whole path). */
                c->no_memory = r == -ENOENT;
                return 0;
        }
        int64_t v = sup_cgroup_keyed(buf, "oom_kill");
        return v > 0 ? (uint64_t) v : 0;
}

int64_t sup_cgroup_cpu_usec(const sup_cgroup *c) {
        return keyed_value(c->path, "cpu.stat", "usage_usec");
}

/* sup_cgroup_usage_get, without looking again for the files of a
 * controller found missing (a failed open walks the whole path). */
static void usage_read(sup_cgroup *c, sup_cgroup_usage *ret) {
        unsigned want = (c->no_memory ? 0 : SUP_USAGE_MEMORY) | (c->no_pids ? 0 : SUP_USAGE_PIDS);
        unsigned missing = sup_cgroup_usage_read(AT_FDCWD, c->path, want, ret);
        c->no_memory = c->no_memory || (missing & SUP_USAGE_MEMORY);
        c->no_pids = c->no_pids || (missing & SUP_USAGE_PIDS);
}

/* Three or four files per child: at thousands of children, reading them
 * for every status is most of its cost, hence the kept copy, and the
 * sampler's, read off the loop. */
void sup_cgroup_usage_recent(sup_cgroup *c, uint64_t max_age_usec, sup_cgroup_usage *ret) {
        uint64_t now = sup_mono_usec();
        uint64_t since = max_age_usec < now ? now - max_age_usec : 0;
        if (since < c->forgot_at)
                since = c->forgot_at;
        if (max_age_usec == 0 || c->usage_at == 0 || c->usage_at < since) {
                uint64_t at;
                if (max_age_usec > 0 && sup_cgroup_sampler_get(cg.root, c->name, since, &c->usage, &at))
                        c->usage_at = at;
                else {
                        usage_read(c, &c->usage);
                        c->usage_at = now;
                }
        }
        *ret = c->usage;
}

void sup_cgroup_usage_forget(sup_cgroup *c) {
        c->usage_at = 0;
        c->forgot_at = sup_mono_usec();
        c->no_memory = c->no_pids = false;
}

void sup_cgroup_usage_get(const sup_cgroup *c, sup_cgroup_usage *ret) {
        (void) sup_cgroup_usage_read(AT_FDCWD, c->path, SUP_USAGE_MEMORY | SUP_USAGE_PIDS, ret);
}
