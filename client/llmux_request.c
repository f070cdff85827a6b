/* llmux_request.c -- what every libllmux request goes through: request
 * ids, the checks before packing, requests whose body is JSON text
 * (llmux_raw, llmux_submit), cancelling, and the end of a blocking call
 * (its terminal event, or an abort that leaves the handle clean). */
#include "llmux_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

uint64_t client_take_id(llmux_client_t *c)
{
    uint64_t id = c->next_id;

    c->next_id = id >= LLMUX_MAX_ID ? 1 : id + 1;
    return id;
}

/* Sends a request frame whose body is the JSON text json (NULL, empty or
 * blank: no body). Invalid JSON, or JSON that is not an object, is
 * LLMUX_EBADREQ and nothing is sent; err (may be NULL) gets why. */
static int client_submit_json(llmux_client_t *c, const char *op,
                              const char *json, size_t len, uint64_t *ret_id,
                              llmux_error_t *err)
{
    struct proto_enc e;
    char why[256] = "";
    size_t i, at;
    uint64_t id;
    int r = 0;

    if (c == NULL || op == NULL || op[0] == '\0')
        return client_err_local(err, -EINVAL, NULL);
    if (c->dead)
        return client_err_local(err, c->dead, NULL);
    for (i = 0; json && i < len; i++)
        if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' &&
            json[i] != '\n')
            break;
    if (json == NULL || i == len)
        len = 0;
    /* A cap on the input bounds what packing it may allocate (packed
     * frames are capped again by proto_enc_end). */
    if (len > 4 * (size_t)LLMUX_MAX_FRAME)
        return client_err_local(err, LLMUX_ETOOBIG, NULL);
    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, len ? 2 : 1);
    proto_pack_kv_str(&e.pk, "op", op);
    if (len) {
        proto_pack_str(&e.pk, "body");
        at = e.sb.size;
        r = proto_json_pack(&e.pk, json, len, why, sizeof(why));
        /* fixmap, map 16 or map 32: the body must be an object. */
        if (r == 0 && !((e.sb.data[at] & 0xf0) == 0x80 ||
                        (unsigned char)e.sb.data[at] == 0xde ||
                        (unsigned char)e.sb.data[at] == 0xdf)) {
            r = LLMUX_EBADREQ;
            snprintf(why, sizeof(why), "the body must be a JSON object");
        }
    }
    if (r == 0)
        r = client_send_enc(c, &e);
    proto_enc_free(&e);
    if (r < 0) {
        c->next_id = id;   /* nothing went out: the id is still free */
        return client_err_local(err, r, why[0] ? why : NULL);
    }
    *ret_id = id;
    return 0;
}

/* Sends the request frame packed in e, then frees e. When the send fails,
 * id goes back to the counter (nothing went out). 0 with *ret_id = id, or
 * the error (in err). */
int client_submit_send(llmux_client_t *c, struct proto_enc *e, uint64_t id,
                       uint64_t *ret_id, llmux_error_t *err)
{
    int r = client_send_enc(c, e);

    proto_enc_free(e);
    if (r < 0) {
        c->next_id = id;
        return client_err_local(err, r, NULL);
    }
    *ret_id = id;
    return 0;
}

/* What every request needs before it is packed: a live client and a
 * model. 0, or the error (in err). */
int client_submit_check(llmux_client_t *c, const char *model,
                        llmux_error_t *err)
{
    if (c == NULL)
        return client_err_local(err, -EINVAL, NULL);
    if (c->dead)
        return client_err_local(err, c->dead, NULL);
    if (model == NULL || model[0] == '\0')
        return client_err_local(err, LLMUX_EBADREQ, "no model given");
    return 0;
}

int client_is_terminal(const llmux_event_t *ev)
{
    return ev->kind == LLMUX_EV_DONE || ev->kind == LLMUX_EV_ERROR;
}

