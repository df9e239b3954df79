/*
 * sm_submit - sendmail's message path (see sm_submit.h).
 *
 * Owns the sm_ctx it initialises (configuration, login, paths). Runs
 * postdrop with fork + execv and two pipes, never a shell; SIGPIPE must be
 * ignored by the program (sendmail_main.c does) so a postdrop that dies
 * early is seen through its exit status. Failures are exit codes with a
 * reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "queue/drop.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/sm_args.h"
#include "queue/sm_hdr.h"
#include "queue/sm_submit.h"

#define SM_CHUNK 65536

/* sm_detach - the buffer's string, the buffer itself released. */
static char *sm_detach(strbuf *sb)
{
    char *s = sb_detach(sb);

    sb_release(sb);
    return s;
}

/* sm_gecos - the full name from a passwd GECOS field ("&" = Login). */
static char *sm_gecos(const struct passwd *pw)
{
    strbuf name;
    const char *g = pw->pw_gecos ? pw->pw_gecos : "";

    sb_init(&name, 256);
    for (; *g && *g != ','; g++) {
        int rc = 0;

        if (*g == '&') {
            rc = sb_putc(&name, (pw->pw_name[0] >= 'a' && pw->pw_name[0] <= 'z')
                         ? pw->pw_name[0] - 'a' + 'A' : pw->pw_name[0]);
            if (rc == 0 && pw->pw_name[0])
                rc = sb_puts(&name, pw->pw_name + 1);
        } else if ((unsigned char)*g >= 0x20 && *g != 0x7f) {
            rc = sb_putc(&name, *g);
        }
        if (rc < 0)
            break;
    }
    sb_trim(&name);
    if (sb_len(&name) == 0) {
        sb_release(&name);
        return NULL;
    }
    return sm_detach(&name);
}

/* sm_postdrop_path - command_directory/postdrop, else next to ourselves. */
static char *sm_postdrop_path(const conf *cf)
{
    char self[PATH_MAX];
    ssize_t n;
    char *slash;
    strbuf path;

    sb_init(&path, PATH_MAX);
    if (conf_is_set(cf, "command_directory")) {
        (void)sb_printf(&path, "%s/postdrop",
                        conf_get_str(cf, "command_directory"));
        return sm_detach(&path);
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        if ((slash = strrchr(self, '/')) != NULL)
            *slash = 0;
        (void)sb_printf(&path, "%s/postdrop", self);
    } else {
        (void)sb_printf(&path, "%s/postdrop",
                        conf_get_str(cf, "command_directory"));
    }
    return sm_detach(&path);
}

/* sm_ctx_init - configuration, invoking user, limits, postdrop path. */
int sm_ctx_init(sm_ctx *ctx, const char *config_opt, strbuf *why)
{
    struct passwd *pw;
    struct stat st;
    const char *dir = conf_dir(config_opt);

    memset(ctx, 0, sizeof(*ctx));
    /* -C may name the main.cf file itself, as with Sendmail. */
    if (stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
        char *copy = xstrdup(dir), *slash = strrchr(copy, '/');

        if (slash)
            *slash = 0;
        ctx->config_dir = xstrdup(slash ? (*copy ? copy : "/") : ".");
        free(copy);
    } else {
        ctx->config_dir = xstrdup(dir);
    }
    ctx->cf = conf_load(ctx->config_dir);
    if (conf_error_count(ctx->cf) > 0) {
        conf_log_diags(ctx->cf);
        return sb_printf(why, "bad configuration in %s", ctx->config_dir),
            EX_CONFIG;
    }
    errno = 0;
    if ((pw = getpwuid(getuid())) == NULL)
        return sb_printf(why, "unknown user ID %ld", (long)getuid()),
            EX_NOPERM;
    ctx->login = xstrdup(pw->pw_name);
    ctx->gecos = sm_gecos(pw);
    ctx->myhostname = conf_get_str(ctx->cf, "myhostname");
    ctx->myorigin = conf_get_str(ctx->cf, "myorigin");
    ctx->size_limit = (uint64_t)conf_get_size(ctx->cf, "message_size_limit");
    ctx->postdrop = sm_postdrop_path(ctx->cf);
    return 0;
}

/* sm_ctx_free - release the context. */
void sm_ctx_free(sm_ctx *ctx)
{
    conf_free(ctx->cf);
    free(ctx->config_dir);
    free(ctx->login);
    free(ctx->gecos);
    free(ctx->postdrop);
    memset(ctx, 0, sizeof(*ctx));
}

