/* test-config.c -- the config.yaml reader (daemon/config.c): LiteLLM files
 * that must load as they are, broken files that must name file:line and
 * what is wrong, and model-name resolution (groups, aliases, wildcard
 * groups, implicit provider/model deployments). */
#include "test.h"

#include "config.h"
#include "llmux-errno.h"
#include "presets.h"
#include "resolve.h"
#include "router.h"
#include "secret.h"

static struct config *load(const char *text, char *err, size_t errlen)
{
    struct config *c = NULL;

    err[0] = '\0';
    if (config_load_text("t.yaml", text, strlen(text), &c, err, errlen) < 0)
        return NULL;
    return c;
}

/* True when some warning contains s. */
static int warned(const struct config *c, const char *s)
{
    for (size_t i = 0; i < c->nwarnings; i++)
        if (strstr(c->warnings[i], s))
            return 1;
    return 0;
}

/* router_resolve, dropping the caller's references at once: the config
 * (model_list) or the router's cache (derived) keeps what the test looks
 * at alive while both live. */
static int rz(struct router *r, struct config *c, const char *name,
              struct deployment **out, size_t max, char *err, size_t len)
{
    int n = router_resolve(r, c, name, out, max, err, len);

    for (int i = 0; i < n; i++)
        deployment_unref(out[i]);
    return n;
}

static size_t count_warnings(const struct config *c, const char *s)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nwarnings; i++)
        n += strstr(c->warnings[i], s) != NULL;
    return n;
}

/* A config.yaml in the shape LiteLLM's docs use, with every router knob. */
static const char *const LITELLM =
    "model_list:\n"
    "  - model_name: gpt-4o\n"
    "    litellm_params:\n"
    "      model: openai/gpt-4o\n"
    "      api_base: os.environ/TEST_CFG_BASE\n"
    "      api_key: os.environ/TEST_CFG_KEY\n"
    "      rpm: 60\n"
    "      tpm: 90000\n"
    "      weight: 2\n"
    "      order: 1\n"
    "      max_retries: 4\n"
    "      cooldown_time: 7.5\n"
    "      timeout: 30\n"
    "      stream_timeout: 0.5\n"
    "    model_info:\n"
    "      id: primary\n"
    "      input_cost_per_token: 0.0000025\n"
    "      output_cost_per_token: 0.00001\n"
    "  - model_name: gpt-4o\n"
    "    litellm_params:\n"
    "      model: azure/gpt-4o-eu\n"
    "      api_base: https://eu.example.com\n"
    "      api_key: literal-azure-key\n"
    "      api_version: \"2024-10-21\"\n"
    "  - model_name: claude\n"
    "    litellm_params: {model: anthropic/claude-sonnet-4-5, "
    "input_cost_per_token: 0.000003}\n"
    "  - model_name: \"openai/*\"\n"
    "    litellm_params:\n"
    "      model: \"openai/*\"\n"
    "      api_key: wild-key\n"
    "  - model_name: \"*\"\n"
    "    litellm_params: {model: \"*\"}\n"
    "litellm_settings:\n"
    "  drop_params: True\n"
    "  num_retries: 9\n"
    "  request_timeout: 45\n"
    "  allowed_fails: 8\n"
    "  set_verbose: False\n"
    "  success_callback: [\"langfuse\"]\n"
    "  fallbacks: [{\"claude\": [\"gpt-4o\"]}]\n"
    "router_settings:\n"
    "  routing_strategy: usage-based-routing-v2\n"
    "  routing_strategy_args: {lowest_latency_buffer: 0.1, ttl: 60}\n"
    "  num_retries: 2\n"
    "  retry_after: 0.25\n"
    "  timeout: 120\n"
    "  stream_timeout: 3\n"
    "  cooldown_time: 11\n"
    "  max_fallbacks: 3\n"
    "  fallbacks: [{\"gpt-4o\": [\"claude\", \"gpt-3.5\"]}, {\"*\": [claude]}]\n"
    "  context_window_fallbacks: [{\"gpt-4o\": \"claude\"}]\n"
    "  content_policy_fallbacks:\n"
    "    - gpt-4o: [claude]\n"
    "  default_fallbacks: [claude]\n"
    "  model_group_alias: {\"gpt-4\": \"gpt-4o\", \"old\": {model: claude, "
    "hidden: true}}\n"
    "  retry_policy:\n"
    "    AuthenticationErrorRetries: 0\n"
    "    RateLimitErrorRetries: 3\n"
    "    TimeoutErrorRetries: 1\n"
    "    BadRequestErrorRetries: 0\n"
    "    ContentPolicyViolationErrorRetries: 2\n"
    "    InternalServerErrorRetries: 5\n"
    "  allowed_fails_policy:\n"
    "    RateLimitErrorAllowedFails: 10\n"
    "  redis_host: os.environ/REDIS_HOST\n"
    "  enable_pre_call_checks: true\n"
    "general_settings:\n"
    "  master_key: sk-1234\n"
    "  database_url: postgres://x\n"
    "environment_variables:\n"
    "  TEST_CFG_BASE: http://127.0.0.1:9/v1\n";

