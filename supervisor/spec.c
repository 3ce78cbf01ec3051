/* spec.c: what every part of gensupd does with the plain data of spec.h:
 * the config's names of enum values, freeing, comparing and finding specs.
 * The parser (config.c) fills specs; nothing here reads a file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "strv.h"

/* ---- enum names ---- */

const char *const sup_child_type_names[_SUP_CHILD_TYPE_MAX] = {
        [SUP_WORKER] = "worker",
        [SUP_SUPERVISOR] = "supervisor",
};

const char *const sup_restart_names[_SUP_RESTART_MAX] = {
        [SUP_PERMANENT] = "permanent",
        [SUP_TRANSIENT] = "transient",
        [SUP_TEMPORARY] = "temporary",
};

const char *const sup_strategy_names[_SUP_STRATEGY_MAX] = {
        [SUP_ONE_FOR_ONE] = "one_for_one",
        [SUP_ONE_FOR_ALL] = "one_for_all",
        [SUP_REST_FOR_ONE] = "rest_for_one",
        [SUP_SIMPLE_ONE_FOR_ONE] = "simple_one_for_one",
};

const char *const sup_auto_shutdown_names[_SUP_AUTO_SHUTDOWN_MAX] = {
        [SUP_AUTO_SHUTDOWN_NEVER] = "never",
        [SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT] = "any_significant",
        [SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT] = "all_significant",
};

const char *const sup_ready_names[_SUP_READY_MAX] = {
        [SUP_READY_NOTIFY] = "notify",
        [SUP_READY_EXEC] = "exec",
};

const char *const sup_program_change_names[2] = { "restart", "upgrade" };

const char *const sup_kill_mode_names[_SUP_KILL_MODE_MAX] = {
        [SUP_KILL_CGROUP] = "cgroup",
        [SUP_KILL_PROCESS_GROUP] = "process_group",
        [SUP_KILL_PROCESS] = "process",
};

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        { "as", RLIMIT_AS },
        { "core", RLIMIT_CORE },
        { "cpu", RLIMIT_CPU },
        { "data", RLIMIT_DATA },
        { "fsize", RLIMIT_FSIZE },
        { "locks", RLIMIT_LOCKS },
        { "memlock", RLIMIT_MEMLOCK },
        { "msgqueue", RLIMIT_MSGQUEUE },
        { "nice", RLIMIT_NICE },
        { "nofile", RLIMIT_NOFILE },
        { "nproc", RLIMIT_NPROC },
        { "rss", RLIMIT_RSS },
        { "rtprio", RLIMIT_RTPRIO },
        { "rttime", RLIMIT_RTTIME },
        { "sigpending", RLIMIT_SIGPENDING },
        { "stack", RLIMIT_STACK },
};

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static const char *table_to_string(const char *const *table, size_t n, int v) {
        if (v < 0 || (size_t) v >= n)
                return NULL;
        return table[v];
}

int sup_enum_from_string(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (sup_streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *sup_child_type_to_string(sup_child_type t) {
        return table_to_string(sup_child_type_names, ELEMENTSOF(sup_child_type_names), t);
}
const char *sup_restart_to_string(sup_restart r) {
        return table_to_string(sup_restart_names, ELEMENTSOF(sup_restart_names), r);
}
const char *sup_strategy_to_string(sup_strategy s) {
        return table_to_string(sup_strategy_names, ELEMENTSOF(sup_strategy_names), s);
}
const char *sup_auto_shutdown_to_string(sup_auto_shutdown a) {
        return table_to_string(sup_auto_shutdown_names, ELEMENTSOF(sup_auto_shutdown_names), a);
}
const char *sup_ready_to_string(sup_ready r) {
        return table_to_string(sup_ready_names, ELEMENTSOF(sup_ready_names), r);
}

const char *sup_kill_mode_to_string(sup_kill_mode m) {
        return table_to_string(sup_kill_mode_names, ELEMENTSOF(sup_kill_mode_names), m);
}

int sup_child_type_from_string(const char *s) {
        return sup_enum_from_string(sup_child_type_names, ELEMENTSOF(sup_child_type_names), s);
}
int sup_restart_from_string(const char *s) {
        return sup_enum_from_string(sup_restart_names, ELEMENTSOF(sup_restart_names), s);
}
int sup_strategy_from_string(const char *s) {
        return sup_enum_from_string(sup_strategy_names, ELEMENTSOF(sup_strategy_names), s);
}
int sup_auto_shutdown_from_string(const char *s) {
        return sup_enum_from_string(sup_auto_shutdown_names, ELEMENTSOF(sup_auto_shutdown_names), s);
}
int sup_ready_from_string(const char *s) {
        return sup_enum_from_string(sup_ready_names, ELEMENTSOF(sup_ready_names), s);
}

const char *sup_rlimit_to_string(int resource) {
        for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
                if (rlimit_names[i].resource == resource)
                        return rlimit_names[i].name;
        return NULL;
}

int sup_rlimit_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(rlimit_names); i++)
                if (sup_streq(rlimit_names[i].name, s))
                        return rlimit_names[i].resource;
        return -EINVAL;
}

