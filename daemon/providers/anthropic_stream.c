/* anthropic_stream.c -- the Messages API stream for the Anthropic
 * dialect (see anthropic.h): SSE events (message_start, content_block_*,
 * message_delta, message_stop, error) -> hub chunks, with text, thinking
 * (and its signature), tool_use and JSON-tool blocks, and usage. */
#include "anthropic.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS         4096            /* content blocks per stream */
#define MAX_THINKING       (4u * 1024 * 1024)
#define MAX_SIGNATURE      (1u * 1024 * 1024)

enum { B_NONE, B_TEXT, B_TOOL, B_JSON, B_THINK, B_OTHER };

struct ablock {
    int kind;       /* B_* */
    int tool;       /* B_TOOL: index of the call in OpenAI deltas */
};

struct astream {
    struct common_sse_stream h;          /* first: see common.h */
    int                     json_mode;   /* the caller asked for JSON */
    int                     ntools;      /* tool_use blocks seen */
    int                     json_used;   /* the JSON tool was called */
    int                     finished;    /* finish chunk emitted */
    int                     stopped;     /* message_stop seen */
    struct ausage           u;
    struct ablock          *blocks;      /* by Anthropic block index */
    size_t                  nblocks;
    struct buf              think;       /* current thinking block text */
    struct buf              sig;         /* ... and its signature */
    int                     think_full;  /* think went over its cap */
};

static int emit(struct pcall *pc, struct astream *st, json_t *delta,
                const char *finish)
{
    return common_emit(pc, &st->h.sid, delta, finish);
}

static int emit_text(struct pcall *pc, struct astream *st, const char *key,
                     const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    return emit(pc, st, json_pack("{s:s%}", key, json_string_value(v),
                                  json_string_length(v)), NULL);
}

static struct ablock *block_at(struct astream *st, json_int_t index,
                               int create)
{
    struct ablock *b;
    size_t n;

    if (index < 0 || index >= MAX_BLOCKS)
        return NULL;
    if ((size_t)index >= st->nblocks) {
        if (!create)
            return NULL;
        n = (size_t)index + 1;
        if ((b = realloc(st->blocks, n * sizeof(*b))) == NULL)
            return NULL;
        memset(b + st->nblocks, 0, (n - st->nblocks) * sizeof(*b));
        st->blocks = b;
        st->nblocks = n;
    }
    return &st->blocks[index];
}

static void think_add(struct astream *st, struct buf *b, const json_t *v)
{
    if (json_is_string(v) &&
        buf_add(b, json_string_value(v), json_string_length(v)) < 0)
        st->think_full = 1;
}

static int on_block_start(struct pcall *pc, struct astream *st,
                          const json_t *ev)
{
    json_t *cb = json_object_get(ev, "content_block");
    const char *t = hub_str(cb, "type");
    struct ablock *b = block_at(st, common_int(ev, "index", -1), 1);

    if (b == NULL || t == NULL)
        return 0;              /* out of range or shapeless: ignored */
    if (strcmp(t, "text") == 0) {
        b->kind = B_TEXT;
        return emit_text(pc, st, "content", json_object_get(cb, "text"));
    }
    if (strcmp(t, "tool_use") == 0) {
        const char *name = hub_str(cb, "name");
        json_t *input = json_object_get(cb, "input");
        char *args;
        int r;

        if (st->json_mode && name && strcmp(name, COMMON_JSON_TOOL) == 0) {
            b->kind = B_JSON;
            st->json_used = 1;
            return 0;
        }
        b->kind = B_TOOL;
        b->tool = st->ntools++;
        r = emit(pc, st, common_tool_delta_start(b->tool, hub_str(cb, "id"),
                                                 name), NULL);
        /* The input comes in input_json_delta events; a start that
         * already carries a whole one is sent as its first fragment. */
        if (r < 0 || json_object_size(input) == 0)
            return r;
        if ((args = common_json_text(input)) == NULL)
            return pcall_oom(pc);
        r = emit(pc, st, common_tool_delta_args(b->tool, args, strlen(args)),
                 NULL);
        free(args);
        return r;
    }
    if (strcmp(t, "thinking") == 0) {
        b->kind = B_THINK;
        buf_reset(&st->think);
        buf_reset(&st->sig);
        st->think_full = 0;
        think_add(st, &st->think, json_object_get(cb, "thinking"));
        think_add(st, &st->sig, json_object_get(cb, "signature"));
        return emit_text(pc, st, "reasoning_content",
                         json_object_get(cb, "thinking"));
    }
    if (strcmp(t, "redacted_thinking") == 0) {
        b->kind = B_OTHER;
        return emit(pc, st, json_pack("{s:[O]}", "thinking_blocks", cb),
                    NULL);
    }
    b->kind = B_OTHER;         /* server tools and later block types */
    return 0;
}