TEST(config_litellm_file_loads_as_is)
{
    struct config *c;
    const struct router_settings *rs;
    const struct deployment *d;
    char err[512];

    unsetenv("TEST_CFG_BASE");
    setenv("TEST_CFG_KEY", "sk-from-env", 1);
    c = load(LITELLM, err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->ndeps, 3);
    ASSERT_EQ(c->nwild, 2);
    d = c->deps[0];
    ASSERT_STR_EQ(d->id, "primary");
    /* environment_variables feeds os.environ/ lookups. */
    ASSERT_STR_EQ(d->api_base, "http://127.0.0.1:9/v1");
    ASSERT(d->api_key && strcmp(d->api_key->p, "sk-from-env") == 0);
    ASSERT(d->rpm == 60 && d->tpm == 90000 && d->weight == 2);
    ASSERT_EQ(d->order, 1);
    ASSERT_EQ(d->max_retries, 4);
    ASSERT(d->cooldown_time == 7.5 && d->timeout == 30);
    ASSERT(d->stream_timeout == 0.5);
    ASSERT(d->price.input == 0.0000025 && d->price.output == 0.00001);
    d = c->deps[1];
    ASSERT_STR_EQ(d->preset->name, "azure");
    ASSERT_EQ(d->max_retries, -1);
    ASSERT(d->cooldown_time < 0 && d->price.input < 0 && d->order == 0);
    ASSERT(c->deps[2]->price.input == 0.000003);
    ASSERT(c->deps[2]->price.output < 0);
    /* router_settings wins over litellm_settings; the rest adds up. */
    rs = &c->router;
    ASSERT_EQ(rs->strategy, ROUTE_USAGE);
    ASSERT(rs->latency_buffer == 0.1);
    ASSERT_EQ(rs->num_retries, 2);
    ASSERT_EQ(rs->allowed_fails, 8);
    ASSERT(rs->retry_after == 0.25 && rs->timeout == 120);
    ASSERT(rs->stream_timeout == 3 && rs->cooldown_time == 11);
    ASSERT(c->request_timeout == 45 && c->drop_params == 1);
    ASSERT_EQ(rs->max_fallbacks, 3);
    ASSERT_EQ(rs->fallbacks.n, 2);
    ASSERT_STR_EQ(rs->fallbacks.r[0].group, "gpt-4o");
    ASSERT_EQ(rs->fallbacks.r[0].nto, 2);
    ASSERT_STR_EQ(rs->fallbacks.r[0].to[1], "gpt-3.5");
    ASSERT_STR_EQ(rs->fallbacks.r[1].group, "*");
    ASSERT_EQ(rs->context_fallbacks.n, 1);
    ASSERT_STR_EQ(rs->context_fallbacks.r[0].to[0], "claude");
    ASSERT_EQ(rs->policy_fallbacks.n, 1);
    ASSERT_EQ(rs->ndefault_fallbacks, 1);
    ASSERT_EQ(rs->nalias, 2);
    ASSERT_STR_EQ(config_alias(c, "old"), "claude");
    ASSERT_STR_EQ(config_alias(c, "gpt-4"), "gpt-4o");
    ASSERT_STR_EQ(config_alias(c, "other"), "other");
    ASSERT_EQ(rs->retry_policy[ECLASS_AUTH], 0);
    ASSERT_EQ(rs->retry_policy[ECLASS_RATE_LIMIT], 3);
    ASSERT_EQ(rs->retry_policy[ECLASS_TIMEOUT], 1);
    ASSERT_EQ(rs->retry_policy[ECLASS_CONTENT_POLICY], 2);
    ASSERT_EQ(rs->retry_policy[ECLASS_INTERNAL], 5);
    ASSERT_EQ(rs->allowed_fails_policy[ECLASS_RATE_LIMIT], 10);
    ASSERT_EQ(rs->allowed_fails_policy[ECLASS_AUTH], -1);
    /* What llmux does not do is said once per key, with file:line. */
    /* master_key is the HTTP front end's (read, never warned about). */
    ASSERT(c->master_key_configured);
    ASSERT(c->master_key != NULL && c->master_key->len == 7);
    ASSERT(warned(c, "general_settings.database_url: not supported by "
                     "llmux — not used: llmux keeps keys and spend in its "
                     "embedded database"));
    /* ... and again at start with the database's path (server_open_db). */
    ASSERT(c->database_url_line > 0);
    ASSERT(warned(c, "router_settings.redis_host: not supported by llmux"));
    ASSERT(!warned(c, "enable_pre_call_checks"));   /* read (dfilter.c) */
    ASSERT_EQ(c->router.pre_call_checks, 1);
    ASSERT(warned(c, "litellm_settings.set_verbose: not supported"));
    ASSERT(warned(c, "litellm_settings.success_callback: not supported by "
                     "llmux — ignored: llmux logs to the journal and "
                     "answers `llmux metrics` itself (prometheus included)"));
    ASSERT(warned(c, "ignored: routing_strategy_args.ttl"));
    ASSERT_EQ(count_warnings(c, "master_key"), 0);
    /* The secret never lands in a warning. */
    ASSERT_EQ(count_warnings(c, "sk-1234"), 0);
    config_unref(c);
    unsetenv("TEST_CFG_KEY");
}

