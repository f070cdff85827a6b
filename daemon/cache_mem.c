/* cache_mem.c -- the memory backend (cache_mem.h): chained hash buckets
 * and a doubly linked LRU list through the same entries. An entry is one
 * allocation (key and value in its tail), so a hit touches one block. */
#include "cache_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cmem_entry {
    struct cmem_entry *hnext;            /* bucket chain */
    struct cmem_entry *prev, *next;      /* LRU */
    uint64_t           hash, stored_ms, expires_ms;
    size_t             klen, vlen;
    char               data[];           /* key, NUL, value, NUL */
};

#define MIN_TAB 64

size_t cache_mem_cost(size_t keylen, size_t vallen)
{
    return sizeof(struct cmem_entry) + keylen + vallen + 2 +
           sizeof(struct cmem_entry *);
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull;    /* FNV-1a */

    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

void cache_mem_init(struct cache_mem *m, size_t max_bytes,
                    size_t max_entries)
{
    memset(m, 0, sizeof(*m));
    m->max_bytes = max_bytes;
    m->max_entries = max_entries;
}

static void lru_unlink(struct cache_mem *m, struct cmem_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        m->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        m->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct cache_mem *m, struct cmem_entry *e)
{
    e->prev = NULL;
    e->next = m->lru_head;
    if (m->lru_head)
        m->lru_head->prev = e;
    m->lru_head = e;
    if (m->lru_tail == NULL)
        m->lru_tail = e;
}

static struct cmem_entry **slot_of(struct cache_mem *m, const char *key,
                                   uint64_t h)
{
    struct cmem_entry **p;

    if (m->ntab == 0)
        return NULL;
    for (p = &m->tab[h & (m->ntab - 1)]; *p; p = &(*p)->hnext)
        if ((*p)->hash == h && strcmp((*p)->data, key) == 0)
            return p;
    return p;
}

static void drop(struct cache_mem *m, struct cmem_entry **slot)
{
    struct cmem_entry *e = *slot;

    *slot = e->hnext;
    lru_unlink(m, e);
    m->n--;
    m->bytes -= cache_mem_cost(e->klen, e->vlen);
    free(e);
}

/* The slot that points at e (its bucket chain). */
static struct cmem_entry **slot_at(struct cache_mem *m, struct cmem_entry *e)
{
    struct cmem_entry **p = &m->tab[e->hash & (m->ntab - 1)];

    while (*p != e)
        p = &(*p)->hnext;
    return p;
}

static void evict_to(struct cache_mem *m, size_t bytes, size_t entries)
{
    while (m->lru_tail && (m->bytes > bytes || m->n > entries)) {
        drop(m, slot_at(m, m->lru_tail));
        m->evictions++;
    }
}

void cache_mem_limits(struct cache_mem *m, size_t max_bytes,
                      size_t max_entries)
{
    m->max_bytes = max_bytes;
    m->max_entries = max_entries;
    evict_to(m, max_bytes, max_entries);
}

int cache_mem_get(struct cache_mem *m, const char *key, uint64_t now_ms,
                  uint64_t min_ms, const char **ret_val, size_t *ret_len)
{
    struct cmem_entry **p = slot_of(m, key, hash_key(key)), *e;

    if (p == NULL || (e = *p) == NULL)
        return 0;
    if (now_ms >= e->expires_ms) {
        drop(m, p);
        m->expired++;
        return 0;
    }
    if (e->stored_ms < min_ms)
        return 0;        /* too old for this caller, fine for others */
    lru_unlink(m, e);
    lru_push(m, e);
    *ret_val = e->data + e->klen + 1;
    *ret_len = e->vlen;
    return 1;
}

/* Doubles the table when it holds more entries than buckets. */
static int grow(struct cache_mem *m)
{
    size_t n = m->ntab ? m->ntab * 2 : MIN_TAB;
    struct cmem_entry **t, *e, *next;

    if (m->ntab && m->n < m->ntab)
        return 0;
    if ((t = calloc(n, sizeof(*t))) == NULL)
        return m->ntab ? 0 : -ENOMEM;   /* a longer chain still works */
    for (size_t i = 0; i < m->ntab; i++)
        for (e = m->tab[i]; e; e = next) {
            next = e->hnext;
            e->hnext = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(m->tab);
    m->tab = t;
    m->ntab = n;
    return 0;
}

int cache_mem_put(struct cache_mem *m, const char *key, const char *val,
                  size_t len, uint64_t now_ms, uint64_t ttl_ms)
{
    size_t klen = strlen(key), cost = cache_mem_cost(klen, len);
    uint64_t h = hash_key(key);
    struct cmem_entry **p, *e;

    if (cost > m->max_bytes || m->max_entries == 0 || ttl_ms == 0)
        return 0;
    if (grow(m) < 0)
        return -ENOMEM;
    if ((p = slot_of(m, key, h)) != NULL && *p)
        drop(m, p);        /* a newer answer replaces the old one */
    evict_to(m, m->max_bytes - cost, m->max_entries - 1);
    if ((e = malloc(sizeof(*e) + klen + len + 2)) == NULL)
        return -ENOMEM;
    e->hash = h;
    e->stored_ms = now_ms;
    e->expires_ms = now_ms + ttl_ms;
    e->klen = klen;
    e->vlen = len;
    memcpy(e->data, key, klen + 1);
    memcpy(e->data + klen + 1, val, len);
    e->data[klen + 1 + len] = '\0';
    p = &m->tab[h & (m->ntab - 1)];
    e->hnext = *p;
    *p = e;
    lru_push(m, e);
    m->n++;
    m->bytes += cost;
    return 1;
}

size_t cache_mem_flush(struct cache_mem *m, const char *prefix)
{
    size_t plen = prefix ? strlen(prefix) : 0, n = 0;

    for (size_t i = 0; i < m->ntab; i++) {
        struct cmem_entry **p = &m->tab[i];

        while (*p)
            if (prefix == NULL || strncmp((*p)->data, prefix, plen) == 0) {
                drop(m, p);
                n++;
            } else
                p = &(*p)->hnext;
    }
    return n;
}

void cache_mem_free(struct cache_mem *m)
{
    cache_mem_flush(m, NULL);
    free(m->tab);
    m->tab = NULL;
    m->ntab = 0;
}
