/* json_keys.c -- the duplicate-key half of the JSON rule (json_pack.c):
 * an object that holds a key twice is refused, as jansson's
 * JSON_REJECT_DUPLICATES refuses it. Owns the keys recorded in the
 * validating pass and their comparison by decoded bytes, pairwise for
 * small objects and by hash for large ones. */
#include "json_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The decoded bytes of the validated string at s[at] == '"', one at a
 * time: a byte, or -1 at its end. Keys compare by these, so "a" and
 * "\u0061" are the same key, as they are to jansson. */
struct jp_iter {
    struct jp *j;
    size_t i;
    char u[4];
    size_t un, uk;
};

static void jp_iter_init(struct jp_iter *it, struct jp *j, size_t at)
{
    it->j = j;
    it->i = at + 1;
    it->un = it->uk = 0;
}

static int jp_iter_next(struct jp_iter *it)
{
    const unsigned char *s = it->j->s;
    uint32_t cp;
    size_t n;

    if (it->uk < it->un)
        return (unsigned char)it->u[it->uk++];
    if (s[it->i] == '"')
        return -1;
    if (s[it->i] != '\\')
        return s[it->i++];
    jp_escape(it->j, it->i, &cp, &n);      /* validated: cannot fail */
    it->i += n;
    it->un = json_utf8_put(it->u, cp);
    it->uk = 1;
    return (unsigned char)it->u[0];
}

static uint64_t jp_key_hash(struct jp *j, size_t at)
{
    struct jp_iter it;
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    int c;

    jp_iter_init(&it, j, at);
    while ((c = jp_iter_next(&it)) >= 0)
        h = (h ^ (unsigned)c) * 1099511628211ull;
    return h;
}

static bool jp_key_equal(struct jp *j, size_t a, size_t b)
{
    struct jp_iter x, y;
    int c, d;

    jp_iter_init(&x, j, a);
    jp_iter_init(&y, j, b);
    do {
        c = jp_iter_next(&x);
        d = jp_iter_next(&y);
    } while (c == d && c >= 0);
    return c == d;
}

/* Records the key just validated at s[at] (j->pos is past its closing
 * quote). */
int jp_key_push(struct jp *j, size_t at)
{
    struct jp_key *k;

    if (j->nkeys == j->keycap) {
        size_t cap = j->keycap * 2;
        struct jp_key *p;

        if (j->keys == j->local_keys) {
            p = malloc(cap * sizeof(*p));
            if (p != NULL)
                memcpy(p, j->local_keys, sizeof(j->local_keys));
        } else {
            p = realloc(j->keys, cap * sizeof(*p));
        }
        if (p == NULL)
            return -ENOMEM;
        j->keys = p;
        j->keycap = cap;
    }
    k = &j->keys[j->nkeys++];
    k->at = at;
    k->len = j->pos - at - 2;
    /* Every escape decodes shorter than it is written, so a key holds
     * one exactly when its decoded length (its slot, the last recorded)
     * is not its raw length. */
    k->esc = j->sizes[j->nsizes - 1] != k->len;
    return 0;
}

static int jp_key_cmp(const void *a, const void *b)
{
    const struct jp_key *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Whether a and b are the same key: escape-free keys (nearly all) by
 * their raw bytes, others decoded. */
static bool jp_same_key(struct jp *j, const struct jp_key *a,
                        const struct jp_key *b)
{
    if (!a->esc && !b->esc)
        return a->len == b->len &&
               memcmp(j->s + a->at + 1, j->s + b->at + 1, a->len) == 0;
    return jp_key_equal(j, a->at, b->at);
}

static int jp_dup(struct jp *j, const struct jp_key *a,
                  const struct jp_key *b)
{
    if (!jp_same_key(j, a, b))
        return 0;
    return jp_fail(j, a->at > b->at ? a->at : b->at, "duplicate object key");
}

/* Whether the keys of one object, keys[base..nkeys), hold one twice; then
 * they are dropped. Few keys (a chunk's objects have up to ten) compare
 * pairwise; more are sorted by hash first, so a huge object costs
 * n log n, not n * n. */
int jp_keys_check(struct jp *j, size_t base)
{
    struct jp_key *k = j->keys + base;
    size_t n = j->nkeys - base;
    int r = 0;

    if (n <= 12) {
        for (size_t a = 1; r == 0 && a < n; a++)
            for (size_t b = 0; r == 0 && b < a; b++)
                r = jp_dup(j, &k[a], &k[b]);
    } else {
        for (size_t a = 0; a < n; a++)
            k[a].hash = jp_key_hash(j, k[a].at);
        qsort(k, n, sizeof(*k), jp_key_cmp);
        for (size_t a = 1; r == 0 && a < n; a++)
            if (k[a].hash == k[a - 1].hash)
                r = jp_dup(j, &k[a], &k[a - 1]);
    }
    j->nkeys = base;
    return r;
}
