/* notify.h: the sd_notify protocol for supervised programs (NOTIFY_SOCKET),
 * so that any program that speaks it can tell gensupd it is ready. */
#ifndef GENSUP_NOTIFY_H
#define GENSUP_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef struct sup_notify sup_notify;

/* Called for each datagram: the sender's pid (from SCM_CREDENTIALS),
 * whether it said READY=1, and its STATUS= text or NULL. */
typedef void (*sup_notify_handler)(void *userdata, pid_t pid, bool ready, const char *status);

/* Binds a datagram socket at path (replacing a stale one). */
int sup_notify_open(sd_event *e, const char *path, sup_notify_handler handler, void *userdata, sup_notify **ret);
sup_notify *sup_notify_free(sup_notify *n);
const char *sup_notify_path(const sup_notify *n);

#endif
