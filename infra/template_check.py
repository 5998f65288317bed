#!/usr/bin/env python3
"""Project checks of template.yaml that cfn-lint and `sam validate --lint` do not make.

Both accept a runtime that does not exist, a wrong architecture, an SQS batch size out of range,
a misspelt FunctionResponseTypes value, an HTTP method that is not one and a queue URL where an ARN
is needed (see the tooling reference, section 3.3). This script checks those for this project, and
least privilege: no wildcard actions granted, no Resource "*", no SAM event or policy that brings one
in; the internet-facing webhook function writes only webhook-dedupe items (a dynamodb:LeadingKeys
condition) and reads none; a service principal in a key policy acts only for this account; the HTTP
API logs its requests to a retained log group; the poller runs one at a time and the webhook
function has a cap; the connector-document secret has a resource policy that keeps it to the
stack's functions and the account.

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
# What the webhook function does to the state table (common/src/posting/intake.rs calls
# first_sighting and forget_sighting; common/src/adapters/dynamodb.rs makes them a conditional
# PutItem and a DeleteItem of the item whose pk is `DEDUPE#` + `webhook#{store}#{webhook-id}`).
WEBHOOK_TABLE_ACTIONS = {"dynamodb:PutItem", "dynamodb:DeleteItem"}
WEBHOOK_LEADING_KEYS = ["DEDUPE#webhook#*"]
# Sweeps, tracking rounds and reconciliations never overlap.
POLLER_CONCURRENCY = 1
# What a resource policy on the secret must deny, and to whom.
SECRET_READ = "secretsmanager:GetSecretValue"
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
    # A Deny takes away: a wildcard there makes the policy stricter, not looser.
    if st.get("Effect") == "Deny":
        return
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


def statements(policies):
    """Every statement of a function's inline policies."""
    for policy in as_list(policies):
        if isinstance(policy, dict):
            yield from (st for st in as_list(policy.get("Statement")) if isinstance(st, dict))


def leaves(value):
    """The values an intrinsic can take: through Fn::If (both branches), Fn::Split and Fn::Join,
    down to strings, !Ref and !GetAtt."""
    if isinstance(value, list):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, dict) and len(value) == 1:
        (name, arg), = value.items()
        if name == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            yield from leaves(arg[1:])
        elif name in ("Fn::Split", "Fn::Join") and isinstance(arg, list) and len(arg) == 2:
            yield from leaves(arg[1])
        else:
            yield value
    else:
        yield value


def if_branches(value):
    """The alternatives of a value that may be an Fn::If (each branch separately)."""
    if isinstance(value, dict) and set(value) == {"Fn::If"} and len(value["Fn::If"]) == 3:
        return if_branches(value["Fn::If"][1]) + if_branches(value["Fn::If"][2])
    return [value]


def names_account(value):
    """`!Ref AWS::AccountId`, or a !Sub that is exactly ${AWS::AccountId}."""
    return value in ({"Ref": "AWS::AccountId"}, {"Fn::Sub": "${AWS::AccountId}"})


def check_webhook_table_access(c, fns, binaries):
    """The internet-facing function may write webhook-dedupe items only, and reads nothing."""
    webhook = binaries.get("webhook")
    if not webhook:
        return
    props = fns[webhook][1]
    for i, st in enumerate(statements(props.get("Policies"))):
        where = f"{webhook}.Policies.Statement[{st.get('Sid', i)}]"
        actions = {a for a in as_list(st.get("Action")) if isinstance(a, str) and a.startswith("dynamodb:")}
        if not actions or st.get("Effect") != "Allow":
            continue
        c.expect(actions <= WEBHOOK_TABLE_ACTIONS, where, "Action",
                 f"only {sorted(WEBHOOK_TABLE_ACTIONS)} (intake records and forgets a delivery id; it reads none)",
                 sorted(actions - WEBHOOK_TABLE_ACTIONS))
        condition = st.get("Condition") or {}
        keys = None
        for operator in ("ForAllValues:StringEquals", "ForAllValues:StringLike"):
            keys = (condition.get(operator) or {}).get("dynamodb:LeadingKeys", keys)
        c.expect(keys is not None and sorted(as_list(keys)) == sorted(WEBHOOK_LEADING_KEYS), where,
                 "Condition ForAllValues:StringLike dynamodb:LeadingKeys",
                 f"exactly {WEBHOOK_LEADING_KEYS} (the partition keys of webhook-dedupe items)", keys)


def check_key_policy_services(c):
    """A service principal in a key policy acts only on behalf of this account (confused deputy)."""
    for name, r in c.of_type("AWS::KMS::Key").items():
        doc = (r.get("Properties") or {}).get("KeyPolicy") or {}
        for i, st in enumerate(as_list(doc.get("Statement"))):
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            principal = st.get("Principal")
            if not (isinstance(principal, dict) and "Service" in principal):
                continue
            condition = st.get("Condition") or {}
            account = (condition.get("StringEquals") or {}).get("aws:SourceAccount")
            c.expect(names_account(account), f"{name}.KeyPolicy.Statement[{st.get('Sid', i)}]",
                     "Condition StringEquals aws:SourceAccount", "!Ref AWS::AccountId", account)
            source = (condition.get("ArnLike") or {}).get("aws:SourceArn")
            text = source.get("Fn::Sub") if isinstance(source, dict) else source
            c.expect(isinstance(text, str) and "${AWS::AccountId}" in text,
                     f"{name}.KeyPolicy.Statement[{st.get('Sid', i)}]", "Condition ArnLike aws:SourceArn",
                     "an ARN pattern of this account's resources", source)


