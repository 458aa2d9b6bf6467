# SPDX-License-Identifier: GPL-2.0
"""What the fault tests' sinks received, against the agent's events log.

tests/tools/fault_server.py writes one JSON line per request it answers:
{"kind": "webhook" | "alertmanager", "body": ..., "at": epoch seconds}.
The tests ask which records of the events log reached a sink, and when.
"""
import datetime
import json


def events(path):
    """The records of an events log (JSON lines)."""
    return [json.loads(line) for line in open(path) if line.strip()]


def received(path):
    """(webhooks, alerts) that a fault server wrote to path: lists of
    (arrival, body) for each webhook request and each Alertmanager alert."""
    hooks, alerts = [], []
    for line in open(path):
        request = json.loads(line)
        if request["kind"] == "webhook":
            hooks.append((request.get("at"), request["body"]))
        else:
            alerts.extend((request.get("at"), alert) for alert in request["body"] or [])
    return hooks, alerts


def alert_carries(record, alert):
    """Whether an Alertmanager alert delivers an events-log record: the
    tenant's, ending at the resolution's time for a resolved record, or
    ending after the firing record's time for a firing one."""
    if alert.get("labels", {}).get("tenant") != record["tenant"]:
        return False
    if record["state"] == "resolved":
        return alert.get("endsAt") == record["time"]
    return alert.get("endsAt", "") > record["time"]


def epoch(text):
    """A record's "time" in seconds since the epoch."""
    at = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return at.replace(tzinfo=datetime.timezone.utc).timestamp()
