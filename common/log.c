/* log.c: the logging of log.h. */
#include "common/log.h"
#include "common/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

static const char *log_progname = "vigil";
static enum vg_log_level log_level = VG_LOG_INFO;
static int log_journald = -1; /* -1: not yet decided */

void vg_log_init(const char *progname, enum vg_log_level level)
{
	log_progname = progname;
	log_level = level;
	log_journald = getenv("JOURNAL_STREAM") != NULL;
}

void vg_log_set_level(enum vg_log_level level)
{
	log_level = level;
}

int vg_log_enabled(enum vg_log_level level)
{
	return level <= log_level;
}

int vg_log_parse_level(const char *s, enum vg_log_level *out)
{
	static const struct { const char *name; enum vg_log_level level; } names[] = {
		{ "error", VG_LOG_ERROR }, { "warn", VG_LOG_WARN }, { "warning", VG_LOG_WARN },
		{ "info", VG_LOG_INFO }, { "debug", VG_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

static const char *level_name(enum vg_log_level level)
{
	switch (level) {
	case VG_LOG_ERROR: return "error";
	case VG_LOG_WARN: return "warn";
	case VG_LOG_INFO: return "info";
	case VG_LOG_DEBUG: return "debug";
	}
	return "?";
}

static void __attribute__((format(printf, 2, 0))) log_write(enum vg_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;
	int r;

	if (log_journald < 0)
		log_journald = getenv("JOURNAL_STREAM") != NULL;
	if (log_journald) {
		r = snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		char ts[40];
		vg_time_format_rfc3339(vg_clock_now_ms(), ts, sizeof(ts));
		r = snprintf(line, sizeof(line), "%s %s %s: ", ts, log_progname, level_name(level));
	}
	if (r > 0)
		n = (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	/* One event, one line: fold embedded newlines. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
}

#define COMPLAIN_MIN_MS 10000
#define COMPLAIN_MAX_MS 3600000

void vg_log_complain(struct vg_complaint *c, enum vg_log_level level, const char *fmt, ...)
{
	int64_t now = vg_clock_mono_ms();
	va_list ap;

	c->count++;
	if (c->interval_ms != 0 && now < c->next_ms)
		return;
	c->interval_ms = c->interval_ms == 0 ? COMPLAIN_MIN_MS : c->interval_ms * 2;
	if (c->interval_ms > COMPLAIN_MAX_MS)
		c->interval_ms = COMPLAIN_MAX_MS;
	c->next_ms = now + c->interval_ms;
	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
}

void vg_log_relief(struct vg_complaint *c, const char *fmt, ...)
{
	va_list ap;

	if (c->interval_ms == 0)
		return;
	c->interval_ms = 0;
	c->next_ms = 0;
	if (VG_LOG_INFO > log_level)
		return;
	va_start(ap, fmt);
	log_write(VG_LOG_INFO, fmt, ap);
	va_end(ap);
}
