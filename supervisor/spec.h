/* spec.h: child specs and supervisor flags, as OTP's supervisor has them,
 * plus gensup's own keys. Filled by config.c, read by the decision core
 * (decide.c) and the shell (gensupd). Plain data: no processes, no fds. */
#ifndef GENSUP_SPEC_H
#define GENSUP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

typedef enum sup_child_type {
        SUP_WORKER,
        SUP_SUPERVISOR,
        _SUP_CHILD_TYPE_MAX,
} sup_child_type;

typedef enum sup_restart {
        SUP_PERMANENT,   /* always restarted */
        SUP_TRANSIENT,   /* restarted unless normal, shutdown or {shutdown,_} */
        SUP_TEMPORARY,   /* never restarted; its spec goes when it exits */
        _SUP_RESTART_MAX,
} sup_restart;

typedef enum sup_strategy {
        SUP_ONE_FOR_ONE,
        SUP_ONE_FOR_ALL,
        SUP_REST_FOR_ONE,
        SUP_SIMPLE_ONE_FOR_ONE,
        _SUP_STRATEGY_MAX,
} sup_strategy;

typedef enum sup_auto_shutdown {
        SUP_AUTO_SHUTDOWN_NEVER,
        SUP_AUTO_SHUTDOWN_ANY_SIGNIFICANT,
        SUP_AUTO_SHUTDOWN_ALL_SIGNIFICANT,
        _SUP_AUTO_SHUTDOWN_MAX,
} sup_auto_shutdown;

typedef enum sup_ready {
        SUP_READY_NOTIFY,   /* libgensup's Ready frame, or READY=1 on NOTIFY_SOCKET */
        SUP_READY_EXEC,     /* ready once exec succeeded */
        _SUP_READY_MAX,
} sup_ready;

#define SUP_SHUTDOWN_INFINITY (-1)      /* shutdown = "infinity" */
#define SUP_SHUTDOWN_BRUTAL_KILL (-2)   /* shutdown = "brutal_kill" */
#define SUP_DEFAULT_WORKER_SHUTDOWN_MS 5000
#define SUP_DEFAULT_START_TIMEOUT_MS 10000

typedef struct sup_rlimit {
        int resource;          /* RLIMIT_NOFILE, ... */
        struct rlimit limit;
} sup_rlimit;

/* Opt-in restart delay (beyond OTP): the first restart waits initial_ms,
 * each further one factor times longer up to max_ms, give or take
 * jitter (a fraction, 0..1); after the child has stayed up reset_after_ms
 * the delay starts again from initial_ms. initial_ms 0: immediate, as OTP. */
typedef struct sup_backoff {
        uint64_t initial_ms;
        uint64_t max_ms;
        double factor;
        double jitter;
        uint64_t reset_after_ms;
} sup_backoff;

typedef struct sup_spec sup_spec;

struct sup_spec {
        char *name;
        sup_child_type type;
        sup_restart restart;
        int64_t shutdown_ms;          /* >= 0, SUP_SHUTDOWN_INFINITY or SUP_SHUTDOWN_BRUTAL_KILL */
        bool significant;
        int line;                     /* where the spec starts in the config file */

        /* workers */
        char **exec;                  /* argv, NULL-terminated; exec[0] is the program */
        bool listen;                  /* gensupd holds <runtime_dir>/<name>.sock for it */
        sup_ready ready;
        uint64_t start_timeout_ms;
        char **environment;           /* "KEY=VALUE", NULL-terminated, may be NULL */
        char *working_directory;      /* NULL: gensupd's */
        char *user;                   /* NULL: gensupd's */
        char *group;                  /* NULL: the user's primary group */
        sup_rlimit *rlimits;
        size_t n_rlimits;
        sup_backoff backoff;

        /* supervisors (type = SUP_SUPERVISOR, and the root) */
        sup_strategy strategy;
        int intensity;
        uint64_t period_s;
        sup_auto_shutdown auto_shutdown;
        sup_spec **children;          /* start order; for simple_one_for_one the one template */
        size_t n_children;
};

typedef struct sup_config {
        char *path;                   /* the file it came from */
        char *runtime_dir;            /* NULL: the default (gs_runtime_dir) */
        char *control_group;          /* NULL: only root and gensupd's uid may use control.sock */
        sup_spec *root;               /* the top supervisor */
} sup_config;

#endif
