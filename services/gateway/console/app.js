// The MaaS web console: a small Preact + htm app over the gateway's REST twin (same origin).
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
// First: the API layer is evaluated before the pages that import it (through app.js) are.
import { apiKey, api, ApiError, authHeaders, connection, CSRF, KEY, LOST, probe, readOnlyRole, session, watchLines, WHO } from "./api.js";
import { BudgetBanner, Invoices, Usage } from "./billing.js";
import { Admin, detectAdmin, FailureNotice, failureText, forgetAdmin, isAdmin, VersionActions } from "./manage.js";
import { Predict } from "./predict.js";

export const html = htm.bind(h);

// The pages import the API layer from here too (they import the shared components from app.js).
export { ApiError, api, apiBlob, authHeaders, readOnlyRole, watchLines } from "./api.js";

// ---- connection: re-render when the API is lost or back -----------------------------------

function useConnection() {
  const [, tick] = useState(0);
  useEffect(() => {
    const listener = () => tick((n) => n + 1);
    connection.listeners.add(listener);
    return () => connection.listeners.delete(listener);
  }, []);
  return connection;
}

function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

// CreateDataset is a client stream: its REST body is one JSON message per line (header, then chunks).
function datasetFormat(fileName) {
  const name = fileName.toLowerCase();
  if (name.endsWith(".npz")) return "DATASET_FORMAT_NPZ";
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "DATASET_FORMAT_JSONL";
  if (/\.(zip|tar|tgz|tar\.gz)$/.test(name)) return "DATASET_FORMAT_ARCHIVE";
  return "DATASET_FORMAT_CSV";
}

async function uploadDataset(file, datasetId, onProgress, textCsv) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const header = { datasetId, format: datasetFormat(file.name) };
  if (textCsv && header.format === "DATASET_FORMAT_CSV") header.kind = "DATASET_KIND_TEXT";
  if (crypto.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    header.sha256 = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  return postChunks("/v1/datasets", header, bytes, onProgress);
}

// A client-streaming upload over the REST twin: the header line, then the bytes as base64 chunks.
function postChunks(path, header, bytes, onProgress) {
  const lines = [JSON.stringify({ header })];
  for (let i = 0; i < bytes.length; i += 256 * 1024) lines.push(JSON.stringify({ chunk: base64(bytes.subarray(i, i + 256 * 1024)) }));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("content-type", "application/x-ndjson");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(503, "the upload was interrupted"));
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText || "{}"); } catch { data = { error: xhr.responseText }; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data.error, xhr.getResponseHeader("retry-after")));
    };
    xhr.send(lines.join("\n"));
  });
}

const sha256Hex = async (bytes) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
  .map((b) => b.toString(16).padStart(2, "0")).join("");

// Upload a model file as a new version and have inference validate it (signature derived,
// ops checked, warm-up); a resumable upload goes on from the bytes the registry already holds.
async function uploadModel(file, model, onProgress) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const header = { sizeBytes: String(bytes.length) };
  let offset = 0;
  if (crypto.subtle) {
    Object.assign(header, { sha256: await sha256Hex(bytes), resumable: true });
    offset = Number((await api("GET", `/v1/uploads/${header.sha256}`).catch(() => ({}))).receivedBytes || 0);
    header.offset = String(offset);
  }
  const artifact = await postChunks("/v1/artifacts", header, bytes.subarray(offset), onProgress);
  const version = await api("POST", `/v1/models/${model}/versions`, { body: { artifact: artifact.name } });
  await api("POST", `/v2/repository/models/${model}/load`, { body: { parameters: { version: String(version.version) } } });
  return api("GET", `/v1/models/${model}/versions/${version.version}`);
}

export const lastSegment = (name) => name.split("/").pop();
// A signature's tensors as read: "dense_input FP32 [-1, 64]; ..." (-1: any size, the batch).
const tensors = (list) => (list || []).map((t) => `${t.name} ${t.datatype} [${(t.shape || []).join(", ")}]`).join("; ");
// 1536 -> "1.5 KiB": byte counts in units a person reads.
export function bytes(value) {
  let n = Number(value) || 0, unit = 0;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
  return `${unit ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[unit]}`;
}
// Hyperparameters arrive JSON-encoded from protobuf doubles ("[32.0, 16.0]"): show them as written ("[32,16]").
function parameterText(value) {
  try { return JSON.stringify(JSON.parse(value)); } catch { return value; }
}
const idFrom = (fileName) => (fileName || "").replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9-]/g, "-");

// ---- shared components ----------------------------------------------------------------------

export function ErrorBox({ error }) {
  if (!error || error.status === 0) return null;  // the connection banner says it, once
  const retry = error.retryAfter ? ` Retry in ${error.retryAfter} s.` : "";
  return html`<div class="error" role="alert" data-status=${error.status || ""}>
    <b>${error.title || "Error"}</b>${error.message}${retry}</div>`;
}

// Runs `load` on mount, when `deps` change and when the connection comes back; gives [data, error,
// reload]. A failed reload keeps what was shown (it is stale, the banner says so) rather than blanking it.
export function useLoad(load, deps = []) {
  const { generation } = useConnection();
  const [state, setState] = useState({ data: null, error: null });
  const reload = () => load().then((data) => setState({ data, error: null }), (error) => setState((old) => ({ data: old.data, error })));
  useEffect(() => { reload(); }, [...deps, generation]);
  return [state.data, state.error, reload];
}

// Signed in with a role that cannot do what a form or button does: why it is disabled, and whom to ask.
// (The API refuses it anyway; this says so before the click.) `cannot`: "train", "upload datasets"...
export function ReadOnlyNotice({ cannot }) {
  const role = readOnlyRole();
  return role ? html`<p class="notice" id="read-only">Signed in as ${role}: this role can read but not ${cannot}. Ask an owner of the tenant for the developer role.</p>` : null;
}
export const readOnlyTitle = (cannot) => (readOnlyRole() ? `Signed in as ${readOnlyRole()}: this role cannot ${cannot}` : undefined);

