/* llmux_chat.c -- libllmux's chat calls: the chat request packed from
 * llmux_chat_opts_t (no JSON), the blocking llmux_chat, the streaming
 * llmux_chat_stream with its callback and cancel, and the one-shot
 * llmux_predict and llmux_predict_err. */
#include "llmux_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends a chat request built from opts, packed directly (no JSON). */
static int client_submit_chat(llmux_client_t *c,
                              const llmux_chat_opts_t *opts, int stream,
                              uint64_t *ret_id, llmux_error_t *err)
{
    struct proto_enc e;
    uint32_t keys = 3;   /* model, messages, stream */
    uint64_t id;
    size_t i;
    int r;

    if (opts == NULL)
        return client_err_local(err, -EINVAL, NULL);
    if ((r = client_submit_check(c, opts->model, err)) < 0)
        return r;
    if (opts->n_messages == 0 || opts->messages == NULL)
        return client_err_local(err, LLMUX_EBADREQ, "no messages given");
    for (i = 0; i < opts->n_messages; i++)
        if (opts->messages[i].role == NULL)
            return client_err_local(err, LLMUX_EBADREQ,
                                    "a message has no role");
    keys += opts->has_temperature != 0;
    keys += opts->max_tokens > 0;
    keys += opts->json_mode != 0;

    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, 2);
    proto_pack_kv_str(&e.pk, "op", "chat");
    proto_pack_str(&e.pk, "body");
    msgpack_pack_map(&e.pk, keys);
    proto_pack_kv_str(&e.pk, "model", opts->model);
    proto_pack_str(&e.pk, "messages");
    msgpack_pack_array(&e.pk, opts->n_messages);
    for (i = 0; i < opts->n_messages; i++) {
        msgpack_pack_map(&e.pk, 2);
        proto_pack_kv_str(&e.pk, "role", opts->messages[i].role);
        proto_pack_str(&e.pk, "content");
        if (opts->messages[i].content)
            proto_pack_str(&e.pk, opts->messages[i].content);
        else
            msgpack_pack_nil(&e.pk);
    }
    if (opts->has_temperature) {
        proto_pack_str(&e.pk, "temperature");
        msgpack_pack_double(&e.pk, opts->temperature);
    }
    if (opts->max_tokens > 0) {
        proto_pack_str(&e.pk, "max_tokens");
        msgpack_pack_int64(&e.pk, opts->max_tokens);
    }
    if (opts->json_mode) {
        proto_pack_str(&e.pk, "response_format");
        msgpack_pack_map(&e.pk, 1);
        proto_pack_kv_str(&e.pk, "type", "json_object");
    }
    proto_pack_str(&e.pk, "stream");
    if (stream)
        msgpack_pack_true(&e.pk);
    else
        msgpack_pack_false(&e.pk);
    return client_submit_send(c, &e, id, ret_id, err);
}

/* A non-stream chat: one response frame, then done. The text is gathered
 * in a capped buf and handed over with buf_steal. */
int llmux_chat(llmux_client_t *c, const llmux_chat_opts_t *opts,
               char **ret_text, llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    struct buf text;
    uint64_t id;
    int r;

    if (ret_text)
        *ret_text = NULL;
    if (result)
        memset(result, 0, sizeof(*result));
    client_err_clear(err);
    if ((r = client_submit_chat(c, opts, 0, &id, err)) < 0)
        return r;

    buf_init(&text, ANSWER_MAX);
    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r < 0)
            break;
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (client_is_terminal(&ev))
            break;
        /* A response replaces what came before; chunks (should the daemon
         * stream anyway) add up. */
        if (ev.kind == LLMUX_EV_RESPONSE)
            buf_reset(&text);
        if (ev.text && (r = buf_add(&text, ev.text, ev.text_len)) < 0)
            break;
    }
    if (r < 0) {
        buf_free(&text);
        return client_call_abort(c, id, &ev, r, err);
    }
    r = client_call_end(&ev, finish, result, err);
    if (r == 0 && ret_text) {
        /* NULL content (a tool call) is "". */
        *ret_text = text.p ? buf_steal(&text, NULL) : strdup("");
        if (*ret_text == NULL)
            r = client_err_local(err, -ENOMEM, NULL);
    }
    buf_free(&text);
    return r;
}

/* A stream chat. After the callback asked to stop, frames are still read
 * (and their text dropped) until the terminal one, so that the handle is
 * clean for the next call. */
int llmux_chat_stream(llmux_client_t *c, const llmux_chat_opts_t *opts,
                      llmux_text_cb cb, void *ud,
                      llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    int r, cancelled = 0;
    uint64_t id;

    if (result)
        memset(result, 0, sizeof(*result));
    client_err_clear(err);
    if ((r = client_submit_chat(c, opts, 1, &id, err)) < 0)
        return r;

    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r == -EINTR && !cancelled) {
            /* A signal handler ran: let the callback look at its flags. */
            if (cb && cb(ud, "", 0) != 0) {
                cancelled = 1;
                if ((r = llmux_cancel(c, id)) < 0)
                    return client_err_local(err, r, NULL);
            }
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r < 0)
            return client_call_abort(c, id, &ev, r, err);
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (client_is_terminal(&ev))
            break;
        if (cancelled || cb == NULL || ev.text == NULL || ev.text_len == 0)
            continue;
        if (cb(ud, ev.text, ev.text_len) != 0) {
            cancelled = 1;
            if ((r = llmux_cancel(c, id)) < 0)
                return client_err_local(err, r, NULL);
        }
    }
    r = client_call_end(&ev, finish, result, err);
    if (cancelled) {
        /* Whatever the terminal frame was, the caller asked to stop. */
        if (err && r != LLMUX_ECANCELLED)
            client_err_local(err, LLMUX_ECANCELLED, NULL);
        return LLMUX_ECANCELLED;
    }
    return r;
}

/* Connect, llmux_chat, close: a whole session per question. err (may be
 * NULL) gets what the error frame said, or the local failure; a failed
 * connect names the socket, since that is what a person must fix. */
char *llmux_predict_err(const char *model, const char *query,
                        const char *system_prompt, llmux_error_t *err)
{
    llmux_message_t msgs[2];
    llmux_chat_opts_t opts = { 0 };
    llmux_client_t *c;
    char *text = NULL, why[sizeof(err->message)];
    size_t n = 0;
    int r;

    client_err_clear(err);
    if (model == NULL || query == NULL) {
        client_err_local(err, -EINVAL, NULL);
        return NULL;
    }
    if (system_prompt)
        msgs[n++] = (llmux_message_t){ "system", system_prompt };
    msgs[n++] = (llmux_message_t){ "user", query };
    opts.model = model;
    opts.messages = msgs;
    opts.n_messages = n;
    if ((r = llmux_connect(&c, NULL)) < 0) {
        snprintf(why, sizeof(why), "cannot connect to %s%s",
                 llmux_default_socket(), r == -ENOENT || r == -ECONNREFUSED ?
                 " (is llmuxd running?)" : "");
        client_err_local(err, r, why);
        return NULL;
    }
    /* llmux_chat fills err itself, from the frame or the local failure. */
    r = llmux_chat(c, &opts, &text, NULL, err);
    llmux_close(c);
    return r == 0 ? text : NULL;
}

/* The code alone: llmux_predict_err without the message. */
char *llmux_predict(const char *model, const char *query,
                    const char *system_prompt, int *ret_code)
{
    llmux_error_t err;
    char *text = llmux_predict_err(model, query, system_prompt, &err);

    if (ret_code)
        *ret_code = text ? 0 : err.code;
    return text;
}
