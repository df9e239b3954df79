/*
 * map_cdb - the indexed table type (cdb:, hash:, btree:, lmdb:) on tinycdb.
 *
 * "cdb:/path" reads /path.cdb. The file is opened at the first lookup and
 * re-opened whenever the name points at a new file (inode, size or mtime
 * changed), which is what an atomic rebuild by `tern map` produces. A
 * missing, unreadable or corrupt file is MAP_ERROR, never "not found".
 *
 * Building writes path.cdb.XXXXXX in the same directory, fsyncs it, renames
 * it over path.cdb and fsyncs the directory (STYLE.md rule 13), so readers
 * see the old table or the new one, never half of one. On any failure the
 * temporary file is removed and the old table is left alone.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

struct cdb_state {
    strbuf path;                /* name + ".cdb" */
    int fd;                     /* -1 when not open */
    struct cdb cdb;
    map_stamp stamp;
    strbuf key;                 /* folded key scratch */
};

/* cdb_path - name + ".cdb" into out; -1 when too long. */
static int cdb_path(const char *name, strbuf *out)
{
    sb_init(out, PATH_MAX);
    return sb_printf(out, "%s.cdb", name);
}

/* cdb_open - set up state; the file is not touched yet. */
static int cdb_open(map *m, strbuf *err)
{
    struct cdb_state *st = xcalloc(1, sizeof(*st));

    st->fd = -1;
    m->impl = st;
    sb_init(&st->key, MAP_LINE_MAX);
    if (cdb_path(m->name, &st->path) < 0) {
        sb_reset(err);
        sb_printf(err, "table %s: file name too long", m->spec);
        return -1;
    }
    return 0;
}

/* cdb_drop - close the current file, if any. */
static void cdb_drop(struct cdb_state *st)
{
    if (st->fd >= 0) {
        cdb_free(&st->cdb);
        if (close(st->fd) < 0)
            msg_warn("close %s: %m", st->path.data);
    }
    st->fd = -1;
    st->stamp.valid = false;
}

/* cdb_attach - open path as a cdb; fd, or -1 with err. */
static int cdb_attach(const char *path, struct cdb *c, map_stamp *stamp,
                      strbuf *err)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    sb_reset(err);
    if (fd < 0) {
        sb_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        sb_printf(err, "%s: not a regular file", path);
    } else if (cdb_init(c, fd) < 0) {
        sb_printf(err, "%s: not a valid cdb file (%s)", path,
                  errno == EPROTO ? "corrupt or truncated" : strerror(errno));
    } else {
        if (stamp != NULL) {
            stamp->valid = true;
            stamp->dev = sb.st_dev;
            stamp->ino = sb.st_ino;
            stamp->size = sb.st_size;
            stamp->mtime = sb.st_mtim;
        }
        return fd;
    }
    if (close(fd) < 0)
        msg_warn("close %s: %m", path);
    return -1;
}

/* cdb_fresh - make sure the open file is the current one; -1 + why. */
static int cdb_fresh(struct cdb_state *st, strbuf *why)
{
    map_stamp now;

    if (map_stamp_get(st->path.data, &now, why) < 0) {
        cdb_drop(st);
        return -1;
    }
    if (st->fd >= 0 && map_stamp_same(&st->stamp, &now))
        return 0;
    cdb_drop(st);
    st->fd = cdb_attach(st->path.data, &st->cdb, &st->stamp, why);
    return st->fd < 0 ? -1 : 0;
}

/* cdb_find_key - try the key without, then with, a trailing NUL (Postfix
 * tables built with -N); 1 found, 0 not, -1 corrupt. */
static int cdb_find_key(struct cdb *c, const strbuf *key)
{
    int r = cdb_find(c, key->data, (unsigned)key->len);

    if (r == 0)
        r = cdb_find(c, key->data, (unsigned)key->len + 1);
    return r;
}

/* cdb_lookup - one key. */
static int cdb_lookup(map *m, const char *key, strbuf *result)
{
    struct cdb_state *st = m->impl;
    strbuf why;
    const char *v;
    unsigned vlen;
    int r;

    if (map_fold_key(m, key, &st->key) < 0)
        return MAP_NOTFOUND;            /* longer than any stored key */
    sb_init(&why, 1024);
    if (cdb_fresh(st, &why) < 0)
        goto error;
    r = cdb_find_key(&st->cdb, &st->key);
    if (r == 0) {
        sb_release(&why);
        return MAP_NOTFOUND;
    }
    vlen = cdb_datalen(&st->cdb);
    v = r < 0 ? NULL : cdb_get(&st->cdb, vlen, cdb_datapos(&st->cdb));
    if (v == NULL) {
        sb_printf(&why, "%s: read error (corrupt file?)", st->path.data);
        goto error;
    }
    if (vlen > 0 && v[vlen - 1] == '\0')
        vlen--;
    if (sb_append(result, v, vlen) < 0) {
        sb_printf(&why, "%s: value of \"%s\" too long", st->path.data, key);
        goto error;
    }
    sb_release(&why);
    return MAP_FOUND;
error:
    map_set_error(m, &why);
    sb_release(&why);
    return MAP_ERROR;
}

