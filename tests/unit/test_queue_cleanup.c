/*
 * Unit tests for queue/cleanup: each case runs one message through the
 * library into a real queue file in a temporary spool and reads it back
 * (recipients, content) with the qfile reader, and captures the log lines
 * with the program name they carry. Tables: the reference setup's pcre
 * canonical table and texthash/regexp files under TERN_TEST_DATA/cleanup,
 * fail: for lookup errors. Covered: canonical sender/recipient/header
 * rewriting and classes, virtual alias one-to-many, recursion, loops,
 * duplicates, depth and size limits, lookup errors, missing headers (local,
 * remote, SASL, always_add), hop count, every header_checks action and its
 * log line, overlong and folded headers, NUL and 8-bit bytes, any split of
 * the input, bad configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/cleanup.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"

#define D TERN_TEST_DATA "/cleanup/"
#define QID "4F00A12B33"

#define BASE \
    "myhostname = mx.example.net\n" \
    "mydomain = example.net\n" \
    "myorigin = example.net\n" \
    "inet_interfaces = 127.0.0.1\n" \
    "recipient_delimiter = +\n" \
    "canonical_maps = pcre:" D "canonical.pcre\n" \
    "sender_canonical_maps = texthash:" D "sender_canonical\n" \
    "recipient_canonical_maps = texthash:" D "recipient_canonical\n" \
    "virtual_alias_maps = texthash:" D "virtual\n" \
    "header_checks = regexp:" D "header_checks\n"

/* Where a message comes from. */
enum origin { O_LOCAL, O_REMOTE, O_LOOPBACK, O_SASL, O_NETWORKS };

/* One message run through cleanup, and what came out. */
struct run {
    enum cleanup_verdict v;
    strbuf reply;
    strbuf sender;              /* envelope sender in the queue file */
    strbuf rcpts;               /* "addr|orig\n" per recipient */
    strbuf content;
    strbuf log;                 /* "program: text\n" per line */
};

static char spooldir[64];

/* capture - every log line, with the program name it carries. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    (void)level;
    (void)sb_printf(ctx, "%s: %s\n", msg_get_program(), text);
}

/* write_file - path = text. */
static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* load - a conf from BASE + extra with our spool. */
static conf *load(const char *extra)
{
    char path[128];
    strbuf text;
    conf *c;

    sb_init(&text, 65536);
    assert_int_equal(sb_printf(&text, "%squeue_directory = %s\n%s", BASE,
                               spooldir, extra), 0);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/main.cf", spooldir), 0);
    write_file(path, sb_str(&text));
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/master.cf", spooldir), 0);
    write_file(path, "");
    c = conf_load(spooldir);
    for (size_t i = 0; i < conf_diag_count(c); i++)
        fprintf(stderr, "conf: %s\n", conf_diag_text(c, i, NULL));
    assert_int_equal(conf_error_count(c), 0);
    sb_release(&text);
    return c;
}

/* env_for - the envelope of an origin. */
static void env_for(enum origin o, const char *sender, qfile_env *env,
                    cleanup_info *info)
{
    static const char *const addrs[] = {
        [O_LOCAL] = NULL, [O_REMOTE] = "192.0.2.10",
        [O_LOOPBACK] = "127.0.0.1", [O_SASL] = "192.0.2.10",
        [O_NETWORKS] = "192.0.2.10"};

    memset(env, 0, sizeof(*env));
    memset(info, 0, sizeof(*info));
    env->sender = sender;
    env->arrival.tv_sec = 1720527644;           /* 2024-07-09 12:20:44 UTC */
    if (o != O_LOCAL) {
        env->client_name = "mail.example.org";
        env->client_addr = addrs[o];
        env->helo = "helo.example.org";
        env->protocol = o == O_SASL ? "ESMTPA" : "ESMTP";
        env->sasl_username = o == O_SASL ? "alice" : NULL;
    }
    info->queue_id = QID;
    info->local = o == O_LOCAL;
    info->mynetworks = o == O_NETWORKS;
}

