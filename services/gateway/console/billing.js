// The console's billing: the Usage page (today's figures, the plan's limits in human units, a 30-day
// chart), the Invoices page (lines, totals, CSV as the CLI writes it) and the budget banner on every page.
// Imported by app.js (and importing it back): nothing here runs before app.js has been evaluated.
import { useState } from "preact/hooks";
import { api, apiBlob, bytes, Chart, duration, ErrorBox, html, lastSegment, Table, useLoad } from "./app.js";

// ---- money: integer amounts in the currency's smallest unit, never floats ----------------------

// ISO 4217 currencies without minor units (the CLI's list); every other amount is in hundredths.
const NO_MINOR_UNIT = new Set(["JPY", "KRW", "ISK", "CLP", "VND"]);
const grouped = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

export function money(amount, currency = "USD") {
  const cents = BigInt(amount || 0);  // int64 arrives as a string: BigInt keeps every digit exact
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  if (NO_MINOR_UNIT.has(currency)) return `${sign}${grouped(abs.toString())} ${currency}`;
  return `${sign}${grouped((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, "0")} ${currency}`;
}

// ---- CSV: the same text as `maas invoices show --csv` (maas/cli/billing.py) ---------------------

const METERS = { METER_PREDICTION_ROWS: "prediction rows", METER_TRAINING_SECONDS: "training seconds", METER_STORED_GB_DAYS: "stored GB-days" };
const STATES = { INVOICE_STATE_DRAFT: "draft", INVOICE_STATE_ISSUED: "issued" };
const HEADER = ["month", "state", "description", "plan", "meter", "start_day", "end_day", "quantity", "included", "unit_amount", "per_units", "amount", "currency"];
// Python's csv module (QUOTE_MINIMAL): quote a field holding a comma, a quote or a line break.
const field = (value) => { const text = String(value); return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text; };
const row = (values) => `${values.map(field).join(",")}\n`;

export function csvText(invoice) {
  const state = STATES[invoice.state] || "";
  const n = (v) => String(v ?? 0);
  return row(HEADER) + (invoice.lines || []).map((l) => row([invoice.month, state, l.description || "", l.plan || "", METERS[l.meter] || "fee",
    l.startDay || "", l.endDay || "", n(l.quantity), n(l.included), n(l.unitAmount), n(l.perUnits), n(l.amount), invoice.currency || ""])).join("")
    + row([invoice.month, state, "total", "", "", "", "", "", "", "", "", n(invoice.total), invoice.currency || ""]);
}

const csvHref = (invoice) => `data:text/csv;charset=utf-8,${encodeURIComponent(csvText(invoice))}`;

// ---- PDF: made by the gateway (GET /v1/{invoice}:pdf, the bytes `maas invoices show --pdf` writes),
// fetched through the API layer with this tab's credentials (a key is a header, which a plain link cannot send)

