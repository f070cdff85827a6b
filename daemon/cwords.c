/* cwords.c -- LiteLLM's keys llmux leaves out, with what it does instead
 * (see cwords.h). The names are those of LiteLLM's proxy settings
 * reference (docs/proxy/config_settings, read 2026-12); the reasons are
 * llmux's own. */
#include "cwords.h"
#include "cload.h"
#include "yamltree.h"

#include <stdio.h>
#include <string.h>

struct kword {
    const char *name;
    const char *instead;   /* what llmux does; NULL: the section's text */
};

/* Why whole families of keys do not apply to a local daemon. */
#define W_DB     "not used: llmux keeps keys and spend in its embedded " \
                 "database, not in Postgres"
#define W_REDIS  "not used: one llmuxd counts limits and cooldowns in its " \
                 "own memory, nothing is shared through Redis"
#define W_CB     "ignored: llmux logs to the journal and answers " \
                 "`llmux metrics` itself (prometheus included); no " \
                 "callbacks run"
#define W_CACHE  "ignored: llmux's response cache is set by " \
                 "litellm_settings.cache and cache_params"
#define W_AUTH   "ignored: callers are the local users the socket lets in " \
                 "(llmux_settings.allow_users, allow_groups)"
#define W_UI     "ignored: llmux has no web UI, SSO or alerting"
#define W_PY     "ignored: llmux runs no Python hooks"
#define W_LOG    "ignored: llmux's log goes to the journal " \
                 "(llmux_settings.log_level)"
#define W_ENDPT  "ignored: llmux serves chat completions only"

static const struct kword top_words[] = {
    { "general_settings", NULL }, { "files_settings", W_ENDPT },
    { "finetune_settings", W_ENDPT }, { "guardrails", W_PY },
    { "pass_through_endpoints", W_ENDPT }, { "telemetry", "ignored: llmux "
      "sends no telemetry" }, { "callback_settings", W_CB },
    { "assistant_settings", W_ENDPT }, { "credential_list", "ignored: "
      "write keys as os.environ/NAME or credential/NAME (systemd "
      "credentials)" }, { "include", "ignored: llmux reads one file" },
    { "mcp_servers", W_ENDPT }, { "search_tools", W_ENDPT },
    { "vector_store_registry", W_ENDPT }, { "prompts", W_ENDPT },
    { NULL, NULL },
};

static const struct kword general_words[] = {
    { "database_url", W_DB },
    { "database_connection_pool_limit", W_DB },
    { "database_connection_timeout", W_DB },
    { "allow_requests_on_db_unavailable", W_DB },
    { "store_model_in_db", W_DB }, { "supported_db_objects", W_DB },
    { "disable_spend_logs", W_DB }, { "disable_spend_updates", W_DB },
    { "store_prompts_in_spend_logs", W_DB },
    { "disable_prisma_schema_update", W_DB },
    { "maximum_spend_logs_retention_period", W_DB },
    { "maximum_spend_logs_retention_interval", W_DB },
    { "proxy_batch_write_at", W_DB }, { "proxy_batch_polling_interval", W_DB },
    { "proxy_budget_rescheduler_min_time", W_DB },
    { "proxy_budget_rescheduler_max_time", W_DB },
    { "disable_reset_budget", W_DB }, { "disable_adding_master_key_hash_to_db",
      W_DB }, { "completion_model", NULL }, { "embedding_model", W_ENDPT },
    { "image_generation_model", W_ENDPT }, { "moderation_model", W_ENDPT },
    { "disable_master_key_return", W_UI },
    { "disable_retry_on_max_parallel_request_limit_error", NULL },
    { "disable_responses_id_security", W_ENDPT }, { "enable_jwt_auth", W_AUTH },
    { "litellm_jwtauth", W_AUTH }, { "enforce_user_param", NULL },
    { "reject_clientside_metadata_tags", NULL }, { "allowed_routes", W_AUTH },
    { "public_routes", W_AUTH }, { "admin_only_routes", W_AUTH },
    { "key_management_system", W_AUTH }, { "key_management_settings", W_AUTH },
    { "use_azure_key_vault", W_AUTH }, { "use_google_kms", W_AUTH },
    { "custom_auth", W_PY }, { "custom_key_generate", W_PY },
    { "custom_sso", W_UI }, { "max_parallel_requests", NULL },
    { "global_max_parallel_requests", NULL }, { "infer_model_from_keys", NULL },
    { "background_health_checks", "ignored: `llmux status` shows each "
      "deployment's health from real traffic" }, { "health_check_interval",
      NULL }, { "health_check_details", NULL }, { "alerting", W_UI },
    { "alerting_threshold", W_UI }, { "alerting_args", W_UI },
    { "alert_types", W_UI }, { "alert_to_webhook_url", W_UI },
    { "spend_report_frequency", W_UI }, { "ui_access_mode", W_UI },
    { "use_client_credentials_pass_through_routes", W_ENDPT },
    { "enforced_params", NULL }, { "enable_oauth2_auth", W_AUTH },
    { "enable_oauth2_proxy_auth", W_AUTH }, { "oauth2_config_mappings", W_AUTH },
    { "use_x_forwarded_for", W_AUTH }, { "allowed_ips", W_AUTH },
    { "service_account_settings", W_AUTH }, { "default_team_disabled", W_AUTH },
    { "allow_user_auth", W_AUTH }, { "user_api_key_cache_ttl", W_AUTH },
    { "litellm_key_header_name", W_AUTH }, { "allow_client_side_credentials",
      W_AUTH }, { "litellm_license", NULL }, { "pass_through_endpoints",
      W_ENDPT }, { "forward_openai_org_id", NULL },
    { "forward_client_headers_to_llm_api", NULL },
    { "max_request_size_mb", "ignored: llmux caps a request at its frame "
      "limit (16 MiB)" }, { "max_response_size_mb", NULL },
    { "user_mcp_management_mode", W_ENDPT }, { NULL, NULL },
};

