/* main.c -- the unit-test runner: runs every TEST() registered by the
 * tests/unit/test-*.c files, prints one line per test and a closing
 * "N passed, N failed, N skipped" line. An argument filters tests by
 * substring. A skipped test (SKIP()) is never counted as passed. */
#include "test.h"

#include <signal.h>

#define MAX_TESTS 4096

static struct { const char *name; test_fn fn; } tests[MAX_TESTS];
static int ntests;
int test_failed;
const char *test_skipped;

void test_register(const char *name, test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

const char *conformance_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("LLMUX_CONFORMANCE");

    if (dir == NULL)
        dir = CONFORMANCE_DIR;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return path;
}

char *test_read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
        if (fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        } else {
            p[n] = '\0';
            if (ret_len)
                *ret_len = (size_t)n;
        }
    }
    fclose(f);
    return p;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;

    signal(SIGPIPE, SIG_IGN);
    /* Constructors run in link order; sort so output is stable. */
    qsort(tests, (size_t)ntests, sizeof(tests[0]), by_name);
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
            continue;
        test_failed = 0;
        test_skipped = NULL;
        tests[i].fn();
        if (test_failed) {
            printf("FAIL unit/%s\n", tests[i].name);
            failed++;
        } else if (test_skipped) {
            printf("skip unit/%s: %s\n", tests[i].name, test_skipped);
            skipped++;
        } else {
            printf("ok   unit/%s\n", tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
