"""The status of a live Kubernetes object, by kstatus's rules: Current, InProgress, Failed ...

This is a port of `sigs.k8s.io/cli-utils/pkg/kstatus/status` v0.37.2: `Compute` (status.go),
the generic checks (generic.go), the per-kind rules (core.go) and the field helpers (util.go).
Flux vendors that package as `github.com/fluxcd/cli-utils` v1.4.0, whose status package is
byte-identical, and its health checks decide with it, except for Jobs, where Flux swaps in its
own rule (see `HealthOptions.wait_for_job_completion`). Messages are kstatus's own, word for
word, so that a progress line reads as `flux` would print it.

The rules run in kstatus's order and the first to decide wins:

1. `metadata.deletionTimestamp` set: Terminating.
2. `status.observedGeneration` present and not `metadata.generation`: InProgress.
3. The first condition `Reconciling=True` (InProgress) or `Stalled=True` (Failed).
4. The rule of the kind, looked up by (API group, kind); a kind with a rule always decides here.
5. Any other kind: the first `Ready` condition (True: Current; False or Unknown: InProgress).
6. Otherwise Current: an object with nothing to wait for is as current as it will get.

Deliberate differences from kstatus, each kept small:

- kstatus's `Compute` returns an error for a malformed object (a field of the wrong type, an
  unknown Pod phase), which its status poller turns into Unknown; a few malformed Pod container
  statuses even panic. Here every such case is `Status.UNKNOWN` with the error as message.
- Where kstatus copies a condition's message and the controller left it empty, the message here
  names the condition instead ("Ready=False: Reason"), so a progress line is never blank.
- `HealthOptions` adds two checks beyond kstatus, both off by default.

Pure: no I/O, and no clock except for Pods waiting to be scheduled (pass `now` in tests).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

Obj = Mapping[str, Any]


class Status(enum.StrEnum):
    """kstatus's statuses, spelled as kstatus spells them.

    A `StrEnum` (a `str` and an `enum.Enum`, as ruff's UP042 asks) so `str()` and f-strings
    give "Current", and a status compares equal to kstatus's string.
    """

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class HealthOptions:
    """Checks beyond kstatus. All are off by default, so that the default is exactly kstatus.

    `wait_for_job_completion`: a started Job stays InProgress until it is Complete, and a
    suspended Job is Current. kstatus calls a Job Current as soon as it has started; this is
    Flux's own Job rule instead (`fluxcd/pkg/runtime/statusreaders/job.go`, which that
    package's client adds to every status poller it builds, kustomize-controller's included).
    Flux's reader replaces kstatus's whole Compute for Jobs; here the generic checks
    (Terminating first of all) still come first, which Job objects only meet when deleted.

    `wait_for_load_balancer`: a LoadBalancer Service is InProgress until the cloud has published
    an address in `status.loadBalancer.ingress`. kstatus only waits for a cluster IP.
    """

    wait_for_job_completion: bool = False
    wait_for_load_balancer: bool = False


@dataclass(frozen=True)
class Result:
    """A status and why, as one line a person can act on."""

    status: Status
    message: str


# kstatus's ScheduleWindow: how long a Pod may be unschedulable before it is reported Failed,
# since the scheduler often succeeds once the cluster autoscaler or a departing Pod frees room.
SCHEDULE_WINDOW: Final = timedelta(seconds=15)

# The Deployment controller spells "no progress deadline" as MaxInt32 (kstatus cites
# kubernetes/pkg/controller/deployment/util/deployment_util.go).
_NO_PROGRESS_DEADLINE: Final = 2**31 - 1

# What Go's zero time.Time is to kstatus: a creation time too old to be within any window.
_ZERO_TIME: Final = datetime.min.replace(tzinfo=UTC)

_DEFAULT_OPTIONS: Final = HealthOptions()


def compute(obj: Obj, options: HealthOptions = _DEFAULT_OPTIONS,
            now: datetime | None = None) -> Result:
    """The status of `obj`, a live object as the Kubernetes API returns it (a JSON dict).

    `now` is only read for Pods that cannot be scheduled (see `SCHEDULE_WINDOW`); it defaults to
    the current time, and a naive datetime is taken to be UTC.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    group, kind = _group_kind(obj)
    try:
        return _compute(obj, group, _Context(kind=kind, options=options, now=now))
    except _MalformedError as err:
        return Result(Status.UNKNOWN, f"Cannot compute status: {err}")


