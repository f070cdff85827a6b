/* yamltree.c -- libyaml events -> struct ynode tree (see yamltree.h). */
#include "yamltree.h"
#include "llmux-errno.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct anchor {
    char         *name;
    struct ynode *node;      /* borrowed: owned by the tree */
};

struct yload {
    yaml_parser_t  parser;
    const char    *path;
    char          *err;
    size_t         errlen;
    size_t         nodes;
    struct anchor *anchors;  /* owned array */
    size_t         nanchors;
};

static struct ynode *ynode_new(struct yload *l, enum ykind k, int line)
{
    struct ynode *y;

    if (++l->nodes > YAML_MAX_NODES) {
        snprintf(l->err, l->errlen, "%s:%d: document too large (over %d "
                 "nodes, alias loop?)", l->path, line, YAML_MAX_NODES);
        return NULL;
    }
    y = calloc(1, sizeof(*y));
    if (y) {
        y->kind = k;
        y->line = line;
    }
    return y;
}

void ynode_free(struct ynode *y)
{
    if (y == NULL)
        return;
    for (size_t i = 0; i < y->n; i++)
        ynode_free(y->kids[i]);
    free(y->kids);
    free(y->s);
    free(y);
}

static int ynode_push(struct ynode *parent, struct ynode *kid)
{
    struct ynode **k = realloc(parent->kids,
                               (parent->n + 1) * sizeof(*k));

    if (k == NULL)
        return -ENOMEM;
    parent->kids = k;
    parent->kids[parent->n++] = kid;
    return 0;
}

static struct ynode *ynode_copy(struct yload *l, const struct ynode *src)
{
    struct ynode *y = ynode_new(l, src->kind, src->line);

    if (y == NULL)
        return NULL;
    y->plain = src->plain;
    if (src->s && (y->s = strdup(src->s)) == NULL)
        goto fail;
    for (size_t i = 0; i < src->n; i++) {
        struct ynode *k = ynode_copy(l, src->kids[i]);

        if (k == NULL || ynode_push(y, k) < 0) {
            ynode_free(k);
            goto fail;
        }
    }
    return y;
fail:
    ynode_free(y);
    return NULL;
}

static int remember_anchor(struct yload *l, const yaml_char_t *name,
                           struct ynode *y)
{
    struct anchor *a;

    if (name == NULL)
        return 0;
    a = realloc(l->anchors, (l->nanchors + 1) * sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    l->anchors = a;
    a[l->nanchors].name = strdup((const char *)name);
    if (a[l->nanchors].name == NULL)
        return -ENOMEM;
    a[l->nanchors++].node = y;
    return 0;
}

static struct ynode *alias_lookup(struct yload *l, const yaml_char_t *name,
                                  int line)
{
    for (size_t i = l->nanchors; i-- > 0;)
        if (strcmp(l->anchors[i].name, (const char *)name) == 0)
            return ynode_copy(l, l->anchors[i].node);
    snprintf(l->err, l->errlen, "%s:%d: unknown alias *%s", l->path, line,
             name);
    return NULL;
}

/* Parses one node whose first event is ev (consumed by the caller). */
static struct ynode *parse_node(struct yload *l, yaml_event_t *ev, int depth)
{
    int line = (int)ev->start_mark.line + 1;
    struct ynode *y = NULL;
    yaml_event_t kid;

