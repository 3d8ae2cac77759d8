/*
 * fuzz_config.c: libFuzzer target for the YAML configuration loader
 * (common/config.c). The input is a whole file; the field table holds every
 * type, bounds, a section, a list of mappings and a check callback, so each path of the loader
 * is reachable. Any input must end in 0 or a negative code with a message
 * that starts with the name, and vg_conf_release must free what was stored.
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/config/) in
 * `make check`.
 */
#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_item {
	char *name;
	int64_t every_ms;
	struct vg_conf_labels labels;
};

struct fuzz_opts {
	char *server;
	int64_t interval_ms;
	bool is_on;
	uint64_t count;
	uint64_t size_bytes;
	struct vg_conf_labels labels;
	struct vg_conf_strlist list;
	bool sub_on;
	int64_t sub_wait_ms;
	uint64_t sub_size_bytes;
	char *checked;
	struct vg_conf_list items;
};

static int check_short(const void *member, struct vg_err *err)
{
	if (strlen(*(char *const *)member) > 8)
		return vg_err_set(err, VG_EINVAL, "longer than 8 bytes");
	return 0;
}

static const struct vg_conf_field sub_fields[] = {
	{ "on", VG_CONF_BOOL, offsetof(struct fuzz_opts, sub_on), NULL, 0, 0, NULL },
	{ "wait", VG_CONF_DURATION, offsetof(struct fuzz_opts, sub_wait_ms), NULL, 0, 0, NULL },
	{ "size", VG_CONF_SIZE, offsetof(struct fuzz_opts, sub_size_bytes), NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field item_fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct fuzz_item, name), NULL, 0, 0, check_short },
	{ "every", VG_CONF_DURATION, offsetof(struct fuzz_item, every_ms), NULL, 100, 86400000, NULL },
	{ "labels", VG_CONF_LABELS, offsetof(struct fuzz_item, labels), NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field fields[] = {
	{ "server", VG_CONF_STR, offsetof(struct fuzz_opts, server), NULL, 0, 0, NULL },
	{ "interval", VG_CONF_DURATION, offsetof(struct fuzz_opts, interval_ms), NULL, 100, 86400000, NULL },
	{ "on", VG_CONF_BOOL, offsetof(struct fuzz_opts, is_on), NULL, 0, 0, NULL },
	{ "count", VG_CONF_UINT, offsetof(struct fuzz_opts, count), NULL, 1, 1000000, NULL },
	{ "size", VG_CONF_SIZE, offsetof(struct fuzz_opts, size_bytes), NULL, 4096, INT64_MAX, NULL },
	{ "labels", VG_CONF_LABELS, offsetof(struct fuzz_opts, labels), NULL, 0, 0, NULL },
	{ "list", VG_CONF_STRLIST, offsetof(struct fuzz_opts, list), NULL, 0, 0, NULL },
	{ "section", VG_CONF_SECTION, 0, sub_fields, 0, 0, NULL },
	{ "checked", VG_CONF_STR, offsetof(struct fuzz_opts, checked), NULL, 0, 0, check_short },
	{ "items", VG_CONF_LIST, offsetof(struct fuzz_opts, items), item_fields, sizeof(struct fuzz_item), 8, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_opts o;
	struct vg_err err;
	int r;

	memset(&o, 0, sizeof(o));
	vg_err_clear(&err);
	r = vg_conf_load_string((const char *)data, size, "fuzz.yaml", fields, &o, &err);
	if (r < 0 && strncmp(err.msg, "fuzz.yaml", 9) != 0)
		abort(); /* every message must name the file */
	if (r == 0 && o.labels.n > 0 && (o.labels.names == NULL || o.labels.values == NULL))
		abort();
	if (o.items.n > 8 || (o.items.n > 0) != (o.items.v != NULL))
		abort();
	vg_conf_release(fields, &o);
	if (o.items.n != 0 || o.items.v != NULL)
		abort(); /* released and zeroed */
	return 0;
}
