/* budget.c -- the global memory budget and the cost of a decoded frame
 * (see budget.h). */
#include "budget.h"
#include "llmux-errno.h"

#include <msgpack.h>

/* A jansson value of a small type costs a malloc of 24-40 bytes (a 32 or
 * 48 byte chunk), plus an 8 byte array slot or, in an object, a hashtable
 * pair of about 40 bytes and its key. 64 per value is the upper end: a
 * 16 MiB frame of one-byte integers measured ~650 MB resident in flight,
 * about 40 bytes per value for jansson on top of the msgpack objects. */
#define TREE_PER_VALUE 64

int budget_take(struct budget *b, size_t n)
{
    if (b->limit && (n > b->limit || b->used > b->limit - n)) {
        b->refused++;
        return LLMUX_EUNAVAIL;
    }
    budget_force(b, n);
    return 0;
}

void budget_force(struct budget *b, size_t n)
{
    b->used += n;
    if (b->used > b->peak)
        b->peak = b->used;
}

void budget_give(struct budget *b, size_t n)
{
    b->used = n > b->used ? 0 : b->used - n;
}

int budget_adjust(struct budget *b, size_t *have, size_t want)
{
    if (want > *have) {
        if (budget_take(b, want - *have) < 0)
            return LLMUX_EUNAVAIL;
    } else {
        budget_give(b, *have - want);
    }
    *have = want;
    return 0;
}

int budget_charge(struct budget *b, size_t *have, size_t want)
{
    if (want > *have && want <= BUDGET_GRANTED) {
        budget_force(b, want - *have);
        *have = want;
        return 0;
    }
    return budget_adjust(b, have, want);
}

size_t budget_limit_mib(double mib)
{
    double bytes = mib * 1024 * 1024;

    /* A limit that cannot be reached is no limit; the cast of a double
     * past SIZE_MAX would be undefined. */
    return bytes >= (double)SIZE_MAX ? 0 : (size_t)bytes;
}

size_t budget_tree_cost(size_t len, uint64_t nobjects)
{
    /* Strings are copied out of the frame once: len bounds their bytes. */
    return len + (size_t)nobjects * TREE_PER_VALUE;
}

size_t budget_frame_cost(size_t len, uint64_t nobjects)
{
    /* A map pair is two msgpack_objects (msgpack_object_kv), an array
     * element one: sizeof(msgpack_object) per value either way. */
    return budget_tree_cost(len, nobjects) +
           (size_t)nobjects * sizeof(msgpack_object);
}
