/*
 * Unit tests for queue/dlv, the delivery-agent protocol: request and reply
 * round trips over a socketpair, tables of malformed requests and replies
 * (each must be refused with a reason and nothing returned), matching a
 * request against a real queue file, the delay format and the agent's log
 * line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "common/xalloc.h"
#include "queue/dlv.h"
#include "queue/qfile.h"
#include "queue/spool.h"
#include "testutil.h"

#define WAIT_MS 5000

/* A connected pair: w writes on one end, r reads on the other. */
struct link {
    int fd[2];
    tio *w, *r;
};

static void link_open(struct link *l)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, l->fd), 0);
    l->w = tio_open(l->fd[0], WAIT_MS);
    l->r = tio_open(l->fd[1], WAIT_MS);
}

/* link_shut - close the writing end so the reader sees end of file. */
static void link_shut(struct link *l)
{
    tio_free(l->w);
    l->w = NULL;
    assert_int_equal(close(l->fd[0]), 0);
    l->fd[0] = -1;
}

static void link_close(struct link *l)
{
    if (l->w != NULL)
        link_shut(l);
    tio_free(l->r);
    assert_int_equal(close(l->fd[1]), 0);
}

static void put(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* sample_request - a request with two recipients (strings are static). */
static void sample_request(dlv_request *req)
{
    static const dlv_rcpt r[] = {
        {"bob@example.net", "", "rfc822;bob@example.net", 0, 211},
        {"j\xc3\xbcrgen@example.de", "list@example.com",
         "utf-8;a+b=c d", QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_DELAY, 305},
    };

    dlv_request_init(req);
    req->queue_id = "4WJ09r0sf8z9HdB";
    req->queue_name = "active";
    req->transport = "relaylim";
    req->nexthop = "[127.0.0.1]:2525";
    req->sender = "alice@example.org";
    req->arrival_time = 1720520444;
    req->active_time = (struct timeval){1720520445, 512301};
    req->size = 1340;
    req->body_type = QFILE_BODY_8BITMIME;
    req->smtputf8 = true;
    req->envid = "QQ+31 4=";
    req->ret = QFILE_RET_HDRS;
    dlv_request_add_rcpt(req, &r[0]);
    dlv_request_add_rcpt(req, &r[1]);
}

static void test_request_round_trip(void **state)
{
    dlv_request out, in;
    struct link l;
    strbuf why;

    (void)state;
    sb_init(&why, 512);
    sample_request(&out);
    link_open(&l);
    assert_int_equal(dlv_request_write(l.w, &out, &why), DLV_OK);
    dlv_request_init(&in);
    assert_int_equal(dlv_request_read(l.r, &in, &why), DLV_OK);
    assert_string_equal(in.queue_id, out.queue_id);
    assert_string_equal(in.queue_name, "active");
    assert_string_equal(in.transport, "relaylim");
    assert_string_equal(in.nexthop, "[127.0.0.1]:2525");
    assert_string_equal(in.sender, "alice@example.org");
    assert_int_equal(in.arrival_time, 1720520444);
    assert_int_equal(in.active_time.tv_sec, 1720520445);
    assert_int_equal(in.active_time.tv_usec, 512301);
    assert_int_equal(in.size, 1340);
    assert_int_equal(in.body_type, QFILE_BODY_8BITMIME);
    assert_true(in.smtputf8);
    assert_string_equal(in.envid, "QQ+31 4=");
    assert_int_equal(in.ret, QFILE_RET_HDRS);
    assert_int_equal(in.nrcpt, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(in.rcpt[i].address, out.rcpt[i].address);
        assert_string_equal(in.rcpt[i].orig_address, out.rcpt[i].orig_address);
        assert_string_equal(in.rcpt[i].orcpt, out.rcpt[i].orcpt);
        assert_int_equal(in.rcpt[i].notify, out.rcpt[i].notify);
        assert_int_equal(in.rcpt[i].offset, out.rcpt[i].offset);
    }
    /* A null sender and empty optional fields survive too. */
    dlv_request_free(&in);
    out.sender = "";
    out.envid = "";
    out.body_type = QFILE_BODY_NONE;
    out.ret = QFILE_RET_NONE;
    assert_int_equal(dlv_request_write(l.w, &out, &why), DLV_OK);
    assert_int_equal(dlv_request_read(l.r, &in, &why), DLV_OK);
    assert_string_equal(in.sender, "");
    assert_int_equal(in.body_type, QFILE_BODY_NONE);
    dlv_request_free(&in);
    /* Then end of input before a request is DLV_EOF. */
    link_shut(&l);
    assert_int_equal(dlv_request_read(l.r, &in, &why), DLV_EOF);
    dlv_request_free(&in);
    dlv_request_free(&out);
    link_close(&l);
    sb_release(&why);
}

/* A valid header with one field replaced: "%s" marks where. */
#define HDR_HEAD "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n" \
    "queue_name=active\ntransport=smtp\nnexthop=example.com\n" \
    "sender=a@example.org\narrival_time=1720520444\n" \
    "active_time=1720520445.5\nsize=10\nbody_type=7BIT\nsmtputf8=0\n" \
    "envid=\nret=\n"
#define RCPT1 "address=b@example.net\norig_address=\norcpt=\nnotify=0\n" \
    "offset=100\n\n"

static const struct bad_request {
    const char *name;
    const char *text;
    const char *why;            /* a substring of the reason */
} bad_requests[] = {
    {"unknown attribute", HDR_HEAD "rcpt_count=1\ncolour=red\n\n" RCPT1,
     "colour"},
    {"missing attribute", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n\n",
     "missing"},
    {"duplicate attribute", HDR_HEAD "rcpt_count=1\nsize=10\n\n" RCPT1,
     "duplicate"},
    {"other request", "request=flush\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=example.com\n"
     "sender=\narrival_time=1\nactive_time=1\nsize=1\nbody_type=\n"
     "smtputf8=0\nenvid=\nret=\nrcpt_count=1\n\n" RCPT1, "unknown request"},
    {"rcpt_count 0", HDR_HEAD "rcpt_count=0\n\n", "rcpt_count"},
    {"rcpt_count too big", HDR_HEAD "rcpt_count=1001\n\n", "rcpt_count"},
    {"rcpt_count negative", HDR_HEAD "rcpt_count=-1\n\n", "rcpt_count"},
    {"fewer recipients", HDR_HEAD "rcpt_count=2\n\n" RCPT1,
     "before recipient 2"},
    {"bad queue id", "request=deliver\nqueue_id=../../etc/passwd\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=\nsmtputf8=0\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "queue_id"},
    {"bad queue name", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=corrupt\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=\nsmtputf8=0\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "queue_name"},
    {"transport with slash", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=../smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=\nsmtputf8=0\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "transport"},
    {"bad size", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=-5\nbody_type=\nsmtputf8=0\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "size"},
    {"bad active_time", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1.2.3\nsize=1\nbody_type=\nsmtputf8=0\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "active_time"},
    {"bad body_type", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=BINARYMIME\n"
     "smtputf8=0\nenvid=\nret=\nrcpt_count=1\n\n" RCPT1, "body_type"},
    {"bad smtputf8", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=\nsmtputf8=2\n"
     "envid=\nret=\nrcpt_count=1\n\n" RCPT1, "smtputf8"},
    {"bad envid xtext", "request=deliver\nqueue_id=4WJ09r0sf8z9HdB\n"
     "queue_name=active\ntransport=smtp\nnexthop=x\nsender=\n"
     "arrival_time=1\nactive_time=1\nsize=1\nbody_type=\nsmtputf8=0\n"
     "envid=+ZZ\nret=\nrcpt_count=1\n\n" RCPT1, "envid"},
    {"bad notify", HDR_HEAD "rcpt_count=1\n\naddress=b@x\norig_address=\n"
     "orcpt=\nnotify=3\noffset=100\n\n", "notify"},
    {"zero offset", HDR_HEAD "rcpt_count=1\n\naddress=b@x\norig_address=\n"
     "orcpt=\nnotify=0\noffset=0\n\n", "offset"},
    {"repeated offset", HDR_HEAD "rcpt_count=2\n\n" RCPT1 RCPT1, "offset"},
    {"empty address", HDR_HEAD "rcpt_count=1\n\naddress=\norig_address=\n"
     "orcpt=\nnotify=0\noffset=100\n\n", "address"},
    {"control byte in address", HDR_HEAD "rcpt_count=1\n\naddress=b\tc@x\n"
     "orig_address=\norcpt=\nnotify=0\noffset=100\n\n", "address"},
    {"bad orcpt xtext", HDR_HEAD "rcpt_count=1\n\naddress=b@x\n"
     "orig_address=\norcpt=rfc822;a+2\nnotify=0\noffset=100\n\n", "orcpt"},
    {"CR LF lines", "request=deliver\r\nqueue_id=4WJ09r0sf8z9HdB\r\n\r\n",
     "CR"},
    {"line without =", HDR_HEAD "rcpt_count\n\n" RCPT1, "bad attribute"},
    {"cut short", HDR_HEAD "rcpt_count=1\n", "end of input"},
};

/* run_bad_request - one table row: refused, with the reason named. */
static void run_bad_request(const struct bad_request *b)
{
    dlv_request in;
    struct link l;
    strbuf why;
    int rc;

    sb_init(&why, 512);
    link_open(&l);
    put(l.fd[0], b->text, strlen(b->text));
    link_shut(&l);
    dlv_request_init(&in);
    rc = dlv_request_read(l.r, &in, &why);
    if (rc != DLV_PROTO || strstr(sb_str(&why), b->why) == NULL)
        fail_msg("%s: rc %d why \"%s\", wanted \"%s\"", b->name, rc,
                 sb_str(&why), b->why);
    dlv_request_free(&in);
    link_close(&l);
    sb_release(&why);
}

static void test_bad_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++)
        run_bad_request(&bad_requests[i]);
}

