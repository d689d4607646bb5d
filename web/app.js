// The Customer 360 page: reads the engine's JSON API (docs/api.md) and polls it, so a new
// event's effect shows within seconds without a reload. Charts: Chart.js, vendored.
'use strict';

const REFRESH_MS = 2000;
const LIST_REFRESH_MS = 5000;
const COLORS = { HEALTHY: '#16a34a', WATCH: '#d97706', AT_RISK: '#dc2626', CRITICAL: '#991b1b' };
const state = { id: null, atRisk: [], atRiskTotal: 0, found: [], charts: {}, searchTimer: null };

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const num = (n, digits = 0) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const money = (cents) => '$' + num(cents / 100, 0);
const ACRONYMS = new Set(['SLA', 'CSAT', 'NPS', 'SMB', 'P1', 'P2', 'P3', 'P4']);
const label = (s) => String(s ?? '').split('_').map((w) => (ACRONYMS.has(w) ? w : w.toLowerCase())).join(' ')
  .replace(/^./, (c) => c.toUpperCase());
const ago = (s) => (s < 120 ? `${num(s, 0)} s` : s < 7200 ? `${num(s / 60, 0)} min` : s < 172800 ? `${num(s / 3600, 0)} h` : `${num(s / 86400, 0)} days`);
const when = (t) => (t ? t.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC') : '—');

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

// ---- left: search and the at-risk list ----
function rowHtml(r) {
  const status = r.status || 'UNSCORED';
  return `<div class="row${r.customer_id === state.id ? ' selected' : ''}" data-id="${esc(r.customer_id)}" style="border-left-color:${COLORS[status] || '#d1d5db'}">
    <span class="name">${esc(r.name || r.customer_id)}</span><span class="score c-${status}">${r.health ?? '—'}</span>
    <span class="sub">${esc(r.customer_id)} · ${esc(label(status))} · risk ${r.risk ?? '—'} · ${money(r.annual_revenue_cents)}${r.vip ? ' · VIP' : ''}</span></div>`;
}

function renderLists() {
  $('at-risk').innerHTML = state.atRisk.map(rowHtml).join('') || '<p class="none">No customer at risk.</p>';
  $('at-risk-count').textContent = `(${state.atRiskTotal})`;
  $('search-results').innerHTML = $('search').value.trim()
    ? state.found.map(rowHtml).join('') || '<p class="none">No match.</p>'
    : '';
}

// The search box asks the list API (q: a substring of the id or the name).
async function search() {
  const q = $('search').value.trim();
  state.found = q ? (await api('/api/v1/customers?sort=health&limit=30&q=' + encodeURIComponent(q))).customers : [];
  renderLists();
}

async function refreshList() {
  try {
    const list = await api('/api/v1/customers?status=AT_RISK,CRITICAL&sort=-revenue&limit=100');
    state.atRisk = list.customers;
    state.atRiskTotal = list.total;
    if ($('search').value.trim()) await search();
    else renderLists();
    const s = await api('/api/v1/summary');
    const st = s.by_status;
    $('portfolio').innerHTML = `<span><b>${num(s.customers)}</b>customers</span>
      <span><b>${num(s.average_health, 1)}</b>avg health</span>
      <span><b class="c-HEALTHY">${st.HEALTHY}</b>healthy</span><span><b class="c-WATCH">${st.WATCH}</b>watch</span>
      <span><b class="c-AT_RISK">${st.AT_RISK}</b>at risk</span><span><b class="c-CRITICAL">${st.CRITICAL}</b>critical</span>
      <span><b>${money(s.revenue_at_risk_cents)}</b>revenue at risk (${num(s.revenue_at_risk_pct, 1)}%)</span>
      <span><b>${num(s.alerts_last_24h.total)}</b>alerts in 24 h</span>`;
  } catch (e) {
    live(false, 'engine unreachable: ' + e.message);
  }
}

// ---- right: one customer ----
// Creates or updates a chart in place; `empty` (text) shows a note over a chart with no data.
function chart(id, config, empty) {
  const canvas = $(id);
  let note = canvas.parentElement.querySelector('.chart-empty');
  if (!note) {
    note = document.createElement('div');
    note.className = 'chart-empty';
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
  state.charts[id] = new Chart($(id), config);
}

function renderCustomer(v, recs, alerts, timeline) {
  $('empty').hidden = true;
  $('customer').hidden = false;
  const p = v.profile || {};
  $('c-name').textContent = p.name || v.customer_id;
  const meta = [esc(v.customer_id)];
  if (p.segment) meta.push(esc(label(p.segment)));
  if (p.industry) meta.push(esc(p.industry));
  if (p.region) meta.push(esc(p.region));
  if (p.owner) meta.push('CSM ' + esc(p.owner));
  if (p.annual_revenue_cents) meta.push(money(p.annual_revenue_cents) + ' ARR');
  if (p.contract_end) meta.push('renews ' + esc(p.contract_end.slice(0, 10)));
  if (p.vip) meta.push('<span class="badge vip">VIP</span>');
  meta.push(`<span class="badge">${esc(label(v.lifecycle_stage))}</span>`);
  $('c-meta').innerHTML = meta.join(' · ');
  $('c-stamp').innerHTML = `as of ${esc(when(v.stream_time))}<br>task ${v.task}${v.staleness_seconds !== null ? ' · ' + ago(v.staleness_seconds) + ' behind now' : ''}`;

  const k = v.kpis;
  const color = COLORS[v.status] || '#6b7280';
  $('kpi-health').textContent = v.health;
  $('kpi-health').className = 'c-' + v.status;
  $('kpi-health-tile').style.borderTopColor = color;
  $('kpi-health-bar').style.width = v.health + '%';
  $('kpi-health-bar').style.background = color;
  $('kpi-status').textContent = v.status;
  $('kpi-status').className = 'c-' + v.status;
  $('kpi-lifecycle').textContent = label(v.lifecycle_stage);
  $('kpi-risk').textContent = v.risk;
  $('kpi-risk-level').innerHTML = `<span class="badge ${v.risk_level}">${v.risk_level}</span>`;
  $('kpi-usage').textContent = num(k.usage_events_r30d);
  $('kpi-usage-prior').textContent = 'prior ' + num(k.usage_events_prior_r30d);
  $('kpi-drop').textContent = num(k.usage_drop_pct, 1) + '%';
  $('kpi-tickets').textContent = num(k.tickets_created_r30d);
  $('kpi-open').textContent = `${k.open_tickets} open, ${k.open_p1} P1`;
  $('kpi-breach').textContent = num(k.sla_breach_rate_pct_r30d, 1) + '%';
  $('kpi-breached').textContent = `${k.sla_breached_r30d} breached`;

  chart('chart-timeline', {
    type: 'line',
    data: { labels: timeline.days.map((d) => d.date),
      datasets: [
        { label: 'Health', data: timeline.days.map((d) => d.health), borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 0, stepped: true, borderWidth: 2 },
        { label: 'Churn risk', data: timeline.days.map((d) => d.risk), borderColor: '#dc2626', backgroundColor: '#dc2626', pointRadius: 0, stepped: true, borderWidth: 1.5, borderDash: [4, 3] },
      ] },
    options: { scales: { y: { min: 0, max: 100 }, x: { ticks: { maxTicksLimit: 12 } } } },
  }, timeline.days.length ? '' : 'No daily scores yet');
  chart('chart-usage', {
    type: 'bar',
    data: { labels: k.monthly_usage.map((m) => m.month), datasets: [{ label: 'Usage events', data: k.monthly_usage.map((m) => m.events), backgroundColor: '#60a5fa' }] },
    options: { plugins: { legend: { display: false } } },
  }, k.monthly_usage.some((m) => m.events > 0) ? '' : 'No product usage in the last 12 months');
  const weeks = v.weekly_tickets.weeks;
  chart('chart-tickets', {
    data: { labels: weeks.map((w) => w.week_start.slice(5)),
      datasets: [
        { type: 'bar', label: 'Created', data: weeks.map((w) => w.created), backgroundColor: '#93c5fd', yAxisID: 'y' },
        { type: 'bar', label: 'SLA breached', data: weeks.map((w) => w.breached), backgroundColor: '#f87171', yAxisID: 'y' },
        { type: 'line', label: 'SLA met %', data: weeks.map((w) => w.sla_met_pct), borderColor: '#16a34a', backgroundColor: '#16a34a', yAxisID: 'pct', spanGaps: true, pointRadius: 2 },
        { type: 'line', label: `Target ${v.weekly_tickets.sla_target_pct}%`, data: weeks.map(() => v.weekly_tickets.sla_target_pct), borderColor: '#111827', borderDash: [6, 4], pointRadius: 0, yAxisID: 'pct', borderWidth: 1 },
      ] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, pct: { position: 'right', min: 0, max: 100, grid: { display: false } } } },
  }, weeks.some((w) => w.created > 0) ? '' : 'No tickets in the last 13 weeks');
  chart('chart-modules', {
    type: 'bar',
    data: { labels: k.top_modules_r30d.map((m) => m.module), datasets: [{ label: 'Events', data: k.top_modules_r30d.map((m) => m.events), backgroundColor: '#818cf8' }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  }, k.top_modules_r30d.length ? '' : 'No product usage in the last 30 days');
  const pr = k.tickets_by_priority_r30d;
  chart('chart-priority', {
    type: 'bar',
    data: { labels: ['P1', 'P2', 'P3', 'P4'], datasets: [{ label: 'Tickets', data: [pr.P1, pr.P2, pr.P3, pr.P4], backgroundColor: ['#991b1b', '#dc2626', '#f59e0b', '#9ca3af'] }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, pr.P1 + pr.P2 + pr.P3 + pr.P4 ? '' : 'No tickets in the last 30 days');

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

async function refreshCustomer() {
  if (!state.id) return;
  const chosen = state.id;
  const id = encodeURIComponent(chosen);
  try {
    const [v, recs, alerts, timeline] = await Promise.all([
      api(`/api/v1/customers/${id}`), api(`/api/v1/customers/${id}/recommendations`),
      api(`/api/v1/customers/${id}/alerts`), api(`/api/v1/customers/${id}/timeline`)]);
    if (chosen !== state.id) return;  // another customer was picked meanwhile
    renderCustomer(v, recs, alerts, timeline);
    // Keep the left-hand lists in step with what the page shows.
    for (const row of [...state.atRisk, ...state.found]) {
      if (row.customer_id === v.customer_id && (row.health !== v.health || row.status !== v.status)) {
        Object.assign(row, { health: v.health, status: v.status, risk: v.risk, risk_level: v.risk_level });
        renderLists();
      }
    }
    live(true, 'live · updated ' + new Date().toLocaleTimeString());
  } catch (e) {
    live(e.status !== undefined, e.status === 404 ? 'customer not found' : 'engine unreachable: ' + e.message);
  }
}

function select(id) {
  state.id = id;
  history.replaceState(null, '', '#' + encodeURIComponent(id));
  renderLists();
  refreshCustomer();
}

document.addEventListener('click', (e) => {
  const row = e.target.closest('.row[data-id]');
  if (row) select(row.dataset.id);
});
$('search').addEventListener('input', () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(() => search().catch((e) => live(false, e.message)), 150);
});
$('search').addEventListener('keydown', async (e) => {
  if (e.key !== 'Enter') return;
  const q = $('search').value.trim();
  await search();
  const hit = state.found.find((r) => r.customer_id === q) || state.found[0];
  select(hit ? hit.customer_id : q);
});

refreshList();
setInterval(refreshList, LIST_REFRESH_MS);
setInterval(refreshCustomer, REFRESH_MS);
if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)));
else live(true, 'live');
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token-form').hidden = true;
  refreshList();
});
