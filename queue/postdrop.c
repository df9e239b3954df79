/*
 * postdrop - write one message from sendmail into maildrop/ (postdrop.h).
 *
 * Reads the drop stream (drop.h) from standard input with a timeout,
 * validates it completely, writes a queue file through the qfile writer
 * and commits it durably before printing the queue ID and exiting 0. Any
 * failure before the commit removes the temporary file. Owns only its
 * configuration, spool handle and writer for the life of one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "queue/drop.h"
#include "queue/postdrop.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "queue/trigger.h"

#define POSTDROP_TIMEOUT_MS (3600 * 1000)   /* sendmail feeds us at once */
#define POSTDROP_CHUNK      65536

/* One run of postdrop. */
struct postdrop {
    conf *cf;
    spool sp;
    qfile_writer *w;
    drop_env env;
    tio *in;
    strbuf why;
};

/* postdrop_safe_path - owned by root, not writable by group or others. */
static bool postdrop_safe_path(const char *path, bool must_exist)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return !must_exist && errno == ENOENT;
    return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* postdrop_trusted_dir - see postdrop.h. */
bool postdrop_trusted_dir(const char *dir)
{
    strbuf cf;
    bool ok;

    sb_init(&cf, 4096);
    ok = sb_printf(&cf, "%s/main.cf", dir) == 0
        && postdrop_safe_path(dir, true) && postdrop_safe_path(sb_str(&cf), false);
    sb_release(&cf);
    return ok;
}

/* postdrop_config - the configuration directory this run may use (copy). */
static char *postdrop_config(const char *opt)
{
    const char *dir = conf_dir(opt);
    bool setid = getuid() != geteuid() || getgid() != getegid();
    char *out;

    if (setid && !postdrop_trusted_dir(dir)) {
        conf *def = conf_defaults();

        msg_warn("ignoring untrusted configuration directory %s", dir);
        out = xstrdup(conf_directory(def));
        conf_free(def);
        return out;
    }
    return xstrdup(dir);
}

/* postdrop_env - the queue file envelope from the validated stream. */
static int postdrop_env(struct postdrop *pd)
{
    qfile_env env;

    memset(&env, 0, sizeof(env));
    env.sender = pd->env.sender;
    if (gettimeofday(&env.arrival, NULL) < 0)
        return -1;
    env.body_type = (enum qfile_body)pd->env.body;
    env.smtputf8 = pd->env.smtputf8;
    env.envid = pd->env.envid;
    env.ret = (enum qfile_ret)pd->env.ret;
    if (qfile_put_env(pd->w, &env) < 0)
        return -1;
    for (size_t i = 0; i < pd->env.nrcpt; i++) {
        qfile_rcpt r;

        memset(&r, 0, sizeof(r));
        r.address = pd->env.rcpts[i];
        r.orig = "";
        r.orcpt = "";
        r.notify = pd->env.notify;
        r.status = QFILE_RCPT_PENDING;
        if (qfile_add_rcpt(pd->w, &r) < 0)
            return -1;
    }
    return 0;
}

/* postdrop_content - copy exactly env.size bytes, then require EOF. */
static int postdrop_content(struct postdrop *pd)
{
    char *buf = malloc(POSTDROP_CHUNK);
    uint64_t left = pd->env.size;
    int rc = EX_DATAERR;
    ssize_t n = 0;

    if (buf == NULL)
        return EX_TEMPFAIL;
    while (left > 0) {
        size_t want = left < POSTDROP_CHUNK ? (size_t)left : POSTDROP_CHUNK;

        if ((n = tio_read(pd->in, buf, want)) <= 0)
            break;
        if (qfile_write_content(pd->w, buf, (size_t)n) < 0) {
            rc = EX_TEMPFAIL;
            (void)sb_printf(&pd->why, "%s", qfile_writer_error(pd->w));
            goto done;
        }
        left -= (uint64_t)n;
    }
    if (left > 0)
        (void)sb_printf(&pd->why, "message cut short: %s",
                        tio_strstatus((int)n));
    else if ((n = tio_read(pd->in, buf, 1)) != TIO_EOF)
        (void)sb_puts(&pd->why, "data after the announced message size");
    else
        rc = 0;
done:
    free(buf);
    return rc;
}

/* postdrop_write - decode, write and commit; an exit status. */
static int postdrop_write(struct postdrop *pd, char *qid, size_t qid_size)
{
    long long limit = conf_get_size(pd->cf, "message_size_limit");
    qid_gen gen;
    int rc;

    pd->w = qfile_create(&pd->sp, SPOOL_MAILDROP, 0644, &pd->why);
    if (pd->w == NULL)
        return EX_TEMPFAIL;
    if (drop_decode(pd->in, &pd->env, QFILE_RCPT_MAX,
                    limit > 0 ? (uint64_t)limit : 0, &pd->why) < 0)
        return EX_DATAERR;
    if (postdrop_env(pd) < 0) {
        (void)sb_printf(&pd->why, "%s", qfile_writer_error(pd->w));
        return EX_TEMPFAIL;
    }
    if ((rc = postdrop_content(pd)) != 0)
        return rc;
    qid_gen_init(&gen, conf_get_bool(pd->cf, "enable_long_queue_ids"));
    rc = qfile_commit(pd->w, &gen, qid, qid_size);
    pd->w = NULL;                       /* freed by commit, either way */
    if (rc < 0) {
        (void)sb_printf(&pd->why, "commit maildrop file: %s", strerror(errno));
        return EX_TEMPFAIL;
    }
    return 0;
}

/* postdrop_args - "-c dir" only; NULL config when not given. */
static int postdrop_args(int argc, char **argv, const char **config)
{
    int opt;

    *config = NULL;
    optind = 0;
    while ((opt = getopt(argc, argv, "+c:v")) != -1) {
        if (opt == 'c')
            *config = optarg;
        else if (opt != 'v')
            return -1;
    }
    return optind == argc ? 0 : -1;
}

/* postdrop_run - the program. */
int postdrop_run(int argc, char **argv)
{
    struct postdrop pd;
    const char *config;
    char qid[QID_SIZE], *dir;
    int rc;

    msg_open("postdrop", MSG_TO_STDERR);
    if (postdrop_args(argc, argv, &config) < 0) {
        msg_warn("usage: postdrop [-c config_dir] < drop-stream");
        return EX_USAGE;
    }
    memset(&pd, 0, sizeof(pd));
    umask(022);
    dir = postdrop_config(config);
    pd.cf = conf_load(dir);
    free(dir);
    if (conf_error_count(pd.cf) > 0) {
        conf_log_diags(pd.cf);
        conf_free(pd.cf);
        return EX_CONFIG;
    }
    spool_init(&pd.sp, conf_get_str(pd.cf, "queue_directory"));
    sb_init(&pd.why, 1024);
    drop_env_init(&pd.env);
    pd.in = tio_open(STDIN_FILENO, POSTDROP_TIMEOUT_MS);
    rc = postdrop_write(&pd, qid, sizeof(qid));
    if (rc != 0) {
        qfile_abort(pd.w);
        msg_warn("message not queued: %s", sb_str(&pd.why));
    } else {
        printf("%s\n", qid);
        if (fflush(stdout) != 0)
            msg_warn("write queue ID: %m");
        (void)trigger_service(pd.cf, pd.sp.top, "pickup");
    }
    tio_free(pd.in);
    drop_env_free(&pd.env);
    sb_release(&pd.why);
    spool_close(&pd.sp);
    conf_free(pd.cf);
    return rc;
}
