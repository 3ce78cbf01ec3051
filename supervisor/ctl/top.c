/* top.c: gensupctl top. Two connections to gensupd: one follows events
 * (any event marks the view stale), one asks for status and, for the
 * gen_servers on screen only, statistics (their calls/s), each answer
 * bounded (query.c). A refresh happens at most every REFRESH_MIN_MS when
 * events pour in, and every TICK_MS anyway (uptimes, CPU%). The rows and
 * rates are top_model.c's; this file draws them and reads keys. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "io.h"
#include "query.h"
#include "top.h"
#include "top_model.h"

#define TICK_MS 1000
#define REFRESH_MIN_MS 250
#define STATS_TIMEOUT_MS 300
#define HEADER_LINES 3

typedef struct top_view {
        const ctl_opts *o;
        ipc_conn *query, *events;
        top_model m;
        size_t offset;             /* first row shown */
        size_t page;               /* rows that fit */
        uint64_t refreshed_ms;
        char error[160];
} top_view;

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* ---- asking gensupd ---- */

/* Statistics of the gen_servers among rows [from, from + n). */
static void ask_statistics(top_view *v, size_t from, size_t n) {
        char *names[256];
        json_t *docs[256];
        size_t k = 0;
        for (size_t i = from; i < v->m.n_rows && i < from + n && k < 256; i++)
                if (!v->m.rows[i].supervisor && v->m.rows[i].pid > 0)
                        names[k++] = (char *) v->m.rows[i].name;
        if (k == 0 || ctl_query_many(v->query, &ctl_commands[CTL_CMD_STATISTICS], names, k, STATS_TIMEOUT_MS, docs) < 0)
                return;
        for (size_t i = 0; i < k; i++) {
                if (docs[i])
                        top_model_statistics(&v->m, docs[i]);
                json_decref(docs[i]);
        }
}

static int refresh_model(top_view *v) {
        json_t *doc = NULL;
        int timeout = v->o->timeout_set && v->o->timeout_ms > 0 ? v->o->timeout_ms : CTL_DEFAULT_TIMEOUT_MS;
        int r = ctl_query_many(v->query, &ctl_commands[CTL_CMD_STATUS], NULL, 0, timeout, &doc);
        if (r < 0 || !doc) {
                snprintf(v->error, sizeof(v->error), "gensupd did not answer status");
                return r < 0 ? r : -ETIMEDOUT;
        }
        v->error[0] = '\0';
        r = top_model_update(&v->m, doc, mono_ms());
        if (r < 0)
                return r;
        if (v->offset >= v->m.n_rows)
                v->offset = v->m.n_rows ? v->m.n_rows - 1 : 0;
        ask_statistics(v, v->offset, v->page);
        v->refreshed_ms = mono_ms();
        return 0;
}

/* ---- the lines ---- */

static void fmt_uptime(uint64_t ms, char *buf, size_t size) {
        uint64_t s = ms / 1000u;
        if (s < 60)
                snprintf(buf, size, "%us", (unsigned) s);
        else if (s < 3600)
                snprintf(buf, size, "%um%02us", (unsigned) (s / 60), (unsigned) (s % 60));
        else if (s < 86400)
                snprintf(buf, size, "%uh%02um", (unsigned) (s / 3600), (unsigned) (s / 60 % 60));
        else
                snprintf(buf, size, "%ud%02uh", (unsigned) (s / 86400), (unsigned) (s / 3600 % 24));
}

static void fmt_mem(long long b, char *buf, size_t size) {
        if (b < 0)
                snprintf(buf, size, "-");
        else if (b < 10 * 1024 * 1024)
                snprintf(buf, size, "%lldK", b / 1024);
        else
                snprintf(buf, size, "%lldM", b / (1024 * 1024));
}

static void fmt_rate(double v, char *buf, size_t size) {
        if (v < 0)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.1f", v);
}

#define COLUMNS "%-32s %-10s %8s %9s %6s %6s %7s %8s %6s"

/* One row as text, width columns at most. */
static void row_text(const top_row *r, bool tree, char *buf, size_t size) {
        char name[96], pid[24], up[24], rst[24], cpu[32], mem[24], calls[32], queue[24];
        int indent = tree ? 2 * r->depth : 0;
        snprintf(name, sizeof(name), "%*s%s", indent > 20 ? 20 : indent, "", r->name);
        if (r->pid > 0)
                snprintf(pid, sizeof(pid), "%lld", r->pid);
        else
                snprintf(pid, sizeof(pid), "-");
        if (r->state && strcmp(r->state, "running") == 0)
                fmt_uptime(r->uptime_ms, up, sizeof(up));
        else
                snprintf(up, sizeof(up), "-");
        snprintf(rst, sizeof(rst), "%llu", (unsigned long long) r->restarts_min);
        fmt_rate(r->cpu_pct, cpu, sizeof(cpu));
        fmt_mem(r->mem_bytes, mem, sizeof(mem));
        fmt_rate(r->supervisor ? -1 : r->calls_s, calls, sizeof(calls));
        if (r->supervisor || r->queue < 0)
                snprintf(queue, sizeof(queue), "-");
        else
                snprintf(queue, sizeof(queue), "%lld", r->queue);
        snprintf(buf, size, COLUMNS, name, r->state ? r->state : "?", pid, up, rst, cpu, mem, calls, queue);
}

