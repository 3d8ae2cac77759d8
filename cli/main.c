/*
 * main.c: the vigil command: arguments, commands, exit status.
 *
 *   vigil [--server URL] [--timeout DURATION] COMMAND [ARGS]
 *
 * Owns: option parsing, the check of selectors before any request, the
 * choice of endpoint and parameters per command, the mapping of outcomes to
 * exit status and messages. The transport is http.c's, the rendering
 * output.c's.
 *
 * Invariants: data goes to stdout, every message to stderr, one line each
 * prefixed "vigil: "; stdout gets a complete answer or nothing. Exit status:
 * 0 success, 1 refused (invalid selector, server status "error") or failed,
 * 2 usage, 3 no server or not the API.
 */
#include "cli/ack.h"
#include "cli/chart.h"
#include "cli/http.h"
#include "cli/import.h"
#include "cli/output.h"
#include "cli/rules.h"
#include "cli/silence.h"
#include "cli/status.h"
#include "cli/promqltest.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/selector.h"
#include "common/series.h"
#include "promql/ast.h"
#include "promql/parse.h"
#include "promql/print.h"

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/banned.h"

#define DEFAULT_SERVER "http://127.0.0.1:9711"
#define DEFAULT_TIMEOUT_MS (60 * 1000)

enum exit_status {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

enum option_id {
	OPT_SERVER = 256,
	OPT_TIMEOUT,
	OPT_TOKEN,
	OPT_CACERT,
	OPT_TIME,
	OPT_START,
	OPT_END,
	OPT_STEP,
	OPT_ASCII,
	OPT_MATCH,
	OPT_PROMETHEUS,
	OPT_AUTHOR,
	OPT_COMMENT,
	OPT_DURATION,
	OPT_EXPIRED,
	OPT_EXPIRES,
};

/* Which options a command takes, beyond the global ones. */
#define TAKES_TIME (1u << 0)
#define TAKES_RANGE (1u << 1) /* --start, --end */
#define TAKES_STEP (1u << 2)
#define TAKES_ASCII (1u << 3) /* --ascii: -o chart */
#define TAKES_MATCH (1u << 4) /* --match SELECTOR, repeated */
#define MAX_MATCH 64
#define TAKES_PROMETHEUS (1u << 5) /* rules check */
#define TAKES_SILENCE (1u << 6) /* --author, --comment, --duration, --expired, -q */
#define TAKES_ACK (1u << 7)     /* --author, --comment, --expires, --expired, -q */

struct options {
	const char *server;
	const char *timeout;
	const char *token, *cacert;
	const char *output;
	const char *time, *start, *end, *step;
	const char *author, *comment, *duration, *expires;
	bool is_expired, is_quiet;
	bool is_help;
	bool is_version;
	bool is_ascii;
	const char *match[MAX_MATCH];
	int n_match;
	bool is_prometheus;
};

struct command {
	const char *name;
	unsigned takes;
	const char *usage; /* the lines of `vigil COMMAND --help` */
	int (*run)(const struct options *o, int argc, char **argv);
};

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "output", required_argument, NULL, 'o' },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "start", required_argument, NULL, OPT_START },
	{ "end", required_argument, NULL, OPT_END },
	{ "step", required_argument, NULL, OPT_STEP },
	{ "ascii", no_argument, NULL, OPT_ASCII },
	{ "match", required_argument, NULL, OPT_MATCH },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "author", required_argument, NULL, OPT_AUTHOR },
	{ "comment", required_argument, NULL, OPT_COMMENT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "expired", no_argument, NULL, OPT_EXPIRED },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "quiet", no_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};

