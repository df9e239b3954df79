/*
 * dns_hosts - the hosts-file half of the dns module (see dns.h): what the
 * system resolver's "files" source answers before DNS (nsswitch "hosts:
 * files dns"), for client names: address to name, and name to addresses
 * for the forward check.
 *
 * A dns_hosts owns the parsed copy of one file. The file is read on first
 * use and again whenever its identity, size or modification time changes
 * (one stat per lookup, or per pin: a pinned reader answers a group of
 * lookups from one check), so a long-running process sees edits. Input is
 * bounded (DNS_HOSTS_FILE_MAX bytes, DNS_HOSTS_NAMES_MAX names a line);
 * lines whose address does not parse and names that are not valid host
 * names are skipped, as are lines holding NUL bytes. A missing file is an
 * empty one; an unreadable or oversized one is warned about once per
 * change and treated as empty: the caller then asks DNS. Nothing exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dns.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define DNS_HOSTS_FILE_MAX  (1024 * 1024)
#define DNS_HOSTS_NAMES_MAX 35          /* glibc's MAXALIASES, plus one */

/* One usable line: an address and its names (canonical name first). */
struct dns_hosts_line {
    dns_addr addr;
    char **names;
    size_t nnames;
};

struct dns_hosts {
    char *path;
    bool loaded;                /* the fields below describe a read */
    bool present;               /* the file existed */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool pinned;                /* no stat until dns_hosts_unpin */
    struct dns_hosts_line *line;
    size_t nline, cap;
};

/* dns_hosts_new - a reader of path; nothing is read yet. */
dns_hosts *dns_hosts_new(const char *path)
{
    dns_hosts *h = xcalloc(1, sizeof(*h));

    h->path = xstrdup(path);
    return h;
}

/* dns_hosts_clear - forget the parsed lines. */
static void dns_hosts_clear(dns_hosts *h)
{
    for (size_t i = 0; i < h->nline; i++) {
        for (size_t j = 0; j < h->line[i].nnames; j++)
            free(h->line[i].names[j]);
        free(h->line[i].names);
    }
    free(h->line);
    h->line = NULL;
    h->nline = h->cap = 0;
}

/* dns_hosts_free - release the reader and its lines. */
void dns_hosts_free(dns_hosts *h)
{
    if (h == NULL)
        return;
    dns_hosts_clear(h);
    free(h->path);
    free(h);
}

/* dns_hosts_tokens - split one line (comment cut) into at most max tokens. */
static size_t dns_hosts_tokens(char *text, char **tok, size_t max)
{
    size_t n = 0;
    char *save = NULL, *t;

    text[strcspn(text, "#")] = '\0';
    for (t = strtok_r(text, " \t\r\f\v", &save); t && n < max;
         t = strtok_r(NULL, " \t\r\f\v", &save))
        tok[n++] = t;
    return n;
}

/* dns_hosts_line - parse one line of len bytes; keep it when usable. */
static void dns_hosts_line(dns_hosts *h, const char *text, size_t len)
{
    char *copy, *tok[DNS_HOSTS_NAMES_MAX + 1];
    struct dns_hosts_line l = {0};
    size_t n;

    if (memchr(text, '\0', len) != NULL)
        return;                         /* a NUL byte: not a hosts line */
    copy = xstrndup(text, len);
    n = dns_hosts_tokens(copy, tok, DNS_HOSTS_NAMES_MAX + 1);
    if (n >= 2 && dns_addr_literal(tok[0], &l.addr) == 0) {
        l.names = xcalloc(n - 1, sizeof(*l.names));
        for (size_t i = 1; i < n; i++)
            if (dns_name_valid(tok[i]))
                l.names[l.nnames++] = xstrdup(tok[i]);
    }
    free(copy);
    if (l.nnames == 0) {
        free(l.names);
        return;
    }
    if (h->nline == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->line = xreallocarray(h->line, h->cap, sizeof(*h->line));
    }
    h->line[h->nline++] = l;
}

/* dns_hosts_read - the whole file of fd (at most max bytes) into buf. */
static int dns_hosts_read(int fd, strbuf *buf)
{
    char chunk[8192];
    ssize_t n;

    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (sb_append(buf, chunk, (size_t)n) < 0) {
            errno = EFBIG;
            return -1;
        }
    }
    return 0;
}