TEST(config_defaults_match_litellm)
{
    struct config *c;
    char err[256];

    c = load("model_list:\n  - model_name: m\n    litellm_params: "
             "{model: mock/m}\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->router.strategy, ROUTE_SIMPLE_SHUFFLE);
    ASSERT_EQ(c->router.num_retries, 0);
    ASSERT_EQ(c->router.allowed_fails, 3);
    ASSERT(c->router.cooldown_time == 5);
    ASSERT_EQ(c->router.max_fallbacks, 5);
    ASSERT(c->router.stream_timeout == 0 && c->router.timeout == 0);
    ASSERT(c->request_timeout == 600);
    for (int i = 0; i < ECLASS_COUNT; i++)
        ASSERT_EQ(c->router.retry_policy[i], -1);
    ASSERT_EQ(c->nwarnings, 0);
    config_unref(c);
}

TEST(config_litellm_settings_alone_set_the_router)
{
    struct config *c;
    char err[256];

    c = load("litellm_settings:\n  num_retries: 4\n  fallbacks: "
             "[{a: [b]}]\n  context_window_fallbacks: [{a: [c]}]\n"
             "  default_fallbacks: [d]\n  timeout: 3\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->router.num_retries, 4);
    ASSERT_EQ(c->router.fallbacks.n, 1);
    ASSERT_EQ(c->router.context_fallbacks.n, 1);
    ASSERT_EQ(c->router.ndefault_fallbacks, 1);
    /* litellm_settings has request_timeout, not timeout. */
    ASSERT(c->router.timeout == 0);
    ASSERT(warned(c, "t.yaml:6: litellm_settings.timeout: not supported by "
                     "llmux"));
    config_unref(c);
    /* The order of the sections in the file does not matter. */
    c = load("router_settings:\n  num_retries: 1\nlitellm_settings:\n"
             "  num_retries: 6\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->router.num_retries, 1);
    config_unref(c);
}

TEST(config_unknown_strategy_is_a_warning)
{
    struct config *c;
    char err[256];

    c = load("router_settings:\n  routing_strategy: provider-budget-routing\n",
             err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->router.strategy, ROUTE_SIMPLE_SHUFFLE);
    ASSERT(warned(c, "t.yaml:2: ignored: routing_strategy "
                     "\"provider-budget-routing\""));
    config_unref(c);
    c = load("router_settings:\n  routing_strategy: latency-based-routing\n"
             "  retry_policy: {MadeUpErrorRetries: 2}\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->router.strategy, ROUTE_LATENCY);
    ASSERT(warned(c, "t.yaml:3: ignored: retry_policy.MadeUpErrorRetries"));
    config_unref(c);
}

/* Broken files: the message names the file, the line and the problem. */
TEST(config_errors_name_file_and_line)
{
    static const struct { const char *text, *want; } cases[] = {
        { "model_list:\n  - model_name: a\n    litellm_params:\n"
          "      model: mock/x\n      timeout: soon\n",
          "t.yaml:5: timeout must be a number, not \"soon\"" },
        { "model_list:\n  - model_name: a\n",
          "t.yaml:2: model_list entry \"a\" has no litellm_params" },
        { "model_list:\n  - litellm_params: {model: mock/x}\n",
          "t.yaml:2: model_list entry without model_name" },
        { "model_list:\n  - model_name: a\n    litellm_params: {api_key: k}\n",
          "t.yaml:3: litellm_params of \"a\" has no model" },
        { "model_list:\n  - model_name: a\n    litellm_params:\n"
          "      model: mock/x\n      weight: -2\n",
          "t.yaml:5: weight must be a number >= 0, not \"-2\"" },
        { "model_list:\n  - model_name: a\n    litellm_params:\n"
          "      model: mock/x\n      order: 1.5\n",
          "t.yaml:5: order must be a whole number >= 0, not \"1.5\"" },
        { "model_list: {a: 1}\n", "t.yaml:1: model_list must be a list" },
        { "model_list: [\n", "t.yaml:" },
        { "router_settings: [1]\n", "t.yaml:1: router_settings must be a map" },
        { "router_settings:\n  num_retries: many\n",
          "t.yaml:2: num_retries must be a number, not \"many\"" },
        { "router_settings:\n  num_retries: -1\n",
          "t.yaml:2: num_retries must be a whole number >= 0" },
        { "router_settings:\n  cooldown_time: later\n",
          "t.yaml:2: cooldown_time must be a number" },
        { "router_settings:\n  fallbacks: [gpt-4o]\n",
          "t.yaml:2: fallbacks: each entry must map a model group" },
        { "router_settings:\n  fallbacks:\n    - gpt-4o: {x: 1}\n",
          "t.yaml:3: fallbacks must be a model group name or a list" },
        { "router_settings:\n  model_group_alias: [a, b]\n",
          "t.yaml:2: model_group_alias must map names to model groups" },
        { "router_settings:\n  retry_policy:\n    RateLimitErrorRetries: "
          "often\n", "t.yaml:3: RateLimitErrorRetries must be a number" },
        { "router_settings:\n  disable_cooldowns: maybe\n",
          "t.yaml:2: disable_cooldowns must be true or false" },
        { "litellm_settings:\n  request_timeout: -5\n",
          "t.yaml:2: request_timeout must be a number >= 0" },
        { "litellm_settings:\n  num_retries: [1]\n",
          "t.yaml:2: num_retries must be a single value" },
        { "llmux_settings:\n  stream_idle_timeout: x\n",
          "t.yaml:2: stream_idle_timeout must be a number" },
        { "- just\n- a list\n", "t.yaml:1: the configuration must be a map" },
    };
    char err[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config *c = load(cases[i].text, err, sizeof(err));

        if (c != NULL || strstr(err, cases[i].want) == NULL)
            fprintf(stderr, "  case %zu: got \"%s\"\n", i, err);
        ASSERT(c == NULL);
        ASSERT(strstr(err, cases[i].want) != NULL);
    }
}

TEST(config_router_keys_survive_reload)
{
    static const char *const A =
        "model_list:\n"
        "  - model_name: g\n    litellm_params: {model: openai/x, api_key: k}\n"
        "  - model_name: g\n    litellm_params: {model: openai/x, api_key: k}\n"
        "  - model_name: h\n    litellm_params: {model: mock/y}\n"
        "    model_info: {id: fixed}\n";
    static const char *const B =   /* reordered, one entry more */
        "model_list:\n"
        "  - model_name: h\n    litellm_params: {model: mock/y}\n"
        "    model_info: {id: fixed}\n"
        "  - model_name: new\n    litellm_params: {model: mock/z}\n"
        "  - model_name: g\n    litellm_params: {model: openai/x, api_key: k}\n"
        "  - model_name: g\n    litellm_params: {model: openai/x, api_key: k}\n";
    struct config *a, *b;
    char err[256];

    a = load(A, err, sizeof(err));
    b = load(B, err, sizeof(err));
    ASSERT(a && b);
    /* Identical deployments still get distinct keys... */
    ASSERT(strcmp(a->deps[0]->key, a->deps[1]->key) != 0);
    /* ...and each keeps its key when the file is reordered. */
    ASSERT_STR_EQ(a->deps[0]->key, b->deps[2]->key);
    ASSERT_STR_EQ(a->deps[1]->key, b->deps[3]->key);
    ASSERT_STR_EQ(a->deps[2]->key, "id:fixed");
    ASSERT_STR_EQ(b->deps[0]->key, "id:fixed");
    config_unref(a);
    config_unref(b);
}

TEST(config_resolve_groups_aliases_wildcards)
{
    struct router r;
    struct config *c;
    struct deployment *out[8], *again[8];
    char err[512];
    int n;

    setenv("TEST_CFG_KEY", "sk-x", 1);
    c = load(LITELLM, err, sizeof(err));
    ASSERT(c != NULL);
    router_init(&r, 1);
    /* A model group: its deployments in file order. */
    n = rz(&r, c, "gpt-4o", out, 8, err, sizeof(err));
    ASSERT_EQ(n, 2);
    ASSERT(out[0] == c->deps[0] && out[1] == c->deps[1]);
    /* An alias resolves to its group. */
    n = rz(&r, c, "gpt-4", out, 8, err, sizeof(err));
    ASSERT_EQ(n, 2);
    ASSERT(out[0] == c->deps[0]);
    /* The most specific wildcard: openai/ + '*', with the template's key
     * and the requested model. */
    n = rz(&r, c, "openai/gpt-4.1-mini", out, 8, err, sizeof(err));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0]->upstream_model, "gpt-4.1-mini");
    ASSERT_STR_EQ(out[0]->preset->name, "openai");
    ASSERT(out[0]->api_key == c->wild[0]->api_key && out[0]->api_key);
    ASSERT(out[0]->origin == c->wild[0]);
    ASSERT_STR_EQ(out[0]->model_name, "openai/gpt-4.1-mini");
    /* Made once, then found again. */
    ASSERT_EQ(rz(&r, c, "openai/gpt-4.1-mini", again, 8, err,
                             sizeof(err)), 1);
    ASSERT(again[0] == out[0]);
    /* "*" catches the rest, by the name's own provider prefix... */
    n = rz(&r, c, "groq/llama-3.3", out, 8, err, sizeof(err));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0]->preset->name, "groq");
    ASSERT_STR_EQ(out[0]->upstream_model, "llama-3.3");
    ASSERT(out[0]->origin == c->wild[1]);
    /* ...or the one LiteLLM infers for bare names. */
    n = rz(&r, c, "claude-3-haiku", out, 8, err, sizeof(err));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0]->preset->name, "anthropic");
    /* No inferable provider: not found, naming the model. */
    n = rz(&r, c, "no-such-thing", out, 8, err, sizeof(err));
    ASSERT_EQ(n, LLMUX_ENOTFOUND);
    ASSERT(strstr(err, "no-such-thing") != NULL);
    router_free(&r);
    config_unref(c);
    unsetenv("TEST_CFG_KEY");
}

