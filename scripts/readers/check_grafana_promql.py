#!/usr/bin/env python3
"""Check the Grafana dashboards: datasource uid, grid, and every panel expression.

Usage: check_grafana_promql.py [--prometheus http://127.0.0.1:9090] [DASHBOARD.json ...]

Static checks: each panel and target uses datasource uid `prometheus`; gridPos fits 24 columns
without overlap; no Grafana-only variables ($__rate_interval …); every metric name in an expression
is defined in src/telemetry.rs (plus _bucket/_sum/_count of histograms, and `up`).
With --prometheus: each expression is evaluated (instant query) and must succeed with data.
"""
import argparse
import glob
import json
import re
import sys
import urllib.parse
import urllib.request

FUNCS = {"sum", "rate", "irate", "increase", "histogram_quantile", "max", "min", "avg", "count", "by", "without",
         "on", "ignoring", "or", "and", "unless", "vector", "time", "deriv", "delta", "changes", "absent", "le",
         "group_left", "group_right", "offset", "bool", "clamp_min", "clamp_max", "topk", "bottomk", "abs"}


def telemetry_metrics(path="src/telemetry.rs"):
    names = set(re.findall(r'pub const \w+: &str = "([a-z0-9_]+)";', open(path).read()))
    hist = {n for n in names if n.endswith("_seconds") or n == "cdc_batch_rows"}
    return names | {h + s for h in hist for s in ("_bucket", "_sum", "_count")} | {"up"}


def metric_names(expr):
    no_strings = re.sub(r'"[^"]*"', '""', expr)
    no_labels = re.sub(r"\{[^}]*\}", "", no_strings)
    no_by = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_labels)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_by)
    return {t for t in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_ranges) if t not in FUNCS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus")
    ap.add_argument("dashboards", nargs="*")
    args = ap.parse_args()
    files = args.dashboards or sorted(glob.glob("grafana/dashboards/*.json"))
    known = telemetry_metrics()
    problems, total = [], 0
    for f in files:
        d = json.load(open(f))
        cells = {}
        for p in d["panels"]:
            t = p["title"]
            if p.get("datasource", {}).get("uid") != "prometheus":
                problems.append(f"{f}: {t}: panel datasource uid is not 'prometheus'")
            g = p["gridPos"]
            if g["x"] + g["w"] > 24:
                problems.append(f"{f}: {t}: gridPos beyond 24 columns")
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if cells.setdefault((x, y), t) != t:
                        problems.append(f"{f}: {t}: overlaps {cells[(x, y)]}")
                        break
                else:
                    continue
                break
            for tg in p["targets"]:
                total += 1
                e = tg["expr"]
                if tg.get("datasource", {}).get("uid") != "prometheus":
                    problems.append(f"{f}: {t}: target datasource uid is not 'prometheus'")
                if "$" in e:
                    problems.append(f"{f}: {t}: Grafana variable in {e!r}")
                unknown = metric_names(e) - known
                if unknown:
                    problems.append(f"{f}: {t}: unknown metric(s) {sorted(unknown)} in {e!r}")
                if args.prometheus:
                    url = args.prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": e})
                    try:
                        res = json.load(urllib.request.urlopen(url, timeout=10))
                    except Exception as ex:  # HTTP 400 on a bad expression
                        problems.append(f"{f}: {t}: {e!r}: {ex}")
                        continue
                    n = len(res.get("data", {}).get("result", []))
                    if res.get("status") != "success" or n == 0:
                        problems.append(f"{f}: {t}: {e!r}: no data ({res.get('status')})")
                    else:
                        print(f"  ok ({n} series) {e}")
    print(f"{total} expressions in {len(files)} dashboards, {len(problems)} problem(s)")
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
