/* llmux_event.c -- libllmux's stream reading: decoded frames become
 * llmux_event_t (JSON and text), filtered to one request or not
 * (llmux_next_event). Fills the handle's json and text buffers, which an
 * event's pointers live in until the next call. */
#include "llmux_internal.h"

#include <errno.h>
#include <string.h>

/* The map under key, or NULL when absent or not a map. */
const msgpack_object *client_get_map(const msgpack_object *map,
                                     const char *key)
{
    const msgpack_object *o = map ? proto_get(map, key) : NULL;

    return o && o->type == MSGPACK_OBJECT_MAP ? o : NULL;
}

/* choices[0] of an OpenAI body, or NULL. */
static const msgpack_object *first_choice(const msgpack_object *body)
{
    const msgpack_object *o = proto_get(body, "choices");

    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return NULL;
    o = &o->via.array.ptr[0];
    return o->type == MSGPACK_OBJECT_MAP ? o : NULL;
}

/* Fills r from a done frame (finish_reason is left alone). */
static void result_from_done(llmux_result_t *r, const msgpack_object *map)
{
    const msgpack_object *usage = client_get_map(map, "usage");
    const msgpack_object *timing = client_get_map(map, "timing");

    if (usage) {
        proto_get_uint(usage, "prompt_tokens", &r->prompt_tokens);
        proto_get_uint(usage, "completion_tokens", &r->completion_tokens);
        proto_get_uint(usage, "total_tokens", &r->total_tokens);
    }
    if (timing) {
        proto_get_uint(timing, "total_us", &r->total_us);
        proto_get_uint(timing, "upstream_us", &r->upstream_us);
        proto_get_uint(timing, "overhead_us", &r->overhead_us);
    }
    proto_get_uint(map, "chunks", &r->chunks);
    client_copy_key(r->model, sizeof(r->model), map, "model");
    client_copy_key(r->provider, sizeof(r->provider), map, "provider");
    client_copy_key(r->deployment, sizeof(r->deployment), map, "deployment");
}

/* Sets ev->text to the string s (copied, so that it outlives the frame). */
static int event_text(llmux_client_t *c, llmux_event_t *ev,
                      const msgpack_object *s)
{
    int r;

    if (s == NULL || s->type != MSGPACK_OBJECT_STR)
        return 0;
    buf_reset(&c->text);
    r = buf_add(&c->text, s->via.str.ptr, s->via.str.size);
    if (r < 0)
        return r;
    ev->text = c->text.p;
    ev->text_len = c->text.len;
    return 0;
}

/* Fills ev from a decoded data or terminal frame. Returns 1, 0 for a frame
 * that is not an event (skipped), or a negative code. */
static int event_fill(llmux_client_t *c, const struct proto_frame *f,
                      llmux_event_t *ev)
{
    const msgpack_object *body, *choice, *o;
    int r;

    memset(ev, 0, sizeof(*ev));
    ev->error.retry_after = -1;
    ev->id = f->id;
    buf_reset(&c->json);
    switch (f->type) {
    case PROTO_CHUNK:
    case PROTO_RESPONSE:
        body = client_get_map(f->map, "body");
        if (!f->has_id || body == NULL)
            return client_fail(c, LLMUX_EPROTO);
        ev->kind = f->type == PROTO_CHUNK ? LLMUX_EV_CHUNK : LLMUX_EV_RESPONSE;
        if ((r = proto_json_dump(body, &c->json)) < 0)
            return r;
        if (c->embedding && f->type == PROTO_RESPONSE &&
            (r = client_embed_vectors(c, body)) < 0)
            return r == LLMUX_EPROTO ? client_fail(c, r) : r;
        if ((choice = first_choice(body)) != NULL) {
            o = client_get_map(choice, f->type == PROTO_CHUNK ? "delta"
                                                               : "message");
            if (o && (r = event_text(c, ev, proto_get(o, "content"))) < 0)
                return r;
            client_copy_key(ev->result.finish_reason,
                            sizeof(ev->result.finish_reason), choice,
                            "finish_reason");
        }
        break;
    case PROTO_DONE:
        if (!f->has_id)
            return client_fail(c, LLMUX_EPROTO);
        ev->kind = LLMUX_EV_DONE;
        if ((r = proto_json_dump(f->map, &c->json)) < 0)
            return r;
        result_from_done(&ev->result, f->map);
        break;
    case PROTO_ERROR:
        /* An error without id (or id 0) is about the connection. */
        ev->kind = LLMUX_EV_ERROR;
        o = client_get_map(f->map, "error");
        client_err_from_frame(&ev->error, o);
        if ((r = buf_adds(&c->json, "{\"error\":")) < 0 ||
            (o && (r = proto_json_dump(o, &c->json)) < 0) ||
            (!o && (r = buf_adds(&c->json, "{}")) < 0) ||
            (r = buf_adds(&c->json, "}")) < 0)
            return r;
        break;
    default:
        return 0;   /* hello again, unknown types: later versions' business */
    }
    ev->json = c->json.p ? c->json.p : "";
    ev->json_len = c->json.len;
    return 1;
}

/* Reads frames until an event (of request 'only', or a connection error,
 * when only is not 0; of anything otherwise) or the deadline. Returns 1
 * with *ev filled, 0 on timeout, or a negative code. */
int client_event(llmux_client_t *c, llmux_event_t *ev,
                 int64_t deadline, uint64_t only)
{
    struct proto_frame f;
    const char *body;
    size_t len;
    int r;

    for (;;) {
        if (c->dead)
            return c->dead;
        r = client_read_frame(c, deadline, &body, &len);
        if (r <= 0)
            return r;
        r = proto_frame_decode(&f, body, len);
        if (r < 0) {
            proto_frame_free(&f);
            return client_fail(c, r);
        }
        if (only != 0 && f.id != only &&
            !(f.type == PROTO_ERROR && f.id == 0)) {
            proto_frame_free(&f);
            continue;
        }
        r = event_fill(c, &f, ev);
        proto_frame_free(&f);
        if (r != 0)
            return r;
    }
}

/* Every event of every request, in arrival order; ev's pointers live in
 * the handle's json and text buffers until the next call. */
int llmux_next_event(llmux_client_t *c, llmux_event_t *ev, int timeout_ms)
{
    if (c == NULL || ev == NULL)
        return -EINVAL;
    return client_event(c, ev, client_deadline_of(timeout_ms), 0);
}
