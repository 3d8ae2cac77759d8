"""browser_status.py: the status page (/status) draws what
GET /api/v1/status/vigil answers: ingest, series, WAL, blocks per tier,
members."""


def case_status_shows_receiver_state(b):
    st = b.api("/api/v1/status/vigil")["data"]
    b.open("/status")
    b.wait_attr("body", "data-ready", "1")
    assert st["version"] in b.text("#st-summary")
    assert "samples/s" in b.text("#st-rate")
    assert b.text("#st-wal").splitlines()[1] == "writing", b.text("#st-wal")
    tiers = b.js("return Array.from(document.querySelectorAll('#st-tier-rows tr')).map(r => r.dataset.tier)")
    assert tiers == ["raw", "1m", "1h"], tiers
    assert "stands alone" in b.text("#st-members")