// `rows` null: not loaded (yet, or the load failed): nothing to say about emptiness.
export function Table({ columns, rows, empty = "Nothing here yet." }) {
  if (rows === null) return connection.online ? null : html`<p class="muted">Not loaded yet: waiting for the connection.</p>`;
  if (!rows || !rows.length) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${columns.map(([title]) => html`<th>${title}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr>${columns.map(([, cell]) => html`<td>${cell(row)}</td>`)}</tr>`)}</tbody></table>`;
}

// ---- pages -----------------------------------------------------------------------------------

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      // The operator's admin key opens the admin view; a tenant's key, the tenant's pages.
      if (!(await detectAdmin(key))) await api("GET", "/v1/models", { key, query: { page_size: 1 } });
      sessionStorage.setItem(KEY, key);
      onSignedIn();
    } catch (err) { setError(err); }
  };
  return html`<section class="card"><h1>Sign in</h1>
    <${ErrorBox} error=${error} />
    <form onSubmit=${submit}><label for="key">API key</label>
      <input id="key" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.target.value)} placeholder="maas_..." />
      <div><button type="submit">Sign in</button></div></form>
    <p class="muted">The key stays in this browser tab only (session storage).</p></section>
    <${AccountSignIn} onSignedIn=${onSignedIn} />`;
}

// Email and password: sign in, or register (with an invitation token, or on a deployment that lets
// anyone register) and then sign in. The session cookie is HttpOnly; the CSRF token stays in the tab.
function AccountSignIn({ onSignedIn }) {
  const [form, setForm] = useState({ email: "", password: "", invitationToken: "" });
  const [registering, setRegistering] = useState(false);
  const [error, setError] = useState(null);
  const field = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    try {
      if (registering) await api("POST", "/v1/accounts:register", { body: form });
      const signedIn = await api("POST", "/v1/sessions", { body: { email: form.email, password: form.password } });
      sessionStorage.removeItem(KEY);
      sessionStorage.setItem(CSRF, signedIn.csrfToken);
      sessionStorage.setItem(WHO, JSON.stringify({ email: signedIn.email, tenant: signedIn.tenant, role: signedIn.role }));
      onSignedIn();
    } catch (err) { setError(err); }
  };
  return html`<section class="card" id="account"><h2>${registering ? "Create an account" : "Sign in with email"}</h2>
    <${ErrorBox} error=${error} />
    <form onSubmit=${submit}>
      <label for="email">Email</label><input id="email" type="email" autocomplete="username" value=${form.email} onInput=${field("email")} />
      <label for="password">Password</label><input id="password" type="password" autocomplete=${registering ? "new-password" : "current-password"} value=${form.password} onInput=${field("password")} />
      ${registering && html`<label for="invitation">Invitation token (if you have one)</label>
        <input id="invitation" autocomplete="off" value=${form.invitationToken} onInput=${field("invitationToken")} placeholder="maas_i_..." />`}
      <div><button type="submit" id="account-submit">${registering ? "Register and sign in" : "Sign in"}</button>
        <button type="button" class="secondary" onClick=${() => setRegistering(!registering)}>${registering ? "I have an account" : "Create an account"}</button></div></form>
    <p class="muted">Passwords: 12 characters or more.</p></section>`;
}

// An owner's page: the tenant's API keys (created here, owned by the owner; the secret is shown
// once; each with a lifetime, rotated or revoked, revocation confirmed first) and invitations of
// members with a role (the token is passed on by hand). A key's last use (noted by the gateway and
// the services) is written every key_use_flush_seconds, so "just now" means within that.
const LIFETIMES = [["7", "7 days"], ["30", "30 days"], ["90", "90 days"], ["365", "1 year"], ["", "never"]];
const DAY_MS = 86_400_000;
const expiryFrom = (days) => (days ? new Date(Date.now() + Number(days) * DAY_MS).toISOString() : undefined);
const keyState = (k) => (k.revokeTime ? "revoked" : k.expireTime && Date.parse(k.expireTime) <= Date.now() ? "expired" : "active");
const day = (time) => (time ? time.slice(0, 10) : "");
const utcTime = (time) => `${new Date(time).toISOString().slice(0, 19).replace("T", " ")} UTC`;
const ago = (time) => {
  const minutes = Math.floor(Math.max(0, Date.now() - Date.parse(time)) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  return minutes < 1440 ? `${Math.floor(minutes / 60)} h ago` : `${Math.floor(minutes / 1440)} days ago`;
};
const lastUse = (k) => html`<span data-last-use=${lastSegment(k.name)} title=${k.lastUseTime ? utcTime(k.lastUseTime) : "no call with this key yet"}>${k.lastUseTime ? ago(k.lastUseTime) : "never"}</span>`;

// A change waiting to be confirmed, shown in place (a promotion, a key's revocation): what it does,
// then the button doing it (`confirm`: its class, text and action) and the one keeping things as they are.
const confirmation = (label, message, [confirmClass, confirmText, confirm], [keepText, keep]) =>
  html`<div class="confirm" role="alertdialog" aria-label=${label}><p>${message}</p>
    <button class=${confirmClass} onClick=${confirm}>${confirmText}</button>
    <button class="secondary" onClick=${keep}>${keepText}</button></div>`;

const ROLES = ["developer", "viewer", "billing", "owner"];
// A form's or button's work, its failure kept with `setFailure` (and cleared when it is tried again).
const acting = (setFailure) => (work) => async (e) => {
  e?.preventDefault();
  try { setFailure(null); await work(); } catch (err) { setFailure(err); }
};

// The tenant's members: a role changed in place, a member removed once confirmed. The API refuses
// what would leave the tenant no owner: its message shown. One's own row cannot be removed here.
function Members({ tenant }) {
  const [list, error, reload] = useLoad(() => api("GET", `/v1/${tenant}/members`), [tenant]);
  const [removing, setRemoving] = useState(null);
  const [failure, setFailure] = useState(null);
  const act = acting(setFailure);
  const change = (m, role) => act(async () => { try { await api("PATCH", `/v1/${m.name}`, { body: { role } }); } finally { reload(); } })();
  const remove = act(async () => { setRemoving(null); await api("DELETE", `/v1/${removing.name}`); reload(); });
  const me = session()?.email;
  return html`<h2>Members</h2><div id="members"><${ErrorBox} error=${error || failure} />
    ${list && html`<${Table} columns=${[["Email", (m) => m.email + (m.email === me ? " (you)" : "")], ["Member since", (m) => day(m.createTime)],
      ["Role", (m) => html`<select data-member-role=${m.email} aria-label=${`role of ${m.email}`} value=${m.role}
        onChange=${(e) => change(m, e.target.value)}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>`],
      ["", (m) => (m.email === me ? "" : html`<button class="secondary" data-remove=${m.email} onClick=${() => setRemoving(m)}
        aria-label=${`remove ${m.email}`}>Remove</button>`)]]} rows=${list.members || []} />`}
    ${removing && confirmation("confirm removal",
      html`Remove ${removing.email} (${removing.role}): their sessions here end and the API keys they created are revoked.`,
      ["confirm-remove", "Remove the member", remove], ["Keep the member", () => setRemoving(null)])}</div>`;
}

function Keys() {
  const tenant = session()?.tenant;
  const [keys, error, reload] = useLoad(() => api("GET", `/v1/${tenant}/apiKeys`), [tenant]);
  const [made, setMade] = useState(null);  // { key, replaces }: the new secret, shown once
  const [invited, setInvited] = useState(null);
  const [failure, setFailure] = useState(null);
  const [revoking, setRevoking] = useState(null);  // the key whose revocation waits to be confirmed
  const [form, setForm] = useState({ displayName: "", scopes: ["SCOPE_READ", "SCOPE_PREDICT", "SCOPE_TRAIN"], lifetime: "90", role: "developer" });
  const act = acting(setFailure);
  const make = (displayName, scopes, expireTime) => api("POST", `/v1/${tenant}/apiKeys`, { body: { displayName, scopes, expireTime } });
  const create = act(async () => {
    setMade({ key: await make(form.displayName, form.scopes, expiryFrom(form.lifetime)) });
    reload();
  });
  const revoke = (name) => act(async () => { setRevoking(null); await api("POST", `/v1/${name}:revoke`, { body: {} }); reload(); });
  // Rotate: a new key with the old one's name, scopes and lifetime; its secret shown once; then the
  // old one revoked (only once the new one exists, so a failure leaves the old one working).
  const rotate = (k) => act(async () => {
    const lifetime = k.expireTime && k.createTime ? Date.parse(k.expireTime) - Date.parse(k.createTime) : 0;
    const key = await make(k.displayName, k.scopes, lifetime > 0 ? new Date(Date.now() + lifetime).toISOString() : undefined);
    setMade({ key, replaces: k });
    await api("POST", `/v1/${k.name}:revoke`, { body: {} });
    reload();
  });
  const invite = act(async () => setInvited(await api("POST", `/v1/${tenant}/invitations`, { body: { role: form.role } })));
  const toggle = (scope) => setForm({ ...form, scopes: form.scopes.includes(scope) ? form.scopes.filter((s) => s !== scope) : [...form.scopes, scope] });
  const id = (k) => lastSegment(k.name);
  return html`<h1>Keys and members</h1><section class="card"><${ErrorBox} error=${error || failure} />
    <h2>API keys of ${tenant}</h2>
    ${keys && html`<${Table} columns=${[["Name", (k) => k.displayName || k.name], ["Prefix", (k) => html`<code>${k.prefix}</code>`],
      ["Scopes", (k) => (k.scopes || []).map((s) => s.replace("SCOPE_", "").toLowerCase()).join(", ")],
      ["Created", (k) => day(k.createTime)], ["Expires", (k) => (k.expireTime ? day(k.expireTime) : "never")], ["Last used", lastUse],
      ["Created by", (k) => k.owner || "operator"],
      ["State", (k) => html`<span class=${keyState(k) === "active" ? "" : "bad"} data-key-state=${id(k)}>${keyState(k)}</span>`],
      ["", (k) => (k.revokeTime ? "" : html`<div class="actions">
        <button class="secondary" data-rotate=${id(k)} onClick=${rotate(k)} aria-label=${`rotate ${k.displayName || id(k)}`}>Rotate</button>
        <button class="secondary" data-revoke=${id(k)} onClick=${() => setRevoking(k)} aria-label=${`revoke ${k.displayName || id(k)}`}>Revoke</button></div>`)]]}
      rows=${keys.apiKeys || []} />`}
    ${revoking && confirmation("confirm revocation",
      html`Revoke <code>${revoking.prefix}...</code> (${revoking.displayName || id(revoking)}): every program using it is refused within seconds, and it cannot be undone.`,
      ["confirm-revoke", "Revoke the key", revoke(revoking.name)], ["Keep the key", () => setRevoking(null)])}
    <form onSubmit=${create} id="new-key"><div class="grid">
      <div><label for="key-name">New key for</label>
        <input id="key-name" value=${form.displayName} onInput=${(e) => setForm({ ...form, displayName: e.target.value })} placeholder="what the key is for" /></div>
      <div><label for="key-expiry">Expires after</label><select id="key-expiry" value=${form.lifetime} onChange=${(e) => setForm({ ...form, lifetime: e.target.value })}>
        ${LIFETIMES.map(([days, text]) => html`<option value=${days}>${text}</option>`)}</select></div></div>
      <div class="checks">${["SCOPE_READ", "SCOPE_PREDICT", "SCOPE_TRAIN"].map((s) => html`<label><input type="checkbox" checked=${form.scopes.includes(s)} onChange=${() => toggle(s)} /> ${s.replace("SCOPE_", "").toLowerCase()}</label>`)}</div>
      <div><button type="submit">Create key</button></div></form>
    ${made && html`<p id="secret" data-key=${id(made.key.apiKey)}>Secret of ${made.key.apiKey.name}${made.replaces ? ` (replaces ${made.replaces.prefix}..., now revoked)` : ""}${made.key.apiKey.expireTime ? `, expires ${day(made.key.apiKey.expireTime)}` : ", never expires"} (shown only now): <code>${made.key.secret}</code></p>`}
    <${Members} tenant=${tenant} />
    <h2>Invite a member</h2>
    <form onSubmit=${invite} id="invite"><label for="role">Role</label>
      <select id="role" value=${form.role} onChange=${(e) => setForm({ ...form, role: e.target.value })}>
        ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>
      <div><button type="submit">Create invitation</button></div></form>
    ${invited && html`<p id="invitation-token">Invitation (${invited.role}, shown only now): <code>${invited.token}</code></p>`}</section>`;
}

function Columns({ dataset }) {
  return html`<${Table} columns=${[["Column", (c) => c.name], ["Type", (c) => c.datatype], ["Shape", (c) => (c.shape || []).join(" x ")]]}
    rows=${dataset.columns} />`;
}

const kindName = (d) => (d.kind || "DATASET_KIND_TABULAR").replace("DATASET_KIND_", "").toLowerCase();

// What the registry recorded about an image or text dataset: classes, sizes, samples, left-out files.
function DatasetProfile({ dataset }) {
  if (!dataset.classes?.length) return html`<h2>Schema</h2><${Columns} dataset=${dataset} />`;
  const image = dataset.imageStats, text = dataset.textStats;
  return html`<div class="profile" data-dataset=${dataset.name}>
    <p>${kindName(dataset)} dataset: ${dataset.rowCount} examples in ${dataset.classes.length} classes${image
      ? `, images ${image.minWidth}x${image.minHeight} to ${image.maxWidth}x${image.maxHeight}, ${image.channels} channel(s)` : ""}${text
      ? `, texts of ${text.minChars} to ${text.maxChars} characters (mean ${Math.round(text.meanChars)})` : ""}.</p>
    <${Table} columns=${[["Class", (c) => c.name], ["Examples", (c) => c.count]]} rows=${dataset.classes} />
    <h2>Samples</h2><div class="samples">${(dataset.samples || []).map((s) => html`<figure class="sample">
      ${s.thumbnailPng ? html`<img alt=${s.file} src=${`data:image/png;base64,${s.thumbnailPng}`} />` : html`<blockquote>${s.text}</blockquote>`}
      <figcaption>${s.label}</figcaption></figure>`)}</div>
    ${Number(dataset.invalidCount || 0) > 0 && html`<h2>Left out (${dataset.invalidCount})</h2>
      <${Table} columns=${[["File or row", (e) => html`<code>${e.name}</code>`], ["Reason", (e) => e.reason]]} rows=${dataset.invalidExamples} />`}
  </div>`;
}

function Datasets() {
  const [list, listError, reload] = useLoad(() => api("GET", "/v1/datasets"));
  const [shown, setShown] = useState(null);
  const [textCsv, setTextCsv] = useState(false);
  const [file, setFile] = useState(null);
  const [datasetId, setDatasetId] = useState("");
  const [idEdited, setIdEdited] = useState(false);  // until the user types one, the id follows the file
  const [progress, setProgress] = useState(null);
  const [uploaded, setUploaded] = useState(null);
  const [error, setError] = useState(null);
  const upload = async (e) => {
    e.preventDefault();
    setError(null); setUploaded(null); setProgress(0);
    try {
      setUploaded(await uploadDataset(file, datasetId, setProgress, textCsv));
      reload();
    } catch (err) { setError(err); }
    setProgress(null);
  };
  return html`<h1>Datasets</h1>
    <section class="card"><h2>Upload</h2><${ErrorBox} error=${error} /><${ReadOnlyNotice} cannot="upload datasets" />
      <form onSubmit=${upload}>
        <label for="file">CSV (with a header row) or NPZ file; a zip or tar of images in class folders; a CSV or JSON lines of texts</label>
        <input id="file" type="file" accept=".csv,.npz,.zip,.tar,.tgz,.gz,.jsonl,.ndjson" onChange=${(e) => { setFile(e.target.files[0]); if (!idEdited) setDatasetId(idFrom(e.target.files[0]?.name)); }} />
        <label for="dataset-id">Dataset id</label>
        <input id="dataset-id" value=${datasetId} onInput=${(e) => { setDatasetId(e.target.value); setIdEdited(true); }} />
        <div class="checks"><label><input id="text-csv" type="checkbox" checked=${textCsv} onChange=${(e) => setTextCsv(e.target.checked)} />
          a CSV of texts (columns <code>text</code> and <code>label</code>)</label></div>
        <div><button type="submit" disabled=${!file || progress !== null || Boolean(readOnlyRole())} title=${readOnlyTitle("upload datasets")}>Upload</button></div>
        ${progress !== null && html`<div class="progress" aria-label="upload progress"><div style=${`width:${Math.round(progress * 100)}%`}></div></div>`}
      </form>
      ${uploaded && html`<div id="uploaded">${uploaded.unchanged
        ? html`<p class="muted" id="unchanged">Unchanged: this file is already <code>${uploaded.name}</code> (same sha256), so no new version was made.</p>`
        : html`<p class="ok">Uploaded <code>${uploaded.name}</code>: ${uploaded.rowCount} rows.</p>`}
        <${DatasetProfile} dataset=${uploaded} /></div>`}
    </section>
    <section class="card"><h2>Your datasets</h2><${ErrorBox} error=${listError} />
      <${Table} columns=${[["Name", (d) => html`<a href="#/datasets" class="show-dataset" onClick=${(e) => { e.preventDefault(); setShown(d); }}><code>${d.name}</code></a>`],
        ["Kind", kindName], ["Rows", (d) => d.rowCount], ["Columns or classes", (d) => d.classes?.length ? `${d.classes.length} classes` : d.columns.length],
        ["Size", (d) => bytes(d.sizeBytes)], ["Created", (d) => (d.createTime || "").slice(0, 19)]]} rows=${list ? list.datasets || [] : null} /></section>
    ${shown && html`<section class="card" id="dataset-detail"><h2><code>${shown.name}</code></h2><${DatasetProfile} dataset=${shown} /></section>`}`;
}

const TEMPLATES = ["mlp", "cnn", "logistic", "linear"];
const CLASSIFIER = { image: "image_classifier", text: "text_classifier" };

// The image and text templates' parameters the form offers; an empty field keeps the template's default.
function classifierParameters(template, form) {
  const set = (entries) => Object.fromEntries(entries.filter(([, v]) => v !== "" && v !== undefined));
  if (template === "image_classifier") return set([["image_size", form.imageSize && Number(form.imageSize)], ["augmentation", form.augmentation]]);
  if (template === "text_classifier") {
    return set([["encoder", form.encoder], ["sequence_length", form.sequenceLength && Number(form.sequenceLength)], ["max_tokens", form.maxTokens && Number(form.maxTokens)]]);
  }
  return null;
}

const CLONE = "maas.trainClone";  // session storage: the job whose spec the Train form opens with
const NEW_JOB = { dataset: "", label: "", features: [], template: "mlp", hidden: "64", epochs: 20, batch: 32, lr: 0.001, model: "", base: "", frozen: 2,
  imageSize: "", augmentation: true, encoder: "", sequenceLength: "", maxTokens: "" };

// The Train form's fields from a job's spec ("Clone and edit").
function formFromSpec(spec) {
  const hp = spec.hyperparameters || {}, data = spec.dataset || {}, p = spec.template?.parameters || {};
  const text = (v) => (v === undefined ? "" : String(v));
  return { ...NEW_JOB, dataset: data.dataset || "", label: data.labelColumn || "", features: data.featureColumns || [],
    template: spec.template?.name || NEW_JOB.template, hidden: Array.isArray(p.hidden_units) ? p.hidden_units.join(",") : NEW_JOB.hidden,
    imageSize: text(p.image_size), augmentation: p.augmentation ?? NEW_JOB.augmentation, encoder: text(p.encoder),
    sequenceLength: text(p.sequence_length), maxTokens: text(p.max_tokens),
    epochs: hp.epochs || NEW_JOB.epochs, batch: hp.batchSize || NEW_JOB.batch, lr: hp.learningRate || NEW_JOB.lr,
    model: lastSegment(spec.targetModel || ""), base: spec.baseModel?.modelVersion || "", frozen: spec.baseModel?.frozenEpochs ?? NEW_JOB.frozen };
}

function takeClone() {
  const text = sessionStorage.getItem(CLONE);
  sessionStorage.removeItem(CLONE);
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

function Train() {
  const [list, listError] = useLoad(() => api("GET", "/v1/datasets"));
  const [clone] = useState(takeClone);  // { from, spec } when opened by "Clone and edit"
  const [form, setForm] = useState(() => (clone ? formFromSpec(clone.spec) : NEW_JOB));
  // The target model follows the chosen dataset until the user types a name: switching datasets must
  // not train into the model named after the first one. A clone keeps its job's model.
  const [modelEdited, setModelEdited] = useState(Boolean(clone));
  const [error, setError] = useState(null);
  const datasets = list?.datasets || [];
  const dataset = datasets.find((d) => d.name === form.dataset);
  // A cloned spec without feature columns meant "all but the label": tick them once the dataset is known.
  useEffect(() => {
    if (dataset && !form.features.length && dataset.columns?.length) setForm({ ...form, features: dataset.columns.map((c) => c.name).filter((n) => n !== form.label) });
  }, [dataset?.name]);
  const set = (field) => (e) => setForm({ ...form, [field]: e.target.value });
  const pickDataset = (e) => {
    const chosen = datasets.find((d) => d.name === e.target.value);
    const names = (chosen?.columns || []).map((c) => c.name);
    const label = names.includes("label") ? "label" : names[names.length - 1] || "";
    const template = CLASSIFIER[chosen ? kindName(chosen) : ""] || (Object.values(CLASSIFIER).includes(form.template) ? "mlp" : form.template);
    setForm({ ...form, dataset: e.target.value, label, template, features: names.filter((n) => n !== label), model: modelEdited ? form.model : chosen?.datasetId || "" });
  };
  const labelled = dataset && CLASSIFIER[kindName(dataset)];
  const toggle = (name) => setForm({ ...form, features: form.features.includes(name) ? form.features.filter((n) => n !== name) : [...form.features, name] });
  // Every feature ticked goes as none, the trainer's "all but the label", so a spec says so plainly.
  const allTicked = dataset && dataset.columns?.every((c) => c.name === form.label || form.features.includes(c.name));
  // The target model's production version: a job whose inputs differ from it is flagged before it
  // is trained into that model (the registry takes it as a new version all the same).
  const [production] = useLoad(() => (form.model ? api("GET", `/v1/models/${form.model}/versions/production`).then((v) => ({ model: form.model, v }), () => null)
    : Promise.resolve(null)), [form.model]);
  const width = dataset && !labelled ? (allTicked ? dataset.columns.length - 1 : form.features.length) : 0;
  const mismatch = dataset && production?.model === form.model && signatureMismatch(production.v, labelled ? kindName(dataset) : width);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const parameters = classifierParameters(form.template, form) || (["mlp", "cnn"].includes(form.template)
      ? { hidden_units: form.hidden.split(",").map((v) => v.trim()).filter(Boolean).map(Number) } : {});
    // A clone keeps what the form does not show (optimizer, seed, early stopping, validation, other
    // template parameters); the form's fields replace the rest.
    const { template: clonedTemplate, baseModel: _base, kerasModelJson: _keras, ...kept } = clone?.spec || {};
    const spec = {
      ...kept,
      dataset: labelled ? { dataset: form.dataset } : { dataset: form.dataset, labelColumn: form.label, featureColumns: allTicked ? [] : form.features },
      hyperparameters: { ...kept.hyperparameters, epochs: Number(form.epochs), batchSize: Number(form.batch), learningRate: Number(form.lr) },
      targetModel: `models/${form.model}`,
    };
    // A registered image or text classifier to fine-tune replaces the template.
    if (labelled && form.base.trim()) spec.baseModel = { modelVersion: form.base.trim(), frozenEpochs: Number(form.frozen) };
    else spec.template = { name: form.template, parameters: { ...(clonedTemplate?.name === form.template ? clonedTemplate.parameters : {}), ...parameters } };
    try {
      const job = await api("POST", "/v1/trainingJobs", { body: { spec } });
      location.hash = `#/jobs/${lastSegment(job.name)}`;
    } catch (err) { setError(err); }
  };
  return html`<h1>New training job</h1><section class="card"><${ErrorBox} error=${error || listError} />
    ${clone && html`<p class="muted" id="cloned">A copy of job <a href=${`#/jobs/${clone.from}`}>${clone.from}</a>: edit what should change; its other settings (optimizer, seed, validation, early stopping) are kept.</p>`}
    <form onSubmit=${submit}><div class="grid">
      <div><label for="dataset">Dataset</label><select id="dataset" value=${form.dataset} onChange=${pickDataset}>
        <option value="">choose...</option>${datasets.map((d) => html`<option value=${d.name}>${d.name}</option>`)}</select></div>
      ${!labelled && html`<div><label for="label">Label column</label><select id="label" value=${form.label} onChange=${(e) => setForm({ ...form, label: e.target.value, features: form.features.filter((n) => n !== e.target.value) })}>
        ${(dataset?.columns || []).map((c) => html`<option value=${c.name}>${c.name}</option>`)}</select></div>`}
      <div><label for="template">Template</label><select id="template" value=${form.template} onChange=${set("template")}>
        ${(labelled ? [labelled] : TEMPLATES).map((t) => html`<option value=${t}>${t}</option>`)}</select></div>
      ${!labelled && html`<div><label for="hidden">Hidden units (mlp, cnn)</label><input id="hidden" value=${form.hidden} onInput=${set("hidden")} /></div>`}
      ${form.template === "image_classifier" && html`<div><label for="image-size">Image size the model resizes to (8-512, empty: 32)</label>
        <input id="image-size" type="number" min="8" max="512" placeholder="32" value=${form.imageSize} onInput=${set("imageSize")} /></div>
        <div class="checks"><label><input id="augmentation" type="checkbox" checked=${form.augmentation} onChange=${(e) => setForm({ ...form, augmentation: e.target.checked })} /> Augment while training (flips, rotations, zoom)</label></div>`}
      ${form.template === "text_classifier" && html`<div><label for="encoder">Encoder</label><select id="encoder" value=${form.encoder} onChange=${set("encoder")}>
        <option value="">transformer (default)</option><option value="gru">bidirectional GRU</option><option value="lstm">bidirectional LSTM</option></select></div>
        <div><label for="sequence-length">Tokens per text (4-2048, empty: the default)</label><input id="sequence-length" type="number" min="4" max="2048" value=${form.sequenceLength} onInput=${set("sequenceLength")} /></div>
        <div><label for="max-tokens">Vocabulary size (16-200000, empty: the default)</label><input id="max-tokens" type="number" min="16" max="200000" value=${form.maxTokens} onInput=${set("maxTokens")} /></div>`}
      <div><label for="epochs">Epochs</label><input id="epochs" type="number" min="1" value=${form.epochs} onInput=${set("epochs")} /></div>
      <div><label for="batch">Batch size</label><input id="batch" type="number" min="1" value=${form.batch} onInput=${set("batch")} /></div>
      <div><label for="lr">Learning rate</label><input id="lr" type="number" step="any" value=${form.lr} onInput=${set("lr")} /></div>
      <div><label for="model">Target model</label><input id="model" value=${form.model} onInput=${(e) => { setModelEdited(true); set("model")(e); }} /></div>
      ${labelled && html`<div><label for="base">Fine-tune a version instead (models/M/versions/N or alias)</label>
        <input id="base" placeholder="models/pets/versions/production" value=${form.base} onInput=${set("base")} /></div>
        <div><label for="frozen">Epochs with the base frozen</label><input id="frozen" type="number" min="0" value=${form.frozen} onInput=${set("frozen")} /></div>`}
    </div>
    ${dataset && !labelled && html`<label>Feature columns (${form.features.length} of ${dataset.columns.length - 1})</label>
      <div class="checks">${dataset.columns.filter((c) => c.name !== form.label).map((c) => html`<label><input type="checkbox" checked=${form.features.includes(c.name)} onChange=${() => toggle(c.name)} /> ${c.name}</label>`)}</div>`}
    ${mismatch && html`<div class="notice failed" id="signature-warning" role="status"><b>Its inputs would differ from <code>models/${form.model}</code>'s production version</b>
      <p>Version ${production.v.version} (production) takes ${mismatch[0]}; this job's model would take ${mismatch[1]}. The registry keeps it as a new version all the same (each version has its own signature), but promoting it would refuse every caller that sends the old inputs: pick another target model unless that is what you mean.</p></div>`}
    <${ReadOnlyNotice} cannot="train" />
    <button type="submit" disabled=${!form.dataset || !form.model || Boolean(readOnlyRole())}>Start training</button></form></section>`;
}

// [what production takes, what the new job's model would take] when they differ, else null. A
// tabular job takes `expected` (its feature count) numbers a row; an image model 4-D pixels; a
// text model strings.
function signatureMismatch(version, expected) {
  const input = version?.signature?.inputs?.[0];
  if (!input) return null;
  const shape = (input.shape || []).map(Number);
  const text = input.datatype === "BYTES";
  const takes = text ? "texts" : shape.length === 4 ? `images of ${shape.slice(1).join("x")}` : `rows of ${shape[shape.length - 1]} numbers`;
  const would = expected === "text" ? "texts" : expected === "image" ? "images" : `rows of ${expected} numbers`;
  if (expected === "text" ? text : expected === "image" ? shape.length === 4 : !text && shape.length === 2 && shape[1] === expected) return null;
  return [takes, would];
}

// ---- training jobs: what a job was asked to do, how long it ran, its best epoch ---------------

const ENDED = ["STATE_SUCCEEDED", "STATE_FAILED", "STATE_CANCELLED"];
const stateName = (job) => (job.state || "").replace("STATE_", "");

// 75 -> "1 min 15 s".
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
// Start to end; a job still running counts up to now.
function jobSeconds(job) {
  if (!job.startTime) return NaN;
  const end = job.endTime ? Date.parse(job.endTime) : ENDED.includes(job.state) ? NaN : Date.now();
  return (end - Date.parse(job.startTime)) / 1000;
}

function modelOf(spec) {
  if (spec.baseModel) return `fine-tune of ${spec.baseModel.modelVersion}`;
  if (spec.kerasModelJson) return "custom Keras model";
  return spec.template?.name || "-";
}

// A job's spec as [name, value] rows (proto3 JSON leaves out what was not set: the trainer's
// default applies): the job page lists them, the comparison lines them up and marks differences.
function specFacts(job) {
  const spec = job.spec || {}, hp = spec.hyperparameters || {}, data = spec.dataset || {};
  const facts = [["Dataset", data.dataset || "-"]];
  if (data.labelColumn) facts.push(["Label column", data.labelColumn]);
  facts.push(["Feature columns", data.featureColumns?.length ? String(data.featureColumns.length) : "all but the label"]);
  facts.push(["Template", modelOf(spec)]);
  for (const [k, v] of Object.entries(spec.template?.parameters || {})) facts.push([k.replace(/_/g, " "), JSON.stringify(v)]);
  if (spec.baseModel) facts.push(["Epochs with the base frozen", String(spec.baseModel.frozenEpochs || 0)]);
  const or = (v, fallback = "default") => (v === undefined || v === "" ? fallback : String(v));
  facts.push(["Epochs", or(hp.epochs)], ["Batch size", or(hp.batchSize)], ["Learning rate", or(hp.learningRate)],
    ["Optimizer", or(hp.optimizer)], ["Early stopping patience", or(hp.earlyStoppingPatience, "never stops early")],
    ["Seed", or(hp.seed)], ["Validation", spec.validationDataset ? spec.validationDataset.dataset : `${Math.round(100 * (spec.validationSplit || 0.2))}% held out`],
    ["Target model", spec.targetModel || "-"]);
  return facts;
}

// The handful of parameters a list row has room for.
function keyParameters(spec = {}) {
  const hp = spec.hyperparameters || {}, p = spec.template?.parameters || {};
  return [p.hidden_units && `hidden ${JSON.stringify(p.hidden_units)}`, hp.epochs && `${hp.epochs} epochs`,
    hp.learningRate && `lr ${hp.learningRate}`, hp.batchSize && `batch ${hp.batchSize}`].filter(Boolean).join(", ");
}

const lowerIsBetter = (metric) => /loss|error/.test(metric);
const headlineMetric = (names) => ["val_accuracy", "val_loss", "accuracy", "loss"].find((n) => names.includes(n)) || names[0] || "";
// The best value of `metric` over the epochs (the lowest for a loss), with its epoch.
function best(epochs, metric) {
  let found = null;
  for (const e of epochs || []) {
    const v = e.metrics?.[metric];
    if (typeof v !== "number") continue;
    if (!found || (lowerIsBetter(metric) ? v < found.value : v > found.value)) found = { value: v, epoch: e.epoch };
  }
  return found;
}
const bestText = (epochs, metric) => {
  const b = best(epochs, metric);
  return b ? `${lowerIsBetter(metric) ? "lowest" : "best"} ${metric} ${b.value.toFixed(4)} (epoch ${b.epoch})` : "-";
};

// Each job's epochs, replayed from the start by `:watch` (and streamed on while a job runs; with
// `live` false, shown only once the replay is complete). An ended job's history never changes
// again, so it is fetched once per page load.
const endedHistories = new Map();
function useHistories(ids, live = true) {
  const { generation } = useConnection();
  const [histories, setHistories] = useState({});
  useEffect(() => {
    const abort = new AbortController();
    const show = (id, epochs) => setHistories((old) => ({ ...old, [id]: epochs }));
    for (const id of ids) {
      if (endedHistories.has(id)) { show(id, endedHistories.get(id)); continue; }
      let epochs = [], ended = false;
      watchLines(`/v1/trainingJobs/${id}:watch`, (event) => {
        if (event.epochEnd) { epochs = [...epochs.filter((e) => e.epoch !== event.epochEnd.epoch), event.epochEnd]; if (live) show(id, epochs); }
        if (event.stateChange && ENDED.includes(event.stateChange.state)) ended = true;
      }, abort.signal).then(() => { if (ended) endedHistories.set(id, epochs); show(id, epochs); }, () => {});  // the job's own load reports errors
    }
    return () => abort.abort();
  }, [ids.join(","), generation]);
  return histories;
}

// Live while a job is queued or running: the list reloads every 3 s.
function Jobs() {
  const [list, error, reload] = useLoad(() => api("GET", "/v1/trainingJobs"));
  const [selected, setSelected] = useState([]);
  const jobs = list ? list.trainingJobs || [] : null;
  const live = (jobs || []).some((j) => !ENDED.includes(j.state));
  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(reload, 3000);
    return () => clearInterval(timer);
  }, [live]);
  const histories = useHistories((jobs || []).filter((j) => ENDED.includes(j.state)).slice(0, 25).map((j) => lastSegment(j.name)), false);
  const pick = (id) => setSelected(selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id]);
  const metricOf = (j) => {
    const epochs = histories[lastSegment(j.name)];
    if (epochs?.length) return bestText(epochs, headlineMetric(Object.keys(epochs[0].metrics || {})));
    const latest = headlineMetric(Object.keys(j.metrics || {}));
    return latest ? `${latest} ${Number(j.metrics[latest]).toFixed(4)} (epoch ${j.epoch}, latest)` : "-";
  };
  return html`<h1>Training jobs</h1><section class="card"><${ErrorBox} error=${error} />
    <div class="toolbar"><button id="compare" disabled=${selected.length < 2} onClick=${() => { location.hash = `#/compare/${selected.join(",")}`; }}>
      Compare ${selected.length >= 2 ? `${selected.length} jobs` : "(select two or more)"}</button></div>
    <${Table} columns=${[
      ["Compare", (j) => html`<input type="checkbox" class="pick" aria-label=${`compare ${lastSegment(j.name)}`} checked=${selected.includes(lastSegment(j.name))} onChange=${() => pick(lastSegment(j.name))} />`],
      ["Job", (j) => html`<a href=${`#/jobs/${lastSegment(j.name)}`}>${lastSegment(j.name)}</a>`],
      ["State", (j) => html`${stateName(j)} <span class="muted">${j.epoch || 0}/${j.totalEpochs || j.spec?.hyperparameters?.epochs || "?"}</span>${failureText(j) ? html`<div class="reason">${failureText(j)[0]}</div>` : ""}`],
      ["Dataset", (j) => j.spec?.dataset?.dataset], ["Template", (j) => modelOf(j.spec || {})], ["Parameters", (j) => keyParameters(j.spec)],
      ["Best metric", metricOf], ["Duration", (j) => duration(jobSeconds(j))],
      ["Model version", (j) => (j.modelVersion ? html`<a href=${`#/models/${j.modelVersion.split("/")[1]}`}>${j.modelVersion.split("/")[1]} v${lastSegment(j.modelVersion)}</a>` : "-")],
      ["Created", (j) => (j.createTime || "").slice(0, 19).replace("T", " ")]]}
      rows=${jobs} /></section>`;
}

// Several jobs side by side: one curve per job for a chosen metric, and their specs and results
// lined up, the rows whose values differ marked.
function Compare({ ids }) {
  const list = ids.split(",").filter(Boolean);
  const [jobs, error] = useLoad(() => Promise.all(list.map((id) => api("GET", `/v1/trainingJobs/${id}`))), [ids]);
  const histories = useHistories(list);
  const [chosen, setChosen] = useState("");
  const names = [...new Set(Object.values(histories).flatMap((epochs) => epochs.flatMap((e) => Object.keys(e.metrics || {}))))].sort();
  const metric = names.includes(chosen) ? chosen : headlineMetric(names);
  const last = Math.max(0, ...Object.values(histories).flatMap((epochs) => epochs.map((e) => e.epoch)));
  const xs = Array.from({ length: last }, (_, i) => i + 1);
  const series = list.map((id) => {
    const byEpoch = new Map((histories[id] || []).map((e) => [e.epoch, e.metrics?.[metric]]));
    return { name: id, values: xs.map((x) => byEpoch.get(x) ?? null) };
  });
  const facts = (jobs || []).map((job, i) => new Map([...specFacts(job), ["State", stateName(job)], ["Duration", duration(jobSeconds(job))],
    [`Best ${metric}`, bestText(histories[list[i]], metric)],
    ...Object.entries(job.evaluation || {}).sort().map(([k, v]) => [`Final evaluation: ${k}`, Number(v).toFixed(4)]),
    ["Model version", job.modelVersion || "-"]]));
  const rows = [...new Set(facts.flatMap((f) => [...f.keys()]))].map((name) => {
    const values = facts.map((f) => f.get(name) ?? "-");
    return { name, values, differs: new Set(values).size > 1 };
  });
  const drawn = series.map((s) => s.values.filter((v) => v !== null).length).join(",");
  return html`<h1>Compare ${list.length} jobs</h1><${ErrorBox} error=${error} />
    <section class="card"><h2>Curves</h2>
      <label for="compare-metric">Metric</label><select id="compare-metric" value=${metric} onChange=${(e) => setChosen(e.target.value)}>
        ${names.map((n) => html`<option value=${n}>${n}</option>`)}</select>
      <${Chart} key=${`${metric}:${drawn}`} epochs=${xs} series=${series}
        label=${`${metric} by epoch for ${list.map((id) => `${id}: ${bestText(histories[id], metric)}`).join("; ")}`} /></section>
    <section class="card"><h2>Parameters and results</h2>
      <p class="muted">Rows whose values differ between the jobs are marked <span class="differs-key">differs</span>.</p>
      ${jobs && html`<table id="diff"><thead><tr><th scope="col">Parameter</th>${list.map((id) => html`<th scope="col"><a href=${`#/jobs/${id}`}>${id}</a></th>`)}</tr></thead>
        <tbody>${rows.map((r) => html`<tr class=${r.differs ? "differs" : ""}><th scope="row">${r.name}${r.differs ? html` <span class="differs-key">differs</span>` : ""}</th>
          ${r.values.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody></table>`}</section>`;
}

// `label`: a text alternative for the canvas (what the curves say, for screen readers); `xLabel`:
// what the whole-number x axis counts.
export function Chart({ epochs, series, label, xLabel = "epoch" }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    if (!box.current || !series.length || !window.uPlot) return;
    const data = [epochs, ...series.map((s) => s.values)];
    if (plot.current && plot.current.series.length === series.length + 1) { plot.current.setData(data); return; }
    plot.current?.destroy();
    const colours = ["#2f5bd3", "#d3702f", "#067647", "#b42318", "#7a2fd3", "#667085"];
    plot.current = new window.uPlot({ width: Math.min(1000, box.current.clientWidth || 800), height: 240,
      scales: { x: { time: false } },
      // Epochs are whole numbers; the legend names the series instead of showing "--" off the cursor.
      // The x ticks drawn are also left on the chart (data-x-ticks), where a test can read them.
      axes: [{ incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500], values: (u, ticks) => {
        const labels = ticks.map((t) => String(t));
        if (box.current) box.current.dataset.xTicks = labels.join(" ");
        return labels;
      } }, {}],
      legend: { live: false },
      series: [{ label: xLabel }, ...series.map((s, i) => ({ label: s.name, stroke: colours[i % colours.length], width: 2 }))] }, data, box.current);
  }, [epochs.length, series.length]);
  useEffect(() => () => plot.current?.destroy(), []);
  return html`<div class="chart" ref=${box} data-points=${epochs.length} data-series=${series.length} role=${label ? "img" : undefined} aria-label=${label}></div>`;
}

function Job({ id }) {
  const [job, setJob] = useState(null);
  const [epochs, setEpochs] = useState([]);
  const [evaluation, setEvaluation] = useState(null);
  const [logs, setLogs] = useState([]);
  const [error, setError] = useState(null);
  const name = `trainingJobs/${id}`;
  const { online, generation } = useConnection();
  const refresh = () => api("GET", `/v1/${name}`).then((data) => { setJob(data); setError(null); }, setError);
  useEffect(() => {
    const abort = new AbortController();
    refresh();
    watchLines(`/v1/${name}:watch`, (event) => {
      if (event.epochEnd) setEpochs((old) => [...old.filter((e) => e.epoch !== event.epochEnd.epoch), event.epochEnd]);
      if (event.evaluation) setEvaluation(event.evaluation);
      if (event.log) setLogs((old) => [...old.slice(-50), event.log.message]);
      if (event.stateChange) refresh();
    }, abort.signal).catch((err) => { if (err.name !== "AbortError") setError(err); });
    return () => abort.abort();
  }, [id, generation]);
  const metricNames = [...new Set(epochs.flatMap((e) => Object.keys(e.metrics || {})))].sort();
  const losses = metricNames.filter((m) => m.includes("loss"));
  const scores = metricNames.filter((m) => !m.includes("loss"));
  const xs = epochs.map((e) => e.epoch);
  const seriesOf = (names) => names.map((n) => ({ name: n, values: epochs.map((e) => e.metrics[n] ?? null) }));
  const cancel = () => api("POST", `/v1/${name}:cancel`, { body: {} }).then(setJob, setError);
  const running = job && ["STATE_QUEUED", "STATE_RUNNING"].includes(job.state);
  // Clone and edit: the Train form opens filled in with this job's spec; run again: the same spec, now.
  const clone = () => { sessionStorage.setItem(CLONE, JSON.stringify({ from: id, spec: job.spec })); location.hash = "#/train"; };
  const rerun = () => api("POST", "/v1/trainingJobs", { body: { spec: job.spec } }).then((created) => { location.hash = `#/jobs/${lastSegment(created.name)}`; }, setError);
  const curves = (names) => names.map((n) => bestText(epochs, n)).join("; ") || "no epoch finished yet";
  return html`<h1>Job <code>${id}</code></h1><${ErrorBox} error=${error} />
    ${job && html`<section class="card"><div class="grid">
      <div><label>State</label><b id="job-state">${job.state.replace("STATE_", "")}</b> <span class="muted">${online ? (failureText(job) ? "" : job.stateReason) : "(as of when the connection was lost)"}</span></div>
      <div><label>Epoch</label><span id="job-epoch">${epochs.length ? xs[xs.length - 1] : job.epoch} / ${job.totalEpochs || job.spec?.hyperparameters?.epochs}</span></div>
      <div><label>Model version</label>${job.modelVersion ? html`<a href=${`#/models/${job.modelVersion.split("/")[1]}`}>${job.modelVersion}</a>` : "-"}</div>
      <div><label>Attempt</label>${job.attempt}</div>
      <div><label>Duration</label><span id="job-duration">${duration(jobSeconds(job))}</span></div></div>
      ${online && html`<${FailureNotice} job=${job} />`}
      ${running && html`<button class="secondary" id="cancel" onClick=${cancel} disabled=${!online || Boolean(readOnlyRole())}
        title=${online ? readOnlyTitle("cancel jobs") : "The connection is lost: the job's state is as of then"}>Cancel job</button>`}
      <button class="secondary" id="clone" onClick=${clone}>Clone and edit</button>
      ${["STATE_FAILED", "STATE_CANCELLED"].includes(job.state) && html` <button class="secondary" id="rerun" data-retry=${id} onClick=${rerun} disabled=${!online || Boolean(readOnlyRole())} title=${readOnlyTitle("train")}>Retry</button>`}</section>
    <section class="card" id="job-spec"><h2>Dataset, template and parameters</h2>
      <${Table} columns=${[["Parameter", (f) => f[0]], ["Value", (f) => (f[0] === "Dataset" ? html`<a href="#/datasets">${f[1]}</a>` : f[1])]]} rows=${specFacts(job)} /></section>`}
    <section class="card"><h2>Loss</h2><${Chart} epochs=${xs} series=${seriesOf(losses)} label=${`loss by epoch: ${curves(losses)}`} /></section>
    <section class="card"><h2>Metrics</h2><${Chart} epochs=${xs} series=${seriesOf(scores)} label=${`metrics by epoch: ${curves(scores)}`} /></section>
    ${Boolean(evaluation || (job?.evaluation && Object.keys(job.evaluation).length)) && html`<section class="card" id="evaluation"><h2>Final evaluation</h2>
      <${Table} columns=${[["Metric", (r) => r[0]], ["Value", (r) => Number(r[1]).toFixed(4)]]} rows=${Object.entries(evaluation ? evaluation.metrics : job.evaluation)} /></section>`}
    ${logs.length > 0 && html`<section class="card"><h2>Log</h2><pre class="log" aria-label="job log">${logs.join("\n")}</pre></section>`}`;
}

function UploadModel({ onUploaded }) {
  const [model, setModel] = useState("");
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null); setResult(null); setProgress(0);
    try {
      const version = await uploadModel(file, model, setProgress);
      setResult(version); onUploaded();
    } catch (err) { setError(err); }
    setProgress(null);
  };
  return html`<section class="card" id="upload-model"><h2>Upload model</h2><${ErrorBox} error=${error} /><${ReadOnlyNotice} cannot="upload models" />
    <p class="muted">A <code>.keras</code> file, or a tar or zip of a SavedModel. Its signature is derived from the model, which is checked and warmed up before it serves.</p>
    <form onSubmit=${submit}><div class="grid">
      <div><label for="upload-model-id">Model</label><input id="upload-model-id" required pattern="[a-z][a-z0-9-]{0,62}" value=${model} onInput=${(e) => setModel(e.target.value)} /></div>
      <div><label for="upload-model-file">File</label><input id="upload-model-file" type="file" required accept=".keras,.tar,.tgz,.gz,.zip" onChange=${(e) => setFile(e.target.files[0])} /></div>
    </div><button type="submit" disabled=${progress !== null || Boolean(readOnlyRole())} title=${readOnlyTitle("upload models")}>${progress !== null ? (progress < 1 ? "Uploading..." : "Validating...") : "Upload model"}</button></form>
    ${progress !== null && html`<div class="progress" aria-label="upload progress"><div style=${`width:${Math.round(progress * 100)}%`}></div></div>`}
    ${result && html`<div id="model-uploaded"><p class="ok"><a href=${`#/models/${model}`}>${result.name}</a> is ${result.state.replace("STATE_", "").toLowerCase()} (${result.format}).</p>
      <p>Inputs: <code>${tensors(result.signature?.inputs)}</code><br />Outputs: <code>${tensors(result.signature?.outputs)}</code></p></div>`}
  </section>`;
}

