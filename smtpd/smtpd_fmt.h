/*
 * smtpd_fmt - texts the SMTP server writes in Postfix's exact shapes: the
 * Received: header, its RFC 5322 date, the protocol name, the command
 * counters of the "disconnect from" line, and client input escaped for a
 * log line. Pure formatting into caller-owned strbufs: 0, or -1 when the
 * buffer's bound would be passed (the buffer is then unspecified).
 */
#ifndef TERN_SMTPD_FMT_H
#define TERN_SMTPD_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/strbuf.h"

/* What a Received: header says; NULL fields are left out. */
struct smtpd_received {
    const char *helo;           /* HELO/EHLO argument; NULL = client name */
    const char *client_name;    /* verified name or "unknown" */
    const char *client_addr;    /* "192.0.2.1" or "2001:db8::1" */
    const char *tls_info;       /* "(using TLSv1.3 with cipher ...)" or NULL */
    const char *auth_user;      /* "(Authenticated sender: X)" or NULL */
    const char *myhostname;
    const char *mail_name;      /* "tern" */
    const char *protocol;       /* "ESMTPSA", see smtpd_fmt_protocol */
    const char *queue_id;
    const char *rcpt;           /* the only recipient (internal form), or NULL */
    time_t when;
};

/* smtpd_fmt_received - the header with CRLF line ends (replaces out). */
int smtpd_fmt_received(const struct smtpd_received *r, strbuf *out);

/* smtpd_fmt_date - "Tue,  9 Jul 2024 12:20:44 +0200 (CEST)", local zone. */
int smtpd_fmt_date(time_t when, strbuf *out);

/*
 * smtpd_fmt_protocol - "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", or
 * with SMTPUTF8 "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA".
 */
const char *smtpd_fmt_protocol(bool esmtp, bool tls, bool auth, bool utf8);

/* One counter of the disconnect line: a command name and its counts. */
struct smtpd_count {
    const char *name;           /* lower case: "ehlo", "rcpt", "unknown" */
    unsigned ok, total;
};

/*
 * smtpd_fmt_counts - " ehlo=1 mail=1 rcpt=0/1 ... commands=4/5" (appended):
 * counters with total 0 are left out, "/total" only when some failed;
 * commands= sums them ("commands=0/0" when there were none).
 */
int smtpd_fmt_counts(const struct smtpd_count *c, size_t n, strbuf *out);

/*
 * smtpd_fmt_escape - append s[0..len) for a log line: CR, LF, TAB as
 * \r \n \t, other control bytes and backslash as \ooo / \\; at most max
 * input bytes, "..." when cut.
 */
int smtpd_fmt_escape(const char *s, size_t len, size_t max, strbuf *out);

#endif
