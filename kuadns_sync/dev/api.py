"""Request routing of the emulator: REST paths and query parameters -> discovery documents, registry operations,
Table conversion, and watch streams (newline-delimited JSON events with bookmarks and 410 on expired history).

No sockets: `handle` takes a parsed request and returns a `Response` (bytes) or a `Stream` (iterator of event
lines); `kuadns_sync.dev.http` does the transport, auth and fault injection.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import yaml

from kuadns_sync.dev import manifests, openapi, protobuf, resources, tables
from kuadns_sync.dev import status as errors
from kuadns_sync.dev.registry import Registry, WriteOptions
from kuadns_sync.dev.resources import ResourceType
from kuadns_sync.dev.selectors import SelectorError, parse_field_selector, parse_label_selector
from kuadns_sync.dev.store import Entry, Expired
from kuadns_sync.jsoncodec import decode, encode

log = logging.getLogger(__name__)

Json = dict[str, Any]
JSON_TYPE = "application/json"
DEFAULT_WATCH_TIMEOUT = 1800.0  # kube-apiserver --min-request-timeout


@dataclass(slots=True)
class Response:
    """A complete response."""

    code: int
    body: bytes
    content_type: str = JSON_TYPE
    warnings: Sequence[str] = ()


@dataclass
class Stream:
    """A chunked streaming response (watch)."""

    chunks: Iterator[bytes]
    code: int = 200
    content_type: str = JSON_TYPE


class Request(NamedTuple):
    """A parsed HTTP request (a named tuple: one per request, built without a Python __init__ per field)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    @staticmethod
    def parse_query(raw: str) -> dict[str, str]:
        """Query string -> first value per key."""
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _json(obj: Any, code: int = 200, warnings: Sequence[str] = ()) -> Response:
    return Response(code, encode(obj) if isinstance(obj, dict) else json.dumps(obj).encode(), JSON_TYPE, warnings)


def error_response(err: errors.ApiError) -> Response:
    """The Status body for an ApiError."""
    return _json(err.to_status(), err.code)


@functools.lru_cache(maxsize=64)
def _options(dry_run: bool, field_validation: str, field_manager: str | None, force: bool) -> WriteOptions:
    # (immutable, and nearly every write asks for the same ones)
    return WriteOptions(dry_run, field_validation, field_manager, force)


def _wants_table(headers: Mapping[str, str]) -> bool:
    accept = headers.get("accept", "")
    return "as=Table" in accept


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def _int(query: Mapping[str, str], name: str, default: int = 0) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}") from exc
    if value < 0:
        raise errors.bad_request(f"{name} must not be negative")
    return value


