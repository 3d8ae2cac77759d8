/* clock.c: clocks, and the time and duration syntax of clock.h. */
#include "common/clock.h"
#include "common/err.h"
#include "common/round.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

int64_t vg_clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vg_clock_init(struct vg_clock *c, const char *file)
{
	c->file = NULL;
	atomic_init(&c->last, vg_clock_now_ms());
	if (file != NULL && (c->file = strdup(file)) == NULL)
		return VG_ENOMEM;
	return 0;
}

void vg_clock_release(struct vg_clock *c)
{
	free(c->file);
	c->file = NULL;
}

/* The driven clock's file: one decimal integer, optional newline. */
static int read_clock_file(const char *path, int64_t *out)
{
	char buf[64], *end;
	long long v;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n'))
		return -1;
	*out = (int64_t)v;
	return 0;
}

int64_t vg_clock_now(struct vg_clock *c)
{
	int64_t t;

	if (!vg_clock_is_driven(c))
		return vg_clock_now_ms();
	if (read_clock_file(c->file, &t) == 0) {
		atomic_store_explicit(&c->last, t, memory_order_relaxed);
		return t;
	}
	return atomic_load_explicit(&c->last, memory_order_relaxed);
}

int64_t vg_clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vg_clock_mono(struct vg_clock *c)
{
	return vg_clock_is_driven(c) ? vg_clock_now(c) : vg_clock_mono_ms();
}

static const struct {
	const char *unit;
	int64_t ms;
} duration_units[] = {
	/* Largest first: the order a duration must be written in. */
	{ "y", 365LL * 24 * 3600 * 1000 },
	{ "w", 7LL * 24 * 3600 * 1000 },
	{ "d", 24LL * 3600 * 1000 },
	{ "h", 3600LL * 1000 },
	{ "m", 60LL * 1000 },
	{ "s", 1000 },
	{ "ms", 1 },
};
#define N_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

int vg_duration_parse(const char *s, int64_t *ms, struct vg_err *err)
{
	const char *p = s;
	size_t next_unit = 0; /* units must come in order, each once */
	int64_t total = 0;

	if (*s == '\0')
		return vg_err_set(err, VG_EINVAL, "empty duration");
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		int64_t n = 0;
		size_t u, len;

		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p)) {
			int digit = *p++ - '0';
			if (n > (INT64_MAX - digit) / 10)
				return vg_err_set(err, VG_EINVAL, "duration \"%s\" is too large", s);
			n = n * 10 + digit;
		}
		for (u = next_unit; u < N_UNITS; u++) {
			len = strlen(duration_units[u].unit);
			/* "m" must not swallow the "m" of "ms". */
			if (strncmp(p, duration_units[u].unit, len) == 0 &&
			    !(len == 1 && p[0] == 'm' && p[1] == 's'))
				break;
		}
		if (u == N_UNITS)
			goto bad;
		if (n > INT64_MAX / duration_units[u].ms ||
		    total > INT64_MAX - n * duration_units[u].ms)
			return vg_err_set(err, VG_EINVAL, "duration \"%s\" is too large", s);
		total += n * duration_units[u].ms;
		p += strlen(duration_units[u].unit);
		next_unit = u + 1;
	}
	*ms = total;
	return 0;
bad:
	return vg_err_set(err, VG_EINVAL,
		"not a valid duration: \"%s\" (use units ms, s, m, h, d, w, y, largest first, e.g. 1h30m)", s);
}

