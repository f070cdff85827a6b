/* embed_native.c -- embeddings in the native dialects' wire formats, each
 * from its API reference: Ollama POST /api/embed, Cohere v2 POST
 * /v2/embed, Gemini batchEmbedContents, and Cohere Embed and Titan Text
 * Embeddings on Bedrock (InvokeModel, SigV4 through bedrock.c's signer;
 * Titan one input a call). Owns: the upstream bodies and reading the
 * vectors back; embed.c makes the answer. */
#include "embed_native.h"
#include "common.h"
#include "config.h"
#include "embed.h"
#include "hub.h"
#include "provider.h"

#include <stdlib.h>
#include <string.h>

/* ---- shared ------------------------------------------------------------- */

static json_t *load_body(struct pcall *pc, const struct http_resp *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned a malformed "
                   "embeddings answer (not a JSON object)", pcall_name(pc));
        return NULL;
    }
    return j;
}

/* The answer from a whole body whose vectors vectors() finds (a list of
 * arrays), its token count at tok_path (NULL: none given). */
static int answer_body(struct pcall *pc, const struct http_resp *r,
                       const json_t *(*vectors)(const json_t *),
                       const char *const *tok_path, json_t **ret)
{
    json_t *j = load_body(pc, r);
    int rc;

    *ret = NULL;
    if (j == NULL)
        return pc->err.code;
    rc = embed_answer(pc, vectors(j), (long long)json_number_value(
                      embed_dig(j, tok_path)), ret);
    json_decref(j);
    return rc;
}

/* The upstream model without the dialect's route prefix. */
static const char *model_of(const struct pcall *pc)
{
    const char *m = pc->dep->upstream_model, *p = pc->prov->model_prefix;
    size_t n = p ? strlen(p) : 0;

    return n && strncmp(m, p, n) == 0 ? m + n : m;
}

/* Cohere's input_type: the request's (LiteLLM passes it through), else
 * search_document, LiteLLM's default. */
static const char *cohere_input_type(const struct pcall *pc)
{
    const char *t = hub_str(pc->req, "input_type");

    return t ? t : "search_document";
}

/* ---- Ollama ------------------------------------------------------------- */

/* {"model", "input": [...], "dimensions"?, "truncate"?, "keep_alive"?,
 * "options"?} -> {"model", "embeddings": [[...]], "prompt_eval_count"}. */
int ollama_embed_body(struct pcall *pc, struct buf *out)
{
    json_t *in = embed_part_texts(pc), *b, *v;
    static const char *const pass[] = { "dimensions", "truncate",
                                        "keep_alive", "options" };

    if (in == NULL)
        return pc->err.code;
    b = json_pack("{s:s,s:o}", "model", pc->dep->upstream_model, "input",
                  in);
    for (size_t i = 0; b && i < sizeof(pass) / sizeof(pass[0]); i++)
        if ((v = json_object_get(pc->req, pass[i])) != NULL)
            json_object_set(b, pass[i], v);
    return common_put_json(pc, b, out);
}

static const json_t *ollama_vectors(const json_t *j)
{
    return json_object_get(j, "embeddings");
}

int ollama_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    static const char *const tok[] = { "prompt_eval_count", NULL };

    return answer_body(pc, r, ollama_vectors, tok, ret);
}

/* ---- Cohere v2 ---------------------------------------------------------- */

/* {"model", "texts", "input_type", "embedding_types": ["float"],
 * "output_dimension"?, "truncate"?} -> {"embeddings": {"float": [[...]]},
 * "meta": {"billed_units": {"input_tokens"}}}. */
static json_t *cohere_request(struct pcall *pc, int with_model)
{
    json_t *in = embed_part_texts(pc), *b, *v;

    if (in == NULL)
        return NULL;
    b = json_pack("{s:o,s:s,s:[s]}", "texts", in, "input_type",
                  cohere_input_type(pc), "embedding_types", "float");
    if (b && with_model)
        json_object_set_new(b, "model", json_string(model_of(pc)));
    if (b && (v = json_object_get(pc->req, "dimensions")) != NULL)
        json_object_set(b, "output_dimension", v);
    if (b && (v = json_object_get(pc->req, "truncate")) != NULL)
        json_object_set(b, "truncate", v);
    if (b == NULL)
        pcall_oom(pc);
    return b;
}

int cohere_embed_body(struct pcall *pc, struct buf *out)
{
    json_t *b = cohere_request(pc, 1);

    return b ? common_put_json(pc, b, out) : pc->err.code;
}

/* embeddings is {"float": [...]} (embedding_types given), or the list
 * itself (the older embeddings_floats answer). */
static const json_t *cohere_vectors(const json_t *j)
{
    const json_t *e = json_object_get(j, "embeddings");

    return json_is_object(e) ? json_object_get(e, "float") : e;
}

int cohere_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    static const char *const tok[] = { "meta", "billed_units",
                                       "input_tokens", NULL };

    return answer_body(pc, r, cohere_vectors, tok, ret);
}

/* ---- Gemini ------------------------------------------------------------- */

/* Cohere-style input_type words, as LiteLLM users write them, in
 * Gemini's TaskType. */
