#!/usr/bin/env python3
"""Project checks of template.yaml that cfn-lint and `sam validate --lint` do not make.

Both accept a runtime that does not exist, a wrong architecture, an SQS batch size out of range,
a misspelt FunctionResponseTypes value, an HTTP method that is not one and a queue URL where an ARN
is needed (see the tooling reference, section 3.3). This script checks those for this project, and
least privilege: no wildcard actions, no Resource "*", no SAM event or policy that brings one in.

Usage: template_check.py [template.yaml]. Prints every failure and exits 1 if there is any.
"""

import sys

import yaml

RUNTIME = "provided.al2023"
ARCHITECTURES = ["arm64"]
HANDLER = "bootstrap"
BUILD_METHOD = "rust-cargolambda"
BINARIES = {"webhook", "poster", "poller"}
# What the Rust code reads, and the resource type each must name (None: any value).
ENV_ALL = {
    "MLC_CONFIG_SECRET": "AWS::SecretsManager::Secret",
    "MLC_TABLE": "AWS::DynamoDB::Table",
    "MLC_QUEUE_URL": "AWS::SQS::Queue",
    "MLC_METRICS_NAMESPACE": None,
    "RUST_LOG": None,
}
ENV_EXTRA = {"poller": {"MLC_WEBHOOK_URL": None}}
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "any", "x-amazon-apigateway-any-method"}
# Lambda's SQS event source limits.
SQS_BATCH_MIN, SQS_BATCH_MAX, SQS_WINDOW_MAX = 1, 10000, 300
# Lambda defaults when a property is absent.
DEFAULT_TIMEOUT, DEFAULT_BATCH, DEFAULT_WINDOW, DEFAULT_VISIBILITY = 3, 10, 0, 30
# SAM events that attach an AWS managed policy with Resource "*" to the function's role.
UNSCOPED_EVENTS = {
    "SQS": "AWSLambdaSQSQueueExecutionRole",
    "Kinesis": "AWSLambdaKinesisExecutionRole",
    "DynamoDB": "AWSLambdaDynamoDBExecutionRole",
    "MSK": "AWSLambdaMSKExecutionRole",
}


# ------------------------------------------------------------------ loading


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short-form tags as their long forms."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


# ------------------------------------------------------------------ helpers


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.resources = doc.get("Resources") or {}
        self.parameters = doc.get("Parameters") or {}
        self.failures = []
        self.checked = 0

    def expect(self, ok, resource, prop, expected, found=None):
        """Records one check; `expected` says what should be there."""
        self.checked += 1
        if not ok:
            message = f"{resource}: {prop}: expected {expected}"
            if found is not None:
                message += f", found {found!r}"
            self.failures.append(message)
        return ok

    def default(self, value):
        """A value with a parameter reference replaced by the parameter's default."""
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.parameters:
            param = self.parameters[value["Ref"]]
            value = param.get("Default")
            if param.get("Type") == "Number" and value is not None:
                value = float(value)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        return value

    def parameter(self, value):
        """The parameter a value refers to, if it is a plain `!Ref Parameter`."""
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.parameters:
            return value["Ref"], self.parameters[value["Ref"]]
        return None, None

    def ref_type(self, value):
        """The resource type a `!Ref` or `!GetAtt` names, else None."""
        if isinstance(value, dict):
            if "Ref" in value:
                return self.resources.get(value["Ref"], {}).get("Type")
            if "Fn::GetAtt" in value:
                return self.resources.get(value["Fn::GetAtt"][0], {}).get("Type")
        return None

    def of_type(self, kind):
        return {name: r for name, r in self.resources.items() if r.get("Type") == kind}