def not_found(kind: str, name: str) -> Result:
    """The result for an object that is gone (kstatus's poller reports NotFound on a 404)."""
    return Result(Status.NOT_FOUND, f"{kind}/{name} not found")


class _MalformedError(ValueError):
    """A field has the wrong type: kstatus's Compute returns an error for the object."""


@dataclass(frozen=True)
class _Context:
    """What a rule may need besides the object."""

    kind: str
    options: HealthOptions
    now: datetime


@dataclass(frozen=True)
class _Condition:
    """kstatus's BasicCondition: one entry of status.conditions."""

    type: str
    status: str
    reason: str
    message: str


_Rule = Callable[[Obj, _Context], Result]


def _compute(obj: Obj, group: str, ctx: _Context) -> Result:
    """kstatus's Compute: generic checks, then the kind's rule, then the Ready condition."""
    result = _check_generic(obj, ctx.kind)
    if result is not None:
        return result
    rule = _RULES.get((group, ctx.kind))
    if rule is not None:
        return rule(obj, ctx)
    # Ready does not follow the Kubernetes API conventions, but it is what most operators set.
    result = _check_ready_condition(_conditions(obj))
    if result is not None:
        return result
    # Neither generic nor kind rules apply: an object with no known conditions has nothing
    # anybody could wait for.
    return _current("Resource is current")


# --- Generic checks (generic.go, status.go) ---------------------------------------------------


def _check_generic(obj: Obj, kind: str) -> Result | None:
    """The checks that apply to every kind; None when they cannot decide."""
    deletion = _nested_str(obj, "metadata", "deletionTimestamp")
    if deletion:
        return Result(Status.TERMINATING, "Resource scheduled for deletion")
    result = _check_generation(obj, kind)
    if result is not None:
        return result
    return _check_standard_conditions(_conditions(obj))


def _check_generation(obj: Obj, kind: str) -> Result | None:
    """InProgress while the controller has not yet seen the latest spec.

    Objects without `status.observedGeneration` skip this: nothing says what was observed.
    """
    generation = _nested_int(obj, "metadata", "generation")
    if generation is None:
        return None
    observed = _nested_int(obj, "status", "observedGeneration")
    if observed is not None and observed != generation:
        return _in_progress(
            f"{kind} generation is {generation}, but latest observed generation is {observed}")
    return None


def _check_standard_conditions(conditions: Sequence[_Condition]) -> Result | None:
    """kstatus's own abnormal-true conditions; the first one set decides, before any kind rule."""
    for cond in conditions:
        if cond.type == "Reconciling" and cond.status == "True":
            return _in_progress(_condition_message(cond))
        if cond.type == "Stalled" and cond.status == "True":
            return _failed(_condition_message(cond))
    return None


def _check_ready_condition(conditions: Sequence[_Condition]) -> Result | None:
    """The first Ready condition with a known status decides; a False one may still recover."""
    for cond in conditions:
        if cond.type != "Ready":
            continue
        if cond.status == "True":
            return _current("Resource is Ready")
        if cond.status in ("False", "Unknown"):
            return _in_progress(_condition_message(cond))
    return None


# --- Kind rules (core.go) ---------------------------------------------------------------------


def _always_ready(obj: Obj, ctx: _Context) -> Result:
    """ConfigMap, Secret, CronJob: nothing reconciles them into a state worth waiting for."""
    return _current("Resource is always ready")


