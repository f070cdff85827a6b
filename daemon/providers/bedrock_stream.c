/* bedrock_stream.c -- ConverseStream for the Bedrock dialect (see
 * bedrock.h): AWS event-stream frames (eventstream.c) -> hub chunks, with
 * text, reasoning and tool-use blocks, usage from the metadata event, and
 * in-stream exceptions and errors -> the error taxonomy. */
#include "bedrock.h"
#include "common.h"
#include "config.h"
#include "eventstream.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BEDROCK_MAX_FRAME   (4u * 1024 * 1024)  /* one event-stream message */
#define BEDROCK_MAX_BLOCKS  4096                /* content blocks per stream */

/* One content block of a stream that carries a toolUse. */
struct bedrock_block {
    int block;              /* contentBlockIndex */
    int tool;               /* OpenAI tool_calls index; -1: JSON tool */
};

struct bedrock_stream {
    struct es_reader         rd;
    struct common_stream_id  sid;
    int                      json_mode;   /* response_format asked */
    int                      stopped;     /* saw messageStop */
    int                      failed;      /* pc->err is set: feed no more */
    int                      ntools;      /* tool calls started */
    int                      njson;       /* JSON-tool blocks started */
    struct bedrock_block    *blocks;      /* owned */
    size_t                   nblocks, cap;
};

/* The value of a string header, or NULL (and *len 0). */
static const char *hdr(const struct es_message *m, const char *name,
                       size_t *len)
{
    const struct es_header *h = es_header_get(m, name);

    *len = 0;
    if (h == NULL || h->type != ES_STRING)
        return NULL;
    *len = h->val_len;
    return h->val;
}

static int hdr_is(const char *v, size_t n, const char *want)
{
    return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* Emits delta (stolen), with the role on the first chunk of the stream. */
static int emit(struct pcall *pc, json_t *delta, const char *finish)
{
    struct bedrock_stream *st = pc->state;

    return common_emit(pc, &st->sid, delta, finish);
}

static struct bedrock_block *block_find(struct bedrock_stream *st, int idx)
{
    for (size_t i = st->nblocks; i-- > 0;)
        if (st->blocks[i].block == idx)
            return &st->blocks[i];
    return NULL;
}

static int on_block_start(struct pcall *pc, const json_t *ev)
{
    struct bedrock_stream *st = pc->state;
    json_t *tu = json_object_get(json_object_get(ev, "start"), "toolUse");
    const char *name = hub_str(tu, "name");
    int idx = (int)common_int(ev, "contentBlockIndex", -1);
    struct bedrock_block *b;

    if (!json_is_object(tu))
        return 0;                   /* other kinds of block need no start */
    if (st->nblocks == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;

        if (cap > BEDROCK_MAX_BLOCKS)
            return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent more "
                              "than %d tool blocks", BEDROCK_MAX_BLOCKS);
        if ((b = realloc(st->blocks, cap * sizeof(*b))) == NULL)
            return pcall_oom(pc);
        st->blocks = b;
        st->cap = cap;
    }
    b = &st->blocks[st->nblocks++];
    b->block = idx;
    if (st->json_mode && name && strcmp(name, COMMON_JSON_TOOL) == 0) {
        b->tool = -1;
        st->njson++;
        return 0;
    }
    b->tool = st->ntools++;
    return emit(pc, common_tool_delta_start(b->tool, hub_str(tu, "toolUseId"),
                                            name), NULL);
}

static int on_block_delta(struct pcall *pc, const json_t *ev)
{
    struct bedrock_stream *st = pc->state;
    json_t *d = json_object_get(ev, "delta"), *v;
    struct bedrock_block *b;

    if (json_is_string(v = json_object_get(d, "text"))) {
        if (json_string_length(v) == 0)
            return 0;
        return emit(pc, json_pack("{s:O}", "content", v), NULL);
    }
    if (json_is_object(v = json_object_get(d, "toolUse"))) {
        v = json_object_get(v, "input");
        if (!json_is_string(v) || json_string_length(v) == 0)
            return 0;
        b = block_find(st, (int)common_int(ev, "contentBlockIndex", -1));
        if (b == NULL)
            return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent toolUse "
                              "input for a block it never started");
        if (b->tool < 0)            /* the JSON tool: its input is the text */
            return emit(pc, json_pack("{s:O}", "content", v), NULL);
        return emit(pc, common_tool_delta_args(b->tool, json_string_value(v),
                                               json_string_length(v)), NULL);
    }
    v = json_object_get(json_object_get(d, "reasoningContent"), "text");
    if (json_is_string(v) && json_string_length(v) > 0)
        return emit(pc, json_pack("{s:O}", "reasoning_content", v), NULL);
    return 0;       /* signatures, redacted reasoning, citations… */
}

