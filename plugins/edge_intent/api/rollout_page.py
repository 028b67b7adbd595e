"""``/edge-intent/rollout``: the Rollout page of a pipeline run, a tab of the run in Airflow's UI.

The plugin declares it as an external view of destination ``dag_run`` (see :data:`EXTERNAL_VIEW`):
the UI puts the run's ids into the href's ``{DAG_ID}`` and ``{RUN_ID}`` and embeds the page in a
same-origin iframe, so the UI's ``_token`` cookie authenticates it (a bearer token works too).

* ``GET /{dag_id}/{run_id}``: a self-contained HTML page (inline CSS and JS, nothing external)
  showing the run's rollout record as a sites x waves grid; it reads ``.../data`` and reads it again
  every 2 s while the rollout is live, and stops once it is done;
* ``GET /{dag_id}/{run_id}/data``: ``{"dagId", "runId", "run", "live", "rollout"}`` where ``rollout``
  is :func:`edge_intent.api.rollout_view.view` of the run; a TMF921 ``Error`` with 404 when the run
  is unknown, is not an ``intent_pipeline`` run, or planned no rollout (yet: ``live`` says whether
  it may still).

Both need an authenticated user allowed to read the DAG's runs (a 401 without a login, 403
without the permission). The page escapes what the server writes into it and renders the data
with DOM text nodes only; a Content-Security-Policy with a per-response nonce backs that up.
"""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select

from edge_intent.api import records, rollout_view
from edge_intent.api.errors import ApiError, install_error_handlers
from include.lifecycle import Dag

PREFIX = "/edge-intent/rollout"
REFRESH_SECONDS = 2
_SLOT = re.compile(r"__(NONCE|REFRESH|DAG_ID|RUN_ID)__")
LIVE_STATES = frozenset({"Progressing", "Stopped"})
"""Record states in which the page keeps refreshing (while the run is not finished either)."""

EXTERNAL_VIEW: dict[str, Any] = {
    "name": "Rollout",
    "href": f"{PREFIX}/{{DAG_ID}}/{{RUN_ID}}",
    "destination": "dag_run",
    "url_route": "rollout",
    "icon": "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
    "<g fill='%2300a3e0'><rect x='1' y='2' width='4' height='4'/><rect x='6' y='6' width='4' height='4'/>"
    "<rect x='11' y='10' width='4' height='4'/></g></svg>",
}
"""The plugin's ``external_views`` entry: a "Rollout" tab on every DAG run's page (other DAGs' runs
show that they have no rollout)."""

may_read_runs = requires_access_dag("GET", DagAccessEntity.RUN)  # the path's dag_id

rollout_app = FastAPI(
    title="edge-intent: Rollout page",
    description=__doc__,
    dependencies=[Depends(may_read_runs)],
)
install_error_handlers(rollout_app)


def live(run: records.RunRecord, rollout: dict[str, Any] | None) -> bool:
    """Whether the page should read the run again: it has not finished, and its rollout (if it has
    one yet) is Progressing or Stopped (rolling back)."""
    return run.state in records.RUN_ACTIVE and (rollout is None or rollout.get("state") in LIVE_STATES)


def _record(session: Any, dag_id: str, run_id: str) -> records.RunRecord:
    from airflow.models.dagrun import DagRun

    if dag_id != Dag.PIPELINE:
        raise ApiError.field(
            404, "no rollout", "dagId", f"only {Dag.PIPELINE} runs roll out; {dag_id!r} does not"
        )
    row = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    if row is None:
        raise ApiError.field(404, "run not found", "runId", f"no run {run_id!r} of {dag_id} is recorded")
    return records.load(session, [row])[0]


@rollout_app.get("/{dag_id}/{run_id}/data")
def rollout_data(dag_id: str, run_id: str, session: SessionDep) -> JSONResponse:
    """The run's rollout record as it is now, and whether it is still live."""
    run = _record(session, dag_id, run_id)
    rollout = rollout_view.view(run)
    if rollout is None:
        waiting = live(run, None)
        why = f"run {run_id!r} planned no rollout" + (" yet" if waiting else "")
        raise ApiError(
            404,
            "no rollout",
            [{"field": "runId", "reason": why}],
            extra={"run": run.summary(), "live": waiting},
        )
    body = {"dagId": dag_id, "runId": run_id, "run": run.summary(), "live": live(run, rollout)}
    return JSONResponse({**body, "rollout": rollout}, headers={"Cache-Control": "no-store"})


