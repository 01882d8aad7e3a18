#!/usr/bin/env python3
"""The AWS emulator for the integration tests: moto's server, plus shims for its known gaps.

Started by the Rust test harness (crate `moto-harness`) on a free loopback port; prints
`READY <endpoint>` once it listens and exits when its standard input closes, so it never
outlives the test process that started it.

What moto lacks and this file adds (see ../shared/TOOLING.md, "moto"):

* CloudWatch over RPCv2-CBOR: the Rust SDK POSTs CBOR to
  /service/GraniteServiceVersion20100801/operation/PutMetricData and moto answers 404.
  PutMetricData is decoded here and stored in moto's own CloudWatch backend.
* Auto Scaling CompleteLifecycleAction / RecordLifecycleActionHeartbeat (moto: HTTP 500).
  Answered here like AWS, from a table of active lifecycle actions that a test opens through
  the harness API; an action completed or never opened gets AWS's ValidationError
  "No active Lifecycle Action found ...".
* ECS ListContainerInstances `filter`: moto ignores it. The one form the drainer uses,
  `ec2InstanceId == i-...`, is applied here.
* CloudWatch StorageResolution: moto's backend drops it; the harness keeps the last one sent
  per metric and returns it with the stored values (`storage_resolution`, 60 when unset).
* ECS service counts: moto reports every task of a new service as pending, so it never shows
  tasks that ECS could not place. POST /_harness/service-deployments replaces a service's
  deployments (task definition, desired/running/pending counts, status) with what ECS would
  report, e.g. a deployment whose tasks wait for room, or two during a rolling update.
* ECS tasks: by default moto moves a task one status on (RUNNING, DEACTIVATING, STOPPING,
  DEPROVISIONING, STOPPED) each time DescribeTasks returns it, so tasks stop by being looked
  at. POST /_harness/state-transition sets moto's state manager, e.g.
  {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}} keeps
  tasks RUNNING until StopTask.

Test set-up that moto cannot do through the API (its container instances always register with
4096 CPU / 7482 MiB, and registration needs a running EC2 instance) goes through the harness
API under /_harness/ (JSON): create EC2-backed container instances with given resources,
change an instance's status or remaining resources, read stored metrics and lifecycle calls.

Fault injection (issue 7): `--fault-rate R --seed S` answers a share R of the AWS calls
(never the harness API) with throttling, HTTP 500, slow answers or dropped connections.
"""

import argparse
import io
import json
import random
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

import cbor2
from moto.autoscaling.models import autoscaling_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ecs.models import ContainerInstance, ecs_backends
from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

ACCOUNT = DEFAULT_ACCOUNT_ID
CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."


