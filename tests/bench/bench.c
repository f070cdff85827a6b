/* bench.c -- llmux-bench: the benchmark `make bench` runs.
 * Owns: the run as a whole. It starts bench-upstream and llmuxd (timing
 * exec -> READY=1 on a NOTIFY_SOCKET of its own), then runs interleaved
 * rounds of the same scenarios straight to the upstream and through
 * llmuxd (loadgen.c), reads llmuxd's CPU time and memory from /proc, and
 * prints one table of medians; then the scale run (thousands of slow
 * streams held open at once). It reports; it never passes or fails on a
 * figure.
 *
 * usage: llmux-bench --llmuxd PATH --upstream PATH [--rounds N]
 *        [--seconds S] [--rate R] [--stream-rate R] [--ready-runs N]
 *        [--scale N] [--scale-conns K] [--no-scale] [--only-scale]
 *        [--keep]   (leave llmuxd running at the end; prints its pid)
 *        [-v]       (one line per run on stderr)
 *        [--only TEXT] (only the scenarios whose "name path" holds TEXT)
 *        [--requests N] (each run sends exactly N requests; no warm-up)
 *        [--wrap "valgrind --tool=callgrind"] (run llmuxd under this)
 *        [--log-level L] (llmux_settings.log_level; default: llmuxd's,
 *                       info, one line per request to stderr, a file) */
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

extern char **environ;

#define MAX_ROUNDS 32

struct opts {
    const char *llmuxd, *upstream, *only, *wrap, *log_level;
    long        requests;
    int         rounds, ready_runs, scale, scale_conns, no_scale, only_scale;
    int         keep, verbose;
    double      seconds, rate, stream_rate;
};

/* What the run keeps: its folder, the two processes, the notify socket. */
struct run {
    struct opts o;
    char        dir[64];
    char        sock[96], cfg[96], notify[96], log[96];
    pid_t       up_pid, d_pid;
    int         port, nfd;
    int         ready_pipe[2];  /* the drain thread writes a byte per READY */
    _Atomic double t_ready;     /* when the last READY=1 arrived */
    long        tck;
};

struct scen {
    const char    *name;
    enum lg_target target;
    int            stream, slots, conns;
    double         rate;
    int            cached;     /* llmuxd answers from its cache */
};

struct meas {
    struct lg_result r;
    double           cpu_us;     /* llmuxd CPU per completed request */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "llmux-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- /proc ---------------------------------------------------------------- */

/* utime + stime of pid (all its threads), in clock ticks. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[2048], *p;
    long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the ")" that ends the command name: state is field 3,
     * utime field 14, stime field 15. */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
               &ut, &st) != 2)
        return -1;
    return ut + st;
}

/* A "Key:   123 kB" line of /proc/pid/status, in KiB. */
static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t kl = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int count_fds(pid_t pid)
{
    char path[64];
    struct dirent *e;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- processes ---------------------------------------------------------- */

static pid_t spawn(char *const argv[], char *const envp[], const char *out)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int r;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT |
                                     O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
        errno = r;
        die(argv[0]);
    }
    return pid;
}

/* SIGTERM, then up to 30 s for it to exit; SIGKILL after. */
static int stop(pid_t pid)
{
    int st = 0;

    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* The run whose processes exit() must not leave behind. */
static struct run *cleanup_run;

static void cleanup(void)
{
    struct run *u = cleanup_run;

    if (u == NULL || u->o.keep)
        return;
    if (u->d_pid > 0)
        stop(u->d_pid);
    if (u->up_pid > 0)
        stop(u->up_pid);
    u->d_pid = u->up_pid = 0;
}

static void start_upstream(struct run *u)
{
    char pf[128], log[128], buf[32];
    char *argv[] = { (char *)u->o.upstream, "--port-file", pf,
                     "--max-seconds", "7200", NULL };

    snprintf(pf, sizeof(pf), "%s/port", u->dir);
    snprintf(log, sizeof(log), "%s/upstream.log", u->dir);
    u->up_pid = spawn(argv, environ, log);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(pf, "r");

        if (f && fgets(buf, sizeof(buf), f)) {
            fclose(f);
            u->port = (int)strtol(buf, NULL, 10);
            return;
        }
        if (f)
            fclose(f);
        usleep(10000);
    }
    fprintf(stderr, "llmux-bench: bench-upstream did not start\n");
    exit(1);
}