static const char global_usage[] =
	"Usage: vigil [--server URL] [--timeout DURATION] COMMAND [ARGS]\n"
	"\n"
	"Ask a Vigil receiver about its metrics, over its HTTP API.\n"
	"\n"
	"Commands:\n"
	"  query EXPR [--time TIME] [-o FORMAT]\n"
	"      the value of EXPR, any PromQL expression (for a selector: of each\n"
	"      series it matches), at TIME (default now)\n"
	"  query EXPR --start TIME [--end TIME] [--step DURATION] [-o FORMAT]\n"
	"      the values from start to end (default now), one every step\n"
	"      (default: the range / 250, at least 1s)\n"
	"  series SELECTOR... [--start TIME] [--end TIME] [-o FORMAT]\n"
	"      the series that any SELECTOR matches\n"
	"  labels [NAME] [--match SELECTOR]... [--start TIME] [--end TIME] [-o FORMAT]\n"
	"      the label names, or the values of label NAME\n"
	"  import FILE|-\n"
	"      store the Prometheus text lines of FILE (or stdin), with timestamps in ms\n"
	"  push SERIES VALUE [TIME]\n"
	"      store one sample, e.g. vigil push 'queue_depth{queue=\"mail\"}' 42\n"
	"  rules check [--prometheus] FILE...\n"
	"      validate rule files as promtool check rules does (no server needed)\n"
	"  alerts [-o FORMAT]\n"
	"      the firing and pending alerts, with their age\n"
	"  silence add MATCHER... --comment TEXT [--author NAME] [--duration D | --end TIME]\n"
	"  silence list [--expired] [-q]\n"
	"  silence expire ID...\n"
	"      silences of the receiver's notifier, as amtool's\n"
	"  ack [add] MATCHER... [--comment TEXT] [--expires D|TIME] [--author NAME]\n"
	"  ack list [--expired] [-q]\n"
	"  ack expire ID...\n"
	"      acknowledgements: no repeats nor escalation until the alerts resolve\n"
	"  status [-o FORMAT]\n"
	"      the receiver's ingest rate, series, WAL, blocks per tier and members\n"
	"  promql-test FILE...\n"
	"      run PromQL test files (Prometheus's promqltest format) in-process\n"
	"  help [COMMAND]\n"
	"      this text, or a command's\n"
	"\n"
	"Options:\n"
	"  --server URL        receiver to ask (default: $VIGIL_SERVER, else " DEFAULT_SERVER ")\n"
	"  --timeout DURATION  give up on a request after DURATION (default 60s)\n"
	"  --token TOKEN       send \"Authorization: Bearer TOKEN\" (default: $VIGIL_TOKEN)\n"
	"  --cacert FILE       trust the CA certificates in FILE (PEM) for https://\n"
	"  -o, --output FORMAT table (default), csv or json; for query also chart\n"
	"  -h, --help          print this help and exit\n"
	"  -V, --version       print the version and exit\n"
	"\n"
	"TIME: Unix seconds, RFC 3339 (2026-11-25T08:00:00Z), now, now-DURATION or\n"
	"-DURATION. DURATION: a Prometheus duration (30s, 5m, 1h30m) or seconds.\n"
	"\n"
	"Exit status: 0 success; 1 query refused (invalid selector, server error),\n"
	"or lines of an import or push rejected; 2 usage error; 3 server\n"
	"unreachable or not a Vigil/Prometheus API.\n";

static const char query_usage[] =
	"Usage: vigil query EXPR [--time TIME] [-o FORMAT]\n"
	"       vigil query EXPR --start TIME [--end TIME] [--step DURATION] [-o FORMAT]\n"
	"\n"
	"EXPR is PromQL. Without --start, an instant query: its value at --time\n"
	"(default now), one line per series.\n"
	"With --start, a range query from --start to --end (default now), one\n"
	"point every --step (default: the range / 250, rounded up to a second,\n"
	"at least 1s), listed under each series.\n"
	"With -o chart, a range query is drawn as lines (braille dots, or ASCII\n"
	"with --ascii or a locale that is not UTF-8) with axes in the unit the\n"
	"metric name says and a legend; an instant query as one bar a series.\n"
	"The width is the terminal's (or $COLUMNS); colours on a terminal unless\n"
	"$NO_COLOR is set or TERM=dumb.\n"
	"\n"
	"  --time TIME         evaluation time of an instant query\n"
	"  --start TIME        start of a range query\n"
	"  --end TIME          end of a range query (default now)\n"
	"  --step DURATION     resolution of a range query\n"
	"  -o, --output FORMAT table (default), csv, json or chart\n"
	"  --ascii             draw a chart with ASCII characters only\n"
	"\n"
	"TIME: Unix seconds, RFC 3339, now, now-DURATION or -DURATION (-5m).\n"
	"Example: vigil query 'node_cpu_seconds_total{mode=\"idle\"}' --start -5m\n";

static const char series_usage[] =
	"Usage: vigil series SELECTOR... [--start TIME] [--end TIME] [-o FORMAT]\n"
	"\n"
	"The series that any SELECTOR matches, one per line, sorted; with\n"
	"--start and --end, those with samples in that range (approximately).\n"
	"\n"
	"  --start TIME        start of the range (default: all time)\n"
	"  --end TIME          end of the range (default: all time)\n"
	"  -o, --output FORMAT table (default), csv or json\n";

static const char labels_usage[] =
	"Usage: vigil labels [NAME] [--match SELECTOR]... [--start TIME] [--end TIME] [-o FORMAT]\n"
	"\n"
	"Without NAME, the label names of the stored series, one per line,\n"
	"sorted; with NAME, the values of that label. --match (repeatable)\n"
	"keeps only the series some SELECTOR matches; --start and --end only\n"
	"those with samples in that range (approximately).\n"
	"\n"
	"  --match SELECTOR    only series this selector matches (repeatable)\n"
	"  --start TIME        start of the range (default: all time)\n"
	"  --end TIME          end of the range (default: all time)\n"
	"  -o, --output FORMAT table (default), csv or json\n"
	"Example: vigil labels instance --match 'up{job=\"node\"}'\n";

static const char import_usage[] =
	"Usage: vigil import FILE|-\n"
	"\n"
	"Sends FILE (or stdin, for -) to the receiver's /api/v1/import/prometheus:\n"
	"Prometheus text exposition lines, name{label=\"value\"} VALUE [TIMESTAMP_MS],\n"
	"as VictoriaMetrics's endpoint of that name takes them; a line without a\n"
	"timestamp gets the receiver's time. On a terminal a progress line shows\n"
	"bytes sent and the rate. Prints what was stored, and each rejected line\n"
	"with its number and reason (the first ten); the other lines are stored.\n"
	"\n"
	"Exit status: 0 every line stored; 1 some lines rejected, or the server\n"
	"could not store them; 3 server unreachable.\n";

