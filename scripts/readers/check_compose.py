#!/usr/bin/env python3
"""Checks of docker-compose.yml that no schema validator does (run from the repo root).

- every depends_on target exists; conditions are valid; api and cdc wait for migrate to complete;
- every image is pinned (a tag other than latest);
- every bind-mounted host path exists (k6/ may be missing: it belongs to the load-test work);
- environment of brewlytics services uses only names src/config.rs reads, plus METABASE_*;
- every ${VAR} interpolated is listed in .env.example, and every setting of src/config.rs is too;
- named volumes are declared; the metabase/prometheus/grafana images have the pinned versions.
Needs python3 with PyYAML (the dbt venv has it). Exit 1 on any problem.
"""
import os
import re
import sys

import yaml

PINNED = {
    "oltp-db": "postgres:15.10-bookworm",
    "olap-db": "postgres:15.10-bookworm",
    "metabase-db": "postgres:15.10-bookworm",
    "metabase": "metabase/metabase:v0.50.36",
    "prometheus": "prom/prometheus:v2.53.2",
    "grafana": "grafana/grafana:11.2.0",
    "k6": "grafana/k6:0.54.0",
}
OPTIONAL_PATHS = {"./k6"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def main():
    text = open("docker-compose.yml").read()
    doc = yaml.safe_load(text)
    services = doc["services"]
    problems, notes = [], []
    config_envs = set(re.findall(r'env = "([A-Z0-9_]+)"', open("src/config.rs").read()))
    allowed = config_envs | {"METABASE_HOST", "METABASE_USER", "METABASE_PASSWORD"}
    example = set(re.findall(r"^#? ?([A-Z0-9_]+)=", open(".env.example").read(), re.M))

    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
        for dep, spec in items:
            if dep not in services:
                problems.append(f"{name}: depends_on unknown service {dep}")
            cond = (spec or {}).get("condition", "service_started")
            if cond not in CONDITIONS:
                problems.append(f"{name}: bad condition {cond}")
            if "healthy" in cond and "healthcheck" not in services.get(dep, {}):
                problems.append(f"{name}: waits for {dep} to be healthy but it has no healthcheck")
        image = svc.get("image", "")
        if not svc.get("build") and (":" not in image or image.endswith(":latest")):
            problems.append(f"{name}: image {image!r} is not pinned")
        if name in PINNED and image != PINNED[name]:
            problems.append(f"{name}: image {image!r}, expected {PINNED[name]}")
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source")
            if src.startswith((".", "/")):
                if not os.path.exists(src):
                    (notes if src in OPTIONAL_PATHS else problems).append(f"{name}: mounted path {src} does not exist")
            elif src not in (doc.get("volumes") or {}):
                problems.append(f"{name}: named volume {src} is not declared")
        if svc.get("image", "").startswith("brewlytics"):
            for var in svc.get("environment", {}):
                if var not in allowed:
                    problems.append(f"{name}: env {var} is not read by the brewlytics binary")

    for svc in ("api", "cdc"):
        cond = services[svc].get("depends_on", {}).get("migrate", {}).get("condition")
        if cond != "service_completed_successfully":
            problems.append(f"{svc}: must wait for migrate with service_completed_successfully")

    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for var in sorted(set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", code))):
        if var not in example:
            problems.append(f"${{{var}}} is interpolated but not listed in .env.example")
    for var in sorted(allowed - example):
        problems.append(f"{var} is missing from .env.example")

    print(f"{len(services)} services, {len(problems)} problem(s)")
    for n in notes:
        print("NOTE:", n)
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