static void write_config(struct run *u)
{
    FILE *f = fopen(u->cfg, "w");

    if (f == NULL)
        die(u->cfg);
    fprintf(f,
        "# written by llmux-bench\n"
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        "      api_base: http://127.0.0.1:%d/v1\n"
        "      api_key: sk-bench\n"
        "  - model_name: bench-slow\n"
        "    litellm_params:\n"
        "      model: openai/bench-slow\n"
        "      api_base: http://127.0.0.1:%d/v1\n"
        "      api_key: sk-bench\n"
        /* Only requests that ask use the cache: the other scenarios
         * measure llmuxd without it. */
        "litellm_settings:\n"
        "  cache: true\n"
        "  cache_params: {type: local, mode: default_off, ttl: 86400}\n",
        u->port, u->port);
    if (u->o.log_level)
        fprintf(f, "llmux_settings:\n  log_level: %s\n", u->o.log_level);
    if (fclose(f) != 0)
        die(u->cfg);
}

/* The NOTIFY_SOCKET reader. It must never stop reading: llmuxd sends a
 * STATUS= line every few seconds with a blocking sendmsg, and a full
 * receive queue would freeze llmuxd's loop (and the benchmark with it). */
static void *drain_notify(void *arg)
{
    struct run *u = arg;
    char buf[4096];

    for (;;) {
        ssize_t k = recv(u->nfd, buf, sizeof(buf) - 1, 0);

        if (k < 0 && errno != EINTR)
            break;              /* never spin on a broken socket */
        if (k <= 0)
            continue;
        buf[k] = '\0';
        if (strstr(buf, "READY=1") && strstr(buf, "RELOADING=1") == NULL) {
            atomic_store(&u->t_ready, now_s());
            (void)!write(u->ready_pipe[1], "r", 1);
        }
    }
    return NULL;
}

/* Starts llmuxd; returns the ms from exec to its READY=1 datagram. */
static double start_llmuxd(struct run *u)
{
    char envbuf[160], c, wrap[512], *argv[32];
    char **envp;
    size_t n = 0;
    int na = 0;

    /* "--wrap 'valgrind --tool=callgrind'" goes first, split at spaces. */
    if (u->o.wrap) {
        snprintf(wrap, sizeof(wrap), "%s", u->o.wrap);
        for (char *t = strtok(wrap, " "); t && na < 24; t = strtok(NULL, " "))
            argv[na++] = t;
    }
    argv[na++] = (char *)u->o.llmuxd;
    argv[na++] = "-c";
    argv[na++] = u->cfg;
    argv[na++] = "-s";
    argv[na++] = u->sock;
    argv[na] = NULL;
    double t0;
    struct pollfd pfd = { .fd = u->ready_pipe[0], .events = POLLIN };

    for (char **e = environ; *e; e++)
        n++;
    if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
        die("calloc");
    n = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 &&
            strncmp(*e, "LISTEN_", 7) != 0 && strstr(*e, "_API_KEY=") == NULL)
            envp[n++] = *e;
    snprintf(envbuf, sizeof(envbuf), "NOTIFY_SOCKET=%s", u->notify);
    envp[n++] = envbuf;
    envp[n] = NULL;
    /* Forget a READY of the previous instance. */
    while (read(u->ready_pipe[0], &c, 1) == 1)
        ;
    t0 = now_s();
    u->d_pid = spawn(argv, envp, u->log);
    free(envp);
    if (poll(&pfd, 1, 30000) <= 0) {
        fprintf(stderr, "llmux-bench: llmuxd sent no READY=1 in 30 s "
                "(see %s)\n", u->log);
        exit(1);
    }
    return (atomic_load(&u->t_ready) - t0) * 1000.0;
}

