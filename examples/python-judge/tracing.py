"""Joins the caller's trace: the W3C traceparent from gRPC metadata, a server span per RPC as its child.

Each RPC is logged on stderr as one JSON line with its trace and span ids. When OTEL_EXPORTER_OTLP_ENDPOINT is
set, the span is also sent to {endpoint}/v1/traces as OTLP/HTTP JSON (the collector the rest of the stack uses),
so it shows in the run's trace under the gateway's call.
"""
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.request

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "python-judge")


def parse_traceparent(metadata):
    for key, value in metadata:
        if key == "traceparent":
            match = TRACEPARENT.match(value.strip())
            if match and match.group(1) != "0" * 32:
                return match.group(1), match.group(2), match.group(3) == "01"
    return None


class ServerSpan:
    def __init__(self, method, context):
        parent = parse_traceparent(context.invocation_metadata())
        self.method = method
        self.trace_id, self.parent_span_id, self.sampled = parent or (secrets.token_hex(16), "", True)
        self.span_id = secrets.token_hex(8)
        self.start_ns = time.time_ns()
        self.attributes = {"rpc.system": "grpc", "rpc.service": "ragtune.judge.v1.JudgeService", "rpc.method": method}
        self.status = "OK"
        # The trace id travels back too, so a caller without a collector can see which trace served it.
        context.set_trailing_metadata((("ragtune-trace-id", self.trace_id),))

    def end(self, status="OK"):
        self.status = status
        end_ns = time.time_ns()
        log("rpc", method=self.method, status=status, trace_id=self.trace_id, span_id=self.span_id,
            parent_span_id=self.parent_span_id, duration_ms=round((end_ns - self.start_ns) / 1e6, 3), **{
                k: v for k, v in self.attributes.items() if k.startswith("ragtune.")})
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint and self.sampled:
            threading.Thread(target=self._export, args=(endpoint, end_ns), daemon=True).start()

    def _export(self, endpoint, end_ns):
        def value(v):
            if isinstance(v, bool):
                return {"boolValue": v}
            if isinstance(v, int):
                return {"intValue": str(v)}
            if isinstance(v, float):
                return {"doubleValue": v}
            return {"stringValue": str(v)}

        span = {
            "traceId": self.trace_id, "spanId": self.span_id, "parentSpanId": self.parent_span_id,
            "name": f"ragtune.judge.v1.JudgeService/{self.method}", "kind": 2,
            "startTimeUnixNano": str(self.start_ns), "endTimeUnixNano": str(end_ns),
            "attributes": [{"key": k, "value": value(v)} for k, v in self.attributes.items()],
            "status": {"code": 1 if self.status == "OK" else 2},
        }
        body = {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE_NAME}}]},
            "scopeSpans": [{"scope": {"name": "python-judge"}, "spans": [span]}],
        }]}
        request = urllib.request.Request(
            endpoint.rstrip("/") + "/v1/traces", data=json.dumps(body).encode(),
            headers={"content-type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).read()
        except Exception as error:  # noqa: BLE001 - a lost span must not fail the RPC
            log("trace export failed", error=str(error))


def log(msg, **fields):
    sys.stderr.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "service": SERVICE_NAME,
                                 "msg": msg, **fields}) + "\n")
    sys.stderr.flush()
