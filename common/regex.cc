/*
 * regex.cc: the C interface of regex.h over RE2 (see regex.h for the
 * semantics). The only C++ in Vigil; kept to what RE2 needs.
 *
 * Error texts follow Go's regexp/syntax, which Prometheus shows its users:
 * "error parsing regexp: <what>: `<where>`". RE2 and Go share one syntax
 * (Go's package is a port of RE2); where they part (\C, nesting depth,
 * (?<name>...)) to_re2 makes RE2 read the pattern as Go would.
 */
#include "common/regex.h"

#include <climits>
#include <cstdio>
#include <cstring>
#include <new>
#include <map>
#include <string>

#include <re2/re2.h>

extern "C" {
#include "common/err.h"
}

struct vg_regex {
	re2::RE2 *re;
};

/* Go's name for each of RE2's error codes (regexp/syntax ErrorCode). */
static const char *go_error(re2::RE2::ErrorCode code)
{
	switch (code) {
	case re2::RE2::ErrorBadEscape: return "invalid escape sequence";
	case re2::RE2::ErrorBadCharClass: return "invalid character class";
	case re2::RE2::ErrorBadCharRange: return "invalid character class range";
	case re2::RE2::ErrorMissingBracket: return "missing closing ]";
	case re2::RE2::ErrorMissingParen: return "missing closing )";
	case re2::RE2::ErrorUnexpectedParen: return "unexpected )";
	case re2::RE2::ErrorTrailingBackslash: return "trailing backslash at end of expression";
	case re2::RE2::ErrorRepeatArgument: return "missing argument to repetition operator";
	case re2::RE2::ErrorRepeatSize: return "invalid repeat count";
	case re2::RE2::ErrorRepeatOp: return "invalid nested repetition operator";
	case re2::RE2::ErrorBadPerlOp: return "invalid or unsupported Perl syntax";
	case re2::RE2::ErrorBadUTF8: return "invalid UTF-8";
	case re2::RE2::ErrorBadNamedCapture: return "invalid named capture";
	case re2::RE2::ErrorPatternTooLarge: return "expression too large";
	default: return "internal error";
	}
}

/* Go refuses a regex nested deeper than this (regexp/syntax maxHeight);
 * RE2 takes more. Counted here as groups, which is how such input nests. */
#define MAX_NESTING 1000

/*
 * Brings Go's syntax to RE2's where they part: refuses what Go refuses and
 * RE2 would take (a \C escape, any byte; groups nested more than
 * MAX_NESTING deep) and spells Go's (?<name>re) as RE2's (?P<name>re).
 * Returns the refusal's message, or NULL with the pattern in *out.
 */
static const char *to_re2(const char *s, size_t len, std::string *out)
{
	size_t depth = 0;
	bool in_class = false;

	out->reserve(len + 8);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		out->push_back(c);
		if (c == '\\' && i + 1 < len && s[i + 1] == 'Q') {
			/* \Q...\E is literal text, copied as it is */
			size_t j = i + 2;
			while (j < len && !(s[j] == '\\' && j + 1 < len && s[j + 1] == 'E'))
				j++;
			j = j < len ? j + 2 : len;
			out->append(s + i + 1, j - i - 1);
			i = j - 1;
		} else if (c == '\\') {
			if (i + 1 < len && s[i + 1] == 'C')
				return "invalid escape sequence: `\\C`";
			if (i + 1 < len)
				out->push_back(s[i + 1]);
			i++; /* the escaped character */
		} else if (in_class) {
			if (c == ']')
				in_class = false;
		} else if (c == '[') {
			in_class = true;
			if (i + 1 < len && s[i + 1] == '^')
				out->push_back(s[++i]);
			if (i + 1 < len && s[i + 1] == ']')
				out->push_back(s[++i]); /* a leading ] is a literal */
		} else if (c == '(') {
			if (++depth > MAX_NESTING)
				return "expression nests too deeply";
			if (i + 3 < len && s[i + 1] == '?' && s[i + 2] == '<' && s[i + 3] != '=' &&
			    s[i + 3] != '!') {
				out->append("?P<");
				i += 2;
			}
		} else if (c == ')' && depth > 0) {
			depth--;
		}
	}
	return NULL;
}

