/* reload.c: the config, read again, applied to the running tree.
 *
 * The running tree points into the config's specs. A spec that did not
 * change keeps running with the very object it started with: that object
 * moves into the new config, and the new config's equal copy moves into
 * the old one in its place. The old config (now holding the specs of
 * removed and changed children) is freed once those children are gone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "output.h"
#include "reload.h"
#include "upgrade.h"

typedef enum step_kind {
        STEP_TERMINATE,
        STEP_DELETE,
        STEP_START,
        STEP_UPGRADE,           /* hot upgrade in place (on_program_change = "upgrade") */
        _STEP_MAX,
} step_kind;

typedef struct step {
        step_kind kind;
        char *node;             /* the supervisor's name: nodes may come and go meanwhile */
        char *name;
        const sup_spec *spec;   /* STEP_START */
} step;

typedef struct sup_reload_job {
        sup_reload_state *state;
        sup_config **config;    /* gensupd's: the new one once the job starts */
        sup_node *const *root;  /* gensupd's running tree (NULL once gone) */
        sup_config *old;
        step *steps;
        size_t n_steps, cap_steps;
        size_t pending;         /* requests sent and not answered */
        bool starting;          /* phase two: the starts */
        bool sending;           /* inside run_phase: answers that come at once wait */
        bool any_failed;
        json_t *result;
        sup_reload_done done;
        void *userdata;
} job;

struct sup_reload_retired {
        sup_config *config;
        struct sup_reload_retired *next;
};

static int add_step(job *j, step_kind kind, sup_node *n, const char *name, const sup_spec *spec) {
        if (j->n_steps == j->cap_steps) {
                size_t cap = j->cap_steps ? 2 * j->cap_steps : 16;
                step *p = realloc(j->steps, cap * sizeof(step));
                if (!p)
                        return -ENOMEM;
                j->steps = p;
                j->cap_steps = cap;
        }
        char *copy = strdup(name), *node = strdup(sup_node_name(n));
        if (!copy || !node) {
                free(copy);
                free(node);
                return -ENOMEM;
        }
        j->steps[j->n_steps++] = (step) { .kind = kind, .node = node, .name = copy, .spec = spec };
        return 0;
}

static void note(job *j, const char *list, const char *name) {
        json_array_append_new(json_object_get(j->result, list), json_string(name));
}

/* A direct child of n from the config (not one added at run time). */
static sup_entry *config_child(sup_node *n, const char *name) {
        for (sup_child *c = sup_core_first(sup_node_core(n)); c; c = c->next) {
                sup_entry *e = c->data;
                if (e && !sup_entry_is_dynamic(e) && strcmp(sup_entry_name(e), name) == 0)
                        return e;
        }
        return NULL;
}

static bool named_in(const sup_spec *s, const char *name) {
        for (size_t i = 0; i < s->n_children; i++)
                if (strcmp(s->children[i]->name, name) == 0)
                        return true;
        return false;
}

static sup_spec **slot_of(sup_spec *parent, const sup_spec *child) {
        for (size_t i = 0; i < parent->n_children; i++)
                if (parent->children[i] == child)
                        return &parent->children[i];
        return NULL;
}

static void swap_spec(sup_spec **a, sup_spec **b) {
        sup_spec *t = *a;
        *a = *b;
        *b = t;
}

/* Whether a and b (workers) differ in their exec alone. */
static bool exec_only_change(const sup_spec *a, const sup_spec *b) {
        sup_spec t = *b;
        t.exec = a->exec;
        return a->type == SUP_WORKER && b->type == SUP_WORKER && sup_spec_equal(a, &t, true);
}

/* A running worker whose only change is its program (a new binary at the
 * same path, or a new exec): 1 if it is to be upgraded in place (its
 * running spec object takes the new exec), 0 if it is to restart as a
 * changed one, -1 if its program did not change. */
