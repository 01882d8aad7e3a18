#!/usr/bin/env python3
"""Benchmark a Lambda bootstrap binary as Lambda runs it, on this machine.

A fresh process per cold start, driven through a minimal Lambda Runtime API server of our
own, with the AWS SDK pointed at the moto emulator (tests/moto_server.py) holding a cluster.
Prints cold init time (spawn to the first `GET /invocation/next`), cold invocation time
(event handed over to response posted), the cold start as a caller waits for it (spawn to
the first answer), warm invocation time (a second event in the same process) and peak RSS
(the kernel's VmHWM of the process, after both invocations).

    bench_lambda.py BINARY [--function calculator|chooser] [--runs N] [--instances N]

`--function` defaults from the binary's name. The calculator gets a state-change event and
must publish the right ContainerCapacity; the scale-in chooser gets Auto Scaling's custom
termination policy payload suggesting every container instance plus two EC2 instances that
are not in the cluster, and must answer exactly those two.
"""

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLUSTER = "bench-cluster"
REGION = "us-east-1"


class RuntimeApi:
    """The Lambda Runtime API, one invocation at a time, timing each step."""

    def __init__(self):
        self.events = queue.Queue()
        self.first_next = None
        self.results = queue.Queue()
        self.handed_over = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                if api.first_next is None:
                    api.first_next = time.perf_counter()
                # The queue of this run: a killed process's pending poll waits on its own
                # run's queue forever instead of stealing the next run's event.
                events = api.events
                request_id, payload = events.get()
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:capacity-calculator")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                api.handed_over[request_id] = time.perf_counter()
                try:
                    self.wfile.write(body)
                except BrokenPipeError:
                    print(f"runtime API: the poll that took {request_id} was gone", file=sys.stderr)
                    raise

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                now = time.perf_counter()
                parts = self.path.strip("/").split("/")
                # /2018-06-01/runtime/invocation/{id}/response|error, /runtime/init/error
                if "init" in parts:
                    api.results.put(("init-error", None, body, now))
                else:
                    api.results.put((parts[-1], parts[-2], body, now))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def reset(self):
        self.events = queue.Queue()
        self.first_next = None
        self.handed_over.clear()


def harness(endpoint, path, body):
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def ecs_call(endpoint, operation, body):
    """An ECS JSON call to moto, unsigned (moto does not check signatures)."""
    req = urllib.request.Request(
        endpoint + "/", data=json.dumps(body).encode(), method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{operation}",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ecs/aws4_request",
        })
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def calculator_case(args, endpoint, hosts):
    """The calculator's event, environment and check of its answer."""
    event = json.loads((HERE.parent / "crates/capacity-calculator/tests/fixtures/"
                        "book-ch12-container-instance-state-change.json").read_text())
    event["detail"]["clusterArn"] = f"arn:aws:ecs:{REGION}:123456789012:cluster/{CLUSTER}"
    expected = args.instances * 3  # min(1536/512, 3072/1024) = 3 per host

    def check(body):
        summary = json.loads(body)
        if summary["container_capacity"] != expected:
            return f"wrong ContainerCapacity {summary['container_capacity']}, expected {expected}"
        return None

    return event, {"CONTAINER_MAX_CPU": "512", "CONTAINER_MAX_MEMORY": "1024"}, check


