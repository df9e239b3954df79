/*
 * postdrop - the small set-group-id helper that writes a message from
 * sendmail into maildrop/ (see drop.h for its input).
 *
 * It is the only tern program that may run set-id, so it trusts neither its
 * input nor its environment: a configuration directory from -c or
 * MAIL_CONFIG is used only when it (and its main.cf) belong to root and are
 * not writable by group or others, or when postdrop is not set-id. The
 * submitting user is recorded by the kernel as the owner of the maildrop
 * file (pickup reads it from there). Exit status: 0 only after the file is
 * committed (fsync, rename, directory fsync); EX_USAGE, EX_DATAERR (bad
 * stream, too large), EX_CONFIG, EX_TEMPFAIL (spool not writable).
 * The queue ID goes to standard output.
 */
#ifndef TERN_POSTDROP_H
#define TERN_POSTDROP_H

#include <stdbool.h>

/* postdrop_run - the whole program; returns its exit status. */
int postdrop_run(int argc, char **argv);

/* postdrop_trusted_dir - may a set-id postdrop use this config directory? */
bool postdrop_trusted_dir(const char *dir);

#endif