static const char push_usage[] =
	"Usage: vigil push SERIES VALUE [TIME]\n"
	"\n"
	"Stores one sample through /api/v1/import/prometheus. SERIES is\n"
	"name{label=\"value\",...} (quote it for the shell), VALUE a number, NaN,\n"
	"+Inf or -Inf, TIME Unix seconds (with decimals) or RFC 3339; without TIME\n"
	"the receiver's now. Prints nothing when stored.\n"
	"Example: vigil push 'backup_last_success_timestamp_seconds{host=\"db1\"}' \"$(date +%s)\"\n"
	"\n"
	"Exit status: 0 stored; 1 refused by the server; 2 invalid arguments;\n"
	"3 server unreachable.\n";

static const char rules_usage[] =
	"Usage: vigil rules check [--prometheus] FILE...\n"
	"\n"
	"Validates Prometheus rule files (vigil-rules(5)) with the receiver's own\n"
	"loader, as promtool check rules does: \"Checking FILE\" and \"  SUCCESS: N\n"
	"rules found\" on stdout, or \"  FAILED:\" and FILE:LINE: reason on stderr.\n"
	"Needs no server.\n"
	"\n"
	"  --prometheus        refuse Vigil's own rule keys, as promtool would\n"
	"\n"
	"Exit status: 0 every file valid; 1 a file refused; 2 usage error.\n";

static const char alerts_usage[] =
	"Usage: vigil alerts [-o FORMAT]\n"
	"\n"
	"The receiver's firing and pending alerts (/api/v1/alerts): state, age\n"
	"since the alert became active, its name and labels.\n"
	"\n"
	"  -o, --output FORMAT table (default), csv or json\n";
static const char status_usage[] =
	"Usage: vigil status [-o FORMAT]\n"
	"\n"
	"The receiver's state (/api/v1/status/vigil): version and uptime, the\n"
	"ingest rate over the last minute, agents connected, series in the\n"
	"head, the WAL, bytes on disk, queries, members, and a table of the\n"
	"blocks of each tier (raw, 1m, 1h).\n"
	"\n"
	"  -o, --output FORMAT table (default), csv (the tiers' table) or json\n";
static const char silence_usage[] =
	"Usage: vigil silence add MATCHER... --comment TEXT [--author NAME]\n"
	"                         [--start TIME] [--duration DURATION | --end TIME]\n"
	"       vigil silence list [--expired] [-q] [-o json]\n"
	"       vigil silence expire ID...\n"
	"\n"
	"Silences of the receiver's notifier, through its Alertmanager API v2\n"
	"(/api/v2/silences). A MATCHER is name=value, name!=value, name=~regex or\n"
	"name!~regex (quote values with spaces: 'job=\"a b\"'); all must match.\n"
	"add prints the new silence's ID; it starts now (or --start) and lasts\n"
	"--duration (default 1h) or until --end; --author defaults to $USER.\n"
	"list shows pending and active silences (--expired: expired ones too;\n"
	"-q: IDs only). expire ends silences now.\n"
	"\n"
	"Exit status: 0 done; 1 refused by the server; 2 invalid arguments;\n"
	"3 server unreachable or without an alerting: section.\n";

static const char ack_usage[] =
	"Usage: vigil ack [add] MATCHER... [--comment TEXT] [--author NAME]\n"
	"                                  [--expires DURATION|TIME]\n"
	"       vigil ack list [--expired] [-q] [-o json]\n"
	"       vigil ack expire ID...\n"
	"\n"
	"Acknowledgements of the receiver's notifier (/api/v2/acks): an ack\n"
	"covers the alerts firing now that every MATCHER matches (as vigil\n"
	"silence takes them) and stops their repeats and their escalation until\n"
	"each resolves or the ack expires; their resolve is still sent, and an\n"
	"alert that fires again later pages again. add prints the new ack's ID;\n"
	"it expires after --expires (a duration from now or a time; default\n"
	"24h); --author defaults to $USER. list shows active acks (--expired:\n"
	"resolved and expired ones too; -q: IDs only). expire ends acks now.\n"
	"\n"
	"Exit status: 0 done; 1 refused by the server (no firing alert matches);\n"
	"2 invalid arguments; 3 server unreachable or without an alerting: section.\n";

static const char promqltest_usage[] =
	"Usage: vigil promql-test FILE...\n"
	"\n"
	"Runs PromQL test files (Prometheus's promqltest format: load, clear,\n"
	"eval instant, eval range, expect fail/ordered) against an engine in\n"
	"this process: the receiver's storage in a temporary directory and its\n"
	"evaluator. No server is asked. Prints PASS or FAIL FILE:LINE per case,\n"
	"the expected and actual results of a failure, and a summary line.\n"
	"\n"
	"Exit status: 0 every case passed; 1 some failed; 2 usage error, or a\n"
	"file that cannot be read or parsed.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vigil: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'vigil --help'.\n", stderr);
	return EXIT_USAGE;
}

/* The exit status for an error code of http.h. */
static int exit_for(int code)
{
	switch (code) {
	case VG_EIO:
	case VG_EPROTO:
	case VG_ELIMIT:
		return EXIT_UNREACHABLE;
	default:
		return EXIT_REFUSED;
	}
}

