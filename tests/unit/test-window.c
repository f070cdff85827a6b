/* test-window.c -- the sliding one-minute window (daemon/window.c): sums
 * over the last 60 s, not the clock minute, and the retry it reports. */
#include "test.h"

#include "window.h"

#define S0 1000020u      /* a second far from 0 */

TEST(window_slides_by_the_second)
{
    struct window w = { 0 };

    window_add(&w, S0 + 50, 1, 100);
    window_add(&w, S0 + 59, 2, 10);
    ASSERT_EQ(window_requests(&w, S0 + 59), 3);
    /* A clock minute later the first is still within 60 s... */
    ASSERT_EQ(window_requests(&w, S0 + 61), 3);
    ASSERT_EQ(window_tokens(&w, S0 + 109), 110);
    /* ... and leaves at S0 + 50 + 60. */
    ASSERT_EQ(window_requests(&w, S0 + 110), 2);
    ASSERT_EQ(window_tokens(&w, S0 + 110), 10);
    ASSERT_EQ(window_requests(&w, S0 + 119), 0);
    /* A long idle gap empties it, and it fills again. */
    window_add(&w, S0 + 5000, 1, 1);
    ASSERT_EQ(window_requests(&w, S0 + 5000), 1);
    ASSERT_EQ(window_tokens(&w, S0 + 5059), 1);
    ASSERT_EQ(window_tokens(&w, S0 + 5060), 0);
}

TEST(window_retry_waits_for_enough_to_leave)
{
    struct window w = { 0 };

    window_add(&w, S0, 1, 0);
    window_add(&w, S0 + 10, 1, 0);
    window_add(&w, S0 + 20, 1, 0);
    /* limit 3: the request of S0 leaves at S0 + 60. */
    ASSERT(window_retry(&w, S0 + 30, 0, 3) == 30);
    /* limit 2 (lowered): two must leave, the second at S0 + 70. */
    ASSERT(window_retry(&w, S0 + 30, 0, 2) == 40);
    ASSERT(window_retry(&w, S0 + 30, 0, 4) == 0);
    /* Everything in this second: a full minute. */
    window_add(&w, S0 + 200, 0, 500);
    ASSERT(window_retry(&w, S0 + 200, 1, 500) == 60);
    ASSERT(window_retry(&w, S0 + 200, 1, 501) == 0);
}