static int program_change(job *j, sup_entry *e, sup_spec *oc, sup_spec *nc, bool same) {
        sup_proc *p = sup_entry_proc(e);
        bool running = p && sup_proc_get_state(p) == SUP_PROC_RUNNING;
        bool only_exec = !same && exec_only_change(oc, nc);
        if (!(same && running && sup_proc_program_changed(p, nc)) && !only_exec)
                return -1;
        note(j, "program_changed", nc->name);
        if (!nc->upgrade_on_reload || !running)
                return 0;
        char **exec = oc->exec;
        oc->exec = nc->exec;
        nc->exec = exec;
        return 1;
}

/* Brings node n (running with spec object old) in line with spec new,
 * whose own flags equal old's. Afterwards old holds new's children list
 * and new holds old's. */
static int diff_node(job *j, sup_node *n, sup_spec *new) {
        sup_spec *old = (sup_spec *) sup_node_spec(n);
        int r;

        /* A simple_one_for_one node reloaded in place is the top one, whose
         * template sup_reload found unchanged: nothing to do (its
         * instances were started at run time). */
        if (old->strategy == SUP_SIMPLE_ONE_FOR_ONE)
                return 0;

        for (size_t k = 0; k < new->n_children; k++) {
                sup_spec *nc = new->children[k];
                sup_entry *e = config_child(n, nc->name);
                if (!e) {
                        if ((r = add_step(j, STEP_START, n, nc->name, nc)) < 0)
                                return r;
                        note(j, "added", nc->name);
                        continue;
                }
                sup_spec *oc = (sup_spec *) sup_entry_spec(e);
                sup_spec **slot = slot_of(old, oc);
                bool same = slot && sup_spec_equal(oc, nc, true);
                int pc = slot ? program_change(j, e, oc, nc, same) : -1;
                if (pc == 1) {
                        swap_spec(slot, &new->children[k]);
                        if ((r = add_step(j, STEP_UPGRADE, n, nc->name, NULL)) < 0)
                                return r;
                        continue;
                }
                if (same && pc < 0) {
                        swap_spec(slot, &new->children[k]);
                        json_object_set_new(j->result, "unchanged",
                                            json_integer(json_integer_value(json_object_get(j->result, "unchanged")) + 1));
                        continue;
                }
                if (slot && oc->type == SUP_SUPERVISOR && nc->type == SUP_SUPERVISOR && sup_spec_equal(oc, nc, false) &&
                    oc->strategy != SUP_SIMPLE_ONE_FOR_ONE && sup_entry_node(e)) {
                        if ((r = diff_node(j, sup_entry_node(e), nc)) < 0)
                                return r;
                        swap_spec(slot, &new->children[k]);
                        continue;
                }
                if ((r = add_step(j, STEP_TERMINATE, n, nc->name, NULL)) < 0 ||
                    (r = add_step(j, STEP_DELETE, n, nc->name, NULL)) < 0 ||
                    (r = add_step(j, STEP_START, n, nc->name, nc)) < 0)
                        return r;
                note(j, "changed", nc->name);
        }
        for (sup_child *c = sup_core_first(sup_node_core(n)); c; c = c->next) {
                sup_entry *e = c->data;
                if (!e || sup_entry_is_dynamic(e) || named_in(new, sup_entry_name(e)))
                        continue;
                if ((r = add_step(j, STEP_TERMINATE, n, sup_entry_name(e), NULL)) < 0 ||
                    (r = add_step(j, STEP_DELETE, n, sup_entry_name(e), NULL)) < 0)
                        return r;
                note(j, "removed", sup_entry_name(e));
        }

        sup_spec **children = old->children;
        size_t n_children = old->n_children;
        old->children = new->children;
        old->n_children = new->n_children;
        new->children = children;
        new->n_children = n_children;
        return 0;
}

static void job_free(job *j) {
        for (size_t i = 0; i < j->n_steps; i++) {
                free(j->steps[i].name);
                free(j->steps[i].node);
        }
        free(j->steps);
        json_decref(j->result);
        free(j);
}

static void retire(sup_reload_state *st, sup_config *c) {
        struct sup_reload_retired *r = calloc(1, sizeof(*r));
        if (!r)
                return;   /* leaked rather than freed under a running child */
        r->config = c;
        r->next = st->retired;
        st->retired = r;
}

static void run_phase(job *j);
static void finish(job *j);

