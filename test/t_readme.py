#!/usr/bin/env python3
"""The README's IMPORT FOREIGN SCHEMA examples are the ones sql/readme.sql
runs against the mock: every line of each README SQL block that holds an
IMPORT, and the Qoder server and user mapping they use, appears verbatim
and in order in sql/readme.sql.  So an example that stops working fails
the regress suite, and one edited in the README alone fails here."""
import os
import re
import sys
from pathlib import Path

from harness import Tap

tap = Tap()
root = Path(os.environ.get("CLOUD_FDW_ROOT", Path(__file__).resolve().parent.parent))
readme = (root / "README.md").read_text(encoding="utf-8")
test_lines = (root / "sql" / "readme.sql").read_text(encoding="utf-8").splitlines()

blocks = re.findall(r"```sql\n(.*?)```", readme, re.S)
examples = [b for b in blocks if "IMPORT FOREIGN SCHEMA" in b]
qoder_setup = next(b for b in blocks if "CREATE SERVER qoder" in b)
qoder_setup = qoder_setup[qoder_setup.index("CREATE SERVER qoder"):]
qoder_setup = qoder_setup[:qoder_setup.index("\n", qoder_setup.index("CREATE USER MAPPING")) + 1]


def missing_lines(block):
    """The block's lines that sql/readme.sql lacks, in order from where the last was found."""
    position, missing = 0, []
    for line in filter(None, block.splitlines()):
        try:
            position = test_lines.index(line, position) + 1
        except ValueError:
            missing.append(line)
    return missing


tap.ok(len(examples) == 2, "the README has two SQL blocks with IMPORT FOREIGN SCHEMA",
       diag=f"found {len(examples)}")
for block in [qoder_setup] + examples:
    first = block.splitlines()[0]
    missing = missing_lines(block)
    tap.ok(not missing, f"sql/readme.sql runs the README's block starting {first[:50]!r} verbatim",
           diag="\n".join(missing))
sys.exit(tap.exit_code())
