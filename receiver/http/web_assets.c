/*
 * web_assets.c: the one list of what the receiver's web page serves
 * (web.h). Nothing outside it is ever answered: a URL path maps to its
 * file by this table alone, never by the file system.
 *
 * One row per file, one row per line, so that rows added by different
 * changes merge: { URL path, file relative to the asset root,
 * Content-Type }. The files are in receiver/http/web/ (installed in
 * $(pkgdatadir)/web/ by dist_web_DATA in Makefile.am); vendor/ holds what
 * the build fetches (uPlot, pinned by UPLOT_VERSION in Makefile.am: the
 * vendor URLs carry that version, since they are cached for a year).
 *
 * Adding a page (say /hosts):
 *   1. write receiver/http/web/hosts.html (no inline script or style: the
 *      CSP forbids them) and hosts.js, which imports what it needs from
 *      /vigil.js (api, chart, formatting, header) and calls
 *      vigil.header("hosts") first;
 *   2. add their rows below, and the two files to dist_web_DATA in
 *      Makefile.am (one per line there too);
 *   3. add the page's link to NAV in vigil.js if it is not there;
 *   4. add a browser case: tests/browser_hosts.py beside
 *      tests/browser_query.py (tests/browser.py says how; list it in
 *      EXTRA_DIST), which tests/test_web_browser runs in the same browser
 *      as every other case.
 */
#include "receiver/http/web.h"

#include <stddef.h>

#define HTML "text/html; charset=utf-8"
#define JS "text/javascript; charset=utf-8"
#define CSS "text/css; charset=utf-8"
#define TEXT "text/plain; charset=utf-8"
#define SVG "image/svg+xml"

const struct vg_web_asset vg_web_assets[] = {
	{ "/", "index.html", HTML },
	{ "/favicon.svg", "favicon.svg", SVG },
	{ "/query.js", "query.js", JS },
	{ "/vigil.css", "vigil.css", CSS },
	{ "/vigil.js", "vigil.js", JS },
	{ "/vendor/uplot-1.6.32/LICENSE", "vendor/uplot/LICENSE", TEXT },
	{ "/vendor/uplot-1.6.32/uPlot.iife.min.js", "vendor/uplot/uPlot.iife.min.js", JS },
	{ "/vendor/uplot-1.6.32/uPlot.min.css", "vendor/uplot/uPlot.min.css", CSS },
	{ "/hosts", "hosts.html", HTML },
	{ "/hosts.js", "hosts.js", JS },
	{ "/fleet", "fleet.html", HTML },
	{ "/fleet.js", "fleet.js", JS },
	{ "/alerts", "alerts.html", HTML },
	{ "/alerts.js", "alerts.js", JS },
	{ "/rules", "rules.html", HTML },
	{ "/rules.js", "rules.js", JS },
	{ "/silences", "silences.html", HTML },
	{ "/silences.js", "silences.js", JS },
	{ "/status", "status.html", HTML },
	{ "/status.js", "status.js", JS },
	{ "/pages.css", "pages.css", CSS },
	{ NULL, NULL, NULL },
};
