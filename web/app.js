// The Customer 360 page: reads the engine's JSON API (docs/api.md) and polls it, so a new
// event's effect shows within seconds without a reload. It opens on the portfolio
// (/api/v1/portfolio) and drills into one customer at /#<customer_id>, the address alerts
// link to. Charts: Chart.js, vendored.
'use strict';

const REFRESH_MS = 2000;        // the open customer
const LIST_REFRESH_MS = 5000;   // the portfolio and the lists
// Bars, borders and bands (graphics, 3:1 is enough) ...
const COLORS = { HEALTHY: '#16a34a', WATCH: '#d97706', AT_RISK: '#dc2626', CRITICAL: '#991b1b' };
// ... while text in a status colour uses the darker .c-STATUS classes of app.css (4.5:1).
const DIMENSIONS = [['segment', 'Segment'], ['industry', 'Industry'], ['region', 'Region'],
  ['owner', 'Owner'], ['lifecycle_stage', 'Lifecycle stage']];
const STATUSES = ['HEALTHY', 'WATCH', 'AT_RISK', 'CRITICAL'];
// Bucket colours run from red (health 0) to green (100): they show the score itself, not a
// status, whose bands are configurable (docs/config.md) and not in the portfolio's answer.
const BUCKET_COLORS = ['#7f1d1d', '#991b1b', '#b91c1c', '#dc2626', '#ea580c', '#f59e0b', '#eab308', '#84cc16', '#22c55e', '#16a34a'];

const state = {
  id: null, by: 'segment', topSegment: null, atRisk: [], atRiskTotal: 0, found: [], top: [],
  charts: {}, searchTimer: null, shownId: null,
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const num = (n, digits = 0) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
// Whole dollars; millions and billions to one decimal ("$40,000", "$1.2M").
function money(cents) {
  if (cents === null || cents === undefined) return '—';
  const dollars = cents / 100;
  const size = Math.abs(dollars);
  if (size >= 1e9) return '$' + num(dollars / 1e9, 1) + 'B';
  if (size >= 1e6) return '$' + num(dollars / 1e6, 1) + 'M';
  return '$' + num(dollars, 0);
}
const ACRONYMS = new Set(['SLA', 'CSAT', 'NPS', 'SMB', 'P1', 'P2', 'P3', 'P4']);
const label = (s) => String(s ?? '').split('_').map((w) => (ACRONYMS.has(w) ? w : w.toLowerCase())).join(' ')
  .replace(/^./, (c) => c.toUpperCase());
const ago = (s) => (s < 120 ? `${num(s, 0)} s` : s < 7200 ? `${num(s / 60, 0)} min` : s < 172800 ? `${num(s / 3600, 0)} h` : `${num(s / 86400, 0)} days`);
const when = (t) => (t ? t.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC') : '—');
const day = (t) => (t ? t.slice(0, 10) : '—');
const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;

// health_change_7d as an arrow with its number; the words are for screen readers.
function trend(change) {
  if (change === null || change === undefined) return '';
  const [cls, arrow, words] = change > 0 ? ['up', '▲', `up ${change}`] : change < 0 ? ['down', '▼', `down ${-change}`] : ['flat', '▬', 'unchanged'];
  return `<span class="trend ${cls}" title="Health ${words} in 7 days"><span aria-hidden="true">${arrow} ${Math.abs(change)}</span><span class="sr">, health ${words} in 7 days</span></span>`;
}

// Replaces an element's HTML only when it changed, and keeps the keyboard focus on the
// element with the same data-key: the lists re-render every few seconds under the user.
const shownHtml = new WeakMap();
function setHtml(el, html) {
  if (shownHtml.get(el) === html) return;
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : undefined;
  el.innerHTML = html;
  shownHtml.set(el, html);
  if (key !== undefined) {
    const again = [...el.querySelectorAll('[data-key]')].find((e) => e.dataset.key === key);
    if (again) again.focus();
  }
}

// An engine with http.auth_token answers the API 401 until the page sends the token: asked
// for once, kept for this tab only (sessionStorage), never in the URL.
const TOKEN_KEY = 'c360-api-token';
async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { cache: 'no-store', headers: token ? { Authorization: 'Bearer ' + token } : {} });
  if (res.status === 401) $('token-form').hidden = false;
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.detail || res.statusText), { status: res.status, body });
  return body;
}

function live(ok, text) {
  $('live-dot').className = 'dot ' + (ok ? 'on' : 'off');
  $('live-text').textContent = text;
}