async function downloadPdf(invoice) {
  const url = URL.createObjectURL(await apiBlob(`/v1/${invoice.name}:pdf`));
  const link = Object.assign(document.createElement("a"), { href: url, download: `invoice-${invoice.month}.pdf` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- the Usage page's additions ------------------------------------------------------------------

const count = (n) => Number(n || 0).toLocaleString("en");
const limit = (value, show) => (Number(value) > 0 ? show(Number(value)) : "no limit");

// The plan's limits as a person reads them (rate, burst, daily rows, training time, storage).
export function PlanLimits({ plan }) {
  const items = [
    ["Predictions a day", limit(plan.predictionsPerDay, (n) => `${count(n)} rows`)],
    ["Rate", limit(plan.requestsPerSecond, (n) => `${n.toLocaleString("en")} calls a second`)],
    ["Burst", limit(plan.burst, (n) => `${count(n)} calls`)],
    ["Training a month", limit(plan.trainingSecondsPerMonth, duration)],
    ["Storage", limit(plan.storedBytes, bytes)],
  ];
  return html`<section class="card" id="plan-limits"><h2>Plan limits (${plan.displayName || lastSegment(plan.name || "plans/free")})</h2>
    <dl class="grid">${items.map(([name, value]) => html`<div><dt class="muted">${name}</dt><dd>${value}</dd></div>`)}</dl></section>`;
}

// Rows and calls per UTC day for the last 30 days: a chart, and the same figures as a table for
// screen readers and for reading exact numbers (the chart is its image, described in words).
export function UsageHistory() {
  const [history, error] = useLoad(() => api("GET", "/v1/tenants/-/usage:history", { query: { days: 30 } }));
  const days = history?.days || [];
  const rows = days.map((d) => Number(d.predictions || 0)), calls = days.map((d) => Number(d.predictionCalls || 0));
  const total = (xs) => xs.reduce((a, b) => a + b, 0);
  const label = days.length ? `prediction rows and calls per day, ${days[0].day} to ${days[days.length - 1].day}: ${count(total(rows))} rows in ${count(total(calls))} calls` : "";
  return html`<section class="card" id="usage-history"><h2>Last 30 days</h2><p class="muted">Prediction rows and calls per UTC day; the axis counts days back from today (0).</p><${ErrorBox} error=${error} />
    ${days.length > 0 && html`<${Chart} epochs=${days.map((_, i) => i - days.length + 1)} xLabel="days from today" label=${label}
      series=${[{ name: "prediction rows", values: rows }, { name: "prediction calls", values: calls }]} />
      <details><summary>The figures per day</summary>
        <${Table} columns=${[["Day", (d) => d.day], ["Prediction rows", (d) => count(d.predictions)], ["Prediction calls", (d) => count(d.predictionCalls)], ["Requests", (d) => count(d.requests)]]}
          rows=${[...days].reverse()} /></details>`}</section>`;
}

// Today's figures (rows and calls apart), each against the plan's limit, in the units a person reads.
export function Usage() {
  const [usage, error] = useLoad(() => api("GET", "/v1/tenants/-/usage"));
  const meter = (used, cap, show = count) => (Number(cap) > 0
    ? html`<div class="meter"><div style=${`width:${Math.min(100, (100 * Number(used || 0)) / Number(cap))}%`}></div></div><span>${show(Number(used || 0))} of ${show(Number(cap))}</span>`
    : html`<span>${show(Number(used || 0))} (no limit)</span>`);
  const plan = usage?.plan || {};
  return html`<h1>Usage</h1><section class="card"><${ErrorBox} error=${error} />
    ${usage && html`<p>Plan <b>${plan.displayName || plan.name}</b>, day ${usage.day}</p><div class="grid" id="usage">
      <div><label>Predictions today (rows)</label>${meter(usage.predictions, plan.predictionsPerDay)}</div>
      <div><label>Prediction calls today</label><span>${count(usage.predictionCalls)}</span></div>
      <div><label>Prediction rows this month</label><span>${count(usage.monthPredictions)}</span></div>
      <div><label>Requests today</label><span>${count(usage.requests)}</span></div>
      <div><label>Training this month</label>${meter(usage.trainingSeconds, plan.trainingSecondsPerMonth, duration)}</div>
      <div><label>Stored</label>${meter(usage.storedBytes, plan.storedBytes, bytes)}</div></div>`}</section>
    ${usage && html`<${PlanLimits} plan=${plan} /><${UsageHistory} />`}`;
}

// ---- invoices --------------------------------------------------------------------------------------

function InvoiceCard({ invoice }) {
  const [failure, setFailure] = useState(null);
  const pdf = () => { setFailure(null); downloadPdf(invoice).catch(setFailure); };
  const currency = invoice.currency || "USD";
  const draft = invoice.state === "INVOICE_STATE_DRAFT";
  const month = invoice.month;
  return html`<section class="card invoice" data-month=${month} data-state=${STATES[invoice.state] || ""}>
    <h2>${month} <span class="muted">${draft ? "draft (the running month, worked out now)" : "issued"}</span></h2>
    <${Table} columns=${[["Description", (l) => l.description], ["Days", (l) => `${l.startDay} to ${l.endDay}`], ["Quantity", (l) => count(l.quantity)],
      ["Unit price", (l) => (l.meter ? `${money(l.unitAmount, currency)} per ${count(l.perUnits || 1)}` : `${money(l.unitAmount, currency)} a month`)],
      ["Amount", (l) => money(l.amount, currency)]]} rows=${invoice.lines || []} empty="No charges." />
    <p class="invoice-total">Total <b>${money(invoice.total, currency)}</b></p>
    <${ErrorBox} error=${failure} />
    <a class="download" href=${csvHref(invoice)} download=${`invoice-${month}.csv`}>Download CSV<span class="visually-hidden"> of ${month}</span></a>
    ${" "}<button type="button" class="secondary download-pdf" onClick=${pdf}>Download PDF<span class="visually-hidden"> of ${month}</span></button></section>`;
}

export function Invoices() {
  const [list, error] = useLoad(() => api("GET", "/v1/tenants/-/invoices"));
  const invoices = list ? list.invoices || [] : null;
  return html`<h1>Invoices</h1><${ErrorBox} error=${error} />
    ${invoices && invoices.length === 0 && html`<p class="muted">No invoices yet.</p>`}
    ${(invoices || []).map((invoice) => html`<${InvoiceCard} invoice=${invoice} />`)}`;
}

// ---- the budget banner -------------------------------------------------------------------------

// From the running month's draft (the only invoice carrying the budget); read on every page change.
export function BudgetBanner({ route }) {
  const [draft] = useLoad(() => api("GET", "/v1/tenants/-/invoices/current").catch(() => null), [route]);
  const budget = draft?.budget;
  const reached = Number(budget?.reachedPercent || 0);
  if (!budget || reached < 80) return null;
  const currency = draft.currency || "USD";
  return html`<div class=${`banner budget${reached >= 100 ? "" : " warn"}`} id="budget-banner" role="status" data-reached=${reached}>
    <b>${reached >= 100 ? "This month's spend has reached the budget" : "This month's spend has reached 80 % of the budget"}:</b>
    ${" "}${money(draft.total, currency)} of ${money(budget.monthlyAmount, currency)} (${draft.month}). <a href="#/invoices">See the invoice</a></div>`;
}
