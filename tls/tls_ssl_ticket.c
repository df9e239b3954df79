/*
 * tls_ticket - RFC 5077 session ticket keys shared by a service's smtpd
 * processes through one file, so a client resumes its session whichever
 * process takes its next connection.
 *
 * The key file ($queue_directory/private/tls_ticket_key, mode 0600, 80
 * random bytes: name, AES-256 key, HMAC-SHA256 key) is written by whichever
 * process first finds it missing or older than the key lifetime
 * (smtpd_tls_session_cache_timeout): a temporary file renamed over the old
 * one, so readers see a whole key or the previous one. Each process keeps
 * the key before the current one to accept its recent tickets. Trouble with
 * the file is logged once; the process then uses keys of its own (tickets
 * then resume only in that process). Keys are wiped when released.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tls/tls_ssl.h"
#include "common/msg.h"
#include "common/xalloc.h"

/* tls_tickets_init - start without keys. */
void tls_tickets_init(struct tls_tickets *tk, const char *path, long lifetime)
{
    memset(tk, 0, sizeof(*tk));
    tk->path = path != NULL ? xstrdup(path) : NULL;
    tk->lifetime = lifetime;
}

/* tls_tickets_release - wipe and free. */
void tls_tickets_release(struct tls_tickets *tk)
{
    free(tk->path);
    OPENSSL_cleanse(tk, sizeof(*tk));
}

/* tls_ticket_random - a fresh key; false if the RNG failed. */
static bool tls_ticket_random(struct tls_ticket_key *key)
{
    if (RAND_bytes(key->name, sizeof(key->name)) != 1
        || RAND_priv_bytes(key->aes, sizeof(key->aes)) != 1
        || RAND_priv_bytes(key->hmac, sizeof(key->hmac)) != 1)
        return false;
    key->set = true;
    return true;
}

/* tls_ticket_unpack - the key in an 80-byte file image. */
static void tls_ticket_unpack(struct tls_ticket_key *key, const unsigned char *b)
{
    memcpy(key->name, b, TLS_TICKET_NAME_LEN);
    memcpy(key->aes, b + TLS_TICKET_NAME_LEN, TLS_TICKET_AES_LEN);
    memcpy(key->hmac, b + TLS_TICKET_NAME_LEN + TLS_TICKET_AES_LEN,
           TLS_TICKET_HMAC_LEN);
    key->set = true;
}

