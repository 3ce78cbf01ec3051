/* child_env.c: the environment a child starts with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child_env.h"
#include "strv.h"

extern char **environ;

/* Variables only gensupd sets for a child (or, for the watchdog, only
 * systemd for gensupd itself). */
static bool reserved(const char *kv) {
        static const char *const keys[] = {
                "GENSUP_CONTROL_FD=", "GENSUP_NAME=", "GENSUP_RUNTIME_DIR=", "LISTEN_FDS=",
                "LISTEN_PID=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
        };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strncmp(kv, keys[i], strlen(keys[i])) == 0)
                        return true;
        return false;
}

/* The length of kv's name, '=' included (all of it when there is none). */
static size_t key_len(const char *kv) {
        const char *eq = strchr(kv, '=');
        return eq ? (size_t) (eq - kv) + 1 : strlen(kv);
}

typedef struct envb {
        char **v;
        size_t n, room;
} envb;

/* Sets kv (copied), replacing an earlier value of the same name. */
static int envb_set(envb *e, const char *kv) {
        size_t k = key_len(kv);
        char *copy = strdup(kv);
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], kv, k) == 0 && key_len(e->v[i]) == k) {
                        free(e->v[i]);
                        e->v[i] = copy;
                        return 0;
                }
        if (e->n + 1 >= e->room) {
                size_t room = e->room ? e->room * 2 : 32;
                char **v = realloc(e->v, room * sizeof(char *));
                if (!v) {
                        free(copy);
                        return -ENOMEM;
                }
                e->v = v;
                e->room = room;
        }
        e->v[e->n++] = copy;
        e->v[e->n] = NULL;
        return 0;
}

static int envb_setf(envb *e, const char *key, const char *value) {
        char *kv;
        if (asprintf(&kv, "%s=%s", key, value) < 0)
                return -ENOMEM;
        int r = envb_set(e, kv);
        free(kv);
        return r;
}

bool sup_child_env_clean(const sup_spec *s) {
        return s->user || s->group;
}

static int clean_base(const sup_spec *s, const sup_cred *cred, envb *e) {
        int r = envb_setf(e, "PATH", SUP_CLEAN_PATH);
        if (r >= 0 && cred->change_user) {
                if ((r = envb_setf(e, "HOME", cred->home)) >= 0 && (r = envb_setf(e, "USER", cred->name)) >= 0 &&
                    (r = envb_setf(e, "LOGNAME", cred->name)) >= 0)
                        r = envb_setf(e, "SHELL", cred->shell);
        }
        for (size_t i = 0; r >= 0 && s->pass_environment && s->pass_environment[i]; i++) {
                const char *v = getenv(s->pass_environment[i]);
                if (v)
                        r = envb_setf(e, s->pass_environment[i], v);
        }
        return r;
}

int sup_child_env(const sup_spec *s, const sup_cred *cred, char *const *ours, char ***ret) {
        envb e = { .v = calloc(32, sizeof(char *)), .room = 32 };
        int r = 0;

        if (!e.v)
                return -ENOMEM;
        if (sup_child_env_clean(s))
                r = clean_base(s, cred, &e);
        else
                for (char **p = environ; r >= 0 && p && *p; p++)
                        if (!reserved(*p))
                                r = envb_set(&e, *p);
        for (size_t i = 0; r >= 0 && s->environment && s->environment[i]; i++)
                if (!reserved(s->environment[i]))
                        r = envb_set(&e, s->environment[i]);
        for (size_t i = 0; r >= 0 && ours && ours[i]; i++)
                r = envb_set(&e, ours[i]);
        if (r < 0) {
                sup_strv_free(e.v);
                return r;
        }
        *ret = e.v;
        return 0;
}
