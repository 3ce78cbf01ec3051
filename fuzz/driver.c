/* driver.c: runs a fuzz harness over files, without libFuzzer: make check
 * builds every harness with the normal compiler and this main, and runs
 * each over its committed corpus once (a regression test). Arguments are
 * files or directories (their files, not recursive). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t n_inputs;

static int run_file(const char *path) {
        FILE *f = fopen(path, "rbe");
        if (!f) {
                perror(path);
                return -1;
        }
        uint8_t *data = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (len == cap) {
                        cap = cap ? cap * 2 : 4096;
                        uint8_t *p = realloc(data, cap);
                        if (!p)
                                abort();
                        data = p;
                }
                size_t n = fread(data + len, 1, cap - len, f);
                if (n == 0)
                        break;
                len += n;
        }
        fclose(f);
        /* A copy of exactly len bytes: ASan then sees any overread. */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact)
                abort();
        memcpy(exact, data, len);
        free(data);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        n_inputs++;
        return 0;
}

static int run_dir(const char *dir) {
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);
        if (n < 0) {
                perror(dir);
                return -1;
        }
        int r = 0;
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        char *p;
                        if (asprintf(&p, "%s/%s", dir, names[i]->d_name) < 0)
                                abort();
                        if (run_file(p) < 0)
                                r = -1;
                        free(p);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv) {
        int r = 0;

        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        r = -1;
                } else if (S_ISDIR(st.st_mode) ? run_dir(argv[i]) < 0 : run_file(argv[i]) < 0)
                        r = -1;
        }
        printf("%s: %zu inputs, no crash\n", argv[0], n_inputs);
        return r < 0 || n_inputs == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
