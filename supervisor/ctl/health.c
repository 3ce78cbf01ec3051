/* health.c: is the tree up (see health.h)? */
#include <string.h>

#include "health.h"

static const char *str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

/* A child under the one asked about: running, or not meant to run. */
static bool child_up(json_t *c, bool must_run, const char **ret_name, const char **ret_state) {
        const char *state = str(c, "state");
        bool running = state && strcmp(state, "running") == 0;
        bool ok = running || (!must_run && state && strcmp(state, "stopped") == 0);
        json_t *ready = json_object_get(c, "ready");
        if (running && json_is_false(ready))
                ok = false;
        if (!ok) {
                *ret_name = str(c, "name");
                *ret_state = state;
                return false;
        }
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(c, "children"), i, k)
                if (!child_up(k, false, ret_name, ret_state))
                        return false;
        return true;
}

bool ctl_status_up(json_t *doc, bool must_run, const char **ret_name, const char **ret_state) {
        const char *name = NULL, *state = NULL;
        json_t *daemon = json_object_get(doc, "gensupd");
        bool up;
        if (daemon) {
                const char *s = str(daemon, "state");
                up = !(s && strcmp(s, "stopping") == 0);
                if (!up) {
                        name = "gensupd";
                        state = s;
                } else
                        up = child_up(json_object_get(doc, "tree"), true, &name, &state);
        } else
                up = child_up(doc, must_run, &name, &state);
        if (ret_name)
                *ret_name = name;
        if (ret_state)
                *ret_state = state;
        return up;
}