// ---- customer lists: search, at risk, largest; each row a link to /#<id> ----
function rowHtml(r) {
  const status = r.status || 'UNSCORED';
  const churned = r.lifecycle_stage === 'CHURNED' ? ' · <span class="churned-tag">churned</span>' : '';
  return `<a class="row${r.customer_id === state.id ? ' selected' : ''}" href="#${esc(encodeURIComponent(r.customer_id))}" data-id="${esc(r.customer_id)}" data-key="${esc(r.customer_id)}"${r.customer_id === state.id ? ' aria-current="page"' : ''} style="border-left-color:${COLORS[status] || '#9ca3af'}">
    <span class="name">${esc(r.name || r.customer_id)}</span>${trend(r.health_change_7d)}<span class="score c-${status}"><span class="sr">health </span>${r.health ?? '—'}</span>
    <span class="sub">${esc(r.customer_id)} · ${esc(label(status))} · risk ${r.risk ?? '—'} · ${money(r.annual_revenue_cents)}${r.vip ? ' · VIP' : ''}${churned}</span></a>`;
}

// Churned customers keep their last score: the at-risk list shows them apart, as the
// portfolio leaves them out of its counts.
function renderLists() {
  const active = state.atRisk.filter((r) => r.lifecycle_stage !== 'CHURNED');
  const churned = state.atRisk.filter((r) => r.lifecycle_stage === 'CHURNED');
  const more = state.atRiskTotal > state.atRisk.length ? '+' : '';
  setHtml($('at-risk'), active.map(rowHtml).join('') || '<p class="none">No customer at risk.</p>');
  $('at-risk-count').textContent = `(${active.length}${more})`;
  setHtml($('churned-at-risk'), churned.map(rowHtml).join(''));
  $('churned-count').textContent = `(${churned.length}${more})`;
  $('churned-title').hidden = $('churned-at-risk').hidden = !churned.length;
  setHtml($('search-results'), $('search').value.trim()
    ? state.found.map(rowHtml).join('') || '<p class="none">No match.</p>'
    : '');
  setHtml($('top-list'), state.top.map(rowHtml).join('') || '<p class="none">No customer yet.</p>');
}

// The search box asks the list API (q: a substring of the id or the name).
async function search() {
  const q = $('search').value.trim();
  state.found = q ? (await api('/api/v1/customers?sort=health&limit=30&q=' + encodeURIComponent(q))).customers : [];
  renderLists();
}

// ---- charts ----
// Creates or updates a chart in place; `empty` (text) shows a note over a chart with no
// data; `words` is the chart's text alternative (the canvas is role=img).
function chart(id, config, empty, words) {
  const canvas = $(id);
  canvas.setAttribute('aria-label', words);
  let note = canvas.parentElement.querySelector('.chart-empty');
  if (!note) {
    note = document.createElement('div');
    note.className = 'chart-empty';
    note.setAttribute('aria-hidden', 'true');
    canvas.parentElement.appendChild(note);
  }
  note.hidden = !empty;
  note.textContent = empty || '';
  const existing = state.charts[id];
  if (existing) {
    existing.data.labels = config.data.labels;
    config.data.datasets.forEach((ds, i) => {
      if (existing.data.datasets[i]) Object.assign(existing.data.datasets[i], ds);
      else existing.data.datasets.push(ds);
    });
    existing.data.datasets.length = config.data.datasets.length;
    existing.update('none');
    return;
  }
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } } }, config.options || {});
  state.charts[id] = new Chart(canvas, config);
}