/* read_back - sender, recipients and content of the committed file. */
static void read_back(const char *qid, struct run *r)
{
    char path[256], buf[4096];
    strbuf why;
    qfile_msg *m = NULL;
    uint64_t pos = 0;

    sb_init(&why, 1024);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s/%s", spooldir,
                               spool_name(SPOOL_INCOMING), qid), 0);
    assert_int_equal(qfile_open(path, O_RDONLY, &m, &why), QFILE_OK);
    (void)sb_set(&r->sender, m->env.sender);
    for (size_t i = 0; i < m->nrcpt; i++)
        (void)sb_printf(&r->rcpts, "%s|%s\n", m->rcpt[i].address,
                        m->rcpt[i].orig);
    while (pos < m->content_size) {
        ssize_t n = qfile_read_content(m, pos, buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(sb_append(&r->content, buf, (size_t)n), 0);
        pos += (uint64_t)n;
    }
    qfile_close(m);
    assert_int_equal(unlink(path), 0);
    sb_release(&why);
}

/*
 * run - one message: conf extra, origin, sender, recipients ("a,b"),
 * content fed in chunks of `chunk` bytes (0 = all at once).
 */
static void run(struct run *r, const char *extra, enum origin o,
                const char *sender, const char *rcpts, const char *content,
                size_t clen, size_t chunk)
{
    conf *cf = load(extra);
    strbuf err;
    cleanup_cfg *cc;
    spool sp;
    qid_gen gen;
    qfile_writer *w;
    cleanup *c;
    qfile_env env;
    cleanup_info info;
    char qid[QID_SIZE], *list, *save = NULL;

    sb_init(&r->reply, 1024);
    sb_init(&r->sender, 4096);
    sb_init(&r->rcpts, 1 << 20);
    sb_init(&r->content, 1 << 22);
    sb_init(&r->log, 1 << 20);
    sb_init(&err, 1024);
    cc = cleanup_cfg_open(cf, &err);
    if (cc == NULL)
        fprintf(stderr, "cleanup_cfg_open: %s\n", sb_str(&err));
    assert_non_null(cc);
    spool_init(&sp, spooldir);
    qid_gen_init(&gen, false);
    w = qfile_create(&sp, SPOOL_INCOMING, 0600, &err);
    assert_non_null(w);
    msg_open("smtpd", 0);
    msg_set_capture(capture, &r->log);
    env_for(o, sender, &env, &info);
    c = cleanup_open(cc, w, &env, &info);
    list = strdup(rcpts);
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        qfile_rcpt rc = {a, "", "", 0, QFILE_RCPT_PENDING, 0};

        (void)cleanup_add_rcpt(c, &rc);
    }
    free(list);
    for (size_t i = 0; i < clen; i += chunk ? chunk : clen)
        (void)cleanup_write(c, content + i, chunk && clen - i > chunk
                            ? chunk : clen - i);
    r->v = cleanup_close(c, &r->reply);
    msg_set_capture(NULL, NULL);
    assert_string_equal(msg_get_program(), "smtpd");    /* restored */
    if (r->v == CLEANUP_OK || r->v == CLEANUP_HOLD) {
        assert_int_equal(qfile_commit(w, &gen, qid, sizeof(qid)), 0);
        read_back(qid, r);
    } else {
        qfile_abort(w);
    }
    cleanup_cfg_close(cc);
    spool_close(&sp);
    conf_free(cf);
    sb_release(&err);
}

/* run_release - free a run's buffers. */
static void run_release(struct run *r)
{
    sb_release(&r->reply);
    sb_release(&r->sender);
    sb_release(&r->rcpts);
    sb_release(&r->content);
    sb_release(&r->log);
}

/* count - occurrences of needle in hay. */
static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* A message with every header cleanup would otherwise add. */
#define FULL "From: x@example.org\r\nDate: Tue, 9 Jul 2024 12:00:00 +0000\r\n" \
    "Message-ID: <given@example.org>\r\n"

/* ---- canonical ---- */