// A classifier version's report: the confusion matrix (cells shaded by the share of their true
// class), precision and recall per class, and validation samples with true and predicted labels.
function ClassificationReport({ version }) {
  const report = version.classificationReport;
  const names = report.classNames, n = names.length;
  const counts = (report.confusionMatrix || []).map(Number);
  const support = (report.support || []).map(Number);
  const cell = (row, col) => {
    const count = counts[row * n + col] || 0;
    const share = support[row] ? count / support[row] : 0;
    const colour = row === col ? "47,91,211" : "180,35,24";
    return html`<td class="cell" title=${`true ${names[row]}, predicted ${names[col]}: ${count}`}
      style=${`background: rgba(${colour}, ${count ? 0.12 + 0.88 * share : 0}); color: ${share > 0.55 ? "#fff" : "inherit"}`}>${count || ""}</td>`;
  };
  const percent = (v) => `${(100 * Number(v || 0)).toFixed(1)}%`;
  return html`<section class="card report" data-version=${version.version}><h2>Version ${version.version}: classification report (validation split)</h2>
    <table class="confusion"><thead><tr><th>true ↓ predicted →</th>${names.map((c) => html`<th>${c}</th>`)}<th>precision</th><th>recall</th><th>examples</th></tr></thead>
      <tbody>${names.map((c, row) => html`<tr><th>${c}</th>${names.map((_, col) => cell(row, col))}
        <td>${percent(report.precision?.[row])}</td><td>${percent(report.recall?.[row])}</td><td>${support[row]}</td></tr>`)}</tbody></table>
    <h2>Samples</h2><div class="samples">${(report.samples || []).map((s) => html`<figure class=${`sample ${s.trueLabel === s.predictedLabel ? "right" : "wrong"}`}>
      ${s.thumbnailPng ? html`<img alt=${s.trueLabel} src=${`data:image/png;base64,${s.thumbnailPng}`} />` : html`<blockquote>${s.text}</blockquote>`}
      <figcaption>true ${s.trueLabel}, predicted ${s.predictedLabel} (${percent(s.confidence)})</figcaption></figure>`)}</div></section>`;
}

