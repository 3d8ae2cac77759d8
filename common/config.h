/*
 * config.h: YAML configuration files, bound onto a program's options struct
 * through a table of fields.
 *
 * A program describes its file as an array of struct vg_conf_field (ended by
 * a field with key NULL), each naming a key, a type and the offset of the
 * member it fills. vg_conf_load_file parses the YAML (libyaml) and fills the
 * members it finds; members it does not find keep what the caller put there
 * (the defaults). Every error names the file and the line:
 *     /etc/vigil/agent.yaml:7: unknown key "intervall" (known: server, interval, ...)
 *     /etc/vigil/agent.yaml:3: interval: not a valid duration: "10x" (...)
 * An empty file, or one holding only comments, is valid and changes nothing.
 *
 * The accepted YAML: one document whose top level is a mapping; keys are
 * scalars, each at most once per mapping; anchors, aliases and explicit tags
 * are refused. A key with no value ("key:" or "key: ~") is an error for
 * every type: remove the key to keep the default. A quoted "" is a valid
 * empty string for VG_CONF_STR. Files larger than VG_CONF_MAX_BYTES are
 * refused before they are read.
 *
 * Errors: content errors read "NAME:LINE: ..." (line 1-based); YAML syntax
 * errors "NAME:LINE:COLUMN: <problem>"; file errors (missing, unreadable,
 * too large) "NAME: ...". On an error some members may already hold values
 * from the file; vg_conf_release still frees them correctly.
 *
 * Ownership: VG_CONF_STR, VG_CONF_LABELS and VG_CONF_STRLIST members are
 * heap-allocated by the loader; string members must hold NULL or a heap
 * string (the loader frees the old value when it replaces it). Free all of
 * them with vg_conf_release(fields, target).
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_err;

enum vg_conf_type {
	VG_CONF_STR,      /* char *: a scalar */
	VG_CONF_DURATION, /* int64_t ms: a Prometheus duration, "10s", "1h30m" */
	VG_CONF_BOOL,     /* bool: true/false (also yes/no, on/off) */
	VG_CONF_UINT,     /* uint64_t: a decimal integer */
	VG_CONF_SIZE,     /* uint64_t bytes: "512", "64KiB", "16MiB", "2GiB" (also KB, MB, GB = powers of 1000) */
	VG_CONF_LABELS,   /* struct vg_conf_labels: a map of label name -> value;
	                     names valid and not reserved (series.h), no
	                     duplicates, at most VG_SERIES_MAX_LABELS */
	VG_CONF_STRLIST,  /* struct vg_conf_strlist: a sequence of scalars */
	VG_CONF_SECTION,  /* a nested map described by .section; offsets inside
	                     it are relative to the same target struct */
	VG_CONF_LIST,     /* struct vg_conf_list: a sequence of maps, each
	                     described by .section with offsets relative to
	                     its own item of .min bytes (zeroed before it is
	                     read: the caller applies defaults after); at
	                     most .max items (0: 1024) */
	VG_CONF_STRUCT,   /* a nested map described by .section whose offsets
	                     are relative to the member itself (a struct
	                     embedded in the target), so one table serves
	                     the struct wherever it sits: the root of a tree
	                     whose nested items are a VG_CONF_LIST of the
	                     same table */
};

#define VG_CONF_MAX_BYTES (1024 * 1024)

struct vg_conf_field {
	const char *key;
	enum vg_conf_type type;
	size_t offset;
	const struct vg_conf_field *section; /* VG_CONF_SECTION only */
	/* VG_CONF_DURATION, VG_CONF_UINT, VG_CONF_SIZE: min <= value <= max,
	 * unless min == max == 0 (no bounds); use INT64_MAX for "no maximum". */
	int64_t min, max;
	/* Optional: called with the member once the key's value is stored; a
	 * non-zero return with err set fails the load, and the loader prefixes
	 * the message with "NAME:LINE: key: " (line of the value). */
	int (*check)(const void *member, struct vg_err *err);
};

struct vg_conf_labels {
	size_t n;
	char **names;
	char **values;
};

struct vg_conf_strlist {
	size_t n;
	char **v;
};