static void test_request_hostile_bytes(void **state)
{
    static const char nul[] = HDR_HEAD "rcpt_count=1\n\naddress=b\0c@x\n"
        "orig_address=\norcpt=\nnotify=0\noffset=100\n\n";
    dlv_request in;
    struct link l;
    strbuf why, big;

    (void)state;
    sb_init(&why, 512);
    sb_init(&big, SB_NOLIMIT);
    /* A NUL byte inside a value. */
    link_open(&l);
    put(l.fd[0], nul, sizeof(nul) - 1);
    link_shut(&l);
    dlv_request_init(&in);
    assert_int_equal(dlv_request_read(l.r, &in, &why), DLV_PROTO);
    assert_non_null(strstr(sb_str(&why), "NUL"));
    dlv_request_free(&in);
    link_close(&l);
    /* An overlong value (over 4096 bytes). */
    assert_int_equal(sb_puts(&big, "request=deliver\nnexthop="), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(sb_putc(&big, 'x'), 0);
    assert_int_equal(sb_puts(&big, "\n\n"), 0);
    link_open(&l);
    put(l.fd[0], sb_str(&big), sb_len(&big));
    link_shut(&l);
    assert_int_equal(dlv_request_read(l.r, &in, &why), DLV_PROTO);
    assert_non_null(strstr(sb_str(&why), "longer"));
    dlv_request_free(&in);
    link_close(&l);
    sb_release(&big);
    sb_release(&why);
}

static void test_request_not_sendable(void **state)
{
    dlv_request req;
    strbuf why, out;

    (void)state;
    sb_init(&why, 512);
    sb_init(&out, SB_NOLIMIT);
    sample_request(&req);
    req.nexthop = "a\nb";                       /* would forge a line */
    assert_int_equal(dlv_request_encode(&req, &out, &why), DLV_PROTO);
    assert_int_equal(sb_len(&out), 0);
    req.nexthop = "x";
    req.queue_id = "../x";
    assert_int_equal(dlv_request_encode(&req, &out, &why), DLV_PROTO);
    req.queue_id = "4WJ09r0sf8z9HdB";
    req.nrcpt = 0;
    assert_int_equal(dlv_request_encode(&req, &out, &why), DLV_PROTO);
    assert_int_equal(sb_len(&out), 0);
    dlv_request_free(&req);
    sb_release(&out);
    sb_release(&why);
}

static void test_reply_round_trip(void **state)
{
    dlv_request req;
    dlv_reply rep[2];
    struct link l;
    strbuf why, buf;
    char chunk[512];
    ssize_t n;
    size_t ngood;

    (void)state;
    sb_init(&why, 512);
    sb_init(&buf, SB_NOLIMIT);
    sample_request(&req);
    link_open(&l);
    assert_int_equal(dlv_reply_write(l.w, 211, "2.0.0", DLV_DELIVERED,
                                     "250 2.0.0 Ok: queued as X", true, &why),
                     DLV_OK);
    assert_int_equal(dlv_reply_write(l.w, 305, "4.7.1", DLV_DEFERRED,
                                     "451 4.7.1\r\nTry\tlater\x01", false,
                                     &why), DLV_OK);
    link_shut(&l);
    while ((n = read(l.fd[1], chunk, sizeof(chunk))) > 0)
        assert_int_equal(sb_append(&buf, chunk, (size_t)n), 0);
    assert_int_equal(dlv_replies_complete(sb_str(&buf), sb_len(&buf)), 2);
    assert_int_equal(dlv_replies_parse(&req, sb_str(&buf), sb_len(&buf), rep,
                                       &ngood, &why), DLV_OK);
    assert_int_equal(ngood, 2);
    assert_int_equal(rep[0].offset, 211);
    assert_string_equal(rep[0].dsn, "2.0.0");
    assert_int_equal(rep[0].action, DLV_DELIVERED);
    assert_string_equal(rep[0].reason, "250 2.0.0 Ok: queued as X");
    assert_int_equal(rep[1].action, DLV_DEFERRED);
    assert_string_equal(rep[1].reason, "451 4.7.1  Try later");
    assert_true(rep[0].reuse);
    assert_false(rep[1].reuse);
    dlv_reply_free(&rep[0]);
    dlv_reply_free(&rep[1]);
    /* Over the socket with dlv_reply_read too. */
    link_close(&l);
    link_open(&l);
    assert_int_equal(dlv_reply_write(l.w, 211, "5.1.1", DLV_FAILED,
                                     "550 no such user", true, &why), DLV_OK);
    assert_int_equal(dlv_reply_read(l.r, 211, &rep[0], &why), DLV_OK);
    assert_int_equal(rep[0].action, DLV_FAILED);
    dlv_reply_free(&rep[0]);
    link_shut(&l);
    assert_int_equal(dlv_reply_read(l.r, 305, &rep[0], &why), DLV_EOF);
    link_close(&l);
    dlv_request_free(&req);
    sb_release(&buf);
    sb_release(&why);
}

static void test_reply_write_refuses(void **state)
{
    static const struct {
        const char *dsn;
        enum dlv_action a;
    } bad[] = {
        {"5.0.0", DLV_DELIVERED}, {"2.0.0", DLV_DEFERRED},
        {"2.0.0", DLV_FAILED}, {"3.0.0", DLV_FAILED}, {"5.0", DLV_FAILED},
        {"5.1000.0", DLV_FAILED}, {"", DLV_DEFERRED}, {"4.0.0 x", DLV_DEFERRED},
    };
    struct link l;
    strbuf why;

    (void)state;
    sb_init(&why, 512);
    link_open(&l);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dlv_reply_write(l.w, 10, bad[i].dsn, bad[i].a, "x",
                                         true, &why), DLV_PROTO);
    assert_int_equal(dlv_reply_write(l.w, 0, "2.0.0", DLV_DELIVERED, "x",
                                     false, &why), DLV_PROTO);
    assert_int_equal(tio_unflushed(l.w), 0);
    link_close(&l);
    sb_release(&why);
}

