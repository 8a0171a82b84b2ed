// The OpenAPI document of this gateway, browsable: operations grouped by tag, each with its
// parameters, request body and responses, and the schemas they refer to. Built from /openapi.json
// with plain DOM calls, through the console's API layer (api.js); nothing is fetched from anywhere else.
import { api, probe } from "./api.js";

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
};
const refName = (ref) => ref.split("/").pop();

// A schema in one line: a type, a $ref (linked to its definition), an array or an object's fields.
function schemaText(schema, depth = 0) {
  if (!schema) return el("span", { class: "muted" }, "-");
  if (schema.$ref) return el("a", { href: `#schema-${refName(schema.$ref)}` }, refName(schema.$ref));
  if (schema.type === "array") return el("span", {}, "array of ", schemaText(schema.items, depth));
  if (schema.properties && depth < 1) {
    const list = el("ul", { class: "fields" });
    for (const [name, field] of Object.entries(schema.properties)) list.append(el("li", {}, el("code", {}, name), ": ", schemaText(field, depth + 1)));
    return list;
  }
  const type = [schema.type, schema.format].filter(Boolean).join(" ") || (schema.enum ? "enum" : "object");
  return el("span", {}, type, schema.enum ? ` (${schema.enum.join(", ")})` : "");
}

function operation(path, method, op) {
  const id = op.operationId || `${method}-${path}`;
  const body = op.requestBody?.content && Object.values(op.requestBody.content)[0]?.schema;
  const details = el("details", { class: "operation", id: `op-${id}`, "data-search": `${method} ${path} ${id} ${op.summary || ""}`.toLowerCase() },
    el("summary", {}, el("b", { class: `method ${method}` }, method.toUpperCase()), " ", el("code", {}, path), " ", el("span", { class: "muted" }, op.summary || id)));
  if (op.description && op.description !== op.summary) details.append(el("p", {}, op.description));
  const params = op.parameters || [];
  if (params.length) {
    const rows = params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, p.required ? "required" : ""), el("td", {}, schemaText(p.schema))));
    details.append(el("h3", {}, "Parameters"), el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "In", "", "Type"].map((t) => el("th", { scope: "col" }, t)))), el("tbody", {}, ...rows)));
  }
  if (body) details.append(el("h3", {}, "Request body"), el("div", {}, schemaText(body)));
  const responses = Object.entries(op.responses || {});
  if (responses.length) {
    details.append(el("h3", {}, "Responses"), el("ul", {}, ...responses.map(([code, r]) => el("li", {}, el("code", {}, code), " ", r.description || "",
      r.content ? " " : null, r.content ? schemaText(Object.values(r.content)[0]?.schema) : null))));
  }
  return details;
}

async function main() {
  const target = document.getElementById("operations");
  let doc;
  try { doc = await api("GET", "/openapi.json"); } catch (err) {
    // The same words as the console's (ApiError's title); while the gateway is away, retried until it answers.
    target.replaceChildren(el("div", { class: "error", role: "alert", "data-status": String(err.status ?? "") },
      el("b", {}, `The OpenAPI document could not be loaded: ${err.title || "error"}`), ` ${err.message || err}`,
      err.status === 0 ? " Trying again until it answers..." : ""));
    if (err.status === 0) {
      const retry = async () => { if (await probe()) main(); else setTimeout(retry, 2000); };
      setTimeout(retry, 2000);
    }
    return;
  }
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  const sections = [...byTag].map(([tag, ops]) => el("section", { class: "card tag" }, el("h2", {}, `${tag} (${ops.length})`), ...ops));
  const schemas = Object.entries(doc.components?.schemas || {}).sort(([a], [b]) => a.localeCompare(b));
  const schemaCard = el("section", { class: "card", id: "schemas" }, el("h2", {}, `Schemas (${schemas.length})`),
    ...schemas.map(([name, schema]) => el("details", { id: `schema-${name}`, class: "schema" }, el("summary", {}, el("code", {}, name)),
      schema.description ? el("p", {}, schema.description) : null, el("div", {}, schemaText(schema)))));
  target.replaceChildren(el("p", { id: "doc-info" }, `${doc.info?.title || "API"} ${doc.info?.version || ""}: ${[...byTag.values()].flat().length} operations`), ...sections, schemaCard);
  // A link to a schema opens it.
  addEventListener("hashchange", () => { const open = document.getElementById(location.hash.slice(1)); if (open?.tagName === "DETAILS") open.open = true; });
  document.getElementById("filter").addEventListener("input", (e) => {
    const words = e.target.value.toLowerCase().trim();
    for (const op of document.querySelectorAll(".operation")) op.hidden = Boolean(words) && !op.dataset.search.includes(words);
    for (const tag of document.querySelectorAll("section.tag")) tag.hidden = !tag.querySelector(".operation:not([hidden])");
  });
}

main();
