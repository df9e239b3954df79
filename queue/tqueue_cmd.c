/*
 * tqueue_cmd - the `tern queue` command line and its per-message actions.
 *
 *   tern queue [-c dir] list [-j]
 *   tern queue [-c dir] show ID
 *   tern queue [-c dir] delete ID... | ALL [queue] | -
 *   tern queue [-c dir] hold | release | requeue  ID... | ALL | -
 *   tern queue [-c dir] flush
 *
 * Where a message goes (as postsuper): hold moves incoming/deferred to
 * hold/; release moves hold/ to deferred/ and wakes qmgr; requeue moves
 * deferred/ and hold/ to incoming/ and wakes qmgr. maildrop files are not
 * trusted until pickup has checked them, so only delete touches them.
 * Exit 0 when every named message was handled; 1 when one was unknown or
 * refused (a message in active/ belongs to qmgr).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "queue/tqueue.h"
#include "queue/trigger.h"

/* One command run. */
struct tq_run {
    const conf *cf;
    spool sp;
    const struct tq_action *act;
    unsigned long done;
    int status;
    bool wake_qmgr;
};

/* What one action does: the queues it takes from and where it moves. */
struct tq_action {
    const char *name;
    const char *verb;                   /* for "Deleted: N messages" */
    unsigned from;                      /* bit set of spool_dir */
    int to;                             /* spool_dir, or -1 = remove */
    bool wake;                          /* wake qmgr afterwards */
};

#define TQ_BIT(d) (1u << (d))
#define TQ_ANY (TQ_BIT(SPOOL_MAILDROP) | TQ_BIT(SPOOL_INCOMING) \
    | TQ_BIT(SPOOL_ACTIVE) | TQ_BIT(SPOOL_DEFERRED) | TQ_BIT(SPOOL_HOLD))

static const struct tq_action tq_actions[] = {
    {"delete", "Deleted", TQ_ANY & ~TQ_BIT(SPOOL_ACTIVE), -1, false},
    {"hold", "Placed on hold", TQ_BIT(SPOOL_INCOMING) | TQ_BIT(SPOOL_DEFERRED),
     SPOOL_HOLD, false},
    {"release", "Released from hold", TQ_BIT(SPOOL_HOLD), SPOOL_DEFERRED, true},
    {"requeue", "Requeued", TQ_BIT(SPOOL_DEFERRED) | TQ_BIT(SPOOL_HOLD),
     SPOOL_INCOMING, true},
};

/* Where to look for a named message, in this order. */
static const enum spool_dir tq_where[] = {
    SPOOL_INCOMING, SPOOL_ACTIVE, SPOOL_DEFERRED, SPOOL_HOLD, SPOOL_MAILDROP};
#define TQ_NWHERE (sizeof(tq_where) / sizeof(tq_where[0]))

