/* budget.h -- one memory budget shared by every connection of llmuxd.
 * Owns: the count of bytes that callers' input may make llmuxd hold at
 * once (partial frames, decoded request trees, queued output) against
 * llmux_settings.max_memory, and the cost estimate of a decoded frame.
 * It allocates nothing; it only says yes or no before others allocate. */
#ifndef LLMUX_BUDGET_H
#define LLMUX_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct budget {
    size_t limit;     /* bytes; from the live config, 0 = no limit */
    size_t used;      /* bytes charged now */
    size_t peak;      /* most ever charged, for status */
    uint64_t refused; /* charges refused */
};

/* Charges n bytes: 0, or LLMUX_EUNAVAIL (nothing charged) when that would
 * go past the limit. */
int  budget_take(struct budget *b, size_t n);
/* Charges n bytes even past the limit: for memory that cannot be refused
 * any more (output of a request already answered), so that new input is
 * refused instead. */
void budget_force(struct budget *b, size_t n);
/* Returns n bytes charged before. */
void budget_give(struct budget *b, size_t n);
/* Moves a charge from *have to want: takes or gives the difference.
 * Returns 0, or LLMUX_EUNAVAIL (and *have is unchanged) on growth past the
 * limit. */
int  budget_adjust(struct budget *b, size_t *have, size_t want);

/* Charges up to this are always granted: what one read brings, or what a
 * frame of 4 KiB may cost decoded. So a full budget refuses big frames
 * and requests, not a client's small ones (a cancel, a short request). */
#define BUDGET_GRANTED (512u * 1024)
/* budget_adjust, but growth to at most BUDGET_GRANTED always succeeds. */
int  budget_charge(struct budget *b, size_t *have, size_t want);
/* The limit for max_memory MiB (0: none; huge values saturate). */
size_t budget_limit_mib(double mib);

/* What decoding a frame of len bytes holding nobjects msgpack values
 * costs: the msgpack tree, the jansson tree made from it and the bytes
 * the strings are copied to. An upper estimate (see budget.c). */
size_t budget_frame_cost(size_t len, uint64_t nobjects);
/* The part of budget_frame_cost that stays while a chat request is in
 * flight: its jansson tree. */
size_t budget_tree_cost(size_t len, uint64_t nobjects);

#endif
