// SPDX-License-Identifier: Apache-2.0
// The JS side of ipvm's UCAN cross-checks (tests/unit/trust/test_interop.c drives it): makes
// and verifies UCAN 1.0 tokens with iso-ucan and UCAN 0.x JWTs with @ucans/ucans, so each side
// checks what the other made. Reads one JSON request on stdin, writes one JSON answer.
//   node ucan.mjs iso-make    {seeds:{name: seed-b64}, exp, nonce, cmd, pol, args, now}
//   node ucan.mjs iso-verify  {kind: "dlg"|"inv", token, proofs:[...], now, audience?}
//   node ucan.mjs jwt-make    {secrets:{name: secret-b64}, exp, with, can}
//   node ucan.mjs jwt-verify  {token, audience, with, can, root}
//   node ucan.mjs bench       {depth, iterations}
//   node ucan.mjs batch       {requests: [{mode, request}...]}  -> [answers]
import { Delegation } from 'iso-ucan/delegation'
import { Invocation } from 'iso-ucan/invocation'
import { EdDSASigner } from 'iso-signatures/signers/eddsa.js'
import { verifier as edVerifier } from 'iso-signatures/verifiers/eddsa.js'
import { Resolver } from 'iso-signatures/verifiers/resolver.js'
import * as ucans from '@ucans/ucans'

const b64 = (u8) => Buffer.from(u8).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))
const verifierResolver = new Resolver({ ...edVerifier })

async function readInput() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

// The ed25519-priv multikey form iso-signatures imports: base64pad(varint 0x1300 || seed).
function signer(seedB64) {
  return EdDSASigner.import(b64(Buffer.concat([Buffer.from([0x80, 0x26]), Buffer.from(seedB64, 'base64')])))
}

// A chain root (node) -> alice -> bob, and bob's invocation, with fixed nonces and times so
// ipvm can rebuild the same bytes.
async function isoMake(req) {
  const node = await signer(req.seeds.node)
  const alice = await signer(req.seeds.alice)
  const bob = await signer(req.seeds.bob)
  const nonce = unb64(req.nonce)
  const root = await Delegation.create({
    iss: node, aud: alice.did, sub: node.did, cmd: req.cmd, pol: req.pol, exp: req.exp, nonce, now: req.now,
  })
  const mid = await Delegation.create({
    iss: alice, aud: bob.did, sub: node.did, cmd: req.cmd, pol: req.pol, exp: req.exp, nonce, now: req.now,
  })
  const inv = await Invocation.create({
    iss: bob, sub: node.did, cmd: req.cmd, args: req.args, prf: [root, mid], exp: req.exp, nonce,
    now: req.now, verifierResolver,
  })
  return {
    dids: { node: node.did, alice: alice.did, bob: bob.did },
    root: root.toString(), mid: mid.toString(), inv: b64(inv.bytes),
    cids: { root: root.cid.toString(), mid: mid.cid.toString(), inv: inv.cid.toString() },
    root_len: root.bytes.length,
  }
}

async function isoVerify(req) {
  try {
    const now = req.now
    if (req.kind === 'dlg') {
      const d = await Delegation.from({ bytes: unb64(req.token), verifierResolver, now })
      await d.validate({ verifierResolver, now })
      return { ok: true, cid: d.cid.toString() }
    }
    const proofs = new Map()
    for (const p of req.proofs) {
      const d = await Delegation.fromString(p, { now: 0 })
      proofs.set(d.cid.toString(), p)
    }
    const inv = await Invocation.from({
      bytes: unb64(req.token),
      audience: req.audience ? { did: req.audience } : undefined,
      verifierResolver,
      now,
      resolveProof: async (cid) => {
        const p = proofs.get(cid.toString())
        if (!p) throw new Error(`proof ${cid} not found`)
        return Delegation.fromString(p, { now: 0 })
      },
    })
    return { ok: true, cid: inv.cid.toString() }
  } catch (e) {
    return { ok: false, error: String(e.message || e) }
  }
}

