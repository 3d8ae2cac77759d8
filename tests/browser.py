#!/usr/bin/env python3
"""browser.py: the web UI's tests in a real headless browser.

One chromium for every case of every case file, driven through Debian's
chromedriver in the W3C WebDriver protocol (JSON over loopback HTTP,
spoken here with urllib: no other package), against a receiver the
caller started (tests/test_web_browser.c starts it and runs this).

    browser.py --probe
        exits 0 when chromium and chromedriver are found, else 77 (what
        automake takes as a skip) saying which is missing
    browser.py --base http://127.0.0.1:PORT --artifacts DIR CASEFILE...
        runs the cases; 0 when all passed, 1 when one failed

Found as $VG_CHROMIUM / $VG_CHROMEDRIVER, else chromium and chromedriver
on PATH (Debian's chromium and chromium-driver, in VG_PACKAGES).

A case file (tests/browser_<page>.py, listed in EXTRA_DIST; the C test
runs every tests/browser_*.py) defines, in this order of running:
    setup(b)        optional: load the data its cases need, e.g.
                    b.import_text("metric{a=\"x\"} 1 1700000000000\\n")
    case_<name>(b)  each a check; fails by raising (assert, or b.fail)
After each case a screenshot goes to DIR/<file>-<case>.png (kept as a
test artifact, pass or fail). Cases of one file share the browser and
the receiver, so give your series names of your own (vg_<page>_...).

b, the Browser, has:
    b.base                     the receiver's URL
    b.open(path)               navigates to b.base + path
    b.find(css) / b.find_all(css)   element ids (b.find fails if none)
    b.click(css), b.type(css, text) (WebDriver keys: "\\ue007" is Enter)
    b.text(css)                an element's visible text
    b.attr(css, name)          an attribute (data-x too), or None
    b.js(script, *args)        runs script (a function body) and
                               returns its value
    b.js_async(script, *args)  the same, the value passed to the
                               callback that is script's last argument
    b.wait(fn, what, timeout=5) polls fn() until it is truthy; returns it
    b.wait_attr(css, name, value)   waits until the attribute equals value
    b.api(path)                GET the API directly (parsed JSON)
    b.import_text(text)        POST /api/v1/import/prometheus
    b.screenshot(name)         DIR/<name>.png
    b.fail(msg)
Pages set body's data-state to "loading", "ready" or "error" (query
page), which cases wait on rather than sleep.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import http.client
import urllib.error
import urllib.parse
import urllib.request
import importlib.util

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def find_program(env, names):
    p = os.environ.get(env)
    if p:
        return p if os.access(p, os.X_OK) else None
    for n in names:
        w = shutil.which(n)
        if w:
            return w
    return None


def programs():
    return (find_program("VG_CHROMIUM", ["chromium", "chromium-browser", "google-chrome"]),
            find_program("VG_CHROMEDRIVER", ["chromedriver"]))


class CaseFailed(Exception):
    pass


def _die_with_parent():
    # The driver dies with this process, even when it is killed.
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Driver:
    """chromedriver, started on port 0 in its own process group (so its
    chromium goes with it), and one session."""

    def __init__(self, chromium, chromedriver, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="vg-chromium-")
        self.proc = subprocess.Popen([chromedriver, "--port=0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "started successfully on port" in line:
                self.port = int(line.rsplit("port", 1)[1].strip(" .\n"))
                break
        if self.port is None:
            self.close()
            raise RuntimeError("chromedriver did not start")
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height)]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}}
        self.session = None
        self.session = self.call("POST", "/session", caps)["sessionId"]
        self.call("POST", "/session/%s/timeouts" % self.session, {"script": 30000, "pageLoad": 30000})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read()).get("value", {})
                msg = "%s: %s" % (v.get("error"), v.get("message", "").splitlines()[0])
            except ValueError:
                msg = str(e)
            raise CaseFailed("WebDriver %s %s: %s" % (method, path.split("/", 3)[-1], msg)) from None
        v = out.get("value")
        if path == "/session":
            return v
        return v

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def close(self):
        try:
            if self.session:
                self.call("DELETE", "/session/" + self.session)
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Browser:
    def __init__(self, driver, base, artifacts):
        self.d = driver
        self.base = base.rstrip("/")
        self.artifacts = artifacts

    def fail(self, msg):
        raise CaseFailed(msg)

    def open(self, path):
        self.d.s("POST", "/url", {"url": self.base + path})

    def find_all(self, css):
        v = self.d.s("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in v]

    def find(self, css):
        found = self.find_all(css)
        if not found:
            self.fail("no element %s" % css)
        return found[0]

    def click(self, css):
        self.d.s("POST", "/element/%s/click" % self.find(css), {})

    def type(self, css, text):
        self.d.s("POST", "/element/%s/value" % self.find(css), {"text": text})

    def text(self, css):
        return self.d.s("GET", "/element/%s/text" % self.find(css))

    def attr(self, css, name):
        return self.js("var e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
                       css, name)

    def js(self, script, *args):
        return self.d.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        """Runs script, whose last argument is a callback taking its value."""
        return self.d.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def wait(self, fn, what, timeout=5.0):
        deadline = time.time() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            if time.time() > deadline:
                self.fail("timed out waiting for %s (last: %r)" % (what, last))
            time.sleep(0.05)

    def wait_attr(self, css, name, value, timeout=5.0):
        self.wait(lambda: self.attr(css, name) == value, "%s[%s=%r] (is %r)" % (css, name, value, self.attr(css, name)),
                  timeout)

    def _http(self, method, path, body=None, headers=None):
        # http.client, not urllib: urllib asks the server to close
        # (Connection: close), and a burst of such replies can stall one
        # (receiver/http/import.c); here the client closes.
        u = urllib.parse.urlsplit(self.base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def api(self, path):
        return json.loads(self._http("GET", path)[1])

    def import_text(self, text):
        status, body = self._http("POST", "/api/v1/import/prometheus", text.encode(), {"Content-Type": "text/plain"})
        if status // 100 != 2:
            self.fail("import: %d %s" % (status, body[:200]))

    def screenshot(self, name):
        png = base64.b64decode(self.d.s("GET", "/screenshot"))
        path = os.path.join(self.artifacts, name + ".png")
        with open(path, "wb") as f:
            f.write(png)
        return path

    def logs(self):
        """The page's console errors, when chromedriver keeps them."""
        try:
            return self.d.s("POST", "/se/log", {"type": "browser"})
        except CaseFailed:
            return []


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return name, mod


