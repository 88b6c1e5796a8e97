#!/usr/bin/env python3
"""AWS emulator harness for ecs-sentinel's tests: moto's server plus a thin WSGI layer.

moto (pinned in requirements.txt) does the AWS work. The layer in front of it adds only
what moto lacks and what tests need (see README.md): a per-operation call counter, fault
injection, flipping a container instance's agentConnected, ECS Anywhere (`mi-…`)
container instances and SSM DescribeInstanceInformation for them, two fixes to what
moto's CloudFormation creates (Lambda environment values as strings, role policies as JSON),
CloudWatch over the RPC v2 CBOR protocol the current SDKs speak (moto reads only query
and JSON there), and three speed-ups of moto whose costs grew with what it held (request
dispatch, SQS visibility, transaction backups). The control API lives under /_harness/
and is never counted or faulted.

Usage: harness.py --port 0   prints `READY <port>` on stdout once it accepts connections.
"""

import argparse
import base64
import contextlib
import gzip
import io
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import cbor2
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.awslambda.models import LambdaFunction
from moto.cloudwatch.models import Statistics, cloudwatch_backends
from moto.iam.models import Role, get_account_id_from
from moto.core.utils import utcnow
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.ecs.models import ContainerInstance, EC2ContainerServiceBackend, Task, ecs_backends
from moto.events.models import Archive, EventBus
from moto.logs.models import LogsBackend
from moto.sqs.models import Message as SqsMessage
from moto.moto_api._internal.models import moto_api_backend
from moto import backends as moto_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

CONTROL_PREFIX = "/_harness/"
REQUESTS_KEPT = 100  # request bodies kept per operation
DEFAULT_REGION = "us-east-1"

# Unsigned requests have no credential scope; the X-Amz-Target prefix names the service.
TARGET_PREFIX_SERVICE = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonSSM": "ssm",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
}

# Per-protocol error codes. Throttling codes are ones the AWS SDKs classify as
# throttling, so the clients' retry and back-off paths are exercised for real.
# SQS's modeled throttling error is RequestThrottled (the SDKs list it as throttling).
ERROR_CODES = {
    # kind: (http status, json code, ec2 code, query code)
    "throttle": (400, "ThrottlingException", "RequestLimitExceeded", "Throttling"),
    "server_error": (500, "InternalFailure", "InternalError", "InternalFailure"),
}
# A held answer that leaves more than this after it was due (arrival plus hold) was late:
# moto's work on it, or its queue, outlasted the hold, so calls sent together need not come
# back together and a client that sends a call per answer can chain more round trips than
# on even answers. A few milliseconds cover a woken thread waiting for the GIL.
LATE_AFTER_SECONDS = 0.005
FAULT_KINDS = ("throttle", "server_error", "latency", "reset", "lost_answer", "unprocessed")

# Smithy RPC v2 CBOR: what the current AWS SDKs speak to CloudWatch. The request names the
# protocol in a header and the operation in its path, /service/<Service>/operation/<Op>.
CBOR_PROTOCOL = "rpc-v2-cbor"
# Services that are `awsQueryCompatible`: their SDKs take the error code from the
# x-amzn-query-error header (`<query code>;Sender|Receiver`), the code the old query
# protocol had, and match modelled errors on it (CloudWatch: InvalidParameterValue, ...).
QUERY_COMPATIBLE_CBOR_SERVICES = {"monitoring"}


class HarnessError(Exception):
    """A bad control request: becomes `{"error": ...}` with the given HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class AwsError(Exception):
    """An AWS-style JSON error answered by the harness itself (SSM)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- requests


