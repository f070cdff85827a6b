/* cliio.c -- the helpers every llmux command uses: stdout written piece
 * by piece (EPIPE ends quietly), usage errors and error reports with their
 * exit codes, reading input files and stdin, connecting, and JSON answers
 * read back (jdoc) or printed indented (see cli.h). */
#include "cli.h"
#include "llmux.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

struct out out;

/* Writes n bytes (and flushes, for streamed pieces). Returns 0, or -1
 * once any write failed: callers then stop and cancel. */
int out_write(const char *p, size_t n, int flush)
{
    if (out.err)
        return -1;
    if ((n && fwrite(p, 1, n, stdout) != n) || (flush && fflush(stdout))) {
        out.err = errno ? errno : EIO;
        return -1;
    }
    if (n) {
        out.wrote = 1;
        out.last = (unsigned char)p[n - 1];
    }
    return 0;
}

void out_puts(const char *s)
{
    out_write(s, strlen(s), 0);
}

/* Ends a line begun by streamed text. */
void out_end_line(void)
{
    if (out.wrote && out.last != '\n')
        out_write("\n", 1, 0);
}

/* The exit code once stdout is flushed: a write error that is not EPIPE
 * is reported; EPIPE (the reader went away) ends quietly. */
int out_finish(int code)
{
    errno = 0;
    if (!out.err && (fflush(stdout) != 0 || ferror(stdout)))
        out.err = errno ? errno : EIO;
    if (out.err == EPIPE)
        return code ? code : EXIT_SIGPIPE;
    if (out.err) {
        fprintf(stderr, "llmux: cannot write to stdout: %s\n",
                strerror(out.err));
        return code ? code : 1;
    }
    return code;
}

/* ---- errors and usage ------------------------------------------------- */

/* A usage error: one line saying what, a pointer to --help, exit 2. */
int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("llmux: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'llmux --help'.\n", stderr);
    return EXIT_USAGE;
}

/* After getopt returned '?' (opterr is 0: the message is ours). */
int bad_option(const char *cmd, char **argv)
{
    if (optopt)
        return usage_error("%s%s-%c: unknown option or missing argument",
                           cmd, cmd[0] ? ": " : "", optopt);
    return usage_error("%s%s%s: unknown option or missing argument", cmd,
                       cmd[0] ? ": " : "", argv[optind - 1]);
}

/* report with msg (n bytes) for err->message. */
static int report_msg(int code, const llmux_error_t *err, const char *msg,
                      size_t n)
{
    if (code == -EINTR && interrupted)
        return EXIT_SIGINT;
    if (err && err->code == code && n > 0) {
        fprintf(stderr, "llmux: %s: %.*s", llmux_err_name(code), (int)n, msg);
        /* A status means the daemon sent it: say where it came from. */
        if (err->status > 0) {
            fprintf(stderr, " (%s", err->type);
            if (err->provider[0])
                fprintf(stderr, ", provider %s", err->provider);
            if (err->deployment[0])
                fprintf(stderr, ", deployment %s", err->deployment);
            fputc(')', stderr);
        }
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "llmux: %s: %s\n", llmux_err_name(code),
                llmux_strerror(code));
    }
    return llmux_err_exit_code(code);
}

/* Prints "llmux: NAME: message (type, provider P, deployment D)" and
 * returns the exit code for code. */
int report(int code, const llmux_error_t *err)
{
    return report_msg(code, err, err ? err->message : "",
                      err ? strlen(err->message) : 0);
}

int report_answer(int code, const llmux_error_t *err, const char *json)
{
    const msgpack_object *e;
    const char *m;
    struct jdoc d;
    size_t n;
    char why[64];
    int r;

    if (json == NULL || jdoc_parse(&d, json, strlen(json), why,
                                   sizeof(why)) != 0)
        return report(code, err);
    e = d.up.data.type == MSGPACK_OBJECT_MAP ?
        proto_get(&d.up.data, "error") : NULL;
    if (e && e->type == MSGPACK_OBJECT_MAP &&
        proto_get_str(e, "message", &m, &n) == 0 && n > 0 &&
        memchr(m, '\0', n) == NULL)
        r = report_msg(code, err, m, n);
    else
        r = report(code, err);
    jdoc_free(&d);
    return r;
}

/* ---- input ------------------------------------------------------------ */

