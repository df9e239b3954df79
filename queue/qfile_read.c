/*
 * qfile_read - the queue file reader: validate every record, then hand
 * out the envelope, the recipients (with their status offsets) and the
 * content in chunks.
 *
 * Nothing is trusted: each record's type must be known, its length within
 * the type's limit and within the file, once-only records appear once,
 * envelope records precede the content, the version is supported, END is
 * last and its counts match. Memory is bounded by QFILE_RCPT_MAX and the
 * per-record limits; the content is never read here. Records are read
 * through a 16 KiB buffer refilled at the record that does not fit, so a
 * typical message takes one read, and one more past a large content. A
 * malformed file gives QFILE_ECORRUPT with a one-line reason naming the
 * offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "queue/qfile.h"

/* Bytes of the largest non-content record's data. */
#define QFILE_RCPT_DATA_MAX (2 + 3 * QFILE_FIELD_MAX + 2)

/* The read buffer: any record but the content fits, so one refill does. */
#define QFILE_READ_BUF 16384
_Static_assert(QFILE_REC_HDR + QFILE_RCPT_DATA_MAX <= QFILE_READ_BUF,
               "a record must fit in the read buffer");

/* The bytes [start, start + len) of the file, read ahead. */
struct qfile_rbuf {
    off_t start;
    size_t len;
    char data[QFILE_READ_BUF];
};

enum { R_ONCE = 1, R_ENV = 2, R_REQUIRED = 4 };

struct qfile_parse;
struct qfile_recdef;
typedef int (*qfile_rec_fn)(struct qfile_parse *p, const struct qfile_recdef *d,
                            const char *data, size_t len, off_t off);

struct qfile_recdef {
    int type;
    const char *name;
    uint32_t max;
    unsigned flags;
    qfile_rec_fn fn;
    size_t field;                       /* offsetof(qfile_env, ...) for text */
};

struct qfile_parse {
    qfile_msg *msg;
    struct qfile_rbuf *rb;
    strbuf *why;
    off_t size;
    uint32_t seen;                      /* bit per table index */
    bool content_seen;
    bool ended;
    uint64_t end_nrcpt;
    uint64_t end_size;
    size_t cap_rcpt;
    size_t cap_owned;
};

/* qfile_bad - record a reason; returns QFILE_ECORRUPT. */
__attribute__((format(printf, 2, 3)))
static int qfile_bad(struct qfile_parse *p, const char *fmt, ...)
{
    va_list ap;

    sb_reset(p->why);
    va_start(ap, fmt);
    (void)sb_vprintf(p->why, fmt, ap);
    va_end(ap);
    return QFILE_ECORRUPT;
}

/* qfile_own - a NUL-terminated copy owned by the message. */
static char *qfile_own(struct qfile_parse *p, const char *data, size_t len)
{
    qfile_msg *m = p->msg;
    char *s = xmalloc(len + 1);

    memcpy(s, data, len);
    s[len] = '\0';
    if (m->nowned == p->cap_owned) {
        p->cap_owned = p->cap_owned ? 2 * p->cap_owned : 32;
        m->owned = xreallocarray(m->owned, p->cap_owned, sizeof(*m->owned));
    }
    m->owned[m->nowned++] = s;
    return s;
}

