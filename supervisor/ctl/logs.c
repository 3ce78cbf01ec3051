/* logs.c: printing `gensupctl logs` (see logs.h). */
#include <stdio.h>
#include <string.h>

#include "logs.h"

#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_RESET "\033[0m"

static const char *str(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

void ctl_print_log_line(const ctl_opts *o, json_t *line) {
        if (o->json) {
                json_dumpf(line, stdout, JSON_COMPACT);
                putchar('\n');
                return;
        }
        const char *stream = str(line, "stream");
        const char *text = str(line, "line");
        json_t *pid = json_object_get(line, "pid");
        /* The text was made printable by gensupd: no escape sequences. */
        if (strcmp(stream, "gensupd") == 0) {
                printf("%s%s -- %s --%s\n", o->color ? C_DIM : "", str(line, "time"), text, o->color ? C_RESET : "");
                return;
        }
        bool err = strcmp(stream, "stderr") == 0;
        printf("%s %s[%" JSON_INTEGER_FORMAT "]: %s%s%s\n", str(line, "time"), stream,
               json_is_integer(pid) ? json_integer_value(pid) : (json_int_t) 0, o->color && err ? C_RED : "", text,
               o->color && err ? C_RESET : "");
}

void ctl_print_logs(const ctl_opts *o, json_t *doc) {
        size_t i;
        json_t *line;
        json_array_foreach(json_object_get(doc, "lines"), i, line)
                ctl_print_log_line(o, line);
}
