"""Where one more call's instructions go: two callgrind_annotate outputs (a smaller and a larger run of the
same batch) differenced per function and divided by the calls between them, then grouped.
Usage: python3 bench/profile.py SMALL.annotated LARGE.annotated CALLS"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.+?)(?:\s+\[[^\]]*\])?$")


def read(path):
    totals = {}
    with open(path) as file:
        for line in file:
            match = LINE.match(line)
            if not match or ":" not in match.group(2):
                continue
            count = int(match.group(1).replace(",", ""))
            name = match.group(2).split(":", 1)[1].strip()
            totals[name] = totals.get(name, 0) + count
    return totals


GROUPS = [
    ("JSON (the project's reader/writer, Foundation's coders)", r"JSONValue|JSONEncoder|JSONDecoder|JSONSerialization|_JSON|JSONWriter|JSONScanner|JSONMap"),
    ("SQLite and GRDB", r"sqlite3|GRDB|Statement|Database"),
    ("documents and templates", r"Template|Render|DocumentViewModel|Markdown|HTML|Mustache|ReviewDocument"),
    ("answer parsing and claims", r"ReviewParser|Answer|Claim|Listing"),
    ("statistics and intervals", r"Statistics|bootstrap|Interval|Krippendorff|percentile"),
    ("HTTP client and NIO", r"NIO|ByteBuffer|HTTP|Channel|EventLoop|PlainHTTP1|Socket|epoll"),
    ("Swift runtime: casts and conformances", r"swift_conformsTo|swift_dynamicCast|ConformanceCache|getTypeByMangled|swift_getGenericMetadata|Metadata"),
    ("allocation and reference counting", r"malloc|free|swift_retain|swift_release|swift_allocObject|swift_bridgeObject|_int_malloc|_int_free|swift_deallocObject|cfree"),
    ("strings and formatting", r"String|Character|Unicode|_StringGuts|CVarArg|format|Float64ToASCII|Substring"),
    ("concurrency", r"swift_task|swift_job|Task|AsyncStream|Continuation|Mutex|pthread|futex|Dispatch"),
    ("memory copies", r"memcpy|memmove|memset|memcmp"),
]


def demangle(names):
    try:
        output = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True, text=True).stdout
        return output.splitlines()
    except OSError:
        return names


def main():
    small, large, calls = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
    names = sorted(set(small) | set(large))
    readable = dict(zip(names, demangle(names)))
    marginal = {name: (large.get(name, 0) - small.get(name, 0)) / calls for name in names}
    total = sum(marginal.values())
    grouped = {}
    for name, value in marginal.items():
        label = next((label for label, pattern in GROUPS if re.search(pattern, readable[name])), "other")
        grouped[label] = grouped.get(label, 0) + value
    print(f"marginal instructions per call: {total:,.0f} (functions above callgrind_annotate's threshold)")
    print("\nby group:")
    for label, value in sorted(grouped.items(), key=lambda item: -item[1]):
        print(f"  {value:>10,.0f}  {value / total * 100:5.1f}%  {label}")
    print("\ntop functions:")
    for name, value in sorted(marginal.items(), key=lambda item: -item[1])[:25]:
        print(f"  {value:>10,.0f}  {value / total * 100:5.1f}%  {readable[name][:150]}")


main()
