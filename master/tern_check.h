/*
 * tern_check - `tern check`: find every configuration and spool problem.
 *
 * check_main() loads main.cf and master.cf, prints every diagnostic, runs
 * map_check on every table named by a table-list parameter set in main.cf or
 * a -o override, compiles every smtpd service's restriction lists
 * (check_restrictions), then check_spool(). Problems are printed as they are found
 * ("tern check: warning: ..." / "tern check: error: ..."); the exit status is
 * 1 when there was any error, 0 otherwise (warnings alone exit 0).
 */
#ifndef TERN_CHECK_H
#define TERN_CHECK_H

#include <stddef.h>

#include "conf/conf.h"

/* What a check run found so far. */
struct check_report {
    size_t errors;
    size_t warnings;
};

/* check_error/check_warning - print one problem and count it. */
void check_error(struct check_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void check_warning(struct check_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* check_tables - map_check every table of the table-list parameters set. */
void check_tables(const conf *c, struct check_report *r);

/*
 * check_restrictions - restrict_compile the restriction lists of every
 * smtpd service (main.cf plus its -o overrides); each error names the
 * master.cf line, the service, the parameter and the item. Skipped (with
 * a note) when r already holds errors: the lists open the same tables.
 */
void check_restrictions(const conf *c, struct check_report *r);

/*
 * check_spool - queue_directory, if it exists, must be a directory owned
 * by the invoking user or mail_owner and not world-writable; each spool
 * directory must have its spool_mode() and the owner a start gives it
 * (root start: mail_owner, setgid_group for maildrop/ and public/, root
 * for pid/; other starts: the owner of queue_directory). A missing one is
 * a warning: tern start creates it.
 */
void check_spool(const conf *c, struct check_report *r);

/* check_main - the `tern check [-c dir]` command. */
int check_main(int argc, char **argv);

#endif
