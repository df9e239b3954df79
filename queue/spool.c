/*
 * spool - spool directory table, creation, lazily opened directory
 * descriptors, durable moves, the temporary-file purge, and spare/: files
 * of finished messages, emptied, that writers reuse instead of allocating
 * a new inode per message (docs/queue.md, "Recycled files").
 *
 * Owns the descriptors and the spare/ names in struct spool. Fails with -1
 * and errno; a move either happened and is on disk, or did not happen.
 * A file taken from spare/ is checked before use; a stranger there is
 * removed, never written through.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
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
    [SPOOL_SPARE] = {"spare", 0700},
};

#define SPOOL_TOP_MODE 0755

/* spool_init - remember the top directory. */
void spool_init(spool *sp, const char *queue_directory)
{
    sp->top = xstrdup(queue_directory);
    sp->tmpfile = 0;
    for (int i = 0; i < SPOOL_NDIRS; i++)
        sp->dirfd[i] = -1;
    memset(&sp->spare, 0, sizeof(sp->spare));
    sp->spare.count = -1;
}

static void spool_spare_forget(spool_spare *sq);

/* spool_close - release descriptors and memory. */
void spool_close(spool *sp)
{
    for (int i = 0; i < SPOOL_NDIRS; i++) {
        if (sp->dirfd[i] >= 0)
            (void)close(sp->dirfd[i]);
        sp->dirfd[i] = -1;
    }
    spool_spare_forget(&sp->spare);
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

/* --- spare/: recycled queue files --- */

#define SPOOL_SPARE_SCAN 1024           /* names one listing looks at */
#define SPOOL_SPARE_EMPTY_MS 100        /* empty spare/: not read again sooner */
#define SPOOL_SPARE_COUNT_MS 100        /* put side: a full spare/ recounted */
#define SPOOL_SPARE_MISSES 4            /* names found taken: read spare/ again */
#define SPOOL_SPARE_STALE 60            /* s: a dead writer's claimed file */
#define SPOOL_SPARE_STALE_MS 60000      /* look for such leftovers this often */

/* spool_now_ms - monotonic milliseconds (0 if the clock fails). */
static long long spool_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spool_spare_forget - drop the remembered candidate names. */
static void spool_spare_forget(spool_spare *sq)
{
    for (int i = 0; i < sq->ncand; i++)
        free(sq->cand[i]);
    sq->ncand = sq->next = sq->misses = 0;
}

/* spool_spare_fd - spare/'s descriptor; -1 for good once it is missing. */
static int spool_spare_fd(spool *sp)
{
    int fd;

    if (sp->spare.state < 0) {
        errno = ENOENT;
        return -1;
    }
    fd = spool_dirfd(sp, SPOOL_SPARE);
    sp->spare.state = fd < 0 ? -1 : 1;
    return fd;
}

/* spool_opendir - a listing on a fresh descriptor (the cached one stays). */
static DIR *spool_opendir(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;

    if (fd < 0)
        return NULL;
    if ((d = fdopendir(fd)) == NULL)
        (void)close(fd);
    return d;
}

/*
 * spool_spare_stale - a temporary name in spare/ whose writer (the pid in
 * the name) is gone and that nobody touched for a minute: a crash
 * leftover, to be taken like any spare file.
 */
static bool spool_spare_stale(int sfd, const char *name)
{
    const char *p = name + strlen(SPOOL_TEMP_PREFIX);
    char *end;
    long pid;
    struct stat st;

    errno = 0;
    pid = strtol(p, &end, 10);
    if (errno != 0 || end == p || *end != '.' || pid <= 0)
        return false;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return false;
    return fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        && st.st_mtime < time(NULL) - SPOOL_SPARE_STALE;
}

/* spool_spare_keep - keep a window of names starting at a random place. */
static void spool_spare_keep(spool_spare *sq, char **all, size_t n)
{
    struct timeval tv;
    size_t start;

    if (gettimeofday(&tv, NULL) < 0)
        tv.tv_usec = 0;
    /* pid-dependent: concurrent writers start at different files */
    start = n ? ((size_t)getpid() * 2654435761u + (size_t)tv.tv_usec) % n : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;

        if (sq->ncand < SPOOL_SPARE_BATCH)
            sq->cand[sq->ncand++] = all[i];
        else
            free(all[i]);
    }
}

/* spool_spare_fill - read spare/ once for names to take; how many. */
static int spool_spare_fill(spool *sp, int sfd)
{
    spool_spare *sq = &sp->spare;
    char *all[SPOOL_SPARE_SCAN];
    size_t n = 0;
    struct dirent *de;
    long long now = spool_now_ms();
    /* other writers' names are in use; a dead one's is checked rarely */
    bool stale = now - sq->stale_at >= SPOOL_SPARE_STALE_MS;
    DIR *d;

    spool_spare_forget(sq);
    if (now < sq->empty_until)
        return 0;
    if (stale)
        sq->stale_at = now;
    if ((d = spool_opendir(sfd)) == NULL)
        return 0;
    while (n < SPOOL_SPARE_SCAN && (de = readdir(d)) != NULL) {
        if (qid_valid(de->d_name)
            || (stale && spool_is_temp(de->d_name)
                && spool_spare_stale(sfd, de->d_name)))
            all[n++] = xstrdup(de->d_name);
    }
    (void)closedir(d);
    spool_spare_keep(sq, all, n);
    if (sq->ncand == 0)
        sq->empty_until = now + SPOOL_SPARE_EMPTY_MS;
    return sq->ncand;
}

