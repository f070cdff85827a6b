/* yamltree.h -- a YAML document as a small tree with line numbers.
 * Owns: turning a file into struct ynode with libyaml (aliases expanded,
 * with a cap on the node count against alias bombs). The config layer reads
 * the tree and reports problems as file:line. */
#ifndef LLMUX_YAML_H
#define LLMUX_YAML_H

#include <stddef.h>

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
    enum ykind     kind;
    int            line;     /* 1-based line where the node starts */
    int            plain;    /* scalar was unquoted (null/true/1 may apply) */
    char          *s;        /* Y_SCALAR: owned value */
    struct ynode **kids;     /* owned. Y_SEQ: items; Y_MAP: key, value, … */
    size_t         n;        /* entries in kids */
};

#define YAML_MAX_NODES 200000

/* Loads the first document of path (or of the n bytes at text when text is
 * not NULL; path then only names it in messages). An empty document gives
 * an empty map. On failure err holds "path:line: what". */
int  ynode_load(const char *path, const char *text, size_t n,
                struct ynode **ret, char *err, size_t errlen);
void ynode_free(struct ynode *y);

/* The value for key in a map, or NULL. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
/* True for a plain scalar spelled as YAML's null (~, null, Null, NULL, ""). */
int ynode_is_null(const struct ynode *y);

#endif
