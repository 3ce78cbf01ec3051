/* upgrade.c: gensupctl upgrade's answer, for people. */
#include <stdio.h>

#include "output.h"

static const char *text_or(json_t *doc, const char *key, const char *none) {
        const char *s = json_string_value(json_object_get(doc, key));
        return s && *s ? s : none;
}

void ctl_print_upgrade(json_t *doc) {
        printf("%s: upgraded: pid %lld (vsn %s) -> pid %lld (vsn %s)\n", text_or(doc, "name", "child"),
               (long long) json_integer_value(json_object_get(doc, "old_pid")), text_or(doc, "old_vsn", "none"),
               (long long) json_integer_value(json_object_get(doc, "pid")), text_or(doc, "vsn", "none"));
}
