/*
 * smtpd_net - mynetworks for permit_mynetworks: parsed once at compile.
 *
 * Items, as Postfix's host/address lists: network patterns
 * ("192.0.2.0/24", "[2001:db8::]/32", "192.0.2.7", "[::1]"), host and
 * domain names matched against the verified client name (".example.com"
 * matches subdomains; "example.com" does too when mynetworks is listed in
 * parent_domain_matches_subdomains), "/file" with more items, "type:table"
 * looked up by client name (and parent domains) and by client address (a
 * found key matches whatever its value), and "!item" to exclude. The
 * first item that matches decides. A bad pattern, an unreadable file or a
 * bad table spec is a configuration error; a table lookup error is -1 at
 * run time (the caller answers 451 4.3.0).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "smtpd/smtpd_check_int.h"

#define NET_FILE_DEPTH 4        /* /file items inside files */
#define NET_LINE_MAX 4096

static int add_item(restrict_set *rs, const char *item, int depth,
                    strbuf *err);

/* valid_name - a host or domain name item (optionally with a leading dot). */
static bool valid_name(const char *s)
{
    if (*s == '.')
        s++;
    if (*s == '\0' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.'
            && *s != '_')
            return false;
    return true;
}

/* read_file - add the items of a pattern file. */
static int read_file(restrict_set *rs, const char *path, int depth,
                     strbuf *err)
{
    FILE *fp;
    char line[NET_LINE_MAX];
    int rv = 0, lineno = 0;

    if (depth >= NET_FILE_DEPTH) {
        (void)sb_printf(err, "mynetworks: %s: files nested too deeply", path);
        return -1;
    }
    if ((fp = fopen(path, "r")) == NULL) {
        (void)sb_printf(err, "mynetworks: open %s: %s", path, strerror(errno));
        return -1;
    }
    while (rv == 0 && fgets(line, sizeof(line), fp) != NULL) {
        char *save = NULL, *tok;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            (void)sb_printf(err, "mynetworks: %s, line %d: line too long",
                            path, lineno);
            rv = -1;
            break;
        }
        line[strcspn(line, "#")] = '\0';
        for (tok = strtok_r(line, " \t\r\n,", &save); tok && rv == 0;
             tok = strtok_r(NULL, " \t\r\n,", &save))
            rv = add_item(rs, tok, depth + 1, err);
    }
    if (ferror(fp) && rv == 0) {
        (void)sb_printf(err, "mynetworks: read %s: %s", path, strerror(errno));
        rv = -1;
    }
    (void)fclose(fp);
    return rv;
}

/* add_item - parse one item (maybe "!"-negated) onto rs->nets. */
static int add_item(restrict_set *rs, const char *item, int depth,
                    strbuf *err)
{
    struct restrict_net n;
    strbuf e;
    bool neg = false;
    int rv = 0;

    while (*item == '!') {
        neg = !neg;
        item++;
    }
    if (*item == '/')
        return read_file(rs, item, depth, err);
    memset(&n, 0, sizeof(n));
    n.neg = neg;
    sb_init(&e, RESTRICT_TEXT_MAX);
    if (cidr_looks_like(item)) {
        n.kind = NET_CIDR;
        rv = cidr_parse(item, &n.net, &e);
    } else if (strchr(item, ':') != NULL) {
        n.kind = NET_TABLE;
        if ((n.table = map_open(item, MAP_F_FOLD, &e)) == NULL)
            rv = -1;
    } else if (valid_name(item)) {
        n.kind = NET_NAME;
        n.name = xstrdup(item);
        for (char *p = n.name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    } else {
        (void)sb_printf(&e, "bad item \"%.100s\"", item);
        rv = -1;
    }
    if (rv < 0) {
        (void)sb_printf(err, "mynetworks: %s", sb_str(&e));
    } else {
        rs->nets = xreallocarray(rs->nets, rs->nnets + 1, sizeof(*rs->nets));
        rs->nets[rs->nnets++] = n;
    }
    sb_release(&e);
    return rv;
}

/* restrict_net_compile - parse mynetworks. */
int restrict_net_compile(restrict_set *rs, strbuf *err)
{
    const char *const *items = conf_get_list(rs->conf, "mynetworks");

    for (; items && *items; items++)
        if (add_item(rs, *items, 0, err) < 0)
            return -1;
    return 0;
}

/* restrict_net_free - release mynetworks. */
void restrict_net_free(restrict_set *rs)
{
    for (size_t i = 0; i < rs->nnets; i++) {
        map_close(rs->nets[i].table);
        free(rs->nets[i].name);
    }
    free(rs->nets);
    rs->nets = NULL;
    rs->nnets = 0;
}

/* name_match - client name against a name item. */
static bool name_match(const restrict_set *rs, const char *pat,
                       const char *name)
{
    size_t pl = strlen(pat), nl = strlen(name);

    if (pat[0] == '.')
        return nl > pl && strcasecmp(name + nl - pl, pat) == 0;
    if (strcasecmp(name, pat) == 0)
        return true;
    return rs->nets_parent && nl > pl && name[nl - pl - 1] == '.'
        && strcasecmp(name + nl - pl, pat) == 0;
}

/* table_match - 1 found by name or address, 0 not, -1 lookup error. */
static int table_match(const restrict_set *rs, map *m, const char *name,
                       const char *addr)
{
    struct map_keyopts dom = {.order = MAP_KEYS_DOMAIN,
                              .parent_matches = rs->nets_parent};
    struct map_keyopts full = {.order = MAP_KEYS_FULL};
    map_keys keys = {0, NULL};
    strbuf val;
    int rv = MAP_NOTFOUND;

    sb_init(&val, MAP_LINE_MAX);
    for (int pass = 0; pass < 2 && rv == MAP_NOTFOUND; pass++) {
        const char *in = pass == 0 ? name : addr;

        if (in == NULL || *in == '\0' || (pass == 0
                                           && strcasecmp(in, "unknown") == 0))
            continue;
        if (map_keys_make(in, pass == 0 ? &dom : &full, &keys) < 0)
            continue;
        for (size_t i = 0; i < keys.n && rv == MAP_NOTFOUND; i++)
            if (!keys.v[i].partial || !map_is_pattern(m))
                rv = map_lookup(m, keys.v[i].key, &val);
        map_keys_free(&keys);
    }
    sb_release(&val);
    return rv == MAP_FOUND ? 1 : rv == MAP_ERROR ? -1 : 0;
}

/* restrict_net_match - see smtpd_check_int.h. */
int restrict_net_match(restrict_set *rs, const char *name, const char *addr)
{
    struct cidr_addr a;
    bool have_addr = addr != NULL && cidr_addr_parse(addr, &a) == 0;

    for (size_t i = 0; i < rs->nnets; i++) {
        const struct restrict_net *n = &rs->nets[i];
        int m = 0;

        if (n->kind == NET_CIDR)
            m = have_addr && cidr_match(&n->net, &a);
        else if (n->kind == NET_NAME)
            m = name && strcasecmp(name, "unknown") != 0
                && name_match(rs, n->name, name);
        else if ((m = table_match(rs, n->table, name, addr)) < 0)
            return -1;
        if (m)
            return n->neg ? 0 : 1;
    }
    return 0;
}
