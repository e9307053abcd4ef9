"""Run the walkthroughs' short runs one after another, time them, and check that every finding holds.

    python -m benchmarks.walkthrough_findings                # every walkthroughs/NN_*.py with --short
    python -m benchmarks.walkthrough_findings 05 08          # only these (by number or by name)
    python -m benchmarks.walkthrough_findings --size quick   # seconds each: the findings are listed, not required

Each walkthrough records its findings in ``results.json`` (``npae.apps.walkthrough.Findings``): a name, whether it
held (a comparison computed from the run's numbers), and the sentence that states it. A short run (at most three
minutes on two cores) is the smallest in which every finding should hold; this script fails when one does not,
when a script records none, fails, or overruns ``--limit-seconds``. It is not part of CI: all twelve short runs take
about twelve minutes. Times are wall-clock seconds and the CPU seconds of the script's process (user + system,
all threads), with the load average before each run, since a busy machine stretches the wall-clock time.

Output: each run's figures, ``results.json`` and log under ``--out`` (default ``benchmarks/out/walkthroughs``),
``summary.json`` there, and a Markdown table on the console (the one in ``walkthroughs/README.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "walkthroughs").glob("[0-9][0-9]_*.py"))
SHORT_LIMIT_SECONDS = 180


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scripts", nargs="*",
                        help="walkthroughs to run, by number (05) or name (05_denoising_autoencoder); default all")
    parser.add_argument("--size", choices=("short", "quick", "full"), default="short",
                        help="run size (default short; a quick run's findings are listed but not required)")
    parser.add_argument("--limit-seconds", type=float, default=None,
                        help=f"longest wall-clock time allowed per script (default {SHORT_LIMIT_SECONDS} for short "
                             "runs, none otherwise)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "out" / "walkthroughs",
                        help="folder for each run's output, the logs and summary.json")
    args = parser.parse_args(argv)
    if args.limit_seconds is None and args.size == "short":
        args.limit_seconds = SHORT_LIMIT_SECONDS
    return args


def select(names):
    """The walkthrough scripts named by number or stem (all when ``names`` is empty), in order."""
    if not names:
        return SCRIPTS
    chosen = []
    for name in names:
        matches = [s for s in SCRIPTS if s.stem == name or s.stem.split("_")[0] == name]
        if not matches:
            raise SystemExit(f"scripts: no walkthrough {name!r}; expected one of "
                             f"{', '.join(s.stem for s in SCRIPTS)}")
        chosen += matches
    return chosen


def run(script, size, out):
    """Run one walkthrough; returns its wall and CPU seconds, exit code, load average before, and results."""
    folder = out / f"{script.stem}_{size}"
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(script), "--out", str(folder)] + ([] if size == "full" else [f"--{size}"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out / f"{script.stem}_{size}.log", "w") as log:
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if code == 0 and results_path.exists() else {}
    return {"script": script.stem, "size": size, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "load_before": round(load, 2), "exit_code": code, "findings": results.get("findings", {}),
            "sentences": results.get("finding_sentences", {})}


def problems(record, size, limit):
    """What is wrong with one run, as sentences (empty when it is fine)."""
    if record["exit_code"] != 0:
        return [f"exited with code {record['exit_code']} (see its log)"]
    found = []
    if not record["findings"]:
        found.append("recorded no findings")
    if size != "quick":
        found += [f"finding not shown: {name}" for name, held in record["findings"].items() if not held]
    if limit is not None and record["wall_seconds"] > limit:
        found.append(f"took {record['wall_seconds']:.0f} s, over the limit of {limit:.0f} s "
                     f"(load average {record['load_before']} before it started)")
    return found


def table(records):
    """The Markdown table of walkthroughs/README.md: time and the findings' sentences of each run."""
    lines = ["| script | wall s | CPU s | findings shown | what the numbers showed |", "| --- | --- | --- | --- | --- |"]
    for r in records:
        shown = sum(r["findings"].values())
        lines.append(f"| {r['script'][:2]} | {r['wall_seconds']:.0f} | {r['cpu_seconds']:.0f} | "
                     f"{shown} of {len(r['findings'])} | {'; '.join(r['sentences'].values())} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    records, failures = [], {}
    for script in select(args.scripts):
        print(f"{script.stem} --{args.size} ...", flush=True)
        record = run(script, args.size, args.out)
        records.append(record)
        wrong = problems(record, args.size, args.limit_seconds)
        if wrong:
            failures[record["script"]] = wrong
        print(f"  {record['wall_seconds']:.0f} s wall, {record['cpu_seconds']:.0f} s CPU; "
              f"{sum(record['findings'].values())} of {len(record['findings'])} findings shown"
              + "".join(f"\n  PROBLEM: {w}" for w in wrong), flush=True)
    summary = args.out / "summary.json"
    summary.write_text(json.dumps({"size": args.size, "limit_seconds": args.limit_seconds, "runs": records},
                                  indent=1) + "\n")
    print(f"\n{table(records)}\n\nwrote {summary}")
    if failures:
        print(f"{len(failures)} of {len(records)} walkthroughs have problems: {', '.join(failures)}")
        return 1
    print(f"all {len(records)} walkthroughs ran and showed every finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
