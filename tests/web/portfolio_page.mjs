// The page's portfolio in a real browser: Debian's chromium, driven by playwright-core
// (web/node_modules, installed by scripts/setup). Run by tests/integration/customer360_test.py:
//   node portfolio_page.mjs BASE_URL SCREENSHOT
// `/` opens on the portfolio: the rollup table shows /api/v1/portfolio's rows, the average
// health and its target, the renewals; every chart drew and says its data in words. The
// dimension switch (by mouse and by arrow keys) shows the API's rows of that dimension; a
// segment narrows the largest-customers list. Keyboard: Tab to a customer row, Enter opens
// it, Space too; /#<id> opens a customer directly, with NPS, CSAT, invoices, active users
// and tenure. Every text on the page has a contrast of 4.5:1 or more. Exit 0 = passed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web') + '/')('playwright-core');
const [base, screenshot] = process.argv.slice(2);

async function get(p) {
  const res = await fetch(base + p);
  assert.equal(res.status, 200, p);
  return res.json();
}

// The page's formats (web/app.js), written out again so the test states what it expects.
const num = (n, digits = 0) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
function money(cents) {
  const dollars = cents / 100;
  if (Math.abs(dollars) >= 1e9) return '$' + num(dollars / 1e9, 1) + 'B';
  if (Math.abs(dollars) >= 1e6) return '$' + num(dollars / 1e6, 1) + 'M';
  return '$' + num(dollars, 0);
}
const label = (s) => s.split('_').map((w) => (['SLA', 'CSAT', 'NPS', 'SMB'].includes(w) ? w : w.toLowerCase())).join(' ').replace(/^./, (c) => c.toUpperCase());
const STATUSES = ['HEALTHY', 'WATCH', 'AT_RISK', 'CRITICAL'];

function expectedCells(r) {
  const cells = {
    customers: num(r.customers), health: num(r.average_health, 1), revenue: money(r.revenue_cents),
    revenue_at_risk: money(r.revenue_at_risk_cents), nps: num(r.nps, 1), csat: num(r.csat_avg, 2),
    active_users: num(r.active_users_r30d), renewals_90d: num(r.renewals_due_90d.customers),
    renewals_90d_revenue: money(r.renewals_due_90d.revenue_cents), firing_alerts: num(r.firing_alerts.total),
  };
  for (const s of STATUSES) cells[s] = num(r.by_status[s]);
  return cells;
}

// The table as the page shows it: the first text of each cell (a cell may add a note below).
function shownTable(page) {
  return page.$$eval('[data-testid=rollup] tbody tr[data-value]', (trs) => trs.map((tr) => {
    const cells = {};
    for (const td of tr.querySelectorAll('td[data-col]')) {
      cells[td.dataset.col] = td.firstChild ? td.firstChild.textContent.trim() : '';
      const note = td.querySelector('small');
      if (td.dataset.col === 'renewals_90d') cells.renewals_90d_revenue = note.textContent;
    }
    return { value: tr.dataset.value, shown: tr.querySelector('th').textContent.trim(), cells };
  }));
}

// Retries until the page shows what the API says (the page polls; no fixed sleeps).
async function eventually(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function tableMatches(page, by) {
  return eventually(async () => {
    const p = await get('/api/v1/portfolio?by=' + by);
    assert.equal(p.by, by);
    const shown = await shownTable(page);
    assert.deepEqual(shown.map((r) => r.value), p.rows.map((r) => r.value), 'rows and their order');
    for (const [i, r] of p.rows.entries()) {
      assert.deepEqual(shown[i].cells, expectedCells(r), `row ${JSON.stringify(r.value)}`);
      if (r.value === '') assert.equal(shown[i].shown, '(none)');
      else if (by === 'owner' || by === 'industry' || by === 'region') assert.equal(shown[i].shown, r.value);
      else assert.ok(shown[i].shown.startsWith(label(r.value)), shown[i].shown);
    }
    return p;
  }, `the rollup by ${by}`);
}

async function chartsDrawn(page, selector) {
  const charts = await page.$$eval(selector, (canvases) => canvases.map((c) => {
    const chart = window.Chart.getChart(c);
    const blank = document.createElement('canvas');
    blank.width = c.width;
    blank.height = c.height;
    return { id: c.id, chart: Boolean(chart), width: c.width, drawn: c.toDataURL() !== blank.toDataURL(),
      role: c.getAttribute('role'), words: c.getAttribute('aria-label') || '' };
  }));
  for (const c of charts) {
    assert.ok(c.chart && c.width > 0 && c.drawn, 'chart not rendered: ' + JSON.stringify(c));
    assert.equal(c.role, 'img', c.id);
    assert.ok(c.words.length > 20, 'no text alternative: ' + JSON.stringify(c));
  }
  return Object.fromEntries(charts.map((c) => [c.id, c.words]));
}

// WCAG 2 contrast of every visible text against what is behind it (backgrounds composited
// up the tree), in the page.
function lowContrast(page) {
  return page.evaluate(() => {
    const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
    const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
    const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] === 1) break;
      }
      return layers.reduceRight((under, top) => over(top, under), [255, 255, 255, 1]);
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || el.closest('.sr, script, style, [hidden]') || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const bg = background(el);
      const fg = over(rgba(style.color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < 4.5) bad.push(`${n.textContent.trim().slice(0, 30)}: ${style.color} on rgb(${bg.slice(0, 3).map(Math.round)}) = ${ratio.toFixed(2)}`);
    }
    return [...new Set(bad)];
  });
}