/* ---- freeing ---- */

sup_spec *sup_spec_free(sup_spec *s) {
        if (!s)
                return NULL;
        free(s->name);
        sup_strv_free(s->exec);
        sup_strv_free(s->environment);
        free(s->working_directory);
        free(s->user);
        free(s->group);
        free(s->socket_user);
        free(s->socket_group);
        sup_strv_free(s->pass_environment);
        sup_strv_free(s->supplementary_groups);
        free(s->rlimits);
        for (size_t i = 0; i < s->n_children; i++)
                sup_spec_free(s->children[i]);
        free(s->children);
        free(s);
        return NULL;
}

/* ---- comparing, finding ---- */


static bool rlimits_equal(const sup_spec *a, const sup_spec *b) {
        if (a->n_rlimits != b->n_rlimits)
                return false;
        for (size_t i = 0; i < a->n_rlimits; i++) {
                bool found = false;
                for (size_t j = 0; j < b->n_rlimits && !found; j++)
                        found = a->rlimits[i].resource == b->rlimits[j].resource &&
                                a->rlimits[i].limit.rlim_cur == b->rlimits[j].limit.rlim_cur &&
                                a->rlimits[i].limit.rlim_max == b->rlimits[j].limit.rlim_max;
                if (!found)
                        return false;
        }
        return true;
}

bool sup_spec_equal(const sup_spec *a, const sup_spec *b, bool deep) {
        if (!a || !b)
                return a == b;
        if (!sup_streq(a->name, b->name) || a->type != b->type || a->restart != b->restart ||
            a->shutdown_ms != b->shutdown_ms || a->significant != b->significant)
                return false;
        if (!sup_strv_equal(a->exec, b->exec) || a->listen != b->listen || a->hold_socket != b->hold_socket ||
            a->ready != b->ready ||
            a->start_timeout_ms != b->start_timeout_ms || !sup_strv_equal(a->environment, b->environment) ||
            !sup_streq(a->working_directory, b->working_directory) || !sup_streq(a->user, b->user) ||
            !sup_streq(a->group, b->group) || !rlimits_equal(a, b))
                return false;
        if (a->socket_mode != b->socket_mode || !sup_streq(a->socket_user, b->socket_user) ||
            !sup_streq(a->socket_group, b->socket_group) ||
            !sup_strv_equal(a->pass_environment, b->pass_environment) ||
            !sup_strv_equal(a->supplementary_groups, b->supplementary_groups))
                return false;
        if (a->backoff.initial_ms != b->backoff.initial_ms || a->backoff.max_ms != b->backoff.max_ms ||
            a->backoff.factor != b->backoff.factor || a->backoff.jitter != b->backoff.jitter ||
            a->backoff.reset_after_ms != b->backoff.reset_after_ms)
                return false;
        if (a->output_limit.lines != b->output_limit.lines || a->output_limit.bytes != b->output_limit.bytes ||
            a->output_limit.burst_s != b->output_limit.burst_s)
                return false;
        if (a->log_ring.lines != b->log_ring.lines || a->log_ring.bytes != b->log_ring.bytes)
                return false;
        if (a->kill_mode != b->kill_mode || a->upgrade_on_reload != b->upgrade_on_reload || a->memory_max != b->memory_max || a->pids_max != b->pids_max ||
            a->cpu_weight != b->cpu_weight || a->cpu_max_percent != b->cpu_max_percent)
                return false;
        if (a->strategy != b->strategy || a->intensity != b->intensity || a->period_s != b->period_s ||
            a->auto_shutdown != b->auto_shutdown)
                return false;
        if (!deep)
                return true;
        if (a->n_children != b->n_children)
                return false;
        for (size_t i = 0; i < a->n_children; i++)
                if (!sup_spec_equal(a->children[i], b->children[i], true))
                        return false;
        return true;
}

sup_spec *sup_spec_find(const sup_spec *root, const char *name) {
        if (!root)
                return NULL;
        if (sup_streq(root->name, name))
                return (sup_spec *) root;
        for (size_t i = 0; i < root->n_children; i++) {
                sup_spec *s = sup_spec_find(root->children[i], name);
                if (s)
                        return s;
        }
        return NULL;
}

static size_t count_specs(const sup_spec *s) {
        size_t n = s ? 1 : 0;
        for (size_t i = 0; s && i < s->n_children; i++)
                n += count_specs(s->children[i]);
        return n;
}

static void collect_names(const sup_spec *s, const char **names, size_t *n) {
        if (!s)
                return;
        if (s->name)
                names[(*n)++] = s->name;
        for (size_t i = 0; i < s->n_children; i++)
                collect_names(s->children[i], names, n);
}

int sup_spec_names(const sup_spec *root, const char ***ret_names) {
        const char **names = calloc(count_specs(root) + 1, sizeof(char *));
        size_t n = 0;
        if (!names)
                return -ENOMEM;
        collect_names(root, names, &n);
        names[n] = NULL;
        *ret_names = names;
        return 0;
}
