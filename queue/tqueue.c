/*
 * tqueue - `tern queue` and the mailq listing (see tqueue.h).
 *
 * Scans spool directories by name (queue IDs only; temporary files and
 * anything else are skipped), opens each file with the validating reader,
 * and skips files that vanish or are malformed while it looks (a daemon
 * may be moving them). Owns one spool handle per command. Errors are
 * reported on stderr through msg_warn and reflected in the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "queue/mailq.h"
#include "queue/qfile.h"
#include "queue/qmgr.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "queue/tqueue.h"
#include "queue/trigger.h"

/* The queues mailq lists, in Postfix's scan order. */
static const enum spool_dir tq_list_order[] = {
    SPOOL_MAILDROP, SPOOL_ACTIVE, SPOOL_INCOMING, SPOOL_DEFERRED, SPOOL_HOLD};
#define TQ_NLIST (sizeof(tq_list_order) / sizeof(tq_list_order[0]))

/* tq_open - open dir/qid with the validating reader; NULL if not there. */
static qfile_msg *tq_open(spool *sp, enum spool_dir dir, const char *qid,
                          int flags)
{
    strbuf path, why;
    qfile_msg *m = NULL;
    int rc;

    sb_init(&path, 4096);
    sb_init(&why, 512);
    if (spool_path(sp, dir, qid, &path) == 0) {
        rc = qfile_open(path.data, flags, &m, &why);
        if (rc == QFILE_ECORRUPT)
            msg_warn("%s: skipping malformed queue file: %s", qid, why.data);
        else if (rc != QFILE_OK && errno != ENOENT)
            msg_warn("%s", why.data);
    }
    sb_release(&path);
    sb_release(&why);
    return m;
}

/* tq_reasons - defer/<qid> lines "address<TAB>reason" (qmgr writes them). */
static char **tq_reasons(spool *sp, const qfile_msg *m, const char *qid)
{
    char **reason = xcalloc(m->nrcpt + 1, sizeof(*reason));
    strbuf path;
    FILE *fp;
    char line[4096];

    sb_init(&path, 4096);
    if (spool_path(sp, SPOOL_DEFER, qid, &path) == 0
        && (fp = fopen(path.data, "re")) != NULL) {
        while (fgets(line, sizeof(line), fp) != NULL) {
            char *tab = strchr(line, '\t');

            if (tab == NULL)
                continue;
            *tab++ = 0;
            tab[strcspn(tab, "\r\n")] = 0;
            for (size_t i = 0; i < m->nrcpt; i++)
                if (reason[i] == NULL && strcmp(m->rcpt[i].address, line) == 0)
                    reason[i] = xstrdup(tab);
        }
        (void)fclose(fp);
    }
    sb_release(&path);
    return reason;
}

/* tq_entry - format one message of the listing. */
static int tq_entry(spool *sp, enum spool_dir dir, const char *qid,
                    bool json, mailq_fmt *fmt, strbuf *out)
{
    qfile_msg *m = tq_open(sp, dir, qid, O_RDONLY);
    mailq_rcpt *r;
    char **reason;
    mailq_entry e;
    size_t n = 0;
    int rc;

    if (m == NULL)
        return 0;               /* gone or malformed: not listed */
    reason = tq_reasons(sp, m, qid);
    r = xcalloc(m->nrcpt + 1, sizeof(*r));
    for (size_t i = 0; i < m->nrcpt; i++) {
        if (m->rcpt[i].status != QFILE_RCPT_PENDING)
            continue;
        r[n].address = m->rcpt[i].address;
        r[n].orig_address = *m->rcpt[i].orig ? m->rcpt[i].orig : NULL;
        r[n++].reason = reason[i];
    }
    e = (mailq_entry){spool_name(dir), qid, m->env.arrival.tv_sec,
                      m->content_size, m->env.forced_expire, m->env.smtputf8,
                      m->env.sender, r, n};
    rc = json ? mailq_json(&e, out) : mailq_format(fmt, &e, out);
    for (size_t i = 0; i < m->nrcpt; i++)
        free(reason[i]);
    free(reason);
    free(r);
    qfile_close(m);
    return rc;
}

/* tqueue_list - the whole listing. */
int tqueue_list(const conf *c, bool json, FILE *out, strbuf *why)
{
    spool sp;
    mailq_fmt fmt;
    strbuf text;
    int rc = 0;

    spool_init(&sp, conf_get_str(c, "queue_directory"));
    mailq_fmt_init(&fmt, conf_get_bool(c, "enable_long_queue_ids"));
    sb_init(&text, SB_NOLIMIT);
    for (size_t q = 0; q < TQ_NLIST && rc == 0; q++) {
        spool_ids names;

        if (spool_list(&sp, tq_list_order[q], 0, &names) < 0) {
            rc = (sb_printf(why, "cannot read %s/%s: %m", sp.top,
                            spool_name(tq_list_order[q])), -1);
            break;
        }
        for (size_t i = 0; i < names.n && rc == 0; i++) {
            rc = tq_entry(&sp, tq_list_order[q], names.v[i], json, &fmt, &text);
            if (fwrite(text.data, 1, text.len, out) != text.len)
                rc = (sb_puts(why, "write error"), -1);
            sb_reset(&text);
        }
        spool_ids_free(&names);
    }
    if (rc == 0 && !json && (mailq_trailer(&fmt, &text) < 0
                             || fwrite(text.data, 1, text.len, out) != text.len))
        rc = (sb_puts(why, "write error"), -1);
    if (fflush(out) != 0)
        rc = (sb_puts(why, "write error"), -1);
    sb_release(&text);
    spool_close(&sp);
    return rc;
}

/* tqueue_flush - ask qmgr to retry all deferred mail now. */
int tqueue_flush(const conf *c)
{
    return trigger_service_byte(c, conf_get_str(c, "queue_directory"), "qmgr",
                                QMGR_WAKE_FLUSH);
}