// ---- a model's aliases (splits, shadows, rollouts, history) and its versions' drift ----------

const percent1 = (v) => `${Number(v || 0).toFixed(Number(v || 0) % 1 ? 1 : 0)}%`;
const seconds = (duration) => Number(String(duration || "0s").replace("s", ""));

// "v3 90% · v4 10%" from an alias's targets (weights are relative).
function splitText(alias) {
  const targets = alias.targets || [];
  const total = targets.reduce((sum, t) => sum + Number(t.weight || 0), 0);
  return targets.map((t) => `v${t.version} ${percent1((100 * Number(t.weight || 0)) / (total || 1))}`).join(" · ");
}

const shadowText = (alias) => (alias.shadow && Number(alias.shadow.version) ? `v${alias.shadow.version}, ${percent1(alias.shadow.percent)} mirrored` : "");

function rolloutText(rollout) {
  if (!rollout || !rollout.plan) return "";
  const plan = rollout.plan, steps = plan.steps || [], step = Number(rollout.step || 0);
  if (rollout.state === "STATE_PROMOTED") return `v${plan.candidateVersion} promoted`;
  if (rollout.state === "STATE_ROLLED_BACK") return `v${plan.candidateVersion} rolled back to v${rollout.primaryVersion}`;
  if (rollout.state !== "STATE_RUNNING") return "";
  const current = steps[step] || {};
  const limits = [
    plan.maxErrorRate ? `errors ≤ ${percent1(100 * plan.maxErrorRate)}` : "",
    seconds(plan.maxP99Latency) ? `p99 ≤ ${Math.round(1000 * seconds(plan.maxP99Latency))} ms` : "",
    plan.maxDisagreement ? `disagreement ≤ ${percent1(100 * plan.maxDisagreement)}` : "",
  ].filter(Boolean).join(", ");
  return `step ${step + 1} of ${steps.length}: v${plan.candidateVersion} answers ${percent1(current.percent)} ` +
    `(judged after ${Number(current.minRequests || 0)} requests and ${seconds(current.minDuration)} s` +
    `${plan.mirrorPercent ? `, ${percent1(plan.mirrorPercent)} mirrored` : ""}${limits ? `; ${limits}` : ""}), from v${rollout.primaryVersion}`;
}

