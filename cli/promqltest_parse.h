/*
 * promqltest_parse.h: the parser of PromQL test files (Prometheus's
 * promqltest format, man/vigil.1 "PromQL test files"), for `vigil
 * promql-test` (promqltest.c runs what this parses).
 *
 * Owns reading the text into commands: load blocks with their series and
 * value sequences expanded, clear, and eval cases with their expectations
 * and expected series. It knows nothing of PromQL beyond the series
 * notation (the expression of a case is kept as text) and nothing of the
 * engine.
 *
 * The text is untrusted input (tests/fuzz/fuzz_promqltest.c): every
 * length is checked before it is used; an expansion a+bxN is refused past
 * VG_PTEST_MAX_VALUES values in the whole file, and a line longer than
 * VG_PTEST_MAX_LINE, so a few bytes cannot ask for gigabytes.
 */
#ifndef VG_PROMQLTEST_PARSE_H
#define VG_PROMQLTEST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_err;

#define VG_PTEST_MAX_VALUES (4u << 20) /* values (samples and expected points) per file */
#define VG_PTEST_MAX_LINE (64u * 1024)

enum vg_ptest_value_kind {
	VG_PTEST_VALUE,   /* v */
	VG_PTEST_OMITTED, /* "_": no sample (load) or no point (range eval) */
	VG_PTEST_STALE,   /* "stale": a staleness marker (load) */
};

struct vg_ptest_value {
	double v;
	enum vg_ptest_value_kind kind;
};

/* One series line: its label set as a series key (common/series.h; the
 * name is empty when the line gives none) and its values. A bare number
 * line (a scalar result) has is_scalar set, an empty-name key and one
 * value. */
struct vg_ptest_series {
	unsigned line;
	uint8_t *key; /* owned */
	size_t key_len;
	bool is_scalar;
	struct vg_ptest_value *vals; /* owned */
	size_t n_vals, cap_vals;
};

enum vg_ptest_cmd_kind {
	VG_PTEST_LOAD,
	VG_PTEST_CLEAR,
	VG_PTEST_EVAL,
};

enum vg_ptest_annot {
	VG_PTEST_ANNOT_ANY,  /* not asserted */
	VG_PTEST_ANNOT_SOME, /* expect warn / eval_warn */
	VG_PTEST_ANNOT_NONE, /* expect no_warn */
};

struct vg_ptest_cmd {
	enum vg_ptest_cmd_kind kind;
	unsigned line; /* of the load/clear/eval line, 1-based */

	int64_t interval_ms; /* load: sample i of a series is at i * interval */

	/* eval */
	bool is_range;
	int64_t t_ms;                       /* instant */
	int64_t start_ms, end_ms, step_ms;  /* range */
	char *expr;                         /* owned, NUL-terminated */
	size_t expr_len;
	bool is_fail;        /* expect fail / eval_fail */
	char *fail_text;     /* owned, or NULL: any error */
	bool is_fail_regex;  /* fail_text is a regex (unanchored) */
	bool is_ordered;     /* expect ordered / eval_ordered */
	enum vg_ptest_annot warn, info;
	bool has_string;     /* expect string "..." */
	char *string;        /* owned, decoded */
	size_t string_len;

	/* load: the series to store; eval: the expected result */
	struct vg_ptest_series *series; /* owned */
	size_t n_series, cap_series;
};

struct vg_ptest_file {
	struct vg_ptest_cmd *cmds; /* owned */
	size_t n_cmds, cap_cmds;
};

/*
 * Parses text[0..len) into *out (release with vg_ptest_file_release, also
 * after an error). 0, VG_EINVAL with "LINE: message" in err and the line in
 * *err_line (when not NULL), VG_ELIMIT past the limits above, VG_ENOMEM.
 */
int vg_ptest_parse(const char *text, size_t len, struct vg_ptest_file *out, unsigned *err_line,
		   struct vg_err *err);
void vg_ptest_file_release(struct vg_ptest_file *f);

/* Prometheus's float comparison for test results (promqltest's
 * almostEqual): both NaN, equal, or a relative difference below epsilon
 * (absolute below epsilon * DBL_MIN next to 0). */
bool vg_ptest_almost_equal(double a, double b, double epsilon);

#endif
