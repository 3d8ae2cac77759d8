"""browser_fleet.py: the fleet page (/fleet): every instance listed with
its last-seen age and a sparkline, silent agents found by sorting on the
age, a filter, and a virtual list that keeps only the rows in view in
the DOM (300 instances here; docs/performance.md has 10,000)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import web_data  # noqa: E402

N = 300


def setup(b):
    b.import_text(web_data.generate(["--hosts", str(N), "--pools", "10", "--minutes", "60", "--fleet-only",
                                     "--silent", "2", "--prefix", "vg-fleet-"]))


def rows(b):
    return b.js("return Array.from(document.querySelectorAll('.pg-fleet-row:not([hidden])')).map(r => "
                "Array.from(r.children).map(c => c.textContent))")


def case_lists_every_instance(b):
    b.open("/fleet?q=vg-fleet-")
    b.wait_attr("body", "data-ready", "1", timeout=15)
    assert "%d shown" % N in b.text("#f-summary"), b.text("#f-summary")
    first = rows(b)
    assert first[0][0] == "vg-fleet-host-0" and first[1][0] == "vg-fleet-host-1", first[:3]
    assert first[0][1] == "vg-fleet-pool-0", first[0]
    # Only what is in view (and a few rows beyond) is in the DOM.
    in_dom = b.js("return document.querySelectorAll('.pg-fleet-row').length")
    assert 0 < in_dom < N / 2, in_dom
    # The sparkline has ink.
    assert b.js("const c = document.querySelector('.pg-fleet-row canvas');"
                "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                "for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false;")
    # Scrolled to the end, the last rows are drawn.
    b.js("const e = document.getElementById('f-body'); e.scrollTop = e.scrollHeight;")
    b.wait(lambda: any(r[0] == "vg-fleet-host-%d" % (N - 1) for r in rows(b)), "the last row after scrolling")


def case_sort_by_age_puts_silent_agents_first(b):
    b.open("/fleet?q=vg-fleet-&sort=age")
    b.wait_attr("body", "data-ready", "1", timeout=15)
    first = rows(b)
    silent = {"vg-fleet-host-%d" % (N - 1), "vg-fleet-host-%d" % (N - 2)}
    assert {first[0][0], first[1][0]} == silent, first[:3]
    assert b.js("return document.querySelector('.pg-fleet-row span.pg-stale') !== null")
    b.click('.pg-fleet-head button[data-key="age"]')  # again: newest first
    b.wait(lambda: rows(b)[0][0] not in silent, "newest first")
    assert b.attr('.pg-fleet-head button[data-key="age"]', "aria-sort") == "descending"


def case_filter_narrows_the_list(b):
    b.open("/fleet")
    b.wait_attr("body", "data-ready", "1", timeout=15)
    b.type("#f-filter", "vg-fleet-host-29")
    b.wait(lambda: "11 shown" in b.text("#f-summary"), "11 rows (29, 290..299)")
    assert all(r[0].startswith("vg-fleet-host-29") for r in rows(b))
