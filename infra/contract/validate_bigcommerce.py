#!/usr/bin/env python3
"""Check recorded BigCommerce API exchanges against BigCommerce's official OpenAPI specs.

Input: a file of JSON lines, one exchange each, as the sandbox records them:
{method, path, query, request_headers, request_body, status, response_headers, response_body}.

For every exchange:
  * the request must be a valid request of a documented operation (path, method, parameters,
    headers, body), and may use only query parameters the operation documents;
  * the response must match the operation's documented response for its status.

Four things the specs get wrong or leave out are accepted, and only these
(see reference/bigcommerce.md):
  * V2 list endpoints answer `204 No Content` with an empty body when nothing matches; and a
    204 an operation does document (V3 order transactions: a `No Content` JSON object) comes
    with no body either, as HTTP has a 204 carry none, so its schema is not applied;
  * the V2 `sort` parameter takes a `:asc`/`:desc` suffix: its own description says so
    ("e.g., `sort=date_created:desc`") while its enum lists the bare field names;
  * error statuses an operation does not list (401, 404, 409, 422, 429 and 5xx from the
    gateway) must then have BigCommerce's error shape: V3 `{status, title, ...}`, V2
    `[{status, message}]`;
  * a V3 list answers an empty `data` when nothing matches, also where the spec gives the list
    `minItems: 1` (`GET /v3/hooks` of a store that has no hooks yet cannot list one).

Exit status: 0 when everything conforms; 1 with one line per violation; 2 on bad input.
"""

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_FOR = [
    ("/v2/orders", "orders.v2.oas2.yml"),
    ("/v3/orders", "orders.v3.yml"),
    ("/v3/catalog/products", "products_catalog.v3.yml"),
    ("/v3/catalog/trees", "category-trees_catalog.v3.yml"),
    ("/v3/channels", "channels.v3.yml"),
    ("/v3/hooks", "webhooks.v3.yml"),
]
HOST = "https://api.bigcommerce.com"


class Specs:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.loaded = {}

    def get(self, name):
        if name not in self.loaded:
            path = self.directory / name
            raw = yaml.safe_load(path.read_text())
            self.loaded[name] = (OpenAPI.from_file_path(str(path)), raw)
        return self.loaded[name]


def resolve(raw, node):
    while isinstance(node, dict) and "$ref" in node:
        target = raw
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def find_operation(raw, api_path, method):
    # Literal segments beat templated ones: /orders/payment_actions/refunds before
    # /orders/{order_id}/....
    templates = sorted(raw["paths"].items(), key=lambda kv: kv[0].count("{"))
    for template, item in templates:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, api_path) and method in item:
            return template, item, item[method]
    return None


def declared(raw, item, op, where):
    params = [resolve(raw, p) for p in item.get("parameters", []) + op.get("parameters", [])]
    return {p["name"] for p in params if p.get("in") == where}


def describe(error):
    cause = error.__cause__ or error
    details = getattr(cause, "schema_errors", None)
    if details:
        return "; ".join(
            "{}{}".format("/".join(str(p) for p in e.path) + ": " if list(e.path) else "", e.message)
            for e in details
        )
    inner = getattr(cause, "__cause__", None)
    text = f"{type(cause).__name__}: {cause}"
    if inner is not None and getattr(inner, "schema_errors", None):
        text += " (" + describe(cause) + ")"
    return text


def error_shape_ok(version, body):
    if isinstance(body, dict) and "status" in body and "title" in body:
        return True
    return (
        version == "v2"
        and isinstance(body, list)
        and bool(body)
        and all(isinstance(e, dict) and "status" in e and "message" in e for e in body)
    )


def check(specs, ex):
    problems = []
    method = ex["method"].lower()
    match = re.match(r"^/stores/([^/]+)/(v2|v3)(/.*)$", ex["path"])
    if not match:
        return [f"not a store API path: {ex['path']}"]
    version, api_path = match.group(2), match.group(3)
    name = next((n for prefix, n in SPEC_FOR if f"/{version}{api_path}".startswith(prefix)), None)
    if name is None:
        return [f"no spec covers {ex['path']}"]
    api, raw = specs.get(name)
    found = find_operation(raw, api_path, method)
    if found is None:
        return [f"{ex['method']} {api_path} is not an operation of {name}"]
    template, item, op = found
    pairs = parse_qsl(ex.get("query") or "", keep_blank_values=True)
    known = declared(raw, item, op, "query")
    for key, _ in pairs:
        if key not in known:
            problems.append(f"request: query parameter {key!r} is not documented for {ex['method']} {template}")
    if version == "v2":
        # The enum of `sort` omits the direction suffix its description documents.
        pairs = [(k, re.sub(r":(asc|desc)$", "", v)) if k == "sort" else (k, v) for k, v in pairs]
    headers = {k: v for k, v in (ex.get("request_headers") or {}).items()}
    if "x-auth-token" in headers:
        headers["X-Auth-Token"] = "redacted"
        del headers["x-auth-token"]
    body = ex.get("request_body")
    request = MockRequest(
        HOST,
        method,
        ex["path"],
        args=dict(pairs),
        headers=headers,
        data=json.dumps(body).encode() if body is not None else None,
        content_type=(headers.get("content-type") or "application/json").split(";")[0],
    )
    try:
        api.validate_request(request)
    except Exception as e:  # openapi-core raises a family of validation errors
        problems.append(f"request: {describe(e)}")

    status = ex["status"]
    response_body = ex.get("response_body")
    documented = str(status) in op.get("responses", {}) or "default" in op.get("responses", {})
    if status == 204 and (documented or (version == "v2" and method == "get")):
        if response_body is not None:
            problems.append("response: a 204 must have no body")
    elif not documented:
        if not (400 <= status <= 599) or not error_shape_ok(version, response_body):
            problems.append(f"response: status {status} is undocumented and not BigCommerce's error shape")
    else:
        response = MockResponse(
            json.dumps(response_body).encode() if response_body is not None else b"",
            status_code=status,
            headers=ex.get("response_headers") or {},
            content_type="application/json",
        )
        try:
            api.validate_response(request, response)
        except Exception as e:
            if not empty_list_only(e, response_body):
                problems.append(f"response {status}: {describe(e)}")
    return problems


def empty_list_only(error, body):
    """Whether the only complaint is `minItems` on an empty top-level `data` list."""
    if not (isinstance(body, dict) and body.get("data") == []):
        return False
    cause = error.__cause__ or error
    details = getattr(cause, "schema_errors", None)
    return bool(details) and all(
        list(e.path) == ["data"] and e.validator == "minItems" for e in details
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", required=True, help="directory with BigCommerce's OpenAPI files")
    parser.add_argument("exchanges", help="JSON lines file of recorded exchanges")
    args = parser.parse_args()
    specs = Specs(args.specs)
    try:
        lines = [l for l in Path(args.exchanges).read_text().splitlines() if l.strip()]
        exchanges = [json.loads(l) for l in lines]
    except (OSError, ValueError) as e:
        print(f"cannot read {args.exchanges}: {e}", file=sys.stderr)
        return 2
    bad = 0
    operations = set()
    for n, ex in enumerate(exchanges, 1):
        problems = check(specs, ex)
        operations.add(f"{ex['method']} {re.sub(r'/stores/[^/]+', '', ex['path'])}")
        if problems:
            bad += 1
            for p in problems:
                print(f"#{n} {ex['method']} {ex['path']}?{ex.get('query', '')} -> {ex['status']}: {p}")
    print(f"checked {len(exchanges)} exchanges: {len(exchanges) - bad} conform, {bad} do not")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
