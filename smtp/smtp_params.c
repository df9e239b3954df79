/*
 * smtp_params - parameter loading (see smtp_params.h). Tables map stages
 * to parameter names and log texts; a bad value is -1 with a reason.
 */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include "common/msg.h"
#include "smtp/smtp_params.h"

static const struct {
    const char *param;
    const char *text;
} smtp_stages[SMTP_ST_COUNT] = {
    [SMTP_ST_CONNECT] = {"smtp_connect_timeout", "connecting"},
    [SMTP_ST_GREETING] = {"smtp_helo_timeout",
                          "receiving the initial server greeting"},
    [SMTP_ST_HELO] = {"smtp_helo_timeout", "performing the EHLO handshake"},
    [SMTP_ST_MAIL] = {"smtp_mail_timeout", "sending MAIL FROM"},
    [SMTP_ST_RCPT] = {"smtp_rcpt_timeout", "sending RCPT TO"},
    [SMTP_ST_DATA] = {"smtp_data_init_timeout", "sending DATA command"},
    [SMTP_ST_BODY] = {"smtp_data_xfer_timeout", "sending message body"},
    [SMTP_ST_DOT] = {"smtp_data_done_timeout",
                     "sending end of data -- message may be sent more than once"},
    [SMTP_ST_RSET] = {"smtp_rset_timeout", "sending RSET"},
    [SMTP_ST_QUIT] = {"smtp_quit_timeout", "sending QUIT"},
};

/* smtp_stage_name - the stage in Postfix's words. */
const char *smtp_stage_name(const smtp_params *p, enum smtp_stage st)
{
    if (st == SMTP_ST_HELO && p->lmtp)
        return "performing the LHLO handshake";
    return smtp_stages[st].text;
}

/* own_add - remember one address of this host (bounded). */
static void own_add(smtp_params *p, const char *text)
{
    if (p->nown < SMTP_OWN_ADDR_MAX
        && dns_addr_literal(text, &p->own[p->nown]) == 0)
        p->nown++;
}

/* own_interfaces - every address of every interface (inet_interfaces=all). */
static void own_interfaces(smtp_params *p)
{
    struct ifaddrs *list, *ifa;

    if (getifaddrs(&list) < 0) {
        msg_warn("getifaddrs: %m: mail looping back to this host is"
                 " detected by host name only");
        return;
    }
    for (ifa = list; ifa && p->nown < SMTP_OWN_ADDR_MAX; ifa = ifa->ifa_next) {
        dns_addr *a = &p->own[p->nown];

        if (ifa->ifa_addr == NULL)
            continue;
        memset(a, 0, sizeof(*a));
        if (ifa->ifa_addr->sa_family == AF_INET) {
            a->family = AF_INET;
            memcpy(a->bytes, &((struct sockaddr_in *)(void *)ifa->ifa_addr)->sin_addr, 4);
            p->nown++;
        } else if (ifa->ifa_addr->sa_family == AF_INET6) {
            a->family = AF_INET6;
            memcpy(a->bytes, &((struct sockaddr_in6 *)(void *)ifa->ifa_addr)->sin6_addr, 16);
            p->nown++;
        }
    }
    freeifaddrs(list);
}

/* own_addresses - this host's addresses per inet_interfaces. */
static void own_addresses(const conf *c, smtp_params *p)
{
    const char *const *list = conf_get_list(c, "inet_interfaces");

    p->nown = 0;
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], "all") == 0) {
            own_interfaces(p);
            return;
        }
        if (strcmp(list[i], "loopback-only") == 0) {
            own_add(p, "127.0.0.1");
            own_add(p, "::1");
        } else {
            const char *s = list[i];
            size_t n = strlen(s);
            char buf[DNS_TEXT_ADDR + 8];

            if (n >= 2 && s[0] == '[' && s[n - 1] == ']'
                && fmt_fixed(buf, sizeof(buf), "%.*s", (int)(n - 2), s + 1) == 0)
                s = buf;
            own_add(p, s);
        }
    }
}

/* smtp_params_load - every smtp_* parameter the client uses. */
int smtp_params_load(const conf *c, bool lmtp, smtp_params *p, strbuf *why)
{
    memset(p, 0, sizeof(*p));
    p->lmtp = lmtp;
    p->name = lmtp ? "lmtp" : "smtp";
    for (int i = 0; i < SMTP_ST_COUNT; i++) {
        long t = conf_get_time(c, smtp_stages[i].param);

        /* Timeouts become milliseconds in an int: clamp, never wrap. */
        p->timeout[i] = t > INT_MAX / 1000 ? INT_MAX / 1000 : (int)t;
    }
    p->helo_name = conf_get_str(c, "smtp_helo_name");
    p->bind4 = conf_get_str(c, "smtp_bind_address");
    p->bind6 = conf_get_str(c, "smtp_bind_address6");
    p->line_limit = (size_t)conf_get_int(c, "smtp_line_length_limit");
    p->mx_address_limit = (size_t)conf_get_int(c, "smtp_mx_address_limit");
    p->cache_time = conf_get_time(c, "smtp_connection_cache_time_limit");
    p->myhostname = conf_get_str(c, "myhostname");
    p->queue_directory = conf_get_str(c, "queue_directory");
    p->resolver = conf_param_find("resolver_servers")
        ? conf_get_str(c, "resolver_servers") : "";
    sb_reset(why);
    if (dns_families_parse(conf_get_str(c, "inet_protocols"), &p->families) < 0)
        (void)sb_printf(why, "bad inet_protocols value: %s",
                        conf_get_str(c, "inet_protocols"));
    else if (dns_prefer_parse(conf_get_str(c, "smtp_address_preference"),
                              &p->prefer) < 0)
        (void)sb_printf(why, "bad smtp_address_preference value: %s",
                        conf_get_str(c, "smtp_address_preference"));
    if (sb_len(why) > 0)
        return -1;
    own_addresses(c, p);
    return 0;
}
