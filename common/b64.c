/*
 * b64 - base64 (RFC 4648 section 4) for SMTP AUTH challenges and
 * responses, shared by the SASL server (smtpd) and client (smtp); see b64.h.
 *
 * Decoding is strict, as RFC 4954 asks of a server: only the alphabet,
 * a length that is a multiple of four, "=" padding only at the end, no
 * white space. Owns nothing; fails with -1 on bad input or a full buffer,
 * leaving the output empty.
 */
#include <stdbool.h>

#include "common/b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_encode - append the base64 form of in[0..len). */
int b64_encode(const void *in, size_t len, strbuf *out)
{
    const unsigned char *p = in;
    size_t start = sb_len(out);

    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)p[i] << 16;
        char q[4];

        if (i + 1 < len)
            v |= (unsigned long)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        q[0] = b64_alphabet[(v >> 18) & 63];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        q[3] = i + 2 < len ? b64_alphabet[v & 63] : '=';
        if (sb_append(out, q, 4) != 0) {
            sb_truncate(out, start);
            return -1;
        }
    }
    return 0;
}

/* b64_value - the 6-bit value of an alphabet byte, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* b64_quad - decode one group of four; the byte count (1..3) or -1. */
static int b64_quad(const unsigned char *q, bool last, unsigned char bytes[3])
{
    int v[4];
    int pad = 0;

    for (int k = 0; k < 4; k++) {
        if (q[k] == '=' && last && k >= 2) {
            pad++;
            v[k] = 0;
            continue;
        }
        if (pad > 0 || (v[k] = b64_value(q[k])) < 0)
            return -1;
    }
    bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
    bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
    bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
    return 3 - pad;
}

/* b64_decode - strict decoding of text[0..len) into out. */
int b64_decode(const char *text, size_t len, strbuf *out)
{
    const unsigned char *p = (const unsigned char *)text;

    sb_reset(out);
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned char bytes[3];
        int n = b64_quad(p + i, i + 4 == len, bytes);

        if (n < 0 || sb_append(out, bytes, (size_t)n) != 0) {
            sb_reset(out);
            return -1;
        }
    }
    return 0;
}
