/* exit_reason.c: a child's exit reason from its report and wait status. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_reason.h"
#include "ipc.h"

char *sup_text_clean(const char *text, size_t max, bool multiline) {
        return ipc_text_clean(text, max, multiline);
}

char *sup_reason_clean(const char *reason) {
        return sup_text_clean(reason, SUP_REASON_MAX, false);
}

const char *sup_signal_name(int sig, char buf[static 16]) {
        const char *abbrev = sigabbrev_np(sig);

        if (abbrev) {
                snprintf(buf, 16, "SIG%s", abbrev);
                return buf;
        }
        snprintf(buf, 16, "SIG%d", sig);
        return buf;
}

/* ---- the parsed reason ---- */

int sup_reason_with_text(ipc_reason_kind kind, const char *text, sup_reason *ret) {
        *ret = (sup_reason) { .kind = kind };
        if (!text)
                return 0;
        ret->text = strdup(text);
        return ret->text ? 0 : -ENOMEM;
}

int sup_reason_copy(const sup_reason *r, sup_reason *ret) {
        sup_reason copy = *r;

        if (r->text && !(copy.text = strdup(r->text)))
                return -ENOMEM;
        *ret = copy;
        return 0;
}

void sup_reason_done(sup_reason *r) {
        if (!r)
                return;
        free(r->text);
        *r = (sup_reason) { .kind = IPC_REASON_NORMAL };
}

/* The number of a signal as sup_signal_name() spells it, or -EINVAL. */
static int signal_number(const char *name, size_t len) {
        /* SIG42: one without a name (any number a wait status can hold). */
        if (len > 3 && len <= 6 && strncmp(name, "SIG", 3) == 0 && name[3] != '0' &&
            strspn(name + 3, "0123456789") >= len - 3)
                return (int) strtol(name + 3, NULL, 10);
        for (int sig = 1; sig < NSIG; sig++) {
                char buf[16];
                const char *s = sup_signal_name(sig, buf);
                if (strlen(s) == len && strncmp(s, name, len) == 0)
                        return sig;
        }
        return -EINVAL;
}

static int parse_signal(const char *arg, size_t len, sup_reason *ret) {
        static const char dumped[] = ",core_dumped", oom[] = ",oom_kill";
        size_t d = strlen(dumped), o = strlen(oom);
        bool core = len > d && memcmp(arg + len - d, dumped, d) == 0;
        bool oom_kill = !core && len > o && memcmp(arg + len - o, oom, o) == 0;
        int sig = signal_number(arg, core ? len - d : oom_kill ? len - o : len);

        if (sig < 0)
                return sig;
        *ret = (sup_reason) { .kind = IPC_REASON_SIGNAL, .code = sig, .core_dumped = core, .oom_kill = oom_kill };
        return 0;
}

static int parse_status(const char *arg, size_t len, sup_reason *ret) {
        int status = 0;

        if (len == 0 || len > 3)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (arg[i] < '0' || arg[i] > '9')
                        return -EINVAL;
                status = status * 10 + (arg[i] - '0');
        }
        *ret = (sup_reason) { .kind = IPC_REASON_EXIT_STATUS, .code = status };
        return 0;
}

int sup_reason_parse(const char *text, sup_reason *ret) {
        ipc_reason_kind kind;
        const char *arg;
        size_t len;
        int r = ipc_reason_parse(text, &kind, &arg, &len);

        if (r < 0)
                return r;
        switch (kind) {
        case IPC_REASON_EXIT_STATUS:
                return parse_status(arg, len, ret);
        case IPC_REASON_SIGNAL:
                return parse_signal(arg, len, ret);
        case IPC_REASON_SHUTDOWN_TEXT:
        case IPC_REASON_ERROR:
        case IPC_REASON_INIT_FAILED: {
                char *copy = strndup(arg, len);
                if (!copy)
                        return -ENOMEM;
                *ret = (sup_reason) { .kind = kind, .text = copy };
                return 0;
        }
        case IPC_REASON_NORMAL:
        case IPC_REASON_SHUTDOWN:
        case IPC_REASON_KILLED:
        case IPC_REASON_START_TIMEOUT:
        case _IPC_REASON_KIND_MAX:
                break;
        }
        *ret = (sup_reason) { .kind = kind };
        return 0;
}

