#!/usr/bin/env python3
"""Checks dashboards/*.ndjson: every line and every nested JSON string parses, ids are unique,
every reference (index pattern of a visualization, panel of a dashboard) resolves to an object of
the right type in the same files, the three IMN dashboards exist, dashboards/imn.ndjson is what
scripts/generate-dashboards writes, and every field a visualization uses exists:

- a metric named in a query (`name.keyword:"..."`) is one IMN's code declares (its name appears
  in Sources/), and with `--telemetry` one that IMN really exported;
- with `--telemetry FILE` (what `imn otlp-sink` received, one JSON item per line, as UpTests
  writes it): every `metric.attributes.<k>` is a data-point attribute of that metric, every
  `resource.attributes.<k>` a resource attribute, every `span.attributes.<k>` an attribute of a
  span of the service the query names, and every `serviceName` one that sent telemetry.

Prints one line per problem and exits 1 if there is any.

    check-dashboards.py REPOSITORY [--telemetry FILE]
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

args = sys.argv[1:]
telemetry_file = None
if "--telemetry" in args:
    i = args.index("--telemetry")
    telemetry_file = args[i + 1]
    del args[i:i + 2]
root = pathlib.Path(args[0] if args else ".")
problems = []

# Fields Data Prepper writes itself (not from our attributes), by index pattern title.
BUILT_IN = {
    "metrics-otel-v1*": {"name", "name.keyword", "value", "time", "serviceName", "kind", "unit", "count", "sum", "min", "max"},
    "otel-v1-apm-span*": {"name", "serviceName", "kind", "durationInNanos", "startTime", "endTime", "traceId", "spanId",
                          "status.code", "traceGroup"},
    "logs-otel-v1*": {"time", "body", "serviceName", "severityText", "traceId", "spanId"},
}
NESTED = ["visState", "uiStateJSON", "panelsJSON", "optionsJSON"]

objects = {}
for path in sorted((root / "dashboards").glob("*.ndjson")):
    for number, text in enumerate(path.read_text().splitlines(), 1):
        where = f"{path.name}:{number}"
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON: {error}")
            continue
        if "exportedCount" in item:
            continue
        for key in ("type", "id", "attributes", "references"):
            if key not in item:
                problems.append(f"{where}: no '{key}'")
        attributes = item.get("attributes", {})
        for key in NESTED:
            if key in attributes:
                try:
                    attributes[key] = json.loads(attributes[key])
                except (TypeError, json.JSONDecodeError) as error:
                    problems.append(f"{where}: {key} is not a JSON string: {error}")
        meta = attributes.get("kibanaSavedObjectMeta", {})
        if "searchSourceJSON" in meta:
            try:
                meta["searchSourceJSON"] = json.loads(meta["searchSourceJSON"])
            except (TypeError, json.JSONDecodeError) as error:
                problems.append(f"{where}: searchSourceJSON is not a JSON string: {error}")
        if item.get("id") in objects:
            problems.append(f"{where}: id '{item['id']}' used twice")
        item["where"] = where
        objects[item.get("id")] = item


def resolve(item, name):
    """The object a reference of `item` called `name` points at, or None (with a problem)."""
    for reference in item.get("references", []):
        if reference["name"] == name:
            target = objects.get(reference["id"])
            if target is None or target["type"] != reference["type"]:
                problems.append(f"{item['where']}: reference '{name}' → {reference['type']} '{reference['id']}' does not exist")
                return None
            return target
    problems.append(f"{item['where']}: no reference named '{name}'")
    return None


for item in objects.values():
    if item["type"] == "visualization":
        source = item["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", {})
        if isinstance(source, dict) and "indexRefName" in source:
            item["index"] = resolve(item, source["indexRefName"])
    if item["type"] == "dashboard":
        for panel in item["attributes"].get("panelsJSON", []):
            resolve(item, panel.get("panelRefName", "?"))
titles = {o["attributes"].get("title") for o in objects.values() if o.get("type") == "dashboard"}
for wanted in ("IMN measurements", "IMN agents", "IMN service"):
    if wanted not in titles:
        problems.append(f"no dashboard titled '{wanted}'")

# dashboards/imn.ndjson is generated.
with tempfile.NamedTemporaryFile(suffix=".ndjson") as fresh:
    subprocess.run([sys.executable, str(root / "scripts/generate-dashboards"), fresh.name], check=True, capture_output=True)
    if pathlib.Path(fresh.name).read_text() != (root / "dashboards/imn.ndjson").read_text():
        problems.append("dashboards/imn.ndjson differs from what scripts/generate-dashboards writes: run it and commit")

# What IMN exports.
sources = "\n".join(p.read_text() for p in (root / "Sources").rglob("*.swift"))
metrics, resources, spans, services = {}, {}, {}, set()
if telemetry_file:
    for text in pathlib.Path(telemetry_file).read_text().splitlines():
        item = json.loads(text)
        services.add(item["service"])
        if item["signal"] == "metrics":
            name = item["metric"]["name"]
            metrics.setdefault(name, set()).update(k for p in item["metric"].get("points", []) for k in p.get("attributes", {}))
            resources.setdefault(name, set()).update(item["resource"])
        if item["signal"] == "traces":
            spans.setdefault(item["service"], set()).update(item["span"]["attributes"])


def at(key):
    return key.replace(".", "@")


for item in objects.values():
    if item["type"] != "visualization" or not item.get("index"):
        continue
    where, index = item["where"], item["index"]["attributes"]["title"]
    source = item["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
    query = source.get("query", {}).get("query", "")
    fields = set(re.findall(r"([A-Za-z_][\w.@]*)\s*:", query))
    fields |= {a["params"]["field"] for a in item["attributes"]["visState"].get("aggs", []) if "field" in a.get("params", {})}
    names = re.findall(r'name\.keyword\s*:\s*"([^"]+)"', query)
    service = (re.findall(r'serviceName\s*:\s*"([^"]+)"', query) or [None])[0]
    for name in names:
        if f'"{name}"' not in sources:
            problems.append(f"{where}: metric '{name}' is not declared anywhere in Sources/")
        if telemetry_file and name not in metrics:
            problems.append(f"{where}: metric '{name}' was not exported by the running stack")
    if telemetry_file and service and service not in services:
        problems.append(f"{where}: service '{service}' sent no telemetry")
    for field in sorted(fields):
        if field in BUILT_IN.get(index, set()):
            continue
        key = field.removesuffix(".keyword")
        if key.startswith("metric.attributes.") and index == "metrics-otel-v1*":
            attribute = key.removeprefix("metric.attributes.")
            if not names:
                problems.append(f"{where}: {field} used without naming a metric")
            for name in names:
                if telemetry_file and name in metrics and attribute not in {at(k) for k in metrics[name]}:
                    problems.append(f"{where}: metric '{name}' has no attribute '{attribute}' (it has {sorted(metrics[name])})")
                if f'"{attribute}"' not in sources:
                    problems.append(f"{where}: attribute '{attribute}' appears nowhere in Sources/")
        elif key.startswith("resource.attributes."):
            attribute = key.removeprefix("resource.attributes.")
            for name in names:
                if telemetry_file and name in resources and attribute not in {at(k) for k in resources[name]}:
                    problems.append(f"{where}: metric '{name}' comes without resource attribute '{attribute}'")
        elif key.startswith("span.attributes.") and index == "otel-v1-apm-span*":
            attribute = key.removeprefix("span.attributes.")
            if telemetry_file and attribute not in {at(k) for k in spans.get(service, set())}:
                problems.append(f"{where}: no span of '{service}' has attribute '{attribute}'")
        else:
            problems.append(f"{where}: field '{field}' is not one {index} has")

for problem in problems:
    print(problem)
checked = "against exported telemetry" if telemetry_file else "against Sources/"
print(f"check-dashboards: {len(objects)} saved objects, {len(problems)} problems ({checked})", file=sys.stderr)
sys.exit(1 if problems else 0)
