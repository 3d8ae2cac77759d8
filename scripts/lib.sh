# shellcheck shell=bash
# lib.sh: what ./scripts/demo and ./scripts/test share: installing the
# Debian packages the build needs, and building only what is out of date.
# Sourced, not run.

VG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages: build tools, the libraries configure checks, Check,
# mandoc for the man page lint, clang and its sanitizer and libFuzzer
# runtime (only recommended by clang, so named here) for the fuzz targets;
# for ./scripts/package and its test: debhelper and lintian, rpm, rpmlint
# and elfutils (eu-strip, for the debuginfo package), systemd
# (systemd-analyze verify), man-db (man -w), cpio (to read an RPM), procps
# (ps), adduser (the daemon packages' postinst) and openssl (the command
# that makes tests/test_tls.c's throwaway CA); prometheus-alertmanager
# for amtool, which tests/test_notify.c runs against the receiver, and a
# real Alertmanager tests/test_channels.c delivers to; python3-aiosmtpd
# (tests/smtp_sink.py, a real SMTP server); prometheus (2.42, with
# promtool), the peer tests/test_promcompare.c compares answers with, and with
# victoria-metrics the peers bench/bench_query and bench/bench_import
# measure beside Vigil; npm, with which the build fetches the web page's
# charting library (uPlot, Makefile.am), and chromium and chromium-driver,
# the headless browser tests/test_web_browser.c and bench/bench_web drive.
VG_PACKAGES="build-essential autoconf automake libtool pkg-config
  libevent-dev libssl-dev libmsgpack-dev libzstd-dev libcurl4-openssl-dev
  libyaml-dev libxxhash-dev libjansson-dev libre2-dev libpcre2-dev zlib1g-dev check mandoc clang
  libclang-rt-14-dev debhelper lintian rpm rpmlint elfutils systemd man-db
  cpio procps adduser
  prometheus-node-exporter python3-statsd openssl
  python3-aiosmtpd prometheus-alertmanager prometheus victoria-metrics
  npm chromium chromium-driver"

# The configure arguments of build/default, shared by demo and test so
# that neither reconfigures what the other built.
export VG_DEFAULT_CONFIGURE="--enable-werror"

vg_say() { printf '==> %s\n' "$*"; }
vg_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs missing packages when root; otherwise says what to install.
vg_deps() {
	local missing="" p
	for p in $VG_PACKAGES; do
		# npm may come with another build of Node.js (its nodejs
		# package), where Debian's npm package would conflict.
		[ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		vg_say "installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq || vg_die "apt-get update failed"
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
			vg_die "apt-get install failed for:$missing"
	else
		vg_die "missing Debian packages; run as root:  apt-get install$missing"
	fi
}

# vg_build DIR [configure arguments...]: configures the tree in DIR (out of
# the source tree) when needed, then runs make.
vg_build() {
	local dir=$1
	shift
	(
		cd "$VG_TOP" || exit 1
		if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
			vg_say "autoreconf"
			autoreconf -fi >/dev/null 2>&1 || autoreconf -fi || exit 1
		fi
		mkdir -p "$dir"
		cd "$dir" || exit 1
		if [ ! -f Makefile ] || [ "$VG_TOP/configure" -nt config.status ] ||
			[ "$(cat .vg-configure-args 2>/dev/null)" != "$*" ]; then
			vg_say "configure in ${dir#"$VG_TOP"/} $*"
			"$VG_TOP/configure" -q "$@" || exit 1
			printf '%s' "$*" >.vg-configure-args
		fi
		vg_say "make in ${dir#"$VG_TOP"/}"
		make -s -j"$(nproc)" >/dev/null || make -j1
	)
}
