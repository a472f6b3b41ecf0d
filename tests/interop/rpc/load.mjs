// SPDX-License-Identifier: Apache-2.0
// Many clients at once: each of CLIENTS WebSocket clients submits WORKFLOWS workflows (TASKS
// chained add_one tasks with arguments no other workflow uses, so every task executes) without
// waiting, and must get exactly every receipt of each, with the right values.
// Usage: node load.mjs WS_URL CLIENTS WORKFLOWS TASKS [PID]
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { create as digest } from 'multiformats/hashes/digest';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { Client, check, eq, payloadBytes, rss } from './lib.mjs';
import * as dagJson from '@ipld/dag-json';

const [url, nclArg, nwfArg, ntArg, pidArg] = process.argv.slice(2);
const ncl = Number(nclArg), nwf = Number(nwfArg), nt = Number(ntArg);
const RSC = 'ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq';
const cidOf = (v) => CID.createV1(0x71, digest(0x16, sha3_256(dagCbor.encode(v))));
const task = (args) => ({ cause: null, meta: {}, prf: [], run: { input: { args, func: 'add_one' }, nnc: '', op: 'wasm/run', rsc: RSC } });

function workflow(k) {
  const tasks = [task([k])];
  while (tasks.length < nt) tasks.push(task([{ 'await/ok': cidOf(tasks[tasks.length - 1].run) }]));
  return { tasks };
}

async function oneClient(ci) {
  const c = await Client.open(url);
  const base = 1000000 + ci * nwf;
  const subs = await Promise.all(Array.from({ length: nwf }, (_, j) =>
    c.call('subscribe_run_workflow', [{ name: `load-${ci}-${j}`, workflow: JSON.parse(dagJson.stringify(workflow(base + j))) }])));
  eq(new Set(subs).size, nwf, 'distinct subscription ids');
  for (let j = 0; j < nwf; j++) {
    const notes = await c.waitFor(subs[j], nt, 240000);
    const outs = notes.map((n) => dagJson.decode(payloadBytes(n)).receipt.out);
    eq(outs.map((o) => o[1]).sort((a, b) => a - b), Array.from({ length: nt }, (_, i) => base + j + 1 + i), `client ${ci} workflow ${j}`);
  }
  await new Promise((r) => setTimeout(r, 50));
  for (let j = 0; j < nwf; j++) eq(c.subs.get(subs[j]).length, nt, `exactly ${nt} receipts for ${ci}/${j}`);
  await c.close();
  return nwf * nt;
}

const t0 = Date.now();
const rss0 = pidArg ? rss(Number(pidArg)) : 0;
const counts = await Promise.all(Array.from({ length: ncl }, (_, i) => oneClient(i)));
const total = counts.reduce((a, b) => a + b, 0);
const secs = (Date.now() - t0) / 1000;
eq(total, ncl * nwf * nt, 'receipts');
console.log(`load: ${ncl} clients x ${nwf} workflows: ${total} receipts in ${secs.toFixed(1)} s (${(total / secs).toFixed(0)}/s)`);
if (pidArg) console.log(`load: node RSS ${(rss0 / 1048576).toFixed(1)} -> ${(rss(Number(pidArg)) / 1048576).toFixed(1)} MiB`);
console.log('load: all passed');
