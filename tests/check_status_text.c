/* check_status_text.c: the JSON strings status_text.c writes by hand
 * (supervisor/status_text.c): whatever bytes a name, a reason or an
 * argument holds, the text is valid JSON that reads back as the same
 * string, invalid UTF-8 becoming U+FFFD. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "status_text.h"

Suite *status_text_suite(void);

/* s written, parsed back by jansson as a JSON array's one string. */
static char *round_trip(const char *s) {
        sup_strbuf b = { 0 };
        ck_assert_int_eq(sup_strbuf_puts(&b, "["), 0);
        ck_assert_int_eq(sup_json_put_string(&b, s), 0);
        ck_assert_int_eq(sup_strbuf_puts(&b, "]"), 0);
        json_error_t err;
        json_t *j = json_loads(b.data, 0, &err);
        ck_assert_msg(j != NULL, "not JSON: %s: %s", b.data, err.text);
        sup_strbuf_done(&b);
        char *out = json_is_string(json_array_get(j, 0)) ? strdup(json_string_value(json_array_get(j, 0))) : NULL;
        json_decref(j);
        return out;
}

static void same(const char *in, const char *expected) {
        char *out = round_trip(in);
        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(out, expected);
        free(out);
}

START_TEST(test_plain_and_escaped) {
        same("", "");
        same("w00017", "w00017");
        same("{error,\"quoted\" \\ back}", "{error,\"quoted\" \\ back}");
        same("tab\there\nnew\rline\b\f\x01\x1f\x7f", "tab\there\nnew\rline\b\f\x01\x1f\x7f");
        same("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_invalid_utf8_replaced) {
        same("a\xff" "b", "a\xef\xbf\xbd" "b");
        same("\xc3", "\xef\xbf\xbd");                       /* cut short */
        same("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");       /* overlong */
        same("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");   /* a surrogate */
        same("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");   /* past U+10FFFF */
}
END_TEST

START_TEST(test_null_is_null) {
        sup_strbuf b = { 0 };
        ck_assert_int_eq(sup_json_put_string(&b, NULL), 0);
        ck_assert_str_eq(b.data, "null");
        sup_strbuf_done(&b);
}
END_TEST

Suite *status_text_suite(void) {
        Suite *s = suite_create("status_text");
        TCase *tc = tcase_create("strings");
        tcase_add_test(tc, test_plain_and_escaped);
        tcase_add_test(tc, test_invalid_utf8_replaced);
        tcase_add_test(tc, test_null_is_null);
        suite_add_tcase(s, tc);
        return s;
}
