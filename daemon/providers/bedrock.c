/* bedrock.c -- the AWS Bedrock Runtime Converse dialect.
 * Owns: the facts of its requests (POST /model/{modelId}/converse(-stream)
 * as data for provider_build), the base URL from the region, the SigV4
 * signature (sigv4.c) or a Bedrock API key, and Bedrock's error shapes
 * (REST bodies) -> the error taxonomy. The Converse translation is
 * bedrock_converse.c's, the stream bedrock_stream.c's (bedrock.h). */
#include "embed_native.h"
#include "bedrock.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sigv4.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <time.h>

/* Tests fix the signing clock with this; 0 means time(NULL). */
static time_t bedrock_fixed_time;

void bedrock_test_set_time(time_t t);

/* Test-only: signs every later request as if at time t (0: the clock). */
void bedrock_test_set_time(time_t t)
{
    bedrock_fixed_time = t;
}

/* ---- request ----------------------------------------------------------- */

/* AWS credentials for pc's deployment, borrowed, into c (access_key,
 * secret_key, session_token; the caller sets region and service). For now
 * they come from the environment; per-deployment secrets will be read
 * here. */
static int bedrock_creds(struct pcall *pc, struct sigv4_creds *c)
{
    const struct deployment *d = pc->dep;

    /* config.c fills these from litellm_params aws_* or, failing that,
     * from the AWS_* variables at load time. */
    c->access_key = d->aws_access_key ? d->aws_access_key->p : NULL;
    c->secret_key = d->aws_secret_key ? d->aws_secret_key->p : NULL;
    c->session_token = d->aws_session_token ? d->aws_session_token->p :
                       NULL;
    if (c->access_key == NULL || c->secret_key == NULL)
        return pcall_fail(pc, LLMUX_EAUTH, 0, "no AWS credentials for "
                          "bedrock: set AWS_ACCESS_KEY_ID/"
                          "AWS_SECRET_ACCESS_KEY or aws_* in model_list");
    return 0;
}

/* The region: the deployment's (aws_region_name, region_name, $AWS_REGION
 * or $AWS_DEFAULT_REGION, taken at load), else us-east-1. Refuses anything
 * that is not a plain region name, since it goes into a host name. */
static const char *bedrock_region(struct pcall *pc)
{
    const char *r = pc->dep->aws_region;

    if (r == NULL || *r == '\0')
        r = "us-east-1";
    if (strlen(r) > 64 || r[strspn(r, "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789-")] != '\0') {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: \"%.64s\" is not an AWS "
                   "region name", r);
        return NULL;
    }
    return r;
}

int bedrock_bad(struct pcall *pc, const char *what)
{
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: %s", what);
}

/* Splits an http(s) base URL into its authority (host[:port], for the
 * Host header) and its path prefix (may be ""). */
static int split_base(struct pcall *pc, const char *base, const char **host,
                      size_t *host_len, const char **path)
{
    const char *h;

    if (strncmp(base, "https://", 8) == 0)
        h = base + 8;
    else if (strncmp(base, "http://", 7) == 0)
        h = base + 7;
    else
        return bedrock_bad(pc, "api_base must be an http(s) URL");
    *host = h;
    *host_len = strcspn(h, "/");
    *path = h + *host_len;
    if (*host_len == 0 || memchr(h, '@', *host_len) ||
        strpbrk(base, "?# \t\r\n"))
        return bedrock_bad(pc, "api_base must be "
                           "http(s)://host[:port][/path], without "
                           "credentials, query or fragment");
    return 0;
}

/* Signs the request in out with SigV4 and adds the headers that carry the
 * signature. Every header sent (but curl's Content-Length) is signed. */
