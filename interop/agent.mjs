// agent.mjs is a small AAuth agent (AAuth -11, current profile) written on
// @hellocoop/httpsig 2.2.0's fetch (hs2), for the Go interop tests: it
// calls a resource with its agent token, gets a person token from its
// person server when the resource asks for one, presents it, exchanges
// the resource token it is then given (with presented_token) for an auth
// token, and calls again with that. Every request is signed by httpsig's
// fetch with the jwt Signature-Key scheme.
//
// Input: one JSON object on stdin,
//   {"resource": URL, "person_server": URL, "key": <private JWK>, "agent_token": JWT}
// Output: one JSON object on stdout,
//   {"ok", "error"?, "status", "body", "wire": ["METHOD URL [token] → status requirement", …]}
// where wire lists every request it sent, in order.

import { createRequire } from 'node:module';
import { webcrypto } from 'node:crypto';

if (globalThis.crypto === undefined) {
  globalThis.crypto = webcrypto;
}

const require = createRequire(import.meta.url);
const { fetch: signedFetch, parseDictionary } = require('hs2');

const maxSteps = 6; // a bound on challenges answered, against a looping resource

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// requirement parses AAuth-Requirement, an RFC 8941 dictionary whose
// requirement member carries the resource token as a parameter
// (requirement=auth-token; resource-token="…"), with the parser httpsig
// carries: {requirement, resourceToken}.
function requirement(res) {
  const v = res.headers.get('aauth-requirement');
  if (!v) return null;
  const req = parseDictionary(v).get('requirement');
  if (!req) return { requirement: '', resourceToken: '' };
  const [value, params] = req;
  const rt = params && params.get('resource-token');
  return { requirement: String(value), resourceToken: rt ? String(rt) : '' };
}

function main(input) {
  const wire = [];
  const send = async (url, token, kind, init = {}) => {
    const res = await signedFetch(url, {
      ...init,
      signingKey: input.key,
      signatureKey: { type: 'jwt', jwt: token },
    });
    const req = requirement(res);
    wire.push(`${init.method || 'GET'} ${url} [${kind}] → ${res.status}${req ? ' requirement=' + req.requirement : ''}`);
    return { res, req };
  };
  // postJSON sends a signed JSON body to the person server, signed with
  // the agent token (content-type and content-digest covered).
  const postJSON = async (url, body) => {
    const { res } = await send(url, input.agent_token, 'agent', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${text}`);
    return JSON.parse(text);
  };

  const run = async () => {
    let metadata;
    const psMetadata = async () => {
      if (!metadata) {
        const res = await fetch(input.person_server + '/.well-known/aauth-person.json');
        wire.push(`GET ${input.person_server}/.well-known/aauth-person.json → ${res.status}`);
        metadata = await res.json();
        if (metadata.issuer !== input.person_server) throw new Error(`person server metadata names ${metadata.issuer}`);
      }
      return metadata;
    };
    let token = input.agent_token;
    let kind = 'agent';
    let personToken;
    for (let step = 0; step < maxSteps; step++) {
      const { res, req } = await send(input.resource, token, kind);
      if (res.status !== 401 || !req) {
        return { ok: res.status === 200, status: res.status, body: await res.text(), wire };
      }
      await res.arrayBuffer();
      if (req.requirement === 'person-token') {
        const md = await psMetadata();
        // The resource's identifier: its origin (AAuth -11, Server
        // Identifiers), which is also what its person token's aud names.
        const out = await postJSON(md.person_token_endpoint, { resource: new URL(input.resource).origin });
        personToken = out.person_token;
        token = personToken;
        kind = 'person';
      } else if (req.requirement === 'auth-token' && req.resourceToken && personToken) {
        const md = await psMetadata();
        const out = await postJSON(md.auth_token_endpoint, {
          resource_token: req.resourceToken,
          presented_token: token,
        });
        token = out.auth_token;
        kind = 'auth';
      } else {
        return { ok: false, status: res.status, error: `cannot answer requirement=${req.requirement}`, wire };
      }
    }
    return { ok: false, error: `more than ${maxSteps} challenges`, wire };
  };
  return run().catch((err) => ({ ok: false, error: String(err && err.message ? err.message : err), wire }));
}

readStdin()
  .then(main)
  .catch((err) => ({ ok: false, error: String(err && err.message ? err.message : err) }))
  .then((out) => {
    process.stdout.write(JSON.stringify(out) + '\n');
  });
