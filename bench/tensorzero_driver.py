"""Drives N chat calls through TensorZero's gateway, embedded in this process by its Python client
(`AsyncTensorZeroGateway.build_embedded`: the Rust gateway in-process, no ClickHouse), against an
OpenAI-compatible server at a fixed concurrency, and prints wall time and this process's CPU time.
The same prompts and call shape as bench/litellm_driver.py. Used by bench/batch-vs-peers.sh."""
import asyncio, json, os, resource, sys, tempfile, time

from tensorzero import AsyncTensorZeroGateway
from peer_prompts import personas, system, user

base_url, calls, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

config = f"""
[models.mock]
routing = ["mock"]

[models.mock.providers.mock]
type = "openai"
model_name = "mock"
api_base = "{base_url.rstrip('/')}/"
api_key_location = "none"
"""


async def one(client, i, semaphore):
    async with semaphore:
        persona = personas[i % 4]
        response = await client.inference(
            model_name="mock",
            input={"system": system.format(persona), "messages": [{"role": "user", "content": user.format(i // 4, i // 4)}]},
            params={"chat_completion": {"temperature": 0.2, "max_tokens": 700}})
        return response.content[0].text


async def main():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "tensorzero.toml")
        with open(path, "w") as f:
            f.write(config)
        async with await AsyncTensorZeroGateway.build_embedded(config_file=path) as client:
            semaphore = asyncio.Semaphore(concurrency)
            # Counted from the first call, like LiteLLM's: start-up (import, config) is left out.
            start = time.perf_counter()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            results = await asyncio.gather(*(one(client, i, semaphore) for i in range(calls)), return_exceptions=True)
            wall = time.perf_counter() - start
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        print(f"first failure: {failures[0]!r}", file=sys.stderr)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "calls": calls, "failed": len(failures)}))

asyncio.run(main())
