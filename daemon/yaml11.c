/* yaml11.c -- PyYAML's implicit resolvers for plain scalars (see
 * yaml11.h): the patterns of its resolver.py and the conversions of its
 * constructor.py, written out by hand (no regex engine needed for five
 * patterns). */
#include "yaml11.h"
#include "yamltree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int in_set(const char *s, const char *const *set)
{
    for (size_t i = 0; set[i]; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

static int is_digit_(int c, int base)
{
    if (c == '_')
        return 1;
    if (base == 16)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
    return c >= '0' && c < '0' + base;
}

/* True when s is one or more of [digits_] in base. */
static int all_digits(const char *s, int base)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!is_digit_((unsigned char)*s, base))
            return 0;
    return 1;
}

/* ":" [0-5]?[0-9], one or more times, to the end (or to a '.' when
 * dot_ok): the base-60 tail. */
static const char *sexa_tail(const char *s, int dot_ok)
{
    int groups = 0;

    while (*s == ':') {
        s++;
        if (s[0] >= '0' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9')
            s += 2;
        else if (s[0] >= '0' && s[0] <= '9')
            s += 1;
        else
            return NULL;
        groups++;
    }
    if (groups == 0 || (*s != '\0' && !(dot_ok && *s == '.')))
        return NULL;
    return s;
}

/* [0-9][0-9_]*: the end of the run, or NULL when s starts otherwise. */
static const char *dec_run(const char *s, int first_nonzero)
{
    if (!(*s >= (first_nonzero ? '1' : '0') && *s <= '9'))
        return NULL;
    for (s++; (*s >= '0' && *s <= '9') || *s == '_'; s++)
        ;
    return s;
}

/* Copies s without '_' into out (n bytes); 0, or -1 when too long. */
static int strip_(const char *s, char *out, size_t n)
{
    size_t j = 0;

    for (; *s; s++)
        if (*s != '_') {
            if (j + 1 >= n)
                return -1;
            out[j++] = *s;
        }
    out[j] = '\0';
    return 0;
}

/* "a:b:c" (already without '_') in base 60, as PyYAML's constructor. */
static double base60(const char *s)
{
    double v = 0;

    while (*s) {
        char *end;
        double part = strtod(s, &end);

        v = v * 60 + part;
        s = *end == ':' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return v;
}

static int match_int(const char *s)
{
    const char *e;

    if (*s == '-' || *s == '+')
        s++;
    if (s[0] == '0' && s[1] == 'b')
        return all_digits(s + 2, 2);
    if (s[0] == '0' && s[1] == 'x')
        return all_digits(s + 2, 16);
    if (s[0] == '0')
        return s[1] == '\0' || all_digits(s + 1, 8);
    if ((e = dec_run(s, 1)) == NULL)
        return 0;
    return *e == '\0' || sexa_tail(e, 0) != NULL;
}

/* ([eE][-+][0-9]+)? to the end. */
static int exp_tail(const char *s)
{
    if (*s == '\0')
        return 1;
    if ((*s != 'e' && *s != 'E') || (s[1] != '-' && s[1] != '+') ||
        !(s[2] >= '0' && s[2] <= '9'))
        return 0;
    for (s += 3; *s >= '0' && *s <= '9'; s++)
        ;
    return *s == '\0';
}

static int match_float(const char *s)
{
    static const char *const inf[] = { ".inf", ".Inf", ".INF", NULL };
    static const char *const nan[] = { ".nan", ".NaN", ".NAN", NULL };
    const char *e;

    if (in_set(s, nan))
        return 1;
    if (*s == '.' && s[1] >= '0' && s[1] <= '9') {   /* no sign here */
        for (s++; (*s >= '0' && *s <= '9') || *s == '_'; s++)
            ;
        return exp_tail(s);
    }
    if (*s == '-' || *s == '+')
        s++;
    if (in_set(s, inf))
        return 1;
    if ((e = dec_run(s, 0)) == NULL)
        return 0;
    if (*e == ':') {
        if ((e = sexa_tail(e, 1)) == NULL || *e != '.')
            return 0;
        for (e++; (*e >= '0' && *e <= '9') || *e == '_'; e++)
            ;
        return *e == '\0';
    }
    if (*e != '.')
        return 0;
    for (e++; (*e >= '0' && *e <= '9') || *e == '_'; e++)
        ;
    return exp_tail(e);
}

static void to_int(const char *s, struct y11val *v)
{
    char t[128], *p = t;
    int neg = 0, base = 10;
    unsigned long long u;
    char *end;

    v->type = Y11_STR;
    if (strip_(s, t, sizeof(t)) < 0)
        return;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strchr(p, ':')) {
        v->type = Y11_INT;     /* "1:30" is 90 */
        v->d = (neg ? -1 : 1) * base60(p);
        v->i = (long long)v->d;
        return;
    }
    if (p[0] == '0' && p[1] == 'b')
        base = 2, p += 2;
    else if (p[0] == '0' && p[1] == 'x')
        base = 16, p += 2;
    else if (p[0] == '0' && p[1] != '\0')
        base = 8, p += 1;
    if (*p == '\0')
        return;                 /* "0b_": PyYAML itself fails on it */
    errno = 0;
    u = strtoull(p, &end, base);
    if (*end != '\0')
        return;
    v->type = Y11_INT;
    if (errno || u > (unsigned long long)9223372036854775807LL) {
        v->type = Y11_FLOAT;   /* Python's ints are unbounded */
        v->d = (neg ? -1 : 1) * strtod(p, NULL);
        return;
    }
    v->i = neg ? -(long long)u : (long long)u;
    v->d = (double)v->i;
}

static void to_float(const char *s, struct y11val *v)
{
    char t[128], *p = t;
    int neg = 0;

    v->type = Y11_STR;
    if (strip_(s, t, sizeof(t)) < 0)
        return;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    v->type = Y11_FLOAT;
    if (strcasecmp(p, ".inf") == 0)
        v->d = neg ? -INFINITY : INFINITY;
    else if (strcasecmp(p, ".nan") == 0)
        v->d = NAN;
    else if (strchr(p, ':'))
        v->d = (neg ? -1 : 1) * base60(p);
    else
        v->d = (neg ? -1 : 1) * strtod(p, NULL);
}

void yaml11_resolve_text(const char *s, struct y11val *v)
{
    static const char *const yes[] = { "yes", "Yes", "YES", "true", "True",
                                       "TRUE", "on", "On", "ON", NULL };
    static const char *const no[] = { "no", "No", "NO", "false", "False",
                                      "FALSE", "off", "Off", "OFF", NULL };
    static const char *const nul[] = { "", "~", "null", "Null", "NULL",
                                       NULL };

    memset(v, 0, sizeof(*v));
    v->type = Y11_STR;
    if (in_set(s, nul))
        v->type = Y11_NULL;
    else if (in_set(s, yes) || in_set(s, no)) {
        v->type = Y11_BOOL;
        v->b = in_set(s, yes);
    } else if (match_float(s))   /* PyYAML tries float before int */
        to_float(s, v);
    else if (match_int(s))
        to_int(s, v);
}

void yaml11_resolve(const struct ynode *y, struct y11val *v)
{
    memset(v, 0, sizeof(*v));
    v->type = Y11_STR;
    if (y->kind == Y_SCALAR && y->plain)
        yaml11_resolve_text(y->s, v);
}
