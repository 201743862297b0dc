#!/usr/bin/env python3
"""Checks otel/ and compose.yaml beyond "it parses": every component the Collector and Data
Prepper configs name is one their pinned versions document, every reference resolves, every
metric an alert rule uses is one IMN exports (its name appears in Sources/), and compose is fit to
deploy (exact image versions, only the public ports published and on IMN_BIND_ADDRESS, memory limits
and ulimits for OpenSearch, a volume for every store, the image's user not root). Prints one line
per problem and exits 1 if there is any.

    check-configs.py REPOSITORY
"""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
problems = []

# otel/opentelemetry-collector-contrib:0.144.0 (as pinned in compose.yaml): `otlp` and `otlphttp`
# exporters are deprecated aliases there, so the new names are required.
COLLECTOR_VERSION = "0.144.0"
COLLECTOR = {
    "receivers": {"otlp"},
    "processors": {"batch", "memory_limiter"},
    "exporters": {"otlp_grpc", "otlp_http", "debug"},
    "extensions": {"health_check"},
}
collector = yaml.safe_load((root / "otel/collector.yaml").read_text())
for kind, allowed in COLLECTOR.items():
    for name in collector.get(kind, {}) or {}:
        if name.split("/")[0] not in allowed:
            problems.append(f"collector: {kind} '{name}' is not a (current) component of collector-contrib {COLLECTOR_VERSION}")
for extension in collector["service"].get("extensions", []):
    if extension not in collector.get("extensions", {}):
        problems.append(f"collector: service uses undefined extension '{extension}'")
for pipeline, body in collector["service"]["pipelines"].items():
    for kind in ("receivers", "processors", "exporters"):
        for name in body.get(kind, []):
            if name not in (collector.get(kind) or {}):
                problems.append(f"collector: pipeline {pipeline} uses undefined {kind[:-1]} '{name}'")
for exporter, body in (collector.get("exporters") or {}).items():
    if exporter.startswith("otlp_grpc/") and not re.fullmatch(r"data-prepper:2189[0-2]", body.get("endpoint", "")):
        problems.append(f"collector: {exporter} does not point at a Data Prepper OTLP source")

# opensearchproject/data-prepper:2.16.0.
SOURCES = {"otlp_traces", "otlp_metrics", "otlp_logs", "otlp", "pipeline"}
PROCESSORS = {"otel_traces", "service_map", "otel_metrics", "otel_trace_group"}
SINKS = {"pipeline", "opensearch", "stdout"}
INDEX_TYPES = {"trace-analytics-raw", "trace-analytics-service-map", "metric-analytics", "log-analytics"}
pipelines = yaml.safe_load((root / "otel/data-prepper/pipelines.yaml").read_text())
for name, body in pipelines.items():
    (source, options), = body["source"].items()
    if source not in SOURCES:
        problems.append(f"data-prepper: {name}: unknown source '{source}'")
    if source == "pipeline" and options["name"] not in pipelines:
        problems.append(f"data-prepper: {name}: source pipeline '{options['name']}' does not exist")
    for processor in body.get("processor", []) or []:
        (kind, _), = processor.items()
        if kind not in PROCESSORS:
            problems.append(f"data-prepper: {name}: unknown processor '{kind}'")
    for sink in body["sink"]:
        (kind, options), = sink.items()
        if kind not in SINKS:
            problems.append(f"data-prepper: {name}: unknown sink '{kind}'")
        if kind == "pipeline" and options["name"] not in pipelines:
            problems.append(f"data-prepper: {name}: sink pipeline '{options['name']}' does not exist")
        if kind == "opensearch" and options.get("index_type") not in INDEX_TYPES:
            problems.append(f"data-prepper: {name}: index_type {options.get('index_type')} is not one Trace/Metric/Log analytics reads")

# Alert rules use metrics IMN exports.
sources = "\n".join(p.read_text() for p in (root / "Sources").rglob("*.swift"))
rules = yaml.safe_load((root / "otel/alerts.yml").read_text())
for group in rules["groups"]:
    for rule in group["rules"]:
        if "runbook_url" not in rule.get("annotations", {}):
            problems.append(f"alerts: {rule['alert']} has no runbook_url")
        elif f"## {rule['alert']}" not in (root / "otel/runbook.md").read_text():
            problems.append(f"alerts: {rule['alert']} has no section in otel/runbook.md")
        for metric in re.findall(r"\b(imn_[a-z_]+)", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", metric)
            if f'"{base}"' not in sources:
                problems.append(f"alerts: {rule['alert']} uses {metric}, which no IMN code exports")

telemetry = collector["service"].get("telemetry", {}).get("metrics", {}).get("readers", [])
collector_port = next((r["pull"]["exporter"]["prometheus"].get("port") for r in telemetry if "pull" in r), None)
prometheus = yaml.safe_load((root / "otel/prometheus.yml").read_text())
scraped = {t for job in prometheus["scrape_configs"] for c in job.get("static_configs", []) for t in c["targets"]}
if collector_port is None or f"otel-collector:{collector_port}" not in scraped:
    problems.append("collector: its own metrics are not served on a port otel/prometheus.yml scrapes")

# compose.yaml: mounts exist, images pinned, ports, limits, volumes.
compose = yaml.safe_load((root / "compose.yaml").read_text())
PUBLISHED = {"server": {8000}, "opensearch-dashboards": {5601}, "prometheus": {9090}, "otel-collector": {4317, 4318}}
STORES = {"nats": "/data", "redis": "/data", "opensearch": "/usr/share/opensearch/data", "prometheus": "/prometheus", "agent_1": "/state",
          "agent_2": "/state", "clickhouse": "/var/lib/clickhouse"}
for service, body in compose["services"].items():
    for volume in body.get("volumes", []) or []:
        host = volume.split(":")[0]
        if host.startswith("./") and not (root / host).exists():
            problems.append(f"compose: {service} mounts {host}, which does not exist")
    image = body.get("image", "")
    if "build" not in body and not re.search(r":v?\d+\.\d+\.\d+(\.\d+)?(-[a-z]+)?$", image):
        problems.append(f"compose: {service} image '{image}' is not pinned to an exact version")
    ports = body.get("ports", []) or []
    for port in ports:
        parts = str(port).rsplit(":", 2)
        if len(parts) != 3 or parts[0] != "${IMN_BIND_ADDRESS:-127.0.0.1}":
            problems.append(f"compose: {service} publishes {port} on every interface; use ${{IMN_BIND_ADDRESS:-127.0.0.1}}:host:container")
        elif int(parts[2]) not in PUBLISHED.get(service, set()):
            problems.append(f"compose: {service} publishes {parts[2]}, which is not one of the API, Dashboards, Prometheus or OTLP ports")
    if service in STORES and not any(str(v).split(":")[0] in compose.get("volumes", {}) and str(v).split(":")[1] == STORES[service]
                                     for v in body.get("volumes", []) or []):
        problems.append(f"compose: {service} keeps its data in {STORES[service]} without a named volume")
opensearch = compose["services"]["opensearch"]
if "mem_limit" not in opensearch or "memlock" not in opensearch.get("ulimits", {}) or "nofile" not in opensearch.get("ulimits", {}):
    problems.append("compose: opensearch needs mem_limit and ulimits (memlock, nofile)")
if not re.search(r"^USER (?!root\b)\S+", (root / "Dockerfile").read_text(), re.M):
    problems.append("Dockerfile: the image runs as root (no USER line)")

for problem in problems:
    print(problem)
print(f"checked collector, data-prepper, alerts and compose: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