def merge_globals(global_props, local_props):
    """SAM's Globals merge: maps merge, lists concatenate (globals first), scalars are replaced."""
    merged = dict(global_props)
    for key, local in local_props.items():
        if key not in merged:
            merged[key] = local
        elif isinstance(merged[key], dict) and isinstance(local, dict):
            merged[key] = merge_globals(merged[key], local)
        elif isinstance(merged[key], list) and isinstance(local, list):
            merged[key] = merged[key] + local
        else:
            merged[key] = local
    return merged


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def is_account_root(principal):
    """True for `{"AWS": arn:...:iam::${AWS::AccountId}:root}` or `{"AWS": !Ref AWS::AccountId}`."""
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return False
    for p in as_list(principal["AWS"]):
        if p == {"Ref": "AWS::AccountId"}:
            continue
        text = p.get("Fn::Sub") if isinstance(p, dict) else p
        if not (isinstance(text, str) and "${AWS::AccountId}:root" in text):
            return False
    return True


# ------------------------------------------------------------------ checks


def functions(c):
    glob = ((c.doc.get("Globals") or {}).get("Function")) or {}
    out = {}
    for name, r in c.of_type("AWS::Serverless::Function").items():
        out[name] = (r, merge_globals(glob, r.get("Properties") or {}))
    return out


def check_functions(c, fns):
    binaries = {}
    for name, (r, props) in fns.items():
        c.expect(props.get("Runtime") == RUNTIME, name, "Runtime", RUNTIME, props.get("Runtime"))
        c.expect(props.get("Architectures") == ARCHITECTURES, name, "Architectures (after Globals)",
                 ARCHITECTURES, props.get("Architectures"))
        c.expect(props.get("Handler") == HANDLER, name, "Handler", HANDLER, props.get("Handler"))
        meta = r.get("Metadata") or {}
        c.expect(meta.get("BuildMethod") == BUILD_METHOD, name, "Metadata.BuildMethod", BUILD_METHOD,
                 meta.get("BuildMethod"))
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        if c.expect(binary in BINARIES, name, "Metadata.BuildProperties.Binary",
                    f"one of {sorted(BINARIES)}", binary):
            c.expect(binary not in binaries, name, "Metadata.BuildProperties.Binary",
                     f"a binary no other function uses ({binaries.get(binary)} uses it)", binary)
            binaries[binary] = name
    for binary in sorted(BINARIES - set(binaries)):
        c.expect(False, "Resources", "AWS::Serverless::Function",
                 f"a function with BuildProperties.Binary {binary!r}")
    return binaries


def check_environment(c, fns, binaries):
    by_name = {name: b for b, name in binaries.items()}
    for name, (_, props) in fns.items():
        env = ((props.get("Environment") or {}).get("Variables")) or {}
        wanted = dict(ENV_ALL)
        wanted.update(ENV_EXTRA.get(by_name.get(name), {}))
        for var, kind in wanted.items():
            prop = f"Environment.Variables.{var}"
            if not c.expect(var in env, name, prop, "to be set (the Rust code reads it)"):
                continue
            if kind is not None:
                c.expect(c.ref_type(env[var]) == kind, name, prop, f"a !Ref to an {kind}", env[var])


def check_http_events(c, fns, binaries):
    for name, (_, props) in fns.items():
        for ev_name, ev in (props.get("Events") or {}).items():
            if ev.get("Type") not in ("Api", "HttpApi"):
                continue
            method = (ev.get("Properties") or {}).get("Method")
            c.expect(isinstance(method, str) and method.lower() in HTTP_METHODS, name,
                     f"Events.{ev_name}.Properties.Method", "an HTTP method", method)
    # The poller registers the hooks at MLC_WEBHOOK_URL: it must end with the webhook's path.
    webhook, poller = binaries.get("webhook"), binaries.get("poller")
    if webhook and poller:
        paths = [(ev.get("Properties") or {}).get("Path")
                 for ev in (fns[webhook][1].get("Events") or {}).values()
                 if ev.get("Type") in ("Api", "HttpApi")]
        url = (((fns[poller][1].get("Environment") or {}).get("Variables")) or {}).get("MLC_WEBHOOK_URL")
        text = url.get("Fn::Sub") if isinstance(url, dict) else url
        if isinstance(text, list):
            text = text[0]
        c.expect(bool(paths) and isinstance(text, str) and any(p and text.endswith(p) for p in paths),
                 poller, "Environment.Variables.MLC_WEBHOOK_URL",
                 f"a URL ending with the path of {webhook}'s HTTP event {paths}", text)