TEST(config_resolve_without_wildcards)
{
    struct router r;
    struct config *c;
    struct deployment *out[4], *again[4];
    char err[512];

    c = load("model_list:\n  - model_name: fast\n    litellm_params: "
             "{model: mock/f, mock_response: hi}\n", err, sizeof(err));
    ASSERT(c != NULL);
    router_init(&r, 1);
    ASSERT_EQ(rz(&r, c, "fast", out, 4, err, sizeof(err)), 1);
    ASSERT_STR_EQ(out[0]->mock_response, "hi");
    /* provider/model works without an entry, made once. */
    ASSERT_EQ(rz(&r, c, "mock/echo", out, 4, err, sizeof(err)), 1);
    ASSERT(out[0]->implicit && out[0]->origin == NULL);
    ASSERT_EQ(rz(&r, c, "mock/echo", again, 4, err, sizeof(err)), 1);
    ASSERT(again[0] == out[0]);
    ASSERT_STR_EQ(out[0]->key, "implicit|mock/echo");
    ASSERT_EQ(rz(&r, c, "nope/x", out, 4, err, sizeof(err)),
              LLMUX_ENOTFOUND);
    ASSERT(strstr(err, "unknown provider \"nope\"") != NULL);
    ASSERT_EQ(rz(&r, c, "fast", out, 0, err, sizeof(err)),
              LLMUX_EINTERNAL);
    router_free(&r);
    config_unref(c);
}

