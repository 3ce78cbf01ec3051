/* it.c: helpers for integration tests (see it.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it.h"

#define MAX_CHILDREN 64

#define MAX_PUBLIC 16

static char *tmpdir;
static char *public_dirs[MAX_PUBLIC];   /* it_public_copy's directories */
static pid_t children[MAX_CHILDREN];
static pid_t owner;     /* the process whose atexit cleans up */

static bool cgroup_populated(const char *dir) {
        char path[4200], buf[256] = "";
        snprintf(path, sizeof(path), "%s/cgroup.events", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return strstr(buf, "populated 1") != NULL;
}

/* A gensupd that was killed leaves its cgroups (the next one on its
 * runtime directory would clean them): <runtime dir>/gensupd.cgroup names
 * them, and a test's go with the test. */
static void remove_cgroups(const char *marker) {
        char dir[4096] = "", path[4400];
        FILE *f = fopen(marker, "re");
        if (!f)
                return;
        bool ok = fscanf(f, "%4095s", dir) == 1 && strncmp(dir, "/sys/fs/cgroup", 14) == 0;
        fclose(f);
        snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
        int fd = ok ? open(path, O_WRONLY | O_CLOEXEC) : -1;
        if (fd < 0)
                return;
        (void) !write(fd, "1", 1);
        close(fd);
        /* Bounded: SIGKILLed processes go at once. */
        for (int i = 0; i < 2000 && cgroup_populated(dir); i++)
                usleep(1000);
        DIR *dh = opendir(dir);
        for (struct dirent *e; dh && (e = readdir(dh));)
                if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        (void) rmdir(path);
                }
        if (dh)
                closedir(dh);
        (void) rmdir(dir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        const char *base = path + ftw->base;
        if (flag == FTW_F && strcmp(base, "gensupd.cgroup") == 0)
                remove_cgroups(path);
        (void) remove(path);
        return 0;
}

static void cleanup(void) {
        /* Forked test children inherit the handler; only the owner cleans. */
        if (getpid() != owner)
                return;
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0)
                        it_kill(children[i]);
        for (size_t i = 0; i < MAX_PUBLIC && public_dirs[i]; i++) {
                (void) nftw(public_dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
                free(public_dirs[i]);
                public_dirs[i] = NULL;
        }
        if (tmpdir) {
                (void) nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
                free(tmpdir);
                tmpdir = NULL;
        }
}

static void ensure_cleanup(void) {
        if (owner == getpid())
                return;
        owner = getpid();
        /* A fork of a process that had registered: reset what it inherited. */
        memset(children, 0, sizeof(children));
        memset(public_dirs, 0, sizeof(public_dirs));
        tmpdir = NULL;
        atexit(cleanup);
}

int64_t it_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_nap_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Strings handed out by it_strf, reachable until the process ends (never
 * read, never freed here: a caller may have freed them). */
static char **strings;
static size_t n_strings, cap_strings;

char *it_strf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        if (n_strings == cap_strings) {
                size_t cap = cap_strings ? cap_strings * 2 : 64;
                char **p = realloc(strings, cap * sizeof(*p));
                if (!p)
                        abort();
                strings = p;
                cap_strings = cap;
        }
        strings[n_strings++] = s;
        return s;
}

/* A failed Check assertion ends the test with _exit (no atexit), and a
 * timeout with SIGKILL: a small process removes the directory once the
 * test process is gone, whichever way it went. */
static void start_remover(const char *dir) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                /* Out of the test's process group: Check kills that group
                 * once the test process is gone. */
                (void) setpgid(0, 0);
                if (dup2(p[0], 3) < 0)
                        _exit(0);
                /* Hold nothing of the test's open: no socket kept alive. */
                (void) syscall(SYS_close_range, 4u, ~0u, 0u);
                while (read(3, &c, 1) < 0 && errno == EINTR)
                        ;
                /* A server may still be writing its last file: try again
                 * for a while. */
                for (int i = 0; i < 100 && access(dir, F_OK) == 0; i++) {
                        (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
                        if (access(dir, F_OK) == 0)
                                it_nap_ms(5);
                }
                _exit(0);
        }
        close(p[0]);
        /* The write end stays open in the test (CLOEXEC: its servers do not
         * hold it) until the process ends. */
        (void) p[1];
}

const char *it_tmpdir(void) {
        ensure_cleanup();
        if (tmpdir)
                return tmpdir;
        char tmpl[] = "/tmp/gs-it-XXXXXX";
        if (!mkdtemp(tmpl))
                abort();
        tmpdir = strdup(tmpl);
        if (!tmpdir)
                abort();
        setenv("GENSUP_RUNTIME_DIR", tmpdir, 1);
        start_remover(tmpdir);
        return tmpdir;
}

char *it_path(const char *name) {
        return it_strf("%s/%s", it_tmpdir(), name);
}