static int sign(struct pcall *pc, struct http_req *out, const char *region,
                const char *host, const char *path, const char *accept)
{
    struct sigv4_creds c = { .region = region, .service = "bedrock" };
    struct sigv4_header h[3] = {
        { "Host", host },
        { "Content-Type", "application/json" },
        { "Accept", accept },
    };
    struct sigv4_req rq = {
        .method = "POST", .path = path, .headers = h, .nheaders = 3,
        .body = out->body.p, .body_len = out->body.len,
        .normalize_path = 1, .sign_body_header = 1,
    };
    struct sigv4_out so;
    struct secret tmp = { 0 };
    time_t now = bedrock_fixed_time ? bedrock_fixed_time : time(NULL);
    int r;

    if ((r = bedrock_creds(pc, &c)) < 0)
        return r;
    if ((r = sigv4_sign(&c, &rq, now, &so)) < 0) {
        sigv4_out_free(&so);
        return pcall_fail(pc, r == -ENOMEM ? LLMUX_EINTERNAL : LLMUX_EAUTH,
                          0, "bedrock: cannot sign the request (check the "
                          "AWS credentials and region)");
    }
    for (size_t i = 0; r == 0 && i < so.nadd; i++) {
        if (strcasecmp(so.add[i].name, "X-Amz-Security-Token") == 0) {
            /* The token is a secret, and may pass 1 KiB. */
            tmp = (struct secret){ .p = (char *)so.add[i].value,
                                   .len = strlen(so.add[i].value) };
            r = http_header_secret(out, "X-Amz-Security-Token: ", &tmp);
        } else {
            r = http_header_add(out, "%s: %s", so.add[i].name,
                                so.add[i].value);
        }
    }
    if (r == 0) {
        tmp = (struct secret){ .p = so.authorization.p,
                               .len = so.authorization.len };
        r = http_header_secret(out, "Authorization: ", &tmp);
    }
    explicit_bzero(&tmp, sizeof(tmp));
    sigv4_out_free(&so);
    return r < 0 ? pcall_oom(pc) : 0;
}

/* PROV_AUTH_SIGV4 (provider_build's sign hook): the Host header, then
 * sign()'s. base is the base URL the request was built on; the path
 * signed is what follows its host in the URL. */
static int bedrock_sign(struct pcall *pc, struct http_req *out,
                        const char *base)
{
    const char *accept = pc->stream ? provider_bedrock.stream_accept :
                         provider_bedrock.accept;
    const char *region, *host, *prefix;
    size_t host_len;
    char hostbuf[256];

    if ((region = bedrock_region(pc)) == NULL ||
        split_base(pc, base, &host, &host_len, &prefix) < 0)
        return pc->err.code;
    if (host_len >= sizeof(hostbuf))
        return bedrock_bad(pc, "api_base host name too long");
    snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)host_len, host);
    if (http_header_add(out, "Host: %s", hostbuf) < 0)
        return pcall_oom(pc);
    /* The URL is base + path: the path signed starts after the host. */
    return sign(pc, out, region, hostbuf, out->url.p + (prefix - base),
                accept);
}

/* The base URL: api_base, else the region's endpoint; checked, since
 * SigV4 signs its host. */
static int bedrock_base(struct pcall *pc, struct buf *out)
{
    const struct deployment *d = pc->dep;
    const char *region, *host, *prefix;
    size_t host_len;
    int r;

    if ((region = bedrock_region(pc)) == NULL)
        return pc->err.code;
    if (d->api_base && *d->api_base)
        r = buf_adds(out, d->api_base);
    else
        r = buf_addf(out, "https://bedrock-runtime.%s.amazonaws.com",
                     region);
    if (r < 0)
        return bedrock_bad(pc, "the api_base is too long");
    if (split_base(pc, out->p, &host, &host_len, &prefix) < 0)
        return pc->err.code;
    if (host_len >= 256)
        return bedrock_bad(pc, "api_base host name too long");
    return 0;
}

static int bedrock_body(struct pcall *pc, struct buf *out)
{
    int r;

    if ((r = common_check_params(pc, bedrock_known_params)) < 0)
        return r;
    if (bedrock_region(pc) == NULL)
        return pc->err.code;
    return common_put_json(pc, bedrock_converse_body(pc), out);
}

/* ---- errors ------------------------------------------------------------- */