// @ucans/ucans: root (node) -> alice -> bob, capability {with, can}, JWTs with nested proofs.
async function jwtMake(req) {
  const kp = (s) => ucans.EdKeypair.fromSecretKey(s)
  const node = kp(req.secrets.node), alice = kp(req.secrets.alice), bob = kp(req.secrets.bob)
  const cap = { with: ucans.capability.resourcePointer.parse(req.with), can: ucans.capability.ability.parse(req.can) }
  const root = await ucans.build({ issuer: node, audience: alice.did(), capabilities: [cap], expiration: req.exp })
  const mid = await ucans.build({
    issuer: alice, audience: bob.did(), capabilities: [cap], expiration: req.exp, proofs: [ucans.encode(root)],
  })
  const leaf = await ucans.build({
    issuer: bob, audience: node.did(), capabilities: [cap], expiration: req.exp, proofs: [ucans.encode(mid)],
  })
  return { root: ucans.encode(root), mid: ucans.encode(mid), leaf: ucans.encode(leaf) }
}

async function jwtVerify(req) {
  try {
    const result = await ucans.verify(req.token, {
      audience: req.audience,
      requiredCapabilities: [{
        capability: { with: ucans.capability.resourcePointer.parse(req.with), can: ucans.capability.ability.parse(req.can) },
        rootIssuer: req.root,
      }],
    })
    return result.ok ? { ok: true } : { ok: false, error: result.error.map((e) => e.message).join('; ') }
  } catch (e) {
    return { ok: false, error: String(e.message || e) }
  }
}

// Times iso-ucan on the work bench/trust measures: sign (create) a delegation, verify one, and
// validate an invocation over a chain of `depth` delegations.
async function bench(req) {
  const keys = []
  for (let i = 0; i <= req.depth; i++) {
    const seed = Buffer.alloc(32, i + 1)
    keys.push(await signer(seed.toString('base64')))
  }
  const exp = Math.floor(Date.now() / 1000) + 3600
  const time = async (n, fn) => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await fn(i)
    return Number(process.hrtime.bigint() - t0) / n / 1000 // µs per op
  }
  const n = req.iterations
  const out = {}
  out.sign_us = await time(n, () => Delegation.create({ iss: keys[0], aud: keys[1].did, sub: keys[0].did, cmd: '/wasm/run', pol: [], exp }))
  const one = await Delegation.create({ iss: keys[0], aud: keys[1].did, sub: keys[0].did, cmd: '/wasm/run', pol: [], exp })
  out.verify_us = await time(n, () => Delegation.from({ bytes: one.bytes, verifierResolver }))
  const chain = []
  for (let i = 0; i < req.depth; i++) {
    chain.push(await Delegation.create({
      iss: keys[i], aud: keys[i + 1].did, sub: keys[0].did, cmd: '/wasm/run', pol: [['like', '.rsc', 'ipfs://*']], exp,
    }))
  }
  const byCid = new Map(chain.map((d) => [d.cid.toString(), d]))
  const inv = await Invocation.create({
    iss: keys[req.depth], sub: keys[0].did, cmd: '/wasm/run', args: { rsc: 'ipfs://bafy' }, prf: chain, exp, verifierResolver,
  })
  out.chain_us = await time(Math.max(1, Math.floor(n / req.depth)), () => Invocation.from({
    bytes: inv.bytes, verifierResolver,
    // resolving re-parses and re-verifies each proof from its bytes, as ipvm does
    resolveProof: async (cid) => Delegation.from({ bytes: byCid.get(cid.toString()).bytes, verifierResolver }),
  }))
  return out
}

const modes = { 'iso-make': isoMake, 'iso-verify': isoVerify, 'jwt-make': jwtMake, 'jwt-verify': jwtVerify, bench }
// Many requests in one process (node starts slowly): {"requests": [{"mode", "request"}...]}.
modes.batch = async (req) => {
  const out = []
  for (const r of req.requests) out.push(await modes[r.mode](r.request))
  return out
}
const mode = modes[process.argv[2]]
if (!mode) {
  console.error(`usage: node ucan.mjs ${Object.keys(modes).join('|')} < request.json`)
  process.exit(2)
}
process.stdout.write(JSON.stringify(await mode(await readInput())) + '\n')
