/*
 * dnsq - test-only DNS query tool over common/dns (not installed).
 *
 *   dnsq [-s servers] [-t timeout_ms] [-r tries] [-f inet_protocols]
 *        [-p prefer] [-n runs] [-H hosts_file] mx|addrs|ptr|fcrdns|tlsa NAME
 *
 * Prints "status=S nxdomain=0|1 implicit=0|1 ad=0|1", then one line per
 * record ("mx PREF HOST", "addr TEXT", "name HOST", "tlsa U S M HEX") and
 * "reason=TEXT" when the status is not ok. With -n N (mx only) it looks the
 * name up N times through one resolver and prints "run H1 H2 ..." per run.
 * -H names the hosts file fcrdns reads first ("" for none; default
 * /etc/hosts, as tern's resolver_hosts_file).
 * Exits 0 on ok, 2 on any other status, 64 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dns.h"
#include "common/msg.h"

struct dnsq_opts {
    const char *servers;
    const char *hosts;
    int timeout_ms, tries, runs;
    unsigned families;
    dns_prefer prefer;
};

/* dnsq_usage - complain and exit 64. */
__attribute__((noreturn)) static void dnsq_usage(void)
{
    fprintf(stderr, "usage: dnsq [-s servers] [-t ms] [-r tries] [-f protocols] "
            "[-p prefer] [-n runs] [-H hosts_file] mx|addrs|ptr|fcrdns|tlsa NAME\n");
    exit(64);
}

/* dnsq_print - the result block described above. */
static void dnsq_print(const dns_result *res, const strbuf *fcname)
{
    printf("status=%s nxdomain=%d implicit=%d ad=%d\n",
           dns_status_name(res->status), res->nxdomain, res->implicit_mx, res->ad);
    for (size_t i = 0; i < res->nmx; i++)
        printf("mx %u %s\n", res->mx[i].pref, res->mx[i].host);
    for (size_t i = 0; i < res->naddr; i++)
        printf("addr %s\n", res->addr[i].text);
    for (size_t i = 0; i < res->nnames; i++)
        printf("name %s\n", res->names[i]);
    for (size_t i = 0; i < res->ntlsa; i++) {
        printf("tlsa %u %u %u ", res->tlsa[i].usage, res->tlsa[i].selector,
               res->tlsa[i].mtype);
        for (size_t j = 0; j < res->tlsa[i].len; j++)
            printf("%02x", res->tlsa[i].data[j]);
        printf("\n");
    }
    if (fcname && sb_len(fcname) > 0)
        printf("fcrdns %s\n", sb_str(fcname));
    if (res->status != DNS_OK)
        printf("reason=%s\n", sb_str(&res->reason));
}

/* dnsq_runs - repeated MX lookups through one ctx, one line each. */
static dns_status dnsq_runs(dns_ctx *ctx, const char *name, int runs,
                            dns_result *res)
{
    for (int r = 0; r < runs; r++) {
        if (dns_mx(ctx, name, res) != DNS_OK) {
            dnsq_print(res, NULL);
            return res->status;
        }
        printf("run");
        for (size_t i = 0; i < res->nmx; i++)
            printf(" %s", res->mx[i].host);
        printf("\n");
    }
    return DNS_OK;
}

/* dnsq_query - one lookup of the named kind. */
static dns_status dnsq_query(dns_ctx *ctx, const struct dnsq_opts *o,
                             const char *type, const char *name, dns_result *res)
{
    strbuf fc;
    dns_status st;

    if (strcmp(type, "mx") == 0 && o->runs > 1)
        return dnsq_runs(ctx, name, o->runs, res);
    sb_init(&fc, 256);
    if (strcmp(type, "mx") == 0)
        st = dns_mx(ctx, name, res);
    else if (strcmp(type, "addrs") == 0)
        st = dns_addrs(ctx, name, o->families, o->prefer, res);
    else if (strcmp(type, "ptr") == 0)
        st = dns_ptr(ctx, name, res);
    else if (strcmp(type, "fcrdns") == 0)
        st = dns_fcrdns(ctx, name, &fc, res);
    else if (strcmp(type, "tlsa") == 0)
        st = dns_tlsa(ctx, name, res);
    else
        dnsq_usage();
    dnsq_print(res, &fc);
    sb_release(&fc);
    return st;
}

/* dnsq_options - parse the command line into o; returns optind. */
static int dnsq_options(int argc, char **argv, struct dnsq_opts *o)
{
    int c;

    while ((c = getopt(argc, argv, "s:t:r:f:p:n:H:")) != -1) {
        switch (c) {
        case 's': o->servers = optarg; break;
        case 't': o->timeout_ms = atoi(optarg); break;
        case 'r': o->tries = atoi(optarg); break;
        case 'n': o->runs = atoi(optarg); break;
        case 'H': o->hosts = optarg; break;
        case 'f':
            if (dns_families_parse(optarg, &o->families) < 0)
                dnsq_usage();
            break;
        case 'p':
            if (dns_prefer_parse(optarg, &o->prefer) < 0)
                dnsq_usage();
            break;
        default: dnsq_usage();
        }
    }
    if (argc - optind != 2 || o->runs < 1 || o->runs > 10000)
        dnsq_usage();
    return optind;
}

/* main - one lookup (or -n runs) against the given servers. */
int main(int argc, char **argv)
{
    struct dnsq_opts o = {"", DNS_HOSTS_FILE, 2000, 2, 1, DNS_INET_ALL,
                          DNS_PREFER_ANY};
    dns_result res;
    strbuf err;
    dns_ctx *ctx;
    dns_status st;
    int i;

    msg_open("dnsq", MSG_TO_STDERR);
    i = dnsq_options(argc, argv, &o);
    sb_init(&err, 512);
    if ((ctx = dns_open(o.servers, o.timeout_ms, o.tries, &err)) == NULL) {
        fprintf(stderr, "dnsq: %s\n", sb_str(&err));
        sb_release(&err);
        return 64;
    }
    dns_set_hosts_file(ctx, o.hosts);
    dns_result_init(&res);
    st = dnsq_query(ctx, &o, argv[i], argv[i + 1], &res);
    dns_result_free(&res);
    dns_close(ctx);
    sb_release(&err);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("dnsq: stdout");
        return 1;
    }
    return st == DNS_OK ? 0 : 2;
}
