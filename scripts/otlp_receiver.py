"""A small OTLP/HTTP trace receiver (opentelemetry-proto): collects the spans every host sends, in memory.

    receiver = Receiver("10.77.0.1", 4318); receiver.start(); ...; receiver.spans  # list of dicts
"""
import http.server
import threading

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


class Receiver:
    def __init__(self, host: str, port: int):
        self.spans: list[dict] = []
        self.requests = 0
        lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces" or "protobuf" not in self.headers.get("Content-Type", ""):
                    self.send_response(404)
                    self.end_headers()
                    return
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                found = []
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            found.append({
                                "trace": span.trace_id.hex(), "id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex() or None, "name": span.name,
                                "kind": span.kind, "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                                "service": resource.get("service.name"), "host": resource.get("host.name"),
                                "attributes": {a.key: _value(a.value) for a in span.attributes},
                                "events": [e.name for e in span.events], "status": span.status.code,
                            })
                with lock:
                    receiver.spans.extend(found)
                    receiver.requests += 1
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def tree(spans: list[dict]) -> list[str]:
    """The spans of one trace as an indented tree, children in start order: `name [host] attrs`."""
    children: dict = {}
    for span in spans:
        children.setdefault(span["parent"], []).append(span)
    ids = {span["id"] for span in spans}
    roots = [s for s in spans if s["parent"] not in ids]
    lines = []

    def walk(span, depth):
        keep = {k: v for k, v in span["attributes"].items() if k.startswith(("panel.persona", "panel.attempt", "gen_ai.usage", "gen_ai.request.model", "http.request.method", "http.route", "panel.review", "panel.outcome", "error.type"))}
        millis = (span["end"] - span["start"]) / 1e6
        lines.append(f"{'  ' * depth}{span['name']} [{span['host'] or span['service']}] {millis:.1f} ms" + (f" {keep}" if keep else ""))
        for child in sorted(children.get(span["id"], []), key=lambda s: s["start"]):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda s: s["start"]):
        walk(root, 0)
    return lines
