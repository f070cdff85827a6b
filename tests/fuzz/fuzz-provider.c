/* fuzz-provider.c -- libFuzzer target: one provider adapter's readers and
 * request builder (daemon/providers/), chosen by name at start-up:
 *     LLMUX_FUZZ_PROVIDER=anthropic build-fuzz/fuzz-provider CORPUS
 * so that a new adapter is fuzzed by adding tests/fuzz/corpus/provider-NAME
 * (run.py does the rest). The deployment and pcall are set up as the unit
 * tests do. Input: a mode byte, an argument byte, then the bytes:
 *   mode 0: a whole 2xx body -> parse
 *   mode 1: a 2xx stream -> stream_feed in pieces (argument = piece size),
 *           stream_end, stream_free
 *   mode 2: an error body -> map_error (argument picks the status)
 *   mode 3: a canonical request (JSON) -> build (argument bit 0: stream)
 *   mode 4: a whole 2xx embeddings body -> parse_embed, again while the
 *           dialect asks for its next batch (EMBED_MORE); argument bit 0:
 *           the dialect's other embeddings model (Titan on Bedrock,
 *           gemini-embedding-001 on Vertex AI), which takes one input a
 *           call
 *   mode 5: an embeddings request (JSON) -> build
 * (the mode byte modulo 8; 6 and 7 are modes 2 and 3 again).
 * Oracles: failures set pc->err; what the adapter returns or emits is a
 * JSON object; no message carries the deployment's key. */
#include "config.h"
#include "embed.h"
#include "fuzz.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "providers/vertex.h"

#include <string.h>

#define FUZZ_KEY "sk-fuzzkey-0123456789abcdef"

static const struct provider *prov;
static struct deployment dep;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *name = getenv("LLMUX_FUZZ_PROVIDER");
    const struct preset *pre;

    (void)argc;
    (void)argv;
    if (name == NULL || *name == '\0')
        name = "openai";
    if ((prov = provider_find(name, strlen(name))) == NULL) {
        fprintf(stderr, "fuzz-provider: no provider called '%s'\n", name);
        exit(2);
    }
    pre = preset_find(name, strlen(name));
    if (pre == NULL)
        pre = preset_find("openai", 6);
    dep.model_name = (char *)"fuzz";
    dep.model = (char *)"fuzz/fuzz-model";
    dep.preset = pre;
    dep.prov = prov;
    dep.upstream_model = (char *)"fuzz-model";
    dep.api_base = (char *)(pre->api_base ? pre->api_base
                                          : "https://fuzz.example.invalid");
    dep.api_key = secret_new(FUZZ_KEY, strlen(FUZZ_KEY));
    dep.api_version = (char *)"2024-10-21";
    dep.id = (char *)"fuzz-dep";
    dep.params = json_object();
    dep.file = (char *)"fuzz.yaml";
    dep.line = 1;
    if (strcmp(name, "vertex_ai") == 0) {
        /* What vertex_bind leaves for a usable deployment (no key: the
         * harness builds without a token). */
        static struct vertex_dep v = { .project = (char *)"fuzz-proj",
                                       .location = (char *)"us-central1" };
        dep.vertex = &v;
    }
    return 0;
}

static int emit(void *ud, json_t *chunk)
{
    size_t *n = ud;

    FUZZ_ASSERT(json_is_object(chunk));
    json_decref(chunk);
    (*n)++;
    return 0;
}

static void check_err(const struct pcall *pc, int r)
{
    if (r >= 0)
        return;
    FUZZ_ASSERT(pc->err.code != 0);
    FUZZ_ASSERT(memchr(pc->err.message, '\0', sizeof(pc->err.message)));
    FUZZ_ASSERT(strstr(pc->err.message, FUZZ_KEY) == NULL);
}

static void pcall_setup(struct pcall *pc, json_t *req, int stream,
                        size_t *nchunks)
{
    memset(pc, 0, sizeof(*pc));
    pc->prov = prov;
    pc->dep = &dep;
    pc->req = req;
    pc->stream = stream;
    pc->seq = 7;
    pc->emit = emit;
    pc->emit_ud = nchunks;
    pc->err.retry_after = -1;
}

static void run_parse(struct pcall *pc, const char *p, size_t n)
{
    struct http_resp r = { .status = 200, .body = p, .len = n,
                           .retry_after = -1 };
    json_t *c = NULL;
    int rc;

    if (prov->parse == NULL)
        return;
    rc = prov->parse(pc, &r, &c);
    check_err(pc, rc);
    if (rc == 0)
        FUZZ_ASSERT(json_is_object(c));
    json_decref(c);
}

