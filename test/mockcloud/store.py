"""Data stores: synthetic data sets, the stores of a tenant, the tenant itself."""

import bisect
import copy
import functools
import hashlib
import threading
from datetime import datetime, timedelta, timezone

from .constants import DEPLOY_APP_STATES, HW_DOMAIN
from .helpers import codearts_time, iso_micro, iso_seconds

SYNTH_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYNTH_STEP = timedelta(minutes=1)
SYNTH_NETWORKS = ("unrestricted", "limited", "allowlist")


# Synthetic rows are pure functions of their index, and environments are
# replaced, never mutated (QoderStore): built once, they serve every page,
# so that the mock's own CPU does not hide a client's concurrency.
@functools.lru_cache(maxsize=200_000)
def synthetic_env_id(index):
    """Time-ordered (UUIDv7-like) id of synthetic environment ``index`` (0-based)."""
    millis = int((SYNTH_EPOCH + index * SYNTH_STEP).timestamp() * 1000)
    number = index + 1
    return "env_%012x7%03x%x%015x" % (millis, (number * 2654435761) & 0xFFF, 8 + (number & 3),
                                      (number * 0x9E3779B97F4A7C15) & (16 ** 15 - 1))


@functools.lru_cache(maxsize=200_000)
def synthetic_env(index):
    """Synthetic environment ``index``, built on demand so rows=100000 costs nothing upfront."""
    number = index + 1
    created = iso_micro(SYNTH_EPOCH + index * SYNTH_STEP)
    network = {"type": SYNTH_NETWORKS[index % 3]}
    if network["type"] == "allowlist":
        network["allowed_hosts"] = ["pypi.org", f"host-{number % 10}.example.com"]
    return {
        "id": synthetic_env_id(index), "type": "environment", "name": f"env-{number:06d}",
        "description": f"Synthetic environment {number}", "status": "ready",
        "archived": False, "archived_at": None,
        "config": {"type": "cloud", "networking": network, "packages": {"pip": ["requests"]}},
        "metadata": {"index": str(number)}, "created_at": created, "updated_at": created,
    }


class SyntheticIds:
    """Read-only ascending id sequence of synthetic environments ``first``..``first+count-1``
    (bisect-able, no storage)."""

    def __init__(self, count, first=0):
        self.count = count
        self.first = first

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return synthetic_env_id(self.first + index)


class QoderStore:
    """One tenant's environments, ids kept in ascending order once.

    Lists walk this order backwards (descending id = newest first) and find
    cursors by bisection, so a page costs O(limit + log N) even for 100k rows.
    Environments are replaced, never mutated, so a reference handed out stays
    consistent after an update.
    """

    def __init__(self, ids, envs, factory=None):
        self.ids = ids
        self._envs = envs
        self._factory = factory

    @classmethod
    def from_fixture(cls, environments):
        envs = {env["id"]: copy.deepcopy(env) for env in environments}
        return cls(sorted(envs), envs)

    @classmethod
    def synthetic(cls, count, first=0):
        return cls(SyntheticIds(count, first), {}, lambda index: synthetic_env(first + index))

    def index_of(self, env_id):
        position = bisect.bisect_left(self.ids, env_id)
        if position < len(self.ids) and self.ids[position] == env_id:
            return position
        return None

    def at(self, index):
        env = self._envs.get(self.ids[index])
        return env if env is not None else self._factory(index)

    def get(self, env_id):
        index = self.index_of(env_id)
        return None if index is None else self.at(index)

    def put(self, env):
        """Replace an existing environment (updates never add ids)."""
        self._envs[env["id"]] = env


def page_of(rows, start, count):
    """(total, the ``count`` rows from offset ``start``): the one paging slice of every list."""
    return len(rows), rows[start:start + count]


def by_time(field):
    """The order of a Huawei list: creation time ``field``, ties broken by id."""
    return lambda record: (record[field], record["id"])


class RecordSet:
    """Huawei records by id plus their ids in list order, sorted once.

    The default sort of the Huawei lists is creation time (``by_time``), so an
    unfiltered page is a slice of ``order`` even for large synthetic data sets.
    ``ident`` gives a record's key in ``by_id`` (its ``id`` unless said otherwise).
    Records are replaced in ``by_id``, never mutated.
    """

    def __init__(self, records, order, ident=lambda record: record["id"]):
        records = sorted(records, key=order)
        self.order = [ident(record) for record in records]
        self.by_id = {ident(record): record for record in records}

    def page(self, start, count, descending, predicate=None, sort_key=None):
        """Return (total matching, one page) for offset ``start``."""
        if predicate is None and sort_key is None:
            total, ids = page_of(self.order[::-1] if descending else self.order, start, count)
            return total, [self.by_id[i] for i in ids]
        rows = [self.by_id[i] for i in self.order]
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        if sort_key is not None:
            rows.sort(key=sort_key, reverse=descending)
        elif descending:
            rows.reverse()
        return page_of(rows, start, count)


