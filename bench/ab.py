#!/usr/bin/env python3
"""A/B of module builds in the same Envoy, one change at a time (issue #20).

    python3 bench/ab.py A.wasm B.wasm [...] [--rounds N] [--seconds S] [--observe-only]

`A.wasm@extra.json` loads A.wasm with the JSON object in extra.json merged over the bench's
plugin configurations (observe and guard), to weigh one setting the same way.
`--observe-only` skips the guard's scan rows.

`bare` in place of a module runs the same Envoy without the filter. With `bare` and the no-op
module (`dist/noop.wasm`) both in the list, each module's observe and unobserved CPU is also
given as what it adds over the no-op, as a multiple of bare's: the unit of #20's targets.

There is no symbolised profile inside V8 here, so a change is judged by what it does to
Envoy's CPU per call. Each module is loaded in turn into the same pinned Envoy, in rounds that
alternate the modules (A B A B ...) so that a slow minute of the machine hits both. Reported,
as medians over the rounds:

- observe mode, 2 KB chat: CPU per call (us);
- a call the filter does not read (a non-LLM path on the same route): CPU per call (us);
- the guard on a 100 KB prompt, clean and dense with PII: MB/s of scan, from the CPU the
  guard adds over observe on the same prompt.

Nothing here is a verdict; `make bench` holds the targets. This is the tool for deciding
whether one build flag or one code change is worth keeping.
"""
import os, statistics, sys, tempfile, shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the bench's own helpers: nginx, Envoy, wrk)


def cpu_per_call(e, tmp, path, body, seconds):
    cpu0 = e.cpu_seconds()
    _, total, _ = run.wrk(tmp, e.listen, path, body, seconds)
    return (e.cpu_seconds() - cpu0) * 1e6 / max(total, 1)


def main():
    args = sys.argv[1:]
    rounds, seconds = 3, 4
    if "--rounds" in args:
        i = args.index("--rounds"); rounds = int(args[i + 1]); del args[i:i + 2]
    if "--seconds" in args:
        i = args.index("--seconds"); seconds = int(args[i + 1]); del args[i:i + 2]
    observe_only = "--observe-only" in args
    modules = [a for a in args if a != "--observe-only"]
    label = lambda m: "@".join(os.path.basename(p) for p in m.split("@", 1))
    if not modules:
        raise SystemExit(__doc__)
    tmp = tempfile.mkdtemp(prefix="genai-tap-ab-")
    os.chmod(tmp, 0o755)
    try:
        upstream = run.start_nginx(tmp)
        body2k = os.path.join(tmp, "req2k.json"); open(body2k, "w").write(run.request_body(2048))
        prompts = {}
        for kind, make in [("clean", run.request_body), ("dense", run.dense_request_body)]:
            prompts[kind] = os.path.join(tmp, f"prompt-{kind}.json"); open(prompts[kind], "w").write(make(100 * 1024))
        chat = "/chat2k/v1/chat/completions"
        rows = {m: {k: [] for k in ["observe", "unobserved", "clean", "dense"]} for m in modules}
        for r in range(rounds):
            for m in modules:
                module, observe, guard = run.module_spec(m)
                e = run.Envoy(tmp, f"ab{r}", upstream, module, observe)
                run.wrk(tmp, e.listen, chat, body2k, 1)  # warm-up: V8 tiers up the hot functions
                rows[m]["observe"].append(cpu_per_call(e, tmp, chat, body2k, seconds))
                rows[m]["unobserved"].append(cpu_per_call(e, tmp, "/unobserved/v1/files", body2k, seconds))
                if m == "bare" or m.endswith("noop.wasm") or observe_only:
                    # nothing to guard: no scan speed to measure
                    e.stop()
                    for k in prompts:
                        rows[m][k].append(float("nan"))
                    continue
                base = {k: cpu_per_call(e, tmp, chat, prompts[k], seconds) for k in prompts}
                e.stop()
                e = run.Envoy(tmp, f"ab{r}g", upstream, module, guard)
                run.wrk(tmp, e.listen, chat, prompts["dense"], 1)
                for k in prompts:
                    added = cpu_per_call(e, tmp, chat, prompts[k], seconds) - base[k]
                    rows[m][k].append(100 * 1024 / added if added > 0 else float("inf"))
                e.stop()
        med = statistics.median
        print(f"{'module':<40} {'observe us':>11} {'unobs us':>9} {'clean MB/s':>11} {'dense MB/s':>11}  size")
        for m in modules:
            x = rows[m]
            size = "" if m == "bare" else f"{os.path.getsize(run.module_spec(m)[0]):,}"
            print(f"{label(m):<40} {med(x['observe']):>11.1f} {med(x['unobserved']):>9.1f} "
                  f"{med(x['clean']):>11.0f} {med(x['dense']):>11.0f}  {size}")
            print(f"{'':<40} spread: observe {min(x['observe']):.1f}-{max(x['observe']):.1f}, "
                  f"clean {min(x['clean']):.0f}-{max(x['clean']):.0f}, dense {min(x['dense']):.0f}-{max(x['dense']):.0f}")
        noop = next((m for m in modules if m.endswith("noop.wasm")), None)
        if "bare" in modules and noop:
            bare = {k: med(rows["bare"][k]) for k in ["observe", "unobserved"]}
            floor = {k: med(rows[noop][k]) for k in ["observe", "unobserved"]}
            print("\nadded over the no-op, as a multiple of bare's CPU per call (medians):")
            for m in modules:
                if m in ("bare", noop):
                    continue
                added = {k: (med(rows[m][k]) - floor[k]) / bare[k] for k in bare}
                print(f"{label(m):<40} observe {added['observe']:+.2f}x  unobserved {added['unobserved']:+.2f}x")
    finally:
        run.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