static int on_block_delta(struct pcall *pc, struct astream *st,
                          const json_t *ev)
{
    json_t *d = json_object_get(ev, "delta"), *v;
    const char *t = hub_str(d, "type");
    struct ablock *b = block_at(st, common_int(ev, "index", -1), 0);

    if (t == NULL)
        return 0;
    if (strcmp(t, "text_delta") == 0)
        return emit_text(pc, st, "content", json_object_get(d, "text"));
    if (strcmp(t, "thinking_delta") == 0) {
        v = json_object_get(d, "thinking");
        think_add(st, &st->think, v);
        return emit_text(pc, st, "reasoning_content", v);
    }
    if (strcmp(t, "signature_delta") == 0) {
        think_add(st, &st->sig, json_object_get(d, "signature"));
        return 0;
    }
    if (strcmp(t, "input_json_delta") == 0 && b) {
        v = json_object_get(d, "partial_json");
        if (!json_is_string(v) || json_string_length(v) == 0)
            return 0;
        if (b->kind == B_JSON)
            return emit_text(pc, st, "content", v);
        if (b->kind == B_TOOL)
            return emit(pc, st, common_tool_delta_args(b->tool,
                        json_string_value(v), json_string_length(v)), NULL);
    }
    return 0;                  /* citations_delta and later kinds */
}

/* A finished thinking block goes out whole with its signature, in
 * LiteLLM's thinking_blocks field, so a caller can hand it back on the
 * next turn (the API wants it when thinking and tools are combined). */
static int on_block_stop(struct pcall *pc, struct astream *st,
                         const json_t *ev)
{
    struct ablock *b = block_at(st, common_int(ev, "index", -1), 0);
    json_t *tb;

    if (b == NULL || b->kind != B_THINK || st->think_full || st->sig.len == 0)
        return 0;
    tb = json_pack("{s:[{s:s, s:s%, s:s%}]}", "thinking_blocks", "type",
                   "thinking", "thinking", st->think.p ? st->think.p : "",
                   st->think.len, "signature", st->sig.p, st->sig.len);
    buf_reset(&st->think);
    buf_reset(&st->sig);
    return emit(pc, st, tb, NULL);
}

static int on_event(void *ud, const struct sse_event *ev)
{
    struct pcall *pc = ud;
    struct astream *st = pc->state;
    const char *t;
    json_t *j;
    int r;

    if ((r = common_parse_event(pc, ev, &j)) < 0 || j == NULL)
        return r;
    t = hub_str(j, "type");
    if (t == NULL)
        t = ev->event;
    if (strcmp(t, "message_start") == 0) {
        json_t *m = json_object_get(j, "message");

        if (!st->h.sid.ready)
            common_stream_id_init(&st->h.sid, pc, hub_str(m, "id"),
                                  hub_str(m, "model"));
        if (json_is_object(json_object_get(m, "usage"))) {
            anthropic_usage_take(&st->u, json_object_get(m, "usage"));
            pcall_set_usage(pc, anthropic_usage_json(&st->u));
        }
    } else if (strcmp(t, "content_block_start") == 0) {
        r = on_block_start(pc, st, j);
    } else if (strcmp(t, "content_block_delta") == 0) {
        r = on_block_delta(pc, st, j);
    } else if (strcmp(t, "content_block_stop") == 0) {
        r = on_block_stop(pc, st, j);
    } else if (strcmp(t, "message_delta") == 0) {
        json_t *u = json_object_get(j, "usage");
        const char *reason = hub_str(json_object_get(j, "delta"),
                                     "stop_reason");

        /* Counts here are cumulative: they replace the earlier ones. */
        if (json_is_object(u)) {
            anthropic_usage_take(&st->u, u);
            pcall_set_usage(pc, anthropic_usage_json(&st->u));
        }
        if (reason && !st->finished) {
            st->finished = 1;
            r = emit(pc, st, json_object(), anthropic_stop(reason,
                                                     st->ntools > 0));
        }
    } else if (strcmp(t, "message_stop") == 0) {
        st->stopped = 1;
    } else if (strcmp(t, "error") == 0) {
        r = anthropic_error_obj(pc, json_object_get(j, "error"), 200);
    }
    /* ping and event types added later are ignored. */
    json_decref(j);
    return r;
}

/* The stream state, made on first use with what the SSE head lacks. */
static struct astream *stream_state(struct pcall *pc)
{
    struct astream *st = pc->state;

    if (st == NULL && (st = common_sse_state(pc, sizeof(*st))) != NULL) {
        buf_init(&st->think, MAX_THINKING);
        buf_init(&st->sig, MAX_SIGNATURE);
        st->json_mode = common_json_mode(pc->req);
    }
    return st;
}

int anthropic_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    if (stream_state(pc) == NULL)
        return pc->err.code;
    return common_sse_feed(pc, sizeof(struct astream), p, n, on_event);
}

int anthropic_stream_end(struct pcall *pc)
{
    struct astream *st = stream_state(pc);
    int r;

    if (st == NULL)
        return pc->err.code;
    if ((r = common_sse_end(pc, sizeof(*st), on_event)) < 0)
        return r;
    /* Without message_delta/message_stop the answer was cut short. */
    if (!st->finished && !st->stopped)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s stream ended before "
                          "message_stop (truncated answer)", pcall_name(pc));
    if (!st->finished)
        return emit(pc, st, json_object(), "stop");
    return 0;
}

void anthropic_stream_free(struct pcall *pc)
{
    struct astream *st = pc->state;

    if (st) {
        buf_free(&st->think);
        buf_free(&st->sig);
        free(st->blocks);
        common_sse_free(pc);
    }
}
