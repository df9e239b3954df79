/* Unit tests for maps/: specs, cdb build and lookup, texthash, static,
 * inline, fail, aliases, maplists, map_check and `tern map` exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "maps/maps.h"

#define DATA TERN_TEST_DATA "/maps"

struct fixture {
    char dir[64];
    strbuf log;                 /* every warning, one per line */
};

/* capture - collect log lines. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct fixture *f = ctx;

    (void)level;
    assert_int_equal(sb_printf(&f->log, "%s\n", text), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(fmt_fixed(f->dir, sizeof(f->dir), "/tmp/tern-maps-XXXXXX"), 0);
    assert_non_null(mkdtemp(f->dir));
    sb_init(&f->log, SB_NOLIMIT);
    msg_open("test", 0);
    msg_set_capture(capture, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char path[512];

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", f->dir, e->d_name), 0);
        if (unlink(path) < 0)
            assert_int_equal(rmdir(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(f->dir), 0);
    msg_set_capture(NULL, NULL);
    sb_release(&f->log);
    free(f);
    return 0;
}

/* tpath - dir/name in a static-free buffer owned by the caller. */
static void tpath(const struct fixture *f, const char *name, char *buf, size_t size)
{
    assert_int_equal(fmt_fixed(buf, size, "%s/%s", f->dir, name), 0);
}

/* put - write n bytes to dir/name. */
static void put(const struct fixture *f, const char *name, const void *data, size_t n)
{
    char path[512];
    FILE *fp;

    tpath(f, name, path, sizeof(path));
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* copy_data - copy a data file into the temp dir. */
static void copy_data(const struct fixture *f, const char *name)
{
    char path[512], buf[8192];
    FILE *fp;
    size_t n;

    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", DATA, name), 0);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf), fp);
    assert_true(n > 0 && n < sizeof(buf));
    assert_int_equal(fclose(fp), 0);
    put(f, name, buf, n);
}

/* spec - "type:dir/name". */
static void spec(const struct fixture *f, const char *type, const char *name,
                 char *buf, size_t size)
{
    assert_int_equal(fmt_fixed(buf, size, "%s:%s/%s", type, f->dir, name), 0);
}

/* build - map_build with options; returns its result, err in errbuf. */
static int build(const struct fixture *f, const char *type, const char *name,
                 const struct map_build_opts *o, strbuf *err)
{
    char s[512];
    struct map_build_opts none = {0};

    spec(f, type, name, s, sizeof(s));
    sb_reset(err);
    return map_build(s, o ? o : &none, err);
}

/* expect - one lookup with its expected outcome. */
static void expect(map *m, const char *key, int rc, const char *value)
{
    strbuf r;

    sb_init(&r, 4096);
    assert_int_equal(map_lookup(m, key, &r), rc);
    if (value != NULL)
        assert_string_equal(sb_str(&r), value);
    sb_release(&r);
}

static void test_specs(void **state)
{
    static const struct {
        const char *spec;
        const char *error;      /* NULL: opens */
    } cases[] = {
        {"cdb:/x", NULL}, {"hash:/x", NULL}, {"btree:/x", NULL},
        {"lmdb:/x", NULL}, {"texthash:/x", NULL}, {"regexp:/x", NULL},
        {"pcre:/x", NULL}, {"static:v", NULL}, {"inline:{a=b}", NULL},
        {"proxy:hash:/x", NULL}, {"fail:x", NULL},
        {"nocolon", "expected type:name"}, {":x", "expected type:name"},
        {"cdb:", "expected type:name"}, {"ty pe:x", "bad type name"},
        {"mysql:/etc/x.cf", "unsupported table type \"mysql\""},
        {"inline:{a=b", "balanced braces"}, {"inline:{novalue}", "expected key=value"},
        {"inline:a=b", "balanced braces"}, {"static:{ open", "static:{ text }"},
        {"regexp:", "expected type:name"},
    };
    strbuf err;

    (void)state;
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        map *m = map_open(cases[i].spec, MAP_F_FOLD, &err);

        if (cases[i].error == NULL) {
            assert_non_null(m);
            assert_string_equal(map_spec(m), cases[i].spec);
            map_close(m);
        } else {
            assert_null(m);
            if (strstr(sb_str(&err), cases[i].error) == NULL)
                fail_msg("%s: got \"%s\"", cases[i].spec, sb_str(&err));
        }
    }
    assert_true(map_type_known("hash"));
    assert_true(map_type_known("pcre"));
    assert_false(map_type_known("mysql"));
    assert_false(map_type_known(""));
    sb_release(&err);
}

