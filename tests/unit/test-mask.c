/* test-mask.c -- unit tests of secret masking in error messages (break 8):
 * secret_mask itself, then every adapter's map_error with an upstream
 * answer that echoes a deployment's secret (as it is, in lower case, and
 * each AWS credential), the cut point swept over every offset around the
 * secret. The bound: no run of SECRET_MASK_MIN bytes of a secret, in any
 * case, survives in the message. */
#include "test.h"
#include "adapter-harness.h"

#include "providers/vertex.h"
#include "secret.h"

#include <ctype.h>

extern const struct provider provider_bedrock;
extern const struct provider provider_vertex;
extern const struct provider provider_vertex_anthropic;

/* No 'A' (the filler) and no "sk-" (scrubbed by another rule, which would
 * hide a masking failure). */
#define KEY   "Zq7xK2mP9vL4nR8tW3yB6cF1hJ5gD0sEuV"
#define AK    "ASIAQ7XK2MP9VL4NR8TW"
#define SK    "wJ9lrXUtnFEMI/K7MDENG+bPxRfiCYZX7MPLEKEY"
#define VTOK  "ya29.c.b0Aa9VdylZq7xK2mP9vL4nR8tW3yB6cF1hJ5gD0sEuVw"
#define TOK   "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6" \
              "Y1Tm9lZWt4bHJ1c3Q0NzE4Mjk0ODM1NjQ3MzgyOTE3MzgyOTE3NDgyOQ"

/* Whether msg holds SECRET_MASK_MIN bytes in a row of key, in any case. */
static int leaks(const char *msg, const char *key)
{
    size_t k = strlen(key), m = strlen(msg);

    for (size_t i = 0; i + SECRET_MASK_MIN <= k; i++)
        for (size_t j = 0; j + SECRET_MASK_MIN <= m; j++)
            if (strncasecmp(msg + j, key + i, SECRET_MASK_MIN) == 0)
                return 1;
    return 0;
}