// ---- the portfolio ----
// The tiles, charts and top bar leave churned customers out (as every dimension but
// lifecycle_stage does), so switching the table's dimension does not move them.
function renderOverview(p) {
  const t = p.totals;
  const st = t.by_status;
  const target = p.health_target;
  const avg = t.average_health;
  $('p-stamp').textContent = `${plural(t.customers, 'customer', 'customers')}, churned ones left out · updated ${new Date().toLocaleTimeString()}`;
  $('p-avg').textContent = num(avg, 1);
  $('p-avg').className = avg === null ? '' : avg >= target ? 'c-HEALTHY' : 'c-AT_RISK';
  $('p-avg-vs').textContent = avg === null ? '' : `${avg >= target ? '▲' : '▼'} ${num(Math.abs(avg - target), 1)} ${avg >= target ? 'above' : 'below'} target`;
  $('p-avg-vs').className = 'vs ' + (avg === null ? '' : avg >= target ? 'c-HEALTHY' : 'c-AT_RISK');
  $('p-target').textContent = `target ${num(target, 0)}`;
  $('p-target').title = 'portfolio.health_target in the engine\'s configuration';
  $('p-avg-bar').style.width = (avg ?? 0) + '%';
  $('p-avg-bar').style.background = avg !== null && avg >= target ? COLORS.HEALTHY : COLORS.AT_RISK;
  $('p-target-mark').style.left = target + '%';
  $('p-customers').textContent = num(t.customers);
  $('p-status').innerHTML = STATUSES.map((s) => `<span class="c-${s}">${num(st[s])} ${esc(label(s).toLowerCase())}</span>`).join(' · ');
  const scored = STATUSES.reduce((n, s) => n + st[s], 0);
  $('p-mix').innerHTML = STATUSES.map((s) => `<i style="width:${scored ? (100 * st[s]) / scored : 0}%;background:${COLORS[s]}"></i>`).join('');
  $('p-revenue').textContent = money(t.revenue_cents);
  $('p-revenue-risk').textContent = `${money(t.revenue_at_risk_cents)} at risk (${num(t.revenue_cents ? (100 * t.revenue_at_risk_cents) / t.revenue_cents : 0, 1)}%)`;
  for (const [days, r] of [[90, t.renewals_due_90d], [180, t.renewals_due_180d]]) {
    $(`p-renew${days}`).textContent = num(r.customers);
    $(`p-renew${days}-rev`).textContent = `${r.customers === 1 ? 'customer' : 'customers'}, ${money(r.revenue_cents)} revenue`;
  }
  $('p-nps').textContent = num(t.nps, 1);
  $('p-nps-n').textContent = plural(t.nps_respondents, 'respondent', 'respondents');
  $('p-csat').textContent = num(t.csat_avg, 2);
  $('p-users').textContent = num(t.active_users_r30d);
  $('p-firing').textContent = num(t.firing_alerts.total);
  const topRule = Object.entries(t.firing_alerts.by_rule).sort((a, b) => b[1] - a[1])[0];
  $('p-firing-top').textContent = topRule && topRule[1] ? `most: ${label(topRule[0])} (${num(topRule[1])})` : 'none firing';

  const buckets = p.health_distribution;
  const bucketLabel = (b) => `${b.from}–${b.to}`;
  const inBuckets = buckets.reduce((n, b) => n + b.customers, 0);
  chart('chart-distribution', {
    type: 'bar',
    data: { labels: buckets.map(bucketLabel), datasets: [{ label: 'Customers', data: buckets.map((b) => b.customers), backgroundColor: BUCKET_COLORS }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'customers' } }, x: { title: { display: true, text: 'health' } } } },
  }, inBuckets ? '' : 'No scored customer yet',
  `Health distribution of ${plural(inBuckets, 'scored customer', 'scored customers')}: ${buckets.map((b) => `${bucketLabel(b)}: ${b.customers}`).join(', ')}.`);

  const a30 = p.alerts_last_30d;
  const rules = Object.entries(a30.by_rule).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  chart('chart-alert-rules', {
    type: 'bar',
    data: { labels: rules.map(([r]) => label(r)), datasets: [{ label: 'Alerts', data: rules.map(([, n]) => n), backgroundColor: '#6366f1' }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { ticks: { autoSkip: false, font: { size: 11 } } } } },
  }, a30.total ? '' : 'No alert in the last 30 days',
  `Alerts by rule, last 30 days, ${num(a30.total)} in all: ${rules.map(([r, n]) => `${label(r)} ${n}`).join(', ')}.`);

  const days = a30.by_day || [];
  chart('chart-alert-days', {
    type: 'bar',
    data: { labels: days.map((d) => d.date.slice(5)), datasets: [{ label: 'Alerts', data: days.map((d) => d.alerts), backgroundColor: '#0ea5e9' }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 10, maxRotation: 0 } } } },
  }, days.some((d) => d.alerts > 0) ? '' : 'No alert in the last 30 days',
  `Alerts per day, last 30 days: ${days.map((d) => `${d.date}: ${d.alerts}`).join(', ') || 'none'}.`);
}

function renderSummary(p) {
  const t = p.totals;
  const st = t.by_status;
  $('summary').innerHTML = `<span><b>${num(t.customers)}</b>customers</span>
    <span><b>${num(t.average_health, 1)}</b>avg health (target ${num(p.health_target, 0)})</span>
    <span><b class="on-dark-HEALTHY">${num(st.HEALTHY)}</b>healthy</span><span><b class="on-dark-WATCH">${num(st.WATCH)}</b>watch</span>
    <span><b class="on-dark-AT_RISK">${num(st.AT_RISK)}</b>at risk</span><span><b class="on-dark-CRITICAL">${num(st.CRITICAL)}</b>critical</span>
    <span><b>${money(t.revenue_at_risk_cents)}</b>revenue at risk</span>
    <span><b>${num(t.firing_alerts.total)}</b>alerts firing</span>`;
}

function renderTabs() {
  setHtml($('dimensions'), DIMENSIONS.map(([by, name]) => `<button type="button" role="tab" id="dim-${by}" data-by="${by}" data-key="${by}" aria-selected="${by === state.by}" tabindex="${by === state.by ? 0 : -1}" aria-controls="rollup-panel">${name}</button>`).join(''));
}

