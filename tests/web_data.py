#!/usr/bin/env python3
"""web_data.py: generated agent-style data for the web pages' browser
tests and the fleet page's benchmark, as Prometheus text lines with
millisecond timestamps (what POST /api/v1/import/prometheus takes).

  web_data.py [--hosts N] [--pools P] [--minutes M] [--end UNIX_S]
              [--fleet-only] [--silent K] [--prefix PREFIX]

Every host is instance="<PREFIX>host-<i>", pool="<PREFIX>pool-<i % P>"
(PREFIX "" by default: test files sharing a receiver give their own), with the
node_exporter names the agent sends (agent/collect/: CPU per mode and
CPU, load, memory, filesystems, disks, network, uname, boot time) and
the agent's own vigil_agent_* metrics, one sample a minute for M minutes
up to END, plus vigil_agent_last_seen_timestamp_seconds as the receiver
writes it. --fleet-only writes node_load1 and the last-seen series alone
(the fleet page's two queries); the last K hosts stop early (silent
agents: host N-K+j, j = 1..K, 3*j minutes before END, while their
last-seen series goes on with the time of their last batch). Deterministic: the same arguments give the same bytes.
"""
import argparse
import random
import sys
import time


def generate(argv):
    """The lines for argv (the command line's arguments), as one string."""
    import io
    buf = io.StringIO()
    main(argv, buf)
    return buf.getvalue()


def main(argv=None, out=sys.stdout):
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--pools", type=int, default=2)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--end", type=int, default=int(time.time()))
    ap.add_argument("--fleet-only", action="store_true")
    ap.add_argument("--silent", type=int, default=0)
    ap.add_argument("--prefix", default="")
    a = ap.parse_args(argv)
    rnd = random.Random(42)
    w = out.write
    modes = ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"]
    share = {"user": 0.25, "system": 0.08, "idle": 0.6, "iowait": 0.04, "irq": 0.005, "softirq": 0.01,
             "steal": 0.005, "nice": 0.01}
    for h in range(a.hosts):
        inst = "%shost-%d" % (a.prefix, h)
        lab = 'instance="%s",pool="%spool-%d"' % (inst, a.prefix, h % a.pools)
        j = h - (a.hosts - a.silent) + 1  # 1..K for the silent hosts
        stop = a.end - min(j * 180, a.minutes * 60) if j > 0 else a.end
        base = rnd.random()
        ts = list(range(a.end - a.minutes * 60, a.end + 1, 60))
        for k, t in enumerate(ts):
            ms = t * 1000
            # As the receiver writes it: every agent every round, its
            # value the time of the agent's last batch.
            w('vigil_agent_last_seen_timestamp_seconds{instance="%s"} %d %d\n' % (inst, min(t, stop), ms))
            if t > stop:
                continue
            load = 0.5 + 2 * base + 0.5 * ((k * 7 + h) % 11) / 11
            w('node_load1{%s} %.3f %d\n' % (lab, load, ms))
            if a.fleet_only:
                continue
            w('node_load5{%s} %.3f %d\n' % (lab, load * 0.9, ms))
            w('node_load15{%s} %.3f %d\n' % (lab, load * 0.8, ms))
            for cpu in range(2):
                for m in modes:
                    w('node_cpu_seconds_total{%s,cpu="%d",mode="%s"} %.2f %d\n'
                      % (lab, cpu, m, 1e5 + h * 1000 + share[m] * k * 60, ms))
            total = 8 << 30
            w('node_memory_MemTotal_bytes{%s} %d %d\n' % (lab, total, ms))
            w('node_memory_MemAvailable_bytes{%s} %d %d\n' % (lab, int(total * (0.4 + 0.2 * base) - k * 1e6), ms))
            for dev, mnt, size in (("/dev/sda1", "/", 50 << 30), ("/dev/sdb1", "/data", 500 << 30)):
                fl = 'device="%s",fstype="ext4",mountpoint="%s"' % (dev, mnt)
                w('node_filesystem_size_bytes{%s,%s} %d %d\n' % (lab, fl, size, ms))
                w('node_filesystem_avail_bytes{%s,%s} %d %d\n' % (lab, fl, int(size * (0.5 - 0.001 * k)), ms))
            for dev in ("sda", "sdb"):
                w('node_disk_read_bytes_total{%s,device="%s"} %d %d\n' % (lab, dev, k * 60 * 200000, ms))
                w('node_disk_written_bytes_total{%s,device="%s"} %d %d\n' % (lab, dev, k * 60 * 500000, ms))
            for dev in ("lo", "eth0"):
                w('node_network_receive_bytes_total{%s,device="%s"} %d %d\n' % (lab, dev, k * 60 * 1000000, ms))
                w('node_network_transmit_bytes_total{%s,device="%s"} %d %d\n' % (lab, dev, k * 60 * 700000, ms))
            w('node_boot_time_seconds{%s} %d %d\n' % (lab, a.end - 86400 * 3, ms))
            w('node_uname_info{%s,machine="x86_64",release="6.1.0-18-amd64",sysname="Linux",nodename="%s"} 1 %d\n'
              % (lab, inst, ms))
            w('vigil_agent_rounds_total{%s} %d %d\n' % (lab, k * 6, ms))
            w('vigil_agent_queue_bytes{%s} %d %d\n' % (lab, (k % 5) * 4096, ms))
            w('vigil_agent_collect_duration_seconds{%s} %.4f %d\n' % (lab, 0.002 + 0.001 * base, ms))
            for name in ("collector_errors", "samples_dropped", "batches_dropped", "connect_failures"):
                w('vigil_agent_%s_total{%s} %d %d\n' % (name, lab, k // 10, ms))


if __name__ == "__main__":
    main()
