/* main.c -- llmuxd: command line, start-up order, the loop, exit.
 * The only place in llmuxd that exits. Start-up order follows systemd's
 * advice: take inherited fds, harden, load config and keys, listen, then
 * READY=1. */
#include "config.h"
#include "log.h"
#include "ops.h"
#include "sd.h"
#include "secret.h"
#include "server.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/llmux/llmux.yaml"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmuxd [-c CONFIG] [-s SOCKET] [--check] [-v] [-V]\n"
        "  -c, --config PATH   configuration (default " DEFAULT_CONFIG ")\n"
        "  -s, --socket PATH   listen here (default: llmux_settings.socket,\n"
        "                      $XDG_RUNTIME_DIR/llmux.sock, /run/llmux/"
        "llmux.sock as root,\n"
        "                      else /tmp/llmux-UID/llmux.sock); ignored when"
        " systemd\n"
        "                      passes a socket\n"
        "      --check         load the configuration, report, exit\n"
        "  -v, --verbose       log at debug level\n"
        "  -V, --version       print the version\n");
}

/* The socket path when neither systemd, --socket nor the config give one.
 * Writes into out (len bytes). */
static int default_socket(char *out, size_t len)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    char dir[256];

    if (xdg && *xdg) {
        snprintf(out, len, "%s/llmux.sock", xdg);
        return 0;
    }
    if (getuid() == 0) {
        (void)mkdir("/run/llmux", 0755);
        snprintf(out, len, "/run/llmux/llmux.sock");
        return 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/llmux-%u", (unsigned)getuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    snprintf(out, len, "%s/llmux.sock", dir);
    return 0;
}

/* The listening socket systemd passed (named "llmux", or the only one),
 * or -1. Anything else passed is closed: sd_listen_fds(3) asks daemons
 * not to keep fds they do not expect. */
static int inherited_socket(void)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names), fd = -1;

    for (int i = 0; i < n; i++) {
        int f = SD_LISTEN_FDS_START + i;

        if (fd < 0 && (n == 1 || strcmp(names[i], "llmux") == 0) &&
            sd_is_socket_unix(f, SOCK_STREAM, 1, NULL, 0) > 0)
            fd = f;
        else
            close(f);
        free(names[i]);
    }
    free(names);
    return fd;
}

static void fail_start(const char *what, int err)
{
    fprintf(stderr, "llmuxd: %s\n", what);
    sd_start_failed(what, err);
    exit(1);
}

/* Moves the keys that came from the environment out of what
 * /proc/PID/environ shows (secret_env_seal): every variable whose value
 * is a key the configuration loaded, and the AWS secrets the Bedrock
 * adapter reads per request. getenv still finds them, so a reload
 * resolves os.environ/NAME exactly as at start. */
static void seal_key_variables(struct server *s)
{
    static const char *const names[] = { "AWS_SECRET_ACCESS_KEY",
                                         "AWS_SESSION_TOKEN", NULL };
    const struct config *cfg = s->cfg;
    const struct secret **keys;
    size_t n = 0;
    int r;

    keys = calloc(cfg->ndeps + cfg->nwild + cfg->env.npresets + 1,
                  sizeof(*keys));
    if (keys == NULL)
        fail_start("out of memory", -ENOMEM);
    for (size_t i = 0; i < cfg->ndeps; i++)
        keys[n++] = cfg->deps[i]->api_key;
    for (size_t i = 0; i < cfg->nwild; i++)
        keys[n++] = cfg->wild[i]->api_key;
    for (size_t i = 0; i < cfg->env.npresets; i++)
        keys[n++] = cfg->env.keys[i];
    r = secret_env_seal(&s->env_keys, names, keys, n);
    free(keys);
    if (r < 0)
        log_warn("cannot move keys out of /proc/%d/environ: %s",
                 (int)getpid(), strerror(-r));
    else if (r > 0)
        log_info("moved %d key variables out of /proc/%d/environ", r,
                 (int)getpid());
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",  required_argument, NULL, 'c' },
        { "socket",  required_argument, NULL, 's' },
        { "check",   no_argument,       NULL, 'C' },
        { "verbose", no_argument,       NULL, 'v' },
        { "version", no_argument,       NULL, 'V' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = DEFAULT_CONFIG, *socket_path = NULL;
    char err[1024], sock[512];
    struct config *cfg;
    struct server srv;
    uv_loop_t loop;
    int o, r, check = 0, verbose = 0, fd;

    while ((o = getopt_long(argc, argv, "c:s:vVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 's': socket_path = optarg; break;
        case 'C': check = 1; break;
        case 'v': verbose = 1; break;
        case 'V': printf("llmuxd %s\n", LLMUX_DAEMON_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default:  usage(stderr); return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    fd = inherited_socket();
    secret_harden_process();
    if ((r = config_load(config_path, &cfg, err, sizeof(err))) < 0)
        fail_start(err, r);
    log_init(verbose ? LOG_DEBUG : cfg->log_level, cfg->log_content);
    for (size_t i = 0; i < cfg->nwarnings; i++)
        log_warn("%s", cfg->warnings[i]);
    if (check) {
        config_summary(cfg, sock, sizeof(sock));
        printf("%s: ok, %s\n", config_path, sock);
        config_unref(cfg);
        return 0;
    }
    if (socket_path == NULL)
        socket_path = cfg->socket_path;
    if (socket_path == NULL && fd < 0) {
        if ((r = default_socket(sock, sizeof(sock))) < 0)
            fail_start("cannot create a folder for the socket", r);
        socket_path = sock;
    }
    /* libcurl copies each request, Authorization header included, into
     * buffers of its own: have it wipe them when it frees them. */
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, secret_wipe_free,
                             secret_wipe_realloc, strdup, calloc) != CURLE_OK)
        fail_start("libcurl failed to initialise", -EIO);
    uv_loop_init(&loop);
    if ((r = server_init(&srv, &loop, cfg, config_path)) < 0)
        fail_start("cannot initialise the server", r);
    seal_key_variables(&srv);
    if ((r = server_open_db(&srv, err, sizeof(err))) < 0)
        fail_start(err, r);
    if ((r = server_listen(&srv, fd >= 0 ? NULL : socket_path, fd)) < 0) {
        snprintf(err, sizeof(err), "cannot listen on %s: %s",
                 fd >= 0 ? "the socket from systemd" : socket_path,
                 r == -EADDRINUSE ? "another llmuxd is serving it" :
                 uv_strerror(r));
        fail_start(err, r);
    }
    log_notice("listening on %s%s (%zu deployments from %s)",
               srv.socket_path, fd >= 0 ? ", from systemd" : "",
               cfg->ndeps, config_path);
    sd_ready(&srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    server_free(&srv);
    uv_loop_close(&loop);
    curl_global_cleanup();
    return 0;
}