def _deployment(obj: Obj, ctx: _Context) -> Result:
    """Replicas rolled out and available, and the Available condition True.

    A Progressing condition with reason ProgressDeadlineExceeded is Failed whatever its status:
    the controller has given up on the rollout.
    """
    # Without a progress deadline the controller never sets Progressing, so don't wait for it.
    progressing = (_int_field(obj, ".spec.progressDeadlineSeconds", _NO_PROGRESS_DEADLINE)
                   == _NO_PROGRESS_DEADLINE)
    available = False
    for cond in _conditions(obj):
        if cond.type == "Progressing":
            if cond.reason == "ProgressDeadlineExceeded":
                return _failed("Progress deadline exceeded")
            if cond.status == "True" and cond.reason == "NewReplicaSetAvailable":
                progressing = True
        elif cond.type == "Available" and cond.status == "True":
            available = True

    result = _deployment_replicas(obj)
    if result is not None:
        return result
    if not progressing:
        return _in_progress("ReplicaSet not Available")
    if not available:
        return _in_progress("Deployment not Available")
    replicas = _int_field(obj, ".status.replicas", 0)
    return _current(f"Deployment is available. Replicas: {replicas}")


def _deployment_replicas(obj: Obj) -> Result | None:
    """InProgress while the replica counts have not converged on spec.replicas."""
    spec = _int_field(obj, ".spec.replicas", 1)  # the controller's default
    replicas = _int_field(obj, ".status.replicas", 0)
    updated = _int_field(obj, ".status.updatedReplicas", 0)
    ready = _int_field(obj, ".status.readyReplicas", 0)
    available = _int_field(obj, ".status.availableReplicas", 0)
    if spec > replicas:
        return _in_progress(f"Replicas: {replicas}/{spec}")
    if spec > updated:
        return _in_progress(f"Updated: {updated}/{spec}")
    if replicas > spec:
        return _in_progress(f"Pending termination: {replicas - spec}")
    if updated > available:
        return _in_progress(f"Available: {available}/{updated}")
    if spec > ready:
        return _in_progress(f"Ready: {ready}/{spec}")
    return None


def _statefulset(obj: Obj, ctx: _Context) -> Result:
    """Replicas ready and on the update revision.

    The controller sets no conditions, so a failed rollout can't be told from a slow one.
    """
    # OnDelete: the user replaces Pods by hand, so there is no rollout to wait for.
    if _str_field(obj, ".spec.updateStrategy.type", "") == "OnDelete":
        return _current("StatefulSet is using the ondelete update strategy")
    spec = _int_field(obj, ".spec.replicas", 1)
    replicas = _int_field(obj, ".status.replicas", 0)
    ready = _int_field(obj, ".status.readyReplicas", 0)
    if spec > replicas:
        return _in_progress(f"Replicas: {replicas}/{spec}")
    if spec > ready:
        return _in_progress(f"Ready: {ready}/{spec}")
    if replicas > spec:
        return _in_progress(f"Pending termination: {replicas - spec}")
    return _statefulset_rollout(obj, spec, replicas)


def _statefulset_rollout(obj: Obj, spec: int, replicas: int) -> Result:
    """With a partition, only the ordinals at or above it are updated; else all must be."""
    updated = _int_field(obj, ".status.updatedReplicas", 0)
    partition = _int_field(obj, ".spec.updateStrategy.rollingUpdate.partition", -1)
    if partition != -1:
        if updated < spec - partition:
            return _in_progress(f"updated: {updated}/{spec - partition}")
        return _current(f"Partition rollout complete. updated: {updated}")
    current = _int_field(obj, ".status.currentReplicas", 0)
    if spec > current:
        return _in_progress(f"current: {current}/{spec}")
    if (_str_field(obj, ".status.currentRevision", "")
            != _str_field(obj, ".status.updateRevision", "")):
        return _in_progress("Waiting for updated revision to match current")
    return _current(f"All replicas scheduled as expected. Replicas: {replicas}")