@rollout_app.get("/{dag_id}/{run_id}", response_class=HTMLResponse)
def rollout_page(dag_id: str, run_id: str) -> HTMLResponse:
    """The page; it reads its data itself (``./data`` beside its own URL)."""
    nonce = secrets.token_urlsafe(18)
    values = {
        "NONCE": nonce,
        "REFRESH": str(REFRESH_SECONDS * 1000),
        "DAG_ID": html.escape(dag_id, quote=True),
        "RUN_ID": html.escape(run_id, quote=True),
    }
    page = _SLOT.sub(lambda m: values[m.group(1)], PAGE)  # one pass: a value is never read as a slot
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'self'"
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(page, headers=headers)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rollout of __RUN_ID__</title>
<style nonce="__NONCE__">
:root { color-scheme: light dark; --fg:#1a202c; --bg:#fff; --muted:#718096; --line:#e2e8f0; --cell:#f7fafc; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#e2e8f0; --bg:#1a202c; --muted:#a0aec0; --line:#4a5568; --cell:#2d3748; }
}
body { font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 12px; }
h1 { font-size: 16px; margin: 0 0 8px; word-break: break-all; }
.muted { color: var(--muted); }
dl#summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-word; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 6px 8px; vertical-align: top; text-align: left; }
thead th { background: var(--cell); min-width: 150px; }
td.empty { color: var(--muted); text-align: center; }
td.cell div { margin: 2px 0; word-break: break-word; max-width: 260px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-weight: 600; font-size: 12px;
  background: #cbd5e0; color: #1a202c; }
.badge[data-state=passed], .badge[data-state=Succeeded] { background: #38a169; color: #fff; }
.badge[data-state=failed], .badge[data-state=Failed], .badge[data-state=Rejected] { background: #e53e3e; }
.badge[data-state=reverted], .badge[data-state=RolledBack] { background: #dd6b20; color: #fff; }
.badge[data-state=in_progress], .badge[data-state=Progressing] { background: #3182ce; color: #fff; }
.badge[data-state=AwaitingApproval], .badge[data-state=Stopped] { background: #d69e2e; color: #fff; }
.badge[data-state=failed], .badge[data-state=Failed], .badge[data-state=Rejected] { color: #fff; }
.slo[data-result=pass] { color: #38a169; } .slo[data-result=breach] { color: #e53e3e; font-weight: 600; }
.failure { color: #e53e3e; } .revert { color: #dd6b20; }
code { font-size: 12px; }
#status[data-refresh=on]::before { content: "\\25CF  "; color: #3182ce; }
#error { color: #e53e3e; font-weight: 600; }
</style></head>
<body data-refresh="on" data-fetches="0">
<h1>Rollout <span class="muted">of</span> <span id="run-id">__RUN_ID__</span>
<span class="muted">(__DAG_ID__)</span></h1>
<p id="status" data-refresh="on">Loading&hellip;</p>
<p id="error" hidden></p>
<dl id="summary"></dl>
<table id="grid"><thead></thead><tbody></tbody></table>
<p id="untouched"></p>
<script nonce="__NONCE__">
"use strict";
const REFRESH = __REFRESH__;
const DATA = location.pathname.replace(/\\/+$/, "") + "/data";
const MAX_FAILURES = 30;  // server or network errors in a row before the page gives up
let fetches = 0, failures = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== "") node.append(c instanceof Node ? c : String(c));
  }
  return node;
}
const text = v => (v === null || v === undefined) ? ""
  : (typeof v === "object" ? JSON.stringify(v) : String(v));
const when = t => (typeof t === "number" && t > 0)
  ? new Date(t * 1000).toISOString().replace(/\\.\\d+Z$/, "Z") : text(t);
const badge = (state, cls) =>
  el("span", {class: "badge " + (cls || ""), "data-state": text(state)}, text(state));
const short = sha => text(sha).slice(0, 8);

function approval(a) {
  if (!a || !a.required) return "no approval needed";
  if (!a.decision) return "approval required";
  return [text(a.decision), a.by && `by ${text(a.by)}`, a.at && `at ${text(a.at)}`].filter(Boolean).join(" ");
}

function summary(d) {
  const r = d.rollout || {}, run = d.run || {}, dl = document.getElementById("summary");
  const rows = [
    ["Intent", text(r.intentId)],
    ["Run", `${text(run.state)} (${text(run.phase)})`],
    ["Rollout", badge(r.state, "record-state")],
    ["Type", text(r.type)],
    ["Failures", `${text(r.failures)} / ${text(r.maxFailures)} allowed`],
  ];
  if (r.stopped) rows.push(["Stopped", `wave ${text(r.stopped.wave)}: ${text(r.stopped.reason)}`]);
  for (const w of r.waves || []) if (w.approval && w.approval.required)
    rows.push([`Approval, wave ${text(w.index)}`, approval(w.approval)]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {"data-key": k}, v)]));
}

function cell(site, w, o, reverts) {
  const td = el("td", {class: "cell", "data-site": site, "data-wave": w.index, "data-state": text(o.state)});
  td.append(el("div", {}, badge(o.state, "site-state")));
  if (o.slo) td.append(el("div", {class: "slo", "data-result": text(o.slo.result)},
    `SLO ${text(o.slo.result)}`, o.slo.trigger ? `: ${text(o.slo.trigger)}` : ""));
  if (o.commit) td.append(el("div", {class: "commit"}, "commit ",
    el("code", {title: text(o.commit)}, short(o.commit))));
  if (o.failure) td.append(el("div", {class: "failure"},
    `${text(o.failure.phase)}: ${text(o.failure.reason)}`));
  const rv = o.revert || reverts[site];
  if (rv) td.append(el("div", {class: "revert"}, rv.error ? `revert failed: ${text(rv.error)}` :
    `reverted by ${short(rv.commit)}${rv.restoredAt ? ", restored " + when(rv.restoredAt) : ""}`));
  const tasks = Object.entries(o.tasks || {});
  if (tasks.length && o.state !== "passed") td.append(el("div", {class: "tasks muted"},
    tasks.map(([t, s]) => `${t}: ${text(s)}`).join(", ")));
  return td;
}

function grid(d) {
  const r = d.rollout || {}, waves = r.waves || [], reverts = r.reverts || {}, sites = [];
  for (const w of waves) for (const s of Object.keys(w.sites || {})) if (!sites.includes(s)) sites.push(s);
  const head = el("tr", {}, el("th", {}, "site \\\\ wave"));
  for (const w of waves) head.append(el("th", {"data-wave": w.index, "data-state": text(w.state)},
    el("div", {class: "wave-name"}, `${text(w.index)}. ${text(w.name)}`),
    el("div", {}, badge(w.state, "wave-state")),
    el("div", {class: "muted"}, `groups: ${(w.groups || []).map(text).join(", ")}`),
    el("div", {class: "muted approval"}, approval(w.approval))));
  const rows = sites.map(site => el("tr", {"data-site": site}, el("th", {}, site),
    ...waves.map(w => (w.sites || {})[site]
      ? cell(site, w, w.sites[site], reverts) : el("td", {class: "empty"}, "\\u2014"))));
  document.querySelector("#grid thead").replaceChildren(head);
  document.querySelector("#grid tbody").replaceChildren(...rows);
  const never = r.untouched || [];
  document.getElementById("untouched").replaceChildren(
    el("span", {class: "muted"}, "Never touched: "),
    el("span", {id: "untouched-sites"}, never.length ? never.join(", ") : "none"));
}

function status(liveNow, message) {
  const s = document.getElementById("status"), on = liveNow ? "on" : "off";
  s.dataset.refresh = on; document.body.dataset.refresh = on;
  s.textContent = message
    + (liveNow ? ` \\u2014 refreshing every ${REFRESH / 1000} s` : " \\u2014 not refreshing");
}

function problem(message) {
  const e = document.getElementById("error");
  e.hidden = !message; e.textContent = message || "";
}

async function load() {
  let again = false;
  fetches += 1; document.body.dataset.fetches = String(fetches);
  try {
    const reply = await fetch(DATA,
      {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}});
    const d = await reply.json().catch(() => ({}));
    if (reply.ok) {
      failures = 0; problem(""); summary(d); grid(d); again = !!d.live;
      status(again, `Rollout ${text(d.rollout.state)}, run ${text(d.run.state)}`);
    } else if (reply.status >= 500) {
      throw new Error(`${reply.status} ${reply.statusText}`);
    } else {
      again = reply.status === 404 && !!d.live;
      problem(`${reply.status}: ${text(d.message || d.reason || d.detail || reply.statusText)}`);
      status(again, again ? "Waiting for the rollout plan" : "No rollout to show");
    }
  } catch (err) {  // the server or the network failed: try again a while if the rollout was live
    failures += 1;
    again = document.body.dataset.refresh === "on" && failures < MAX_FAILURES;
    problem(`cannot read the rollout (${failures} in a row): ${text(err && err.message)}`);
    status(again, "Reading failed");
  }
  if (again) setTimeout(load, REFRESH);
}
load();
</script>
</body></html>
"""