function rollupCells(r) {
  const st = r.by_status;
  const fa = r.firing_alerts;
  const topRule = Object.entries(fa.by_rule).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])[0];
  return `<td class="n" data-col="customers">${num(r.customers)}<span class="mix" aria-hidden="true">${STATUSES.map((s) => `<i style="width:${r.scored ? (100 * st[s]) / r.scored : 0}%;background:${COLORS[s]}"></i>`).join('')}</span></td>
    <td class="n" data-col="health">${num(r.average_health, 1)}</td>
    ${STATUSES.map((s) => `<td class="n${st[s] ? ' c-' + s : ' zero'}" data-col="${s}">${num(st[s])}</td>`).join('')}
    <td class="n" data-col="revenue">${money(r.revenue_cents)}</td>
    <td class="n${r.revenue_at_risk_cents ? ' c-AT_RISK' : ' zero'}" data-col="revenue_at_risk">${money(r.revenue_at_risk_cents)}</td>
    <td class="n" data-col="nps">${num(r.nps, 1)}</td>
    <td class="n" data-col="csat">${num(r.csat_avg, 2)}</td>
    <td class="n" data-col="active_users">${num(r.active_users_r30d)}</td>
    <td class="n" data-col="renewals_90d">${num(r.renewals_due_90d.customers)}<small>${money(r.renewals_due_90d.revenue_cents)}</small></td>
    <td class="n" data-col="firing_alerts">${num(fa.total)}<small>${topRule ? esc(label(topRule[0])) + ' ' + topRule[1] : ''}</small></td>`;
}

function renderRollup(p) {
  const dimension = DIMENSIONS.find(([by]) => by === p.by)[1];
  $('rollup-title').textContent = `Rollup by ${dimension.toLowerCase()}`;
  $('rollup-dim').textContent = dimension;
  const name = (v) => (v === '' ? '(none)' : p.by === 'segment' || p.by === 'lifecycle_stage' ? label(v) : v);
  // Only a segment narrows the list API (segment=); the other dimensions are not filters.
  const first = (r) => (p.by === 'segment' && r.value !== ''
    ? `<button type="button" class="filter" data-segment="${esc(r.value)}" data-key="seg-${esc(r.value)}" aria-pressed="${state.topSegment === r.value}" title="List the largest ${esc(name(r.value))} customers">${esc(name(r.value))}</button>`
    : `<span class="${r.value === '' ? 'none' : ''}">${esc(name(r.value))}</span>`);
  setHtml($('rollup-rows'), p.rows.map((r) => `<tr data-value="${esc(r.value)}"><th scope="row" data-col="value">${first(r)}</th>${rollupCells(r)}</tr>`).join('')
    || '<tr><td colspan="14" class="none">No customer yet.</td></tr>');
  setHtml($('rollup-totals'), `<tr><th scope="row">All<small>${p.by === 'lifecycle_stage' ? 'churned included' : 'churned left out'}</small></th>${rollupCells(p.totals)}</tr>`);
}

async function refreshPortfolio() {
  const wanted = state.by === 'lifecycle_stage' ? ['lifecycle_stage', 'segment'] : [state.by];
  const [table, other] = await Promise.all(wanted.map((by) => api('/api/v1/portfolio?by=' + by)));
  const overall = other || table;
  renderSummary(overall);
  if (state.id) return;
  renderOverview(overall);
  if (table.by === state.by) renderRollup(table);
}

async function refreshTop() {
  const segment = state.topSegment;
  const list = await api('/api/v1/customers?sort=-revenue&limit=12' + (segment ? '&segment=' + encodeURIComponent(segment) : ''));
  if (segment !== state.topSegment) return;
  state.top = list.customers;
  $('top-title').textContent = segment ? `Largest customers in ${label(segment)} (${num(list.total)})` : 'Largest customers';
  $('top-clear').hidden = !segment;
  renderLists();
}

async function refreshAll() {
  try {
    const list = api('/api/v1/customers?status=AT_RISK,CRITICAL&sort=-revenue&limit=100').then((l) => {
      state.atRisk = l.customers;
      state.atRiskTotal = l.total;
    });
    await Promise.all([list, refreshPortfolio(), state.id ? null : refreshTop()]);
    if ($('search').value.trim()) await search();
    else renderLists();
    if (!state.id) live(true, 'live · updated ' + new Date().toLocaleTimeString());
  } catch (e) {
    live(false, 'engine unreachable: ' + e.message);
  }
}

// ---- one customer ----
function tenure(days) {
  if (days === null || days === undefined) return '—';
  const years = Math.floor(days / 365);
  const months = Math.floor((days % 365) / 30.4);
  return years ? `${years} y ${months} mo` : months ? `${months} mo` : `${days} d`;
}

function pct(n) { return n === null || n === undefined ? '—' : `${n > 0 ? '+' : ''}${num(n, 1)}%`; }

