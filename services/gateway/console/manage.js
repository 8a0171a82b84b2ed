// The console's pages for what goes wrong and what is looked after: failed jobs said in words,
// the operator's view of tenants and plans, and a model version's download, archive and delete.
// Imported by app.js (and importing it back): nothing here runs before app.js has been evaluated.
import { useState } from "preact/hooks";
import { api, bytes, duration, ErrorBox, html, lastSegment, readOnlyRole, readOnlyTitle, Table, useLoad, watchLines } from "./app.js";

// ---- failed and interrupted jobs --------------------------------------------------------------

// By the trainer's failure_kind: what happened, and what to do about it. The raw reason (which may
// name internal addresses) stays behind a toggle.
const FAILURES = {
  data: ["The training data could not be used",
    "Nothing is wrong with the service: the dataset or the columns chosen do not fit the job (the detail says which). Fix the dataset or use Clone and edit to pick other columns."],
  registry: ["The job lost contact with the model registry",
    "This is on the service's side, not your data or settings: run the job again. If it fails the same way, the service may be restarting; try again in a few minutes."],
  storage: ["A stored file could not be read back intact",
    "Run the job again: the file is fetched afresh. If it keeps failing, upload the dataset again."],
  invalid_model: ["The model could not be built",
    "Check the model definition, or the version to fine-tune, then use Clone and edit to run it with a fix."],
  out_of_memory: ["The job ran out of memory",
    "Use Clone and edit with a smaller batch size or a smaller model (fewer hidden units), and run it again."],
  nan_loss: ["Training diverged: the loss became NaN",
    "The learning rate is likely too high for this data, or some values are extreme. Use Clone and edit with a lower learning rate (or scale the data) and run it again."],
  crashed: ["The job's process stopped on every attempt",
    "Its worker stopped each time (a restart of the service, or a crash) before the job could finish. Run it again; if it stops again, try a smaller batch size or model."],
};
const UNKNOWN = ["The job failed", "Run it again; if it fails the same way, the detail below says why."];
const CANCELLED = ["The job was cancelled", "Nothing was registered. Run it again to train it anyway."];

export function failureText(job) {
  if (job.state === "STATE_CANCELLED") return CANCELLED;
  if (job.state !== "STATE_FAILED") return null;
  return FAILURES[job.failureKind] || UNKNOWN;
}

// A job's failure (or interruption) in words, with the raw detail behind a toggle.
export function FailureNotice({ job }) {
  const text = failureText(job);
  if (!text && job.state === "STATE_RUNNING" && job.attempt > 1) {
    return html`<div class="notice" id="failure" data-kind="interrupted" role="status"><b>The job was interrupted and resumed</b>
      <p>Its worker stopped (a restart, or a crash); another took it over from its last checkpoint (attempt ${job.attempt}). Nothing to do: it goes on by itself.</p></div>`;
  }
  if (!text) return null;
  const [title, advice] = text;
  return html`<div class="notice failed" id="failure" data-kind=${job.failureKind || job.state.replace("STATE_", "").toLowerCase()} role="status">
    <b>${title}</b><p>${advice}</p>
    ${job.stateReason && html`<details><summary>Technical detail</summary><code class="detail">${job.stateReason}</code></details>`}</div>`;
}

// ---- the operator's view (the admin key acts on no tenant's resources) ------------------------

const ADMIN = "maas.admin";
export const isAdmin = () => sessionStorage.getItem(ADMIN) === "1";
export const forgetAdmin = () => sessionStorage.removeItem(ADMIN);

// At sign-in: an admin key lists tenants; a tenant's key is refused that (403) and goes on to
// sign in as before. A key that is not valid at all (401) fails here, as it would there.
export async function detectAdmin(key) {
  const admin = await api("GET", "/v1/tenants", { key, query: { page_size: 1 } }).then(() => true, (err) => {
    if (err.status === 403) return false;
    throw err;
  });
  if (admin) sessionStorage.setItem(ADMIN, "1");
  else forgetAdmin();
  return admin;
}

const limit = (value, show = String) => (Number(value) > 0 ? show(Number(value)) : "no limit");

