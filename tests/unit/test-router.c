/* test-router.c -- the router's decisions with an injected clock:
 * strategies, order tiers, cooldown bookkeeping, retry policy, backoff
 * schedule and fallback chains (daemon/router.c). No loop, no network. */
#include "test.h"

#include "config.h"
#include "llmux-errno.h"
#include "presets.h"
#include "resolve.h"
#include "router.h"

#include <math.h>

#define T0 1000020000ull   /* a clock far from 0, on a minute boundary */

static void defaults(struct router_settings *rs)
{
    memset(rs, 0, sizeof(*rs));
    rs->strategy = ROUTE_SIMPLE_SHUFFLE;
    rs->allowed_fails = 3;
    rs->cooldown_time = 5;
    rs->max_fallbacks = 5;
    for (int i = 0; i < ECLASS_COUNT; i++)
        rs->retry_policy[i] = rs->allowed_fails_policy[i] = -1;
}

/* A deployment as the router sees it: a key and the routing fields. */
static void dep(struct deployment *d, const char *key)
{
    memset(d, 0, sizeof(*d));
    d->key = (char *)key;
    d->id = (char *)key;
    d->model_name = (char *)"g";
    d->max_retries = -1;
    d->cooldown_time = -1;
    price_unset(&d->price);
    price_unset(&d->price_set);
}

static double near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

/* ---- backoff ------------------------------------------------------------ */

TEST(router_backoff_schedule)
{
    struct router_settings rs;

    defaults(&rs);
    /* u = 0: no jitter. 0.5 s doubling, capped at 8 s. */
    ASSERT(near(router_backoff(&rs, 1, -1, 0), 0.5));
    ASSERT(near(router_backoff(&rs, 2, -1, 0), 1.0));
    ASSERT(near(router_backoff(&rs, 3, -1, 0), 2.0));
    ASSERT(near(router_backoff(&rs, 4, -1, 0), 4.0));
    ASSERT(near(router_backoff(&rs, 5, -1, 0), 8.0));
    ASSERT(near(router_backoff(&rs, 9, -1, 0), 8.0));
    ASSERT(near(router_backoff(&rs, 100, -1, 0), 8.0));
    /* Jitter takes off at most a quarter. */
    ASSERT(near(router_backoff(&rs, 2, -1, 0.5), 0.875));
    ASSERT(router_backoff(&rs, 2, -1, 0.999999) > 0.75);
    /* Retry-After wins while it is sane; beyond 60 s we back off. */
    ASSERT(near(router_backoff(&rs, 1, 2.5, 0.3), 2.5));
    ASSERT(near(router_backoff(&rs, 3, 0, 0.3), 0));
    ASSERT(near(router_backoff(&rs, 1, 3600, 0), 0.5));
    /* router_settings.retry_after is a floor. */
    rs.retry_after = 3;
    ASSERT(near(router_backoff(&rs, 1, -1, 0), 3));
    ASSERT(near(router_backoff(&rs, 1, 0.2, 0), 3));
    ASSERT(near(router_backoff(&rs, 5, -1, 0), 8));
}

/* ---- retry policy ------------------------------------------------------- */

TEST(router_retry_policy_defaults)
{
    struct router_settings rs;
    struct deployment d;

    defaults(&rs);
    dep(&d, "a");
    rs.num_retries = 3;
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, -1), 3);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ETIMEOUT, -1), 3);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EUNAVAIL, -1), 3);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ECONN, -1), 3);
    /* The caller's fault, or a key that will not fix itself: no retry. */
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EAUTH, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EBADREQ, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ENOTFOUND, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EPERMISSION, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ECONTEXT, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EPOLICY, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ECANCELLED, -1), 0);
    /* The request's num_retries, then the deployment's max_retries. */
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, 1), 1);
    d.max_retries = 0;
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, 2), 2);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EAUTH, 2), 0);
}