static const struct kword litellm_words[] = {
    { "success_callback", W_CB }, { "failure_callback", W_CB },
    { "callbacks", W_CB }, { "service_callbacks", W_CB },
    { "turn_off_message_logging", "ignored: llmux logs no message content "
      "unless llmux_settings.log_content is true" },
    { "redact_user_api_key_info", W_CB }, { "langfuse_default_tags", W_CB },
    { "modify_params", NULL }, { "enable_preview_features", NULL },
    { "set_verbose", W_LOG }, { "json_logs", W_LOG },
    { "force_ipv4", NULL }, { "mcp_aliases", W_ENDPT },
    { "disable_end_user_cost_tracking", W_CB },
    { "disable_end_user_cost_tracking_prometheus_only", W_CB },
    { "key_generation_settings", W_AUTH },
    { "disable_add_transform_inline_image_block", NULL },
    { "use_chat_completions_url_for_anthropic_messages", W_ENDPT },
    { "disable_hf_tokenizer_download", NULL },
    { "enable_json_schema_validation", NULL },
    { "enable_key_alias_format_validation", W_AUTH },
    { "disable_copilot_system_to_assistant", NULL },
    /* max_budget and budget_duration are read (config.c: the daemon's
     * budget). */
    { "max_parallel_requests", NULL },
    { "upperbound_key_generate_params", W_AUTH },
    { "default_key_generate_params", W_AUTH }, { "default_team_settings",
      W_AUTH }, { "public_teams", W_AUTH }, { "guardrails", W_PY },
    { "timeout", "ignored here: LiteLLM's litellm_settings.timeout is "
      "request_timeout's older name in some versions; write "
      "request_timeout" }, { "model_group_settings", NULL },
    { "token_counter", NULL }, { "return_response_headers", NULL },
    { NULL, NULL },
};

static const struct kword router_words[] = {
    { "redis_host", W_REDIS }, { "redis_port", W_REDIS },
    { "redis_password", W_REDIS }, { "redis_db", W_REDIS },
    { "redis_url", W_REDIS }, { "cache_kwargs", W_REDIS },
    { "cache_responses", W_CACHE }, { "caching_groups", W_CACHE },
    { "client_ttl", NULL }, { "debug_level", W_LOG }, { "set_verbose", W_LOG },
    { "default_priority", NULL }, { "polling_interval", NULL },
    { "alerting_config", W_UI }, { "assistants_config", W_ENDPT },
    { "provider_budget_config", W_DB }, { "model_group_retry_policy", NULL },
    { "router_general_settings", NULL }, { "optional_pre_call_checks", NULL },
    { "deployment_affinity_ttl_seconds", NULL },
    { "ignore_invalid_deployments", "ignored: llmux always loads the "
      "deployments it can serve and reports the others" },
    { "search_tools", W_ENDPT }, { "guardrail_list", W_PY },
    { "default_litellm_params", NULL },
    { "default_max_parallel_requests", NULL }, { NULL, NULL },
};

static const struct kword entry_words[] = { { NULL, NULL } };

/* litellm_params LiteLLM defines that llmux does not use (the call
 * parameters it passes to the provider are applied: callparams.c). */
