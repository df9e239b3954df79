/*
 * master_listen - bind and listen for master.cf services (see master_listen.h).
 *
 * Owns the descriptors and strings of a struct master_listen until
 * master_listen_close. Name resolution uses getaddrinfo on the host part
 * only (ports are numeric by then); an address family the kernel lacks
 * (no IPv6) is skipped, any other failure is an error naming the address.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "master/master_listen.h"

#define LISTEN_BACKLOG 128

struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

struct listen_addrs {
    struct listen_addr a[MASTER_LISTEN_MAX];
    size_t n;
    bool v4, v6;                /* from inet_protocols */
};

/* addrs_protocols - inet_protocols into the v4/v6 switches. */
static int addrs_protocols(struct listen_addrs *as, const char *const *protocols,
                           strbuf *why)
{
    as->v4 = as->v6 = false;
    for (size_t i = 0; protocols && protocols[i]; i++) {
        if (strcmp(protocols[i], "all") == 0)
            as->v4 = as->v6 = true;
        else if (strcmp(protocols[i], "ipv4") == 0)
            as->v4 = true;
        else if (strcmp(protocols[i], "ipv6") == 0)
            as->v6 = true;
        else {
            sb_printf(why, "inet_protocols: unknown protocol \"%s\"", protocols[i]);
            return -1;
        }
    }
    if (!as->v4 && !as->v6)
        as->v4 = as->v6 = true;
    return 0;
}

/* addrs_add - append one address unless it is already there. */
static int addrs_add(struct listen_addrs *as, const struct sockaddr *sa,
                     socklen_t len, strbuf *why)
{
    for (size_t i = 0; i < as->n; i++)
        if (as->a[i].len == len && memcmp(&as->a[i].ss, sa, len) == 0)
            return 0;
    if (as->n >= MASTER_LISTEN_MAX || len > sizeof(as->a[0].ss)) {
        sb_printf(why, "more than %d listen addresses", MASTER_LISTEN_MAX);
        return -1;
    }
    memcpy(&as->a[as->n].ss, sa, len);
    as->a[as->n++].len = len;
    return 0;
}

/* addrs_resolve - add every address of a host name or literal. */
static int addrs_resolve(struct listen_addrs *as, const char *host, int port,
                         strbuf *why)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    char portstr[16], name[256];
    size_t hl = strlen(host);
    int err, rc = 0;

    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        if (fmt_fixed(name, sizeof(name), "%.*s", (int)(hl - 2), host + 1) < 0)
            return sb_printf(why, "host name too long: %s", host), -1;
    } else if (fmt_fixed(name, sizeof(name), "%s", host) < 0) {
        return sb_printf(why, "host name too long: %s", host), -1;
    }
    hints.ai_family = as->v4 && as->v6 ? AF_UNSPEC : as->v4 ? AF_INET : AF_INET6;
    if (fmt_fixed(portstr, sizeof(portstr), "%d", port) < 0)
        return -1;
    err = getaddrinfo(name, portstr, &hints, &res);
    if (err != 0) {
        sb_printf(why, "look up host %s: %s", name, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai && rc == 0; ai = ai->ai_next)
        rc = addrs_add(as, ai->ai_addr, ai->ai_addrlen, why);
    freeaddrinfo(res);
    return rc;
}

/* addrs_special - "all" and "loopback-only" of inet_interfaces. */
static int addrs_special(struct listen_addrs *as, const char *what, int port,
                         strbuf *why)
{
    bool loop = strcmp(what, "loopback-only") == 0;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons((uint16_t)port)};

    v4.sin_addr.s_addr = htonl(loop ? INADDR_LOOPBACK : INADDR_ANY);
    v6.sin6_addr = loop ? in6addr_loopback : in6addr_any;
    if (as->v4 && addrs_add(as, (struct sockaddr *)&v4, sizeof(v4), why) < 0)
        return -1;
    if (as->v6 && addrs_add(as, (struct sockaddr *)&v6, sizeof(v6), why) < 0)
        return -1;
    return 0;
}

/* addrs_collect - every address an inet service listens on. */
static int addrs_collect(struct listen_addrs *as, const char *host, int port,
                         const char *const *interfaces,
                         const char *const *protocols, strbuf *why)
{
    static const char *const all[] = {"all", NULL};

    as->n = 0;
    if (port <= 0 || port > 65535)
        return sb_printf(why, "bad port %d", port), -1;
    if (addrs_protocols(as, protocols, why) < 0)
        return -1;
    if (host)
        return addrs_resolve(as, host, port, why);
    if (interfaces == NULL || interfaces[0] == NULL)
        interfaces = all;
    for (size_t i = 0; interfaces[i]; i++) {
        int rc = strcmp(interfaces[i], "all") == 0
            || strcmp(interfaces[i], "loopback-only") == 0
            ? addrs_special(as, interfaces[i], port, why)
            : addrs_resolve(as, interfaces[i], port, why);

        if (rc < 0)
            return -1;
    }
    return 0;
}

