// The Predict page: rows typed, pasted or read from a CSV file, scored by a model; example rows
// from the model's own training dataset; class names on the scores; and, when the rows carry the
// label column the model was trained on, the true label beside the predicted one.
// Imported by app.js (and importing it back): nothing here runs before app.js has been evaluated.
import { useState } from "preact/hooks";
import { api, html, lastSegment, ErrorBox, ReadOnlyNotice, readOnlyRole, readOnlyTitle, Table, useLoad, watchLines } from "./app.js";
import { Integrate } from "./integrate.js";

export function parseRows(text) {
  return text.trim().split(/\r?\n/).filter((l) => l.trim()).map((l) => l.split(",").map((v) => v.trim()));
}
const numeric = (row) => row.every((v) => v !== "" && !isNaN(Number(v)));

// What the chosen version was trained on: the version (its class names), its training job's label
// and feature columns, and its dataset. Anything missing (an uploaded model has no lineage) is null.
async function trainedOn(model, version) {
  const v = await api("GET", `/v1/models/${model}/versions/${version || "production"}`);
  const lineage = v.lineage || {};
  const [job, dataset] = await Promise.all([
    lineage.trainingJob ? api("GET", `/v1/${lineage.trainingJob}`).catch(() => null) : null,
    lineage.dataset ? api("GET", `/v1/${lineage.dataset}`).catch(() => null) : null]);
  const data = job?.spec?.dataset || {};
  return { version: v, dataset, label: data.labelColumn || (dataset?.columns || []).some((c) => c.name === "label") && "label" || "",
    features: data.featureColumns || [], classNames: v.classificationReport?.classNames || [] };
}

// The header and the first `count` rows of a CSV dataset: only the first chunks of the file are
// read (the stream is cut once they are in).
async function exampleRows(dataset, count = 5) {
  const abort = new AbortController();
  const decoder = new TextDecoder();
  let text = "";
  const enough = () => text.split("\n").length > count + 1;
  await watchLines(`/v1/${dataset.artifact}:download`, (item) => {
    const binary = atob(item.chunk || "");
    text += decoder.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)), { stream: true });
    if (enough()) abort.abort();
  }, abort.signal).catch((err) => { if (err.name !== "AbortError") throw err; });
  return text.split(/\r?\n/).slice(0, count + 1).join("\n");
}

// The rows to send, and each row's true label: a header row names the columns, so the features
// are picked by name (the job's, or all but the label) and the label column read as the truth;
// without one, every column is a feature, extra trailing ones dropped.
function rowsOf(text, width, facts) {
  let rows = parseRows(text), truth = null;
  if (rows.length && !numeric(rows[0])) {
    const header = rows[0];
    rows = rows.slice(1);
    const label = facts?.label ? header.indexOf(facts.label) : -1;
    const wanted = facts?.features?.length ? facts.features : header.filter((_, i) => i !== label);
    const picks = wanted.map((name) => header.indexOf(name)).filter((i) => i >= 0);
    if (label >= 0) truth = rows.map((r) => r[label]);
    if (picks.length) rows = rows.map((r) => picks.map((i) => r[i]));
  }
  rows = rows.map((r) => (width > 0 && r.length > width ? r.slice(0, width) : r));
  return { rows, truth };
}

const same = (a, b) => (a !== "" && b !== "" && !isNaN(Number(a)) && !isNaN(Number(b)) ? Number(a) === Number(b) : String(a) === String(b));

