/*
 * msg - logging in Postfix's line format (STYLE.md rule 3).
 *
 * Four levels: msg_info, msg_warn, msg_fatal (the environment is wrong; the
 * process exits 1), msg_panic (a bug; the process aborts). Lines go to
 * syslog(3) with facility mail and ident "<syslog_name>/<program>", or, when
 * maillog_file is set, are appended to that file in syslog's shape
 * ("Mmm dd hh:mm:ss host tern/smtpd[pid]: text"), and/or to stderr.
 * Control bytes in the text become '?', so no input can forge a log line.
 * Logging state is process-wide by nature; it lives only in msg.c.
 */
#ifndef TERN_MSG_H
#define TERN_MSG_H

#include <stdarg.h>
#include <stdbool.h>

enum msg_level { MSG_INFO, MSG_WARN, MSG_FATAL, MSG_PANIC };

/* Where lines go; combine with |. */
#define MSG_TO_STDERR  (1 << 0)   /* "program: text" (commands) */
#define MSG_TO_SYSLOG  (1 << 1)   /* syslog, or maillog_file once set */
#define MSG_DAEMON     (1 << 2)   /* stderr lines read "tern/program[pid]: " */

/* msg_open - name the program ("smtpd", "tern") and choose destinations. */
void msg_open(const char *program, int flags);

/*
 * msg_set_program - change only the program name of later lines (e.g. the
 * cleanup library logs as "cleanup" from smtpd and pickup, as Postfix's
 * cleanup daemon does); msg_get_program - the current name.
 */
void msg_set_program(const char *program);
const char *msg_get_program(void);
/* msg_set_syslog_name - replace the "tern" prefix (syslog_name). */
void msg_set_syslog_name(const char *name);

/* msg_set_logfile - append to path instead of syslog ("" = syslog); -1 on error. */
int msg_set_logfile(const char *path);

/* msg_set_flags - change destinations after msg_open. */
void msg_set_flags(int flags);

/* msg_verbose - debug level (-v); msg_debug logs only when > 0. */
void msg_set_verbose(int level);
int msg_get_verbose(void);

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void msg_vlog(enum msg_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Hooks for tests. The capture hook sees every line's level and text. The
 * fatal hook runs after a fatal or panic line is written and before the
 * process ends; a test may leave it with longjmp.
 */
typedef void (*msg_capture_fn)(enum msg_level level, const char *text, void *ctx);
void msg_set_capture(msg_capture_fn fn, void *ctx);
void msg_set_fatal_hook(void (*hook)(enum msg_level level));

#endif
