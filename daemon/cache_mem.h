/* cache_mem.h -- the response cache's memory backend.
 * Owns: entries (key, value bytes, when stored, when they expire) in a
 * hash table with an LRU list, bounded by bytes and by entries: a store
 * past either bound evicts the least recently used. Expired entries go
 * when met. Knows nothing of requests; time comes from the caller. */
#ifndef LLMUX_CACHE_MEM_H
#define LLMUX_CACHE_MEM_H

#include <stddef.h>
#include <stdint.h>

struct cmem_entry;

struct cache_mem {
    struct cmem_entry **tab;      /* owned: buckets, ntab a power of 2 */
    size_t              ntab;
    struct cmem_entry  *lru_head, *lru_tail; /* head: most recent */
    size_t              n, bytes; /* entries, bytes they take */
    size_t              max_bytes, max_entries;
    uint64_t            evictions, expired;
};

void cache_mem_init(struct cache_mem *m, size_t max_bytes,
                    size_t max_entries);
void cache_mem_free(struct cache_mem *m);
/* New bounds (a reload): evicts what no longer fits. */
void cache_mem_limits(struct cache_mem *m, size_t max_bytes,
                      size_t max_entries);
/* The value stored under key, if it has not expired at now_ms and was
 * stored no earlier than min_ms (s-maxage; 0: any). 1 with *ret_val
 * borrowed until the next call that changes m, or 0. */
int  cache_mem_get(struct cache_mem *m, const char *key, uint64_t now_ms,
                   uint64_t min_ms, const char **ret_val, size_t *ret_len);
/* Stores a copy of val for ttl_ms: 1, 0 when it can never fit (not
 * stored), or -ENOMEM. */
int  cache_mem_put(struct cache_mem *m, const char *key, const char *val,
                   size_t len, uint64_t now_ms, uint64_t ttl_ms);
/* Drops every entry whose key starts with prefix (NULL: all); returns how
 * many. */
size_t cache_mem_flush(struct cache_mem *m, const char *prefix);
/* What one entry of these sizes takes against max_bytes. */
size_t cache_mem_cost(size_t keylen, size_t vallen);

#endif
