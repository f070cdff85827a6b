/* fuzz.h -- what the libFuzzer targets of tests/fuzz/ share.
 * Owns: the entry point declaration, an assertion that reports and aborts
 * (libFuzzer then saves the input), and the split-feeding helper the
 * stream-parser targets use to compare a whole feed with a piecewise one. */
#ifndef LLMUX_FUZZ_H
#define LLMUX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failure: say which, then abort so libFuzzer keeps the input. */
#define FUZZ_ASSERT(c)                                                      \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n",           \
                    __FILE__, __LINE__, #c);                                \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* FNV-1a, to fingerprint a sequence of parser outputs cheaply. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *u = p;

    if (h == 0)
        h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ u[i]) * 1099511628211ull;
    return h;
}

/* Piece sizes for a piecewise feed, taken from one input byte: 1..16 bytes
 * for small values (splits everywhere), else up to 2 KiB. */
static inline size_t fuzz_piece(uint8_t b)
{
    return b < 128 ? (size_t)(b % 16) + 1 : (size_t)(b - 127) * 16;
}

#endif