/* sm_qualify - user address to internal form with a domain. */
int sm_qualify(const sm_ctx *ctx, const char *text, bool allow_null,
               strbuf *internal, strbuf *why)
{
    addr a;
    enum addr_err err;
    int rc = -1;

    addr_init(&a);
    err = addr_parse(&a, text, strlen(text), ADDR_P_PATH_OPTIONAL
                     | ADDR_P_ALLOW_LOCAL
                     | (allow_null ? ADDR_P_ALLOW_NULL : 0));
    sb_reset(internal);
    if (err != ADDR_OK)
        (void)sb_printf(why, "bad address syntax: %.200s: %s", text,
                        addr_strerror(err));
    else if (addr_internal(&a, internal) < 0
             || ((a.flags & ADDR_F_NODOMAIN)
                 && sb_printf(internal, "@%s", ctx->myorigin) < 0))
        (void)sb_printf(why, "address too long: %.200s", text);
    else
        rc = 0;
    addr_release(&a);
    return rc;
}

/* sm_add_line - append one line (without its ending) to msg. */
static int sm_add_line(strbuf *msg, const strbuf *line, uint64_t *crlf,
                       uint64_t limit, strbuf *why)
{
    *crlf += sb_len(line) + 2;
    if ((limit > 0 && *crlf > limit) || sb_append(msg, line->data, line->len) < 0
        || sb_putc(msg, '\n') < 0)
        return sb_puts(why, "message file too big"), EX_DATAERR;
    return 0;
}

/* sm_read_message - stdin to LF lines, bounded by the size limit. */
int sm_read_message(int fd, bool dot_ok, uint64_t limit, strbuf *msg,
                    strbuf *why)
{
    tio *t = tio_open(fd, TIO_NO_TIMEOUT);
    strbuf line, part;
    uint64_t crlf = 0;
    bool first = true;
    int rc = 0, st;

    sb_init(&line, SB_NOLIMIT);
    sb_init(&part, SM_CHUNK + 1);
    for (;;) {
        unsigned flags = 0;

        st = tio_getline(t, &part, SM_CHUNK, &flags);
        if (sb_append(&line, part.data, part.len) < 0
            || (limit > 0 && sb_len(&line) > limit)) {
            rc = (sb_puts(why, "message file too big"), EX_DATAERR);
            break;
        }
        if (st == TIO_TOOLONG)
            continue;           /* the same line goes on */
        if (st != TIO_OK && sb_len(&line) == 0)
            break;              /* end of input */
        if (!dot_ok && strcmp(sb_str(&line), ".") == 0)
            break;
        if (!(first && strncmp(sb_str(&line), "From ", 5) == 0)
            && (rc = sm_add_line(msg, &line, &crlf, limit, why)) != 0)
            break;
        first = false;
        sb_reset(&line);
        if (st != TIO_OK)
            break;
    }
    if (rc == 0 && st != TIO_OK && st != TIO_EOF && st != TIO_TOOLONG)
        rc = (sb_printf(why, "read message: %s", tio_strstatus(st)), EX_IOERR);
    sb_release(&line);
    sb_release(&part);
    tio_free(t);
    return rc;
}

/* sm_phrase - a display name, as an atom list or a quoted string. */
int sm_phrase(strbuf *out, const char *name)
{
    static const char specials[] = "()<>[]:;@\\,.\"";
    bool quote = false;

    for (const char *p = name; *p; p++)
        if (strchr(specials, *p) || (unsigned char)*p < 0x20)
            quote = true;
    if (!quote)
        return sb_puts(out, name);
    if (sb_putc(out, '"') < 0)
        return -1;
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            continue;
        if ((*p == '"' || *p == '\\') && sb_putc(out, '\\') < 0)
            return -1;
        if (sb_putc(out, *p) < 0)
            return -1;
    }
    return sb_putc(out, '"');
}

/* sm_date - an RFC 5322 date in Postfix's form, locale-free. */
static int sm_date(strbuf *out, time_t now)
{
    static const char days[7][4] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    long off;

    if (localtime_r(&now, &tm) == NULL)
        return -1;
    off = tm.tm_gmtoff / 60;
    return sb_printf(out, "%s, %2d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                     1900 + tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
                     tm.tm_zone ? tm.tm_zone : "UTC");
}

