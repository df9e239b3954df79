/*
 * smtpd_args - the arguments of MAIL FROM and RCPT TO: path and ESMTP
 * parameters (RFC 5321, 1870 SIZE, 6152 8BITMIME, 6531 SMTPUTF8, 3461 DSN,
 * 4954 AUTH).
 *
 * The text after the verb ("FROM:<a@b> SIZE=10 BODY=8BITMIME") is parsed
 * from a pointer and a length; every parameter is checked against the
 * extensions the session offered (a parameter of a withheld extension is
 * "Unsupported option", like an unknown one), values are decoded (xtext)
 * and bounded, and the first problem is returned as one smtpd_args_err
 * with its Postfix reply (smtpd_args_reply). The outputs own their
 * buffers (init/release); after an error they hold nothing usable. Pure
 * logic: no I/O, no configuration reads.
 */
#ifndef TERN_SMTPD_ARGS_H
#define TERN_SMTPD_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/strbuf.h"

/* ESMTP extensions a session offers (EHLO keywords), combine with |. */
#define SMTPD_EXT_PIPELINING  (1u << 0)
#define SMTPD_EXT_SIZE        (1u << 1)
#define SMTPD_EXT_VRFY        (1u << 2)
#define SMTPD_EXT_ETRN        (1u << 3)
#define SMTPD_EXT_STARTTLS    (1u << 4)
#define SMTPD_EXT_AUTH        (1u << 5)
#define SMTPD_EXT_ENHANCED    (1u << 6)   /* ENHANCEDSTATUSCODES */
#define SMTPD_EXT_8BITMIME    (1u << 7)
#define SMTPD_EXT_DSN         (1u << 8)
#define SMTPD_EXT_SMTPUTF8    (1u << 9)
#define SMTPD_EXT_CHUNKING    (1u << 10)

/* ENVID and ORCPT bounds (RFC 3461: 100 and 500 characters). */
#define SMTPD_ENVID_MAX 100
#define SMTPD_ORCPT_MAX 500

enum smtpd_args_err {
    SMTPD_ARGS_OK = 0,
    SMTPD_ARGS_SYNTAX,          /* no "FROM:"/"TO:" or no path */
    SMTPD_ARGS_BAD_ADDR,        /* the address does not parse */
    SMTPD_ARGS_UTF8_UNDECLARED, /* 8-bit address without SMTPUTF8 */
    SMTPD_ARGS_UNSUPPORTED,     /* unknown or withheld parameter */
    SMTPD_ARGS_DUPLICATE,       /* a parameter given twice */
    SMTPD_ARGS_BAD_SIZE,
    SMTPD_ARGS_SIZE_LIMIT,      /* SIZE= over message_size_limit */
    SMTPD_ARGS_BAD_BODY,
    SMTPD_ARGS_BAD_SMTPUTF8,
    SMTPD_ARGS_BAD_RET,
    SMTPD_ARGS_BAD_ENVID,
    SMTPD_ARGS_BAD_AUTH,
    SMTPD_ARGS_BAD_NOTIFY,
    SMTPD_ARGS_BAD_ORCPT,
    SMTPD_ARGS_COUNT
};

/* body= values (same numbers as qfile's enum qfile_body). */
enum smtpd_body { SMTPD_BODY_NONE, SMTPD_BODY_7BIT, SMTPD_BODY_8BITMIME };
/* RET= values (same numbers as qfile's enum qfile_ret). */
enum smtpd_ret { SMTPD_RET_NONE, SMTPD_RET_FULL, SMTPD_RET_HDRS };

/* NOTIFY= bits (same values as QFILE_NOTIFY_*). */
#define SMTPD_NOTIFY_NEVER   0x01
#define SMTPD_NOTIFY_SUCCESS 0x02
#define SMTPD_NOTIFY_FAILURE 0x04
#define SMTPD_NOTIFY_DELAY   0x08

/* What the parsers need from the session. */
struct smtpd_args_opts {
    unsigned ext;               /* SMTPD_EXT_* offered to this client */
    uint64_t size_limit;        /* message_size_limit, 0 = none */
    bool smtputf8;              /* RCPT: the MAIL FROM declared SMTPUTF8 */
};

/* MAIL FROM. */
struct smtpd_mail_args {
    addr sender;                /* internal form; ADDR_F_NULL for <> */
    uint64_t size;              /* SIZE=, 0 when not given */
    enum smtpd_body body;
    bool smtputf8;
    enum smtpd_ret ret;
    strbuf envid;               /* decoded ENVID ("" = none) */
    strbuf auth;                /* decoded AUTH= ("" = none, "<>" kept) */
};

/* RCPT TO. */
struct smtpd_rcpt_args {
    addr rcpt;                  /* internal form; may lack a domain */
    unsigned notify;            /* SMTPD_NOTIFY_*, 0 = not given */
    strbuf orcpt;               /* "type;decoded value" ("" = none) */
};

void smtpd_mail_args_init(struct smtpd_mail_args *m);
void smtpd_mail_args_release(struct smtpd_mail_args *m);
void smtpd_rcpt_args_init(struct smtpd_rcpt_args *r);
void smtpd_rcpt_args_release(struct smtpd_rcpt_args *r);

/*
 * smtpd_args_mail / smtpd_args_rcpt - parse the text after the verb
 * (s[0..len), e.g. " FROM:<a@b> SIZE=10"). On error, detail gets the
 * offending parameter (for the reply) and the output is emptied.
 */
enum smtpd_args_err smtpd_args_mail(const char *s, size_t len,
                                    const struct smtpd_args_opts *o,
                                    struct smtpd_mail_args *m, strbuf *detail);
enum smtpd_args_err smtpd_args_rcpt(const char *s, size_t len,
                                    const struct smtpd_args_opts *o,
                                    struct smtpd_rcpt_args *r, strbuf *detail);

/*
 * smtpd_args_reply - the reply for err after MAIL (mail true) or RCPT,
 * e.g. "501 5.1.7 Bad sender address syntax", into out (replaced).
 */
int smtpd_args_reply(enum smtpd_args_err err, bool mail, const char *detail,
                     strbuf *out);

#endif