static int fail(const struct vg_err *err)
{
	fprintf(stderr, "vigil: %s\n", err->msg);
	return exit_for(err->code);
}

/*
 * Parses options from argv[optind..] into o, allowing the global options
 * and those in takes. With is_global, stops at the first operand (the
 * command); else GNU-style, options and operands in any order, operands
 * moved to the end. Returns -1 when fine, else an exit status.
 */
static int parse_options(int argc, char **argv, bool is_global, unsigned takes,
			 const char *cmd, struct options *o)
{
	int c;

	opterr = 0; /* our own messages, in our own form */
	while ((c = getopt_long(argc, argv, is_global ? "+:hVo:q" : ":hVo:q", long_options, NULL)) != -1) {
		const char *word = argv[optind - 1];
		unsigned need = 0;

		switch (c) {
		case 'h': o->is_help = true; break;
		case 'V': o->is_version = true; break;
		case 'o': o->output = optarg; break;
		case OPT_SERVER: o->server = optarg; break;
		case OPT_TIMEOUT: o->timeout = optarg; break;
		case OPT_TOKEN: o->token = optarg; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_TIME: need = TAKES_TIME; o->time = optarg; break;
		case OPT_START: need = TAKES_RANGE; o->start = optarg; break;
		case OPT_END: need = TAKES_RANGE; o->end = optarg; break;
		case OPT_STEP: need = TAKES_STEP; o->step = optarg; break;
		case OPT_ASCII: need = TAKES_ASCII; o->is_ascii = true; break;
		case OPT_MATCH:
			need = TAKES_MATCH;
			if (o->n_match == MAX_MATCH)
				return usage_error("at most %d --match options", MAX_MATCH);
			o->match[o->n_match++] = optarg;
			break;
		case OPT_PROMETHEUS: need = TAKES_PROMETHEUS; o->is_prometheus = true; break;
		case OPT_AUTHOR: need = TAKES_SILENCE | TAKES_ACK; o->author = optarg; break;
		case OPT_COMMENT: need = TAKES_SILENCE | TAKES_ACK; o->comment = optarg; break;
		case OPT_DURATION: need = TAKES_SILENCE; o->duration = optarg; break;
		case OPT_EXPIRED: need = TAKES_SILENCE | TAKES_ACK; o->is_expired = true; break;
		case OPT_EXPIRES: need = TAKES_ACK; o->expires = optarg; break;
		case 'q': need = TAKES_SILENCE | TAKES_ACK; o->is_quiet = true; break;
		case ':':
			if (strncmp(word, "--", 2) == 0)
				return usage_error("option '%s' needs an argument", word);
			return usage_error("option '-%c' needs an argument", optopt);
		default:
			if (strncmp(word, "--", 2) == 0)
				return usage_error("unknown option '%s'", word);
			return usage_error("unknown option '-%c'", optopt);
		}
		if (need && !(takes & need)) {
			/* "--start=x" names itself as "--start" */
			const struct option *lo = &long_options[0];
			while (lo->name && lo->val != c)
				lo++;
			if (cmd)
				return usage_error("option '--%s' does not apply to '%s'", lo->name, cmd);
			return usage_error("option '--%s' goes after the command", lo->name);
		}
	}
	return -1;
}

struct request {
	struct vg_http_client client;
	enum vg_output_format format;
	int64_t now_ms;
};

/* Turns the global options into a client and a format; -1 or exit status. */
static int prepare(const struct options *o, struct request *rq)
{
	struct vg_err err = { 0 };
	const char *env = getenv("VIGIL_SERVER");

	rq->client.server = o->server ? o->server : (env && *env ? env : DEFAULT_SERVER);
	if (*rq->client.server == '\0')
		return usage_error("--server needs a URL");
	env = getenv("VIGIL_TOKEN");
	rq->client.token = o->token ? o->token : (env && *env ? env : NULL);
	rq->client.cacert = o->cacert;
	if (o->cacert && *o->cacert == '\0')
		return usage_error("--cacert needs a file");
	rq->client.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (o->timeout) {
		if (vg_duration_parse_api(o->timeout, &rq->client.timeout_ms, &err) != 0)
			return usage_error("invalid --timeout: %s", err.msg);
		if (rq->client.timeout_ms <= 0)
			return usage_error("invalid --timeout: \"%s\" is not positive", o->timeout);
	}
	rq->format = VG_OUTPUT_TABLE;
	if (o->output && vg_output_parse_format(o->output, &rq->format, &err) != 0)
		return usage_error("%s", err.msg);
	rq->now_ms = vg_clock_now_ms();
	return -1;
}

static int parse_time_option(const char *name, const char *s, int64_t now_ms, int64_t *ms)
{
	struct vg_err err = { 0 };

	if (vg_output_parse_time(s, now_ms, ms, &err) != 0)
		return usage_error("invalid --%s: %s", name, err.msg);
	return -1;
}

/* Says what is wrong with text at byte pos, and shows where. */
static void report_syntax(const char *what, const char *text, size_t pos, const struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_promql_print_caret(&b, text, strlen(text), pos);
	fprintf(stderr, "vigil: invalid %s: %s\n%s", what, err->msg, vg_buf_failed(&b) ? "" : vg_buf_cstr(&b));
	vg_buf_release(&b);
}