static const struct canon_case {
    const char *name;
    const char *extra;
    enum origin origin;
    const char *sender, *rcpt, *content;
    const char *want_sender, *want_rcpts, *want_in_content;
} canon_cases[] = {
    {"reference pcre: sender root", "", O_LOCAL, "root@box.localnet",
     "u@example.net", FULL "\r\nbody\r\n",
     "root.box@example.com", "u@example.net|\n", NULL},
    {"reference pcre: sender $1", "", O_LOCAL, "joe@box.localnet",
     "u@example.net", FULL "\r\nbody\r\n",
     "joe@example.com", "u@example.net|\n", NULL},
    {"reference pcre: subdomain", "", O_REMOTE, "joe@mail.example.com",
     "u@example.net", "\r\n", "joe@example.com", "u@example.net|\n", NULL},
    {"pcre recipient", "", O_REMOTE, "s@example.org", "kim@box.localnet",
     "\r\n", "s@example.org", "kim@example.com|kim@box.localnet\n", NULL},
    {"sender_canonical then canonical", "", O_LOCAL, "alice@example.com",
     "u@example.net", FULL "\r\n", "Alice.Smith@example.com",
     "u@example.net|\n", NULL},
    {"sender_canonical is not for recipients", "", O_LOCAL, "s@example.org",
     "alice@example.com", FULL "\r\n", "s@example.org",
     "alice@example.com|\nalice@backup.example|alice@example.com\n", NULL},
    {"recipient_canonical", "", O_REMOTE, "s@example.org", "old@example.com",
     "\r\n", "s@example.org", "new@example.com|old@example.com\n", NULL},
    {"recipient_canonical @domain keeps the user", "", O_REMOTE,
     "s@example.org", "pat@legacy.example", "\r\n", "s@example.org",
     "pat@example.com|pat@legacy.example\n", NULL},
    {"recipient_canonical not for senders", "", O_REMOTE, "old@example.com",
     "u@example.net", "\r\n", "old@example.com", "u@example.net|\n", NULL},
    {"header From/To/Cc rewritten (local)", "", O_LOCAL, "s@example.org",
     "u@example.net",
     "From: Root <root@box.localnet>\r\nTo: a@box.localnet, \"B\" <old@example.com>\r\n"
     "Cc: (c) kim@x.example.com\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\nroot@box.localnet\r\n",
     "s@example.org", "u@example.net|\n",
     "From: Root <root.box@example.com>\r\nTo: a@example.com, \"B\" <new@example.com>\r\n"
     "Cc: (c) kim@example.com\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\nroot@box.localnet\r\n"},
    {"unqualified header address gets myorigin", "", O_LOCAL, "s@example.org",
     "u@example.net", "From: webmaster\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\n",
     "s@example.org", "u@example.net|\n",
     "From: webmaster@example.net\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\n"},
    {"remote client: headers untouched, envelope rewritten", "", O_REMOTE,
     "root@box.localnet", "u@example.net",
     "From: root@box.localnet\r\nSubject: x\r\n\r\n", "root.box@example.com",
     "u@example.net|\n", "From: root@box.localnet\r\nSubject: x\r\n\r\n"},
    {"loopback client is local (permit_inet_interfaces)", "", O_LOOPBACK,
     "s@example.org", "u@example.net", "From: root@box.localnet\r\n" "Date: d\r\n"
     "Message-ID: <m@x>\r\n\r\n", "s@example.org", "u@example.net|\n",
     "From: root.box@example.com\r\n"},
    {"canonical_classes without header classes", "canonical_classes = "
     "envelope_sender\n", O_LOCAL, "root@box.localnet", "joe@box.localnet",
     "From: root@box.localnet\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\n",
     "root.box@example.com", "joe@box.localnet|\n",
     "From: root@box.localnet\r\n"},
    {"canonical lookup error is a TEMPFAIL", "canonical_maps = fail:broken\n",
     O_LOCAL, "s@example.org", "u@example.net", FULL "\r\n", NULL, NULL, NULL},
    {"null sender is not rewritten", "", O_LOCAL, "", "u@example.net",
     FULL "\r\n", "", "u@example.net|\n", NULL},
};

static void test_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
        const struct canon_case *t = &canon_cases[i];
        struct run r;

        run(&r, t->extra, t->origin, t->sender, t->rcpt, t->content,
            strlen(t->content), 0);
        fprintf(stderr, "case %s: %s %s\n", t->name, cleanup_verdict_name(r.v),
                sb_str(&r.reply));
        if (t->want_sender == NULL) {
            assert_int_equal(r.v, CLEANUP_TEMPFAIL);
            assert_string_equal(sb_str(&r.reply),
                                "451 4.3.0 Error: temporary lookup failure");
            assert_non_null(strstr(sb_str(&r.log), "cleanup: warning: " QID
                                   ": canonical_maps lookup of"));
        } else {
            assert_int_equal(r.v, CLEANUP_OK);
            assert_string_equal(sb_str(&r.sender), t->want_sender);
            assert_string_equal(sb_str(&r.rcpts), t->want_rcpts);
            if (t->want_in_content && !strstr(sb_str(&r.content),
                                              t->want_in_content))
                fail_msg("content:\n%s\nlog:\n%s", sb_str(&r.content),
                         sb_str(&r.log));
        }
        run_release(&r);
    }
}

/* ---- virtual aliases ---- */

