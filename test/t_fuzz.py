#!/usr/bin/env python3
"""Fuzz the JSON layer with libFuzzer, AddressSanitizer,
UndefinedBehaviorSanitizer and LeakSanitizer, for a bounded time.

Two targets, each built and run in turn:

- test/fuzz/fuzz_json.c runs response bodies through src/json.c: parsing,
  path lookups, serialization, merge patches and body building.
- test/fuzz/fuzz_tape.c is a differential test of the tape (src/tape.c)
  against json-c behind src/json.c: both must take the same texts, but for
  the forms json-c is lenient about (which the tape refuses, and must take
  once made strict), and read the same values from them; any disagreement
  is a crash, with the text in the output.

PostgreSQL's memory contexts, ereport(ERROR) and UTF-8 functions are stood
in for by test/fuzz/pg_shim.c, so error paths are exercised and
leak-checked too.  Both targets start from the same corpus, seeded from
the mock cloud's fixtures and from hand-written corner cases
(test/fuzz/seed_corpus.py), with test/fuzz/json.dict as dictionary.
FUZZ_SECONDS is the time for the two together, split evenly between them
(30 s in `make test`, longer in `make fuzz`).
"""
# timeout: 900
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Tap, pg_config

tap = Tap()
root = Path(__file__).resolve().parent.parent
seconds = int(os.environ.get("FUZZ_SECONDS", "30"))
each = max(1, seconds // 2)
out = Path(os.environ.get("FUZZ_DIR") or tempfile.mkdtemp(prefix="cloud_fdw_fuzz."))
out.mkdir(parents=True, exist_ok=True)


def output(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", **kwargs)


includedir = pg_config("--includedir-server")
json_c = output(["pkg-config", "--cflags", "--libs", "json-c"]).stdout.split()
targets = {
    "fuzz_json": ["src/json.c"],
    "fuzz_tape": ["src/json.c", "src/tape.c"],
}
binaries = {}
for name, sources in targets.items():
    binary = out / name
    build = output(["clang-14", "-g", "-O1", "-Wno-ignored-attributes",
                    "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
                    f"-I{root / 'src'}", f"-I{includedir}",
                    str(root / f"test/fuzz/{name}.c"), str(root / "test/fuzz/pg_shim.c"),
                    *(str(root / s) for s in sources), *json_c, "-o", str(binary)])
    tap.ok(build.returncode == 0, f"the fuzz target {name} builds with clang and the sanitizers",
           diag=build.stderr[-3000:])
    if build.returncode == 0:
        binaries[name] = binary
if not binaries:
    sys.exit(tap.exit_code())

corpus = out / "corpus"
seed = output([sys.executable, str(root / "test/fuzz/seed_corpus.py"), str(corpus)])
tap.ok(seed.returncode == 0, "the corpus is seeded from the fixtures and the corner cases",
       diag=seed.stderr)

failed = False
for name, binary in binaries.items():
    run = output([str(binary), f"-max_total_time={each}", "-max_len=65536", "-timeout=10",
                  "-rss_limit_mb=2048", f"-dict={root / 'test/fuzz/json.dict'}",
                  f"-artifact_prefix={out}/{name}-", str(corpus)])
    last = [line for line in run.stderr.splitlines() if line.startswith("Done")]
    found = [line for line in run.stderr.splitlines() if line.startswith("==== ")]
    tap.ok(run.returncode == 0 and last,
           f"{name}: {each} s of fuzzing found no crash, leak, undefined behaviour or disagreement "
           f"({last[-1] if last else 'no summary'})",
           diag="\n".join(found + [run.stderr[-4000:]]))
    failed = failed or run.returncode != 0
if failed or len(binaries) < len(targets):
    print(f"# crash inputs, if any, are in {out}")
elif "FUZZ_DIR" not in os.environ:
    shutil.rmtree(out, ignore_errors=True)
sys.exit(tap.exit_code())