def region_of(environ):
    """The region the SDK signed for (Credential=AKID/date/REGION/service/aws4_request)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=")[1].split("/")[2]
    except IndexError:
        return "us-east-1"


class Harness:
    def __init__(self, fault_rate=0.0, seed=0):
        self.lock = threading.Lock()
        self.active_actions = {}  # (asg, hook, instance_id) -> token
        self.lifecycle_calls = []
        self.storage_resolutions = {}  # (namespace, name, dimensions) -> last StorageResolution
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.faults = {"throttle": 0, "http500": 0, "slow": 0, "drop": 0}
        self.aws_calls = 0
        self.calls_by_operation = {}

    # ---------------------------------------------------------------- WSGI entry
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        if path.startswith("/_harness/"):
            return self.harness_api(environ, start_response, path, body)
        if path.startswith("/moto-api"):
            return self.moto(environ, start_response)

        operation = self.operation_of(environ, path, body)
        with self.lock:
            self.aws_calls += 1
            self.calls_by_operation[operation] = self.calls_by_operation.get(operation, 0) + 1
            fault = self.pick_fault()
        if fault == "slow":
            time.sleep(0.3)
        elif fault is not None:
            return self.inject(fault, environ, start_response, path)
        return self.dispatch(environ, start_response, path, body, operation)

    def dispatch(self, environ, start_response, path, body, operation):
        if path.startswith(CBOR_PREFIX):
            return self.cloudwatch_cbor(environ, start_response, operation, body)
        if operation in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            return self.lifecycle(environ, start_response, operation, body)
        if operation == "ListContainerInstances":
            answered = self.list_container_instances(environ, start_response, body)
            if answered is not None:
                return answered
        return self.moto(environ, start_response)

    @staticmethod
    def operation_of(environ, path, body):
        if path.startswith(CBOR_PREFIX):
            return path[len(CBOR_PREFIX):]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            return target.split(".")[-1]
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return form.get("Action", ["?"])[0]

    def moto(self, environ, start_response):
        return self.app(environ, start_response)

    # ---------------------------------------------------------------- faults
    def pick_fault(self):
        if self.fault_rate <= 0 or self.random.random() >= self.fault_rate:
            return None
        fault = self.random.choice(["throttle", "http500", "slow", "drop"])
        self.faults[fault] += 1
        return fault

    def inject(self, fault, environ, start_response, path):
        if fault == "drop":
            raise ConnectionAbortedError("harness: dropped connection (injected fault)")
        status = "400 Bad Request" if fault == "throttle" else "500 Internal Server Error"
        code = "ThrottlingException" if fault == "throttle" else "InternalFailure"
        message = "Rate exceeded (injected fault)" if fault == "throttle" else "injected fault"
        if path.startswith(CBOR_PREFIX):
            return self.cbor_error(start_response, status, code, message)
        if environ.get("HTTP_X_AMZ_TARGET"):
            payload = json.dumps({"__type": code, "message": message}).encode()
            start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
            return [payload]
        return self.query_error(start_response, status, code, message)

    # ---------------------------------------------------------------- CloudWatch (CBOR)
    @staticmethod
    def cbor_reply(start_response, status, payload):
        data = cbor2.dumps(payload)
        start_response(status, [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(data))),
        ])
        return [data]

    def cbor_error(self, start_response, status, code, message):
        return self.cbor_reply(start_response, status, {"__type": code, "message": message})

    def cloudwatch_cbor(self, environ, start_response, operation, body):
        if operation != "PutMetricData":
            return self.cbor_error(start_response, "400 Bad Request", "UnknownOperationException",
                                   f"harness: {operation} over CBOR is not emulated")
        try:
            request = cbor2.loads(body) if body else {}
        except Exception as err:  # noqa: BLE001 - any decode failure is the client's
            return self.cbor_error(start_response, "400 Bad Request", "SerializationException", str(err))
        namespace = request.get("Namespace")
        data = request.get("MetricData") or []
        if not namespace or namespace.startswith("AWS/"):
            return self.cbor_error(start_response, "400 Bad Request", "InvalidParameterValue",
                                   f"The value {namespace!r} for parameter Namespace is invalid.")
        if len(data) > 1000:
            return self.cbor_error(start_response, "400 Bad Request", "InvalidParameterValue",
                                   "The collection MetricData must not have a size greater than 1000.")
        metric_data = []
        for datum in data:
            timestamp = datum.get("Timestamp")
            if isinstance(timestamp, (int, float)):
                timestamp = datetime.fromtimestamp(timestamp, tz=timezone.utc)
            entry = {
                "MetricName": datum.get("MetricName"),
                "Dimensions": datum.get("Dimensions") or [],
                "Unit": datum.get("Unit"),
                "Timestamp": timestamp,
            }
            if "Value" in datum:
                entry["Value"] = datum["Value"]
            key = (namespace, datum.get("MetricName"),
                   tuple(sorted((d.get("Name"), d.get("Value")) for d in datum.get("Dimensions") or [])))
            self.storage_resolutions[key] = datum.get("StorageResolution", 60)
            if datum.get("Values"):
                entry["Values"] = datum["Values"]
                entry["Counts"] = datum.get("Counts")
            metric_data.append(entry)
        try:
            cloudwatch_backends[ACCOUNT][region_of(environ)].put_metric_data(namespace, metric_data)
        except Exception as err:  # noqa: BLE001 - moto's validation errors
            return self.cbor_error(start_response, "400 Bad Request", "InvalidParameterValue", str(err))
        return self.cbor_reply(start_response, "200 OK", {})

    # ---------------------------------------------------------------- Auto Scaling lifecycle
    @staticmethod
    def query_error(start_response, status, code, message):
        xml = (
            "<ErrorResponse xmlns=\"https://autoscaling.amazonaws.com/doc/2011-01-01/\">"
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
        return [xml]

    def lifecycle(self, environ, start_response, operation, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        asg = form.get("AutoScalingGroupName")
        hook = form.get("LifecycleHookName")
        token = form.get("LifecycleActionToken")
        instance_id = form.get("InstanceId")
        call = {"operation": operation, "asg": asg, "hook": hook, "token": token,
                "instance_id": instance_id, "result": form.get("LifecycleActionResult")}
        with self.lock:
            key = None
            for (a, h, i), t in self.active_actions.items():
                if a == asg and h == hook and ((token and t == token) or (not token and i == instance_id)):
                    key = (a, h, i)
                    break
            if key is None:
                call["outcome"] = "no active lifecycle action"
                self.lifecycle_calls.append(call)
                subject = f"token {token}" if token else f"instance ID {instance_id}"
                return self.query_error(start_response, "400 Bad Request", "ValidationError",
                                        f"No active Lifecycle Action found with {subject}")
            if operation == "CompleteLifecycleAction":
                del self.active_actions[key]
            call["outcome"] = "ok"
            self.lifecycle_calls.append(call)
        xml = (
            f"<{operation}Response xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
            f"<{operation}Result/><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></{operation}Response>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
        return [xml]

    # ---------------------------------------------------------------- ECS filter shim
    def list_container_instances(self, environ, start_response, body):
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None
        flt = (request.get("filter") or "").strip()
        if not flt:
            return None
        field, _, value = flt.partition("==")
        if field.strip() != "ec2InstanceId" or not value.strip():
            return None
        cluster = (request.get("cluster") or "default").split("/")[-1]
        backend = ecs_backends[ACCOUNT][region_of(environ)]
        if cluster not in backend.clusters:
            payload = json.dumps({"__type": "ClusterNotFoundException", "message": "Cluster not found."}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
            return [payload]
        wanted = value.strip()
        status = request.get("status")
        arns = sorted(
            ci.container_instance_arn
            for ci in backend.container_instances.get(cluster, {}).values()
            if ci.ec2_instance_id == wanted and (status is None or ci.status == status)
        )
        payload = json.dumps({"containerInstanceArns": arns}).encode()
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
        return [payload]

    # ---------------------------------------------------------------- harness API
    def harness_api(self, environ, start_response, path, body):
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            request = json.loads(body) if body else {}
            handler = {
                ("POST", "/_harness/container-instances"): self.api_create_instances,
                ("POST", "/_harness/container-instance"): self.api_update_instance,
                ("POST", "/_harness/lifecycle-actions"): self.api_open_action,
                ("GET", "/_harness/lifecycle-calls"): lambda r, q: {"calls": list(self.lifecycle_calls)},
                ("GET", "/_harness/metrics"): self.api_metrics,
                ("GET", "/_harness/stats"): lambda r, q: {"aws_calls": self.aws_calls, "faults": dict(self.faults),
                                                          "calls_by_operation": dict(self.calls_by_operation)},
                ("POST", "/_harness/fault-rate"): self.api_fault_rate,
                ("POST", "/_harness/state-transition"): self.api_state_transition,
                ("POST", "/_harness/service-deployments"): self.api_service_deployments,
            }.get((method, path))
            if handler is None:
                raise KeyError(f"no harness route {method} {path}")
            with self.lock:
                result = handler(request, query)
            status = "200 OK"
        except Exception as err:  # noqa: BLE001 - reported to the test
            result, status = {"error": f"{type(err).__name__}: {err}"}, "400 Bad Request"
        payload = json.dumps(result, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    @staticmethod
    def set_resource(resources, name, value):
        for resource in resources:
            if resource["name"] == name:
                if isinstance(value, list):
                    resource["stringSetValue"] = [str(v) for v in value]
                else:
                    resource["integerValue"] = int(value)
                return
        entry = {"doubleValue": 0.0, "integerValue": 0, "longValue": 0, "name": name}
        if isinstance(value, list):
            entry.update(type="STRINGSET", stringSetValue=[str(v) for v in value])
        else:
            entry.update(type="INTEGER", integerValue=int(value))
        resources.append(entry)

    def apply_resources(self, ci, request):
        for side, attr in (("registered", "registered_resources"), ("remaining", "remaining_resources")):
            for name, value in (request.get(side) or {}).items():
                self.set_resource(getattr(ci, attr), name, value)
        if "status" in request:
            ci.status = request["status"]
        if "agent_connected" in request:
            ci.agent_connected = bool(request["agent_connected"])

    def api_create_instances(self, request, _query):
        region = request.get("region", "us-east-1")
        cluster = request["cluster"].split("/")[-1]
        count = int(request.get("count", 1))
        backend = ecs_backends[ACCOUNT][region]
        if cluster not in backend.clusters:
            raise KeyError(f"cluster {cluster} does not exist")
        reservation = ec2_backends[ACCOUNT][region].run_instances(
            "ami-12c6146b", count, None, [], instance_type=request.get("instance_type", "m5.large"),
            is_instance_type_default=True, placement=request.get("availability_zone"), region_name=region)
        created = []
        for instance in reservation.instances:
            ci = backend.register_container_instance(cluster, instance.id)
            self.apply_resources(ci, request)
            created.append({"container_instance_arn": ci.container_instance_arn, "ec2_instance_id": instance.id})
        return {"instances": created}

    def api_update_instance(self, request, _query):
        region = request.get("region", "us-east-1")
        cluster = request["cluster"].split("/")[-1]
        backend = ecs_backends[ACCOUNT][region]
        wanted = request["container_instance"]
        for ci in backend.container_instances.get(cluster, {}).values():
            if wanted in (ci.container_instance_arn, ci.ec2_instance_id, ci.id):
                self.apply_resources(ci, request)
                return {"container_instance_arn": ci.container_instance_arn}
        raise KeyError(f"no container instance {wanted} in {cluster}")

    def api_open_action(self, request, _query):
        token = request.get("LifecycleActionToken") or str(uuid.uuid4())
        key = (request["AutoScalingGroupName"], request["LifecycleHookName"], request["InstanceId"])
        self.active_actions[key] = token
        return {"LifecycleActionToken": token}

    def api_metrics(self, _request, query):
        region = query.get("region", "us-east-1")
        namespace = query.get("namespace")
        out = []
        for datum in cloudwatch_backends[ACCOUNT][region].metric_data:
            if namespace and datum.namespace != namespace:
                continue
            dimensions = {d.name: d.value for d in datum.dimensions}
            key = (datum.namespace, datum.name, tuple(sorted(dimensions.items())))
            out.append({
                "namespace": datum.namespace,
                "name": datum.name,
                "value": datum.value,
                "unit": datum.unit,
                "dimensions": dimensions,
                "storage_resolution": self.storage_resolutions.get(key, 60),
            })
        return {"metrics": out}

    def api_service_deployments(self, request, _query):
        region = request.get("region", "us-east-1")
        cluster = request["cluster"].split("/")[-1]
        backend = ecs_backends[ACCOUNT][region]
        service = backend.services.get(f"{cluster}:{request['service']}")
        if service is None:
            raise KeyError(f"no service {request['service']} in {cluster}")
        template = dict(service.deployments[0]) if service.deployments else {}
        deployments = []
        for i, d in enumerate(request["deployments"]):
            deployment = dict(template)
            deployment.update({
                "id": f"ecs-svc/{i}{uuid.uuid4().int % 10**12}",
                "status": d.get("status", "PRIMARY" if i == 0 else "ACTIVE"),
                "taskDefinition": d["taskDefinition"],
                "desiredCount": int(d["desiredCount"]),
                "runningCount": int(d["runningCount"]),
                "pendingCount": int(d["pendingCount"]),
            })
            deployments.append(deployment)
        service.deployments = deployments
        primary = deployments[0]
        service.task_definition = primary["taskDefinition"]
        service.desired_count = sum(d["desiredCount"] for d in deployments)
        service.running_count = sum(d["runningCount"] for d in deployments)
        service.pending_count = sum(d["pendingCount"] for d in deployments)
        return {"service": service.arn, "deployments": len(deployments)}

    @staticmethod
    def api_state_transition(request, _query):
        state_manager.set_transition(request["model_name"], request["transition"])
        return {"model_name": request["model_name"], "transition": request["transition"]}

    def api_fault_rate(self, request, _query):
        self.fault_rate = float(request.get("rate", 0.0))
        if "seed" in request:
            self.random.seed(request["seed"])
        return {"fault_rate": self.fault_rate}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    harness = Harness(args.fault_rate, args.seed)
    harness.app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", args.port, harness, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY http://127.0.0.1:{server.server_port}", flush=True)
    # Exit when the parent closes our stdin (or dies): the server never outlives its tests.
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
