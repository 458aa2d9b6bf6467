#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Holds the Prometheus rules and the Grafana dashboard to what exists.

Every PromQL expression of deploy/prometheus/*.rules.yml and every query of
deploy/grafana/*.json may only name
  - a metric family the agent writes: a row "| `abusewatch_...` | TYPE |"
    of docs/metrics.md (tests/e2e/test_textfile.sh holds that list to a
    real textfile);
  - what node_exporter's textfile collector says about the file:
    node_textfile_mtime_seconds, node_textfile_scrape_error;
  - a recording rule of the rules files;
  - ALERTS, only with an alertname matcher that matches alerts of the rules
    files;
and must name at least one of them. The dashboard must also hang together:
unique panel ids, panels inside the 24-column grid, a datasource on every
query, template variables that exist, and the four views the dashboard is
for (usage against limits, top offenders, alerts, agent health).

    check_deploy_queries.py [--rules FILE]... [--dashboard FILE]...
                            [--metrics-doc FILE]

Without arguments, the repository's files. Prints one line per problem and
exits 1 when there is any, else prints a summary and exits 0; exits 2 when
a file cannot be read (or PyYAML is missing: Debian's python3-yaml).
"""
import argparse
import glob
import json
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("check_deploy_queries: no yaml module for python3 (Debian package python3-yaml)",
          file=sys.stderr)
    sys.exit(2)

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NODE_TEXTFILE_METRICS = {"node_textfile_mtime_seconds", "node_textfile_scrape_error"}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "bool", "offset", "inf", "nan", "atan2"}
# Variables Grafana itself defines.
GRAFANA_BUILTIN_VARS = {"__range", "__rate_interval", "__interval", "__range_s", "__range_ms",
                        "__interval_ms"}

DOC_ROW = re.compile(r"^\| `(abusewatch_[a-z0-9_]+)` \| *(counter|gauge) *\|")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
MATCHERS = re.compile(r"\{[^{}]*\}")
BRACKETS = re.compile(r"\[[^\]]*\]")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?|\[\[(\w+)\]\]")
IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)")
ALERTS_SELECTOR = re.compile(r"\bALERTS(?:_FOR_STATE)?\s*(\{[^{}]*\})?")
ALERTNAME_MATCHER = re.compile(r'alertname\s*(=~|=|!=|!~)\s*"((?:[^"\\]|\\.)*)"')


def documented_families(path):
    families = {}
    with open(path, encoding="utf-8") as doc:
        for line in doc:
            match = DOC_ROW.match(line)
            if match:
                families[match.group(1)] = match.group(2)
    return families


def load_rules(paths):
    """(records, alerts, [(where, expr)]) of every rule file."""
    records, alerts, exprs = set(), set(), []
    for path in paths:
        with open(path, encoding="utf-8") as source:
            document = yaml.safe_load(source)
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("record") or rule.get("alert")
                (records if "record" in rule else alerts).add(name)
                exprs.append(("%s: %s %s" % (os.path.basename(path), group.get("name"), name),
                              str(rule.get("expr", ""))))
    return records, alerts, exprs


def metric_names(expr):
    """The metric names an expression selects, and the ALERTS selectors' matchers."""
    alerts_matchers = [m.group(1) or "" for m in ALERTS_SELECTOR.finditer(expr)]
    text = VARIABLE.sub(" ", expr)
    # Order matters: a string may hold braces, a matcher may hold brackets.
    text = STRING.sub('""', text)
    text = MATCHERS.sub(" ", text)
    text = BRACKETS.sub(" ", text)
    text = GROUPING.sub(" ", text)
    names = []
    for match in IDENTIFIER.finditer(text):
        word = match.group(1)
        rest = text[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        if word.lower() in PROMQL_KEYWORDS:
            continue
        names.append(word)
    return names, alerts_matchers


def check_expr(where, expr, allowed, alerts, problems):
    names, alerts_matchers = metric_names(expr)
    known = [name for name in names if name in allowed or name in ("ALERTS", "ALERTS_FOR_STATE")]
    for name in names:
        if name not in known:
            problems.append("%s: names %s, which is no metric the agent or node_exporter's "
                            "textfile collector writes and no recording rule: %s"
                            % (where, name, expr))
    if not names:
        problems.append("%s: names no metric at all: %s" % (where, expr))
    for matchers in alerts_matchers:
        match = ALERTNAME_MATCHER.search(matchers)
        if not match:
            problems.append("%s: ALERTS without an alertname matcher (which alerts?): %s"
                            % (where, expr))
            continue
        op, value = match.group(1), match.group(2)
        if op == "=":
            hits = {value} & alerts
        elif op == "=~":
            hits = {name for name in alerts if re.fullmatch(value, name)}
        else:
            hits = set()
        if not hits:
            problems.append("%s: ALERTS{alertname%s\"%s\"} matches no alert of the rules files"
                            % (where, op, value))
    return names


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def check_dashboard(path, allowed, alerts, problems):
    with open(path, encoding="utf-8") as source:
        dashboard = json.load(source)
    where_file = os.path.basename(path)
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dashboard:
            problems.append("%s: no %s" % (where_file, key))
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
    used_names = set()
    query_count = 0

    def variables_of(where, text):
        for match in VARIABLE.finditer(text):
            name = match.group(1) or match.group(2)
            if name not in variables and name not in GRAFANA_BUILTIN_VARS:
                problems.append("%s: uses $%s, which is no template variable" % (where, name))

    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        where = "%s: variable %s" % (where_file, variable.get("name"))
        variables_of(where, query)
        match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query or "")
        expr = match.group(1) if match else query
        used_names.update(check_expr(where, expr, allowed, alerts, problems))
        query_count += 1

    ids = set()
    for panel in walk_panels(dashboard.get("panels", [])):
        where = "%s: panel %r" % (where_file, panel.get("title"))
        if panel.get("id") in ids:
            problems.append("%s: id %s used twice" % (where, panel.get("id")))
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24 or grid.get("w", 0) <= 0:
            problems.append("%s: gridPos %s is outside the 24-column grid" % (where, grid))
        if panel.get("type") in ("row", "text"):
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append("%s: no query" % where)
        refs = set()
        for target in targets:
            expr = target.get("expr", "")
            if target.get("refId") in refs:
                problems.append("%s: refId %s used twice" % (where, target.get("refId")))
            refs.add(target.get("refId"))
            if not (target.get("datasource") or panel.get("datasource")):
                problems.append("%s: query %s has no datasource" % (where, target.get("refId")))
            variables_of(where, expr)
            used_names.update(check_expr(where, expr, allowed, alerts, problems))
            query_count += 1

    # What the dashboard is for.
    views = {
        "usage against limits": {"abusewatch_tenant_usage_ratio", "abusewatch_tenant_limit"},
        "top offenders": {"instance_tenant:abusewatch_tenant_usage_ratio:max"},
        "alerts": {"abusewatch_tenant_over_limit", "abusewatch_alerts_total", "ALERTS"},
        "agent health": {"abusewatch_build_info", "abusewatch_events_lost_total",
                         "instance:abusewatch_textfile_age:seconds"},
    }
    for view, needed in views.items():
        missing = needed - used_names
        if missing:
            problems.append("%s: the %s view lacks %s" % (where_file, view,
                                                          ", ".join(sorted(missing))))
    return query_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", action="append")
    parser.add_argument("--dashboard", action="append")
    parser.add_argument("--metrics-doc", default=os.path.join(REPO, "docs", "metrics.md"))
    args = parser.parse_args()
    rules = args.rules or sorted(glob.glob(os.path.join(REPO, "deploy", "prometheus", "*.rules.yml")))
    dashboards = args.dashboard or sorted(glob.glob(os.path.join(REPO, "deploy", "grafana", "*.json")))

    try:
        families = documented_families(args.metrics_doc)
        records, alerts, rule_exprs = load_rules(rules)
        problems = []
        if not families:
            problems.append("%s: no metric family rows" % args.metrics_doc)
        if not rules or not dashboards:
            problems.append("no rules files or no dashboards to check")
        allowed = set(families) | NODE_TEXTFILE_METRICS | records
        for where, expr in rule_exprs:
            check_expr(where, expr, allowed, alerts, problems)
        queries = sum(check_dashboard(path, allowed, alerts, problems) for path in dashboards)
    except (OSError, ValueError, yaml.YAMLError) as err:
        print("check_deploy_queries: %s" % err, file=sys.stderr)
        return 2

    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("ok: %d rule expressions, %d dashboard queries; %d agent families, %d recording "
          "rules, %d alerts" % (len(rule_exprs), queries, len(families), len(records),
                                len(alerts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