/* cdb_check - .cdb present and valid; not older than its source. */
static int cdb_check(map *m, strbuf *err)
{
    struct cdb_state *st = m->impl;
    struct cdb c;
    map_stamp db, src;
    strbuf tmp;
    int fd = cdb_attach(st->path.data, &c, &db, err);

    if (fd < 0)
        return -1;
    cdb_free(&c);
    if (close(fd) < 0)
        msg_warn("close %s: %m", st->path.data);
    sb_init(&tmp, 1024);
    if (map_stamp_get(m->name, &src, &tmp) == 0
        && (src.mtime.tv_sec > db.mtime.tv_sec
            || (src.mtime.tv_sec == db.mtime.tv_sec
                && src.mtime.tv_nsec > db.mtime.tv_nsec))) {
        sb_release(&tmp);
        sb_printf(err, "%s is older than its source %s: run \"tern map %s\"",
                  st->path.data, m->name, m->spec);
        return 1;
    }
    sb_release(&tmp);
    return 0;
}

/* cdb_close - release state. */
static void cdb_close(map *m)
{
    struct cdb_state *st = m->impl;

    if (st == NULL)
        return;
    cdb_drop(st);
    sb_release(&st->path);
    sb_release(&st->key);
    free(st);
}

const struct map_ops map_cdb_ops = {
    "cdb", false, cdb_open, cdb_lookup, cdb_check, cdb_close,
};

/* Building. */
struct cdb_builder {
    struct cdb_make cm;
    bool replace;
    const char *tmp;
};

/* build_sink - add one entry; 1 when the key was already there. */
static int build_sink(void *ctx, const char *key, const char *value,
                      strbuf *err)
{
    struct cdb_builder *b = ctx;
    int r = cdb_make_put(&b->cm, key, (unsigned)strlen(key), value,
                         (unsigned)strlen(value),
                         b->replace ? CDB_PUT_REPLACE : CDB_PUT_INSERT);

    if (r < 0) {
        sb_reset(err);
        sb_printf(err, "write %s: %s", b->tmp, strerror(errno));
        return -1;
    }
    return r > 0 && !b->replace ? 1 : 0;
}

/* copy_existing - incremental mode starts from the current table. */
static int copy_existing(struct cdb_builder *b, const char *cdbpath,
                         strbuf *err)
{
    struct cdb c;
    unsigned pos;
    int fd, r;

    if (access(cdbpath, F_OK) < 0 && errno == ENOENT)
        return 0;
    if ((fd = cdb_attach(cdbpath, &c, NULL, err)) < 0)
        return -1;
    cdb_seqinit(&pos, &c);
    while ((r = cdb_seqnext(&pos, &c)) > 0) {
        const void *k = cdb_getkey(&c), *v = cdb_getdata(&c);

        if (k == NULL || v == NULL
            || cdb_make_put(&b->cm, k, cdb_keylen(&c), v, cdb_datalen(&c),
                            CDB_PUT_INSERT) < 0) {
            r = -1;
            break;
        }
    }
    cdb_free(&c);
    if (close(fd) < 0)
        msg_warn("close %s: %m", cdbpath);
    if (r < 0) {
        sb_reset(err);
        sb_printf(err, "%s: cannot copy existing entries", cdbpath);
        return -1;
    }
    return 0;
}

/* fill - the entries: existing ones (incremental), then the source. */
static int fill(struct cdb_builder *b, const char *path, const char *cdbpath,
                const struct map_build_opts *o, strbuf *err)
{
    map_src src;
    int r;

    if (o->incremental) {
        if (copy_existing(b, cdbpath, err) < 0)
            return -1;
        map_src_attach(&src, o->input ? o->input : stdin,
                       o->input_name ? o->input_name : "stdin");
    } else if (map_src_open(&src, path, err) < 0) {
        return -1;
    }
    r = map_src_entries(&src, o->aliases, !o->nofold, build_sink, b, err);
    map_src_close(&src);
    return r;
}

