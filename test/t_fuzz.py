#!/usr/bin/env python3
"""Fuzz the JSON layer (src/json.c) with libFuzzer, AddressSanitizer,
UndefinedBehaviorSanitizer and LeakSanitizer, for a bounded time.

The target (test/fuzz/fuzz_json.c) runs response bodies through parsing,
path lookups, serialization, merge patches and body building, with
PostgreSQL's memory contexts and ereport(ERROR) stood in for by
test/fuzz/pg_shim.c, so error paths are exercised and leak-checked too.
The corpus is seeded from the mock cloud's fixtures.  FUZZ_SECONDS sets
the time (30 s in `make test`, longer in `make fuzz`).
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
out = Path(os.environ.get("FUZZ_DIR") or tempfile.mkdtemp(prefix="cloud_fdw_fuzz."))
out.mkdir(parents=True, exist_ok=True)


def output(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


includedir = pg_config("--includedir-server")
json_c = output(["pkg-config", "--cflags", "--libs", "json-c"]).stdout.split()
binary = out / "fuzz_json"
build = output(["clang-14", "-g", "-O1", "-Wno-ignored-attributes",
                "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
                f"-I{root / 'src'}", f"-I{includedir}",
                str(root / "test/fuzz/fuzz_json.c"), str(root / "test/fuzz/pg_shim.c"),
                str(root / "src/json.c"), *json_c, "-o", str(binary)])
tap.ok(build.returncode == 0, "the fuzz target builds with clang and the sanitizers",
       diag=build.stderr[-3000:])
if build.returncode != 0:
    sys.exit(tap.exit_code())

corpus = out / "corpus"
seed = output([sys.executable, str(root / "test/fuzz/seed_corpus.py"), str(corpus)])
tap.ok(seed.returncode == 0, "the corpus is seeded from the fixtures", diag=seed.stderr)

run = output([str(binary), f"-max_total_time={seconds}", "-max_len=65536", "-timeout=10",
              "-rss_limit_mb=2048", f"-artifact_prefix={out}/", str(corpus)])
last = [line for line in run.stderr.splitlines() if line.startswith("Done")]
tap.ok(run.returncode == 0 and last,
       f"{seconds} s of fuzzing found no crash, leak or undefined behaviour ({last[-1] if last else 'no summary'})",
       diag=run.stderr[-4000:])
if run.returncode != 0:
    print(f"# crash inputs, if any, are in {out}")
elif "FUZZ_DIR" not in os.environ:
    shutil.rmtree(out, ignore_errors=True)
sys.exit(tap.exit_code())
