/* yaml11.h -- what a plain YAML scalar means, as PyYAML (YAML 1.1) reads it.
 * Owns: the implicit types LiteLLM's loader resolves (null, the 1.1
 * booleans yes/no/on/off, ints with '_', 0b, 0x, 0-octal and base 60,
 * floats with '.', .inf, .nan), so a config reads as LiteLLM reads it.
 * Quoted scalars are always strings; timestamps stay strings here. */
#ifndef LLMUX_YAML11_H
#define LLMUX_YAML11_H

struct ynode;

enum y11type { Y11_STR, Y11_NULL, Y11_BOOL, Y11_INT, Y11_FLOAT };

struct y11val {
    enum y11type type;
    int          b;      /* Y11_BOOL */
    long long    i;      /* Y11_INT (values past long long read as float) */
    double       d;      /* Y11_FLOAT, and Y11_INT as a double */
};

/* The type and value of a scalar node (a non-scalar is Y11_STR). */
void yaml11_resolve(const struct ynode *y, struct y11val *ret);
/* The same for the text of a plain scalar. */
void yaml11_resolve_text(const char *s, struct y11val *ret);

#endif