/* The example files in etc/ load (the unit tests run in the tree's root). */
TEST(config_example_files_load)
{
    struct router r;
    struct config *c = NULL;
    char err[512];
    struct deployment *out[8];

    ASSERT_EQ(config_load("etc/litellm-example.yaml", &c, err, sizeof(err)),
              0);
    ASSERT(c != NULL);
    ASSERT_EQ(c->ndeps, 4);
    router_init(&r, 1);
    ASSERT_EQ(rz(&r, c, "smart", out, 8, err, sizeof(err)), 2);
    ASSERT(out[0]->weight == 3 && out[1]->weight == 1);
    ASSERT_EQ(c->router.num_retries, 2);
    ASSERT_EQ(c->router.fallbacks.n, 2);
    ASSERT_EQ(c->router.fallbacks.r[0].nto, 2);
    ASSERT_STR_EQ(config_alias(c, "gpt-4o"), "smart");
    router_free(&r);
    config_unref(c);
    ASSERT_EQ(config_load("etc/llmux.yaml", &c, err, sizeof(err)), 0);
    config_unref(c);
}

/* ---- a key belongs to one provider (issue 10, break 1) ------------------ */

/* The README's old pattern: a bare "*" template with a key would send it
 * to whatever provider a caller names. Refused, saying what to write. */