// The earlier revision a one-click rollback restores: the newest one before the current that set
// the alias to another version (a rollback that was itself rolled back is undone the same way).
const earlierRevision = (alias, revisions) => revisions.find((r) => !r.deleted
  && String(r.alias.revision) !== String(alias.revision) && String(r.alias.version) !== String(alias.version));

function AliasHistory({ model, alias, readOnly, changed, onError }) {
  const name = lastSegment(alias.name);
  const [history, error] = useLoad(() => api("GET", `/v1/models/${model}/aliases/${name}:listRevisions`, { query: { page_size: 20 } }), [model, name, alias.revision]);
  const [confirming, setConfirming] = useState(false);
  const why = (r) => {
    const text = r.deleted ? "deleted" : r.alias.reason || "";
    return r.alias.rollout?.state === "STATE_ROLLED_BACK" && text ? html`<span class="bad">${text}</span>` : text;
  };
  const earlier = history ? earlierRevision(alias, history.revisions || []) : null;
  const rollback = async () => {
    setConfirming(false); onError(null);
    try {
      await api("POST", `/v1/models/${model}/aliases/${name}:rollback`, { body: { revision: String(earlier.alias.revision), reason: "from the console" } });
      changed();
    } catch (err) { onError(err); }
  };
  return html`<div class="history" data-alias=${name}><h3>${name}</h3><${ErrorBox} error=${error} />
    <${Table} columns=${[["Revision", (r) => r.alias.revision], ["When", (r) => (r.alias.updateTime || "").slice(0, 19)],
      ["Split", (r) => (r.deleted ? "" : splitText(r.alias))], ["Shadow", (r) => shadowText(r.alias)],
      ["Rollout", (r) => rolloutText(r.alias.rollout)], ["Why", why]]} rows=${history ? history.revisions || [] : null} empty="No history." />
    ${earlier && html`<button class="secondary" data-rollback=${name} disabled=${Boolean(readOnly)} title=${readOnly ? `Signed in as ${readOnly}: this role cannot move aliases` : undefined}
      onClick=${() => setConfirming(true)}>Roll back ${name} to version ${earlier.alias.version}</button>`}
    ${earlier && confirming && confirmation("confirm rollback",
      html`${name} moves from version ${alias.version} back to version ${earlier.alias.version} (as revision ${earlier.alias.revision} left it): every caller of <code>${model}</code> through <code>${name}</code> gets its answers from then on.`,
      ["confirm-rollback", `Roll back to version ${earlier.alias.version}`, rollback], [`Keep version ${alias.version}`, () => setConfirming(false)])}</div>`;
}