/* sync_dir - fsync the directory holding path. */
static int sync_dir(const char *path, strbuf *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? xstrdup(".")
        : xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

    if (fd < 0 || fsync(fd) < 0) {
        sb_reset(err);
        sb_printf(err, "fsync directory %s: %s", dir, strerror(errno));
        r = -1;
    }
    if (fd >= 0 && close(fd) < 0)
        msg_warn("close %s: %m", dir);
    free(dir);
    return r;
}

/* new_mode - the table gets its source's permission bits (a 0600
 * sasl_passwd stays private), else the old table's, else 0644. */
static mode_t new_mode(const char *path, const char *cdbpath, bool incr)
{
    struct stat sb;

    if (!incr && stat(path, &sb) == 0)
        return sb.st_mode & 0666;
    if (stat(cdbpath, &sb) == 0)
        return sb.st_mode & 0666;
    return 0644;
}

/* map_cdb_build - build path.cdb from path (or stdin when incremental). */
int map_cdb_build(const char *path, const struct map_build_opts *o, strbuf *err)
{
    struct cdb_builder b;
    strbuf cdbpath, tmp;
    int fd, r = -1;

    sb_init(&tmp, PATH_MAX);
    if (cdb_path(path, &cdbpath) < 0
        || sb_printf(&tmp, "%s.XXXXXX", cdbpath.data) < 0) {
        sb_reset(err);
        sb_printf(err, "%s: file name too long", path);
        goto out;
    }
    if ((fd = mkstemp(tmp.data)) < 0) {
        sb_reset(err);
        sb_printf(err, "create %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    b.replace = o->replace;
    b.tmp = tmp.data;
    if (fchmod(fd, new_mode(path, cdbpath.data, o->incremental)) < 0
        || cdb_make_start(&b.cm, fd) < 0) {
        sb_reset(err);
        sb_printf(err, "%s: %s", tmp.data, strerror(errno));
    } else if (fill(&b, path, cdbpath.data, o, err) == 0) {
        if (cdb_make_finish(&b.cm) < 0 || fsync(fd) < 0) {
            sb_reset(err);
            sb_printf(err, "write %s: %s", tmp.data, strerror(errno));
        } else {
            r = 0;
        }
    } else {
        if (cdb_make_finish(&b.cm) < 0)  /* frees its memory; file dropped */
            msg_warn("write %s: %m", tmp.data);
    }
    if (close(fd) < 0 && r == 0) {
        sb_reset(err);
        sb_printf(err, "close %s: %s", tmp.data, strerror(errno));
        r = -1;
    }
    if (r == 0 && rename(tmp.data, cdbpath.data) < 0) {
        sb_reset(err);
        sb_printf(err, "rename %s to %s: %s", tmp.data, cdbpath.data,
                  strerror(errno));
        r = -1;
    }
    if (r < 0 && unlink(tmp.data) < 0)
        msg_warn("remove %s: %m", tmp.data);
    if (r == 0)
        r = sync_dir(cdbpath.data, err);
out:
    sb_release(&cdbpath);
    sb_release(&tmp);
    return r;
}

/* map_cdb_dump - every entry as "key value" lines (tern map -s). */
int map_cdb_dump(const char *path, FILE *out, strbuf *err)
{
    strbuf cdbpath;
    struct cdb c;
    unsigned pos;
    int fd, r;

    if (cdb_path(path, &cdbpath) < 0) {
        sb_reset(err);
        sb_printf(err, "%s: file name too long", path);
        sb_release(&cdbpath);
        return -1;
    }
    fd = cdb_attach(cdbpath.data, &c, NULL, err);
    sb_release(&cdbpath);
    if (fd < 0)
        return -1;
    cdb_seqinit(&pos, &c);
    while ((r = cdb_seqnext(&pos, &c)) > 0) {
        const char *k = cdb_getkey(&c), *v = cdb_getdata(&c);
        unsigned kl = cdb_keylen(&c), vl = cdb_datalen(&c);

        if (k == NULL || v == NULL)
            break;
        if (kl > 0 && k[kl - 1] == '\0')
            kl--;
        if (vl > 0 && v[vl - 1] == '\0')
            vl--;
        if (fprintf(out, "%.*s %.*s\n", (int)kl, k, (int)vl, v) < 0) {
            r = -1;
            break;
        }
    }
    cdb_free(&c);
    if (close(fd) < 0)
        msg_warn("close %s: %m", path);
    if (r < 0) {
        sb_reset(err);
        sb_printf(err, "%s.cdb: corrupt file or write error", path);
        return -1;
    }
    return 0;
}