/* tq_locate - the queue holding qid, or -1. */
static int tq_locate(spool *sp, const char *qid)
{
    int fd;

    for (size_t i = 0; i < TQ_NWHERE; i++) {
        if ((fd = spool_dirfd(sp, tq_where[i])) < 0)
            continue;
        if (faccessat(fd, qid, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            return (int)tq_where[i];
    }
    return -1;
}

/* tq_apply - the action on one message found in `dir`. */
static void tq_apply(struct tq_run *r, const char *qid, enum spool_dir dir,
                     bool quiet_skip)
{
    const struct tq_action *a = r->act;
    int rc;

    if (!(a->from & TQ_BIT(dir)) || (int)dir == a->to) {
        if (!quiet_skip) {
            msg_warn("%s: message is in %s/: cannot %s it%s", qid,
                     spool_name(dir), a->name, dir == SPOOL_ACTIVE
                     ? " while qmgr delivers it" : "");
            r->status = 1;
        }
        return;
    }
    rc = a->to < 0 ? qfile_remove(&r->sp, dir, qid)
        : spool_move(&r->sp, qid, dir, (enum spool_dir)a->to);
    if (rc < 0 && errno != ENOENT) {
        msg_warn("%s: %s: %m", qid, a->name);
        r->status = 1;
    } else if (rc == 0) {
        r->done++;
        r->wake_qmgr |= a->wake;
    }
}

/* tq_one - act on a named message. */
static void tq_one(struct tq_run *r, const char *qid)
{
    int dir;

    if (!qid_valid(qid)) {
        msg_warn("%s: not a queue ID", qid);
        r->status = 1;
    } else if ((dir = tq_locate(&r->sp, qid)) < 0) {
        msg_warn("%s: no such message", qid);
        r->status = 1;
    } else {
        tq_apply(r, qid, (enum spool_dir)dir, false);
    }
}

/* tq_all - act on every message of one queue, or of every queue. */
static void tq_all(struct tq_run *r, const char *queue)
{
    int only = queue ? spool_lookup(queue) : -1;

    if (queue && (only < 0 || !(TQ_ANY & TQ_BIT(only)))) {
        msg_warn("unknown queue: %s", queue);
        r->status = EX_USAGE;
        return;
    }
    for (size_t i = 0; i < TQ_NWHERE; i++) {
        spool_ids ids;

        if (only >= 0 && (int)tq_where[i] != only)
            continue;
        if (spool_list(&r->sp, tq_where[i], 0, &ids) < 0)
            continue;                   /* an unreadable queue: nothing to do */
        for (size_t k = 0; k < ids.n; k++)
            tq_apply(r, ids.v[k], tq_where[i], true);
        spool_ids_free(&ids);
    }
}

/* tq_stdin - IDs from standard input, one per line (first word). */
static void tq_stdin(struct tq_run *r)
{
    char line[1024];

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *id = line + strspn(line, " \t");

        id[strcspn(id, " \t\r\n*!#")] = 0;
        if (*id)
            tq_one(r, id);
    }
}

/* tq_action_cmd - delete / hold / release / requeue. */
static int tq_action_cmd(struct tq_run *r, int argc, char **argv)
{
    if (argc < 2) {
        msg_warn("usage: tern queue %s ID... | ALL%s | -", r->act->name,
                 r->act->to < 0 ? " [queue]" : "");
        return EX_USAGE;
    }
    if (strcmp(argv[1], "ALL") == 0 && argc <= 3)
        tq_all(r, argc == 3 ? argv[2] : NULL);
    else if (strcmp(argv[1], "-") == 0 && argc == 2)
        tq_stdin(r);
    else
        for (int i = 1; i < argc; i++)
            tq_one(r, argv[i]);
    fprintf(stderr, "tern queue: %s: %lu message%s\n", r->act->verb, r->done,
            r->done == 1 ? "" : "s");
    if (r->wake_qmgr)
        (void)tqueue_flush(r->cf);
    return r->status;
}

/* tq_show_env - the envelope part of `show`, one "name: value" per line. */
static void tq_show_env(const qfile_msg *m, FILE *out)
{
    static const char *const bodies[] = {"", "7BIT", "8BITMIME"};
    static const char *const rets[] = {"", "FULL", "HDRS"};
    const qfile_env *e = &m->env;
    const struct { const char *name, *value; } text[] = {
        {"client_name", e->client_name}, {"client_address", e->client_addr},
        {"helo_name", e->helo}, {"protocol", e->protocol},
        {"sasl_method", e->sasl_method}, {"sasl_username", e->sasl_username},
        {"envelope_id", e->envid},
        {"body_type", e->body_type > 0 && e->body_type < 3
         ? bodies[e->body_type] : NULL},
        {"dsn_ret", e->ret > 0 && e->ret < 3 ? rets[e->ret] : NULL},
    };

    fprintf(out, "message_size: %llu\nmessage_arrival_time: %lld.%06ld\n",
            (unsigned long long)m->content_size, (long long)e->arrival.tv_sec,
            (long)e->arrival.tv_usec);
    fprintf(out, "sender: %s\n", e->sender ? e->sender : "");
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (text[i].value && *text[i].value)
            fprintf(out, "%s: %s\n", text[i].name, text[i].value);
    if (e->smtputf8)
        fprintf(out, "smtputf8: yes\n");
    if (e->forced_expire)
        fprintf(out, "forced_expire: yes\n");
    for (size_t i = 0; i < m->nrcpt; i++) {
        const qfile_rcpt *r = &m->rcpt[i];

        fprintf(out, "recipient: %s (status %c, notify 0x%x", r->address,
                r->status, r->notify);
        if (*r->orig)
            fprintf(out, ", original %s", r->orig);
        if (*r->orcpt)
            fprintf(out, ", orcpt %s", r->orcpt);
        fprintf(out, ")\n");
    }
}

/* tq_read - open a located message with the validating reader. */
static qfile_msg *tq_read(spool *sp, enum spool_dir dir, const char *qid)
{
    strbuf path, why;
    qfile_msg *m = NULL;

    sb_init(&path, 4096);
    sb_init(&why, 512);
    if (spool_path(sp, dir, qid, &path) == 0
        && qfile_open(path.data, O_RDONLY, &m, &why) != QFILE_OK)
        msg_warn("%s: %s", qid, sb_str(&why));
    sb_release(&path);
    sb_release(&why);
    return m;
}

/* tq_show - `tern queue show ID`: envelope, then the content (like postcat). */
static int tq_show(struct tq_run *r, int argc, char **argv)
{
    int dir;
    qfile_msg *m;
    char buf[65536];
    uint64_t pos = 0;
    ssize_t n;
    bool complete;

    if (argc != 2 || !qid_valid(argv[1]))
        return msg_warn("usage: tern queue show ID"), EX_USAGE;
    if ((dir = tq_locate(&r->sp, argv[1])) < 0
        || (m = tq_read(&r->sp, (enum spool_dir)dir, argv[1])) == NULL)
        return msg_warn("%s: no such message", argv[1]), 1;
    printf("*** ENVELOPE RECORDS %s/%s ***\n", spool_name(dir), argv[1]);
    tq_show_env(m, stdout);
    printf("*** MESSAGE CONTENTS %s/%s ***\n", spool_name(dir), argv[1]);
    while (pos < m->content_size
           && (n = qfile_read_content(m, pos, buf, sizeof(buf))) > 0) {
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            break;
        pos += (uint64_t)n;
    }
    printf("*** MESSAGE FILE END %s/%s ***\n", spool_name(dir), argv[1]);
    complete = pos == m->content_size;
    qfile_close(m);
    return fflush(stdout) == 0 && complete ? 0 : 1;
}

/* tq_list_cmd - `tern queue list [-j]`. */
static int tq_list_cmd(struct tq_run *r, int argc, char **argv)
{
    strbuf why;
    int rc;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "-j") != 0))
        return msg_warn("usage: tern queue list [-j]"), EX_USAGE;
    sb_init(&why, 1024);
    rc = tqueue_list(r->cf, argc == 2, stdout, &why);
    if (rc < 0)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    return rc < 0 ? (errno == EACCES ? EX_NOPERM : EX_TEMPFAIL) : 0;
}

