/* common_request.c -- the request side of the translation pieces the
 * adapters share (see common_request.h): reading the canonical request
 * (content, images, parameters, tools, JSON mode, reasoning) and writing
 * the upstream body. */
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

json_int_t common_int(const json_t *o, const char *k, json_int_t dflt)
{
    json_t *v = json_object_get(o, k);

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (json_int_t)json_real_value(v);
    return dflt;
}

json_t *common_max_tokens(const json_t *req)
{
    json_t *v = json_object_get(req, "max_completion_tokens");

    if (v == NULL || json_is_null(v))
        v = json_object_get(req, "max_tokens");
    return json_is_null(v) ? NULL : v;
}

void common_copy(const json_t *req, const char *from, json_t *to,
                 const char *key)
{
    json_t *v = json_object_get(req, from);

    if (v && !json_is_null(v))
        json_object_set(to, key, v);
}

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

const json_t *common_messages(struct pcall *pc)
{
    json_t *m = json_object_get(pc->req, "messages");

    if (!json_is_array(m)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "\"messages\" must be an array");
        return NULL;
    }
    return m;
}

int common_push_turn(json_t *msgs, const char *role, json_t *blocks)
{
    size_t n = json_array_size(msgs);
    json_t *last = n ? json_array_get(msgs, n - 1) : NULL;
    int r;

    if (blocks == NULL)
        return -ENOMEM;
    if (json_array_size(blocks) == 0) {
        json_decref(blocks);
        return 0;
    }
    if (last && strcmp(hub_str(last, "role"), role) == 0) {
        r = json_array_extend(json_object_get(last, "content"), blocks);
        json_decref(blocks);
        return r < 0 ? -ENOMEM : 0;
    }
    return json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", role,
                                                 "content", blocks)) < 0 ?
           -ENOMEM : 0;
}

json_t *common_text_value(struct pcall *pc, const json_t *content)
{
    struct buf b;
    json_t *s;

    if (content && !json_is_null(content) && !json_is_string(content) &&
        !json_is_array(content)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content must be a string "
                   "or an array of parts");
        return NULL;
    }
    buf_init(&b, HTTP_MAX_BODY);
    if (common_content_text(content, &b) < 0) {
        buf_free(&b);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content is too large");
        return NULL;
    }
    s = json_stringn(b.p ? b.p : "", b.len);
    buf_free(&b);
    if (s == NULL)
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content is not UTF-8");
    return s;
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

int common_part(struct pcall *pc, const json_t *part, const json_t **ret_text,
                struct common_image *ret_image)
{
    const char *type = hub_str(part, "type");
    json_t *t = json_object_get(part, "text");
    int r;

    *ret_text = NULL;
    if (type == NULL || strcmp(type, "text") == 0) {
        if (!json_is_string(t))
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "a text content part "
                              "needs a \"text\" string");
        *ret_text = t;
        return json_string_length(t) ? COMMON_PART_TEXT : COMMON_PART_EMPTY;
    }
    if (strcmp(type, "image_url") == 0)
        return (r = common_image(pc, part, ret_image)) < 0 ? r :
               COMMON_PART_IMAGE;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support content "
                      "parts of type \"%.40s\"", pcall_name(pc), type);
}

/* Image (and document) types by URL extension and MIME type; format is
 * the short name APIs such as Converse want, NULL where none takes it. */
static const struct {
    const char *ext, *mime, *format;
} media[] = {
    { ".png",  "image/png",       "png"  },
    { ".jpg",  "image/jpeg",      "jpeg" },
    { ".jpeg", "image/jpeg",      "jpeg" },
    { NULL,    "image/jpg",       "jpeg" },
    { ".gif",  "image/gif",       "gif"  },
    { ".webp", "image/webp",      "webp" },
    { ".heic", "image/heic",      NULL   },
    { ".heif", "image/heif",      NULL   },
    { ".pdf",  "application/pdf", NULL   },
};

const char *common_image_format(const char *mime, size_t len)
{
    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++)
        if (media[i].format && strlen(media[i].mime) == len &&
            strncasecmp(mime, media[i].mime, len) == 0)
            return media[i].format;
    return NULL;
}

const char *common_mime_from_url(const char *url)
{
    size_t n = strcspn(url, "?#");

    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
        size_t e = media[i].ext ? strlen(media[i].ext) : 0;

        if (e && n > e && strncasecmp(url + n - e, media[i].ext, e) == 0)
            return media[i].mime;
    }
    return NULL;
}

int common_reasoning_budget(struct pcall *pc)
{
    const char *e = hub_str(pc->req, "reasoning_effort");

    if (e == NULL || strcmp(e, "none") == 0)
        return 0;
    if (strcmp(e, "minimal") == 0 || strcmp(e, "low") == 0)
        return 1024;
    if (strcmp(e, "medium") == 0)
        return 2048;
    if (strcmp(e, "high") == 0)
        return 4096;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "unknown reasoning_effort "
                      "\"%.32s\" (none, minimal, low, medium, high)", e);
}

