#!/usr/bin/env python3
"""Serve fake /metrics for the CDC daemon and the API, shaped like the real ones (src/telemetry.rs,
metrics-exporter-prometheus text format), with counters and histograms that grow on every scrape.
Used only to check that the Grafana panel expressions and alert rules evaluate to data without
building the Rust binary.

Usage: fake_metrics_exporter.py [CDC_PORT=19898] [API_PORT=18000]   (binds 127.0.0.1)
"""
import http.server
import random
import sys
import threading
import time

SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
ROWS = [1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0]
lock = threading.Lock()


class Hist:
    def __init__(self, buckets):
        self.buckets, self.counts, self.sum, self.count = buckets, [0] * len(buckets), 0.0, 0

    def observe(self, v):
        for i, b in enumerate(self.buckets):
            if v <= b:
                self.counts[i] += 1
        self.sum += v
        self.count += 1

    def render(self, name, labels=""):
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{b}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        lab = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{lab} {self.sum}", f"{name}_count{lab} {self.count}"]
        return out


state = {"changes": {}, "batches": 0, "applied": 0, "http": {}, "t": time.time()}
fresh, batch_rows = Hist(SECONDS), Hist(ROWS)
phases = {p: Hist(SECONDS) for p in ("read", "transform", "write", "commit")}
latency = {}


def tick():
    with lock:
        for table in ("orders", "order_items", "payments", "inventory_movements"):
            for op in ("I", "U"):
                k = (table, op)
                state["changes"][k] = state["changes"].get(k, 0) + random.randint(5, 50)
        state["batches"] += 3
        state["applied"] += 300
        for _ in range(20):
            fresh.observe(random.uniform(0.05, 0.8))
        batch_rows.observe(random.randint(20, 200))
        for h in phases.values():
            h.observe(random.uniform(0.001, 0.02))
        for route, method in (("/orders/new", "POST"), ("/products/new", "POST"), ("/employees/active", "GET")):
            k = (method, route, "200")
            state["http"][k] = state["http"].get(k, 0) + random.randint(10, 40)
            latency.setdefault(k, Hist(SECONDS))
            for _ in range(10):
                latency[k].observe(random.uniform(0.002, 0.05))


def cdc_text():
    tick()
    with lock:
        out = ["# HELP cdc_changes_applied_total Changes applied.", "# TYPE cdc_changes_applied_total counter"]
        out += [f'cdc_changes_applied_total{{table="{t}",op="{o}"}} {v}' for (t, o), v in state["changes"].items()]
        out += ["# TYPE cdc_batches_total counter", f"cdc_batches_total {state['batches']}"]
        out += ["# TYPE cdc_batch_rows histogram"] + batch_rows.render("cdc_batch_rows")
        out += ["# TYPE cdc_batch_duration_seconds histogram"]
        for p, h in phases.items():
            out += h.render("cdc_batch_duration_seconds", f'phase="{p}"')
        out += ["# TYPE cdc_freshness_seconds histogram"] + fresh.render("cdc_freshness_seconds")
        gauges = {
            "cdc_backlog_rows": random.randint(0, 40), "cdc_lag_seconds": round(random.uniform(0, 0.5), 3),
            "cdc_oldest_open_transaction_seconds": round(random.uniform(0, 2), 3),
            "cdc_checkpoint_applied_changes": state["applied"], "cdc_checkpoint_window_xmax": 1000 + state["batches"],
            "cdc_last_success_timestamp_seconds": time.time(), "cdc_dead_letters_pending": 0, "cdc_active": 1,
        }
        for k, v in gauges.items():
            out += [f"# TYPE {k} gauge", f"{k} {v}"]
        return "\n".join(out) + "\n"


def api_text():
    tick()
    with lock:
        out = ["# TYPE http_requests_total counter"]
        out += [f'http_requests_total{{method="{m}",route="{r}",status="{s}"}} {v}' for (m, r, s), v in state["http"].items()]
        out += ["# TYPE http_request_duration_seconds histogram"]
        for (m, r, s), h in latency.items():
            out += h.render("http_request_duration_seconds", f'method="{m}",route="{r}",status="{s}"')
        return "\n".join(out) + "\n"


def serve(port, render):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = render().encode() if self.path == "/metrics" else b"not found\n"
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


if __name__ == "__main__":
    cdc_port = int(sys.argv[1]) if len(sys.argv) > 1 else 19898
    api_port = int(sys.argv[2]) if len(sys.argv) > 2 else 18000
    threading.Thread(target=serve, args=(cdc_port, cdc_text), daemon=True).start()
    serve(api_port, api_text)
