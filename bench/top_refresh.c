/* top_refresh.c: what one refresh of `gensupctl top` costs on the client
 * with N children (default 10,000): parse the status document, rebuild
 * the rows and their rate samples (supervisor/ctl/top_model.c), sort
 * them by CPU. The baseline, measured in the same run and interleaved,
 * is the parse and free of the document alone, which `gensupctl --json
 * status` pays too (a refresh frees the previous one).
 * gensupd's side (building the document) is sup-bench.sh's `status`
 * part. The document is synthetic: 100 supervisors of N/100 workers, the
 * fields gensupd gives, CPU counters that move between refreshes.
 *
 *   top_refresh [N [ROUNDS]]   prints median and p99 (ms) and the ratio */
#include <jansson.h>

#include "bench.h"
#include "../supervisor/ctl/top_model.h"

static json_t *worker(size_t i, size_t round) {
        char name[32];
        snprintf(name, sizeof(name), "w-%zu", i);
        return json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:n,s:{},s:b,s:s,s:I,s:I,s:I}", "name", name, "type", "worker",
                         "state", "running", "pid", (json_int_t) (1000 + i), "restart", "permanent", "restarts",
                         (json_int_t) (i % 7), "uptime_ms", (json_int_t) (60000 + round * 1000), "reason", "exits",
                         "ready", 1, "kill_mode", "cgroup", "memory_bytes", (json_int_t) (1 << 20) + (json_int_t) i,
                         "cpu_us", (json_int_t) (round * 1000 * (i % 13)), "processes", (json_int_t) 1);
}

static char *status_text(size_t n, size_t round) {
        json_t *root = json_pack("{s:s,s:s,s:s,s:I,s:[]}", "name", "top", "type", "supervisor", "state", "running",
                                 "pid", (json_int_t) 1, "children");
        json_t *kids = json_object_get(root, "children");
        size_t per = n / 100 ? n / 100 : 1;
        for (size_t s = 0; s * per < n; s++) {
                char name[32];
                snprintf(name, sizeof(name), "sup-%zu", s);
                json_t *sup = json_pack("{s:s,s:s,s:s,s:n,s:I,s:I,s:[]}", "name", name, "type", "supervisor", "state",
                                        "running", "pid", "restarts", (json_int_t) 0, "uptime_ms", (json_int_t) 60000,
                                        "children");
                for (size_t i = s * per; i < n && i < (s + 1) * per; i++)
                        json_array_append_new(json_object_get(sup, "children"), worker(i, round));
                json_array_append_new(kids, sup);
        }
        json_t *doc = json_pack("{s:{s:I,s:I},s:o}", "gensupd", "pid", (json_int_t) 1, "uptime_ms", (json_int_t) 60000,
                                "tree", root);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        return text;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
        size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 50;
        char *text[2] = { status_text(n, 1), status_text(n, 2) };
        int64_t *parse = calloc(rounds, sizeof(*parse)), *refresh = calloc(rounds, sizeof(*refresh));
        top_model m = { .sort = TOP_SORT_CPU };

        for (size_t r = 0; r < rounds; r++) {
                /* Interleaved: the baseline, then the refresh, each round. */
                int64_t t0 = bench_now_ns();
                json_t *doc = json_loads(text[r % 2], 0, NULL);
                json_decref(doc);
                int64_t t1 = bench_now_ns();
                int64_t t2 = bench_now_ns();
                doc = json_loads(text[r % 2], 0, NULL);
                if (!doc || top_model_update(&m, doc, (uint64_t) (r + 1) * 1000u) < 0)
                        bench_die("top_model_update", ENOMEM);
                int64_t t3 = bench_now_ns();
                parse[r] = t1 - t0;
                refresh[r] = t3 - t2;
        }
        qsort(parse, rounds, sizeof(*parse), cmp_i64);
        qsort(refresh, rounds, sizeof(*refresh), cmp_i64);
        size_t mid = rounds / 2, p99 = rounds * 99 / 100;
        printf("top refresh, %zu children, %zu rounds: parse+free %.2f ms (p99 %.2f), refresh (parse, free the "
               "last, rows, sort) %.2f ms (p99 %.2f): %.2fx; %zu rows, %zu tracks\n",
               n, rounds, parse[mid] / 1e6, parse[p99] / 1e6, refresh[mid] / 1e6, refresh[p99] / 1e6,
               (double) refresh[mid] / (double) parse[mid], m.n_rows, m.n_tracks);
        top_model_done(&m);
        free(parse);
        free(refresh);
        free(text[0]);
        free(text[1]);
        return 0;
}
