#!/usr/bin/env python3
"""Several hosts for real: panel's processes on hosts of their own, and the network between them failing.

Run as root (network namespaces). Makes a test network of hosts — network namespaces joined by veth
pairs on a bridge, every connection between roles crossing a virtual interface, none on loopback:

    db   10.77.0.10  PostgreSQL, listening on its own address
    api1 10.77.0.11  panel serve          api2 10.77.0.12  panel serve
    w1   10.77.0.21  panel worker         w2   10.77.0.22    w3   10.77.0.23
    llm  10.77.0.30  panel-mock-provider (latency as each scenario needs)

The controller (this script) stays in the root namespace, on the bridge's 10.77.0.1. Kernel netem is
not available on these machines and neither is tc's drop action: a link is cut with blackhole routes on
both of its ends (packets of established connections vanish, so their reads hang as on a real partition;
new connections fail at once), and healed by deleting them.

Scenarios (each followed by a check of the history, from the store and the mock's request log):
  a  a worker cut off from db for longer than its lease while its calls are in flight
  b  a worker cut off from llm: its listings are given back and done elsewhere within --max-item-attempts
  c  api1 killed with -9 while running a review asked over HTTP: it finishes on api2, whose watcher sees `done`
  d  PostgreSQL stopped with -m immediate and restarted mid-job
  e  a worker whose clock is 5 minutes ahead (faketime): leases use the database's clock, nothing changes
  f  a partition splitting db from every host for 20 s
  g  one token used on api1 and api2 at once: its request rate and its budget hold across both
  t  traces on (OTEL_EXPORTER_OTLP_ENDPOINT): a review asked of api1 and run by a worker on w2 is one
     connected tree of spans across both hosts, as an OTLP/HTTP receiver (opentelemetry-proto) saw it

The history check of a batch scenario: every listing done exactly once, every persona result saved once,
the exported documents equal to a single-host run's (by listing key; timings and ids aside), the spend
within the budget plus the reservations in flight at the cut, repeated paid calls (requests the mock
received more than once for one listing and persona) no more than were in flight on the cut-off side.

    .build/web-venv/bin/python scripts/several-hosts.py --bin .build/debug   # every scenario (t needs opentelemetry-proto)
    python3 scripts/several-hosts.py --bin .build/debug --only a,f      # some
    python3 scripts/several-hosts.py --bin .build/release --bench 400   # 3 workers on 3 hosts vs 1
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

NET = "10.77.0"
HOSTS = {"db": 10, "api1": 11, "api2": 12, "w1": 21, "w2": 22, "w3": 23, "llm": 30}
BRIDGE = "pnl0"
LLM = f"http://{NET}.30:8080/v1"
LEASE = 6           # seconds: a worker's lease in these scenarios (renewed every 2 s)
TIMEOUT = 5         # seconds: each model call's deadline
PRICE = "1000,2000"  # USD per million tokens in and out: a call costs about a dollar, so budgets bind
PERSONAS = ("Builder", "Skeptic", "Founder", "Futurist")


def ip(addr_host: str) -> str:
    return f"{NET}.{HOSTS[addr_host]}"


def ns(host: str) -> str:
    return f"pnl-{host}"


def run(*args, check=True, quiet=False, **kw):
    result = subprocess.run(args, text=True, capture_output=True, **kw)
    if check and result.returncode != 0:
        raise SystemExit(f"several-hosts: `{' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()[:800]}")
    return result


class Failed(Exception):
    pass


def check(what: str, ok: bool, detail: str = "") -> None:
    print(f"    {'ok  ' if ok else 'FAIL'} {what}{(': ' + detail) if detail else ''}", flush=True)
    if not ok:
        raise Failed(what)


# --- the network ---------------------------------------------------------------------------------

def network_down() -> None:
    for host in HOSTS:
        run("ip", "netns", "del", ns(host), check=False)
    run("ip", "link", "del", BRIDGE, check=False)


def network_up() -> None:
    network_down()
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{NET}.1/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    for host in HOSTS:
        run("ip", "netns", "add", ns(host))
        run("ip", "link", "add", f"v-{host}", "type", "veth", "peer", "name", "eth0", "netns", ns(host))
        run("ip", "link", "set", f"v-{host}", "master", BRIDGE, "up")
        inside = ["ip", "netns", "exec", ns(host)]
        run(*inside, "ip", "addr", "add", f"{ip(host)}/24", "dev", "eth0")
        run(*inside, "ip", "link", "set", "eth0", "up")
        run(*inside, "ip", "link", "set", "lo", "up")


def cut(a: str, b: str) -> None:
    """Cuts the link between hosts a and b (both directions); 'root' is the controller."""
    for here, there in ((a, b), (b, a)):
        if here != "root":
            target = f"{NET}.1" if there == "root" else ip(there)
            run("ip", "netns", "exec", ns(here), "ip", "route", "add", "blackhole", f"{target}/32")


def heal(a: str, b: str) -> None:
    for here, there in ((a, b), (b, a)):
        if here != "root":
            target = f"{NET}.1" if there == "root" else ip(there)
            run("ip", "netns", "exec", ns(here), "ip", "route", "del", "blackhole", f"{target}/32", check=False)


# --- processes -----------------------------------------------------------------------------------

class Hosts:
    def __init__(self, bin_dir: str, work: str):
        self.bin = os.path.abspath(bin_dir)
        self.work = work
        self.procs: list[subprocess.Popen] = []
        self.pg_bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.psql = os.path.join(self.pg_bin, "psql")
        self.password = os.urandom(9).hex()
        self.pg_dir = os.path.join(work, "pg")

    # PostgreSQL on db
    def pg(self, *args, check=True):
        return run("ip", "netns", "exec", ns("db"), "runuser", "-u", "postgres", "--", os.path.join(self.pg_bin, "pg_ctl"),
                   "-D", os.path.join(self.pg_dir, "data"), "-l", os.path.join(self.pg_dir, "server.log"), *args, check=check)

    def start_postgres(self) -> None:
        os.makedirs(self.pg_dir)
        with open(os.path.join(self.pg_dir, "pw"), "w") as f:
            f.write(self.password + "\n")
        run("chown", "-R", "postgres", self.pg_dir)
        os.chmod(self.work, 0o755)
        run("runuser", "-u", "postgres", "--", os.path.join(self.pg_bin, "initdb"), "-D", os.path.join(self.pg_dir, "data"),
            "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={self.pg_dir}/pw", "-E", "UTF8", "--locale=C.UTF-8")
        with open(os.path.join(self.pg_dir, "data", "pg_hba.conf"), "a") as f:
            f.write(f"host all all {NET}.0/24 scram-sha-256\n")
        self.start_pg_server()

    def start_pg_server(self) -> None:
        self.pg("-w", "-t", "60", "-o", f"-p 5432 -c listen_addresses={ip('db')} -k {self.pg_dir} -c max_connections=300", "start")

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres:{self.password}@{ip('db')}:5432/{db}"

    def sql(self, db: str, query: str) -> list[list[str]]:
        # Fields and rows apart by ASCII's unit and record separators: documents hold newlines and tabs.
        out = run(self.psql, self.url(db), "-At", "-F", "\x1f", "-R", "\x1e", "-c", query).stdout
        return [row.split("\x1f") for row in out.rstrip("\n").split("\x1e") if row]

    def database(self, name: str) -> str:
        run(self.psql, self.url(), "-qc", f"DROP DATABASE IF EXISTS {name}")
        run(self.psql, self.url(), "-qc", f"CREATE DATABASE {name}")
        return self.url(name)

    # panel's processes
    def spawn(self, host: str, name: str, args: list[str], env: dict | None = None, prefix: list[str] | None = None):
        log = open(os.path.join(self.work, f"{name}.log"), "w")
        environment = dict(os.environ, **(env or {}))
        proc = subprocess.Popen(["ip", "netns", "exec", ns(host)] + (prefix or []) + args, stdout=log, stderr=subprocess.STDOUT,
                                env=environment, start_new_session=True)
        proc.log_path = log.name
        proc.host = host
        self.procs.append(proc)
        return proc

    def panel(self, *args) -> list[str]:
        return [os.path.join(self.bin, "panel"), *args]

    def backend(self) -> list[str]:
        return ["--base-url", LLM, "--model", "mock", "--no-cache", "--timeout", str(TIMEOUT), "--price", PRICE]

    def mock(self, name: str, latency_ms: int, jitter_ms: int = 0):
        capture = os.path.join(self.work, f"{name}.requests.jsonl")
        ready = os.path.join(self.work, f"{name}.port")
        proc = self.spawn("llm", name, [os.path.join(self.bin, "panel-mock-provider"), "--host", ip("llm"), "--port", "8080",
                                        "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms), "--capture", capture,
                                        "--ready-file", ready])
        wait_for(lambda: os.path.exists(ready), 30, "the mock provider to listen")
        proc.capture = capture
        return proc

    def worker(self, host: str, store: str, name: str, extra: list[str] = (), prefix: list[str] | None = None, env=None):
        return self.spawn(host, name, self.panel("worker", "--store", store, *self.backend(), "--concurrency", "8",
                                                 "--lease-seconds", str(LEASE), "--poll-seconds", "0.5", *extra),
                          prefix=prefix, env=env)

    def stop(self, proc, sig=signal.SIGTERM, wait=60) -> int | None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            return proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.stop(proc, signal.SIGKILL, 10)
        self.procs = []


def wait_for(condition, seconds: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise Failed(f"timed out after {seconds:.0f} s waiting for {what}")


def exited(proc, seconds: float, what: str) -> int:
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        raise Failed(f"{what} did not exit within {seconds:.0f} s (log: {proc.log_path})")


def tail(proc, lines=15) -> str:
    with open(proc.log_path) as f:
        return "".join(f.readlines()[-lines:])


# --- listings, requests, documents ---------------------------------------------------------------

def write_listings(path: str, count: int, prefix: str = "Hosttool") -> list[str]:
    names = []
    categories = ["Databases", "Observability", "AI infrastructure", "Developer tools"]
    with open(path, "w") as f:
        for i in range(count):
            name = f"{prefix} {i:03d}"
            names.append(name)
            f.write(json.dumps({
                "name": name, "tagline": f"The {i}th tool of the several-hosts check",
                "category": categories[i % 4], "pricing": "Free tier; Pro $20 per seat per month",
                "description": f"{name} keeps {i % 7 + 2} replicas in sync and answers in {10 + i} ms at the 99th percentile.",
            }) + "\n")
    return names


def requests_of(capture: str, since: float = 0, until: float = float("inf")) -> list[tuple[str, str, float]]:
    """(listing, persona, arrival) of every chat request the mock received between since and until."""
    found = []
    if not os.path.exists(capture):
        return found
    for line in open(capture):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not since <= entry.get("at", 0) < until:
            continue
        body = entry["body"]
        listing = re.search(r"Name: ([^\\\n]+)", body)
        persona = re.search(r"as the (\w+) of the panel", body)
        if listing and persona:
            found.append((listing.group(1), persona.group(1), entry["at"]))
    return found


def unsaved_at(hosts, db: str, capture: str, at: float) -> int:
    """Calls in flight at `at`: admitted before it — reaching the mock (its log) by a second after it, as a
    call admitted just before the cut arrives just after — with no result saved before it (the store's
    clock; every host shares this machine's). Read after the store is reachable again."""
    asked = {(listing, persona.lower()) for listing, persona, _ in requests_of(capture, until=at + 1.0)}
    saved = {(name, persona) for name, persona in hosts.sql(
        db, f"SELECT i.listing::json->>'name', r.persona FROM batch_result r JOIN batch_item i ON i.job = r.job AND i.key = r.key "
            f"WHERE r.job = 'hosts' AND r.created_at < to_timestamp({at})")}
    return len(asked - saved)


def repeats(requests) -> int:
    counts: dict[tuple[str, str], int] = {}
    for listing, persona, _ in requests:
        counts[(listing, persona)] = counts.get((listing, persona), 0) + 1
    return sum(n - 1 for n in counts.values())


VOLATILE = re.compile(r"(_ms$|_at$|^id$|^generated|^wall|^latency|^ttft|^attempts$|^created|^updated)")


def normalised(value):
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def documents(hosts: Hosts, db: str, job: str) -> dict[str, object]:
    rows = hosts.sql(db, f"SELECT key, text FROM batch_document WHERE job = '{job}' AND extension = 'json' ORDER BY key")
    return {key: normalised(json.loads(text)) for key, text in rows}


# --- the history check ---------------------------------------------------------------------------

def history(hosts: Hosts, db: str, job: str, names: list[str], baseline: dict, requests, in_flight_at_cut: int,
            budget: float | None = None, reserved_at_cut: float = 0.0) -> dict:
    items = hosts.sql(db, f"SELECT status, attempts FROM batch_item WHERE job = '{job}'")
    statuses = [status for status, _ in items]
    results = hosts.sql(db, f"SELECT key, count(*) FROM batch_result WHERE job = '{job}' GROUP BY key")
    documents_now = documents(hosts, db, job)
    spent = float(hosts.sql(db, f"SELECT spent_usd FROM batch_job WHERE name = '{job}'")[0][0])
    repeated = repeats(requests)
    figures = {
        "listings": len(names), "complete": statuses.count("complete"), "max_attempts": max(int(a) for _, a in items),
        "calls": len(requests), "repeated_calls": repeated, "in_flight_at_cut": in_flight_at_cut, "spent_usd": round(spent, 4),
    }
    print("    history: " + ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
    check("every listing done exactly once", len(items) == len(names) and statuses.count("complete") == len(names),
          f"{statuses.count('complete')}/{len(names)} complete, statuses {sorted(set(statuses))}")
    expected = baseline["_results"]
    check("every persona result saved once", {k: int(n) for k, n in results} == expected,
          f"{sum(int(n) for _, n in results)} results for {len(results)} listings, {sum(expected.values())} in the reference")
    docs = baseline["_documents"]
    same = sum(1 for key, doc in docs.items() if documents_now.get(key) == doc)
    check("the documents equal a single-host run's (by listing key; timings and ids aside)", same == len(docs),
          f"{same}/{len(docs)} equal")
    check("repeated paid calls no more than were in flight on the cut-off side", repeated <= in_flight_at_cut,
          f"{repeated} repeated, {in_flight_at_cut} in flight")
    if budget is not None:
        check("the spend within the budget plus the reservations in flight at the cut", spent <= budget + reserved_at_cut + 1e-9,
              f"${spent:.4f} spent, budget ${budget:.2f} + ${reserved_at_cut:.2f} reserved")
    return figures


def reserved(hosts: Hosts, db: str, job: str) -> float:
    rows = hosts.sql(db, f"SELECT COALESCE(SUM(amount_usd), 0) FROM budget_reservation WHERE job = '{job}'")
    return float(rows[0][0]) if rows else 0.0


def enqueue(hosts: Hosts, store: str, job: str, listings: str, budget: float | None = None) -> None:
    extra = ["--budget-usd", str(budget)] if budget is not None else []
    result = run(*hosts.panel("batch", listings, "--store", store, "--job", job, "--enqueue-only", "--format", "json",
                              *hosts.backend(), *extra), check=False)
    if result.returncode not in (0,):
        raise Failed(f"enqueueing {job}: {result.stderr.strip()[-600:]}")


def worker_line(proc) -> dict:
    """The figures of a worker's last line: listings finished, calls, paid but not saved, given back."""
    text = open(proc.log_path).read()
    match = re.findall(r"(\d+) listing\(s\) finished, (\d+) persona call\(s\), (\d+) answer\(s\) paid for but not saved "
                       r"\(lease lost\), (\d+) listing\(s\) given back", text)
    if not match:
        return {}
    done, calls, unsaved, given = map(int, match[-1])
    return {"finished": done, "calls": calls, "paid_unsaved": unsaved, "given_back": given}


def leased_by(hosts: Hosts, db: str, job: str) -> dict[str, int]:
    rows = hosts.sql(db, f"SELECT lease_owner, count(*) FROM batch_item WHERE job = '{job}' AND status = 'pending' "
                         f"AND lease_owner IS NOT NULL GROUP BY lease_owner")
    return {owner: int(n) for owner, n in rows}


# --- scenarios -----------------------------------------------------------------------------------

class Run:
    def __init__(self, hosts: Hosts, listings: int):
        self.hosts = hosts
        self.listings_path = os.path.join(hosts.work, "listings.jsonl")
        self.names = write_listings(self.listings_path, listings)
        self.baseline: dict = {}

    def single_host(self) -> None:
        """The reference: one worker on one host, nothing failing."""
        h = self.hosts
        print("\n== the reference: one worker, one host, nothing failing", flush=True)
        mock = h.mock("mock-reference", 100)
        store = h.database("reference")
        enqueue(h, store, "hosts", self.listings_path)
        worker = h.worker("w1", store, "reference-w1", ["--drain"])
        check("the worker drains the job", exited(worker, 300, "the reference worker") == 0, tail(worker, 3))
        self.baseline = {
            "_documents": documents(h, "reference", "hosts"),
            "_results": {k: int(n) for k, n in h.sql("reference", "SELECT key, count(*) FROM batch_result WHERE job = 'hosts' GROUP BY key")},
        }
        check("every listing has its document", len(self.baseline["_documents"]) == len(self.names), f"{len(self.baseline['_documents'])}")
        h.stop(mock)

    def begin(self, scenario: str, latency_ms: int, budget: float | None = None):
        """A scenario's mock (at this latency), its own database, and the listings enqueued as job `hosts`."""
        mock = self.hosts.mock(f"mock-{scenario}", latency_ms)
        store = self.hosts.database(f"scenario_{scenario}")
        enqueue(self.hosts, store, "hosts", self.listings_path, budget=budget)
        return mock, store

    def a(self) -> dict:
        """A worker cut off from db for longer than its lease while it has calls in flight."""
        h = self.hosts
        budget = 500.0
        mock, store = self.begin("a", 2500, budget)
        w1 = h.worker("w1", store, "a-w1")
        wait_for(lambda: sum(1 for _ in requests_of(mock.capture)) >= 8, 30, "w1's first calls in flight")
        time.sleep(0.5)
        cut_at = time.time()
        cut("w1", "db")
        held = leased_by(h, "scenario_a", "hosts")
        reserved_at_cut = reserved(h, "scenario_a", "hosts")
        print(f"    cut w1 from db with {len(requests_of(mock.capture, until=cut_at))} calls asked, {sum(held.values())} listings leased",
              flush=True)
        # Its local leases run out (6 s): its calls in flight are cancelled, no new one starts.
        time.sleep(LEASE + 3)
        asked_late = [r for r in requests_of(mock.capture, since=cut_at + LEASE + 1) if True]
        check("no call from the cut-off worker after its leases ran out", not asked_late, f"{len(asked_late)} asked")
        w2 = h.worker("w2", store, "a-w2", ["--drain", "--job", "hosts"])
        check("w2 finishes the listings", exited(w2, 300, "w2") == 0, tail(w2, 3))
        time.sleep(20 - (time.time() - cut_at) if time.time() - cut_at < 20 else 0)
        heal("w1", "db")
        healed_at = time.time()
        # It rejoins without a restart: a new job is worked by it alone.
        more = os.path.join(h.work, "a-more.jsonl")
        write_listings(more, 4, prefix="Rejoin")
        enqueue(h, store, "after", more)
        wait_for(lambda: [s for (s,) in h.sql("scenario_a", "SELECT status FROM batch_item WHERE job = 'after'")]
                 .count("complete") == 4, 120, "w1 to work the new job after the link returned")
        rejoined = time.time() - healed_at
        h.stop(w1)
        figures = worker_line(w1)
        print(f"    w1 after the link returned: {figures}; the new job done {rejoined:.1f} s after it returned", flush=True)
        check("the cut-off worker said what it paid for and could not save", "paid_unsaved" in figures, tail(w1, 5))
        requests = requests_of(mock.capture)
        requests = [r for r in requests if not r[0].startswith("Rejoin")]
        in_flight = unsaved_at(h, "scenario_a", mock.capture, cut_at)
        out = history(h, "scenario_a", "hosts", self.names, self.baseline, requests, in_flight, budget, reserved_at_cut)
        out.update(paid_unsaved=figures.get("paid_unsaved"), rejoined_s=round(rejoined, 1))
        h.stop(mock)
        return out

    def b(self) -> dict:
        """A worker cut off from llm: its calls fail or time out; the listings are retried elsewhere."""
        h = self.hosts
        mock, store = self.begin("b", 400)
        w1 = h.worker("w1", store, "b-w1", ["--drain", "--job", "hosts"])
        wait_for(lambda: len(requests_of(mock.capture)) >= 4, 30, "w1's first calls")
        cut_at = time.time()
        cut("w1", "llm")
        w2 = h.worker("w2", store, "b-w2", ["--drain", "--job", "hosts"])
        check("w2 drains", exited(w2, 300, "w2") == 0, tail(w2, 3))
        check("w1 drains", exited(w1, 300, "w1") == 0, tail(w1, 3))
        heal("w1", "llm")
        figures = worker_line(w1)
        print(f"    w1: {figures}", flush=True)
        check("the cut-off worker gave listings back", figures.get("given_back", 0) > 0, tail(w1, 5))
        in_flight = unsaved_at(h, "scenario_b", mock.capture, cut_at)
        out = history(h, "scenario_b", "hosts", self.names, self.baseline, requests_of(mock.capture), in_flight)
        check("within --max-item-attempts (3)", out["max_attempts"] <= 3, f"{out['max_attempts']}")
        out["given_back"] = figures.get("given_back")
        h.stop(mock)
        return out

    def d(self) -> dict:
        """PostgreSQL stopped with -m immediate and restarted mid-job."""
        h = self.hosts
        mock, store = self.begin("d", 400)
        workers = [h.worker(w, store, f"d-{w}", ["--drain", "--job", "hosts"]) for w in ("w1", "w2", "w3")]
        wait_for(lambda: len(leased_by(h, "scenario_d", "hosts")) == 3, 30, "all three workers holding listings")
        stop_at = time.time()
        h.pg("-m", "immediate", "stop")
        time.sleep(3)
        h.start_pg_server()
        print(f"    PostgreSQL down {time.time() - stop_at:.1f} s", flush=True)
        for proc in workers:
            check(f"{proc.log_path.rsplit('/', 1)[-1][:-4]} drains", exited(proc, 300, "a worker") == 0, tail(proc, 3))
        in_flight = unsaved_at(h, "scenario_d", mock.capture, stop_at)
        out = history(h, "scenario_d", "hosts", self.names, self.baseline, requests_of(mock.capture), in_flight)
        h.stop(mock)
        return out

    def e(self) -> dict:
        """A worker whose clock is 5 minutes ahead: leases use the database's clock."""
        h = self.hosts
        mock, store = self.begin("e", 300)
        faketime = shutil.which("faketime")
        if not faketime:
            raise Failed("faketime is not installed (apt-get install faketime)")
        skewed = h.worker("w3", store, "e-w3", ["--drain", "--job", "hosts"], prefix=[faketime, "-f", "+5m"],
                          env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        normal = h.worker("w1", store, "e-w1", ["--drain", "--job", "hosts"])
        for proc in (skewed, normal):
            check(f"{proc.log_path.rsplit('/', 1)[-1][:-4]} drains", exited(proc, 300, "a worker") == 0, tail(proc, 3))
        skew = run("ip", "netns", "exec", ns("w3"), faketime, "-f", "+5m", "date", "+%s").stdout.strip()
        print(f"    w3's clock {int(skew) - int(time.time())} s ahead; w3 {worker_line(skewed)}, w1 {worker_line(normal)}", flush=True)
        out = history(h, "scenario_e", "hosts", self.names, self.baseline, requests_of(mock.capture), 0)
        check("no listing taken from a live worker (every claim the first)", out["max_attempts"] == 1, f"{out['max_attempts']}")
        check("both workers worked", worker_line(skewed).get("finished", 0) > 0 and worker_line(normal).get("finished", 0) > 0)
        h.stop(mock)
        return out

    def f(self) -> dict:
        """A partition that splits db from every host for 20 s."""
        h = self.hosts
        budget = 500.0
        mock, store = self.begin("f", 1000, budget)
        workers = [h.worker(w, store, f"f-{w}", ["--drain", "--job", "hosts"]) for w in ("w1", "w2", "w3")]
        wait_for(lambda: len(requests_of(mock.capture)) >= 16, 30, "calls in flight")
        cut_at = time.time()
        reserved_at_cut = reserved(h, "scenario_f", "hosts")
        for host in HOSTS:
            if host != "db":
                cut("db", host)
        cut("db", "root")
        time.sleep(20)
        for host in HOSTS:
            if host != "db":
                heal("db", host)
        heal("db", "root")
        print(f"    db split off for {time.time() - cut_at:.1f} s", flush=True)
        for proc in workers:
            check(f"{proc.log_path.rsplit('/', 1)[-1][:-4]} drains", exited(proc, 300, "a worker") == 0, tail(proc, 3))
        unsaved = sum(worker_line(p).get("paid_unsaved", 0) for p in workers)
        in_flight = unsaved_at(h, "scenario_f", mock.capture, cut_at)
        out = history(h, "scenario_f", "hosts", self.names, self.baseline, requests_of(mock.capture), in_flight, budget,
                      reserved_at_cut)
        out["paid_unsaved"] = unsaved
        h.stop(mock)
        return out

    def t(self) -> dict:
        """One trace per review: a review asked of api1 (which only accepts reviews) and run by a worker
        on w2 is one connected tree of spans across the two hosts, as an OTLP receiver saw it."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        try:
            from otlp_receiver import Receiver, tree
        except ImportError:
            raise Failed("opentelemetry-proto is not installed (pip install opentelemetry-proto)")
        h = self.hosts
        receiver = Receiver(f"{NET}.1", 4318)
        receiver.start()
        mock = h.mock("mock-t", 200)
        store = h.database("scenario_t")
        api1 = self.serve("api1", store, "t-api1", ["--max-reviews", "0"], env=traced("api1"))
        w2 = h.worker("w2", store, "t-w2", env=traced("w2"))
        token = self.token(store, "traced")
        listings = [json.loads(line) for line in open(self.listings_path)][:2]
        ids = [http("POST", f"http://{ip('api1')}:8787/v1/reviews", token, {"listings": [listing]})["id"] for listing in listings]
        wait_for(lambda: all(http("GET", f"http://{ip('api1')}:8787/v1/reviews/{i}", token).get("status") == "done" for i in ids),
                 120, "the traced reviews to finish", step=0.5)
        h.stop(w2)
        h.stop(api1)
        receiver.stop()
        h.stop(mock)
        spans = receiver.spans
        out = {"spans": len(spans), "exports": receiver.requests}
        for review in ids:
            enqueued = [s for s in spans if s["name"] == "enqueue review" and s["attributes"].get("panel.review") == review]
            check(f"review {review}: its enqueue span was received", len(enqueued) == 1, f"{len(enqueued)}")
            trace = [s for s in spans if s["trace"] == enqueued[0]["trace"]]
            ids_in = {s["id"] for s in trace}
            roots = [s for s in trace if s["parent"] not in ids_in]
            names = [s["name"] for s in trace]
            hosts = sorted({s["host"] for s in trace})
            check(f"review {review}: one connected tree (one root, every parent present)", len(roots) == 1,
                  f"{len(trace)} spans, roots {[r['name'] for r in roots]}")
            check(f"review {review}: across api1 and w2", hosts == ["api1", "w2"], f"{hosts}")
            wanted = ["enqueue review", "claim " + "review:", "persona builder", "persona skeptic", "persona founder", "persona futurist",
                      "chat mock", "document", "finish review"]
            missing = [w for w in wanted if not any(n.startswith(w) for n in names)]
            logged = open(api1.log_path).read()
            check(f"review {review}: api1's log lines carry its trace id", f"trace_id={enqueued[0]['trace']}" in logged,
                  next((line for line in logged.splitlines() if "trace_id" in line), "no line with trace_id")[:200])
            if review == ids[0] or missing:
                print("    the trace as the receiver saw it:\n" + "\n".join("      " + line for line in tree(trace)), flush=True)
                out["tree"] = tree(trace)
            check(f"review {review}: HTTP request → enqueue → claim → persona calls → attempts → save → document",
                  not missing and roots[0]["kind"] == 2, f"missing {missing}, root {roots[0]['name']}")
        return out

    # The two servers
    def serve(self, host: str, store: str, name: str, extra: list[str] = (), env: dict | None = None):
        ready = os.path.join(self.hosts.work, f"{name}.port")
        proc = self.hosts.spawn(host, name, self.hosts.panel(
            "serve", "--listen", f"{ip(host)}:8787", "--store", store, *self.hosts.backend(), "--lease-seconds", str(LEASE),
            "--ready-file", ready, *extra), env=env)
        wait_for(lambda: os.path.exists(ready), 60, f"{name} to listen")
        return proc

    def token(self, store: str, name: str, budget: float | None = None) -> str:
        extra = ["--budget-usd", str(budget)] if budget is not None else []
        result = run(*self.hosts.panel("tokens", "create", "--role", "editor", "--name", name, "--store", store, *extra))
        return result.stdout.strip()

    def c(self) -> dict:
        """api1 killed with -9 while running a review asked over HTTP."""
        h = self.hosts
        mock = h.mock("mock-c", 800, jitter_ms=4000)
        store = h.database("scenario_c")
        api1 = self.serve("api1", store, "c-api1", ["--no-worker"])
        api2 = self.serve("api2", store, "c-api2", ["--no-worker"])
        token = self.token(store, "editor")
        listing = json.loads(open(self.listings_path).readline())
        created = http("POST", f"http://{ip('api1')}:8787/v1/reviews", token, {"listings": [listing]})
        review = created["id"]
        events: list[str] = []
        finished: list = []
        watcher = threading.Thread(target=watch, args=(f"http://{ip('api2')}:8787/v1/reviews/{review}/events", token, events, finished),
                                   daemon=True)
        watcher.start()
        wait_for(lambda: sum(1 for e in events if e == "persona.finished") >= 1, 60, "a persona to answer on api1")
        answered = sum(1 for e in events if e == "persona.finished")
        before_kill = list(finished)
        killed_at = time.time()
        os.kill(api1.pid, signal.SIGKILL)
        api1.wait(10)
        in_flight = len(requests_of(mock.capture, until=killed_at))
        print(f"    api1 killed -9 after {answered} persona(s) answered, {in_flight} asked", flush=True)
        watcher.join(120)
        check("the watcher on api2 saw the review through `done`", events[-1:] == ["done"], f"{events[-4:]}")
        status = http("GET", f"http://{ip('api2')}:8787/v1/reviews/{review}", token)
        check("the review is done, finished elsewhere", status.get("status") == "done", f"{status.get('status')}")
        requests = requests_of(mock.capture)
        by_persona = {p: sum(1 for _, q, _ in requests if q == p) for p in PERSONAS}
        once = [str(p).capitalize() for p in before_kill]
        check("each persona answered before the kill was asked exactly once",
              bool(once) and all(by_persona.get(p) == 1 for p in once) and repeats(requests) <= in_flight - answered,
              f"answered before the kill {once}; asked {by_persona}")
        h.stop(api2)
        h.stop(mock)
        return {"answered_before_kill": answered, "asked": by_persona, "took_s": round(time.time() - killed_at, 1)}

    def g(self) -> dict:
        """One token on api1 and api2 at once: its request rate and its budget hold across both servers."""
        h = self.hosts
        mock = h.mock("mock-g", 200)
        store = h.database("scenario_g")
        servers = [self.serve(host, store, f"g-{host}", ["--requests-per-minute", "30"]) for host in ("api1", "api2")]
        token = self.token(store, "shared")
        # The rate: 40 reads alternating between the servers, within one calendar minute of the store's clock.
        for attempt in range(3):
            minute = int(time.time() // 60)
            if time.time() % 60 > 45:
                time.sleep(60 - time.time() % 60 + 0.5)
                continue
            rate_token = token if attempt == 0 else self.token(store, f"shared-{attempt}")
            codes = [status_of("GET", f"http://{ip('api1' if i % 2 == 0 else 'api2')}:8787/v1/reviews", rate_token)
                     for i in range(40)]
            if int(time.time() // 60) == minute:
                break
        ok = codes.count(200)
        check("the token's 30 requests a minute hold across both servers", ok == 30 and codes.count(429) == 10,
              f"{ok} answered, {codes.count(429)} refused")
        # The budget: reviews asked of both servers at once until refused.
        budget = 100.0
        spender = self.token(store, "spender", budget=budget)
        listings = [json.loads(line) for line in open(self.listings_path)]
        accepted, refused, reasons = [], 0, set()
        lock = threading.Lock()

        def ask(i):
            nonlocal refused
            host = "api1" if i % 2 == 0 else "api2"
            try:
                review = http("POST", f"http://{host and ip(host)}:8787/v1/reviews", spender, {"listings": [listings[i]]})
                with lock:
                    accepted.append((host, review["id"]))
            except urllib.error.HTTPError as error:
                with lock:
                    refused += 1 if error.code == 402 else 0
                    reasons.add(f"{error.code} {error.read().decode()[:300]}")

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

        def all_done():
            states = [http("GET", f"http://{ip(host)}:8787/v1/reviews/{rid}", spender).get("status") for host, rid in accepted]
            return all(s in ("done", "failed") for s in states)

        wait_for(all_done, 180, "the accepted reviews to finish", step=1)
        spent = float(h.sql("scenario_g", "SELECT spent_usd FROM team_token WHERE name = 'spender'")[0][0])
        print(f"    {len(accepted)} reviews accepted ({sum(1 for a in accepted if a[0] == 'api1')} on api1), {refused} refused "
              f"(402); ${spent:.2f} spent of ${budget:.2f}; {sorted(reasons)[:2]}", flush=True)
        ceilings = [float(c) for c in re.findall(r"may cost up to \$([0-9.]+)", " ".join(reasons))]
        most = int(budget // min(ceilings)) if ceilings else 0
        check("the token's budget holds across both servers: no more reviews admitted than their ceilings fit",
              0 < len(accepted) <= most and refused == 12 - len(accepted) and spent <= budget + 1e-9,
              f"{len(accepted)} admitted (at most {most} at ${min(ceilings or [0]):.2f} each), ${spent:.4f} spent")
        for proc in servers:
            h.stop(proc)
        h.stop(mock)
        return {"rate_answered": ok, "rate_refused": codes.count(429), "reviews_accepted": len(accepted), "refused": refused,
                "spent_usd": round(spent, 4), "budget_usd": budget}


def traced(host: str) -> dict:
    """The standard variables that turn traces on, sending them to the receiver on the controller."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{NET}.1:4318", "OTEL_RESOURCE_ATTRIBUTES": f"host.name={host}"}


def http(method: str, url: str, token: str, body=None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}",
                                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def status_of(method: str, url: str, token: str) -> int:
    try:
        request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def watch(url: str, token: str, events: list[str], finished: list) -> None:
    """Reads a review's event stream to its end (reconnecting with Last-Event-ID), appending each event's
    name, and the persona of each persona.finished to `finished`."""
    deadline = time.monotonic() + 180
    last = None
    while time.monotonic() < deadline:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as response:
                for raw in response:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        events.append(line[7:])
                        if line[7:] == "done":
                            return
                    elif line.startswith("id: "):
                        last = line[4:]
                    elif line.startswith("data: ") and events and events[-1] == "persona.finished":
                        try:
                            persona = json.loads(line[6:]).get("persona")
                            finished.append(persona.get("name") or persona.get("id") if isinstance(persona, dict) else persona)
                        except Exception:
                            finished.append(None)
        except Exception:
            time.sleep(0.5)


def bench(hosts: Hosts, listings: int, latency_ms: int = 100) -> None:
    """3 workers on 3 hosts against 1, draining the same job on PostgreSQL across the network."""
    path = os.path.join(hosts.work, "bench.jsonl")
    write_listings(path, listings, prefix="Benchtool")
    mock = hosts.mock("mock-bench", latency_ms)
    figures = {}
    for count in (1, 3):
        db = f"bench_{count}"
        store = hosts.database(db)
        enqueue(hosts, store, "bench", path)
        start = time.monotonic()
        workers = [hosts.spawn(w, f"bench-{count}-{w}", ["/usr/bin/time", "-f", "%U %S", "-o",
                                                          os.path.join(hosts.work, f"bench-{count}-{w}.time"),
                                                          *hosts.panel("worker", "--store", store, *hosts.backend(), "--drain",
                                                                       "--concurrency", "32", "--poll-seconds", "0.2", "--quiet")])
                   for w in ("w1", "w2", "w3")[:count]]
        for proc in workers:
            exited(proc, 900, "a bench worker")
        wall = time.monotonic() - start
        cpu = sum(sum(map(float, open(os.path.join(hosts.work, f"bench-{count}-{w}.time")).read().split()[-2:]))
                  for w in ("w1", "w2", "w3")[:count])
        complete = hosts.sql(db, "SELECT count(*) FROM batch_item WHERE job = 'bench' AND status = 'complete'")[0][0]
        ideal = listings * 4 * latency_ms / 1000 / (count * 32)
        figures[count] = wall
        print(f"{count} worker(s) on {count} host(s): {complete}/{listings} complete, wall {wall:.2f} s = {wall / ideal:.2f} × ideal "
              f"({ideal:.2f} s), workers' CPU {cpu / listings * 1000:.2f} ms per listing", flush=True)
    print(f"scaling: 3 hosts drain {figures[1] / figures[3]:.2f}× as fast as 1", flush=True)
    hosts.stop(mock)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug", help="where panel and panel-mock-provider are built")
    parser.add_argument("--only", default="a,b,c,d,e,f,g,t", help="scenarios to run, e.g. a,f")
    parser.add_argument("--listings", type=int, default=24)
    parser.add_argument("--bench", type=int, default=0, help="instead of the scenarios: 3 workers on 3 hosts vs 1, N listings")
    parser.add_argument("--bench-latency", type=int, default=100, help="the mock's latency in the bench, ms")
    parser.add_argument("--keep", action="store_true", help="leave the network and the logs for a look")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("several-hosts: run as root (network namespaces)", file=sys.stderr)
        return 2
    for tool in ("panel", "panel-mock-provider"):
        if not os.access(os.path.join(args.bin, tool), os.X_OK):
            print(f"several-hosts: {args.bin}/{tool} is not built", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="panel-hosts.")
    hosts = Hosts(args.bin, work)
    started = time.monotonic()
    failures = []
    try:
        network_up()
        hosts.start_postgres()
        print(f"several-hosts: {len(HOSTS)} hosts on {BRIDGE} ({NET}.0/24), PostgreSQL on {ip('db')}; logs in {work}", flush=True)
        if args.bench:
            bench(hosts, args.bench, args.bench_latency)
            return 0
        session = Run(hosts, args.listings)
        session.single_host()
        summary = {}
        for name in args.only.split(","):
            scenario = getattr(session, name)
            print(f"\n== {name}: {scenario.__doc__}", flush=True)
            begun = time.monotonic()
            try:
                summary[name] = scenario()
                print(f"    scenario {name} passed in {time.monotonic() - begun:.0f} s", flush=True)
            except Failed as failure:
                failures.append(name)
                print(f"    scenario {name} FAILED: {failure}", flush=True)
            finally:
                hosts.stop_all()
                for host in HOSTS:
                    for other in list(HOSTS) + ["root"]:
                        if other != host:
                            heal(host, other)
        print(f"\nseveral-hosts: {len(summary)}/{len(args.only.split(','))} scenarios passed in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        print(json.dumps(summary, indent=1, sort_keys=True))
    finally:
        hosts.stop_all()
        if not args.keep:
            hosts.pg("-m", "immediate", "stop", check=False)
            network_down()
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
