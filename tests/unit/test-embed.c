/* test-embed.c -- unit tests of embeddings (daemon/embed.c and the embed_*
 * hooks of providers/openai_embed.c, embed_native.c, mock.c): the body
 * checks, golden upstream requests per dialect written from each API
 * reference, the documented answers through parse_embed (order by index,
 * float32 rounding, base64, token counts), answers that must be refused,
 * and the float32 msgpack form. */
#include "test.h"
#include "adapter-harness.h"
#include "embed.h"
#include "hub.h"

#include <jansson.h>
#include <msgpack.h>
#include <string.h>

extern const struct provider provider_openai, provider_azure,
    provider_ollama, provider_cohere, provider_gemini, provider_mock,
    provider_bedrock;

static const char *const bearer[] = {
    "Content-Type: application/json", "Authorization: Bearer test-key", NULL,
};
static const char *const cohere_h[] = {
    "Content-Type: application/json", "Accept: application/json",
    "Authorization: Bearer test-key", NULL,
};
static const char *const goog[] = {
    "Content-Type: application/json", "x-goog-api-key: test-key", NULL,
};
static const char *const azure_h[] = {
    "Content-Type: application/json", "api-key: test-key", NULL,
};
static const char *const plain[] = { "Content-Type: application/json", NULL };

static const struct ah_target openai = {
    .prov = &provider_openai, .preset = "openai",
    .model = "text-embedding-3-small", .api_base = "https://api.openai.com/v1",
    .key = "test-key", .headers = bearer, .seq = 1,
};
static const struct ah_target groq = {
    .prov = &provider_openai, .preset = "groq", .model = "llama-3.1-8b",
    .api_base = "https://api.groq.com/openai/v1", .key = "test-key",
    .headers = bearer, .seq = 1,
};
static const struct ah_target azure = {
    .prov = &provider_azure, .preset = "azure", .model = "emb-prod",
    .api_base = "https://res.openai.azure.com", .key = "test-key",
    .headers = azure_h, .seq = 1,
};
static const struct ah_target ollama = {
    .prov = &provider_ollama, .preset = "ollama", .model = "all-minilm",
    .api_base = "http://localhost:11434", .headers = plain, .seq = 1,
};
static const struct ah_target cohere = {
    .prov = &provider_cohere, .preset = "cohere",
    .model = "embed-english-v3.0", .api_base = "https://api.cohere.com",
    .key = "test-key", .headers = cohere_h, .seq = 1,
};
static const struct ah_target gemini = {
    .prov = &provider_gemini, .preset = "gemini",
    .model = "text-embedding-004",
    .api_base = "https://generativelanguage.googleapis.com",
    .key = "test-key", .headers = goog, .seq = 1,
};
static const struct ah_target mock = {
    .prov = &provider_mock, .preset = "mock", .model = "embed", .seq = 1,
};

static int golden(const struct ah_target *t, const char *req,
                  const char *url, const char *want)
{
    struct ah f;
    int ok;

    if (!ah_init(&f, t, req, 0))
        return 0;
    f.pc.embed = 1;
    ok = ah_request_is(&f, url, want);
    ah_free(&f);
    return ok;
}

/* body through t's parse_embed for req; the answer (caller frees) or
 * NULL, with the error code in *code. */
static json_t *parse(const struct ah_target *t, const char *req,
                     const char *body, int *code)
{
    struct http_resp r = { 200, body, strlen(body), -1 };
    json_t *out = NULL;
    struct ah f;

    if (!ah_init(&f, t, req, 0))
        return NULL;
    f.pc.embed = 1;
    *code = t->prov->parse_embed(&f.pc, &r, &out);
    ah_free(&f);
    return out;
}

TEST(embed_validate_bodies)
{
    static const char *const good[] = {
        "{'model':'m','input':'x'}", "{'model':'m','input':['a','b']}",
        "{'model':'m','input':[1,2,3]}", "{'model':'m','input':[[1],[2,3]]}",
        "{'model':'m','input':'x','encoding_format':'base64','dimensions':8}",
    };
    static const char *const bad[] = {
        "{'input':'x'}", "{'model':'m'}", "{'model':'m','input':[]}",
        "{'model':'m','input':['a',[]]}", "{'model':'m','input':[1,-2]}",
        "{'model':'m','input':'x','encoding_format':'int8'}",
        "{'model':'m','input':'x','dimensions':0}",
        "{'model':'m','input':'x','dimensions':'8'}",
    };
    char msg[256];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *b = ah_json(good[i]);

        ASSERT_EQ(embed_validate(b, msg, sizeof(msg)), 0);
        json_decref(b);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = ah_json(bad[i]);

        ASSERT_EQ(embed_validate(b, msg, sizeof(msg)), LLMUX_EBADREQ);
        json_decref(b);
    }
}