/* sm_missing - the header lines to add, into add. */
static int sm_missing(const sm_ctx *ctx, const char *sender,
                      const char *fullname, const strbuf *msg, strbuf *add)
{
    unsigned char rnd[8] = {0};
    time_t now = time(NULL);
    struct tm tm;
    const char *name = fullname ? fullname : ctx->gecos;

    if (!sm_hdr_has(msg->data, msg->len, "From")) {
        const char *who = *sender ? sender : "MAILER-DAEMON";

        if (sb_puts(add, "From: ") < 0
            || (name && *name && (sm_phrase(add, name) < 0
                                  || sb_puts(add, " <") < 0))
            || addr_quote(add, who, strlen(who)) < 0
            || sb_puts(add, name && *name ? ">\n" : "\n") < 0)
            return -1;
    }
    if (!sm_hdr_has(msg->data, msg->len, "Date")
        && (sb_puts(add, "Date: ") < 0 || sm_date(add, now) < 0
            || sb_putc(add, '\n') < 0))
        return -1;
    if (!sm_hdr_has(msg->data, msg->len, "Message-ID")) {
        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
            memcpy(rnd, &now, sizeof(rnd) < sizeof(now) ? sizeof(rnd)
                   : sizeof(now));
        if (gmtime_r(&now, &tm) == NULL
            || sb_printf(add, "Message-ID: <%04d%02d%02d%02d%02d%02d."
                         "%ld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>\n",
                         1900 + tm.tm_year, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid(),
                         rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
                         rnd[6], rnd[7], ctx->myhostname) < 0)
            return -1;
    }
    return 0;
}

/* sm_complete_headers - insert missing headers at the header block's end. */
int sm_complete_headers(const sm_ctx *ctx, const char *sender,
                        const char *fullname, strbuf *msg)
{
    size_t end = sm_hdr_end(msg->data, msg->len);
    strbuf add, out;
    int rc = -1;

    sb_init(&add, 4096);
    sb_init(&out, msg->max);
    if (sm_missing(ctx, sender, fullname, msg, &add) == 0
        && sb_append(&out, msg->data, end) == 0
        && sb_append(&out, add.data, add.len) == 0
        /* a body that starts right after the headers gets its empty line */
        && (end >= msg->len || msg->data[end] == '\n'
            || sb_putc(&out, '\n') == 0)
        && sb_append(&out, msg->data + end, msg->len - end) == 0) {
        sb_release(msg);
        *msg = out;
        rc = 0;
    } else {
        sb_release(&out);
    }
    sb_release(&add);
    return rc;
}

/* sm_to_crlf - LF lines to CRLF lines. */
static int sm_to_crlf(const strbuf *msg, strbuf *out)
{
    const char *p = msg->data, *end = msg->data + msg->len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (sb_append(out, p, n) < 0 || sb_append(out, "\r\n", 2) < 0)
            return -1;
        p += n + 1;
    }
    return 0;
}

/* sm_write_all - write everything, retrying short writes. */
static int sm_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* sm_spawn - start postdrop with pipes on its stdin and stdout. */
static pid_t sm_spawn(const sm_ctx *ctx, int *to, int *from)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        (void)close(in[0]);
        (void)close(in[1]);
        return -1;
    }
    if ((pid = fork()) == 0) {
        char *argv[] = {(char *)"postdrop", (char *)"-c", ctx->config_dir,
                        NULL};

        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(EX_OSERR);
        execv(ctx->postdrop, argv);
        _exit(EX_UNAVAILABLE);
    }
    (void)close(in[0]);
    (void)close(out[1]);
    if (pid < 0) {
        (void)close(in[1]);
        (void)close(out[0]);
        return -1;
    }
    *to = in[1];
    *from = out[0];
    return pid;
}

/* sm_reap - postdrop's exit status as sendmail's exit code. */
static int sm_reap(pid_t pid, strbuf *why)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return sb_printf(why, "wait for postdrop: %m"), EX_OSERR;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == EX_UNAVAILABLE)
        return sb_puts(why, "cannot run postdrop"), EX_UNAVAILABLE;
    if (WIFEXITED(status) && WEXITSTATUS(status) >= EX__BASE
        && WEXITSTATUS(status) <= EX__MAX)
        return sb_puts(why, "postdrop failed"), WEXITSTATUS(status);
    return sb_puts(why, "postdrop failed"), EX_TEMPFAIL;
}

