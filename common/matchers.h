/*
 * matchers.h: Alertmanager's text form of one label matcher, as route and
 * inhibition `matchers:` lists, amtool and `vigil silence add` write it:
 *     name op value      op one of = != =~ !~
 * with spaces allowed around op; the value either double-quoted (Go's
 * escapes \" \\ \n \t) or bare (the rest of the text, trimmed). The name is
 * a label name; an Alertmanager UTF-8 name may be quoted too.
 *
 * Owns only the text: common/selector.h owns matching and regexes.
 */
#ifndef VG_MATCHERS_H
#define VG_MATCHERS_H

#include <stddef.h>

#include "common/selector.h"

struct vg_err;

/* One parsed matcher: name and value are new strings (free both). */
struct vg_matcher_text {
	char *name;
	char *value;
	enum vg_match_op op;
};

/* Parses s (NUL-terminated, at most 4096 bytes). VG_EINVAL with a reason
 * naming the text; VG_ENOMEM. */
int vg_matcher_text_parse(const char *s, struct vg_matcher_text *out, struct vg_err *err);
void vg_matcher_text_release(struct vg_matcher_text *m);

/* The operator's text: "=", "!=", "=~", "!~". */
const char *vg_match_op_text(enum vg_match_op op);

#endif