static int compile(const char *src, size_t len, bool has_groups, struct vg_regex **out, struct vg_err *err)
{
	*out = nullptr;
	if (len > VG_REGEX_MAX_SOURCE)
		return vg_err_set(err, VG_ELIMIT, "error parsing regexp: expression too large: %zu bytes, the limit is %d",
				  len, VG_REGEX_MAX_SOURCE);
	try {
		std::string pattern;
		const char *refusal = to_re2(src, len, &pattern);
		if (refusal != nullptr)
			return vg_err_set(err, VG_EINVAL, "error parsing regexp: %s", refusal);

		re2::RE2::Options opt;
		opt.set_encoding(re2::RE2::Options::EncodingUTF8);
		opt.set_dot_nl(true);
		opt.set_never_capture(!has_groups);
		opt.set_log_errors(false);
		opt.set_max_mem(VG_REGEX_MAX_MEM);

		struct vg_regex *r = new struct vg_regex;
		r->re = new (std::nothrow) re2::RE2(re2::StringPiece(pattern), opt);
		if (r->re == nullptr) {
			delete r;
			return vg_err_set(err, VG_ENOMEM, "out of memory compiling a regular expression");
		}
		if (!r->re->ok()) {
			re2::RE2::ErrorCode code = r->re->error_code();
			std::string arg = r->re->error_arg();
			int rc = code == re2::RE2::ErrorPatternTooLarge ? VG_ELIMIT : VG_EINVAL;
			if (arg.size() > 64)
				arg = arg.substr(0, 64) + "...";
			if (code == re2::RE2::ErrorPatternTooLarge)
				vg_err_set(err, rc, "error parsing regexp: expression too large");
			else
				vg_err_set(err, rc, "error parsing regexp: %s: `%s`", go_error(code), arg.c_str());
			delete r->re;
			delete r;
			return rc;
		}
		*out = r;
		return 0;
	} catch (...) {
		return vg_err_set(err, VG_ENOMEM, "out of memory compiling a regular expression");
	}
}

extern "C" int vg_regex_compile(const char *src, size_t len, struct vg_regex **out, struct vg_err *err)
{
	return compile(src, len, false, out, err);
}

extern "C" int vg_regex_compile_groups(const char *src, size_t len, struct vg_regex **out, struct vg_err *err)
{
	return compile(src, len, true, out, err);
}

extern "C" int vg_regex_match_groups(const struct vg_regex *r, const char *s, size_t len, size_t n, long *starts,
				     size_t *lens)
{
	if (r == nullptr || r->re == nullptr)
		return VG_EINVAL;
	if (len > (size_t)INT_MAX || n > 64)
		return VG_ELIMIT;
	try {
		re2::StringPiece text(len ? s : "", len);
		re2::StringPiece groups[64];
		size_t have = (size_t)r->re->NumberOfCapturingGroups() + 1;
		size_t want = n < have ? n : have;
		if (!r->re->Match(text, 0, len, re2::RE2::ANCHOR_BOTH, groups, (int)want))
			return 0;
		for (size_t i = 0; i < n; i++) {
			if (i < want && groups[i].data() != nullptr) {
				starts[i] = (long)(groups[i].data() - text.data());
				lens[i] = groups[i].size();
			} else {
				starts[i] = -1;
				lens[i] = 0;
			}
		}
		return 1;
	} catch (...) {
		return VG_ENOMEM;
	}
}

extern "C" int vg_regex_group_index(const struct vg_regex *r, const char *name, size_t len)
{
	if (r == nullptr || r->re == nullptr)
		return -1;
	try {
		const std::map<std::string, int> &m = r->re->NamedCapturingGroups();
		auto it = m.find(std::string(name, len));
		return it == m.end() ? -1 : it->second;
	} catch (...) {
		return -1;
	}
}

extern "C" int vg_regex_match(const struct vg_regex *r, const char *s, size_t len)
{
	if (r == nullptr || r->re == nullptr)
		return VG_EINVAL;
	if (len > (size_t)INT_MAX)
		return VG_ELIMIT; /* RE2 counts positions in int */
	try {
		re2::StringPiece text(len ? s : "", len);
		return r->re->Match(text, 0, len, re2::RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
	} catch (...) {
		return VG_ENOMEM;
	}
}

extern "C" void vg_regex_free(struct vg_regex *r)
{
	if (r == nullptr)
		return;
	delete r->re;
	delete r;
}
