/*
 * spool - spool directory table, creation, lazily opened directory
 * descriptors, durable moves and the temporary-file purge.
 *
 * Owns the descriptors in struct spool. Fails with -1 and errno; a move
 * either happened and is on disk, or did not happen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "queue/qid.h"
#include "queue/spool.h"

/* Names and modes for an unprivileged owner; see docs/queue.md. */
static const struct spool_def {
    const char *name;
    mode_t mode;
} spool_defs[SPOOL_NDIRS] = {
    [SPOOL_MAILDROP] = {"maildrop", 01770},
    [SPOOL_INCOMING] = {"incoming", 0700},
    [SPOOL_ACTIVE] = {"active", 0700},
    [SPOOL_DEFERRED] = {"deferred", 0700},
    [SPOOL_HOLD] = {"hold", 0700},
    [SPOOL_CORRUPT] = {"corrupt", 0700},
    [SPOOL_DEFER] = {"defer", 0700},
    [SPOOL_PRIVATE] = {"private", 0700},
    [SPOOL_PUBLIC] = {"public", 02710},
    [SPOOL_PID] = {"pid", 0755},
};

#define SPOOL_TOP_MODE 0755

/* spool_init - remember the top directory. */
void spool_init(spool *sp, const char *queue_directory)
{
    sp->top = xstrdup(queue_directory);
    sp->tmpfile = 0;
    for (int i = 0; i < SPOOL_NDIRS; i++)
        sp->dirfd[i] = -1;
}

/* spool_close - release descriptors and memory. */
void spool_close(spool *sp)
{
    for (int i = 0; i < SPOOL_NDIRS; i++) {
        if (sp->dirfd[i] >= 0)
            (void)close(sp->dirfd[i]);
        sp->dirfd[i] = -1;
    }
    free(sp->top);
    sp->top = NULL;
}

/* spool_name - the directory's name. */
const char *spool_name(enum spool_dir dir)
{
    if ((int)dir < 0 || dir >= SPOOL_NDIRS)
        return NULL;
    return spool_defs[dir].name;
}

/* spool_lookup - map a name back to its directory. */
int spool_lookup(const char *name)
{
    for (int i = 0; i < SPOOL_NDIRS; i++)
        if (strcmp(spool_defs[i].name, name) == 0)
            return i;
    return -1;
}

/* spool_mode - the creation mode of a directory. */
mode_t spool_mode(enum spool_dir dir)
{
    if ((int)dir < 0 || dir >= SPOOL_NDIRS)
        return 0;
    return spool_defs[dir].mode;
}

