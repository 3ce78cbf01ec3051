/* check_control.c: the control socket (supervisor/control.c) on its own,
 * opened with fake ops instead of gensupd's: a real listening socket in a
 * temporary directory, a real client connection, and the loop run by
 * hand (sd_event_run) until the answer is there. What is checked is what
 * a client sees (CTL_REPLY frames) and what the ops were asked. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "commands.h"
#include "control.h"
#include "ipc.h"

Suite *control_suite(void);

#define TIMEOUT_S 30
#define MAX_TURNS 2000     /* loop turns a wait may take; each blocks at most TURN_USEC */
#define TURN_USEC 10000

/* ---- fake ops: record what was asked, answer as told ---- */

typedef struct fake {
        int n_query, n_tree, n_sys, n_reload, n_stop;
        ctl_cmd_id last;
        char *last_args[4];
        struct ucred last_peer;
        int answer_r;             /* what the op returns */
        const char *answer_error; /* and the error text it sets */
        bool answer_now;          /* deferred ops: call done before returning */
        sup_control_done done;    /* a deferred answer still owed */
        void *token;
} fake;

static void fake_note(fake *f, const sup_control_request *q) {
        f->last = q->cmd->id;
        for (size_t i = 0; i < 4; i++) {
                free(f->last_args[i]);
                f->last_args[i] = i < q->n_args ? strdup(q->args[i]) : NULL;
        }
        f->last_peer = q->peer;
}

static int fake_error(fake *f, char **ret_error) {
        if (f->answer_error)
                *ret_error = strdup(f->answer_error);
        return f->answer_r;
}

static int fake_query(void *userdata, const sup_control_request *q, json_t **ret_json, char **ret_error) {
        fake *f = userdata;
        f->n_query++;
        fake_note(f, q);
        if (f->answer_r < 0)
                return fake_error(f, ret_error);
        *ret_json = json_pack("{s:s,s:I}", "command", q->cmd->name, "args", (json_int_t) q->n_args);
        return 0;
}

static int fake_defer(fake *f, const sup_control_request *q, sup_control_done done, void *token, char **ret_error) {
        fake_note(f, q);
        if (f->answer_r < 0)
                return fake_error(f, ret_error);
        if (f->answer_now)
                done(token, 0, NULL, json_pack("{s:s}", "now", q->cmd->name));
        else {
                ck_assert_ptr_null(f->done);
                f->done = done;
                f->token = token;
        }
        return 0;
}

static int fake_tree(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                     char **ret_error) {
        ((fake *) userdata)->n_tree++;
        return fake_defer(userdata, q, done, token, ret_error);
}

static int fake_sys(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                    char **ret_error) {
        ((fake *) userdata)->n_sys++;
        return fake_defer(userdata, q, done, token, ret_error);
}

static int fake_reload(void *userdata, const sup_control_request *q, sup_control_done done, void *token,
                       char **ret_error) {
        ((fake *) userdata)->n_reload++;
        return fake_defer(userdata, q, done, token, ret_error);
}

/* which-children "slices:N": {"children":[0,1,...,N-1]}, built one number
 * per slice ("slices:N:wait": waiting while slices_hold); other requests
 * go to fake_query. */
typedef struct fake_slices {
        int next, n;
        bool wait;
} fake_slices;

static int n_slice_steps, n_slices_freed, n_sliced, n_builds;
static bool slices_hold;

static int fake_slice_next(void *state, sup_strbuf *out) {
        fake_slices *s = state;
        char buf[48];
        if (s->wait && slices_hold)
                return SUP_CONTROL_SLICE_WAIT;
        n_slice_steps++;
        n_builds += s->next == 0;
        snprintf(buf, sizeof(buf), "%s%s%d", s->next == 0 ? "{\"children\":[" : "", s->next > 0 ? "," : "", s->next);
        ck_assert_int_eq(sup_strbuf_puts(out, buf), 0);
        if (++s->next < s->n)
                return 0;
        ck_assert_int_eq(sup_strbuf_puts(out, "]}"), 0);
        return 1;
}

static void fake_slice_free(void *state) {
        n_slices_freed++;
        free(state);
}