def eps_resource_key(resource):
    """Identity and list order of an EPS resource: type, region project ("" if global), id."""
    return (resource["resource_type"], resource["project_id"], resource["resource_id"])


class EpsResources(RecordSet):
    """A tenant's EPS resources, in eps_resource_key order; moves (resources-migrate) are
    applied at once or, like the real asynchronous API, only once they fall due."""

    def __init__(self, resources):
        super().__init__(resources, eps_resource_key, eps_resource_key)
        self.pending = []       # (due time.monotonic(), sequence, key, target), not yet visible
        self.sequence = 0

    def move(self, key, target, due=None):
        """Move resource ``key`` to enterprise project ``target`` now, or at ``due``; a
        move not visible yet of the same resource is dropped (the last request wins)."""
        self.pending = [move for move in self.pending if move[2] != key]
        self._place(key, target, due)

    def _place(self, key, target, due):
        """Apply the move now (``due`` None) or queue it."""
        if due is None:
            self.by_id[key] = dict(self.by_id[key], enterprise_project_id=target)
        else:
            self.sequence += 1
            self.pending.append((due, self.sequence, key, target))

    def is_pending(self, key):
        """True when a move of resource ``key`` has not become visible yet."""
        return any(move[2] == key for move in self.pending)

    def settle(self, now):
        """Make the moves due by ``now`` visible, in the order they fall due (readers call
        this first, so no timer thread is needed)."""
        due = sorted(move for move in self.pending if move[0] <= now)
        if due:
            self.pending = [move for move in self.pending if move[0] > now]
        for _, _, key, target in due:
            self._place(key, target, None)


def synthetic_deploy_env(index, project_id):
    """CodeArts environment ``index`` of a deploy_rows=N application."""
    number = index + 1
    created = SYNTH_EPOCH + index * SYNTH_STEP
    return {
        "id": hashlib.md5(f"deploy-env-{number}".encode()).hexdigest(),
        "name": f"env-{number:06d}", "description": f"Synthetic environment {number}",
        "os": "linux", "project_id": project_id, "nick_name": "Bench User",
        "deploy_type": index % 2, "instance_count": index % 5,
        "created_time": created.strftime("%Y-%m-%d %H:%M:%S.0"),
        "created_by": {"user_id": "0" * 31 + "1", "user_name": "bench_user"},
        "permission": {"can_delete": True, "can_deploy": True, "can_edit": True,
                       "can_manage": True, "can_view": True},
    }


def synthetic_enterprise_project(index):
    """Enterprise project ``index`` (1-based; 0 is always "default") of an eps_rows=N tenant."""
    digest = hashlib.md5(f"eps-{index}".encode()).hexdigest()
    stamp = iso_seconds(SYNTH_EPOCH + index * SYNTH_STEP)
    return {
        "id": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:]}",
        "name": f"ep-{index:06d}", "description": f"Synthetic enterprise project {index}",
        "status": 1, "created_at": stamp, "updated_at": stamp,
        "type": "prod" if index % 4 else "poc", "delete_flag": False,
    }


