"""HTTP server of one simulated site: a read-only Kubernetes API, /metrics and /control.

* ``/api``, ``/apis``, ``/version`` and the resource paths of :mod:`.resources`
  (``/api/v1/namespaces/{ns}/pods``, ``/apis/apps/v1/namespaces/{ns}/deployments/{name}``,
  ``/apis/configsync.gke.io/v1beta1/namespaces/config-management-system/rootsyncs/root-sync``,
  ``/apis/o2ims.provisioning.oran.org/v1alpha1/provisioningrequests/{name}`` ...): GET only, with
  ``labelSelector``; bearer token required; errors are Kubernetes ``Status`` objects. The one
  change accepted is a rollout restart of Config Sync's reconciler, exactly as ``kubectl rollout
  restart deployment root-reconciler -n config-management-system`` sends it: ``PATCH`` of
  ``/apis/apps/v1/namespaces/config-management-system/deployments/root-reconciler`` (strategic
  merge or merge patch) setting only ``spec.template.metadata.annotations
  ["kubectl.kubernetes.io/restartedAt"]``; the simulated reconciler then restarts and re-syncs.
* ``/metrics``: Prometheus exposition of the load model (no token, as kubelet metrics on loopback).
* ``/control/faults/{namespace}`` (PUT a fault, DELETE it), ``/control/faults`` (GET),
  ``/control/sync`` (POST ``{"paused": bool}`` or ``{"force": true}``): control token required.
* ``/healthz``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from include.serving import BackgroundHTTPServer

from .configsync import RECONCILER_NAME, RESTARTED_AT, ROOTSYNC_NAME, ROOTSYNC_NAMESPACE, Syncer
from .faults import Fault, Faults
from .loadmodel import LoadModel
from .metrics import exposition
from .resources import BY_PLURAL, TYPES, ResourceType
from .store import Store

log = logging.getLogger(__name__)
MAX_CONTROL_BODY = 16 * 1024
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_GROUPS = sorted({(t.group, t.version) for t in TYPES if t.group})


class SiteServer(BackgroundHTTPServer):
    """Serves one simulated site."""

    thread_name = "edgesim-http"

    def __init__(
        self,
        store: Store,
        syncer: Syncer,
        faults: Faults,
        model: LoadModel,
        *,
        api_token: str,
        control_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store, self.syncer, self.faults, self.model = store, syncer, faults, model
        self.api_token, self.control_token = api_token, control_token
        super().__init__((host, port), _Handler)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server: SiteServer
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)

    # -- replies ---------------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, document: Any) -> None:
        self._send(code, json.dumps(document).encode(), "application/json")

    def _error(self, code: int, reason: str, message: str) -> None:
        self._json(code, _status(code, reason, message))

    def _authorised(self, token: str) -> bool:
        header = self.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        return bool(given) and hmac.compare_digest(given.encode(), token.encode())

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_CONTROL_BODY:
            raise ValueError(f"body larger than {MAX_CONTROL_BODY} bytes")
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}")

    # -- verbs -----------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok", "text/plain")
        elif path == "/metrics":
            self._send(200, exposition(self.server.model), "text/plain; version=0.0.4; charset=utf-8")
        elif path.startswith("/control"):
            self._control("GET", path)
        elif not self._authorised(self.server.api_token):
            self._error(401, "Unauthorized", "Unauthorized")
        else:
            self._kubernetes(path, parse_qs(urlsplit(self.path).query))

    def do_PUT(self) -> None:  # noqa: N802
        self._mutating("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._mutating("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._mutating("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._mutating("PATCH")

    def _mutating(self, verb: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path.startswith("/control"):
            self._control(verb, path)
        elif not self._authorised(self.server.api_token):
            self._error(401, "Unauthorized", "Unauthorized")
        elif verb == "PATCH" and path == RECONCILER_PATH:
            self._restart_reconciler()
        else:
            self._error(
                405,
                "MethodNotAllowed",
                "the edge-site simulator serves a read-only API; changes come from the site's Git repository",
            )

    def _restart_reconciler(self) -> None:
        try:
            body = self._body()  # read first: the connection is kept alive for the next request
        except (ValueError, json.JSONDecodeError) as exc:
            self._error(400, "BadRequest", f"invalid patch: {exc}")
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
            self._error(
                415,
                "UnsupportedMediaType",
                f"send a strategic merge or merge patch of the reconciler, not {content_type!r}",
            )
            return
        annotations = (
            ((((body or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
                "annotations"
            )
            if isinstance(body, dict)
            else None
        )
        restarted_at = annotations.get(RESTARTED_AT) if isinstance(annotations, dict) else None
        expected = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}
        if (
            not isinstance(restarted_at, str)
            or not restarted_at
            or len(restarted_at) > 64
            or body != expected
        ):
            self._error(
                422,
                "Invalid",
                f"the edge-site simulator accepts only a rollout restart of {RECONCILER_NAME}: a patch "
                f"setting spec.template.metadata.annotations[{RESTARTED_AT!r}] and nothing else",
            )
            return
        self.server.syncer.restart(restarted_at)
        log.info("%s restarted (rollout restart at %s)", RECONCILER_NAME, restarted_at)
        self._json(200, self.server.syncer.reconciler_deployment())

    # -- control ---------------------------------------------------------------------------------

    def _control(self, verb: str, path: str) -> None:
        if not self._authorised(self.server.control_token):
            self._json(401, {"error": "the control API needs the simulator's control token"})
            return
        server = self.server
        try:
            if path == "/control/faults" and verb == "GET":
                self._json(200, server.faults.as_json())
            elif path.startswith("/control/faults/") and verb in ("PUT", "POST", "DELETE"):
                namespace = path.removeprefix("/control/faults/")
                if not _NAME.fullmatch(namespace):
                    self._json(400, {"error": f"namespace {namespace!r} is not a valid name"})
                    return
                if verb == "DELETE":
                    cleared = server.faults.clear(namespace)
                    server.store.crash_looping = server.faults.crash_looping()
                    self._json(200, {"namespace": namespace, "cleared": cleared})
                    return
                fault = Fault.from_json(self._body())
                server.faults.set(namespace, fault)
                server.store.crash_looping = server.faults.crash_looping()
                self._json(200, {"namespace": namespace, "fault": fault.as_json()})
            elif path == "/control/sync" and verb == "POST":
                body = self._body()
                if not isinstance(body, dict) or set(body) - {"paused", "force"}:
                    self._json(400, {"error": 'send {"paused": true|false} or {"force": true}'})
                    return
                if isinstance(body.get("paused"), bool):
                    server.syncer.paused = body["paused"]
                if body.get("force") is True:
                    server.syncer.force()
                self._json(200, {"paused": server.syncer.paused})
            else:
                self._json(404, {"error": f"no control {verb} {path}"})
        except (ValueError, json.JSONDecodeError) as exc:
            self._json(400, {"error": str(exc)})

    # -- Kubernetes API --------------------------------------------------------------------------

    def _kubernetes(self, path: str, query: dict[str, list[str]]) -> None:
        if "true" in query.get("watch", []):
            self._error(400, "BadRequest", "watch is not supported by the edge-site simulator")
            return
        if path == "/version":
            self._json(
                200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-edgesim", "platform": "linux/amd64"}
            )
            return
        if path == "/api":
            self._json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
            return
        if path == "/apis":
            groups = [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in _GROUPS
            ]
            self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            return
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            self._error(404, "NotFound", f"the server could not find the requested resource ({path})")
            return
        if not rest:
            self._discovery(group, version)
            return
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        rtype = BY_PLURAL.get((group, version, rest[0]))
        if rtype is None or len(rest) > 2:
            self._error(404, "NotFound", f"the server could not find the requested resource ({path})")
            return
        name = rest[1] if len(rest) == 2 else None
        if namespace is not None and not rtype.namespaced:
            self._error(404, "NotFound", f"{rtype.plural} are cluster-scoped")
            return
        if name is None:
            self._list(rtype, namespace, (query.get("labelSelector") or [""])[0])
        else:
            self._get(rtype, namespace, name)

    def _objects(self, rtype: ResourceType, namespace: str | None) -> list[dict[str, Any]]:
        if rtype.kind == "RootSync":
            if namespace in (None, ROOTSYNC_NAMESPACE):
                return [self.server.syncer.rootsync()]
            return []
        found = self.server.store.list(rtype.api_version, rtype.kind, namespace if rtype.namespaced else None)
        if rtype.kind == "Deployment" and namespace in (None, ROOTSYNC_NAMESPACE):
            found = [self.server.syncer.reconciler_deployment(), *found]
        return found

    def _get(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        found = next((o for o in self._objects(rtype, namespace) if o["metadata"]["name"] == name), None)
        if found is None:
            resource = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
            self._error(404, "NotFound", f'{resource} "{name}" not found')
            return
        self._json(200, {**found, "apiVersion": rtype.api_version, "kind": rtype.kind})

    def _list(self, rtype: ResourceType, namespace: str | None, selector: str) -> None:
        items = [
            o
            for o in self._objects(rtype, namespace)
            if _matches((o.get("metadata") or {}).get("labels") or {}, selector)
        ]
        self._json(
            200,
            {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": "1"},
                "items": items,
            },
        )

    def _discovery(self, group: str, version: str) -> None:
        resources = [
            {
                "name": t.plural,
                "singularName": t.kind.lower(),
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "list", "patch"] if t.kind == "Deployment" else ["get", "list"],
            }
            for t in TYPES
            if (t.group, t.version) == (group, version)
        ]
        if not resources:
            self._error(
                404, "NotFound", f"the server could not find the requested resource ({group}/{version})"
            )
            return
        self._json(
            200,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            },
        )


ROOTSYNC_PATH = f"/apis/configsync.gke.io/v1beta1/namespaces/{ROOTSYNC_NAMESPACE}/rootsyncs/{ROOTSYNC_NAME}"
RECONCILER_PATH = f"/apis/apps/v1/namespaces/{ROOTSYNC_NAMESPACE}/deployments/{RECONCILER_NAME}"
