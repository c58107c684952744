#!/usr/bin/env python3
"""Load on `panel serve` for bench/serve.sh: keeps SLOTS reviews in progress, each watched by
WATCHERS Server-Sent Event streams (a review done, its slot asks for the next), for SECONDS, the slots'
starts spread over SPREAD seconds; prints JSON figures. Raw asyncio sockets, HTTP/1.1, one connection per stream."""
import asyncio, json, sys, time


async def request(host, port, method, path, token, body=None):
    reader, writer = await asyncio.open_connection(host, port)
    data = body.encode() if body else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    writer.write(head.encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    status = int(raw.split(b" ", 2)[1])
    return status, raw.split(b"\r\n\r\n", 1)[1]


async def watch(host, port, token, review, stats):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"GET /v1/reviews/{review}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  f"Accept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    stats["open"] += 1
    stats["peak"] = max(stats["peak"], stats["open"])
    tail = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            text = tail + chunk
            stats["events"] += text.count(b"\nevent: ") + text.startswith(b"event: ") - tail.count(b"\nevent: ")
            if b"event: done" in text:
                stats["done_seen"] += 1
                break
            tail = text[-16:]
    finally:
        stats["open"] -= 1
        writer.close()


async def slot(host, port, token, watchers, deadline, stats, number, stagger):
    # Slots start spread over one review's length, as reviews asked for by different people would be.
    await asyncio.sleep(stagger * number)
    while time.monotonic() < deadline:
        body = json.dumps({"listings": [{"name": f"Load tool {number}-{stats['reviews']}", "description": "A tool under load."}]})
        status, answer = await request(host, port, "POST", "/v1/reviews", token, body)
        if status != 202:
            stats["errors"] += 1
            await asyncio.sleep(0.1)
            continue
        review = json.loads(answer)["id"]
        stats["reviews"] += 1
        await asyncio.gather(*(watch(host, port, token, review, stats) for _ in range(watchers)))


async def sample_open(stats, deadline):
    while time.monotonic() < deadline:
        stats["samples"].append(stats["open"])
        await asyncio.sleep(0.25)


async def main():
    host, port, token, slots, watchers, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    stagger = float(sys.argv[7]) / slots if len(sys.argv) > 7 else 0.0
    stats = {"open": 0, "peak": 0, "events": 0, "done_seen": 0, "reviews": 0, "errors": 0, "samples": []}
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(sample_open(stats, deadline), *(slot(host, port, token, watchers, deadline, stats, n, stagger) for n in range(slots)))
    samples = stats.pop("samples")
    stats["mean_open"] = round(sum(samples) / max(1, len(samples)), 1)
    stats["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(stats))


asyncio.run(main())
