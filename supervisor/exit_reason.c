/* exit_reason.c: a child's exit reason from its report and wait status. */
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

int sup_exit_reason(const sup_exit_facts *f, gs_buf *out) {
        char name[16];

        gs_buf_clear(out);
        /* Our own SIGKILL wins over anything the child said: it did not end
         * the way it reported, we ended it. */
        if (f->sent_kill && f->code == CLD_KILLED && f->status == SIGKILL)
                return gs_buf_printf(out, "killed");
        /* proc.c wraps an INIT_FAILED frame's reason as {init_failed,R}
         * itself: already spelled right, and no server reason to normalise
         * (that would make it {error,{init_failed,R}}). */
        if (f->reported && strncmp(f->reported, "{init_failed,", strlen("{init_failed,")) == 0)
                return gs_buf_printf(out, "%s", f->reported);
        if (f->reported && *f->reported)
                return gs_reason_normalize(f->reported, out);

        switch (f->code) {
        case CLD_EXITED:
                /* A program that exits 0 when asked to stop did stop as
                 * asked: shutdown, as for one that dies of our SIGTERM. */
                if (f->status == 0)
                        return gs_buf_printf(out, f->sent_term ? "shutdown" : "normal");
                return gs_buf_printf(out, "{exit_status,%d}", f->status);
        case CLD_KILLED:
                if (f->sent_term && f->status == SIGTERM)
                        return gs_buf_printf(out, "shutdown");
                return gs_buf_printf(out, "{signal,%s}", sup_signal_name(f->status, name));
        case CLD_DUMPED:
                return gs_buf_printf(out, "{signal,%s,core_dumped}", sup_signal_name(f->status, name));
        default:
                return gs_buf_printf(out, "{exit_status,%d}", f->status);
        }
}
