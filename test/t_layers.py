#!/usr/bin/env python3
"""Layers call downward only: callbacks -> engine and client -> auth and
transport.  Read from the sources: which file calls a function another file
defines.  The call graph between files has no cycle, the transport (http.c)
calls no other file of ours, authentication (auth.c, huawei_sign.c) makes no
request, and only the client starts, waits for or takes transfers."""
import os
import re
import sys
from pathlib import Path

from harness import Tap

tap = Tap()
root = Path(os.environ.get("CLOUD_FDW_ROOT", Path(__file__).resolve().parent.parent))
sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "src").glob("*.c"))}

# a definition: the function name at the start of a line, its type on the line before
DEFINITION = re.compile(r"^((?:cf|cfj|cloud)\w*)\(", re.M)
owner = {name: stem for stem, text in sources.items() for name in DEFINITION.findall(text)}
calls = {stem: {owner[name] for name in set(re.findall(r"\b((?:cf|cfj|cloud)\w*)\s*\(", text))
                if name in owner and owner[name] != stem}
         for stem, text in sources.items()}


def cycle_through(start):
    """A path of calls from start back to itself, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for callee in calls.get(node, ()):
            if callee == start:
                return path + [start]
            if callee not in seen:
                seen.add(callee)
                stack.append((callee, path + [callee]))
    return None


tap.ok(len(owner) > 100 and {"client", "http", "auth", "connection"} <= set(sources),
       "the sources and their functions are found", diag=f"{len(owner)} functions")
for stem in sorted(sources):
    cycle = cycle_through(stem)
    tap.ok(cycle is None, f"no call cycle through {stem}.c", diag=" -> ".join(cycle or []))
tap.ok(calls["http"] == set(), "the transport calls no other file of ours",
       diag=", ".join(sorted(calls["http"])))
transfer = re.compile(r"\bcf_http_(start|wait_any|take|pause_until)\s*\(")
for stem in ("auth", "huawei_sign"):
    tap.ok(not transfer.search(sources[stem]) and "connection" not in calls[stem],
           f"{stem}.c makes no request and keeps no connection state")
starters = sorted(stem for stem, text in sources.items() if stem != "http" and transfer.search(text))
tap.ok(starters == ["client"], "only the client starts, waits for or takes transfers",
       diag=", ".join(starters))
sys.exit(tap.exit_code())
