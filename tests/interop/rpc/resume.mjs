// SPDX-License-Identifier: Apache-2.0
// SIGTERM in the middle of a workflow, then a restart. Phase "submit": submits a chain of N
// add_one tasks, sends SIGTERM to the node as soon as the run is accepted, and counts the receipts
// that still arrive (the running task finishes; nothing new starts) before the node closes the
// socket with 1001. Phase "check" (after a restart): waits for the resumed run to finish, then
// submits the same workflow again: every receipt must be a replay with the right value.
// Usage: node resume.mjs submit|check WS_URL N [PID]
import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { CID } from 'multiformats/cid';
import { create as digest } from 'multiformats/hashes/digest';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { Client, check, eq, payloadBytes, withTimeout } from './lib.mjs';

const [phase, url, nArg, pidArg] = process.argv.slice(2);
const n = Number(nArg);
const RSC = 'ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq';
const cidOf = (v) => CID.createV1(0x71, digest(0x16, sha3_256(dagCbor.encode(v))));
const task = (args) => ({ cause: null, meta: {}, prf: [], run: { input: { args, func: 'add_one' }, nnc: '', op: 'wasm/run', rsc: RSC } });
const tasks = [task([5000000])];
while (tasks.length < n) tasks.push(task([{ 'await/ok': cidOf(tasks[tasks.length - 1].run) }]));
const workflow = JSON.parse(dagJson.stringify({ tasks }));
const outs = (notes) => notes.map((x) => dagJson.decode(payloadBytes(x)));

const c = await Client.open(url);
if (phase === 'submit') {
  const sub = await c.call('subscribe_run_workflow', [{ name: 'resume', workflow }]);
  process.kill(Number(pidArg), 'SIGTERM'); // the run has started: the answer comes from it
  const closed = await withTimeout(c.closed, 30000, 'the node closing the connection');
  eq(closed.code, 1001, 'close code');
  const got = (c.subs.get(sub) || []).length;
  check(got < n, `all ${n} tasks ran before the SIGTERM took effect: make the chain longer`);
  for (const d of outs(c.subs.get(sub) || [])) eq(d.metadata.replayed, false, 'replayed before the stop');
  console.log(`resume: ${got} of ${n} receipts before the node stopped`);
} else {
  // the resumed run has no subscriber: watch the metrics until it completed
  const deadline = Date.now() + 60000;
  for (;;) {
    const m = await c.call('metrics');
    const done = m.metrics.find((x) => x.metric_name === 'ipvm_workflows_completed_total');
    if (done && Number(done.data[0].value) >= 1) break;
    check(Date.now() < deadline, 'the resumed workflow did not complete within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const sub = await c.call('subscribe_run_workflow', [{ name: 'resume', workflow }]);
  const docs = outs(await c.waitFor(sub, n, 60000));
  for (const d of docs) eq(d.metadata.replayed, true, 'replayed after the resume');
  eq(docs.map((d) => d.receipt.out[1]).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => 5000001 + i), 'values');
  console.log(`resume: all ${n} receipts replayed after the restart`);
}
await c.close().catch(() => {});
console.log('resume: all passed');
