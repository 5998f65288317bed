#!/usr/bin/env python3
"""The built functions under a Lambda runtime emulator, once each.

`cargo lambda watch` serves the Lambda Runtime API and runs each function's real binary (the
same `main` that runs in AWS, reading the same environment variables); `cargo lambda invoke`
sends it an event shaped like AWS's own examples (tests/e2e/fixtures). Against moto server
(MLC_AWS_ENDPOINT) and the sandbox store and pod, started by the `e2e-world` binary:

1. a signed BigCommerce delivery through the webhook function (API Gateway HTTP API event)
   → 200 and one message on the orders queue;
2. that message through the poster function (SQS event) → no batch item failures;
3. the poller function (EventBridge schedule event) until its tracker reports the sale posted,
   and the posting is Posted in DynamoDB; then the daily schedule's event, a reconciliation
   that finds the sale matched;
4. the operator's `mlc ping`, `catalog`, `reconcile`, `dead-letters`, `postings` and `audit`
   with `--aws` on that stack: every check passes, the sale reconciles as matched, a dead
   letter is listed and moved back, the queue is empty, and the sale's audit trail is read.

Needs: cargo-lambda on PATH (infra/test.sh installs it into .venv), boto3 (comes with moto),
and `cargo build -p e2e --bin e2e-world` done.
"""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "e2e" / "fixtures"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"lambda smoke: timed out waiting for {what}")