#define REP211 "offset=211\ndsn=2.0.0\naction=delivered\nreason=ok\n\n"
static const struct bad_reply {
    const char *name;
    const char *text;
    int rc;
    size_t ngood;
} bad_replies[] = {
    {"wrong offset", "offset=305\ndsn=2.0.0\naction=delivered\nreason=\n\n",
     DLV_PROTO, 0},
    {"short dsn", "offset=211\ndsn=2.0\naction=delivered\nreason=\n\n",
     DLV_PROTO, 0},
    {"unknown action", "offset=211\ndsn=5.0.0\naction=bounced\nreason=\n\n",
     DLV_PROTO, 0},
    {"delivered with 5.x.x", "offset=211\ndsn=5.0.0\naction=delivered\n"
     "reason=\n\n", DLV_PROTO, 0},
    {"deferred with 2.x.x", REP211 "offset=305\ndsn=2.0.0\naction=deferred\n"
     "reason=\n\n", DLV_PROTO, 1},
    {"tab in reason", "offset=211\ndsn=2.0.0\naction=delivered\n"
     "reason=a\tb\n\n", DLV_PROTO, 0},
    {"unknown attribute", "offset=211\ndsn=2.0.0\naction=delivered\n"
     "reason=\nrelay=x\n\n", DLV_PROTO, 0},
    {"missing reason", "offset=211\ndsn=2.0.0\naction=delivered\n\n",
     DLV_PROTO, 0},
    {"only one of two", REP211, DLV_EOF, 1},
    {"nothing", "", DLV_EOF, 0},
    {"cut inside a reply", REP211 "offset=305\n", DLV_PROTO, 1},
    {"data after the last", REP211 "offset=305\ndsn=4.0.0\naction=deferred\n"
     "reason=x\n\nextra=1\n\n", DLV_PROTO, 2},
    {"CR LF", "offset=211\r\ndsn=2.0.0\r\n\r\n", DLV_PROTO, 0},
    {"reuse 2", "offset=211\ndsn=2.0.0\naction=delivered\nreason=\n"
     "reuse=2\n\n", DLV_PROTO, 0},
    {"reuse word", "offset=211\ndsn=2.0.0\naction=delivered\nreason=\n"
     "reuse=yes\n\n", DLV_PROTO, 0},
    {"reuse empty", "offset=211\ndsn=2.0.0\naction=delivered\nreason=\n"
     "reuse=\n\n", DLV_PROTO, 0},
    {"reuse twice", "offset=211\ndsn=2.0.0\naction=delivered\nreason=\n"
     "reuse=1\nreuse=1\n\n", DLV_PROTO, 0},
    {"reuse negative", "offset=211\ndsn=2.0.0\naction=delivered\n"
     "reason=\nreuse=-1\n\n", DLV_PROTO, 0},
};