def _daemonset(obj: Obj, ctx: _Context) -> Result:
    """Every node that should run a Pod runs an updated, available, ready one."""
    # The generic generation check is lenient when the fields are missing; the DaemonSet
    # controller always sets them, so missing ones mean it has not acted yet.
    result = _check_generation_set(obj, ctx.kind)
    if result is not None:
        return result
    desired = _int_field(obj, ".status.desiredNumberScheduled", -1)
    if desired == -1:
        return _in_progress("Missing .status.desiredNumberScheduled")
    for field, label in (("currentNumberScheduled", "Current"),
                         ("updatedNumberScheduled", "Updated"),
                         ("numberAvailable", "Available"),
                         ("numberReady", "Ready")):
        count = _int_field(obj, f".status.{field}", 0)
        if desired > count:
            return _in_progress(f"{label}: {count}/{desired}")
    return _current(f"All replicas scheduled as expected. Replicas: {desired}")


def _check_generation_set(obj: Obj, kind: str) -> Result | None:
    """InProgress unless both metadata.generation and status.observedGeneration are set."""
    if _nested_int(obj, "metadata", "generation") is None:
        return _in_progress(f"{kind} metadata.generation not found")
    if _nested_int(obj, "status", "observedGeneration") is None:
        return _in_progress(f"{kind} status.observedGeneration not found")
    return None


def _replicaset(obj: Obj, ctx: _Context) -> Result:
    """Replicas labelled, available and ready; ReplicaFailure (quota, admission) may clear."""
    for cond in _conditions(obj):
        if cond.type == "ReplicaFailure" and cond.status == "True":
            return _in_progress("Replica Failure condition. Check Pods")
    spec = _int_field(obj, ".spec.replicas", 1)  # the controller's default
    for field, label in (("fullyLabeledReplicas", "Labelled"),
                         ("availableReplicas", "Available"),
                         ("readyReplicas", "Ready")):
        count = _int_field(obj, f".status.{field}", 0)
        if spec > count:
            return _in_progress(f"{label}: {count}/{spec}")
    replicas = _int_field(obj, ".status.replicas", 0)
    if replicas > spec:
        return _in_progress(f"Pending termination: {replicas - spec}")
    return _current(f"ReplicaSet is available. Replicas: {replicas}")


def _pdb(obj: Obj, ctx: _Context) -> Result:
    """Current once observed, which the generic generation check has already established."""
    return _current("AllowedDisruptions has been computed.")


def _job(obj: Obj, ctx: _Context) -> Result:
    """kstatus: Current once started. Opt-in, as Flux does: InProgress until Complete."""
    if ctx.options.wait_for_job_completion:
        return _job_until_complete(obj)
    counts = _JobCounts.of(obj)
    result = _job_finished(obj, counts)
    if result is not None:
        return result
    # kstatus v0.37.2 has no rule for suspended Jobs (upstream added one after that release):
    # one created suspended has no startTime and stays InProgress here, as in kstatus.
    if _str_field(obj, ".status.startTime", "") == "":
        return _in_progress("Job not started")
    return _current(counts.progress())


def _job_until_complete(obj: Obj) -> Result:
    """Flux's Job rule (fluxcd/pkg/runtime/statusreaders/job.go), beyond kstatus."""
    # A suspended Job runs nothing until someone resumes it, so there is nothing to wait for.
    if _nested_bool(obj, "spec", "suspend"):
        return _current("Job is suspended")
    counts = _JobCounts.of(obj)
    result = _job_finished(obj, counts)
    if result is not None:
        return result
    if _str_field(obj, ".status.startTime", "") == "":
        return _in_progress(f"Job not started. active: 0/{counts.parallelism}")
    return _in_progress(counts.progress())


@dataclass(frozen=True)
class _JobCounts:
    """A Job's spec and status counters, with the controller's defaults."""

    parallelism: int
    completions: int
    succeeded: int
    active: int
    failed: int

    @classmethod
    def of(cls, obj: Obj) -> _JobCounts:
        parallelism = _int_field(obj, ".spec.parallelism", 1)
        return cls(parallelism=parallelism,
                   completions=_int_field(obj, ".spec.completions", parallelism),
                   succeeded=_int_field(obj, ".status.succeeded", 0),
                   active=_int_field(obj, ".status.active", 0),
                   failed=_int_field(obj, ".status.failed", 0))

    def progress(self) -> str:
        return (f"Job in progress. success:{self.succeeded}, active: {self.active}, "
                f"failed: {self.failed}")