static void test_cdb_build_lookup(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *key;
        int rc;
        const char *value;
    } cases[] = {
        {"spammer@example.com", MAP_FOUND, "REJECT go away"},
        {"SPAMMER@Example.COM", MAP_FOUND, "REJECT go away"},
        {"example.net", MAP_FOUND, "OK"},
        {".sub.example.org", MAP_FOUND, "REJECT subdomain"},
        {"192.168.1", MAP_FOUND, "OK"},
        {"multi", MAP_FOUND, "first part    second part\tthird part"},
        {"8bit-key-caf\xc3\xa9", MAP_FOUND, "value-caf\xc3\xa9"},
        {"nobody", MAP_NOTFOUND, ""},
        {"", MAP_NOTFOUND, ""},
        {"# a comment between continuation lines does not end the entry",
         MAP_NOTFOUND, ""},
    };
    char s[512];
    strbuf err;
    map *m, *nofold;

    sb_init(&err, 1024);
    copy_data(f, "access");
    assert_int_equal(build(f, "hash", "access", NULL, &err), 0);
    assert_string_equal(sb_str(&f->log), "");
    spec(f, "cdb", "access", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    assert_non_null(m);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(m, cases[i].key, cases[i].rc, cases[i].value);
    nofold = map_open(s, 0, &err);
    expect(nofold, "EXAMPLE.NET", MAP_NOTFOUND, "");
    expect(nofold, "example.net", MAP_FOUND, "OK");
    map_close(nofold);
    map_close(m);
    assert_int_equal(map_check(s, &err), 0);
    sb_release(&err);
}

static void test_cdb_missing_corrupt(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"missing", "garbage", "dir"};
    char s[512], path[512], junk[100];
    strbuf err;

    sb_init(&err, 1024);
    memset(junk, 'x', sizeof(junk));
    put(f, "garbage.cdb", junk, sizeof(junk));
    tpath(f, "dir.cdb", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        map *m;

        spec(f, "cdb", names[i], s, sizeof(s));
        m = map_open(s, MAP_F_FOLD, &err);
        assert_non_null(m);
        expect(m, "key", MAP_ERROR, "");
        assert_non_null(strstr(map_error(m), ".cdb"));
        expect(m, "key", MAP_ERROR, "");        /* stays an error */
        map_close(m);
        assert_int_equal(map_check(s, &err), -1);
        assert_non_null(strstr(sb_str(&err), names[i]));
    }
    sb_release(&err);
}

static void test_cdb_reopen_on_change(void **state)
{
    struct fixture *f = *state;
    static const char v1[] = "key one\n", v2[] = "key two-longer\nnew yes\n";
    char s[512], path[512];
    struct stat before, after;
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    put(f, "t", v1, strlen(v1));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    spec(f, "cdb", "t", s, sizeof(s));
    tpath(f, "t.cdb", path, sizeof(path));
    assert_int_equal(stat(path, &before), 0);
    m = map_open(s, MAP_F_FOLD, &err);
    expect(m, "key", MAP_FOUND, "one");
    put(f, "t", v2, strlen(v2));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino != after.st_ino);    /* replaced by rename */
    expect(m, "key", MAP_FOUND, "two-longer");
    expect(m, "new", MAP_FOUND, "yes");
    assert_int_equal(unlink(path), 0);
    expect(m, "key", MAP_ERROR, "");
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    expect(m, "key", MAP_FOUND, "two-longer");
    map_close(m);
    sb_release(&err);
}

