// SPDX-License-Identifier: Apache-2.0
// kill -9 in the middle of workflows, then a restart (rpc/node_sigkill_and_resume drives it).
// Phase "submit": sends COUNT chains of N add_one tasks at once (the i-th starting from BASE +
// i * N, named kill-<start>), waits for the first's answer and K of its receipt notifications,
// sends SIGKILL to the node and keeps every notification that arrived before the socket closed.
// Prints, for the answered workflows, one line per receipt the client was told about,
// "reported RECEIPT_CID RAN" (the test looks for each in the node's database), and one per
// workflow with receipts missing, "unfinished NAME" (the test expects it "running" in the
// store); "missed" when every answered workflow had finished (the kill came too late).
// Phase "check" (after a restart, with no client resubmitting): waits until RUNNING resumed runs
// completed (the metric), then subscribes to the same workflows: every receipt comes with the
// right value, the reported ones (read from the file REPORTED, the submit phase's output)
// among them, unchanged and replayed, and every receipt of an unfinished workflow replayed.
// Usage: node kill.mjs submit WS_URL N BASE COUNT K PID | check WS_URL N BASE COUNT REPORTED RUNNING
import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import fs from 'node:fs';
import { CID } from 'multiformats/cid';
import { create as digest } from 'multiformats/hashes/digest';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { Client, check, eq, payloadBytes, withTimeout } from './lib.mjs';

const [phase, url, nArg, baseArg, countArg, ...rest] = process.argv.slice(2);
const n = Number(nArg), base = Number(baseArg), count = Number(countArg);
const RSC = 'ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq';
const cidOf = (v) => CID.createV1(0x71, digest(0x16, sha3_256(dagCbor.encode(v))));
const task = (args) => ({ cause: null, meta: {}, prf: [], run: { input: { args, func: 'add_one' }, nnc: '', op: 'wasm/run', rsc: RSC } });
const chain = (from) => {
  const tasks = [task([from])];
  while (tasks.length < n) tasks.push(task([{ 'await/ok': cidOf(tasks[tasks.length - 1].run) }]));
  return JSON.parse(dagJson.stringify({ tasks }));
};
const starts = Array.from({ length: count }, (_, i) => base + i * n);
const docs = (notes) => notes.map((x) => dagJson.decode(payloadBytes(x)));
const line = (d) => `${d.receipt_cid.toString()} ${d.receipt.ran.toString()}`;

const name = (from) => `kill-${from}`;
const c = await Client.open(url);
if (phase === 'submit') {
  const [kArg, pidArg] = rest;
  const k = Number(kArg);
  // built first (hashing them takes longer than running one), then sent together: the later
  // ones wait for the first (node.runners = 1)
  const wfs = starts.map(chain);
  const answered = starts.map(() => null);
  const calls = wfs.map((workflow, i) => c.call('subscribe_run_workflow', [{ name: name(starts[i]), workflow }])
    .then((sub) => { answered[i] = sub; return sub; }));
  calls.slice(1).forEach((p) => p.catch(() => {})); // may never be answered: the node dies
  const first = await calls[0];
  await c.waitFor(first, k, 30000);
  process.kill(Number(pidArg), 'SIGKILL');
  await withTimeout(c.closed, 10000, 'the socket closing after the kill');
  let total = 0, unfinished = 0;
  for (const [i, sub] of answered.entries()) {
    if (sub === null) continue;
    const got = docs(c.subs.get(sub) || []);
    for (const d of got) eq(d.metadata.replayed, false, 'replayed before the kill');
    for (const d of got) console.log(`reported ${line(d)}`);
    if (got.length < n) console.log(`unfinished ${name(starts[i])}`);
    unfinished += got.length < n;
    total += got.length;
  }
  if (unfinished === 0) console.log('missed');
  console.log(`kill: ${total} receipts of ${answered.filter((x) => x !== null).length} answered of ${count} x ${n} reported before the kill (after ${k}), ${unfinished} unfinished`);
} else {
  const [reportedPath, runningArg] = rest;
  const lines = fs.readFileSync(reportedPath, 'utf8').split('\n');
  const reported = new Set(lines.filter((l) => l.startsWith('reported ')).map((l) => l.slice(9)));
  const unfinished = new Set(lines.filter((l) => l.startsWith('unfinished ')).map((l) => l.slice(11)));
  const running = Number(runningArg);
  // the resumed runs have no subscriber: watch the metrics until they completed
  const deadline = Date.now() + 60000;
  for (;;) {
    const m = await c.call('metrics');
    const done = m.metrics.find((x) => x.metric_name === 'ipvm_workflows_completed_total');
    if (done && Number(done.data[0].value) >= running) break;
    check(Date.now() < deadline, `${running} resumed workflows did not complete within 60 s: were they resumed?`);
    await new Promise((r) => setTimeout(r, 20));
  }
  let seen = 0;
  for (const from of starts) {
    const sub = await c.call('subscribe_run_workflow', [{ name: name(from), workflow: chain(from) }]);
    const got = docs(await c.waitFor(sub, n, 60000));
    eq(got.length, n, 'receipts after the restart');
    eq(got.map((d) => d.receipt.out[1]).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => from + 1 + i), 'values');
    for (const d of got) {
      if (reported.has(line(d))) seen++;
      if (reported.has(line(d)) || unfinished.has(name(from))) eq(d.metadata.replayed, true, `replayed after the resume (${name(from)})`);
    }
  }
  eq(seen, reported.size, 'receipts reported before the kill that came again, unchanged');
  console.log(`kill: all ${count} x ${n} receipts after the restart, the ${reported.size} reported before the kill among them`);
}
await c.close().catch(() => {});
console.log('kill: all passed');
