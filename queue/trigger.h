/*
 * trigger - wake a trigger service (pickup, qmgr) through its socket.
 *
 * A wake-up is one byte written to a connection on the service's unix
 * socket (public/pickup, public/qmgr or private/qmgr). The connect and
 * write never block; any failure is returned but callers normally ignore
 * it: the service may not be running, and it scans its queue on start.
 */
#ifndef TERN_TRIGGER_H
#define TERN_TRIGGER_H

#include "conf/conf.h"

/* trigger_wake - write one request byte to the socket at path; 0 or -1. */
int trigger_wake(const char *path, char byte);

/*
 * trigger_service - wake the master.cf service `name` (unix type) below
 * queue_directory, in public/ or private/ as its entry says; 0 or -1.
 * trigger_service_byte sends a given request byte (qmgr's QMGR_WAKE_FLUSH)
 * instead of the plain wake-up.
 */
int trigger_service_byte(const conf *c, const char *queue_directory,
                         const char *name, char byte);
int trigger_service(const conf *c, const char *queue_directory,
                    const char *name);

#endif