TEST(router_retry_policy_per_class)
{
    struct router_settings rs;
    struct deployment d;

    defaults(&rs);
    dep(&d, "a");
    rs.num_retries = 2;
    rs.retry_policy[ECLASS_AUTH] = 1;
    rs.retry_policy[ECLASS_RATE_LIMIT] = 0;
    rs.retry_policy[ECLASS_BAD_REQUEST] = 4;
    rs.retry_policy[ECLASS_INTERNAL] = 5;
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EAUTH, -1), 1);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, -1), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ERATELIMIT, 7), 0);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EBADREQ, -1), 4);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ECONTEXT, -1), 4);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EUNAVAIL, -1), 5);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ECONN, -1), 5);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_ETIMEOUT, -1), 2);
    ASSERT_EQ(router_retries(&rs, &d, LLMUX_EPOLICY, -1), 0);
    ASSERT_EQ(router_err_class(LLMUX_EPOLICY), ECLASS_CONTENT_POLICY);
    ASSERT_EQ(router_err_class(LLMUX_ENOTFOUND), -1);
}

/* ---- cooldowns ---------------------------------------------------------- */

TEST(router_cooldown_on_429_at_once)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, *g[2] = { &a, &b };
    struct rstat *sa;
    double ra = -1;

    defaults(&rs);
    rs.cooldown_time = 2;
    dep(&a, "a");
    dep(&b, "b");
    router_init(&r, 1);
    sa = router_stat(&r, "a");
    router_begin(sa, T0);
    ASSERT_EQ(sa->inflight, 1);
    ASSERT(near(router_end_fail(&rs, sa, &a, 2, LLMUX_ERATELIMIT, 0.5, T0),
                2));
    ASSERT_EQ(sa->inflight, 0);
    /* While a cools, every pick is b. */
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 1999, &ra), 1);
    /* b cools too: nothing to pick; the first returns in 1 s. */
    router_begin(router_stat(&r, "b"), T0 + 1000);
    router_end_fail(&rs, router_stat(&r, "b"), &b, 2, LLMUX_EAUTH, -1,
                    T0 + 1000);
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 1000, &ra),
              LLMUX_ERATELIMIT);
    ASSERT(near(ra, 1.0));
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 1500, &ra),
              LLMUX_ERATELIMIT);
    ASSERT(near(ra, 0.5));
    /* a is back after its cooldown_time. */
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 2000, &ra), 0);
    router_free(&r);
}

TEST(router_cooldown_retry_after_and_deployment_time)
{
    struct router_settings rs;
    struct router r;
    struct deployment a;
    struct rstat *s;

    defaults(&rs);
    rs.cooldown_time = 1;
    dep(&a, "a");
    router_init(&r, 1);
    s = router_stat(&r, "a");
    /* A longer Retry-After on a 429 benches for that long. */
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 3, LLMUX_ERATELIMIT, 20, T0),
                20));
    ASSERT_EQ(s->cool_until, T0 + 20000);
    /* The deployment's own cooldown_time wins over the router's. */
    a.cooldown_time = 0.25;
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 3, LLMUX_ENOTFOUND, -1, T0),
                0.25));
    ASSERT_EQ(s->cool_until, T0 + 250);
    router_free(&r);
}

TEST(router_cooldown_after_allowed_fails_in_a_minute)
{
    struct router_settings rs;
    struct router r;
    struct deployment a;
    struct rstat *s;

    defaults(&rs);
    rs.allowed_fails = 2;
    dep(&a, "a");
    router_init(&r, 1);
    s = router_stat(&r, "a");
    for (int i = 0; i < 2; i++) {
        router_begin(s, T0 + (uint64_t)i);
        ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_EUNAVAIL, -1,
                                    T0 + (uint64_t)i), 0));
    }
    ASSERT_EQ(s->fails, 2);
    /* The next minute starts from zero... */
    router_begin(s, T0 + 60000);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_ETIMEOUT, -1,
                                T0 + 60000), 0));
    ASSERT_EQ(s->fails, 1);
    router_begin(s, T0 + 60001);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_ECONN, -1,
                                T0 + 60001), 0));
    /* ...and the third failure in it is one too many. */
    router_begin(s, T0 + 60002);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_EUNAVAIL, -1,
                                T0 + 60002), 5));
    ASSERT_EQ(s->cool_until, T0 + 65002);
    ASSERT_EQ(s->fails, 0);
    /* The caller's errors never count against a deployment. */
    router_begin(s, T0 + 70000);
    router_end_fail(&rs, s, &a, 2, LLMUX_EBADREQ, -1, T0 + 70000);
    router_begin(s, T0 + 70000);
    router_end_fail(&rs, s, &a, 2, LLMUX_ECONTEXT, -1, T0 + 70000);
    ASSERT_EQ(s->fails, 0);
    router_free(&r);
}