const char *gemini_task(const struct pcall *pc)
{
    static const char *const map[][2] = {
        { "search_query", "RETRIEVAL_QUERY" },
        { "search_document", "RETRIEVAL_DOCUMENT" },
        { "classification", "CLASSIFICATION" },
        { "clustering", "CLUSTERING" },
    };
    const char *t = hub_str(pc->req, "task_type");

    if (t == NULL)
        t = hub_str(pc->req, "taskType");
    if (t)
        return t;
    if ((t = hub_str(pc->req, "input_type")) != NULL)
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(t, map[i][0]) == 0)
                return map[i][1];
    return NULL;
}

/* {"requests": [{"model": "models/M", "content": {"parts": [{"text"}]},
 * "taskType"?, "outputDimensionality"?}, …]} -> {"embeddings":
 * [{"values": [...]}, …]}, in request order. */
int gemini_embed_body(struct pcall *pc, struct buf *out)
{
    json_t *in = embed_part_texts(pc), *reqs, *t, *d;
    const char *task = gemini_task(pc);
    char model[300];
    size_t i;

    if (in == NULL)
        return pc->err.code;
    snprintf(model, sizeof(model), "models/%s", model_of(pc));
    d = json_object_get(pc->req, "dimensions");
    if ((reqs = json_array()) == NULL) {
        json_decref(in);
        return pcall_oom(pc);
    }
    json_array_foreach(in, i, t) {
        json_t *one = json_pack("{s:s,s:{s:[{s:O}]}}", "model", model,
                                "content", "parts", "text", t);

        if (one && task)
            json_object_set_new(one, "taskType", json_string(task));
        if (one && json_is_integer(d))
            json_object_set(one, "outputDimensionality", d);
        json_array_append_new(reqs, one);
    }
    json_decref(in);
    return common_put_json(pc, json_pack("{s:o}", "requests", reqs), out);
}

int gemini_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    static const char *const vec[] = { "values", NULL };

    /* batchEmbedContents reports no token counts. */
    return embed_parse_list(pc, r, "embeddings", vec, NULL, NULL, ret);
}

/* ---- Bedrock: Cohere Embed and Titan Text Embeddings ----------------- */

static int is_titan(const char *m)
{
    return strncmp(m, "amazon.titan-embed-text", 23) == 0 ||
           strstr(m, ".amazon.titan-embed-text") != NULL;
}

static int is_cohere(const char *m)
{
    return strncmp(m, "cohere.embed", 12) == 0 ||
           strstr(m, ".cohere.embed") != NULL;
}

/* Titan takes one inputText a call; Cohere Embed a list. */
size_t bedrock_embed_batch(const struct pcall *pc)
{
    return is_titan(model_of(pc)) ? 1 : 0;
}

/* Titan Text Embeddings (Bedrock's "Amazon Titan Embeddings G1 - Text"
 * page): V2 {"inputText", "dimensions"? (1024, 512 or 256), "normalize"
 * (true: OpenAI's vectors are unit length too)}; G1 (…-v1) takes
 * inputText alone. */
static int titan_body(struct pcall *pc, struct buf *out)
{
    const char *m = model_of(pc);
    json_t *in = embed_part_texts(pc), *b, *d, *norm;
    int v1 = strstr(m, "titan-embed-text-v1") != NULL;

    if (in == NULL)
        return pc->err.code;
    b = json_pack("{s:O}", "inputText", json_array_get(in, 0));
    json_decref(in);
    d = json_object_get(pc->req, "dimensions");
    norm = json_object_get(pc->req, "normalize");
    if (b && v1 && (json_is_integer(d) || norm) && !pc->drop_params) {
        json_decref(b);
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: %s takes no "
                          "dimensions or normalize (Titan Text Embeddings "
                          "V2 does; drop_params drops them)", m);
    }
    if (b && !v1) {
        if (json_is_integer(d))
            json_object_set(b, "dimensions", d);
        json_object_set_new(b, "normalize", json_is_boolean(norm) ?
                            json_incref(norm) : json_true());
    }
    return b ? common_put_json(pc, b, out) : pcall_oom(pc);
}

/* InvokeModel of an embeddings model: Cohere's body without "model" (the
 * URL names it), or Titan's, one input a call (embed_batch). */
int bedrock_embed_body(struct pcall *pc, struct buf *out)
{
    const char *m = model_of(pc);
    json_t *b;

    if (is_titan(m))
        return titan_body(pc, out);
    if (!is_cohere(m))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: llmux speaks "
                          "embeddings to Cohere Embed (cohere.embed-*) and "
                          "Titan Text Embeddings (amazon.titan-embed-text-*) "
                          "models only, not %s (deployment %s)", m,
                          pc->dep->id);
    b = cohere_request(pc, 0);
    return b ? common_put_json(pc, b, out) : pc->err.code;
}

/* Titan: {"embedding": [...], "inputTextTokenCount", "embeddingsByType"?};
 * Cohere: its v2 shape (Bedrock gives Cohere's token count in a header
 * only). */
int bedrock_embed_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret)
{
    json_t *j, *one;
    int rc;

    if (!is_titan(model_of(pc)))
        return answer_body(pc, r, cohere_vectors, NULL, ret);
    *ret = NULL;
    if ((j = load_body(pc, r)) == NULL)
        return pc->err.code;
    if ((one = json_pack("[O]", json_object_get(j, "embedding") ?
                         json_object_get(j, "embedding") :
                         json_null())) == NULL) {
        json_decref(j);
        return pcall_oom(pc);
    }
    rc = embed_collect(pc, one, json_integer_value(json_object_get(j,
                       "inputTextTokenCount")), ret);
    json_decref(one);
    json_decref(j);
    return rc;
}