def sigv4_scope(environ):
    """Return (access key, region, service) from the SigV4 credential scope, or empty strings.

    Every SDK signs its requests, and the scope is the only place that names the service
    and region here: the Host header is just 127.0.0.1.
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) == 5:
            return scope[0], scope[2], scope[3].lower()
    return "", "", ""


def identify(environ, body):
    """Return (service, operation, protocol) of an AWS request.

    The service comes from the SigV4 credential scope because that is what every SDK
    sends and the Host header is just 127.0.0.1 here.
    """
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    _key, _region, service = sigv4_scope(environ)
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == CBOR_PROTOCOL:
        # RPC v2 CBOR (CloudWatch) has neither X-Amz-Target nor an Action field: the
        # operation is the last segment of /service/<Service>/operation/<Operation>.
        path = environ.get("PATH_INFO", "")
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "service" and parts[3] == "operation" and parts[4]:
            operation = parts[4]
        else:
            operation = f"{environ.get('REQUEST_METHOD')} {path}"
        return service or "unknown", operation, CBOR_PROTOCOL
    if target:
        prefix, _, operation = target.partition(".")
        return service or TARGET_PREFIX_SERVICE.get(prefix, "unknown"), operation, "json"
    # Query protocols (EC2, SNS) carry the operation as a form field.
    form = parse_qs(environ.get("QUERY_STRING", ""))
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        form.update(parse_qs(body.decode("utf-8", "replace")))
    operation = form.get("Action", [""])[0]
    if not operation:
        operation = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
    return service or "unknown", operation, "ec2" if service == "ec2" else "query"


def read_body(environ):
    """Read the request body once and give moto a fresh stream with the same bytes."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug already de-chunks
        body = stream.read()
    else:
        body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def error_response(kind, service, protocol):
    """The error a real service sends for `kind`, in its own wire format."""
    status, json_code, ec2_code, query_code = ERROR_CODES[kind]
    if service == "sqs" and kind == "throttle":
        json_code = query_code = "RequestThrottled"
    message = (
        f"{'Rate exceeded' if kind == 'throttle' else 'Internal failure'} (injected by harness)"
    )
    if protocol == CBOR_PROTOCOL:
        # `__type` is the modelled shape, the query-compatible header the old query code
        # (Throttling / InternalFailure), which is the code the SDK then reports.
        return cbor_error(service, status, json_code, message, query_code)
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "json":
        version = "1.0" if service == "sqs" else "1.1"
        headers += [
            ("Content-Type", f"application/x-amz-json-{version}"),
            ("x-amzn-ErrorType", json_code),
        ]
        if service == "sqs":
            # SQS is awsQueryCompatible: SDKs take the error code from this header.
            fault = "Sender" if status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{json_code};{fault}"))
        body = json.dumps({"__type": json_code, "message": message})
    elif protocol == "ec2":
        # EC2 signals throttling with 503, unlike the other services.
        status = 503 if kind == "throttle" else status
        headers.append(("Content-Type", "text/xml"))
        body = (
            f"<Response><Errors><Error><Code>{ec2_code}</Code><Message>{message}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        fault = "Sender" if status < 500 else "Receiver"
        headers.append(("Content-Type", "text/xml"))
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{query_code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
    return status, headers, body.encode()


def drop_connection(environ):
    """End the TCP connection with no response at all, like a proxy dying mid-request.

    We only shut the socket down (the client sees the connection close before any
    response byte) and leave closing it to werkzeug, which owns it. The exception is one
    werkzeug treats as a client that went away: it skips the response quietly instead
    of logging a traceback.
    """
    with contextlib.suppress(OSError):  # the client may have gone already
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by harness fault")


# --------------------------------------------------------------------------- state


class Harness:
    def __init__(self):
        self.app = DomainDispatcherApplication(create_backend_app)
        self.lock = threading.Lock()
        # moto's TransactWriteItems rolls back by restoring a copy of the whole table taken
        # when it started, undoing writes other requests made meanwhile. DynamoDB isolates a
        # transaction; here DynamoDB requests run one at a time so moto's do not interleave.
        self.dynamodb_lock = threading.Lock()
        self.calls = Counter()
        self.faults = []  # tried in the order added; the first that fires decides
        self.next_fault_id = 1
        self.rng = random.Random(0)  # seeded so soak tests are reproducible
        self.ssm_instances = {}  # instance id -> SSM InstanceInformation dict
        # "service.Operation" -> the latest request bodies, so tests can check the arguments
        # a call was made with (bounded: a soak test must not grow memory without limit).
        self.requests = {}
        # Sequential round trips since the last reset: a call's depth is one more than the
        # deepest call answered before it arrived, so calls sent together share a depth and
        # a call sent after an answer is one deeper. `round_trips` is the deepest so far: the
        # critical path. Exact when a latency fault holds every answer longer than a client
        # takes to send the calls it sends together (they then all arrive before any answer).
        self.answered_depth = 0
        self.round_trips = 0
        # The emulator's own time since the last reset (see `note_busy`).
        self.busy_seconds = 0.0
        self.busy_until = 0.0
        self.busy_by_operation = Counter()
        # Held answers that left later than due (see `LATE_AFTER_SECONDS`).
        self.late_answers = 0

    # WSGI entry point
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(environ, start_response, path[len(CONTROL_PREFIX) :])
        body = read_body(environ)
        service, operation, protocol = identify(environ, body)
        # CBOR bodies are binary: keep them readable for /_harness/requests as JSON.
        text = cbor_request_as_json(environ, body) if protocol == CBOR_PROTOCOL else None
        fault, depth = self.record_and_pick_fault(service, operation, body, text)
        arrived = time.monotonic()
        # A held call's answer is due `latency_ms` after it arrived: the network and AWS's
        # own time, in a region. Moto takes the request `moto_after_ms` into the hold (by
        # default at its end), so the calls a client sends together have all arrived before
        # moto's work on any of them holds the GIL; what moto takes beyond the due time is
        # the emulator's (`note_busy`).
        held = fault is not None and fault["kind"] == "latency"
        due = arrived + (fault["latency_ms"] / 1000.0 if held else 0.0)
        if held:
            time.sleep(fault["moto_after_ms"] / 1000.0)
        worked = done = time.monotonic()
        try:
            answer = self.answer(environ, start_response, service, operation, body, protocol, fault)
            done = time.monotonic()
            if done < due:
                time.sleep(due - done)
            return answer
        finally:
            finished = time.monotonic()
            with self.lock:
                self.answered_depth = max(self.answered_depth, depth)
                self.note_busy(f"{service}.{operation}", worked, done, due, finished)
                if held and finished - due > LATE_AFTER_SECONDS:
                    self.late_answers += 1

    def note_busy(self, key, worked, done, due, finished):
        """Counts one answer's emulator time. `busy` is the union of the spans from when an
        answer was due (its arrival plus any latency hold) to when it left: the time a
        waiting client spent on the emulator rather than on itself or on the round trips.
        Spans end almost in order (moto holds the GIL, DynamoDB is serialized), so a span
        is cut only against the latest end seen. `busy_by_operation` is moto's work on the
        call (`worked` to `done`, the DynamoDB lock included), held or not. Under
        `self.lock`."""
        self.busy_by_operation[key] += done - worked
        start = max(due, self.busy_until)
        if finished > start:
            self.busy_seconds += finished - start
        self.busy_until = max(self.busy_until, finished)

    def answer(self, environ, start_response, service, operation, body, protocol, fault):
        """One AWS request: the fault picked for it, else moto (with the harness's additions)."""
        if fault is not None and fault["kind"] != "latency":
            if fault["kind"] == "reset":
                drop_connection(environ)
            elif fault["kind"] == "unprocessed":
                return self.batch_get_partly(environ, start_response, body)
            elif fault["kind"] == "lost_answer":
                # The call takes effect in moto, then its answer is lost: the client sees
                # an internal error and its SDK retries a call that already happened.
                self.take_effect(environ, service, operation, body, protocol)
                status, headers, payload = error_response("server_error", service, protocol)
                return respond(start_response, status, headers, payload)
            else:
                status, headers, payload = error_response(fault["kind"], service, protocol)
                return respond(start_response, status, headers, payload)
        if protocol == CBOR_PROTOCOL:
            status, headers, payload = cbor_answer(environ, service, operation, body)
            return respond(start_response, status, headers, payload)
        if service == "ssm" and operation == "DescribeInstanceInformation":
            return self.describe_instance_information(start_response, body)
        if service == "dynamodb":
            return self.serialized(environ, start_response)
        return self.app(environ, start_response)

    def serialized(self, environ, start_response):
        """Runs one DynamoDB request under the DynamoDB lock, its answer read to the end."""
        answer = {}

        def keep(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        with self.dynamodb_lock:
            result = self.app(environ, keep)
            try:
                payload = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        start_response(answer["status"], answer["headers"])
        return [payload]

    def batch_get_partly(self, environ, start_response, body):
        """BatchGetItem as DynamoDB answers it under load: only the first key of each table
        is read, the others come back in UnprocessedKeys for the caller to ask again."""
        request = json.loads(body)
        first, rest = {}, {}
        for table, asked in request.get("RequestItems", {}).items():
            keys = asked.get("Keys", [])
            first[table] = {**asked, "Keys": keys[:1]}
            if keys[1:]:
                rest[table] = {**asked, "Keys": keys[1:]}
        partial = json.dumps({**request, "RequestItems": first}).encode()
        environ["wsgi.input"] = io.BytesIO(partial)
        environ["CONTENT_LENGTH"] = str(len(partial))
        answer = {}

        def keep(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        payload = self.serialized(environ, keep)[0]
        if not answer["status"].startswith("200"):
            start_response(answer["status"], answer["headers"])
            return [payload]
        document = json.loads(payload)
        document["UnprocessedKeys"] = rest
        # The body changed: its length and checksum headers are moto's no longer.
        payload = json.dumps(document).encode()
        headers = [
            (name, value)
            for name, value in answer["headers"]
            if name.lower() not in ("content-length", "x-amz-crc32")
        ]
        start_response(answer["status"], headers + [("Content-Length", str(len(payload)))])
        return [payload]

    def take_effect(self, environ, service, operation, body, protocol):
        """Runs the request through moto (or the harness's own SSM or CBOR layer) and drops
        the answer."""
        def ignore(_status, _headers, _exc_info=None):
            return lambda _data: None

        if protocol == CBOR_PROTOCOL:
            cbor_answer(environ, service, operation, body)
            return
        if service == "ssm" and operation == "DescribeInstanceInformation":
            return
        environ["wsgi.input"] = io.BytesIO(body)
        if service == "dynamodb":
            self.serialized(environ, ignore)
            return
        answer = self.app(environ, ignore)
        try:
            for _chunk in answer:
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    def record_and_pick_fault(self, service, operation, body, text=None):
        """Counts the request, keeps its body (`text` if given, for binary bodies) and
        returns the first fault rule that fires for it, if any, with the request's depth
        (see `round_trips`)."""
        with self.lock:
            depth = self.answered_depth + 1
            self.round_trips = max(self.round_trips, depth)
            return self.pick_fault(service, operation, body, text), depth

    def pick_fault(self, service, operation, body, text):
        """`record_and_pick_fault` under the lock."""
        key = f"{service}.{operation}"
        self.calls[key] += 1
        recent = self.requests.setdefault(key, [])
        recent.append(text if text is not None else body.decode("utf-8", "replace"))
        del recent[:-REQUESTS_KEPT]
        for rule in self.faults:
            if rule["service"] not in ("*", service):
                continue
            if rule["operation"] not in ("*", operation):
                continue
            if rule["match"] and rule["match"].encode() not in body:
                continue
            if rule["times"] is not None and rule["fired"] >= rule["times"]:
                continue
            # Certain rules draw nothing, so adding one does not shift the random
            # sequence seen by the probabilistic ones.
            if rule["probability"] < 1 and self.rng.random() >= rule["probability"]:
                continue
            rule["fired"] += 1
            return dict(rule)
        return None

    # ----------------------------------------------------------------- control API

    def control(self, environ, start_response, route):
        method = environ.get("REQUEST_METHOD", "GET")
        handler = {
            ("GET", "health"): lambda _: {"ok": True},
            ("GET", "calls"): lambda _: self.snapshot_calls(),
            ("POST", "calls/reset"): self.reset_calls,
            ("POST", "requests"): self.list_requests,
            ("GET", "faults"): self.list_faults,
            ("POST", "faults"): self.add_fault,
            ("DELETE", "faults"): self.clear_faults,
            ("POST", "faults/seed"): self.seed_faults,
            ("POST", "ecs/agent-connection"): self.set_agent_connection,
            ("POST", "ecs/external-instances"): self.register_external_instance,
            ("POST", "ssm/instances"): self.upsert_ssm_instance,
            ("POST", "ecs/service-state"): self.set_service_state,
            ("POST", "reset"): self.reset_all,
        }.get((method, route.rstrip("/")))
        try:
            if handler is None:
                raise HarnessError(404, f"no control route {method} {CONTROL_PREFIX}{route}")
            raw = read_body(environ)
            try:
                payload = json.loads(raw) if raw.strip() else {}
            except ValueError as err:
                raise HarnessError(400, f"body must be JSON: {err}") from None
            if not isinstance(payload, dict):
                raise HarnessError(400, "body must be a JSON object")
            status, result = 200, handler(payload)
        except HarnessError as err:
            status, result = err.status, {"error": str(err)}
        except Exception as err:  # pylint: disable=broad-except  (answer, never crash)
            status, result = 500, {"error": f"harness bug: {err!r}"}
        headers = [("Content-Type", "application/json")]
        return respond(start_response, status, headers, json.dumps(result).encode())

    def list_requests(self, p):
        """The latest request bodies of one operation: {"operation": "ec2.RebootInstances"}."""
        with self.lock:
            return {"requests": list(self.requests.get(p.get("operation", ""), []))}

    def snapshot_calls(self):
        with self.lock:
            return {
                "calls": dict(self.calls),
                "round_trips": self.round_trips,
                "busy_ms": round(self.busy_seconds * 1000.0, 3),
                "late_answers": self.late_answers,
                "busy_ms_by_operation": {
                    key: round(seconds * 1000.0, 3)
                    for key, seconds in self.busy_by_operation.items()
                },
            }

    def reset_calls(self, _):
        with self.lock:
            self.calls.clear()
            self.requests.clear()
            self.answered_depth = 0
            self.round_trips = 0
            self.busy_seconds = 0.0
            self.busy_until = 0.0
            self.busy_by_operation.clear()
            self.late_answers = 0
        return {}

    def list_faults(self, _):
        with self.lock:
            return {"faults": [dict(rule) for rule in self.faults]}

    def add_fault(self, p):
        kind = p.get("kind")
        if kind not in FAULT_KINDS:
            raise HarnessError(400, f"kind must be one of {list(FAULT_KINDS)}, got {kind!r}")
        for field in ("service", "operation"):
            if not isinstance(p.get(field), str) or not p[field]:
                raise HarnessError(400, f"{field} must be a non-empty string ('*' for any)")
        if kind == "unprocessed" and (p.get("service"), p.get("operation")) != (
            "dynamodb",
            "BatchGetItem",
        ):
            raise HarnessError(400, "the unprocessed fault is for service dynamodb, operation BatchGetItem")
        times, probability = p.get("times"), p.get("probability", 1.0)
        latency_ms = p.get("latency_ms", 0)
        if times is not None and (type(times) is not int or times < 0):
            raise HarnessError(400, f"times must be null or an integer >= 0, got {times!r}")
        if not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise HarnessError(400, f"probability must be in [0, 1], got {probability!r}")
        if not isinstance(latency_ms, (int, float)) or latency_ms < 0:
            raise HarnessError(400, f"latency_ms must be a number >= 0, got {latency_ms!r}")
        moto_after_ms = p.get("moto_after_ms")
        if moto_after_ms is None:
            moto_after_ms = latency_ms
        if not isinstance(moto_after_ms, (int, float)) or not 0 <= moto_after_ms <= latency_ms:
            raise HarnessError(
                400, f"moto_after_ms must be null or a number in [0, latency_ms], got {moto_after_ms!r}"
            )
        with self.lock:
            rule = {
                "id": f"f{self.next_fault_id}",
                "service": p["service"],
                "operation": p["operation"],
                "match": p.get("match") or None,
                "kind": kind,
                "times": times,
                "probability": float(probability),
                "latency_ms": latency_ms,
                "moto_after_ms": moto_after_ms,
                "fired": 0,
            }
            self.next_fault_id += 1
            self.faults.append(rule)
        return {"id": rule["id"]}

    def clear_faults(self, _):
        with self.lock:
            self.faults.clear()
        return {}

    def seed_faults(self, p):
        if not isinstance(p.get("seed"), int):
            raise HarnessError(400, "seed must be an integer")
        with self.lock:
            self.rng.seed(p["seed"])
        return {}

    def reset_all(self, _):
        """Fresh state for a test that reuses a running harness: moto's and ours."""
        moto_api_backend.reset()
        with self.lock:
            self.calls.clear()
            self.faults.clear()
            self.rng.seed(0)
            self.ssm_instances.clear()
        return {}

    # ----------------------------------------------------------------- ECS additions

    def set_agent_connection(self, p):
        connected = p.get("connected")
        if not isinstance(connected, bool):
            raise HarnessError(400, "connected must be true or false")
        backend, cluster = ecs_cluster(p)
        instance_id = str(p.get("containerInstanceArn", "")).split("/")[-1]
        instance = backend.container_instances.get(cluster, {}).get(instance_id)
        if instance is None:
            raise HarnessError(
                404,
                f"container instance {p.get('containerInstanceArn')!r} is not registered "
                f"in cluster {cluster!r}; register it first",
            )
        # What DescribeContainerInstances reports after `systemctl stop ecs`.
        instance.agent_connected = connected
        instance.version = getattr(instance, "version", 1) + 1
        return {}

    def set_service_state(self, p):
        """What DescribeServices reports once ECS has run a service's tasks. moto starts no
        tasks: a new service stays at running 0, its deployment IN_PROGRESS, and it records
        no service events. Sets the counts, the primary deployment's rollout state and
        failed tasks, and appends service events ({"message": ...}, newest last)."""
        backend, cluster = ecs_cluster(p)
        name = str(p.get("service", "")).split("/")[-1]
        service = backend.services.get(f"{cluster}:{name}")
        if service is None:
            raise HarnessError(404, f"service {p.get('service')!r} is not in cluster {cluster!r}")
        counts = {}
        for field in ("running", "pending", "failedTasks"):
            value = p.get(field)
            if value is not None and (type(value) is not int or value < 0):
                raise HarnessError(400, f"{field} must be an integer >= 0, got {value!r}")
            counts[field] = value
        rollout = p.get("rolloutState")
        if rollout is not None and rollout not in ("COMPLETED", "IN_PROGRESS", "FAILED"):
            raise HarnessError(400, f"rolloutState must be COMPLETED, IN_PROGRESS or FAILED, got {rollout!r}")
        if counts["running"] is not None:
            service.running_count = counts["running"]
        if counts["pending"] is not None:
            service.pending_count = counts["pending"]
        for deployment in service.deployments[:1]:  # the PRIMARY one
            deployment["runningCount"] = service.running_count
            deployment["pendingCount"] = service.pending_count
            if rollout is not None:
                deployment["rolloutState"] = rollout
                deployment["rolloutStateReason"] = p.get("rolloutStateReason", "")
            if counts["failedTasks"] is not None:
                deployment["failedTasks"] = counts["failedTasks"]
        for message in p.get("events") or []:
            if not isinstance(message, str):
                raise HarnessError(400, f"events must be strings, got {message!r}")
            service.events.append(
                {"id": str(len(service.events) + 1), "createdAt": utcnow(), "message": message}
            )
        return {}

    def register_external_instance(self, p):
        backend, cluster = ecs_cluster(p)
        managed_id = p.get("managedInstanceId")
        if not isinstance(managed_id, str) or not managed_id.startswith("mi-"):
            raise HarnessError(400, f"managedInstanceId must look like mi-…, got {managed_id!r}")
        os_type = p.get("osType", "linux")
        if os_type not in ("linux", "windows"):
            raise HarnessError(400, f"osType must be linux or windows, got {os_type!r}")
        # SSM first: it validates pingStatus, so a bad request registers nothing.
        self.upsert_ssm_instance(
            {
                "instanceId": managed_id,
                "pingStatus": p.get("pingStatus", "Online"),
                "platformType": "Windows" if os_type == "windows" else "Linux",
            }
        )
        instance = external_container_instance(
            backend, cluster, managed_id, os_type, p.get("agentVersion", "1.82.0")
        )
        with self.lock:
            backend.container_instances.setdefault(cluster, {})[instance.id] = instance
            backend.clusters[cluster].registered_container_instances_count += 1
        return {"containerInstanceArn": instance.container_instance_arn}

    # ----------------------------------------------------------------- SSM additions

    def upsert_ssm_instance(self, p):
        instance_id = p.get("instanceId")
        if not isinstance(instance_id, str) or not instance_id.startswith(("mi-", "i-")):
            raise HarnessError(400, f"instanceId must look like mi-… or i-…, got {instance_id!r}")
        ping = p.get("pingStatus", "Online")
        if ping not in ("Online", "ConnectionLost", "Inactive"):
            raise HarnessError(
                400, f"pingStatus must be Online|ConnectionLost|Inactive, got {ping!r}"
            )
        platform = p.get("platformType", "Linux")
        if platform not in ("Linux", "Windows", "MacOS"):
            raise HarnessError(400, f"platformType must be Linux|Windows|MacOS, got {platform!r}")
        last_ping = p.get("lastPingDateTime", time.time())
        if not isinstance(last_ping, (int, float)):
            raise HarnessError(400, f"lastPingDateTime must be epoch seconds, got {last_ping!r}")
        windows = platform == "Windows"
        info = {
            "InstanceId": instance_id,
            "PingStatus": ping,
            "LastPingDateTime": last_ping,
            "AgentVersion": p.get("ssmAgentVersion", "3.3.1142.0"),
            "IsLatestVersion": False,
            "PlatformType": platform,
            "PlatformName": p.get(
                "platformName",
                "Microsoft Windows Server 2022 Datacenter" if windows else "Amazon Linux",
            ),
            "PlatformVersion": p.get("platformVersion", "10.0.20348" if windows else "2023"),
            "ResourceType": "ManagedInstance" if instance_id.startswith("mi-") else "EC2Instance",
            "IPAddress": p.get("ipAddress", "192.0.2.10"),
            "ComputerName": p.get("computerName", f"{instance_id}.example.internal"),
        }
        with self.lock:
            self.ssm_instances[instance_id] = info
        return {}

    def describe_instance_information(self, start_response, body):
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise AwsError("SerializationException", "request body must be a JSON object")
            result = self.query_instance_information(request)
            status, headers = 200, []
        except (AwsError, ValueError, TypeError, AttributeError) as err:
            # Anything but our own AwsError means a request shape AWS would not accept.
            code = getattr(err, "code", "SerializationException")
            result = {"__type": code, "message": str(err)}
            status, headers = 400, [("x-amzn-ErrorType", code)]
        headers += [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        return respond(start_response, status, headers, json.dumps(result).encode())

    def query_instance_information(self, req):
        """DescribeInstanceInformation over the harness store, with AWS's limits."""
        if req.get("Filters") and req.get("InstanceInformationFilterList"):
            raise AwsError(
                "ValidationException",
                "Filters and InstanceInformationFilterList cannot be used together",
            )
        # Both filter styles reduce to key -> allowed values; filters are ANDed.
        filters = [(f.get("Key"), f.get("Values")) for f in req.get("Filters") or []]
        legacy = req.get("InstanceInformationFilterList") or []
        filters += [(f.get("key"), f.get("valueSet")) for f in legacy]
        fields = {
            "InstanceIds": "InstanceId",
            "PingStatus": "PingStatus",
            "PlatformTypes": "PlatformType",
            "ResourceType": "ResourceType",
            "AgentVersion": "AgentVersion",
        }
        for key, values in filters:
            if key not in fields:
                raise AwsError(
                    "InvalidFilterKey", f"filter key {key!r} is not supported by the harness"
                )
            if not isinstance(values, list) or not 1 <= len(values) <= 100:
                raise AwsError("ValidationException", f"filter {key} needs 1 to 100 values")
            if key == "InstanceIds":
                for value in values:
                    if not str(value).startswith(("i-", "mi-")):
                        raise AwsError(
                            "InvalidInstanceInformationFilterValue",
                            f"{value} is not a valid instance id",
                        )
        max_results = req.get("MaxResults", 10)
        if not isinstance(max_results, int) or not 5 <= max_results <= 50:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
                "satisfy constraint: Member must have value between 5 and 50",
            )
        with self.lock:
            items = [
                dict(info)
                for _, info in sorted(self.ssm_instances.items())
                if all(info[fields[key]] in values for key, values in filters)
            ]
        # The token is an opaque offset; anything we did not hand out is rejected.
        start = 0
        if req.get("NextToken"):
            try:
                prefix, _, offset = (
                    base64.urlsafe_b64decode(req["NextToken"]).decode().partition(":")
                )
                start = int(offset)
                if prefix != "harness" or start < 0:
                    raise ValueError(start)
            except ValueError:
                raise AwsError("InvalidNextToken", "The specified token isn't valid.") from None
        page = {"InstanceInformationList": items[start : start + max_results]}
        if start + max_results < len(items):
            token = f"harness:{start + max_results}".encode()
            page["NextToken"] = base64.urlsafe_b64encode(token).decode()
        return page


def external_container_instance(backend, cluster_name, managed_id, os_type, agent_version):
    """An ECS Anywhere container instance: its ec2InstanceId is the SSM `mi-…` id.

    moto's ContainerInstance.__init__ looks the id up in its EC2 backend and fails for
    `mi-…`, so we create the object without running __init__ and fill in the same
    fields. Being a real moto ContainerInstance, moto's own Describe/List/UpdateState/
    Deregister handle it unchanged. (A subclass would not do: moto's model metaclass
    requires classes to live in a moto.<service> module.)
    """
    instance = ContainerInstance.__new__(ContainerInstance)
    instance.ec2_instance_id = managed_id
    instance.agent_connected = True
    instance.status = "ACTIVE"
    instance.registered_resources = external_resources()
    instance.remaining_resources = external_resources()
    instance.pending_tasks_count = 0
    instance.running_tasks_count = 0
    instance.version_info = {
        "agentVersion": agent_version,
        "agentHash": "harness",
        "dockerVersion": "DockerVersion: 25.0.8",
    }
    # Roughly what a real external instance reports: no AMI, AZ or instance type.
    instance.attributes = {
        "ecs.os-type": os_type,
        "ecs.os-family": "WINDOWS_SERVER_2022_FULL" if os_type == "windows" else "LINUX",
        "ecs.cpu-architecture": "x86_64",
        "ecs.capability.external": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.17": None,
    }
    instance.registered_at = utcnow()
    instance.region_name = backend.region_name
    instance.id = str(uuid.uuid4())
    instance.cluster_name = cluster_name
    instance._account_id = backend.account_id  # pylint: disable=protected-access
    instance._backend = backend  # pylint: disable=protected-access
    return instance


def external_resources():
    def integer(name, value):
        return {
            "doubleValue": 0.0,
            "integerValue": value,
            "longValue": 0,
            "name": name,
            "type": "INTEGER",
        }

    def string_set(name, values):
        return {
            "doubleValue": 0.0,
            "integerValue": 0,
            "longValue": 0,
            "name": name,
            "stringSetValue": values,
            "type": "STRINGSET",
        }

    return [
        integer("CPU", 2048),
        integer("MEMORY", 3892),
        string_set("PORTS", ["22", "2375", "2376", "51678", "51679"]),
        string_set("PORTS_UDP", []),
    ]


def ecs_cluster(p):
    """moto's ECS backend for the request's region and the cluster's short name."""
    region = p.get("region", DEFAULT_REGION)
    try:
        backend = ecs_backends[DEFAULT_ACCOUNT_ID][region]
    except KeyError:
        raise HarnessError(400, f"region {region!r} is not an AWS region moto knows") from None
    cluster = str(p.get("cluster", "")).split("/")[-1]
    if cluster not in backend.clusters:
        raise HarnessError(404, f"cluster {p.get('cluster')!r} does not exist; create it first")
    return backend, cluster


def respond(start_response, status, headers, payload):
    reason = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }[status]
    start_response(f"{status} {reason}", headers + [("Content-Length", str(len(payload)))])
    return [payload]


# --------------------------------------------------------------------------- CloudWatch CBOR

BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
METRICS_PAGE = 500  # ListMetrics answers at most 500 metrics a page, as CloudWatch does


def cbor_answer(environ, service, operation, body):
    """Answers one RPC v2 CBOR request as (status, headers, payload); never raises.

    The current AWS SDKs speak RPC v2 CBOR to CloudWatch, and moto 5.2.5 reads CloudWatch
    only in the query and JSON protocols. So the harness decodes the CBOR itself, calls
    moto's CloudWatch backend (where the metrics live, whichever protocol put them) and
    encodes the answer the way the SDK decodes it. An operation without a translation gets
    a clear error naming it, not a 404 from moto that the SDK could not even parse.
    """
    handler = CLOUDWATCH_CBOR_OPERATIONS.get(operation) if service == "monitoring" else None
    if handler is None:
        translated = ", ".join(sorted(CLOUDWATCH_CBOR_OPERATIONS))
        return cbor_error(
            service,
            400,
            "UnsupportedOperation",
            f"{service}.{operation}: the emulator harness's RPC v2 CBOR layer does not "
            f"translate this operation yet (it translates CloudWatch {translated}); "
            "see dev/emulator/harness/README.md",
        )
    try:
        result = handler(cloudwatch_backend(environ), decode_cbor_request(environ, body))
    except AwsError as err:
        return cbor_error(service, 400, err.code, str(err))
    except ServiceException as err:  # moto's own validation (InvalidParameterValue, ...)
        return cbor_error(service, 400, err.code, err.message)
    except (cbor2.CBORError, OSError, KeyError, TypeError, ValueError, AttributeError) as err:
        # Not CBOR, a bad gzip stream, or a shape the model does not allow (a string
        # where a list belongs): what a real service rejects before reading the request.
        return cbor_error(
            service,
            400,
            "SerializationException",
            f"{operation}: the harness could not read this request ({err!r})",
        )
    except Exception as err:  # pylint: disable=broad-except  (answer, never crash)
        # A CBOR error the SDK can read, rather than werkzeug's HTML page it cannot.
        return cbor_error(service, 500, "InternalFailure", f"harness bug: {err!r}")
    headers = [
        ("smithy-protocol", CBOR_PROTOCOL),
        ("Content-Type", "application/cbor"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    return 200, headers, cbor2.dumps(cbor_value(result))


def cbor_error(service, status, code, message, query_code=None):
    """An RPC v2 CBOR error the way the SDKs parse it: a CBOR map with `__type` and
    `message`, and the `smithy-protocol` header. CloudWatch is awsQueryCompatible: its
    SDK takes the error code from `x-amzn-query-error: <query code>;Sender|Receiver` when
    present and matches its modelled errors on those query codes (InvalidParameterValue,
    MissingParameter, ...), so the header is what makes an error the right one."""
    headers = [
        ("smithy-protocol", CBOR_PROTOCOL),
        ("Content-Type", "application/cbor"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if service in QUERY_COMPATIBLE_CBOR_SERVICES:
        fault = "Sender" if status < 500 else "Receiver"
        headers.append(("x-amzn-query-error", f"{query_code or code};{fault}"))
    return status, headers, cbor2.dumps({"__type": code, "message": message})


def cloudwatch_backend(environ):
    """moto's CloudWatch backend for the request, with the account chosen as moto's own
    request handling chooses it (MOTO_ACCOUNT_ID, x-moto-account-id, then the access key),
    so metrics put over CBOR and read over query (or the reverse) meet."""
    access_key, region, _service = sigv4_scope(environ)
    account = (
        os.environ.get("MOTO_ACCOUNT_ID")
        or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        or get_account_id_from(access_key)
    )
    try:
        return cloudwatch_backends[account][region or DEFAULT_REGION]
    except KeyError:
        raise AwsError(
            "InvalidParameterValue", f"region {region!r} is not an AWS region moto knows"
        ) from None


def decode_cbor_request(environ, body):
    """The request's CBOR map, its timestamps as naive UTC datetimes (moto's own form).

    The SDK sends maps of indefinite length, doubles as 64-bit floats and timestamps as
    tag 1 over float epoch seconds, all of which cbor2 reads. It gzips a PutMetricData
    body of 10 KiB or more (`Content-Encoding: gzip`); an operation without input may
    send no body at all.
    """
    if "gzip" in environ.get("HTTP_CONTENT_ENCODING", "").lower():
        body = gzip.decompress(body)
    if not body:
        return {}
    request = naive_utc(cbor2.loads(body))
    if not isinstance(request, dict):
        raise AwsError("SerializationException", "the request body must be a CBOR map")
    return request


def cbor_request_as_json(environ, body):
    """A CBOR request body as JSON text (timestamps as epoch seconds), so that
    /_harness/requests stays readable; None when it does not decode (the raw bytes are
    kept then)."""

    def plain(value):
        if isinstance(value, datetime):
            return value.replace(tzinfo=timezone.utc).timestamp()
        return repr(value)

    try:
        return json.dumps(decode_cbor_request(environ, body), default=plain)
    except (AwsError, cbor2.CBORError, OSError, ValueError, TypeError):
        return None


def naive_utc(value):
    """`value` with every timestamp (cbor2 reads tag 1 as an aware datetime) as a naive UTC
    datetime, which is how moto stores and compares them: mixing the two raises."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, dict):
        return {key: naive_utc(item) for key, item in value.items()}
    if isinstance(value, list):
        return [naive_utc(item) for item in value]
    return value


def cbor_value(value):
    """An answer in the types the SDK's CBOR decoder insists on: a timestamp must be tag 1
    (over float epoch seconds here, as the SDK itself sends them), and a double must be a
    CBOR float: the decoder refuses an integer there, so the operations below pass every
    number the model calls a double through float()."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return cbor2.CBORTag(1, aware.timestamp())
    if isinstance(value, dict):
        return {key: cbor_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cbor_value(item) for item in value]
    return value


def field(request, name, kind, required=True, default=None):
    """A request member checked against its model type, with the errors CloudWatch gives:
    MissingParameter when a required one is absent, InvalidParameterValue when it is of
    the wrong type (bool is not an int here)."""
    value = request.get(name)
    if value is None:
        if required:
            raise AwsError("MissingParameter", f"The parameter {name} is required.")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AwsError(
            "InvalidParameterValue", f"The parameter {name} must be a {kind.__name__}."
        )
    return value


def dimensions_of(items, where, value_required=True):
    """A list of {"Name", "Value"} dimensions, checked (a ListMetrics filter may leave the
    Value out), so that moto never meets a half-formed one."""
    if not isinstance(items, list):
        raise AwsError("InvalidParameterValue", f"The parameter {where} must be a list.")
    dimensions = []
    for number, item in enumerate(items, 1):
        member = f"{where}.member.{number}"
        if not isinstance(item, dict):
            raise AwsError("InvalidParameterValue", f"The parameter {member} must be a map.")
        name = field(item, "Name", str)
        value = field(item, "Value", str, required=value_required)
        dimensions.append({"Name": name, "Value": value} if value is not None else {"Name": name})
    return dimensions


def time_window(request):
    """StartTime and EndTime, the start cut to whole seconds as moto does."""
    start = field(request, "StartTime", datetime).replace(microsecond=0)
    end = field(request, "EndTime", datetime)
    if start >= end:
        raise AwsError(
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        )
    return start, end


def period_of(value, name):
    """A period in seconds: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60."""
    if value is None:
        raise AwsError("MissingParameter", f"The parameter {name} is required.")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise AwsError("InvalidParameterValue", f"The parameter {name} must be a positive integer.")
    if value % 60 and value not in (1, 5, 10, 20, 30):
        raise AwsError("InvalidParameterValue", f"The parameter {name} must be a multiple of 60.")
    return value


def dimension_key(dimensions):
    """moto Dimension objects as a comparable, order-free key."""
    return tuple(sorted((dimension.name, dimension.value) for dimension in dimensions))


def metric_periods(backend, namespace, name, dimensions, start, end, period, unit):
    """The data of one metric in [start, end) grouped into periods counted from start, as
    [(period start, data)], oldest first; empty periods are left out, as CloudWatch does.

    CloudWatch treats every combination of dimensions as a metric of its own, so the
    dimensions must match exactly. moto's get_metric_statistics also takes data that merely
    has them among others, which would add a per-instance datum to its per-cluster sum.
    """
    wanted = tuple(sorted((d["Name"], d["Value"]) for d in dimensions))
    periods = {}
    for datum in backend.get_all_metrics():
        if datum.namespace != namespace or datum.name != name:
            continue
        if not start <= datum.timestamp < end or (unit and datum.unit != unit):
            continue
        if dimension_key(datum.dimensions) != wanted:
            continue
        index = int((datum.timestamp - start).total_seconds() // period)
        periods.setdefault(index, []).append(datum)
    return [
        (start + timedelta(seconds=index * period), data)
        for index, data in sorted(periods.items())
    ]


def computed(stat_names, timestamp, data):
    """moto's own arithmetic (Statistics) over a period's data: {stat: float}. Values that
    do not exist (an Average over no samples) are left out."""
    statistics = Statistics(list(stat_names), timestamp)
    statistics.metric_data = data
    values = {}
    for stat in stat_names:
        value = statistics.get_statistics_for_type(stat)
        if value is not None:
            values[stat] = float(value)  # SampleCount is an int in moto: the SDK wants a double
    return values


def cw_put_metric_data(backend, request):
    """PutMetricData: each datum (Value, Values with Counts, or StatisticValues; MetricName,
    Dimensions, Unit, Timestamp) goes to moto's backend as its query protocol would put it.
    StorageResolution is accepted and ignored, as moto does."""
    namespace = field(request, "Namespace", str)
    if namespace.startswith("AWS/"):
        raise AwsError(
            "InvalidParameterValue", f"The value {namespace} for parameter Namespace is invalid."
        )
    if request.get("EntityMetricData"):
        raise AwsError(
            "InvalidParameterValue",
            "EntityMetricData is not translated by the emulator harness's CBOR layer; "
            "send MetricData",
        )
    data = field(request, "MetricData", list)
    for number, datum in enumerate(data, 1):
        member = f"MetricData.member.{number}"
        if not isinstance(datum, dict):
            raise AwsError("InvalidParameterValue", f"The parameter {member} must be a map.")
        if not isinstance(datum.get("MetricName"), str):
            raise AwsError("MissingParameter", f"The parameter {member}.MetricName is required.")
        dimensions_of(datum.get("Dimensions") or [], f"{member}.Dimensions")
        field(datum, "Timestamp", datetime, required=False)
    backend.put_metric_data(namespace, data)
    return {}


def cw_list_metrics(backend, request):
    """ListMetrics: every metric (namespace, name and exact set of dimensions) once, in the
    order first put, 500 a page. A dimension filter keeps the metrics that have that
    dimension (any value when Value is left out), as in CloudWatch. moto's own listing
    repeats a metric with two or more dimensions once per datum (its are_dimensions_same
    compares every pair of dimensions), so the harness de-duplicates itself.
    RecentlyActive, IncludeLinkedAccounts and OwningAccount are ignored."""
    namespace = field(request, "Namespace", str, required=False)
    name = field(request, "MetricName", str, required=False)
    filters = dimensions_of(request.get("Dimensions") or [], "Dimensions", value_required=False)
    start = 0
    token = field(request, "NextToken", str, required=False)
    if token:
        try:
            prefix, _, offset = base64.urlsafe_b64decode(token).decode().partition(":")
            start = int(offset)
            if prefix != "harness-metrics" or start < 0:
                raise ValueError(start)
        except ValueError:
            raise AwsError(
                "InvalidParameterValue", "Request parameter NextToken is invalid"
            ) from None
    seen, metrics = set(), []
    for datum in backend.get_all_metrics():
        if not datum.filter(namespace, name, filters):
            continue
        key = (datum.namespace, datum.name, dimension_key(datum.dimensions))
        if key in seen:
            continue
        seen.add(key)
        metrics.append(
            {
                "Namespace": datum.namespace,
                "MetricName": datum.name,
                "Dimensions": [{"Name": d.name, "Value": d.value} for d in datum.dimensions],
            }
        )
    page = {"Metrics": metrics[start : start + METRICS_PAGE]}
    if start + METRICS_PAGE < len(metrics):
        token = f"harness-metrics:{start + METRICS_PAGE}".encode()
        page["NextToken"] = base64.urlsafe_b64encode(token).decode()
    return page


def cw_get_metric_statistics(backend, request):
    """GetMetricStatistics with Statistics (SampleCount, Average, Sum, Minimum, Maximum)
    for the metric with exactly these dimensions, one datapoint per period that has data.
    Percentiles (ExtendedStatistics) are refused with a clear error."""
    namespace = field(request, "Namespace", str)
    name = field(request, "MetricName", str)
    start, end = time_window(request)
    period = period_of(request.get("Period"), "Period")
    if request.get("ExtendedStatistics"):
        raise AwsError(
            "InvalidParameterValue",
            "ExtendedStatistics (percentiles) are not computed by the emulator harness's "
            "CBOR layer",
        )
    statistics = field(request, "Statistics", list, required=False, default=[])
    if not statistics:
        raise AwsError(
            "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics"
        )
    for stat in statistics:
        if stat not in BASIC_STATISTICS:
            raise AwsError(
                "InvalidParameterValue",
                f"The value {stat!r} for parameter Statistics is invalid; "
                f"use {', '.join(BASIC_STATISTICS)}.",
            )
    unit = field(request, "Unit", str, required=False)
    dimensions = dimensions_of(request.get("Dimensions") or [], "Dimensions")
    datapoints = []
    for timestamp, data in metric_periods(
        backend, namespace, name, dimensions, start, end, period, unit
    ):
        point = {"Timestamp": timestamp, **computed(statistics, timestamp, data)}
        point["Unit"] = unit or data[0].unit or "None"
        datapoints.append(point)
    return {"Label": name, "Datapoints": datapoints}


def cw_get_metric_data(backend, request):
    """GetMetricData for MetricStat queries with a basic Stat, over the same periods and
    exact dimensions as GetMetricStatistics; ScanBy orders them (newest first by default).
    Metric math and Metrics Insights expressions are refused with a clear error rather
    than half computed; MaxDatapoints, NextToken and LabelOptions are ignored (one page)."""
    queries = field(request, "MetricDataQueries", list)
    start, end = time_window(request)
    scan_by = field(request, "ScanBy", str, required=False, default="TimestampDescending")
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise AwsError("InvalidParameterValue", f"The value {scan_by} for ScanBy is invalid.")
    results = []
    for number, query in enumerate(queries, 1):
        member = f"MetricDataQueries.member.{number}"
        if not isinstance(query, dict):
            raise AwsError("InvalidParameterValue", f"The parameter {member} must be a map.")
        query_id = field(query, "Id", str)
        if query.get("Expression") is not None:
            raise AwsError(
                "InvalidParameterValue",
                f"{member}.Expression: metric math and Metrics Insights are not computed by "
                "the emulator harness's CBOR layer; use MetricStat",
            )
        metric_stat = field(query, "MetricStat", dict)
        metric = field(metric_stat, "Metric", dict)
        stat = field(metric_stat, "Stat", str)
        if stat not in BASIC_STATISTICS:
            raise AwsError(
                "InvalidParameterValue",
                f"{member}.MetricStat.Stat {stat!r} is not computed by the emulator harness's "
                f"CBOR layer; use {', '.join(BASIC_STATISTICS)}",
            )
        periods = metric_periods(
            backend,
            field(metric, "Namespace", str),
            field(metric, "MetricName", str),
            dimensions_of(metric.get("Dimensions") or [], f"{member}.MetricStat.Metric.Dimensions"),
            start,
            end,
            period_of(metric_stat.get("Period"), f"{member}.MetricStat.Period"),
            field(metric_stat, "Unit", str, required=False),
        )
        if scan_by == "TimestampDescending":
            periods.reverse()
        timestamps, values = [], []
        for timestamp, data in periods:
            value = computed([stat], timestamp, data).get(stat)
            if value is not None:
                timestamps.append(timestamp)
                values.append(value)
        if query.get("ReturnData", True):
            results.append(
                {
                    "Id": query_id,
                    "Label": query.get("Label") or metric["MetricName"],
                    "Timestamps": timestamps,
                    "Values": values,
                    "StatusCode": "Complete",
                }
            )
    return {"MetricDataResults": results}


# What the CBOR layer translates; anything else answers UnsupportedOperation.
CLOUDWATCH_CBOR_OPERATIONS = {
    "PutMetricData": cw_put_metric_data,
    "ListMetrics": cw_list_metrics,
    "GetMetricStatistics": cw_get_metric_statistics,
    "GetMetricData": cw_get_metric_data,
}


# --------------------------------------------------------------------------- main


def lambda_environment_as_strings():
    """A Lambda function's environment variables are strings, and CloudFormation passes a
    `Ref` to a Number parameter into them as one ("300"). moto's CloudFormation resolves
    Number parameters to int and its Lambda keeps them, so GetFunctionConfiguration
    answers `"GRACE_PERIOD_SECONDS": 300`, which the AWS SDKs refuse to parse. Store
    them as the strings Lambda would hold."""
    original = LambdaFunction.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.environment_vars = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in (self.environment_vars or {}).items()
        }

    LambdaFunction.__init__ = init


def lambda_logging_config():
    """Lambda keeps a function's `LoggingConfig` (log format, application and system log
    levels, log group) and GetFunctionConfiguration returns it; moto drops it, from
    CreateFunction and from CloudFormation alike. Keep it as given, so the deployed-stack
    tests can read back how each function logs."""
    original_init = LambdaFunction.__init__
    original_configuration = LambdaFunction.get_configuration
    original_from_cloudformation = LambdaFunction.create_from_cloudformation_json.__func__

    def init(self, account_id, spec, *args, **kwargs):
        original_init(self, account_id, spec, *args, **kwargs)
        self.logging_config = spec.get("LoggingConfig")

    def get_configuration(self, *args, **kwargs):
        config = original_configuration(self, *args, **kwargs)
        if getattr(self, "logging_config", None):
            config["LoggingConfig"] = self.logging_config
        return config

    def from_cloudformation(cls, resource_name, cloudformation_json, *args, **kwargs):
        function = original_from_cloudformation(
            cls, resource_name, cloudformation_json, *args, **kwargs
        )
        logging_config = cloudformation_json.get("Properties", {}).get("LoggingConfig")
        if logging_config:
            function.logging_config = logging_config
        return function

    LambdaFunction.__init__ = init
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.create_from_cloudformation_json = classmethod(from_cloudformation)


def role_policies_as_json():
    """A role's inline policies from a template (`Policies`) reach moto as dicts, which it
    stores as they are, so GetRolePolicy answers with their Python repr rather than the
    (URL-encoded) JSON IAM returns. Store them as JSON text, as PutRolePolicy would. moto
    also resolves `Fn::If [c, {...}, AWS::NoValue]` inside a list to null where
    CloudFormation drops the element, so null statements are dropped here."""
    original = Role.put_policy

    def put_policy(self, policy_name, policy_json):
        if isinstance(policy_json, dict):
            if isinstance(policy_json.get("Statement"), list):
                statements = [s for s in policy_json["Statement"] if s is not None]
                policy_json = {**policy_json, "Statement": statements}
            policy_json = json.dumps(policy_json)
        original(self, policy_name, policy_json)

    Role.put_policy = put_policy


def archives_from_templates():
    """An `AWS::Events::Archive`'s EventPattern is a JSON object in a template, and
    CloudFormation passes it on as one; moto's CloudFormation hands it to an archive that
    only parses JSON text, and fails the whole stack. Pass it on as text, as CreateArchive
    would receive it. And `Ref` to an archive or an event bus is its name, where moto's
    gives the Python object."""
    Archive.physical_resource_id = property(lambda self: self.name)
    EventBus.physical_resource_id = property(lambda self: self.name)
    original = Archive.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("EventPattern"), dict):
            properties = {**properties, "EventPattern": json.dumps(properties["EventPattern"])}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Archive.create_from_cloudformation_json = classmethod(create)


def log_timestamps_as_integers():
    """EventBridge rules that target a log group write each event in moto with a timestamp
    of fractional milliseconds, which GetLogEvents and FilterLogEvents then answer and the
    AWS SDKs refuse (a timestamp is a whole number of milliseconds). Store whole ones, as
    CloudWatch Logs does."""
    original = LogsBackend.put_log_events

    def put_log_events(self, log_group_name, log_stream_name, log_events):
        whole = [
            {**event, "timestamp": int(event["timestamp"])}
            if isinstance(event.get("timestamp"), float)
            else event
            for event in log_events
        ]
        return original(self, log_group_name, log_stream_name, whole)

    LogsBackend.put_log_events = put_log_events


def dispatch_without_rescanning():
    """moto's server finds each request's backend by listing its own package directory (a
    stat for each of its ~170 service modules) and then matching the host against every
    backend's URL patterns, under one lock: milliseconds of every request, for an answer
    that never changes while the server runs. Read the directory once, and remember each
    host's backend."""
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules
    original = DomainDispatcherApplication.get_backend_for_host
    known = {}

    def get_backend_for_host(self, host):
        # Called under the dispatcher's own lock.
        if host not in known:
            known[host] = original(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host

def sqs_visibility_by_the_clock():
    """moto decides whether an SQS message is visible, or still delayed, by building
    datetimes (now, the epoch, their difference) for that message, and it asks for every
    message of the queue on every send (the queue's attributes count visible, delayed and
    in-flight messages) and on every receive. With a soak's 1,500 messages queued, one
    SendMessageBatch cost 160 ms of CPU and one ReceiveMessage 600 ms, and the soak was
    paced by that. The same comparison against the clock in milliseconds (what moto's
    datetimes amount to) costs a small fraction."""
    SqsMessage.visible = property(lambda self: time.time() * 1000.0 > self.visible_at)
    SqsMessage.delayed = property(lambda self: time.time() * 1000.0 < self.delayed_until)

def dynamodb_transactions_copy_what_they_touch():
    """moto's TransactWriteItems deep-copies every table it names before it starts, to
    restore it if the transaction is cancelled: the cost grows with the table, not the
    transaction (a soak's 1,000 episodes made each one cost a copy of them all, and the
    copies, not the function, set the soak's pace). A cancelled transaction can only have
    changed the items it names, so the copy taken here (one per table per transaction, where
    moto takes one per item) is a new table object that shares every partition with the live
    table except the ones the transaction names, which are deep-copied. Restoring it restores
    exactly what the transaction could have touched.
    DynamoDB requests run one at a time (Harness.serialized), so nothing writes meanwhile."""
    real_copy = dynamodb_models.copy
    touching = threading.local()  # the partitions the running transaction names, by table

    def partitions_named(backend, transact_items):
        named = defaultdict(set)
        for item in transact_items:
            if len(item) != 1:
                continue  # moto refuses it before it writes anything
            op_type, op = next(iter(item.items()))
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            value = (key or {}).get(table.hash_key_attr)
            if isinstance(value, dict):
                named[table.name].add(DynamoType(value))
        return named

    def snapshot(table, partitions):
        copied = real_copy.copy(table)
        copied.items = defaultdict(dict, table.items)
        for partition in partitions:
            if partition in table.items:
                copied.items[partition] = real_copy.deepcopy(table.items[partition])
        return copied

    class CopyTouchedPartitions:
        """Stands in for the `copy` module inside moto's DynamoDB models."""

        copy = staticmethod(real_copy.copy)

        @staticmethod
        def deepcopy(value, memo=None):
            named = getattr(touching, "partitions", None)
            if named is not None and isinstance(value, Table):
                # moto asks once per item of the transaction, all before its first write:
                # one copy per table serves them all.
                taken = touching.snapshots
                if value.name not in taken:
                    taken[value.name] = snapshot(value, named.get(value.name, ()))
                return taken[value.name]
            return real_copy.deepcopy(value, memo)

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        touching.partitions = partitions_named(self, transact_items)
        touching.snapshots = {}
        try:
            return original(self, transact_items)
        finally:
            touching.partitions = None
            touching.snapshots = {}

    dynamodb_models.copy = CopyTouchedPartitions
    DynamoDBBackend.transact_write_items = transact_write_items


# A task's statuses in the order ECS moves it through them.
TASK_STATUSES = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
]


def ecs_versions():
    """ECS counts every change of a task or container instance in `version`, which its
    events carry and DescribeTasks / DescribeContainerInstances answer; moto keeps no such
    counter (the SDK then reads 0). A task's version here grows with its status, in the
    order ECS moves tasks; a container instance's starts at 1 and grows with every change:
    an agent flip (the control API above) or UpdateContainerInstancesState."""
    Task.version = property(
        lambda self: TASK_STATUSES.index(self.last_status) + 1
        if self.last_status in TASK_STATUSES
        else 1
    )
    ContainerInstance.version = 1
    original = EC2ContainerServiceBackend.update_container_instances_state

    def update_container_instances_state(self, *args, **kwargs):
        changed, failures = original(self, *args, **kwargs)
        for instance in changed:
            instance.version += 1
        return changed, failures

    EC2ContainerServiceBackend.update_container_instances_state = update_container_instances_state


def ecs_list_tasks_by_service():
    """moto's ListTasks ignores `serviceName` (it launches no service tasks, so it has none
    to tell apart) and answers every task of the cluster. ECS gives a service's tasks the
    group `service:<name>`; tests start them with RunTask and that group, and this keeps
    only those when a service is named."""
    original = EC2ContainerServiceBackend.list_tasks

    def list_tasks(self, cluster_str=None, container_instance=None, family=None,
                   started_by=None, service_name=None, desiredStatus=None):
        tasks = original(self, cluster_str, container_instance, family, started_by,
                         service_name, desiredStatus)
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [task for task in tasks if getattr(task, "group", None) == group]
        return tasks

    EC2ContainerServiceBackend.list_tasks = list_tasks


def ecs_tasks_stay_put():
    """moto moves a running task one status towards STOPPED every time DescribeTasks reads
    it, so a task would stop by itself after a few looks. In ECS a task runs until
    something stops it: keep tasks where RunTask and StopTask put them."""
    from moto.moto_api import state_manager

    state_manager.register_default_transition(
        "ecs::task", transition={"progression": "manual", "times": 10**9}
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes, so a crashed test cannot leak the emulator",
    )
    args = parser.parse_args()
    lambda_environment_as_strings()
    lambda_logging_config()
    role_policies_as_json()
    archives_from_templates()
    log_timestamps_as_integers()
    ecs_versions()
    ecs_tasks_stay_put()
    ecs_list_tasks_by_service()
    dynamodb_transactions_copy_what_they_touch()
    dispatch_without_rescanning()
    sqs_visibility_by_the_clock()

    # Per-request logs are off by default: a test that pipes stderr without reading it
    # would otherwise block the server once the pipe fills.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    server = make_server(
        "127.0.0.1", args.port, Harness(), threaded=True, request_handler=MotoRequestHandler
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    # A short poll interval makes shutdown prompt after SIGTERM.
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()

    # The socket is already listening, so the port is usable the moment this is read.
    print(f"READY {server.server_port}", flush=True)
    # Anything printed later (moto prints a few warnings) must not be mistaken for
    # protocol output by the test that reads our stdout.
    sys.stdout = sys.stderr

    while not stop.wait(1.0):  # a timed wait keeps the signal handlers responsive
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