char *sup_reason_to_string(const sup_reason *r) {
        const char *text = r->text ? r->text : "undefined";
        char name[16];
        char *s = NULL;
        int n = -1;

        switch (r->kind) {
        case IPC_REASON_NORMAL: return strdup("normal");
        case IPC_REASON_SHUTDOWN: return strdup("shutdown");
        case IPC_REASON_KILLED: return strdup("killed");
        case IPC_REASON_START_TIMEOUT: return strdup("start_timeout");
        case IPC_REASON_SHUTDOWN_TEXT: n = asprintf(&s, "{shutdown,%s}", text); break;
        case IPC_REASON_ERROR: n = asprintf(&s, "{error,%s}", text); break;
        case IPC_REASON_INIT_FAILED: n = asprintf(&s, "{init_failed,%s}", text); break;
        case IPC_REASON_EXIT_STATUS: n = asprintf(&s, "{exit_status,%d}", r->code); break;
        case IPC_REASON_SIGNAL:
                n = asprintf(&s, "{signal,%s%s}", sup_signal_name(r->code, name),
                             r->core_dumped ? ",core_dumped" : r->oom_kill ? ",oom_kill" : "");
                break;
        case _IPC_REASON_KIND_MAX:
                break;
        }
        return n < 0 ? NULL : s;
}

/* ---- from what gensupd saw ---- */

/* A child's own word, as gs_reason_normalize() takes it: one of the four
 * a server may give, else {error,T}. proc.c's {init_failed,R} is already
 * spelled right (normalising would make it {error,{init_failed,R}}). */
static int from_report(const char *reported, sup_reason *ret) {
        sup_reason parsed;
        int r = sup_reason_parse(reported, &parsed);

        if (r == -ENOMEM) {
                *ret = (sup_reason) { .kind = IPC_REASON_ERROR };
                return -ENOMEM;
        }
        if (r == 0 && (ipc_reason_kind_is_servers(parsed.kind) || parsed.kind == IPC_REASON_INIT_FAILED)) {
                *ret = parsed;
                return 0;
        }
        if (r == 0)
                sup_reason_done(&parsed);
        return sup_reason_with_text(IPC_REASON_ERROR, reported, ret);
}

int sup_exit_reason(const sup_exit_facts *f, sup_reason *ret) {
        /* Our own SIGKILL wins over anything the child said: it did not end
         * the way it reported, we ended it. */
        if (f->sent_kill && f->code == CLD_KILLED && f->status == SIGKILL) {
                *ret = (sup_reason) { .kind = IPC_REASON_KILLED };
                return 0;
        }
        /* The kernel's OOM killer, not a SIGKILL from anyone. */
        if (f->oom_killed && f->code == CLD_KILLED && f->status == SIGKILL) {
                *ret = (sup_reason) { .kind = IPC_REASON_SIGNAL, .code = SIGKILL, .oom_kill = true };
                return 0;
        }
        if (f->reported && *f->reported)
                return from_report(f->reported, ret);

        switch (f->code) {
        case CLD_EXITED:
                /* A program that exits 0 when asked to stop did stop as
                 * asked: shutdown, as for one that dies of our SIGTERM. */
                if (f->status == 0)
                        *ret = (sup_reason) { .kind = f->sent_term ? IPC_REASON_SHUTDOWN : IPC_REASON_NORMAL };
                else
                        *ret = (sup_reason) { .kind = IPC_REASON_EXIT_STATUS, .code = f->status };
                return 0;
        case CLD_KILLED:
                if (f->sent_term && f->status == SIGTERM)
                        *ret = (sup_reason) { .kind = IPC_REASON_SHUTDOWN };
                else
                        *ret = (sup_reason) { .kind = IPC_REASON_SIGNAL, .code = f->status };
                return 0;
        case CLD_DUMPED:
                *ret = (sup_reason) { .kind = IPC_REASON_SIGNAL, .code = f->status, .core_dumped = true };
                return 0;
        default:
                *ret = (sup_reason) { .kind = IPC_REASON_EXIT_STATUS, .code = f->status };
                return 0;
        }
}