def synthetic_deploy_app(index, project_id, project_name):
    """CodeArts application ``index`` of an app_rows=N project: AppExecutionInfo and detail
    fields as in the fixture; no environments; every tenth one is disabled."""
    number = index + 1
    created = codearts_time(SYNTH_EPOCH + index * SYNTH_STEP)
    state = DEPLOY_APP_STATES[index % len(DEPLOY_APP_STATES)]
    started = state not in ("not_started", "pending", "not_executed")
    finished = started and state != "running"
    arrange = [] if index % 5 == 4 else [{
        "id": hashlib.md5(f"deploy-arrange-{number}".encode()).hexdigest(),
        "state": "Available", "deploy_system": "deployTemplate"}]
    return {
        "id": hashlib.md5(f"deploy-app-{number}".encode()).hexdigest(),
        "name": f"app-{number:06d}", "project_id": project_id, "project_name": project_name,
        "description": f"Synthetic application {number}", "is_disable": index % 10 == 9,
        "deploy_system": "deployTemplate", "execution_state": state,
        "release_id": number if started else 0,
        "duration": f"00:00:{number % 60:02d}" if started else "00:00:00",
        "create_user_id": "0" * 31 + "1", "create_tenant_id": HW_DOMAIN["id"],
        "create_time": created, "update_time": created,
        "execution_time": created if started else None, "end_time": created if finished else None,
        "executor_id": "0" * 31 + "1" if started else None,
        "executor_nick_name": "Bench User" if started else None, "is_care": False,
        "can_modify": True, "can_delete": True, "can_view": True, "can_execute": True,
        "can_copy": True, "can_manage": True, "can_create_env": True, "can_disable": True,
        "arrange_infos": arrange, "region": "cn-north-4", "create_type": "template",
        "slave_cluster_id": None, "owner_tenant_id": HW_DOMAIN["id"],
        "permission_level": "instance", "group_id": None,
    }


# eps_resource_rows=N: N synthetic ecs resources in this enterprise project and region
# project of the fixture (one that has no fixture resources, so a filter sees exactly N)
EPS_SYNTH_ENTERPRISE_PROJECT = "0"
EPS_SYNTH_REGION = "cn-east-3"


def synthetic_eps_resource(index, region):
    """EPS resource ``index`` of an eps_resource_rows=N tenant; ``region`` is the fixture's
    region project {id, name}.  Ids ascend with ``index``, so the list order is the index."""
    number = index + 1
    return {"project_id": region["id"], "project_name": region["name"], "resource_type": "ecs",
            "resource_id": f"e0000000-0000-4000-8000-{number:012d}",
            "resource_name": f"ecs-{number:06d}", "resource_detail": None,
            "enterprise_project_id": EPS_SYNTH_ENTERPRISE_PROJECT}


class DeployApplication:
    """A CodeArts Deploy application's environments (its own fields are in Tenant.apps)."""

    def __init__(self, spec, environments):
        self.id = spec["id"]
        self.project_id = spec["project_id"]
        self.envs = RecordSet(environments, by_time("created_time"))


class Tenant:
    """An isolated copy of all provider data; ``lock`` guards every read and write."""

    def __init__(self, opts, fixtures):
        self.lock = threading.Lock()
        if opts.rows is not None:
            self.qoder = QoderStore.synthetic(opts.rows, opts.rows_from)
        else:
            self.qoder = QoderStore.from_fixture(fixtures["qoder"]["environments"])
        huawei = fixtures["huawei"]
        applications = huawei["codearts"]["applications"]
        # the application records, without their environments (served by other routes)
        apps = [{key: copy.deepcopy(value) for key, value in app.items() if key != "environments"}
                for app in applications]
        envs_of = {}
        for position, app in enumerate(applications):
            envs = copy.deepcopy(app["environments"])
            if position == 0 and opts.deploy_rows is not None:
                envs = [synthetic_deploy_env(i, app["project_id"]) for i in range(opts.deploy_rows)]
            envs_of[app["id"]] = envs
        if opts.app_rows is not None and applications:
            first = applications[0]
            apps = [app for app in apps if app["project_id"] != first["project_id"]] + [
                synthetic_deploy_app(i, first["project_id"], first.get("project_name", ""))
                for i in range(opts.app_rows)]
        self.deploy_apps = {app["id"]: DeployApplication(app, envs_of.get(app["id"], []))
                            for app in apps}
        self.apps = RecordSet(apps, by_time("create_time"))
        projects = copy.deepcopy(huawei["enterprise_projects"])
        if opts.eps_rows is not None:
            default = [p for p in projects if p["id"] == "0"][:min(opts.eps_rows, 1)]
            projects = default + [synthetic_enterprise_project(i) for i in range(1, opts.eps_rows)]
        self.eps = RecordSet(projects, by_time("created_at"))
        eps = huawei.get("eps", {})
        # region project id -> region name (projects of resources/filter, project_name)
        self.region_projects = {p["id"]: p["name"] for p in eps.get("region_projects", [])}
        resources = copy.deepcopy(eps.get("resources", []))
        if opts.eps_resource_rows is not None:
            region = next(p for p in eps["region_projects"] if p["name"] == EPS_SYNTH_REGION)
            resources += [synthetic_eps_resource(i, region) for i in range(opts.eps_resource_rows)]
        self.eps_resources = EpsResources(resources)
