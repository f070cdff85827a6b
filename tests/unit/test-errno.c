/* test-errno.c -- the wire values of the error table, pinned.
 * Owns: a hand-written copy of PROTOCOL.md's "Errors" table (never
 * generated from LLMUX_ERRNO_MAP) checked against llmux-errno.h, proto.c
 * and libllmux, and PROTOCOL.md's table itself parsed and checked. */
#include "test.h"
#include "proto.h"
#include "llmux.h"
#include "llmux-errno.h"

/* Written out by hand from protocol/PROTOCOL.md, section "Errors". These
 * numbers and names travel in error frames and exit statuses: a change
 * here is a protocol change (LLMUX_PROTO_VERSION), not a refactoring. */
static const struct wire_err {
    int         enum_value;     /* the LLMUX_E* constant, by its name */
    int         code;           /* the literal number */
    const char *name;
    const char *type;
    int         status;
    int         exit;
} wire[] = {
    { LLMUX_EBADREQ,     -1001, "EBADREQ",     "bad_request",             400,  3 },
    { LLMUX_EAUTH,       -1002, "EAUTH",       "authentication",          401,  4 },
    { LLMUX_EPERMISSION, -1003, "EPERMISSION", "permission_denied",       403,  5 },
    { LLMUX_ENOTFOUND,   -1004, "ENOTFOUND",   "not_found",               404,  6 },
    { LLMUX_ECONTEXT,    -1005, "ECONTEXT",    "context_window_exceeded", 400,  7 },
    { LLMUX_EPOLICY,     -1006, "EPOLICY",     "content_policy",          400,  8 },
    { LLMUX_ERATELIMIT,  -1007, "ERATELIMIT",  "rate_limit",              429,  9 },
    { LLMUX_ETIMEOUT,    -1008, "ETIMEOUT",    "timeout",                 408, 10 },
    { LLMUX_EUNAVAIL,    -1009, "EUNAVAIL",    "upstream_unavailable",    503, 11 },
    { LLMUX_ECONN,       -1010, "ECONN",       "api_connection",          502, 12 },
    { LLMUX_EBUDGET,     -1011, "EBUDGET",     "budget_exceeded",         400, 13 },
    { LLMUX_ECANCELLED,  -1012, "ECANCELLED",  "cancelled",               499, 14 },
    { LLMUX_EINTERNAL,   -1013, "EINTERNAL",   "internal",                500, 15 },
    { LLMUX_EPROTO,      -1014, "EPROTO",      "bad_request",             400,  3 },
    { LLMUX_EVERSION,    -1015, "EVERSION",    "bad_request",             400,  3 },
    { LLMUX_ETOOBIG,     -1016, "ETOOBIG",     "bad_request",             413,  3 },
    { LLMUX_ECLOSED,     -1017, "ECLOSED",     "api_connection",          502, 12 },
};
#define NWIRE (sizeof(wire) / sizeof(wire[0]))

/* The header's rows, only to count them and to look codes up: the values
 * themselves are checked against the hand-written table above. */
