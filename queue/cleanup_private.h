/*
 * cleanup_private - the structures shared by cleanup.c (configuration,
 * message life cycle, verdict), cleanup_addr.c (canonical and virtual
 * alias rewriting) and cleanup_hdr.c (the header state machine). Not part
 * of the API: only cleanup*.c include it.
 */
#ifndef TERN_CLEANUP_PRIVATE_H
#define TERN_CLEANUP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "maps/maps.h"
#include "queue/cleanup.h"
#include "queue/qfile.h"

/* Address classes of canonical_classes and friends. */
#define CLEANUP_ENV_SENDER (1u << 0)
#define CLEANUP_ENV_RCPT   (1u << 1)
#define CLEANUP_HDR_SENDER (1u << 2)
#define CLEANUP_HDR_RCPT   (1u << 3)

/* local_header_rewrite_clients items. */
#define CLEANUP_LHR_INET_IF  (1u << 0)  /* permit_inet_interfaces */
#define CLEANUP_LHR_NETWORKS (1u << 1)  /* permit_mynetworks */
#define CLEANUP_LHR_SASL     (1u << 2)  /* permit_sasl_authenticated */
#define CLEANUP_LHR_ALL      (1u << 3)  /* static:all */

/* One local interface address (permit_inet_interfaces). */
struct cleanup_ifaddr {
    int family;
    unsigned char addr[16];
};

struct cleanup_cfg {
    maplist *canon;             /* canonical_maps */
    maplist *sender_canon;      /* sender_canonical_maps */
    maplist *rcpt_canon;        /* recipient_canonical_maps */
    maplist *virtual;           /* virtual_alias_maps */
    maplist *header_checks;
    unsigned canon_classes, sender_classes, rcpt_classes;
    bool prop_canonical, prop_virtual;  /* propagate_unmatched_extensions */
    bool always_add;            /* always_add_missing_headers */
    unsigned lhr;               /* local_header_rewrite_clients */
    struct cleanup_ifaddr *ifaddrs;
    size_t nifaddrs;
    long hopcount_limit;
    long recursion_limit;       /* virtual_alias_recursion_limit */
    long expansion_limit;       /* virtual_alias_expansion_limit */
    size_t header_limit;        /* header_size_limit */
    char *myhostname, *myorigin, *delims;
    char **mydest;              /* literal mydestination items, lower case */
    size_t nmydest;
};

/* A set of addresses, compared case-insensitively (duplicate removal). */
struct cleanup_set {
    char **slot;
    size_t cap, n;
};

/* Where the header state machine is. */
enum cleanup_hstate {
    CLEANUP_H_LINE,             /* collecting a header-section line */
    CLEANUP_H_SKIP,             /* dropping the rest of an overlong line */
    CLEANUP_H_BODY,             /* past the headers: bytes stream through */
};

struct cleanup {
    cleanup_cfg *cfg;
    qfile_writer *w;
    enum cleanup_verdict verdict;
    strbuf reply;               /* SMTP reply for REJECT / TEMPFAIL */
    bool write_failed;
    char *queue_id;
    char *sender;               /* envelope sender after rewriting */
    char *last_rcpt;            /* for log lines: to=<...> */
    char *origin;               /* "host[addr]" or "local" */
    char *proto, *helo;         /* NULL when unknown */
    long arrival;               /* seconds, for an added Date: */
    bool rewrite_hdrs;          /* local context: rewrite header addresses */
    bool add_missing;           /* add From/Date/Message-ID when missing */
    /* recipients, written after the content */
    qfile_rcpt *rcpt;
    size_t nrcpt, rcpt_cap;
    struct cleanup_set seen_rcpt;
    /* the header state machine */
    enum cleanup_hstate hstate;
    strbuf line;                /* the line being collected */
    strbuf field;               /* the header field being collected */
    bool skip_to_field;         /* overlong continuation: drop the line */
    bool overflow_logged;
    long hops;                  /* Received: headers seen */
    bool seen_from, seen_date, seen_msgid;
};

/* cleanup.c */
void cleanup_set_verdict(cleanup *c, enum cleanup_verdict v, const char *reply);
bool cleanup_done(const cleanup *c);
int cleanup_out(cleanup *c, const void *buf, size_t len);
void cleanup_log(enum msg_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cleanup_put_rcpt(cleanup *c, const char *address, const qfile_rcpt *from);

/* cleanup_addr.c */
enum cleanup_map_rc { CLEANUP_MAP_SAME = 0, CLEANUP_MAP_CHANGED = 1,
                      CLEANUP_MAP_ERROR = -1 };
int cleanup_canon(cleanup *c, bool sender_side, bool header, const char *in,
                  strbuf *out);
int cleanup_virtual(cleanup *c, const char *in, char ***out, size_t *nout);
void cleanup_strv_free(char **v, size_t n);
bool cleanup_set_add(struct cleanup_set *s, const char *key);
void cleanup_set_free(struct cleanup_set *s);
int cleanup_qualify(const cleanup_cfg *cc, const char *ext, size_t len,
                    strbuf *internal);

/* cleanup_hdr.c */
int cleanup_hdr_feed(cleanup *c, const char *buf, size_t len);
int cleanup_hdr_finish(cleanup *c);

#endif
