// SPDX-License-Identifier: Apache-2.0
// Bad clients against a running `ipvm node` (started by rpc/node_robustness with small limits):
// malformed JSON, invalid requests, unknown methods, wrong params, batches, oversized frames,
// invalid UTF-8, half-open TCP connections, a client that stops reading, too many clients.
// Each must get a JSON-RPC error or a closed socket, the node must keep serving, and its memory
// must stay bounded. Usage: node robust.mjs WS_URL PID MAX_MESSAGE CLIENT_QUEUE MAX_CLIENTS
import net from 'node:net';
import { Client, check, eq, fail, rss, runAll, withTimeout } from './lib.mjs';

const [url, pidArg, maxMessageArg, queueArg, maxClientsArg] = process.argv.slice(2);
const pid = Number(pidArg), maxMessage = Number(maxMessageArg), queue = Number(queueArg);
const maxClients = Number(maxClientsArg);
const { port } = new URL(url);

async function healthy() {
  const c = await Client.open(url);
  eq(await c.call('health'), { healthy: true }, 'health');
  await c.close();
}

async function metric(name) {
  const c = await Client.open(url);
  const m = await c.call('metrics');
  await c.close();
  const f = m.metrics.find((x) => x.metric_name === name);
  check(f, `metric ${name} missing`);
  return Number(f.data[0].value);
}

function tcp(bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () => { if (bytes) s.write(bytes); });
    const t0 = Date.now();
    s.on('error', reject);
    s.on('data', () => {});
    s.on('close', () => resolve(Date.now() - t0));
  });
}

const c = await Client.open(url);
const rssStart = rss(pid);
// Half-open connections (one silent, one with half an HTTP request) run beside the other
// checks; lws closes them when they time out (about 10 s in lws 4.1.6).
const halfOpen = Promise.all([tcp(null), tcp('GET / HTTP/1.1\r\nHost: x\r\n')]);

