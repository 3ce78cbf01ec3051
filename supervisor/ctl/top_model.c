/* top_model.c: top's rows and the samples behind its rates. Tracks are
 * kept sorted by name and found by bsearch, so a refresh of 10,000
 * children costs a walk of the document and one sort, not a scan per
 * child. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "top_model.h"

#define SAMPLES 16               /* restart counts kept, one per SAMPLE_MS at most */
#define SAMPLE_MS 5000
#define MINUTE_MS 60000
/* gensupd reads a child's cgroup figures for a whole-tree status at most
 * every 2 s (gensupd(8)): an unchanged cpu_us within that time is the
 * same sample again, not an idle child. */
#define CPU_SAMPLE_MS 2500

struct top_track {
        char *name;
        bool seen;
        uint64_t cpu_us, cpu_at_ms;      /* the last CPU sample (cpu_at_ms 0: none) */
        double cpu_pct;                  /* the rate from the last two samples; -1: none */
        uint64_t calls, calls_at_ms;     /* the last statistics sample */
        double calls_s;
        long long queue;                 /* of the last statistics sample */
        uint64_t at_ms[SAMPLES], restarts[SAMPLES];   /* a ring, oldest at head */
        size_t head, n;
};

static const char *const sort_names[_TOP_SORT_MAX] = {
        [TOP_SORT_TREE] = "tree",         [TOP_SORT_NAME] = "name",     [TOP_SORT_CPU] = "cpu",
        [TOP_SORT_MEM] = "mem",           [TOP_SORT_RESTARTS] = "restarts", [TOP_SORT_UPTIME] = "uptime",
        [TOP_SORT_CALLS] = "calls",       [TOP_SORT_QUEUE] = "queue",
};

const char *top_sort_to_string(top_sort s) {
        return s < _TOP_SORT_MAX ? sort_names[s] : NULL;
}

static long long jint(json_t *o, const char *key, long long dflt) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (long long) json_integer_value(v) : dflt;
}

/* ---- tracks ---- */

static int track_cmp(const void *a, const void *b) {
        return strcmp(((const top_track *) a)->name, ((const top_track *) b)->name);
}

static top_track *track_find(top_model *m, const char *name) {
        top_track key = { .name = (char *) name };
        if (m->n_tracks == 0)
                return NULL;   /* bsearch wants a base, even for none */
        return bsearch(&key, m->tracks, m->n_tracks, sizeof(*m->tracks), track_cmp);
}

/* Restarts in the last minute from the ring; pushes a sample every
 * SAMPLE_MS. */
static uint64_t restarts_in_minute(top_track *t, uint64_t restarts, uint64_t now) {
        size_t last = (t->head + t->n + SAMPLES - 1) % SAMPLES;
        if (t->n == 0 || now - t->at_ms[last] >= SAMPLE_MS) {
                size_t at = (t->head + t->n) % SAMPLES;
                if (t->n == SAMPLES)
                        t->head = (t->head + 1) % SAMPLES;
                else
                        t->n++;
                t->at_ms[at] = now;
                t->restarts[at] = restarts;
        }
        for (size_t i = 0; i < t->n; i++) {
                size_t k = (t->head + i) % SAMPLES;
                if (now - t->at_ms[k] <= MINUTE_MS)
                        return restarts >= t->restarts[k] ? restarts - t->restarts[k] : 0;
        }
        return 0;
}

static void track_sample(top_track *t, top_row *r, json_t *child, uint64_t now) {
        long long cpu = jint(child, "cpu_us", -1);
        r->cpu_pct = -1;
        if (cpu >= 0 && t->cpu_at_ms && (uint64_t) cpu == t->cpu_us && now - t->cpu_at_ms < CPU_SAMPLE_MS)
                r->cpu_pct = t->cpu_pct;   /* the same sample: the last rate stands */
        else if (cpu >= 0) {
                if (t->cpu_at_ms && now > t->cpu_at_ms && (uint64_t) cpu >= t->cpu_us)
                        r->cpu_pct = (double) ((uint64_t) cpu - t->cpu_us) / (double) (now - t->cpu_at_ms) / 10.0;
                t->cpu_us = (uint64_t) cpu;
                t->cpu_at_ms = now;
                t->cpu_pct = r->cpu_pct;
        }
        r->restarts_min = restarts_in_minute(t, r->restarts, now);
        r->calls_s = r->pid > 0 && t->calls_at_ms ? t->calls_s : -1;
        r->queue = r->pid > 0 && t->calls_at_ms ? t->queue : -1;
        t->seen = true;
}

/* ---- rows ---- */

typedef struct builder {
        top_model *m;
        size_t cap;
        top_track *fresh;          /* tracks for names first seen now */
        size_t n_fresh, cap_fresh;
} builder;

static int grow(void **v, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? 2 * *cap : 256;
        void *p = realloc(*v, c * size);
        if (!p)
                return -ENOMEM;
        *v = p;
        *cap = c;
        return 0;
}