/* spool_spare_reject - remove something in spare/ that is not ours to use. */
static void spool_spare_reject(spool *sp, int sfd, const char *name,
                               const char *what)
{
    msg_warn("%s/spare/%s: %s: removed, not reused", sp->top, name, what);
    if (unlinkat(sfd, name, 0) < 0
        && (errno != EISDIR || unlinkat(sfd, name, AT_REMOVEDIR) < 0))
        msg_warn("remove %s/spare/%s: %m", sp->top, name);
}

/* spool_spare_check - the claimed file may be written: why not, or NULL. */
static const char *spool_spare_check(const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid())
        return "owned by another user";
    if (st->st_nlink != 1)
        return "has another name";
    return NULL;
}

/* spool_spare_open - open, check, empty and chmod a claimed file. */
static int spool_spare_open(spool *sp, int sfd, const char *name, mode_t mode)
{
    struct stat st;
    const char *bad;
    /* O_NONBLOCK: a FIFO put there must not hang the writer */
    int fd = openat(sfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        spool_spare_reject(sp, sfd, name, strerror(errno));
        errno = ESTALE;
        return -1;
    }
    if (fstat(fd, &st) < 0)
        bad = strerror(errno);
    else
        bad = spool_spare_check(&st);
    if (bad == NULL && st.st_size != 0 && ftruncate(fd, 0) < 0)
        bad = strerror(errno);
    if (bad == NULL && (st.st_mode & 07777) != (mode & 0777)
        && fchmod(fd, mode & 0777) < 0)
        bad = strerror(errno);
    if (bad != NULL) {
        (void)close(fd);
        spool_spare_reject(sp, sfd, name, bad);
        errno = ESTALE;
        return -1;
    }
    return fd;                          /* O_NONBLOCK does nothing to a file */
}

/*
 * spool_spare_claim - rename spare/cand to a temporary name of this
 * process (no replace): only one taker can win; ENOENT means another
 * did. Then open it. The descriptor, or -1.
 */
static int spool_spare_claim(spool *sp, int sfd, const char *cand,
                             mode_t mode, char *name, size_t size)
{
    struct timeval tv;

    if (gettimeofday(&tv, NULL) < 0)
        tv.tv_sec = tv.tv_usec = 0;
    if (fmt_fixed(name, size, "%s%ld.%lld%06ld.s%u", SPOOL_TEMP_PREFIX,
                  (long)getpid(), (long long)tv.tv_sec, (long)tv.tv_usec,
                  sp->spare.seq++) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (renameat2(sfd, cand, sfd, name, RENAME_NOREPLACE) < 0)
        return -1;
    return spool_spare_open(sp, sfd, name, mode);
}

/* spool_spare_take - a recycled file for a writer; see spool.h. */
int spool_spare_take(spool *sp, mode_t mode, char *name, size_t size)
{
    spool_spare *sq = &sp->spare;
    int sfd = spool_spare_fd(sp), fd;

    if (sfd < 0)
        return -1;
    for (int tries = 0; tries < 2 * SPOOL_SPARE_BATCH; tries++) {
        if (sq->next >= sq->ncand && spool_spare_fill(sp, sfd) == 0)
            break;
        fd = spool_spare_claim(sp, sfd, sq->cand[sq->next++], mode, name, size);
        if (fd >= 0) {
            sq->misses = 0;
            return fd;
        }
        if (errno == EACCES || errno == EPERM || errno == EROFS
            || errno == EINVAL || errno == ENOSYS) {
            sq->state = -1;             /* not this process's to use */
            spool_spare_forget(sq);
            return -1;
        }
        if (errno == ENOENT && ++sq->misses >= SPOOL_SPARE_MISSES)
            spool_spare_forget(sq);     /* others took this batch: re-read */
    }
    errno = ENOENT;
    return -1;
}

/* spool_spare_count - how many names spare/ holds; -1 if unreadable. */
static long spool_spare_count(int sfd)
{
    long n = 0;
    struct dirent *de;
    DIR *d = spool_opendir(sfd);

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    (void)closedir(d);
    return n;
}

/*
 * spool_spare_room - true while spare/ is below its bound. The count adds
 * this process's puts; takes by writers make it too high, so a count at
 * the bound is read again, at most every SPOOL_SPARE_COUNT_MS.
 */
static bool spool_spare_room(spool *sp, int sfd)
{
    spool_spare *sq = &sp->spare;
    long long now;

    if (sq->count >= 0 && sq->count < SPOOL_SPARE_MAX)
        return true;
    now = spool_now_ms();
    if (sq->count < 0 || now - sq->counted_at >= SPOOL_SPARE_COUNT_MS) {
        sq->count = spool_spare_count(sfd);
        sq->counted_at = now;
    }
    return sq->count >= 0 && sq->count < SPOOL_SPARE_MAX;
}

/* spool_spare_put - empty a finished file and give it to spare/. */
int spool_spare_put(spool *sp, enum spool_dir dir, const char *qid)
{
    int fromfd, sfd, fd, rc = 0;
    struct stat st;

    if (!qid_valid(qid) || dir == SPOOL_SPARE) {
        errno = EINVAL;
        return -1;
    }
    if ((sfd = spool_spare_fd(sp)) < 0 || (fromfd = spool_dirfd(sp, dir)) < 0)
        return -1;
    if (!spool_spare_room(sp, sfd)) {
        errno = ENOSPC;
        return -1;
    }
    fd = openat(fromfd, qid, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        rc = -1;
    } else if (spool_spare_check(&st) != NULL) {
        errno = EPERM;                  /* not a plain file of ours: unlink */
        rc = -1;
    } else {
        rc = ftruncate(fd, 0);
    }
    if (close(fd) < 0)
        rc = -1;
    if (rc < 0 || renameat2(fromfd, qid, sfd, qid, RENAME_NOREPLACE) < 0)
        return -1;
    sp->spare.count++;
    return 0;
}