await runAll([
  ['malformed JSON is -32700 with a null id, and the connection lives on', async () => {
    const r = await c.raw('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', null);
    eq(r.error.code, -32700, 'code');
    eq(r.id, null, 'id');
    check(/Parse error/.test(r.error.message), `message "${r.error.message}" does not say why`);
    eq(await c.call('health'), { healthy: true }, 'health after');
  }],
  ['an invalid request is -32600 and keeps its id', async () => {
    const r = await c.raw('{"jsonrpc":"1.0","method":"health","id":5}', 5);
    eq(r.error.code, -32600, 'code');
    eq(r.id, 5, 'id');
    const r2 = await c.raw('{"jsonrpc":"2.0","method":1,"params":"bar","id":6}', 6);
    eq(r2.error.code, -32600, 'code of a numeric method');
  }],
  ['an unknown method is -32601', async () => {
    const r = await c.request('no_such_thing');
    eq(r.error.code, -32601, 'code');
    check(r.error.message.includes('no_such_thing'), 'the message names the method');
  }],
  ['wrong params are -32602', async () => {
    eq((await c.request('unsubscribe_network_events', [1, 2])).error.code, -32602, 'unsubscribe [1,2]');
    eq((await c.request('metrics', [1, 2, 3])).error.code, -32602, 'metrics [1,2,3]');
    eq((await c.request('subscribe_network_events', [1])).error.code, -32602, 'network events [1]');
  }],
  ['a submission that is not a workflow is -32602 saying why', async () => {
    eq((await c.request('unsubscribe_run_workflow', [1, 2])).error.code, -32602, 'unsubscribe [1,2]');
    eq((await c.request('subscribe_run_workflow', [])).error.code, -32602, 'run []');
    eq((await c.request('subscribe_run_workflow', [{ name: 'x' }])).error.code, -32602, 'run without workflow');
    eq((await c.request('subscribe_run_workflow', [[1, 2, 300]])).error.code, -32602, 'run with a bad byte');
    eq((await c.request('subscribe_run_workflow', [[161, 97]])).error.code, -32602, 'run with truncated CBOR');
    const bad = await c.request('subscribe_run_workflow', [{ name: 'x', workflow: { tasks: [{ run: 5 }] } }]);
    eq(bad.error.code, -32602, 'run with a malformed task');
    check(/task 0|run/.test(bad.error.message), `"${bad.error.message}" does not say which task`);
  }],
  ['a batch gets an array with one answer per request that has an id', async () => {
    const r = await c.raw(JSON.stringify([
      { jsonrpc: '2.0', method: 'health', id: 'a' },
      { jsonrpc: '2.0', method: 'health' },
      { foo: 'boo' },
      { jsonrpc: '2.0', method: 'nope', id: 'b' },
    ]), 'batch');
    check(Array.isArray(r), 'not an array');
    eq(r.length, 3, 'answers');
    const byId = Object.fromEntries(r.map((x) => [String(x.id), x]));
    eq(byId.a.result, { healthy: true }, 'a');
    eq(byId.null.error.code, -32600, 'the invalid member');
    eq(byId.b.error.code, -32601, 'b');
    const empty = await c.raw('[]', null);
    check(!Array.isArray(empty) && empty.error.code === -32600, 'an empty batch is one -32600');
  }],
  ['a notification (no id) gets no answer', async () => {
    c.ws.send('{"jsonrpc":"2.0","method":"health"}');
    c.ws.send('{"jsonrpc":"2.0","method":"no_such_thing"}');
    await new Promise((r) => setTimeout(r, 200));
    eq(await c.call('health'), { healthy: true }, 'health');
    eq(c.other.length, 0, `unexpected answers ${JSON.stringify(c.other)}`);
  }],
  ['a binary frame holding a request is answered', async () => {
    const r = await c.raw(Buffer.from('{"jsonrpc":"2.0","method":"health","id":77}'), 77, { binary: true });
    eq(r.result, { healthy: true }, 'result');
  }],
  ['an oversized message gets -32007 and a 1009 close', async () => {
    const big = await Client.open(url);
    const text = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'health', params: ['x'.repeat(maxMessage)] });
    const r = await withTimeout(big.raw(text, null), 5000, 'the -32007 answer');
    eq(r.error.code, -32007, 'code');
    const closed = await withTimeout(big.closed, 5000, 'the close');
    eq(closed.code, 1009, 'close code');
  }],
  ['a text frame that is not UTF-8 closes with 1007', async () => {
    const bad = await Client.open(url);
    bad.ws.send(Buffer.from([0x22, 0xff, 0xfe, 0x22]), { binary: false });
    const closed = await withTimeout(bad.closed, 5000, 'the close');
    eq(closed.code, 1007, 'close code');
  }],
  ['a client that stops reading is disconnected, others are not', async () => {
    const slow = await Client.open(url);
    const dropped0 = await metric('ipvm_rpc_slow_clients_dropped_total');
    slow.ws._socket.pause(); // reads nothing from now on
    const doc = JSON.stringify({ jsonrpc: '2.0', method: 'rpc_discover', id: 0 });
    // The answers first fill the kernel's socket buffers (the node writes straight to the
    // socket while it takes data), then the node's queue for this client (rpc.client_queue):
    // requests go on in rounds until the node gives up on the client, at most 64 MiB of
    // answers (far more than loopback buffers hold).
    const n = 64;
    const deadline = Date.now() + 10000;
    let asked = 0;
    while ((await metric('ipvm_rpc_slow_clients_dropped_total')) <= dropped0) {
      if (Date.now() > deadline || asked * 2000 > 64 << 20)
        fail(`the slow client was not disconnected after ${asked} requests`);
      for (let i = 0; i < n && slow.ws.readyState === 1; i++) slow.ws.send(doc);
      asked += n;
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`slow client cut off after ${asked} requests`);
    slow.ws._socket.resume();
    await withTimeout(slow.closed, 10000, 'the slow client seeing its close');
    eq(await c.call('health'), { healthy: true }, 'the other client');
  }],
  ['clients over rpc.max_clients are refused at the handshake', async () => {
    const open = [];
    let refused = 0;
    for (let i = 0; i < maxClients + 5; i++) {
      try { open.push(await Client.open(url)); } catch (e) { refused++; }
    }
    // `c` is connected too, so maxClients - 1 more fit
    eq(open.length, maxClients - 1, 'clients accepted');
    eq(refused, 6, 'clients refused');
    await Promise.all(open.map((x) => x.close()));
    await healthy();
  }],
  ['memory stays bounded under a flood of bad requests', async () => {
    // measured from here: what the flood costs (earlier tests moved megabytes of answers,
    // which a sanitizer build keeps in its quarantine of freed memory)
    const before = rss(pid);
    const flood = await Promise.all(Array.from({ length: 10 }, () => Client.open(url)));
    for (let round = 0; round < 100; round++) {
      await Promise.all(flood.map((f) => f.raw('{"jsonrpc":"2.0","method":"nope","id":1}', 1)));
      for (const f of flood) f.ws.send('{not json');
    }
    await Promise.all(flood.map((f) => f.close()));
    await new Promise((r) => setTimeout(r, 200));
    const grown = rss(pid) - before;
    check(grown < 24 << 20, `RSS grew by ${grown} bytes`);
    console.log(`rss start ${rssStart} before the flood ${before} end ${rss(pid)}`);
  }],
  ['half-open connections are closed, and did not stop the others', async () => {
    const [silent, partial] = await withTimeout(halfOpen, 20000, 'the server closing half-open connections');
    check(silent < 15000 && partial < 15000, `closed after ${silent} and ${partial} ms`);
    await healthy();
  }],
]);
await c.close();
await healthy();
console.log('robust: all passed');
