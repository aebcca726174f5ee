#!/usr/bin/env python3
"""Check metabase/dashboard.json: its shape, the 24-column layout, and every card's SQL.

Usage:
    scripts/readers/check_metabase_cards.py [--dashboard metabase/dashboard.json] [--db DBNAME ...]

Without --db only the static checks run. With --db, each card's SQL is run with psql (libpq env:
PGHOST, PGPORT, PGUSER, PGPASSWORD; run it as analytics_reader to check Metabase's privileges)
against each database, and its output columns must equal the declared `columns`, in order.
Pass a populated warehouse and an empty one (both after `dbt build`). Exit 1 on any problem.
Needs only python3 and psql.
"""
import argparse
import csv
import io
import json
import subprocess
import sys

DISPLAYS = {"table", "line", "bar", "pie", "row", "scalar"}
GRID = 24


def static_checks(doc):
    problems = []
    if doc.get("dashboard", {}).get("name") != "Coffee Shop Overview":
        problems.append("dashboard.name must be 'Coffee Shop Overview'")
    if doc.get("database", {}).get("name") != "coffee_olap":
        problems.append("database.name must be 'coffee_olap'")
    cards = doc.get("cards", [])
    if not cards:
        problems.append("no cards")
    names = [c.get("name") for c in cards]
    for n in {n for n in names if names.count(n) > 1}:
        problems.append(f"duplicate card name {n!r}")
    cells = {}
    for c in cards:
        name = c.get("name")
        for key in ("name", "description", "display", "sql", "columns", "layout"):
            if not c.get(key):
                problems.append(f"{name}: missing {key}")
        if c.get("display") not in DISPLAYS:
            problems.append(f"{name}: display {c.get('display')!r} not in {sorted(DISPLAYS)}")
        cols = c.get("columns", [])
        if len(cols) != len(set(cols)):
            problems.append(f"{name}: duplicate declared columns")
        lay = c.get("layout", {})
        try:
            col, row, sx, sy = (int(lay[k]) for k in ("col", "row", "size_x", "size_y"))
        except (KeyError, TypeError, ValueError):
            problems.append(f"{name}: layout needs integer col, row, size_x, size_y")
            continue
        if col < 0 or row < 0 or sx < 1 or sy < 1 or col + sx > GRID:
            problems.append(f"{name}: layout {lay} outside the {GRID}-column grid")
        for x in range(col, col + sx):
            for y in range(row, row + sy):
                other = cells.setdefault((x, y), name)
                if other != name:
                    problems.append(f"{name}: overlaps {other} at col {x}, row {y}")
                    break
            else:
                continue
            break
    return problems


def run_sql(db, sql):
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-d", db, "-f", "-"],
        input=sql, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    return rows, None


def sql_checks(doc, db):
    problems = []
    for c in doc["cards"]:
        rows, err = run_sql(db, c["sql"])
        if err:
            problems.append(f"[{db}] {c['name']}: {err}")
            continue
        header, body = rows[0], rows[1:]
        if header != c["columns"]:
            problems.append(f"[{db}] {c['name']}: columns {header} != declared {c['columns']}")
        else:
            print(f"  [{db}] {c['name']}: {len(body)} row(s) OK")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", default="metabase/dashboard.json")
    ap.add_argument("--db", action="append", default=[])
    args = ap.parse_args()
    with open(args.dashboard) as f:
        doc = json.load(f)
    problems = static_checks(doc)
    print(f"static: {len(doc.get('cards', []))} cards, {len(problems)} problem(s)")
    for db in args.db:
        problems += sql_checks(doc, db)
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