function renderCustomer(v, recs, alerts, timeline) {
  const p = v.profile || {};
  const k = v.kpis;
  $('c-name').textContent = p.name || v.customer_id;
  document.title = `${p.name || v.customer_id} · c360`;
  const meta = [esc(v.customer_id)];
  if (p.segment) meta.push(esc(label(p.segment)));
  if (p.industry) meta.push(esc(p.industry));
  if (p.region) meta.push(esc(p.region));
  if (p.owner) meta.push('CSM ' + esc(p.owner));
  if (p.annual_revenue_cents) meta.push(money(p.annual_revenue_cents) + ' ARR');
  if (p.contract_end) meta.push('renews ' + esc(day(p.contract_end)));
  if (p.vip) meta.push('<span class="badge vip">VIP</span>');
  meta.push(`<span class="badge ${esc(v.lifecycle_stage)}" data-testid="lifecycle">${esc(label(v.lifecycle_stage))}</span>`);
  $('c-meta').innerHTML = meta.join(' · ');
  $('c-stamp').innerHTML = `as of ${esc(when(v.stream_time))}<br>task ${v.task}${v.staleness_seconds !== null ? ' · ' + ago(v.staleness_seconds) + ' behind now' : ''}`;
  const churned = v.lifecycle_stage === 'CHURNED';
  $('c-churned').hidden = !churned;
  $('c-churned').textContent = churned ? `Churned${p.churned_on ? ' on ' + day(p.churned_on) : ''}: health alerts are off; SLA, invoice and credit-hold alerts go on.` : '';

  const color = COLORS[v.status] || '#6b7280';
  $('kpi-health').textContent = v.health;
  $('kpi-health').className = 'c-' + v.status;
  $('kpi-health-tile').style.borderTopColor = color;
  $('kpi-health-bar').style.width = v.health + '%';
  $('kpi-health-bar').style.background = color;
  $('kpi-status').textContent = v.status;
  $('kpi-status').className = 'c-' + v.status;
  $('kpi-lifecycle').textContent = label(v.lifecycle_stage);
  $('kpi-lifecycle').className = churned ? 'c-CRITICAL strong' : '';
  $('kpi-risk').textContent = v.risk;
  $('kpi-risk-level').innerHTML = `<span class="badge ${v.risk_level}">${v.risk_level}</span>`;
  $('kpi-change').innerHTML = k.health_change_7d === null ? '—' : trend(k.health_change_7d);
  $('kpi-usage').textContent = num(k.usage_events_r30d);
  $('kpi-usage-prior').textContent = 'prior ' + num(k.usage_events_prior_r30d);
  $('kpi-drop').textContent = num(k.usage_drop_pct, 1) + '%';
  $('kpi-tickets').textContent = num(k.tickets_created_r30d);
  $('kpi-open').textContent = `${k.open_tickets} open, ${k.open_p1} P1`;
  $('kpi-breach').textContent = num(k.sla_breach_rate_pct_r30d, 1) + '%';
  $('kpi-breached').textContent = `${k.sla_breached_r30d} breached`;
  const users = k.active_users_change_pct;
  $('kpi-users').textContent = num(k.active_users_r30d);
  $('kpi-users-prior').innerHTML = `<span class="${users > 0 ? 'up' : users < 0 ? 'down' : ''}">${users > 0 ? '▲ ' : users < 0 ? '▼ ' : ''}${pct(users)}</span> vs ${num(k.active_users_prior_r30d)} before`;
  $('kpi-stickiness').textContent = k.stickiness_pct_r30d === null ? '—' : num(k.stickiness_pct_r30d, 1) + '%';
  $('kpi-modules').textContent = `${plural(k.modules_used_r30d, 'module', 'modules')} used`;
  $('kpi-nps').textContent = k.nps_latest ?? '—';
  $('kpi-nps-kind').textContent = k.nps_latest === null ? 'no survey answer' : k.nps_latest >= 9 ? 'promoter' : k.nps_latest <= 6 ? 'detractor' : 'passive';
  $('kpi-nps').className = k.nps_latest === null ? '' : k.nps_latest >= 9 ? 'c-HEALTHY' : k.nps_latest <= 6 ? 'c-AT_RISK' : 'c-WATCH';
  $('kpi-csat').textContent = k.csat_avg_r90d === null ? '—' : num(k.csat_avg_r90d, 2);
  $('kpi-overdue').textContent = money(k.overdue_amount_cents);
  $('kpi-overdue').className = k.overdue_amount_cents ? 'c-AT_RISK' : '';
  $('kpi-overdue-n').textContent = `${plural(k.overdue_invoices, 'invoice', 'invoices')}${k.days_overdue ? `, ${k.days_overdue} d late` : ''}${k.credit_hold ? ' · credit hold' : ''}`;
  $('kpi-tenure').textContent = tenure(k.tenure_days);
  $('kpi-tenure-since').textContent = p.contract_start ? 'since ' + day(p.contract_start) : k.tenure_days === null ? 'no contract start' : `${num(k.tenure_days)} days`;
  $('kpi-renewal').textContent = k.days_to_renewal === null ? '—' : `${num(k.days_to_renewal)} d`;
  $('kpi-renewal-date').textContent = p.contract_end ? day(p.contract_end) : 'no contract end';
  $('kpi-response').textContent = k.response_rate_r90d === null ? '—' : num(100 * k.response_rate_r90d, 0) + '%';
  $('kpi-campaigns').textContent = `${k.campaigns_engaged_r90d} of ${k.campaigns_sent_r90d} campaigns, 90 d`;

  const scored = timeline.days.filter((d) => d.health !== null && d.health !== undefined);
  const healths = scored.map((d) => d.health);
  chart('chart-timeline', {
    type: 'line',
    data: { labels: timeline.days.map((d) => d.date),
      datasets: [
        { label: 'Health', data: timeline.days.map((d) => d.health), borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 0, stepped: true, borderWidth: 2 },
        { label: 'Churn risk', data: timeline.days.map((d) => d.risk), borderColor: '#dc2626', backgroundColor: '#dc2626', pointRadius: 0, stepped: true, borderWidth: 1.5, borderDash: [4, 3] },
      ] },
    options: { scales: { y: { min: 0, max: 100 }, x: { ticks: { maxTicksLimit: 12 } } } },
  }, timeline.days.length ? '' : 'No daily scores yet',
  scored.length
    ? `Health and churn risk, last 12 months: health ${scored[0].health} on ${scored[0].date}, ${scored[scored.length - 1].health} on ${scored[scored.length - 1].date}, lowest ${Math.min(...healths)}, highest ${Math.max(...healths)}; churn risk ${scored[0].risk} then, ${scored[scored.length - 1].risk} now.`
    : 'Health and churn risk, last 12 months: no daily scores yet.');
  chart('chart-usage', {
    type: 'bar',
    data: { labels: k.monthly_usage.map((m) => m.month), datasets: [{ label: 'Usage events', data: k.monthly_usage.map((m) => m.events), backgroundColor: '#60a5fa' }] },
    options: { plugins: { legend: { display: false } } },
  }, k.monthly_usage.some((m) => m.events > 0) ? '' : 'No product usage in the last 12 months',
  `Usage events per month: ${k.monthly_usage.map((m) => `${m.month}: ${m.events}`).join(', ')}.`);
  const weeks = v.weekly_tickets.weeks;
  const target = v.weekly_tickets.sla_target_pct;
  chart('chart-tickets', {
    data: { labels: weeks.map((w) => w.week_start.slice(5)),
      datasets: [
        { type: 'bar', label: 'Created', data: weeks.map((w) => w.created), backgroundColor: '#93c5fd', yAxisID: 'y' },
        { type: 'bar', label: 'SLA breached', data: weeks.map((w) => w.breached), backgroundColor: '#f87171', yAxisID: 'y' },
        { type: 'line', label: 'SLA met %', data: weeks.map((w) => w.sla_met_pct), borderColor: '#16a34a', backgroundColor: '#16a34a', yAxisID: 'pct', spanGaps: true, pointRadius: 2 },
        { type: 'line', label: `Target ${target}%`, data: weeks.map(() => target), borderColor: '#111827', borderDash: [6, 4], pointRadius: 0, yAxisID: 'pct', borderWidth: 1 },
      ] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, pct: { position: 'right', min: 0, max: 100, grid: { display: false } } } },
  }, weeks.some((w) => w.created > 0) ? '' : 'No tickets in the last 13 weeks',
  `Tickets per week, last 13 weeks, SLA target ${target}%: ${weeks.map((w) => `week of ${w.week_start}: ${w.created} created, ${w.breached} breached${w.sla_met_pct === null ? '' : `, SLA met ${w.sla_met_pct}%`}`).join('; ')}.`);
  chart('chart-modules', {
    type: 'bar',
    data: { labels: k.top_modules_r30d.map((m) => m.module), datasets: [{ label: 'Events', data: k.top_modules_r30d.map((m) => m.events), backgroundColor: '#818cf8' }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  }, k.top_modules_r30d.length ? '' : 'No product usage in the last 30 days',
  `Top modules, last 30 days: ${k.top_modules_r30d.map((m) => `${m.module} ${m.events} events`).join(', ') || 'no product usage'}.`);
  const pr = k.tickets_by_priority_r30d;
  chart('chart-priority', {
    type: 'bar',
    data: { labels: ['P1', 'P2', 'P3', 'P4'], datasets: [{ label: 'Tickets', data: [pr.P1, pr.P2, pr.P3, pr.P4], backgroundColor: ['#991b1b', '#dc2626', '#f59e0b', '#9ca3af'] }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, pr.P1 + pr.P2 + pr.P3 + pr.P4 ? '' : 'No tickets in the last 30 days',
  `Tickets by priority, last 30 days: P1 ${pr.P1}, P2 ${pr.P2}, P3 ${pr.P3}, P4 ${pr.P4}.`);
  // No per-day active-user series in the API: the two 30-day windows, side by side.
  chart('chart-users', {
    type: 'bar',
    data: { labels: ['Prior 30 days', 'Last 30 days'], datasets: [{ label: 'Active users', data: [k.active_users_prior_r30d, k.active_users_r30d], backgroundColor: ['#9ca3af', users < 0 ? '#dc2626' : '#2563eb'] }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, k.active_users_r30d + k.active_users_prior_r30d ? '' : 'No named users in the last 60 days',
  `Active users: ${k.active_users_prior_r30d} in the prior 30 days, ${k.active_users_r30d} in the last 30 days (${pct(users)})${k.stickiness_pct_r30d === null ? '' : `; stickiness ${num(k.stickiness_pct_r30d, 1)}%`}.`);

  const invoices = v.open_invoices || [];
  $('invoice-summary').innerHTML = `${plural(k.overdue_invoices, 'invoice', 'invoices')} overdue (${money(k.overdue_amount_cents)}${k.days_overdue ? `, oldest ${k.days_overdue} days` : ''}) · ${num(k.disputed_invoices)} disputed · ${k.credit_hold ? '<b class="c-AT_RISK">credit hold</b>' : 'no credit hold'}`;
  $('invoices').innerHTML = invoices.map((i) => `<tr><td>${esc(i.invoice_id)}</td><td>${esc(day(i.issued))}</td><td>${esc(day(i.due))}</td><td class="n">${money(i.amount_cents)}</td><td class="n">${money(i.balance_cents)}</td><td>${i.disputed ? '<span class="badge WARNING">disputed</span> ' : ''}${i.overdue ? `<span class="c-AT_RISK strong">${i.days_overdue} d overdue</span>` : 'open'}</td></tr>`).join('')
    || '<tr><td colspan="6" class="none">No unpaid or disputed invoice.</td></tr>';

  const maxDeficit = 35;
  $('drivers').innerHTML = v.drivers.map((d) => `<li><span>${esc(label(d.component))}</span><span class="bar"><i style="width:${Math.min(100, (100 * d.deficit) / maxDeficit)}%"></i></span><span>−${num(d.deficit, 1)}</span><span class="text">${esc(d.text)}</span></li>`).join('')
    || '<li class="none">No component is pulling health down.</li>';
  $('recommendations').innerHTML = recs.recommendations.map((r) => `<li><span class="badge ${r.priority}">${r.priority}</span> <b>${esc(r.action)}</b><span class="why">${esc(r.reason)}</span></li>`).join('')
    || '<li class="none">Nothing to do: keep the cadence.</li>';
  const alertLi = (a, cls) => `<li class="${cls}"><span class="badge ${a.severity}">${esc(a.severity)}</span> <span class="badge ${a.state}">${esc(a.state)}</span> <b>${esc(label(a.rule))}</b>${a.entity_id ? ' · ' + esc(a.entity_id) : ''}<br>${esc(a.message || '')}<div class="when">${esc(when(a.stream_time))}${a.cause ? ' · ' + esc(a.cause.text) : ''}</div></li>`;
  $('alerts').innerHTML = alerts.firing.map((a) => alertLi(a, 'firing')).join('')
    + alerts.history.filter((a) => a.state === 'RESOLVED' || !alerts.firing.some((f) => f.alert_id === a.alert_id)).slice(0, 10).map((a) => alertLi(a, 'history')).join('')
    || '<li class="none">No alerts.</li>';
  const changes = timeline.events.filter((e) => e.type === 'status_change' || e.state === 'FIRING').slice(-12).reverse();
  $('changes').innerHTML = changes.map((e) => e.type === 'status_change'
    ? `<li><b>${esc(e.from ? label(e.from) : 'first score')} → <span class="c-${e.to}">${esc(label(e.to))}</span></b> (health ${e.health_from ?? '—'} → ${e.health}) <span class="when">${esc(when(e.time))}</span><span class="cause">because: ${esc(e.cause.text)}</span></li>`
    : `<li><b>${esc(label(e.rule))}</b> fired (${esc(e.severity)}) <span class="when">${esc(when(e.time))}</span><span class="cause">because: ${esc(e.cause.text)}</span></li>`).join('')
    || '<li class="none">No status change or alert yet.</li>';
  $('tickets').innerHTML = v.recent_tickets.map((t) => `<tr><td>${esc(t.id)}</td><td>${esc(t.priority || '—')}</td><td>${esc(label(t.status))}</td><td>${esc(t.category || t.module || '—')}</td><td>${esc(when(t.created))}</td><td class="sla-${t.sla}">${esc(t.sla)}</td><td>${num(t.response_hours, 1)}</td><td>${num(t.resolution_hours, 1)}</td></tr>`).join('')
    || '<tr><td colspan="8" class="none">No tickets in the last 13 weeks.</td></tr>';
}

async function refreshCustomer(focus) {
  if (!state.id) return;
  const chosen = state.id;
  const id = encodeURIComponent(chosen);
  try {
    const [v, recs, alerts, timeline] = await Promise.all([
      api(`/api/v1/customers/${id}`), api(`/api/v1/customers/${id}/recommendations`),
      api(`/api/v1/customers/${id}/alerts`), api(`/api/v1/customers/${id}/timeline`)]);
    if (chosen !== state.id) return;  // another customer was picked meanwhile
    renderCustomer(v, recs, alerts, timeline);
    state.shownId = chosen;
    if (focus) $('c-name').focus();
    // Keep the lists in step with what the page shows.
    for (const row of [...state.atRisk, ...state.found, ...state.top]) {
      if (row.customer_id === v.customer_id && (row.health !== v.health || row.status !== v.status)) {
        Object.assign(row, { health: v.health, status: v.status, risk: v.risk, risk_level: v.risk_level, health_change_7d: v.kpis.health_change_7d });
        renderLists();
      }
    }
    live(true, 'live · updated ' + new Date().toLocaleTimeString());
  } catch (e) {
    if (chosen !== state.id) return;
    if (e.status === 404 && state.shownId !== chosen) {
      $('c-name').textContent = chosen;
      $('c-meta').textContent = 'No such customer in this engine’s state.';
    }
    live(e.status !== undefined, e.status === 404 ? 'customer not found' : 'engine unreachable: ' + e.message);
  }
}

// ---- routing: /#<customer_id> is one customer, / (or /#) the portfolio ----
function idFromHash() {
  const raw = location.hash.slice(1);
  if (!raw) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function clearCustomer() {
  for (const el of ['c-name', 'c-meta', 'c-stamp', 'kpi-health', 'kpi-status', 'kpi-risk']) $(el).textContent = '';
  $('c-churned').hidden = true;
}

function route(focus) {
  const id = idFromHash();
  const changed = id !== state.id;
  state.id = id;
  $('customer').hidden = !id;
  $('portfolio-view').hidden = Boolean(id);
  renderLists();
  if (id) {
    if (changed) {
      clearCustomer();
      state.shownId = null;
    }
    refreshCustomer(focus && changed);
  } else {
    document.title = 'c360 · Customer 360';
    if (changed && focus) $('p-title').focus();
    refreshAll();
  }
}

function open(id) {
  if (idFromHash() === id) route(true);
  else location.hash = '#' + encodeURIComponent(id);
}

window.addEventListener('hashchange', () => route(true));
// Rows are links (Enter opens them); Space opens them too, as it would a button.
document.addEventListener('keydown', (e) => {
  if (e.key === ' ' && e.target.matches && e.target.matches('a.row')) {
    e.preventDefault();
    open(e.target.dataset.id);
  }
});
$('dimensions').addEventListener('click', (e) => {
  const tab = e.target.closest('[role=tab]');
  if (tab) pickDimension(tab.dataset.by, false);
});
// The tab list: arrows, Home and End move between dimensions (and pick them).
$('dimensions').addEventListener('keydown', (e) => {
  const at = DIMENSIONS.findIndex(([by]) => by === state.by);
  const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: DIMENSIONS.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  pickDimension(DIMENSIONS[(to + DIMENSIONS.length) % DIMENSIONS.length][0], true);
});

function pickDimension(by, focus) {
  state.by = by;
  renderTabs();
  if (focus) $('dim-' + by).focus();
  refreshPortfolio().catch((e) => live(false, 'engine unreachable: ' + e.message));
}

$('rollup-rows').addEventListener('click', (e) => {
  const button = e.target.closest('button[data-segment]');
  if (!button) return;
  state.topSegment = state.topSegment === button.dataset.segment ? null : button.dataset.segment;
  for (const b of $('rollup-rows').querySelectorAll('button[data-segment]')) b.setAttribute('aria-pressed', String(b.dataset.segment === state.topSegment));
  shownHtml.delete($('rollup-rows'));
  refreshTop().catch((err) => live(false, err.message));
});
$('top-clear').addEventListener('click', () => {
  state.topSegment = null;
  shownHtml.delete($('rollup-rows'));
  for (const b of $('rollup-rows').querySelectorAll('button[data-segment]')) b.setAttribute('aria-pressed', 'false');
  refreshTop().catch((err) => live(false, err.message));
});
$('search').addEventListener('input', () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(() => search().catch((e) => live(false, e.message)), 150);
});
$('search').addEventListener('keydown', async (e) => {
  if (e.key !== 'Enter') return;
  const q = $('search').value.trim();
  if (!q) return;
  await search();
  const hit = state.found.find((r) => r.customer_id === q) || state.found[0];
  open(hit ? hit.customer_id : q);
});
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token-form').hidden = true;
  route(false);
});

renderTabs();
route(false);
if (state.id) refreshAll();  // the lists and the top bar, for a page opened on a customer
setInterval(refreshAll, LIST_REFRESH_MS);
setInterval(() => refreshCustomer(false), REFRESH_MS);