static char *lower(const char *s)
{
    char *l = strdup(s);

    for (char *p = l; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* body_fmt has one %s, where pad 'A's and then echo go. */
static int map_leaks(const struct ah_target *t, long status,
                     const char *body_fmt, size_t pad, const char *echo,
                     const char *const *secrets, struct perr *ret_err)
{
    size_t n = strlen(echo);
    char *filler = malloc(pad + n + 1), body[4096];
    int leaked = 0;

    if (filler == NULL)
        return 1;
    memset(filler, 'A', pad);
    memcpy(filler + pad, echo, n + 1);
    snprintf(body, sizeof(body), body_fmt, filler);
    free(filler);
    ah_try_map(t, status, body, -1, ret_err);
    for (size_t i = 0; secrets[i]; i++)
        if (leaks(ret_err->message, secrets[i])) {
            fprintf(stderr, "  pad %zu: \"%s\" leaks %.8s…: %s\n", pad, echo,
                    secrets[i], ret_err->message);
            leaked = 1;
        }
    return leaked;
}

/* pads of 0 to 8 'A's, then of 340 to 560: the secret starts at, before
 * and after every cut the messages pass (400-byte texts, 512-byte
 * messages, "name: " in front), whole or cut anywhere inside. */
static int sweep(const struct ah_target *t, long status, const char *fmt,
                 const char *echo, const char *const *secrets)
{
    struct perr e;

    for (size_t pad = 0; pad <= 560; pad = pad == 8 ? 340 : pad + 1)
        if (map_leaks(t, status, fmt, pad, echo, secrets, &e))
            return 0;
    return 1;
}

static const char *const ERROR_BODIES[] = {
    "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
    "\"code\":\"invalid_api_key\"}}",
    "{\"message\":\"%s\"}",
    "%s",                                   /* not JSON: the excerpt */
    "{\"error\":{\"code\":401,\"message\":\"%s\","
    "\"status\":\"UNAUTHENTICATED\"}}",     /* Gemini */
    "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
    "\"message\":\"%s\"}}",                 /* Anthropic */
    "{\"error\":\"%s\"}",                   /* Ollama */
    NULL,
};

static void sweep_all(const struct ah_target *t, const char *const *secrets,
                      const char *echo, int *ok)
{
    for (size_t b = 0; *ok && ERROR_BODIES[b]; b++)
        if (!sweep(t, 401, ERROR_BODIES[b], echo, secrets)) {
            fprintf(stderr, "  %s, body %zu\n", t->prov->name, b);
            *ok = 0;
        }
}

TEST(mask_secret_whole_any_case)
{
    struct secret *k = secret_new(KEY, strlen(KEY));
    const struct secret *keys[] = { k, NULL };
    char *l = lower("x " KEY " y ");
    char s[128];

    ASSERT(k != NULL && l != NULL);
    snprintf(s, sizeof(s), "%s%s", l, KEY);
    ASSERT_EQ(secret_mask(s, strlen(s), keys, 2, 0), 2 * strlen(KEY));
    ASSERT(!leaks(s, KEY));
    ASSERT_EQ(strncmp(s, "x ***", 5), 0);
    free(l);
    secret_free(k);
}

TEST(mask_secret_start_at_a_cut)
{
    struct secret *k = secret_new(KEY, strlen(KEY));
    const struct secret *keys[] = { k };
    char s[64];

    ASSERT(k != NULL);
    /* Every cut inside the key: the start that is left goes, down to
     * SECRET_MASK_MIN bytes; shorter starts are let be. */
    for (size_t n = 1; n < strlen(KEY); n++) {
        snprintf(s, sizeof(s), "key: %.*s", (int)n, KEY);
        secret_mask(s, strlen(s), keys, 1, 1);
        ASSERT(!leaks(s, KEY));
        ASSERT_EQ(strncmp(s, "key: ", 5), 0);
        if (n < SECRET_MASK_MIN)
            ASSERT_EQ(strncmp(s + 5, KEY, n), 0);
    }
    /* No cut: a text that ends like a key's start is left as it is. */
    snprintf(s, sizeof(s), "ends in Zq7x");
    secret_mask(s, strlen(s), keys, 1, 0);
    ASSERT_STR_EQ(s, "ends in Zq7x");
    secret_free(k);
}

TEST(mask_formatted_message_cut)
{
    struct deployment d = { 0 };
    struct pcall pc = { .dep = &d };
    char out[64], big[200];

    d.api_key = secret_new(KEY, strlen(KEY));
    ASSERT(d.api_key != NULL);
    for (size_t pad = 0; pad < 80; pad++) {
        memset(big, 'A', pad);
        big[pad] = '\0';
        provider_format(&pc, out, sizeof(out), "%s%s tail", big, KEY);
        ASSERT(!leaks(out, KEY));
        ASSERT(strlen(out) == (pad + strlen(KEY) + 5 < sizeof(out) ?
                               pad + strlen(KEY) + 5 : sizeof(out) - 1));
    }
    secret_free(d.api_key);
}

static const char *const OPENAI_H[] = { NULL };
static const struct ah_target openai = {
    .prov = &provider_openai, .preset = "openai", .model = "gpt-4o",
    .api_base = "https://api.openai.com/v1", .key = KEY,
    .headers = OPENAI_H,
};

/* The case of the report: 380 'A's and the key give the key's first 19
 * bytes today; every cut point, as is and in lower case, with each
 * dialect's error reader. */
TEST(mask_error_sweep_api_key)
{
    static const struct provider *const provs[] = {
        &provider_openai, &provider_azure, &provider_anthropic,
        &provider_gemini, &provider_cohere, &provider_ollama,
        &provider_bedrock,
    };
    static const char *const presets[] = {
        "openai", "azure", "anthropic", "gemini", "cohere", "ollama",
        "bedrock",
    };
    const char *const secrets[] = { KEY, NULL };
    char *l = lower(KEY);
    int ok = 1;

    ASSERT(l != NULL);
    for (size_t i = 0; ok && i < sizeof(provs) / sizeof(provs[0]); i++) {
        struct ah_target t = openai;

        t.prov = provs[i];
        t.preset = presets[i];
        sweep_all(&t, secrets, KEY, &ok);
        sweep_all(&t, secrets, l, &ok);
    }
    free(l);
    ASSERT(ok);
}

static struct secret *dup_secret(const char *s)
{
    return secret_new(s, strlen(s));
}

static void aws_setup(struct ah *f)
{
    f->dep.params = json_pack("{s:s}", "aws_region_name", "us-west-2");
    f->dep.aws_access_key = dup_secret(AK);
    f->dep.aws_secret_key = dup_secret(SK);
    f->dep.aws_session_token = dup_secret(TOK);
}

static void aws_teardown(struct ah *f)
{
    json_decref(f->dep.params);
    secret_free(f->dep.aws_access_key);
    secret_free(f->dep.aws_secret_key);
    secret_free(f->dep.aws_session_token);
}

/* Each AWS credential echoed, as it is and in lower case. */
TEST(mask_error_sweep_aws_credentials)
{
    static const struct ah_target t = {
        .prov = &provider_bedrock, .preset = "bedrock",
        .model = "anthropic.claude-3-5-sonnet-20240620-v1:0",
        .headers = OPENAI_H, .setup = aws_setup, .teardown = aws_teardown,
    };
    const char *const secrets[] = { AK, SK, TOK, NULL };
    int ok = 1;

    for (size_t i = 0; ok && secrets[i]; i++) {
        char *l = lower(secrets[i]);

        ASSERT(l != NULL);
        sweep_all(&t, secrets, secrets[i], &ok);
        sweep_all(&t, secrets, l, &ok);
        free(l);
    }
    ASSERT(ok);
}

/* What the masking keeps: the message around the key, and the code. */
TEST(mask_error_keeps_the_words)
{
    struct perr e;

    ASSERT_EQ(ah_try_map(&openai, 401, "{\"error\":{\"message\":\"Incorrect "
                         "API key provided: " KEY ". You can find\"}}", -1,
                         &e), LLMUX_EAUTH);
    ASSERT(strstr(e.message, "Incorrect API key provided: ****") != NULL);
    ASSERT(strstr(e.message, "****. You can find") != NULL);
    ASSERT(!leaks(e.message, KEY));
}

/* A Vertex AI access token (pc->bearer, which the request owns for the
 * attempt) echoed back by the Gemini or the Anthropic publisher. */
static struct vertex_dep vdep = { .project = (char *)"p",
                                  .location = (char *)"us-central1" };
static struct secret *vtok;

static void vertex_setup(struct ah *f)
{
    vtok = dup_secret(VTOK);
    f->dep.vertex = &vdep;
    f->pc.bearer = vtok;
}

static void vertex_teardown(struct ah *f)
{
    (void)f;
    vtok = secret_free(vtok);
}

TEST(mask_error_sweep_vertex_access_token)
{
    static const struct provider *const provs[] = {
        &provider_vertex, &provider_vertex_anthropic,
    };
    const char *const secrets[] = { VTOK, NULL };
    char *l = lower(VTOK);
    int ok = 1;

    ASSERT(l != NULL);
    for (size_t i = 0; ok && i < 2; i++) {
        struct ah_target t = {
            .prov = provs[i], .preset = "vertex_ai", .model = "m",
            .headers = OPENAI_H, .setup = vertex_setup,
            .teardown = vertex_teardown,
        };

        sweep_all(&t, secrets, VTOK, &ok);
        sweep_all(&t, secrets, l, &ok);
    }
    free(l);
    ASSERT(ok);
}
