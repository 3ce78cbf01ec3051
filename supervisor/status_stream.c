/* status_stream.c: status and which-children built a slice at a time.
 *
 * When asked, the answer's children are copied as a list of names in the
 * order the document lists them (depth first, each supervisor followed by
 * its children one level deeper). Each slice then looks up the next few
 * by name in the tree as it is now, checks that each is still under the
 * supervisor it was under, and appends its JSON text; the arrays of
 * children open and close as the depth of the names goes up and down.
 * A child deleted meanwhile, or under a supervisor that stopped, is not
 * found and left out; one restarted is shown as it is now. No pointer into
 * the tree lives from one slice to the next. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "cgroup_sampler.h"
#include "clock.h"
#include "status.h"
#include "status_stream.h"
#include "status_text.h"

typedef enum stream_kind {
        STREAM_STATUS,   /* nested objects with "children" arrays */
        STREAM_WHICH,    /* one flat array */
} stream_kind;

typedef struct item {
        size_t name;     /* offset in names */
        unsigned depth;  /* 0: a child of the answer's supervisor */
        bool sup;        /* a supervisor: in a status, its children follow one deeper */
} item;

/* An open array of children: items of one depth go in it. */
typedef struct level {
        size_t parent;   /* the supervisor's name, an offset in names */
        bool shown;      /* that supervisor was found (else its children are left out) */
        bool any;        /* an element is in it already */
} level;

typedef struct stream {
        stream_kind kind;
        sup_node *const *rootp;
        char *head;       /* the text before the first child, appended by the first slice */
        const char *tail; /* the text after the arrays of children */
        sup_strbuf names; /* NUL-terminated names, one after the other */
        item *items;
        size_t n_items, cap_items, next;
        level *levels;    /* max depth + 2 of them */
        unsigned max_depth, open;   /* open: the depth of the innermost open array */
        uint64_t asked_at;          /* CLOCK_MONOTONIC usec */
        bool figures;               /* the sampler has figures recent enough (or none to wait for) */
        uint64_t max_age;           /* this slice's: the figures at most SUP_STATUS_USAGE_MAX_AGE_USEC older than asked_at */
} stream;

/* ---- the list of names ---- */

