/* child_cred.c: a child's user and groups, from its spec. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child_cred.h"
#include "strv.h"

#define GROUPS_MAX 65536

void sup_cred_done(sup_cred *c) {
        free(c->groups);
        free(c->name);
        free(c->home);
        free(c->shell);
        *c = (sup_cred) { 0 };
}

/* A name, or a number as the config allows. */
static bool numeric_id(const char *s, unsigned long *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0)
                return false;
        *ret = v;
        return true;
}

static struct passwd *lookup_user(const char *name) {
        unsigned long id;
        struct passwd *pw = getpwnam(name);
        if (!pw && numeric_id(name, &id))
                pw = getpwuid((uid_t) id);
        return pw;
}

static int lookup_gid(const char *name, gid_t *ret) {
        unsigned long id;
        struct group *gr = getgrnam(name);
        if (gr)
                *ret = gr->gr_gid;
        else if (numeric_id(name, &id) && id < (gid_t) -1)
                *ret = (gid_t) id;
        else
                return -ESRCH;
        return 0;
}

/* The user's own groups, as a login gives them (initgroups(3)). */
static int user_groups(sup_cred *c) {
        int room = 32;
        for (;;) {
                gid_t *g = realloc(c->groups, (size_t) room * sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                c->groups = g;
                int want = room;
                if (getgrouplist(c->name, c->gid, c->groups, &want) >= 0) {
                        c->n_groups = want;
                        return 0;
                }
                if (want <= room || want > GROUPS_MAX)
                        return -EINVAL;
                room = want;
        }
}

static int add_group(sup_cred *c, gid_t gid) {
        for (int i = 0; i < c->n_groups; i++)
                if (c->groups[i] == gid)
                        return 0;
        if (c->n_groups >= GROUPS_MAX)
                return -EINVAL;
        gid_t *g = realloc(c->groups, (size_t) (c->n_groups + 1) * sizeof(gid_t));
        if (!g)
                return -ENOMEM;
        c->groups = g;
        c->groups[c->n_groups++] = gid;
        return 0;
}

static int take_user(const char *user, sup_cred *c) {
        struct passwd *pw = lookup_user(user);
        if (!pw)
                return -ESRCH;
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        c->change_user = c->change_group = true;
        c->name = strdup(pw->pw_name);
        c->home = strdup(pw->pw_dir ? pw->pw_dir : "/");
        c->shell = strdup(pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
        return c->name && c->home && c->shell ? 0 : -ENOMEM;
}

int sup_cred_resolve(const sup_spec *s, sup_cred *ret) {
        sup_cred c = { .gid = getegid() };
        int r = 0;

        if (s->user)
                r = take_user(s->user, &c);
        if (r >= 0 && s->group) {
                r = lookup_gid(s->group, &c.gid);
                c.change_group = true;
        }
        if (r >= 0 && c.change_user)
                r = user_groups(&c);
        else if (r >= 0 && c.change_group)
                r = add_group(&c, c.gid);
        for (size_t i = 0; r >= 0 && s->supplementary_groups && s->supplementary_groups[i]; i++) {
                gid_t g;
                r = lookup_gid(s->supplementary_groups[i], &g);
                if (r >= 0)
                        r = add_group(&c, g);
                c.change_group = true;
        }
        if (r < 0) {
                sup_cred_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}