int common_reasoning(struct pcall *pc, const json_t **ret_thinking)
{
    json_t *th = json_object_get(pc->req, "thinking");
    int budget;

    *ret_thinking = json_is_object(th) ? th : NULL;
    if (th && !json_is_null(th) && !json_is_object(th))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "\"thinking\" must be an "
                          "object");
    if ((budget = common_reasoning_budget(pc)) < 0)
        return budget;
    if (*ret_thinking)          /* Anthropic's own shape wins */
        return strcmp(hub_str(th, "type") ? hub_str(th, "type") : "",
                      "enabled") == 0 ?
               (int)common_int(th, "budget_tokens", 0) : 0;
    return budget;
}

int common_unsupported(struct pcall *pc, const char *param)
{
    if (pc->drop_params)
        return 0;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support the "
                      "parameter \"%s\" (set drop_params: true to drop it)",
                      pcall_name(pc), param);
}

/* OpenAI keys with no meaning for a translated request (llmux's own
 * control keys are stripped before adapters see the request). */
static const char *const always_ok[] = {
    "model", "messages", "stream", "stream_options", "user", "metadata",
    "store", "n", NULL,
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

int common_tools(struct pcall *pc, const json_t **ret_tools)
{
    json_t *t = json_object_get(pc->req, "tools");

    *ret_tools = NULL;
    if (t == NULL || json_is_null(t))
        return 0;
    if (!json_is_array(t))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "\"tools\" must be an "
                          "array");
    *ret_tools = t;
    return 0;
}

int common_tool(struct pcall *pc, const json_t *tools, size_t i,
                struct common_tool *ret)
{
    json_t *t = json_array_get(tools, i), *params;
    const char *type = hub_str(t, "type");

    ret->fn = json_object_get(t, "function");
    ret->name = hub_str(ret->fn, "name");
    ret->description = hub_str(ret->fn, "description");
    params = json_object_get(ret->fn, "parameters");
    ret->parameters = json_is_object(params) ? params : NULL;
    if ((type && strcmp(type, "function") != 0) || ret->name == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "tools[%zu]: %s takes "
                          "{\"type\":\"function\", \"function\":{\"name\":"
                          "…}}", i, pcall_name(pc));
    return 0;
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

int common_response_format(struct pcall *pc, int schema_optional,
                           const json_t **ret_schema)
{
    json_t *rf = json_object_get(pc->req, "response_format"), *schema;
    const char *t;

    *ret_schema = NULL;
    if (rf == NULL || json_is_null(rf))
        return 0;
    if ((t = hub_str(rf, "type")) == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "response_format needs a "
                          "\"type\"");
    if (strcmp(t, "text") == 0)
        return 0;
    if (strcmp(t, "json_object") == 0)
        return 1;
    if (strcmp(t, "json_schema") != 0)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: unknown response_format "
                          "type \"%s\" (text, json_object, json_schema)",
                          pcall_name(pc), t);
    schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!json_is_object(schema) && !schema_optional)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "response_format json_schema "
                          "needs json_schema.schema");
    *ret_schema = json_is_object(schema) ? schema : NULL;
    return 2;
}

int common_json_mode(const json_t *req)
{
    const char *t = hub_str(json_object_get(req, "response_format"), "type");

    return t && (strcmp(t, "json_object") == 0 ||
                 strcmp(t, "json_schema") == 0);
}

json_t *common_json_tool_schema(const json_t *schema)
{
    json_t *s;

    if (schema == NULL)
        return json_pack("{s:s, s:b, s:{}}", "type", "object",
                         "additionalProperties", 1, "properties");
    s = json_deep_copy(schema);
    if (s && json_object_get(s, "type") == NULL)
        json_object_set_new(s, "type", json_string("object"));
    return s;
}

json_t *common_tool_args(struct pcall *pc, const json_t *fn, size_t i)
{
    json_t *a = json_object_get(fn, "arguments"), *j;
    const char *s = json_string_value(a);

    if (a == NULL || json_is_null(a) ||
        (s && s[strspn(s, " \t\r\n")] == '\0'))
        return json_object();
    j = s ? json_loadb(s, json_string_length(a), JSON_DECODE_ANY, NULL) :
        json_incref(a);
    if (!json_is_object(j)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu].function.arguments "
                   "must be a JSON object", i);
        return NULL;
    }
    return j;
}

int common_put_json(struct pcall *pc, json_t *body, struct buf *out)
{
    char *text;
    int r;

    if (body == NULL)
        return pc->err.code ? pc->err.code : pcall_oom(pc);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    r = text ? buf_adds(out, text) : -ENOMEM;
    free(text);
    if (r == LLMUX_ETOOBIG)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "the %s request is over "
                          "%u MiB", pcall_name(pc), HTTP_MAX_BODY >> 20);
    return r < 0 ? pcall_oom(pc) : 0;
}