static const struct virt_case {
    const char *name;
    const char *extra;
    const char *rcpts;
    enum cleanup_verdict v;
    const char *want;           /* recipients, or the reply */
} virt_cases[] = {
    {"one to many", "", "team@example.com", CLEANUP_OK,
     "alice@example.com|team@example.com\n"
     "alice@backup.example|team@example.com\n"
     "bob@example.com|team@example.com\n"},
    {"maps to itself: kept", "", "alice@example.com", CLEANUP_OK,
     "alice@example.com|\nalice@backup.example|alice@example.com\n"},
    {"recursive", "", "sales@example.com", CLEANUP_OK,
     "alice@example.com|sales@example.com\n"
     "alice@backup.example|sales@example.com\n"
     "bob@example.com|sales@example.com\n"
     "carol@example.com|sales@example.com\n"},
    {"loop ends", "", "loop1@example.com", CLEANUP_OK,
     "loop1@example.com|\n"},
    {"duplicates removed", "", "dup@example.com", CLEANUP_OK,
     "bob@example.com|dup@example.com\n"},
    {"duplicates across recipients", "", "bob@example.com,team@example.com,"
     "BOB@example.com", CLEANUP_OK,
     "bob@example.com|\nalice@example.com|team@example.com\n"
     "alice@backup.example|team@example.com\n"},
    {"@domain keeps the user", "", "zed@alias.example", CLEANUP_OK,
     "zed@example.com|zed@alias.example\n"},
    {"extension propagated", "", "carl+news@example.com", CLEANUP_OK,
     "carl+news@mail.example|carl+news@example.com\n"},
    {"extension not propagated when turned off",
     "propagate_unmatched_extensions = canonical\n", "carl+news@example.com",
     CLEANUP_OK, "carl@mail.example|carl+news@example.com\n"},
    {"bad result item skipped", "", "bad@example.com", CLEANUP_OK,
     "bad@example.com|\n"},
    {"not an alias", "", "nobody@example.net", CLEANUP_OK,
     "nobody@example.net|\n"},
    {"depth limit", "virtual_alias_recursion_limit = 2\n",
     "deep1@example.com", CLEANUP_TEMPFAIL,
     "451 4.3.0 Error: virtual alias expansion limit exceeded"},
    {"depth limit not reached", "virtual_alias_recursion_limit = 3\n",
     "deep1@example.com", CLEANUP_OK, "deep4@example.com|deep1@example.com\n"},
    {"expansion limit", "virtual_alias_expansion_limit = 3\n",
     "many@example.com", CLEANUP_TEMPFAIL,
     "451 4.3.0 Error: virtual alias expansion limit exceeded"},
    {"lookup error", "virtual_alias_maps = fail:broken\n", "u@example.net",
     CLEANUP_TEMPFAIL, "451 4.3.0 Error: temporary lookup failure"},
};

static void test_virtual(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(virt_cases) / sizeof(virt_cases[0]); i++) {
        const struct virt_case *t = &virt_cases[i];
        struct run r;

        run(&r, t->extra, O_REMOTE, "s@example.org", t->rcpts, "\r\n", 2, 0);
        fprintf(stderr, "case %s: %s %s\n", t->name, cleanup_verdict_name(r.v),
                sb_str(&r.reply));
        assert_int_equal(r.v, t->v);
        assert_string_equal(t->v == CLEANUP_OK ? sb_str(&r.rcpts)
                            : sb_str(&r.reply), t->want);
        if (t->v == CLEANUP_TEMPFAIL)
            assert_non_null(strstr(sb_str(&r.log), "cleanup: warning: " QID
                                   ": "));
        run_release(&r);
    }
}

/* ---- missing headers ---- */

