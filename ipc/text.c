/* text.c: text from a peer, made fit to show.
 *
 * A peer's text reaches logs, JSON, `history` and terminals. Whatever
 * could act on the reader instead of being read is replaced: bytes that
 * are not UTF-8 (they break JSON), C0 and C1 control characters (ESC and
 * U+009B CSI start terminal escape sequences; a newline forges a log
 * line), and the characters that reorder or hide text (Unicode's bidi
 * embeddings, overrides and isolates U+202A..U+202E and U+2066..U+2069,
 * the marks U+200E, U+200F, U+061C, and the line and paragraph separators
 * U+2028 and U+2029), as Trojan Source (CVE-2021-42574) showed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0,
 * and its code point in *ret_cp. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        size_t len;
        uint32_t min, cp;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
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
        *ret_cp = cp;
        return len;
}

bool ipc_char_unsafe(uint32_t cp, bool multiline) {
        if (cp < 0x20)
                return !(multiline && (cp == '\n' || cp == '\t'));
        return (cp >= 0x7f && cp <= 0x9f) ||          /* DEL, C1 controls */
               (cp >= 0x202a && cp <= 0x202e) ||       /* bidi embeddings, overrides */
               (cp >= 0x2066 && cp <= 0x2069) ||       /* bidi isolates */
               cp == 0x200e || cp == 0x200f || cp == 0x061c ||   /* direction marks */
               cp == 0x2028 || cp == 0x2029;           /* line, paragraph separators */
}

size_t ipc_text_sanitize(char *buf, size_t len, bool multiline) {
        unsigned char *b = (unsigned char *) buf;
        size_t o = 0;

        for (size_t i = 0; i < len;) {
                uint32_t cp = 0;
                size_t n = utf8_len(b + i, len - i, &cp);
                if (n == 0 || ipc_char_unsafe(cp, multiline)) {
                        /* One '?' per byte that is not UTF-8, one per character otherwise. */
                        b[o++] = '?';
                        i += n ? n : 1;
                        continue;
                }
                memmove(b + o, b + i, n);
                o += n;
                i += n;
        }
        return o;
}

char *ipc_text_clean(const char *text, size_t max, bool multiline) {
        size_t n = strnlen(text, max);
        char *out = malloc(n + 1);

        if (!out)
                return NULL;
        memcpy(out, text, n);
        out[ipc_text_sanitize(out, n, multiline)] = '\0';
        return out;
}
