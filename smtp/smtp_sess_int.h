/*
 * smtp_sess_int - helpers shared by the files of the smtp_session
 * module (smtp_session.c, smtp_trans.c) and its AUTH step (smtp_sasl.c).
 * Not part of its API.
 */
#ifndef TERN_SMTP_SESS_INT_H
#define TERN_SMTP_SESS_INT_H

#include "smtp/smtp_session.h"

/* sess_outcome_fmt - decide an outcome with a formatted reason. */
void sess_outcome_fmt(smtp_outcome *o, enum dlv_action action,
                      const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* sess_hello - EHLO (HELO after a 5xx) or LHLO; 0, or -1 with why. */
int sess_hello(smtp_session *s, const smtp_params *p, smtp_outcome *why);

/* sess_read - read one reply with stage st's timeout. */
int sess_read(smtp_session *s, const smtp_params *p, enum smtp_stage st);

/* sess_io_outcome - a timeout, lost connection or garbage at stage st. */
void sess_io_outcome(smtp_session *s, const smtp_params *p, int rc,
                     enum smtp_stage st, smtp_outcome *o);

/* sess_reply_outcome - the last reply as an outcome (cmd: "RCPT TO"). */
void sess_reply_outcome(smtp_session *s, const char *cmd, bool ok2xx,
                        smtp_outcome *o);

#endif