def _job_finished(obj: Obj, counts: _JobCounts) -> Result | None:
    """The first Complete=True (Current) or Failed=True (Failed) condition, if any."""
    for cond in _conditions(obj):
        if cond.type == "Complete" and cond.status == "True":
            return _current(f"Job Completed. succeeded: {counts.succeeded}/{counts.completions}")
        if cond.type == "Failed" and cond.status == "True":
            return _failed(f"Job Failed. failed: {counts.failed}/{counts.completions}")
    return None


def _pod(obj: Obj, ctx: _Context) -> Result:
    """By phase. A finished Pod is Current either way: its outcome belongs to its owner."""
    conditions = _conditions(obj)
    phase = _str_field(obj, ".status.phase", "")
    if phase == "Succeeded":
        return _current("Pod has completed successfully")
    if phase == "Failed":
        return _current("Pod has completed, but not successfully")
    if phase == "Running":
        return _pod_running(obj, conditions)
    if phase == "Pending":
        return _pod_pending(obj, conditions, ctx.now)
    if phase == "":
        # The kubelet has not observed the Pod yet.
        return _in_progress("Pod phase not available")
    raise _MalformedError(f"unknown phase {phase}")


def _pod_running(obj: Obj, conditions: Sequence[_Condition]) -> Result:
    """Ready is Current; a container in CrashLoopBackOff will not get there by itself."""
    if _find_condition(conditions, "Ready", "True") is not None:
        return _current("Pod is Ready")
    names = _crash_looping_containers(obj)
    if names:
        return _failed(f"Containers in CrashLoop state: {','.join(names)}")
    return _in_progress("Pod is running but is not Ready")


def _pod_pending(obj: Obj, conditions: Sequence[_Condition], now: datetime) -> Result:
    """Unschedulable is Failed only once the Pod is older than SCHEDULE_WINDOW."""
    scheduled = _find_condition(conditions, "PodScheduled", "False")
    if scheduled is not None and scheduled.reason == "Unschedulable":
        if now - SCHEDULE_WINDOW < _creation_timestamp(obj):
            return _in_progress("Pod has not been scheduled")
        return _failed("Pod could not be scheduled")
    return _in_progress("Pod is in the Pending phase")


def _crash_looping_containers(obj: Obj) -> list[str]:
    """Names of the containers waiting with reason CrashLoopBackOff, in status order."""
    names: list[str] = []
    for index, item in enumerate(_nested_list(obj, "status", "containerStatuses")):
        where = f".status.containerStatuses[{index}]"
        container = _expect_mapping(item, where)
        # In kstatus's order: an absent key skips the entry, a mistyped one is an error.
        if "name" not in container:
            continue
        name = _expect_str(container["name"], f"{where}.name")
        if "state" not in container:
            continue
        state = _expect_mapping(container["state"], f"{where}.state")
        if "waiting" not in state:
            continue
        waiting = _expect_mapping(state["waiting"], f"{where}.state.waiting")
        if "reason" not in waiting:
            continue
        if _expect_str(waiting["reason"], f"{where}.state.waiting.reason") == "CrashLoopBackOff":
            names.append(name)
    return names


def _pvc(obj: Obj, ctx: _Context) -> Result:
    """Bound to a volume, or InProgress (provisioning may be waiting for a consumer Pod)."""
    phase = _str_field(obj, ".status.phase", "unknown")
    if phase != "Bound":
        return _in_progress(f"PVC is not Bound. phase: {phase}")
    return _current("PVC is Bound")


def _service(obj: Obj, ctx: _Context) -> Result:
    """Current, except a LoadBalancer Service waits for its cluster IP."""
    if _str_field(obj, ".spec.type", "ClusterIP") == "LoadBalancer":
        if _str_field(obj, ".spec.clusterIP", "") == "":
            return _in_progress("ClusterIP not set. Service type: LoadBalancer")
        if ctx.options.wait_for_load_balancer:
            return _load_balancer_ingress(obj)
    return _current("Service is ready")