static void open_notify(struct run *u)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    pthread_t t;

    u->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", u->notify);
    if (u->nfd < 0 || bind(u->nfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        pipe2(u->ready_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        die("notify socket");
    if (pthread_create(&t, NULL, drain_notify, u) != 0)
        die("pthread_create");
}

/* ---- measuring ---------------------------------------------------------- */

static void run_scen(struct run *u, const struct scen *sc, double seconds,
                     struct meas *m)
{
    struct lg_spec s = {
        .target = sc->target, .sock_path = u->sock, .port = u->port,
        .model = "bench", .stream = sc->stream, .slots = sc->slots,
        .cached = sc->cached,
        .conns = sc->conns, .rate = sc->rate, .seconds = seconds,
        .drain_seconds = 10, .max_requests = u->o.requests,
    };
    long long c0 = cpu_ticks(u->d_pid), c1;
    char label[96];

    memset(m, 0, sizeof(*m));
    snprintf(label, sizeof(label), "%s %s", sc->name,
             sc->target == LG_HTTP ? "direct" : "llmuxd");
    if (u->o.only && strstr(label, u->o.only) == NULL)
        return;
    if (lg_run(&s, &m->r) < 0)
        exit(1);
    c1 = cpu_ticks(u->d_pid);
    m->cpu_us = sc->target == LG_LLMUX && m->r.completed > 0 ?
                (double)(c1 - c0) * 1e6 / (double)u->tck /
                (double)m->r.completed : 0;
    if (u->o.verbose)
        fprintf(stderr, "%-20s %-6s sent %ld done %ld err %ld lost %ld "
                "%.0f/s p50 %.0f p99 %.0f cpu %.1f %s\n", sc->name,
                sc->target == LG_HTTP ? "direct" : "llmuxd", m->r.sent,
                m->r.completed, m->r.errors, m->r.lost, m->r.rps, m->r.p50,
                m->r.p99, m->cpu_us, m->r.first_error);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmpd);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median over rounds of one field of a scenario's measurements. */
#define MEDIAN_OF(ms, nr, expr) ({                                          \
        double v_[MAX_ROUNDS];                                              \
        for (int r_ = 0; r_ < (nr); r_++) {                                 \
            const struct meas *m = &(ms)[r_];                               \
            v_[r_] = (expr);                                                \
        }                                                                   \
        median(v_, (nr)); })

/* ---- the scale run ---------------------------------------------------------- */

/* Sampled every 20 ms while the streams run: the most streams in flight,
 * and llmuxd's largest RSS and descriptor count (llmuxd opens the upstream
 * connections a little after the requests arrive, so the peaks are
 * tracked separately). */
struct scale_probe {
    pid_t pid;
    long  live_max, rss_max, anon_max, fds_max;
};

static void scale_tick(void *ud, long live)
{
    struct scale_probe *p = ud;
    long rss = status_kb(p->pid, "VmRSS"), anon = status_kb(p->pid, "RssAnon");
    long fds = count_fds(p->pid);

    if (live > p->live_max)
        p->live_max = live;
    if (rss > p->rss_max)
        p->rss_max = rss;
    if (anon > p->anon_max)
        p->anon_max = anon;
    if (fds > p->fds_max)
        p->fds_max = fds;
}

static int log_mentions(const char *path, const char *what)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

static void scale_run(struct run *u)
{
    struct scale_probe p = { .pid = u->d_pid };
    struct lg_spec s = {
        .target = LG_LLMUX, .sock_path = u->sock, .model = "bench-slow",
        .stream = 1, .slots = u->o.scale, .conns = u->o.scale_conns,
        .seconds = 120, .max_requests = u->o.scale, .drain_seconds = 60,
        .tick = scale_tick, .tick_ud = &p,
    };
    struct lg_result r;
    long rss0, anon0, fds0;
    long long c0, c1;

    rss0 = status_kb(u->d_pid, "VmRSS");
    anon0 = status_kb(u->d_pid, "RssAnon");
    fds0 = count_fds(u->d_pid);
    c0 = cpu_ticks(u->d_pid);
    if (lg_run(&s, &r) < 0)
        exit(1);
    c1 = cpu_ticks(u->d_pid);
    printf("\n### Scale: %d slow streams (a chunk every 100 ms, 22 "
           "events) over %d connections\n\n", u->o.scale, u->o.scale_conns);
    printf("| | |\n|---|---|\n");
    printf("| streams sent / completed / errors / lost | %ld / %ld / %ld / "
           "%ld |\n", r.sent, r.completed, r.errors, r.lost);
    printf("| most streams in flight at once | %ld |\n", p.live_max);
    printf("| llmuxd RSS before / peak (anonymous: before / peak) | %.1f / "
           "%.1f MiB (%.1f / %.1f MiB) |\n", rss0 / 1024.0,
           p.rss_max / 1024.0, anon0 / 1024.0, p.anon_max / 1024.0);
    printf("| RSS per live stream | %.1f KiB |\n", p.live_max > 0 ?
           (double)(p.rss_max - rss0) / (double)p.live_max : 0);
    printf("| llmuxd fds before / peak | %ld / %ld |\n", fds0, p.fds_max);
    printf("| llmuxd CPU per slow stream | %.0f µs |\n", r.completed ?
           (double)(c1 - c0) * 1e6 / (double)u->tck / (double)r.completed
           : 0);
    printf("| stream duration p50 / p99 | %.0f ms / %.0f ms |\n",
           r.p50 / 1000, r.p99 / 1000);
    if (r.errors)
        printf("| first error | %s |\n", r.first_error);
    if (log_mentions(u->log, "Too many open files") ||
        log_mentions(u->log, "EMFILE"))
        printf("| llmuxd log | ran out of descriptors (EMFILE): see %s |\n",
               u->log);
}

