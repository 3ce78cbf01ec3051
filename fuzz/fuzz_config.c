/* fuzz_config.c: gensupd's config parser and validator on any text: a
 * whole file (sup_config_load, from a file in an empty directory, so an
 * @include finds nothing) and a child spec fragment (sup_spec_parse, as
 * start-child and reload take them). Each returns a config or error
 * lines, never both, and frees everything. */
/* The checks below are the point (and some have effects): never off. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[] = "/tmp/gs-fuzz-config-XXXXXX";
static char *path;

static void cleanup(void) {
        if (path)
                unlink(path);
        rmdir(dir);
        free(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        assert(mkdtemp(dir));
        assert(asprintf(&path, "%s/gensup.conf", dir) > 0);
        atexit(cleanup);
        return 0;
}

static void load_file(const uint8_t *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert(fd >= 0);
        assert(write(fd, data, size) == (ssize_t) size);
        close(fd);

        sup_config *c = NULL;
        sup_errors e = { 0 };
        int r = sup_config_load(path, &c, &e);
        if (r == 0)
                assert(c && c->root && e.n == 0);
        else
                assert(!c && (e.n > 0 || r == -ENOMEM));
        sup_config_free(c);
        sup_errors_done(&e);
}

static void parse_fragment(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        assert(text);
        memcpy(text, data, size);
        text[size] = '\0';
        sup_spec *s = NULL;
        sup_errors e = { 0 };
        int r = sup_spec_parse(text, "fragment", dir, NULL, NULL, &s, &e);
        if (r == 0)
                assert(s && e.n == 0);
        else
                assert(!s);
        sup_spec_free(s);
        sup_errors_done(&e);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Past a few KiB the parser only sees more of the same. */
        if (size > 16384)
                return 0;
        load_file(data, size);
        parse_fragment(data, size);
        return 0;
}