/* tq_flush_cmd - `tern queue flush`. */
static int tq_flush_cmd(struct tq_run *r, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return msg_warn("usage: tern queue flush"), EX_USAGE;
    if (tqueue_flush(r->cf) < 0) {
        msg_warn("qmgr is not running: the queue is run when ternd starts it");
        return EX_UNAVAILABLE;
    }
    return 0;
}

/* tq_usage - the subcommands. */
static int tq_usage(void)
{
    fprintf(stderr, "usage: tern queue [-c config_dir] command\n"
            "  list [-j]                     the queue as mailq (or JSON lines)\n"
            "  show ID                       envelope and content of a message\n"
            "  delete ID...|ALL [queue]|-    remove messages\n"
            "  hold ID...|ALL|-              put messages on hold\n"
            "  release ID...|ALL|-           release held messages\n"
            "  requeue ID...|ALL|-           requeue messages and wake qmgr\n"
            "  flush                         ask qmgr to try everything now\n");
    return EX_USAGE;
}

/* tqueue_main - `tern queue ...`. */
int tqueue_main(int argc, char **argv)
{
    struct tq_run r;
    const char *dir = NULL;
    conf *cf;
    int opt, rc = -1;

    optind = 0;
    while ((opt = getopt(argc, argv, "+c:")) != -1) {
        if (opt != 'c')
            return tq_usage();
        dir = optarg;
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        return tq_usage();
    cf = conf_load(conf_dir(dir));
    if (conf_error_count(cf) > 0) {
        conf_log_diags(cf);
        conf_free(cf);
        return EX_CONFIG;
    }
    memset(&r, 0, sizeof(r));
    r.cf = cf;
    spool_init(&r.sp, conf_get_str(cf, "queue_directory"));
    for (size_t i = 0; i < sizeof(tq_actions) / sizeof(tq_actions[0]); i++)
        if (strcmp(argv[0], tq_actions[i].name) == 0) {
            r.act = &tq_actions[i];
            rc = tq_action_cmd(&r, argc, argv);
        }
    if (rc < 0)
        rc = strcmp(argv[0], "list") == 0 ? tq_list_cmd(&r, argc, argv)
            : strcmp(argv[0], "show") == 0 ? tq_show(&r, argc, argv)
            : strcmp(argv[0], "flush") == 0 ? tq_flush_cmd(&r, argc, argv)
            : tq_usage();
    spool_close(&r.sp);
    conf_free(cf);
    return rc;
}
