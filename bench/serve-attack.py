#!/usr/bin/env python3
"""The red-team reproducers of issue 23 against a running `panel serve` (bench/serve-attack.sh starts
one under a 1,024 file limit): a slowloris of CONNECTIONS half-sent requests, /healthz from another
loopback address meanwhile, the server's CPU; WATCHERS event streams that leave; a $0.001 editor token
sending 20 concurrent reviews. Prints figures; exits 1 when a claim of the issue does not hold."""
import argparse, concurrent.futures, json, socket, sys, time, urllib.request


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def healthz(port, source):
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    return data.split(b" ")[1].decode(), (time.monotonic() - start) * 1000


def request(url, token, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=body and json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--editor", required=True)
    parser.add_argument("--poor", required=True, help="an editor token with a $0.001 budget")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--watchers", type=int, default=200)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    ok = True

    # 1. Slowloris: half-sent headers from 127.0.0.1.
    cpu0, t0 = cpu_seconds(args.pid), time.monotonic()
    held, refused, failed = [], 0, 0
    for _ in range(args.connections):
        try:
            s = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(s)
        except OSError:
            failed += 1
    time.sleep(0.5)
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(64).startswith(b"HTTP/1.1 503"):
                refused += 1
        except BlockingIOError:
            pass
        except OSError:
            pass
    status, ms = healthz(args.port, "127.0.0.2")
    print(f"slowloris: {args.connections} half-sent requests from 127.0.0.1: {refused} answered 503 at once, "
          f"{failed} could not connect; /healthz from 127.0.0.2 meanwhile: {status} in {ms:.1f} ms")
    ok &= status == "200"
    deadline = time.monotonic() + 30
    open_left = len(held)
    while time.monotonic() < deadline and open_left:
        open_left = 0
        for s in held:
            try:
                if s.recv(64) == b"":
                    continue
            except BlockingIOError:
                open_left += 1
            except OSError:
                continue
        time.sleep(0.5)
    cpu = cpu_seconds(args.pid) - cpu0
    print(f"slowloris: {len(held) - open_left} of {len(held)} closed by the server within {time.monotonic() - t0:.1f} s "
          f"(header deadline); server CPU over that time {cpu:.2f} s")
    ok &= open_left == 0
    for s in held:
        s.close()
    status, ms = healthz(args.port, "127.0.0.1")
    print(f"slowloris: afterwards /healthz from 127.0.0.1: {status} in {ms:.1f} ms")
    ok &= status == "200"

    # 2. Event streams whose clients leave.
    status, body = request(base + "/v1/reviews", args.editor, "POST",
                           {"listings": [{"name": "Watched", "description": "Held by the slow mock."}]})
    review = json.loads(body)["id"]
    streams = []
    for _ in range(args.watchers):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        s.sendall(f"GET /v1/reviews/{review}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {args.editor}\r\n\r\n".encode())
        s.recv(256)
        streams.append(s)

    def open_streams():
        text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
        line = next(l for l in text.splitlines() if l.startswith("panel_event_streams_open"))
        return float(line.split()[-1])

    print(f"event streams: {open_streams():.0f} open with {args.watchers} watchers")
    start = time.monotonic()
    for s in streams:
        s.close()
    while open_streams() > 0 and time.monotonic() - start < 60:
        time.sleep(0.2)
    left = open_streams()
    print(f"event streams: {left:.0f} open {time.monotonic() - start:.1f} s after the {args.watchers} clients left")
    ok &= left == 0

    # 3. A $0.001 token, 20 concurrent reviews.
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: request(base + "/v1/reviews", args.poor, "POST",
                                                   {"listings": [{"name": "Paid", "description": "d"}]})[0], range(20)))
    print(f"budget: a $0.001 token's 20 concurrent reviews: {statuses.count(202)} accepted, {statuses.count(402)} refused 402")
    ok &= statuses.count(202) == 0

    print("serve-attack: ok" if ok else "serve-attack: FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
