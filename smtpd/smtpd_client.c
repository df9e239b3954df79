/*
 * smtpd_client - who the client is and how many sessions it has open.
 *
 * Identity: the peer address (an IPv4-mapped IPv6 address is shown as
 * IPv4), the name Postfix would show (the hosts file's name, resolver_hosts_file,
 * or a PTR name, whose forward lookup gives the address back, else
 * "unknown"; see dns_fcrdns), "name[addr]" for log lines,
 * and whether it is in mynetworks.
 *
 * smtpd_client_connection_count_limit across processes, without a
 * daemon: one file per client address in private/.smtpd-clients/; each
 * session holds a write lock on one byte of it (fcntl record locks), so
 * the locked bytes are the client's open sessions, and a killed process
 * releases its byte at once. A session that finds every byte below the
 * limit taken is over the limit. The last session of a client removes the
 * file (when no other byte is locked); a session that locked a file being
 * removed sees it unlinked and starts over, so at worst a race undercounts
 * by one, never refuses wrongly. Clients in mynetworks are exempt, as with
 * Postfix's smtpd_client_event_limit_exceptions default.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "smtpd/smtpd_sess.h"

#define CONN_DIR ".smtpd-clients"
#define CONN_TRIES 3

/* client_addr - the peer's address text; "unknown" when not a socket. */
static void client_addr(smtpd_sess *s)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    const void *bytes = NULL;
    int family = 0;

    (void)fmt_fixed(s->addr, sizeof(s->addr), "unknown");
    if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        family = AF_INET;
        bytes = &((struct sockaddr_in *)&ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;

        family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
        bytes = family == AF_INET ? (const void *)(a6->s6_addr + 12) : a6;
    }
    if (bytes && inet_ntop(family, bytes, s->addr, sizeof(s->addr)) == NULL)
        (void)fmt_fixed(s->addr, sizeof(s->addr), "unknown");
}

/* smtpd_client_identify - address, verified name, namaddr, trust. */
void smtpd_client_identify(smtpd_sess *s)
{
    dns_result res;

    client_addr(s);
    sb_reset(&s->name);
    if (s->ctx->dns && strcmp(s->addr, "unknown") != 0) {
        dns_result_init(&res);
        if (dns_fcrdns(s->ctx->dns, s->addr, &s->name, &res) != DNS_OK)
            sb_reset(&s->name);
        dns_result_free(&res);
    }
    if (sb_len(&s->name) == 0)
        (void)sb_set(&s->name, "unknown");
    sb_reset(&s->namaddr);
    (void)sb_printf(&s->namaddr, "%s[%s]", sb_str(&s->name), s->addr);
    /* mynetworks as permit_mynetworks sees it; a lookup error: not trusted */
    s->trusted = s->ctx->restrictions != NULL
        && restrict_net_match(s->ctx->restrictions, sb_str(&s->name),
                              s->addr) == 1;
}

/* smtpd_client_conn_open - the lock directory; its fd, or -1 (no limit). */
int smtpd_client_conn_open(smtpd_ctx *ctx)
{
    int pfd = spool_dirfd(&ctx->sp, SPOOL_PRIVATE), fd;

    if (ctx->p.conn_limit == 0)
        return -1;
    if (pfd < 0 || (mkdirat(pfd, CONN_DIR, 0700) < 0 && errno != EEXIST)
        || (fd = openat(pfd, CONN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                        | O_CLOEXEC)) < 0) {
        msg_warn("open %s/private/%s: %m; "
                 "smtpd_client_connection_count_limit is not enforced",
                 ctx->sp.top, CONN_DIR);
        return -1;
    }
    return fd;
}

/* conn_lock - F_SETLK/F_GETLK on bytes [start, start+len) of fd. */
static int conn_lock(int fd, int cmd, short type, off_t start, off_t len,
                     struct flock *fl)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = start;
    fl->l_len = len;
    return fcntl(fd, cmd, fl);
}

/* conn_linked - fd is still the file named addr in the directory. */
static bool conn_linked(int dirfd, const char *name, int fd)
{
    struct stat a, b;

    return fstat(fd, &a) == 0
        && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0
        && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* conn_try - one attempt: 1 got a slot, 0 over the limit, -1 retry/error. */
static int conn_try(smtpd_sess *s, int dirfd)
{
    struct flock fl;
    int fd = openat(dirfd, s->addr, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                    0600);

    if (fd < 0)
        return -2;
    for (unsigned k = 0; k < s->ctx->p.conn_limit; k++) {
        if (conn_lock(fd, F_SETLK, F_WRLCK, (off_t)k, 1, &fl) < 0)
            continue;
        if (conn_linked(dirfd, s->addr, fd)) {
            s->conn_fd = fd;
            return 1;
        }
        break;                  /* removed under us: start over */
    }
    if (conn_linked(dirfd, s->addr, fd)) {
        (void)close(fd);
        return 0;
    }
    (void)close(fd);
    return -1;
}

/* smtpd_client_conn_take - claim a session slot; false when over limit. */
bool smtpd_client_conn_take(smtpd_sess *s)
{
    int dirfd = s->ctx->conn_dirfd;

    if (dirfd < 0 || s->trusted || strcmp(s->addr, "unknown") == 0)
        return true;
    for (int i = 0; i < CONN_TRIES; i++) {
        int r = conn_try(s, dirfd);

        if (r == 1)
            return true;
        if (r == 0) {
            msg_warn("Connection concurrency limit exceeded: %u from %s for "
                     "service %s", s->ctx->p.conn_limit + 1,
                     sb_str(&s->namaddr), s->ctx->service);
            return false;
        }
        if (r == -2) {
            msg_warn("open %s/private/%s/%s: %m", s->ctx->sp.top, CONN_DIR,
                     s->addr);
            return true;        /* cannot count: do not refuse */
        }
    }
    return true;
}

/* smtpd_client_conn_release - give the slot back; the last one removes. */
void smtpd_client_conn_release(smtpd_sess *s)
{
    struct flock fl;

    if (s->conn_fd < 0)
        return;
    if (conn_lock(s->conn_fd, F_GETLK, F_WRLCK, 0,
                  (off_t)s->ctx->p.conn_limit, &fl) == 0
        && fl.l_type == F_UNLCK
        && conn_linked(s->ctx->conn_dirfd, s->addr, s->conn_fd))
        (void)unlinkat(s->ctx->conn_dirfd, s->addr, 0);
    (void)close(s->conn_fd);
    s->conn_fd = -1;
}