TEST(embed_openai_request)
{
    /* The caller's body, the upstream model, floats always. */
    ASSERT(golden(&openai, "{'model':'emb','input':['a','b'],'dimensions':"
                  "256,'user':'u1','encoding_format':'base64'}",
                  "https://api.openai.com/v1/embeddings",
                  "{'model':'text-embedding-3-small','input':['a','b'],"
                  "'dimensions':256,'user':'u1','encoding_format':'float'}"));
    /* Azure's default api-version (azure.c), the deployment in the URL. */
    ASSERT(golden(&azure, "{'model':'emb','input':'x'}",
                  "https://res.openai.azure.com/openai/deployments/emb-prod/"
                  "embeddings?api-version=2024-10-21",
                  "{'model':'emb-prod','input':'x','encoding_format':"
                  "'float'}"));
}

TEST(embed_native_requests)
{
    ASSERT(golden(&ollama, "{'model':'e','input':['a','b'],'dimensions':3,"
                  "'user':'u'}", "http://localhost:11434/api/embed",
                  "{'model':'all-minilm','input':['a','b'],'dimensions':3}"));
    ASSERT(golden(&cohere, "{'model':'e','input':'q','input_type':"
                  "'search_query','dimensions':512}",
                  "https://api.cohere.com/v2/embed",
                  "{'model':'embed-english-v3.0','texts':['q'],'input_type':"
                  "'search_query','embedding_types':['float'],"
                  "'output_dimension':512}"));
    ASSERT(golden(&gemini, "{'model':'e','input':['a','b'],'input_type':"
                  "'search_query','dimensions':8}",
                  "https://generativelanguage.googleapis.com/v1beta/models/"
                  "text-embedding-004:batchEmbedContents",
                  "{'requests':[{'model':'models/text-embedding-004',"
                  "'content':{'parts':[{'text':'a'}]},'taskType':"
                  "'RETRIEVAL_QUERY','outputDimensionality':8},{'model':"
                  "'models/text-embedding-004','content':{'parts':[{'text':"
                  "'b'}]},'taskType':'RETRIEVAL_QUERY',"
                  "'outputDimensionality':8}]}"));
}