    if (depth > 64) {
        snprintf(l->err, l->errlen, "%s:%d: nesting too deep", l->path, line);
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return alias_lookup(l, ev->data.alias.anchor, line);
    case YAML_SCALAR_EVENT:
        if ((y = ynode_new(l, Y_SCALAR, line)) == NULL)
            return NULL;
        y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        y->s = strndup((const char *)ev->data.scalar.value,
                       ev->data.scalar.length);
        if (y->s == NULL ||
            remember_anchor(l, ev->data.scalar.anchor, y) < 0)
            goto nomem;
        return y;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        y = ynode_new(l, ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ,
                      line);
        if (y == NULL)
            return NULL;
        if (remember_anchor(l, ev->type == YAML_MAPPING_START_EVENT ?
                            ev->data.mapping_start.anchor :
                            ev->data.sequence_start.anchor, y) < 0)
            goto nomem;
        for (;;) {
            struct ynode *k;

            if (!yaml_parser_parse(&l->parser, &kid)) {
                snprintf(l->err, l->errlen, "%s:%zu: %s", l->path,
                         l->parser.problem_mark.line + 1,
                         l->parser.problem ? l->parser.problem : "bad YAML");
                ynode_free(y);
                return NULL;
            }
            if (kid.type == YAML_SEQUENCE_END_EVENT ||
                kid.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&kid);
                return y;
            }
            k = parse_node(l, &kid, depth + 1);
            yaml_event_delete(&kid);
            if (k && y->kind == Y_MAP && y->n % 2 == 0 &&
                k->kind != Y_SCALAR) {
                /* "? [a, b]: x" is YAML, but every reader of the tree
                 * takes a key's string (found by fuzz-config). */
                snprintf(l->err, l->errlen, "%s:%d: a mapping key must be "
                         "a plain value, not a %s", l->path, k->line,
                         k->kind == Y_MAP ? "map" : "list");
                ynode_free(k);
                ynode_free(y);
                return NULL;
            }
            if (k == NULL || ynode_push(y, k) < 0) {
                ynode_free(k);
                ynode_free(y);
                return NULL;
            }
        }
    default:
        snprintf(l->err, l->errlen, "%s:%d: unexpected YAML event", l->path,
                 line);
        return NULL;
    }
nomem:
    snprintf(l->err, l->errlen, "%s:%d: out of memory", l->path, line);
    ynode_free(y);
    return NULL;
}

static int next_event(struct yload *l, yaml_event_t *ev)
{
    if (yaml_parser_parse(&l->parser, ev))
        return 0;
    snprintf(l->err, l->errlen, "%s:%zu: %s%s%s", l->path,
             l->parser.problem_mark.line + 1,
             l->parser.problem ? l->parser.problem : "invalid YAML",
             l->parser.context ? " " : "",
             l->parser.context ? l->parser.context : "");
    return LLMUX_EBADREQ;
}

int ynode_load(const char *path, const char *text, size_t n,
               struct ynode **ret, char *err, size_t errlen)
{
    struct yload l = { .path = path, .err = err, .errlen = errlen };
    struct ynode *root = NULL;
    yaml_event_t ev;
    FILE *f = NULL;
    int r = LLMUX_EBADREQ;

    *ret = NULL;
    if (text == NULL && (f = fopen(path, "rb")) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    yaml_parser_initialize(&l.parser);
    if (f)
        yaml_parser_set_input_file(&l.parser, f);
    else
        yaml_parser_set_input_string(&l.parser, (const unsigned char *)text,
                                     n);
    /* stream start, then document start or stream end */
    for (;;) {
        if (next_event(&l, &ev) < 0)
            goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            root = ynode_new(&l, Y_MAP, 1);
            r = root ? 0 : -ENOMEM;
            goto out;
        }
        if (ev.type != YAML_STREAM_START_EVENT &&
            ev.type != YAML_DOCUMENT_START_EVENT)
            break;
        yaml_event_delete(&ev);
    }
    root = parse_node(&l, &ev, 0);
    yaml_event_delete(&ev);
    if (root == NULL)
        goto out;
    if (root->kind == Y_SCALAR && root->plain && ynode_is_null(root)) {
        ynode_free(root);
        root = ynode_new(&l, Y_MAP, 1);
    }
    r = root ? 0 : -ENOMEM;
out:
    yaml_parser_delete(&l.parser);
    if (f)
        fclose(f);
    for (size_t i = 0; i < l.nanchors; i++)
        free(l.anchors[i].name);
    free(l.anchors);
    if (r < 0) {
        ynode_free(root);
        return r;
    }
    *ret = root;
    return 0;
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
    if (map == NULL || map->kind != Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (map->kids[i]->kind == Y_SCALAR &&
            strcmp(map->kids[i]->s, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

int ynode_is_null(const struct ynode *y)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

    if (y->kind != Y_SCALAR || !y->plain)
        return 0;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(y->s, nulls[i]) == 0)
            return 1;
    return 0;
}
