/* status_text.c: a child of the tree as JSON text. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "exit_reason.h"
#include "spec.h"
#include "status_text.h"

/* ---- strings ---- */

/* The length of the valid UTF-8 sequence at s (n bytes left; jansson's
 * rules: no overlong forms, no surrogates), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        unsigned c = s[0];
        size_t len;
        uint32_t v;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2, v = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                len = 3, v = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                len = 4, v = c & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                v = (v << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                return 0;
        return len;
}

/* The escape for byte c, or NULL when it goes as it is. */
static const char *escape(unsigned char c, char buf[8]) {
        switch (c) {
        case '"': return "\\\"";
        case '\\': return "\\\\";
        case '\n': return "\\n";
        case '\t': return "\\t";
        case '\r': return "\\r";
        case '\b': return "\\b";
        case '\f': return "\\f";
        default:
                if (c >= 0x20)
                        return NULL;
                snprintf(buf, 8, "\\u%04x", c);
                return buf;
        }
}

int sup_json_put_string(sup_strbuf *out, const char *s) {
        if (!s)
                return sup_strbuf_puts(out, "null");
        const unsigned char *p = (const unsigned char *) s;
        size_t n = strlen(s), run = 0, i = 0;
        int r = sup_strbuf_puts(out, "\"");
        while (r >= 0 && i < n) {
                char buf[8];
                size_t k = utf8_len(p + i, n - i);
                const char *esc = k == 0 ? "\\ufffd" : k == 1 ? escape(p[i], buf) : NULL;
                if (!esc) {
                        run += k;
                        i += k;
                        continue;
                }
                r = sup_strbuf_append(out, s + i - run, run);
                if (r >= 0)
                        r = sup_strbuf_puts(out, esc);
                run = 0;
                i++;
        }
        if (r >= 0)
                r = sup_strbuf_append(out, s + i - run, run);
        return r < 0 ? r : sup_strbuf_puts(out, "\"");
}

/* ---- fields ----
 *
 * The writer below puts one field at a time into a buffer on the stack,
 * handed to out when full and at the end: a child's object is some forty
 * pieces, and appending each to out (a capacity check, a copy, a NUL)
 * was a third of the text's cost at thousands of children. The first
 * error is kept. */
typedef struct writer {
        sup_strbuf *out;
        int r;
        bool first;
        size_t n;
        char buf[1024];
} writer;

static void w_flush(writer *w) {
        if (w->r >= 0 && w->n > 0)
                w->r = sup_strbuf_append(w->out, w->buf, w->n);
        w->n = 0;
}

static void w_put(writer *w, const char *s, size_t n) {
        if (n > sizeof(w->buf) - w->n)
                w_flush(w);
        if (n > sizeof(w->buf)) {
                if (w->r >= 0)
                        w->r = sup_strbuf_append(w->out, s, n);
                return;
        }
        memcpy(w->buf + w->n, s, n);
        w->n += n;
}

static void w_puts(writer *w, const char *s) {
        w_put(w, s, strlen(s));
}

/* ,"key": (no comma before a first field) */
static void key(writer *w, const char *k) {
        if (!w->first)
                w_put(w, ",", 1);
        w->first = false;
        w_put(w, "\"", 1);
        w_puts(w, k);
        w_put(w, "\":", 2);
}

static void put_raw(writer *w, const char *k, const char *text) {
        key(w, k);
        w_puts(w, text);
}

/* Whether s goes into JSON as it is: printable ASCII, no quote or
 * backslash (names, states, most reasons). */
static bool plain(const char *s, size_t *ret_len) {
        const unsigned char *p = (const unsigned char *) s;
        for (; *p; p++)
                if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
                        return false;
        *ret_len = (size_t) (p - (const unsigned char *) s);
        return true;
}

static void w_string(writer *w, const char *s) {
        size_t n;
        if (s && plain(s, &n)) {
                w_put(w, "\"", 1);
                w_put(w, s, n);
                w_put(w, "\"", 1);
                return;
        }
        w_flush(w);
        if (w->r >= 0)
                w->r = sup_json_put_string(w->out, s);
}

static void put_str(writer *w, const char *k, const char *s) {
        key(w, k);
        w_string(w, s);
}

static void put_int(writer *w, const char *k, int64_t v) {
        char buf[24], *p = buf + sizeof(buf);
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;
        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                *--p = '-';
        key(w, k);
        w_put(w, p, (size_t) (buf + sizeof(buf) - p));
}

/* An integer, or null when v < 0 (unknown). */
static void put_count(writer *w, const char *k, int64_t v) {
        if (v >= 0)
                put_int(w, k, v);
        else
                put_raw(w, k, "null");
}

static void put_reason(writer *w, const sup_reason *reason) {
        if (!reason) {
                put_raw(w, "reason", "null");
                return;
        }
        char *text = sup_reason_to_string(reason);
        put_str(w, "reason", text ? text : "undefined");
        free(text);
}

/* "exits": how many times it ended, by kind of reason (only the kinds
 * that happened: big trees stay small); both shutdown kinds count as
 * "shutdown". */