/* Checks each selector locally, so that a typo costs no request. */
static int check_selectors(char **sels, int n)
{
	for (int i = 0; i < n; i++) {
		struct vg_selector sel = VG_SELECTOR_INIT;
		struct vg_err err = { 0 };
		size_t pos = 0;
		int rc = vg_promql_parse_selector(sels[i], strlen(sels[i]), &sel, &pos, &err);

		vg_selector_release(&sel);
		if (rc == VG_ENOMEM)
			return fail(&err);
		if (rc) {
			report_syntax("selector", sels[i], pos, &err);
			return EXIT_REFUSED;
		}
	}
	return -1;
}

/* Checks a query's PromQL locally, as check_selectors does. */
static int check_query(const char *q)
{
	struct vg_promql_node *n = NULL;
	struct vg_err err = { 0 };
	size_t pos = 0;
	int rc = vg_promql_parse(q, strlen(q), &n, &pos, &err);

	vg_promql_node_free(n);
	if (rc == VG_ENOMEM)
		return fail(&err);
	if (rc) {
		report_syntax("query", q, pos, &err);
		return EXIT_REFUSED;
	}
	return -1;
}

static void print_warnings(const json_t *doc)
{
	static const char *const kinds[] = { "warnings", "infos" };

	for (size_t k = 0; k < 2; k++) {
		const json_t *list = json_object_get(doc, kinds[k]), *w;
		size_t i;

		if (!json_is_array(list))
			continue;
		json_array_foreach(list, i, w) {
			if (!json_is_string(w))
				continue;
			fputs(k == 0 ? "vigil: warning: " : "vigil: info: ", stderr);
			for (const char *p = json_string_value(w); *p; p++)
				fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
			fputc('\n', stderr);
		}
	}
}