/* Every answer of a phase is in: on to the starts, or done. */
static void next_phase(job *j) {
        if (j->starting) {
                finish(j);
                return;
        }
        j->starting = true;
        run_phase(j);
}

static void on_step_done(void *userdata, int r, const char *name, pid_t pid, const char *reason) {
        job *j = userdata;

        /* Terminating or deleting what is already gone is no failure. */
        if (r < 0 && r != -ENOENT) {
                j->any_failed = true;
                char text[256];
                snprintf(text, sizeof(text), "%s", reason ? reason : sup_error_to_string(r) ?: strerror(-r));
                json_array_append_new(json_object_get(j->result, "failed"),
                                      json_pack("{s:s,s:s}", "name", name ? name : "", "reason", text));
        }
        if (--j->pending == 0 && !j->sending)
                next_phase(j);
}

static void finish(job *j) {
        /* A removal that did not happen may leave a child on an old spec:
         * then the old config stays until gensupd exits. */
        if (j->any_failed)
                retire(j->state, j->old);
        else
                sup_config_free(j->old);
        j->old = NULL;
        j->state->job = NULL;
        json_t *result = json_incref(j->result);
        sup_reload_done done = j->done;
        void *userdata = j->userdata;
        job_free(j);
        done(userdata, result);
}

typedef struct upgrade_ctx {
        job *j;
        char *name;
} upgrade_ctx;

static void on_upgraded(void *userdata, int r, const char *error, json_t *json) {
        upgrade_ctx *u = userdata;
        if (r >= 0)
                note(u->j, "upgraded", u->name);
        on_step_done(u->j, r, u->name, 0, error);
        json_decref(json);
        free(u->name);
        free(u);
}

static int upgrade_step(job *j, const char *name) {
        sup_entry *e = *j->root ? sup_tree_find(*j->root, name) : NULL;
        upgrade_ctx *u = calloc(1, sizeof(*u));
        char *error = NULL;
        if (!e || !u || !(u->name = strdup(name))) {
                free(u);
                return e ? -ENOMEM : -ESRCH;
        }
        u->j = j;
        int r = sup_upgrade_start(e, NULL, NULL, on_upgraded, u, &error);
        if (r < 0) {
                sup_log(LOG_WARNING, "reload: %s: %s", name, error ? error : strerror(-r));
                free(u->name);
                free(u);
        }
        free(error);
        return r;
}

/* Phase one sends every terminate and delete; phase two, once they are
 * all answered, every start. */
static void run_phase(job *j) {
        j->sending = true;
        for (size_t i = 0; i < j->n_steps; i++) {
                step *s = &j->steps[i];
                if ((s->kind == STEP_START || s->kind == STEP_UPGRADE) != j->starting)
                        continue;
                j->pending++;
                sup_node *n = *j->root ? sup_tree_find_node(*j->root, s->node) : NULL;
                int r;
                switch (n ? s->kind : _STEP_MAX) {
                case STEP_TERMINATE:
                        r = sup_tree_ctl(n, SUP_CTL_TERMINATE_CHILD, s->name, NULL, NULL, on_step_done, j);
                        break;
                case STEP_DELETE:
                        r = sup_tree_ctl(n, SUP_CTL_DELETE_CHILD, s->name, NULL, NULL, on_step_done, j);
                        break;
                case STEP_START:
                        r = sup_tree_start_spec(n, s->spec, on_step_done, j);
                        break;
                case STEP_UPGRADE:
                        r = upgrade_step(j, s->name);
                        break;
                default:
                        r = -ESRCH;   /* its supervisor is gone (restarting, say) */
                        break;
                }
                if (r < 0)
                        on_step_done(j, r, s->name, 0, NULL);
        }
        j->sending = false;
        /* Answers that came at once may have finished the phase. */
        if (j->pending == 0)
                next_phase(j);
}

