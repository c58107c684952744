"""The floor: N chat calls at a fixed concurrency by a client that does nothing but HTTP — one kept-alive
connection a slot, the request bytes made once, the answer read and dropped — against the same
OpenAI-compatible server as bench/tensorzero_driver.py and bench/litellm_driver.py, with the same
prompts. What it measures is what the machine and the mock allow (32 rounds of the mock's latency, and
what the mock and the kernel add to each round), not a client: the other rows' walls are read against it.
Prints wall time and this process's CPU time. Used by bench/batch-vs-peers.sh."""
import asyncio, json, resource, sys, time
from urllib.parse import urlsplit
from peer_prompts import personas, system, user

base_url, calls, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = urlsplit(base_url.rstrip("/") + "/chat/completions")


def request(i):
    body = json.dumps({
        "model": "mock", "temperature": 0.2, "max_tokens": 700,
        "messages": [{"role": "system", "content": system.format(personas[i % 4])},
                     {"role": "user", "content": user.format(i // 4, i // 4)}]}).encode()
    head = (f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def slot(requests, next_call, failures):
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    try:
        while (i := next(next_call, None)) is not None:
            writer.write(requests[i])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                failures.append(head.split(b"\r\n", 1)[0].decode())
    finally:
        writer.close()


async def main():
    requests = [request(i) for i in range(calls)]
    next_call = iter(range(calls))
    failures = []
    # Counted from the first call, like the other drivers: the connections open inside.
    start = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(slot(requests, next_call, failures) for _ in range(min(concurrency, calls))))
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if failures:
        print(f"first failure: {failures[0]}", file=sys.stderr)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "calls": calls, "failed": len(failures)}))

asyncio.run(main())