static const struct missing_case {
    const char *name;
    const char *extra;
    enum origin origin;
    const char *sender, *content;
    bool added;
} missing_cases[] = {
    {"local mail", "", O_LOCAL, "s@example.org", "Subject: x\r\n\r\nbody\r\n",
     true},
    {"local, no body separator", "", O_LOCAL, "s@example.org",
     "Subject: x\r\n", true},
    {"local, empty message", "", O_LOCAL, "s@example.org", "", true},
    {"remote client", "", O_REMOTE, "s@example.org",
     "Subject: x\r\n\r\nbody\r\n", false},
    {"remote, always_add_missing_headers", "always_add_missing_headers = yes\n",
     O_REMOTE, "s@example.org", "Subject: x\r\n\r\nbody\r\n", true},
    {"SASL client", "local_header_rewrite_clients = permit_sasl_authenticated\n",
     O_SASL, "s@example.org", "Subject: x\r\n\r\nbody\r\n", true},
    {"SASL client not listed", "", O_SASL, "s@example.org",
     "Subject: x\r\n\r\nbody\r\n", false},
    {"mynetworks client", "local_header_rewrite_clients = permit_mynetworks\n",
     O_NETWORKS, "s@example.org", "Subject: x\r\n\r\nbody\r\n", true},
    {"static:all", "local_header_rewrite_clients = static:all\n", O_REMOTE,
     "s@example.org", "Subject: x\r\n\r\nbody\r\n", true},
    {"null sender", "", O_LOCAL, "", "Subject: x\r\n\r\n", true},
};

/* matches - true when s matches the extended regular expression re. */
static bool matches(const char *s, const char *re)
{
    regex_t rx;
    bool ok;

    assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
    ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

static void test_missing_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(missing_cases) / sizeof(missing_cases[0]); i++) {
        const struct missing_case *t = &missing_cases[i];
        struct run r;
        const char *s;

        run(&r, t->extra, t->origin, t->sender, "u@example.net", t->content,
            strlen(t->content), 0);
        fprintf(stderr, "case %s\n%s", t->name, sb_str(&r.content));
        assert_int_equal(r.v, CLEANUP_OK);
        s = sb_str(&r.content);
        assert_int_equal(count(s, "Message-Id: "), t->added);
        assert_int_equal(count(s, "\r\nDate: "), t->added);
        assert_int_equal(count(s, "From: "), t->added);
        if (t->added) {
            assert_non_null(strstr(s, "Message-Id: <20240709122044." QID
                                   "@mx.example.net>\r\n"));
            assert_true(matches(s, "^Date: [A-Z][a-z]{2}, [ 0-9][0-9] [A-Z][a-z]{2}"
                                " 2024 [0-9:]{8} [-+][0-9]{4} \\(.*\\)\r$"));
            assert_non_null(strstr(s, *t->sender ? "From: s@example.org\r\n"
                                   : "From: MAILER-DAEMON\r\n"));
            assert_non_null(strstr(sb_str(&r.log), "cleanup: " QID
                                   ": message-id=<20240709122044." QID
                                   "@mx.example.net>\n"));
            /* the added headers end the header: the empty line follows */
            if (strstr(t->content, "\r\n\r\nbody"))
                assert_non_null(strstr(s, "\r\n\r\nbody\r\n"));
            assert_true(strlen(s) > strlen(t->content));
        } else {
            assert_string_equal(s, t->content);
            assert_null(strstr(sb_str(&r.log), "message-id="));
        }
        run_release(&r);
    }
}

static void test_missing_headers_once(void **state)
{
    static const char msg[] = FULL "Subject: x\r\n\r\nbody\r\n";
    struct run r;

    (void)state;
    run(&r, "", O_LOCAL, "s@example.org", "u@example.net", msg,
        sizeof(msg) - 1, 0);
    assert_int_equal(r.v, CLEANUP_OK);
    assert_string_equal(sb_str(&r.content), FULL "Subject: x\r\n\r\nbody\r\n");
    assert_string_equal(sb_str(&r.log),
                        "cleanup: " QID ": message-id=<given@example.org>\n");
    run_release(&r);
}

/* ---- hop count ---- */

static void test_hopcount(void **state)
{
    static const struct { int received; enum cleanup_verdict v; } cases[] = {
        {0, CLEANUP_OK}, {49, CLEANUP_OK}, {50, CLEANUP_REJECT},
        {200, CLEANUP_REJECT},
    };
    strbuf msg;

    (void)state;
    sb_init(&msg, 1 << 20);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        sb_reset(&msg);
        for (int k = 0; k < cases[i].received; k++)
            assert_int_equal(sb_printf(&msg, "Received: from h%d by x;\r\n"
                                       "\tTue, 9 Jul 2024 12:00:00 +0000\r\n",
                                       k), 0);
        assert_int_equal(sb_puts(&msg, FULL "\r\nbody\r\n"), 0);
        run(&r, "", O_REMOTE, "s@example.org", "u@example.net", sb_str(&msg),
            sb_len(&msg), 7);
        assert_int_equal(r.v, cases[i].v);
        if (cases[i].v == CLEANUP_REJECT) {
            assert_string_equal(sb_str(&r.reply), "554 5.4.6 Too many hops");
            assert_non_null(strstr(sb_str(&r.log), "cleanup: warning: " QID
                                   ": message rejected: hopcount exceeded\n"));
        } else {
            assert_string_equal(sb_str(&r.content), sb_str(&msg));
        }
        run_release(&r);
    }
    sb_release(&msg);
}

