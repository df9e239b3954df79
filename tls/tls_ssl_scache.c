/*
 * tls_scache - the smtp client's TLS session cache, shared by every smtp
 * process through one spool directory ($queue_directory/private/
 * smtp_scache, mode 0700, created on first use).
 *
 * One file per key: its name is the SHA-256 of the key in hex (the key
 * names server, port, SNI and policy, so a session made under a weak
 * policy is never offered under a stronger one), its content the DER
 * session (at most TLS_SCACHE_FILE_MAX bytes). A file is written to a
 * temporary name and renamed over the old one, so readers see a whole
 * entry or none. Entries older than smtp_tls_session_cache_timeout are
 * ignored and removed when a new entry is saved; the directory holds at
 * most TLS_SCACHE_ENTRIES files (a new session is not saved beyond
 * that). Every problem only costs a full handshake: it is logged once
 * per process and never fails a delivery. Owns the directory name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tls/tls_ssl.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define TLS_SCACHE_FILE_MAX 16384       /* bytes of one DER session */
#define TLS_SCACHE_ENTRIES  1000        /* files in the directory */
#define TLS_SCACHE_SCAN     4096        /* directory entries looked at */
#define TLS_SCACHE_PATH     4096

/* tls_scache_init - remember dir (copied) and the lifetime. */
void tls_scache_init(struct tls_scache *sc, const char *dir, long timeout)
{
    sc->dir = dir != NULL && timeout > 0 ? xstrdup(dir) : NULL;
    sc->timeout = timeout;
    sc->warned = false;
}

/* tls_scache_release - forget the directory. */
void tls_scache_release(struct tls_scache *sc)
{
    free(sc->dir);
    sc->dir = NULL;
}

/* tls_scache_warn - log a cache problem once per process. */
static void tls_scache_warn(struct tls_scache *sc, const char *what,
                            const char *path)
{
    if (!sc->warned)
        msg_warn("TLS session cache: %s %s: %m (sessions are not reused)",
                 what, path);
    sc->warned = true;
}

/* tls_scache_path - dir/hex(sha256(key)) into out; 0 or -1. */
static int tls_scache_path(const struct tls_scache *sc, const char *key,
                           strbuf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL) != 1)
        return -1;
    if (sb_printf(out, "%s/", sc->dir) < 0)
        return -1;
    for (unsigned int i = 0; i < n; i++)
        if (sb_printf(out, "%02x", md[i]) < 0)
            return -1;
    return 0;
}

/* tls_scache_read - the whole (bounded) file at fd into buf; its size. */
static ssize_t tls_scache_read(int fd, unsigned char *buf, size_t size)
{
    size_t got = 0;
    ssize_t n;

    while (got < size) {
        if ((n = read(fd, buf + got, size - got)) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* tls_scache_fresh - regular, bounded and young enough? */
static bool tls_scache_fresh(const struct tls_scache *sc, const struct stat *st)
{
    time_t now = time(NULL);

    return S_ISREG(st->st_mode) && st->st_size > 0
        && st->st_size <= TLS_SCACHE_FILE_MAX && st->st_mtime <= now + 60
        && now - st->st_mtime <= sc->timeout;
}

/* tls_scache_load - the session stored for key if fresh and resumable. */
SSL_SESSION *tls_scache_load(struct tls_scache *sc, const char *key)
{
    unsigned char *buf;
    const unsigned char *p;
    SSL_SESSION *sess = NULL;
    struct stat st;
    strbuf path;
    ssize_t n;
    int fd;

    if (sc->dir == NULL)
        return NULL;
    sb_init(&path, TLS_SCACHE_PATH);
    if (tls_scache_path(sc, key, &path) < 0
        || (fd = open(sb_str(&path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        sb_release(&path);
        return NULL;
    }
    buf = xmalloc(TLS_SCACHE_FILE_MAX);
    if (fstat(fd, &st) == 0 && tls_scache_fresh(sc, &st)
        && (n = tls_scache_read(fd, buf, TLS_SCACHE_FILE_MAX)) == st.st_size) {
        p = buf;
        sess = d2i_SSL_SESSION(NULL, &p, (long)n);
        if (sess != NULL && (SSL_SESSION_is_resumable(sess) != 1
            || SSL_SESSION_get_time(sess) + SSL_SESSION_get_timeout(sess)
               < time(NULL))) {
            SSL_SESSION_free(sess);
            sess = NULL;
        }
    }
    (void)close(fd);
    free(buf);
    sb_release(&path);
    return sess;
}

/* tls_scache_prune - remove expired entries; true when there is room. */
static bool tls_scache_prune(struct tls_scache *sc)
{
    DIR *d = opendir(sc->dir);
    struct dirent *e;
    struct stat st;
    size_t kept = 0;

    if (d == NULL) {
        tls_scache_warn(sc, "open directory", sc->dir);
        return false;
    }
    for (size_t i = 0; i < TLS_SCACHE_SCAN && (e = readdir(d)) != NULL; i++) {
        if (e->d_name[0] == '.')
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (tls_scache_fresh(sc, &st))
            kept++;
        else
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    (void)closedir(d);
    return kept < TLS_SCACHE_ENTRIES;
}

/* tls_scache_write - data to a temporary file renamed to path. */
static int tls_scache_write(struct tls_scache *sc, const char *path,
                            const unsigned char *data, size_t len)
{
    strbuf tmp;
    ssize_t n;
    int fd, rc = -1;

    sb_init(&tmp, TLS_SCACHE_PATH);
    if (sb_printf(&tmp, "%s/.tmp.%ld", sc->dir, (long)getpid()) < 0)
        goto out;
    if ((fd = open(sb_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
                   | O_NOFOLLOW, 0600)) < 0) {
        tls_scache_warn(sc, "create", sb_str(&tmp));
        goto out;
    }
    n = write(fd, data, len);
    if (close(fd) != 0 || n != (ssize_t)len) {
        tls_scache_warn(sc, "write", sb_str(&tmp));
        (void)unlink(sb_str(&tmp));
    } else if (rename(sb_str(&tmp), path) != 0) {
        tls_scache_warn(sc, "rename to", path);
        (void)unlink(sb_str(&tmp));
    } else {
        rc = 0;
    }
out:
    sb_release(&tmp);
    return rc;
}

/* tls_scache_save - store a resumable session under key. */
void tls_scache_save(struct tls_scache *sc, const char *key, SSL_SESSION *sess)
{
    unsigned char *buf, *p;
    strbuf path;
    int len;

    if (sc->dir == NULL || SSL_SESSION_is_resumable(sess) != 1)
        return;
    if ((len = i2d_SSL_SESSION(sess, NULL)) <= 0 || len > TLS_SCACHE_FILE_MAX)
        return;
    if (mkdir(sc->dir, 0700) != 0 && errno != EEXIST) {
        tls_scache_warn(sc, "create directory", sc->dir);
        return;
    }
    if (!tls_scache_prune(sc))
        return;
    sb_init(&path, TLS_SCACHE_PATH);
    buf = xmalloc((size_t)len);
    p = buf;
    if (tls_scache_path(sc, key, &path) == 0
        && i2d_SSL_SESSION(sess, &p) == len)
        (void)tls_scache_write(sc, sb_str(&path), buf, (size_t)len);
    free(buf);
    sb_release(&path);
}
