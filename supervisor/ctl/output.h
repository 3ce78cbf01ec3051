/* output.h: what gensupctl prints (output.c): answers for people or as
 * JSON, event lines, and error lines on stderr. Everything goes to stdout
 * except the errors. */
#ifndef GENSUP_CTL_OUTPUT_H
#define GENSUP_CTL_OUTPUT_H

#include <jansson.h>

#include "ctl.h"

/* gensupd's answer doc to cmd (run with args): the JSON document with
 * --json, else the command's own table or lines. */
void ctl_print_answer(const ctl_opts *o, const ctl_command *cmd, char **args, json_t *doc);
/* upgrade's answer, one line (ctl/upgrade.c). */
void ctl_print_upgrade(json_t *doc);
/* Whether --json output is gensupd's document as it came, unparsed
 * (compact, not to a terminal): a 9,000-child status is 1.3 MB that
 * need not be parsed and printed again. */
bool ctl_json_as_sent(const ctl_opts *o, const ctl_command *cmd);
/* Prints that document and a newline ("{}" when empty); 0 or -EIO. */
int ctl_print_json_text(const char *json);
/* One event: a line for people, or a JSON line with --json. */
void ctl_print_event(const ctl_opts *o, json_t *ev);
/* Every event of an `events` answer, as ctl_print_event. */
void ctl_print_events(const ctl_opts *o, json_t *doc);
/* gensupd refused or failed cmd: code is a positive errno, error its text
 * (an OTP error name gets a hint). */
void ctl_print_reply_error(const ctl_command *cmd, int code, const char *error);
/* printf into a new string (the caller frees), or NULL on ENOMEM. */
char *ctl_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
