/*
 * statsd.h: the StatsD / DogStatsD line protocol, parsed
 * (docs: ../shared/interfaces/statsd.md is what it follows; the mapping
 * rules are in man/vigil-agent.8, STATSD).
 *
 * Owns the grammar and the name mapping, nothing else: no socket, no
 * aggregation (statsd_listen.c reads datagrams, aggregate.c keeps the
 * values). Parsing is pure: a datagram in, one callback per good line,
 * one count per bad line and its reason; it never allocates.
 *
 *   <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tag>,...][|c:<id>][|T<ts>]
 *   <name>:<v>|<type>[|@<rate>]:<v>|<type>...      (Etsy: one sample per piece)
 *   name#k=v,...:  name,k=v,...:  name[k=v,...]:   (Librato, InfluxDB, SignalFX tags)
 *
 * Mapping, as statsd_exporter maps names: every '.' and every character
 * outside [a-zA-Z0-9_] becomes '_' (one per UTF-8 character), a leading
 * digit gets a '_' before it; tag keys are mapped the same way, a tag
 * without a value is ignored, and the keys the agent itself uses (le,
 * instance) or that Prometheus reserves (__*) get "exported_" before them.
 * The suffixes (_total, _bucket, ...) are aggregate.c's.
 *
 * Invariants: a line counted bad contributes nothing (a line is taken
 * whole or not at all); views in a struct vg_statsd_line point into the
 * datagram or into the line's own scratch, valid during the callback.
 */
#ifndef VG_STATSD_H
#define VG_STATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

/* A line longer than this is refused (too_long): a datagram is at most
 * 64 KiB, and real lines are well under the 1432-byte MTU advice. */
#define VG_STATSD_MAX_LINE 8192
/* Values packed in one line (DogStatsD v1.1, Etsy's pieces). */
#define VG_STATSD_MAX_VALUES 64
/* Tags per line; more is refused (too_many_tags). */
#define VG_STATSD_MAX_TAGS 32
/* Longest mapped name: leaves room for "_bucket" within a series name. */
#define VG_STATSD_MAX_NAME (VG_SERIES_MAX_NAME - 16)

enum vg_statsd_type {
	VG_STATSD_COUNTER,      /* c */
	VG_STATSD_GAUGE,        /* g */
	VG_STATSD_TIMER,        /* ms */
	VG_STATSD_HISTOGRAM,    /* h */
	VG_STATSD_DISTRIBUTION, /* d */
	VG_STATSD_SET,          /* s */
};

/* Why a line was refused; the names are the reason label of
 * vigil_agent_statsd_bad_lines_total. */
enum vg_statsd_reason {
	VG_STATSD_OK = 0,
	VG_STATSD_MALFORMED_LINE,  /* no ':', empty name, not UTF-8 */
	VG_STATSD_NOT_ENOUGH_PARTS, /* no '|type' after the value */
	VG_STATSD_BAD_TYPE,        /* a type other than c g ms h s d */
	VG_STATSD_MALFORMED_VALUE, /* not a number (sets: empty), a negative timer, packed set */
	VG_STATSD_MALFORMED_COMPONENT, /* an unknown |field */
	VG_STATSD_INVALID_SAMPLE_FACTOR, /* @ not followed by a non-negative number */
	VG_STATSD_MIXED_TAGGING_STYLES,
	VG_STATSD_MALFORMED_TAG,   /* a tag key that maps to nothing, a bad dialect tag */
	VG_STATSD_MALFORMED_CONTAINER_ID,
	VG_STATSD_TOO_LONG,        /* line or name beyond the limits above */
	VG_STATSD_TOO_MANY_VALUES,
	VG_STATSD_TOO_MANY_TAGS,
	VG_STATSD_NEGATIVE_COUNTER, /* a cumulative _total cannot go down */
	VG_STATSD_N_REASONS,
};

/* "malformed_line", ...; "ok" for VG_STATSD_OK. */
const char *vg_statsd_reason_name(enum vg_statsd_reason r);
/* "c", "g", "ms", "h", "d", "s". */
const char *vg_statsd_type_name(enum vg_statsd_type t);

struct vg_statsd_sample {
	enum vg_statsd_type type;
	bool is_delta;   /* gauges: a leading sign, add rather than set */
	double value;    /* as sent (timers in ms; sets: unused) */
	double rate;     /* in (0, 1]-ish; 1 when absent or 0 */
	struct vg_str text; /* sets: the member */
};

struct vg_statsd_line {
	struct vg_str name; /* mapped */
	uint32_t n_tags;
	struct vg_label tags[VG_STATSD_MAX_TAGS]; /* names mapped, values as sent */
	uint32_t n_samples;
	struct vg_statsd_sample samples[VG_STATSD_MAX_VALUES];
	char scratch[VG_STATSD_MAX_LINE + 1024]; /* mapped names live here */
};

/* Parses one line (no '\n'; one trailing '\r' is stripped). Returns
 * VG_STATSD_OK with *out filled, or the reason it is refused. Events
 * (_e{...}) and service checks (_sc|...) return VG_STATSD_OK with
 * n_samples 0: not metrics, skipped but not bad. */
enum vg_statsd_reason vg_statsd_parse_line(const char *p, size_t len, struct vg_statsd_line *out);

struct vg_statsd_counts {
	uint64_t lines;    /* good metric lines */
	uint64_t ignored;  /* events, service checks */
	uint64_t bad[VG_STATSD_N_REASONS];
};

/* Takes one line; a non-zero return is counted by the callee itself (the
 * aggregator's refusals), parsing goes on. */
typedef void (*vg_statsd_line_cb)(void *ctx, const struct vg_statsd_line *line);

/* Splits a datagram into lines at '\n' (empty lines skipped, no final
 * newline needed), parses each into *scratch and calls cb for the good
 * ones, counting every line in counts. */
void vg_statsd_parse_packet(const char *p, size_t len, struct vg_statsd_line *scratch,
			    vg_statsd_line_cb cb, void *ctx, struct vg_statsd_counts *counts);

#endif