static int fake_sliced(void *userdata, const sup_control_request *q, sup_control_slices *ret, char **ret_error) {
        if (q->cmd->id != CTL_CMD_WHICH_CHILDREN || strncmp(q->args[0], "slices:", 7) != 0)
                return 0;
        fake_slices *s = calloc(1, sizeof(*s));
        ck_assert_ptr_nonnull(s);
        char *end;
        s->n = (int) strtol(q->args[0] + 7, &end, 10);
        s->wait = strcmp(end, ":wait") == 0;
        n_sliced++;
        *ret = (sup_control_slices) { .next = fake_slice_next, .free = fake_slice_free, .state = s };
        return 1;
}

static void fake_stop(void *userdata, const sup_control_request *q) {
        fake *f = userdata;
        f->n_stop++;
        fake_note(f, q);
}

static const sup_control_ops fake_ops = {
        .query = fake_query,
        .sliced = fake_sliced,
        .tree = fake_tree,
        .sys = fake_sys,
        .reload = fake_reload,
        .stop = fake_stop,
};

/* The deferred answer the fake owes. */
static void fake_answer(fake *f, int r, const char *error, json_t *json) {
        ck_assert_ptr_nonnull(f->done);
        sup_control_done done = f->done;
        f->done = NULL;
        done(f->token, r, error, json);
}

/* ---- one control socket per case ---- */

static char *dir;
static char *sock_path;
static sd_event *event;
static sup_control *ctl;
static fake fk;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void setup(void) {
        char tmpl[] = "/tmp/gensup-control-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(tmpl));
        dir = strdup(tmpl);
        ck_assert_int_ge(asprintf(&sock_path, "%s/control.sock", dir), 0);
        fk = (fake) { .last = _CTL_CMD_MAX };
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_eq(sup_control_open(event, dir, &fake_ops, &fk, &ctl), 0);
}

static void teardown(void) {
        ctl = sup_control_free(ctl);
        event = sd_event_unref(event);
        for (size_t i = 0; i < 4; i++)
                free(fk.last_args[i]);
        (void) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(sock_path);
        free(dir);
}

/* ---- the client's side ---- */

static ipc_conn *client(void) {
        int fd = ipc_connect(sock_path);
        ck_assert_int_ge(fd, 0);
        ipc_conn *c = NULL;
        ck_assert_int_eq(ipc_conn_new(fd, 0, &c), 0);
        return c;
}

static void send_ctl(ipc_conn *c, uint64_t ref, const char *command, const char *const *args) {
        Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
        ipc_frame f;
        size_t n = 0;
        while (args && args[n])
                n++;
        ipc_frame_init(&f, GENSUP__KIND__CTL, ref);
        req.command = (char *) command;
        req.args = (char **) args;
        req.n_args = n;
        f.ctl = &req;
        ck_assert_int_eq(ipc_conn_queue(c, &f), 0);
        ck_assert_int_eq(ipc_conn_flush(c), 0);
}

/* Runs the loop until the client has a frame: 0 with *ret, or
 * -ECONNRESET when the server closed first. */
static int recv_frame(ipc_conn *c, ipc_frame **ret) {
        for (int turn = 0; turn < MAX_TURNS; turn++) {
                int r = ipc_conn_next(c, ret);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        return 0;
                r = ipc_conn_read(c);
                if (r == -ECONNRESET)
                        return ipc_conn_next(c, ret) > 0 ? 0 : -ECONNRESET;
                if (r == -EAGAIN)
                        ck_assert_int_ge(sd_event_run(event, TURN_USEC), 0);
        }
        ck_abort_msg("no answer from the control socket");
        return -ETIMEDOUT;
}

/* The next CTL_REPLY: its code, its error text (copied into error) and
 * its document (a new reference, or NULL). */