def chooser_case(args, endpoint, hosts):
    """The scale-in chooser's payload, environment and check of its answer."""
    strangers = ["i-0000000000000beef", "i-0000000000000cafe"]
    suggested = [h["ec2_instance_id"] for h in hosts] + strangers
    event = {
        "AutoScalingGroupARN": f"arn:aws:autoscaling:{REGION}:123456789012:autoScalingGroup:"
                               "5f3d1c2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f:autoScalingGroupName/bench-hosts",
        "AutoScalingGroupName": "bench-hosts",
        "CapacityToTerminate": [{"AvailabilityZone": f"{REGION}a", "Capacity": len(strangers),
                                 "InstanceMarketOption": "on-demand"}],
        "Instances": [{"AvailabilityZone": f"{REGION}a", "InstanceId": i, "InstanceType": "m5.large",
                       "InstanceMarketOption": "on-demand"} for i in suggested],
        "Cause": "SCALE_IN",
        "HasMoreInstances": False,
    }

    def check(body):
        answer = json.loads(body)
        if answer != {"InstanceIDs": strangers}:
            return f"expected the two instances outside the cluster {strangers}, got {answer}"
        return None

    return event, {"ECS_CLUSTER": CLUSTER}, check


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--function", choices=["calculator", "chooser"],
                        help="what the binary is (default: from its name)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--instances", type=int, default=100)
    args = parser.parse_args()
    function = args.function or ("chooser" if "chooser" in Path(args.binary).name else "calculator")

    moto = subprocess.Popen([sys.executable, str(HERE / "moto_server.py")], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, text=True)
    endpoint = moto.stdout.readline().strip().removeprefix("READY ")
    ecs_call(endpoint, "CreateCluster", {"clusterName": CLUSTER})
    hosts = harness(endpoint, "/_harness/container-instances", {
        "cluster": CLUSTER, "count": args.instances,
        "registered": {"CPU": 2048, "MEMORY": 4096}, "remaining": {"CPU": 1536, "MEMORY": 3072},
    })["instances"]
    case = chooser_case if function == "chooser" else calculator_case
    event, function_env, check = case(args, endpoint, hosts)

    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": Path(args.binary).name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARN"),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        **function_env,
    }
    # Extra variables for experiments, e.g. BENCH_ENV="MALLOC_ARENA_MAX=1".
    for pair in os.environ.get("BENCH_ENV", "").split():
        key, _, value = pair.partition("=")
        env[key] = value
    init_ms, cold_ms, start_ms, warm_ms, rss_kib = [], [], [], [], []
    for run in range(args.runs):
        # A Runtime API server per process: a killed process's last poll can never take
        # the next process's event.
        api = RuntimeApi()
        env["AWS_LAMBDA_RUNTIME_API"] = api.address
        api.events.put((f"cold-{run}", event))
        api.events.put((f"warm-{run}", event))
        start = time.perf_counter()
        proc = subprocess.Popen([args.binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append(api.results.get(timeout=30))
            except queue.Empty:
                proc.kill()
                sys.exit(f"no answer from {args.binary}: {proc.kill() or proc.stdout.read().decode()[-3000:]}")
        for kind, request_id, body, _ in outcomes:
            if kind != "response":
                proc.kill()
                sys.exit(f"invocation {request_id} failed ({kind}): {body.decode()[:2000]}")
            problem = check(body)
            if problem:
                proc.kill()
                sys.exit(problem)
        (_, cold_id, _, cold_done), (_, warm_id, _, warm_done) = outcomes
        init_ms.append((api.first_next - start) * 1000)
        cold_ms.append((cold_done - api.handed_over[cold_id]) * 1000)
        start_ms.append((cold_done - start) * 1000)
        warm_ms.append((warm_done - api.handed_over[warm_id]) * 1000)
        # Peak RSS from the kernel's high-water mark of the live process. (ru_maxrss from
        # wait4 would count the forked Python interpreter before exec, ~20 MiB.)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next((l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:")), "0")
        rss_kib.append(int(hwm))
        proc.kill()
        proc.wait()
        api.server.shutdown()

    moto.stdin.close()
    moto.wait(timeout=10)

    def line(name, values, unit):
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        return f"{name:<26} median {statistics.median(values):8.2f} {unit}   p95 {p95:8.2f} {unit}   max {values[-1]:8.2f} {unit}"

    size = os.path.getsize(args.binary) / (1024 * 1024)
    print(f"{Path(args.binary).name}: {args.runs} cold starts, cluster of {args.instances} container instances "
          f"(moto on loopback), binary {size:.1f} MiB")
    print(line("cold init", init_ms, "ms"))
    print(line("cold invocation", cold_ms, "ms"))
    print(line("cold start (spawn-answer)", start_ms, "ms"))
    print(line("warm invocation", warm_ms, "ms"))
    print(line("peak RSS", [k / 1024 for k in rss_kib], "MiB"))


if __name__ == "__main__":
    main()