static void header_text(const top_view *v, char *buf, size_t size) {
        json_t *d = json_object_get(v->m.doc, "gensupd");
        size_t running = 0;
        for (size_t i = 0; i < v->m.n_rows; i++)
                running += v->m.rows[i].state && strcmp(v->m.rows[i].state, "running") == 0;
        char up[16];
        fmt_uptime((uint64_t) json_integer_value(json_object_get(d, "uptime_ms")), up, sizeof(up));
        snprintf(buf, size, "gensupd %lld up %s: %zu children, %zu running; sort: %s%s",
                 (long long) json_integer_value(json_object_get(d, "pid")), up, v->m.n_rows ? v->m.n_rows - 1 : 0,
                 running ? running - 1 : 0,
                 top_sort_to_string(v->m.sort), v->m.reverse ? " (reversed)" : "");
}

/* ---- the screen ---- */

static void draw(top_view *v) {
        char line[512];
        erase();
        header_text(v, line, sizeof(line));
        mvaddnstr(0, 0, line, COLS);
        mvaddnstr(1, 0, v->error[0] ? v->error :
                  "q quit  t tree  n name  c cpu  m mem  r restarts/min  u uptime  k calls/s  Q queue  R reverse  arrows, PgUp/PgDn scroll",
                  COLS);
        snprintf(line, sizeof(line), COLUMNS, "NAME", "STATE", "PID", "UPTIME", "RST/1m", "CPU%", "MEM", "CALLS/s", "MSGQ");
        attron(A_REVERSE);
        mvaddnstr(2, 0, line, COLS);
        attroff(A_REVERSE);
        for (size_t i = 0; i < v->page && v->offset + i < v->m.n_rows; i++) {
                row_text(&v->m.rows[v->offset + i], v->m.sort == TOP_SORT_TREE, line, sizeof(line));
                mvaddnstr((int) (HEADER_LINES + i), 0, line, COLS);
        }
        refresh();
}

static bool set_sort(top_view *v, int key) {
        static const struct { int key; top_sort sort; } keys[] = {
                { 't', TOP_SORT_TREE }, { 'n', TOP_SORT_NAME }, { 'c', TOP_SORT_CPU },   { 'm', TOP_SORT_MEM },
                { 'r', TOP_SORT_RESTARTS }, { 'u', TOP_SORT_UPTIME }, { 'k', TOP_SORT_CALLS }, { 'Q', TOP_SORT_QUEUE },
        };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (keys[i].key == key) {
                        v->m.sort = keys[i].sort;
                        return true;
                }
        return false;
}

/* A key: false to quit. */
static bool on_key(top_view *v, int ch) {
        size_t last = v->m.n_rows > v->page ? v->m.n_rows - v->page : 0;
        switch (ch) {
        case 'q': case 'Q': case 27: return false;
        case 'R': v->m.reverse = !v->m.reverse; break;
        case KEY_DOWN: case 'j': v->offset = v->offset < last ? v->offset + 1 : last; break;
        case KEY_UP: v->offset = v->offset ? v->offset - 1 : 0; break;
        case KEY_NPAGE: case ' ': v->offset = v->offset + v->page < last ? v->offset + v->page : last; break;
        case KEY_PPAGE: v->offset = v->offset > v->page ? v->offset - v->page : 0; break;
        case KEY_HOME: case 'g': v->offset = 0; break;
        case KEY_END: case 'G': v->offset = last; break;
        case KEY_RESIZE: break;
        default:
                if (!set_sort(v, ch))
                        return true;
        }
        top_model_sort(&v->m);
        ask_statistics(v, v->offset, v->page);
        return true;
}

/* ---- the loop ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
        stop_signal = sig;
}

/* Reads what the events connection has: 1 an event came, 0 none, or
 * -errno (gensupd went away). */
static int drain_events(top_view *v) {
        int got = 0;
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(v->events, &f);
                if (r < 0)
                        return r;
                if (r > 0) {
                        got |= f->kind == GENSUP__KIND__EVENT;
                        ipc_frame_free(f);
                        continue;
                }
                r = ipc_conn_read(v->events);
                if (r == -EAGAIN)
                        return got;
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ECONNRESET;
        }
}

static int follow_events(top_view *v) {
        const ctl_command *ev = &ctl_commands[CTL_CMD_EVENTS];
        char *args[] = { (char *) "--follow" };
        json_t *doc = NULL;
        int r = ctl_daemon_connect(v->o, ev, &v->events);
        if (r >= 0)
                r = ctl_daemon_send(v->events, ev, args, 1, CTL_DEFAULT_TIMEOUT_MS, ctl_deadline(CTL_DEFAULT_TIMEOUT_MS));
        if (r >= 0)
                r = ctl_daemon_wait(v->events, ev, CTL_DEFAULT_TIMEOUT_MS, ctl_deadline(CTL_DEFAULT_TIMEOUT_MS), &doc);
        json_decref(doc);
        return r;
}

