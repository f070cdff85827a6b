/* adapter-harness.h -- what the provider adapter tests (test-<provider>.c)
 * share. Owns: the fixture (a hand-made deployment and a pcall whose emit
 * collects chunks), golden-request checks (URL, exact header lines, body
 * compared with json_equal), conformance samples and their SSE envelopes,
 * and stream replays (whole, split in two at every byte, byte by byte)
 * summarised as a caller would assemble the chunks. */
#ifndef LLMUX_ADAPTER_HARNESS_H
#define LLMUX_ADAPTER_HARNESS_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "provider.h"

struct ah;

/* The deployment a test file works against; hooks add what a provider
 * needs beyond these (setup runs last in ah_init, teardown first in
 * ah_free). */
struct ah_target {
    const struct provider *prov;
    const char            *preset;     /* preset name; NULL: none */
    const char            *model;      /* upstream model */
    const char            *api_base;
    const char            *key;        /* api_key; NULL: none */
    /* The header lines a built request has (NULL-ended; order free), and
     * a streamed one's when they differ (NULL: the same). */
    const char *const     *headers;
    const char *const     *stream_headers;
    uint64_t               seq;        /* pcall sequence number */
    /* Where its recorded samples are (below the conformance dir), and
     * the SSE envelope their *.jsonl payloads came in (ah_sse_wrap). */
    const char            *samples;
    const char            *event_key;
    const char            *eol;
    void                 (*setup)(struct ah *f);
    void                 (*teardown)(struct ah *f);
};

/* One pcall against one deployment. */
struct ah {
    const struct ah_target *t;
    struct deployment       dep;      /* api_key owned */
    struct pcall            pc;       /* req and usage owned */
    struct http_req         h;        /* what ah_build wrote */
    json_t                 *chunks;   /* every chunk emitted, in order */
};

/* JSON text -> value (new reference), NULL (printed) when malformed. A
 * text without any " and with ' is read with ' for ", which keeps long
 * literals legible; none of those texts may hold an apostrophe. */
json_t *ah_json(const char *text);

/* f for target t, with request req (ah_json text; NULL: {}) and stream
 * set; emit collects into f->chunks. Returns 1, or 0 (printed) when req
 * is malformed or the preset unknown. */
int  ah_init(struct ah *f, const struct ah_target *t, const char *req,
             int stream);
void ah_free(struct ah *f);

/* o at a dotted path ("choices.0.message.content"; digits index arrays),
 * NULL when absent; then the string / integer there (NULL / 0). */
json_t     *ah_get(const json_t *o, const char *path);
const char *ah_str(const json_t *o, const char *path);
json_int_t  ah_int(const json_t *o, const char *path);

/* got holds want (an ah_json object of path: value): for each path (as
 * for ah_get; "path.#" is the size of the array or object there), the
 * value there equals want's, a string holding JSON being read first when
 * want's is an object or an array (function.arguments). Paths want does
 * not name are not looked at. 1, or 0 with the differences printed. */
int ah_expect(const json_t *got, const char *want);

/* json_equal with two NULLs equal; prints both when they differ. */
int ah_same(const json_t *got, const json_t *want);
/* ah_same with want an ah_json text. */
int ah_same_text(const json_t *got, const char *want);

/* ------------------------------------------------------------------------
 * Requests
 */

/* f's request through provider_build into f->h (emptied first); the
 * build's result. */
int ah_build(struct ah *f);
/* The header line of h named name (any case), or NULL. */
const char *ah_header(const struct http_req *h, const char *name);
int         ah_nheaders(const struct http_req *h);
/* f->h's body equals want (an ah_json text); prints both if not. */
int ah_body_is(const struct ah *f, const char *want);
/* Builds f's request and checks it: the URL, exactly the target's header
 * lines, the body (ah_body_is), and that the key is in neither URL nor
 * body. */
int ah_request_is(struct ah *f, const char *url, const char *body);
/* ah_request_is on a fresh fixture of t with req (stream, drop_params
 * as given). */
int ah_golden(const struct ah_target *t, const char *req, int stream,
              int drop, const char *url, const char *body);
/* Builds f's request expecting code, with want (unless NULL) in the
 * message. */
int ah_build_fails(struct ah *f, int code, const char *want);
/* ah_build_fails on a fresh fixture of t with req (stream off). */
int ah_refused(const struct ah_target *t, const char *req, int code,
               const char *want);
/* A build of req against t refused for the parameter param: a
 * bad_request naming "param", the upstream, and drop_params. */
int ah_unsupported(const struct ah_target *t, const char *req,
                   const char *param);
/* A build of req against t (stream off, drop_params as given): its
 * result, with the error copied to *ret_err. */
int ah_try_build(const struct ah_target *t, const char *req, int drop,
                 struct perr *ret_err);

/* ------------------------------------------------------------------------
 * Answers and errors
 */

/* A 200 body through prov->parse; *ret the completion (caller frees). */
int ah_parse(struct ah *f, const char *body, size_t n, json_t **ret);
/* ah_parse of a NUL-terminated body. */
int ah_parse_text(struct ah *f, const char *body, json_t **ret);
/* The same with a recorded sample: name is below the target's samples
 * dir, or below the conformance dir when it holds a '/'. -1 (printed)
 * when it cannot be read. */