TEST(config_bare_star_template_with_a_key_is_refused)
{
    static const char *const bad[] = {
        "model_list:\n  - model_name: \"*\"\n    litellm_params:\n"
        "      model: \"*\"\n      api_key: sk-openai-secret\n",
        "model_list:\n  - model_name: \"*\"\n    litellm_params:\n"
        "      model: \"*\"\n      api_base: https://proxy.example.com\n",
        "model_list:\n  - model_name: \"*\"\n    litellm_params:\n"
        "      model: \"*/x\"\n      aws_secret_access_key: s\n",
    };
    struct config *c;
    char err[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = load(bad[i], err, sizeof(err));
        ASSERT(c == NULL);
        ASSERT(strstr(err, "t.yaml:4: ") == err);
        ASSERT(strstr(err, "model: openai/*") != NULL);
        ASSERT(strstr(err, "sk-openai-secret") == NULL);
    }
    /* Naming the provider is fine, and so is a bare "*" without a key. */
    c = load("model_list:\n  - model_name: \"*\"\n    litellm_params:\n"
             "      model: \"openai/*\"\n      api_key: k\n"
             "  - model_name: \"x/*\"\n    litellm_params: {model: \"*\"}\n",
             err, sizeof(err));
    ASSERT(c != NULL);
    config_unref(c);
}

/* An explicit key and api_base go only to the template's own provider;
 * other providers get their own preset's key (none here) and base. */
TEST(config_template_key_goes_only_to_its_provider)
{
    struct router r;
    struct deployment *out[4];
    struct config *c;
    char err[512];

    unsetenv("LM_STUDIO_API_KEY");
    unsetenv("LM_STUDIO_API_BASE");
    c = load("model_list:\n"
             "  - model_name: \"openai/*\"\n    litellm_params:\n"
             "      model: \"openai/*\"\n      api_key: sk-openai-secret\n"
             "      api_base: http://127.0.0.1:9/v1\n"
             "  - model_name: \"*\"\n    litellm_params: {model: \"*\"}\n",
             err, sizeof(err));
    ASSERT(c != NULL);
    router_init(&r, 1);
    ASSERT_EQ(rz(&r, c, "openai/gpt-4o", out, 4, err, sizeof(err)), 1);
    ASSERT(out[0]->api_key && strcmp(out[0]->api_key->p,
                                     "sk-openai-secret") == 0);
    ASSERT_STR_EQ(out[0]->api_base, "http://127.0.0.1:9/v1");
    ASSERT_EQ(rz(&r, c, "lm_studio/x", out, 4, err, sizeof(err)), 1);
    ASSERT_STR_EQ(out[0]->preset->name, "lm_studio");
    ASSERT(out[0]->api_key == NULL);
    ASSERT_STR_EQ(out[0]->api_base, "http://localhost:1234/v1");
    ASSERT_EQ(rz(&r, c, "ollama/x", out, 4, err, sizeof(err)), 1);
    ASSERT(out[0]->api_key == NULL);
    router_free(&r);
    config_unref(c);
}

/* ---- --check's words (issue 9) ------------------------------------------- */

