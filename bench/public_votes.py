#!/usr/bin/env python3
"""Votes for bench/public.sh: RATE votes/s for SECONDS, each from a new reader on a network of its own
(X-Forwarded-For; the server trusts 127.0.0.1 as a proxy): open the page (its cookie and form token), then vote
with `Accept: application/json`. Prints JSON: votes cast, accepted, and the vote requests' latency percentiles."""
import asyncio, json, random, sys, time


async def http(host, port, raw):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body.decode("utf-8", "replace")


async def vote(host, port, slug, index, stats):
    address = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
    head, body = await http(host, port, (f"GET /p/{slug} HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: {address}\r\n"
                                          f"Connection: close\r\n\r\n").encode())
    cookie = next((line.split(":", 1)[1].split(";")[0].strip() for line in head.split("\r\n")
                   if line.lower().startswith("set-cookie:")), "")
    marker = 'name="form_token" value="'
    token = body.split(marker, 1)[1].split('"', 1)[0] if marker in body else ""
    tool = body.split('<input type="hidden" name="tool" value="', 1)[1].split('"', 1)[0] if "name=\"tool\"" in body else ""
    form = f"tool={tool.replace(' ', '+')}&verdict={random.choice(['ship', 'skip'])}&form_token={token}".encode()
    start = time.perf_counter()
    head, _ = await http(host, port, (f"POST /p/{slug}/votes HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: {address}\r\n"
                                       f"Cookie: {cookie}\r\nAccept: application/json\r\nOrigin: http://{host}:{port}\r\n"
                                       f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n"
                                       f"Connection: close\r\n\r\n").encode() + form)
    stats["latencies"].append((time.perf_counter() - start) * 1000)
    stats["cast"] += 1
    if head.split(" ", 2)[1] == "200":
        stats["accepted"] += 1


async def main():
    host, port, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    slugs = sys.argv[5:]
    stats = {"cast": 0, "accepted": 0, "latencies": []}
    tasks = []
    start = time.perf_counter()
    index = 0
    while time.perf_counter() - start < seconds:
        tasks.append(asyncio.create_task(vote(host, port, slugs[index % len(slugs)], index, stats)))
        index += 1
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    latencies = sorted(stats["latencies"])
    def pct(p): return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None
    print(json.dumps({"cast": stats["cast"], "accepted": stats["accepted"], "per_second": round(stats["cast"] / seconds, 1),
                      "vote_ms_p50": pct(0.5), "vote_ms_p90": pct(0.9), "vote_ms_p99": pct(0.99)}))


asyncio.run(main())
