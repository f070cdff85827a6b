/* main.c -- llmuxd: command line, start-up order, the loop, exit.
 * The only place in llmuxd that exits. Start-up order follows systemd's
 * advice: take inherited fds, harden, load config and keys, listen, then
 * READY=1. */
#include "config.h"
#include "http.h"
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/llmux/llmux.yaml"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmuxd [-c CONFIG] [-s SOCKET] [--http ADDR]... "
        "[--check [--strict]] [-v] [-V]\n"
        "  -c, --config PATH   configuration (default " DEFAULT_CONFIG ")\n"
        "  -s, --socket PATH   listen here (default: llmux_settings.socket,\n"
        "                      $XDG_RUNTIME_DIR/llmux.sock, /run/llmux/"
        "llmux.sock as root,\n"
        "                      else /tmp/llmux-UID/llmux.sock); ignored when"
        " systemd\n"
        "                      passes a socket\n"
        "      --http ADDR     serve the OpenAI-compatible HTTP API on ADDR\n"
        "                      (HOST:PORT or a socket path; repeatable;\n"
        "                      default: llmux_settings.http; ignored when\n"
        "                      systemd passes an \"http\" socket)\n"
        "      --check         load the configuration, report every problem"
        ", exit\n"
        "      --strict        with --check: an unset variable is an error\n"
        "  -v, --verbose       log at debug level\n"
        "  -V, --version       print the version\n");
}

/* The socket path when neither systemd, --socket nor the config give one.
 * Writes into out (len bytes). The /tmp fallback folder must be ours
 * alone -- a real folder (lstat: not a symlink), owned by us, mode 0700:
 * /tmp is shared, and whoever made /tmp/llmux-UID first could swap the
 * socket for theirs and read every prompt. /tmp's sticky bit keeps a
 * folder that passes from being renamed or removed by anyone else. */
static int default_socket(char *out, size_t len)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    uid_t uid = getuid();
    struct stat st;
    char dir[64];

    if (xdg && *xdg) {
        snprintf(out, len, "%s/llmux.sock", xdg);
        return 0;
    }
    if (uid == 0) {
        (void)mkdir("/run/llmux", 0755);
        snprintf(out, len, "/run/llmux/llmux.sock");
        return 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/llmux-%u", (unsigned)uid);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (lstat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != uid ||
        (st.st_mode & 07777) != 0700) {
        log_err("refusing %s for the socket: it is %s owned by uid %u, "
                "mode %04o, not a folder of uid %u with mode 0700; remove "
                "it, or set $XDG_RUNTIME_DIR or --socket", dir,
                S_ISLNK(st.st_mode) ? "a symlink" :
                S_ISDIR(st.st_mode) ? "a folder" : "a file",
                (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                (unsigned)uid);
        return -EPERM;
    }
    snprintf(out, len, "%s/llmux.sock", dir);
    return 0;
}

/* Raises the soft fd limit to the hard one: the soft default of 1024 is
 * for select(), which llmuxd does not use, and each client and upstream
 * transfer holds an fd. Under systemd, LimitNOFILE= sets both and
 * setrlimit is filtered (EPERM): nothing to do then. */
#define FD_LIMIT_MAX ((rlim_t)1 << 20)  /* a container's hard limit may be
                                          * a billion: no use for so many */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max ||
        rl.rlim_cur >= FD_LIMIT_MAX)
        return;
    rl.rlim_cur = rl.rlim_max < FD_LIMIT_MAX ? rl.rlim_max : FD_LIMIT_MAX;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the file descriptor limit: %s",
                 strerror(errno));
}
static void fail_start(const char *what, int err)
{
    fprintf(stderr, "llmuxd: %s\n", what);
    sd_start_failed(what, err);
    exit(1);
}

/* The sockets systemd passed: the one named "llmux" (or the only one,
 * when it is a Unix socket) for the msgpack protocol, into *ret_fd, and
 * those named "http" for the HTTP front end, into http_fds. Anything else
 * is closed: sd_listen_fds(3) asks daemons not to keep fds they do not
 * expect. */
static void inherited_sockets(int *ret_fd, int *http_fds, size_t *ret_nhttp)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);

    *ret_fd = -1;
    *ret_nhttp = 0;
    for (int i = 0; i < n; i++) {
        int f = SD_LISTEN_FDS_START + i;

        if (strcmp(names[i], "http") == 0 && *ret_nhttp < HTTP_MAX_LISTENERS &&
            sd_is_socket(f, AF_UNSPEC, SOCK_STREAM, 1) > 0)
            http_fds[(*ret_nhttp)++] = f;
        else if (*ret_fd < 0 && (n == 1 || strcmp(names[i], "llmux") == 0) &&
                 sd_is_socket_unix(f, SOCK_STREAM, 1, NULL, 0) > 0)
            *ret_fd = f;
        else
            close(f);
        free(names[i]);
    }
    free(names);
}

/* The HTTP front end: systemd's sockets, else --http, else the config's
 * llmux_settings.http. */