def require(ok, message):
    """One check of the smoke. Not `assert`: `python -O` strips asserts, and the smoke must fail
    whatever the interpreter's flags."""
    if not ok:
        sys.exit(f"lambda smoke: {message}")


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def invoke(port, function, event, workdir):
    path = workdir / f"{function}-event.json"
    path.write_text(json.dumps(event))
    started = time.time()
    done = subprocess.run(
        ["cargo", "lambda", "invoke", function, "-A", "127.0.0.1", "-P", str(port), "--data-file", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    if done.returncode != 0:
        sys.exit(f"lambda smoke: invoking {function} failed:\n{done.stdout}\n{done.stderr}")
    print(f"  {function}: answered in {time.time() - started:.1f} s")
    return json.loads(done.stdout)


def signed_delivery(world):
    """An API Gateway HTTP API event carrying a delivery signed as BigCommerce signs it."""
    body = json.dumps({
        "created_at": int(time.time()), "store_id": "1001", "producer": f"stores/{world['store_hash']}",
        "scope": "store/order/created", "hash": "5d1c0bd0e6e4a9b3c7f1", "data": {"type": "order", "id": world["order_id"]},
    })
    msg_id, ts = "msg_smoke_1", str(int(time.time()))
    mac = hmac.new(world["client_secret"].encode(), f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256)
    event = fixture("apigw-v2-request.json")
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /webhooks"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/webhooks"
    event["requestContext"]["http"]["method"] = "POST"
    event["requestContext"].pop("authentication", None)
    event["headers"] = {
        "content-type": "application/json", "content-length": str(len(body)), "webhook-id": msg_id,
        "webhook-timestamp": ts, "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    event["body"], event["isBase64Encoded"] = body, False
    return event


def sqs_event(messages, queue_arn):
    """The event Lambda's SQS event source mapping would send for these messages."""
    template = fixture("sqs-event.json")["Records"][0]
    records = []
    for m in messages:
        record = dict(template)
        record.update({
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "md5OfBody": m["MD5OfBody"], "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
                for k, v in m.get("MessageAttributes", {}).items()
            },
        })
        records.append(record)
    return {"Records": records}


def mlc(args, variables):
    """The built `mlc` with the stack's environment, as an operator's shell would have it."""
    env = dict(os.environ, **variables)
    done = subprocess.run([str(ROOT / "target" / "debug" / "mlc"), *args], env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def operator_commands(world, variables, sqs):
    """`mlc ping`, `catalog`, `reconcile`, `dead-letters`, `postings` and `audit` on the
    deployed stack (--aws): the document from Secrets Manager, the state in DynamoDB, the queue
    and its dead letters."""
    code, out, err = mlc(["ping", "--aws", "--format", "json"], variables)
    checks = json.loads(out) if out else []
    require(code == 0 and checks and all(c["outcome"] != "fail" for c in checks), f"ping --aws: {code}\n{out}\n{err}")
    code, out, err = mlc(["catalog", "--aws", "--store", "us"], variables)
    require(code == 0 and "Apparel › Shirts" in out, f"catalog --aws: {code}\n{out}\n{err}")
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    code, out, err = mlc(["reconcile", "--aws", "--store", "us", "--from", today, "--to", later, "--format", "json"], variables)
    report = json.loads(out) if out else {}
    require(code == 0 and report.get("counts", {}).get("matched") == 1, f"reconcile --aws: {code}\n{out}\n{err}")
    # A dead letter, put where SQS would after the receive limit; `mlc` finds the dead-letter
    # queue through the queue's redrive policy, lists the order, and moves it back.
    queue_url = world["env"]["MLC_QUEUE_URL"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    dlq = sqs.get_queue_url(QueueName=policy["deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]
    body = json.dumps({"v": 1, "store_hash": world["store_hash"], "order_id": world["order_id"],
                       "reason": "poll", "seen_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}})
    code, out, err = mlc(["dead-letters", "--aws"], variables)
    require(code == 0 and out.startswith("1 dead letters") and f"order {world['order_id']} " in out,
          f"dead-letters --aws: {code}\n{out}\n{err}")
    code, out, err = mlc(["dead-letters", "--aws", "--redrive", "--by", "smoke"], variables)
    require(code == 0 and out.startswith("1 moved back"), f"dead-letters --aws --redrive: {code}\n{out}\n{err}")
    back = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    require(len(back) == 1 and "(redriven by smoke at " in json.loads(back[0]["Body"])["reason"], back)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=back[0]["ReceiptHandle"])
    # The morning queue and the order's audit trail, from the stack's table: nothing waits on
    # a person (exit code 0), the sale is there as posted, and its story ends in Posted.
    code, out, err = mlc(["postings", "--aws"], variables)
    require(code == 0 and out == "no postings\n", f"postings --aws: {code}\n{out}\n{err}")
    code, out, err = mlc(["postings", "--aws", "--status", "posted", "--store", "us", "--format", "json"], variables)
    queue = json.loads(out) if out else {}
    require(code == 0 and queue.get("needs_action") == 0
            and [(p["order_id"], p["posting"], p["state"]) for p in queue.get("postings", [])]
            == [(world["order_id"], "sale", "posted")], f"postings --aws --status posted: {code}\n{out}\n{err}")
    code, out, err = mlc(["audit", "--aws", "--store", "us", "--order-id", str(world["order_id"]), "--format", "json"], variables)
    story = json.loads(out) if out else {}
    kinds = [e["kind"] for e in story.get("events", [])]
    require(code == 0 and story.get("order_id") == world["order_id"] and kinds[:1] == ["fetched"] and kinds[-1:] == ["posted"],
            f"audit --aws: {code}\n{out}\n{err}")
    print("lambda smoke: mlc ping, catalog, reconcile, dead-letters, postings and audit --aws agree with the stack")


def main():
    endpoint = os.environ.get("MLC_AWS_ENDPOINT") or sys.exit("MLC_AWS_ENDPOINT is not set (infra/test.sh starts moto)")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="mlc-smoke-"))
    procs = []
    try:
        world_file = workdir / "world.json"
        procs.append(subprocess.Popen([str(ROOT / "target" / "debug" / "e2e-world"), str(world_file)]))
        world = json.loads(wait_for("the sandbox world", lambda: world_file.exists() and world_file.read_text(), 60))
        port = free_port()
        env_file = workdir / "functions.env"
        variables = dict(world["env"], MLC_WEBHOOK_URL=f"http://127.0.0.1:{port}/lambda-url/webhook/", RUST_LOG="info")
        env_file.write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
        print(f"lambda smoke: cargo lambda watch on 127.0.0.1:{port}")
        procs.append(subprocess.Popen(
            ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--env-file", str(env_file)],
            cwd=ROOT, start_new_session=True,
        ))
        wait_for("the runtime emulator", lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 120)

        aws = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        sqs, ddb = boto3.client("sqs", **aws), boto3.client("dynamodb", **aws)
        queue_url = world["env"]["MLC_QUEUE_URL"]

        answer = invoke(port, "webhook", signed_delivery(world), workdir)
        require(answer["statusCode"] == 200 and json.loads(answer["body"])["status"] == "queued", answer)

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                       AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        require(len(messages) == 1, f"one message queued, found {len(messages)}")
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        answer = invoke(port, "poster", sqs_event(messages, arn), workdir)
        require(answer == {"batchItemFailures": []}, answer)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])

        posted, hooks = 0, None
        for _ in range(40):
            answer = invoke(port, "poller", fixture("eventbridge-schedule.json"), workdir)
            hooks = hooks if hooks is not None else answer["hooks_changed"]
            posted += answer["tracking"]["posted"]
            if posted:
                break
            time.sleep(0.25)
        require(posted == 1, f"the sale was not posted: {answer}")
        require(hooks == [world["store_hash"]], f"the first sweep registers the hooks: {hooks}")
        item = ddb.get_item(TableName=world["env"]["MLC_TABLE"],
                            Key={"pk": {"S": f"ORDER#us#{world['order_id']}"}, "sk": {"S": "POSTING#sale"}}).get("Item")
        require(item and json.loads(item["record"]["S"])["state"]["state"] == "posted", item)
        print(f"lambda smoke: order {world['order_id']} went webhook → SQS → poster → Oracle → poller: posted")
        # The daily schedule's event: the poller reconciles instead of sweeping.
        answer = invoke(port, "poller", {"job": "reconcile", "settle_minutes": 0}, workdir)
        require(answer.get("job") == "reconcile" and answer["orders"] == 1 and answer["needs_action"] == 0, answer)
        operator_commands(world, variables, sqs)
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGINT) if p.args[0] == "cargo" else p.send_signal(signal.SIGINT)
                p.wait(timeout=20)
            except Exception:
                p.kill()


if __name__ == "__main__":
    main()