function Aliases({ model, aliases, readOnly, changed, onError }) {
  const list = aliases ? aliases.aliases || [] : null;  // null: not loaded
  return html`<section class="card aliases"><h2>Aliases</h2>
    ${list?.length ? html`<table><thead><tr><th>Alias</th><th>Versions</th><th>Shadow</th><th>Rollout</th><th>Last change</th><th>Updated</th></tr></thead>
      <tbody>${list.map((a) => html`<tr data-alias=${lastSegment(a.name)}><td>${lastSegment(a.name)}</td><td class="split">${splitText(a)}</td>
        <td>${shadowText(a)}</td><td class="rollout">${rolloutText(a.rollout)}</td><td>${a.reason || ""}</td><td>${(a.updateTime || "").slice(0, 19)}</td></tr>`)}</tbody></table>`
      : html`<${Table} columns=${[]} rows=${list} empty="No aliases: promote a version to production below." />`}</section>
    ${list?.length ? html`<section class="card"><h2>Alias history</h2>${list.map((a) => html`<${AliasHistory} key=${a.name} model=${model} alias=${a}
      readOnly=${readOnly} changed=${changed} onError=${onError} />`)}</section>` : ""}`;
}

// PSI above this is what the MaasFeatureDrift alert fires on.
const PSI_ALERT = 0.25;
const score = (value, alert) => html`<span class=${alert !== undefined && value > alert ? "bad" : ""}>${Number(value || 0).toFixed(3)}</span>`;