static void test_bad_replies(void **state)
{
    dlv_request req;
    dlv_reply rep[2];
    strbuf why;
    size_t ngood;

    (void)state;
    sb_init(&why, 512);
    sample_request(&req);
    for (size_t i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++) {
        const struct bad_reply *b = &bad_replies[i];
        int rc = dlv_replies_parse(&req, b->text, strlen(b->text), rep, &ngood,
                                   &why);

        if (rc != b->rc || ngood != b->ngood || sb_len(&why) == 0)
            fail_msg("%s: rc %d ngood %zu why \"%s\"", b->name, rc, ngood,
                     sb_str(&why));
        for (size_t j = 0; j < ngood; j++)
            dlv_reply_free(&rep[j]);
    }
    /* An overlong reason is refused, not cut. */
    {
        strbuf big;

        sb_init(&big, SB_NOLIMIT);
        assert_int_equal(sb_puts(&big, "offset=211\ndsn=2.0.0\naction="
                                 "delivered\nreason="), 0);
        for (int i = 0; i < DLV_REASON_MAX + 1; i++)
            assert_int_equal(sb_putc(&big, 'r'), 0);
        assert_int_equal(sb_puts(&big, "\n\n"), 0);
        assert_int_equal(dlv_replies_parse(&req, sb_str(&big), sb_len(&big),
                                           rep, &ngood, &why), DLV_PROTO);
        assert_int_equal(ngood, 0);
        sb_release(&big);
    }
    dlv_request_free(&req);
    sb_release(&why);
}