/* An exception (or error) message in the stream -> pc->err. */
static int stream_exception(struct pcall *pc, const char *type, size_t tlen,
                            const struct es_message *m)
{
    json_t *j = json_loadb(m->payload, m->payload_len, 0, NULL);
    const char *msg = hub_str(j, "message"), *orig;
    json_int_t ost = common_int(j, "originalStatusCode", 0);
    char name[96], text[400];
    int code;

    if (msg == NULL)
        msg = hub_str(j, "Message");
    snprintf(name, sizeof(name), "%.*s", (int)(tlen < 95 ? tlen : 95),
             type ? type : "");
    orig = hub_str(j, "originalMessage");
    provider_format(pc, text, sizeof(text), "%s",
                    msg ? msg : "(no message)");
    code = bedrock_code_for(*name ? name : NULL, 0, text);
    if (ost == 429)
        code = LLMUX_ERATELIMIT;
    if (orig)
        pcall_fail(pc, code, 200, "bedrock: %s: %s (upstream %lld: %s)",
                   *name ? name : "exception", text, (long long)ost, orig);
    else
        pcall_fail(pc, code, 200, "bedrock: %s: %s", *name ? name :
                   "exception", text);
    json_decref(j);
    return code;
}

static int on_message(void *ud, const struct es_message *m)
{
    struct pcall *pc = ud;
    struct bedrock_stream *st = pc->state;
    size_t mtl, etl;
    const char *mt = hdr(m, ":message-type", &mtl), *et;
    json_t *ev, *u;
    int r = 0;

    if (hdr_is(mt, mtl, "exception")) {
        et = hdr(m, ":exception-type", &etl);
        return stream_exception(pc, et, etl, m);
    }
    if (hdr_is(mt, mtl, "error")) {
        const char *em;
        size_t eml;
        char text[400];

        char name[96];

        et = hdr(m, ":error-code", &etl);
        em = hdr(m, ":error-message", &eml);
        snprintf(name, sizeof(name), "%.*s", (int)(etl < 95 ? etl : 95),
                 et ? et : "");
        provider_format(pc, text, sizeof(text), "%.*s",
                        (int)(eml < 65536 ? eml : 65536), em ? em : "");
        return pcall_fail(pc, bedrock_code_for(*name ? name : NULL, 0,
                                               text), 200,
                          "bedrock: stream error %s: %s", name, text);
    }
    et = hdr(m, ":event-type", &etl);
    if ((mt && !hdr_is(mt, mtl, "event")) || et == NULL)
        return 0;
    if (!hdr_is(et, etl, "messageStart") &&
        !hdr_is(et, etl, "contentBlockStart") &&
        !hdr_is(et, etl, "contentBlockDelta") &&
        !hdr_is(et, etl, "contentBlockStop") &&
        !hdr_is(et, etl, "messageStop") && !hdr_is(et, etl, "metadata"))
        return 0;                   /* an event type newer than us */
    if ((ev = common_parse_json(pc, m->payload, m->payload_len,
                                "stream event")) == NULL)
        return pc->err.code;
    if (hdr_is(et, etl, "messageStart")) {
        if (!st->sid.role_sent)
            r = emit(pc, json_pack("{s:s}", "content", ""), NULL);
    } else if (hdr_is(et, etl, "contentBlockStart")) {
        r = on_block_start(pc, ev);
    } else if (hdr_is(et, etl, "contentBlockDelta")) {
        r = on_block_delta(pc, ev);
    } else if (hdr_is(et, etl, "messageStop") && !st->stopped) {
        const char *f = bedrock_finish(hub_str(ev, "stopReason"));

        if (st->njson && st->ntools == 0 && strcmp(f, "tool_calls") == 0)
            f = "stop";
        st->stopped = 1;
        r = emit(pc, json_object(), f);
    } else if (hdr_is(et, etl, "metadata")) {
        if ((u = bedrock_usage(json_object_get(ev, "usage"))) != NULL)
            pcall_set_usage(pc, u);
    }
    json_decref(ev);
    return r;
}

int bedrock_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    struct bedrock_stream *st = pc->state;
    int r;

    if (st == NULL) {
        if ((st = calloc(1, sizeof(*st))) == NULL)
            return pcall_oom(pc);
        es_reader_init(&st->rd, BEDROCK_MAX_FRAME);
        common_stream_id_init(&st->sid, pc, NULL, NULL);
        st->json_mode = common_json_mode(pc->req);
        pc->state = st;
    }
    if (st->failed)
        return pc->err.code ? pc->err.code : LLMUX_EUNAVAIL;
    r = es_reader_feed(&st->rd, p, n, on_message, pc);
    st->failed = r != 0;
    if (r < 0 && pc->err.code == 0) {
        if (r == LLMUX_ECLOSED || r == -ENOMEM)
            common_feed_failed(pc, r, "stream event");
        else
            pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent a malformed "
                       "event stream (%s)", es_strerror(r));
    }
    return r < 0 ? pc->err.code : 0;
}

int bedrock_stream_end(struct pcall *pc)
{
    struct bedrock_stream *st = pc->state;

    if (st && es_reader_end(&st->rd) < 0)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock's event stream "
                          "ended in the middle of a message");
    if (st == NULL || !st->stopped)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock's event stream "
                          "ended before messageStop");
    return 0;
}

void bedrock_stream_free(struct pcall *pc)
{
    struct bedrock_stream *st = pc->state;

    if (st) {
        es_reader_free(&st->rd);
        free(st->blocks);
        free(st);
        pc->state = NULL;
    }
}
