/* common.c -- translation pieces shared by the native adapters
 * (see common.h). */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int common_content_text(const json_t *content, struct buf *out)
{
    json_t *part;
    size_t i;
    int r = 0;

    if (json_is_string(content))
        return buf_add(out, json_string_value(content),
                       json_string_length(content));
    json_array_foreach(content, i, part) {
        json_t *t = json_object_get(part, "text");

        if (json_is_string(t) &&
            (r = buf_add(out, json_string_value(t),
                         json_string_length(t))) < 0)
            return r;
    }
    return r;
}

int common_image(struct pcall *pc, const json_t *part,
                 struct common_image *ret)
{
    json_t *iu = json_object_get(part, "image_url");
    const char *url = json_is_object(iu) ? hub_str(iu, "url") :
                      json_string_value(iu);
    const char *comma, *semi;

    memset(ret, 0, sizeof(*ret));
    if (url == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "an image_url part needs "
                          "image_url.url");
    ret->url = url;
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return 0;
    if (strncmp(url, "data:", 5) != 0 || (comma = strchr(url, ',')) == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "image_url must be an "
                          "http(s) URL or a data: URL");
    semi = memchr(url + 5, ';', (size_t)(comma - url - 5));
    if (semi == NULL || strncmp(semi, ";base64,", 8) != 0)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "data: image URLs must be "
                          "base64 (data:image/png;base64,…)");
    ret->mime = url + 5;
    ret->mime_len = (size_t)(semi - ret->mime);
    ret->data = comma + 1;
    ret->data_len = strlen(ret->data);
    return 0;
}

int common_reasoning_budget(const json_t *req)
{
    const char *e = hub_str(req, "reasoning_effort");

    if (e == NULL || strcmp(e, "none") == 0)
        return 0;
    if (strcmp(e, "minimal") == 0 || strcmp(e, "low") == 0)
        return 1024;
    if (strcmp(e, "medium") == 0)
        return 2048;
    if (strcmp(e, "high") == 0)
        return 4096;
    return -1;
}

int common_unsupported(struct pcall *pc, const char *param)
{
    if (pc->drop_params)
        return 0;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support the "
                      "parameter \"%s\" (set drop_params: true to drop it)",
                      pc->dep->preset->name, param);
}

/* Keys that never reach an upstream as such: llmux's own controls, and
 * OpenAI keys with no meaning for a translated request. */
static const char *const always_ok[] = {
    "model", "messages", "stream", "stream_options", "num_retries",
    "fallbacks", "context_window_fallbacks", "timeout", "disable_fallbacks",
    "drop_params", "mock_response", "user", "metadata", "store", "n",
    "caching", "cache", "max_retries", NULL,
};

static int in_list(const char *k, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return 1;
    return 0;
}

int common_check_params(struct pcall *pc, const char *const *known)
{
    const char *k;
    json_t *v;
    int r;

    json_object_foreach((json_t *)pc->req, k, v) {
        if (in_list(k, always_ok) || in_list(k, known) || json_is_null(v))
            continue;
        /* n=1 is the default everywhere; only n>1 is a real request. */
        if ((r = common_unsupported(pc, k)) < 0)
            return r;
    }
    v = json_object_get(pc->req, "n");
    if (json_is_integer(v) && json_integer_value(v) > 1 &&
        (r = common_unsupported(pc, "n")) < 0)
        return r;
    return 0;
}

json_t *common_stop_list(struct pcall *pc)
{
    json_t *stop = json_object_get(pc->req, "stop"), *v, *out;
    size_t i;

    if (stop == NULL || json_is_null(stop))
        return json_array();
    if (json_is_string(stop))
        return json_pack("[O]", stop);
    if (!json_is_array(stop)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "stop must be a string or an array "
                   "of strings");
        return NULL;
    }
    out = json_array();
    json_array_foreach(stop, i, v) {
        if (!json_is_string(v)) {
            json_decref(out);
            pcall_fail(pc, LLMUX_EBADREQ, 0, "stop[%zu] must be a string", i);
            return NULL;
        }
        json_array_append(out, v);
    }
    return out;
}

const char *common_tool_choice(const json_t *req, const char **ret_name)
{
    json_t *tc = json_object_get(req, "tool_choice");

    *ret_name = NULL;
    if (json_is_string(tc))
        return json_string_value(tc);
    if (json_is_object(tc)) {
        *ret_name = hub_str(json_object_get(tc, "function"), "name");
        return *ret_name ? "function" : NULL;
    }
    return NULL;
}

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

json_t *common_completion(const struct common_stream_id *s, json_t *message,
                          const char *finish_reason, json_t *usage)
{
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}",
                          "id", s->id, "object", "chat.completion",
                          "created", s->created, "model", s->model,
                          "choices", "index", 0, "message", message,
                          "finish_reason", finish_reason);

    if (c && usage)
        json_object_set(c, "usage", usage);
    return c;
}

json_t *common_usage(json_int_t prompt, json_int_t completion,
                     json_int_t cached, json_int_t reasoning)
{
    json_t *u = hub_usage(prompt, completion);

    if (u && cached >= 0)
        json_object_set_new(u, "prompt_tokens_details",
                            json_pack("{s:I}", "cached_tokens", cached));
    if (u && reasoning >= 0)
        json_object_set_new(u, "completion_tokens_details",
                            json_pack("{s:I}", "reasoning_tokens",
                                      reasoning));
    return u;
}

json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what)
{
    json_t *j = json_loadb(p, n, 0, NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a malformed %s (not a "
                   "JSON object)", pc->dep->preset->name, what);
        return NULL;
    }
    return j;
}