static void test_replies_complete(void **state)
{
    (void)state;
    assert_int_equal(dlv_replies_complete("", 0), 0);
    assert_int_equal(dlv_replies_complete("a=1\n", 4), 0);
    assert_int_equal(dlv_replies_complete("a=1\n\n", 5), 1);
    assert_int_equal(dlv_replies_complete("a=1\n\nb=2\n\nc", 11), 2);
}

static void test_format_delay(void **state)
{
    static const struct {
        double secs;
        const char *text;
    } t[] = {
        {0, "0"}, {-3, "0"}, {0.004, "0"}, {0.006, "0.01"}, {0.1, "0.1"},
        {0.123, "0.12"}, {0.999, "1"}, {1.0, "1"}, {1.25, "1.2"},
        {9.94, "9.9"}, {10.4, "10"}, {12.6, "13"}, {3600.2, "3600"},
    };
    strbuf sb;

    (void)state;
    sb_init(&sb, 64);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        sb_reset(&sb);
        dlv_format_delay(t[i].secs, &sb);
        if (strcmp(sb_str(&sb), t[i].text) != 0)
            fail_msg("%g: got \"%s\", want \"%s\"", t[i].secs, sb_str(&sb),
                     t[i].text);
    }
    sb_release(&sb);
}

/* The log lines captured by test_log_line. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    if (level == MSG_INFO)
        assert_int_equal(sb_set(ctx, text), 0);
}

static void test_log_line(void **state)
{
    dlv_request req;
    strbuf line;
    struct timeval now;
    dlv_log lg = {"mx.example.net[192.0.2.7]:25", {0, 0}, 0.3, "2.0.0",
                  "sent", "250 2.0.0 Ok"};

    (void)state;
    sb_init(&line, 4096);
    sample_request(&req);
    assert_int_equal(gettimeofday(&now, NULL), 0);
    req.arrival_time = now.tv_sec - 100;
    req.active_time = (struct timeval){now.tv_sec - 40, 0};
    lg.got = (struct timeval){now.tv_sec - 1, 0};
    msg_set_capture(capture, &line);
    dlv_log_delivery(&req, &req.rcpt[0], &lg);
    dlv_log_delivery(&req, &req.rcpt[1], &lg);
    msg_set_capture(NULL, NULL);
    /* The second line: orig_to shown because it differs. */
    assert_non_null(strstr(sb_str(&line), "4WJ09r0sf8z9HdB: to=<j"));
    assert_non_null(strstr(sb_str(&line), ">, orig_to=<list@example.com>, "
                           "relay=mx.example.net[192.0.2.7]:25, delay="));
    assert_non_null(strstr(sb_str(&line), ", delays=60/39/0.3/"));
    assert_non_null(strstr(sb_str(&line),
                           ", dsn=2.0.0, status=sent (250 2.0.0 Ok)"));
    dlv_request_free(&req);
    sb_release(&line);
}

