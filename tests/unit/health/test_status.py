"""kstatus's status rules, one live-object fixture per rule and per side of each threshold.

The fixtures follow kstatus's own tests (`sigs.k8s.io/cli-utils` v0.37.2,
pkg/kstatus/status/status_compute_test.go): every case there is here under its kstatus name
(podNoStatus, stsLessCurrent, depNotProgressing ...), with the status kstatus expects. Cases
added here cover the other side of each threshold, kstatus's exact messages, malformed objects,
and the two opt-ins beyond kstatus (Flux's Job reader, LoadBalancer ingress).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.health.status import (
    SCHEDULE_WINDOW,
    HealthOptions,
    Result,
    Status,
    compute,
    not_found,
)

NOW = datetime(2024, 6, 4, 12, 0, 0, tzinfo=UTC)
DEFAULT = HealthOptions()
WAIT_JOBS = HealthOptions(wait_for_job_completion=True)
WAIT_LB = HealthOptions(wait_for_load_balancer=True)

CURRENT = Status.CURRENT
IN_PROGRESS = Status.IN_PROGRESS
FAILED = Status.FAILED
UNKNOWN = Status.UNKNOWN

Obj = dict[str, Any]


# --- Builders ---------------------------------------------------------------------------------


def make(api_version: str, kind: str, *, spec: Obj | None = None, status: Any = None,
         generation: int | None = 1, **metadata: Any) -> Obj:
    """A live object; `status=None` leaves status out, as for an object no controller saw."""
    meta: Obj = {"name": "test", "namespace": "qual", **metadata}
    if generation is not None:
        meta["generation"] = generation
    obj: Obj = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    return obj


def cond(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    c = {"type": type_, "status": status}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def ago(seconds: float) -> str:
    """A creationTimestamp `seconds` before NOW, as the API writes it."""
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def mycr(status: Any = None, **kw: Any) -> Obj:
    return make("something/v1", "MyCR", status=status, **kw)


def deploy(status: Obj | None = None, spec: Obj | None = None, **kw: Any) -> Obj:
    return make("apps/v1", "Deployment", spec=spec, status=status, **kw)


def dep_status(replicas: int = 3, updated: int = 3, ready: int = 3, available: int = 3,
               conditions: list[Obj] | None = None) -> Obj:
    return {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": available,
            "conditions": DEP_HEALTHY if conditions is None else conditions}


DEP_HEALTHY = [cond("Progressing", "True", "NewReplicaSetAvailable"), cond("Available", "True")]
THREE = {"replicas": 3}


def sts(status: Obj | None = None, spec: Obj | None = None) -> Obj:
    return make("apps/v1", "StatefulSet", spec=spec, status=status)


def sts_status(replicas: int = 4, ready: int = 4, current: int = 4, updated: int = 4,
               **extra: Any) -> Obj:
    return {"observedGeneration": 1, "replicas": replicas, "readyReplicas": ready,
            "currentReplicas": current, "updatedReplicas": updated, **extra}


FOUR = {"replicas": 4}


def ds(status: Obj | None = None, **kw: Any) -> Obj:
    return make("apps/v1", "DaemonSet", status=status, **kw)


def ds_status(current: int = 4, updated: int = 4, available: int = 4, ready: int = 4) -> Obj:
    return {"observedGeneration": 1, "desiredNumberScheduled": 4,
            "currentNumberScheduled": current, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberReady": ready}


def rs(status: Obj | None = None, spec: Obj | None = None) -> Obj:
    return make("apps/v1", "ReplicaSet", spec=spec, status=status)


def rs_status(replicas: int = 4, labeled: int = 4, available: int = 4, ready: int = 4,
              **extra: Any) -> Obj:
    return {"observedGeneration": 1, "replicas": replicas, "fullyLabeledReplicas": labeled,
            "availableReplicas": available, "readyReplicas": ready, **extra}


def job(status: Obj | None = None, spec: Obj | None = None) -> Obj:
    return make("batch/v1", "Job", spec=spec, status=status)


STARTED = "2019-06-04T01:17:13Z"
JOB_RUNNING = {"startTime": STARTED, "succeeded": 3, "failed": 1, "active": 2,
               "conditions": [cond("Failed", "False"), cond("Complete", "False")]}


def pod(status: Obj | None = None, **kw: Any) -> Obj:
    return make("v1", "Pod", status=status, **kw)


def unschedulable(**kw: Any) -> Obj:
    return pod({"phase": "Pending",
                "conditions": [cond("PodScheduled", "False", "Unschedulable")]}, **kw)


def waiting(name: str, reason: str) -> Obj:
    return {"name": name, "state": {"waiting": {"reason": reason}}}


def svc(spec: Obj | None = None, status: Obj | None = None) -> Obj:
    return make("v1", "Service", spec=spec, status=status)


LB = {"type": "LoadBalancer", "clusterIP": "1.2.3.4"}


def crd(*conditions: Obj) -> Obj:
    return make("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                status={"conditions": list(conditions)} if conditions else None)


# --- The table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    obj: Obj
    status: Status
    message: str
    options: HealthOptions = DEFAULT


GENERIC = [
    Case("terminating", deploy(dep_status(1, 1, 1, 1), deletionTimestamp="2024-06-04T11:00:00Z"),
         Status.TERMINATING, "Resource scheduled for deletion"),
    Case("terminating-beats-everything",
         mycr({"conditions": [cond("Stalled", "True", message="boom")]},
              deletionTimestamp="2024-06-04T11:00:00Z"),
         Status.TERMINATING, "Resource scheduled for deletion"),
    Case("empty-deletionTimestamp-is-not-terminating", mycr(deletionTimestamp=""),
         CURRENT, "Resource is current"),
    Case("crdMismatchStatusGeneration", mycr({"observedGeneration": 1}, generation=2),
         IN_PROGRESS, "MyCR generation is 2, but latest observed generation is 1"),
    Case("generation-mismatch-beats-ready",
         mycr({"observedGeneration": 1, "conditions": [cond("Ready", "True")]}, generation=2),
         IN_PROGRESS, "MyCR generation is 2, but latest observed generation is 1"),
    Case("generation-observed", mycr({"observedGeneration": 2}, generation=2),
         CURRENT, "Resource is current"),
    Case("no-observedGeneration-skips-the-check", mycr({"phase": "x"}, generation=5),
         CURRENT, "Resource is current"),
    Case("no-generation-skips-the-check", mycr({"observedGeneration": 3}, generation=None),
         CURRENT, "Resource is current"),
    Case("reconciling-true",
         mycr({"conditions": [cond("Reconciling", "True", "Progressing", "Applying 3/7")]}),
         IN_PROGRESS, "Applying 3/7"),
    Case("reconciling-false-is-ignored", mycr({"conditions": [cond("Reconciling", "False")]}),
         CURRENT, "Resource is current"),
    Case("stalled-true", mycr({"conditions": [cond("Stalled", "True", "Bad", "no quota")]}),
         FAILED, "no quota"),
    Case("stalled-false-is-ignored", mycr({"conditions": [cond("Stalled", "False")]}),
         CURRENT, "Resource is current"),
    Case("first-standard-condition-wins",
         mycr({"conditions": [cond("Stalled", "True", message="stuck"),
                              cond("Reconciling", "True", message="working")]}),
         FAILED, "stuck"),
    Case("stalled-beats-the-kind-rule",
         deploy(dep_status(1, 1, 1, 1, [*DEP_HEALTHY, cond("Stalled", "True", message="x")])),
         FAILED, "x"),
    Case("empty-condition-message-names-the-condition",
         mycr({"conditions": [cond("Stalled", "True", "ImagePullFailed")]}),
         FAILED, "Stalled=True: ImagePullFailed"),
    Case("crdReady", mycr({"conditions": [cond("Ready", "True", "AllOk", "All looks ok")]}),
         CURRENT, "Resource is Ready"),
    Case("crdNotReady",
         mycr({"observedGeneration": 1, "conditions": [cond("Ready", "False", "NotReadyYet")]}),
         IN_PROGRESS, "Ready=False: NotReadyYet"),
    Case("ready-false-with-message",
         mycr({"conditions": [cond("Ready", "False", "Wait", "waiting for source")]}),
         IN_PROGRESS, "waiting for source"),
    Case("ready-unknown", mycr({"conditions": [cond("Ready", "Unknown", message="reconciling")]}),
         IN_PROGRESS, "reconciling"),
    Case("ready-with-no-status-is-skipped", mycr({"conditions": [{"type": "Ready"}]}),
         CURRENT, "Resource is current"),
    Case("crdNoStatus", mycr(), CURRENT, "Resource is current"),
    Case("crdNoCondition", mycr({"conditions": [cond("SomeCondition", "False")]}),
         CURRENT, "Resource is current"),
    Case("a-kind-rule-ignores-ready",
         make("v1", "ConfigMap", status={"conditions": [cond("Ready", "False")]}),
         CURRENT, "Resource is always ready"),
    Case("same-kind-other-group-has-no-rule", make("example.com/v1", "Deployment"),
         CURRENT, "Resource is current"),
    Case("unparseable-apiVersion-has-no-rule", make("a/b/c", "Deployment"),
         CURRENT, "Resource is current"),
    Case("extensions-group-keeps-its-rule", make("extensions/v1beta1", "Deployment"),
         IN_PROGRESS, "Replicas: 0/1"),
]

ALWAYS_READY = [
    Case("configmap", make("v1", "ConfigMap"), CURRENT, "Resource is always ready"),
    Case("secret", make("v1", "Secret"), CURRENT, "Resource is always ready"),
    Case("cronjobNoStatus", make("batch/v1", "CronJob"), CURRENT, "Resource is always ready"),
    Case("cronjobWithStatus", {**make("batch/v1", "CronJob"), "status": None},
         CURRENT, "Resource is always ready"),
]

DEPLOYMENT = [
    Case("depNoStatus", deploy(), IN_PROGRESS, "Replicas: 0/1"),
    Case("depOK", deploy(dep_status(1, 1, 1, 1)), CURRENT, "Deployment is available. Replicas: 1"),
    Case("available-3-of-3", deploy(dep_status(), THREE),
         CURRENT, "Deployment is available. Replicas: 3"),
    Case("progress-deadline-exceeded",
         deploy(dep_status(conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded"),
                                       cond("Available", "True")]), THREE),
         FAILED, "Progress deadline exceeded"),
    Case("progress-deadline-exceeded-beats-replica-counts",
         deploy(dep_status(1, 1, 0, 0, [cond("Progressing", "False",
                                             "ProgressDeadlineExceeded")]), THREE),
         FAILED, "Progress deadline exceeded"),
    Case("less-replicas", deploy(dep_status(replicas=2), THREE), IN_PROGRESS, "Replicas: 2/3"),
    Case("less-updated", deploy(dep_status(updated=1, available=1), THREE),
         IN_PROGRESS, "Updated: 1/3"),
    Case("extra-pods", deploy(dep_status(replicas=4), THREE),
         IN_PROGRESS, "Pending termination: 1"),
    Case("updated-not-available", deploy(dep_status(available=2), THREE),
         IN_PROGRESS, "Available: 2/3"),
    Case("less-ready", deploy(dep_status(ready=2), THREE), IN_PROGRESS, "Ready: 2/3"),
    Case("depNotProgressing",
         deploy(dep_status(1, 1, 1, 1, [cond("Progressing", "False", "Some reason"),
                                        cond("Available", "True")]),
                {"progressDeadlineSeconds": 45}),
         IN_PROGRESS, "ReplicaSet not Available"),
    Case("deadline-set-and-new-replicaset-available",
         deploy(dep_status(1, 1, 1, 1), {"progressDeadlineSeconds": 45}),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("depNoProgressDeadlineSeconds",
         deploy(dep_status(1, 1, 1, 1, [cond("Available", "True")])),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("deadline-maxint32-means-none",
         deploy(dep_status(1, 1, 1, 1, [cond("Available", "True")]),
                {"progressDeadlineSeconds": 2**31 - 1}),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("depNotAvailable",
         deploy(dep_status(1, 1, 1, 1, [cond("Progressing", "True", "NewReplicaSetAvailable"),
                                        cond("Available", "False")])),
         IN_PROGRESS, "Deployment not Available"),
    Case("scaled-to-zero", deploy(dep_status(0, 0, 0, 0), {"replicas": 0}),
         CURRENT, "Deployment is available. Replicas: 0"),
]

STATEFULSET = [
    Case("stsNoStatus", sts(), IN_PROGRESS, "Replicas: 0/1"),
    Case("stsBadStatus", sts({"observedGeneration": 1, "currentReplicas": 1}),
         IN_PROGRESS, "Replicas: 0/1"),
    Case("stsOK", sts(sts_status(updated=0), FOUR),
         CURRENT, "All replicas scheduled as expected. Replicas: 4"),
    Case("less-replicas", sts(sts_status(replicas=3), FOUR), IN_PROGRESS, "Replicas: 3/4"),
    Case("stsLessReady", sts(sts_status(ready=2), FOUR), IN_PROGRESS, "Ready: 2/4"),
    Case("stsLessCurrent", sts(sts_status(current=2), FOUR), IN_PROGRESS, "current: 2/4"),
    Case("stsExtraPods", sts(sts_status(replicas=8), FOUR),
         IN_PROGRESS, "Pending termination: 4"),
    Case("on-delete-is-always-current", sts(None, {"updateStrategy": {"type": "OnDelete"}}),
         CURRENT, "StatefulSet is using the ondelete update strategy"),
    Case("partition-rollout-pending",
         sts(sts_status(updated=1, current=2),
             {**FOUR, "updateStrategy": {"type": "RollingUpdate",
                                         "rollingUpdate": {"partition": 2}}}),
         IN_PROGRESS, "updated: 1/2"),
    Case("partition-rollout-complete",
         sts(sts_status(updated=2, current=2),
             {**FOUR, "updateStrategy": {"rollingUpdate": {"partition": 2}}}),
         CURRENT, "Partition rollout complete. updated: 2"),
    Case("partition-zero-needs-every-replica-updated",
         sts(sts_status(updated=3),
             {**FOUR, "updateStrategy": {"rollingUpdate": {"partition": 0}}}),
         IN_PROGRESS, "updated: 3/4"),
    Case("revision-mismatch",
         sts(sts_status(currentRevision="web-1", updateRevision="web-2"), FOUR),
         IN_PROGRESS, "Waiting for updated revision to match current"),
    Case("revision-match",
         sts(sts_status(currentRevision="web-2", updateRevision="web-2"), FOUR),
         CURRENT, "All replicas scheduled as expected. Replicas: 4"),
]

DAEMONSET = [
    Case("dsNoStatus", ds(), IN_PROGRESS, "DaemonSet status.observedGeneration not found"),
    Case("no-generation", ds(ds_status(), generation=None),
         IN_PROGRESS, "DaemonSet metadata.generation not found"),
    Case("dsBadStatus", ds({"observedGeneration": 1, "currentReplicas": 1}),
         IN_PROGRESS, "Missing .status.desiredNumberScheduled"),
    Case("dsOK", ds(ds_status()), CURRENT, "All replicas scheduled as expected. Replicas: 4"),
    Case("dsDifferentGeneration", ds(ds_status(), generation=2),
         IN_PROGRESS, "DaemonSet generation is 2, but latest observed generation is 1"),
    Case("less-current", ds(ds_status(current=3)), IN_PROGRESS, "Current: 3/4"),
    Case("less-updated", ds(ds_status(updated=3)), IN_PROGRESS, "Updated: 3/4"),
    Case("dsLessAvailable", ds(ds_status(available=2)), IN_PROGRESS, "Available: 2/4"),
    Case("dsLessReady", ds(ds_status(ready=2)), IN_PROGRESS, "Ready: 2/4"),
    Case("no-nodes", ds({"observedGeneration": 1, "desiredNumberScheduled": 0}),
         CURRENT, "All replicas scheduled as expected. Replicas: 0"),
]

REPLICASET = [
    Case("rsNoStatus", rs(), IN_PROGRESS, "Labelled: 0/1"),
    Case("rsOK1", rs(rs_status(2, 2, 2, 2, conditions=[cond("ReplicaFailure", "False")]),
                     {"replicas": 2}),
         CURRENT, "ReplicaSet is available. Replicas: 2"),
    Case("rsOK2", rs(rs_status(2, 2, 2, 2), {"replicas": 2}),
         CURRENT, "ReplicaSet is available. Replicas: 2"),
    Case("less-labelled", rs(rs_status(labeled=3), FOUR), IN_PROGRESS, "Labelled: 3/4"),
    Case("rsLessAvailable", rs(rs_status(available=2), FOUR), IN_PROGRESS, "Available: 2/4"),
    Case("rsLessReady", rs(rs_status(ready=2), FOUR), IN_PROGRESS, "Ready: 2/4"),
    Case("extra-pods", rs(rs_status(replicas=5), FOUR), IN_PROGRESS, "Pending termination: 1"),
    Case("rsReplicaFailure", rs(rs_status(conditions=[cond("ReplicaFailure", "True")]), FOUR),
         IN_PROGRESS, "Replica Failure condition. Check Pods"),
]

PDB = [
    Case("pdbNotObserved",
         make("policy/v1", "PodDisruptionBudget", generation=2, status={"observedGeneration": 1}),
         IN_PROGRESS, "PodDisruptionBudget generation is 2, but latest observed generation is 1"),
    Case("pdbObserved", make("policy/v1", "PodDisruptionBudget", status={"observedGeneration": 1}),
         CURRENT, "AllowedDisruptions has been computed."),
]

JOB = [
    Case("jobNoStatus", job(), IN_PROGRESS, "Job not started"),
    Case("jobComplete", job({"succeeded": 1, "active": 0,
                             "conditions": [cond("Complete", "True")]}),
         CURRENT, "Job Completed. succeeded: 1/1"),
    Case("jobFailed", job({"succeeded": 3, "failed": 1,
                           "conditions": [cond("Failed", "True", "JobFailed")]},
                          {"completions": 4}),
         FAILED, "Job Failed. failed: 1/4"),
    Case("jobInProgress", job(JOB_RUNNING, {"completions": 10, "parallelism": 2}),
         CURRENT, "Job in progress. success:3, active: 2, failed: 1"),
    Case("completions-default-to-parallelism",
         job({"succeeded": 2, "conditions": [cond("Complete", "True")]}, {"parallelism": 2}),
         CURRENT, "Job Completed. succeeded: 2/2"),
    # kstatus v0.37.2 has no suspend rule: created suspended, a Job never gets a startTime.
    Case("suspended-is-not-started-in-kstatus", job(None, {"suspend": True}),
         IN_PROGRESS, "Job not started"),
    # Beyond kstatus: Flux's Job status reader.
    Case("wait-running", job(JOB_RUNNING, {"completions": 10, "parallelism": 2}),
         IN_PROGRESS, "Job in progress. success:3, active: 2, failed: 1", WAIT_JOBS),
    Case("wait-not-started", job(None, {"parallelism": 2}),
         IN_PROGRESS, "Job not started. active: 0/2", WAIT_JOBS),
    Case("wait-complete", job({"succeeded": 5, "conditions": [cond("Complete", "True")]},
                              {"completions": 5}),
         CURRENT, "Job Completed. succeeded: 5/5", WAIT_JOBS),
    Case("wait-failed", job({"failed": 6, "conditions": [cond("Failed", "True")]}),
         FAILED, "Job Failed. failed: 6/1", WAIT_JOBS),
    Case("wait-suspended", job({"conditions": [cond("Suspended", "True")]}, {"suspend": True}),
         CURRENT, "Job is suspended", WAIT_JOBS),
    Case("wait-suspend-must-be-a-boolean", job(None, {"suspend": "true"}),
         IN_PROGRESS, "Job not started. active: 0/1", WAIT_JOBS),
    Case("wait-resumed", job({"startTime": STARTED, "active": 1}, {"suspend": False}),
         IN_PROGRESS, "Job in progress. success:0, active: 1, failed: 0", WAIT_JOBS),
]

POD = [
    Case("podNoStatus", pod(), IN_PROGRESS, "Pod phase not available"),
    Case("podReady", pod({"phase": "Running", "conditions": [cond("Ready", "True")]}),
         CURRENT, "Pod is Ready"),
    Case("podCompletedOK",
         pod({"phase": "Succeeded", "conditions": [cond("Ready", "False", "PodCompleted")]}),
         CURRENT, "Pod has completed successfully"),
    Case("podCompletedFail",
         pod({"phase": "Failed", "conditions": [cond("Ready", "False", "PodCompleted")]}),
         CURRENT, "Pod has completed, but not successfully"),
    Case("running-not-ready",
         pod({"phase": "Running", "conditions": [cond("Ready", "False")],
              "containerStatuses": [waiting("app", "ContainerCreating")]}),
         IN_PROGRESS, "Pod is running but is not Ready"),
    Case("podCrashLooping",
         pod({"phase": "Running",
              "conditions": [cond("PodScheduled", "False", "Unschedulable")],
              "containerStatuses": [waiting("nginx", "CrashLoopBackOff")]}),
         FAILED, "Containers in CrashLoop state: nginx"),
    Case("crash-looping-lists-every-container",
         pod({"phase": "Running",
              "containerStatuses": [waiting("a", "CrashLoopBackOff"), {"name": "b"},
                                    waiting("c", "CrashLoopBackOff")]}),
         FAILED, "Containers in CrashLoop state: a,c"),
    Case("ready-beats-crash-looping",
         pod({"phase": "Running", "conditions": [cond("Ready", "True")],
              "containerStatuses": [waiting("nginx", "CrashLoopBackOff")]}),
         CURRENT, "Pod is Ready"),
    Case("pending", pod({"phase": "Pending"}), IN_PROGRESS, "Pod is in the Pending phase"),
    Case("pending-not-unschedulable",
         pod({"phase": "Pending",
              "conditions": [cond("PodScheduled", "False", "SchedulerError")]},
             creationTimestamp=ago(60)),
         IN_PROGRESS, "Pod is in the Pending phase"),
    Case("podBeingScheduled-14s", unschedulable(creationTimestamp=ago(14)),
         IN_PROGRESS, "Pod has not been scheduled"),
    Case("unschedulable-exactly-15s", unschedulable(creationTimestamp=ago(15)),
         FAILED, "Pod could not be scheduled"),
    Case("unschedulable-16s", unschedulable(creationTimestamp=ago(16)),
         FAILED, "Pod could not be scheduled"),
    Case("podUnschedulable", unschedulable(), FAILED, "Pod could not be scheduled"),
    Case("unparseable-creation-time-is-long-ago", unschedulable(creationTimestamp="yesterday"),
         FAILED, "Pod could not be scheduled"),
    Case("unknown-phase", pod({"phase": "Weird"}), UNKNOWN,
         "Cannot compute status: unknown phase Weird"),
]

PVC = [
    Case("pvcNoStatus", make("v1", "PersistentVolumeClaim"),
         IN_PROGRESS, "PVC is not Bound. phase: unknown"),
    Case("pending", make("v1", "PersistentVolumeClaim", status={"phase": "Pending"}),
         IN_PROGRESS, "PVC is not Bound. phase: Pending"),
    Case("pvcBound", make("v1", "PersistentVolumeClaim", status={"phase": "Bound"}),
         CURRENT, "PVC is Bound"),
]

SERVICE = [
    Case("serviceDefault", svc(), CURRENT, "Service is ready"),
    Case("serviceNodePort", svc({"type": "NodePort"}), CURRENT, "Service is ready"),
    Case("serviceLBnok", svc({"type": "LoadBalancer"}),
         IN_PROGRESS, "ClusterIP not set. Service type: LoadBalancer"),
    Case("serviceLBok", svc(LB), CURRENT, "Service is ready"),
    # Beyond kstatus: wait for the cloud's address.
    Case("wait-lb-no-ingress", svc(LB, {"loadBalancer": {}}),
         IN_PROGRESS, "LoadBalancer ingress not assigned", WAIT_LB),
    Case("wait-lb-empty-ingress", svc(LB, {"loadBalancer": {"ingress": []}}),
         IN_PROGRESS, "LoadBalancer ingress not assigned", WAIT_LB),
    Case("wait-lb-ip", svc(LB, {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}),
         CURRENT, "Service is ready. LoadBalancer ingress: 203.0.113.7", WAIT_LB),
    Case("wait-lb-hostname",
         svc(LB, {"loadBalancer": {"ingress": [{"hostname": "a.elb.example.com"}]}}),
         CURRENT, "Service is ready. LoadBalancer ingress: a.elb.example.com", WAIT_LB),
    Case("wait-lb-still-needs-cluster-ip", svc({"type": "LoadBalancer"}),
         IN_PROGRESS, "ClusterIP not set. Service type: LoadBalancer", WAIT_LB),
    Case("wait-lb-ignores-cluster-ip-services", svc({"type": "ClusterIP"}),
         CURRENT, "Service is ready", WAIT_LB),
]

CRD = [
    Case("crdNoConditions", crd(), IN_PROGRESS, "Install in progress"),
    Case("crdInstalling",
         crd(cond("NamesAccepted", "True", "NoConflicts"),
             cond("Established", "False", "Installing")),
         IN_PROGRESS, "Install in progress"),
    Case("crdNamesNotAccepted", crd(cond("NamesAccepted", "False", "SomeReason")),
         FAILED, "NamesAccepted=False: SomeReason"),
    Case("names-not-accepted-with-message",
         crd(cond("NamesAccepted", "False", "ListKindConflict", '"FooList" is already in use')),
         FAILED, '"FooList" is already in use'),
    Case("not-established-past-installing", crd(cond("Established", "False", "Broken", "no")),
         FAILED, "no"),
    Case("crdEstablished",
         crd(cond("NamesAccepted", "True", "NoConflicts"),
             cond("Established", "True", "InitialNamesAccepted")),
         CURRENT, "CRD is established"),
]

# kstatus returns an error for these, which its poller reports as Unknown.
MALFORMED = [
    Case("conditions-not-a-list", mycr({"conditions": {"type": "Ready"}}),
         UNKNOWN, "Cannot compute status: .status.conditions: expected a list, got dict"),
    Case("condition-status-not-a-string", mycr({"conditions": [{"type": "Ready", "status": 1}]}),
         UNKNOWN, "Cannot compute status: .status.conditions[0].status: expected a string, "
                  "got int"),
    Case("status-not-a-map", make("v1", "ConfigMap", status="ok"),
         UNKNOWN, "Cannot compute status: .status: expected a map, got str"),
    Case("generation-not-an-integer", mycr({"observedGeneration": 1}, generation="1"),
         UNKNOWN, "Cannot compute status: .metadata.generation: expected an integer, got str"),
    Case("containerStatuses-not-a-list", pod({"phase": "Running", "containerStatuses": "x"}),
         UNKNOWN, "Cannot compute status: .status.containerStatuses: expected a list, got str"),
    # kstatus's GetIntField / GetStringField fall back to the default rather than fail.
    Case("replicas-as-string-is-the-default",
         deploy(dep_status(1, 1, 1, 1), {"replicas": "3"}),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("replicas-as-bool-is-the-default", deploy(dep_status(1, 1, 1, 1), {"replicas": True}),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("replicas-as-float-is-the-default", deploy(dep_status(1, 1, 1, 1), {"replicas": 3.0}),
         CURRENT, "Deployment is available. Replicas: 1"),
    Case("null-condition-is-empty", mycr({"conditions": [None, cond("Ready", "True")]}),
         CURRENT, "Resource is Ready"),
]

TABLES = {"generic": GENERIC, "always": ALWAYS_READY, "deployment": DEPLOYMENT,
          "statefulset": STATEFULSET, "daemonset": DAEMONSET, "replicaset": REPLICASET,
          "pdb": PDB, "job": JOB, "pod": POD, "pvc": PVC, "service": SERVICE, "crd": CRD,
          "malformed": MALFORMED}
CASES = [pytest.param(case, id=f"{table}-{case.id}")
         for table, cases in TABLES.items() for case in cases]


@pytest.mark.parametrize("case", CASES)
def test_compute(case: Case) -> None:
    assert compute(case.obj, case.options, now=NOW) == Result(case.status, case.message)


def test_case_ids_are_unique() -> None:
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))


# --- Beyond the table -------------------------------------------------------------------------


def test_now_defaults_to_the_clock() -> None:
    # kstatus's podBeingScheduled stamps the Pod with time.Now() and expects InProgress.
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert compute(unschedulable(creationTimestamp=created)).status is IN_PROGRESS


def test_a_naive_now_is_utc() -> None:
    obj = unschedulable(creationTimestamp=ago(5))
    assert compute(obj, now=NOW.replace(tzinfo=None)).status is IN_PROGRESS


def test_creation_time_with_offset_and_fraction() -> None:
    created = (NOW - timedelta(seconds=5)).astimezone().isoformat(timespec="microseconds")
    assert compute(unschedulable(creationTimestamp=created), now=NOW).status is IN_PROGRESS


def test_schedule_window_is_kstatus_s() -> None:
    assert timedelta(seconds=15) == SCHEDULE_WINDOW


def test_options_change_nothing_else() -> None:
    both = HealthOptions(wait_for_job_completion=True, wait_for_load_balancer=True)
    for param in CASES:
        case: Case = param.values[0]  # type: ignore[assignment]
        if case.options == DEFAULT and case.obj["kind"] not in ("Job", "Service"):
            assert compute(case.obj, both, now=NOW) == Result(case.status, case.message)


def test_compute_does_not_modify_the_object() -> None:
    obj = deploy(dep_status(replicas=2), THREE)
    before = repr(obj)
    compute(obj, now=NOW)
    assert repr(obj) == before


def test_not_found() -> None:
    assert not_found("Deployment", "web") == Result(Status.NOT_FOUND, "Deployment/web not found")


def test_status_values_are_kstatus_strings() -> None:
    assert [s.value for s in Status] == ["Current", "InProgress", "Failed", "Terminating",
                                         "NotFound", "Unknown"]
    assert str(Status.IN_PROGRESS) == "InProgress"
    assert f"{Status.FAILED}" == "Failed"
    assert Status("Current") is CURRENT
    assert isinstance(CURRENT, str)
