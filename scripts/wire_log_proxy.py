#!/usr/bin/env python3
"""A logging reverse proxy for the real-model check: forwards every request to an upstream
OpenAI-compatible server and appends what panel sent (path, response_format type, max_tokens,
max_completion_tokens, stream) and the upstream status to a JSON Lines file. Standard library only."""
import argparse, http.client, http.server, json, sys, threading

parser = argparse.ArgumentParser()
parser.add_argument("--listen", type=int, required=True)
parser.add_argument("--upstream", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--ready")
args = parser.parse_args()
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        upstream = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=900)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        entry = {"method": self.command, "path": self.path, "status": response.status}
        if body:
            try:
                sent = json.loads(body)
                entry.update({
                    "response_format": (sent.get("response_format") or {}).get("type"),
                    "max_tokens": sent.get("max_tokens"),
                    "max_completion_tokens": sent.get("max_completion_tokens"),
                    "stream": sent.get("stream", False),
                })
            except ValueError:
                entry["body"] = "not JSON"
        with lock, open(args.log, "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = forward

    def log_message(self, *_):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.listen), Proxy)
if args.ready:
    open(args.ready, "w").write("ready\n")
server.serve_forever()
