"""browser_hosts.py: the host overview (/hosts) against agent-style data
(tests/web_data.py: node_* and vigil_agent_* series of three hosts over
the last hour): every panel draws, for one instance and for a pool."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import web_data  # noqa: E402

PANELS = ["cpu", "load", "memory", "filesystem", "disk", "network", "agent-queue", "agent-errors", "agent-collect"]


def setup(b):
    b.import_text(web_data.generate(["--hosts", "3", "--pools", "2", "--minutes", "60", "--prefix", "vg-hosts-"]))


def panels(b):
    return b.js("return Array.from(document.querySelectorAll('.pg-panel')).map(p => "
                "[p.id.slice(8), p.dataset.state, Number(p.querySelector('.pg-chart').dataset.series || 0), "
                "p.querySelector('.pg-note').textContent])")


def case_instance_draws_every_panel(b):
    b.open("/hosts?name=vg-hosts-host-1")
    b.wait_attr("body", "data-ready", "1", timeout=15)
    got = panels(b)
    assert [p[0] for p in got] == PANELS, got
    for pid, st, n, note in got:
        assert st == "done" and n > 0, "panel %s: %s, %d series (%s)" % (pid, st, n, note)
    by = {p[0]: p for p in got}
    assert by["cpu"][2] == 8, by["cpu"]          # one series a mode
    assert by["load"][2] == 3, by["load"]        # load1, load5, load15
    assert by["filesystem"][2] == 2, by["filesystem"]
    assert by["network"][2] == 2, by["network"]  # eth0 received and sent; lo left out
    summary = b.text("#h-summary")
    assert "vg-hosts-host-1" in summary and "last seen" in summary and "2 CPUs" in summary, summary
    assert b.js("return document.querySelectorAll('.pg-panel canvas').length") >= len(PANELS)


def case_pool_draws_every_panel(b):
    b.open("/hosts?kind=pool&name=vg-hosts-pool-0")
    b.wait_attr("body", "data-ready", "1", timeout=15)
    got = panels(b)
    for pid, st, n, note in got:
        assert st == "done" and n > 0, "panel %s: %s, %d series (%s)" % (pid, st, n, note)
    by = {p[0]: p for p in got}
    assert by["load"][2] == 2, by["load"]        # host-0 and host-2
    assert "2 instances" in b.text("#h-summary"), b.text("#h-summary")