/* strtod that must consume the whole string and give a finite number. */
static int parse_float_exact(const char *s, double *out)
{
	char *end;
	double v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	/* Hex floats, "inf" and "nan" are not numbers of seconds. */
	for (const char *p = s; *p; p++)
		if (*p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' || *p == 'I')
			return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int vg_duration_parse_api(const char *s, int64_t *ms, struct vg_err *err)
{
	double secs;

	if (parse_float_exact(s, &secs) == 0) {
		double v = secs * 1000.0;
		/* Prometheus's bound: the duration in nanoseconds fits an int64
		 * (about 292 years). */
		if (secs * 1e9 >= 9223372036854775807.0 || secs * 1e9 <= -9223372036854775807.0)
			return vg_err_set(err, VG_EINVAL, "cannot parse \"%s\" to a valid duration. It overflows int64", s);
		*ms = vg_round_i64(v);
		return 0;
	}
	if (vg_duration_parse(s, ms, NULL) == 0)
		return 0;
	return vg_err_set(err, VG_EINVAL, "cannot parse \"%s\" to a valid duration", s);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's
 * days_from_civil: exact for every year an int64 of ms can reach. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int parse_rfc3339(const char *s, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, frac_ms = 0, off = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	if (*p == '.') {
		int scale = 100, n = 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				frac_ms += (*p - '0') * scale;
			scale /= 10;
			n++;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) -
	       (int64_t)off * 60) * 1000 + frac_ms;
	return 0;
}

/* Prometheus's MinTime and MaxTime as Go's RFC3339Nano writes them: its
 * clients send these for an open bound (Go's time parser reads no year
 * beyond four digits, so web/api/v1's parseTime matches the two texts),
 * and they stand for time.Unix(math.MinInt64/1000+62135596801, 0) and
 * time.Unix(math.MaxInt64/1000-62135596801, 999999999), in ms. */
#define PROM_MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define PROM_MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"
#define PROM_MIN_TIME_MS (-9223309901257974LL * 1000)
#define PROM_MAX_TIME_MS (9223309901257974LL * 1000 + 999)

int vg_time_parse(const char *s, int64_t *ms, struct vg_err *err)
{
	double secs;

	if (strcmp(s, PROM_MIN_TIME_TEXT) == 0 || strcmp(s, PROM_MAX_TIME_TEXT) == 0) {
		*ms = s[0] == '-' ? PROM_MIN_TIME_MS : PROM_MAX_TIME_MS;
		return 0;
	}
	if (parse_float_exact(s, &secs) == 0) {
		/* Prometheus splits off the fraction with math.Modf and rounds it
		 * to milliseconds half away from zero: -0.0015 is -2 ms. */
		double whole = trunc(secs);
		double frac = (double)vg_round_i64((secs - whole) * 1000.0);
		if (whole > 9.2e15 || whole < -9.2e15)
			return vg_err_set(err, VG_EINVAL, "cannot parse \"%s\" to a valid timestamp", s);
		*ms = (int64_t)whole * 1000 + (int64_t)frac;
		return 0;
	}
	if (parse_rfc3339(s, ms) == 0)
		return 0;
	return vg_err_set(err, VG_EINVAL, "cannot parse \"%s\" to a valid timestamp", s);
}

size_t vg_time_format_rfc3339(int64_t ms, char *out, size_t cap)
{
	/* Floor divisions written without negating ms (INT64_MIN). */
	int64_t secs = ms / 1000 - (ms % 1000 < 0);
	int frac = (int)(ms % 1000 < 0 ? ms % 1000 + 1000 : ms % 1000);
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	int64_t rem = secs - days * 86400, y;
	unsigned m, d;
	int n;

	if (cap == 0)
		return 0;
	civil_from_days(days, &y, &m, &d);
	if (frac)
		n = snprintf(out, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
			     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
	else
		n = snprintf(out, cap, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
			     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Prometheus (model.Duration.String) writes years and weeks only when they
 * divide the duration exactly: 90d, not 12w6d; 400d, not 1y35d. */
size_t vg_duration_format(int64_t ms, char *out, size_t cap)
{
	/* Unsigned magnitude: -INT64_MIN does not fit an int64. */
	uint64_t left = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	size_t len = 0;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (ms == 0) {
		len = (size_t)snprintf(out, cap, "0s");
		return len < cap ? len : cap - 1;
	}
	if (ms < 0)
		len += (size_t)snprintf(out, cap, "-");
	for (size_t u = 0; u < N_UNITS && len < cap; u++) {
		uint64_t unit_ms = (uint64_t)duration_units[u].ms;
		uint64_t n = left / unit_ms;
		bool is_exact_only = duration_units[u].unit[0] == 'y' || duration_units[u].unit[0] == 'w';
		if (n == 0 || (is_exact_only && left % unit_ms != 0))
			continue;
		left -= n * unit_ms;
		len += (size_t)snprintf(out + len, cap - len, "%llu%s", (unsigned long long)n,
					duration_units[u].unit);
	}
	return len < cap ? len : cap - 1;
}

uint64_t vg_random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)vg_clock_now_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	return v;
}