static void test_build_warnings(void **state)
{
    struct fixture *f = *state;
    char s[512];
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    copy_data(f, "dupes");
    assert_int_equal(build(f, "cdb", "dupes", NULL, &err), 0);
    assert_non_null(strstr(sb_str(&f->log), "/dupes:3: duplicate entry: \"key1\""));
    assert_non_null(strstr(sb_str(&f->log), "/dupes:4: expected format"));
    spec(f, "cdb", "dupes", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    expect(m, "key1", MAP_FOUND, "first");      /* first wins, as postmap */
    expect(m, "key3", MAP_FOUND, "value3");
    expect(m, "novalue", MAP_NOTFOUND, "");
    map_close(m);
    sb_release(&err);
}

static void test_build_hard_errors(void **state)
{
    struct fixture *f = *state;
    static const char good[] = "key good\n";
    struct {
        const char *what;
        char *data;
        size_t len;
        const char *error;
    } cases[] = {
        {"nul", "a b\nc d\0e\n", 10, "/t:2: NUL byte"},
        {"continuation", "  x y\nkey v\n", 12, "/t:1: continuation line"},
        {"overlong", NULL, 0, "/t:1: line too long"},
        {"overlong logical", NULL, 0, "/t:1: logical line too long"},
    };
    char s[512];
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    cases[2].len = MAP_LINE_MAX + 10;
    cases[2].data = malloc(cases[2].len);
    memset(cases[2].data, 'a', cases[2].len);
    cases[3].len = 2 * (MAP_LINE_MAX / 2 + 10);
    cases[3].data = malloc(cases[3].len);
    memset(cases[3].data, 'b', cases[3].len);
    cases[3].data[0] = 'k';
    cases[3].data[1] = ' ';
    cases[3].data[MAP_LINE_MAX / 2 + 8] = '\n';
    cases[3].data[MAP_LINE_MAX / 2 + 9] = ' ';
    put(f, "t", good, strlen(good));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    spec(f, "cdb", "t", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put(f, "t", cases[i].data, cases[i].len);
        assert_int_equal(build(f, "cdb", "t", NULL, &err), -1);
        if (strstr(sb_str(&err), cases[i].error) == NULL)
            fail_msg("%s: got \"%s\"", cases[i].what, sb_str(&err));
        expect(m, "key", MAP_FOUND, "good");    /* old table untouched */
    }
    map_close(m);
    free(cases[2].data);
    free(cases[3].data);
    sb_release(&err);
}

static void test_build_incremental(void **state)
{
    struct fixture *f = *state;
    static const char src[] = "key1 old\n";
    static char in[] = "key1 new\nKey2 added\n";
    struct map_build_opts o = {0};
    char s[512];
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    put(f, "t", src, strlen(src));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    o.incremental = true;
    o.input = fmemopen(in, strlen(in), "r");
    o.input_name = "input";
    assert_int_equal(build(f, "cdb", "t", &o, &err), 0);
    fclose(o.input);
    assert_non_null(strstr(sb_str(&f->log), "input:1: duplicate entry: \"key1\""));
    spec(f, "cdb", "t", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    expect(m, "key1", MAP_FOUND, "old");
    expect(m, "key2", MAP_FOUND, "added");
    o.replace = true;
    o.input = fmemopen(in, strlen(in), "r");
    assert_int_equal(build(f, "cdb", "t", &o, &err), 0);
    fclose(o.input);
    expect(m, "key1", MAP_FOUND, "new");
    expect(m, "key2", MAP_FOUND, "added");
    map_close(m);
    sb_release(&err);
}

static void test_aliases(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *key;
        const char *value;
    } cases[] = {
        {"postmaster", "root"},
        {"root", "alice,        bob@example.com"},
        {"quoted name", "carol"},
        {"list", ":include:/etc/tern/list.txt, |\"/usr/bin/filter arg\", /var/mail/archive"},
        {"mixed", "dave"},
        {"nocolon dave", NULL},
        {"empty", NULL},
    };
    static const char *const warnings[] = {
        "/aliases:8: need name:value pair", "/aliases:9: no value after ':'",
        "/aliases:10: duplicate entry: \"root\"",
    };
    struct map_build_opts o = {.aliases = true};
    char s[512];
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    copy_data(f, "aliases");
    assert_int_equal(build(f, "hash", "aliases", &o, &err), 0);
    for (size_t i = 0; i < sizeof(warnings) / sizeof(warnings[0]); i++)
        if (strstr(sb_str(&f->log), warnings[i]) == NULL)
            fail_msg("missing \"%s\" in:\n%s", warnings[i], sb_str(&f->log));
    spec(f, "hash", "aliases", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(m, cases[i].key, cases[i].value ? MAP_FOUND : MAP_NOTFOUND,
               cases[i].value ? cases[i].value : "");
    map_close(m);
    o.incremental = true;               /* only cdb tables can be built */
    assert_int_equal(map_build("regexp:/x", &o, &err), -1);
    sb_release(&err);
}

static void test_texthash(void **state)
{
    struct fixture *f = *state;
    static const char v1[] = "Alpha one\n", v2[] = "alpha two\nbeta b\n";
    static const char bad[] = "alpha one\nbe\0ta b\n";
    char s[512];
    strbuf err;
    map *m;

    sb_init(&err, 1024);
    spec(f, "texthash", "t", s, sizeof(s));
    m = map_open(s, MAP_F_FOLD, &err);
    assert_non_null(m);
    expect(m, "alpha", MAP_ERROR, "");          /* no file yet */
    assert_non_null(strstr(map_error(m), "/t: No such file"));
    put(f, "t", v1, strlen(v1));
    expect(m, "ALPHA", MAP_FOUND, "one");
    expect(m, "beta", MAP_NOTFOUND, "");
    put(f, "t", v2, strlen(v2));                /* re-read when changed */
    expect(m, "alpha", MAP_FOUND, "two");
    expect(m, "beta", MAP_FOUND, "b");
    put(f, "t", bad, sizeof(bad) - 1);
    expect(m, "alpha", MAP_ERROR, "");
    assert_non_null(strstr(map_error(m), "/t:2: NUL byte"));
    assert_int_equal(map_check(s, &err), -1);
    assert_non_null(strstr(sb_str(&err), "/t:2: NUL byte"));
    map_close(m);
    sb_release(&err);
}

static void test_static_inline_fail(void **state)
{
    static const struct {
        const char *spec;
        const char *key;
        int rc;
        const char *value;
    } cases[] = {
        {"static:1000", "anything", MAP_FOUND, "1000"},
        {"static:{ text with space }", "x", MAP_FOUND, "text with space"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "a", MAP_FOUND, "1"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "B", MAP_FOUND, "2"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "c", MAP_FOUND, "x, y"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "d", MAP_FOUND, "4"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "e", MAP_FOUND, "5"},
        {"inline:{ a = 1, b=2, { c = x, y }, d =4 e= 5 }", "z", MAP_NOTFOUND, ""},
        {"inline:{}", "a", MAP_NOTFOUND, ""},
        {"fail:test", "a", MAP_ERROR, ""},
    };
    strbuf err;

    (void)state;
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        map *m = map_open(cases[i].spec, MAP_F_FOLD, &err);

        assert_non_null(m);
        expect(m, cases[i].key, cases[i].rc, cases[i].value);
        map_close(m);
    }
    sb_release(&err);
}

static void test_maplist(void **state)
{
    struct fixture *f = *state;
    static const char re[] = "/^x/ from-regexp\n";
    char value[600];
    strbuf err, r;
    maplist *ml;

    sb_init(&err, 1024);
    sb_init(&r, 1024);
    put(f, "re", re, strlen(re));
    assert_int_equal(fmt_fixed(value, sizeof(value), "inline:{a=1, x=inline},"
                               " regexp: %s/re  static:{ the default }", f->dir), 0);
    ml = maplist_open(value, MAP_F_FOLD, &err);
    assert_non_null(ml);
    assert_int_equal(maplist_count(ml), 3);
    assert_string_equal(map_spec(maplist_get(ml, 2)), "static:{ the default }");
    assert_int_equal(maplist_lookup(ml, "a", &r), MAP_FOUND);
    assert_string_equal(sb_str(&r), "1");
    assert_int_equal(maplist_lookup(ml, "x", &r), MAP_FOUND);
    assert_string_equal(sb_str(&r), "inline");
    assert_int_equal(maplist_lookup(ml, "xy", &r), MAP_FOUND);
    assert_string_equal(sb_str(&r), "from-regexp");
    assert_int_equal(maplist_lookup(ml, "zz", &r), MAP_FOUND);
    assert_string_equal(sb_str(&r), "the default");
    maplist_close(ml);

    ml = maplist_open("fail:down, static:never", MAP_F_FOLD, &err);
    assert_int_equal(maplist_lookup(ml, "a", &r), MAP_ERROR);  /* errors stop */
    maplist_close(ml);
    ml = maplist_open("  ", MAP_F_FOLD, &err);
    assert_int_equal(maplist_count(ml), 0);
    assert_int_equal(maplist_lookup(ml, "a", &r), MAP_NOTFOUND);
    maplist_close(ml);
    assert_null(maplist_open("inline:{a=1} mysql:/etc/x.cf", MAP_F_FOLD, &err));
    assert_non_null(strstr(sb_str(&err), "mysql"));
    assert_null(maplist_open("inline:{a=1}}", MAP_F_FOLD, &err));
    sb_release(&err);
    sb_release(&r);
}

static void test_check_stale_cdb(void **state)
{
    struct fixture *f = *state;
    static const char src[] = "k v\n";
    struct timespec later[2];
    char s[512], path[512];
    strbuf err;

    sb_init(&err, 1024);
    put(f, "t", src, strlen(src));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    spec(f, "hash", "t", s, sizeof(s));
    assert_int_equal(map_check(s, &err), 0);
    tpath(f, "t", path, sizeof(path));
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &later[0]), 0);
    later[0].tv_sec += 100;
    later[1] = later[0];
    assert_int_equal(utimensat(AT_FDCWD, path, later, 0), 0);
    assert_int_equal(map_check(s, &err), 1);
    assert_non_null(strstr(sb_str(&err), "older than its source"));
    sb_release(&err);
}

