/*
 * tls_info - what a TLS connection negotiated, as text for log lines and
 * the Received: header. Pure formatting of a struct tls_info (filled by
 * the module's tls_ssl_info.c), linked into the programs and the module
 * alike. Owns nothing; fails only when out is full.
 */
#include "tls/tls.h"

/* tls_info_summary - "TLSv1.3 with cipher X (256/256 bits)". */
int tls_info_summary(const struct tls_info *info, strbuf *out)
{
    return sb_printf(out, "%s with cipher %s (%d/%d bits)", info->protocol,
                     info->cipher, info->cipher_bits, info->alg_bits);
}

/* tls_info_received - "(using TLSv1.3 with cipher X (256/256 bits))". */
int tls_info_received(const struct tls_info *info, strbuf *out)
{
    if (sb_puts(out, "(using ") < 0 || tls_info_summary(info, out) < 0)
        return -1;
    return sb_putc(out, ')');
}
