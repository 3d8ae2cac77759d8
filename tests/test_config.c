/*
 * test_config.c: the YAML loader (common/config.c), HOST:PORT splitting, and
 * the options of vigil-agent and vigil-receiver (defaults, file, flags).
 * Fixtures: tests/data/config/; the shipped examples in packaging/.
 */
#include "common/config.h"
#include "common/err.h"
#include "agent/agent_config.h"
#include "receiver/receiver_config.h"

#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define DATA VG_TEST_DATA "/config/"

/* --- a table that exercises every type ------------------------------------ */

struct opts {
	char *name;
	int64_t timeout_ms;
	bool is_enabled;
	uint64_t count;
	uint64_t limit_bytes;
	struct vg_conf_labels labels;
	struct vg_conf_strlist paths;
	bool sub_flag;
	int64_t sub_wait_ms;
	char *checked;
};

static int check_not_bad(const void *member, struct vg_err *err)
{
	if (strcmp(*(char *const *)member, "bad") == 0)
		return vg_err_set(err, VG_EINVAL, "\"bad\" is not allowed here");
	return 0;
}

static const struct vg_conf_field sub_fields[] = {
	{ "flag", VG_CONF_BOOL, offsetof(struct opts, sub_flag), NULL, 0, 0, NULL },
	{ "wait", VG_CONF_DURATION, offsetof(struct opts, sub_wait_ms), NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct opts, name), NULL, 0, 0, NULL },
	{ "timeout", VG_CONF_DURATION, offsetof(struct opts, timeout_ms), NULL, 100, 60000, NULL },
	{ "enabled", VG_CONF_BOOL, offsetof(struct opts, is_enabled), NULL, 0, 0, NULL },
	{ "count", VG_CONF_UINT, offsetof(struct opts, count), NULL, 0, 0, NULL },
	{ "limit", VG_CONF_SIZE, offsetof(struct opts, limit_bytes), NULL, 1024, INT64_MAX, NULL },
	{ "labels", VG_CONF_LABELS, offsetof(struct opts, labels), NULL, 0, 0, NULL },
	{ "paths", VG_CONF_STRLIST, offsetof(struct opts, paths), NULL, 0, 0, NULL },
	{ "sub", VG_CONF_SECTION, 0, sub_fields, 0, 0, NULL },
	{ "checked", VG_CONF_STR, offsetof(struct opts, checked), NULL, 0, 0, check_not_bad },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static struct opts o;
static struct vg_err err;

static void setup(void)
{
	memset(&o, 0, sizeof(o));
	vg_err_clear(&err);
}

static void teardown(void)
{
	vg_conf_release(fields, &o);
}

static int load(const char *text)
{
	vg_err_clear(&err);
	return vg_conf_load_string(text, strlen(text), "t.yaml", fields, &o, &err);
}

static int load_fixture(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), DATA "%s", name);
	vg_err_clear(&err);
	return vg_conf_load_file(path, fields, &o, &err);
}

/* The message starts with want (file:line:...). */
#define ck_msg_starts(want) \
	ck_assert_msg(strncmp(err.msg, (want), strlen(want)) == 0, "message \"%s\" does not start with \"%s\"", err.msg, (want))