def _load_balancer_ingress(obj: Obj) -> Result:
    """Beyond kstatus: an external address is what a LoadBalancer is for, so wait for one."""
    addresses = _ingress_addresses(obj)
    if not addresses:
        return _in_progress("LoadBalancer ingress not assigned")
    return _current(f"Service is ready. LoadBalancer ingress: {', '.join(addresses)}")


def _ingress_addresses(obj: Obj) -> list[str]:
    """The IPs or hostnames in status.loadBalancer.ingress; lenient, as no kstatus rule reads it."""
    try:
        entries, _ = _nested(obj, "status", "loadBalancer", "ingress")
    except _MalformedError:
        return []
    if not _is_list(entries):
        return []
    addresses = []
    for entry in entries:
        if isinstance(entry, Mapping):
            address = entry.get("ip") or entry.get("hostname")
            if isinstance(address, str) and address:
                addresses.append(address)
    return addresses


def _crd(obj: Obj, ctx: _Context) -> Result:
    """Established is Current; rejected names, or not Established past Installing, is Failed."""
    for cond in _conditions(obj):
        if cond.type == "NamesAccepted" and cond.status == "False":
            return _failed(_condition_message(cond))
        if cond.type == "Established":
            if cond.status == "False" and cond.reason != "Installing":
                return _failed(_condition_message(cond))
            if cond.status == "True":
                return _current("CRD is established")
    return _in_progress("Install in progress")


# kstatus's legacyTypes, keyed by (API group, kind); core kinds have the empty group. The
# `extensions` group is long gone from servers, but kstatus still lists it.
_RULES: Final[Mapping[tuple[str, str], _Rule]] = {
    ("", "ConfigMap"): _always_ready,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Pod"): _pod,
    ("", "Secret"): _always_ready,
    ("", "Service"): _service,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("extensions", "DaemonSet"): _daemonset,
    ("extensions", "Deployment"): _deployment,
    ("extensions", "ReplicaSet"): _replicaset,
    ("batch", "CronJob"): _always_ready,
    ("batch", "Job"): _job,
    ("policy", "PodDisruptionBudget"): _pdb,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}


# --- Results ----------------------------------------------------------------------------------


def _current(message: str) -> Result:
    return Result(Status.CURRENT, message)


def _in_progress(message: str) -> Result:
    return Result(Status.IN_PROGRESS, message)


def _failed(message: str) -> Result:
    return Result(Status.FAILED, message)


def _condition_message(cond: _Condition) -> str:
    """The condition's message, as kstatus reports it; if empty, which condition decided."""
    if cond.message:
        return cond.message
    text = f"{cond.type}={cond.status}"
    return f"{text}: {cond.reason}" if cond.reason else text


# --- Reading the object (util.go and apimachinery's unstructured helpers) ----------------------


def _group_kind(obj: Obj) -> tuple[str, str]:
    """(group, kind) as unstructured's GroupVersionKind() gives them.

    "v1" is the core group ""; an apiVersion with more than one "/" does not parse, and Go then
    returns an empty GroupVersionKind, kind included, so no kind rule applies.
    """
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    slashes = api_version.count("/")
    if slashes == 0:
        return "", kind
    if slashes == 1:
        return api_version.split("/", 1)[0], kind
    return "", ""


def _conditions(obj: Obj) -> list[_Condition]:
    """status.conditions decoded as kstatus does (GetObjectWithConditions).

    apimachinery's FromUnstructured decodes a null as the empty value and fails on a value of
    the wrong type; an absent status or conditions list is simply no conditions.
    """
    status = obj.get("status")
    if status is None:
        return []
    status = _expect_mapping(status, ".status")
    raw = status.get("conditions")
    if raw is None:
        return []
    if not _is_list(raw):
        raise _MalformedError(f".status.conditions: expected a list, got {_type_name(raw)}")
    return [_condition(item, f".status.conditions[{index}]") for index, item in enumerate(raw)]