def main(argv):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--base")
    ap.add_argument("--artifacts", default=".")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args(argv)
    chromium, chromedriver = programs()
    if not chromium or not chromedriver:
        print("SKIP: %s not found (Debian: apt-get install chromium chromium-driver)" %
              " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", chromedriver)) if not p))
        return 77
    if a.probe:
        return 0
    os.makedirs(a.artifacts, exist_ok=True)
    failed = 0
    t0 = time.time()
    d = Driver(chromium, chromedriver)
    try:
        print("browser: %s, chromedriver on port %d (%.1f s to start)" % (chromium, d.port, time.time() - t0))
        b = Browser(d, a.base, a.artifacts)
        for path in a.cases:
            name, mod = load(path)
            if hasattr(mod, "setup"):
                mod.setup(b)
            for case in [k for k in vars(mod) if k.startswith("case_")]:
                t = time.time()
                try:
                    getattr(mod, case)(b)
                    status = "ok"
                except Exception as e:
                    failed += 1
                    status = "FAILED: %s" % e
                    if not isinstance(e, (CaseFailed, AssertionError)):
                        traceback.print_exc()
                try:
                    shot = b.screenshot("%s-%s" % (name, case[5:]))
                except Exception as e:
                    shot = "no screenshot (%s)" % e
                print("%s %s: %s (%.2f s; %s)" % (name, case, status, time.time() - t, shot))
    finally:
        d.close()
    print("browser: %d failed, %.1f s in all" % (failed, time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
