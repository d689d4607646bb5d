// The Customer 360 page in a real browser: Debian's chromium, driven by playwright-core
// (web/node_modules, installed by scripts/setup). Run by tests/integration/customer360_test.py:
//   node customer360_page.mjs BASE_URL CUSTOMER_ID NEW_STATUS SCREENSHOT
// Opens the page, finds the customer with the search box, checks that the KPI strip shows
// the API's health and status and that every chart drew, prints READY_FOR_EVENT and waits
// (no reload) until the strip shows NEW_STATUS, which the driver causes by producing an
// event; then checks the new alert is listed and saves a screenshot. Exit 0 = passed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web') + '/')('playwright-core');
const [base, customerId, newStatus, screenshot] = process.argv.slice(2);

async function apiView() {
  const res = await fetch(`${base}/api/v1/customers/${encodeURIComponent(customerId)}`);
  assert.equal(res.status, 200);
  return res.json();
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1300 } });
  page.on('pageerror', (e) => failures.push('page error: ' + e.message));
  page.on('requestfailed', (r) => failures.push('request failed: ' + r.url()));
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) failures.push('request outside the engine: ' + r.url());
  });
  await page.goto(base + '/');
  // The at-risk list fills from the list API; the page opens on the portfolio.
  await page.waitForSelector('[data-testid=at-risk-list] .row', { timeout: 15000 });
  await page.waitForSelector('[data-testid=portfolio]:not([hidden])', { timeout: 15000 });

  await page.fill('[data-testid=search]', customerId);
  await page.waitForSelector(`[data-testid=search-results] .row[data-id="${customerId}"]`, { timeout: 10000 });
  await page.click(`[data-testid=search-results] .row[data-id="${customerId}"]`);
  await page.waitForFunction(() => document.getElementById('kpi-health').textContent !== '', null, { timeout: 10000 });

  const before = await apiView();
  assert.equal(await page.textContent('[data-testid=kpi-health]'), String(before.health));
  assert.equal(await page.textContent('[data-testid=kpi-status]'), before.status);
  assert.equal(await page.textContent('[data-testid=kpi-risk]'), String(before.risk));
  assert.equal(await page.textContent('[data-testid=customer-name]'), before.profile ? before.profile.name : customerId);

  // Every chart is a Chart.js chart that drew pixels on its canvas, with data or, when
  // the customer has none (no usage: no top modules), a note saying so.
  const charts = await page.$$eval('canvas[data-testid=chart]', (canvases) => canvases.map((c) => {
    const chart = window.Chart.getChart(c);
    const blank = document.createElement('canvas');
    blank.width = c.width;
    blank.height = c.height;
    const note = c.parentElement.querySelector('.chart-empty');
    return { id: c.id, chart: Boolean(chart), points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0,
      width: c.width, drawn: c.toDataURL() !== blank.toDataURL(), note: note && !note.hidden ? note.textContent : null,
      role: c.getAttribute('role'), words: c.getAttribute('aria-label') };
  }));
  assert.equal(charts.length, 6, JSON.stringify(charts));
  for (const c of charts) {
    assert.ok(c.chart && c.width > 0 && c.drawn && (c.points > 0 || c.note), 'chart not rendered: ' + JSON.stringify(c));
    assert.ok(c.role === 'img' && c.words, 'chart without a text alternative: ' + JSON.stringify(c));
  }
  assert.ok(charts.filter((c) => c.points > 0).length >= 4, JSON.stringify(charts));

  // Live: the driver produces an event; the strip must change without a reload.
  await page.evaluate(() => { window.__sameDocument = true; });
  console.log('READY_FOR_EVENT ' + JSON.stringify({ health: before.health, status: before.status }));
  await page.waitForFunction((s) => document.getElementById('kpi-status').textContent === s, newStatus, { timeout: 30000 });
  assert.ok(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded');
  const after = await apiView();
  assert.equal(after.status, newStatus);
  assert.equal(await page.textContent('[data-testid=kpi-health]'), String(after.health));
  // The new alert shows in the alert list and in "what changed the score".
  await page.waitForFunction(() => document.querySelector('[data-testid=alerts]').textContent.includes('Health low'), null, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=changes]').textContent.includes('CREDIT_HOLD_SET'), null, { timeout: 10000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(failures, []);
  console.log('PASSED ' + JSON.stringify({ before: before.health, after: after.health, status: after.status, charts: charts.length }));
} finally {
  await browser.close();
}
