/* prices.c -- LiteLLM's price table, parsed once into an immutable
 * open-addressing hash table (see prices.h). */
#include "prices.h"
#include "llmux-errno.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LLMUX_PRICES_SHARE
#define LLMUX_PRICES_SHARE "/usr/local/share/llmux/prices.json"
#endif
#ifndef LLMUX_PRICES_TREE
#define LLMUX_PRICES_TREE "etc/prices.json"
#endif

/* ---- struct price ------------------------------------------------------- */

static const struct { const char *name; size_t off; } fields[PRICE_NFIELDS] = {
    { "input_cost_per_token", offsetof(struct price, input) },
    { "output_cost_per_token", offsetof(struct price, output) },
    { "cache_read_input_token_cost", offsetof(struct price, cache_read) },
    { "cache_creation_input_token_cost",
      offsetof(struct price, cache_creation) },
    { "output_cost_per_reasoning_token", offsetof(struct price, reasoning) },
    { "input_cost_per_token_above_200k_tokens",
      offsetof(struct price, input_200k) },
    { "output_cost_per_token_above_200k_tokens",
      offsetof(struct price, output_200k) },
    { "cache_read_input_token_cost_above_200k_tokens",
      offsetof(struct price, cache_read_200k) },
    { "cache_creation_input_token_cost_above_200k_tokens",
      offsetof(struct price, cache_creation_200k) },
};

const char *price_field_name(size_t i)
{
    return i < PRICE_NFIELDS ? fields[i].name : NULL;
}

double *price_field(struct price *p, size_t i)
{
    return (double *)((char *)p + fields[i].off);
}

int price_field_index(const char *k)
{
    for (size_t i = 0; i < PRICE_NFIELDS; i++)
        if (strcmp(fields[i].name, k) == 0)
            return (int)i;
    return -1;
}

void price_unset(struct price *p)
{
    for (size_t i = 0; i < PRICE_NFIELDS; i++)
        *price_field(p, i) = -1;
}

void price_merge(struct price *p, const struct price *over)
{
    for (size_t i = 0; i < PRICE_NFIELDS; i++) {
        double v = *price_field((struct price *)over, i);

        if (v >= 0)
            *price_field(p, i) = v;
    }
}

int price_known(const struct price *p)
{
    for (size_t i = 0; i < PRICE_NFIELDS; i++)
        if (*price_field((struct price *)p, i) >= 0)
            return 1;
    return 0;
}

void price_from_json(struct price *p, const json_t *o)
{
    for (size_t i = 0; i < PRICE_NFIELDS; i++) {
        json_t *v = json_object_get(o, fields[i].name);
        double d = json_number_value(v);

        /* A number >= 0 and finite; anything else is not a price. */
        if (json_is_number(v) && d >= 0 && d - d == 0)
            *price_field(p, i) = d;
    }
}

/* ---- the table ---------------------------------------------------------- */