static void put_exits(writer *w, const sup_entry *e) {
        static const char *const kinds[_IPC_REASON_KIND_MAX] = {
                [IPC_REASON_NORMAL] = "normal",         [IPC_REASON_SHUTDOWN] = "shutdown",
                [IPC_REASON_SHUTDOWN_TEXT] = "shutdown", [IPC_REASON_ERROR] = "error",
                [IPC_REASON_KILLED] = "killed",         [IPC_REASON_EXIT_STATUS] = "exit_status",
                [IPC_REASON_SIGNAL] = "signal",         [IPC_REASON_INIT_FAILED] = "init_failed",
                [IPC_REASON_START_TIMEOUT] = "start_timeout",
        };
        const uint64_t *n = sup_entry_exit_counts(e);
        key(w, "exits");
        w_put(w, "{", 1);
        w->first = true;   /* the object's own fields */
        for (size_t k = 0; k < _IPC_REASON_KIND_MAX; k++) {
                if (k == IPC_REASON_SHUTDOWN_TEXT)
                        continue;   /* counted with IPC_REASON_SHUTDOWN */
                uint64_t sum = n[k] + (k == IPC_REASON_SHUTDOWN ? n[IPC_REASON_SHUTDOWN_TEXT] : 0);
                if (sum > 0)
                        put_int(w, kinds[k], (int64_t) sum);
        }
        w_put(w, "}", 1);
        w->first = false;
}

static void put_strv(writer *w, const char *k, char *const *v) {
        key(w, k);
        w_put(w, "[", 1);
        for (size_t i = 0; v && v[i]; i++) {
                if (i > 0)
                        w_put(w, ",", 1);
                w_string(w, v[i]);
        }
        w_put(w, "]", 1);
}

static void put_supervisor(writer *w, const sup_spec *s) {
        put_str(w, "strategy", sup_strategy_to_string(s->strategy));
        put_int(w, "intensity", s->intensity);
        put_int(w, "period", (int64_t) s->period_s);
        put_str(w, "auto_shutdown", sup_auto_shutdown_to_string(s->auto_shutdown));
}

static void put_worker(writer *w, const sup_entry *e, uint64_t usage_max_age_usec) {
        sup_proc *p = sup_entry_proc(e);
        put_raw(w, "ready", p && sup_proc_is_ready(p) ? "true" : "false");
        put_str(w, "vsn", p ? sup_proc_vsn(p) : NULL);
        const sup_output_counts *oc = p ? sup_proc_output_counts(p) : NULL;
        if (oc && oc->lines > 0) {   /* only where something was dropped: big trees stay small */
                char buf[80];
                snprintf(buf, sizeof(buf), "{\"lines\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", (uint64_t) oc->lines,
                         (uint64_t) oc->bytes);
                put_raw(w, "output_dropped", buf);
        }
        sup_cgroup_usage u = { -1, -1, -1 };
        if (p)
                (void) sup_proc_usage_recent(p, usage_max_age_usec, &u);
        put_str(w, "kill_mode", p ? sup_kill_mode_to_string(sup_proc_kill_mode(p)) : NULL);
        put_count(w, "memory_bytes", u.memory_bytes);
        put_count(w, "cpu_us", u.cpu_usec);
        put_count(w, "processes", u.pids);
        if (sup_entry_args(e))
                put_strv(w, "args", sup_entry_args(e));
}

int sup_status_child_text(const sup_entry *e, bool open_children, uint64_t usage_max_age_usec, sup_strbuf *out) {
        const sup_spec *s = sup_entry_spec(e);
        const sup_child *core = sup_entry_core(e);
        pid_t pid = sup_entry_pid(e);
        writer w = { .out = out, .r = 0, .first = true };

        w_put(&w, "{", 1);
        put_str(&w, "name", sup_entry_name(e));
        put_str(&w, "type", sup_child_type_to_string(s->type));
        put_str(&w, "state", sup_entry_state(e));
        put_count(&w, "pid", pid > 0 ? pid : -1);
        put_str(&w, "restart", sup_restart_to_string(s->restart));
        put_int(&w, "restarts", core ? (int64_t) core->restarts : 0);
        put_int(&w, "uptime_ms", (int64_t) sup_entry_uptime_ms(e, sup_mono_usec()));
        put_reason(&w, sup_entry_last_reason(e));
        put_exits(&w, e);
        if (s->type == SUP_SUPERVISOR)
                put_supervisor(&w, s);
        else
                put_worker(&w, e, usage_max_age_usec);
        w_puts(&w, open_children && s->type == SUP_SUPERVISOR ? ",\"children\":[" : "}");
        w_flush(&w);
        return w.r;
}

int sup_status_which_child_text(const sup_entry *e, sup_strbuf *out) {
        pid_t pid = sup_entry_pid(e);
        writer w = { .out = out, .r = 0, .first = true };
        w_put(&w, "{", 1);
        put_str(&w, "name", sup_entry_name(e));
        put_count(&w, "pid", pid > 0 ? pid : -1);
        put_str(&w, "type", sup_child_type_to_string(sup_entry_spec(e)->type));
        put_str(&w, "state", sup_entry_state(e));
        w_put(&w, "}", 1);
        w_flush(&w);
        return w.r;
}
