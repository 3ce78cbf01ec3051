/* logring.c: a child's last lines (see logring.h). The slots grow by
 * doubling, from SUP_LOGRING_MIN_CAP up to max_lines, so a child that
 * wrote three lines holds sixteen slots, not a thousand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "logring.h"

static const char *const stream_names[_SUP_LOG_STREAM_MAX] = {
        [SUP_LOG_STDOUT] = "stdout",
        [SUP_LOG_STDERR] = "stderr",
        [SUP_LOG_GENSUPD] = "gensupd",
};

const char *sup_log_stream_to_string(sup_log_stream s) {
        return s < _SUP_LOG_STREAM_MAX ? stream_names[s] : "?";
}

void sup_logring_init(sup_logring *r, size_t max_lines, size_t max_bytes) {
        *r = (sup_logring) { .max_lines = max_lines, .max_bytes = max_bytes, .next_seq = 1 };
}

static void drop_oldest(sup_logring *r) {
        sup_logline *l = r->lines[r->head];
        r->bytes -= l->len;
        free(l);
        r->lines[r->head] = NULL;
        r->head = (r->head + 1) % r->cap;
        r->n--;
}

/* Drops the oldest lines until one of len more bytes fits both bounds. */
static void make_room(sup_logring *r, size_t len) {
        while (r->n > 0 && (r->n >= r->max_lines || r->bytes + len > r->max_bytes))
                drop_oldest(r);
}

void sup_logring_resize(sup_logring *r, size_t max_lines, size_t max_bytes) {
        r->max_lines = max_lines;
        r->max_bytes = max_bytes;
        while (r->n > 0 && (r->n > r->max_lines || r->bytes > r->max_bytes))
                drop_oldest(r);
}

void sup_logring_done(sup_logring *r) {
        while (r->n > 0)
                drop_oldest(r);
        free(r->lines);
        r->lines = NULL;
        r->cap = r->head = 0;
}

/* Room for one more slot: the circle unrolled into twice the slots. */
static int grow(sup_logring *r) {
        if (r->n < r->cap)
                return 0;
        size_t cap = r->cap ? r->cap * 2 : SUP_LOGRING_MIN_CAP;
        if (cap > r->max_lines)
                cap = r->max_lines;
        if (cap <= r->cap)
                return -1;
        sup_logline **slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -1;
        for (size_t i = 0; i < r->n; i++)
                slots[i] = r->lines[(r->head + i) % r->cap];
        free(r->lines);
        r->lines = slots;
        r->cap = cap;
        r->head = 0;
        return 0;
}

const sup_logline *sup_logring_push(sup_logring *r, uint64_t realtime_usec, pid_t pid, sup_log_stream stream,
                                    const char *text, size_t n) {
        uint64_t seq = r->next_seq++;
        if (r->max_lines == 0 || r->max_bytes == 0)
                return NULL;
        if (n > r->max_bytes)
                n = r->max_bytes;
        make_room(r, n);
        if (r->n == r->cap && grow(r) < 0)
                return NULL;
        sup_logline *l = malloc(sizeof(*l) + n + 1);
        if (!l)
                return NULL;
        *l = (sup_logline) { .seq = seq, .realtime_usec = realtime_usec, .pid = pid, .len = (uint32_t) n,
                             .stream = (uint8_t) stream };
        memcpy(l->text, text, n);
        l->text[n] = '\0';
        r->lines[(r->head + r->n) % r->cap] = l;
        r->n++;
        r->bytes += n;
        return l;
}

const sup_logline *sup_logring_get(const sup_logring *r, size_t i) {
        return i < r->n ? r->lines[(r->head + i) % r->cap] : NULL;
}

size_t sup_logring_footprint(const sup_logring *r) {
        return r->cap * sizeof(*r->lines) + r->n * sizeof(sup_logline) + r->bytes + r->n;
}

json_t *sup_logline_json(const char *name, const sup_logline *l) {
        char stamp[40];
        sup_utc_stamp(l->realtime_usec, 6, stamp, sizeof(stamp));
        return json_pack("{s:s,s:I,s:s,s:I,s:s,s:o,s:s%}", "name", name, "seq", (json_int_t) l->seq, "time", stamp,
                         "time_us", (json_int_t) l->realtime_usec, "stream",
                         sup_log_stream_to_string((sup_log_stream) l->stream), "pid",
                         l->pid > 0 ? json_integer(l->pid) : json_null(), "line", l->text, (size_t) l->len);
}
