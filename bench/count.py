#!/usr/bin/env python3
"""Instructions per call inside the real Envoy, under callgrind (issue #20).

    python3 bench/count.py A.wasm B.wasm [...] [--calls N] [--path P] [--body-kb K]

CPU time per call inside Envoy moves by a third or more from minute to minute on a shared
box, and this box has no hardware counters for `perf stat`. Valgrind's callgrind counts the
instructions Envoy executes (its own code, the host calls' C++ and V8's generated code alike),
and the count of a fixed workload repeats closely, so a change of a few percent shows.

For each module (`bare` for no filter; `A.wasm@extra.json` merges extra.json over the observe
configuration, as in `ab.py`): Envoy starts under callgrind with `--concurrency 1`, takes warm-up
calls until V8 has tiered up, then the counters are zeroed, `N` calls (default 1,000, 2 KB
chat in observe mode) are made one at a time on one keep-alive connection, and the counters are
dumped. Reported: instructions per call, over all of Envoy's threads. Slow (Envoy runs about
50 times slower under valgrind), and a measure of work, not of time: cache misses and the
host's own noise are not in it, which is the point.
"""
import http.client, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (nginx, the Envoy configuration, the bench's bodies)


# what the openai Python SDK sends (1.x): a header map of realistic size for the header reads
SDK_HEADERS = {
    "host": "api.openai.com", "accept-encoding": "gzip, deflate", "accept": "application/json",
    "content-type": "application/json", "user-agent": "OpenAI/Python 1.55.0",
    "x-stainless-lang": "python", "x-stainless-package-version": "1.55.0", "x-stainless-os": "Linux",
    "x-stainless-arch": "x64", "x-stainless-runtime": "CPython", "x-stainless-runtime-version": "3.12.7",
    "authorization": "Bearer sk-not-a-real-key-0123456789abcdef", "x-stainless-async": "false",
    "x-stainless-retry-count": "0", "x-stainless-read-timeout": "600",
}


def calls(port, path, body, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        conn.request("POST", path, body=body, headers=SDK_HEADERS)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"call failed: {r.status}")
    conn.close()


def count(tmp, upstream, module, config, path, body, n):
    listen, admin = run.free_port(), run.free_port()
    yaml = os.path.join(tmp, "envoy.yaml")
    open(yaml, "w").write(run.envoy_yaml(listen, admin, upstream, module, config))
    out = os.path.join(tmp, "callgrind.out")
    for f in os.listdir(tmp):
        if f.startswith("callgrind.out"):
            os.remove(os.path.join(tmp, f))
    log = open(os.path.join(tmp, "envoy.log"), "w")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--smc-check=all", f"--callgrind-out-file={out}",
                          run.ENVOY, "-c", yaml, "--concurrency", "1", "--use-dynamic-base-id", "-l", "error"],
                         stdout=log, stderr=log, start_new_session=True)
    run.procs.append(p)
    try:
        if not run.wait_ready(admin, timeout=600):
            raise SystemExit(f"envoy under valgrind did not start; see {log.name}")
        calls(listen, path, body, max(n // 2, 200))  # warm-up: V8 tiers the hot functions up
        time.sleep(2)
        calls(listen, path, body, 50)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
        calls(listen, path, body, n)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
        total = 0
        keep = os.environ.get("COUNT_KEEP")  # a folder to keep the dumps in, for callgrind_annotate
        for f in os.listdir(tmp):
            if f.startswith("callgrind.out") and f != "callgrind.out":
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    shutil.copy(os.path.join(tmp, f), os.path.join(keep, f"{os.path.basename(module or 'bare')}.{f}"))
                for line in open(os.path.join(tmp, f), errors="replace"):
                    m = re.match(r"summary: (\d+)", line)
                    if m:
                        total += int(m.group(1))
        return total / n
    finally:
        os.killpg(p.pid, 9)
        p.wait()


def main():
    args = sys.argv[1:]
    n, path, kb = 1000, "/chat2k/v1/chat/completions", 2

    def option(name, conv):
        nonlocal args
        if name in args:
            i = args.index(name); v = conv(args[i + 1]); del args[i:i + 2]; return v
        return None

    n = option("--calls", int) or n
    path = option("--path", str) or path
    kb = option("--body-kb", int) or kb
    if not args:
        raise SystemExit(__doc__)
    tmp = tempfile.mkdtemp(prefix="genai-tap-count-")
    os.chmod(tmp, 0o755)
    try:
        upstream = run.start_nginx(tmp)
        body = run.request_body(kb * 1024).encode()
        for m in args:
            module, config, _ = run.module_spec(m)
            per_call = count(tmp, upstream, module, config, path, body, n)
            print(f"{m:<50} {per_call:>12,.0f} instructions per call", flush=True)
    finally:
        run.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