static int recv_reply(ipc_conn *c, uint64_t ref, char *error, size_t size, json_t **ret_json) {
        ipc_frame *f = NULL;
        ck_assert_int_eq(recv_frame(c, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__CTL_REPLY);
        ck_assert_int_eq(f->ref, ref);
        ck_assert_ptr_nonnull(f->ctl_reply);
        int code = (int) f->ctl_reply->code;
        if (error)
                snprintf(error, size, "%s", f->ctl_reply->error ? f->ctl_reply->error : "");
        if (ret_json)
                *ret_json = json_loads(f->ctl_reply->json, 0, NULL);
        ipc_frame_free(f);
        return code;
}

/* Reads the answer to ref on c: a which-children of n children. */
static void expect_children(ipc_conn *c, uint64_t ref, size_t n) {
        json_t *j = NULL;
        ck_assert_int_eq(recv_reply(c, ref, NULL, 0, &j), 0);
        ck_assert_uint_eq(json_array_size(json_object_get(j, "children")), n);
        json_decref(j);
}

/* Runs the loop until cond holds. */
#define RUN_UNTIL(cond)                                                         \
        do {                                                                    \
                bool ok_ = false;                                               \
                for (int turn_ = 0; !(ok_ = (cond)) && turn_ < MAX_TURNS; turn_++) \
                        ck_assert_int_ge(sd_event_run(event, TURN_USEC), 0);    \
                ck_assert_msg(ok_, "never: %s", #cond);                         \
        } while (0)

#define ARGV(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* ---- cases ---- */

START_TEST(test_query_relayed) {
        ipc_conn *c = client();
        json_t *j = NULL;

        send_ctl(c, 5, "status", ARGV("w1"));
        ck_assert_int_eq(recv_reply(c, 5, NULL, 0, &j), 0);
        ck_assert_int_eq(fk.n_query, 1);
        ck_assert_int_eq(fk.last, CTL_CMD_STATUS);
        ck_assert_str_eq(fk.last_args[0], "w1");
        ck_assert_int_eq(fk.last_peer.pid, getpid());
        ck_assert_int_eq(fk.last_peer.uid, geteuid());
        ck_assert_str_eq(json_string_value(json_object_get(j, "command")), "status");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "args")), 1);
        json_decref(j);

        /* A refusal from the op carries its text. */
        fk.answer_r = -ENOENT;
        fk.answer_error = "no such child: w9";
        char error[256];
        send_ctl(c, 6, "history", ARGV("w9"));
        ck_assert_int_eq(recv_reply(c, 6, error, sizeof(error), NULL), ENOENT);
        ck_assert_str_eq(error, "no such child: w9");
        ck_assert_int_eq(fk.last, CTL_CMD_HISTORY);
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_refused_before_the_ops) {
        ipc_conn *c = client();
        char error[256];

        send_ctl(c, 1, "bogus", NULL);
        ck_assert_int_eq(recv_reply(c, 1, error, sizeof(error), NULL), EINVAL);
        ck_assert_str_eq(error, "unknown command: bogus");
        send_ctl(c, 2, "history", NULL);
        ck_assert_int_eq(recv_reply(c, 2, error, sizeof(error), NULL), EINVAL);
        ck_assert_str_eq(error, "wrong number of arguments");
        /* call and cast go to the server itself, never to gensupd. */
        send_ctl(c, 3, "call", ARGV("w1"));
        ck_assert_int_eq(recv_reply(c, 3, error, sizeof(error), NULL), EINVAL);
        ck_assert_int_eq(fk.n_query + fk.n_tree + fk.n_sys + fk.n_reload + fk.n_stop, 0);
        ipc_conn_free(c);
}
END_TEST

/* Deferred answers: each op is reached by its route, and its answer,
 * whenever it comes, goes to the request it belongs to. */
