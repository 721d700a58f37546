// harness.mjs drives the JavaScript reference signer, @hellocoop/httpsig,
// for the Go interop tests. Both generations are installed side by side under
// npm aliases: hs1 (1.7.1, the seed generation) and hs2 (2.2.0, current).
//
// Protocol: one JSON object per line on stdin, one JSON answer per line on
// stdout, in the same order. Requests are handled one at a time, so the
// stubbed clock and the captured signature base always belong to the request
// being handled. A failing request never stops the harness.
//
//   {"id", "op": "versions"}
//     -> {"id", "ok", "versions": {"seed": "1.7.1", "current": "2.2.0"}}
//
//   {"id", "op": "sign", "gen", "now_ms", "url", "method", "headers": [[n, v]…],
//    "body": null | {"b64", "text"}, "key": <private JWK>,
//    "signature_key": {"type", "jwt"?}, "components": [...] | null, "label": null | "…"}
//     -> {"id", "ok", "error"?, "headers": [[n, v]…], "base": <b64 of the signed bytes>,
//         "wire_method", "href", "host", "pathname", "search"}
//     Signs with fetch(url, {…, dryRun: true}) at the stubbed clock.
//
//   {"id", "op": "verify", "gen", "now_ms", "method", "authority", "path",
//    "query": null | "…", "headers": [[n, v]…], "body_b64": null | "…",
//    "require_content_digest": bool}
//     -> {"id", "ok", "error"?}
//     Verifies with the library's verify(); ok is its "verified".

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { webcrypto } from 'node:crypto';

// Node 18 (Debian bookworm's) keeps the WebCrypto global behind a flag;
// httpsig uses it, so provide it before loading the libraries.
if (globalThis.crypto === undefined) {
  globalThis.crypto = webcrypto;
}

const require = createRequire(import.meta.url);
const libs = { seed: require('hs1'), current: require('hs2') };

function installedVersion(alias) {
  const url = new URL(`./node_modules/${alias}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

// A fixed clock: the libraries read Date.now() for created and for the skew
// check.
let clockMs = 0;
const realNow = Date.now;
Date.now = () => (clockMs ? clockMs : realNow());

// Capture the exact bytes each signature is computed over.
const subtle = globalThis.crypto.subtle;
const realSign = subtle.sign.bind(subtle);
let lastSigned = null;
subtle.sign = async (algorithm, key, data) => {
  lastSigned = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return realSign(algorithm, key, data);
};

function lib(gen) {
  const l = libs[gen];
  if (!l) throw new Error(`unknown generation ${JSON.stringify(gen)}`);
  return l;
}

function decodeBody(body) {
  if (body === null || body === undefined) return undefined;
  const bytes = Buffer.from(body.b64, 'base64');
  // A text body goes in as a string, as an agent passes JSON; the rest as
  // bytes.
  return body.text ? bytes.toString('utf8') : new Uint8Array(bytes);
}

// wireMethod is the method fetch puts on the wire. The Fetch Standard
// ("normalize a method") upper-cases DELETE, GET, HEAD, OPTIONS, POST and PUT
// only; every other method, PATCH included, is sent as given.
const normalized = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
function wireMethod(method) {
  const upper = method.toUpperCase();
  return normalized.has(upper) ? upper : method;
}

async function sign(msg) {
  const { fetch } = lib(msg.gen);
  const init = {
    headers: msg.headers,
    signingKey: msg.key,
    signatureKey: msg.signature_key,
    dryRun: true,
  };
  if (msg.method !== null && msg.method !== undefined) init.method = msg.method;
  const body = decodeBody(msg.body);
  if (body !== undefined) init.body = body;
  if (msg.components) init.components = msg.components;
  if (msg.label) init.label = msg.label;
  lastSigned = null;
  const { headers } = await fetch(msg.url, init);
  const u = new URL(msg.url);
  return {
    headers: [...headers],
    base: lastSigned === null ? null : lastSigned.toString('base64'),
    wire_method: wireMethod(init.method ?? 'GET'),
    href: u.href,
    host: u.host,
    pathname: u.pathname,
    search: u.search,
  };
}

async function verify(msg) {
  const { verify } = lib(msg.gen);
  const headers = {};
  for (const [name, value] of msg.headers) {
    const key = name.toLowerCase();
    (headers[key] ??= []).push(value);
  }
  const request = {
    method: msg.method,
    authority: msg.authority,
    path: msg.path,
    headers,
  };
  if (msg.query !== null && msg.query !== undefined) request.query = msg.query;
  if (msg.body_b64 !== null && msg.body_b64 !== undefined) {
    request.body = Buffer.from(msg.body_b64, 'base64');
  }
  const options = {};
  if (msg.require_content_digest) options.requireContentDigest = true;
  const result = await verify(request, options);
  if (result.verified) return {};
  return { fail: result.error || 'signature does not verify' };
}

async function handle(msg) {
  clockMs = msg.now_ms || 0;
  switch (msg.op) {
    case 'versions':
      return { versions: { seed: installedVersion('hs1'), current: installedVersion('hs2') } };
    case 'sign':
      return sign(msg);
    case 'verify':
      return verify(msg);
    default:
      throw new Error(`unknown op ${JSON.stringify(msg.op)}`);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  let id = null;
  let answer;
  try {
    const msg = JSON.parse(line);
    id = msg.id ?? null;
    const out = await handle(msg);
    if (out.fail !== undefined) {
      answer = { id, ok: false, error: String(out.fail) };
    } else {
      answer = { id, ok: true, ...out };
    }
  } catch (err) {
    answer = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
