/* config.h: gensupd's configuration file (libconfig syntax, shaped like
 * OTP child specs; see gensup.conf(5)) read into the plain data of spec.h,
 * and validated.
 *
 * Validation collects every error it finds rather than stopping at the
 * first, each as one line "FILE:LINE: message" (FILE as the caller named
 * it, LINE where the offending setting or group starts), so that
 * `gensupd --check` can show them all at once. libconfig's own syntax
 * errors come out the same way (there is only one of those: libconfig
 * stops at the first).
 *
 * No logging here: the caller prints the error lines. Reading the config
 * looks at the file system ($PATH, the exec programs) and at the user and
 * group databases (user, group, control_group), nothing else. */
#ifndef GENSUP_CONFIG_H
#define GENSUP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* At most this many error lines are kept; one more line says how many
 * were left out. */
#define SUP_ERRORS_MAX 100
/* Largest config file read (and largest fragment parsed). */
#define SUP_CONFIG_SIZE_MAX (4u * 1024u * 1024u)
/* The root supervisor's name when the config gives none. */
#define SUP_DEFAULT_ROOT_NAME "root"

/* The error lines of one load or parse, in the order found (document
 * order, mostly). Each is "FILE:LINE: message", without a newline. The
 * only lines without a LINE are those about the file as a whole
 * ("FILE: cannot read: ..."). Start with an all-zero sup_errors; free the
 * contents with sup_errors_done. */
typedef struct sup_errors {
        char **lines;
        size_t n;
} sup_errors;

/* Frees the lines and zeroes *e (NULL allowed). */
void sup_errors_done(sup_errors *e);

/* ---- whole files ---- */

/* Reads and validates the config file at path. On success returns 0 and
 * sets *ret_config (free with sup_config_free); ret_config->path is the
 * file's absolute path, every worker's exec[0] an absolute path to an
 * executable file, and every default filled in (see gensup.conf(5)).
 * On failure *ret_config is untouched and errors (which must be empty or
 * hold earlier lines, which are kept) gets the lines saying why:
 *   -EINVAL   the file has syntax or validation errors (one line each);
 *   -ENOMEM   out of memory (errors may be incomplete);
 *   -EFBIG    the file is larger than SUP_CONFIG_SIZE_MAX;
 *   -errno    the file could not be read ("FILE: cannot read: ...").
 * A relative exec[0] containing '/' is taken relative to the directory of
 * the config file; one without '/' is searched in the caller's $PATH
 * (confstr(_CS_PATH) when unset). Names are unique in the whole tree. */
int sup_config_load(const char *path, sup_config **ret_config, sup_errors *errors);

/* Frees the config and its whole tree of specs. Returns NULL. */
sup_config *sup_config_free(sup_config *c);

/* ---- single child specs (gensupctl start-child, reload) ---- */

/* Parses one child spec from a libconfig text fragment: the settings of
 * the child's group, with or without the surrounding braces, e.g.
 *   name = "conn2"; exec = ["kitty_server"]; restart = "transient";
 * and validates it exactly as a child in a config file:
 *   origin        names the text in error lines ("start-child:3: ...");
 *   base_dir      absolute directory a relative exec[0] with '/' is taken
 *                 from (the config file's directory); NULL: the caller's
 *                 working directory;
 *   parent        the supervisor the child is meant for: its
 *                 auto_shutdown and strategy decide whether significant is
 *                 allowed; NULL counts as one_for_one, auto_shutdown never.
 *                 Whether the parent accepts new specs at all (not a
 *                 simple_one_for_one) is the caller's decision;
 *   taken_names   NULL-terminated names already in use (may be NULL); a
 *                 name found there, or used twice inside the fragment, is
 *                 an error (see sup_spec_names).
 * Returns 0 and sets *ret_spec (free with sup_spec_free), or -EINVAL with
 * the reasons appended to errors, -EFBIG for a fragment larger than
 * SUP_CONFIG_SIZE_MAX, or -ENOMEM. */
int sup_spec_parse(const char *text, const char *origin, const char *base_dir,
                   const sup_spec *parent, const char *const *taken_names,
                   sup_spec **ret_spec, sup_errors *errors);

#endif
