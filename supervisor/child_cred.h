/* child_cred.h: the user, group and supplementary groups a child runs
 * with, resolved before the fork (lookups may fail, and must not run in
 * a child that shares gensupd's memory). */
#ifndef GENSUP_CHILD_CRED_H
#define GENSUP_CHILD_CRED_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec.h"

typedef struct sup_cred {
        bool change_user;     /* setuid(uid) */
        bool change_group;    /* setgroups(groups), setgid(gid) */
        uid_t uid;
        gid_t gid;
        gid_t *groups;        /* supplementary groups */
        int n_groups;
        char *name;           /* the user's, with change_user: for USER, LOGNAME */
        char *home;           /* HOME */
        char *shell;          /* SHELL */
} sup_cred;

/* The spec's credentials, as systemd gives them for User=, Group= and
 * SupplementaryGroups=: with user, its uid, its primary group (or the
 * spec's group) and its own groups (getgrouplist(3)); with group alone,
 * that gid; then the spec's supplementary_groups added. 0, -ESRCH for an
 * unknown user or group, -ENOMEM, -EINVAL (too many groups). */
int sup_cred_resolve(const sup_spec *s, sup_cred *ret);
void sup_cred_done(sup_cred *c);

#endif