static void run_stream(struct pcall *pc, const char *p, size_t n,
                       size_t piece)
{
    size_t off = 0, k;
    int rc = 0;

    if (prov->stream_feed == NULL)
        return;
    while (rc >= 0 && off < n) {
        k = piece > n - off ? n - off : piece;
        rc = prov->stream_feed(pc, p + off, k);
        off += k;
    }
    if (rc >= 0 && prov->stream_end)
        rc = prov->stream_end(pc);
    check_err(pc, rc);
    if (prov->stream_free)
        prov->stream_free(pc);
}

static void run_map_error(struct pcall *pc, const char *p, size_t n,
                          uint8_t arg)
{
    static const long statuses[] = { 400, 401, 403, 404, 408, 413, 422,
                                     429, 500, 502, 503, 504, 529, 599 };
    struct http_resp r = { .status = statuses[arg % 14], .body = p,
                           .len = n, .retry_after = arg & 0x80 ? 2 : -1 };
    int rc;

    rc = prov->map_error ? prov->map_error(pc, &r)
                         : provider_map_error_default(pc, &r);
    FUZZ_ASSERT(rc < 0 && pc->err.code == rc);
    check_err(pc, rc);
}

/* parse_embed until the answer (or a failure): a dialect that takes a
 * few inputs a call asks for the next batch with EMBED_MORE. */
static void run_parse_embed(struct pcall *pc, const char *p, size_t n,
                            int one_a_call)
{
    struct http_resp r = { .status = 200, .body = p, .len = n,
                           .retry_after = -1 };
    json_t *a = NULL;
    int rc, rounds = 0;

    if (prov->parse_embed == NULL)
        return;
    pc->embed = 1;
    if (one_a_call)
        dep.upstream_model = (char *)(prov == &provider_bedrock ?
            "amazon.titan-embed-text-v2:0" : "gemini-embedding-001");
    do {
        rc = prov->parse_embed(pc, &r, &a);
        FUZZ_ASSERT(rc != EMBED_MORE || a == NULL);
    } while (rc == EMBED_MORE && ++rounds < 8);
    check_err(pc, rc);
    if (rc == 0)
        FUZZ_ASSERT(json_is_object(a) &&
                    json_is_array(json_object_get(a, "data")));
    json_decref(a);
    json_decref(pc->embed_done);
    dep.upstream_model = (char *)"fuzz-model";
}

static void run_build(const char *p, size_t n, int stream, int embed)
{
    json_t *req = json_loadb(p, n, 0, NULL);
    struct http_req h;
    struct pcall pc;
    size_t nchunks = 0;
    int rc;

    if (!json_is_object(req) || (prov->flags & PROV_LOCAL)) {
        json_decref(req);
        return;
    }
    if (embed && (prov->build_embed_body == NULL ||
                  embed_validate(req, NULL, 0) < 0)) {
        json_decref(req);
        return;
    }
    pcall_setup(&pc, req, stream && !embed, &nchunks);
    pc.embed = embed;
    http_req_init(&h);
    rc = provider_build(&pc, &h);
    check_err(&pc, rc);
    if (rc == 0)
        FUZZ_ASSERT(h.url.len > 0);
    http_req_free(&h);
    json_decref(pc.usage);
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char reqtext[] =
        "{\"model\":\"fuzz\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"hi\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]}";
    static const char embedtext[] =
        "{\"model\":\"fuzz\",\"input\":[\"one\",\"two\",\"three\"]}";
    struct pcall pc;
    size_t nchunks = 0, n;
    json_t *req;
    char *body;
    int mode;

    if (size < 2)
        return 0;
    n = size - 2;
    if ((body = malloc(n ? n : 1)) == NULL)
        return 0;
    memcpy(body, data + 2, n);
    mode = data[0] % 8;
    if (mode == 3 || mode == 7 || mode == 5) {
        run_build(body, n, data[1] & 1, mode == 5);
        free(body);
        return 0;
    }
    req = json_loads(mode == 4 ? embedtext : reqtext, 0, NULL);
    pcall_setup(&pc, req, mode == 1, &nchunks);
    switch (mode) {
    case 0: run_parse(&pc, body, n); break;
    case 1: run_stream(&pc, body, n, fuzz_piece(data[1])); break;
    case 2: case 6: run_map_error(&pc, body, n, data[1]); break;
    case 4: run_parse_embed(&pc, body, n, data[1] & 1); break;
    }
    json_decref(pc.usage);
    json_decref(req);
    free(body);
    return 0;
}