struct prices {
    atomic_uint      refs;
    char            *path;      /* owned */
    off_t            size;      /* of the file when read, for reloads */
    struct timespec  mtime;
    struct price_row *rows;     /* owned, nrows */
    size_t           nrows;
    uint32_t        *slots;     /* owned: row index + 1, 0 = empty;
                                 * nslots is a power of two >= 2 nrows */
    size_t           nslots;
    char            *arena;     /* owned: every row's strings */
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;        /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

const struct price_row *prices_find(const struct prices *t, const char *name,
                                    size_t len)
{
    size_t mask, i;

    if (t == NULL || t->nrows == 0)
        return NULL;
    mask = t->nslots - 1;
    for (i = hash(name, len) & mask; t->slots[i]; i = (i + 1) & mask) {
        const struct price_row *r = &t->rows[t->slots[i] - 1];

        if (strncmp(r->name, name, len) == 0 && r->name[len] == '\0')
            return r;
    }
    return NULL;
}

static void insert(struct prices *t, size_t row)
{
    const char *name = t->rows[row].name;
    size_t mask = t->nslots - 1, i;

    for (i = hash(name, strlen(name)) & mask; t->slots[i]; i = (i + 1) & mask)
        if (strcmp(t->rows[t->slots[i] - 1].name, name) == 0)
            return;       /* the first of duplicate names wins */
    t->slots[i] = (uint32_t)row + 1;
}

/* Copies s into the arena at *off. */
static const char *keep(struct prices *t, size_t *off, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = t->arena + *off;

    memcpy(p, s, n);
    *off += n;
    return p;
}

static unsigned tokens(const json_t *o, const char *k)
{
    double d = json_number_value(json_object_get(o, k));

    return d >= 1 && d < 4e9 ? (unsigned)d : 0;
}

static const char *str_or_empty(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

/* Sizes the table for root's rows and fills it. */
static int build(struct prices *t, json_t *root)
{
    const char *k;
    json_t *v;
    size_t bytes = 0, off = 0, n = 0;

    json_object_foreach(root, k, v)
        if (k[0] != '_' && json_is_object(v)) {
            n++;
            bytes += strlen(k) + strlen(str_or_empty(v, "litellm_provider")) +
                     strlen(str_or_empty(v, "mode")) + 3;
        }
    if (n > UINT32_MAX / 4)
        return LLMUX_ETOOBIG;
    for (t->nslots = 16; t->nslots < 2 * n; t->nslots *= 2)
        ;
    t->rows = calloc(n ? n : 1, sizeof(*t->rows));
    t->slots = calloc(t->nslots, sizeof(*t->slots));
    t->arena = malloc(bytes ? bytes : 1);
    if (t->rows == NULL || t->slots == NULL || t->arena == NULL)
        return -ENOMEM;
    json_object_foreach(root, k, v) {
        struct price_row *r;

        if (k[0] == '_' || !json_is_object(v))
            continue;
        r = &t->rows[t->nrows];
        r->name = keep(t, &off, k);
        r->provider = keep(t, &off, str_or_empty(v, "litellm_provider"));
        r->mode = keep(t, &off, str_or_empty(v, "mode"));
        r->max_input = tokens(v, "max_input_tokens");
        r->max_output = tokens(v, "max_output_tokens");
        price_unset(&r->p);
        price_from_json(&r->p, v);
        insert(t, t->nrows++);
    }
    return 0;
}

int prices_parse(const char *name, const char *text, size_t n,
                 struct prices **ret, char *err, size_t errlen)
{
    struct prices *t;
    json_error_t je;
    json_t *root;
    int r;

    *ret = NULL;
    root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL || !json_is_object(root)) {
        if (root)
            snprintf(err, errlen, "%s: not a JSON object of model names",
                     name);
        else
            snprintf(err, errlen, "%s:%d: not JSON: %s", name, je.line,
                     je.text);
        json_decref(root);
        return LLMUX_EBADREQ;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->path = strdup(name)) == NULL) {
        free(t);
        json_decref(root);
        snprintf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    atomic_init(&t->refs, 1);
    r = build(t, root);
    json_decref(root);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", name, r == -ENOMEM ?
                 "out of memory" : "too many rows");
        prices_unref(t);
        return r;
    }
    *ret = t;
    return 0;
}

/* The whole file, at most PRICES_MAX_BYTES, into *ret (malloc'd). */
static int read_all(const char *path, int fd, struct stat *st, char **ret,
                    char *err, size_t errlen)
{
    size_t got = 0;
    char *p;

    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return LLMUX_EBADREQ;
    }
    if ((uintmax_t)st->st_size > PRICES_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %u MiB", path,
                 PRICES_MAX_BYTES >> 20);
        return LLMUX_ETOOBIG;
    }
    if ((p = malloc((size_t)st->st_size + 1)) == NULL)
        return -ENOMEM;
    while (got < (size_t)st->st_size) {
        ssize_t n = read(fd, p + got, (size_t)st->st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) :
                     "shorter than its size");
            free(p);
            return n < 0 ? -errno : LLMUX_EBADREQ;
        }
        got += (size_t)n;
    }
    *ret = p;
    return (int)0;
}

int prices_load(const char *path, struct prices **ret, char *err,
                size_t errlen)
{
    struct stat st;
    char *text = NULL;
    int fd, r;

    *ret = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return r;
    }
    r = read_all(path, fd, &st, &text, err, errlen);
    close(fd);
    if (r == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    if (r < 0)
        return r;
    r = prices_parse(path, text, (size_t)st.st_size, ret, err, errlen);
    free(text);
    if (r == 0) {
        (*ret)->size = st.st_size;
        (*ret)->mtime = st.st_mtim;
    }
    return r;
}

struct prices *prices_ref(struct prices *t)
{
    atomic_fetch_add(&t->refs, 1);
    return t;
}

void prices_unref(struct prices *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    free(t->path);
    free(t->rows);
    free(t->slots);
    free(t->arena);
    free(t);
}

size_t prices_count(const struct prices *t)
{
    return t ? t->nrows : 0;
}

const char *prices_path(const struct prices *t)
{
    return t ? t->path : NULL;
}

int prices_same_file(const struct prices *t, const char *path)
{
    struct stat st;

    return t && strcmp(t->path, path) == 0 && stat(path, &st) == 0 &&
           st.st_size == t->size && st.st_mtim.tv_sec == t->mtime.tv_sec &&
           st.st_mtim.tv_nsec == t->mtime.tv_nsec;
}

const char *prices_default_path(void)
{
    return access(LLMUX_PRICES_SHARE, F_OK) == 0 ? LLMUX_PRICES_SHARE :
           LLMUX_PRICES_TREE;
}
