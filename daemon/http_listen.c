/* http_listen.c -- the HTTP front end's listening sockets (http.h):
 * addresses parsed and checked (loopback, or a master key), Unix socket
 * paths bound without ever replacing anything but a dead socket, systemd's
 * "http" fds adopted, and closing them all at SIGTERM. Connections they
 * accept are http.c's. */
#include "http.h"
#include "config.h"
#include "container.h"
#include "llmux-errno.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* "127.0.0.1:4000", "[::1]:4000", "localhost:4000" or ":4000" (loopback) */
static int parse_tcp(const char *addr, struct sockaddr_storage *ss,
                     int *ret_loopback)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    char *end;
    long port;
    size_t hl;

    if (colon == NULL)
        return -EINVAL;
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -EINVAL;
    hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl == 0 || strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) {
        uint32_t a = ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr);

        *ret_loopback = (a >> 24) == 127;
        return 0;
    }
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) {
        *ret_loopback = IN6_IS_ADDR_LOOPBACK(
            &((struct sockaddr_in6 *)ss)->sin6_addr);
        return 0;
    }
    return -EINVAL;
}

/* True when something answers connect() on path. */
static int socket_alive(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), alive;

    if (fd < 0)
        return 0;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    alive = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return alive;
}

static int bind_unix(struct http_listener *hl, const char *path, char *err,
                     size_t errlen)
{
    struct stat st;
    mode_t old;
    int r;

    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "%s: path too long for a socket", path);
        return -ENAMETOOLONG;
    }
    /* Only a dead socket is ever removed; never a file of another kind. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; refusing "
                     "to replace it", path);
            return -EEXIST;
        }
        if (socket_alive(path)) {
            snprintf(err, errlen, "%s: another process serves it", path);
            return -EADDRINUSE;
        }
        (void)unlink(path);
    }
    uv_pipe_init(hl->srv->loop, &hl->h.pipe, 0);
    old = umask(0117);
    r = uv_pipe_bind(&hl->h.pipe, path);
    umask(old);
    if (r < 0)
        snprintf(err, errlen, "cannot bind %s: %s", path, uv_strerror(r));
    return r;
}

static int bind_tcp(struct http_listener *hl, const char *addr, char *err,
                    size_t errlen)
{
    struct sockaddr_storage ss;
    int r;

    if (parse_tcp(addr, &ss, &hl->loopback) < 0) {
        snprintf(err, errlen, "http: \"%s\" is not HOST:PORT or a socket "
                 "path", addr);
        return -EINVAL;
    }
    if (!hl->loopback && !hl->srv->cfg->master_key) {
        snprintf(err, errlen, "http: %s is not a loopback address; serving "
                 "it needs general_settings.master_key (anyone who reaches "
                 "it could spend on your keys)", addr);
        return -EPERM;
    }
    uv_tcp_init(hl->srv->loop, &hl->h.tcp);
    if ((r = uv_tcp_bind(&hl->h.tcp, (struct sockaddr *)&ss, 0)) < 0)
        snprintf(err, errlen, "cannot bind %s: %s", addr, uv_strerror(r));
    return r;
}

/* An fd from systemd: a Unix or a TCP listening socket. */
static int open_inherited(struct http_listener *hl, int fd, char *err,
                          size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int r;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    hl->inherited = 1;
    if (ss.ss_family == AF_UNIX) {
        hl->is_unix = 1;
        uv_pipe_init(hl->srv->loop, &hl->h.pipe, 0);
        r = uv_pipe_open(&hl->h.pipe, fd);
    } else {
        hl->loopback = ss.ss_family == AF_INET ?
            (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127 :
            IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
        if (!hl->loopback && !hl->srv->cfg->master_key) {
            snprintf(err, errlen, "http: the socket from systemd is not on "
                     "a loopback address; it needs "
                     "general_settings.master_key");
            return -EPERM;
        }
        uv_tcp_init(hl->srv->loop, &hl->h.tcp);
        r = uv_tcp_open(&hl->h.tcp, fd);
    }
    if (r < 0)
        snprintf(err, errlen, "cannot use the http socket from systemd: %s",
                 uv_strerror(r));
    return r;
}

static char *listener_name(struct http_listener *hl)
{
    char host[INET6_ADDRSTRLEN + 16], path[256];
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    size_t plen = sizeof(path) - 1;

    if (hl->is_unix) {
        if (uv_pipe_getsockname(&hl->h.pipe, path, &plen) < 0)
            return strdup("(unix socket)");
        path[plen] = '\0';
        return strdup(path);
    }
    if (uv_tcp_getsockname(&hl->h.tcp, (struct sockaddr *)&ss, &len) < 0)
        return strdup("(tcp socket)");
    if (ss.ss_family == AF_INET6) {
        char a[INET6_ADDRSTRLEN];

        uv_ip6_name((struct sockaddr_in6 *)&ss, a, sizeof(a));
        snprintf(host, sizeof(host), "[%s]:%d", a,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        char a[INET_ADDRSTRLEN];

        uv_ip4_name((struct sockaddr_in *)&ss, a, sizeof(a));
        snprintf(host, sizeof(host), "%s:%d", a,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    return strdup(host);
}

static void listener_closed(uv_handle_t *h)
{
    struct http_listener *hl = h->data;

    free(hl->name);
    free(hl);
}

int http_listen(struct server *s, const char *addr, int inherited_fd,
                char *err, size_t errlen)
{
    struct http_listener *hl;
    int r;

    if (s->nhttp >= HTTP_MAX_LISTENERS) {
        snprintf(err, errlen, "http: at most %d listeners",
                 HTTP_MAX_LISTENERS);
        return -ENOSPC;
    }
    if ((hl = calloc(1, sizeof(*hl))) == NULL)
        return -ENOMEM;
    hl->srv = s;
    if (inherited_fd >= 0)
        r = open_inherited(hl, inherited_fd, err, errlen);
    else if (addr[0] == '/') {
        hl->is_unix = 1;
        r = bind_unix(hl, addr, err, errlen);
    } else
        r = bind_tcp(hl, addr, err, errlen);
    hl->h.handle.data = hl;
    if (r == 0 && (r = uv_listen(&hl->h.stream, 128, http_on_connection)) < 0)
        snprintf(err, errlen, "cannot listen on %s: %s",
                 addr ? addr : "the http socket", uv_strerror(r));
    if (r < 0) {
        if (hl->h.handle.type != UV_UNKNOWN_HANDLE && hl->h.handle.loop)
            uv_close(&hl->h.handle, listener_closed);
        else
            free(hl);
        return r;
    }
    hl->name = listener_name(hl);
    s->http[s->nhttp++] = hl;
    return 0;
}

void http_stop_listening(struct server *s)
{
    for (size_t i = 0; i < s->nhttp; i++) {
        struct http_listener *hl = s->http[i];

        if (hl->is_unix && !hl->inherited && hl->name)
            (void)unlink(hl->name);
        uv_close(&hl->h.handle, listener_closed);
    }
    s->nhttp = 0;
}