static int add_row(builder *b, json_t *child, int depth) {
        top_model *m = b->m;
        if (grow((void **) &m->rows, &b->cap, m->n_rows, sizeof(*m->rows)) < 0)
                return -ENOMEM;
        const char *type = json_string_value(json_object_get(child, "type"));
        top_row *r = &m->rows[m->n_rows];
        *r = (top_row) {
                .name = json_string_value(json_object_get(child, "name")),
                .state = json_string_value(json_object_get(child, "state")),
                .supervisor = type && strcmp(type, "supervisor") == 0,
                .depth = depth,
                .order = m->n_rows,
                .pid = jint(child, "pid", 0),
                .uptime_ms = (uint64_t) jint(child, "uptime_ms", 0),
                .restarts = (uint64_t) jint(child, "restarts", 0),
                .mem_bytes = jint(child, "memory_bytes", -1),
        };
        if (!r->name)
                return 0;
        /* The top supervisor runs as long as gensupd. */
        if (depth == 0)
                r->uptime_ms = (uint64_t) jint(json_object_get(m->doc, "gensupd"), "uptime_ms", 0);
        m->n_rows++;
        top_track *t = track_find(m, r->name);
        if (!t) {
                if (grow((void **) &b->fresh, &b->cap_fresh, b->n_fresh, sizeof(*b->fresh)) < 0)
                        return -ENOMEM;
                t = &b->fresh[b->n_fresh];
                *t = (top_track) { .name = strdup(r->name) };
                if (!t->name)
                        return -ENOMEM;
                b->n_fresh++;
        }
        track_sample(t, r, child, m->now_ms);
        return 0;
}

static int walk(builder *b, json_t *node, int depth) {
        size_t i;
        json_t *c;
        if (add_row(b, node, depth) < 0)
                return -ENOMEM;
        json_array_foreach(json_object_get(node, "children"), i, c)
                if (walk(b, c, depth + 1) < 0)
                        return -ENOMEM;
        return 0;
}

/* Drops the tracks of children gone, adds the fresh ones, sorts. */
static int merge_tracks(top_model *m, builder *b) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_tracks; i++) {
                if (m->tracks[i].seen) {
                        m->tracks[i].seen = false;
                        m->tracks[n++] = m->tracks[i];
                } else
                        free(m->tracks[i].name);
        }
        top_track *v = realloc(m->tracks, (n + b->n_fresh + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_fresh; i++) {
                b->fresh[i].seen = false;
                v[n++] = b->fresh[i];
        }
        /* Dropping kept the order: only new names need a sort. */
        if (b->n_fresh > 0)
                qsort(v, n, sizeof(*v), track_cmp);
        b->n_fresh = 0;
        m->tracks = v;
        m->n_tracks = n;
        return 0;
}

int top_model_update(top_model *m, json_t *doc, uint64_t now_ms) {
        builder b = { .m = m };
        json_decref(m->doc);
        m->doc = doc;
        m->n_rows = 0;
        free(m->rows);
        m->rows = NULL;
        m->now_ms = now_ms;
        int r = walk(&b, json_object_get(doc, "tree"), 0);
        if (r >= 0)
                r = merge_tracks(m, &b);
        for (size_t i = 0; i < b.n_fresh; i++)
                free(b.fresh[i].name);
        free(b.fresh);
        /* Row pointers into tracks are not kept: sorting moved them. */
        if (r >= 0)
                top_model_sort(m);
        return r;
}

void top_model_statistics(top_model *m, json_t *stats) {
        const char *name = json_string_value(json_object_get(stats, "name"));
        long long calls = jint(stats, "calls", -1), rss = jint(stats, "rss_bytes", -1);
        top_track *t = name ? track_find(m, name) : NULL;
        if (!t || calls < 0)
                return;
        if (t->calls_at_ms && m->now_ms > t->calls_at_ms && (uint64_t) calls >= t->calls)
                t->calls_s = (double) ((uint64_t) calls - t->calls) * 1000.0 / (double) (m->now_ms - t->calls_at_ms);
        else
                t->calls_s = 0;
        t->calls = (uint64_t) calls;
        t->calls_at_ms = m->now_ms;
        t->queue = jint(stats, "queue_length", -1);
        for (size_t i = 0; i < m->n_rows; i++)
                if (strcmp(m->rows[i].name, name) == 0) {
                        m->rows[i].calls_s = t->calls_s;
                        m->rows[i].queue = t->queue;
                        if (m->rows[i].mem_bytes < 0)
                                m->rows[i].mem_bytes = rss;
                }
}

/* ---- sorting ---- */

static top_sort sort_key;

static int cmp_num(double a, double b) {
        return a < b ? 1 : a > b ? -1 : 0;   /* biggest first */
}

static int row_cmp(const void *pa, const void *pb) {
        const top_row *a = pa, *b = pb;
        int c = 0;
        switch (sort_key) {
        case TOP_SORT_TREE: break;
        case TOP_SORT_NAME: c = strcmp(a->name, b->name); break;
        case TOP_SORT_CPU: c = cmp_num(a->cpu_pct, b->cpu_pct); break;
        case TOP_SORT_MEM: c = cmp_num((double) a->mem_bytes, (double) b->mem_bytes); break;
        case TOP_SORT_RESTARTS: c = cmp_num((double) a->restarts_min, (double) b->restarts_min); break;
        case TOP_SORT_UPTIME: c = cmp_num((double) a->uptime_ms, (double) b->uptime_ms); break;
        case TOP_SORT_CALLS: c = cmp_num(a->calls_s, b->calls_s); break;
        case TOP_SORT_QUEUE: c = cmp_num((double) a->queue, (double) b->queue); break;
        case _TOP_SORT_MAX: break;
        }
        return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

void top_model_sort(top_model *m) {
        sort_key = m->sort;
        if (m->n_rows == 0)
                return;
        qsort(m->rows, m->n_rows, sizeof(*m->rows), row_cmp);
        if (m->reverse)
                for (size_t i = 0, j = m->n_rows ? m->n_rows - 1 : 0; i < j; i++, j--) {
                        top_row t = m->rows[i];
                        m->rows[i] = m->rows[j];
                        m->rows[j] = t;
                }
}

void top_model_done(top_model *m) {
        for (size_t i = 0; i < m->n_tracks; i++)
                free(m->tracks[i].name);
        free(m->tracks);
        free(m->rows);
        json_decref(m->doc);
        *m = (top_model) { .sort = m->sort, .reverse = m->reverse };
}