/* spool_mkdir - make one directory with an exact mode, or accept it as is. */
static int spool_mkdir(int atfd, const char *path, const char *name,
                       mode_t mode, strbuf *why)
{
    struct stat st;

    if (mkdirat(atfd, path, mode & 0777) == 0) {
        /* mkdir honours the umask and drops special bits: set them. */
        if (fchmodat(atfd, path, mode, 0) < 0) {
            (void)sb_printf(why, "chmod %s: %s", name, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != EEXIST) {
        (void)sb_printf(why, "mkdir %s: %s", name, strerror(errno));
        return -1;
    }
    if (fstatat(atfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        (void)sb_printf(why, "stat %s: %s", name, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        (void)sb_printf(why, "%s exists and is not a directory", name);
        return -1;
    }
    return 0;
}

/* spool_set_owner - owners for a root start; see spool.h. */
int spool_set_owner(const char *queue_directory, uid_t owner, gid_t owner_gid,
                    gid_t setgid_gid, strbuf *why)
{
    int topfd, ret = 0;

    topfd = open(queue_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (topfd < 0) {
        (void)sb_printf(why, "open %s: %s", queue_directory, strerror(errno));
        return -1;
    }
    for (int i = 0; i < SPOOL_NDIRS && ret == 0; i++) {
        gid_t gid = (i == SPOOL_MAILDROP || i == SPOOL_PUBLIC)
            ? setgid_gid : owner_gid;

        if (i == SPOOL_PID)
            continue;
        if (fchownat(topfd, spool_defs[i].name, owner, gid,
                     AT_SYMLINK_NOFOLLOW) < 0
            || fchmodat(topfd, spool_defs[i].name, spool_defs[i].mode, 0) < 0) {
            (void)sb_printf(why, "set owner of %s/%s: %s", queue_directory,
                            spool_defs[i].name, strerror(errno));
            ret = -1;
        }
    }
    (void)close(topfd);
    return ret;
}

/* spool_create - make the whole tree. */
int spool_create(const char *queue_directory, strbuf *why)
{
    int topfd, ret = 0;

    if (spool_mkdir(AT_FDCWD, queue_directory, queue_directory,
                    SPOOL_TOP_MODE, why) < 0)
        return -1;
    topfd = open(queue_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (topfd < 0) {
        (void)sb_printf(why, "open %s: %s", queue_directory, strerror(errno));
        return -1;
    }
    for (int i = 0; i < SPOOL_NDIRS && ret == 0; i++)
        ret = spool_mkdir(topfd, spool_defs[i].name, spool_defs[i].name,
                          spool_defs[i].mode, why);
    if (ret == 0 && fsync(topfd) < 0) {
        (void)sb_printf(why, "fsync %s: %s", queue_directory, strerror(errno));
        ret = -1;
    }
    (void)close(topfd);
    return ret;
}

/* spool_dirfd - open a directory on first use. */
int spool_dirfd(spool *sp, enum spool_dir dir)
{
    strbuf path;

    if ((int)dir < 0 || dir >= SPOOL_NDIRS) {
        errno = EINVAL;
        return -1;
    }
    if (sp->dirfd[dir] >= 0)
        return sp->dirfd[dir];
    sb_init(&path, 4096);
    if (spool_path(sp, dir, NULL, &path) < 0) {
        sb_release(&path);
        errno = ENAMETOOLONG;
        return -1;
    }
    sp->dirfd[dir] = open(sb_str(&path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sb_release(&path);
    return sp->dirfd[dir];
}

/* spool_path - format a path below the spool. */
int spool_path(const spool *sp, enum spool_dir dir, const char *name,
               strbuf *out)
{
    const char *dname = spool_name(dir);

    sb_reset(out);
    if (dname == NULL)
        return -1;
    if (name == NULL)
        return sb_printf(out, "%s/%s", sp->top, dname);
    return sb_printf(out, "%s/%s/%s", sp->top, dname, name);
}

/* spool_fsync_dir - fsync one directory. */
int spool_fsync_dir(spool *sp, enum spool_dir dir)
{
    int fd = spool_dirfd(sp, dir);

    if (fd < 0)
        return -1;
    return fsync(fd);
}

/* spool_rename - cross-directory rename that never replaces. */
static int spool_rename(int fromfd, int tofd, const char *name)
{
    if (renameat2(fromfd, name, tofd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(fromfd, name, tofd, name, 0) < 0)
        return -1;
    return unlinkat(fromfd, name, 0);
}

/* spool_move_nosync - move one queue file; the caller syncs the dirs. */
int spool_move_nosync(spool *sp, const char *qid, enum spool_dir from,
                      enum spool_dir to)
{
    int fromfd, tofd;

    if (!qid_valid(qid) || from == to) {
        errno = EINVAL;
        return -1;
    }
    if ((fromfd = spool_dirfd(sp, from)) < 0 || (tofd = spool_dirfd(sp, to)) < 0)
        return -1;
    return spool_rename(fromfd, tofd, qid);
}

/* spool_move - durable move of one queue file. */
int spool_move(spool *sp, const char *qid, enum spool_dir from,
               enum spool_dir to)
{
    if (spool_move_nosync(sp, qid, from, to) < 0)
        return -1;
    if (spool_fsync_dir(sp, to) < 0 || spool_fsync_dir(sp, from) < 0)
        return -1;
    return 0;
}

/* spool_ids_cmp - sort IDs by name. */
static int spool_ids_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_list - the one directory listing of queue IDs. */
int spool_list(spool *sp, enum spool_dir dir, time_t due, spool_ids *out)
{
    int dfd = spool_dirfd(sp, dir), fd;
    struct dirent *de;
    struct stat st;
    DIR *d;

    memset(out, 0, sizeof(*out));
    /* a fresh descriptor: closedir must not close the cached one */
    if (dfd < 0 || (fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY
                                | O_CLOEXEC)) < 0)
        return -1;
    if ((d = fdopendir(fd)) == NULL) {
        (void)close(fd);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (!qid_valid(de->d_name))
            continue;                   /* ".", "..", tmp.*, strangers */
        if (due != 0 && (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
                         || st.st_mtime > due))
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->v = xreallocarray(out->v, out->cap, sizeof(*out->v));
        }
        out->v[out->n++] = xstrdup(de->d_name);
    }
    (void)closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), spool_ids_cmp);
    return 0;
}

/* spool_ids_free - free every ID and the vector. */
void spool_ids_free(spool_ids *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
    memset(ids, 0, sizeof(*ids));
}

/* spool_is_temp - the temporary-name test readers and listings use. */
bool spool_is_temp(const char *name)
{
    return strncmp(name, SPOOL_TEMP_PREFIX, strlen(SPOOL_TEMP_PREFIX)) == 0;
}

/* spool_purge_temp - remove stale temporary files after a crash. */
int spool_purge_temp(spool *sp, enum spool_dir dir, time_t before)
{
    int fd = spool_dirfd(sp, dir), dupfd, removed = 0;
    DIR *dp;
    struct dirent *de;
    struct stat st;

    if (fd < 0 || (dupfd = dup(fd)) < 0)
        return -1;
    if ((dp = fdopendir(dupfd)) == NULL) {
        (void)close(dupfd);
        return -1;
    }
    rewinddir(dp);
    while ((de = readdir(dp)) != NULL) {
        if (!spool_is_temp(de->d_name)
            || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
            || !S_ISREG(st.st_mode)
            || (before != 0 && st.st_mtime >= before))
            continue;
        if (unlinkat(fd, de->d_name, 0) == 0)
            removed++;
    }
    (void)closedir(dp);
    if (removed > 0 && fsync(fd) < 0)
        return -1;
    return removed;
}
