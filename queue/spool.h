/*
 * spool - the spool directories under queue_directory: names, creation,
 * paths, and the durable moves between them.
 *
 * A struct spool owns the queue_directory path and directory descriptors
 * opened lazily on first use (a setgid postdrop may only open maildrop/).
 * Every move is rename + fsync of both directories, so once it returns the
 * new state survives a crash. Errors are -1 with errno (and, for
 * spool_create, a reason in the caller's strbuf); nothing here exits.
 */
#ifndef TERN_SPOOL_H
#define TERN_SPOOL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "common/strbuf.h"

enum spool_dir {
    SPOOL_MAILDROP,
    SPOOL_INCOMING,
    SPOOL_ACTIVE,
    SPOOL_DEFERRED,
    SPOOL_HOLD,
    SPOOL_CORRUPT,
    SPOOL_DEFER,
    SPOOL_PRIVATE,
    SPOOL_PUBLIC,
    SPOOL_PID,
    SPOOL_SPARE,                /* emptied files kept for writers to reuse */
    SPOOL_NDIRS
};

/* Prefix of temporary (uncommitted) queue file names; never a queue ID. */
#define SPOOL_TEMP_PREFIX "tmp."

/* spare/: how many files it keeps, and how many names one scan remembers. */
#define SPOOL_SPARE_MAX 512
#define SPOOL_SPARE_BATCH 32

/* A process's view of spare/ (docs/queue.md, "Recycled files"). */
typedef struct spool_spare {
    char *cand[SPOOL_SPARE_BATCH];  /* names to try taking, xstrdup'ed */
    int ncand, next;                /* how many, the next one to try */
    int state;                      /* 0 untried, 1 usable, -1 not here/ours */
    int misses;                     /* names found taken in a row */
    long long empty_until;          /* ms: spare/ was empty, not read again */
    long long stale_at;             /* ms: last look for crash leftovers */
    long count;                     /* files in spare/ (put side), -1 unknown */
    long long counted_at;           /* ms: when count was read */
    unsigned seq;                   /* claimed-name counter */
} spool_spare;

typedef struct spool {
    char *top;                  /* queue_directory */
    int dirfd[SPOOL_NDIRS];     /* -1 until first use */
    int tmpfile;                /* unnamed queue files: 0 untried, 1 yes, -1 no */
    spool_spare spare;          /* recycled files (spool_spare_*) */
} spool;

/* spool_init - remember queue_directory; opens nothing yet. */
void spool_init(spool *sp, const char *queue_directory);

/* spool_close - close the cached directory descriptors and free the path. */
void spool_close(spool *sp);

/* spool_name - "maildrop", "incoming", ...; NULL for an out-of-range value. */
const char *spool_name(enum spool_dir dir);

/* spool_lookup - the directory with this name, or -1. */
int spool_lookup(const char *name);

/* spool_mode - the mode spool_create gives a directory. */
mode_t spool_mode(enum spool_dir dir);

/*
 * spool_create - make queue_directory (0755) and every spool directory with
 * spool_mode(); existing directories are kept as they are. -1 with a reason.
 */
int spool_create(const char *queue_directory, strbuf *why);

/*
 * spool_set_owner - for a root start: give every spool directory but pid/
 * to owner:owner_gid, and maildrop/ and public/ to owner:setgid_gid (so
 * the setgid postdrop can write there); modes are set again because chown
 * clears the setgid bit. queue_directory and pid/ stay root's. -1 + why.
 */
int spool_set_owner(const char *queue_directory, uid_t owner, gid_t owner_gid,
                    gid_t setgid_gid, strbuf *why);

/* spool_dirfd - the (cached) descriptor of a spool directory, or -1. */
int spool_dirfd(spool *sp, enum spool_dir dir);

/* spool_path - "queue_directory/dir/name" into out (replaced); -1 if too long. */
int spool_path(const spool *sp, enum spool_dir dir, const char *name,
               strbuf *out);

/* spool_fsync_dir - make a directory's entries durable. */
int spool_fsync_dir(spool *sp, enum spool_dir dir);

/*
 * spool_move - rename from/qid to to/qid (never replacing an existing file),
 * then fsync both directories. -1 with errno; EINVAL for a bad ID.
 */
int spool_move(spool *sp, const char *qid, enum spool_dir from,
               enum spool_dir to);

/*
 * spool_move_nosync - spool_move without the two directory fsyncs, for a
 * caller that moves a batch and then syncs both directories once
 * (spool_fsync_dir) before it acts on any of the moved files (group
 * commit). -1 with errno; EINVAL for a bad ID.
 */
int spool_move_nosync(spool *sp, const char *qid, enum spool_dir from,
                      enum spool_dir to);

/* A sorted listing of the queue IDs in one directory. */
typedef struct spool_ids {
    char **v;
    size_t n, cap;
} spool_ids;

/*
 * spool_list - the queue IDs in dir (qid_valid names only: no temporary
 * files, dot files or strangers) whose modification time is at most due
 * (0: any), sorted (long IDs then come in arrival order). 0 with *out
 * filled (free it with spool_ids_free), or -1 with errno and *out empty.
 */
int spool_list(spool *sp, enum spool_dir dir, time_t due, spool_ids *out);

/* spool_ids_free - release a listing (and leave it empty). */
void spool_ids_free(spool_ids *ids);

/* spool_is_temp - true for an uncommitted (temporary) file name. */
bool spool_is_temp(const char *name);

/*
 * spool_purge_temp - remove temporary files in dir last modified before
 * `before` (0 = all); returns how many were removed, or -1.
 */
int spool_purge_temp(spool *sp, enum spool_dir dir, time_t before);

/*
 * spool_spare_take - claim a recycled file for a writer of incoming/: an
 * emptied file in spare/ is renamed to a fresh temporary name there (into
 * name; atomic, so no two processes take the same file), opened for
 * writing, checked (a regular file of this user with one link; anything
 * else is removed and skipped), emptied if needed and given `mode`. The
 * descriptor, or -1 when spare/ is missing, not writable or has nothing
 * to take (the caller creates a new file).
 */
int spool_spare_take(spool *sp, mode_t mode, char *name, size_t size);

/*
 * spool_spare_put - empty dir/qid (a finished message; its content is no
 * longer readable) and move it to spare/qid for a writer to reuse, while
 * spare/ holds fewer than SPOOL_SPARE_MAX files (counted by a listing at
 * most every 100 ms, and only once the bound seems reached: a put adds
 * one, a take is not seen, so the count only errs high). 0, or -1 with
 * errno when it did not move (no
 * spare/, full, not a plain file of ours): the caller unlinks it instead.
 * Nothing is synced: a lost move leaves a finished file behind, as a lost
 * unlink does.
 */
int spool_spare_put(spool *sp, enum spool_dir dir, const char *qid);

#endif
