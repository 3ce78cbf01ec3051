/* status_text.h: a child of the tree as JSON text (status_text.c), the
 * object status.h's sup_status_entry describes, written straight into a
 * buffer. A status of thousands of children is mostly these objects:
 * writing them directly costs a tenth of building and printing a jansson
 * object each (status.c builds its objects from this text too, so the two
 * cannot drift apart). */
#ifndef GENSUP_STATUS_TEXT_H
#define GENSUP_STATUS_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"
#include "tree.h"

/* Appends e's object without "children" (for a supervisor, the key that
 * comes last): closed, or, with open_children and e a supervisor, ending
 * in ,"children":[ for the caller to fill and close with ]}. Its cgroup's
 * counts are read now (usage_max_age_usec 0) or at most that old
 * (cgroup.h). 0 or -ENOMEM. */
int sup_status_child_text(const sup_entry *e, bool open_children, uint64_t usage_max_age_usec, sup_strbuf *out);

/* Appends which-children's {name, pid, type, state} of e. */
int sup_status_which_child_text(const sup_entry *e, sup_strbuf *out);

/* Appends s as a JSON string ("null" for NULL): escaped, and any byte not
 * part of valid UTF-8 written as U+FFFD. 0 or -ENOMEM. */
int sup_json_put_string(sup_strbuf *out, const char *s);

#endif
