// SPDX-License-Identifier: Apache-2.0
// A Homestar-style client (ws) against `ipvm node`: submits Homestar's fixture workflows with
// subscribe_run_workflow in both param forms and checks every notification as Homestar's
// tests and clients read it: the JSON-RPC envelope, params.result as an array of byte values,
// the bytes being canonical DAG-JSON (re-encoded by the reference @ipld/dag-json to the same
// bytes), the document's shape, receipt CIDs recomputed with @ipld/dag-cbor + SHA3-256, and the
// CIDs and outputs in tests/vectors/homestar/gold.json; replays, names, fan-out to every
// subscription of the same (workflow, name), unsubscribe.
// Usage: node interop.mjs WS_URL VECTORS_DIR
import fs from 'node:fs';
import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { CID } from 'multiformats/cid';
import { create as digest } from 'multiformats/hashes/digest';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { Client, check, eq, fail, payloadBytes, runAll } from './lib.mjs';

const [url, vectors] = process.argv.slice(2);
const gold = JSON.parse(fs.readFileSync(`${vectors}/homestar/gold.json`, 'utf8'));
const fixture = (name) => JSON.parse(fs.readFileSync(`${vectors}/homestar/workflows/${name}`, 'utf8'));
const cidOf = (v) => CID.createV1(0x71, digest(0x16, sha3_256(dagCbor.encode(v)))).toString();

// Decodes one notification and checks everything that does not depend on the run.
function readNote(note, subId) {
  eq(note.jsonrpc, '2.0', 'jsonrpc');
  eq(note.method, 'subscribe_run_workflow', 'notification method');
  eq(note.params.subscription, subId, 'params.subscription');
  const bytes = payloadBytes(note);
  const doc = dagJson.decode(bytes);
  eq(Buffer.from(dagJson.encode(doc)).toString('hex'), Buffer.from(bytes).toString('hex'),
    'the bytes are the canonical DAG-JSON of the document');
  eq(Object.keys(doc), ['metadata', 'receipt', 'receipt_cid'], 'document keys');
  eq(Object.keys(doc.metadata), ['name', 'replayed', 'workflow'], 'metadata keys');
  eq(Object.keys(doc.receipt), ['iss', 'meta', 'out', 'prf', 'ran'], 'receipt keys');
  check(doc.receipt_cid instanceof CID && doc.metadata.workflow instanceof CID, 'links');
  eq(doc.receipt_cid.toString(), cidOf(doc.receipt), 'receipt_cid is the CID of the receipt');
  eq(doc.receipt.iss, null, 'iss');
  eq(doc.receipt.prf, [], 'prf');
  return doc;
}

async function run(client, name, workflow, n, form = 'json') {
  const params = form === 'json' ? [{ name, workflow }]
    : [Array.from(dagCbor.encode({ name, workflow: dagJson.decode(dagJson.encode(workflow)) }))];
  const sub = await client.call('subscribe_run_workflow', params);
  check(typeof sub === 'string' && /^[A-Za-z0-9]{16}$/.test(sub), `subscription id ${sub}`);
  const notes = await client.waitFor(sub, n, 60000);
  return { sub, docs: notes.slice(0, n).map((x) => readNote(x, sub)) };
}

// add-one's chain of two tasks with its own first argument k (so it executes: outputs k+1,
// k+2), the second task's await re-pointed at the first's new instruction CID.
function chain(k) {
  const wf = JSON.parse(JSON.stringify(fixture('test-workflow-add-one.json')));
  wf.tasks[0].run.input.args = [k];
  wf.tasks[1].run.input.args = [{ 'await/ok': { '/': cidOf(wf.tasks[0].run) } }];
  return wf;
}

const c1 = await Client.open(url);
const addOne = fixture('test-workflow-add-one.json');
const wfCid = gold.workflow_cids['test-workflow-add-one.json'];
let first;