// Per version: the latest drift report inference made of what it served against its training data.
function Drift({ versions }) {
  const scored = (versions || []).filter((v) => v.drift?.features?.length);
  if (!scored.length) return null;
  const largest = (features, key) => features.reduce((best, f) => (Number(f[key] || 0) > Number(best[key] || 0) ? f : best), features[0]);
  const features = (v) => {
    const top = [...v.drift.features].sort((a, b) => Number(b.psi || 0) - Number(a.psi || 0)).slice(0, 3);
    return html`${top.map((f) => html`<div>${f.name}: PSI ${score(f.psi, PSI_ALERT)}, KS ${score(f.ks)}</div>`)}`;
  };
  const classes = (v) => {
    const served = (v.drift.predictionShares || []).map(Number), trained = (v.referenceStatistics?.predictionShares || []).map(Number);
    if (!served.length) return html`<span class="muted">no class reference</span>`;
    const moved = served.map((share, i) => [i, share, trained[i] || 0]).sort((a, b) => Math.abs(b[1] - b[2]) - Math.abs(a[1] - a[2])).slice(0, 3);
    return html`<div>PSI ${score(v.drift.predictionPsi, PSI_ALERT)}</div>${moved.map(([i, share, was]) => html`<div>class ${i}: ${percent1(100 * share)} (trained ${percent1(100 * was)})</div>`)}`;
  };
  return html`<section class="card drift"><h2>Drift: served inputs and predictions against the training data</h2>
    <table><thead><tr><th>Version</th><th>Scored</th><th>Rows</th><th>Largest PSI</th><th>Largest KS</th><th>Most shifted features</th><th>Predicted classes</th></tr></thead>
      <tbody>${scored.map((v) => {
        const psi = largest(v.drift.features, "psi"), ks = largest(v.drift.features, "ks");
        return html`<tr data-version=${v.version}><td>${v.version}</td><td>${(v.drift.time || "").slice(0, 19)}</td><td>${v.drift.rowCount}</td>
          <td class="psi">${score(psi.psi, PSI_ALERT)} <span class="muted">${psi.name}</span></td><td class="ks">${score(ks.ks)} <span class="muted">${ks.name}</span></td>
          <td>${features(v)}</td><td class="classes">${classes(v)}</td></tr>`;
      })}</tbody></table>
    <p class="muted">PSI above ${PSI_ALERT} is a significant shift (the alert's threshold); KS is the largest gap between the served and the training cumulative distributions at the training deciles.</p></section>`;
}

function Models() {
  const [list, error, reload] = useLoad(() => api("GET", "/v1/models"));
  return html`<h1>Models</h1><section class="card"><${ErrorBox} error=${error} />
    <${Table} columns=${[["Model", (m) => html`<a href=${`#/models/${lastSegment(m.name)}`}>${m.name}</a>`], ["Description", (m) => m.description],
      ["Created", (m) => (m.createTime || "").slice(0, 19)]]} rows=${list ? list.models || [] : null} /></section>
    <${UploadModel} onUploaded=${reload} />`;
}

// The aliases a version can be promoted to from its model's page (any alias can be rolled back).
const PROMOTE_TO = ["production", "staging", "canary"];