TEST(router_no_cooldown_for_a_lone_deployment_or_when_disabled)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, *g[1] = { &a };
    struct rstat *s;
    double ra;

    defaults(&rs);
    dep(&a, "a");
    router_init(&r, 1);
    s = router_stat(&r, "a");
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 1, LLMUX_ERATELIMIT, 3, T0), 0));
    ASSERT_EQ(router_pick(&r, &rs, g, 1, NULL, T0, &ra), 0);
    rs.disable_cooldowns = 1;
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 4, LLMUX_ERATELIMIT, 3, T0), 0));
    ASSERT_EQ(s->cool_until, 0);
    router_free(&r);
}

TEST(router_allowed_fails_policy)
{
    struct router_settings rs;
    struct router r;
    struct deployment a;
    struct rstat *s;

    defaults(&rs);
    rs.allowed_fails_policy[ECLASS_RATE_LIMIT] = 1;   /* not at once */
    rs.allowed_fails_policy[ECLASS_INTERNAL] = 0;     /* at the first */
    dep(&a, "a");
    router_init(&r, 1);
    s = router_stat(&r, "a");
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_ERATELIMIT, -1, T0), 0));
    router_begin(s, T0);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_ERATELIMIT, -1, T0), 5));
    s->cool_until = 0;
    router_begin(s, T0 + 1);
    ASSERT(near(router_end_fail(&rs, s, &a, 2, LLMUX_EUNAVAIL, -1, T0 + 1),
                5));
    router_free(&r);
}

/* ---- strategies --------------------------------------------------------- */

TEST(router_weighted_shuffle_split)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    int n[3] = { 0, 0, 0 };
    double ra;
    const int N = 20000;

    defaults(&rs);
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    a.weight = 1;
    b.weight = 3;
    c.weight = 6;
    router_init(&r, 42);
    for (int i = 0; i < N; i++)
        n[router_pick(&r, &rs, g, 3, NULL, T0, &ra)]++;
    /* Binomial 4-sigma bounds: p = .1, .3, .6. */
    ASSERT(abs(n[0] - 2000) < 4 * 43);
    ASSERT(abs(n[1] - 6000) < 4 * 65);
    ASSERT(abs(n[2] - 12000) < 4 * 70);
    /* Without weights, rpm weighs; a missing rpm counts as the mean. */
    a.weight = b.weight = c.weight = 0;
    a.rpm = 100;
    b.rpm = 300;
    memset(n, 0, sizeof(n));
    for (int i = 0; i < N; i++)
        n[router_pick(&r, &rs, g, 3, NULL, T0, &ra)]++;
    /* 100 : 300 : 200 */
    ASSERT(abs(n[0] - 3333) < 4 * 53);
    ASSERT(abs(n[1] - 10000) < 4 * 71);
    ASSERT(abs(n[2] - 6667) < 4 * 67);
    router_free(&r);
}

TEST(router_seeds_differ)
{
    struct router r1, r2;
    int same = 0;

    router_init(&r1, 1);
    router_init(&r2, 2);
    for (int i = 0; i < 64; i++) {
        double x = router_random(&r1), y = router_random(&r2);

        ASSERT(x >= 0 && x < 1 && y >= 0 && y < 1);
        same += x == y;
    }
    ASSERT_EQ(same, 0);
}

TEST(router_order_tiers)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    double ra;

    defaults(&rs);
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    a.order = 2;
    b.order = 1;      /* c: no order, after every ordered one */
    router_init(&r, 3);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 1);
    router_stat(&r, "b")->cool_until = T0 + 10;
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 0);
    router_stat(&r, "a")->cool_until = T0 + 10;
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 2);
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0 + 10, &ra), 1);
    router_free(&r);
}

TEST(router_prefers_untried)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    unsigned char tried[3] = { 1, 0, 1 };
    double ra;

    defaults(&rs);
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    router_init(&r, 4);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 3, tried, T0, &ra), 1);
    ASSERT_EQ(router_untried(&r, g, 3, tried, T0), 1);
    /* When every healthy one was tried, any of them again. */
    router_stat(&r, "b")->cool_until = T0 + 1;
    ASSERT_EQ(router_untried(&r, g, 3, tried, T0), 0);
    for (int i = 0; i < 20; i++)
        ASSERT(router_pick(&r, &rs, g, 3, tried, T0, &ra) != 1);
    router_free(&r);
}