/* qfile_parse_u64 - strict decimal: digits only, no sign, at most max. */
static bool qfile_parse_u64(const char *s, size_t len, uint64_t max,
                            uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* qfile_rec_version - only QFILE_VERSION is understood. */
static int qfile_rec_version(struct qfile_parse *p, const struct qfile_recdef *d,
                             const char *data, size_t len, off_t off)
{
    uint64_t v;

    (void)d;
    (void)off;
    if (!qfile_parse_u64(data, len, UINT32_MAX, &v))
        return qfile_bad(p, "malformed VERSION record");
    if (v != QFILE_VERSION)
        return qfile_bad(p, "unsupported queue file version %" PRIu64, v);
    return QFILE_OK;
}

/* qfile_rec_time - "seconds.microseconds", exactly six digits after the dot. */
static int qfile_rec_time(struct qfile_parse *p, const struct qfile_recdef *d,
                          const char *data, size_t len, off_t off)
{
    const char *dot = memchr(data, '.', len);
    uint64_t sec, usec = 0;

    (void)d;
    if (dot == NULL || (size_t)(data + len - dot - 1) != 6
        || !qfile_parse_u64(data, (size_t)(dot - data), 1000000000000ULL, &sec))
        return qfile_bad(p, "malformed TIME record at offset %lld",
                         (long long)off);
    for (int i = 1; i <= 6; i++) {
        if (dot[i] < '0' || dot[i] > '9')
            return qfile_bad(p, "malformed TIME record at offset %lld",
                             (long long)off);
        usec = usec * 10 + (uint64_t)(dot[i] - '0');
    }
    p->msg->env.arrival.tv_sec = (time_t)sec;
    p->msg->env.arrival.tv_usec = (suseconds_t)usec;
    return QFILE_OK;
}

/* qfile_rec_text - a text field of the envelope. */
static int qfile_rec_text(struct qfile_parse *p, const struct qfile_recdef *d,
                          const char *data, size_t len, off_t off)
{
    const char **field = (const char **)((char *)&p->msg->env + d->field);

    if (!qfile_text_ok(data, len))
        return qfile_bad(p, "control character in %s record at offset %lld",
                         d->name, (long long)off);
    *field = qfile_own(p, data, len);
    return QFILE_OK;
}

/* qfile_match - index of data in a NULL-terminated word list, or -1. */
static int qfile_match(const char *const *words, const char *data, size_t len)
{
    for (int i = 0; words[i] != NULL; i++)
        if (strlen(words[i]) == len && memcmp(words[i], data, len) == 0)
            return i;
    return -1;
}

/* qfile_rec_word - BODY, RET, SMTPUTF8 and EXPIRE: one word from a list. */
static int qfile_rec_word(struct qfile_parse *p, const struct qfile_recdef *d,
                          const char *data, size_t len, off_t off)
{
    static const char *const bodies[] = {"7BIT", "8BITMIME", NULL};
    static const char *const rets[] = {"FULL", "HDRS", NULL};
    static const char *const utf8[] = {"1", NULL};
    static const char *const expire[] = {"0", "1", NULL};
    qfile_env *env = &p->msg->env;
    int i;

    if (d->type == QFILE_REC_BODY) {
        if ((i = qfile_match(bodies, data, len)) >= 0)
            env->body_type = (enum qfile_body)(i + 1);
    } else if (d->type == QFILE_REC_RET) {
        if ((i = qfile_match(rets, data, len)) >= 0)
            env->ret = (enum qfile_ret)(i + 1);
    } else if (d->type == QFILE_REC_SMTPUTF8) {
        if ((i = qfile_match(utf8, data, len)) >= 0)
            env->smtputf8 = true;
    } else {
        if ((i = qfile_match(expire, data, len)) >= 0) {
            env->forced_expire = i == 1;
            p->msg->expire_offset = off + QFILE_REC_HDR;
        }
    }
    if (i < 0)
        return qfile_bad(p, "bad value in %s record at offset %lld", d->name,
                         (long long)off);
    return QFILE_OK;
}

/* qfile_rcpt_slot - room for one more recipient. */
static qfile_rcpt *qfile_rcpt_slot(struct qfile_parse *p)
{
    qfile_msg *m = p->msg;

    if (m->nrcpt == p->cap_rcpt) {
        p->cap_rcpt = p->cap_rcpt ? 2 * p->cap_rcpt : 16;
        m->rcpt = xreallocarray(m->rcpt, p->cap_rcpt, sizeof(*m->rcpt));
    }
    return &m->rcpt[m->nrcpt++];
}

/* qfile_rec_rcpt - status, notify, address NUL orig NUL orcpt. */
static int qfile_rec_rcpt(struct qfile_parse *p, const struct qfile_recdef *d,
                          const char *data, size_t len, off_t off)
{
    const char *addr = data + 2, *end = data + len, *nul1, *nul2;
    char *copy;
    qfile_rcpt *r;

    (void)d;
    if (p->msg->nrcpt >= QFILE_RCPT_MAX)
        return qfile_bad(p, "more than %d recipients", QFILE_RCPT_MAX);
    if (len < 5 || !qfile_status_valid((unsigned char)data[0])
        || !qfile_notify_ok((unsigned char)data[1]))
        return qfile_bad(p, "malformed RCPT record at offset %lld",
                         (long long)off);
    nul1 = memchr(addr, '\0', (size_t)(end - addr));
    nul2 = nul1 ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
    if (nul1 == NULL || nul2 == NULL || nul1 == addr
        || !qfile_text_ok(addr, (size_t)(nul1 - addr))
        || !qfile_text_ok(nul1 + 1, (size_t)(nul2 - nul1 - 1))
        || !qfile_text_ok(nul2 + 1, (size_t)(end - nul2 - 1)))
        return qfile_bad(p, "malformed RCPT record at offset %lld",
                         (long long)off);
    copy = qfile_own(p, addr, len - 2);
    r = qfile_rcpt_slot(p);
    r->address = copy;
    r->orig = copy + (nul1 - addr) + 1;
    r->orcpt = copy + (nul2 - addr) + 1;
    r->status = (unsigned char)data[0];
    r->notify = (unsigned char)data[1];
    r->status_offset = off + QFILE_REC_HDR;
    if (r->status == QFILE_RCPT_PENDING)
        p->msg->npending++;
    return QFILE_OK;
}

/* qfile_rec_content - note where the content is; it is not read. */
static int qfile_rec_content(struct qfile_parse *p, const struct qfile_recdef *d,
                             const char *data, size_t len, off_t off)
{
    (void)d;
    (void)data;
    p->msg->content_offset = off + QFILE_REC_HDR;
    p->msg->content_size = len;
    return QFILE_OK;
}

/* qfile_rec_end - "nrcpt content_size"; must be the last bytes of the file. */
static int qfile_rec_end(struct qfile_parse *p, const struct qfile_recdef *d,
                         const char *data, size_t len, off_t off)
{
    const char *sp = memchr(data, ' ', len);

    (void)d;
    if (sp == NULL
        || !qfile_parse_u64(data, (size_t)(sp - data), QFILE_RCPT_MAX,
                            &p->end_nrcpt)
        || !qfile_parse_u64(sp + 1, (size_t)(data + len - sp - 1),
                            QFILE_CONTENT_MAX, &p->end_size))
        return qfile_bad(p, "malformed END record at offset %lld",
                         (long long)off);
    if (off + QFILE_REC_HDR + (off_t)len != p->size)
        return qfile_bad(p, "data after END record at offset %lld",
                         (long long)(off + QFILE_REC_HDR + (off_t)len));
    p->ended = true;
    return QFILE_OK;
}

#define ENV_FIELD(f) offsetof(qfile_env, f)

static const struct qfile_recdef qfile_recdefs[] = {
    {QFILE_REC_VERSION, "VERSION", 16, R_ONCE | R_ENV | R_REQUIRED, qfile_rec_version, 0},
    {QFILE_REC_TIME, "TIME", 32, R_ONCE | R_ENV | R_REQUIRED, qfile_rec_time, 0},
    {QFILE_REC_SENDER, "SENDER", QFILE_FIELD_MAX, R_ONCE | R_ENV | R_REQUIRED,
     qfile_rec_text, ENV_FIELD(sender)},
    {QFILE_REC_CLIENT_NAME, "CLIENT_NAME", QFILE_FIELD_MAX, R_ONCE | R_ENV,
     qfile_rec_text, ENV_FIELD(client_name)},
    {QFILE_REC_CLIENT_ADDR, "CLIENT_ADDR", QFILE_FIELD_MAX, R_ONCE | R_ENV,
     qfile_rec_text, ENV_FIELD(client_addr)},
    {QFILE_REC_HELO, "HELO", QFILE_FIELD_MAX, R_ONCE | R_ENV, qfile_rec_text,
     ENV_FIELD(helo)},
    {QFILE_REC_PROTOCOL, "PROTOCOL", QFILE_FIELD_MAX, R_ONCE | R_ENV,
     qfile_rec_text, ENV_FIELD(protocol)},
    {QFILE_REC_SASL_METHOD, "SASL_METHOD", QFILE_FIELD_MAX, R_ONCE | R_ENV,
     qfile_rec_text, ENV_FIELD(sasl_method)},
    {QFILE_REC_SASL_USER, "SASL_USER", QFILE_FIELD_MAX, R_ONCE | R_ENV,
     qfile_rec_text, ENV_FIELD(sasl_username)},
    {QFILE_REC_ENVID, "ENVID", QFILE_FIELD_MAX, R_ONCE | R_ENV, qfile_rec_text,
     ENV_FIELD(envid)},
    {QFILE_REC_BODY, "BODY", 16, R_ONCE | R_ENV, qfile_rec_word, 0},
    {QFILE_REC_SMTPUTF8, "SMTPUTF8", 16, R_ONCE | R_ENV, qfile_rec_word, 0},
    {QFILE_REC_RET, "RET", 16, R_ONCE | R_ENV, qfile_rec_word, 0},
    {QFILE_REC_EXPIRE, "EXPIRE", 1, R_ONCE | R_ENV | R_REQUIRED, qfile_rec_word, 0},
    {QFILE_REC_RCPT, "RCPT", QFILE_RCPT_DATA_MAX, 0, qfile_rec_rcpt, 0},
    {QFILE_REC_CONTENT, "CONTENT", QFILE_CONTENT_MAX, R_ONCE | R_REQUIRED,
     qfile_rec_content, 0},
    {QFILE_REC_END, "END", 64, R_ONCE | R_REQUIRED, qfile_rec_end, 0},
};

#define QFILE_NDEFS (sizeof(qfile_recdefs) / sizeof(qfile_recdefs[0]))

/* qfile_recdef_find - the table entry for a record type, or NULL. */
static const struct qfile_recdef *qfile_recdef_find(int type, uint32_t *bit)
{
    for (size_t i = 0; i < QFILE_NDEFS; i++)
        if (qfile_recdefs[i].type == type) {
            *bit = UINT32_C(1) << i;
            return &qfile_recdefs[i];
        }
    return NULL;
}

/*
 * qfile_fetch - need bytes at off, from the buffer or by refilling it from
 * off with as much of the file as fits (need <= QFILE_READ_BUF, and the
 * caller has checked off + need against the size): 0 with *out set, -1
 * on a read error, 1 when the file ends early (it shrank).
 */
static int qfile_fetch(struct qfile_parse *p, off_t off, size_t need,
                       const char **out)
{
    struct qfile_rbuf *rb = p->rb;
    size_t want, got = 0;

    if (need == 0 || (off >= rb->start
                      && (uint64_t)(off - rb->start) + need <= rb->len)) {
        *out = rb->data + (need ? off - rb->start : 0);
        return 0;
    }
    want = p->size - off < QFILE_READ_BUF ? (size_t)(p->size - off)
        : QFILE_READ_BUF;
    if (want < need)
        want = need;
    rb->start = off;
    rb->len = 0;
    while (got < need) {
        ssize_t n = pread(p->msg->fd, rb->data + got, want - got,
                          off + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        got += (size_t)n;
    }
    rb->len = got;
    *out = rb->data;
    return 0;
}

/* qfile_header - read and check one record header at off. */
static int qfile_header(struct qfile_parse *p, off_t off,
                        const struct qfile_recdef **def, uint32_t *len)
{
    const unsigned char *hdr;
    const char *raw;
    uint32_t bit;
    int ret;

    if (p->size - off < QFILE_REC_HDR)
        return qfile_bad(p, "truncated record header at offset %lld",
                         (long long)off);
    if ((ret = qfile_fetch(p, off, QFILE_REC_HDR, &raw)) != 0)
        return ret < 0 ? QFILE_ESYS
            : qfile_bad(p, "file shrank at offset %lld", (long long)off);
    hdr = (const unsigned char *)raw;
    *len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16
        | (uint32_t)hdr[3] << 8 | hdr[4];
    if ((*def = qfile_recdef_find(hdr[0], &bit)) == NULL)
        return qfile_bad(p, "unknown record type 0x%02x at offset %lld",
                         hdr[0], (long long)off);
    if (off == 0 && hdr[0] != QFILE_REC_VERSION)
        return qfile_bad(p, "not a queue file: no VERSION record");
    if (*len > (*def)->max)
        return qfile_bad(p, "overlong %s record (%" PRIu32 " bytes) at offset %lld",
                         (*def)->name, *len, (long long)off);
    if ((off_t)*len > p->size - off - QFILE_REC_HDR)
        return qfile_bad(p, "truncated %s record at offset %lld",
                         (*def)->name, (long long)off);
    if (((*def)->flags & R_ONCE) && (p->seen & bit))
        return qfile_bad(p, "duplicate %s record at offset %lld",
                         (*def)->name, (long long)off);
    if (((*def)->flags & R_ENV) && p->content_seen)
        return qfile_bad(p, "%s record after content at offset %lld",
                         (*def)->name, (long long)off);
    p->seen |= bit;
    return QFILE_OK;
}

/* qfile_records - walk the file record by record until END. */
static int qfile_records(struct qfile_parse *p)
{
    const char *data = "";
    const struct qfile_recdef *def = NULL;
    uint32_t len = 0;
    off_t off = 0;
    int ret;

    while (!p->ended) {
        if (off == p->size)
            return qfile_bad(p, "missing END record");
        if ((ret = qfile_header(p, off, &def, &len)) != QFILE_OK)
            return ret;
        if (def->type == QFILE_REC_CONTENT) {
            p->content_seen = true;
            data = "";
        } else if ((ret = qfile_fetch(p, off + QFILE_REC_HDR, len,
                                      &data)) != 0) {
            return ret < 0 ? QFILE_ESYS
                : qfile_bad(p, "file shrank at offset %lld", (long long)off);
        }
        if ((ret = def->fn(p, def, data, len, off)) != QFILE_OK)
            return ret;
        off += QFILE_REC_HDR + (off_t)len;
    }
    return QFILE_OK;
}

/* qfile_check_totals - required records present, END's counts agree. */
static int qfile_check_totals(struct qfile_parse *p)
{
    for (size_t i = 0; i < QFILE_NDEFS; i++)
        if ((qfile_recdefs[i].flags & R_REQUIRED)
            && !(p->seen & (UINT32_C(1) << i)))
            return qfile_bad(p, "missing %s record", qfile_recdefs[i].name);
    if (p->msg->nrcpt == 0)
        return qfile_bad(p, "no recipients");
    if (p->end_nrcpt != p->msg->nrcpt)
        return qfile_bad(p, "recipient count mismatch: END says %" PRIu64
                         ", found %zu", p->end_nrcpt, p->msg->nrcpt);
    if (p->end_size != p->msg->content_size)
        return qfile_bad(p, "content size mismatch: END says %" PRIu64
                         ", content has %" PRIu64, p->end_size,
                         p->msg->content_size);
    return QFILE_OK;
}

/* qfile_msg_new - an empty message: every text field "". */
static qfile_msg *qfile_msg_new(int fd)
{
    qfile_msg *m = xcalloc(1, sizeof(*m));

    m->fd = fd;
    m->env.sender = m->env.client_name = m->env.client_addr = "";
    m->env.helo = m->env.protocol = m->env.sasl_method = "";
    m->env.sasl_username = m->env.envid = "";
    return m;
}

/* qfile_read_fd - validate the queue file open as fd. */
int qfile_read_fd(int fd, qfile_msg **out, strbuf *why)
{
    struct qfile_parse p;
    struct qfile_rbuf rb;
    struct stat st;
    strbuf local;
    int ret;

    *out = NULL;
    sb_init(&local, 512);
    memset(&p, 0, sizeof(p));
    p.why = why ? why : &local;
    sb_reset(p.why);
    if (fstat(fd, &st) < 0) {
        (void)sb_printf(p.why, "fstat: %s", strerror(errno));
        sb_release(&local);
        return QFILE_ESYS;
    }
    p.size = st.st_size;
    p.msg = qfile_msg_new(fd);
    rb.start = 0;
    rb.len = 0;
    p.rb = &rb;
    if (!S_ISREG(st.st_mode))
        ret = qfile_bad(&p, "not a regular file");
    else if ((ret = qfile_records(&p)) == QFILE_OK)
        ret = qfile_check_totals(&p);
    if (ret == QFILE_ESYS && sb_len(p.why) == 0)
        (void)sb_printf(p.why, "read: %s", strerror(errno));
    if (ret != QFILE_OK)
        qfile_close(p.msg);
    else
        *out = p.msg;
    sb_release(&local);
    return ret;
}

/* qfile_open - open (never through a symlink) and validate. */
int qfile_open(const char *path, int flags, qfile_msg **out, strbuf *why)
{
    int fd = open(path, (flags & O_ACCMODE) | O_CLOEXEC | O_NOFOLLOW
                  | O_NOCTTY | O_NONBLOCK);
    int ret;

    *out = NULL;
    if (fd < 0) {
        int saved = errno;

        if (why) {
            sb_reset(why);
            (void)sb_printf(why, "open %s: %s", path, strerror(saved));
        }
        errno = saved;
        return saved == ELOOP ? QFILE_ECORRUPT : QFILE_ESYS;
    }
    if ((ret = qfile_read_fd(fd, out, why)) != QFILE_OK) {
        (void)close(fd);
        return ret;
    }
    (*out)->close_fd = true;
    return QFILE_OK;
}

/* qfile_read_content - bounded pread inside the content region. */
ssize_t qfile_read_content(const qfile_msg *msg, uint64_t pos, void *buf,
                           size_t len)
{
    ssize_t n;

    if (pos >= msg->content_size)
        return 0;
    if (len > msg->content_size - pos)
        len = (size_t)(msg->content_size - pos);
    do
        n = pread(msg->fd, buf, len, msg->content_offset + (off_t)pos);
    while (n < 0 && errno == EINTR);
    return n;
}

/* qfile_close - free everything the reader allocated. */
void qfile_close(qfile_msg *msg)
{
    if (msg == NULL)
        return;
    for (size_t i = 0; i < msg->nowned; i++)
        free(msg->owned[i]);
    free(msg->owned);
    free(msg->rcpt);
    if (msg->close_fd && msg->fd >= 0)
        (void)close(msg->fd);
    free(msg);
}