/* tls_ticket_read - the key in path (a regular 80-byte file); 0 or -1. */
static int tls_ticket_read(const char *path, struct tls_ticket_key *key,
                           struct stat *st, strbuf *why)
{
    unsigned char buf[TLS_TICKET_FILE_LEN];
    ssize_t n;
    int fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return tls_fail(why, "open %s: %m", path);
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)
        || st->st_size != TLS_TICKET_FILE_LEN) {
        (void)close(fd);
        return tls_fail(why, "%s: not a %d-byte regular file", path,
                        TLS_TICKET_FILE_LEN);
    }
    n = read(fd, buf, sizeof(buf));
    (void)close(fd);
    if (n != (ssize_t)sizeof(buf)) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return tls_fail(why, "read %s: short read", path);
    }
    tls_ticket_unpack(key, buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

/* tls_ticket_write - a new random key into path, atomically; 0 or -1. */
static int tls_ticket_write(const char *path, strbuf *why)
{
    unsigned char buf[TLS_TICKET_FILE_LEN];
    strbuf tmp;
    ssize_t n;
    int fd, ret = -1;

    sb_init(&tmp, 4096);
    if (sb_printf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
        sb_release(&tmp);
        return tls_fail(why, "%s: path too long", path);
    }
    if (RAND_priv_bytes(buf, sizeof(buf)) != 1)
        (void)tls_fail(why, "random bytes for %s: RNG failure", path);
    else if ((fd = open(sb_str(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                        | O_CLOEXEC, 0600)) < 0)
        (void)tls_fail(why, "create %s: %m", sb_str(&tmp));
    else {
        n = write(fd, buf, sizeof(buf));
        if (close(fd) < 0 || n != (ssize_t)sizeof(buf))
            (void)tls_fail(why, "write %s: %m", sb_str(&tmp));
        else if (rename(sb_str(&tmp), path) < 0)
            (void)tls_fail(why, "rename %s: %m", path);
        else
            ret = 0;
        if (ret < 0)
            (void)unlink(sb_str(&tmp));
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    sb_release(&tmp);
    return ret;
}

/* tls_ticket_use - make key the current one, keeping the old for decrypting. */
static void tls_ticket_use(struct tls_tickets *tk, const struct tls_ticket_key *key)
{
    if (tk->cur.set && memcmp(tk->cur.name, key->name, sizeof(key->name)) == 0)
        return;
    tk->prev = tk->cur;
    tk->cur = *key;
}

/* tls_ticket_local - fall back to (and rotate) keys of this process only. */
static void tls_ticket_local(struct tls_tickets *tk, const char *why)
{
    struct tls_ticket_key key;
    time_t now = time(NULL);

    if (!tk->warned && why != NULL) {
        msg_warn("TLS session tickets: %s; resuming only within one process",
                 why);
        tk->warned = true;
    }
    if (tk->cur.set && now - tk->made < tk->lifetime)
        return;
    if (!tls_ticket_random(&key)) {
        msg_warn("TLS session tickets: random number generator failure");
        return;
    }
    tls_ticket_use(tk, &key);
    OPENSSL_cleanse(&key, sizeof(key));
    tk->made = now;
}

/* tls_tickets_refresh - current key from the file, made anew when stale. */
void tls_tickets_refresh(struct tls_tickets *tk)
{
    struct tls_ticket_key key;
    struct stat st;
    strbuf why;
    int tries;

    if (tk->path == NULL) {
        tls_ticket_local(tk, NULL);
        return;
    }
    sb_init(&why, 4096);
    for (tries = 0; tries < 2; tries++) {
        if (tls_ticket_read(tk->path, &key, &st, &why) == 0
            && time(NULL) - st.st_mtim.tv_sec < tk->lifetime) {
            tls_ticket_use(tk, &key);
            break;
        }
        if (tls_ticket_write(tk->path, &why) < 0)
            tries = 2;
    }
    if (tries >= 2)
        tls_ticket_local(tk, sb_str(&why));
    OPENSSL_cleanse(&key, sizeof(key));
    sb_release(&why);
}

/* tls_ticket_keys - the ticket state of ssl's context. */
static struct tls_tickets *tls_ticket_keys(SSL *ssl)
{
    return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* tls_ticket_mac - key an HMAC-SHA256 context; 1 or 0. */
static int tls_ticket_mac(EVP_MAC_CTX *hctx, struct tls_ticket_key *key)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(hctx, key->hmac, sizeof(key->hmac), params);
}

/*
 * tls_ticket_cb - OpenSSL's ticket key callback: encrypt with the current
 * key; decrypt with the key the ticket names (2 = renew it under the
 * current key), or 0 = unknown key, full handshake.
 */
static int tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct tls_tickets *tk = tls_ticket_keys(ssl);
    struct tls_ticket_key *key = NULL;
    const EVP_CIPHER *aes = EVP_aes_256_cbc();

    if (tk == NULL)
        return enc ? -1 : 0;
    if (enc) {
        key = &tk->cur;
        if (!key->set || RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1)
            return -1;
        memcpy(name, key->name, TLS_TICKET_NAME_LEN);
        return EVP_EncryptInit_ex(cctx, aes, NULL, key->aes, iv) == 1
            && tls_ticket_mac(hctx, key) == 1 ? 1 : -1;
    }
    if (tk->cur.set && memcmp(name, tk->cur.name, TLS_TICKET_NAME_LEN) == 0)
        key = &tk->cur;
    else if (tk->prev.set
             && memcmp(name, tk->prev.name, TLS_TICKET_NAME_LEN) == 0)
        key = &tk->prev;
    if (key == NULL)
        return 0;
    if (EVP_DecryptInit_ex(cctx, aes, NULL, key->aes, iv) != 1
        || tls_ticket_mac(hctx, key) != 1)
        return -1;
    return key == &tk->cur ? 1 : 2;
}

/* tls_tickets_install - session tickets for ctx with tk's keys. */
int tls_tickets_install(SSL_CTX *ctx, struct tls_tickets *tk)
{
    if (SSL_CTX_set_app_data(ctx, tk) != 1)
        return -1;
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) == 1
        ? 0 : -1;
}
