/* cli.h -- what the llmux commands (cli.c, cliembed.c, clicache.c) share:
 * the exit codes, the Ctrl-C flag, stdout and its helpers, usage errors
 * and error reports, input reading, connecting and JSON answers (cliio.c).
 * Not part of libllmux: only the llmux binary links these. */
#ifndef LLMUX_CLI_H
#define LLMUX_CLI_H

#include <signal.h>
#include <stddef.h>

#include "llmux.h"
#include "proto.h"

#define EXIT_USAGE    2
#define EXIT_SIGINT   130   /* 128 + SIGINT, as a shell would report */
#define EXIT_SIGPIPE  141   /* 128 + SIGPIPE */

struct cli {
    const char *socket;   /* -S, or NULL for the default */
};

/* Set by the SIGINT handler (cli.c); everything else only reads it. */
extern volatile sig_atomic_t interrupted;

/* stdout, written piece by piece; the first write error stops everything
 * (EPIPE quietly). */
struct out {
    int wrote;   /* any byte written */
    int last;    /* the last byte written */
    int err;     /* errno of the first failed write, else 0 */
};

extern struct out out;

/* Writes n bytes (and flushes, for streamed pieces). Returns 0, or -1
 * once any write failed: callers then stop and cancel. */
int  out_write(const char *p, size_t n, int flush);
void out_puts(const char *s);
/* Ends a line begun by streamed text. */
void out_end_line(void);
/* The exit code once stdout is flushed (EPIPE ends quietly). */
int  out_finish(int code);

/* A usage error: one line saying what, a pointer to --help, exit 2. */
int  usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After getopt returned '?' (opterr is 0: the message is ours). */
int  bad_option(const char *cmd, char **argv);
/* Prints the error and returns the exit code for code. */
int  report(int code, const llmux_error_t *err);
/* report with the whole message of json's {"error": {"message"}} (an
 * answer of llmux_raw), which err holds only the first 511 bytes of:
 * a reload refused for forty problems names all forty. */
int  report_answer(int code, const llmux_error_t *err, const char *json);
/* --help (cli.c). */
int  help(void);

/* Reads path ("-" is stdin) into b; prints why not. Returns 0 or an exit
 * code. */
int  read_input(const char *path, struct buf *b, const char *what);
/* Connects to -S or the default socket. Returns 0, or an exit code after
 * saying which socket failed and why. */
int  cli_connect(const struct cli *cli, llmux_client_t **ret);

/* JSON text parsed back into msgpack, to walk an answer. */
struct jdoc {
    msgpack_sbuffer  sb;
    msgpack_unpacked up;
};

int  jdoc_parse(struct jdoc *d, const char *json, size_t len,
                char *why, size_t whylen);
void jdoc_free(struct jdoc *d);
/* Prints compact JSON indented by two spaces. */
void print_pretty(const char *s, size_t n);

/* The commands in their own files. */
int  cmd_embed(struct cli *cli, int argc, char **argv);
int  cmd_cache(struct cli *cli, int argc, char **argv);

#endif
