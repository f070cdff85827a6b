/* dfilter.c -- a group's deployments a request may use (see dfilter.h):
 * not one llmux cannot serve; with enable_tag_filtering, those whose
 * litellm_params.tags match the request's tags (LiteLLM's tag routing);
 * with enable_pre_call_checks, those whose context window
 * (model_info.max_input_tokens, else LiteLLM's table) the request fits. */
#include "dfilter.h"
#include "config.h"
#include "deployment.h"
#include "llmux-errno.h"
#include "modeltab.h"
#include "presets.h"
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tags ---------------------------------------------------------------- */

static int has_tag(const json_t *tags, const char *t)
{
    size_t i;
    json_t *v;

    json_array_foreach(tags, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
            return 1;
    return 0;
}

/* Whether deployment tags dt match request tags rt: any of them
 * (tag_filtering_match_any, LiteLLM's default) or all. */
static int tags_match(const json_t *dt, const json_t *rt, int any)
{
    size_t i, hits = 0;
    json_t *v;

    json_array_foreach(rt, i, v)
        hits += json_is_string(v) && has_tag(dt, json_string_value(v));
    return any ? hits > 0 : hits == json_array_size(rt);
}

/* The request's tags: "tags", else metadata.tags (LiteLLM reads both). */
static const json_t *request_tags(const struct request *rq)
{
    const json_t *t = rq->opts.tags;

    if (!json_is_array(t) && rq->opts.metadata)
        t = json_object_get(rq->opts.metadata, "tags");
    return json_is_array(t) && json_array_size(t) > 0 ? t : NULL;
}

static void drop(struct deployment **got, int i)
{
    deployment_unref(got[i]);
    got[i] = NULL;
}

/* LiteLLM's tag routing: with tags, the deployments that match, else
 * those tagged "default"; without, those tagged "default" if any, else
 * all. Drops the others (got[i] = NULL). */
static void filter_tags(const struct request *rq, struct deployment **got,
                        int n)
{
    const json_t *rt = request_tags(rq);
    int match = 0, dflt = 0;

    for (int i = 0; i < n; i++) {
        const json_t *dt = json_object_get(got[i]->params, "tags");

        match += rt && tags_match(dt, rt, rq->cfg->router.tag_match_any);
        dflt += has_tag(dt, "default");
    }
    for (int i = 0; i < n; i++) {
        const json_t *dt = json_object_get(got[i]->params, "tags");
        int keep = match ? tags_match(dt, rt, rq->cfg->router.tag_match_any) :
                   dflt ? has_tag(dt, "default") : rt == NULL;

        if (!keep)
            drop(got, i);
    }
}

/* ---- context window ---------------------------------------------------- */

/* Characters of text in a message content (a string, or parts). */
static size_t content_chars(const json_t *c)
{
    size_t i, n = 0;
    json_t *p;

    if (json_is_string(c))
        return json_string_length(c);
    json_array_foreach(c, i, p)
        n += json_string_length(json_object_get(p, "text"));
    return n;
}

size_t dfilter_estimate_tokens(const json_t *req)
{
    const json_t *msgs = json_object_get(req, "messages"),
                 *tools = json_object_get(req, "tools");
    size_t i, chars = 0, tokens;
    json_t *m;

    /* Roughly what LiteLLM's token_counter gives with tiktoken for
     * English: a token per 4 characters, plus 4 per message for its
     * role and separators, plus 3 to prime the answer. */
    json_array_foreach(msgs, i, m)
        chars += content_chars(json_object_get(m, "content"));
    tokens = (chars + 3) / 4 + 4 * json_array_size(msgs) + 3;
    if (tools) {
        char *t = json_dumps(tools, JSON_COMPACT);

        tokens += t ? strlen(t) / 4 : 0;
        free(t);
    }
    return tokens;
}

/* The deployment's context window: model_info.max_input_tokens, else the
 * table's for base_model, the model as written, or the upstream name. */
static size_t max_input(const struct deployment *d)
{
    const json_t *v = json_object_get(d->model_info, "max_input_tokens");
    const char *base = json_string_value(json_object_get(d->model_info,
                                                         "base_model"));
    const struct modelrow *row = NULL;

    if (json_is_number(v) && json_number_value(v) > 0)
        return (size_t)json_number_value(v);
    if (base)
        row = modeltab_find(base);
    if (row == NULL)
        row = modeltab_find(d->model);
    if (row == NULL && d->upstream_model)
        row = modeltab_find(d->upstream_model);
    return row ? row->max_input : 0;
}

/* ---- the filter -------------------------------------------------------- */

/* Moves the kept references to the front: how many. */
static int compact(struct deployment **got, int n)
{
    int k = 0;

    for (int i = 0; i < n; i++)
        if (got[i])
            got[k++] = got[i];
    return k;
}

int dfilter_apply(const struct request *rq, const char *group,
                  struct deployment **got, int n, char *msg, size_t len)
{
    struct deployment *unusable = NULL;   /* the first, for the words */
    size_t need, biggest = 0;
    int before, usable = 0;

    for (int i = 0; i < n; i++) {
        if (!got[i]->unusable)
            usable++;
        else if (unusable == NULL)
            unusable = got[i];
        else
            drop(got, i);
    }
    if (usable == 0 && unusable) {
        snprintf(msg, len, "no deployment of \"%s\" can be served: %s (%s, "
                 "provider \"%s\")", group, unusable->unusable,
                 unusable->model, unusable->preset->name);
        deployment_unref(unusable);
        return LLMUX_ENOTFOUND;
    }
    for (int i = 0; i < n; i++)
        if (got[i] && got[i] == unusable)
            drop(got, i);
    n = compact(got, n);
    if (rq->cfg->router.tag_filtering && n > 0) {
        filter_tags(rq, got, n);
        if ((n = compact(got, n)) == 0) {
            snprintf(msg, len, "no deployment of \"%s\" has the request's "
                     "tags (enable_tag_filtering; tag one \"default\" to "
                     "catch the others)", group);
            return LLMUX_ENOTFOUND;
        }
    }
    if (!rq->cfg->router.pre_call_checks || n == 0)
        return n;
    need = dfilter_estimate_tokens(rq->body);
    before = n;
    for (int i = 0; i < n; i++) {
        size_t max = max_input(got[i]);

        if (max > biggest)
            biggest = max;
        if (max > 0 && need > max)
            drop(got, i);
    }
    if ((n = compact(got, n)) == 0 && before > 0) {
        snprintf(msg, len, "the request (about %zu tokens) exceeds the "
                 "context window of every deployment of \"%s\" (the largest "
                 "takes %zu; enable_pre_call_checks)", need, group, biggest);
        return LLMUX_ECONTEXT;
    }
    return n;
}
