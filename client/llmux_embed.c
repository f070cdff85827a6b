/* llmux_embed.c -- libllmux's embeddings: the request packed from
 * llmux_embed_opts_t, llmux_embed, and the response's vectors gathered as
 * floats into the handle's vecs buffer while the call waits. */
#include "llmux_internal.h"

#include <errno.h>
#include <string.h>

/* llmux_embed: the vectors of an embeddings response into c->vecs, in
 * input order (data[] is in that order); LLMUX_EPROTO for vectors of
 * different lengths or values that are not numbers. */
int client_embed_vectors(llmux_client_t *c, const msgpack_object *body)
{
    const msgpack_object *data = proto_get(body, "data"), *v;
    uint32_t i, j;

    buf_reset(&c->vecs);
    c->dims = 0;
    if (data == NULL || data->type != MSGPACK_OBJECT_ARRAY)
        return LLMUX_EPROTO;
    for (i = 0; i < data->via.array.size; i++) {
        v = data->via.array.ptr[i].type == MSGPACK_OBJECT_MAP ?
            proto_get(&data->via.array.ptr[i], "embedding") : NULL;
        if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY ||
            (i > 0 && v->via.array.size != c->dims))
            return LLMUX_EPROTO;
        c->dims = v->via.array.size;
        for (j = 0; j < v->via.array.size; j++) {
            const msgpack_object *x = &v->via.array.ptr[j];
            float f;

            if (x->type != MSGPACK_OBJECT_FLOAT32 &&
                x->type != MSGPACK_OBJECT_FLOAT64)
                return LLMUX_EPROTO;
            f = (float)x->via.f64;
            if (buf_add(&c->vecs, &f, sizeof(f)) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* Sends an embeddings request built from opts, packed directly. */
static int client_submit_embed(llmux_client_t *c,
                               const llmux_embed_opts_t *opts,
                               uint64_t *ret_id, llmux_error_t *err)
{
    struct proto_enc e;
    uint64_t id;
    size_t i;
    int r;

    if (opts == NULL)
        return client_err_local(err, -EINVAL, NULL);
    if ((r = client_submit_check(c, opts->model, err)) < 0)
        return r;
    if (opts->n_inputs == 0 || opts->inputs == NULL)
        return client_err_local(err, LLMUX_EBADREQ, "no inputs given");
    for (i = 0; i < opts->n_inputs; i++)
        if (opts->inputs[i] == NULL)
            return client_err_local(err, LLMUX_EBADREQ, "an input is NULL");
    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, 2);
    proto_pack_kv_str(&e.pk, "op", "embeddings");
    proto_pack_str(&e.pk, "body");
    msgpack_pack_map(&e.pk, 2 + (opts->dimensions > 0));
    proto_pack_kv_str(&e.pk, "model", opts->model);
    proto_pack_str(&e.pk, "input");
    msgpack_pack_array(&e.pk, (uint32_t)opts->n_inputs);
    for (i = 0; i < opts->n_inputs; i++)
        proto_pack_str(&e.pk, opts->inputs[i]);
    if (opts->dimensions > 0) {
        proto_pack_str(&e.pk, "dimensions");
        msgpack_pack_int64(&e.pk, opts->dimensions);
    }
    return client_submit_send(c, &e, id, ret_id, err);
}

int llmux_embed(llmux_client_t *c, const llmux_embed_opts_t *opts,
                float **ret_vectors, size_t *ret_dims,
                llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    int r, got = 0;
    uint64_t id = 0;

    if (ret_vectors)
        *ret_vectors = NULL;
    if (ret_dims)
        *ret_dims = 0;
    if (result)
        memset(result, 0, sizeof(*result));
    client_err_clear(err);
    if ((r = client_submit_embed(c, opts, &id, err)) < 0)
        return r;
    c->embedding = 1;
    for (;;) {
        if ((r = client_event(c, &ev, -1, id)) < 0 || client_is_terminal(&ev))
            break;
        got |= ev.kind == LLMUX_EV_RESPONSE;
    }
    c->embedding = 0;
    if (r < 0) {
        buf_free(&c->vecs);
        return client_call_abort(c, id, &ev, r, err);
    }
    r = client_call_end(&ev, "", result, err);
    if (r == 0 && (!got || c->dims == 0 ||
                   c->vecs.len != opts->n_inputs * c->dims * sizeof(float)))
        r = client_err_local(err, LLMUX_EPROTO, "the answer does not hold "
                             "one vector per input");
    if (r == 0 && ret_vectors)
        *ret_vectors = (float *)buf_steal(&c->vecs, NULL);
    if (r == 0 && ret_dims)
        *ret_dims = c->dims;
    buf_free(&c->vecs);
    return r;
}