#define ck_ok(expr) \
	do { int r_ = (expr); ck_assert_msg(r_ == 0, "%s returned %d: %s", #expr, r_, err.msg); } while (0)
#define ck_msg_has(want) \
	ck_assert_msg(strstr(err.msg, (want)) != NULL, "message \"%s\" lacks \"%s\"", err.msg, (want))

START_TEST(test_load_every_type)
{
	ck_ok(load("name: web\n"
			      "timeout: 30s500ms\n"
			      "enabled: true\n"
			      "count: 18446744073709551615\n"
			      "limit: 16MiB\n"
			      "labels: {env: prod, dc: \"ams 1\"}\n"
			      "paths: [/a, /b]\n"
			      "sub:\n  flag: on\n  wait: 250ms\n"
			      "checked: fine\n"));
	ck_assert_str_eq(o.name, "web");
	ck_assert_int_eq(o.timeout_ms, 30500);
	ck_assert(o.is_enabled);
	ck_assert_uint_eq(o.count, UINT64_MAX);
	ck_assert_uint_eq(o.limit_bytes, 16u << 20);
	ck_assert_uint_eq(o.labels.n, 2);
	ck_assert_str_eq(o.labels.names[0], "env");
	ck_assert_str_eq(o.labels.values[0], "prod");
	ck_assert_str_eq(o.labels.names[1], "dc");
	ck_assert_str_eq(o.labels.values[1], "ams 1");
	ck_assert_uint_eq(o.paths.n, 2);
	ck_assert_str_eq(o.paths.v[1], "/b");
	ck_assert(o.sub_flag);
	ck_assert_int_eq(o.sub_wait_ms, 250);
	ck_assert_str_eq(o.checked, "fine");
}
END_TEST

START_TEST(test_absent_keys_keep_defaults)
{
	o.timeout_ms = 777;
	o.count = 5;
	ck_ok(load("enabled: yes\n"));
	ck_assert_int_eq(o.timeout_ms, 777);
	ck_assert_uint_eq(o.count, 5);
	ck_assert_ptr_null(o.name);
}
END_TEST

START_TEST(test_empty_file_is_valid)
{
	o.count = 9;
	ck_ok(load_fixture("empty.yaml"));
	ck_assert_uint_eq(o.count, 9);
	ck_ok(load(""));
}
END_TEST

START_TEST(test_comments_only_file_is_valid)
{
	ck_ok(load_fixture("comments_only.yaml"));
	ck_ok(load("---\n"));
	ck_ok(load("---\n...\n"));
}
END_TEST

START_TEST(test_top_level_list_rejected)
{
	ck_assert_int_eq(load_fixture("top_level_list.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "top_level_list.yaml:2: expected a mapping of keys");
}
END_TEST

START_TEST(test_top_level_scalar_rejected)
{
	ck_assert_int_eq(load_fixture("top_level_scalar.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "top_level_scalar.yaml:1: expected a mapping of keys");
}
END_TEST

START_TEST(test_unknown_key_names_line_and_known_keys)
{
	ck_assert_int_eq(load("name: a\n\nnmae: b\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: unknown key \"nmae\"");
	ck_msg_has("known: name, timeout, enabled, count, limit, labels, paths, sub, checked");
}
END_TEST

START_TEST(test_unknown_key_in_section_names_section)
{
	ck_assert_int_eq(load("sub:\n  flag: true\n  wiat: 1s\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: unknown key \"wiat\" in sub (known: flag, wait)");
}
END_TEST

START_TEST(test_duplicate_key_rejected)
{
	ck_assert_int_eq(load("count: 1\nname: x\ncount: 2\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: key \"count\" given twice (first on line 1)");
}
END_TEST

START_TEST(test_duplicate_key_in_section_rejected)
{
	ck_assert_int_eq(load("sub:\n  flag: true\n  flag: false\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: key \"sub.flag\" given twice");
}
END_TEST

START_TEST(test_list_where_scalar_expected)
{
	ck_assert_int_eq(load("name: x\ntimeout:\n  - 1s\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: timeout: expects a duration");
	ck_msg_has("got a list");
}
END_TEST

START_TEST(test_scalar_where_mapping_expected)
{
	ck_assert_int_eq(load("sub: true\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: sub: expects a mapping of keys, got a single value");
	ck_assert_int_eq(load("labels: [a, b]\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: labels: expects a mapping of label names");
	ck_assert_int_eq(load("paths: {a: b}\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: paths: expects a list");
}
END_TEST

START_TEST(test_mapping_as_key_rejected)
{
	ck_assert_int_eq(load("? {a: b}\n: c\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: keys must be single words");
}
END_TEST

START_TEST(test_null_value_rejected)
{
	ck_assert_int_eq(load_fixture("null_value.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "null_value.yaml:2: timeout: no value");
	ck_assert_int_eq(load("name: ~\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: name: no value (expects a string; remove the key");
	ck_assert_int_eq(load("sub: null\n"), VG_EINVAL);
	ck_assert_int_eq(load("labels: {a: }\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: labels.a: expects a label value, got an empty value");
}
END_TEST

START_TEST(test_quoted_empty_string_allowed)
{
	ck_ok(load("name: \"\"\n"));
	ck_assert_str_eq(o.name, "");
	ck_ok(load("name: 'null'\n"));
	ck_assert_str_eq(o.name, "null");
}
END_TEST

START_TEST(test_string_replaces_old_value)
{
	o.name = strdup("default");
	ck_ok(load("name: first\n"));
	ck_ok(load("name: second\n"));
	ck_assert_str_eq(o.name, "second");
	/* Labels and lists are replaced whole, not appended to. */
	ck_ok(load("labels: {a: '1', b: '2'}\npaths: [x, y, z]\n"));
	ck_ok(load("labels: {c: '3'}\npaths: [w]\n"));
	ck_assert_uint_eq(o.labels.n, 1);
	ck_assert_str_eq(o.labels.names[0], "c");
	ck_assert_uint_eq(o.paths.n, 1);
}
END_TEST

START_TEST(test_syntax_error_reports_line_and_column)
{
	ck_assert_int_eq(load_fixture("syntax_error.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "syntax_error.yaml:4:");
	ck_assert_int_eq(load_fixture("bad_indent.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "bad_indent.yaml:2:");
	ck_msg_has("mapping values are not allowed");
	ck_assert_int_eq(load("name: \"unterminated\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:");
	ck_msg_has("quoted scalar");
}
END_TEST

START_TEST(test_alias_rejected)
{
	ck_assert_int_eq(load_fixture("alias.yaml"), VG_EINVAL);
	/* The anchor is met first. */
	ck_msg_starts(DATA "alias.yaml:1: name: anchors (&t) are not supported");
	ck_assert_int_eq(load("name: x\nchecked: *x\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:2: checked: aliases (*x) are not supported");
	ck_assert_int_eq(load("? *k\n: x\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: top level: aliases");
}
END_TEST

START_TEST(test_tag_rejected)
{
	ck_assert_int_eq(load("timeout: !!str 10s\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: timeout: tags (tag:yaml.org,2002:str) are not supported");
	ck_assert_int_eq(load("!!map {name: x}\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: top level: tags");
}
END_TEST

START_TEST(test_second_document_rejected)
{
	ck_assert_int_eq(load_fixture("two_documents.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "two_documents.yaml:2: a second YAML document");
}
END_TEST

START_TEST(test_nul_escape_rejected)
{
	ck_assert_int_eq(load("name: \"a\\0b\"\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: name: value contains a NUL byte");
	ck_assert_int_eq(load("\"na\\0me\": x\n"), VG_EINVAL);
}
END_TEST

START_TEST(test_raw_nul_byte_rejected)
{
	static const char text[] = "name: a\0b\n";

	ck_assert_int_eq(vg_conf_load_string(text, sizeof(text) - 1, "t.yaml", fields, &o, &err),
			 VG_EINVAL);
	ck_msg_starts("t.yaml:1:");
}
END_TEST

START_TEST(test_invalid_utf8_reported_with_line)
{
	ck_assert_int_eq(load_fixture("invalid_utf8.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "invalid_utf8.yaml:2:");
	ck_msg_has("UTF-8");
}
END_TEST

START_TEST(test_bool_spellings)
{
	static const struct { const char *text; bool want; } cases[] = {
		{ "true", true }, { "TRUE", true }, { "Yes", true }, { "on", true }, { "ON", true },
		{ "false", false }, { "False", false }, { "no", false }, { "NO", false }, { "off", false },
	};
	char text[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.is_enabled = !cases[i].want;
		snprintf(text, sizeof(text), "enabled: %s\n", cases[i].text);
		ck_ok(load(text));
		ck_assert_msg(o.is_enabled == cases[i].want, "%s", cases[i].text);
	}
}
END_TEST

START_TEST(test_bool_rejects_other_words)
{
	ck_assert_int_eq(load("enabled: maybe\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: enabled: expects a boolean");
	ck_msg_has("\"maybe\"");
	ck_assert_int_eq(load("enabled: 1\n"), VG_EINVAL);
	ck_assert_int_eq(load("enabled: y\n"), VG_EINVAL);
}
END_TEST

START_TEST(test_uint_rejects_sign_fraction_and_overflow)
{
	ck_ok(load("count: 0\n"));
	ck_assert_uint_eq(o.count, 0);
	ck_assert_int_eq(load("count: -1\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: count: expects a non-negative integer");
	ck_assert_int_eq(load("count: +1\n"), VG_EINVAL);
	ck_assert_int_eq(load("count: 1.5\n"), VG_EINVAL);
	ck_assert_int_eq(load("count: 0x10\n"), VG_EINVAL);
	ck_assert_int_eq(load("count: \" 1\"\n"), VG_EINVAL);
	ck_assert_int_eq(load("count: 18446744073709551616\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: count: number is too large");
}
END_TEST

START_TEST(test_size_units)
{
	static const struct { const char *s; uint64_t want; } cases[] = {
		{ "512", 512 }, { "512B", 512 }, { "64KiB", 64 << 10 }, { "16MiB", 16 << 20 },
		{ "2GiB", 2ULL << 30 }, { "1TiB", 1ULL << 40 }, { "10KB", 10000 },
		{ "10MB", 10000000 }, { "3GB", 3000000000ULL }, { "64 MiB", 64 << 20 },
		{ "18446744073709551615", UINT64_MAX },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(vg_conf_parse_size(cases[i].s, &v, &err) == 0, "%s: %s", cases[i].s, err.msg);
		ck_assert_uint_eq(v, cases[i].want);
	}
}
END_TEST

START_TEST(test_size_rejects_bad_units_and_overflow)
{
	static const char *const bad[] = {
		"", "MiB", "12k", "12K", "12kib", "12 ", "12  MiB", "-1", "1.5MiB", "12MiBs", "0x10",
		"17179869184GiB", "18446744073709551616",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(vg_conf_parse_size(bad[i], &v, &err) == VG_EINVAL, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(load("limit: 12k\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: limit: not a valid size: \"12k\"");
}
END_TEST

START_TEST(test_duration_error_names_file_and_line)
{
	ck_assert_int_eq(load("name: x\ntimeout: 10x\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:2: timeout: not a valid duration: \"10x\"");
	ck_assert_int_eq(load("timeout: 1.5s\n"), VG_EINVAL);
	ck_assert_int_eq(load("timeout: -1s\n"), VG_EINVAL);
}
END_TEST

START_TEST(test_bounds_named_in_error)
{
	ck_assert_int_eq(load("timeout: 50ms\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: timeout: 50ms is out of range (must be between 100ms and 1m)");
	ck_assert_int_eq(load("timeout: 2m\n"), VG_EINVAL);
	ck_ok(load("timeout: 1m\n"));
	ck_ok(load("timeout: 100ms\n"));
	ck_assert_int_eq(load("limit: 1000\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: limit: 1000 is out of range (must be at least 1KiB)");
	ck_ok(load("limit: 1KiB\n"));
	ck_assert_int_eq(load("limit: 18446744073709551615\n"), VG_EINVAL); /* above INT64_MAX */
}
END_TEST

START_TEST(test_labels_invalid_name_rejected)
{
	ck_assert_int_eq(load("labels:\n  ok: a\n  1bad: b\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: labels: invalid label name \"1bad\"");
	ck_assert_int_eq(load("labels: {\"a-b\": c}\n"), VG_EINVAL);
	ck_assert_int_eq(load("labels: {[a]: c}\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: labels: label names must be single words");
}
END_TEST

START_TEST(test_labels_reserved_and_duplicate_rejected)
{
	ck_assert_int_eq(load("labels: {__name__: x}\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: labels: label name \"__name__\" is reserved");
	ck_assert_int_eq(load("labels:\n  a: x\n  a: y\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: labels: label \"a\" given twice");
	ck_assert_int_eq(load("labels: {a: [x]}\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: labels.a: expects a label value, got a list");
}
END_TEST

START_TEST(test_strlist_rejects_nested_and_null_items)
{
	ck_assert_int_eq(load("paths: [a, [b]]\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: paths: list items must be single values, got a list");
	ck_assert_int_eq(load("paths:\n  - a\n  -\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:3: paths: list items must be single values, got an empty value");
	ck_ok(load("paths: []\n"));
	ck_assert_uint_eq(o.paths.n, 0);
}
END_TEST

START_TEST(test_deep_nesting_stops_at_first_level)
{
	char text[20000];
	size_t n = 0;

	n += (size_t)snprintf(text, sizeof(text), "paths: ");
	for (int i = 0; i < 9000; i++)
		text[n++] = '[';
	text[n] = '\0';
	ck_assert_int_eq(vg_conf_load_string(text, n, "t.yaml", fields, &o, &err), VG_EINVAL);
	ck_msg_starts("t.yaml:1: paths: list items must be single values, got a list");
}
END_TEST

START_TEST(test_check_callback_prefixed_with_line)
{
	ck_assert_int_eq(load("name: x\nchecked: bad\n"), VG_EINVAL);
	ck_assert_str_eq(err.msg, "t.yaml:2: checked: \"bad\" is not allowed here");
}
END_TEST

START_TEST(test_control_characters_escaped_in_messages)
{
	ck_assert_int_eq(load("\"na\\x1bme\": x\n"), VG_EINVAL);
	ck_msg_starts("t.yaml:1: unknown key \"na\\x1bme\"");
	ck_assert(strchr(err.msg, 0x1b) == NULL);
	ck_assert_int_eq(load("timeout: \"1\\x1b[2J\"\n"), VG_EINVAL);
	ck_assert(strchr(err.msg, 0x1b) == NULL);
}
END_TEST

START_TEST(test_missing_file_is_enoent)
{
	ck_assert_int_eq(load_fixture("no-such-file.yaml"), VG_ENOENT);
	ck_msg_starts(DATA "no-such-file.yaml: cannot open");
}
END_TEST

START_TEST(test_directory_refused)
{
	ck_assert_int_eq(vg_conf_load_file(VG_TEST_DATA "/config", fields, &o, &err), VG_EIO);
	ck_msg_has("not a regular file");
}
END_TEST

START_TEST(test_file_larger_than_limit_refused)
{
	char path[] = "/tmp/vg-test-config-XXXXXX";
	int fd = mkstemp(path);
	char *big;

	ck_assert_int_ge(fd, 0);
	big = malloc(VG_CONF_MAX_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', VG_CONF_MAX_BYTES + 1);
	ck_assert_int_eq(write(fd, big, VG_CONF_MAX_BYTES + 1), VG_CONF_MAX_BYTES + 1);
	close(fd);
	ck_assert_int_eq(vg_conf_load_file(path, fields, &o, &err), VG_ELIMIT);
	ck_msg_starts(path);
	ck_msg_has("larger than the limit");
	/* Exactly the limit is read (and is a valid comment). */
	ck_assert_int_eq(truncate(path, VG_CONF_MAX_BYTES), 0);
	ck_assert_int_eq(vg_conf_load_file(path, fields, &o, &err), 0);
	unlink(path);
	ck_assert_int_eq(vg_conf_load_string(big, VG_CONF_MAX_BYTES + 1, "t.yaml", fields, &o, &err),
			 VG_ELIMIT);
	free(big);
}
END_TEST

START_TEST(test_release_frees_and_zeroes)
{
	ck_ok(load("name: a\nlabels: {x: y}\npaths: [p]\nchecked: c\n"));
	vg_conf_release(fields, &o);
	ck_assert_ptr_null(o.name);
	ck_assert_ptr_null(o.checked);
	ck_assert_uint_eq(o.labels.n, 0);
	ck_assert_ptr_null(o.labels.names);
	ck_assert_uint_eq(o.paths.n, 0);
	ck_assert_ptr_null(o.paths.v);
}
END_TEST

START_TEST(test_set_str)
{
	char *s = NULL;

	ck_assert_int_eq(vg_conf_set_str(&s, "a"), 0);
	ck_assert_str_eq(s, "a");
	ck_assert_int_eq(vg_conf_set_str(&s, "b"), 0);
	ck_assert_str_eq(s, "b");
	ck_assert_int_eq(vg_conf_set_str(&s, NULL), 0);
	ck_assert_ptr_null(s);
}
END_TEST

/* --- HOST:PORT -------------------------------------------------------------- */

static int split(const char *s, char *host, uint16_t *port)
{
	vg_err_clear(&err);
	return vg_conf_split_hostport(s, host, 64, port, &err);
}

START_TEST(test_hostport_accepts_forms)
{
	char host[64];
	uint16_t port;

	ck_assert_int_eq(split("receiver.example.org:9710", host, &port), 0);
	ck_assert_str_eq(host, "receiver.example.org");
	ck_assert_uint_eq(port, 9710);
	ck_assert_int_eq(split("[::1]:9711", host, &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 9711);
	ck_assert_int_eq(split(":9710", host, &port), 0);
	ck_assert_str_eq(host, "");
	ck_assert_int_eq(split("127.0.0.1:0", host, &port), 0);
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(split("h:65535", host, &port), 0);
	ck_assert_uint_eq(port, 65535);
}
END_TEST

START_TEST(test_hostport_rejects_malformed)
{
	static const char *const bad[] = {
		"host", "host:", "host:http", "host:-1", "host:65536", "host:99999999999999999999",
		"[::1]", "[::1:9710", "::1]:9710", "[::1]9710", "::1:9710", "[]:9710", "a b:1",
		"[a]]:1", "[[a]:1", "", ":", "host:1 ",
	};
	char host[64];
	uint16_t port;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(split(bad[i], host, &port) == VG_EINVAL, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(split("host", host, &port), VG_EINVAL);
	ck_msg_has("missing port");
	ck_assert_int_eq(split("::1:9710", host, &port), VG_EINVAL);
	ck_msg_has("brackets");
	ck_assert_int_eq(split("host:65536", host, &port), VG_EINVAL);
	ck_msg_has("65535");
}
END_TEST

START_TEST(test_hostport_host_too_long)
{
	char host[8];
	uint16_t port;

	ck_assert_int_eq(vg_conf_split_hostport("1234567:1", host, sizeof(host), &port, &err), 0);
	ck_assert_int_eq(vg_conf_split_hostport("12345678:1", host, sizeof(host), &port, &err), VG_EINVAL);
}
END_TEST

/* --- vigil-agent ----------------------------------------------------------- */

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])) - 1)

static struct vg_agent_config acfg;
static struct vg_receiver_config rcfg;

/* Each call starts from a released configuration, so one test can run
 * several command lines without leaking the previous one. */
static int agent(int argc, char **argv)
{
	vg_agent_config_release(&acfg);
	vg_err_clear(&err);
	return vg_agent_config_from_args(&acfg, argc, argv, &err);
}

static int receiver(int argc, char **argv)
{
	vg_receiver_config_release(&rcfg);
	vg_err_clear(&err);
	return vg_receiver_config_from_args(&rcfg, argc, argv, &err);
}

#define AGENT(...) ({ char **v_ = ARGV("vigil-agent", __VA_ARGS__); agent(ARGC(ARGV("vigil-agent", __VA_ARGS__)), v_); })
#define AGENT0() ({ char **v_ = ARGV("vigil-agent"); agent(1, v_); })
#define RECEIVER(...) ({ char **v_ = ARGV("vigil-receiver", __VA_ARGS__); receiver(ARGC(ARGV("vigil-receiver", __VA_ARGS__)), v_); })
#define RECEIVER0() ({ char **v_ = ARGV("vigil-receiver"); receiver(1, v_); })

static void agent_setup(void)
{
	memset(&acfg, 0, sizeof(acfg));
	memset(&rcfg, 0, sizeof(rcfg));
	vg_err_clear(&err);
}

static void agent_teardown(void)
{
	vg_agent_config_release(&acfg);
	vg_receiver_config_release(&rcfg);
}

static const char *label(const struct vg_conf_labels *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return l->values[i];
	return NULL;
}

static void ck_agent_defaults(const struct vg_agent_config *c)
{
	ck_assert_str_eq(c->server, "127.0.0.1:9710");
	ck_assert_int_eq(c->interval_ms, 10000);
	ck_assert_uint_eq(c->labels.n, 0);
	ck_assert_ptr_null(c->token);
	ck_assert_str_eq(c->proc_path, "/proc");
	ck_assert_str_eq(c->rootfs_path, "/");
	ck_assert_uint_eq(c->queue_max_bytes, 64u << 20);
	/* The packaged file names the Debian path; the built-in default
	 * follows --localstatedir. */
	ck_assert_ptr_nonnull(strstr(c->spool_dir, "/lib/vigil-agent/spool"));
	ck_assert_uint_eq(c->spool_max_bytes, 512u << 20);
	ck_assert_int_eq(c->backoff_max_ms, 30000);
	ck_assert_int_eq(c->ack_timeout_ms, 30000);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert(c->collect_cpu && c->collect_meminfo && c->collect_filesystem && c->collect_loadavg);
}

START_TEST(test_agent_defaults_without_file)
{
	char name[256] = "";

	if (access(VG_AGENT_DEFAULT_CONFIG, F_OK) == 0)
		return; /* a real file at the default path: nothing to check here */
	ck_ok(AGENT0());
	ck_assert_ptr_null(acfg.config_path);
	ck_agent_defaults(&acfg);
	ck_assert_str_eq(acfg.spool_dir, VG_AGENT_DEFAULT_SPOOL);
	ck_assert(!acfg.has_spool_dir);
	gethostname(name, sizeof(name) - 1);
	ck_assert_str_eq(acfg.hostname, name);
}
END_TEST

START_TEST(test_agent_file_overrides_defaults)
{
	ck_ok(AGENT("--config", DATA "agent_full.yaml"));
	ck_assert_str_eq(acfg.config_path, DATA "agent_full.yaml");
	ck_assert_str_eq(acfg.server, "receiver.example.org:9999");
	ck_assert_int_eq(acfg.interval_ms, 15000);
	ck_assert_str_eq(acfg.hostname, "web-1");
	ck_assert_uint_eq(acfg.labels.n, 2);
	ck_assert_str_eq(label(&acfg.labels, "env"), "prod");
	ck_assert_str_eq(label(&acfg.labels, "dc"), "ams1");
	ck_assert_str_eq(acfg.token, "s3cret");
	ck_assert_str_eq(acfg.proc_path, "/host/proc");
	ck_assert_str_eq(acfg.rootfs_path, "/host");
	ck_assert_uint_eq(acfg.queue_max_bytes, 16u << 20);
	ck_assert_int_eq(acfg.backoff_max_ms, 60000);
	ck_assert_int_eq(acfg.ack_timeout_ms, 5000);
	ck_assert_str_eq(acfg.log_level, "debug");
	ck_assert(acfg.collect_cpu);
	ck_assert(!acfg.collect_meminfo);
	ck_assert(!acfg.collect_filesystem);
	ck_assert(acfg.collect_loadavg);
}
END_TEST

START_TEST(test_agent_spool_dir_flag_and_empty_means_memory)
{
	ck_ok(AGENT("--config", "/dev/null", "--spool-dir", "/tmp/x-spool"));
	ck_assert_str_eq(acfg.spool_dir, "/tmp/x-spool");
	ck_assert(acfg.has_spool_dir);
	ck_ok(AGENT("--config", "/dev/null", "--spool-dir="));
	ck_assert_ptr_null(acfg.spool_dir);
	ck_assert(acfg.has_spool_dir);
}
END_TEST

START_TEST(test_agent_partial_file_keeps_other_defaults)
{
	ck_ok(AGENT("--config=" DATA "agent_partial.yaml"));
	ck_assert_int_eq(acfg.interval_ms, 30000);
	ck_assert_str_eq(label(&acfg.labels, "env"), "staging");
	ck_assert_str_eq(acfg.server, "127.0.0.1:9710");
	ck_assert_uint_eq(acfg.queue_max_bytes, 64u << 20);
}
END_TEST

START_TEST(test_agent_flag_overrides_file)
{
	ck_ok(AGENT("--server", "10.0.0.2:9000", "--config", DATA "agent_full.yaml",
			       "--interval", "1s", "--hostname", "db-2", "--token", "t2",
			       "--proc-path", "/p", "--rootfs-path", "/r", "--log-level", "warn",
			       "--label", "env=dev", "--label", "rack=r7"));
	ck_assert_str_eq(acfg.server, "10.0.0.2:9000");
	ck_assert_int_eq(acfg.interval_ms, 1000);
	ck_assert_str_eq(acfg.hostname, "db-2");
	ck_assert_str_eq(acfg.token, "t2");
	ck_assert_str_eq(acfg.proc_path, "/p");
	ck_assert_str_eq(acfg.rootfs_path, "/r");
	ck_assert_str_eq(acfg.log_level, "warn");
	/* --label adds to and overrides the file's labels. */
	ck_assert_uint_eq(acfg.labels.n, 3);
	ck_assert_str_eq(label(&acfg.labels, "env"), "dev");
	ck_assert_str_eq(label(&acfg.labels, "dc"), "ams1");
	ck_assert_str_eq(label(&acfg.labels, "rack"), "r7");
	/* What no flag touches stays as the file set it. */
	ck_assert_int_eq(acfg.ack_timeout_ms, 5000);
}
END_TEST

START_TEST(test_agent_label_flag_with_empty_value_removes_label)
{
	ck_ok(AGENT("--config", DATA "agent_full.yaml", "--label", "dc="));
	ck_assert_uint_eq(acfg.labels.n, 1);
	ck_assert_ptr_null(label(&acfg.labels, "dc"));
	ck_assert_str_eq(label(&acfg.labels, "env"), "prod");
}
END_TEST

START_TEST(test_agent_label_value_may_hold_equals)
{
	ck_ok(AGENT("--label", "expr=a=b", "--config", DATA "empty.yaml"));
	ck_assert_str_eq(label(&acfg.labels, "expr"), "a=b");
}
END_TEST

START_TEST(test_agent_missing_explicit_config_fails)
{
	ck_assert_int_eq(AGENT("--config", DATA "no-such-agent.yaml"), VG_ENOENT);
	ck_msg_starts(DATA "no-such-agent.yaml: cannot open");
}
END_TEST

START_TEST(test_agent_bad_duration_in_file_names_file_and_line)
{
	ck_assert_int_eq(AGENT("--config", DATA "agent_bad_duration.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_bad_duration.yaml:3: interval: not a valid duration: \"10x\"");
}
END_TEST

START_TEST(test_agent_unknown_key_lists_known_keys)
{
	ck_assert_int_eq(AGENT("--config", DATA "agent_unknown_key.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_unknown_key.yaml:2: unknown key \"intervall\" (known: server, receivers, replication_factor, interval, hostname, labels, token, proc_path, rootfs_path, queue_max_bytes, spool_dir, spool_max_bytes, textfile_dir, backoff_max, ack_timeout, log_level, tls, tls_ca_file, tls_cert_file, tls_key_file, tls_server_name, resolv_conf, collectors");
	ck_assert_int_eq(AGENT("--config", DATA "agent_unknown_collector.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_unknown_collector.yaml:3: unknown key \"diskstatz\" in collectors (known: cpu, meminfo, filesystem, loadavg, filefd, entropy, textfile, conntrack, diskstats, netdev, netstat, pressure, sockstat, stat, time, uname, vmstat, diskstats_device_exclude");
}
END_TEST

START_TEST(test_agent_file_values_validated_with_line)
{
	ck_assert_int_eq(AGENT("--config", DATA "agent_label_instance.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_label_instance.yaml:2: labels: label \"instance\" is set from the hostname");
	ck_assert_int_eq(AGENT("--config", DATA "agent_interval_too_small.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_interval_too_small.yaml:1: interval: 50ms is out of range (must be between 100ms and 1d)");
	ck_assert_int_eq(AGENT("--config", DATA "agent_bad_server.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_bad_server.yaml:2: server: \"receiver.example.org\": missing port");
	ck_assert_int_eq(AGENT("--config", DATA "agent_bad_bool.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "agent_bad_bool.yaml:2: collectors.cpu: expects a boolean");
}
END_TEST

START_TEST(test_agent_bad_label_flag)
{
	ck_assert_int_eq(AGENT("--label", "env"), VG_EINVAL);
	ck_msg_starts("--label: expected NAME=VALUE, got \"env\"");
	ck_assert_int_eq(AGENT("--label", "1env=x"), VG_EINVAL);
	ck_msg_starts("--label: invalid label name \"1env\"");
	ck_assert_int_eq(AGENT("--label", "=x"), VG_EINVAL);
	ck_assert_int_eq(AGENT("--label", "__name__=x"), VG_EINVAL);
	ck_msg_has("reserved");
	ck_assert_int_eq(AGENT("--label", "instance=x"), VG_EINVAL);
	ck_msg_starts("--label: label \"instance\" is set from the hostname");
}
END_TEST

START_TEST(test_agent_too_many_labels)
{
	char *argv[2 + 2 * 64];
	char names[64][16];
	int argc = 0;

	argv[argc++] = "vigil-agent";
	for (int i = 0; i < 57; i++) {
		snprintf(names[i], sizeof(names[i]), "l%d=v", i);
		argv[argc++] = "--label";
		argv[argc++] = names[i];
	}
	argv[argc] = NULL;
	ck_assert_int_eq(agent(argc, argv), VG_ELIMIT);
	ck_msg_starts("--label: more than 56 labels");
	ck_ok(agent(argc - 2, argv));
	ck_assert_uint_eq(acfg.labels.n, 56);
}
END_TEST

START_TEST(test_agent_bad_server_flag)
{
	ck_assert_int_eq(AGENT("--server", "localhost"), VG_EINVAL);
	ck_msg_starts("--server: \"localhost\": missing port");
	ck_assert_int_eq(AGENT("--server", ":9710"), VG_EINVAL);
	ck_msg_starts("--server: the receiver's host is missing");
	ck_assert_int_eq(AGENT("--server", "localhost:0"), VG_EINVAL);
	ck_assert_int_eq(AGENT("--server", "localhost:70000"), VG_EINVAL);
	ck_ok(AGENT("--server", "[::1]:9710"));
}
END_TEST

START_TEST(test_agent_bad_interval_and_log_level_flags)
{
	ck_assert_int_eq(AGENT("--interval", "50ms"), VG_EINVAL);
	ck_msg_starts("--interval: 50ms is out of range (must be between 100ms and 1d)");
	ck_assert_int_eq(AGENT("--interval", "10"), VG_EINVAL);
	ck_msg_starts("--interval: not a valid duration");
	ck_ok(AGENT("--interval", "100ms"));
	ck_assert_int_eq(acfg.interval_ms, 100);
	ck_assert_int_eq(AGENT("--log-level", "loud"), VG_EINVAL);
	ck_msg_starts("--log-level: unknown log level \"loud\"");
	ck_assert_int_eq(AGENT("--proc-path", ""), VG_EINVAL);
	ck_msg_starts("--proc-path: empty path");
}
END_TEST

START_TEST(test_agent_usage_errors)
{
	ck_assert_int_eq(AGENT("--bogus"), VG_EINVAL);
	ck_msg_starts("unknown or ambiguous option '--bogus'");
	ck_assert_int_eq(AGENT("-x"), VG_EINVAL);
	ck_msg_starts("unknown option '-x'");
	ck_assert_int_eq(AGENT("--server"), VG_EINVAL);
	ck_msg_starts("option '--server' requires an argument");
	ck_assert_int_eq(AGENT("extra"), VG_EINVAL);
	ck_msg_starts("unexpected argument 'extra'");
}
END_TEST

START_TEST(test_agent_empty_token_and_hostname_mean_unset)
{
	char name[256] = "";

	ck_ok(AGENT("--token", "", "--hostname", ""));
	ck_assert_ptr_null(acfg.token);
	gethostname(name, sizeof(name) - 1);
	ck_assert_str_eq(acfg.hostname, name);
}
END_TEST

/* Runs from_args with stdout sent to a file; returns what was printed. */
static char *capture_stdout(int (*fn)(int, char **), int argc, char **argv, int *ret)
{
	char path[] = "/tmp/vg-test-stdout-XXXXXX";
	static char out[8192];
	int fd = mkstemp(path), saved;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	*ret = fn(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	unlink(path);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

START_TEST(test_agent_help_lists_every_flag)
{
	static const char *const flags[] = {
		"--config", "--server", "--interval", "--hostname", "--label", "--token",
		"--proc-path", "--rootfs-path", "--log-level", "--help", "--version",
	};
	int r;
	char *out = capture_stdout(agent, 2, ARGV("vigil-agent", "--help"), &r);

	ck_assert_int_eq(r, 1);
	ck_assert(strncmp(out, "Usage: vigil-agent", 18) == 0);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(out, flags[i]), "help lacks %s", flags[i]);
	out = capture_stdout(agent, 2, ARGV("vigil-agent", "-h"), &r);
	ck_assert_int_eq(r, 1);
}
END_TEST

START_TEST(test_agent_version)
{
	int r;
	char *out = capture_stdout(agent, 2, ARGV("vigil-agent", "--version"), &r);

	ck_assert_int_eq(r, 1);
	ck_assert_str_eq(out, "vigil-agent " PACKAGE_VERSION "\n");
	out = capture_stdout(agent, 2, ARGV("vigil-agent", "-V"), &r);
	ck_assert_int_eq(r, 1);
}
END_TEST

START_TEST(test_agent_packaged_example_matches_defaults)
{
	ck_ok(AGENT("--config", VG_TEST_DATA "/../../packaging/agent.yaml"));
	ck_agent_defaults(&acfg);
}
END_TEST

START_TEST(test_agent_can_be_called_twice)
{
	ck_ok(AGENT("--interval", "2s", "--config", DATA "empty.yaml"));
	vg_agent_config_release(&acfg);
	ck_ok(AGENT("--interval", "3s", "--config", DATA "empty.yaml"));
	ck_assert_int_eq(acfg.interval_ms, 3000);
}
END_TEST

/* --- vigil-receiver -------------------------------------------------------- */

static void ck_receiver_defaults(const struct vg_receiver_config *c, bool with_data_dir)
{
	ck_assert_str_eq(c->listen, ":9710");
	ck_assert_str_eq(c->http_listen, ":9711");
	if (with_data_dir)
		ck_assert_str_eq(c->data_dir, VG_LOCALSTATEDIR "/lib/vigil");
	ck_assert_ptr_null(c->token);
	ck_assert_uint_eq(c->max_connections, 0);
	ck_assert_uint_eq(c->http_max_connections, 0);
	ck_assert_uint_eq(c->agent_buffer_budget, 256u << 20);
	ck_assert_uint_eq(c->max_series_per_agent, 20000);
	ck_assert_int_eq(c->agent_hello_timeout_ms, 10 * 1000);
	ck_assert_uint_eq(c->wal_segment_bytes, 64u << 20);
	ck_assert_int_eq(c->lookback_ms, 300000);
	ck_assert_ptr_null(c->port_file);
	ck_assert_str_eq(c->log_level, "info");
}

START_TEST(test_receiver_defaults_without_file)
{
	if (access(VG_RECEIVER_DEFAULT_CONFIG, F_OK) == 0)
		return;
	ck_ok(RECEIVER0());
	ck_assert_ptr_null(rcfg.config_path);
	ck_receiver_defaults(&rcfg, true);
}
END_TEST

START_TEST(test_receiver_file_overrides_defaults)
{
	ck_ok(RECEIVER("--config", DATA "receiver_full.yaml"));
	ck_assert_str_eq(rcfg.listen, "127.0.0.1:19710");
	ck_assert_str_eq(rcfg.http_listen, "[::1]:19711");
	ck_assert_str_eq(rcfg.data_dir, "/srv/vigil");
	ck_assert_str_eq(rcfg.token, "s3cret");
	ck_assert_uint_eq(rcfg.max_connections, 100);
	ck_assert_uint_eq(rcfg.wal_segment_bytes, 8u << 20);
	ck_assert_int_eq(rcfg.lookback_ms, 120000);
	ck_assert_str_eq(rcfg.port_file, "/run/vigil/ports");
	ck_assert_str_eq(rcfg.log_level, "warn");
}
END_TEST

START_TEST(test_receiver_flag_overrides_file)
{
	ck_ok(RECEIVER("--config", DATA "receiver_full.yaml", "--data-dir", "/tmp/d",
				  "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
				  "--token", "", "--port-file", "/tmp/p", "--log-level", "error"));
	ck_assert_str_eq(rcfg.data_dir, "/tmp/d");
	ck_assert_str_eq(rcfg.listen, "127.0.0.1:0");
	ck_assert_str_eq(rcfg.http_listen, "127.0.0.1:0");
	ck_assert_ptr_null(rcfg.token); /* "" clears the file's token */
	ck_assert_str_eq(rcfg.port_file, "/tmp/p");
	ck_assert_str_eq(rcfg.log_level, "error");
	ck_assert_uint_eq(rcfg.max_connections, 100);
}
END_TEST

START_TEST(test_receiver_missing_explicit_config_fails)
{
	ck_assert_int_eq(RECEIVER("--config", DATA "no-such-receiver.yaml"), VG_ENOENT);
	ck_msg_starts(DATA "no-such-receiver.yaml: cannot open");
}
END_TEST

START_TEST(test_receiver_bad_values)
{
	ck_assert_int_eq(RECEIVER("--listen", "9710"), VG_EINVAL);
	ck_msg_starts("--listen: \"9710\": missing port");
	ck_assert_int_eq(RECEIVER("--http-listen", "[::1:9711"), VG_EINVAL);
	ck_msg_starts("--http-listen: \"[::1:9711\": unbalanced brackets");
	ck_assert_int_eq(RECEIVER("--data-dir", ""), VG_EINVAL);
	ck_assert_int_eq(RECEIVER("--config", DATA "receiver_bad_max_connections.yaml"), VG_EINVAL);
	ck_msg_starts(DATA "receiver_bad_max_connections.yaml:1: max_connections: 2000000 is out of range (must be between 0 and 1000000)");
	ck_assert_int_eq(RECEIVER("--interval", "1s"), VG_EINVAL);
	ck_msg_starts("unknown or ambiguous option '--interval'");
}
END_TEST

START_TEST(test_receiver_help_and_version)
{
	static const char *const flags[] = {
		"--config", "--data-dir", "--listen", "--http-listen", "--token", "--port-file",
		"--log-level", "--help", "--version",
	};
	int r;
	char *out = capture_stdout(receiver, 2, ARGV("vigil-receiver", "--help"), &r);

	ck_assert_int_eq(r, 1);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(out, flags[i]), "help lacks %s", flags[i]);
	out = capture_stdout(receiver, 2, ARGV("vigil-receiver", "-V"), &r);
	ck_assert_int_eq(r, 1);
	ck_assert_str_eq(out, "vigil-receiver " PACKAGE_VERSION "\n");
}
END_TEST

START_TEST(test_receiver_packaged_example_matches_defaults)
{
	ck_ok(RECEIVER("--config", VG_TEST_DATA "/../../packaging/receiver.yaml"));
	ck_receiver_defaults(&rcfg, false);
	ck_assert_str_eq(rcfg.data_dir, "/var/lib/vigil");
}
END_TEST

/* VG_CONF_STRUCT: one table for a struct wherever it sits, here the root
 * of a tree whose children are a VG_CONF_LIST of the same table. */
struct tnode {
	char *name;
	struct vg_conf_list kids;
};
static const struct vg_conf_field tnode_fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct tnode, name), NULL, 0, 0, NULL },
	{ "kids", VG_CONF_LIST, offsetof(struct tnode, kids), tnode_fields, sizeof(struct tnode), 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};
struct ttree {
	uint64_t n;
	struct tnode root;
};
static const struct vg_conf_field ttree_fields[] = {
	{ "n", VG_CONF_UINT, offsetof(struct ttree, n), NULL, 0, 0, NULL },
	{ "root", VG_CONF_STRUCT, offsetof(struct ttree, root), tnode_fields, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

START_TEST(test_struct_serves_a_self_referring_tree)
{
	static const char text[] = "n: 1\nroot:\n  name: r\n  kids:\n    - name: a\n      kids:\n"
				   "        - name: b\n    - name: c\n";
	static const char bad[] = "root:\n  kids:\n    - nam: a\n";
	struct ttree t;
	const struct tnode *a;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(vg_conf_load_string(text, sizeof(text) - 1, "t.yaml", ttree_fields, &t, &err), 0);
	ck_assert_str_eq(t.root.name, "r");
	ck_assert_uint_eq(t.root.kids.n, 2);
	a = (const struct tnode *)t.root.kids.v;
	ck_assert_str_eq(a[0].name, "a");
	ck_assert_uint_eq(a[0].kids.n, 1);
	ck_assert_str_eq(((const struct tnode *)a[0].kids.v)[0].name, "b");
	ck_assert_str_eq(a[1].name, "c");
	vg_conf_release(ttree_fields, &t);
	ck_assert_ptr_null(t.root.name);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(vg_conf_load_string(bad, sizeof(bad) - 1, "t.yaml", ttree_fields, &t, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "t.yaml:3: unknown key \"nam\" in root.kids[0]") != NULL, "%s", err.msg);
	vg_conf_release(ttree_fields, &t);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("loader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_every_type);
	tcase_add_test(tc, test_absent_keys_keep_defaults);
	tcase_add_test(tc, test_empty_file_is_valid);
	tcase_add_test(tc, test_comments_only_file_is_valid);
	tcase_add_test(tc, test_top_level_list_rejected);
	tcase_add_test(tc, test_top_level_scalar_rejected);
	tcase_add_test(tc, test_unknown_key_names_line_and_known_keys);
	tcase_add_test(tc, test_unknown_key_in_section_names_section);
	tcase_add_test(tc, test_duplicate_key_rejected);
	tcase_add_test(tc, test_duplicate_key_in_section_rejected);
	tcase_add_test(tc, test_list_where_scalar_expected);
	tcase_add_test(tc, test_scalar_where_mapping_expected);
	tcase_add_test(tc, test_mapping_as_key_rejected);
	tcase_add_test(tc, test_null_value_rejected);
	tcase_add_test(tc, test_quoted_empty_string_allowed);
	tcase_add_test(tc, test_string_replaces_old_value);
	tcase_add_test(tc, test_syntax_error_reports_line_and_column);
	tcase_add_test(tc, test_alias_rejected);
	tcase_add_test(tc, test_tag_rejected);
	tcase_add_test(tc, test_second_document_rejected);
	tcase_add_test(tc, test_nul_escape_rejected);
	tcase_add_test(tc, test_raw_nul_byte_rejected);
	tcase_add_test(tc, test_invalid_utf8_reported_with_line);
	tcase_add_test(tc, test_bool_spellings);
	tcase_add_test(tc, test_bool_rejects_other_words);
	tcase_add_test(tc, test_uint_rejects_sign_fraction_and_overflow);
	tcase_add_test(tc, test_size_units);
	tcase_add_test(tc, test_size_rejects_bad_units_and_overflow);
	tcase_add_test(tc, test_duration_error_names_file_and_line);
	tcase_add_test(tc, test_bounds_named_in_error);
	tcase_add_test(tc, test_labels_invalid_name_rejected);
	tcase_add_test(tc, test_labels_reserved_and_duplicate_rejected);
	tcase_add_test(tc, test_strlist_rejects_nested_and_null_items);
	tcase_add_test(tc, test_deep_nesting_stops_at_first_level);
	tcase_add_test(tc, test_check_callback_prefixed_with_line);
	tcase_add_test(tc, test_control_characters_escaped_in_messages);
	tcase_add_test(tc, test_missing_file_is_enoent);
	tcase_add_test(tc, test_directory_refused);
	tcase_add_test(tc, test_file_larger_than_limit_refused);
	tcase_add_test(tc, test_release_frees_and_zeroes);
	tcase_add_test(tc, test_set_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostport");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hostport_accepts_forms);
	tcase_add_test(tc, test_hostport_rejects_malformed);
	tcase_add_test(tc, test_hostport_host_too_long);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *program_suite(void)
{
	Suite *s = suite_create("program_config");
	TCase *tc = tcase_create("agent");

	tcase_add_checked_fixture(tc, agent_setup, agent_teardown);
	tcase_add_test(tc, test_agent_defaults_without_file);
	tcase_add_test(tc, test_agent_file_overrides_defaults);
	tcase_add_test(tc, test_agent_partial_file_keeps_other_defaults);
	tcase_add_test(tc, test_agent_spool_dir_flag_and_empty_means_memory);
	tcase_add_test(tc, test_agent_flag_overrides_file);
	tcase_add_test(tc, test_agent_label_flag_with_empty_value_removes_label);
	tcase_add_test(tc, test_agent_label_value_may_hold_equals);
	tcase_add_test(tc, test_agent_missing_explicit_config_fails);
	tcase_add_test(tc, test_agent_bad_duration_in_file_names_file_and_line);
	tcase_add_test(tc, test_agent_unknown_key_lists_known_keys);
	tcase_add_test(tc, test_agent_file_values_validated_with_line);
	tcase_add_test(tc, test_agent_bad_label_flag);
	tcase_add_test(tc, test_agent_too_many_labels);
	tcase_add_test(tc, test_agent_bad_server_flag);
	tcase_add_test(tc, test_agent_bad_interval_and_log_level_flags);
	tcase_add_test(tc, test_agent_usage_errors);
	tcase_add_test(tc, test_agent_empty_token_and_hostname_mean_unset);
	tcase_add_test(tc, test_agent_help_lists_every_flag);
	tcase_add_test(tc, test_agent_version);
	tcase_add_test(tc, test_agent_packaged_example_matches_defaults);
	tcase_add_test(tc, test_agent_can_be_called_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("receiver");
	tcase_add_checked_fixture(tc, agent_setup, agent_teardown);
	tcase_add_test(tc, test_receiver_defaults_without_file);
	tcase_add_test(tc, test_receiver_file_overrides_defaults);
	tcase_add_test(tc, test_receiver_flag_overrides_file);
	tcase_add_test(tc, test_receiver_missing_explicit_config_fails);
	tcase_add_test(tc, test_receiver_bad_values);
	tcase_add_test(tc, test_receiver_help_and_version);
	tcase_add_test(tc, test_receiver_packaged_example_matches_defaults);
	tcase_add_test(tc, test_struct_serves_a_self_referring_tree);
	suite_add_tcase(s, tc);
	return s;
}


int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int nf;

	srunner_add_suite(sr, program_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
