/*
 * smtp_params - the smtp/lmtp client's parameters, read once per process
 * from the service's effective configuration (main.cf plus its master.cf
 * -o overrides, so smtp_bind_address and smtp_helo_name can differ per
 * transport). The lmtp program reads the same smtp_* parameters; only
 * its protocol (LHLO, per-recipient replies after DATA) and default port
 * (24) differ. Strings point into the conf, which must outlive them.
 */
#ifndef TERN_SMTP_PARAMS_H
#define TERN_SMTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/dns.h"
#include "conf/conf.h"

/* Protocol stages; each has its own reply timeout. */
enum smtp_stage {
    SMTP_ST_CONNECT, SMTP_ST_GREETING, SMTP_ST_HELO, SMTP_ST_MAIL,
    SMTP_ST_RCPT, SMTP_ST_DATA, SMTP_ST_BODY, SMTP_ST_DOT, SMTP_ST_RSET,
    SMTP_ST_QUIT, SMTP_ST_COUNT
};

#define SMTP_OWN_ADDR_MAX 64

typedef struct smtp_params {
    bool lmtp;                  /* LMTP mode (program name "lmtp") */
    const char *name;           /* "smtp" or "lmtp", for log texts */
    int timeout[SMTP_ST_COUNT]; /* seconds per stage */
    const char *helo_name;
    const char *bind4, *bind6;
    size_t line_limit;          /* smtp_line_length_limit, 0 = none */
    size_t mx_address_limit;    /* 0 = no limit */
    long cache_time;            /* smtp_connection_cache_time_limit, s */
    unsigned families;          /* inet_protocols */
    dns_prefer prefer;          /* smtp_address_preference */
    const char *myhostname;
    const char *queue_directory;
    const char *resolver;       /* resolver_servers, "" = resolv.conf */
    dns_addr own[SMTP_OWN_ADDR_MAX];   /* this host's addresses */
    size_t nown;
    struct maplist *header_checks;     /* smtp_header_checks (smtp_hdrchk.h) */
} smtp_params;

/* smtp_params_load - read c; -1 and why when a value is unusable. */
int smtp_params_load(const conf *c, bool lmtp, smtp_params *p, strbuf *why);

/* smtp_stage_name - "sending RCPT TO" ... for error texts. */
const char *smtp_stage_name(const smtp_params *p, enum smtp_stage st);

#endif