TEST(router_least_busy)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    double ra;
    int n[3] = { 0, 0, 0 };

    defaults(&rs);
    rs.strategy = ROUTE_LEAST_BUSY;
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    router_init(&r, 5);
    router_stat(&r, "a")->inflight = 2;
    router_stat(&r, "b")->inflight = 1;
    router_stat(&r, "c")->inflight = 3;
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 1);
    /* Six picks that each start an attempt spread evenly. */
    router_stat(&r, "a")->inflight = 0;
    router_stat(&r, "b")->inflight = 0;
    router_stat(&r, "c")->inflight = 0;
    for (int i = 0; i < 6; i++) {
        int k = router_pick(&r, &rs, g, 3, NULL, T0, &ra);

        n[k]++;
        router_begin(router_stat(&r, g[k]->key), T0);
    }
    ASSERT(n[0] == 2 && n[1] == 2 && n[2] == 2);
    router_free(&r);
}

TEST(router_latency_based)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    struct rstat *sa, *sb, *sc;
    double ra;
    int seen[3] = { 0, 0, 0 };

    defaults(&rs);
    rs.strategy = ROUTE_LATENCY;
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    router_init(&r, 6);
    sa = router_stat(&r, "a");
    sb = router_stat(&r, "b");
    sc = router_stat(&r, "c");
    router_begin(sa, T0);
    router_end_ok(sa, T0, 300, 10);
    router_begin(sb, T0);
    router_end_ok(sb, T0, 100, 10);
    /* c has no sample yet: it is tried first. */
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 2);
    router_begin(sc, T0);
    router_end_ok(sc, T0, 110, 10);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 1);
    /* A 20 % buffer lets c (110 ms) share with b (100 ms), never a. */
    rs.latency_buffer = 0.2;
    for (int i = 0; i < 200; i++)
        seen[router_pick(&r, &rs, g, 3, NULL, T0, &ra)]++;
    ASSERT(seen[0] == 0 && seen[1] > 50 && seen[2] > 50);
    /* The average moves with new samples. */
    router_begin(sb, T0);
    router_end_ok(sb, T0, 1000, 1);
    ASSERT(near(sb->latency_ms, 0.7 * 100 + 0.3 * 1000));
    rs.latency_buffer = 0;
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 2);
    router_free(&r);
}

TEST(router_usage_based_skips_full_deployments)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, *g[2] = { &a, &b };
    struct rstat *sa, *sb;
    double ra;

    defaults(&rs);
    rs.strategy = ROUTE_USAGE;
    dep(&a, "a");
    dep(&b, "b");
    a.rpm = 2;
    b.tpm = 1000;
    router_init(&r, 7);
    sa = router_stat(&r, "a");
    sb = router_stat(&r, "b");
    router_begin(sb, T0);
    router_end_ok(sb, T0, 5, 400);
    /* Fewest tokens this minute: a. */
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0, &ra), 0);
    router_begin(sa, T0);
    router_end_ok(sa, T0, 5, 10);
    router_begin(sa, T0);
    router_end_ok(sa, T0, 5, 10);
    /* a used its 2 requests: b, though it used more tokens. */
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 1, &ra), 1);
    router_begin(sb, T0 + 2);
    router_end_ok(sb, T0 + 2, 5, 700);
    /* Both full: rate_limit until the next minute. */
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 30000, &ra),
              LLMUX_ERATELIMIT);
    ASSERT(near(ra, 30.0));
    /* A new minute, fresh counters. */
    ASSERT(router_pick(&r, &rs, g, 2, NULL, T0 + 60000, &ra) >= 0);
    router_free(&r);
}

TEST(router_skips_deployments_over_rpm_in_the_last_minute)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, *g[2] = { &a, &b };
    struct rstat *sa, *sb;
    double ra;

    defaults(&rs);                      /* simple-shuffle: any strategy */
    dep(&a, "a");
    dep(&b, "b");
    a.rpm = 1;
    b.tpm = 100;
    router_init(&r, 9);
    sa = router_stat(&r, "a");
    sb = router_stat(&r, "b");
    router_begin(sa, T0 + 59000);
    router_end_ok(sa, T0 + 59000, 5, 1);
    /* A new clock minute, but a's request is 2 s old: b only. */
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 61000, &ra), 1);
    router_begin(sb, T0 + 61000);
    router_end_ok(sb, T0 + 61000, 5, 100);
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 61500, &ra),
              LLMUX_ERATELIMIT);
    /* a frees first, when its request is 60 s old. */
    ASSERT(near(ra, 57.5));
    ASSERT_EQ(router_pick(&r, &rs, g, 2, NULL, T0 + 119000, &ra), 0);
    router_free(&r);
}