def poster_event_sources(c, fns, poster):
    """The poster's SQS event sources: SAM `SQS` events and AWS::Lambda::EventSourceMapping."""
    sources = []
    for ev_name, ev in (fns[poster][1].get("Events") or {}).items():
        if ev.get("Type") == "SQS":
            p = ev.get("Properties") or {}
            sources.append((poster, f"Events.{ev_name}.Properties", "Queue", p))
    for name, r in c.of_type("AWS::Lambda::EventSourceMapping").items():
        p = r.get("Properties") or {}
        target = p.get("FunctionName")
        if target in ({"Ref": poster}, {"Fn::GetAtt": [poster, "Arn"]}):
            sources.append((name, "Properties", "EventSourceArn", p))
    return sources


def check_poster(c, fns, binaries):
    poster = binaries.get("poster")
    if not poster:
        return
    timeout = c.default(fns[poster][1].get("Timeout", DEFAULT_TIMEOUT))
    sources = poster_event_sources(c, fns, poster)
    c.expect(len(sources) == 1, poster, "SQS event source",
             "exactly one (SAM SQS event or AWS::Lambda::EventSourceMapping)", len(sources))
    for res, where, queue_key, p in sources:
        c.expect(p.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], res,
                 f"{where}.FunctionResponseTypes", ["ReportBatchItemFailures"], p.get("FunctionResponseTypes"))
        queue = p.get(queue_key)
        getatt = queue.get("Fn::GetAtt") if isinstance(queue, dict) else None
        queue_name = getatt[0] if isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == "Arn" else None
        c.expect(queue_name is not None and c.ref_type(queue) == "AWS::SQS::Queue", res,
                 f"{where}.{queue_key}", "!GetAtt <AWS::SQS::Queue>.Arn (a !Ref is the queue URL)", queue)

        batch = c.default(p.get("BatchSize", DEFAULT_BATCH))
        window = c.default(p.get("MaximumBatchingWindowInSeconds", DEFAULT_WINDOW))
        batch_ok = c.expect(isinstance(batch, float | int) and SQS_BATCH_MIN <= batch <= SQS_BATCH_MAX, res,
                            f"{where}.BatchSize (default)", f"{SQS_BATCH_MIN}..{SQS_BATCH_MAX}", batch)
        window_ok = c.expect(isinstance(window, float | int) and 0 <= window <= SQS_WINDOW_MAX, res,
                             f"{where}.MaximumBatchingWindowInSeconds (default)", f"0..{SQS_WINDOW_MAX}", window)
        if batch_ok and window_ok and batch > 10:
            c.expect(window >= 1, res, f"{where}.MaximumBatchingWindowInSeconds (default)",
                     f">= 1 because BatchSize {batch:g} > 10", window)
        # Parameters must not let a deploy-time override out of Lambda's limits either.
        bname, bparam = c.parameter(p.get("BatchSize"))
        if bparam is not None:
            lo, hi = c.default(bparam.get("MinValue")), c.default(bparam.get("MaxValue"))
            c.expect(lo is not None and hi is not None and SQS_BATCH_MIN <= lo and hi <= SQS_BATCH_MAX,
                     f"Parameters.{bname}", "MinValue/MaxValue", f"within {SQS_BATCH_MIN}..{SQS_BATCH_MAX}",
                     (lo, hi))
            wname, wparam = c.parameter(p.get("MaximumBatchingWindowInSeconds"))
            if wparam is not None and hi is not None and hi > 10:
                wlo = c.default(wparam.get("MinValue"))
                c.expect(wlo is not None and wlo >= 1, f"Parameters.{wname}", "MinValue",
                         f">= 1 because {bname} may exceed 10", wlo)

        if queue_name in c.resources:
            visibility = c.default((c.resources[queue_name].get("Properties") or {})
                                   .get("VisibilityTimeout", DEFAULT_VISIBILITY))
            wanted = 6 * timeout + (window if isinstance(window, float | int) else 0)
            c.expect(isinstance(visibility, float | int) and visibility >= wanted, queue_name,
                     "Properties.VisibilityTimeout",
                     f">= 6 x {poster} Timeout ({timeout:g}) + batching window = {wanted:g}", visibility)