static void test_no_temp_files_left(void **state)
{
    struct fixture *f = *state;
    static const char src[] = "k v\n", bad[] = "k v\n\0\n";
    struct dirent *e;
    strbuf err;
    DIR *d;
    int n = 0;

    sb_init(&err, 1024);
    put(f, "t", src, strlen(src));
    assert_int_equal(build(f, "cdb", "t", NULL, &err), 0);
    put(f, "t", bad, sizeof(bad) - 1);
    assert_int_equal(build(f, "cdb", "t", NULL, &err), -1);
    d = opendir(f->dir);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            n++;
            assert_true(strcmp(e->d_name, "t") == 0 || strcmp(e->d_name, "t.cdb") == 0);
        }
    closedir(d);
    assert_int_equal(n, 2);
    sb_release(&err);
}

static void test_cmd_exit_codes(void **state)
{
    struct fixture *f = *state;
    static const char src[] = "key value\n";
    char s[512], missing[512];
    strbuf err;

    sb_init(&err, 1024);
    put(f, "t", src, strlen(src));
    spec(f, "hash", "t", s, sizeof(s));
    spec(f, "cdb", "missing", missing, sizeof(missing));
    {
        char *build_argv[] = {"map", s, NULL};
        char *found[] = {"map", "-q", "KEY", s, NULL};
        char *notfound[] = {"map", "-q", "nope", s, NULL};
        char *error[] = {"map", "-q", "key", missing, NULL};
        char *usage1[] = {"map", NULL};
        char *usage2[] = {"map", "-z", s, NULL};
        char *badspec[] = {"map", "-q", "k", "mysql:/x", NULL};

        assert_int_equal(map_cmd_main(2, build_argv, NULL), 0);
        assert_int_equal(map_cmd_main(4, found, NULL), 0);
        assert_int_equal(map_cmd_main(4, notfound, NULL), 1);
        assert_int_equal(map_cmd_main(4, error, NULL), 2);
        assert_int_equal(map_cmd_main(1, usage1, NULL), 64);
        assert_int_equal(map_cmd_main(3, usage2, NULL), 64);
        assert_int_equal(map_cmd_main(4, badspec, NULL), 2);
    }
    {
        char path[512];
        char *na[] = {"newaliases", NULL, NULL};
        static const char al[] = "root: admin\n";

        put(f, "al", al, strlen(al));
        spec(f, "hash", "al", path, sizeof(path));
        na[1] = path;
        assert_int_equal(map_cmd_newaliases(2, na, NULL), 0);
        char *q[] = {"map", "-q", "root", path, NULL};
        assert_int_equal(map_cmd_main(4, q, NULL), 0);
    }
    sb_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdb_build_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdb_missing_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdb_reopen_on_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_hard_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texthash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_inline_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maplist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_stale_cdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_temp_files_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_exit_codes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
