/* common.h -- the pieces of the hub <-> provider translation that several
 * adapters share, in three files by concern: common_request.h (reading
 * the canonical request, writing the upstream body), common_stream.h
 * (stream bookkeeping: ids, the first chunk's role, tool-call deltas, SSE
 * state, framing failures) and common_answer.h (native answers into hub
 * messages and completions, usage, reading upstream JSON). Adapters
 * include this one. Owns no state of its own. */
#ifndef LLMUX_PROVIDERS_COMMON_H
#define LLMUX_PROVIDERS_COMMON_H

#include "common_answer.h"
#include "common_request.h"
#include "common_stream.h"

#endif
