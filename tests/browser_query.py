"""browser_query.py: the query page at / (tests/browser.py says how cases
run). Data: vg_web_test{instance="host-<i>", pool="p<i%2>"} for i in 0..4,
one point a minute for an hour ending at END, value i*10 + minute/60 (so
the last point of host-3 is 30 + 59/60)."""
import time
import urllib.parse

N = 5
END = (int(time.time()) // 60) * 60 - 60
START = END - 59 * 60


def setup(b):
    lines = []
    for i in range(N):
        for m in range(60):
            t = START + m * 60
            lines.append('vg_web_test{instance="host-%d",pool="p%d"} %r %d' % (i, i % 2, i * 10 + m / 60, t * 1000))
    b.import_text("\n".join(lines) + "\n")
    got = b.api("/api/v1/query?" + urllib.parse.urlencode({"query": "count(vg_web_test)", "time": END}))
    assert got["data"]["result"][0]["value"][1] == str(N), got


def graph_url(expr, **kw):
    q = {"expr": expr, "range": "1h", "end": END}
    q.update(kw)
    return "/?" + urllib.parse.urlencode(q)


def case_graph_shows_every_series(b):
    b.open(graph_url("vg_web_test"))
    b.wait_attr("body", "data-state", "ready")
    b.wait_attr("#q-chart", "data-series", str(N))
    # uPlot drew a canvas, and the legend lists every series.
    assert b.js("return document.querySelectorAll('#q-chart canvas').length") >= 1
    names = b.js("return [...document.querySelectorAll('#q-legend li')].map(e => e.textContent)")
    assert len(names) == N and 'instance="host-3"' in names[3], names


def case_legend_filters_series(b):
    b.type(".vg-legend-filter", "host-2")
    b.wait_attr("#q-chart", "data-series", "1")
    b.js("var i = document.querySelector('.vg-legend-filter'); i.value = '';"
         "i.dispatchEvent(new Event('input'));")
    b.wait_attr("#q-chart", "data-series", str(N))
    b.click("#q-legend li[data-index='1']")  # alone
    b.wait_attr("#q-chart", "data-series", "1")
    b.click("#q-legend li[data-index='1']")  # all again
    b.wait_attr("#q-chart", "data-series", str(N))


def case_hover_shows_labels_and_value(b):
    # The cursor over the last point, at host-4's height (the top line).
    b.js("var o = document.querySelector('#q-chart .u-over'), r = o.getBoundingClientRect();"
         "o.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 1, clientY: r.top + 2, bubbles: true}));")
    b.wait(lambda: b.js("var t = document.querySelector('.vg-tooltip'); return t && !t.hidden && t.textContent"),
           "the tooltip")
    text = b.text(".vg-tooltip")
    assert "host-4" in text and "vg_web_test" in text and "40.98" in text, text


def case_table_shows_values(b):
    b.open(graph_url("vg_web_test", tab="table"))
    b.wait_attr("body", "data-state", "ready")
    b.wait_attr("#q-table-body", "data-rows", str(N))
    rows = b.js("return [...document.querySelectorAll('#q-table-body tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
    want = {'vg_web_test{instance="host-%d", pool="p%d"}' % (i, i % 2): i * 10 + 59 / 60 for i in range(N)}
    assert {r[0]: float(r[1]) for r in rows} == want, rows


def case_url_holds_the_state(b):
    b.open(graph_url("sum by (pool) (vg_web_test)", stacked=1))
    b.wait_attr("#q-chart", "data-series", "2")
    assert b.js("return document.getElementById('q-stacked').checked") is True
    # Changing the range is written back into the URL.
    b.js("var s = document.getElementById('q-range'); s.value = '3h'; s.dispatchEvent(new Event('change'));")
    b.wait(lambda: "range=3h" in b.js("return location.search"), "range=3h in the URL")
    q = urllib.parse.parse_qs(b.js("return location.search")[1:])
    assert q["expr"] == ["sum by (pool) (vg_web_test)"] and q["stacked"] == ["1"], q


def case_custom_range_and_step(b):
    # The first half hour at 60 s: 31 points; the controls show it.
    b.open("/?" + urllib.parse.urlencode({"expr": "vg_web_test", "range": "custom", "from": START,
                                          "to": START + 1800, "step": 60}))
    b.wait_attr("#q-chart", "data-points", "31")
    assert b.attr("#q-chart", "data-series") == str(N)
    assert b.js("return document.getElementById('q-custom').hidden") is False
    assert b.js("return document.getElementById('q-step').value") == "60"


def case_bad_query_shows_error_with_column(b):
    expr = "sum(rate(vg_web_test[5m])"
    want = b.api("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["error"]
    b.open(graph_url(expr))
    b.wait_attr("body", "data-state", "error")
    col = b.attr("#q-error", "data-column")
    assert col is not None and ("1:%s:" % col) in want, (col, want)
    text = b.text("#q-error")
    assert "parse error" in text and "^" in text, text
    # The caret sits under the column.
    caret = b.js("return document.querySelector('#q-error pre').textContent.split('\\n')[1]")
    assert caret.index("^") == int(col) - 1, caret


def case_completion_offers_names_labels_values(b):
    b.open("/")
    b.wait_attr("body", "data-state", "idle")
    b.type("#q-expr", "vg_web_te")
    b.wait(lambda: "vg_web_test" in (b.js("return document.getElementById('q-complete').textContent") or ""),
           "vg_web_test offered")
    b.type("#q-expr", "\ue004")  # Tab accepts
    value = b.js("return document.getElementById('q-expr').value")
    assert value == "vg_web_test", value
    b.type("#q-expr", "{po")
    b.wait(lambda: "pool" in (b.js("return document.getElementById('q-complete').textContent") or ""), "pool offered")
    b.type("#q-expr", "\ue004" + '="')
    b.type("#q-expr", "p")
    b.wait(lambda: "p1" in (b.js("return document.getElementById('q-complete').textContent") or ""), "p1 offered")
    b.type("#q-expr", "\ue015\ue004}\ue007")  # down to p1, accept it, close, Enter runs
    value = b.js("return document.getElementById('q-expr').value")
    assert value == 'vg_web_test{pool="p1"}', value
    b.wait_attr("#q-chart", "data-series", "2")
