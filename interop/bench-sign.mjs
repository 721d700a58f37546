// bench-sign.mjs times the JavaScript reference signer, @hellocoop/httpsig
// 2.2.0 (hs2), signing one GET N times with fetch(url, {dryRun: true}), as
// an agent signs its requests. bench_sign_test.go runs it next to our Signer.
//
//   node bench-sign.mjs [N]
//     Signs a built-in request N times (default 20000) after a warm-up and
//     prints ns/op.
//
//   node bench-sign.mjs --serve
//     One JSON object per line on stdin, one answer per line on stdout:
//       {"url", "key": <private JWK>, "signature_key": {"type", "jwt"},
//        "now_ms", "crypto_key": bool, "warmup": n}
//         -> {"ok", "version", "headers": [[n, v]…]}
//         Sets the request up, warms up (warmup signatures, default 2000),
//         and answers the headers of one signature. With crypto_key the private key is imported once and
//         passed as signingCryptoKey (with the public JWK as signingKey);
//         without, fetch imports the private JWK on every call, as it does
//         for an agent that passes its JWK.
//       {"n"} -> {"ok", "n", "ns"}: signs n times; ns is the total time.
//     The Go side alternates these with its own timed runs.

import { createPrivateKey, webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

if (globalThis.crypto === undefined) {
  globalThis.crypto = webcrypto; // Node 18
}

const require = createRequire(import.meta.url);
const { fetch } = require('hs2');
const version = JSON.parse(
  readFileSync(new URL('./node_modules/hs2/package.json', import.meta.url), 'utf8'),
).version;

// created is fixed, so that every signature, ours included, is the same.
let clockMs = 0;
const realNow = Date.now;
Date.now = () => (clockMs ? clockMs : realNow());

async function setup(cfg) {
  clockMs = cfg.now_ms || 0;
  const init = { signatureKey: cfg.signature_key, dryRun: true };
  if (cfg.crypto_key) {
    const { d: _d, ...pub } = cfg.key;
    const { alg: _alg, ...jwk } = cfg.key;
    init.signingKey = pub;
    init.signingCryptoKey = await globalThis.crypto.subtle.importKey(
      'jwk', jwk, { name: 'Ed25519' }, false, ['sign']);
  } else {
    init.signingKey = cfg.key;
  }
  const url = cfg.url;
  const signOnce = () => fetch(url, init);
  await run(signOnce, cfg.warmup ?? 2000); // warm-up: let V8 optimise
  const { headers } = await signOnce();
  return { signOnce, headers: [...headers] };
}

async function run(signOnce, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await signOnce();
  }
  return Number(process.hrtime.bigint() - t0);
}

// The built-in request: Ed25519 key from the all-zero seed, a JWT-shaped
// token, a GET with a query.
function builtin() {
  const pkcs8 = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    Buffer.alloc(32),
  ]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = `${b64({ alg: 'EdDSA', typ: 'aa-agent+jwt' })}.${b64({
    iss: 'https://agent.example', sub: 'aauth:bench@agent.example', cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: key.x } },
  })}.${Buffer.alloc(64, 1).toString('base64url')}`;
  return {
    url: 'https://resource.example/api/data?x=1',
    key: { ...key, alg: 'Ed25519' },
    signature_key: { type: 'jwt', jwt },
    now_ms: 1730217600123,
  };
}

async function serve() {
  let bench = null;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let answer;
    try {
      const msg = JSON.parse(line);
      if (msg.n !== undefined) {
        if (bench === null) throw new Error('no request set up');
        answer = { ok: true, n: msg.n, ns: await run(bench.signOnce, msg.n) };
      } else {
        bench = await setup(msg);
        answer = { ok: true, version, headers: bench.headers };
      }
    } catch (err) {
      answer = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
}

if (process.argv[2] === '--serve') {
  await serve();
} else {
  const n = Number(process.argv[2] || 20000);
  const { signOnce } = await setup(builtin());
  const ns = await run(signOnce, n);
  console.log(`@hellocoop/httpsig ${version} fetch dryRun, node ${process.version}: ${n} signatures, ${Math.round(ns / n)} ns/op`);
}