START_TEST(test_deferred_routes) {
        ipc_conn *c = client();
        json_t *j = NULL;

        send_ctl(c, 11, "terminate-child", ARGV("top", "w1"));
        RUN_UNTIL(fk.done != NULL);
        ck_assert_int_eq(fk.n_tree, 1);
        ck_assert_int_eq(fk.last, CTL_CMD_TERMINATE_CHILD);
        fake_answer(&fk, 0, NULL, json_pack("{s:s}", "name", "w1"));
        ck_assert_int_eq(recv_reply(c, 11, NULL, 0, &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "w1");
        json_decref(j);

        send_ctl(c, 12, "trace", ARGV("w1", "on"));
        RUN_UNTIL(fk.done != NULL);
        ck_assert_int_eq(fk.n_sys, 1);
        ck_assert_int_eq(fk.last, CTL_CMD_TRACE);
        char error[256];
        fake_answer(&fk, -ECONNRESET, "the child went away", NULL);
        ck_assert_int_eq(recv_reply(c, 12, error, sizeof(error), NULL), ECONNRESET);
        ck_assert_str_eq(error, "the child went away");

        /* An answer given before the op returns. */
        fk.answer_now = true;
        send_ctl(c, 13, "reload", NULL);
        ck_assert_int_eq(recv_reply(c, 13, NULL, 0, &j), 0);
        ck_assert_int_eq(fk.n_reload, 1);
        ck_assert_str_eq(json_string_value(json_object_get(j, "now")), "reload");
        json_decref(j);

        /* An op that fails at once answers nothing later. */
        fk.answer_now = false;
        fk.answer_r = -EBUSY;
        send_ctl(c, 14, "reload", NULL);
        ck_assert_int_eq(recv_reply(c, 14, error, sizeof(error), NULL), EBUSY);
        ck_assert_ptr_null(fk.done);
        ipc_conn_free(c);
}
END_TEST

/* A client that leaves before its answer: the answer is dropped when it
 * comes (run under valgrind or ASan to see that nothing freed is touched),
 * and the others are served. */
START_TEST(test_answer_after_client_left) {
        ipc_conn *c = client();
        send_ctl(c, 1, "restart-child", ARGV("top", "w1"));
        RUN_UNTIL(fk.done != NULL);
        ipc_conn_free(c);

        /* A round trip on another connection lets the loop see the EOF. */
        ipc_conn *other = client();
        send_ctl(other, 2, "status", NULL);
        ck_assert_int_eq(recv_reply(other, 2, NULL, 0, NULL), 0);
        fake_answer(&fk, 0, NULL, json_object());
        send_ctl(other, 3, "status", NULL);
        ck_assert_int_eq(recv_reply(other, 3, NULL, 0, NULL), 0);
        ipc_conn_free(other);
}
END_TEST

/* A deferred answer still owed when the control socket closes (gensupd's
 * exit): it may come later and is dropped. */
START_TEST(test_answer_after_close) {
        ipc_conn *c = client();
        send_ctl(c, 1, "get-state", ARGV("w1"));
        RUN_UNTIL(fk.done != NULL);
        ctl = sup_control_free(ctl);
        fake_answer(&fk, 0, NULL, json_object());
        ipc_frame *f = NULL;
        ck_assert_int_eq(recv_frame(c, &f), -ECONNRESET);
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_stop_answered_first) {
        ipc_conn *c = client();
        send_ctl(c, 9, "stop", NULL);
        ck_assert_int_eq(recv_reply(c, 9, NULL, 0, NULL), 0);
        ck_assert_int_eq(fk.n_stop, 1);
        ck_assert_int_eq(fk.last_peer.uid, geteuid());
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_events_kept_and_followed) {
        sup_control_event(ctl, json_pack("{s:s}", "event", "one"));
        ipc_conn *c = client();
        json_t *j = NULL;
        send_ctl(c, 1, "events", ARGV("--follow"));
        ck_assert_int_eq(recv_reply(c, 1, NULL, 0, &j), 0);
        ck_assert_int_eq(json_array_size(json_object_get(j, "events")), 1);
        json_decref(j);

        sup_control_event(ctl, json_pack("{s:s}", "event", "two"));
        ipc_frame *f = NULL;
        ck_assert_int_eq(recv_frame(c, &f), 0);
        ck_assert_int_eq(f->kind, GENSUP__KIND__EVENT);
        ck_assert_ptr_nonnull(strstr(f->event->json, "\"two\""));
        ipc_frame_free(f);
        ck_assert_int_eq(fk.n_query, 0);
        ipc_conn_free(c);
}
END_TEST

/* Half-closed: the client has sent all it will and waits. Its answer
 * (one that comes later too) is written, then the connection closes. */
START_TEST(test_half_close_answered) {
        ipc_conn *c = client();
        send_ctl(c, 21, "status", NULL);
        send_ctl(c, 22, "delete-child", ARGV("top", "w1"));
        ck_assert_int_eq(shutdown(ipc_conn_fd(c), SHUT_WR), 0);
        ck_assert_int_eq(recv_reply(c, 21, NULL, 0, NULL), 0);
        RUN_UNTIL(fk.done != NULL);
        fake_answer(&fk, 0, NULL, json_pack("{s:s}", "name", "w1"));
        ck_assert_int_eq(recv_reply(c, 22, NULL, 0, NULL), 0);
        ipc_frame *f = NULL;
        ck_assert_int_eq(recv_frame(c, &f), -ECONNRESET);
        ipc_conn_free(c);
}
END_TEST

#define FLOOD 200

/* One client that sends many requests at once does not hold the loop:
 * another client's request is answered while most of the flood still
 * waits, and every request of the flood is answered in the end, in
 * order. sd_event_run dispatches one source per call, so the number of
 * calls is the measure here, not time. */
START_TEST(test_flood_takes_turns) {
        ipc_conn *flood = client();
        for (uint64_t i = 0; i < FLOOD; i++) {
                Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
                ipc_frame f;
                ipc_frame_init(&f, GENSUP__KIND__CTL, 1000 + i);
                req.command = (char *) "status";
                f.ctl = &req;
                ck_assert_int_eq(ipc_conn_queue(flood, &f), 0);
        }
        ck_assert_int_eq(ipc_conn_flush(flood), 0);   /* one write: the requests arrive together */
        ipc_conn *other = client();
        send_ctl(other, 7, "status", NULL);
        ck_assert_int_eq(recv_reply(other, 7, NULL, 0, NULL), 0);

        /* What the flood has received so far. */
        size_t answered = 0;
        for (;;) {
                ipc_frame *f = NULL;
                int r = ipc_conn_next(flood, &f);
                if (r > 0) {
                        answered++;
                        ipc_frame_free(f);
                        continue;
                }
                if (ipc_conn_read(flood) <= 0)
                        break;
        }
        ck_assert_msg(answered < FLOOD / 2, "%zu of %d answered before the other client's one", answered, FLOOD);
        for (size_t i = answered; i < FLOOD; i++)
                ck_assert_int_eq(recv_reply(flood, 1000 + i, NULL, 0, NULL), 0);
        ck_assert_int_eq(fk.n_query, FLOOD + 1);
        ipc_conn_free(flood);
        ipc_conn_free(other);
}
END_TEST

/* ---- rate-limited log lines ---- */

#define NOBODY 65534
#define REFUSALS 50

/* In a child process that is nobody (in group NOBODY, a reader): sends
 * `stop` REFUSALS times, each answered EPERM. Exits 0 when they were. */
static void refused_writer(void) {
        if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                _exit(2);
        int fd = ipc_connect(sock_path);
        ipc_conn *c = NULL;
        if (fd < 0 || ipc_conn_new(fd, 0, &c) < 0)
                _exit(3);
        int status = 0;
        for (uint64_t i = 0; i < REFUSALS && status == 0; i++) {
                Gensup__CtlRequest req = GENSUP__CTL_REQUEST__INIT;
                ipc_frame f, *in = NULL;
                ipc_frame_init(&f, GENSUP__KIND__CTL, i + 1);
                req.command = (char *) "stop";
                f.ctl = &req;
                if (ipc_conn_queue(c, &f) < 0 || ipc_conn_flush(c) < 0)
                        status = 4;
                while (status == 0 && ipc_conn_next(c, &in) == 0) {
                        if (ipc_conn_wait(c, true, 10000) <= 0 || ipc_conn_read(c) < 0)
                                status = 5;
                }
                if (status == 0 && (!in || in->kind != GENSUP__KIND__CTL_REPLY || in->ctl_reply->code != EPERM))
                        status = 6;
                ipc_frame_free(in);
        }
        ipc_conn_free(c);
        _exit(status);
}

/* The lines of the log that hold needle, and the messages the lines
 * "N messages suppressed (what)" counted. */
static size_t count_lines(const char *path, const char *needle, const char *what, size_t *ret_held) {
        FILE *f = fopen(path, "re");
        char line[1024];
        size_t n = 0, held = 0;
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                n += strstr(line, needle) != NULL;
                unsigned long long k;
                char kind[64];
                const char *s = strstr(line, "control: ");
                if (s && sscanf(s, "control: %llu messages suppressed (%63[^)])", &k, kind) == 2 &&
                    strcmp(kind, what) == 0)
                        held += (size_t) k;
        }
        fclose(f);
        *ret_held = held;
        return n;
}

