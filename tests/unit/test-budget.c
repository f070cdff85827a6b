/* test-budget.c -- unit tests of the global memory budget (daemon/budget.c)
 * and of proto_msgpack_count, which sizes a frame before it is decoded. */
#include "test.h"
#include "budget.h"
#include "proto.h"

TEST(budget_take_refuses_past_limit_and_gives_back)
{
    struct budget b = { .limit = 100 };

    ASSERT_EQ(budget_take(&b, 60), 0);
    ASSERT_EQ(budget_take(&b, 41), LLMUX_EUNAVAIL);
    ASSERT_EQ(b.used, 60);
    ASSERT_EQ(b.refused, 1);
    ASSERT_EQ(budget_take(&b, 40), 0);
    ASSERT_EQ(b.used, 100);
    budget_give(&b, 100);
    ASSERT_EQ(b.used, 0);
    ASSERT_EQ(b.peak, 100);
    /* a charge larger than the limit, and no wrap around SIZE_MAX */
    ASSERT_EQ(budget_take(&b, 101), LLMUX_EUNAVAIL);
    ASSERT_EQ(budget_take(&b, (size_t)-1), LLMUX_EUNAVAIL);
    ASSERT_EQ(b.used, 0);
}

TEST(budget_force_and_adjust)
{
    struct budget b = { .limit = 100 };
    size_t have = 0;

    budget_force(&b, 150);          /* output already answered */
    ASSERT_EQ(b.used, 150);
    ASSERT_EQ(budget_take(&b, 1), LLMUX_EUNAVAIL);
    budget_give(&b, 150);
    ASSERT_EQ(budget_adjust(&b, &have, 80), 0);
    ASSERT_EQ(have, 80);
    ASSERT_EQ(budget_adjust(&b, &have, 120), LLMUX_EUNAVAIL);
    ASSERT_EQ(have, 80);            /* unchanged on refusal */
    ASSERT_EQ(budget_adjust(&b, &have, 10), 0);
    ASSERT_EQ(b.used, 10);
    budget_give(&b, 20);            /* never below zero */
    ASSERT_EQ(b.used, 0);
}

TEST(budget_no_limit)
{
    struct budget b = { .limit = 0 };

    ASSERT_EQ(budget_take(&b, (size_t)1 << 40), 0);
}

TEST(budget_frame_cost_counts_values)
{
    /* Few values cost about their bytes; many tiny ones far more. */
    ASSERT(budget_frame_cost(1000000, 10) < 1100000);
    ASSERT(budget_frame_cost(1000000, 1000000) > 60 * 1000000u);
    ASSERT(budget_tree_cost(100, 5) < budget_frame_cost(100, 5));
}

TEST(proto_msgpack_count_values)
{
    /* {"a": [1, 2, 3], "b": "x"}: map, 2 keys, array, 3 ints, 1 str: 8 */
    static const unsigned char m[] = { 0x82, 0xa1, 'a', 0x93, 1, 2, 3,
                                       0xa1, 'b', 0xa1, 'x' };
    uint64_t n = 0;

    ASSERT_EQ(proto_msgpack_count((const char *)m, sizeof(m), &n), 0);
    ASSERT_EQ(n, 8);
    /* truncated: an array announcing more elements than bytes */
    ASSERT_EQ(proto_msgpack_count((const char *)m, 5, &n), LLMUX_EPROTO);
}

TEST(budget_charge_grants_small_and_refuses_big_past_limit)
{
    struct budget b = { .limit = 100 };
    size_t small = 0, big = 0;

    budget_force(&b, 100);          /* full */
    ASSERT_EQ(budget_charge(&b, &small, BUDGET_GRANTED), 0);
    ASSERT_EQ(small, BUDGET_GRANTED);
    ASSERT_EQ(budget_charge(&b, &big, BUDGET_GRANTED + 1), LLMUX_EUNAVAIL);
    ASSERT_EQ(big, 0);
    ASSERT_EQ(b.used, 100 + BUDGET_GRANTED);
    ASSERT_EQ(budget_charge(&b, &small, 0), 0);     /* gives back */
    ASSERT_EQ(b.used, 100);
}

TEST(budget_limit_mib_saturates)
{
    ASSERT_EQ(budget_limit_mib(0), 0);
    ASSERT_EQ(budget_limit_mib(2), 2u * 1024 * 1024);
    ASSERT_EQ(budget_limit_mib(1e300), 0);          /* no limit, no UB */
}
