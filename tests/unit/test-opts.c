/* test-opts.c -- request options read once (daemon/opts.c): control keys
 * leave the body, their ranges are checked against the config; and the
 * hub conversion (daemon/hub.c) tells bad input from a failed allocation;
 * the limits stage's counting (daemon/limits.c). */
#include "test.h"

#include "config.h"
#include "hub.h"
#include "llmux-errno.h"
#include "opts.h"

#include <msgpack.h>

static struct config *cfg_of(const char *text)
{
    struct config *c = NULL;
    char err[512];

    if (config_load_text("t.yaml", text, strlen(text), &c, err,
                         sizeof(err)) < 0)
        return NULL;
    return c;
}

static json_t *body(const char *extra)
{
    char text[1024];

    snprintf(text, sizeof(text), "{\"model\": \"g\", \"messages\": [{\"role\":"
             " \"user\", \"content\": \"hi\"}]%s}", extra);
    return json_loads(text, 0, NULL);
}

TEST(opts_control_keys_leave_the_body)
{
    struct config *c = cfg_of("");
    json_t *b = body(", \"num_retries\": 3, \"fallbacks\": [\"a\", {\"model\":"
                     " \"b\"}], \"mock_response\": \"m\", \"api_key\": \"k\","
                     " \"drop_params\": true, \"temperature\": 1");
    struct request_opts o;
    char msg[256];

    ASSERT(c && b);
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT_EQ(o.num_retries, 3);
    ASSERT_EQ(o.ov.ngeneral, 2);
    ASSERT_STR_EQ(o.ov.general[1], "b");
    ASSERT_STR_EQ(o.mock_response, "m");
    ASSERT_EQ(o.drop_params, 1);
    ASSERT(json_object_get(b, "num_retries") == NULL);
    ASSERT(json_object_get(b, "api_key") == NULL);
    ASSERT(json_object_get(b, "mock_response") == NULL);
    ASSERT(json_object_get(b, "temperature") != NULL);
    ASSERT_EQ(json_object_size(b), 3);
    opts_free(&o);
    json_decref(b);
    config_unref(c);
}

/* Issue 9: timeout 1e300 overflowed into an immediate timeout. */
TEST(opts_timeout_never_above_the_configs)
{
    struct config *c = cfg_of("router_settings:\n  timeout: 30\n");
    static const char *const big[] = { ", \"timeout\": 1e300",
        ", \"timeout\": 1.7976931348623157e308", ", \"timeout\": 31",
        ", \"timeout\": -1", ", \"timeout\": 0", ", \"timeout\": \"x\"", "" };
    struct request_opts o;
    char msg[256];
    json_t *b;

    ASSERT(c);
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        b = body(big[i]);
        ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
        ASSERT(o.timeout == 30);
        opts_free(&o);
        json_decref(b);
    }
    b = body(", \"timeout\": 2.5");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT(o.timeout == 2.5);
    opts_free(&o);
    json_decref(b);
    config_unref(c);
}

TEST(opts_ranges_and_refusals)
{
    struct config *c = cfg_of("");
    struct request_opts o;
    char msg[256];
    json_t *b;

    ASSERT(c);
    b = body(", \"num_retries\": 1000000");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT_EQ(o.num_retries, OPTS_MAX_RETRIES);
    opts_free(&o);
    json_decref(b);
    b = body(", \"num_retries\": -1");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), LLMUX_EBADREQ);
    ASSERT(strstr(msg, "num_retries") != NULL);
    opts_free(&o);
    json_decref(b);
    b = body(", \"fallbacks\": \"x\"");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), LLMUX_EBADREQ);
    opts_free(&o);
    json_decref(b);
    b = body(", \"stream\": 1");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), LLMUX_EBADREQ);
    opts_free(&o);
    json_decref(b);
    b = body(", \"stream\": true, \"stream_options\": {\"include_usage\": true}");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT(o.stream && o.want_usage && o.num_retries == -1 && !o.ctl);
    opts_free(&o);
    json_decref(b);
    config_unref(c);
}

/* ---- hub: bad input is bad_request, a failed allocation is internal ---- */

static int fail_after;

static void *failing_malloc(size_t n)
{
    if (fail_after-- <= 0)
        return NULL;
    return malloc(n);
}