/* ---- header_checks ---- */

#define LOGTAIL " from mail.example.org[192.0.2.10]; from=<s@example.org>" \
    " to=<u@example.net> proto=ESMTP helo=<helo.example.org>"

static const struct hc_case {
    const char *subject;        /* the header line tested (no CRLF) */
    enum cleanup_verdict v;
    const char *reply;
    const char *log;            /* the expected cleanup line, or NULL */
    const char *out;            /* what replaces the line in the output */
} hc_cases[] = {
    {"Subject: reject me", CLEANUP_REJECT, "550 5.7.1 no thanks",
     "cleanup: " QID ": reject: header Subject: reject me" LOGTAIL
     ": 5.7.1 no thanks", NULL},
    {"Subject: reject plain", CLEANUP_REJECT,
     "550 5.7.1 message content rejected",
     "cleanup: " QID ": reject: header Subject: reject plain" LOGTAIL
     ": 5.7.1 message content rejected", NULL},
    {"Subject: reject dsn", CLEANUP_REJECT, "550 5.7.0 custom code",
     "cleanup: " QID ": reject: header Subject: reject dsn" LOGTAIL
     ": 5.7.0 custom code", NULL},
    {"Subject: defer me", CLEANUP_TEMPFAIL, "451 4.7.1 try later",
     "cleanup: " QID ": reject: header Subject: defer me" LOGTAIL
     ": 4.7.1 try later", NULL},
    {"Subject: warn me", CLEANUP_OK, "",
     "cleanup: " QID ": warning: header Subject: warn me" LOGTAIL
     ": watch this", "Subject: warn me\r\n"},
    {"Subject: warn quiet", CLEANUP_OK, "",
     "cleanup: " QID ": warning: header Subject: warn quiet" LOGTAIL "\n",
     "Subject: warn quiet\r\n"},
    {"Subject: hold me", CLEANUP_HOLD, "",
     "cleanup: " QID ": hold: header Subject: hold me" LOGTAIL
     ": held for review", "Subject: hold me\r\n"},
    {"Subject: discard me", CLEANUP_DISCARD, "",
     "cleanup: " QID ": discard: header Subject: discard me" LOGTAIL ": gone",
     NULL},
    {"X-Secret: 42", CLEANUP_OK, "", NULL, ""},
    {"Subject: dunno", CLEANUP_OK, "", NULL, "Subject: dunno\r\n"},
    {"Subject: ok", CLEANUP_OK, "", NULL, "Subject: ok\r\n"},
    {"Subject: info", CLEANUP_OK, "",
     "cleanup: " QID ": info: header Subject: info" LOGTAIL ": noted",
     "Subject: info\r\n"},
    {"Subject: prepend", CLEANUP_OK, "", NULL,
     "X-Tag: yes\r\nSubject: prepend\r\n"},
    {"Subject: replace", CLEANUP_OK, "", NULL, "Subject: replaced\r\n"},
    {"Subject: bogus", CLEANUP_OK, "",
     "cleanup: warning: " QID ": unknown command in header_checks map:"
     " FROBNICATE", "Subject: bogus\r\n"},
    {"Subject: first line\r\n second line", CLEANUP_REJECT,
     "550 5.7.1 folded match",
     "cleanup: " QID ": reject: header Subject: first line second line"
     LOGTAIL ": 5.7.1 folded match", NULL},
    {"Subject: nothing matches", CLEANUP_OK, "", NULL,
     "Subject: nothing matches\r\n"},
};

static void test_header_checks(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hc_cases) / sizeof(hc_cases[0]); i++) {
        const struct hc_case *t = &hc_cases[i];
        struct run r;
        strbuf msg, want;

        sb_init(&msg, 4096);
        sb_init(&want, 4096);
        (void)sb_printf(&msg, FULL "%s\r\nX-After: 1\r\n\r\nbody\r\n",
                        t->subject);
        run(&r, "", O_REMOTE, "s@example.org", "u@example.net", sb_str(&msg),
            sb_len(&msg), 3);
        fprintf(stderr, "case %s: %s\n%s", t->subject,
                cleanup_verdict_name(r.v), sb_str(&r.log));
        assert_int_equal(r.v, t->v);
        assert_string_equal(sb_str(&r.reply), t->reply);
        if (t->log)
            assert_non_null(strstr(sb_str(&r.log), t->log));
        else
            assert_int_equal(count(sb_str(&r.log), "\n"), 1);  /* message-id */
        if (t->out) {
            (void)sb_printf(&want, FULL "%sX-After: 1\r\n\r\nbody\r\n", t->out);
            assert_string_equal(sb_str(&r.content), sb_str(&want));
        }
        sb_release(&msg);
        sb_release(&want);
        run_release(&r);
    }
}