/* --- matching a request against a real queue file --- */

static void test_request_open(void **state)
{
    char top[64], qid[QID_SIZE];
    spool sp;
    qid_gen gen;
    strbuf why, path;
    qfile_env env = {.sender = "alice@example.org", .arrival = {1720480000, 0}};
    const qfile_rcpt r[] = {{"bob@example.net", NULL, NULL, 0, 0, 0},
                            {"carol@example.com", NULL, NULL, 0, 0, 0}};
    qfile_writer *w;
    qfile_msg *m, *got;
    dlv_request req;
    dlv_rcpt dr;

    (void)state;
    sb_init(&why, 1024);
    sb_init(&path, 4096);
    tu_tmpdir(top, sizeof(top), "/tmp/tern-dlv-XXXXXX");
    assert_int_equal(spool_create(top, &why), 0);
    spool_init(&sp, top);
    qid_gen_init(&gen, true);
    assert_non_null(w = qfile_create(&sp, SPOOL_INCOMING, 0600, &why));
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r[0]), 0);
    assert_int_equal(qfile_add_rcpt(w, &r[1]), 0);
    assert_int_equal(qfile_write_content(w, "x\r\n", 3), 0);
    assert_int_equal(qfile_commit(w, &gen, qid, sizeof(qid)), 0);
    assert_int_equal(spool_move(&sp, qid, SPOOL_INCOMING, SPOOL_ACTIVE), 0);
    dlv_request_init(&req);             /* an empty request is refused */
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ECORRUPT);

    req.queue_id = qid;
    req.queue_name = "active";
    req.transport = "smtp";
    req.sender = "alice@example.org";
    assert_int_equal(spool_path(&sp, SPOOL_ACTIVE, qid, &path), 0);
    assert_int_equal(qfile_open(sb_str(&path), O_RDWR, &m, &why), QFILE_OK);
    dr = (dlv_rcpt){"carol@example.com", "", "", 0, m->rcpt[1].status_offset};
    dlv_request_add_rcpt(&req, &dr);
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_OK);
    qfile_close(got);
    /* Wrong sender, wrong address, an offset that is no recipient. */
    req.sender = "mallory@example.org";
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ECORRUPT);
    assert_null(got);
    req.sender = "alice@example.org";
    req.rcpt[0].address = "bob@example.net";
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ECORRUPT);
    req.rcpt[0].address = "carol@example.com";
    req.rcpt[0].offset = m->rcpt[1].status_offset + 1;
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ECORRUPT);
    /* A recipient already done is never delivered again. */
    req.rcpt[0].offset = m->rcpt[1].status_offset;
    assert_int_equal(qfile_mark_rcpt(m->fd, m->rcpt[1].status_offset,
                                     QFILE_RCPT_DELIVERED), 0);
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ECORRUPT);
    assert_non_null(strstr(sb_str(&why), "already done"));
    /* A file that is not there. */
    req.queue_name = "deferred";
    assert_int_equal(dlv_request_open(top, &req, &got, &why), QFILE_ESYS);
    qfile_close(m);
    dlv_request_free(&req);
    spool_close(&sp);
    tu_rm_rf(top);
    sb_release(&path);
    sb_release(&why);
}

