/*
 * conf_edit - `tern conf -e/-X/-P`: edit main.cf and master.cf in place.
 *
 * main.cf edits keep every other line, comment and the order: a changed
 * parameter's first definition is replaced where it stands (with its
 * continuation lines), later definitions of the same name are removed, and
 * a new parameter is appended. A master.cf -o edit rewrites that one entry
 * in the -M form, one -o per continuation line. Every write is atomic: a
 * temporary file in the same directory with the old mode (and owner, when
 * root), fsync, rename over the old file, fsync of the directory. On any
 * error the old file is untouched and err says why.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "conf/conf_private.h"

/* edit_write_all - write the whole buffer; -1 on error. */
static int edit_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* edit_fsync_dir - make a rename in dir durable. */
static int edit_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret;

    if (fd < 0)
        return -1;
    ret = fsync(fd);
    (void)close(fd);
    return ret;
}

/* edit_replace - atomically replace dir/name with data. */
static int edit_replace(const char *dir, const char *name, const strbuf *data,
                        strbuf *err)
{
    strbuf path, tmp;
    struct stat st;
    char *tmpl;
    int fd, ret = -1;

    sb_init(&path, SB_NOLIMIT);
    sb_init(&tmp, SB_NOLIMIT);
    (void)sb_printf(&path, "%s/%s", dir, name);
    (void)sb_printf(&tmp, "%s/.%s.tern-edit.XXXXXX", dir, name);
    tmpl = xstrdup(sb_str(&tmp));
    if (stat(sb_str(&path), &st) < 0) {
        (void)sb_printf(err, "stat %s: %s", sb_str(&path), strerror(errno));
    } else if ((fd = mkstemp(tmpl)) < 0) {
        (void)sb_printf(err, "create %s: %s", tmpl, strerror(errno));
    } else {
        if (edit_write_all(fd, sb_str(data), sb_len(data)) < 0
            || fchmod(fd, st.st_mode & 07777) < 0
            || (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
            || fsync(fd) < 0) {
            (void)sb_printf(err, "write %s: %s", tmpl, strerror(errno));
            (void)close(fd);
        } else if (close(fd) < 0 || rename(tmpl, sb_str(&path)) < 0) {
            (void)sb_printf(err, "rename %s to %s: %s", tmpl, sb_str(&path),
                            strerror(errno));
        } else if (edit_fsync_dir(dir) < 0) {
            (void)sb_printf(err, "fsync %s: %s", dir, strerror(errno));
            ret = 0;                    /* the new file is in place */
        } else {
            ret = 0;
        }
        if (ret < 0)
            (void)unlink(tmpl);
    }
    free(tmpl);
    sb_release(&path);
    sb_release(&tmp);
    return ret < 0 || sb_len(err) > 0 ? -1 : 0;
}

/* edit_name_ok - a parameter name: letters, digits, underscores. */
static bool edit_name_ok(const char *name)
{
    if (*name == '\0')
        return false;
    for (; *name; name++)
        if (!isalnum((unsigned char)*name) && *name != '_')
            return false;
    return true;
}

/* edit_value_ok - a value that reads back unchanged from one line. */
static bool edit_value_ok(const char *value, strbuf *err)
{
    char **list;

    if (strpbrk(value, "\n\r") != NULL) {
        (void)sb_puts(err, "a value cannot contain a line break");
        return false;
    }
    if ((list = conf_split_list(value, err)) == NULL)
        return false;
    conf_list_free(list);
    return true;
}

/* Physical line classes for editing. */
enum edit_class { EDIT_SKIP, EDIT_CONT, EDIT_START };

/* edit_class - blank/comment, continuation, or start of a definition. */
static enum edit_class edit_classify(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i == n || s[i] == '#')
        return EDIT_SKIP;
    return i > 0 ? EDIT_CONT : EDIT_START;
}

/* edit_def_name - the parameter a definition line names. */
static size_t edit_def_name(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && s[i] != '=' && !isspace((unsigned char)s[i]))
        i++;
    return i;
}

/* edit_match - index of the assignment naming line s, or -1. */
static ptrdiff_t edit_match(const char *s, size_t n, char *const *names,
                            size_t count)
{
    size_t len = edit_def_name(s, n);

    for (size_t k = 0; k < count; k++)
        if (strlen(names[k]) == len && memcmp(names[k], s, len) == 0)
            return (ptrdiff_t)k;
    return -1;
}

/* edit_main_text - rewrite main.cf text: values NULL means remove. */
static void edit_main_text(const strbuf *in, char *const *names,
                           char *const *values, size_t count, strbuf *out)
{
    bool *done = xcalloc(count + 1, sizeof(*done));
    bool dropping = false;
    const char *p = sb_str(in), *end = p + sb_len(in);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        enum edit_class cls = edit_classify(p, n);
        ptrdiff_t k = cls == EDIT_START ? edit_match(p, n, names, count) : -1;

        if (cls == EDIT_START)
            dropping = k >= 0;
        if (k >= 0 && values && !done[k])
            (void)sb_printf(out, "%s = %s\n", names[k], values[k]);
        if (k >= 0)
            done[k] = true;
        if (!(dropping && cls != EDIT_SKIP)) {
            (void)sb_append(out, p, n);
            (void)sb_putc(out, '\n');
        }
        p = nl ? nl + 1 : end;
    }
    for (size_t k = 0; values && k < count; k++)
        if (!done[k])
            (void)sb_printf(out, "%s = %s\n", names[k], values[k]);
    free(done);
}

