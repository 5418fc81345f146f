"""Control API (``/_mock/control/...``): never faulted, not logged."""


def control_requests(state, params):
    """The request log, optionally of one tenant."""
    return state.records(params.get("tenant"))


def control_clear(state, params):
    """Empty the request log."""
    return {"ok": True, "cleared": state.clear_log()}


def control_reset(state, params):
    """Fresh tenants, fault counters and log."""
    state.reset()
    return {"ok": True}


def control_health(state, params):
    """Liveness probe for test harnesses."""
    return {"ok": True}


def control_connections(state, params):
    """Requests and distinct client ports of a tenant: a keep-alive client reuses one port."""
    records = state.records(params.get("tenant"))
    return {"requests": len(records),
            "distinct_client_ports": len({record["client_port"] for record in records})}


def control_concurrency(state, params):
    """Requests of a tenant (all tenants without ``tenant``) and the peak number of
    them in flight at once (see MockState.concurrency)."""
    return state.concurrency(params.get("tenant"))


CONTROL_ROUTES = {
    ("GET", "requests"): control_requests,
    ("DELETE", "requests"): control_clear,
    ("POST", "reset"): control_reset,
    ("GET", "health"): control_health,
    ("GET", "connections"): control_connections,
    ("GET", "concurrency"): control_concurrency,
}
