"""browser_alerts.py: the alerts, rules and silences pages against the
rules of tests/data/web_rules.yaml (evaluated every second): a firing
and a pending alert listed with their age; the rule groups with their
last evaluation; a silence created from the firing alert's Silence link
(its matchers filled in from the alert's labels), seen through the API
(GET /api/v2/silences) and on the alert, then expired from the page."""
import json
import time
import urllib.request


def setup(b):
    b.import_text('vg_web_alert_load{instance="vg-alerts-host"} 9 %d\n' % (time.time() * 1000))


def silences(b):
    return [s for s in b.api("/api/v2/silences") if any(m.get("value") == "vg-alerts-host" for m in s["matchers"])]


def case_alerts_listed_with_state_and_age(b):
    b.wait(lambda: len(b.api("/api/v1/alerts")["data"]["alerts"]) >= 2, "the rules' alerts", timeout=10)
    b.open("/alerts")
    b.wait_attr("body", "data-ready", "1")
    got = b.js("return Array.from(document.querySelectorAll('#a-rows tr')).map(r => [r.dataset.alertname, r.dataset.state, r.children[3].textContent])")
    states = {name: st for name, st, age in got}
    assert states.get("VgWebHighLoad") == "firing" and states.get("VgWebPending") == "pending", got
    assert all(age.endswith("s") or age.endswith("m") for _, _, age in got), got


def case_rules_show_groups_and_last_evaluation(b):
    b.open("/rules")
    b.wait_attr("body", "data-ready", "1")
    text = b.text('section.pg-group[data-group="vg_web_pages"]')
    assert "every 1s" in text and "evaluated" in text and "ago" in text, text
    assert b.js("return document.querySelectorAll('section.pg-group[data-group=\"vg_web_pages\"] tbody tr').length") == 3
    assert b.attr('tr[data-rule="VgWebHighLoad"]', "data-health") == "ok"


def case_silence_from_alert_then_expire(b):
    b.open("/alerts")
    b.wait_attr("body", "data-ready", "1")
    b.click('tr[data-alertname="VgWebHighLoad"] a.pg-silence-link')
    b.wait(lambda: b.js("return location.pathname") == "/silences", "the silences page")
    b.wait(lambda: not b.js("return document.getElementById('s-form').hidden"), "the form")
    m = b.js("return document.getElementById('s-matchers').value")
    assert 'alertname="VgWebHighLoad"' in m and 'instance="vg-alerts-host"' in m and 'severity="page"' in m, m
    b.type("#s-author", "web test")
    b.type("#s-comment", "maintenance of vg-alerts-host")
    b.click("#s-create")
    b.wait(lambda: silences(b), "the silence in GET /api/v2/silences")
    s = silences(b)[0]
    assert s["status"]["state"] == "active" and s["createdBy"] == "web test", s
    assert {(x["name"], x["value"], x["isRegex"]) for x in s["matchers"]} >= {("alertname", "VgWebHighLoad", False)}
    b.wait_attr('tr[data-id="%s"]' % s["id"], "data-state", "active")
    # The alert says so.
    b.wait(lambda: s["id"] in json.dumps(b.api("/api/v2/alerts")), "the alert silenced by it")
    b.open("/alerts")
    b.wait_attr("body", "data-ready", "1")
    assert b.text('tr[data-alertname="VgWebHighLoad"] td:nth-child(6)') == "silenced"
    # Expire it from the page.
    b.open("/silences")
    b.wait_attr("body", "data-ready", "1")
    b.click('tr[data-id="%s"] button.pg-expire' % s["id"])
    b.wait(lambda: silences(b)[0]["status"]["state"] == "expired", "the silence expired")
    b.wait(lambda: not b.find_all('tr[data-id="%s"]' % s["id"]), "the row gone (expired ones hidden)")


def case_bad_matcher_is_refused_on_the_page(b):
    b.open("/silences?new=1&matchers=" + urllib.request.quote("not a matcher"))
    b.wait_attr("body", "data-ready", "1")
    b.type("#s-comment", "x")
    b.click("#s-create")
    b.wait(lambda: not b.js("return document.getElementById('s-error').hidden"), "the error")
    assert "not a matcher" in b.text("#s-error")