static int contains(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* Context-window wording that provider_code_for does not know. */
static int context_words(const char *text)
{
    return contains(text, "too many input tokens") ||
           contains(text, "exceed context limit") ||
           contains(text, "model_context_window_exceeded");
}

/* 403 wording that means the credentials, not the permissions, are bad. */
static int auth_words(const char *text)
{
    return contains(text, "security token") ||
           contains(text, "signature") ||
           contains(text, "credential") ||
           contains(text, "authentication token") ||
           contains(text, "api key");
}

/* An error for an AWS exception name (any case, "…Exception" optional;
 * NULL when unknown), an HTTP status (0 in streams) and the message. */
int bedrock_code_for(const char *type, long status, const char *text)
{
    static const struct { const char *name; int code; } types[] = {
        { "throttling", LLMUX_ERATELIMIT },
        { "accessdenied", LLMUX_EPERMISSION },
        { "unrecognizedclient", LLMUX_EAUTH },
        { "invalidsignature", LLMUX_EAUTH },
        { "incompletesignature", LLMUX_EAUTH },
        { "signaturedoesnotmatch", LLMUX_EAUTH },
        { "expiredtoken", LLMUX_EAUTH },
        { "invalidclienttokenid", LLMUX_EAUTH },
        { "missingauthenticationtoken", LLMUX_EAUTH },
        { "resourcenotfound", LLMUX_ENOTFOUND },
        { "modelnotready", LLMUX_EUNAVAIL },
        { "serviceunavailable", LLMUX_EUNAVAIL },
        { "internalserver", LLMUX_EUNAVAIL },
        { "internalfailure", LLMUX_EUNAVAIL },
        { "modelerror", LLMUX_EUNAVAIL },
        { "modelstreamerror", LLMUX_EUNAVAIL },
        { "modeltimeout", LLMUX_ETIMEOUT },
        { "validation", LLMUX_EBADREQ },
    };
    int code = 0;

    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].name);

        if (strncasecmp(type, types[i].name, n) == 0 &&
            (type[n] == '\0' || strcasecmp(type + n, "Exception") == 0 ||
             strcasecmp(type + n, "Error") == 0)) {
            code = types[i].code;
            break;
        }
    }
    if (code == LLMUX_EBADREQ || (code == 0 && (status == 400 ||
                                                status == 413))) {
        if (context_words(text))
            return LLMUX_ECONTEXT;
        return provider_code_for(400, text);
    }
    if (code)
        return code;
    if (status == 403 && auth_words(text))
        return LLMUX_EAUTH;
    if (status == 429 && contains(text, "not ready"))
        return LLMUX_EUNAVAIL;
    if (status == 424)              /* ModelErrorException */
        return LLMUX_EUNAVAIL;
    return provider_code_for(status ? status : 500, text);
}

/* "com.amazon…#ThrottlingException:http://…" -> "ThrottlingException". */
static void short_type(const char *raw, char *out, size_t outlen)
{
    const char *p = raw ? strrchr(raw, '#') : NULL;
    size_t n;

    p = p ? p + 1 : raw ? raw : "";
    n = strcspn(p, ":");
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

static int bedrock_map_error(struct pcall *pc, const struct http_resp *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const char *raw = hub_str(j, "__type");
    char type[96], text[400];
    int code;

    if (raw == NULL)
        raw = hub_str(j, "code");
    if (hub_str(j, "message") == NULL && hub_str(j, "Message") == NULL &&
        json_is_object(json_object_get(j, "error"))) {
        /* A proxy in front, answering in OpenAI's shape. */
        json_decref(j);
        return provider_map_error_default(pc, r);
    }
    short_type(raw, type, sizeof(type));
    /* AWS's {"message"} or {"Message"}, else the body itself. */
    provider_error_text(pc, r, text, sizeof(text));
    code = bedrock_code_for(*type ? type : NULL, r->status, text);
    pcall_fail(pc, code, r->status, "bedrock: %s%s%s", type,
               *type ? ": " : "", text);
    pc->err.retry_after = r->retry_after;
    json_decref(j);
    return code;
}

const struct provider provider_bedrock = {
    .name          = "bedrock",
    /* The id goes on the wire encoded once (…-v1%3A0); sigv4_sign
     * encodes the path once more for the signature. LiteLLM's
     * "bedrock/converse/<id>" names the route, not the model. */
    .path          = "/model/{model}/converse",
    .stream_path   = "/model/{model}/converse-stream",
    .model_prefix  = "converse/",
    .auth          = PROV_AUTH_SIGV4,     /* a Bedrock API key: Bearer */
    .key           = PROV_KEY_NEVER,
    .framing       = PROV_FRAMING_EVENTSTREAM,
    .content_type  = "application/json",
    .accept        = "application/json",
    .stream_accept = "application/vnd.amazon.eventstream",
    .build_body  = bedrock_body,
    .base_url    = bedrock_base,
    .sign        = bedrock_sign,
    .parse       = bedrock_parse,
    .stream_feed = bedrock_stream_feed,
    .stream_end  = bedrock_stream_end,
    .stream_free = bedrock_stream_free,
    .map_error   = bedrock_map_error,

    .embed_path       = "/model/{model}/invoke",
    .build_embed_body = bedrock_embed_body,
    .parse_embed      = bedrock_embed_parse,
    .embed_batch      = bedrock_embed_batch,
};

