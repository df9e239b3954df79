/*
 * qid - queue IDs: unique among live queue files, safe as file names,
 * sortable by arrival (long form), in Postfix's two shapes.
 *
 * An ID is derived from a time stamp and the inode of the queue file it
 * names. The inode makes it unique among live files of the spool (one file
 * system); the generator keeps the time strictly increasing inside one
 * process, so a burst or a clock stepped back still yields new, ordered IDs.
 * qid_claim() gives a file its ID by a rename that never replaces an
 * existing name, retrying with the next ID. The generator is a context
 * struct with an injectable clock (tests); nothing here is global.
 * Errors are return values (-1 and errno); nothing here logs or exits.
 */
#ifndef TERN_QID_H
#define TERN_QID_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

/* Room for the longest ID of either shape plus the NUL. */
#define QID_SIZE 32

/* Lengths mailq's columns hold (ID plus one status character). */
#define QID_SHORT_COLUMN 11
#define QID_LONG_COLUMN  17

/* qid_clock_fn - the time source; 0 on success, -1 on failure. */
typedef int (*qid_clock_fn)(void *ctx, struct timeval *tv);

typedef struct qid_gen {
    bool long_ids;              /* enable_long_queue_ids */
    qid_clock_fn clock;         /* gettimeofday unless a test injects one */
    void *clock_ctx;
    int64_t last_sec;           /* last time stamp handed out */
    int32_t last_usec;
    bool have_last;
} qid_gen;

/* qid_gen_init - a generator of long (true) or short (false) IDs. */
void qid_gen_init(qid_gen *gen, bool long_ids);

/* qid_gen_set_clock - replace the time source (tests, clock-step checks). */
void qid_gen_set_clock(qid_gen *gen, qid_clock_fn fn, void *ctx);

/*
 * qid_next - format the next ID for a file with this inode into buf.
 * Time stamps are strictly increasing per generator. -1 when the clock
 * fails or buf is too small.
 */
int qid_next(qid_gen *gen, uint64_t inode, char *buf, size_t size);

/* qid_format - the ID for an explicit time stamp and inode (no state). */
int qid_format(bool long_id, int64_t sec, int32_t usec, uint64_t inode,
               char *buf, size_t size);

/*
 * qid_claim_by - give the open file fd a fresh ID: name(ctx, id) is tried
 * with new IDs until it succeeds; it must fail with EEXIST when the ID is
 * taken (a no-replace rename or link). The ID goes to buf; -1 with errno.
 */
int qid_claim_by(qid_gen *gen, int fd, int (*name)(void *ctx, const char *id),
                 void *ctx, char *buf, size_t size);

/*
 * qid_claim - rename dirfd/tmpname (open as fd) to a fresh ID in the same
 * directory, never replacing an existing entry; the ID goes to buf.
 * -1 with errno on failure (the temporary name is then left in place).
 */
int qid_claim(qid_gen *gen, int dirfd, const char *tmpname, int fd,
              char *buf, size_t size);

/* qid_valid - true when s has the shape of a short or a long queue ID. */
bool qid_valid(const char *s);

#endif
