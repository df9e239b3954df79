/*
 * cidr - IPv4/IPv6 network patterns ("192.0.2.0/24", "[2001:db8::]/32",
 * "192.0.2.7", "[::1]") and address matching, as Postfix's mynetworks and
 * cidr: tables write them.
 *
 * A pattern whose address has bits set beyond its prefix ("10.1.0.0/8") is
 * an error, not a silent widening or narrowing: the text says which form
 * was meant. IPv6 may be written with or without brackets; a prefix
 * longer than the family allows is an error. An IPv4-mapped IPv6 client
 * address (::ffff:192.0.2.1) matches IPv4 patterns, as in Postfix.
 * Nothing here allocates; errors are text in a caller's strbuf.
 */
#ifndef TERN_CIDR_H
#define TERN_CIDR_H

#include <stdbool.h>

#include "common/strbuf.h"

/* A parsed network: family AF_INET or AF_INET6, network bytes, prefix. */
struct cidr {
    int family;
    unsigned char addr[16];
    unsigned prefix;
};

/* A parsed host address (family AF_INET or AF_INET6). */
struct cidr_addr {
    int family;
    unsigned char addr[16];
};

/* cidr_parse - parse a network pattern; 0, or -1 with text in err. */
int cidr_parse(const char *text, struct cidr *out, strbuf *err);

/*
 * cidr_addr_parse - parse a host address ("192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]", "[IPv6:2001:db8::1]"); an IPv4-mapped IPv6 address
 * becomes IPv4. 0, or -1 when the text is not an address.
 */
int cidr_addr_parse(const char *text, struct cidr_addr *out);

/* cidr_match - true when addr lies inside the network. */
bool cidr_match(const struct cidr *net, const struct cidr_addr *addr);

/* cidr_looks_like - true when text could only be meant as an address
 * pattern (digits and dots, or brackets, or an IPv6 form). */
bool cidr_looks_like(const char *text);

#endif