static const struct kword params_words[] = {
    { "litellm_credential_name", "ignored: write the key as "
      "os.environ/NAME or credential/NAME" },
    { "max_budget", W_DB }, { "budget_duration", W_DB },
    { "use_litellm_proxy", NULL }, { "configurable_clientside_auth_params",
      W_AUTH }, { "azure_ad_token", "ignored: llmux's Azure adapter uses "
      "api_key" }, { "azure_ad_token_provider", "ignored: llmux's Azure "
      "adapter uses api_key" }, { "tenant_id", "ignored: llmux's Azure "
      "adapter uses api_key" }, { "client_id", "ignored: llmux's Azure "
      "adapter uses api_key" }, { "client_secret", "ignored: llmux's Azure "
      "adapter uses api_key" }, { "aws_role_name", "ignored: llmux signs "
      "with aws_access_key_id and aws_secret_access_key" },
    { "aws_session_name", NULL }, { "aws_profile_name", NULL },
    { "aws_web_identity_token", NULL }, { "aws_sts_endpoint", NULL },
    { "vertex_credentials", NULL }, { "vertex_project", NULL },
    { "vertex_location", NULL }, { "watsonx_region_name", NULL },
    { "input_cost_per_second", NULL }, { "output_cost_per_second", NULL },
    { "cache_control_injection_points", NULL }, { "auto_router_config",
      NULL }, { "use_in_pass_through", W_ENDPT },
    { "merge_reasoning_content_in_choices", NULL }, { "rpm_limit", NULL },
    { "additional_drop_params", NULL }, { NULL, NULL },
};

static const struct kword info_words[] = { { NULL, NULL } };
static const struct kword llmux_words[] = { { NULL, NULL } };

static const struct {
    const char         *name;     /* for messages */
    const struct kword *words;
    const char         *instead;  /* for words with none */
} sections[CSEC_COUNT] = {
    [CSEC_TOP]        = { "", top_words, "ignored" },
    [CSEC_GENERAL]    = { "general_settings", general_words, "ignored" },
    [CSEC_LITELLM]    = { "litellm_settings", litellm_words, "ignored" },
    [CSEC_ROUTER]     = { "router_settings", router_words, "ignored" },
    [CSEC_ENTRY]      = { "model_list entry", entry_words, "ignored" },
    [CSEC_PARAMS]     = { "litellm_params", params_words, "ignored" },
    [CSEC_MODEL_INFO] = { "model_info", info_words, "ignored" },
    [CSEC_LLMUX]      = { "llmux_settings", llmux_words, "ignored" },
};

int cwords_distance(const char *a, const char *b, int max)
{
    int row[64], n = (int)strlen(b), m = (int)strlen(a);

    if (n >= 64 || m >= 64 || (m > n ? m - n : n - m) > max)
        return max + 1;
    for (int j = 0; j <= n; j++)
        row[j] = j;
    for (int i = 1; i <= m; i++) {
        int diag = row[0], best;

        row[0] = best = i;
        for (int j = 1; j <= n; j++) {
            int up = row[j], v = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            diag = up;
            row[j] = v;
            if (v < best)
                best = v;
        }
        if (best > max)
            return max + 1;
    }
    return row[n];
}

static const struct kword *find(const struct kword *w, const char *key)
{
    for (; w->name; w++)
        if (strcmp(w->name, key) == 0)
            return w;
    return NULL;
}

int cwords_litellm_defines(enum csection sec, const char *key)
{
    return find(sections[sec].words, key) != NULL;
}

/* The closest name to key among the section's, within 2 edits (and
 * closer than half the key, so "tp" does not become "tpm"). */
static const char *closest(enum csection sec, const char *key,
                           const char *const *read_keys)
{
    int limit = (int)strlen(key) / 3 < 2 ? (int)strlen(key) / 3 : 2;
    const char *best = NULL;
    int bestd = limit + 1;

    for (size_t i = 0; read_keys && read_keys[i]; i++) {
        int d = cwords_distance(key, read_keys[i], limit);

        if (d < bestd)
            bestd = d, best = read_keys[i];
    }
    for (const struct kword *w = sections[sec].words; w->name; w++) {
        int d = cwords_distance(key, w->name, limit);

        if (d < bestd)
            bestd = d, best = w->name;
    }
    return best;
}

void cwords_warn(struct cload *l, const struct ynode *k, enum csection sec,
                 const char *const *read_keys)
{
    const struct kword *w = find(sections[sec].words, k->s);
    const char *name = sections[sec].name, *dot = *name ? "." : "", *near;

    if (w) {
        cload_warn(l, k, "%s%s%s: not supported by llmux — %s", name, dot,
                   k->s, w->instead ? w->instead : sections[sec].instead);
        return;
    }
    near = closest(sec, k->s, read_keys);
    cload_warn(l, k, "unknown %skey \"%s\"%s%s (ignored), LiteLLM does not "
               "define it either%s%s%s", *name ? "" : "top-level ", k->s,
               *name ? " in " : "", name, near ? "; did you mean \"" : "",
               near ? near : "", near ? "\"?" : "");
}