def check_log_group(c, where, prop, value):
    """`value` is !GetAtt of a log group that keeps its events for a while, not forever."""
    getatt = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    group = getatt[0] if isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == "Arn" else None
    if not c.expect(group is not None and c.ref_type(value) == "AWS::Logs::LogGroup", where, prop,
                    "!GetAtt <AWS::Logs::LogGroup>.Arn", value):
        return
    retention = (c.resources[group].get("Properties") or {}).get("RetentionInDays")
    c.expect(retention is not None, group, "Properties.RetentionInDays", "set (otherwise logs are kept forever)")


def check_api_access_logs(c):
    """Every HTTP API logs its requests to a retained log group."""
    for name, r in c.of_type("AWS::Serverless::HttpApi").items():
        settings = (r.get("Properties") or {}).get("AccessLogSettings")
        if not c.expect(isinstance(settings, dict), name, "Properties.AccessLogSettings",
                        "access logging (who called the internet-facing route, and the answer)"):
            continue
        check_log_group(c, name, "Properties.AccessLogSettings.DestinationArn", settings.get("DestinationArn"))
        fmt = settings.get("Format")
        c.expect(isinstance(fmt, str) and "$context.requestId" in fmt and "$context.status" in fmt, name,
                 "Properties.AccessLogSettings.Format", "a format with $context.requestId and $context.status", fmt)
    for name, r in c.of_type("AWS::Logs::LogGroup").items():
        c.expect((r.get("Properties") or {}).get("RetentionInDays") is not None, name,
                 "Properties.RetentionInDays", "set (otherwise logs are kept forever)")


def check_concurrency(c, fns, binaries):
    """The poller one at a time (sweeps never overlap); the webhook function capped."""
    poller, webhook = binaries.get("poller"), binaries.get("webhook")
    if poller:
        value = c.default(fns[poller][1].get("ReservedConcurrentExecutions"))
        c.expect(value == POLLER_CONCURRENCY, poller, "ReservedConcurrentExecutions",
                 f"{POLLER_CONCURRENCY} (sweeps, tracking rounds and reconciliations never overlap)", value)
    if webhook:
        raw = fns[webhook][1].get("ReservedConcurrentExecutions")
        value = c.default(raw)
        if c.expect(isinstance(value, float | int) and value >= 1, webhook, "ReservedConcurrentExecutions",
                    "a cap (a flood of deliveries must not take the account's concurrency)", raw):
            pname, param = c.parameter(raw)
            if param is not None:
                hi = c.default(param.get("MaxValue"))
                c.expect(hi is not None, f"Parameters.{pname}", "MaxValue", "set (the cap is a cap)", hi)


def check_secret_policies(c, fns):
    """Each secret has a resource policy that blocks public policies, denies other accounts, and
    denies reading the value to anyone but the stack's function roles (and named operators)."""
    roles = {name: {"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in fns}
    policies = c.of_type("AWS::SecretsManager::ResourcePolicy")
    for secret in c.of_type("AWS::SecretsManager::Secret"):
        mine = [(n, (r.get("Properties") or {})) for n, r in policies.items()
                if (r.get("Properties") or {}).get("SecretId") == {"Ref": secret}]
        if not c.expect(len(mine) == 1, secret, "AWS::SecretsManager::ResourcePolicy",
                        "exactly one resource policy with SecretId !Ref to it", len(mine)):
            continue
        name, p = mine[0]
        c.expect(p.get("BlockPublicPolicy") is True, name, "Properties.BlockPublicPolicy", True,
                 p.get("BlockPublicPolicy"))
        sts = [st for st in as_list((p.get("ResourcePolicy") or {}).get("Statement")) if isinstance(st, dict)]
        c.expect(all(st.get("Effect") == "Deny" for st in sts), name, "ResourcePolicy.Statement",
                 "only Deny statements (IAM policies grant; the resource policy takes away)")
        other_accounts = [st for st in sts if st.get("Effect") == "Deny"
                          and names_account((st.get("Condition") or {}).get("StringNotEquals", {})
                                            .get("aws:PrincipalAccount"))
                          and st.get("Principal") == "*"]
        c.expect(bool(other_accounts), name, "ResourcePolicy.Statement",
                 "a Deny to Principal \"*\" when StringNotEquals aws:PrincipalAccount !Ref AWS::AccountId")
        readers = [st for st in sts if st.get("Effect") == "Deny" and SECRET_READ in as_list(st.get("Action"))
                   and st.get("Principal") == "*"
                   and "aws:PrincipalArn" in ((st.get("Condition") or {}).get("ArnNotLike") or {})]
        if not c.expect(len(readers) == 1, name, "ResourcePolicy.Statement",
                        f"one Deny of {SECRET_READ} to Principal \"*\" when ArnNotLike aws:PrincipalArn "
                        "the function roles", len(readers)):
            continue
        allowed = readers[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        for branch in if_branches(allowed):
            found = list(leaves(branch))
            for fn, role in roles.items():
                c.expect(role in found, name, "ResourcePolicy Deny GetSecretValue aws:PrincipalArn",
                         f"{fn}'s role (!GetAtt {fn}Role.Arn) among the readers", found)
            strays = [v for v in found if isinstance(v, str) and ("*" in v or v == "")]
            c.expect(not strays, name, "ResourcePolicy Deny GetSecretValue aws:PrincipalArn",
                     "no wildcard or empty reader written into the template", strays)


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
    check_webhook_table_access(c, fns, binaries)
    check_key_policy_services(c)
    check_api_access_logs(c)
    check_concurrency(c, fns, binaries)
    check_secret_policies(c, fns)
    for failure in c.failures:
        print(f"FAIL {failure}")
    if c.failures:
        print(f"template_check: {len(c.failures)} of {c.checked} checks failed in {path}")
        return 1
    print(f"template_check: {c.checked} checks passed in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