await runAll([
  ['add-one: two receipts, Homestar\'s CIDs and outputs', async () => {
    first = await run(c1, 'test', addOne, 2);
    const outs = first.docs.map((d) => d.receipt.out);
    eq(outs.map((o) => o[0]), ['ok', 'ok'], 'results');
    eq(outs.map((o) => o[1]).sort(), gold.expected_outputs['test-workflow-add-one.json'], 'outputs');
    for (const d of first.docs) {
      eq(d.metadata.name, 'test', 'name');
      eq(d.metadata.replayed, false, 'replayed');
      eq(d.metadata.workflow.toString(), wfCid, 'workflow CID');
      eq(d.receipt.meta, { op: 'add_one' }, 'meta');
    }
    const r0 = first.docs.find((d) => d.receipt.out[1] === 2);
    eq(r0.receipt.ran.toString(), gold.invocation_cids['test-workflow-add-one.json#0'], 'ran of task 0');
    eq(r0.receipt_cid.toString(), gold.receipt_cids['test-workflow-add-one.json#0 out ["ok",2]'], 'receipt CID of task 0');
  }],
  ['the same run again is replayed, with the same receipts', async () => {
    const again = await run(c1, 'test', addOne, 2);
    for (const d of again.docs) eq(d.metadata.replayed, true, 'replayed');
    eq(again.docs.map((d) => d.receipt_cid.toString()).sort(),
      first.docs.map((d) => d.receipt_cid.toString()).sort(), 'receipt CIDs');
  }],
  ['every subscription of the same (workflow, name) gets the notifications', async () => {
    const c2 = await Client.open(url);
    const before = c1.subs.get(first.sub).length;
    const third = await run(c2, 'test', addOne, 2);
    for (const d of third.docs) eq(d.metadata.replayed, true, 'replayed');
    await c1.waitFor(first.sub, before + 2, 10000); // the first subscription saw them too
    const other = await run(c2, 'another_test', addOne, 2);
    for (const d of other.docs) eq(d.metadata.name, 'another_test', 'name');
    await new Promise((r) => setTimeout(r, 300));
    eq(c1.subs.get(first.sub).length, before + 2, 'a different name is not delivered to "test"');
    await c2.close();
  }],
  ['the DAG-CBOR form of the params runs too', async () => {
    const r = await run(c1, 'cbor', addOne, 2, 'cbor');
    for (const d of r.docs) {
      eq(d.metadata.name, 'cbor', 'name');
      eq(d.metadata.workflow.toString(), wfCid, 'workflow CID');
    }
  }],
  ['add-one-nonced: three receipts chained through awaits', async () => {
    const wf = fixture('test-workflow-add-one-nonced.json');
    const r = await run(c1, 'nonced', wf, 3);
    eq(r.docs.map((d) => d.receipt.out[1]).sort(), [2, 3, 4], 'outputs');
    eq(r.docs[0].metadata.workflow.toString(), gold.workflow_cids['test-workflow-add-one-nonced.json'], 'workflow CID');
  }],
  ['part two awaits a receipt nobody has: refused with -32602 that says so', async () => {
    const one = await run(c1, 'part', fixture('test-workflow-add-one-part-one.json'), 1);
    eq(one.docs[0].receipt.out, ['ok', 2], 'part one');
    // compat: README.md of the fixtures: part two awaits a CID no fixture produces
    const r = await c1.request('subscribe_run_workflow', [{ name: 'part', workflow: fixture('test-workflow-add-one-part-two.json') }]);
    check(r.error, 'part two was accepted');
    eq(r.error.code, -32602, 'code');
    check(r.error.message.includes('bafyrmigpfy6vvnfmv2wpsnpjmrn6iurejcjhz2doqdl6cfext27etqvi54'), `"${r.error.message}" does not name the CID`);
  }],
  ['an await of a stored receipt outside the workflow: accepted, the awaited output used', async () => {
    // the node's loop cannot look in the store: this submission is parsed on a runner
    const wf = fixture('test-workflow-add-one-part-one.json');
    await run(c1, 'part', wf, 1); // stored (replayed here: the test above ran it)
    wf.tasks[0].run.input.args = [{ 'await/ok': { '/': cidOf(wf.tasks[0].run) } }];
    const r = await run(c1, 'outside', wf, 1);
    eq(r.docs[0].receipt.out, ['ok', 3], 'add_one of the awaited 2');
  }],
  ['the done event follows the last receipt, on every connection, with runs in parallel', async () => {
    // Several clients, each subscribed to every node event, submit workflows of their own at
    // once: each sees its 2 receipts and then its workflow_done (the done event shares the
    // last receipt's trip to the loop or is posted after it: never before, never lost).
    const K = 4;
    const clients = await Promise.all(Array.from({ length: K }, () => Client.open(url)));
    const order = clients.map(() => []);
    clients.forEach((c, i) => c.ws.on('message', (d) => order[i].push(JSON.parse(d.toString()))));
    const nodeSubs = await Promise.all(clients.map((c) => c.call('subscribe_node_events')));
    const runs = await Promise.all(clients.map((c, i) => run(c, `par${i}`, chain(1000 + i), 2)));
    for (let i = 0; i < K; i++) {
      const cid = runs[i].docs[0].metadata.workflow.toString();
      eq(runs[i].docs.map((d) => d.receipt.out[1]).sort(), [1001 + i, 1002 + i], 'outputs');
      const done = () => order[i].find((m) => m.params && m.params.subscription === nodeSubs[i] &&
        m.params.result.type === 'workflow_done' && m.params.result.cid === cid);
      const deadline = Date.now() + 10000;
      while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      check(done(), `client ${i}: no workflow_done for ${cid}`);
      eq(done().params.result.status, 'completed', 'status');
      const at = order[i].indexOf(done());
      const notes = order[i].filter((m) => m.params && m.params.subscription === runs[i].sub);
      eq(notes.length, 2, 'receipt notifications');
      for (const n of notes) check(order[i].indexOf(n) < at, `client ${i}: a receipt after workflow_done`);
      const evs = order[i].filter((m) => m.params && m.params.subscription === nodeSubs[i] &&
        (m.params.result.cid === cid || m.params.result.workflow === cid)).map((m) => m.params.result.type);
      eq(evs, ['workflow', 'receipt', 'receipt', 'workflow_done'], `client ${i}: node events in order`);
    }
    await Promise.all(clients.map((c) => c.close()));
  }],
  ['with no node-event subscriber the done event still reaches `workflows`', async () => {
    // c1 has no node-event subscription (the clients above closed): the done event is posted
    // without waking the loop; the `workflows` answer still has it.
    const r = await run(c1, 'lazy', chain(2000), 2);
    const cid = r.docs[0].metadata.workflow.toString();
    let entry;
    for (const deadline = Date.now() + 10000; Date.now() < deadline;) {
      const list = await c1.call('workflows');
      entry = list.workflows.find((w) => w.started && w.started.cid === cid);
      if (entry && entry.done) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    check(entry && entry.done, `workflows: no done for ${cid}`);
    eq(entry.done.status, 'completed', 'status');
    eq(entry.receipts.length, 2, 'receipts remembered');
  }],
  ['unsubscribe_run_workflow ends a subscription', async () => {
    eq(await c1.call('unsubscribe_run_workflow', [first.sub]), true, 'unsubscribe');
    eq(await c1.call('unsubscribe_run_workflow', [first.sub]), false, 'twice');
    const before = c1.subs.get(first.sub).length;
    await run(c1, 'test', addOne, 2);
    eq(c1.subs.get(first.sub).length, before, 'nothing after unsubscribe');
  }],
  ['rpc_discover lists every method', async () => {
    const doc = JSON.parse(await c1.call('rpc_discover'));
    const names = doc.methods.map((m) => m.name);
    for (const m of ['health', 'metrics', 'node', 'rpc_discover', 'subscribe_run_workflow',
      'unsubscribe_run_workflow', 'subscribe_network_events', 'unsubscribe_network_events']) {
      check(names.includes(m), `${m} missing from rpc_discover`);
    }
  }],
]);
await c1.close();
console.log('interop: all passed');
