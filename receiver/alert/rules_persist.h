/*
 * rules_persist.h: the alert state file, DATA_DIR/alerts.state, so that a
 * restart neither pages again for what already fires (the instance keeps
 * its state and its activeAt) nor forgets what it must resolve.
 *
 * Format (all integers unsigned LEB128 varints, times zigzag varints in
 * ms, strings a varint length then the bytes):
 *   "VGALERTS2\n"
 *   n_groups, then per group: file, name, last evaluation time
 *   n_rules, then per alerting rule: file, group, index in the group,
 *     name, n_instances, then per instance: state (0..2), active_at,
 *     fired_at, resolved_at, keep_firing_since, hold_until (the
 *     hold-down of min_resolved_for, rules_state.h), the value's 8 bytes
 *     (little-endian IEEE 754), the labels (count, then name and value
 *     each), the annotations (the same)
 *   XXH3-64 of everything before it, 8 bytes little-endian.
 * Written whole under alerts.state.tmp and published atomically (fs.h).
 * A file that fails its checksum or its bounds is refused whole.
 * Version 1 ("VGALERTS1\n", written before flap control) is the same
 * without hold_until, and is still read (hold_until 0).
 */
#ifndef VG_RULES_PERSIST_H
#define VG_RULES_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "receiver/alert/rules_state.h"

struct vg_err;

#define VG_RULES_STATE_FILE "alerts.state"
#define VG_RULES_STATE_MAX_BYTES (256u << 20)
/* The latest time a state file may hold (2^53 ms, some 285,000 years):
 * anything later, or negative, is damage. */
#define VG_RULES_STATE_MAX_TIME_MS (INT64_C(1) << 53)

struct vg_rules_saved_group {
	char *file, *name;
	int64_t last_eval_ms;
};

struct vg_rules_saved_rule {
	char *file, *group, *name;
	uint32_t index;
	struct vg_alert_table table;
};

struct vg_rules_saved {
	size_t n_groups, n_rules;
	struct vg_rules_saved_group *groups;
	struct vg_rules_saved_rule *rules;
};

/* Writing: begin, then every group, then every rule (counts given
 * first), then publish. */
void vg_rules_persist_begin(struct vg_buf *b, size_t n_groups);
void vg_rules_persist_group(struct vg_buf *b, const char *file, const char *name, int64_t last_eval_ms);
void vg_rules_persist_rules(struct vg_buf *b, size_t n_rules);
void vg_rules_persist_rule(struct vg_buf *b, const char *file, const char *group, uint32_t index,
			   const char *name, const struct vg_alert_table *t);
/* Appends the checksum and publishes b as DATA_DIR/alerts.state. */
int vg_rules_persist_write(const char *data_dir, struct vg_buf *b, struct vg_err *err);

/* Reads DATA_DIR/alerts.state into out; VG_ENOENT when there is none,
 * VG_EINVAL (or VG_ECHECKSUM) when it is damaged. */
int vg_rules_persist_read(const char *data_dir, struct vg_rules_saved *out, struct vg_err *err);
/* The same from memory (the fuzz target's way in). */
int vg_rules_persist_decode(const uint8_t *p, size_t n, struct vg_rules_saved *out, struct vg_err *err);
void vg_rules_saved_release(struct vg_rules_saved *s);

#endif
