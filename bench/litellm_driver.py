"""Drives N chat calls through LiteLLM's Router against an OpenAI-compatible server, at a fixed
concurrency, and prints wall time and this process's CPU time. Used by bench/batch-vs-peers.sh."""
import asyncio, json, resource, sys, time

import litellm
from litellm import Router
from peer_prompts import personas, system, user

base_url, calls, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
litellm.suppress_debug_info = True
router = Router(model_list=[{"model_name": "mock", "litellm_params": {"model": "openai/mock", "api_base": base_url, "api_key": "unused"}}],
                num_retries=0)


async def one(i, semaphore):
    async with semaphore:
        persona = personas[i % 4]
        response = await router.acompletion(model="mock", messages=[
            {"role": "system", "content": system.format(persona)}, {"role": "user", "content": user.format(i // 4, i // 4)}],
            temperature=0.2, max_tokens=700)
        return response.choices[0].message.content


async def main():
    semaphore = asyncio.Semaphore(concurrency)
    start = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    results = await asyncio.gather(*(one(i, semaphore) for i in range(calls)), return_exceptions=True)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    failed = sum(isinstance(r, Exception) for r in results)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "calls": calls, "failed": failed}))

asyncio.run(main())