def _condition(item: Any, where: str) -> _Condition:
    """One condition; its unknown fields are ignored, its known ones must be strings."""
    if item is None:
        return _Condition(type="", status="", reason="", message="")
    fields = _expect_mapping(item, where)

    def text(name: str) -> str:
        value = fields.get(name)
        return "" if value is None else _expect_str(value, f"{where}.{name}")

    return _Condition(type=text("type"), status=text("status"), reason=text("reason"),
                      message=text("message"))


def _find_condition(conditions: Sequence[_Condition], type_: str,
                    status: str) -> _Condition | None:
    """The first condition of this type with this status."""
    for cond in conditions:
        if cond.type == type_ and cond.status == status:
            return cond
    return None


def _creation_timestamp(obj: Obj) -> datetime:
    """metadata.creationTimestamp; Go's zero time when absent or not RFC 3339, as in kstatus."""
    text = _str_field(obj, ".metadata.creationTimestamp", "")
    if not _RFC3339.fullmatch(text):
        return _ZERO_TIME
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return _ZERO_TIME


_RFC3339: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _nested(obj: Obj, *fields: str) -> tuple[Any, bool]:
    """(value, found) at a path: apimachinery's NestedFieldNoCopy.

    A null on the way means not found; any other non-map on the way is an error.
    """
    value: Any = obj
    for depth, field in enumerate(fields):
        if value is None:
            return None, False
        if not isinstance(value, Mapping):
            raise _MalformedError(f"{_path(fields[:depth])}: expected a map, got "
                                  f"{_type_name(value)}")
        if field not in value:
            return None, False
        value = value[field]
    return value, True


def _nested_int(obj: Obj, *fields: str) -> int | None:
    """The integer at a path, None if absent; anything else is an error (NestedInt64)."""
    value, found = _nested(obj, *fields)
    if not found:
        return None
    if not _is_int(value):
        raise _MalformedError(f"{_path(fields)}: expected an integer, got {_type_name(value)}")
    return int(value)


def _nested_str(obj: Obj, *fields: str) -> str | None:
    """The string at a path, None if absent; anything else is an error (NestedString)."""
    value, found = _nested(obj, *fields)
    if not found:
        return None
    return _expect_str(value, _path(fields))


def _nested_bool(obj: Obj, *fields: str) -> bool:
    """True only for a boolean true; Flux ignores a missing or mistyped field here."""
    try:
        value, _ = _nested(obj, *fields)
    except _MalformedError:
        return False
    return value is True


def _nested_list(obj: Obj, *fields: str) -> Sequence[Any]:
    """The list at a path, empty if absent; anything else, null too, is an error (NestedSlice)."""
    value, found = _nested(obj, *fields)
    if not found:
        return []
    if not _is_list(value):
        raise _MalformedError(f"{_path(fields)}: expected a list, got {_type_name(value)}")
    return value  # type: ignore[no-any-return]


def _int_field(obj: Obj, path: str, default: int) -> int:
    """kstatus's GetIntField: the integer at a dotted path, else `default`, never an error."""
    try:
        value, found = _nested(obj, *_split(path))
    except _MalformedError:
        return default
    return int(value) if found and _is_int(value) else default


def _str_field(obj: Obj, path: str, default: str) -> str:
    """kstatus's GetStringField: the string at a dotted path, else `default`, never an error."""
    try:
        value, found = _nested(obj, *_split(path))
    except _MalformedError:
        return default
    return value if found and isinstance(value, str) else default


def _split(path: str) -> list[str]:
    """".spec.replicas" -> ["spec", "replicas"], as kstatus splits its field paths."""
    fields = path.split(".")
    return fields[1:] if fields[0] == "" else fields


def _expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _MalformedError(f"{where}: expected a map, got {_type_name(value)}")
    return value


def _expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _MalformedError(f"{where}: expected a string, got {_type_name(value)}")
    return value


def _is_int(value: Any) -> bool:
    # JSON integers only: a bool is an int to Python but not to Go, a float is never one.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _path(fields: Sequence[str]) -> str:
    return "." + ".".join(fields)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__