/* ---- bounds and hostile bytes ---- */

static void test_folded_header_kept(void **state)
{
    static const char msg[] =
        FULL "Subject: a long subject that goes on\r\n and on over\r\n\tthree lines\r\n"
        "X-Long: " "0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789\r\n\r\nbody\r\n";
    static const size_t chunks[] = {0, 1, 2, 5, 64};

    (void)state;
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct run r;

        run(&r, "", O_LOCAL, "s@example.org", "u@example.net", msg,
            sizeof(msg) - 1, chunks[i]);
        assert_int_equal(r.v, CLEANUP_OK);
        assert_string_equal(sb_str(&r.content), msg);
        run_release(&r);
    }
}

static void test_overlong_header(void **state)
{
    static const size_t chunks[] = {0, 1, 100, 4096};
    strbuf msg, want;

    (void)state;
    sb_init(&msg, 1 << 20);
    sb_init(&want, 1 << 20);
    /* a 3000-byte first line, a field whose continuations pass 1024 */
    (void)sb_puts(&msg, FULL "X-Big: ");
    for (int k = 0; k < 3000; k++)
        (void)sb_putc(&msg, 'a' + k % 26);
    (void)sb_puts(&msg, "\r\nX-Folded: start\r\n");
    for (int k = 0; k < 40; k++)
        (void)sb_printf(&msg, " continuation line number %02d of forty\r\n", k);
    (void)sb_puts(&msg, "X-After: kept\r\n\r\nbody line\r\n");
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct run r;
        const char *s, *x;

        run(&r, "header_size_limit = 1024\n", O_REMOTE, "s@example.org",
            "u@example.net", sb_str(&msg), sb_len(&msg), chunks[i]);
        assert_int_equal(r.v, CLEANUP_OK);
        s = sb_str(&r.content);
        x = strstr(s, "X-Big: ");
        assert_non_null(x);
        assert_int_equal(strcspn(x, "\r"), 1024);       /* cut to the limit */
        assert_non_null(strstr(s, "\r\nX-Folded: start\r\n continuation line"
                               " number 00"));
        assert_null(strstr(s, "number 39"));             /* excess dropped */
        assert_non_null(strstr(s, "\r\nX-After: kept\r\n\r\nbody line\r\n"));
        assert_int_equal(count(sb_str(&r.log), "exceeds header_size_limit"), 1);
        run_release(&r);
    }
    /* a very long line that is not a header ends the header: body */
    sb_reset(&msg);
    (void)sb_puts(&msg, FULL);
    for (int k = 0; k < 5000; k++)
        (void)sb_putc(&msg, 'b');
    (void)sb_puts(&msg, "\r\nmore\r\n");
    sb_reset(&want);
    (void)sb_printf(&want, FULL "\r\n%s", sb_str(&msg) + strlen(FULL));
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct run r;

        run(&r, "header_size_limit = 1024\n", O_REMOTE, "s@example.org",
            "u@example.net", sb_str(&msg), sb_len(&msg), chunks[i]);
        assert_int_equal(r.v, CLEANUP_OK);
        assert_string_equal(sb_str(&r.content), sb_str(&want));
        run_release(&r);
    }
    sb_release(&msg);
    sb_release(&want);
}

