"""A local HTTP server that answers the part of Confluent Schema Registry's REST API we call, as documented.

A test double (no Docker here to run the compose registry): it follows the documented
contract (docs.confluent.io/platform/current/schema-registry/develop/api.html) strictly —
content types, request fields, Avro parsing with schema references, global ids shared by
identical content, versions per subject, compatibility levels and the documented error codes —
so requests that break it fail here as they would there.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastavro import parse_schema

LEVELS = {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}
TYPES = {"application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json", "application/json"}


class Registry:
    def __init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}  # id -> {"schema": str, "references": [...]}
        self.ids: dict[str, int] = {}  # content key -> id
        self.subjects: dict[str, list[int]] = {}  # subject -> ids by version (version = index + 1)
        self.config: dict[str, str] = {}
        self.requests: list[tuple[str, str, Any]] = []

    def _parse(self, schema: str, refs: list[dict[str, Any]]) -> None:
        named: dict[str, Any] = {}
        for ref in refs:
            versions = self.subjects.get(ref["subject"], [])
            if not 1 <= int(ref["version"]) <= len(versions):
                raise ValueError(f"reference {ref} does not exist")
            parse_schema(json.loads(self.by_id[versions[int(ref["version"]) - 1]]["schema"]), named_schemas=named)
        parse_schema(json.loads(schema), named_schemas=named)

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if m := re.fullmatch(r"/config/([^/]+)", path):
            if method == "PUT":
                if set(body) != {"compatibility"} or body["compatibility"] not in LEVELS:
                    return 422, {"error_code": 42203, "message": "Invalid compatibility level"}
                self.config[m[1]] = body["compatibility"]
                return 200, body
            if m[1] not in self.config:
                return 404, {"error_code": 40408, "message": "Subject does not have subject-level compatibility configured"}
            return 200, {"compatibilityLevel": self.config[m[1]]}
        if path == "/subjects" and method == "GET":
            return 200, sorted(self.subjects)
        if m := re.fullmatch(r"/schemas/ids/(\d+)", path):
            found = self.by_id.get(int(m[1]))
            return (200, found) if found else (404, {"error_code": 40403, "message": "Schema not found"})
        if m := re.fullmatch(r"/subjects/([^/]+)(/versions)?", path):
            if method != "POST":
                return 405, {"error_code": 405, "message": "Method not allowed"}
            if not isinstance(body, dict) or "schema" not in body or set(body) - {"schema", "schemaType", "references"}:
                return 422, {"error_code": 42201, "message": "Invalid schema"}
            if body.get("schemaType", "AVRO") != "AVRO":
                return 422, {"error_code": 42201, "message": "only AVRO here"}
            refs = body.get("references", [])
            try:
                self._parse(body["schema"], refs)
            except Exception as exc:  # noqa: BLE001 - any parse failure is the documented 42201
                return 422, {"error_code": 42201, "message": f"Invalid schema: {exc}"}
            key = json.dumps([json.loads(body["schema"]), refs], sort_keys=True)
            subject = m[1]
            if m[2] is None:  # look-up
                sid = self.ids.get(key)
                if subject not in self.subjects:
                    return 404, {"error_code": 40401, "message": "Subject not found"}
                if sid is None or sid not in self.subjects[subject]:
                    return 404, {"error_code": 40403, "message": "Schema not found"}
                return 200, {"subject": subject, "id": sid, "version": self.subjects[subject].index(sid) + 1,
                             "schema": body["schema"]}
            sid = self.ids.setdefault(key, len(self.by_id) + 1)
            self.by_id.setdefault(sid, {"schema": body["schema"], **({"references": refs} if refs else {})})
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return 200, {"id": sid}
        return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}


class ContractServer:
    def __init__(self) -> None:
        registry = self.registry = Registry()

        class Handler(BaseHTTPRequestHandler):
            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw and self.headers.get("Content-Type", "").split(";")[0].strip() not in TYPES:
                    status, out = 415, {"error_code": 415, "message": "Unsupported Media Type"}
                else:
                    try:
                        status, out = registry.handle(self.command, self.path, json.loads(raw) if raw else None)
                    except ValueError:
                        status, out = 400, {"error_code": 400, "message": "Unexpected character"}
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _do

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ContractServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