/* --- the agent's connection loop (dlv_serve) --- */

/* What the serving handler saw. */
struct served {
    size_t calls;
};

/* serve_handler - answer every recipient 2.0.0 (delivers nothing). */
static void serve_handler(void *ctx, dlv_conn *c, const dlv_request *req,
                          const struct timeval *got)
{
    struct served *sv = ctx;
    strbuf why;

    (void)got;
    sb_init(&why, 512);
    sv->calls++;
    for (size_t i = 0; i < req->nrcpt; i++)
        assert_int_equal(dlv_conn_reply(c, req->rcpt[i].offset, "2.0.0",
                                        DLV_DELIVERED, "ok", &why), DLV_OK);
    sb_release(&why);
}

/* serve_stop - the test's "ternd is stopping us" flag. */
static bool serve_stop(void *ctx)
{
    return *(const bool *)ctx;
}

/* write_requests - n sample requests, then extra bytes, on fd. */
static void write_requests(int fd, size_t n, const char *extra)
{
    dlv_request req;
    strbuf out, why;

    sb_init(&out, SB_NOLIMIT);
    sb_init(&why, 512);
    sample_request(&req);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dlv_request_encode(&req, &out, &why), DLV_OK);
    assert_int_equal(sb_puts(&out, extra), 0);
    put(fd, sb_str(&out), sb_len(&out));
    dlv_request_free(&req);
    sb_release(&out);
    sb_release(&why);
}

/*
 * read_answers - all the agent wrote on fd until it closed, as answers to
 * sample requests (two replies each): how many, and each one's reuse.
 */
static size_t read_answers(int fd, bool *reuse, size_t max)
{
    dlv_request req;
    dlv_reply rep[2];
    strbuf buf, why;
    char chunk[512];
    size_t n = 0, at = 0, ngood;
    ssize_t got;

    sb_init(&buf, SB_NOLIMIT);
    sb_init(&why, 512);
    sample_request(&req);
    while ((got = read(fd, chunk, sizeof(chunk))) > 0)
        assert_int_equal(sb_append(&buf, chunk, (size_t)got), 0);
    while (at < sb_len(&buf) && n < max) {
        const char *p = sb_str(&buf) + at, *end = p;

        for (int msgs = 0; msgs < 2; msgs++)
            end = strstr(end, "\n\n") + 2;
        assert_int_equal(dlv_replies_parse(&req, p, (size_t)(end - p), rep,
                                           &ngood, &why), DLV_OK);
        assert_int_equal(rep[0].reuse, rep[1].reuse);
        reuse[n++] = rep[1].reuse;
        dlv_reply_free(&rep[0]);
        dlv_reply_free(&rep[1]);
        at += (size_t)(end - p);
    }
    assert_int_equal(at, sb_len(&buf));
    dlv_request_free(&req);
    sb_release(&buf);
    sb_release(&why);
    return n;
}

