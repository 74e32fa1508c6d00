#!/usr/bin/env python3
"""The core's cost per call in V8, without Envoy: `make bench-core` (issue #20).

Inside Envoy a call's CPU is noisy on a shared box, and V8 there gives no symbolised profile.
This runs the same per-call work (`src/main.rs`: the exchange on a 2 KB chat call in observe
mode, the stats lookup and the span encoding the host does) built for wasm32-wasip1, in node's
V8, and reports:

- time per call: the minimum and median of five runs (node's clock; still noisy, less so);
- `INSTR=1`: V8 instructions per call under callgrind (TurboFan only, no tier-up, one thread),
  from two runs of 100 and 2,100 calls, so start-up and compilation cancel out; repeatable to
  about 1.5%, for A/B of one change (two minutes);
- `PROFILE=1`: the functions where the time goes, self and inclusive, from `node --cpu-prof`;
- `SCAN=1`: the request guard's MB/s in V8 on the 100 KB prompts `make bench` sends Envoy
  (clean and dense with PII), fed in 16 KiB chunks as Envoy does (the median of three runs).

`perf` on Envoy itself (samples under V8's JIT frames against Envoy's own code) put the core at
about half of what observe mode adds over the no-op module on 2026-12-03; the rest is the
host calls and Envoy's side of them.
"""
import collections, glob, json, os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import run  # noqa: E402  (the bench's bodies and plugin configuration)

MODULE = os.path.join(HERE, "target", "wasm32-wasip1", "release", "genai-tap-core-v8.wasm")


def node(data, n, extra=(), prefix=(), config=None, env=()):
    cmd = [*prefix, "node", "--no-warnings", *extra, os.path.join(HERE, "run.mjs"), MODULE, data, config or run.OBSERVE]
    # this script's own SCAN=1 is not the module's SCAN=file
    base = {k: v for k, v in os.environ.items() if k != "SCAN"}
    return subprocess.run(cmd, env={**base, "N": str(n), **dict(env)}, capture_output=True, text=True, cwd=data)


def scan_speed(data):
    for kind, make in [("clean", run.request_body), ("dense", run.dense_request_body)]:
        open(os.path.join(data, f"{kind}.json"), "w").write(make(100 * 1024))
        speeds = []
        for _ in range(3):
            r = node(data, 300, config=run.GUARD, env={"SCAN": f"{kind}.json"})
            if r.returncode != 0:
                raise SystemExit(f"core_v8 failed: {r.stderr.strip()[-500:]}")
            speeds.append(json.loads(r.stdout)["scan_mbps"])
        print(f"V8 guard, {kind} 100 KB prompt: {statistics.median(speeds):.0f} MB/s (of {sorted(speeds)})")


def instructions(data, n):
    vg = ["valgrind", "--tool=callgrind", "--smc-check=all", "--callgrind-out-file=/dev/null"]
    out = node(data, n, ["--no-liftoff", "--no-wasm-tier-up", "--no-wasm-lazy-compilation", "--single-threaded"], vg).stderr
    return int(re.search(r"I\s+refs:\s+([\d,]+)", out).group(1).replace(",", ""))


def demangle(sym):
    """Rust's legacy mangling, `_ZN9genai_tap4span4Span3setE` to `genai_tap::span::Span::set`."""
    sym = re.sub(r"17h[0-9a-f]{16}E$", "E", sym)
    if not sym.startswith("_ZN"):
        return sym or "(js)"
    parts, rest = [], sym[3:]
    while rest[:1].isdigit():
        digits = re.match(r"\d+", rest).group(0)
        n = int(digits); parts.append(rest[len(digits):len(digits) + n]); rest = rest[len(digits) + n:]
    out = "::".join(parts)
    for k, v in {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$RF$": "&", "$C$": ",", "..": "::"}.items():
        out = out.replace(k, v)
    return out


def profile(data):
    node(data, 100_000, ["--cpu-prof", "--cpu-prof-interval", "50", "--cpu-prof-dir", data])
    p = json.load(open(glob.glob(os.path.join(data, "*.cpuprofile"))[0]))
    nodes = {n["id"]: n for n in p["nodes"]}
    parent = {c: n["id"] for n in p["nodes"] for c in n.get("children", [])}
    hits = collections.Counter(p["samples"])
    own, incl = collections.Counter(), collections.Counter()
    name = lambda i: demangle(nodes[i]["callFrame"]["functionName"])
    for i, c in hits.items():
        own[name(i)] += c
        seen, x = set(), i
        while x is not None:
            if name(x) not in seen:
                incl[name(x)] += c; seen.add(name(x))
            x = parent.get(x)
    total = sum(hits.values())
    for title, counter in [("self", own), ("inclusive", incl)]:
        print(f"-- {title}")
        for f, c in counter.most_common(int(os.environ.get("PROFILE_TOP", "25"))):
            print(f"{100 * c / total:5.1f}%  {f[:120]}")


def main():
    data = tempfile.mkdtemp(prefix="core-v8-")
    open(os.path.join(data, "request.json"), "w").write(run.request_body(2048))
    open(os.path.join(data, "response.json"), "w").write(run.chat_body(2048))
    times = []
    for _ in range(5):
        r = node(data, 50_000)
        if r.returncode != 0:
            raise SystemExit(f"core_v8 failed: {r.stderr.strip()[-500:]}")
        times.append(json.loads(r.stdout)["us_per_call"])
    print(f"V8: {min(times):.2f} us per call at best, {statistics.median(times):.2f} median, of {sorted(times)}")
    if os.environ.get("INSTR"):
        print(f"V8 instructions per call: {(instructions(data, 2100) - instructions(data, 100)) // 2000:,}")
    if os.environ.get("PROFILE"):
        profile(data)
    if os.environ.get("SCAN"):
        scan_speed(data)


if __name__ == "__main__":
    main()