/* A reader that sends write commands in a loop: each is refused, a
 * bounded number of lines say so, and one line counts the rest once
 * their interval has ended. */
/* An answer built in slices: other clients are answered meanwhile, the
 * same client's next request after it, and its slices are freed once,
 * also when the client leaves in the middle. */
START_TEST(test_sliced_answer_takes_turns) {
        n_slice_steps = n_slices_freed = 0;
        ipc_conn *a = client(), *b = client();
        json_t *j = NULL;
        send_ctl(a, 1, "which-children", ARGV("slices:50"));
        send_ctl(a, 2, "status", ARGV("w1"));
        send_ctl(b, 3, "status", ARGV("w2"));
        ck_assert_int_eq(recv_reply(b, 3, NULL, 0, &j), 0);
        json_decref(j);
        ck_assert_int_lt(n_slice_steps, 50);
        ck_assert_int_eq(fk.n_query, 1);   /* b's; a's second waits for its first */

        ck_assert_int_eq(recv_reply(a, 1, NULL, 0, &j), 0);
        json_t *list = json_object_get(j, "children");
        ck_assert_uint_eq(json_array_size(list), 50);
        for (size_t i = 0; i < 50; i++)
                ck_assert_int_eq(json_integer_value(json_array_get(list, i)), (json_int_t) i);
        json_decref(j);
        ck_assert_int_eq(n_slice_steps, 50);
        ck_assert_int_eq(recv_reply(a, 2, NULL, 0, &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "command")), "status");
        json_decref(j);
        ck_assert_int_eq(n_slices_freed, 1);

        /* Built one at a time; b and c, asking the same while a's answer
         * is built, share one build. */
        ipc_conn *c = client();
        n_slice_steps = 0;
        send_ctl(a, 5, "which-children", ARGV("slices:30"));
        send_ctl(b, 6, "which-children", ARGV("slices:20"));
        send_ctl(c, 7, "which-children", ARGV("slices:20"));
        expect_children(a, 5, 30);
        expect_children(b, 6, 20);
        expect_children(c, 7, 20);
        ck_assert_int_eq(n_slice_steps, 30 + 20);
        ck_assert_int_eq(n_slices_freed, 4);
        ipc_conn_free(c);

        n_slice_steps = 50;
        n_slices_freed = 1;
        send_ctl(a, 4, "which-children", ARGV("slices:500"));
        RUN_UNTIL(n_slice_steps > 50);
        ipc_conn_free(a);
        RUN_UNTIL(n_slices_freed == 2);
        ck_assert_int_le(n_slice_steps, 50 + 500);
        ipc_conn_free(b);
}
END_TEST

