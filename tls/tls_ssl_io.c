/*
 * tls_io - the tio_ops adapter: tio's raw read/write over SSL_read and
 * SSL_write on a non-blocking socket.
 *
 * SSL_ERROR_WANT_READ/WANT_WRITE become TIO_RAW_WANT_READ/WANT_WRITE so
 * tio polls for the right event (a TLS read may have to write, and the
 * reverse). A clean close_notify, or the peer just going away, reads as end
 * of file; protocol errors are TIO_RAW_ERROR with errno EPROTO after
 * OpenSSL's reason is logged. Owns nothing.
 */
#include <errno.h>
#include <limits.h>

#include <openssl/err.h>

#include "tls/tls_ssl.h"
#include "common/msg.h"

/* tls_openssl_error - newest OpenSSL error as text; the queue is cleared. */
void tls_openssl_error(strbuf *out)
{
    char buf[256];
    unsigned long code, last = 0;

    while ((code = ERR_get_error()) != 0)
        last = code;
    sb_reset(out);
    if (last == 0) {
        (void)sb_puts(out, "no OpenSSL error queued");
        return;
    }
    ERR_error_string_n(last, buf, sizeof(buf));
    (void)sb_puts(out, buf);
}

/* tls_log_errors - every queued OpenSSL error as a Postfix-style warning. */
void tls_log_errors(void)
{
    char buf[256];
    unsigned long code;
    int n = 0;

    while ((code = ERR_get_error()) != 0) {
        if (n++ < 10) {         /* a bounded report; the rest is dropped */
            ERR_error_string_n(code, buf, sizeof(buf));
            msg_warn("TLS library problem: %s", buf);
        }
    }
}

/* tls_io_result - map an SSL_read/SSL_write result to tio's raw codes. */
static ssize_t tls_io_result(SSL *ssl, int ret)
{
    int saved = errno;

    if (ret > 0)
        return ret;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return TIO_RAW_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TIO_RAW_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        errno = saved != 0 ? saved : EPIPE;
        return TIO_RAW_ERROR;
    default:
        tls_log_errors();
        errno = EPROTO;
        return TIO_RAW_ERROR;
    }
}

/* tls_io_read - tio raw read through TLS. */
static ssize_t tls_io_read(void *ctx, void *buf, size_t len)
{
    tls_ssl_conn *tc = ctx;
    int want = len > INT_MAX ? INT_MAX : (int)len;

    ERR_clear_error();
    errno = 0;
    return tls_io_result(tc->ssl, SSL_read(tc->ssl, buf, want));
}

/* tls_io_write - tio raw write through TLS. */
static ssize_t tls_io_write(void *ctx, const void *buf, size_t len)
{
    tls_ssl_conn *tc = ctx;
    int want = len > INT_MAX ? INT_MAX : (int)len;

    ERR_clear_error();
    errno = 0;
    return tls_io_result(tc->ssl, SSL_write(tc->ssl, buf, want));
}

/* tls_io_init - fill in tc's tio vtable. */
void tls_io_init(tls_ssl_conn *tc)
{
    tc->ops.read = tls_io_read;
    tc->ops.write = tls_io_write;
    tc->ops.ctx = tc;
}
