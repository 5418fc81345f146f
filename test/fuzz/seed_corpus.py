#!/usr/bin/env python3
"""Seed the fuzz corpus from the mock's fixtures: every item alone, list
envelopes of each API, and error envelopes, as the mock would send them;
and texts written byte by byte for the corners of JSON the tape and json-c
must agree on: escapes, surrogates, duplicate keys, deep nesting, big
integers, numbers in every form (json-c's lenient ones too), whitespace,
bad UTF-8 and truncated documents."""
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


def nested(depth, inner=b"1", open_=b"[", close=b"]"):
    return open_ * depth + inner + close * depth


def nested_objects(depth, inner=b"1"):
    return b'{"a":' * depth + inner + b"}" * depth


corners = [
    # escapes and surrogates: pairs, lone halves, a high half before
    # another escape, \u0000 in a value and in a key
    rb'["\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac\uFFFF", "\ud83d\ude00", "\uD83D\uDE00"]',
    rb'["\ud800", "\udc00", "\ud800\u0041", "\ud800\ud800\udc00", "\ud800\n", "x\udbff", "\ud800\\u"]',
    rb'{"a\u0000b": "c\u0000d", "\u0000": 0, "": 1}',
    rb'{"a": 1, "a\u0000b": 2}',
    # pairs for U+xD800..U+xDFFF, which json-c before 0.19 reads as surrogates again
    rb'["\ud836\ude10", "\udbff\udfff", "\ud836\ude10\udc00", {"\ud83f\udc00": 1}]',
    rb'"\u12"',
    rb'"\x"',
    b'"raw \x01\x1f\x7f tab\there"',
    '"h\u00e9 \u20ac \U0001F600"'.encode(),
    # duplicate keys, dotted keys, escaped keys
    rb'{"a": 1, "b": {"c": 2}, "a": [3], "b": {"d": 4}, "a": {"x": 5}}',
    rb'{"a.b": 1, "a": {"b": 2}, "\u0061": 3, "a\/b": 4}',
    rb'{"": {"": {"": []}}, " ": null}',
    # nesting at and beyond the limit
    nested(63), nested(64), nested(65), nested(64, b""), nested(65, b""),
    nested_objects(63), nested_objects(64), nested(62, b'{"a":[]}'),
    # integers and numbers in every form
    rb'[0, -0, 1, -1, 9223372036854775807, 9223372036854775808, -9223372036854775808, '
    rb'-9223372036854775809, 18446744073709551615, 18446744073709551616, '
    rb'123456789012345678901234567890, -123456789012345678901234567890]',
    rb'[123456789012345678901234567890e0, 1e0, 12345678901234567890123]',
    rb'[0.0, -0.0, 1.5, -1.5e10, 1E5, 1e+5, 1e-5, 1E-05, 0e0, -0e-0, 1e999, -1e-999, '
    rb'0.1000000000000000055511151231257827]',
    # json-c takes these, RFC 8259 does not
    rb'[1., -1., 0., 1.e5, -.5, -.5e1, 00, -00, -01, 01.5, 00.5, 00e1, -0001]',
    b"{'single': 1, 'quo\"ted': 2}",
    b'"\xc0\x80 \xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xf5\x80\x80\x80"',
    # neither takes these
    b"[01]", b"[1.5e]", b"[1e+]", b"[+1]", b"[.5]", b"[-]", b"[NaN]", b"[-Infinity]",
    b"[1,]", b'{"a":1,}', b"[1 2]", b'{"a" 1}', b"{1:2}", b"[True]", b'"\xff"', b'"\xc3"',
    b'"a\x00b"', b"[1]\x00", b"\xef\xbb\xbf[1]",
    # refused with a high surrogate pending: nothing of it may stay for the next text
    rb'"\ud800\u0x"', rb'["\ud83d\uZ"]', b'"\\udbff\x00"',
    # top-level scalars and whitespace
    b"1", b"-0", b"true", b"false", b"null", b'""',
    b' \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ "a" : 2 } ] \t\r\n', b"\x0b[1]", b"[1]\x0c",
    # more nodes than a new tape has room for, more keys than are looked up
    b"[" + b",".join(b"%d" % i for i in range(1500)) + b"]",
    b"{" + b",".join(b'"k%d":{"v":%d}' % (i % 150, i) for i in range(200)) + b"}",
    # truncated documents
    rb'{"a": [1, 2, {"b": "c', b'{"a": tru', b"[1, 2", b'"abc', rb'"\u00', b'{"a"', b'{"a":',
    b"[-", b"[1e", b"[1.", b"1.", b"-",
]
for i, doc in enumerate(docs):
    (out / f"seed-{i:03d}.json").write_text(json.dumps(doc, ensure_ascii=False))
for i, text in enumerate(corners):
    (out / f"corner-{i:03d}.json").write_bytes(text)
print(f"{len(docs) + len(corners)} seeds in {out}")