TEST(embed_refusals_name_the_provider)
{
    struct perr e;
    struct ah f;

    ASSERT(ah_init(&f, &groq, "{'model':'e','input':'x'}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(embed_supported(&f.pc), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "groq offers no embeddings") != NULL);
    ah_free(&f);
    ASSERT(ah_init(&f, &cohere, "{'model':'e','input':[[1,2]]}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(ah_build(&f), LLMUX_EBADREQ);
    e = f.pc.err;
    ASSERT(strstr(e.message, "not token arrays") != NULL);
    ah_free(&f);
}

TEST(embed_openai_answer_in_index_order)
{
    int code;
    /* OpenAI's documented shape; the items out of order on purpose. */
    json_t *a = parse(&openai, "{'model':'e','input':['x','y']}",
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
        "\"index\":1,\"embedding\":[0.5,-0.25]},{\"object\":\"embedding\","
        "\"index\":0,\"embedding\":[0.0023064255,-0.009327292]}],"
        "\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":"
        "8,\"total_tokens\":8}}", &code);

    ASSERT_EQ(code, 0);
    ASSERT(ah_expect(a, "{'object':'list','data.#':2,'data.0.index':0,"
                     "'data.1.embedding':[0.5,-0.25],'usage':"
                     "{'prompt_tokens':8,'total_tokens':8}}"));
    /* float32, as the provider computed it */
    ASSERT(json_real_value(ah_get(a, "data.0.embedding.0")) ==
           (double)0.0023064255f);
    json_decref(a);
}

TEST(embed_base64_is_float32_le)
{
    int code;
    json_t *a = parse(&ollama, "{'model':'e','input':'x','encoding_format':"
                      "'base64'}", "{\"model\":\"all-minilm\",\"embeddings\":"
                      "[[1.0,-2.0]],\"prompt_eval_count\":3}", &code);

    ASSERT_EQ(code, 0);
    /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0 */
    ASSERT_STR_EQ(ah_str(a, "data.0.embedding"), "AACAPwAAAMA=");
    ASSERT_EQ(ah_int(a, "usage.prompt_tokens"), 3);
    json_decref(a);
}

TEST(embed_native_answers)
{
    int code;
    json_t *a = parse(&cohere, "{'model':'e','input':['a','b']}",
        "{\"id\":\"x\",\"embeddings\":{\"float\":[[0.1],[0.2]]},\"texts\":"
        "[\"a\",\"b\"],\"meta\":{\"api_version\":{\"version\":\"2\"},"
        "\"billed_units\":{\"input_tokens\":2}},\"response_type\":"
        "\"embeddings_by_type\"}", &code);

    ASSERT_EQ(code, 0);
    ASSERT(ah_expect(a, "{'data.#':2,'data.1.index':1,'usage.prompt_tokens'"
                     ":2}"));
    json_decref(a);
    a = parse(&gemini, "{'model':'e','input':['a','b']}",
              "{\"embeddings\":[{\"values\":[0.5]},{\"values\":[0.75]}]}",
              &code);
    ASSERT_EQ(code, 0);
    ASSERT(ah_expect(a, "{'data.1.embedding':[0.75],'usage.prompt_tokens':"
                     "0}"));
    json_decref(a);
}

static const struct ah_target titan = {
    .prov = &provider_bedrock, .preset = "bedrock",
    .model = "amazon.titan-embed-text-v2:0", .headers = plain, .seq = 1,
};

/* One body through f's parse_embed: its return, *out the answer. */
static int feed(struct ah *f, const char *body, json_t **out)
{
    struct http_resp r = { 200, body, strlen(body), -1 };

    return f->pc.prov->parse_embed(&f->pc, &r, out);
}

TEST(embed_titan_collects_one_call_per_input)
{
    json_t *out = NULL;
    struct ah f;

    ASSERT(ah_init(&f, &titan, "{'model':'e','input':['a','b','c']}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(feed(&f, "{\"embedding\":[0.5],\"inputTextTokenCount\":3}",
                   &out), EMBED_MORE);
    ASSERT(out == NULL && f.pc.embed_first == 1);
    ASSERT_EQ(feed(&f, "{\"embedding\":[0.25],\"inputTextTokenCount\":4,"
                   "\"embeddingsByType\":{\"float\":[0.25]}}", &out),
              EMBED_MORE);
    ASSERT_EQ(feed(&f, "{\"embedding\":[-1],\"inputTextTokenCount\":1}",
                   &out), 0);
    ASSERT(ah_expect(out, "{'data.#':3,'data.0.embedding':[0.5],"
                     "'data.1.embedding':[0.25],'data.2.index':2,"
                     "'usage.prompt_tokens':8,'usage.total_tokens':8}"));
    ASSERT(f.pc.embed_done == NULL);
    json_decref(out);
    ah_free(&f);
    /* A call that answers no vector fails the attempt at once. */
    ASSERT(ah_init(&f, &titan, "{'model':'e','input':['a','b','c']}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(feed(&f, "{\"embedding\":[0.5]}", &out), EMBED_MORE);
    ASSERT_EQ(feed(&f, "{\"inputTextTokenCount\":4}", &out),
              LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "input 1") != NULL);
    json_decref(f.pc.embed_done);
    ah_free(&f);
}

TEST(embed_bad_answers_are_refused)
{
    static const char *const bodies[] = {
        "[]",
        "{\"model\":\"m\",\"embeddings\":[[0.1]]}",          /* 1 for 2 */
        "{\"model\":\"m\",\"embeddings\":[[0.1],[]]}",       /* empty */
        "{\"model\":\"m\",\"embeddings\":[[0.1],[\"x\"]]}",  /* not numbers */
    };
    int code;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *a = parse(&ollama, "{'model':'e','input':['a','b']}",
                          bodies[i], &code);

        ASSERT(a == NULL);
        ASSERT_EQ(code, LLMUX_EUNAVAIL);
    }
}

TEST(embed_mock_is_deterministic)
{
    json_t *a = NULL, *b = NULL;
    struct ah f;

    ASSERT(ah_init(&f, &mock, "{'model':'e','input':['s','t','s'],"
                   "'dimensions':5}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(embed_run_local(&f.pc, &a), 0);
    ah_free(&f);
    ASSERT(ah_init(&f, &mock, "{'model':'e','input':'t','dimensions':5}", 0));
    f.pc.embed = 1;
    ASSERT_EQ(embed_run_local(&f.pc, &b), 0);
    ah_free(&f);
    ASSERT(json_equal(ah_get(a, "data.0.embedding"),
                      ah_get(a, "data.2.embedding")));
    ASSERT(!json_equal(ah_get(a, "data.0.embedding"),
                       ah_get(a, "data.1.embedding")));
    ASSERT(json_equal(ah_get(a, "data.1.embedding"),
                      ah_get(b, "data.0.embedding")));
    ASSERT_EQ(json_array_size(ah_get(a, "data.0.embedding")), 5);
    json_decref(a);
    json_decref(b);
}

TEST(embed_pack_float32)
{
    json_t *a = ah_json("{'object':'list','data':[{'object':'embedding',"
                        "'index':0,'embedding':[0.5,0.25,1.0]}],'model':'m'}");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    const msgpack_object *v = NULL;
    size_t off = 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ASSERT_EQ(embed_pack(&pk, a), 0);
    msgpack_unpacked_init(&up);
    ASSERT_EQ(msgpack_unpack_next(&up, sb.data, sb.size, &off),
              MSGPACK_UNPACK_SUCCESS);
    for (uint32_t i = 0; i < up.data.via.map.size; i++)
        if (up.data.via.map.ptr[i].key.via.str.size == 4 &&
            memcmp(up.data.via.map.ptr[i].key.via.str.ptr, "data", 4) == 0)
            v = &up.data.via.map.ptr[i].val;
    ASSERT(v && v->type == MSGPACK_OBJECT_ARRAY);
    v = &v->via.array.ptr[0];
    for (uint32_t i = 0; i < v->via.map.size; i++)
        if (v->via.map.ptr[i].key.via.str.size == 9)
            v = &v->via.map.ptr[i].val;
    ASSERT(v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 3);
    for (uint32_t i = 0; i < 3; i++)
        ASSERT_EQ(v->via.array.ptr[i].type, MSGPACK_OBJECT_FLOAT32);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    json_decref(a);
}