static void test_serve_loop(void **state)
{
    static const struct {
        const char *name;
        size_t nreq;                    /* requests qmgr sends */
        const char *extra;              /* then these bytes */
        bool eof;                       /* then closes its side */
        long max_use;
        bool stop;                      /* ternd is stopping the agent */
        size_t calls;                   /* requests handled */
        bool reuse[3];                  /* the answers' reuse */
        bool spent;                     /* budget spent: status shut */
    } t[] = {
        {"two requests, EOF", 2, "", true, 100, false, 2, {1, 1}, false},
        {"EOF before any", 0, "", true, 100, false, 0, {0}, false},
        {"budget of two", 3, "", true, 2, false, 2, {1, 0}, true},
        {"budget of one", 2, "", true, 1, false, 1, {0}, true},
        {"zero budget is one", 2, "", true, 0, false, 1, {0}, true},
        {"ternd stopping", 2, "", true, 100, true, 1, {0}, false},
        {"idle timeout", 1, "", false, 100, false, 1, {1}, false},
        {"garbage next", 1, "request=deliver\nbogus=\x01\n\n", true, 100,
         false, 1, {1}, false},
        {"half a request", 1, "request=deliver\nqueue_id=", true, 100,
         false, 1, {1}, false},
        {"8-bit next", 1, "\xff\xfe\n\n", false, 100, false, 1, {1}, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int sp[2];
        struct served sv = {0};
        bool stop = t[i].stop, reuse[4] = {0}, spent;
        dlv_agent ag;
        size_t n;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        write_requests(sp[0], t[i].nreq, t[i].extra);
        if (t[i].eof)
            assert_int_equal(shutdown(sp[0], SHUT_WR), 0);
        dlv_agent_init(&ag, t[i].max_use, serve_stop, &stop);
        ag.idle_ms = 300;
        spent = dlv_serve(&ag, sp[1], serve_handler, &sv);
        assert_int_equal(close(sp[1]), 0);
        n = read_answers(sp[0], reuse, 4);
        if (sv.calls != t[i].calls || n != t[i].calls || spent != t[i].spent
            || ag.served != t[i].calls)
            fail_msg("%s: calls %zu answers %zu spent %d served %lu",
                     t[i].name, sv.calls, n, spent, ag.served);
        for (size_t k = 0; k < n; k++)
            if (reuse[k] != t[i].reuse[k])
                fail_msg("%s: answer %zu reuse %d", t[i].name, k, reuse[k]);
        assert_int_equal(close(sp[0]), 0);
    }
}

/* The budget counts requests across connections, not connections. */
static void test_serve_budget_across_connections(void **state)
{
    struct served sv = {0};
    bool stop = false, reuse[4];
    dlv_agent ag;
    int sp[2];

    (void)state;
    dlv_agent_init(&ag, 3, serve_stop, &stop);
    ag.idle_ms = 300;
    for (int conn = 0; conn < 2; conn++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        write_requests(sp[0], 2, "");
        assert_int_equal(shutdown(sp[0], SHUT_WR), 0);
        assert_int_equal(dlv_serve(&ag, sp[1], serve_handler, &sv), conn == 1);
        assert_int_equal(close(sp[1]), 0);
        assert_int_equal(read_answers(sp[0], reuse, 4), conn == 0 ? 2 : 1);
        assert_true(conn == 0 ? reuse[0] && reuse[1] : !reuse[0]);
        assert_int_equal(close(sp[0]), 0);
    }
    assert_int_equal(sv.calls, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_request_hostile_bytes),
        cmocka_unit_test(test_request_not_sendable),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_reply_write_refuses),
        cmocka_unit_test(test_bad_replies),
        cmocka_unit_test(test_replies_complete),
        cmocka_unit_test(test_format_delay),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_request_open),
        cmocka_unit_test(test_serve_loop),
        cmocka_unit_test(test_serve_budget_across_connections),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