export function Admin() {
  const [tenants, tenantsError] = useLoad(() => api("GET", "/v1/tenants", { query: { page_size: 100 } }));
  const [plans, plansError] = useLoad(() => api("GET", "/v1/plans"));
  const list = tenants ? tenants.tenants || [] : null;
  // Each tenant's usage today (its plan, its calls, its training time and storage), side by side.
  const [usage, usageError] = useLoad(() => (list ? Promise.all(list.map((t) => api("GET", `/v1/${t.name}/usage`))) : Promise.resolve(null)),
    [list?.map((t) => t.name).join(",")]);
  const used = new Map((usage || []).map((u) => [u.name.replace(/\/usage$/, ""), u]));
  const meter = (tenant, field, cap, show = (n) => n.toLocaleString("en")) => {
    const u = used.get(tenant.name);
    if (!u) return "-";
    const value = Number(u[field] || 0), max = Number(u.plan?.[cap] || 0);
    return max > 0 ? `${show(value)} of ${show(max)}` : `${show(value)}`;
  };
  return html`<h1>Tenants, plans and usage</h1>
    <p class="muted">Signed in with the operator's admin key: it manages tenants and plans, and acts inside no tenant (their datasets, jobs and models are theirs).</p>
    <section class="card" id="tenants"><h2>Tenants</h2><${ErrorBox} error=${tenantsError || usageError} />
      <${Table} columns=${[["Tenant", (t) => lastSegment(t.name)], ["Name", (t) => t.displayName || ""], ["Plan", (t) => lastSegment(t.plan || "plans/free")],
        ["Predictions today", (t) => meter(t, "predictions", "predictionsPerDay")], ["Requests today", (t) => meter(t, "requests", "")],
        ["Training this month", (t) => meter(t, "trainingSeconds", "trainingSecondsPerMonth", duration)],
        ["Stored", (t) => meter(t, "storedBytes", "storedBytes", bytes)], ["Created", (t) => (t.createTime || "").slice(0, 10)]]}
        rows=${list} empty="No tenants yet." /></section>
    <section class="card" id="plans"><h2>Plans</h2><${ErrorBox} error=${plansError} />
      <${Table} columns=${[["Plan", (p) => lastSegment(p.name)], ["Name", (p) => p.displayName || ""],
        ["Predictions a day", (p) => limit(p.predictionsPerDay, (n) => n.toLocaleString("en"))],
        ["Rate", (p) => limit(p.requestsPerSecond, (n) => `${n} calls/s`) + (Number(p.burst) > 0 ? `, bursts of ${p.burst}` : "")],
        ["Training a month", (p) => limit(p.trainingSecondsPerMonth, duration)], ["Storage", (p) => limit(p.storedBytes, bytes)]]}
        rows=${plans ? plans.plans || [] : null} empty="No plans." /></section>`;
}

// ---- a version's artifact, archive and delete -------------------------------------------------

// The artifact's bytes arrive as JSON lines of base64 chunks; the browser saves them as one file.
async function download(version) {
  const parts = [];
  await watchLines(`/v1/${version.artifact}:download`, (item) => {
    const binary = atob(item.chunk || "");
    const chunk = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) chunk[i] = binary.charCodeAt(i);
    parts.push(chunk);
  });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob(parts, { type: "application/octet-stream" }));
  link.download = `${version.name.split("/")[1]}-v${version.version}${version.format === "keras" ? ".keras" : ".tar"}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// Download, archive (or unarchive) and delete, the last after a confirmation; `changed` reloads.
export function VersionActions({ version, changed, onError }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = (work) => async () => {
    setBusy(true); onError(null);
    try { await work(); changed(); } catch (err) { onError(err); }
    setBusy(false); setConfirming(false);
  };
  const archived = version.state === "STATE_ARCHIVED";
  const v = version.version;
  const aliased = (version.aliases || []).length > 0;
  // A viewer reads (and so downloads) a version but cannot change it; the billing role reads neither.
  const role = readOnlyRole(), changes = readOnlyTitle("archive or delete versions");
  return html`<div class="actions">
    <button class="secondary" data-download=${v} disabled=${busy || role === "billing"} title=${role === "billing" ? readOnlyTitle("read models") : undefined} onClick=${act(() => download(version))} aria-label=${`download version ${v}`}>Download</button>
    <button class="secondary" data-archive=${v} disabled=${busy || Boolean(role)} title=${changes} onClick=${act(() => api("POST", `/v1/${version.name}:${archived ? "unarchive" : "archive"}`, { body: {} }))}
      aria-label=${`${archived ? "unarchive" : "archive"} version ${v}`}>${archived ? "Unarchive" : "Archive"}</button>
    <button class="secondary" data-delete=${v} disabled=${busy || Boolean(role)} title=${changes} onClick=${() => setConfirming(true)} aria-label=${`delete version ${v}`}>Delete</button>
    ${confirming && html`<div class="confirm" role="alertdialog" aria-label=${`confirm deleting version ${v}`}>
      <p>Delete version ${v} for good? Its artifact is removed and it cannot be served or downloaded again${aliased ? html`; <b class="bad">aliases point at it (${version.aliases.join(", ")})</b>: the registry refuses until they are moved` : ""}.</p>
      <button class="confirm-delete" onClick=${act(() => api("DELETE", `/v1/${version.name}`))}>Delete version ${v}</button>
      <button class="secondary" onClick=${() => setConfirming(false)}>Keep it</button></div>`}</div>`;
}