char *it_example(const char *prog) {
        return it_strf("%s/examples/%s", GS_BUILD_DIR, prog);
}

static int copy_fd(int in, int out) {
        char buf[65536];
        ssize_t n;

        while ((n = read(in, buf, sizeof(buf))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t) (n - off));
                        if (w < 0 && errno != EINTR)
                                return -errno;
                        off += w > 0 ? w : 0;
                }
        }
        return 0;
}

char *it_public_copy(const char *path) {
        ensure_cleanup();
        char tmpl[] = "/tmp/gs-pub-XXXXXX";
        if (!mkdtemp(tmpl) || chmod(tmpl, 0755) < 0)
                abort();
        start_remover(tmpl);
        for (size_t i = 0; i < MAX_PUBLIC; i++)
                if (!public_dirs[i]) {
                        public_dirs[i] = strdup(tmpl);
                        break;
                }
        const char *base = strrchr(path, '/');
        char *copy = it_strf("%s/%s", tmpl, base ? base + 1 : path);
        int in = open(path, O_RDONLY | O_CLOEXEC);
        int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (in < 0 || out < 0 || copy_fd(in, out) < 0 || fchmod(out, 0755) < 0 || close(out) < 0)
                abort();
        close(in);
        return copy;
}

static void child_env(char *const env[]) {
        if (!env)
                return;
        for (size_t i = 0; env[i]; i++) {
                if (env[i][0] == '-') {
                        unsetenv(env[i] + 1);
                        continue;
                }
                char *eq = strchr(env[i], '=');
                if (!eq)
                        continue;
                char name[256];
                size_t n = (size_t) (eq - env[i]);
                if (n >= sizeof(name))
                        continue;
                memcpy(name, env[i], n);
                name[n] = '\0';
                const char *val = eq + 1;
                char buf[512];
                const char *at = strstr(val, "@PID@");
                if (at) {
                        snprintf(buf, sizeof(buf), "%.*s%d%s", (int) (at - val), val, (int) getpid(), at + 5);
                        val = buf;
                }
                setenv(name, val, 1);
        }
}

/* GS_TEST_WRAPPER="valgrind -q --error-exitcode=99 ..." runs the
 * project's own programs under it (make valgrind-check). */
static void exec_wrapped(char *const argv[]) {
        const char *wrap = getenv("GS_TEST_WRAPPER");
        if (wrap && *wrap && strncmp(argv[0], GS_BUILD_DIR "/", strlen(GS_BUILD_DIR) + 1) == 0) {
                char *words = strdup(wrap);
                char *wargv[128];
                size_t n = 0;
                for (char *t = words ? strtok(words, " ") : NULL; t && n < 64; t = strtok(NULL, " "))
                        wargv[n++] = t;
                for (size_t i = 0; argv[i] && n < 127; i++)
                        wargv[n++] = argv[i];
                wargv[n] = NULL;
                execvp(wargv[0], wargv);
        }
        execv(argv[0], argv);
}

pid_t it_spawn(char *const argv[], char *const env[], const it_fd *fds, size_t n_fds, const char *stderr_path) {
        ensure_cleanup();
        size_t slot = 0;
        while (slot < MAX_CHILDREN && children[slot] > 0)
                slot++;
        if (slot == MAX_CHILDREN)
                return -EMFILE;

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* No orphans if the test dies. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                /* Moving fds: first above every target, then into place, so
                 * a source never clobbers another's target. */
                int tmp[16];
                for (size_t i = 0; i < n_fds && i < 16; i++) {
                        tmp[i] = fcntl(fds[i].src, F_DUPFD, 100);
                        if (tmp[i] < 0)
                                _exit(127);
                }
                for (size_t i = 0; i < n_fds && i < 16; i++) {
                        if (dup2(tmp[i], fds[i].dst) < 0)
                                _exit(127);
                        close(tmp[i]);
                }
                if (stderr_path) {
                        int fd = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                        if (fd >= 0) {
                                dup2(fd, STDERR_FILENO);
                                close(fd);
                        }
                }
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                child_env(env);
                exec_wrapped(argv);
                _exit(127);
        }
        children[slot] = pid;
        return pid;
}

int it_wait_socket(const char *path, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;

        for (;;) {
                int fd = ipc_connect(path);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(5);
        }
}

pid_t it_start_server(const char *socket_path, char *const argv[], char *const env[]) {
        pid_t pid = it_spawn(argv, env, NULL, 0, NULL);
        if (pid < 0)
                return pid;
        if (it_wait_socket(socket_path, IT_WAIT_MS) < 0) {
                it_kill(pid);
                return -ETIMEDOUT;
        }
        return pid;
}

static void forget(pid_t pid) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

int it_wait_exit(pid_t pid, int timeout_ms, int *ret_status) {
        int64_t deadline = it_now_ms() + timeout_ms;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid) {
                        forget(pid);
                        *ret_status = status;
                        return 0;
                }
                if (r < 0) {
                        forget(pid);
                        return -errno;
                }
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(5);
        }
}

