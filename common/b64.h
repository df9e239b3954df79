/*
 * b64 - base64 (RFC 4648 section 4) as SMTP AUTH (RFC 4954) uses it, for
 * the SASL server in smtpd and the SASL client in smtp.
 *
 * Encoding appends to a bounded strbuf; decoding is strict (alphabet only,
 * a multiple of four, "=" padding only at the end, no white space, a NUL
 * is a bad byte). Both return -1 on bad input or a full buffer and leave
 * nothing half-written. No state.
 */
#ifndef TERN_B64_H
#define TERN_B64_H

#include <stddef.h>

#include "common/strbuf.h"

/* b64_encode - append the encoding of in[0..len) to out. 0 or -1. */
int b64_encode(const void *in, size_t len, strbuf *out);

/*
 * b64_decode - decode text[0..len) into out (replaced). 0, or -1 on any
 * bad byte, a bad length or out's bound (out is then empty).
 */
int b64_decode(const char *text, size_t len, strbuf *out);

#endif