static int write_out(struct vg_buf *out)
{
	if (vg_buf_failed(out)) {
		fputs("vigil: out of memory rendering the answer\n", stderr);
		return EXIT_REFUSED;
	}
	if ((out->len && fwrite(out->data, 1, out->len, stdout) != out->len) || fflush(stdout) != 0) {
		fprintf(stderr, "vigil: cannot write the output: %s\n", strerror(errno));
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* An answer of the wrong shape: the server is not the API (exit 3). */
static void not_the_api(const struct request *rq, const char *path, struct vg_err *err)
{
	size_t n = strlen(rq->client.server);

	while (n > 0 && rq->client.server[n - 1] == '/')
		n--;
	vg_err_prefix(err, "unexpected response from %.*s%s", (int)n, rq->client.server, path);
	err->code = VG_EPROTO;
}

/* GET path: the answer in *doc (caller json_decref's), its warnings
 * printed; -1, or the exit status after saying why not. */
static int get_answer(const struct request *rq, const char *path, const struct vg_http_param *params,
		      size_t n_params, json_t **doc)
{
	struct vg_err err = { 0 };

	if (vg_http_get(&rq->client, path, params, n_params, doc, &err) != 0)
		return fail(&err);
	print_warnings(*doc);
	return -1;
}

/* The answer's data into result by from_json; -1, or the exit status
 * after saying why not (3 when the answer is not of the API's shape). */
static int answer_result(const struct request *rq, const char *path, const json_t *doc,
			 int (*from_json)(const json_t *, struct vg_result *, struct vg_err *),
			 struct vg_result *result)
{
	struct vg_err err = { 0 };
	int rc = from_json(json_object_get(doc, "data"), result, &err);

	if (rc == VG_EINVAL)
		not_the_api(rq, path, &err);
	return rc ? fail(&err) : -1;
}

/*
 * Sends the request, then renders its data with from_json and the
 * renderer for the format. Nothing reaches stdout unless all went well.
 */
static int run_request(const struct request *rq, const char *path,
		       const struct vg_http_param *params, size_t n_params,
		       int (*from_json)(const json_t *, struct vg_result *, struct vg_err *),
		       void (*table)(const struct vg_result *, struct vg_buf *),
		       void (*csv)(const struct vg_result *, struct vg_buf *))
{
	struct vg_result result = { 0 };
	struct vg_buf out = VG_BUF_INIT;
	json_t *doc = NULL;
	int rc;

	if ((rc = get_answer(rq, path, params, n_params, &doc)) >= 0)
		return rc;
	if (rq->format == VG_OUTPUT_JSON) {
		vg_output_json(doc, &out);
	} else {
		if ((rc = answer_result(rq, path, doc, from_json, &result)) >= 0)
			goto out;
		if (rq->format == VG_OUTPUT_CSV)
			csv(&result, &out);
		else if (result.n_rows == 0)
			fputs("no data\n", stderr);
		else
			table(&result, &out);
	}
	rc = write_out(&out);
out:
	vg_output_result_release(&result);
	vg_buf_release(&out);
	json_decref(doc);
	return rc;
}

/*
 * -o chart: the answer drawn for the terminal on stdout (chart.h), all of
 * it or nothing, like run_request.
 */
static int run_chart(const struct request *rq, const struct options *o, const char *path,
		     const struct vg_http_param *params, size_t n_params, const char *expr, int64_t step_ms)
{
	struct vg_chart_opts co = { 0 };
	struct vg_result result = { 0 };
	struct vg_buf out = VG_BUF_INIT;
	json_t *doc = NULL;
	int rc;

	if ((rc = get_answer(rq, path, params, n_params, &doc)) >= 0)
		return rc;
	if ((rc = answer_result(rq, path, doc, vg_output_result_from_json, &result)) >= 0)
		goto out;
	vg_chart_opts_for_terminal(&co, STDOUT_FILENO, o->is_ascii);
	co.title = expr;
	co.step_ms = step_ms;
	co.unit = vg_chart_unit_of(expr);
	if (result.n_rows == 0)
		fputs("no data\n", stderr);
	vg_chart_render(&result, &co, &out);
	rc = write_out(&out);
out:
	vg_output_result_release(&result);
	vg_buf_release(&out);
	json_decref(doc);
	return rc;
}

static int run_query(const struct options *o, int argc, char **argv)
{
	struct vg_http_param params[4];
	struct request rq;
	char t_time[32], t_start[32], t_end[32], t_step[32];
	int64_t start_ms, end_ms, step_ms, at_ms;
	struct vg_err err = { 0 };
	int rc;

	if (argc < 1)
		return usage_error("query: missing EXPR");
	if (argc > 1)
		return usage_error("query: unexpected argument '%s' (quote the expression)", argv[1]);
	if (o->time && (o->start || o->end || o->step))
		return usage_error("query: --time is for instant queries, --start/--end/--step for range queries");
	if (!o->start && (o->end || o->step))
		return usage_error("query: --end and --step need --start");
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;

	if (!o->start) {
		at_ms = rq.now_ms;
		if (o->time && (rc = parse_time_option("time", o->time, rq.now_ms, &at_ms)) >= 0)
			return rc;
		if ((rc = check_query(argv[0])) >= 0)
			return rc;
		vg_fmt_timestamp(at_ms, t_time, sizeof(t_time));
		params[0] = (struct vg_http_param){ "query", argv[0] };
		params[1] = (struct vg_http_param){ "time", t_time };
		if (rq.format == VG_OUTPUT_CHART)
			return run_chart(&rq, o, "/api/v1/query", params, 2, argv[0], 0);
		return run_request(&rq, "/api/v1/query", params, 2, vg_output_result_from_json,
				   vg_output_table, vg_output_csv);
	}

	end_ms = rq.now_ms;
	if ((rc = parse_time_option("start", o->start, rq.now_ms, &start_ms)) >= 0)
		return rc;
	if (o->end && (rc = parse_time_option("end", o->end, rq.now_ms, &end_ms)) >= 0)
		return rc;
	if (end_ms < start_ms)
		return usage_error("query: --end (%s) is before --start (%s)", o->end ? o->end : "now", o->start);
	if (o->step) {
		if (vg_duration_parse_api(o->step, &step_ms, &err) != 0)
			return usage_error("invalid --step: %s", err.msg);
		if (step_ms <= 0)
			return usage_error("invalid --step: \"%s\" is not positive", o->step);
	} else {
		step_ms = vg_output_default_step_ms(start_ms, end_ms);
	}
	if ((rc = check_query(argv[0])) >= 0)
		return rc;
	vg_fmt_timestamp(start_ms, t_start, sizeof(t_start));
	vg_fmt_timestamp(end_ms, t_end, sizeof(t_end));
	vg_fmt_timestamp(step_ms, t_step, sizeof(t_step));
	params[0] = (struct vg_http_param){ "query", argv[0] };
	params[1] = (struct vg_http_param){ "start", t_start };
	params[2] = (struct vg_http_param){ "end", t_end };
	params[3] = (struct vg_http_param){ "step", t_step };
	if (rq.format == VG_OUTPUT_CHART)
		return run_chart(&rq, o, "/api/v1/query_range", params, 4, argv[0], step_ms);
	return run_request(&rq, "/api/v1/query_range", params, 4, vg_output_result_from_json,
			   vg_output_table, vg_output_csv);
}

/*
 * The match[] selectors (checked first) and --start/--end (parsed, in
 * order) of series and labels, appended to params (room for n_sels + 2)
 * with the times' text in t_start and t_end. -1, or an exit status.
 */
static int match_and_range_params(const struct options *o, const struct request *rq, const char *cmd, char **sels,
				  int n_sels, struct vg_http_param *params, size_t *n, char t_start[32], char t_end[32])
{
	int64_t start_ms = 0, end_ms = 0;
	int rc;

	if (o->start && (rc = parse_time_option("start", o->start, rq->now_ms, &start_ms)) >= 0)
		return rc;
	if (o->end && (rc = parse_time_option("end", o->end, rq->now_ms, &end_ms)) >= 0)
		return rc;
	if (o->start && o->end && end_ms < start_ms)
		return usage_error("%s: --end (%s) is before --start (%s)", cmd, o->end, o->start);
	if ((rc = check_selectors(sels, n_sels)) >= 0)
		return rc;
	for (int i = 0; i < n_sels; i++)
		params[(*n)++] = (struct vg_http_param){ "match[]", sels[i] };
	if (o->start) {
		vg_fmt_timestamp(start_ms, t_start, 32);
		params[(*n)++] = (struct vg_http_param){ "start", t_start };
	}
	if (o->end) {
		vg_fmt_timestamp(end_ms, t_end, 32);
		params[(*n)++] = (struct vg_http_param){ "end", t_end };
	}
	return -1;
}

static int run_series(const struct options *o, int argc, char **argv)
{
	struct vg_http_param *params;
	struct request rq;
	char t_start[32], t_end[32];
	size_t n = 0;
	int rc;

	if (argc < 1)
		return usage_error("series: missing SELECTOR");
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	if (rq.format == VG_OUTPUT_CHART)
		return usage_error("series: -o chart is for query");
	params = calloc((size_t)argc + 2, sizeof(*params));
	if (params == NULL) {
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	if ((rc = match_and_range_params(o, &rq, "series", argv, argc, params, &n, t_start, t_end)) >= 0) {
		free(params);
		return rc;
	}
	rc = run_request(&rq, "/api/v1/series", params, n, vg_output_series_from_json,
			 vg_output_series_list, vg_output_series_csv);
	free(params);
	return rc;
}

/* vigil labels [NAME]: /api/v1/labels or /api/v1/label/NAME/values. */
static int run_labels(const struct options *o, int argc, char **argv)
{
	struct vg_http_param params[MAX_MATCH + 2];
	struct vg_buf out = VG_BUF_INIT;
	struct vg_err err = { 0 };
	struct request rq;
	char t_start[32], t_end[32], path[600];
	json_t *doc = NULL;
	size_t n = 0;
	int rc;

	if (argc > 1)
		return usage_error("labels: unexpected argument '%s' (one NAME at most)", argv[1]);
	if (argc == 1 && (strlen(argv[0]) > 512 || !vg_label_name_valid(argv[0], strlen(argv[0]))))
		return usage_error("labels: \"%s\" is not a label name", argv[0]);
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	if (rq.format == VG_OUTPUT_CHART)
		return usage_error("labels: -o chart is for query");
	if ((rc = match_and_range_params(o, &rq, "labels", (char **)o->match, o->n_match, params, &n, t_start,
					 t_end)) >= 0)
		return rc;
	if (argc == 1)
		snprintf(path, sizeof(path), "/api/v1/label/%s/values", argv[0]);
	else
		snprintf(path, sizeof(path), "/api/v1/labels");
	if ((rc = get_answer(&rq, path, params, n, &doc)) >= 0)
		return rc;
	if (rq.format == VG_OUTPUT_JSON) {
		vg_output_json(doc, &out);
	} else if (vg_output_strings(json_object_get(doc, "data"), rq.format == VG_OUTPUT_CSV,
				     argc == 1 ? "value" : "name", &out, &err) != 0) {
		not_the_api(&rq, path, &err);
		rc = fail(&err);
		goto out;
	} else if (out.len == 0 || (rq.format == VG_OUTPUT_CSV && json_array_size(json_object_get(doc, "data")) == 0)) {
		fputs("no data\n", stderr);
	}
	rc = write_out(&out);
out:
	vg_buf_release(&out);
	json_decref(doc);
	return rc;
}

static int run_import(const struct options *o, int argc, char **argv)
{
	struct request rq;
	int rc;

	if (argc != 1)
		return usage_error(argc ? "import: one FILE (or -) at a time" : "import: missing FILE (or - for stdin)");
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	return vg_cli_import(&rq.client, argv[0], isatty(STDERR_FILENO) ? stderr : NULL);
}

static int run_push(const struct options *o, int argc, char **argv)
{
	struct request rq;
	int rc;

	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	return vg_cli_push(&rq.client, argc, argv);
}

static int run_rules(const struct options *o, int argc, char **argv)
{
	(void)o;
	if (argc < 1 || strcmp(argv[0], "check") != 0)
		return usage_error(argc ? "rules: unknown subcommand '%s' (check)" : "rules: missing subcommand (check)",
				   argc ? argv[0] : "");
	if (argc < 2)
		return usage_error("rules check: missing FILE");
	return vg_cli_rules_check(argc - 1, argv + 1, o->is_prometheus);
}

static int run_alerts(const struct options *o, int argc, char **argv)
{
	struct vg_buf out = VG_BUF_INIT;
	struct vg_err err = { 0 };
	struct request rq;
	int rc;

	(void)argv;
	if (argc != 0)
		return usage_error("alerts: unexpected argument '%s'", argv[0]);
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	if (vg_cli_alerts(&rq.client, rq.format, rq.now_ms, &out, &err) != 0) {
		vg_buf_release(&out);
		return fail(&err);
	}
	if (out.len == 0 && rq.format == VG_OUTPUT_TABLE)
		fputs("no alerts\n", stderr);
	rc = write_out(&out);
	vg_buf_release(&out);
	return rc;
}

static int run_silence(const struct options *o, int argc, char **argv)
{
	struct vg_silence_options so = { 0 };
	struct vg_err err = { 0 };
	struct request rq;
	int64_t dur = 3600 * 1000;
	int rc;

	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	so.author = o->author;
	so.comment = o->comment;
	so.is_expired = o->is_expired;
	so.is_quiet = o->is_quiet;
	so.is_json = rq.format == VG_OUTPUT_JSON;
	so.start_ms = rq.now_ms;
	if (o->start && (rc = parse_time_option("start", o->start, rq.now_ms, &so.start_ms)) >= 0)
		return rc;
	if (o->duration && (vg_duration_parse_api(o->duration, &dur, &err) != 0 || dur <= 0))
		return usage_error("invalid --duration: %s", err.msg[0] ? err.msg : "not positive");
	if (o->end && o->duration)
		return usage_error("silence: --end or --duration, not both");
	so.end_ms = so.start_ms + dur;
	if (o->end && (rc = parse_time_option("end", o->end, rq.now_ms, &so.end_ms)) >= 0)
		return rc;
	return vg_cli_silence(&rq.client, &so, argc, argv);
}

static int run_ack(const struct options *o, int argc, char **argv)
{
	struct vg_ack_options ao = { 0 };
	struct vg_err err = { 0 };
	struct request rq;
	int64_t d;
	int rc;

	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	ao.author = o->author;
	ao.comment = o->comment;
	ao.is_expired = o->is_expired;
	ao.is_quiet = o->is_quiet;
	ao.is_json = rq.format == VG_OUTPUT_JSON;
	ao.expires_ms = rq.now_ms + 24 * 3600 * 1000LL;
	if (o->expires) {
		if (vg_duration_parse(o->expires, &d, &err) == 0) {
			if (d <= 0)
				return usage_error("invalid --expires: \"%s\" is not positive", o->expires);
			ao.expires_ms = rq.now_ms + d;
		} else if ((rc = parse_time_option("expires", o->expires, rq.now_ms, &ao.expires_ms)) >= 0) {
			return rc;
		}
	}
	return vg_cli_ack(&rq.client, &ao, argc, argv);
}

static int run_status(const struct options *o, int argc, char **argv)
{
	struct vg_buf out = VG_BUF_INIT;
	struct vg_err err = { 0 };
	struct request rq;
	int rc;

	if (argc != 0)
		return usage_error("status: unexpected argument '%s'", argv[0]);
	if ((rc = prepare(o, &rq)) >= 0)
		return rc;
	if (rq.format == VG_OUTPUT_CHART)
		return usage_error("status: -o chart is for query");
	if (vg_cli_status(&rq.client, rq.format, &out, &err) != 0) {
		vg_buf_release(&out);
		return fail(&err);
	}
	rc = write_out(&out);
	vg_buf_release(&out);
	return rc;
}

static int run_promqltest(const struct options *o, int argc, char **argv)
{
	(void)o;
	return vg_cli_promqltest(argc, argv);
}

static int run_help(const struct options *o, int argc, char **argv);

static const struct command commands[] = {
	{ "query", TAKES_TIME | TAKES_RANGE | TAKES_STEP | TAKES_ASCII, query_usage, run_query },
	{ "series", TAKES_RANGE, series_usage, run_series },
	{ "labels", TAKES_RANGE | TAKES_MATCH, labels_usage, run_labels },
	{ "import", 0, import_usage, run_import },
	{ "push", 0, push_usage, run_push },
	{ "rules", TAKES_PROMETHEUS, rules_usage, run_rules },
	{ "alerts", 0, alerts_usage, run_alerts },
	{ "silence", TAKES_SILENCE | TAKES_RANGE, silence_usage, run_silence },
	{ "ack", TAKES_ACK, ack_usage, run_ack },
	{ "status", 0, status_usage, run_status },
	{ "promql-test", 0, promqltest_usage, run_promqltest },
	{ "help", 0, global_usage, run_help },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int run_help(const struct options *o, int argc, char **argv)
{
	const struct command *cmd;

	(void)o;
	if (argc == 0) {
		fputs(global_usage, stdout);
		return EXIT_OK;
	}
	if (argc > 1)
		return usage_error("help: unexpected argument '%s'", argv[1]);
	cmd = find_command(argv[0]);
	if (cmd == NULL)
		return usage_error("help: unknown command '%s'", argv[0]);
	fputs(cmd->usage, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	const struct command *cmd;
	int rc;

	if ((rc = parse_options(argc, argv, true, 0, NULL, &o)) >= 0)
		return rc;
	if (o.is_help) {
		fputs(global_usage, stdout);
		return EXIT_OK;
	}
	if (o.is_version) {
		puts("vigil " PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (optind >= argc)
		return usage_error("missing command (query, series, labels, import, push, rules, alerts, silence, ack, status, promql-test or help)");
	cmd = find_command(argv[optind]);
	if (cmd == NULL)
		return usage_error("unknown command '%s'", argv[optind]);

	/* The command's own options: argv[optind] plays argv[0]. */
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: start afresh on a new argv */
	if ((rc = parse_options(argc, argv, false, cmd->takes, cmd->name, &o)) >= 0)
		return rc;
	if (o.is_help) {
		fputs(cmd->usage, stdout);
		return EXIT_OK;
	}
	if (o.is_version) {
		puts("vigil " PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("vigil: cannot initialise libcurl\n", stderr);
		return EXIT_REFUSED;
	}
	rc = cmd->run(&o, argc - optind, argv + optind);
	curl_global_cleanup();
	return rc;
}