TEST(router_cost_based)
{
    struct router_settings rs;
    struct router r;
    struct deployment a, b, c, *g[3] = { &a, &b, &c };
    double ra;

    defaults(&rs);
    rs.strategy = ROUTE_COST;
    dep(&a, "a");
    dep(&b, "b");
    dep(&c, "c");
    a.price.input = 5e-6;
    a.price.output = 15e-6;
    b.price.input = 1e-6;
    b.price.output = 2e-6;   /* c: unknown price, last */
    router_init(&r, 8);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 1);
    router_stat(&r, "b")->cool_until = T0 + 1;
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 0);
    router_stat(&r, "a")->cool_until = T0 + 1;
    ASSERT_EQ(router_pick(&r, &rs, g, 3, NULL, T0, &ra), 2);
    router_free(&r);
}

/* ---- fallbacks ---------------------------------------------------------- */

static char *S(const char *s)
{
    return (char *)s;
}

TEST(router_fallback_chains)
{
    struct router_settings rs;
    char *gen_to[] = { S("b"), S("a"), S("c"), S("b") };
    char *star_to[] = { S("z") };
    char *ctx_to[] = { S("big") };
    char *pol_to[] = { S("safe") };
    char *dflt[] = { S("d1"), S("d2") };
    struct fallback_rule gen[] = { { S("a"), gen_to, 4 },
                                   { S("*"), star_to, 1 } };
    struct fallback_rule ctx[] = { { S("a"), ctx_to, 1 } };
    struct fallback_rule pol[] = { { S("a"), pol_to, 1 } };
    const char *out[ROUTER_MAX_CHAIN];
    size_t n;

    defaults(&rs);
    rs.fallbacks.r = gen;
    rs.fallbacks.n = 2;
    rs.context_fallbacks.r = ctx;
    rs.context_fallbacks.n = 1;
    rs.policy_fallbacks.r = pol;
    rs.policy_fallbacks.n = 1;
    rs.default_fallbacks = dflt;
    rs.ndefault_fallbacks = 2;
    /* General: in order, without the group itself or duplicates. */
    n = router_fallbacks(&rs, NULL, "a", LLMUX_EUNAVAIL, out, 16);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(out[0], "b");
    ASSERT_STR_EQ(out[1], "c");
    /* context_window_fallbacks only for that error, and only them. */
    n = router_fallbacks(&rs, NULL, "a", LLMUX_ECONTEXT, out, 16);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0], "big");
    n = router_fallbacks(&rs, NULL, "a", LLMUX_EPOLICY, out, 16);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0], "safe");
    /* A group without its own rule takes the "*" rule... */
    n = router_fallbacks(&rs, NULL, "q", LLMUX_ERATELIMIT, out, 16);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0], "z");
    /* ...and, context_window_fallbacks being set, no context fallbacks
     * at all. */
    ASSERT_EQ(router_fallbacks(&rs, NULL, "q", LLMUX_ECONTEXT, out, 16), 0);
    /* default_fallbacks when no rule applies. */
    rs.fallbacks.n = 1;
    n = router_fallbacks(&rs, NULL, "q", LLMUX_ETIMEOUT, out, 16);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(out[1], "d2");
    /* bad_request is the caller's: nothing. */
    ASSERT_EQ(router_fallbacks(&rs, NULL, "a", LLMUX_EBADREQ, out, 16), 0);
    /* max_fallbacks caps the chain. */
    rs.max_fallbacks = 1;
    ASSERT_EQ(router_fallbacks(&rs, NULL, "a", LLMUX_EUNAVAIL, out, 16), 1);
    rs.max_fallbacks = 0;
    ASSERT_EQ(router_fallbacks(&rs, NULL, "a", LLMUX_EUNAVAIL, out, 16), 0);
}

