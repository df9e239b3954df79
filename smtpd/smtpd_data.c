/*
 * smtpd_data - DATA and BDAT: the message content, bounded where it
 * arrives. DATA content is read in line pieces of at most
 * line_length_limit bytes (longer lines are kept whole: the pieces are
 * joined again) and fed to the smtpd_dot machine, so only
 * <CR><LF>.<CR><LF> ends it and a bare CR or LF ends the session (521).
 * BDAT chunks are read by exact count. Either way the bytes go to
 * smtpd_queue_content, message_size_limit is counted on the client's
 * bytes, a NUL byte refuses the message, and 250 is sent only after
 * smtpd_queue_commit made the file durable. smtpd_data_restrictions run
 * at DATA and at the first BDAT chunk, smtpd_end_of_data_restrictions
 * once the content is in (smtpd_restrict).
 */
#include <string.h>
#include <strings.h>

#include "common/msg.h"
#include "smtpd/smtpd_dot.h"
#include "smtpd/smtpd_sess.h"

#define SMTPD_PIPE_REPLY "554 5.5.0 Error: improper use of SMTP command pipelining"
#define DATA_CHUNK 8192

/* data_take - count client content and pass it on unless refused. */
static void data_take(smtpd_sess *s, const char *buf, size_t len)
{
    struct smtpd_txn *x = &s->txn;
    uint64_t limit = s->ctx->p.size_limit;

    x->size += len;
    if (limit > 0 && x->size > limit)
        x->too_big = true;
    if (!x->too_big && !x->nul && !x->write_failed)
        (void)smtpd_queue_content(s, buf, len);
}

/* data_bare - a bare CR or LF in the content: refuse, end the session. */
static enum smtpd_result data_bare(smtpd_sess *s, bool lf)
{
    const char *what = lf ? "<LF>" : "<CR>";

    smtpd_replyf(s, "521 5.5.2 %s Error: bare %s received",
                 s->ctx->p.myhostname, what);
    msg_info("disallowed bare %s received from %s after %s", what,
             sb_str(&s->namaddr), s->where);
    smtpd_txn_reset(s);
    s->quit = true;
    return SMTPD_FAIL;
}

/* data_refuse - refuse the message at its end; reply and reject line. */
static enum smtpd_result data_refuse(smtpd_sess *s, const char *reply)
{
    smtpd_reply(s, reply);
    smtpd_log_reject(s, "END-OF-MESSAGE", reply, NULL);
    smtpd_txn_reset(s);
    return SMTPD_FAIL;
}

/* data_commit - cleanup's verdict: 250, or its 5xx/4xx reply. */
static enum smtpd_result data_commit(smtpd_sess *s)
{
    struct smtpd_txn *x = &s->txn;
    strbuf reply;

    sb_init(&reply, 1024);
    if (smtpd_queue_commit(s, &reply) < 0) {
        bool perm = sb_str(&reply)[0] == '5';

        smtpd_reply(s, sb_len(&reply) ? sb_str(&reply)
                    : "451 4.3.0 Error: queue file write error");
        sb_release(&reply);
        smtpd_txn_reset(s);
        return perm ? SMTPD_FAIL : SMTPD_FAIL_QUIET;
    }
    sb_release(&reply);
    smtpd_replyf(s, "250 2.0.0 Ok: queued as %s", x->qid);
    smtpd_txn_reset(s);
    return SMTPD_OK;
}

/* data_finish - the end of the content: refuse, or commit then 250. */
static enum smtpd_result data_finish(smtpd_sess *s)
{
    struct smtpd_txn *x = &s->txn;
    const char *why;

    s->where = "END-OF-MESSAGE";
    if (x->nul)
        return data_refuse(s, "550 5.6.0 Error: message content rejected: "
                           "NUL character in message");
    if (x->too_big)
        return data_refuse(s, "552 5.3.4 Message size exceeds fixed limit");
    if ((why = smtpd_restrict(s, RS_EOD, NULL)) != NULL) {
        smtpd_reply(s, why);    /* the engine logged the reject */
        smtpd_txn_reset(s);
        return SMTPD_FAIL;
    }
    return data_commit(s);
}

/* data_piece - one line piece as the client sent it, ending restored. */
static void data_piece(strbuf *piece, enum tio_status st, unsigned flags)
{
    if (st == TIO_OK)
        (void)sb_puts(piece, (flags & TIO_LINE_CRLF) ? "\r\n" : "\n");
}

/* data_read - run the dot machine over the content until it stops. */
static int data_read(smtpd_sess *s, smtpd_dot *dot)
{
    strbuf piece, out;
    int rc = 0;

    sb_init(&piece, s->ctx->p.line_limit + 4);
    sb_init(&out, s->ctx->p.line_limit + 8);
    while (rc == 0 && !smtpd_dot_stopped(dot)) {
        unsigned flags;
        enum tio_status st = tio_getline(s->t, &piece, s->ctx->p.line_limit,
                                         &flags);

        if (st != TIO_OK && st != TIO_TOOLONG) {
            rc = smtpd_io_status(s, st);
            break;
        }
        data_piece(&piece, st, flags);
        sb_reset(&out);
        if (smtpd_dot_feed(dot, sb_str(&piece), sb_len(&piece), &out) < 0)
            msg_panic("smtpd_dot_feed: output bound passed");
        s->txn.nul |= dot->nul;
        data_take(s, sb_str(&out), sb_len(&out));
    }
    sb_release(&piece);
    sb_release(&out);
    return rc;
}