static const struct hdr_err {
    int code;
    const char *name, *type;
    int status, exit;
} hdr[] = {
#define HDR_ROW(name, code, type, status, exit, msg) \
    { code, #name, type, status, exit },
    LLMUX_ERRNO_MAP(HDR_ROW)
#undef HDR_ROW
};
#define NHDR (sizeof(hdr) / sizeof(hdr[0]))

static const struct wire_err *wire_find(int code)
{
    for (size_t i = 0; i < NWIRE; i++)
        if (wire[i].code == code)
            return &wire[i];
    return NULL;
}

TEST(errno_wire_values_are_pinned)
{
    for (size_t i = 0; i < NWIRE; i++) {
        const struct wire_err *w = &wire[i];

        if (w->enum_value != w->code)
            fprintf(stderr, "  LLMUX_%s is %d, the protocol says %d\n",
                    w->name, w->enum_value, w->code);
        ASSERT_EQ(w->enum_value, w->code);
        ASSERT_STR_EQ(proto_err_name(w->code), w->name);
        ASSERT_STR_EQ(proto_err_type(w->code), w->type);
        ASSERT_EQ(proto_err_status(w->code), w->status);
        ASSERT_EQ(proto_err_exit(w->code), w->exit);
        /* libllmux's view, which applications and `llmux` use */
        ASSERT_STR_EQ(llmux_err_name(w->code), w->name);
        ASSERT_STR_EQ(llmux_err_type(w->code), w->type);
        ASSERT_EQ(llmux_err_exit_code(w->code), w->exit);
    }
}

/* A code added to the header without a hand-written row here (and in
 * PROTOCOL.md) fails, as does a row whose code the header lost. */
TEST(errno_header_has_exactly_the_pinned_codes)
{
    ASSERT_EQ(NHDR, NWIRE);
    for (size_t i = 0; i < NHDR; i++) {
        const struct wire_err *w = wire_find(hdr[i].code);

        if (w == NULL)
            fprintf(stderr, "  %s (%d) is not pinned in test-errno.c\n",
                    hdr[i].name, hdr[i].code);
        ASSERT(w != NULL);
        ASSERT_STR_EQ(hdr[i].name, w->name);
    }
}

/* ---- PROTOCOL.md ---------------------------------------------------------- */

/* Copies the text between the first pair of backticks of cell into out. */
static int backticked(const char *cell, size_t len, char *out, size_t outlen)
{
    const char *a = memchr(cell, '`', len), *b;

    if (a == NULL)
        return -1;
    b = memchr(a + 1, '`', len - (size_t)(a + 1 - cell));
    if (b == NULL || (size_t)(b - a - 1) >= outlen)
        return -1;
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = '\0';
    return 0;
}

struct md_row {
    char name[32], type[64];
    long code, status, exit;
};

/* One table line "| `EBADREQ` | -1001 | `bad_request` | 400 | 3 |":
 * 0 and *row filled, or -1 for any other line. */
static int md_parse_row(const char *line, size_t len, struct md_row *row)
{
    const char *cell[6];
    size_t n = 0;
    char *end;

    for (size_t i = 0; i < len && n < 6; i++)
        if (line[i] == '|')
            cell[n++] = line + i + 1;
    if (n != 6 || line[0] != '|')
        return -1;
    if (backticked(cell[0], (size_t)(cell[1] - cell[0]), row->name,
                   sizeof(row->name)) < 0 ||
        backticked(cell[2], (size_t)(cell[3] - cell[2]), row->type,
                   sizeof(row->type)) < 0)
        return -1;
    row->code = strtol(cell[1], &end, 10);
    if (end == cell[1])
        return -1;
    row->status = strtol(cell[3], &end, 10);
    if (end == cell[3])
        return -1;
    row->exit = strtol(cell[4], &end, 10);
    return end == cell[4] ? -1 : 0;
}

/* 0 when a PROTOCOL.md row agrees with the header (through proto.c) and
 * with the pinned table; else says what differs and returns 1. */
static int md_row_bad(const struct md_row *r)
{
    const struct wire_err *w = wire_find((int)r->code);
    int code = (int)r->code;

    if (w != NULL && strcmp(w->name, r->name) == 0 &&
        strcmp(w->type, r->type) == 0 && w->status == r->status &&
        w->exit == r->exit && strcmp(proto_err_name(code), r->name) == 0 &&
        strcmp(proto_err_type(code), r->type) == 0 &&
        proto_err_status(code) == r->status &&
        proto_err_exit(code) == r->exit)
        return 0;
    fprintf(stderr, "  PROTOCOL.md row %s %ld %s %ld %ld disagrees with "
            "llmux-errno.h (%s %s %d %d)\n", r->name, r->code, r->type,
            r->status, r->exit, proto_err_name(code), proto_err_type(code),
            proto_err_status(code), proto_err_exit(code));
    return 1;
}

/* The rows of the table under "## Errors" of PROTOCOL.md. The test runs
 * from the source root (tests/run.py and `make test` do; so does
 * `build/unit-tests NAME` from the worktree). */
TEST(errno_protocol_md_table_matches_the_header)
{
    size_t len = 0, rows = 0, bad = 0;
    int seen[NWIRE] = { 0 };
    char *md = test_read_file("protocol/PROTOCOL.md", &len);
    const char *p, *stop;

    if (md == NULL)
        fprintf(stderr, "  cannot read protocol/PROTOCOL.md: run from the "
                "source root\n");
    ASSERT(md != NULL);
    p = strstr(md, "\n## Errors\n");
    stop = p ? strstr(p + 1, "\n## ") : NULL;
    if (stop == NULL)
        stop = md + len;
    while (p != NULL && p < stop) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(stop - line));
        struct md_row r;

        if (eol == NULL)
            eol = stop;
        p = eol;
        if (md_parse_row(line, (size_t)(eol - line), &r) < 0)
            continue;
        rows++;
        bad += (size_t)md_row_bad(&r);
        for (size_t i = 0; i < NWIRE; i++)
            seen[i] += wire[i].code == r.code;
    }
    free(md);
    ASSERT_EQ(bad, 0);
    /* every code is documented, once */
    ASSERT_EQ(rows, NHDR);
    for (size_t i = 0; i < NWIRE; i++) {
        if (seen[i] != 1)
            fprintf(stderr, "  %s is in PROTOCOL.md %d times\n",
                    wire[i].name, seen[i]);
        ASSERT_EQ(seen[i], 1);
    }
}
