/* answer_logs.c: `gensupctl logs` on gensupd's side (see answer_logs.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_logs.h"
#include "output.h"

static int fail(int r, const char *text, char **ret_error) {
        *ret_error = strdup(text);
        return r;
}

/* N from "N" (digits only); -1: not a count. */
static long parse_count(const char *s) {
        char *end;
        if (!*s || strspn(s, "0123456789") != strlen(s))
                return -1;
        long n = strtol(s, &end, 10);
        return *end ? -1 : n;
}

int sup_answer_logs(sup_daemon *d, const sup_control_request *q, json_t **ret_json, char **ret_error) {
        char msg[160];
        sup_entry *e = d->root ? sup_tree_find(d->root, q->args[0]) : NULL;
        if (!e) {
                snprintf(msg, sizeof(msg), "no such child: %s", q->args[0]);
                return fail(-ENOENT, msg, ret_error);
        }
        long want = -1;
        for (size_t i = 1; i < q->n_args; i++) {
                if (strcmp(q->args[i], "--follow") == 0)
                        continue;
                if ((want = parse_count(q->args[i])) < 0)
                        return fail(-EINVAL, "logs NAME [N] [--follow]", ret_error);
        }
        sup_proc *p = sup_entry_proc(e);
        if (!p && sup_entry_spec(e)->type == SUP_SUPERVISOR)
                return fail(-EOPNOTSUPP, "a supervisor has no output of its own: ask for one of its workers", ret_error);
        const sup_output_counts *c = p ? sup_proc_output_counts(p) : NULL;
        json_t *lines = json_array();
        size_t n = c ? c->ring.n : 0;
        size_t from = want >= 0 && (size_t) want < n ? n - (size_t) want : 0;
        for (size_t i = from; i < n; i++) {
                json_t *l = sup_logline_json(sup_entry_name(e), sup_logring_get(&c->ring, i));
                if (l)
                        json_array_append_new(lines, l);
        }
        *ret_json = json_pack("{s:s,s:o,s:I,s:I,s:I}", "name", sup_entry_name(e), "lines", lines, "kept", (json_int_t) n,
                              "max_lines", (json_int_t) (c ? c->ring.max_lines : 0), "max_bytes",
                              (json_int_t) (c ? c->ring.max_bytes : 0));
        return 0;
}

static void on_line(void *userdata, const char *name, const sup_logline *line) {
        sup_daemon *d = userdata;
        if (d->control && sup_control_log_wanted(d->control, name))
                sup_control_log(d->control, name, sup_logline_json(name, line));
}

void sup_answer_logs_listen(sup_daemon *d) {
        sup_output_set_listener(on_line, d);
}