/* Items of a VG_CONF_LIST, each field.min bytes: (char *)v + i * min.
 * lines[i] is the 1-based line where item i begins, so a program that
 * checks items against each other (unique names) can say where. */
struct vg_conf_list {
	size_t n;
	void *v;
	size_t *lines;
};

/* Loads path onto target. VG_ENOENT if the file does not exist (the caller
 * decides whether that matters), VG_EIO if unreadable, VG_EINVAL on a syntax
 * or type error; err says where. */
int vg_conf_load_file(const char *path, const struct vg_conf_field *fields, void *target,
		      struct vg_err *err);
/* The same from memory; name is used in messages in place of the path. */
int vg_conf_load_string(const char *text, size_t len, const char *name,
			const struct vg_conf_field *fields, void *target, struct vg_err *err);
/* Frees every heap member the fields describe and zeroes it. */
void vg_conf_release(const struct vg_conf_field *fields, void *target);

/* Frees a label set's names and values and zeroes it. */
void vg_conf_labels_release(struct vg_conf_labels *l);
/* Sorts a label set by name (names unique: a loaded set's are). */
void vg_conf_labels_sort(struct vg_conf_labels *l);

/* Frees the items of list field f (each with its section's members). */
void vg_conf_list_release(const struct vg_conf_field *f, struct vg_conf_list *l);

/* Sets a string member, freeing the old value; 0 or VG_ENOMEM. */
int vg_conf_set_str(char **member, const char *value);

/* Splits "host:port", "[v6addr]:port" or ":port" (host then "", meaning all
 * addresses) into host (NUL-terminated, at most host_cap bytes) and port. */
int vg_conf_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port,
			   struct vg_err *err);

/* Checks for struct vg_conf_field.check that both daemons use; each takes
 * a pointer to a char * member. */
int vg_conf_check_log_level(const void *member, struct vg_err *err); /* error, warn, info, debug */
int vg_conf_check_path(const void *member, struct vg_err *err);      /* not empty */
int vg_conf_check_ident(const void *member, struct vg_err *err);     /* at most 256 bytes (a HELLO string) */

/* A boolean key whose absence the loader records (keys whose default is
 * true, or comes from a global section): its field is the member value,
 * with vg_conf_mark_given as the check. */
struct vg_conf_flag {
	bool value; /* first: the field's member is the flag itself */
	bool is_given;
};
/* The check of a struct vg_conf_flag's value: records that it was given. */
int vg_conf_mark_given(const void *member, struct vg_err *err);

/* Sets a string member from a command-line flag and runs check (may be
 * NULL) on it; a failure's message is prefixed with the flag's name. */
int vg_conf_set_str_flag(char **member, const char *flag, const char *value,
			 int (*check)(const void *, struct vg_err *), struct vg_err *err);

/* The usage error for the option getopt_long refused at argv element arg. */
int vg_conf_unknown_option(const char *arg, struct vg_err *err);
/* The cases of a program's getopt_long loop (optstring ":hV") for c none
 * of its own options: -h prints usage and -V the version line on stdout
 * and return 1 (the program is done); an option without its argument or
 * an unknown one is a usage error (negative). */
int vg_conf_getopt_other(int c, char **argv, const char *usage, const char *version, struct vg_err *err);
/* After the loop: an operand left is a usage error. 0, or negative. */
int vg_conf_no_operands(int argc, char **argv, struct vg_err *err);
/* Loads the file a --config flag named (given), or with given NULL the
 * one at default_path, where no file means the defaults; the path of the
 * file loaded is kept in *config_path (none: left as it was). 0, or
 * negative with err. */
int vg_conf_load_given(const char *given, const char *default_path, const struct vg_conf_field *fields,
		       void *target, char **config_path, struct vg_err *err);

/* s when it is short and has no control characters or quotes, else
 * instead: what may be echoed into a message shown on a terminal. */
const char *vg_conf_printable(const char *s, const char *instead);

/* Parses a size as VG_CONF_SIZE does. */
int vg_conf_parse_size(const char *s, uint64_t *bytes, struct vg_err *err);

#endif
