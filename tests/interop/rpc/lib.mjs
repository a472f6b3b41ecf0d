// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the node API scripts: a JSON-RPC client over `ws` that keeps responses
// and subscription notifications apart, and small assertion helpers that name what failed.
import WebSocket from 'ws';
import fs from 'node:fs';

export function fail(msg) {
  throw new Error(msg);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
}

export function eq(a, b, what) {
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  if (sa !== sb) fail(`${what}: got ${sa}, want ${sb}`);
}

export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

export function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : -1;
}

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();   // id -> {resolve, reject}
    this.subs = new Map();      // subscription id -> array of notifications
    this.waiters = new Map();   // subscription id -> resolve for the next notification
    this.other = [];            // messages that are neither (for tests of odd replies)
    this.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('message', (data) => this.onMessage(data));
  }

  static open(url, opts = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 1 << 30, ...opts });
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  onMessage(data) {
    let msg;
    try { msg = JSON.parse(data.toString()); } catch (e) { this.other.push(data.toString()); return; }
    if (!Array.isArray(msg) && msg.method && msg.params && msg.params.subscription !== undefined) {
      const id = msg.params.subscription;
      if (!this.subs.has(id)) this.subs.set(id, []);
      this.subs.get(id).push(msg);
      const w = this.waiters.get(id);
      if (w) { this.waiters.delete(id); w(); }
      return;
    }
    const id = Array.isArray(msg) ? 'batch' : msg.id;
    const p = this.pending.get(id);
    if (p) { this.pending.delete(id); p.resolve(msg); } else this.other.push(msg);
  }

  // Sends a request and resolves with the whole response object.
  request(method, params, id = this.nextId++) {
    const body = { jsonrpc: '2.0', id, method };
    if (params !== undefined) body.params = params;
    return this.raw(JSON.stringify(body), id);
  }

  raw(text, id, opts = {}) {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(text, opts);
    });
  }

  async call(method, params) {
    const r = await this.request(method, params);
    if (r.error) fail(`${method}: error ${r.error.code} ${r.error.message}`);
    return r.result;
  }

  // Resolves when the subscription holds at least n notifications.
  async waitFor(sub, n, ms = 30000) {
    const have = () => (this.subs.get(sub) || []).length;
    const deadline = Date.now() + ms;
    while (have() < n) {
      const left = deadline - Date.now();
      if (left <= 0) fail(`subscription ${sub}: ${have()} of ${n} notifications after ${ms} ms`);
      await withTimeout(new Promise((r) => this.waiters.set(sub, r)), left, `notification ${have() + 1}/${n}`).catch(() => {});
    }
    return this.subs.get(sub);
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

// Homestar's notification payload: params.result is an array of byte values.
export function payloadBytes(note) {
  const r = note.params.result;
  check(Array.isArray(r) && r.every((b) => Number.isInteger(b) && b >= 0 && b <= 255),
    'params.result is not an array of byte values');
  return Uint8Array.from(r);
}

export async function runAll(tests) {
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    await fn();
    console.log(`ok ${name} (${Date.now() - t0} ms)`);
  }
}