/* ---- main ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: llmux-bench --llmuxd PATH --upstream PATH "
            "[--rounds N] [--seconds S] [--rate R] [--stream-rate R]\n"
            "       [--ready-runs N] [--scale N] [--scale-conns K] "
            "[--no-scale] [--only-scale] [--keep]\n");
    exit(2);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){ .rounds = 5, .ready_runs = 5, .scale = 10000,
                        .scale_conns = 100, .seconds = 2, .rate = 2000,
                        .stream_rate = 500 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--no-scale") == 0) { o->no_scale = 1; continue; }
        if (strcmp(a, "--only-scale") == 0) { o->only_scale = 1; continue; }
        if (strcmp(a, "--keep") == 0) { o->keep = 1; continue; }
        if (strcmp(a, "-v") == 0) { o->verbose = 1; continue; }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--llmuxd") == 0) o->llmuxd = v;
        else if (strcmp(a, "--upstream") == 0) o->upstream = v;
        else if (strcmp(a, "--only") == 0) o->only = v;
        else if (strcmp(a, "--wrap") == 0) o->wrap = v;
        else if (strcmp(a, "--log-level") == 0) o->log_level = v;
        else if (strcmp(a, "--requests") == 0) o->requests = strtol(v, 0, 10);
        else if (strcmp(a, "--rounds") == 0) o->rounds = (int)strtol(v, 0, 10);
        else if (strcmp(a, "--seconds") == 0) o->seconds = strtod(v, 0);
        else if (strcmp(a, "--rate") == 0) o->rate = strtod(v, 0);
        else if (strcmp(a, "--stream-rate") == 0) o->stream_rate = strtod(v, 0);
        else if (strcmp(a, "--ready-runs") == 0)
            o->ready_runs = (int)strtol(v, 0, 10);
        else if (strcmp(a, "--scale") == 0) o->scale = (int)strtol(v, 0, 10);
        else if (strcmp(a, "--scale-conns") == 0)
            o->scale_conns = (int)strtol(v, 0, 10);
        else usage();
    }
    if (!o->llmuxd || !o->upstream || o->rounds < 1 ||
        o->rounds > MAX_ROUNDS || o->ready_runs < 1 || o->seconds <= 0 ||
        o->scale_conns < 1)
        usage();
}

static void print_machine(void)
{
    char line[256], model[256] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f) {
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    printf("machine: %s, %ld CPUs online\n", model,
           sysconf(_SC_NPROCESSORS_ONLN));
}

int main(int argc, char **argv)
{
    static const struct scen scens[] = {
        { "plain, 1 client",   LG_HTTP,  0, 1, 1, 0, 0 },
        { "plain, 1 client",   LG_LLMUX, 0, 1, 1, 0, 0 },
        { "plain, 64 clients", LG_HTTP,  0, 64, 64, 0, 0 },
        { "plain, 64 clients", LG_LLMUX, 0, 64, 64, 0, 0 },
        { "plain, open loop",  LG_HTTP,  0, 0, 16, -1, 0 },
        { "plain, open loop",  LG_LLMUX, 0, 0, 16, -1, 0 },
        { "stream, 1 client",  LG_HTTP,  1, 1, 1, 0, 0 },
        { "stream, 1 client",  LG_LLMUX, 1, 1, 1, 0, 0 },
        { "stream, 64 clients", LG_HTTP, 1, 64, 64, 0, 0 },
        { "stream, 64 clients", LG_LLMUX, 1, 64, 64, 0, 0 },
        { "stream, open loop", LG_HTTP,  1, 0, 16, -2, 0 },
        { "stream, open loop", LG_LLMUX, 1, 0, 16, -2, 0 },
        /* The same request every time: after the first, a hit. "direct"
         * is the upstream answering it, as a miss would. */
        { "cache hit, plain, 1 client",  LG_HTTP,  0, 1, 1, 0, 0 },
        { "cache hit, plain, 1 client",  LG_LLMUX, 0, 1, 1, 0, 1 },
        { "cache hit, stream, 1 client", LG_HTTP,  1, 1, 1, 0, 0 },
        { "cache hit, stream, 1 client", LG_LLMUX, 1, 1, 1, 0, 1 },
    };
    enum { NS = sizeof(scens) / sizeof(scens[0]) };
    static struct meas ms[NS][MAX_ROUNDS];
    struct run u = { 0 };
    struct rlimit rl;
    double ready[64], t_begin = now_s();
    long rss_idle, rss_after, hwm, anon_idle;
    int nready;

    parse_args(&u.o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    cleanup_run = &u;
    atexit(cleanup);
    u.tck = sysconf(_SC_CLK_TCK);
    /* The scale run holds thousands of sockets here, in llmuxd and in the
     * upstream: raise the soft limit to the hard one (children inherit). */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    snprintf(u.dir, sizeof(u.dir), "/tmp/llmux-bench-XXXXXX");
    if (mkdtemp(u.dir) == NULL)
        die("mkdtemp");
    snprintf(u.sock, sizeof(u.sock), "%s/llmux.sock", u.dir);
    snprintf(u.cfg, sizeof(u.cfg), "%s/llmux.yaml", u.dir);
    snprintf(u.notify, sizeof(u.notify), "%s/notify", u.dir);
    snprintf(u.log, sizeof(u.log), "%s/llmuxd.log", u.dir);
    open_notify(&u);
    start_upstream(&u);
    write_config(&u);

    nready = u.o.ready_runs < 64 ? u.o.ready_runs : 64;
    for (int i = 0; i < nready; i++) {
        ready[i] = start_llmuxd(&u);
        if (i + 1 < nready)
            stop(u.d_pid);
    }
    usleep(200000);
    rss_idle = status_kb(u.d_pid, "VmRSS");
    anon_idle = status_kb(u.d_pid, "RssAnon");

    print_machine();
    printf("llmuxd: %s (pid %d), upstream: bench-upstream on 127.0.0.1:%d, "
           "RLIMIT_NOFILE %llu\n", u.o.llmuxd, (int)u.d_pid, u.port,
           (unsigned long long)rl.rlim_cur);

    if (!u.o.only_scale) {
        struct meas warm;

        /* Warm-up: connection pools, allocator arenas, page cache. */
        for (size_t k = 0; k < NS && u.o.requests == 0; k++)
            if (scens[k].rate == 0)
                run_scen(&u, &scens[k], 0.3, &warm);
        for (int r = 0; r < u.o.rounds; r++)
            for (size_t k = 0; k < NS; k++) {
                struct scen sc = scens[k];

                if (sc.rate == -1)
                    sc.rate = u.o.rate;
                else if (sc.rate == -2)
                    sc.rate = u.o.stream_rate;
                run_scen(&u, &sc, u.o.requests ? 3600 : u.o.seconds,
                         &ms[k][r]);
            }
        printf("\n### Latency and cost: medians of %d interleaved rounds of "
               "%.1f s each\n\n", u.o.rounds, u.o.seconds);
        printf("| scenario | path | req/s | p50 µs | p90 µs | p99 µs | "
               "llmuxd CPU µs/req | errors+lost |\n");
        printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (size_t k = 0; k < NS; k++) {
            int nr = u.o.rounds;
            double errs = MEDIAN_OF(ms[k], nr, (double)(m->r.errors +
                                                         m->r.lost));
            char rate[32] = "";

            if (scens[k].rate < 0)
                snprintf(rate, sizeof(rate), " at %.0f/s",
                         scens[k].rate == -1 ? u.o.rate : u.o.stream_rate);
            printf("| %s%s | %s | %.0f | %.0f | %.0f | %.0f | ",
                   scens[k].name, rate,
                   scens[k].target == LG_HTTP ? "direct" : "llmuxd",
                   MEDIAN_OF(ms[k], nr, m->r.rps),
                   MEDIAN_OF(ms[k], nr, m->r.p50),
                   MEDIAN_OF(ms[k], nr, m->r.p90),
                   MEDIAN_OF(ms[k], nr, m->r.p99));
            if (scens[k].target == LG_LLMUX)
                printf("%.1f | %.0f |\n", MEDIAN_OF(ms[k], nr, m->cpu_us),
                       errs);
            else
                printf("– | %.0f |\n", errs);
        }
        printf("\n### Summary\n\n| | |\n|---|---|\n");
        for (size_t k = 0; k < NS; k += 2) {
            int nr = u.o.rounds;

            if (scens[k].slots != 1)
                continue;
            printf("| added latency, %s (p50 / p99) | %.0f µs / %.0f µs |\n",
                   scens[k].name,
                   MEDIAN_OF(ms[k + 1], nr, m->r.p50) -
                   MEDIAN_OF(ms[k], nr, m->r.p50),
                   MEDIAN_OF(ms[k + 1], nr, m->r.p99) -
                   MEDIAN_OF(ms[k], nr, m->r.p99));
        }
        printf("| llmuxd CPU per request, plain (1 / 64 clients) | %.1f / "
               "%.1f µs |\n", MEDIAN_OF(ms[1], u.o.rounds, m->cpu_us),
               MEDIAN_OF(ms[3], u.o.rounds, m->cpu_us));
        printf("| llmuxd CPU per 20-chunk stream (1 / 64 clients) | %.1f / "
               "%.1f µs |\n", MEDIAN_OF(ms[7], u.o.rounds, m->cpu_us),
               MEDIAN_OF(ms[9], u.o.rounds, m->cpu_us));
        printf("| llmuxd CPU per cache hit (plain / stream) | %.1f / %.1f "
               "µs |\n", MEDIAN_OF(ms[13], u.o.rounds, m->cpu_us),
               MEDIAN_OF(ms[15], u.o.rounds, m->cpu_us));
    }
    qsort(ready, (size_t)nready, sizeof(double), cmpd);
    rss_after = status_kb(u.d_pid, "VmRSS");
    hwm = status_kb(u.d_pid, "VmHWM");
    if (u.o.only_scale)
        printf("\n### Summary\n\n| | |\n|---|---|\n");
    printf("| llmuxd RSS idle (after start) / idle after the load / peak "
           "| %.1f / %.1f / %.1f MiB |\n", rss_idle / 1024.0,
           rss_after / 1024.0, hwm / 1024.0);
    printf("| of which anonymous (heap, stacks) idle / after the load | "
           "%.1f / %.1f MiB |\n", anon_idle / 1024.0,
           status_kb(u.d_pid, "RssAnon") / 1024.0);
    printf("| exec to READY=1 (median of %d starts; min / max) | %.1f ms "
           "(%.1f / %.1f) |\n", nready, nready % 2 ? ready[nready / 2] :
           (ready[nready / 2 - 1] + ready[nready / 2]) / 2, ready[0],
           ready[nready - 1]);
    if (!u.o.no_scale && u.o.scale > 0)
        scale_run(&u);
    printf("\nbench took %.0f s; files in %s\n", now_s() - t_begin, u.dir);
    if (u.o.keep) {
        printf("llmuxd left running: pid %d, socket %s; upstream pid %d\n",
               (int)u.d_pid, u.sock, (int)u.up_pid);
        return 0;
    }
    {
        int rc = stop(u.d_pid);

        stop(u.up_pid);
        u.d_pid = u.up_pid = 0;
        if (rc != 0)
            printf("note: llmuxd exited with %d (see %s)\n", rc, u.log);
    }
    return 0;
}