/* A build that waits (the sampler's sweep, for a status) is called
 * again later, the loop serving others meanwhile; the same request
 * coming while it waits shares it (it has not begun). */
START_TEST(test_sliced_answer_waits) {
        n_slice_steps = n_slices_freed = n_sliced = n_builds = 0;
        slices_hold = true;
        ipc_conn *a = client(), *b = client(), *c = client();
        json_t *j = NULL;
        send_ctl(a, 1, "which-children", ARGV("slices:5:wait"));
        send_ctl(b, 2, "status", ARGV("w1"));
        ck_assert_int_eq(recv_reply(b, 2, NULL, 0, &j), 0);
        json_decref(j);
        ck_assert_int_eq(n_slice_steps, 0);   /* a's waits */
        send_ctl(c, 3, "which-children", ARGV("slices:5:wait"));
        RUN_UNTIL(n_sliced == 2);
        slices_hold = false;
        expect_children(a, 1, 5);
        expect_children(c, 3, 5);
        ck_assert_int_eq(n_builds, 1);   /* one build for both */
        ck_assert_int_eq(n_slice_steps, 5);
        ck_assert_int_eq(n_slices_freed, 2);
        ipc_conn_free(a);
        ipc_conn_free(b);
        ipc_conn_free(c);
}
END_TEST

/* Builds that wait (two statuses, for the sampler's sweep) do not hold
 * up a build queued behind them: it is built and answered while they
 * wait. One that shares a waiting build may go away meanwhile. Once
 * they are let go, each is answered whole, those asking the same
 * sharing one build. */
