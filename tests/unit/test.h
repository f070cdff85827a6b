/* test.h -- a tiny test registry in the style of libuv's test-list.h.
 * Owns: the TEST() macro, the ASSERT family and the conformance-data path.
 * Every tests/unit/test-*.c is linked into one binary (build/unit-tests) that
 * runs every registered test, or only those whose names contain argv[1]. */
#ifndef LLMUX_TEST_H
#define LLMUX_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);

/* Set by the ASSERT macros; the runner reads it after each test. */
extern int test_failed;
/* Set by SKIP(): the reason this test could not run here. The runner
 * prints "skip unit/NAME: reason" and counts it apart from passes. */
extern const char *test_skipped;

#define SKIP(reason) do { test_skipped = (reason); return; } while (0)

#define TEST(name)                                                          \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void test_reg_##name(void)          \
    { test_register(#name, test_##name); }                                  \
    static void test_##name(void)

#define ASSERT(cond) do {                                                   \
    if (!(cond)) {                                                          \
        fprintf(stderr, "  %s:%d: assertion failed: %s\n",                  \
                __FILE__, __LINE__, #cond);                                 \
        test_failed = 1; return;                                            \
    } } while (0)

#define ASSERT_EQ(a, b) do {                                                \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) {                                                         \
        fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n",         \
                __FILE__, __LINE__, #a, #b, a_, b_);                        \
        test_failed = 1; return;                                            \
    } } while (0)

#define ASSERT_STR_EQ(a, b) do {                                            \
    const char *a_ = (a), *b_ = (b);                                        \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                  \
        fprintf(stderr, "  %s:%d: %s == %s failed:\n    got  \"%s\"\n"       \
                "    want \"%s\"\n", __FILE__, __LINE__, #a, #b,            \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
        test_failed = 1; return;                                            \
    } } while (0)

#define ASSERT_MEM_EQ(a, b, n) do {                                         \
    if (memcmp((a), (b), (n)) != 0) {                                       \
        fprintf(stderr, "  %s:%d: memory %s == %s failed\n",                \
                __FILE__, __LINE__, #a, #b);                                \
        test_failed = 1; return;                                            \
    } } while (0)

/* Path of ../shared/conformance (set by the Makefile; override with
 * $LLMUX_CONFORMANCE). Returns a static buffer holding DIR/rel. */
const char *conformance_path(const char *rel);

/* Reads a whole file; returns a malloc'd NUL-terminated buffer the caller
 * frees, or NULL. *ret_len gets the length without the NUL (may be NULL). */
char *test_read_file(const char *path, size_t *ret_len);

#endif
