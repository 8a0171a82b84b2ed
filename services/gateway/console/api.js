// The one layer that talks to the gateway's API (same origin), for every page of the console and
// the API reference at /docs: the requests (JSON, a file's bytes, a stream of JSON lines), their
// errors in words (`ApiError`), and whether the API answers at all (`connection`: a failed fetch
// marks it lost, the console's banner says so and probes until it is back). No UI library here.
export const KEY = "maas.apiKey";
// Signed in with email and password: the session is an HttpOnly cookie this script cannot read; it
// keeps the session's CSRF token (sent on every request) and who is signed in, for this tab only.
export const CSRF = "maas.csrfToken";
export const WHO = "maas.session";

// ---- API ---------------------------------------------------------------------------------

const TITLES = {
  0: "Connection lost",
  400: "Invalid input",
  401: "Not signed in: the API key or session is missing, invalid, revoked or expired",
  403: "Permission denied",
  404: "Not found",
  409: "Conflict",
  429: "Quota or rate limit reached",
  503: "Service unavailable, try again shortly",
};

// A stream that fails after it started carries the gRPC code in its last line.
const GRPC_TO_HTTP = { 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 14: 503, 16: 401 };

export class ApiError extends Error {
  constructor(status, error, retryAfter) {
    const detail = typeof error === "object" && error ? error.message : error;
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.title = TITLES[status] || `Request failed (HTTP ${status})`;
    this.retryAfter = retryAfter;
  }
}

// ---- connection: one place knows whether the API answers. A failed fetch marks it lost; the
// banner probes with backoff; on reconnect every page reloads what it shows (`generation`).
export const connection = { online: true, generation: 0, listeners: new Set() };
export const LOST = "The console cannot reach the MaaS API";

export function setOnline(online) {
  if (connection.online === online) return;
  connection.online = online;
  if (online) connection.generation += 1;
  for (const listener of connection.listeners) listener();
}


// fetch, with a network failure (no HTTP answer at all) turned into "connection lost".
export async function send(url, init) {
  let res;
  try { res = await fetch(url, init); } catch (err) {
    if (err.name === "AbortError") throw err;
    setOnline(false);
    throw new ApiError(0, LOST);
  }
  setOnline(true);
  return res;
}

export const apiKey = () => sessionStorage.getItem(KEY) || "";
export const session = () => JSON.parse(sessionStorage.getItem(WHO) || "null");
// Roles that only read (viewer) or read billing: their forms that write are disabled with a reason
// rather than refused after submit. A key's scopes are not known here: the API decides for it.
export const readOnlyRole = () => { const who = session(); return who && !apiKey() && ["viewer", "billing"].includes(who.role) ? who.role : null; };
export const authHeaders = (key = apiKey()) => (key || !session()
  ? { authorization: `Bearer ${key}` }
  : { "x-csrf-token": sessionStorage.getItem(CSRF) || "" });

export async function api(method, path, { body, query, key } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  const headers = authHeaders(key);
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await send(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: text }; }
  if (!res.ok) throw new ApiError(res.status, data.error, res.headers.get("retry-after"));
  return data;
}

// Server-streaming calls arrive as JSON lines; fetch streams them (EventSource cannot send headers).
export async function watchLines(path, onItem, signal) {
  const res = await send(path, { headers: authHeaders(), signal });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new ApiError(res.status, data.error, res.headers.get("retry-after"));
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    let chunk;
    try { chunk = await reader.read(); } catch (err) {
      if (err.name === "AbortError") throw err;
      setOnline(false);  // the stream was cut: the gateway went away mid-watch
      throw new ApiError(0, LOST);
    }
    const { value, done } = chunk;
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const item = JSON.parse(line);
      if (item.error) throw new ApiError(GRPC_TO_HTTP[item.error.code] || 500, item.error);
      onItem(item.result);
    }
  }
}

// A file's bytes (an invoice's PDF): the same credentials and errors as `api`, the body as a Blob.
export async function apiBlob(path) {
  const res = await send(new URL(path, location.origin), { headers: authHeaders() });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new ApiError(res.status, data.error, res.headers.get("retry-after"));
  }
  return res.blob();
}

// The connection banner's probe: any HTTP answer means the gateway is back (an error status too).
export async function probe() {
  try { await fetch("/v2/health/live", { headers: authHeaders(), cache: "no-store" }); } catch { return false; }
  setOnline(true);
  return true;
}