static bool same_text(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* log_dir and log_rotate take effect at once: every child's next line
 * goes by them (output.h). Safe at any time: the files are the writer
 * thread's, and a directory that cannot be made costs lines, counted. */
static void apply_log_dir(const sup_config *old, const sup_config *new) {
        if (same_text(old->log_dir, new->log_dir) && old->log_size == new->log_size && old->log_keep == new->log_keep)
                return;
        int r = sup_output_set_log_dir(new->log_dir, new->log_size, new->log_keep);
        if (r < 0)
                sup_log_errno(LOG_ERR, r, "reload: log_dir: %m; the old setting stays");
        else
                sup_log(LOG_INFO, "reload: log_dir %s, rotated past %llu bytes, %u kept",
                        new->log_dir ? new->log_dir : "(none: the journal or stderr)",
                        (unsigned long long) new->log_size, new->log_keep);
}

int sup_reload(sup_reload_state *st, sup_config **config, sup_node *const *root, bool stopping,
               sup_reload_done done, void *userdata, char **ret_error) {
        sup_config *running = *config;
        sup_errors errors = { 0 };
        sup_config *new = NULL;
        char *error = NULL;
        int r;

        if (st->job) {
                *ret_error = strdup("a reload is already in progress");
                return -EBUSY;
        }
        if (!*root || stopping) {
                *ret_error = strdup("the tree is stopping");
                return -ESHUTDOWN;
        }
        r = sup_config_load(running->path, &new, &errors);
        if (r < 0) {
                size_t len = 0;
                for (size_t i = 0; i < errors.n; i++)
                        len += strlen(errors.lines[i]) + 1;
                if ((error = calloc(len + 64, 1))) {
                        for (size_t i = 0; i < errors.n; i++)
                                strcat(strcat(error, errors.lines[i]), i + 1 < errors.n ? "\n" : "");
                        if (errors.n == 0)
                                snprintf(error, 64, "%s", strerror(-r));
                }
                sup_errors_done(&errors);
                *ret_error = error;
                return r;
        }
        if (!same_text(new->runtime_dir, running->runtime_dir))
                error = strdup("runtime_dir changed: restart gensupd to move the sockets");
        else if (!sup_spec_equal(running->root, new->root, false))
                error = strdup("the top supervisor's own settings changed: restart gensupd to apply them");
        else if (new->root->strategy == SUP_SIMPLE_ONE_FOR_ONE && !sup_spec_equal(running->root, new->root, true))
                error = strdup("the top supervisor's template changed: restart gensupd to apply it");
        if (error) {
                sup_config_free(new);
                *ret_error = error;
                return -EINVAL;
        }

        job *j = calloc(1, sizeof(*j));
        if (!j) {
                sup_config_free(new);
                return -ENOMEM;
        }
        j->state = st;
        j->config = config;
        j->root = root;
        j->done = done;
        j->userdata = userdata;
        j->result = json_pack("{s:[],s:[],s:[],s:i,s:[],s:[],s:[]}", "added", "removed", "changed", "unchanged", 0,
                              "failed", "program_changed", "upgraded");
        r = j->result ? diff_node(j, *root, new->root) : -ENOMEM;
        if (r < 0) {
                /* diff_node swaps as it goes; undoing half a diff is not
                 * worth its risk: this is out of memory. */
                sup_log(LOG_CRIT, "reload: out of memory while comparing; the running tree is unchanged");
                retire(st, new);
                job_free(j);
                return r;
        }
        /* The running root object, now with the new children list, moves
         * into the new config; the new config's root into the old one. */
        sup_spec *running_root = running->root;
        running->root = new->root;
        new->root = running_root;
        j->old = running;
        *config = new;
        apply_log_dir(running, new);
        st->job = j;
        run_phase(j);
        return 0;
}

void sup_reload_cancel(sup_reload_state *st) {
        job *j = st->job;
        if (j) {
                /* gensupd is exiting in the middle of a reload: its answers
                 * must not come back to a freed job. */
                if (*j->root)
                        sup_tree_ctl_cancel(*j->root, j);
                retire(st, j->old);
                job_free(j);
                st->job = NULL;
        }
}

void sup_reload_done_all(sup_reload_state *st) {
        while (st->retired) {
                struct sup_reload_retired *r = st->retired;
                st->retired = r->next;
                sup_config_free(r->config);
                free(r);
        }
}