bool it_exited_with(int status, int code) {
        return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

void it_kill(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        forget(pid);
}

char *it_read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *data = NULL;
        size_t len = 0;

        if (!f)
                return NULL;
        FILE *m = open_memstream(&data, &len);
        if (!m) {
                fclose(f);
                return NULL;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                fwrite(buf, 1, n, m);
        fclose(f);
        fclose(m);
        return data;
}

int it_wait_file_contains(const char *path, const char *text, int timeout_ms) {
        int64_t deadline = it_now_ms() + timeout_ms;

        for (;;) {
                char *d = it_read_file(path);
                bool found = d && strstr(d, text);
                free(d);
                if (found)
                        return 0;
                if (it_now_ms() >= deadline)
                        return -ETIMEDOUT;
                it_nap_ms(5);
        }
}

/* ---- frames ---- */

ipc_conn *it_connect(const char *path) {
        ipc_conn *c;
        int fd = ipc_connect(path);

        if (fd < 0)
                return NULL;
        if (ipc_conn_new(fd, 0, &c) < 0)
                return NULL;
        return c;
}

static int flush_all(ipc_conn *c) {
        for (;;) {
                int r = ipc_conn_flush(c);
                if (r != -EAGAIN)
                        return r;
                r = ipc_conn_wait(c, false, IT_WAIT_MS);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
        }
}

int it_send(ipc_conn *c, const ipc_frame *f) {
        int r = ipc_conn_queue(c, f);
        if (r < 0)
                return r;
        return flush_all(c);
}

int it_send_raw(ipc_conn *c, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = send(ipc_conn_fd(c), p, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pf = { .fd = ipc_conn_fd(c), .events = POLLOUT };
                                (void) poll(&pf, 1, IT_WAIT_MS);
                                continue;
                        }
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int it_recv(ipc_conn *c, int timeout_ms, ipc_frame **ret) {
        int64_t deadline = it_now_ms() + timeout_ms;

        for (;;) {
                int r = ipc_conn_next(c, ret);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
                int64_t left = deadline - it_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                r = ipc_conn_wait(c, true, (int) left);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
                r = ipc_conn_read(c);
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
}

static int send_text(ipc_conn *c, Gensup__Kind kind, uint64_t ref, const char *text) {
        ipc_frame f;

        ipc_frame_init(&f, kind, ref);
        f.payload.data = (uint8_t *) text;
        f.payload.len = text ? strlen(text) : 0;
        return it_send(c, &f);
}

int it_send_call(ipc_conn *c, uint64_t ref, const char *text) {
        return send_text(c, GENSUP__KIND__CALL, ref, text);
}

int it_send_cast(ipc_conn *c, const char *text) {
        return send_text(c, GENSUP__KIND__CAST, 0, text);
}

int it_send_info(ipc_conn *c, const char *text) {
        return send_text(c, GENSUP__KIND__INFO, 0, text);
}

int it_send_ctl(ipc_conn *c, uint64_t ref, const char *command, const char *const *args) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        size_t n = 0;
        while (args && args[n])
                n++;
        req.command = (char *) command;
        req.args = (char **) args;
        req.n_args = n;
        ipc_frame f;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        f.ctl = &req;
        return it_send(c, &f);
}

int it_scaled(int n, int under_valgrind) {
        return getenv("GS_TEST_WRAPPER") ? under_valgrind : n;
}

int it_send_sys(ipc_conn *c, uint64_t ref, Gensup__SysRequest__Op op, bool flag, uint64_t value, const char *reason) {
        Gensup__SysRequest req = GENSUP__SYS_REQUEST__INIT;
        ipc_frame f;

        req.op = op;
        req.flag = flag;
        req.value = value;
        if (reason)
                req.reason = (char *) reason;
        ipc_frame_init(&f, GENSUP__KIND__SYS, ref);
        f.sys = &req;
        return it_send(c, &f);
}

static uint64_t next_ref = 1000000;

int it_call(ipc_conn *c, const char *text, int timeout_ms, ipc_frame **ret) {
        int r = it_send_call(c, ++next_ref, text);
        if (r < 0)
                return r;
        return it_recv(c, timeout_ms, ret);
}

char *it_payload(const ipc_frame *f) {
        char *s = malloc(f->payload.len + 1);
        if (!s)
                abort();
        if (f->payload.len)
                memcpy(s, f->payload.data, f->payload.len);
        s[f->payload.len] = '\0';
        return s;
}

char *it_call_text(ipc_conn *c, const char *text) {
        ipc_frame *f = NULL;
        char *s = NULL;

        if (it_call(c, text, IT_WAIT_MS, &f) < 0)
                return NULL;
        if (f->kind == GENSUP__KIND__REPLY && f->ref == next_ref)
                s = it_payload(f);
        ipc_frame_free(f);
        return s;
}