TEST(config_missing_key_is_reported_once)
{
    struct config *c;
    char err[512];

    unsetenv("TEST_CFG_UNSET_KEY");
    c = load("model_list:\n  - model_name: g\n    litellm_params:\n"
             "      model: openai/gpt-4o\n"
             "      api_key: os.environ/TEST_CFG_UNSET_KEY\n",
             err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->nwarnings, 1);
    ASSERT_EQ(count_warnings(c, "TEST_CFG_UNSET_KEY"), 1);
    config_unref(c);
    /* Without api_key the preset's variable is named, once. */
    unsetenv("GROQ_API_KEY");
    c = load("model_list:\n  - model_name: g\n    litellm_params:\n"
             "      model: groq/llama\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT_EQ(c->nwarnings, 1);
    ASSERT_EQ(count_warnings(c, "$GROQ_API_KEY"), 1);
    config_unref(c);
}

TEST(config_summary_counts_wildcards_and_says_warning_right)
{
    struct config *c;
    char err[512], s[128];

    c = load("model_list:\n  - model_name: g\n    litellm_params:\n"
             "      model: mock/x\n      bogus: 1\n", err, sizeof(err));
    ASSERT(c != NULL);
    config_summary(c, s, sizeof(s));
    ASSERT_STR_EQ(s, "1 deployment (0 wildcard), 1 warning");
    config_unref(c);
    c = load("model_list:\n  - model_name: g\n    litellm_params:\n"
             "      model: mock/x\n      bogus: 1\n      other: 2\n"
             "  - model_name: \"*\"\n    litellm_params: {model: \"*\"}\n"
             "  - model_name: h\n    litellm_params: {model: mock/y}\n",
             err, sizeof(err));
    ASSERT(c != NULL);
    config_summary(c, s, sizeof(s));
    ASSERT_STR_EQ(s, "3 deployments (1 wildcard), 2 warnings");
    config_unref(c);
    c = load("model_list: []\n", err, sizeof(err));
    ASSERT(c != NULL);
    config_summary(c, s, sizeof(s));
    ASSERT_STR_EQ(s, "0 deployments (0 wildcard), 0 warnings");
    config_unref(c);
}

/* ---- settings typed at load ---------------------------------------------- */

/* What adapters used to read from the environment or raw params per
 * request is a deployment field after load, for configured and derived
 * deployments alike. */
TEST(config_settings_typed_at_load)
{
    struct router r;
    struct deployment *out[2];
    struct config *c;
    char err[512];

    setenv("AWS_REGION", "eu-west-3", 1);
    setenv("AZURE_API_VERSION", "2024-08-01-preview", 1);
    setenv("AZURE_API_BASE", "https://res.example.com", 1);
    c = load("model_list:\n"
             "  - model_name: b\n    litellm_params: {model: bedrock/m}\n"
             "  - model_name: b2\n    litellm_params:\n"
             "      model: bedrock/m\n      region_name: ap-south-1\n"
             "  - model_name: az\n    litellm_params: {model: azure/d}\n"
             "  - model_name: az2\n    litellm_params:\n"
             "      model: azure/d\n      api_version: \"2025-01-01\"\n",
             err, sizeof(err));
    unsetenv("AWS_REGION");
    unsetenv("AZURE_API_VERSION");
    unsetenv("AZURE_API_BASE");
    ASSERT(c != NULL);
    ASSERT_STR_EQ(c->deps[0]->aws_region, "eu-west-3");
    ASSERT_STR_EQ(c->deps[1]->aws_region, "ap-south-1");
    ASSERT_STR_EQ(c->deps[2]->api_version, "2024-08-01-preview");
    ASSERT_STR_EQ(c->deps[3]->api_version, "2025-01-01");
    ASSERT_STR_EQ(c->deps[2]->api_base, "https://res.example.com");
    /* Derived later, with the variables gone: still what load saw. */
    router_init(&r, 1);
    ASSERT_EQ(rz(&r, c, "bedrock/other", out, 2, err, sizeof(err)), 1);
    ASSERT_STR_EQ(out[0]->aws_region, "eu-west-3");
    ASSERT_EQ(rz(&r, c, "azure/other", out, 2, err, sizeof(err)), 1);
    ASSERT_STR_EQ(out[0]->api_version, "2024-08-01-preview");
    ASSERT_STR_EQ(out[0]->api_base, "https://res.example.com");
    router_free(&r);
    config_unref(c);
}