// Tab from the search box to the first customer row of `list`; returns its id, focused.
async function tabToRow(page, list) {
  await page.focus('[data-testid=search]');
  for (let i = 0; i < 80; i += 1) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate((l) => {
      const a = document.activeElement;
      return a && a.matches('a.row') && a.closest(`[data-testid=${l}]`) ? a.dataset.id : null;
    }, list);
    if (id) return id;
  }
  throw new Error('no customer row of ' + list + ' reached by Tab');
}

async function customerShown(page, id) {
  const v = await get('/api/v1/customers/' + encodeURIComponent(id));
  await page.waitForFunction(([name, health]) => !document.getElementById('customer').hidden
    && document.getElementById('c-name').textContent === name
    && document.getElementById('kpi-health').textContent === String(health),
  [v.profile ? v.profile.name : id, v.health], { timeout: 10000 });
  assert.ok(await page.isHidden('[data-testid=portfolio]'));
  return v;
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
  page.on('pageerror', (e) => failures.push('page error: ' + e.message));
  page.on('requestfailed', (r) => failures.push('request failed: ' + r.url()));
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) failures.push('request outside the engine: ' + r.url());
  });
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=rollup] tbody tr[data-value]', { timeout: 15000 });
  assert.ok(await page.isHidden('#customer'));

  // The portfolio: the table by segment, the average against the target, the renewals.
  const p = await tableMatches(page, 'segment');
  const t = p.totals;
  assert.equal(await page.textContent('#p-avg'), num(t.average_health, 1));
  assert.equal(await page.textContent('[data-testid=health-target]'), `target ${num(p.health_target, 0)}`);
  assert.ok((await page.textContent('[data-testid=average-health]')).includes(t.average_health >= p.health_target ? 'above target' : 'below target'));
  assert.equal(await page.textContent('#p-renew90'), num(t.renewals_due_90d.customers));
  assert.ok((await page.textContent('#p-renew90-rev')).includes(money(t.renewals_due_90d.revenue_cents)));
  assert.equal(await page.textContent('#p-renew180'), num(t.renewals_due_180d.customers));
  assert.equal(await page.textContent('#p-customers'), num(t.customers));
  assert.equal(await page.textContent('#p-firing'), num(t.firing_alerts.total));
  const totals = await page.$eval('[data-testid=rollup] tfoot td[data-col=customers]', (td) => td.firstChild.textContent);
  assert.equal(totals, num(t.customers));

  const words = await chartsDrawn(page, 'canvas[data-testid=portfolio-chart]');
  assert.equal(Object.keys(words).length, 3, JSON.stringify(words));
  for (const b of p.health_distribution) assert.ok(words['chart-distribution'].includes(`${b.from}–${b.to}: ${b.customers}`), words['chart-distribution']);
  for (const [rule, n] of Object.entries(p.alerts_last_30d.by_rule)) assert.ok(words['chart-alert-rules'].includes(`${label(rule)} ${n}`), words['chart-alert-rules']);
  for (const d of p.alerts_last_30d.by_day) assert.ok(words['chart-alert-days'].includes(`${d.date}: ${d.alerts}`), words['chart-alert-days']);

  // Trend arrows in the lists: a row whose customer has a health_change_7d shows it.
  const list = await get('/api/v1/customers?sort=-revenue&limit=12');
  await page.waitForSelector('[data-testid=top-list] a.row', { timeout: 10000 });
  for (const r of list.customers) {
    const trend = await page.$eval(`[data-testid=top-list] a.row[data-id="${r.customer_id}"]`, (a) => (a.querySelector('.trend [aria-hidden]') || { textContent: '' }).textContent);
    const expected = r.health_change_7d === null ? '' : `${r.health_change_7d > 0 ? '▲' : r.health_change_7d < 0 ? '▼' : '▬'} ${Math.abs(r.health_change_7d)}`;
    assert.equal(trend, expected, r.customer_id);
  }
  assert.deepEqual(await lowContrast(page), [], 'text contrast on the portfolio');
  await page.screenshot({ path: screenshot, fullPage: true });

  // Switching the dimension: by mouse, then by arrow keys in the tab list.
  await page.click('[role=tab][data-by=owner]');
  await page.waitForSelector('[role=tab][data-by=owner][aria-selected=true]');
  await tableMatches(page, 'owner');
  await page.keyboard.press('ArrowLeft');
  await page.waitForSelector('[role=tab][data-by=region][aria-selected=true]:focus');
  await tableMatches(page, 'region');
  await page.keyboard.press('End');
  await page.waitForSelector('[role=tab][data-by=lifecycle_stage][aria-selected=true]:focus');
  await tableMatches(page, 'lifecycle_stage');
  await page.keyboard.press('Home');
  await tableMatches(page, 'segment');

  // A segment narrows the largest customers to that segment (the list API's segment=).
  await page.click('[data-testid=rollup] button[data-segment=ENTERPRISE]');
  await eventually(async () => {
    const enterprise = await get('/api/v1/customers?sort=-revenue&limit=12&segment=ENTERPRISE');
    const shown = await page.$$eval('[data-testid=top-list] a.row', (rows) => rows.map((r) => r.dataset.id));
    assert.deepEqual(shown, enterprise.customers.map((c) => c.customer_id));
  }, 'the largest customers in ENTERPRISE');
  assert.equal(await page.getAttribute('[data-testid=rollup] button[data-segment=ENTERPRISE]', 'aria-pressed'), 'true');

  // Keyboard: Tab to a row of the at-risk list, Enter opens that customer; focus moves to
  // its name. Back to the portfolio, Tab to a row of the largest customers, Space opens it.
  const first = await tabToRow(page, 'at-risk-list');
  await page.keyboard.press('Enter');
  await customerShown(page, first);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'c-name');
  assert.equal(new URL(page.url()).hash, '#' + encodeURIComponent(first));
  await page.click('[data-testid=back]');
  await page.waitForSelector('[data-testid=portfolio]:not([hidden])');
  await page.waitForSelector('[data-testid=top-list] a.row');
  const second = await tabToRow(page, 'top-list');
  await page.keyboard.press(' ');
  await customerShown(page, second);

  // /#<id> opens the customer directly (alerts link there), with the customer view's
  // NPS, CSAT, active users, tenure and invoices.
  for (const id of ['worked', 'late', 'healthy']) {
    const direct = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
    direct.on('pageerror', (e) => failures.push('page error: ' + e.message));
    await direct.goto(`${base}/#${encodeURIComponent(id)}`);
    const v = await customerShown(direct, id);
    const k = v.kpis;
    assert.equal(await direct.textContent('[data-testid=kpi-nps]'), k.nps_latest === null ? '—' : String(k.nps_latest));
    assert.equal(await direct.textContent('[data-testid=kpi-csat]'), k.csat_avg_r90d === null ? '—' : num(k.csat_avg_r90d, 2));
    assert.equal(await direct.textContent('[data-testid=kpi-users]'), num(k.active_users_r30d));
    assert.equal(await direct.textContent('[data-testid=kpi-overdue]'), money(k.overdue_amount_cents));
    assert.equal(await direct.textContent('[data-testid=kpi-tenure]') === '—', k.tenure_days === null);
    assert.equal(await direct.textContent('[data-testid=kpi-lifecycle]'), label(v.lifecycle_stage));
    const invoices = await direct.$$eval('[data-testid=invoices] tbody tr', (trs) => trs.map((tr) => tr.textContent));
    if (v.open_invoices.length) {
      assert.equal(invoices.length, v.open_invoices.length);
      v.open_invoices.forEach((i, n) => assert.ok(invoices[n].includes(i.invoice_id) && invoices[n].includes(money(i.balance_cents)), invoices[n]));
    } else {
      assert.deepEqual(invoices, ['No unpaid or disputed invoice.']);
    }
    const charts = await chartsDrawn(direct, 'canvas[data-testid=chart]');
    assert.ok(charts['chart-users'].includes(`${k.active_users_r30d} in the last 30 days`), charts['chart-users']);
    assert.deepEqual(await lowContrast(direct), [], 'text contrast on customer ' + id);
    await direct.close();
  }
  assert.deepEqual(failures, []);
  console.log('PASSED ' + JSON.stringify({ rows: p.rows.length, customers: t.customers, first, second }));
} finally {
  await browser.close();
}