/* edit_main - shared by -e and -X. */
static int edit_main(const char *dir, char *const *names, char *const *values,
                     size_t count, strbuf *err)
{
    strbuf path, in, out;
    int ret = -1;

    sb_init(&path, SB_NOLIMIT);
    sb_init(&in, CONF_FILE_MAX);
    sb_init(&out, SB_NOLIMIT);
    (void)sb_printf(&path, "%s/main.cf", dir);
    if (conf_read_file(sb_str(&path), &in, err) == 0) {
        edit_main_text(&in, names, values, count, &out);
        ret = edit_replace(dir, "main.cf", &out, err);
    }
    sb_release(&path);
    sb_release(&in);
    sb_release(&out);
    return ret;
}

int conf_edit_main(const char *dir, char *const *assign, size_t n, strbuf *err)
{
    char **names = xcalloc(n + 1, sizeof(*names));
    char **values = xcalloc(n + 1, sizeof(*values));
    strbuf name, value;
    int ret = 0;

    sb_init(&name, CONF_LINE_MAX);
    sb_init(&value, CONF_LINE_MAX);
    for (size_t i = 0; i < n && ret == 0; i++) {
        if (conf_split_nameval(assign[i], &name, &value, err) < 0
            || !edit_name_ok(sb_str(&name)) || !edit_value_ok(sb_str(&value), err)) {
            if (sb_len(err) == 0)
                (void)sb_printf(err, "bad parameter name '%.100s'", sb_str(&name));
            ret = -1;
            break;
        }
        names[i] = xstrdup(sb_str(&name));
        values[i] = xstrdup(sb_str(&value));
    }
    if (ret == 0)
        ret = edit_main(dir, names, values, n, err);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(values[i]);
    }
    free(names);
    free(values);
    sb_release(&name);
    sb_release(&value);
    return ret;
}

int conf_remove_main(const char *dir, char *const *names, size_t n, strbuf *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!edit_name_ok(names[i])) {
            (void)sb_printf(err, "bad parameter name '%.100s'", names[i]);
            return -1;
        }
    }
    return edit_main(dir, names, NULL, n, err);
}

/* edit_format_entry - a master.cf entry with name=value set among its -o. */
static void edit_format_entry(const struct conf_service *s, const char *name,
                              const char *value, strbuf *out)
{
    bool found = false;

    (void)sb_printf(out, "%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s", s->name,
                    s->type_name, s->field[0], s->field[1], s->field[2],
                    s->field[3], s->field[4], s->argv[0]);
    for (size_t o = 0; o <= s->nover; o++) {
        const char *n = o < s->nover ? s->over[o].name : name;
        const char *v = o < s->nover ? s->over[o].value : value;

        if (o == s->nover && found)
            break;
        if (o < s->nover && strcmp(n, name) == 0) {
            v = value;
            found = true;
        }
        if (strpbrk(v, " \t") != NULL)
            (void)sb_printf(out, "\n  -o { %s = %s }", n, v);
        else
            (void)sb_printf(out, "\n  -o %s=%s", n, v);
    }
    if (s->argv[1] != NULL)
        (void)sb_puts(out, "\n ");
    for (size_t i = 1; s->argv[i]; i++) {
        if (s->argv[i][0] == '\0' || strpbrk(s->argv[i], " \t") != NULL)
            (void)sb_printf(out, " { %s }", s->argv[i]);
        else
            (void)sb_printf(out, " %s", s->argv[i]);
    }
    (void)sb_putc(out, '\n');
}

/* edit_master_text - replace the entry starting at line with entry text. */
static void edit_master_text(const strbuf *in, int line, const strbuf *entry,
                             strbuf *out)
{
    const char *p = sb_str(in), *end = p + sb_len(in);
    bool in_entry = false;

    for (int lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        enum edit_class cls = edit_classify(p, n);

        if (lineno == line) {
            (void)sb_append(out, sb_str(entry), sb_len(entry));
            in_entry = true;
        } else if (cls == EDIT_START) {
            in_entry = false;
        }
        if (!(in_entry && cls != EDIT_SKIP)) {
            (void)sb_append(out, p, n);
            (void)sb_putc(out, '\n');
        }
        p = nl ? nl + 1 : end;
    }
}

int conf_edit_master(const char *dir, const char *service, const char *type,
                     const char *name, const char *value, strbuf *err)
{
    conf *c;
    const struct conf_service *s;
    strbuf in, entry, out;
    int ret = -1;

    if (!edit_name_ok(name)) {
        (void)sb_printf(err, "bad parameter name '%.100s'", name);
        return -1;
    }
    if (!edit_value_ok(value, err))
        return -1;
    c = conf_load(dir);
    sb_init(&in, CONF_FILE_MAX);
    sb_init(&entry, SB_NOLIMIT);
    sb_init(&out, SB_NOLIMIT);
    if ((s = conf_service_find(c, service, type)) == NULL) {
        (void)sb_printf(err, "%s: no service %.100s/%.20s", c->master_path,
                        service, type);
    } else if (conf_read_file(c->master_path, &in, err) == 0) {
        edit_format_entry(s, name, value, &entry);
        edit_master_text(&in, s->line, &entry, &out);
        ret = edit_replace(dir, "master.cf", &out, err);
    }
    sb_release(&in);
    sb_release(&entry);
    sb_release(&out);
    conf_free(c);
    return ret;
}
