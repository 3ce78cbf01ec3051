/* exit_reason.c: a child's exit reason from its report and wait status. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_reason.h"

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t min, cp;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, min = 0x80, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, min = 0x800, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, min = 0x10000, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

char *sup_text_clean(const char *text, size_t max, bool multiline) {
        const unsigned char *in = (const unsigned char *) text;
        size_t n = strnlen(text, max);
        char *out = malloc(n + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_len(in + i, n - i);
                bool control = len == 1 && (in[i] < 0x20 || in[i] == 0x7f) &&
                               !(multiline && (in[i] == '\n' || in[i] == '\t'));
                if (len == 0 || control) {
                        out[o++] = '?';
                        i++;
                        continue;
                }
                memcpy(out + o, in + i, len);
                o += len;
                i += len;
        }
        out[o] = '\0';
        return out;
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
