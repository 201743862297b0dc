#!/usr/bin/env python3
"""Decodes an OTLP export request with the official opentelemetry-proto package (an independent
decoder, used by the tests) and prints it as JSON: field names as in the .proto, ids as hex,
64-bit integers as JSON numbers.

    decode.py traces|metrics|logs FILE
"""
import base64
import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

KINDS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
IDS = {"trace_id", "span_id", "parent_span_id"}
INTEGERS = {"start_time_unix_nano", "end_time_unix_nano", "time_unix_nano", "observed_time_unix_nano",
            "int_value", "as_int", "count", "bucket_counts"}


def normalize(value, key=None):
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if key in IDS and isinstance(value, str):
        return base64.b64decode(value).hex()
    if key == "bytes_value":
        return base64.b64decode(value).hex()
    if key in INTEGERS and isinstance(value, str):
        return int(value)
    return value


def main():
    kind, path = sys.argv[1], sys.argv[2]
    message = KINDS[kind]()
    with open(path, "rb") as f:
        data = f.read()
    message.ParseFromString(data)
    # Unknown fields would mean we wrote a field number the specification does not have.
    from google.protobuf.unknown_fields import UnknownFieldSet
    unknown = []

    def walk(m):
        if len(UnknownFieldSet(m)) > 0:
            unknown.append(type(m).__name__)
        for field, value in m.ListFields():
            if field.type == field.TYPE_MESSAGE:
                items = value if field.is_repeated else [value]
                for item in items:
                    walk(item)

    walk(message)
    out = normalize(MessageToDict(message, preserving_proto_field_name=True, use_integers_for_enums=True))
    out["_unknown_fields"] = unknown
    out["_bytes"] = len(data)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