int ah_parse_sample(struct ah *f, const char *name, json_t **ret);
/* A non-2xx answer through prov->map_error; its code. */
int ah_map_error(struct ah *f, long status, const char *body,
                 double retry_after);
/* The same on a fresh fixture of t, the error copied to *ret_err. */
int ah_try_map(const struct ah_target *t, long status, const char *body,
               double retry_after, struct perr *ret_err);

/* Bodies that parse must refuse: each on a fresh fixture of t gives code
 * with want in the message, and no completion. 1, or 0 (printed). */
int ah_parse_cases(const struct ah_target *t, const char *const *bodies,
                   size_t n, int code, const char *want);

/* A non-2xx answer and the error it must map to. */
struct ah_error_case {
    long        status;
    const char *body;
    int         code;
};
/* Each case through map_error on a fresh fixture of t, with retry_after:
 * the code, the status kept, the message led by the upstream's name, and
 * retry_after kept when it is >= 0. 1, or 0 (printed). */
int ah_error_cases(const struct ah_target *t, const struct ah_error_case *c,
                   size_t n, double retry_after);

/* ------------------------------------------------------------------------
 * Samples and streams
 */

/* A conformance file (rel to the conformance dir), malloc'd; NULL
 * (printed) when unreadable. */
char *ah_sample(const char *rel, size_t *ret_len);
/* The bytes of a recorded stream of t (name as for ah_parse_sample): a
 * *.jsonl wrapped in t's SSE envelope, anything else as it is. */
char *ah_stream_sample(const struct ah_target *t, const char *name,
                       size_t *ret_len);
/* A *.jsonl of recorded payloads, one a line, as the SSE stream that
 * carried them: per line "event: <payload's event_key>" (when event_key is
 * set), "data: <line>", a blank line, each ending in eol. */
char *ah_sse_wrap(const char *rel, const char *event_key, const char *eol,
                  size_t *ret_len);

/* What a caller assembles from chunks, for choice number choice:
 * {"content", "reasoning": joined text, null when none came;
 *  "tools": [{id, name, arguments}] by index, fragments joined;
 *  "finish", "nfinish": the last finish_reason and how many came;
 *  "role": the role, "roles": how many deltas carried one;
 *  "nchunks"; "nthinking_blocks", "signature" (Anthropic's blocks);
 *  "bad": how many chunks break the chunk rules: not a one-choice
 *  chat.completion.chunk with an id, the id changing, no role on the
 *  first delta or one on a later delta, a delta after the finish, a
 *  finish_reason neither a string nor null, usage in a chunk (the
 *  adapter records it instead), a tool call starting without an id,
 *  type "function" and a name, or with an index that skips, or a
 *  fragment carrying an id}. */
json_t *ah_summary(const json_t *chunks, int choice);

/* One replay on f (fresh, stream on): p cut at cuts[0..ncuts) (rising),
 * then stream_end unless a feed failed. The summary of choice 0 plus
 * "feed", "end" (1: not reached), "rc" (the first failure, else 0),
 * "code", "message" (pc->err), "usage" (null when none) and "chunks". */
json_t *ah_replay(struct ah *f, const char *p, size_t n,
                  const size_t *cuts, size_t ncuts);
/* One replay of p, whole, on a fresh fixture of t and req. */
json_t *ah_replay_whole(const struct ah_target *t, const char *req,
                        const char *p, size_t n);
/* p replayed whole, split in two at every stride-th offset from 0 (1:
 * every byte, the ends included) and fed byte by byte, each on a fresh
 * fixture of t and req: all must
 * agree, chunks and all (but the "created" chunks take from the clock;
 * an upstream's must agree too). The whole replay, or NULL (printed) when
 * one differs. */
json_t *ah_replay_all(const struct ah_target *t, const char *req,
                      const char *p, size_t n, size_t stride);
/* ah_replay_all of the recorded stream name (ah_stream_sample). */
json_t *ah_replay_sample(const struct ah_target *t, const char *req,
                         const char *name, size_t stride);
/* A stream that must fail: fed whole then ended, it gives code, with msg
 * in the message. */
struct ah_stream_case {
    const char *s;
    int         code;
    const char *msg;
};
/* Each case on a fresh fixture of t: 1, or 0 (printed). */
int ah_stream_cases(const struct ah_target *t, const struct ah_stream_case *c,
                    size_t n);
/* Every step-th prefix of each recorded stream in names (NULL-ended),
 * ended, then 64 copies with 4 bytes changed (a generator seeded with
 * seed): no crash and no invalid read (under valgrind), and a prefix
 * gives a complete answer or an error with its code set. 1, or 0. */
int ah_stream_noise(const struct ah_target *t, const char *const *names,
                    size_t step, unsigned seed);

/* The arguments of tool i of a summary, parsed (new reference). */
json_t *ah_tool_args(const json_t *sum, size_t i);

#endif
