// SPDX-License-Identifier: Apache-2.0
// Drives the dashboard (GET /) in Debian's headless Chromium with playwright-core: the page
// connects, a workflow submitted over JSON-RPC by another client appears live with its task
// graph and receipts, the metrics tiles fill in, and a screenshot is taken.
// Usage: node dashboard.mjs WS_URL WORKFLOW.json SCREENSHOT.png PROFILE_DIR
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { Client, check, eq } from './lib.mjs';

const [url, workflowFile, shot, profile] = process.argv.slice(2);
const httpUrl = url.replace(/^ws:/, 'http:') + '/';
const workflow = JSON.parse(fs.readFileSync(workflowFile, 'utf8'));

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const errors = [];
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const res = await page.goto(httpUrl);
  eq(res.status(), 200, 'GET /');
  await page.waitForSelector('#conn.up', { timeout: 10000 });
  console.log('ok the page is connected');

  // Another client submits while the page watches.
  const c = await Client.open(url);
  const sub = await c.call('subscribe_run_workflow', [{ name: 'dashboard-demo', workflow }]);
  await c.waitFor(sub, workflow.tasks.length, 60000);
  await c.close();

  const card = page.locator('.wf', { hasText: 'dashboard-demo' });
  await card.locator('.badge.completed').waitFor({ timeout: 15000 });
  const circles = await card.locator('svg.graph circle').count();
  eq(circles, workflow.tasks.length, 'task graph nodes');
  const green = await card.locator('svg.graph circle[fill="#3fb950"], svg.graph circle[fill="#58a6ff"]').count();
  eq(green, workflow.tasks.length, 'tasks shown as done');
  const edges = await card.locator('svg.graph line').count();
  check(edges >= 1, 'the graph shows the await edges');
  console.log(`ok the workflow is on the page with ${circles} tasks and ${edges} edges`);

  const rows = page.locator('#receipts tr', { hasText: 'dashboard-demo' });
  await rows.first().waitFor({ timeout: 5000 });
  eq(await rows.count(), workflow.tasks.length, 'receipt rows');
  console.log('ok its receipts are listed');

  // Metrics come once a second; wait for a sample that counts the tasks.
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-k="ipvm_tasks_run_total"] .v, [data-k="ipvm_tasks_replayed_total"] .v');
    return v && v.textContent !== '–';
  }, null, { timeout: 10000 });
  const clients = await page.locator('[data-k="ipvm_rpc_clients"] .v').textContent();
  check(Number(clients) >= 1, `RPC clients tile shows ${clients}`);
  console.log('ok metrics tiles are filled');

  await page.waitForTimeout(1500); // a few samples for the sparklines
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`ok screenshot ${shot}`);
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
} finally {
  await ctx.close();
}
console.log('dashboard: all passed');
