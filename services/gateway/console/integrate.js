// Copy-ready code that calls a model from a program: curl (the KServe v2 REST route), the Python
// SDK and tritonclient (both over gRPC), with this gateway's endpoints and the model filled in. The
// key is never in a snippet: each reads it from $MAAS_API_KEY, so a pasted snippet leaks nothing.
import { useState } from "preact/hooks";
import { api, html, useLoad } from "./app.js";

// Where a program reaches this gateway: the HTTP origin and the gRPC host:port (the server says).
let endpoints = null;
const loadEndpoints = () => (endpoints ||= api("GET", "/console/endpoints.json")
  .catch(() => { endpoints = null; return { http: location.origin, grpc: `${location.hostname}:50051` }; }));

const pyList = (row) => `[${row.join(", ")}]`;

export function snippets({ http, grpc }, model, version, input, output, row) {
  const body = JSON.stringify({ inputs: [{ name: input.name, datatype: input.datatype, shape: [1, row.length], data: row }] });
  const path = `/v2/models/${model}${version ? `/versions/${version}` : ""}/infer`;
  return {
    curl: `curl -sS -X POST "${http}${path}" \\
  -H "authorization: Bearer $MAAS_API_KEY" \\
  -H "content-type: application/json" \\
  -d '${body}'`,
    python: `import os

import numpy as np
from maas.client import MaasClient

rows = np.array([${pyList(row)}], dtype=np.float32)
with MaasClient("${grpc}", os.environ["MAAS_API_KEY"]) as client:
    outputs = client.predict("${model}", rows${version ? `, version="${version}"` : ""}, input_name="${input.name}")
print(outputs["${output}"].tolist())`,
    triton: `import os

import numpy as np
import tritonclient.grpc as triton

client = triton.InferenceServerClient("${grpc}")
headers = {"authorization": "Bearer " + os.environ["MAAS_API_KEY"]}
rows = np.array([${pyList(row)}], dtype=np.float32)
tensor = triton.InferInput("${input.name}", list(rows.shape), "${input.datatype}")
tensor.set_data_from_numpy(rows)
result = client.infer("${model}", [tensor]${version ? `, model_version="${version}"` : ""}, headers=headers)
print(result.as_numpy("${output}").tolist())`,
  };
}

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Without the clipboard API (a page on plain http off loopback): select a copy and copy it.
  const area = Object.assign(document.createElement("textarea"), { value: text });
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  return undefined;
}

function Snippet({ id, title, text }) {
  const [copied, setCopied] = useState("");
  const press = () => copy(text).then(() => setCopied("Copied."), () => setCopied("Could not copy: select the text instead."));
  return html`<div class="snippet" data-snippet=${id}><h3>${title}</h3>
    <pre tabindex="0" aria-label=${`${title} code`}><code>${text}</code></pre>
    <button class="secondary copy" data-copy=${id} onClick=${press} aria-label=${`copy the ${title} code`}>Copy</button>
    <span class="muted" role="status">${copied}</span></div>`;
}

// `row`: an example row (the first the user entered, when it fits the model; zeros otherwise).
export function Integrate({ model, version, row }) {
  const [found] = useLoad(() => Promise.all([loadEndpoints(), api("GET", `/v2/models/${model}${version ? `/versions/${version}` : ""}`)]), [model, version]);
  if (!found) return null;
  const [where, metadata] = found;
  const input = metadata.inputs?.[0] || { name: "features", datatype: "FP32", shape: [-1, 1] };
  const width = Math.max(1, Number(input.shape[input.shape.length - 1]) || 1);
  const example = row && row.length >= width && row.slice(0, width).every((v) => v !== "" && !isNaN(Number(v)))
    ? row.slice(0, width).map(Number) : Array(width).fill(0);
  const code = snippets(where, model, version, input, metadata.outputs?.[0]?.name || "output", example);
  return html`<section class="card" id="integrate"><h2>Call <code>${model}</code> from a program</h2>
    <p class="muted">Set <code>MAAS_API_KEY</code> to an API key with the predict scope first (keys are never put in these snippets).
      HTTP at <code>${where.http}</code>, gRPC at <code>${where.grpc}</code>; every route is in the <a href="/docs">API reference</a>.</p>
    <${Snippet} id="curl" title="curl" text=${code.curl} />
    <${Snippet} id="python" title="Python SDK (maas.client)" text=${code.python} />
    <${Snippet} id="triton" title="tritonclient (gRPC)" text=${code.triton} /></section>`;
}
