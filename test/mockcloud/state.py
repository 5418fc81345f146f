"""What request threads share: tenants, fault counters, the request log, IAM tokens."""

import json
import os
import secrets
import threading
import time
from datetime import timedelta

from .faults import FaultCounter
from .helpers import utcnow
from .store import Tenant


class MockState:
    """Everything shared between request threads: tenants, fault counters, log, tokens."""

    def __init__(self, fixtures_dir, log_path=None):
        self.fixtures = {}
        for key, name in (("qoder", "qoder_environments.json"), ("huawei", "huawei.json")):
            with open(os.path.join(fixtures_dir, name), encoding="utf-8") as handle:
                self.fixtures[key] = json.load(handle)
        self.lock = threading.Lock()
        self.tenants = {}
        self.faults = FaultCounter()    # fault selection (fault_skip, fault_count)
        self.requests = []
        self.seq = 0
        self.tokens = {}
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def tenant(self, opts):
        """The tenant named by the options, created (and seeded) on first use."""
        with self.lock:
            tenant = self.tenants.get(opts.tenant)
            if tenant is None:
                tenant = self.tenants[opts.tenant] = Tenant(opts, self.fixtures)
            return tenant

    def issue_token(self, scope, ttl_s):
        """Remember an IAM token with its scope ("project", "domain" or "unscoped")."""
        token = "MIIM" + secrets.token_urlsafe(96)
        issued = utcnow()
        expires = issued + timedelta(seconds=ttl_s)
        with self.lock:
            self.tokens[token] = (scope, expires)
        return token, issued, expires

    def token(self, token):
        with self.lock:
            return self.tokens.get(token)

    def begin_record(self, record):
        """Append a request to the log at arrival, so hung requests are visible too.

        ``started`` is time.monotonic() of this process at arrival, ``finished``
        stays None until finish_record (comparable with each other only)."""
        with self.lock:
            self.seq += 1
            record["seq"] = self.seq
            record["started"] = time.monotonic()
            record["finished"] = None
            self.requests.append(record)

    def mark_applied(self, record):
        """The mock has changed its stored data for this request (visible at once)."""
        if record is not None:
            with self.lock:
                record["applied"] = True

    def finish_record(self, record, status, note=None):
        """Fill in the answered status (0 = none: hang or reset) and write the log line.

        Called before the first byte of an answer is sent, so a client that
        has its answer always finds the complete record."""
        with self.lock:
            record["status"] = status
            record["finished"] = time.monotonic()
            if note:
                record["note"] = note
            if self.log_file:
                self.log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.log_file.flush()

    def records(self, tenant=None):
        with self.lock:
            return [dict(r) for r in self.requests if tenant is None or r["tenant"] == tenant]

    def concurrency(self, tenant=None):
        """``requests``: how many records the tenant (all tenants when None) has;
        ``peak_in_flight``: the most of them in flight at one moment (started and
        not finished; an unanswered one until now), swept over started/finished."""
        with self.lock:
            now = time.monotonic()
            spans = [(r["started"], now if r["finished"] is None else r["finished"])
                     for r in self.requests if tenant is None or r["tenant"] == tenant]
        # at equal times an end (-1) sorts before a start (+1): touching spans do not overlap
        events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        peak = in_flight = 0
        for _, step in events:
            in_flight += step
            peak = max(peak, in_flight)
        return {"requests": len(spans), "peak_in_flight": peak}

    def clear_log(self):
        with self.lock:
            count = len(self.requests)
            self.requests = []
            return count

    def reset(self):
        """Forget all tenants, fault counters and the log (issued IAM tokens stay valid)."""
        with self.lock:
            self.tenants = {}
            self.faults.reset()
            self.requests = []

    def close(self):
        if self.log_file:
            self.log_file.close()
