/* answers.h: gensupd's side of the control commands (answers.c). */
#ifndef GENSUP_ANSWERS_H
#define GENSUP_ANSWERS_H

struct sup_daemon;

/* Opens the control socket (control.c) on d's loop and runtime directory,
 * answering with the tree, the children and the config of d, and grants
 * the read commands to the config's control_group. 0 or -errno (logged). */
int sup_answers_open(struct sup_daemon *d);

#endif