/* Reads request id's frames until its terminal one (or a connection
 * error), ignoring signals: used after a cancel, which the daemon answers
 * at once. Returns 0 or the connection's error. */
static int call_drain(llmux_client_t *c, uint64_t id, llmux_event_t *ev)
{
    for (;;) {
        int r = client_event(c, ev, -1, id);

        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        if (client_is_terminal(ev))
            return 0;
    }
}

/* Gives up on request id with code. Unless ev (the last event read, which
 * may be the one that failed to convert) already ended it, cancels the
 * request and, if the connection still works, waits for its terminal frame
 * so that the handle is clean for the next call. */
int client_call_abort(llmux_client_t *c, uint64_t id, llmux_event_t *ev,
                      int code, llmux_error_t *err)
{
    if (c->dead == 0 && !client_is_terminal(ev) && llmux_cancel(c, id) == 0)
        call_drain(c, id, ev);
    return client_err_local(err, code, NULL);
}

/* Ends a blocking call at its terminal event: fills result or err. */
int client_call_end(const llmux_event_t *ev, const char *finish,
                    llmux_result_t *result, llmux_error_t *err)
{
    if (ev->kind == LLMUX_EV_ERROR) {
        if (err)
            *err = ev->error;
        return ev->error.code;
    }
    if (result) {
        *result = ev->result;
        client_copy_strn(result->finish_reason,
                         sizeof(result->finish_reason), finish,
                         strlen(finish));
    }
    return 0;
}

/* Like llmux_chat, but the answer stays JSON: the events' JSON is
 * gathered as it comes (capped at ANSWER_MAX). */
int llmux_raw(llmux_client_t *c, const char *op, const char *json,
              size_t len, char **ret_json, llmux_result_t *result,
              llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    struct buf out;
    uint64_t id;
    int r;

    if (ret_json)
        *ret_json = NULL;
    if (result)
        memset(result, 0, sizeof(*result));
    client_err_clear(err);
    if ((r = client_submit_json(c, op, json, len, &id, err)) < 0)
        return r;

    buf_init(&out, ANSWER_MAX);
    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r < 0)
            break;
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (ev.kind == LLMUX_EV_DONE)
            break;
        if (ev.kind == LLMUX_EV_ERROR) {
            /* The answer becomes the {"error":{…}} object alone. */
            buf_reset(&out);
            r = buf_add(&out, ev.json, ev.json_len);
            break;
        }
        /* A response is the whole answer; chunks go one per line. */
        if ((r = buf_add(&out, ev.json, ev.json_len)) < 0 ||
            (ev.kind == LLMUX_EV_CHUNK && (r = buf_add(&out, "\n", 1)) < 0))
            break;
    }
    if (r < 0) {
        buf_free(&out);
        return client_call_abort(c, id, &ev, r, err);
    }
    r = client_call_end(&ev, finish, result, err);
    if (ret_json) {
        *ret_json = out.p ? buf_steal(&out, NULL) : strdup("");
        if (*ret_json == NULL)
            r = client_err_local(err, -ENOMEM, NULL);
    }
    buf_free(&out);
    return r;
}

/* See client_submit_json; the event API has no llmux_error_t to say why
 * the JSON was refused (llmux_raw has). */
int llmux_submit(llmux_client_t *c, const char *op, const char *json,
                 size_t len, uint64_t *ret_id)
{
    if (ret_id == NULL)
        return -EINVAL;
    return client_submit_json(c, op, json, len, ret_id, NULL);
}

/* Fire and forget: the daemon ignores a cancel for a request that has
 * already ended, so there is no race to guard against here. */
int llmux_cancel(llmux_client_t *c, uint64_t id)
{
    struct proto_enc e;
    int r;

    if (c == NULL || id == 0)
        return -EINVAL;
    if (c->dead)
        return c->dead;
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_CANCEL, id, 0);
    r = client_send_enc(c, &e);
    proto_enc_free(&e);
    return r;
}