function Model({ id }) {
  const [versions, versionsError, reloadVersions] = useLoad(() => api("GET", `/v1/models/${id}/versions`), [id]);
  const [aliases, aliasesError, reloadAliases] = useLoad(() => api("GET", `/v1/models/${id}/aliases`), [id]);
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(null);  // the version a promotion waits to be confirmed for
  const [target, setTarget] = useState("production");  // the alias a promotion moves
  const readOnly = readOnlyRole();
  const changed = () => { reloadVersions(); reloadAliases(); };
  const aliased = (aliases?.aliases || []).find((a) => lastSegment(a.name) === target);
  const promote = async (version) => {
    setError(null); setConfirming(null);
    try {
      await api("PUT", `/v1/models/${id}/aliases/${target}`, { body: { version: String(version) } });
      changed();
    } catch (err) { setError(err); }
  };
  const signatureOf = (v) => JSON.stringify((v?.signature?.inputs || []).map((t) => [t.name, t.datatype, t.shape]));
  const current = (versions?.modelVersions || []).find((v) => aliased && String(v.version) === String(aliased.version));
  const promotion = (v) => {
    const change = aliased ? `${target} moves from version ${aliased.version} to version ${v.version}` : `${target} will point at version ${v.version}`;
    const differs = current && signatureOf(current) !== signatureOf(v);
    return confirmation("confirm promotion", html`${change}: every caller of <code>${id}</code> through <code>${target}</code> gets its answers from then on.
      ${differs ? html`<br /><b class="bad">Its inputs differ from the current ${target} version's</b>: callers sending the old inputs will be refused.` : ""}`,
      ["confirm-promote", `Promote version ${v.version}`, () => promote(v.version)],
      [`Keep version ${aliased ? aliased.version : "as is"}`, () => setConfirming(null)]);
  };
  // Lineage as links: the job's page, and the datasets page (a dataset version has no page of its own).
  const lineage = (v) => v.lineage ? html`<div class="muted lineage">job ${v.lineage.trainingJob
      ? html`<a href=${`#/jobs/${lastSegment(v.lineage.trainingJob)}`}>${lastSegment(v.lineage.trainingJob)}</a>` : "none (uploaded)"}
    ${v.lineage.dataset ? html`<br />dataset <a href="#/datasets">${v.lineage.dataset}</a>` : ""}
    ${v.lineage.baseModelVersion ? html`<br />fine-tuned from <code>${v.lineage.baseModelVersion}</code>` : ""}
    ${v.lineage.datasetSha256 ? html` (sha256 ${v.lineage.datasetSha256.slice(0, 12)}...)` : ""}<br />
    ${Object.entries(v.lineage.hyperparameters || {}).map(([k, val]) => `${k}=${parameterText(val)}`).join(", ")}</div>` : "";
  return html`<h1>Model <code>${id}</code></h1><${ErrorBox} error=${error || versionsError || aliasesError} />
    ${readOnly && html`<p class="notice" id="read-only">Signed in as ${readOnly}: this role can read but not promote, roll back, archive or delete. Ask an owner of the tenant for the developer role.</p>`}
    <${Aliases} model=${id} aliases=${aliases} readOnly=${readOnly} changed=${changed} onError=${setError} />
    <section class="card"><h2>Versions</h2>
      <label for="promote-alias">Promote to</label><select id="promote-alias" value=${target} onChange=${(e) => { setTarget(e.target.value); setConfirming(null); }}>
        ${PROMOTE_TO.map((a) => html`<option value=${a}>${a}</option>`)}</select><${Table} columns=${[["Version", (v) => v.version],
      ["Created", (v) => html`${(v.createTime || "").slice(0, 16).replace("T", " ")}<br /><span class="muted">${v.artifactSizeBytes ? bytes(v.artifactSizeBytes) : ""} ${v.format || ""}</span>`],
      ["Signature", (v) => v.signature ? html`<div class="signature">in <code>${tensors(v.signature.inputs)}</code><br />out <code>${tensors(v.signature.outputs)}</code></div>` : ""],
      ["State", (v) => v.state.replace("STATE_", "") + (v.stateReason ? `: ${v.stateReason}` : "")],
      ["Metrics", (v) => Object.entries(v.metrics || {}).map(([k, val]) => `${k} ${Number(val).toFixed(4)}`).join(", ")], ["Lineage", lineage],
      ["Aliases", (v) => (v.aliases || []).join(", ")],
      ["", (v) => (String(v.version) === String(aliased?.version) ? html`<span class="muted">in ${target}</span>`
        : v.state === "STATE_ARCHIVED" ? html`<span class="muted">archived</span>`
        : html`<button class="secondary" data-version=${v.version} disabled=${Boolean(readOnly)} onClick=${() => setConfirming(v.version)}>Promote to ${target}</button>`)],
      ["Manage", (v) => html`<${VersionActions} version=${v} changed=${changed} onError=${setError} />`]]}
      rows=${versions ? versions.modelVersions || [] : null} />
      ${confirming !== null && promotion((versions?.modelVersions || []).find((v) => v.version === confirming) || { version: confirming })}</section>
    <${Drift} versions=${versions?.modelVersions} />
    ${(versions?.modelVersions || []).filter((v) => v.classificationReport?.classNames?.length).map((v) => html`<${ClassificationReport} version=${v} />`)}`;
}

// ---- shell -----------------------------------------------------------------------------------

const NAV = [["datasets", "Datasets"], ["train", "Train"], ["jobs", "Jobs"], ["models", "Models"], ["predict", "Predict"], ["usage", "Usage"]];

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return hash.replace(/^#\/?/, "").split("/");
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(apiKey() || session()));
  const [page, id] = useHash();
  if (!signedIn) return html`<header><strong>MaaS</strong></header><main><${SignIn} onSignedIn=${() => { setSignedIn(true); if (!location.hash) location.hash = "#/datasets"; }} /></main>`;
  const signOut = async () => {
    if (!apiKey() && session()) await api("DELETE", "/v1/sessions/current").catch(() => {});
    for (const item of [KEY, CSRF, WHO]) sessionStorage.removeItem(item);
    forgetAdmin();
    setSignedIn(false);
  };
  const who = session();
  const admin = isAdmin();
  // Invoices for a key (the API checks its scope), the owners and the billing role.
  const billing = !who || apiKey() || ["owner", "billing"].includes(who.role);
  const nav = admin ? [["admin", "Tenants and plans"]]
    : [...NAV, ...(billing ? [["invoices", "Invoices"]] : []), ...(who?.role === "owner" ? [["keys", "Keys"]] : [])];
  const pages = admin ? { admin: () => html`<${Admin} />` } : {
    datasets: () => html`<${Datasets} />`,
    train: () => html`<${Train} />`,
    jobs: () => (id ? html`<${Job} key=${id} id=${id} />` : html`<${Jobs} />`),
    compare: () => html`<${Compare} ids=${id || ""} />`,
    models: () => (id ? html`<${Model} key=${id} id=${id} />` : html`<${Models} />`),
    predict: () => html`<${Predict} />`,
    usage: () => html`<${Usage} />`,
    ...(billing ? { invoices: () => html`<${Invoices} />` } : {}),
    ...(who?.role === "owner" ? { keys: () => html`<${Keys} />` } : {}),
  };
  const current = pages[page] ? page : admin ? "admin" : "datasets";
  const section = current === "compare" ? "jobs" : current;  // the navigation item a page belongs to
  const title = current === "compare" ? "Compare jobs" : nav.find(([p]) => p === current)[1];
  return html`<a class="skip" href="#main" onClick=${skipToContent}>Skip to content</a>
    <${PageFocus} title=${`${title}${id ? ` ${id}` : ""} · MaaS`} route=${`${page}/${id || ""}`} />
    <header><strong>MaaS</strong><nav>${nav.map(([p, title]) => html`<a href=${`#/${p}`} class=${p === section ? "active" : ""} aria-current=${p === section ? "page" : undefined}>${title}</a>`)}</nav>
    <span class="who">${who && !apiKey() ? `${who.email} (${who.role})` : `key ${apiKey().slice(0, 12)}...`} <button class="secondary" onClick=${signOut}>Sign out</button></span></header>
    <${ConnectionBanner} />${!admin && billing && html`<${BudgetBanner} route=${`${page}/${id || ""}`} />`}<main id="main">${pages[current]()}</main>`;
}

// Shown while the API cannot be reached; probes it with backoff (1 s doubling to 10 s) and, when it
// answers, marks the connection back, which reloads every page's data.
function ConnectionBanner() {
  const { online } = useConnection();
  const [next, setNext] = useState(0);
  useEffect(() => {
    if (online) return undefined;
    let delay = 1, timer = 0, stopped = false;
    const retry = async () => {
      if (await probe() || stopped) return;  // any HTTP answer: the gateway is back
      setNext(delay);
      timer = setTimeout(retry, delay * 1000);
      delay = Math.min(10, delay * 2);
    };
    timer = setTimeout(retry, 500);
    return () => { stopped = true; clearTimeout(timer); };
  }, [online]);
  if (online) return null;
  return html`<div class="banner" id="offline" role="status"><b>${LOST}.</b> Reconnecting${next ? ` (next try in ${next} s)` : ""}...
    The page shows what it knew when the connection was lost, and refreshes by itself when it is back.</div>`;
}

// On every page change: the document's title names the page, and focus moves to the page's heading
// (screen readers announce it; keyboard users start there instead of at the top of the document).
// The page the document opens on is left as a browser leaves it: the first Tab reaches the skip link.
let opened = false;
function PageFocus({ title, route }) {
  useEffect(() => {
    document.title = title;
    const heading = document.querySelector("main h1");
    heading?.setAttribute("tabindex", "-1");
    if (opened) heading?.focus({ preventScroll: true });
    opened = true;
  }, [route]);
  return null;
}

// The skip link: past the header and navigation, to the page's heading (focusable, as above).
function skipToContent(event) {
  event.preventDefault();
  const heading = document.querySelector("main h1");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
}

// A card (or log) wider than the screen scrolls sideways; while it does, it is focusable, so that a
// keyboard can scroll it too. Watched for the whole document, so every page's cards get it.
function keyboardScrollable(root) {
  let frame = 0;
  const mark = () => {
    frame = 0;
    for (const el of root.querySelectorAll("section.card, pre")) {
      const scrolls = el.scrollWidth > el.clientWidth + 1;
      if (scrolls && !el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); el.dataset.scrollFocus = ""; }
      if (!scrolls && "scrollFocus" in el.dataset) { el.removeAttribute("tabindex"); delete el.dataset.scrollFocus; }
    }
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(mark); };
  new MutationObserver(schedule).observe(root, { childList: true, subtree: true, characterData: true });
  addEventListener("resize", schedule);
}

const root = document.getElementById("root");
render(html`<${App} />`, root);
keyboardScrollable(root);