/* Until q or a stop signal: 0, or -errno when gensupd went away. */
static int screen_loop(top_view *v) {
        bool stale = true;
        for (;;) {
                uint64_t now = mono_ms();
                if (stale && now - v->refreshed_ms >= REFRESH_MIN_MS) {
                        v->page = LINES > HEADER_LINES ? (size_t) (LINES - HEADER_LINES) : 0;
                        if (refresh_model(v) < 0)
                                return -EIO;
                        draw(v);
                        stale = false;
                }
                uint64_t due = stale ? v->refreshed_ms + REFRESH_MIN_MS : v->refreshed_ms + TICK_MS;
                struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
                                       { .fd = ipc_conn_fd(v->events), .events = POLLIN } };
                now = mono_ms();
                int r = poll(p, 2, due > now ? (int) (due - now) : 0);
                if (stop_signal)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (p[1].revents && drain_events(v) < 0)
                        return -ECONNRESET;
                if (p[1].revents)
                        stale = true;
                int ch;
                while (p[0].revents && (ch = getch()) != ERR) {
                        if (!on_key(v, ch))
                                return 0;
                        draw(v);
                }
                if (mono_ms() >= v->refreshed_ms + TICK_MS)
                        stale = true;
        }
}

static int run_screen(top_view *v) {
        struct sigaction sa = { .sa_handler = on_stop_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        setlocale(LC_ALL, "");
        if (!initscr())
                return -ENOTTY;
        cbreak();
        noecho();
        nodelay(stdscr, TRUE);
        keypad(stdscr, TRUE);
        curs_set(0);
        int r = screen_loop(v);
        endwin();
        return r;
}

/* --batch: n refreshes printed as text, TICK_MS apart. */
static int run_batch(top_view *v, long n) {
        char line[512];
        v->page = SIZE_MAX;
        for (long i = 0; i < n; i++) {
                if (i > 0) {
                        struct pollfd p = { .fd = ipc_conn_fd(v->events), .events = POLLIN };
                        (void) poll(&p, 1, TICK_MS);
                        if (p.revents && drain_events(v) < 0)
                                return -ECONNRESET;
                }
                if (refresh_model(v) < 0)
                        return -EIO;
                header_text(v, line, sizeof(line));
                printf("%s\n" COLUMNS "\n", line, "NAME", "STATE", "PID", "UPTIME", "RST/1m", "CPU%", "MEM", "CALLS/s", "MSGQ");
                for (size_t k = 0; k < v->m.n_rows; k++) {
                        row_text(&v->m.rows[k], v->m.sort == TOP_SORT_TREE, line, sizeof(line));
                        puts(line);
                }
                putchar('\n');
        }
        return 0;
}

static int parse_args(char **args, size_t n_args, top_model *m, long *ret_batch) {
        for (size_t i = 0; i < n_args; i++) {
                if (i + 1 < n_args && strcmp(args[i], "--sort") == 0) {
                        const char *k = args[++i];
                        int s = 0;
                        while (s < _TOP_SORT_MAX && strcmp(top_sort_to_string((top_sort) s), k) != 0)
                                s++;
                        if (s == _TOP_SORT_MAX)
                                return -EINVAL;
                        m->sort = (top_sort) s;
                } else if (i + 1 < n_args && strcmp(args[i], "--batch") == 0) {
                        char *end;
                        *ret_batch = strtol(args[++i], &end, 10);
                        if (*end || *ret_batch <= 0)
                                return -EINVAL;
                } else
                        return -EINVAL;
        }
        return 0;
}

int ctl_top_run(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args) {
        top_view v = { .o = o };
        long batch = 0;
        if (parse_args(args, n_args, &v.m, &batch) < 0) {
                fprintf(stderr, "gensupctl: top: usage: gensupctl top [--sort tree|name|cpu|mem|restarts|uptime|calls|queue] "
                                "[--batch N]\n");
                return EXIT_USAGE;
        }
        if (batch == 0 && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
                fprintf(stderr, "gensupctl: top: needs a terminal (or --batch N)\n");
                return EXIT_USAGE;
        }
        int r = ctl_daemon_connect(o, cmd, &v.query);
        if (r >= 0)
                r = follow_events(&v);
        if (r >= 0)
                r = batch ? run_batch(&v, batch) : run_screen(&v);
        if (r == -EIO || r == -ECONNRESET)
                fprintf(stderr, "gensupctl: top: %s\n", v.error[0] ? v.error : "gensupd closed the connection");
        top_model_done(&v.m);
        ipc_conn_free(v.query);
        ipc_conn_free(v.events);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
