#!/usr/bin/env python3
"""Seed the fuzz corpus from the mock's fixtures: every item alone, list
envelopes of each API, and error envelopes, as the mock would send them."""
import json
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
qoder = json.loads((root / "fixtures" / "qoder_environments.json").read_text())["environments"]
huawei = json.loads((root / "fixtures" / "huawei.json").read_text())
deploy = [e for app in huawei["codearts"]["applications"] for e in app["environments"]]
eps = huawei["enterprise_projects"]
docs = qoder + deploy + eps + [
    {"data": qoder[:3], "first_id": qoder[0]["id"], "last_id": qoder[2]["id"], "has_more": True},
    {"data": [], "first_id": None, "last_id": None, "has_more": False, "next_page": None},
    {"status": "success", "total": len(deploy), "result": deploy},
    {"enterprise_projects": eps, "total_count": len(eps)},
    {"enterprise_project": eps[1]},
    {"type": "error", "error": {"type": "invalid_request_error", "message": "bad", "param": "name"}},
    {"error": {"error_code": "EPS.0005", "error_msg": "not found"}},
    {"error": {"code": "Deploy.00021438", "message": "no env"}, "status": "failed"},
    {"error_msg": "verify aksk signature fail", "error_code": "APIGW.0301", "request_id": "x"},
]
for i, doc in enumerate(docs):
    (out / f"seed-{i:03d}.json").write_text(json.dumps(doc, ensure_ascii=False))
print(f"{len(docs)} seeds in {out}")