static int add_item(stream *s, const char *name, unsigned depth, bool sup) {
        if (s->n_items == s->cap_items) {
                size_t cap = s->cap_items ? 2 * s->cap_items : 64;
                item *p = realloc(s->items, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                s->items = p;
                s->cap_items = cap;
        }
        size_t off = s->names.len;
        int r = sup_strbuf_append(&s->names, name, strlen(name) + 1);
        if (r < 0)
                return r;
        s->items[s->n_items++] = (item) { .name = off, .depth = depth, .sup = sup };
        if (depth > s->max_depth)
                s->max_depth = depth;
        return 0;
}

/* n's children, and in a status theirs, depth first. */
static int snap_node(stream *s, const sup_node *n, unsigned depth) {
        for (sup_child *c = sup_core_first(sup_node_core(n)); c; c = c->next) {
                const sup_entry *e = c->data;
                if (!e)
                        continue;
                bool sup = sup_entry_spec(e)->type == SUP_SUPERVISOR;
                int r = add_item(s, sup_entry_name(e), depth, sup);
                sup_node *sub = sup && s->kind == STREAM_STATUS ? sup_entry_node(e) : NULL;
                if (r >= 0 && sub)
                        r = snap_node(s, sub, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* which-children's order: newest first. */
static int snap_which(stream *s, const sup_node *n) {
        sup_core *core = sup_node_core(n);
        size_t count = sup_core_n_children(core);
        sup_child **buf = calloc(count ? count : 1, sizeof(*buf));
        if (!buf)
                return -ENOMEM;
        count = sup_core_which_children(core, buf, count);
        int r = 0;
        for (size_t i = 0; i < count && r >= 0; i++) {
                const sup_entry *e = buf[i]->data;
                if (e)
                        r = add_item(s, sup_entry_name(e), 0, sup_entry_spec(e)->type == SUP_SUPERVISOR);
        }
        free(buf);
        return r;
}

/* ---- slices ---- */

/* The entry named by it, if it is still where it was when asked. */
static sup_entry *find_again(const stream *s, const item *it, const level *lv) {
        if (!lv->shown || !*s->rootp)
                return NULL;
        sup_entry *e = sup_tree_find(*s->rootp, s->names.data + it->name);
        if (!e || (sup_entry_spec(e)->type == SUP_SUPERVISOR) != it->sup ||
            strcmp(sup_node_name(sup_entry_owner(e)), s->names.data + lv->parent) != 0)
                return NULL;
        return e;
}

/* A child's text; a supervisor's in a status without its closing brace,
 * its array of children opened. */
static int put_entry(stream *s, const sup_entry *e, bool opens, sup_strbuf *out) {
        if (s->kind == STREAM_WHICH)
                return sup_status_which_child_text(e, out);
        return sup_status_child_text(e, opens, s->max_age, out);
}

/* Closes the arrays deeper than depth (and the objects around them). */
static int close_to(stream *s, unsigned depth, sup_strbuf *out) {
        for (; s->open > depth; s->open--)
                if (s->levels[s->open].shown) {
                        int r = sup_strbuf_puts(out, "]}");
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int put_item(stream *s, const item *it, sup_strbuf *out) {
        int r = close_to(s, it->depth, out);
        if (r < 0)
                return r;
        level *lv = &s->levels[it->depth];
        sup_entry *e = find_again(s, it, lv);
        bool opens = it->sup && s->kind == STREAM_STATUS;
        if (opens) {
                s->open = it->depth + 1;
                s->levels[s->open] = (level) { .parent = it->name, .shown = e != NULL };
        }
        if (!e)
                return 0;
        if (lv->any && (r = sup_strbuf_puts(out, ",")) < 0)
                return r;
        lv->any = true;
        return put_entry(s, e, opens, out);
}

/* A status's cgroup figures come from the sampler's sweep: one begun
 * at most SUP_STATUS_USAGE_MAX_AGE_USEC before the request, waited for
 * however long a busy machine makes it (the first status and one asked
 * after the sampler slept too), rather than reading every child's files
 * on the loop: at 4,875 children a sweep is 0.13-0.2 s of CPU, the same
 * on the loop, competing with the restarted children; falling back to
 * that after 3 s made the loop spend half its time in cgroup reads on a
 * busy machine. */
static bool figures_ready(stream *s) {
        if (s->figures || s->kind != STREAM_STATUS)
                return true;
        uint64_t since = s->asked_at > SUP_STATUS_USAGE_MAX_AGE_USEC ? s->asked_at - SUP_STATUS_USAGE_MAX_AGE_USEC : 0;
        s->figures = sup_cgroup_sampler_ready(sup_cgroup_root(), since);
        return s->figures;
}

static int stream_next(void *state, sup_strbuf *out) {
        stream *s = state;
        int r;
        if (!figures_ready(s))
                return SUP_CONTROL_SLICE_WAIT;
        if (s->head) {
                r = sup_strbuf_puts(out, s->head);
                if (r < 0)
                        return r;
                free(s->head);
                s->head = NULL;
        }
        uint64_t t0 = sup_mono_usec();
        s->max_age = SUP_STATUS_USAGE_MAX_AGE_USEC + (t0 - s->asked_at);
        for (unsigned k = 0; k < SUP_STATUS_SLICE_CHILDREN && s->next < s->n_items; k++) {
                r = put_item(s, &s->items[s->next++], out);
                if (r < 0)
                        return r;
                if (sup_mono_usec() - t0 > SUP_STATUS_SLICE_USEC)
                        break;
        }
        if (s->next < s->n_items)
                return 0;
        r = close_to(s, 0, out);
        if (r >= 0)
                r = sup_strbuf_puts(out, s->tail);
        return r < 0 ? r : 1;
}

static void stream_free(void *state) {
        stream *s = state;
        free(s->head);
        sup_strbuf_done(&s->names);
        free(s->items);
        free(s->levels);
        free(s);
}

/* ---- setup ---- */

static stream *stream_new(stream_kind kind, sup_node *const *rootp, const sup_node *n) {
        stream *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->kind = kind;
        s->rootp = rootp;
        s->asked_at = sup_mono_usec();
        /* The answer's supervisor is the first name: level 0's parent. */
        if (sup_strbuf_append(&s->names, sup_node_name(n), strlen(sup_node_name(n)) + 1) < 0) {
                free(s);
                return NULL;
        }
        return s;
}

static int stream_ready(stream *s, sup_control_slices *ret) {
        s->levels = calloc(s->max_depth + 2, sizeof(*s->levels));
        if (!s->head || !s->levels) {
                stream_free(s);
                return -ENOMEM;
        }
        s->levels[0] = (level) { .parent = 0, .shown = true };
        *ret = (sup_control_slices) { .next = stream_next, .free = stream_free, .state = s };
        return 0;
}

/* {"gensupd":HEAD,"tree":NODE minus its closing brace,"children":[ */
static char *node_head(const sup_node *n, const char *head) {
        json_t *j = sup_status_node_part(n, false, SUP_STATUS_USAGE_MAX_AGE_USEC);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text)
                return NULL;
        text[strlen(text) - 1] = '\0';
        char *all = NULL;
        if (asprintf(&all, "%s%s%s%s,\"children\":[", head ? "{\"gensupd\":" : "", head ? head : "",
                     head ? ",\"tree\":" : "", text) < 0)
                all = NULL;
        free(text);
        return all;
}

int sup_status_stream_node(sup_node *const *rootp, const sup_node *n, char *head, sup_control_slices *ret) {
        stream *s = stream_new(STREAM_STATUS, rootp, n);
        if (!s) {
                free(head);
                return -ENOMEM;
        }
        s->tail = head ? "]}}" : "]}";
        s->head = node_head(n, head);
        free(head);
        int r = snap_node(s, n, 0);
        if (r < 0) {
                stream_free(s);
                return r;
        }
        return stream_ready(s, ret);
}

int sup_status_stream_which(sup_node *const *rootp, const sup_node *n, sup_control_slices *ret) {
        stream *s = stream_new(STREAM_WHICH, rootp, n);
        if (!s)
                return -ENOMEM;
        s->tail = "]}";
        s->head = strdup("{\"children\":[");
        int r = snap_which(s, n);
        if (r < 0) {
                stream_free(s);
                return r;
        }
        return stream_ready(s, ret);
}
