/* control.h: gensupd's control socket (control.c). */
#ifndef GENSUP_CONTROL_H
#define GENSUP_CONTROL_H

#include <jansson.h>

typedef struct sup_control sup_control;
struct sup_daemon;

/* Listens on <runtime_dir>/control.sock, or takes the socket systemd
 * passed (sd_listen_fds). */
int sup_control_open(struct sup_daemon *d, sup_control **ret);
sup_control *sup_control_free(sup_control *ctl);
/* Grants the read-only commands to this group (a name or a number);
 * NULL: to nobody beyond root and gensupd's uid. */
void sup_control_set_group(sup_control *ctl, const char *group);
/* Keeps event (taking it) among the recent ones and sends it to every
 * `events --follow` client. */
void sup_control_event(sup_control *ctl, json_t *event);

#endif
