/* common_stream.c -- the stream helpers the adapters share (see
 * common_stream.h): ids and the role of a stream's chunks, emitting
 * deltas, tool-call deltas, the SSE parser state of an adapter and its
 * framing failures, and reading one event. */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

json_t *common_tool_delta_start(int index, const char *id, const char *name)
{
    return json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls",
                     "index", index, "id", id ? id : "", "type", "function",
                     "function", "name", name ? name : "", "arguments", "");
}

json_t *common_tool_delta_args(int index, const char *fragment, size_t len)
{
    return json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", index,
                     "function", "arguments", fragment, len);
}

void common_stream_id_init(struct common_stream_id *s, const struct pcall *pc,
                           const char *upstream_id, const char *model)
{
    if (upstream_id && *upstream_id)
        snprintf(s->id, sizeof(s->id), "%s", upstream_id);
    else
        hub_new_id(s->id, sizeof(s->id), "chatcmpl-", pc->seq);
    snprintf(s->model, sizeof(s->model), "%s",
             model && *model ? model : pc->dep->upstream_model);
    s->created = (json_int_t)time(NULL);
    s->ready = 1;
}

int common_emit_delta(struct pcall *pc, const struct common_stream_id *s,
                      json_t *delta, const char *finish_reason)
{
    json_t *chunk = hub_chunk_delta(s->id, s->model, s->created, delta,
                                    finish_reason);

    if (chunk == NULL)
        return pcall_fail(pc, LLMUX_EINTERNAL, 0, "out of memory");
    return pc->emit(pc->emit_ud, chunk) < 0 ? LLMUX_ECLOSED : 0;
}

int common_emit(struct pcall *pc, struct common_stream_id *s, json_t *delta,
                const char *finish_reason)
{
    if (delta == NULL)
        return pcall_oom(pc);
    if (!s->ready)
        common_stream_id_init(s, pc, NULL, NULL);
    if (!s->role_sent) {
        json_object_set_new(delta, "role", json_string("assistant"));
        s->role_sent = 1;
    }
    return common_emit_delta(pc, s, delta, finish_reason);
}

void common_feed_failed(struct pcall *pc, int r, const char *what)
{
    if (pc->err.code)
        return;
    if (r == LLMUX_ETOOBIG)
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a %s over %u MiB",
                   pcall_name(pc), what, COMMON_MAX_EVENT >> 20);
    else if (r == LLMUX_ECLOSED)
        pcall_fail(pc, LLMUX_ECLOSED, 0, "the caller went away");
    else
        pcall_oom(pc);
}

void *common_sse_state(struct pcall *pc, size_t size)
{
    struct common_sse_stream *st = pc->state;

    if (st == NULL) {
        if ((st = calloc(1, size)) == NULL) {
            pcall_oom(pc);
            return NULL;
        }
        sse_init(&st->sse, COMMON_MAX_EVENT);
        pc->state = st;
    }
    return st;
}

void common_sse_free(struct pcall *pc)
{
    struct common_sse_stream *st = pc->state;

    if (st) {
        sse_free(&st->sse);
        free(st);
        pc->state = NULL;
    }
}

int common_sse_feed(struct pcall *pc, size_t size, const char *p, size_t n,
                    sse_cb cb)
{
    struct common_sse_stream *st = common_sse_state(pc, size);
    int r;

    if (st == NULL)
        return pc->err.code;
    if ((r = sse_feed(&st->sse, p, n, cb, pc)) < 0)
        common_feed_failed(pc, r, "stream event");
    return r < 0 ? r : 0;
}

int common_sse_end(struct pcall *pc, size_t size, sse_cb cb)
{
    struct common_sse_stream *st = common_sse_state(pc, size);
    int r;

    if (st == NULL)
        return pc->err.code;
    if ((r = sse_end(&st->sse, cb, pc)) < 0)
        common_feed_failed(pc, r, "stream event");
    return r < 0 ? r : 0;
}
int common_parse_event(struct pcall *pc, const struct sse_event *ev,
                       json_t **ret)
{
    *ret = NULL;
    if (ev->data_len == 0)
        return 0;
    *ret = common_parse_json(pc, ev->data, ev->data_len, "stream event");
    return *ret ? 0 : pc->err.code;
}