static int convert(const char *packed, size_t len, json_t **ret, char *msg,
                   size_t msglen)
{
    msgpack_unpacked u;
    size_t off = 0;
    int r;

    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, packed, len, &off) != MSGPACK_UNPACK_SUCCESS)
        return -999;
    r = hub_from_msgpack_checked(&u.data, ret, msg, msglen);
    msgpack_unpacked_destroy(&u);
    return r;
}

TEST(hub_tells_oom_from_bad_input)
{
    /* {"a": ["xy", {"k": "v"}]} and {"stream\0": true} and {"s": "\xff"} */
    static const char ok[] = "\x81\xa1" "a" "\x92\xa2" "xy" "\x81\xa1" "k"
                             "\xa1" "v";
    static const char nul[] = "\x81\xa7" "stream\0" "\xc3";
    static const char bad[] = "\x81\xa1" "s" "\xa1\xff";
    json_malloc_t m;
    json_free_t f;
    json_t *j = NULL;
    char msg[128];
    int r, saw_oom = 0;

    ASSERT_EQ(convert(nul, sizeof(nul) - 1, &j, msg, sizeof(msg)),
              LLMUX_EBADREQ);
    ASSERT(strstr(msg, "NUL") != NULL);
    ASSERT_EQ(convert(bad, sizeof(bad) - 1, &j, msg, sizeof(msg)),
              LLMUX_EBADREQ);
    ASSERT(strstr(msg, "UTF-8") != NULL);
    ASSERT_EQ(convert(ok, sizeof(ok) - 1, &j, msg, sizeof(msg)), 0);
    json_decref(j);
    /* Each allocation in turn fails: never reported as bad input. */
    json_get_alloc_funcs(&m, &f);
    for (int n = 0; n < 16; n++) {
        fail_after = n;
        json_set_alloc_funcs(failing_malloc, f);
        j = NULL;
        r = convert(ok, sizeof(ok) - 1, &j, msg, sizeof(msg));
        json_set_alloc_funcs(m, f);
        if (r == 0) {
            json_decref(j);
            break;
        }
        ASSERT_EQ(r, LLMUX_EINTERNAL);
        ASSERT_STR_EQ(msg, "out of memory");
        saw_oom = 1;
    }
    ASSERT(saw_oom);
}

/* ---- limits: in flight per caller and in all ------------------------- */

#include "limits-state.h"

TEST(limits_per_caller_and_global)
{
    struct limits l;
    char msg[160];

    limits_init(&l);
    l.per_caller = 3;
    l.global = 5;
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(limits_take(&l, 1000, msg, sizeof(msg)), 0);
    ASSERT_EQ(limits_take(&l, 1000, msg, sizeof(msg)), LLMUX_ERATELIMIT);
    ASSERT(strstr(msg, "for this user (limit 3)") != NULL);
    /* Another caller (same bucket too) is not held back by the first. */
    ASSERT_EQ(limits_take(&l, 1000 + LIMITS_BUCKETS, msg, sizeof(msg)), 0);
    ASSERT_EQ(limits_take(&l, 7, msg, sizeof(msg)), 0);
    ASSERT_EQ(limits_take(&l, 8, msg, sizeof(msg)), LLMUX_ERATELIMIT);
    ASSERT(strstr(msg, "in llmuxd (limit 5)") != NULL);
    ASSERT_EQ(limits_inflight(&l, 1000), 3);
    limits_put(&l, 1000);
    ASSERT_EQ(limits_take(&l, 8, msg, sizeof(msg)), 0);
    limits_put(&l, 1000);
    limits_put(&l, 1000);
    limits_put(&l, 1000 + LIMITS_BUCKETS);
    limits_put(&l, 7);
    limits_put(&l, 8);
    ASSERT_EQ(l.inflight, 0);
    ASSERT_EQ(limits_inflight(&l, 1000), 0);
    /* Idle entries stay for the next request (no allocation per
     * request), but no more than LIMITS_MAX_IDLE of them. */
    ASSERT_EQ(l.nuids, 4);
    for (unsigned u = 0; u < 3 * LIMITS_MAX_IDLE; u++) {
        ASSERT_EQ(limits_take(&l, 20000 + u, msg, sizeof(msg)), 0);
        limits_put(&l, 20000 + u);
        ASSERT(l.nuids <= LIMITS_MAX_IDLE + 1);
    }
    ASSERT_EQ(l.inflight, 0);
    limits_free(&l);
}