class Api:
    """Routes requests of one emulated cluster."""

    def __init__(
        self,
        registry: Registry,
        address: Callable[[], str],
        bookmark_interval: float = 10.0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.registry = registry
        self.address = address
        self.bookmark_interval = bookmark_interval
        self.stopping = stopping or threading.Event()
        self._openapi = openapi.all_documents(registry.types)
        self._openapi_root = encode(openapi.root_document(registry.types, self._openapi))

    # --- entry point ----------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response | Stream:
        """Answer one request; every failure becomes a Status response."""
        try:
            return self._route(req)
        except errors.ApiError as err:
            return error_response(err)

    def _route(self, req: Request) -> Response | Stream:
        parts = [p for p in req.path.split("/") if p]
        if req.method == "GET":
            found = self._discovery(parts)
            if found is not None:
                return found
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            return self._resource(req, "", "v1", parts[2:])
        if len(parts) >= 3 and parts[0] == "apis":
            return self._resource(req, parts[1], parts[2], parts[3:])
        if parts and parts[0] in ("api", "apis", "openapi", "version", "healthz", "livez", "readyz"):
            raise errors.method_not_allowed() if req.method != "GET" else errors.path_not_found()
        raise errors.path_not_found()

    def _discovery(self, parts: list[str]) -> Response | None:
        types = self.registry.types
        if parts == ["version"]:
            return _json(resources.version_info())
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return Response(200, b"ok", "text/plain")
        if parts == ["api"]:
            return _json(resources.core_versions(self.address()))
        if parts == ["api", "v1"]:
            return _json(resources.resource_list("v1", types))
        if parts == ["apis"]:
            return _json(resources.group_list(types))
        groups = resources.group_names(types)
        if len(parts) == 2 and parts[0] == "apis":
            if parts[1] not in groups:
                raise errors.path_not_found()
            return _json(resources.api_group(parts[1], groups[parts[1]]))
        if len(parts) == 3 and parts[0] == "apis":
            if parts[2] not in groups.get(parts[1], []):
                raise errors.path_not_found()
            return _json(resources.resource_list(f"{parts[1]}/{parts[2]}", types))
        if parts == ["openapi", "v3"]:
            return Response(200, self._openapi_root)
        if parts[:2] == ["openapi", "v3"]:
            doc = self._openapi.get("/".join(parts[2:]))
            if doc is None:
                raise errors.path_not_found()
            return Response(200, doc)
        return None

    # --- resources ------------------------------------------------------------------------------------------

    def _resource(self, req: Request, group: str, version: str, rest: list[str]) -> Response | Stream:
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = self.registry.resource(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        if not rest:
            raise errors.path_not_found()
        rt = self.registry.resource(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise errors.path_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and not (sub == "status" and rt.status_subresource):
            raise errors.path_not_found()
        if rt.namespaced and namespace is None and (name is not None or req.method not in ("GET",)):
            # Namespaced objects are only addressable inside a namespace; the bare path only lists/watches.
            raise errors.path_not_found() if name is not None else errors.method_not_allowed()
        if name is None:
            return self._collection(req, rt, namespace)
        return self._item(req, rt, namespace or "", name, sub)

    def _collection(self, req: Request, rt: ResourceType, namespace: str | None) -> Response | Stream:
        q = req.query
        if req.method == "POST":
            return self._write(lambda opts: self.registry.create(rt, namespace or "", self._body(req), opts), q)
        if req.method not in ("GET", "DELETE"):
            raise errors.method_not_allowed()
        try:
            labels = parse_label_selector(q.get("labelSelector"))
            fields = parse_field_selector(q.get("fieldSelector"), rt.field_selectors)
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc
        match = self.registry.matcher(rt, labels, fields)
        if req.method == "DELETE":
            options = self._delete_options(req)
            return _json(
                self.registry.delete_collection(rt, namespace, match, options, options.get("dryRun") == ["All"])
            )
        if _flag(q, "watch"):
            table = _wants_table(req.headers)
            return Stream(self._watch(rt, namespace, match, q, self._table_line if table else None))
        entries, meta = self.registry.list_page(
            rt, namespace, match, _int(q, "limit"), q.get("continue") or None, q.get("resourceVersion")
        )
        if _wants_table(req.headers):
            return _json(self._table(rt, [e.obj for e in entries], meta, q))
        return Response(200, self._list_bytes(rt, entries, meta))

    def _table(self, rt: ResourceType, objs: list[Json], meta: Json, q: Mapping[str, str]) -> Json:
        return tables.to_table(rt, objs, meta, self.registry.clock(), q.get("includeObject", "Metadata"))

    @staticmethod
    def _list_bytes(rt: ResourceType, entries: list[Entry], meta: Json) -> bytes:
        head = encode({"apiVersion": rt.api_version, "kind": rt.list_kind, "metadata": meta})
        # Splice pre-encoded items instead of re-encoding every object for every list.
        return head[:-1] + b',"items":[' + b",".join(e.raw for e in entries) + b"]}"

    def _item(self, req: Request, rt: ResourceType, namespace: str, name: str, sub: str | None) -> Response:
        q = req.query
        if req.method == "GET":
            entry = self.registry.get(rt, namespace, name)
            if _wants_table(req.headers):
                meta = {"resourceVersion": entry.obj["metadata"].get("resourceVersion", "")}
                return _json(self._table(rt, [entry.obj], meta, q))
            return Response(200, entry.raw)
        if req.method == "PUT":
            return self._write(lambda o: self.registry.update(rt, namespace, name, self._body(req), sub, o), q)
        if req.method == "PATCH":
            ctype = req.headers.get("content-type", "").split(";")[0].strip()
            return self._write(lambda o: self.registry.patch(rt, namespace, name, ctype, req.body, sub, o), q)
        if req.method == "DELETE":
            if sub is not None:
                raise errors.method_not_allowed()
            options = self._delete_options(req)
            outcome = self.registry.delete(rt, namespace, name, options, options.get("dryRun") == ["All"])
            return _json(outcome.obj, outcome.code)
        raise errors.method_not_allowed()

    def _write(self, op: Callable[[WriteOptions], Any], q: Mapping[str, str]) -> Response:
        validation = q.get("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation must be one of Strict, Warn, Ignore; got {validation!r}")
        dry_run = q.get("dryRun", "")
        if dry_run not in ("", "All"):
            raise errors.bad_request(f'dryRun: Unsupported value: {dry_run!r}: supported values: "All"')
        outcome = op(_options(dry_run == "All", validation, q.get("fieldManager") or None, _flag(q, "force")))
        if outcome.raw is not None:  # the stored object's JSON, encoded once when it was stored
            return Response(outcome.code, outcome.raw, JSON_TYPE, outcome.warnings)
        return _json(outcome.obj, outcome.code, outcome.warnings)

    @staticmethod
    def _body(req: Request) -> Any:
        ctype = req.headers.get("content-type", JSON_TYPE).split(";")[0].strip()
        if ctype == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(req.body)
            except (protobuf.ProtobufError, UnicodeDecodeError) as exc:
                raise errors.ApiError(415, "UnsupportedMediaType", str(exc), {}) from exc
        if ctype not in (JSON_TYPE, "application/yaml", "application/x-yaml", "", "*/*"):
            raise errors.unsupported_media_type(ctype, [JSON_TYPE, "application/yaml", protobuf.CONTENT_TYPE])
        try:
            if ctype in ("application/yaml", "application/x-yaml"):
                return manifests.load(req.body)
            return decode(req.body or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from exc

    def _delete_options(self, req: Request) -> Json:
        options: Json = {}
        if req.body.strip():
            body = self._body(req)
            if isinstance(body, dict):
                options = body
        if "dryRun" in req.query:
            options["dryRun"] = [req.query["dryRun"]]
        if "propagationPolicy" in req.query:
            options["propagationPolicy"] = req.query["propagationPolicy"]
        return options

    # --- watch ----------------------------------------------------------------------------------------------

    def _table_line(self, rt: ResourceType, kind: str, entry: Entry, q: Mapping[str, str], first: bool) -> bytes:
        table = self._table(rt, [entry.obj], {"resourceVersion": entry.obj["metadata"].get("resourceVersion", "")}, q)
        if not first:
            table["columnDefinitions"] = []  # kube-apiserver sends the columns with the first event only
        return encode({"type": kind, "object": table}) + b"\n"

    def _watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        match: Callable[[Json], bool],
        q: Mapping[str, str],
        as_table: Callable[..., bytes] | None = None,
    ) -> Iterator[bytes]:
        first = True

        def line(kind: str, entry: Entry) -> bytes:
            nonlocal first
            if as_table is not None:
                out = as_table(rt, kind, entry, q, first)
                first = False
                return out
            return b'{"type":"' + kind.encode() + b'","object":' + entry.raw + b"}\n"

        store = self.registry.store
        rv = q.get("resourceVersion", "")
        bookmarks = _flag(q, "allowWatchBookmarks")
        initial = _flag(q, "sendInitialEvents") or rv in ("", "0")
        timeout = float(_int(q, "timeoutSeconds")) or DEFAULT_WATCH_TIMEOUT
        ns_key = namespace if rt.namespaced else None
        start = time.monotonic()
        with store.locked():
            if initial:
                entries, head_rv = store.entries(rt.key, ns_key)
                cursor, _ = store.head()
                backlog = [line("ADDED", e) for e in entries if match(e.obj)]
            else:
                try:
                    cursor = store.cursor_after(int(rv))
                except ValueError:
                    backlog, cursor = [_error_line(errors.bad_request(f"invalid resourceVersion {rv!r}"))], -1
                except Expired as exc:
                    backlog, cursor = [_error_line(errors.gone(str(exc)))], -1
                else:
                    backlog = []
                head_rv = store.resource_version
        yield from backlog
        if cursor < 0:
            return
        if initial and _flag(q, "sendInitialEvents") and bookmarks:
            yield self._bookmark(rt, head_rv, initial_end=True)
        last_bookmark = time.monotonic()
        while not self.stopping.is_set() and not store.closed:
            now = time.monotonic()
            remaining = start + timeout - now
            if remaining <= 0:
                break
            wait = min(remaining, 1.0, max(0.0, last_bookmark + self.bookmark_interval - now) if bookmarks else 1.0)
            try:
                events, cursor, head_rv = store.wait(cursor, wait, rt.key)
            except Expired as exc:
                yield _error_line(errors.gone(str(exc)))
                return
            sent = False
            for ev in events:
                if ev.rkey != rt.key:
                    continue
                obj = ev.entry.obj
                if ns_key is not None and obj["metadata"].get("namespace") != ns_key:
                    continue
                kind = _event_type(ev.type, match(obj), ev.prev is not None and match(ev.prev))
                if kind:
                    sent = True
                    yield line(kind, ev.entry)
            if bookmarks and time.monotonic() - last_bookmark >= self.bookmark_interval:
                sent = True
                yield self._bookmark(rt, head_rv)
                last_bookmark = time.monotonic()
            if not sent:
                yield b""  # heartbeat: lets the transport notice a client that went away

    @staticmethod
    def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
        meta: Json = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            encode({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}})
            + b"\n"
        )


def _event_type(stored: str, matches_now: bool, matched_before: bool) -> str | None:
    # A selector watch sees an object enter (ADDED) or leave (DELETED) the selection, as kube-apiserver reports.
    if stored == "ADDED":
        return "ADDED" if matches_now else None
    if stored == "DELETED":
        return "DELETED" if matched_before else None
    if matches_now and matched_before:
        return "MODIFIED"
    if matches_now:
        return "ADDED"
    if matched_before:
        return "DELETED"
    return None


def _error_line(err: errors.ApiError) -> bytes:
    return encode({"type": "ERROR", "object": err.to_status()}) + b"\n"
