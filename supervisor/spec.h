/* spec.h: child specs and supervisor flags, as OTP's supervisor has them,
 * plus gensup's own keys. Filled by config.c, read by the decision core
 * (decide.c) and the shell (gensupd). Plain data: no processes, no fds.
 * spec.c holds what is done with it: names, freeing, comparing, finding. */
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

/* What a stop kills, as systemd's KillMode=: everything in the child's
 * cgroup (where cgroups are in force; process groups elsewhere), its
 * process group, or the child's own process only. */
typedef enum sup_kill_mode {
        SUP_KILL_CGROUP,
        SUP_KILL_PROCESS_GROUP,
        SUP_KILL_PROCESS,
        _SUP_KILL_MODE_MAX,
} sup_kill_mode;

/* Longest child or supervisor name: <runtime_dir>/<name>.sock must fit a
 * sockaddr_un (108 bytes) under any usual runtime directory. */
#define SUP_NAME_MAX 64

#define SUP_SHUTDOWN_INFINITY (-1)      /* shutdown = "infinity" */
#define SUP_SHUTDOWN_BRUTAL_KILL (-2)   /* shutdown = "brutal_kill" */
#define SUP_DEFAULT_WORKER_SHUTDOWN_MS 5000
#define SUP_DEFAULT_START_TIMEOUT_MS 10000
#define SUP_DEFAULT_SOCKET_MODE 0660     /* as IPC_SOCK_PERM_DEFAULT_MODE */

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

/* How much of a child's output gensupd copies (pipe mode, not journal):
 * a token bucket per child, refilled at lines and bytes per second and
 * holding burst_s seconds' worth. Lines over it are dropped and counted.
 * 0 for lines or bytes: no limit on that. */
typedef struct sup_output_limit {
        uint64_t lines;       /* per second */
        uint64_t bytes;       /* per second */
        uint64_t burst_s;     /* >= 1 */
} sup_output_limit;

#define SUP_DEFAULT_OUTPUT_LINES 1000
#define SUP_DEFAULT_OUTPUT_BYTES (256 * 1024)
#define SUP_DEFAULT_OUTPUT_BURST_S 10

/* How many of a child's last lines gensupd keeps for `gensupctl logs`
 * (logring.h): whichever bound is reached first. 0 lines: none. */
typedef struct sup_log_ring {
        uint64_t lines;
        uint64_t bytes;
} sup_log_ring;

#define SUP_DEFAULT_LOG_RING_LINES 1000
#define SUP_DEFAULT_LOG_RING_BYTES (256 * 1024)

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
        bool hold_socket;             /* listen not given: gensupd holds that socket once
                                       * the server hands it over with READY */
        sup_ready ready;
        uint64_t start_timeout_ms;
        unsigned socket_mode;         /* of <name>.sock (listen); default SUP_DEFAULT_SOCKET_MODE */
        char *socket_user;            /* its owner, a name or a number; NULL: gensupd's uid */
        char *socket_group;           /* its group; NULL: gensupd's gid */
        char **environment;           /* "KEY=VALUE", NULL-terminated, may be NULL */
        char **pass_environment;      /* names taken from gensupd's environment into a clean one */
        char *working_directory;      /* NULL: gensupd's */
        char *user;                   /* NULL: gensupd's; set: a clean environment (spawn.c) */
        char *group;                  /* NULL: the user's primary group */
        char **supplementary_groups;  /* added to the user's own groups; names or numbers */
        sup_rlimit *rlimits;
        size_t n_rlimits;
        sup_backoff backoff;
        sup_output_limit output_limit;
        sup_log_ring log_ring;
        sup_kill_mode kill_mode;
        bool upgrade_on_reload;       /* on_program_change = "upgrade": reload hot-upgrades it
                                       * when only its program changed (default: restart) */
        uint64_t memory_max;          /* bytes, memory.max; 0: none */
        uint64_t pids_max;            /* pids.max; 0: none */
        unsigned cpu_weight;          /* cpu.weight, 1..10000; 0: none (100) */
        unsigned cpu_max_percent;     /* cpu.max, percent of one CPU; 0: none */

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
        char *log_dir;                /* NULL: children's lines to the journal or stderr */
        uint64_t log_size;            /* rotate a log_dir file past this many bytes */
        unsigned log_keep;            /* old files kept */
        sup_spec *root;               /* the top supervisor */
} sup_config;
/* ---- specs ---- */

/* Whether two specs describe the same child: every field but line (a spec
 * that only moved in the file is unchanged). rlimits compare as a set
 * (their order does not matter); environment and exec in order. With deep,
 * a supervisor's children are compared too, pairwise in start order; without
 * it, only the spec's own fields. NULL equals only NULL. */
bool sup_spec_equal(const sup_spec *a, const sup_spec *b, bool deep);

/* Frees the spec and, recursively, its children. Returns NULL. */
sup_spec *sup_spec_free(sup_spec *s);

/* The spec named name in the tree under root (root included), or NULL. */
sup_spec *sup_spec_find(const sup_spec *root, const char *name);

/* Collects the names of every spec in the tree under root (root included)
 * into a NULL-terminated array of pointers into the specs (valid while
 * the tree is), in depth-first start order: suitable as taken_names.
 * Free the array (only) with free(). Returns 0 or -ENOMEM. */
int sup_spec_names(const sup_spec *root, const char ***ret_names);

/* ---- names of enum values, as spelled in the config ---- */

/* The spellings, indexed by value (config.c reads them). */
extern const char *const sup_child_type_names[_SUP_CHILD_TYPE_MAX];
extern const char *const sup_restart_names[_SUP_RESTART_MAX];
extern const char *const sup_strategy_names[_SUP_STRATEGY_MAX];
extern const char *const sup_auto_shutdown_names[_SUP_AUTO_SHUTDOWN_MAX];
extern const char *const sup_ready_names[_SUP_READY_MAX];
extern const char *const sup_kill_mode_names[_SUP_KILL_MODE_MAX];
extern const char *const sup_program_change_names[2];   /* "restart", "upgrade" */
/* The index of s in table (n entries), or -EINVAL. */
int sup_enum_from_string(const char *const *table, size_t n, const char *s);


/* Each returns the config's spelling ("one_for_all", "transient", ...) or
 * NULL for a value out of range. */
const char *sup_child_type_to_string(sup_child_type t);
const char *sup_restart_to_string(sup_restart r);
const char *sup_strategy_to_string(sup_strategy s);
const char *sup_auto_shutdown_to_string(sup_auto_shutdown a);
const char *sup_ready_to_string(sup_ready r);
const char *sup_kill_mode_to_string(sup_kill_mode m);
/* The lowercase name of RLIMIT_* resource ("nofile"), or NULL. */
const char *sup_rlimit_to_string(int resource);

/* Each returns the value (>= 0) for the config's spelling, or -EINVAL. */
int sup_child_type_from_string(const char *s);
int sup_restart_from_string(const char *s);
int sup_strategy_from_string(const char *s);
int sup_auto_shutdown_from_string(const char *s);
int sup_ready_from_string(const char *s);
/* RLIMIT_* for a lowercase name ("nofile" -> RLIMIT_NOFILE), or -EINVAL. */
int sup_rlimit_from_string(const char *s);

#endif
