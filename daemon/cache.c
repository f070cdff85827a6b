/* cache.c -- the cache stage: an exact-match hit would answer here (as
 * chunks when the caller streams), a miss would remember to store the
 * answer in the end hook. None yet: every request passes. */
#include "request.h"
#include "stage.h"

const struct stage stage_cache = { .name = "cache" };