export function Predict() {
  const [models, modelsError] = useLoad(() => api("GET", "/v1/models"));
  const [model, setModel] = useState("");
  const [version, setVersion] = useState("");
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [facts] = useLoad(() => (model ? trainedOn(model, version.trim()).catch(() => null) : Promise.resolve(null)), [model, version]);
  const loadCsv = async (e) => setText(await e.target.files[0].text());
  const examples = async () => {
    setError(null);
    try { setText(await exampleRows(facts.dataset)); } catch (err) { setError(err); }
  };
  const run = async (e) => {
    e.preventDefault();
    setError(null); setResult(null);
    try {
      const metadata = await api("GET", `/v2/models/${model}${version ? `/versions/${version}` : ""}`);
      const input = metadata.inputs[0];
      const { rows, truth } = rowsOf(text, input.shape[input.shape.length - 1], facts);
      const data = rows.flat().map(Number);
      const body = { inputs: [{ name: input.name, datatype: input.datatype, shape: [rows.length, rows[0]?.length || 0], data }] };
      const path = `/v2/models/${model}${version ? `/versions/${version}` : ""}/infer`;
      setResult({ answer: await api("POST", path, { body }), truth });
    } catch (err) { setError(err); }
  };
  const output = result?.answer?.outputs?.[0];
  const perRow = output ? output.shape.slice(1).reduce((a, b) => a * b, 1) : 0;
  const names = facts?.classNames || [];
  const className = (i) => names[i] ?? String(i);
  // A label written as a class index reads as the class's name.
  const truthName = (t) => (t !== undefined && /^\d+$/.test(String(t)) && names[Number(t)] !== undefined ? names[Number(t)] : t);
  const rows = output ? Array.from({ length: output.shape[0] }, (_, i) => {
    const values = output.data.slice(i * perRow, (i + 1) * perRow);
    const predicted = perRow > 1 ? className(values.indexOf(Math.max(...values))) : values[0].toFixed(4);
    return { i, values, predicted, truth: truthName(result.truth?.[i]) };
  }) : [];
  const scores = (r) => (perRow > 1 ? r.values.map((v, i) => [className(i), v]).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([name, v]) => `${name} ${v.toFixed(3)}`).join(" · ") : r.values[0].toFixed(4));
  const truthKnown = Boolean(result?.truth);
  const right = rows.filter((r) => perRow > 1 && same(r.truth, r.predicted)).length;
  const csv = facts?.dataset?.format === "DATASET_FORMAT_CSV" && facts.dataset.kind !== "DATASET_KIND_TEXT";
  return html`<h1>Predict</h1><section class="card"><${ErrorBox} error=${error || modelsError} /><${ReadOnlyNotice} cannot="predict" />
    <form onSubmit=${run}><div class="grid">
      <div><label for="predict-model">Model</label><select id="predict-model" value=${model} onChange=${(e) => { setModel(e.target.value); setResult(null); }}>
        <option value="">choose...</option>${(models?.models || []).map((m) => html`<option value=${lastSegment(m.name)}>${lastSegment(m.name)}</option>`)}</select></div>
      <div><label for="predict-version">Version or alias (empty: production)</label><input id="predict-version" value=${version} onInput=${(e) => setVersion(e.target.value)} /></div></div>
      <label for="rows">Rows: comma-separated features, one row per line. With a header row, columns are picked by name${facts?.label ? html` and <code>${facts.label}</code> is read as the true label` : ""}; without one, extra trailing columns are dropped.</label>
      <textarea id="rows" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <label for="csv">... or a CSV file</label><input id="csv" type="file" accept=".csv" onChange=${loadCsv} />
      <div><button type="submit" disabled=${!model || !text.trim() || Boolean(readOnlyRole())} title=${readOnlyTitle("predict")}>Predict</button>
        ${csv && html` <button type="button" class="secondary" id="examples" onClick=${examples}>Example rows from <code>${facts.dataset.name}</code></button>`}</div></form></section>
    ${output && html`<section class="card" id="predictions"><h2>Predictions (${result.answer.model_name} v${result.answer.model_version}, output ${output.name})</h2>
      ${truthKnown && perRow > 1 && html`<p id="agreement">${right} of ${rows.length} predicted as labelled (${((100 * right) / (rows.length || 1)).toFixed(0)}%), the true label read from <code>${facts.label}</code>.</p>`}
      <${Table} columns=${[["Row", (r) => r.i + 1], ...(truthKnown ? [["True", (r) => r.truth]] : []),
        ["Predicted", (r) => (truthKnown && perRow > 1 ? html`<span class=${same(r.truth, r.predicted) ? "ok" : "bad"}>${r.predicted}${same(r.truth, r.predicted) ? "" : " (wrong)"}</span>` : r.predicted)],
        [perRow > 1 ? "Scores (top 3 classes)" : "Score", scores]]} rows=${rows} /></section>`}
    ${model && html`<${Integrate} model=${model} version=${version.trim()} row=${rowsOf(text, 0, facts).rows.find(numeric)} />`}`;
}
