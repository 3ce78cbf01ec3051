/* top.h: `gensupctl top` (top.c), a live full-screen view of the tree
 * with ncurses, redrawn when gensupd sends an event and once a second;
 * --batch N prints N refreshes as text instead (no terminal needed). */
#ifndef GENSUP_CTL_TOP_H
#define GENSUP_CTL_TOP_H

#include <stddef.h>

#include "ctl.h"

/* args: [--sort KEY] [--batch N], parsed here. An exit status. */
int ctl_top_run(const ctl_opts *o, const ctl_command *cmd, char **args, size_t n_args);

#endif
