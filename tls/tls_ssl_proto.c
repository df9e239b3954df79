/*
 * tls_ssl_proto - a TLS_PROTO_* mask in OpenSSL's terms: the min/max
 * protocol versions and the SSL_OP_NO_* options for holes inside the range
 * (module only). Owns nothing; a mask OpenSSL cannot express is an error.
 */
#include <stdint.h>

#include "tls/tls_ssl.h"

/* OpenSSL version constants for each protocol bit, oldest first. */
static const struct tls_proto_map {
    unsigned bit;
    int version;
    uint64_t no_option;         /* SSL_OP_NO_* for a hole in the range */
} tls_proto_map[] = {
    { TLS_PROTO_SSLv3, SSL3_VERSION, SSL_OP_NO_SSLv3 },
    { TLS_PROTO_TLSv1, TLS1_VERSION, SSL_OP_NO_TLSv1 },
    { TLS_PROTO_TLSv1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
    { TLS_PROTO_TLSv1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
    { TLS_PROTO_TLSv1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};

#define TLS_NMAP (sizeof(tls_proto_map) / sizeof(tls_proto_map[0]))

/* tls_proto_bounds - OpenSSL version range and holes of a mask. */
int tls_proto_bounds(unsigned mask, int *min, int *max, uint64_t *holes,
                     strbuf *err)
{
    int lo = -1, hi = -1;

    for (size_t i = 0; i < TLS_NMAP; i++) {
        if (mask & tls_proto_map[i].bit) {
            lo = lo < 0 ? (int)i : lo;
            hi = (int)i;
        }
    }
    if (lo < 0)
        return tls_fail(err, "no protocol OpenSSL supports is enabled");
    *holes = 0;
    for (int i = lo + 1; i < hi; i++) {
        if ((mask & tls_proto_map[i].bit) == 0)
            *holes |= tls_proto_map[i].no_option;
    }
    *min = tls_proto_map[lo].version;
    *max = tls_proto_map[hi].version;
    return 0;
}