/* Reads all of fd into b (capped). Returns 0, -EINTR on Ctrl-C,
 * LLMUX_ETOOBIG or -errno. */
static int read_all(int fd, struct buf *b)
{
    char tmp[65536];

    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        int r;

        if (n < 0 && errno == EINTR) {
            if (interrupted)
                return -EINTR;
            continue;
        }
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if ((r = buf_add(b, tmp, (size_t)n)) < 0)
            return r;
    }
}

/* Reads path ("-" is stdin) into b; prints why not. Returns 0 or an exit
 * code. */
int read_input(const char *path, struct buf *b, const char *what)
{
    int fd = 0, r;

    if (strcmp(path, "-") != 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "llmux: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    r = read_all(fd, b);
    if (fd > 0)
        close(fd);
    if (r == -EINTR)
        return EXIT_SIGINT;
    if (r == LLMUX_ETOOBIG) {
        fprintf(stderr, "llmux: %s: %s is larger than %u bytes\n",
                llmux_err_name(r), what, LLMUX_MAX_FRAME);
        return llmux_err_exit_code(r);
    }
    if (r < 0) {
        fprintf(stderr, "llmux: cannot read %s: %s\n",
                strcmp(path, "-") ? path : "stdin", strerror(-r));
        return 1;
    }
    return 0;
}

/* Parses json into d (always jdoc_free it, even after a failure). The
 * answers come from libllmux as JSON, so the same converter that made
 * them (proto_json_pack) reads them back. */
int jdoc_parse(struct jdoc *d, const char *json, size_t len,
                      char *why, size_t whylen)
{
    msgpack_packer pk;
    size_t off = 0;
    int r;

    msgpack_sbuffer_init(&d->sb);
    msgpack_unpacked_init(&d->up);
    msgpack_packer_init(&pk, &d->sb, msgpack_sbuffer_write);
    if ((r = proto_json_pack(&pk, json, len, why, whylen)) < 0)
        return r;
    if (msgpack_unpack_next(&d->up, d->sb.data, d->sb.size, &off) !=
        MSGPACK_UNPACK_SUCCESS)
        return LLMUX_EPROTO;
    return 0;
}

void jdoc_free(struct jdoc *d)
{
    msgpack_unpacked_destroy(&d->up);
    msgpack_sbuffer_destroy(&d->sb);
}

/* Prints compact JSON (as libllmux produces it) indented by two spaces.
 * It only has to track strings: the input has no whitespace outside
 * them, so every other character is structure or a scalar's. */
void print_pretty(const char *s, size_t n)
{
    int depth = 0, in_str = 0, k;
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (in_str) {
            putchar(ch);
            if (ch == '\\' && i + 1 < n)
                putchar(s[++i]);
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        switch (ch) {
        case '"':
            in_str = 1;
            putchar(ch);
            break;
        case '{':
        case '[':
            putchar(ch);
            if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
                putchar(s[++i]);
                break;
            }
            depth++;
            putchar('\n');
            for (k = 0; k < depth; k++)
                fputs("  ", stdout);
            break;
        case '}':
        case ']':
            depth--;
            putchar('\n');
            for (k = 0; k < depth; k++)
                fputs("  ", stdout);
            putchar(ch);
            break;
        case ',':
            putchar(ch);
            putchar('\n');
            for (k = 0; k < depth; k++)
                fputs("  ", stdout);
            break;
        case ':':
            fputs(": ", stdout);
            break;
        default:
            putchar(ch);
        }
    }
    putchar('\n');
}

/* Connects to -S or the default socket. Returns 0, or an exit code after
 * saying which socket failed and why. */
int cli_connect(const struct cli *cli, llmux_client_t **ret)
{
    const char *path = cli->socket ? cli->socket : llmux_default_socket();
    int r;

    /* A Ctrl-C that came while reading input, too late to interrupt it. */
    if (interrupted)
        return EXIT_SIGINT;
    if ((r = llmux_connect(ret, cli->socket)) == 0)
        return 0;
    if (r == -EINTR && interrupted)
        return EXIT_SIGINT;
    fprintf(stderr, "llmux: %s: cannot connect to %s: %s%s\n",
            llmux_err_name(r), path, llmux_strerror(r),
            r == -ENOENT || r == -ECONNREFUSED ? " (is llmuxd running?)" : "");
    return llmux_err_exit_code(r);
}