/* sm_postdrop - hand envelope and content to postdrop; its exit code. */
static int sm_postdrop(const sm_ctx *ctx, const strbuf *head,
                       const strbuf *content, strbuf *qid, strbuf *why)
{
    int to, from, rc;
    char buf[QID_SIZE + 2];
    ssize_t n;
    pid_t pid = sm_spawn(ctx, &to, &from);

    if (pid < 0)
        return sb_printf(why, "cannot run %s: %m", ctx->postdrop), EX_OSERR;
    (void)(sm_write_all(to, head->data, head->len) == 0
           && sm_write_all(to, content->data, content->len) == 0);
    (void)close(to);
    while ((n = read(from, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
        ;
    (void)close(from);
    rc = sm_reap(pid, why);
    if (rc == 0 && n > 0) {
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (qid_valid(buf))
            (void)sb_set(qid, buf);
    }
    return rc;
}

/* sm_submit - CRLF, size check, postdrop. */
int sm_submit(const sm_ctx *ctx, drop_env *env, const strbuf *msg,
              strbuf *qid, strbuf *why)
{
    strbuf content, head;
    int rc;

    sb_init(&content, ctx->size_limit > 0 ? ctx->size_limit : QFILE_CONTENT_MAX);
    sb_init(&head, SB_NOLIMIT);
    if (sm_to_crlf(msg, &content) < 0) {
        rc = (sb_puts(why, "message file too big"), EX_DATAERR);
    } else {
        env->size = sb_len(&content);
        rc = drop_encode(env, &head) < 0
            ? (sb_puts(why, "envelope too large"), EX_SOFTWARE)
            : sm_postdrop(ctx, &head, &content, qid, why);
    }
    sb_release(&content);
    sb_release(&head);
    return rc;
}

/* sm_add_rcpts - qualify and add recipients; EX_DATAERR on a bad one. */
static int sm_add_rcpts(const sm_ctx *ctx, drop_env *env, char *const *list,
                        size_t n, strbuf *why)
{
    strbuf internal;
    int rc = 0;

    sb_init(&internal, 1024);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (env->nrcpt >= QFILE_RCPT_MAX)
            rc = (sb_puts(why, "too many recipients"), EX_DATAERR);
        else if (sm_qualify(ctx, list[i], false, &internal, why) < 0)
            rc = EX_DATAERR;
        else
            drop_env_add_rcpt(env, sb_str(&internal));
    }
    sb_release(&internal);
    return rc;
}

/* sm_envelope - sender and DSN options from the command line. */
static int sm_envelope(const sm_ctx *ctx, const sm_opts *o, drop_env *env,
                       strbuf *why)
{
    strbuf internal;
    int rc = 0;

    sb_init(&internal, 1024);
    if (sm_qualify(ctx, o->sender ? o->sender : ctx->login, true, &internal,
                   why) < 0)
        rc = EX_DATAERR;
    else
        env->sender = xstrdup(sb_str(&internal));
    env->notify = o->notify;
    env->ret = o->ret;
    env->body = o->body;
    env->envid = o->envid ? xstrdup(o->envid) : NULL;
    sb_release(&internal);
    return rc;
}

/* sm_extract - sendmail -t: header recipients added, Bcc removed. */
static int sm_extract(const sm_ctx *ctx, drop_env *env, strbuf *msg,
                      strbuf *why)
{
    sm_addrs found;
    strbuf out;
    int rc;

    sm_addrs_init(&found, QFILE_RCPT_MAX);
    sb_init(&out, msg->max);
    if (sm_hdr_extract(msg->data, msg->len, &found, &out, why) < 0) {
        rc = EX_DATAERR;
        sb_release(&out);
    } else {
        sb_release(msg);
        *msg = out;
        rc = sm_add_rcpts(ctx, env, found.items, found.count, why);
    }
    sm_addrs_free(&found);
    return rc;
}

/* sm_deliver - the default mode: read a message, queue it. */
int sm_deliver(const sm_ctx *ctx, const sm_opts *o, strbuf *why)
{
    drop_env env;
    strbuf msg, qid;
    int rc;

    drop_env_init(&env);
    sb_init(&msg, SB_NOLIMIT);
    sb_init(&qid, QID_SIZE);
    if ((rc = sm_envelope(ctx, o, &env, why)) == 0
        && (rc = sm_add_rcpts(ctx, &env, o->rcpts, (size_t)o->nrcpt, why)) == 0
        && (rc = sm_read_message(STDIN_FILENO, o->dot_ok, ctx->size_limit,
                                 &msg, why)) == 0
        && (!o->extract || (rc = sm_extract(ctx, &env, &msg, why)) == 0)) {
        if (env.nrcpt == 0)
            rc = (sb_puts(why, o->extract
                          ? "No recipient addresses found in message header"
                          : "Recipient addresses must be specified on the"
                          " command line or via the -t option"), EX_USAGE);
        else if (sm_complete_headers(ctx, env.sender, o->fullname, &msg) < 0)
            rc = (sb_puts(why, "message file too big"), EX_DATAERR);
        else
            rc = sm_submit(ctx, &env, &msg, &qid, why);
    }
    if (rc == 0 && o->verbose)
        msg_info("queued as %s", sb_str(&qid));
    drop_env_free(&env);
    sb_release(&msg);
    sb_release(&qid);
    return rc;
}
