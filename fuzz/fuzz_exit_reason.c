/* fuzz_exit_reason.c: exit reasons from text a child sends: parsed and
 * spelled again (sup_reason_parse is the inverse of
 * sup_reason_to_string: a spelled reason parses to the same spelling),
 * cleaned to one printable line, named from the facts gensupd saw, and
 * normalized as libgensup does. Kept thin: the parse is exit_reason.c's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>

#include "exit_reason.h"
#include "gensup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *s) {
        assert(s);
        assert(strlen(s) <= SUP_REASON_MAX);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                assert(*p >= 0x20 && *p != 0x7f);
}

static void roundtrip(const char *text) {
        sup_reason r, back;
        if (sup_reason_parse(text, &r) != 0)
                return;
        char *s = sup_reason_to_string(&r);
        assert(s);
        assert(sup_reason_parse(s, &back) == 0);
        assert(back.kind == r.kind && back.code == r.code && back.core_dumped == r.core_dumped);
        char *again = sup_reason_to_string(&back);
        assert(again && strcmp(again, s) == 0);
        free(again);
        free(s);
        sup_reason_done(&back);
        sup_reason_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        assert(text);
        memcpy(text, data, size);
        text[size] = '\0';

        roundtrip(text);
        char *clean = sup_reason_clean(text);
        check_line(clean);
        /* Cleaning is idempotent. */
        char *again = sup_reason_clean(clean);
        assert(strcmp(again, clean) == 0);
        free(again);
        roundtrip(clean);

        /* As gensupd names an exit after the child reported clean. */
        sup_exit_facts f = { .reported = clean, .code = CLD_EXITED, .status = size ? data[0] : 0 };
        sup_reason reason;
        if (sup_exit_reason(&f, &reason) == 0) {
                char *s = sup_reason_to_string(&reason);
                assert(s && *s);
                free(s);
        }
        sup_reason_done(&reason);

        gs_buf norm = GS_BUF_INIT;
        if (gs_reason_normalize(text, &norm) == 0)
                (void) gs_reason_is_clean((const char *) norm.data);
        (void) gs_reason_is_clean(text);
        gs_buf_done(&norm);

        free(clean);
        free(text);
        return 0;
}