/* dns_hosts_parse - read and parse the open file; warn when unusable. */
static void dns_hosts_parse(dns_hosts *h, int fd)
{
    strbuf buf;
    const char *p, *end, *nl;

    sb_init(&buf, DNS_HOSTS_FILE_MAX);
    if (dns_hosts_read(fd, &buf) < 0) {
        msg_warn("read %s: %m%s; client names come from DNS only", h->path,
                 errno == EFBIG ? " (larger than 1 MiB)" : "");
        sb_release(&buf);
        return;
    }
    p = sb_str(&buf);
    end = p + sb_len(&buf);
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        dns_hosts_line(h, p, (size_t)(nl - p));
    }
    sb_release(&buf);
}

/* dns_hosts_same - st describes the file read last time. */
static bool dns_hosts_same(const dns_hosts *h, const struct stat *st)
{
    return h->loaded && h->present && h->dev == st->st_dev
        && h->ino == st->st_ino && h->size == st->st_size
        && h->mtime.tv_sec == st->st_mtim.tv_sec
        && h->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* dns_hosts_refresh - (re)read the file when it is new or changed. */
static void dns_hosts_refresh(dns_hosts *h)
{
    struct stat st;
    int fd;

    if (h->pinned)
        return;
    if (stat(h->path, &st) < 0) {
        if (h->loaded && !h->present)
            return;
        if (errno != ENOENT)
            msg_warn("stat %s: %m; client names come from DNS only", h->path);
        dns_hosts_clear(h);
        h->loaded = true;
        h->present = false;
        return;
    }
    if (dns_hosts_same(h, &st))
        return;
    dns_hosts_clear(h);
    h->loaded = h->present = true;
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    h->size = st.st_size;
    h->mtime = st.st_mtim;
    if ((fd = open(h->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
        msg_warn("open %s: %m; client names come from DNS only", h->path);
        return;
    }
    dns_hosts_parse(h, fd);
    if (close(fd) < 0)
        msg_warn("close %s: %m", h->path);
}

/* dns_hosts_pin - check the file once; later lookups use that reading. */
void dns_hosts_pin(dns_hosts *h)
{
    h->pinned = false;
    dns_hosts_refresh(h);
    h->pinned = true;
}

/* dns_hosts_unpin - lookups check the file again. */
void dns_hosts_unpin(dns_hosts *h)
{
    h->pinned = false;
}

/* dns_hosts_name - canonical name of the first line listing addr. */
bool dns_hosts_name(dns_hosts *h, const dns_addr *addr, strbuf *name)
{
    size_t len = addr->family == AF_INET ? 4 : 16;

    dns_hosts_refresh(h);
    for (size_t i = 0; i < h->nline; i++) {
        const struct dns_hosts_line *l = &h->line[i];

        if (l->addr.family == addr->family
            && memcmp(l->addr.bytes, addr->bytes, len) == 0)
            return sb_set(name, l->names[0]) == 0;
    }
    return false;
}

/* dns_hosts_has - name (without a final dot) is one of l's names. */
static bool dns_hosts_has(const struct dns_hosts_line *l, const char *name,
                          size_t len)
{
    for (size_t j = 0; j < l->nnames; j++) {
        const char *n = l->names[j];
        size_t nl = strlen(n);

        if (nl > 0 && n[nl - 1] == '.')
            nl--;
        if (nl == len && strncasecmp(n, name, len) == 0)
            return true;
    }
    return false;
}

/* dns_hosts_addrs - addresses of one family listed for name (see dns.h). */
size_t dns_hosts_addrs(dns_hosts *h, const char *name, int family,
                       dns_addr *out, size_t max)
{
    size_t len = strlen(name), n = 0;

    if (len > 0 && name[len - 1] == '.')
        len--;
    dns_hosts_refresh(h);
    for (size_t i = 0; i < h->nline && n < max; i++) {
        const struct dns_hosts_line *l = &h->line[i];
        bool dup = false;

        if (l->addr.family != family || !dns_hosts_has(l, name, len))
            continue;
        for (size_t k = 0; k < n && !dup; k++)
            dup = memcmp(out[k].bytes, l->addr.bytes, sizeof(l->addr.bytes)) == 0;
        if (!dup)
            out[n++] = l->addr;
    }
    return n;
}
