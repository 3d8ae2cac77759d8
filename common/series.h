/*
 * series.h: the series model. A series is a metric name and a set of label
 * pairs; its identity is the canonical form below and the 64-bit xxh3 of it.
 *
 * Canonical form (what vg_series_canonicalize produces, and what every hash,
 * comparison and key is computed from):
 *  - labels sorted by name (bytewise), no two with the same name;
 *  - labels with an empty value removed (Prometheus: empty = absent);
 *  - the metric name is not a label ("__name__" never appears in labels).
 * Names follow Prometheus: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * [a-zA-Z_][a-zA-Z0-9_]*, label names starting "__" are reserved; values are
 * any valid UTF-8. Limits: VG_SERIES_MAX_NAME bytes per name,
 * VG_SERIES_MAX_VALUE per value, VG_SERIES_MAX_LABELS labels, and
 * VG_SERIES_MAX_KEY bytes for the key below.
 *
 * The key (vg_series_key) is the canonical form as bytes:
 *     name 0xFF (label-name 0xFF label-value 0xFF)*
 * 0xFF never occurs in UTF-8, so the key is unambiguous; the hash is
 * XXH3_64bits(key). docs/protocol.md shows the same layout.
 *
 * struct vg_series is a view: it borrows the strings it points at.
 */
#ifndef VG_SERIES_H
#define VG_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_buf;
struct vg_err;

#define VG_SERIES_MAX_NAME 256
#define VG_SERIES_MAX_VALUE 4096
#define VG_SERIES_MAX_LABELS 64
/* The whole key: what the WAL and the head store per series. Real series
 * are well under 1 KiB; this bounds what one hostile series can cost. */
#define VG_SERIES_MAX_KEY 16384

/* A borrowed string: p[0..len), not NUL-terminated. */
struct vg_str {
	const char *p;
	uint32_t len;
};

struct vg_label {
	struct vg_str name;
	struct vg_str value;
};

struct vg_series {
	struct vg_str name;
	uint32_t n_labels;
	struct vg_label labels[VG_SERIES_MAX_LABELS];
};

static inline struct vg_str vg_str_c(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return (struct vg_str){ s, (uint32_t)n };
}
bool vg_str_eq(struct vg_str a, struct vg_str b);
bool vg_str_eq_c(struct vg_str a, const char *s);
int vg_str_cmp(struct vg_str a, struct vg_str b);

bool vg_metric_name_valid(const char *p, size_t len);
bool vg_label_name_valid(const char *p, size_t len);
bool vg_utf8_valid(const char *p, size_t len);

/* Starts s as a series named name with no labels. Borrows name. */
void vg_series_init(struct vg_series *s, const char *name);
/* Adds a label (borrowed); VG_ELIMIT past VG_SERIES_MAX_LABELS. Call
 * vg_series_canonicalize after the last one. */
int vg_series_add(struct vg_series *s, const char *name, const char *value);
int vg_series_add_str(struct vg_series *s, struct vg_str name, struct vg_str value);

/* Validates names, values and limits, sorts the labels, drops empty values
 * and rejects duplicates: after 0, s is canonical. err names the culprit. */
int vg_series_canonicalize(struct vg_series *s, struct vg_err *err);

/* The value of label name in s (canonical), or NULL. */
const struct vg_str *vg_series_get(const struct vg_series *s, const char *name);

/* Appends the key of a canonical s to out. */
void vg_series_key(const struct vg_series *s, struct vg_buf *out);
/* Parses a key back into a view of it; VG_EINVAL if it is not one. */
int vg_series_from_key(const uint8_t *key, size_t len, struct vg_series *s);
/* XXH3-64 of the key of a canonical s. */
uint64_t vg_series_hash(const struct vg_series *s);
uint64_t vg_series_key_hash(const uint8_t *key, size_t len);
/* The one series order (Prometheus's labels.Compare): label by label, the
 * metric name counting as the label "__name__" in its sorted place, names
 * then values compared bytewise, a series that is a prefix of another
 * first. <0, 0 or >0. Keys that do not parse compare by their bytes. */
int vg_series_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* A key to sort (borrowed: key[0..len)); tag orders equal keys. */
struct vg_key_ref {
	const uint8_t *key;
	uint32_t len;
	uint32_t tag;
};
/* Sorts v[0..n) in vg_series_key_cmp's order, equal keys by tag
 * (ascending). Keys of one metric name, a selection's usual case, are
 * sorted by their bytes a position at a time (a multikey quicksort) rather
 * than compared whole; others by vg_series_key_cmp. */
void vg_series_key_sort(struct vg_key_ref *v, size_t n);

/* Appends name{a="x",b="y"} with Prometheus's escapes (\\, \", \n). */
void vg_series_format(const struct vg_series *s, struct vg_buf *out);
/* Appends a label value escaped for use between double quotes. */
void vg_label_value_escape(struct vg_str v, struct vg_buf *out);

#endif