TEST(router_fallback_request_overrides)
{
    struct router_settings rs;
    char *gen_to[] = { S("b") };
    struct fallback_rule gen[] = { { S("a"), gen_to, 1 } };
    const char *mine[] = { "x", "y" }, *ctx[] = { "wide" };
    struct fallback_override ov = { mine, 2, NULL, 0, 0 };
    const char *out[ROUTER_MAX_CHAIN];

    defaults(&rs);
    rs.fallbacks.r = gen;
    rs.fallbacks.n = 1;
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_EAUTH, out, 16), 2);
    ASSERT_STR_EQ(out[0], "x");
    /* No context_window_fallbacks anywhere: the general ones, as
     * LiteLLM's "defaulting to fallbacks". */
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_ECONTEXT, out, 16), 2);
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_EPOLICY, out, 16), 2);
    ov.context = ctx;
    ov.ncontext = 1;
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_ECONTEXT, out, 16), 1);
    ASSERT_STR_EQ(out[0], "wide");
    ov.disabled = 1;
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_EAUTH, out, 16), 0);
    /* An empty list in the request means: no fallbacks. */
    ov.disabled = 0;
    ov.ngeneral = 0;
    ASSERT_EQ(router_fallbacks(&rs, &ov, "a", LLMUX_EAUTH, out, 16), 0);
}

/* ---- statistics across a reload ------------------------------------------ */

TEST(router_prune_keeps_live_deployments)
{
    struct router r;
    struct config cfg;
    struct deployment a, *deps[1] = { &a };

    dep(&a, "kept");
    memset(&cfg, 0, sizeof(cfg));
    cfg.deps = deps;
    cfg.ndeps = 1;
    router_init(&r, 9);
    router_stat(&r, "kept")->cool_until = T0 + 5;
    router_stat(&r, "gone");
    router_stat(&r, "busy")->inflight = 1;
    ASSERT_EQ(r.n, 3);
    router_prune(&r, &cfg);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(router_stat(&r, "kept")->cool_until, T0 + 5);
    ASSERT_EQ(router_stat(&r, "busy")->inflight, 1);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(router_stat(&r, "gone")->cool_until, 0);
    ASSERT_EQ(r.n, 3);
    router_free(&r);
}

/* ---- resolution and the cache of derived deployments (resolve.c) -------- */

static struct config *load_cfg(const char *text)
{
    struct config *c = NULL;
    char err[512];

    if (config_load_text("t.yaml", text, strlen(text), &c, err,
                         sizeof(err)) < 0)
        fprintf(stderr, "load: %s\n", err);
    return c;
}

/* Break 2 of issue 10: after 1 029 distinct names every new one failed
 * for everyone. The cache evicts instead, stays bounded, and a reference
 * a request holds outlives the eviction of its entry. */
TEST(router_resolve_evicts_instead_of_failing)
{
    struct config *c = load_cfg("model_list: []\n");
    struct deployment *held, *d;
    struct router r;
    char name[64], err[512];

    ASSERT(c != NULL);
    router_init(&r, 1);
    ASSERT_EQ(router_resolve(&r, c, "mock/held", &held, 1, err,
                             sizeof(err)), 1);
    for (int i = 1; i <= 1100; i++) {
        snprintf(name, sizeof(name), "mock/a%d", i);
        ASSERT_EQ(router_resolve(&r, c, name, &d, 1, err, sizeof(err)), 1);
        ASSERT_STR_EQ(d->model_name, name);
        deployment_unref(d);
        ASSERT(r.cache.n <= RESOLVE_CACHE_MAX);
    }
    ASSERT_EQ(r.cache.n, RESOLVE_CACHE_MAX);
    ASSERT_EQ(router_resolve(&r, c, "mock/brand-new", &d, 1, err,
                             sizeof(err)), 1);
    deployment_unref(d);
    /* Evicted long ago, still whole for its holder. */
    ASSERT_STR_EQ(held->model_name, "mock/held");
    ASSERT_STR_EQ(held->preset->name, "mock");
    router_free(&r);
    config_unref(c);
    ASSERT_STR_EQ(held->upstream_model, "held");   /* and after both */
    deployment_unref(held);
}

/* Break 3: names are bounded before anything is copied. */
TEST(router_resolve_refuses_long_names)
{
    struct config *c = load_cfg("model_list: []\n");
    char name[DEPLOYMENT_MAX_NAME + 2], err[512];
    struct deployment *d;
    struct router r;

    ASSERT(c != NULL);
    router_init(&r, 1);
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memcpy(name, "mock/", 5);
    ASSERT_EQ(router_resolve(&r, c, name, &d, 1, err, sizeof(err)),
              LLMUX_EBADREQ);
    ASSERT(strstr(err, "longer than 256 bytes") != NULL);
    ASSERT_EQ(r.cache.n, 0);
    name[DEPLOYMENT_MAX_NAME] = '\0';                  /* exactly 256 */
    ASSERT_EQ(router_resolve(&r, c, name, &d, 1, err, sizeof(err)), 1);
    deployment_unref(d);
    router_free(&r);
    config_unref(c);
}