/* addr_text - "1.2.3.4:25" or "[::1]:25" for keys and messages. */
static void addr_text(const struct listen_addr *a, strbuf *out)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo((const struct sockaddr *)&a->ss, a->len, host, sizeof(host),
                    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        (void)sb_puts(out, "?");
        return;
    }
    (void)sb_printf(out, a->ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                    host, serv);
}

/* addrs_key - the canonical key of an address list. */
static int addrs_key(const struct listen_addrs *as, strbuf *key)
{
    sb_reset(key);
    (void)sb_puts(key, "inet");
    for (size_t i = 0; i < as->n; i++) {
        (void)sb_putc(key, ' ');
        addr_text(&as->a[i], key);
    }
    return 0;
}

/* master_listen_inet_key - the key of host/port without binding. */
int master_listen_inet_key(const char *host, int port,
                           const char *const *interfaces,
                           const char *const *protocols, strbuf *key,
                           strbuf *why)
{
    struct listen_addrs as;

    if (addrs_collect(&as, host, port, interfaces, protocols, why) < 0)
        return -1;
    return addrs_key(&as, key);
}

/* listen_one - a non-blocking listening TCP socket; -2 = family missing. */
static int listen_one(const struct listen_addr *a, strbuf *why)
{
    int on = 1, fd;
    strbuf name;

    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno == EAFNOSUPPORT ? -2 : (sb_printf(why, "socket: %s",
                                                       strerror(errno)), -1);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
        || (a->ss.ss_family == AF_INET6
            && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
        || bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0
        || listen(fd, LISTEN_BACKLOG) < 0) {
        int saved = errno;

        sb_init(&name, 256);
        addr_text(a, &name);
        sb_printf(why, "bind %s: %s", sb_str(&name), strerror(saved));
        sb_release(&name);
        (void)close(fd);
        return saved == EADDRNOTAVAIL && a->ss.ss_family == AF_INET6 ? -2 : -1;
    }
    return fd;
}

/* master_listen_inet - listen on every address of the service. */
int master_listen_inet(struct master_listen *ls, const char *host, int port,
                       const char *const *interfaces,
                       const char *const *protocols, strbuf *why)
{
    struct listen_addrs as;
    strbuf key;

    memset(ls, 0, sizeof(*ls));
    if (addrs_collect(&as, host, port, interfaces, protocols, why) < 0)
        return -1;
    for (size_t i = 0; i < as.n; i++) {
        int fd = listen_one(&as.a[i], why);

        if (fd == -2 && as.n > 1) {     /* e.g. no IPv6 on this host */
            sb_reset(why);
            continue;
        }
        if (fd < 0) {
            master_listen_close(ls);
            return -1;
        }
        ls->fd[ls->nfd++] = fd;
    }
    if (ls->nfd == 0)
        return sb_printf(why, "no usable listen address"), -1;
    sb_init(&key, SB_NOLIMIT);
    (void)addrs_key(&as, &key);
    ls->key = sb_detach(&key);
    sb_release(&key);
    return 0;
}

/* master_listen_unix - a listening socket file at path (mode 0666). */
int master_listen_unix(struct master_listen *ls, const char *path, strbuf *why)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strbuf key;
    mode_t old_mask;
    int fd, rc;

    memset(ls, 0, sizeof(*ls));
    if (fmt_fixed(sun.sun_path, sizeof(sun.sun_path), "%s", path) < 0)
        return sb_printf(why, "socket path too long: %s", path), -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sb_printf(why, "socket: %s", strerror(errno)), -1;
    /*
     * The socket is born 0666 (umask 0111 around bind) rather than chmod'ed
     * by name afterwards: private/ belongs to mail_owner, and root must not
     * follow a name there that another process could swap.
     */
    old_mask = umask(0111);
    rc = (unlink(path) < 0 && errno != ENOENT)
        || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0;
    (void)umask(old_mask);
    if (rc || listen(fd, LISTEN_BACKLOG) < 0) {
        sb_printf(why, "listen on %s: %s", path, strerror(errno));
        (void)close(fd);
        return -1;
    }
    ls->fd[0] = fd;
    ls->nfd = 1;
    ls->unix_path = xstrdup(path);
    sb_init(&key, SB_NOLIMIT);
    (void)sb_printf(&key, "unix %s", path);
    ls->key = sb_detach(&key);
    sb_release(&key);
    return 0;
}

/*
 * master_listen_close - release everything the set holds. Children share
 * these sockets: shutdown() stops the listening socket itself (on Linux a
 * shut-down listener refuses new connections at once and its other holders
 * see POLLHUP), so a stop really stops accepting.
 */
void master_listen_close(struct master_listen *ls)
{
    for (size_t i = 0; i < ls->nfd; i++) {
        (void)shutdown(ls->fd[i], SHUT_RDWR);   /* best effort */
        (void)close(ls->fd[i]);
    }
    if (ls->unix_path)
        (void)unlink(ls->unix_path);    /* if it fails, the next bind retries */
    free(ls->key);
    free(ls->unix_path);
    memset(ls, 0, sizeof(*ls));
}