static void test_hostile_bytes(void **state)
{
    static const struct {
        const char *name;
        const char *msg;
        size_t len;
    } cases[] = {
        {"NUL in a header", FULL "X-Nul: a\0b\r\nSubject: hello\0reject me\r\n\r\nb\r\n",
         sizeof(FULL "X-Nul: a\0b\r\nSubject: hello\0reject me\r\n\r\nb\r\n") - 1},
        {"NUL in From", "From: a\0@box.localnet\r\nDate: d\r\nMessage-ID: <m@x>\r\n"
         "\r\n", sizeof("From: a\0@box.localnet\r\nDate: d\r\nMessage-ID: <m@x>\r\n"
                        "\r\n") - 1},
        {"8-bit header", FULL "Subject: \xc3\xa9t\xc3\xa9 \xff\xfe\r\n\r\nb\r\n",
         sizeof(FULL "Subject: \xc3\xa9t\xc3\xa9 \xff\xfe\r\n\r\nb\r\n") - 1},
        {"8-bit address", "From: \xc3\xa9@box.localnet\r\nTo: \xff@x\r\n"
         "Date: d\r\nMessage-ID: <m@x>\r\n\r\n",
         sizeof("From: \xc3\xa9@box.localnet\r\nTo: \xff@x\r\nDate: d\r\n"
                "Message-ID: <m@x>\r\n\r\n") - 1},
        {"broken address list", "From: <a@b\r\nTo: \"x@y, (z\r\nDate: d\r\n"
         "Message-ID: <m@x>\r\n\r\n", sizeof("From: <a@b\r\nTo: \"x@y, (z\r\n"
                                             "Date: d\r\nMessage-ID: <m@x>\r\n"
                                             "\r\n") - 1},
        {"bare LF and CR", FULL "Subject: a\rb\nX: y\n\nbody\r\n",
         sizeof(FULL "Subject: a\rb\nX: y\n\nbody\r\n") - 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        run(&r, "", O_LOCAL, "s@example.org", "u@example.net", cases[i].msg,
            cases[i].len, 1);
        fprintf(stderr, "case %s: %s\n", cases[i].name,
                cleanup_verdict_name(r.v));
        assert_int_equal(r.v, CLEANUP_OK);
        if (i != 3) {           /* the 8-bit From is rewritten */
            assert_int_equal(sb_len(&r.content), cases[i].len);
            assert_memory_equal(sb_str(&r.content), cases[i].msg, cases[i].len);
        } else {
            assert_non_null(strstr(sb_str(&r.content),
                                   "From: \xc3\xa9@example.com\r\n"));
            assert_non_null(strstr(sb_str(&r.content), "To: \xff@x\r\n"));
        }
        run_release(&r);
    }
}

static void test_body_untouched(void **state)
{
    static const char msg[] = FULL "\r\nSubject: reject me\r\nReceived: x\r\n"
        "From: root@box.localnet\r\n.\r\n\r\n";
    struct run r;

    (void)state;
    run(&r, "", O_LOCAL, "s@example.org", "u@example.net", msg,
        sizeof(msg) - 1, 0);
    assert_int_equal(r.v, CLEANUP_OK);
    assert_string_equal(sb_str(&r.content), msg);
    run_release(&r);
}

static void test_bad_config(void **state)
{
    static const struct { const char *extra, *err; } cases[] = {
        {"local_header_rewrite_clients = permit_bogus\n",
         "local_header_rewrite_clients: unsupported item \"permit_bogus\""},
        {"canonical_classes = envelope_sender, nonsense\n",
         "canonical_classes: unsupported item \"nonsense\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf *cf;
        strbuf err;

        sb_init(&err, 1024);
        cf = load(cases[i].extra);
        assert_null(cleanup_cfg_open(cf, &err));
        assert_non_null(strstr(sb_str(&err), cases[i].err));
        conf_free(cf);
        sb_release(&err);
    }
}

static int setup(void **state)
{
    strbuf why;

    (void)state;
    assert_int_equal(fmt_fixed(spooldir, sizeof(spooldir),
                               "/tmp/cleanup-test.XXXXXX"), 0);
    assert_non_null(mkdtemp(spooldir));
    sb_init(&why, 1024);
    assert_int_equal(spool_create(spooldir, &why), 0);
    sb_release(&why);
    return 0;
}

static int teardown(void **state)
{
    char path[128];

    (void)state;
    for (int d = 0; d < SPOOL_NDIRS; d++) {
        assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", spooldir,
                                   spool_name((enum spool_dir)d)), 0);
        (void)rmdir(path);
    }
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/main.cf", spooldir), 0);
    (void)unlink(path);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/master.cf", spooldir), 0);
    (void)unlink(path);
    return rmdir(spooldir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_virtual),
        cmocka_unit_test(test_missing_headers),
        cmocka_unit_test(test_missing_headers_once),
        cmocka_unit_test(test_hopcount),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_folded_header_kept),
        cmocka_unit_test(test_overlong_header),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_body_untouched),
        cmocka_unit_test(test_bad_config),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