/* Most recently used entries stay; the least recently used one goes. */
TEST(router_resolve_evicts_the_least_recently_used)
{
    struct config *c = load_cfg("model_list: []\n");
    struct deployment *a, *d;
    struct router r;
    char name[64], err[512];

    ASSERT(c != NULL);
    router_init(&r, 1);
    ASSERT_EQ(router_resolve(&r, c, "mock/keep", &a, 1, err, sizeof(err)),
              1);
    deployment_unref(a);
    for (int i = 0; i < RESOLVE_CACHE_MAX * 2; i++) {
        snprintf(name, sizeof(name), "mock/n%d", i);
        ASSERT_EQ(router_resolve(&r, c, name, &d, 1, err, sizeof(err)), 1);
        deployment_unref(d);
        /* Used again each round: never the least recent. */
        ASSERT_EQ(router_resolve(&r, c, "mock/keep", &d, 1, err,
                                 sizeof(err)), 1);
        ASSERT(d == a);
        deployment_unref(d);
    }
    router_free(&r);
    config_unref(c);
}

/* After a reload an unchanged derived deployment keeps its statistics
 * (cooldown, latency); a changed template starts afresh; a request that
 * still holds the old deployment keeps it. */
TEST(router_resolve_keeps_statistics_across_a_reload)
{
    static const char *const A =
        "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n"
        "      model: \"openai/*\"\n      api_key: k\n";
    static const char *const B =   /* another base: another deployment */
        "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n"
        "      model: \"openai/*\"\n      api_key: k\n"
        "      api_base: http://127.0.0.1:9\n";
    struct config *a = load_cfg(A), *a2 = load_cfg(A), *b = load_cfg(B);
    struct deployment *d1, *d2, *imp1, *imp2;
    struct router r;
    char err[512];

    ASSERT(a && a2 && b);
    router_init(&r, 1);
    ASSERT_EQ(router_resolve(&r, a, "openai/gpt-4o", &d1, 1, err,
                             sizeof(err)), 1);
    ASSERT_EQ(router_resolve(&r, a, "mock/x", &imp1, 1, err, sizeof(err)),
              1);
    router_dstat(&r, d1)->cool_until = T0 + 5000;
    router_dstat(&r, imp1)->latency_ms = 42;
    router_prune(&r, a2);                  /* the same file again */
    ASSERT_EQ(router_resolve(&r, a2, "openai/gpt-4o", &d2, 1, err,
                             sizeof(err)), 1);
    ASSERT_EQ(router_resolve(&r, a2, "mock/x", &imp2, 1, err, sizeof(err)),
              1);
    ASSERT(d2 != d1 && d2->owner == a2);
    ASSERT_EQ(router_dstat(&r, d2)->cool_until, T0 + 5000);
    ASSERT(near(router_dstat(&r, imp2)->latency_ms, 42));
    ASSERT_STR_EQ(d1->model_name, "openai/gpt-4o");   /* still held */
    deployment_unref(d2);
    router_prune(&r, b);                   /* the template changed */
    ASSERT_EQ(router_resolve(&r, b, "openai/gpt-4o", &d2, 1, err,
                             sizeof(err)), 1);
    ASSERT_EQ(router_dstat(&r, d2)->cool_until, 0);
    ASSERT_STR_EQ(d2->api_base, "http://127.0.0.1:9");
    deployment_unref(d2);
    /* A request of the old config resolves against it, uncached. */
    ASSERT_EQ(router_resolve(&r, a, "openai/new-one", &d2, 1, err,
                             sizeof(err)), 1);
    ASSERT(d2->owner == a && d2->api_base &&
           strcmp(d2->api_base, "https://api.openai.com/v1") == 0);
    deployment_unref(d2);
    deployment_unref(d1);
    deployment_unref(imp1);
    deployment_unref(imp2);
    router_free(&r);
    config_unref(a);
    config_unref(a2);
    config_unref(b);
}