static void listen_http(struct server *s, const int *fds, size_t nfds,
                        char **addrs, size_t naddrs)
{
    const struct config *cfg = s->cfg;
    char err[512];
    int r;

    if (nfds == 0 && naddrs == 0) {
        addrs = cfg->http;
        naddrs = cfg->nhttp;
    }
    for (size_t i = 0; i < nfds + naddrs; i++) {
        const char *a = i < nfds ? NULL : addrs[i - nfds];

        if ((r = http_listen(s, a, i < nfds ? fds[i] : -1, err,
                             sizeof(err))) < 0)
            fail_start(err, r);
    }
    for (size_t i = 0; i < s->nhttp; i++) {
        const struct http_listener *hl = s->http[i];

        log_notice("http: serving the OpenAI API on %s%s%s%s", hl->is_unix ?
                   "" : "http://", hl->name, hl->inherited ?
                   ", from systemd" : "", hl->is_unix ? " (callers are "
                   "their peer credentials)" : cfg->master_key_configured ?
                   " (master key required)" : " (no master_key: open to "
                   "every local process)");
    }
}


/* Moves the keys that came from the environment out of what
 * /proc/PID/environ shows (secret_env_seal): every variable whose value
 * is a key the configuration loaded (vertex_credentials too, which may
 * hold a service-account JSON), and the AWS secrets the Bedrock adapter
 * reads per request. getenv still finds them, so a reload
 * resolves os.environ/NAME exactly as at start. */
static void seal_key_variables(struct server *s)
{
    static const char *const names[] = { "AWS_SECRET_ACCESS_KEY",
                                         "AWS_SESSION_TOKEN", NULL };
    const struct config *cfg = s->cfg;
    const struct secret **keys;
    size_t n = 0;
    int r;

    keys = calloc(2 * (cfg->ndeps + cfg->nwild) + cfg->env.npresets + 1,
                  sizeof(*keys));
    if (keys == NULL)
        fail_start("out of memory", -ENOMEM);
    for (size_t i = 0; i < cfg->ndeps; i++) {
        keys[n++] = cfg->deps[i]->api_key;
        keys[n++] = cfg->deps[i]->vertex_creds;
    }
    for (size_t i = 0; i < cfg->nwild; i++) {
        keys[n++] = cfg->wild[i]->api_key;
        keys[n++] = cfg->wild[i]->vertex_creds;
    }
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
        { "http",    required_argument, NULL, 'H' },
        { "check",   no_argument,       NULL, 'C' },
        { "strict",  no_argument,       NULL, 'S' },
        { "verbose", no_argument,       NULL, 'v' },
        { "version", no_argument,       NULL, 'V' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = DEFAULT_CONFIG, *socket_path = NULL;
    char err[CONFIG_ERR_MAX];   /* every problem of the file */
    char sock[512];
    struct config *cfg;
    struct server srv;
    uv_loop_t loop;
    int o, r, check = 0, strict = 0, verbose = 0, fd;
    int http_fds[HTTP_MAX_LISTENERS];
    char *http_addrs[HTTP_MAX_LISTENERS];
    size_t nhttp_fds, nhttp_addrs = 0;

    while ((o = getopt_long(argc, argv, "c:s:vVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 's': socket_path = optarg; break;
        case 'H':
            if (nhttp_addrs == HTTP_MAX_LISTENERS) {
                fprintf(stderr, "llmuxd: at most %d --http addresses\n",
                        HTTP_MAX_LISTENERS);
                return 2;
            }
            http_addrs[nhttp_addrs++] = optarg;
            break;
        case 'C': check = 1; break;
        case 'S': strict = 1; break;
        case 'v': verbose = 1; break;
        case 'V': printf("llmuxd %s\n", LLMUX_DAEMON_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default:  usage(stderr); return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    inherited_sockets(&fd, http_fds, &nhttp_fds);
    secret_harden_process();
    if ((r = config_load_prices(config_path, check && strict ?
                                CONFIG_STRICT : 0, NULL, &cfg, err,
                                sizeof(err))) < 0)
        fail_start(err, r);
    log_init(verbose ? LOG_DEBUG : cfg->log_level, cfg->log_content);
    for (size_t i = 0; i < cfg->nwarnings; i++)
        log_warn("%s", cfg->warnings[i]);
    if (cfg->prices && !check)
        log_info("prices: %zu models from %s", prices_count(cfg->prices),
                 prices_path(cfg->prices));
    if (check) {
        config_summary(cfg, sock, sizeof(sock));
        printf("%s: ok, %s\n", config_path, sock);
        config_unref(cfg);
        return 0;
    }
    if ((r = cenv_apply(&cfg->vars)) < 0)
        log_warn("environment_variables: cannot set a variable: %s",
                 strerror(-r));
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
    raise_fd_limit();
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
                 r == -EEXIST ? "something that is not a socket is there "
                 "(llmuxd removes only a dead socket); move it away" :
                 uv_strerror(r));
        fail_start(err, r);
    }
    log_notice("listening on %s%s (%zu deployments from %s)",
               srv.socket_path, fd >= 0 ? ", from systemd" : "",
               cfg->ndeps, config_path);
    listen_http(&srv, http_fds, nhttp_fds, http_addrs, nhttp_addrs);
    sd_ready(&srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    server_free(&srv);
    if (srv.reload_job) {
        /* libuv's destructor joins its worker threads, and one is still
         * blocked in a user or group lookup: leave without it. */
        fflush(NULL);
        _exit(0);
    }
    uv_loop_close(&loop);
    curl_global_cleanup();
    return 0;
}