/* smtpd_verb_data - DATA: 354, the content, then the verdict. */
enum smtpd_result smtpd_verb_data(smtpd_sess *s, const char *arg, size_t len)
{
    smtpd_dot dot;
    const char *why;

    if (s->ill_pipelining) {
        smtpd_reply(s, SMTPD_PIPE_REPLY);
        smtpd_log_reject(s, "DATA", SMTPD_PIPE_REPLY, NULL);
        s->quit = true;
        return SMTPD_FAIL;
    }
    while (len > 0 && (*arg == ' ' || *arg == '\t'))
        arg++, len--;
    if (len > 0) {
        smtpd_reply(s, "501 5.5.4 Syntax: DATA");
        return SMTPD_FAIL;
    }
    if ((why = smtpd_restrict(s, RS_DATA, NULL)) != NULL) {
        smtpd_reply(s, why);    /* the engine logged the reject */
        return SMTPD_FAIL;
    }
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    smtpd_dot_init(&dot);
    if (data_read(s, &dot) < 0) {
        smtpd_txn_reset(s);
        return SMTPD_FAIL_QUIET;
    }
    if (dot.state == SMTPD_DOT_BARE_LF || dot.state == SMTPD_DOT_BARE_CR)
        return data_bare(s, dot.state == SMTPD_DOT_BARE_LF);
    return data_finish(s);
}

/* bdat_args - "count [LAST]"; false on bad syntax. */
static bool bdat_args(const char *arg, size_t len, uint64_t *count,
                      bool *last)
{
    size_t i = 0, digits = 0;

    *count = 0;
    *last = false;
    while (i < len && arg[i] == ' ')
        i++;
    for (; i < len && arg[i] >= '0' && arg[i] <= '9'; i++, digits++) {
        if (digits >= 19)
            return false;
        *count = *count * 10 + (uint64_t)(arg[i] - '0');
    }
    while (i < len && arg[i] == ' ')
        i++;
    if (len - i == 4 && strncasecmp(arg + i, "LAST", 4) == 0) {
        *last = true;
        i += 4;
    }
    while (i < len && arg[i] == ' ')
        i++;
    return digits > 0 && i == len;
}

/* bdat_scan - line ending checks on raw chunk bytes; 1 = bare LF, 2 = CR. */
static int bdat_scan(struct smtpd_txn *x, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (x->bdat_cr && p[i] != '\n')
            return 2;
        if (p[i] == '\n' && !x->bdat_cr)
            return 1;
        if (p[i] == '\0')
            x->nul = true;
        x->bdat_cr = p[i] == '\r';
        x->bdat_lf = p[i] == '\n';
    }
    return 0;
}

/* bdat_chunk - read count bytes; keep them when keep. 0, -1 I/O, 1/2 bare. */
static int bdat_chunk(smtpd_sess *s, uint64_t count, bool keep)
{
    unsigned char buf[DATA_CHUNK];

    while (count > 0) {
        ssize_t n = tio_read(s->t, buf, count < sizeof(buf) ? (size_t)count
                             : sizeof(buf));
        int bare;

        if (n < 0)
            return smtpd_io_status(s, (enum tio_status)n);
        count -= (uint64_t)n;
        if (!keep)
            continue;
        if ((bare = bdat_scan(&s->txn, buf, (size_t)n)) != 0)
            return bare;
        data_take(s, (const char *)buf, (size_t)n);
    }
    return 0;
}

/*
 * bdat_precheck - why this chunk cannot be taken, or NULL. The first
 * chunk runs smtpd_data_restrictions; a refusal there refuses every chunk
 * of the message.
 */
static const char *bdat_precheck(smtpd_sess *s)
{
    const char *why;

    if (s->ill_pipelining) {
        s->quit = true;
        return SMTPD_PIPE_REPLY;
    }
    if (!s->txn.active)
        return "503 5.5.1 Error: need RCPT command";
    if (s->txn.nrcpt == 0)
        return "554 5.5.1 Error: no valid recipients";
    if (s->txn.bdat_failed)
        return "554 5.5.1 Error: BDAT message refused at the first chunk";
    if (!s->txn.bdat && (why = smtpd_restrict(s, RS_DATA, NULL)) != NULL) {
        s->txn.bdat_failed = true;
        return why;
    }
    return NULL;
}

/* smtpd_verb_bdat - BDAT count [LAST] (RFC 3030 CHUNKING). */
enum smtpd_result smtpd_verb_bdat(smtpd_sess *s, const char *arg, size_t len)
{
    uint64_t count;
    bool last;
    const char *why;
    int rc;

    if ((s->ext & SMTPD_EXT_CHUNKING) == 0) {
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
        return SMTPD_FAIL;
    }
    if (!bdat_args(arg, len, &count, &last)) {
        smtpd_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
        return SMTPD_FAIL;
    }
    why = bdat_precheck(s);
    s->txn.bdat = s->txn.active;
    rc = bdat_chunk(s, count, why == NULL);
    if (rc < 0) {
        smtpd_txn_reset(s);
        return SMTPD_FAIL_QUIET;
    }
    if (rc > 0)
        return data_bare(s, rc == 1);
    if (why != NULL) {
        smtpd_reply(s, why);
        if (s->txn.active && last)
            smtpd_txn_reset(s);
        return SMTPD_FAIL;
    }
    if (!last) {
        smtpd_replyf(s, "250 2.0.0 Ok: %llu bytes", (unsigned long long)count);
        return SMTPD_OK;
    }
    if (s->txn.bdat_cr)
        return data_bare(s, false);
    if (s->txn.size > 0 && !s->txn.bdat_lf)
        data_take(s, "\r\n", 2);
    return data_finish(s);
}