def check_statement(c, where, st, key_policy):
    actions = as_list(st.get("Action"))
    c.expect("NotAction" not in st, where, "NotAction", "Action (NotAction grants everything else)")
    c.expect("NotResource" not in st, where, "NotResource", "Resource (NotResource grants everything else)")
    for action in actions:
        wildcard = isinstance(action, str) and "*" in action
        # A key policy's account-root statement delegates the key to IAM (the AWS default policy).
        if wildcard and key_policy and action == "kms:*" and is_account_root(st.get("Principal")):
            continue
        c.expect(not wildcard, where, "Action", "no wildcard", action)
    for resource in as_list(st.get("Resource")):
        # In a key policy, Resource "*" means the key itself.
        c.expect(resource != "*" or key_policy, where, "Resource", "a scoped ARN, not \"*\"", resource)


def check_document(c, where, doc, key_policy=False):
    if not isinstance(doc, dict):
        return
    for i, st in enumerate(as_list(doc.get("Statement"))):
        sid = st.get("Sid", i) if isinstance(st, dict) else i
        if isinstance(st, dict):
            check_statement(c, f"{where}.Statement[{sid}]", st, key_policy)


def check_iam(c, fns):
    for name, (_, props) in fns.items():
        c.expect("Role" not in props, name, "Role", "none: SAM's role with the inline Policies below")
        for i, policy in enumerate(as_list(props.get("Policies"))):
            explicit = isinstance(policy, dict) and "Statement" in policy
            c.expect(explicit, name, f"Policies[{i}]",
                     "an inline document with explicit Statements (not a managed policy or SAM policy template)",
                     policy if not explicit else None)
            if explicit:
                check_document(c, f"{name}.Policies[{i}]", policy)
        for ev_name, ev in (props.get("Events") or {}).items():
            managed = UNSCOPED_EVENTS.get(ev.get("Type"))
            c.expect(managed is None, name, f"Events.{ev_name}",
                     f"an AWS::Lambda::EventSourceMapping (SAM's {ev.get('Type')} event attaches {managed}, "
                     "which has Resource \"*\")", ev.get("Type"))
    for name, r in c.resources.items():
        p = r.get("Properties") or {}
        kind = r.get("Type")
        if kind == "AWS::IAM::Role":
            for i, policy in enumerate(as_list(p.get("Policies"))):
                check_document(c, f"{name}.Policies[{i}]", policy.get("PolicyDocument"))
            c.expect(not p.get("ManagedPolicyArns"), name, "ManagedPolicyArns", "none (inline statements)",
                     p.get("ManagedPolicyArns"))
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy",
                      "AWS::SNS::TopicPolicy", "AWS::SecretsManager::ResourcePolicy"):
            check_document(c, name, p.get("PolicyDocument") or p.get("ResourcePolicy"))
        elif kind == "AWS::KMS::Key":
            check_document(c, f"{name}.KeyPolicy", p.get("KeyPolicy"), key_policy=True)


def main(argv):
    path = argv[1] if len(argv) > 1 else "template.yaml"
    try:
        doc = load(path)
    except (OSError, yaml.YAMLError) as e:
        print(f"template_check: cannot read {path}: {e}", file=sys.stderr)
        return 2
    c = Checker(doc)
    fns = functions(c)
    binaries = check_functions(c, fns)
    check_environment(c, fns, binaries)
    check_http_events(c, fns, binaries)
    check_poster(c, fns, binaries)
    check_iam(c, fns)
    for failure in c.failures:
        print(f"FAIL {failure}")
    if c.failures:
        print(f"template_check: {len(c.failures)} of {c.checked} checks failed in {path}")
        return 1
    print(f"template_check: {c.checked} checks passed in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