START_TEST(test_waiting_build_holds_no_other) {
        n_slice_steps = n_slices_freed = n_sliced = n_builds = 0;
        slices_hold = true;
        ipc_conn *a = client(), *b = client(), *c = client(), *d = client(), *e = client();
        send_ctl(a, 1, "which-children", ARGV("slices:5:wait"));
        send_ctl(c, 3, "which-children", ARGV("slices:6:wait"));
        send_ctl(d, 4, "which-children", ARGV("slices:5:wait"));
        send_ctl(e, 5, "which-children", ARGV("slices:5:wait"));
        RUN_UNTIL(n_sliced == 4);
        send_ctl(b, 2, "which-children", ARGV("slices:3"));
        expect_children(b, 2, 3);
        ck_assert_int_eq(n_builds, 1);   /* b's alone: the others still wait */
        ipc_conn_free(d);                /* gone while its build waits */
        slices_hold = false;
        expect_children(a, 1, 5);
        expect_children(e, 5, 5);
        expect_children(c, 3, 6);
        ck_assert_int_eq(n_builds, 3);   /* b's, a's shared by d and e, c's */
        RUN_UNTIL(n_slices_freed == 5);  /* d's too, its answer undeliverable */
        ipc_conn_free(a);
        ipc_conn_free(b);
        ipc_conn_free(c);
        ipc_conn_free(e);
}
END_TEST

/* A shared answer goes to its recipients one a turn (each is a copy of
 * the whole answer): the builder first, then those sharing it. The
 * control socket closing while some still wait for theirs frees it all. */
START_TEST(test_shared_answer_closed_while_sent) {
        n_slice_steps = n_slices_freed = 0;
        ipc_conn *a = client(), *b = client(), *c = client();
        send_ctl(a, 1, "which-children", ARGV("slices:30"));
        send_ctl(b, 2, "which-children", ARGV("slices:20"));
        send_ctl(c, 3, "which-children", ARGV("slices:20"));
        expect_children(a, 1, 30);
        expect_children(b, 2, 20);
        ck_assert_int_eq(n_slice_steps, 30 + 20);   /* b and c shared one build */
        ctl = sup_control_free(ctl);
        ck_assert_int_eq(n_slices_freed, 3);
        ipc_conn_free(a);
        ipc_conn_free(b);
        ipc_conn_free(c);
}
END_TEST

START_TEST(test_refused_writes_rate_limited) {
        if (geteuid() != 0)
                return;   /* only root can become a reader here */
        ck_assert_int_eq(chmod(dir, 0755), 0);
        sup_control_set_group(ctl, "65534");
        char *log_path = NULL;
        ck_assert_int_ge(asprintf(&log_path, "%s/log", dir), 0);
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(log_fd, 0);
        int saved = dup(STDERR_FILENO);
        ck_assert_int_ge(saved, 0);
        ck_assert_int_eq(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                refused_writer();
        int status = -1;
        RUN_UNTIL(waitpid(pid, &status, WNOHANG) == pid);
        /* Every refusal is told, in a line or in a count; the last count
         * comes when its interval ends. */
        size_t lines = 0, held = 0;
        RUN_UNTIL((lines = count_lines(log_path, "control: refused stop from pid ", "refused write commands",
                                       &held)) + held >= REFUSALS);

        ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(log_fd);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader: wait status %#x", status);
        ck_assert_int_eq(fk.n_stop, 0);
        ck_assert_int_eq(lines + held, REFUSALS);
        ck_assert_int_ge(held, 1);
        ck_assert_msg(lines < REFUSALS / 2, "%zu lines for %d refusals", lines, REFUSALS);
        free(log_path);
}
END_TEST

Suite *control_suite(void) {
        Suite *s = suite_create("control");
        TCase *tc = tcase_create("ops");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, TIMEOUT_S);
        tcase_add_test(tc, test_query_relayed);
        tcase_add_test(tc, test_refused_before_the_ops);
        tcase_add_test(tc, test_deferred_routes);
        tcase_add_test(tc, test_answer_after_client_left);
        tcase_add_test(tc, test_answer_after_close);
        tcase_add_test(tc, test_stop_answered_first);
        tcase_add_test(tc, test_events_kept_and_followed);
        tcase_add_test(tc, test_half_close_answered);
        tcase_add_test(tc, test_flood_takes_turns);
        tcase_add_test(tc, test_refused_writes_rate_limited);
        tcase_add_test(tc, test_sliced_answer_takes_turns);
        tcase_add_test(tc, test_shared_answer_closed_while_sent);
        tcase_add_test(tc, test_sliced_answer_waits);
        tcase_add_test(tc, test_waiting_build_holds_no_other);
        suite_add_tcase(s, tc);
        return s;
}
