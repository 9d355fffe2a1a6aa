// The vpcflow console: one script draws the page its URL names (/ui/<page>). It holds no rule of
// its own: AWS's answers come from POST /ui/aws (the API's handlers, for the signed-in account),
// and the views AWS has no action for from /ui/api/* (docs/console.md). Charts are uPlot's.
'use strict';

// ---- small helpers ----------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const main = () => document.getElementById('main');
const fmt = new Intl.NumberFormat('en-US');
const num = (v) => (v === null || v === undefined || v === '' ? '' : fmt.format(Number(v)));
function bytes(n) {
  n = Number(n) || 0;
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// ---- what the pages read ----------------------------------------------------------------------

async function reply(r) {
  const text = await r.text();
  if (r.status === 401 && !location.pathname.endsWith('/login')) {
    location.assign('/ui/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, 'NotSignedIn', 'Sign in first.');
  }
  return text;
}

// A /ui/api view.
async function view(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', 'X-Vpcflow-Console': '1' },
  };
  const r = await fetch('/ui/api/' + path, init);
  const text = await reply(r);
  const v = text ? JSON.parse(text) : {};
  if (!r.ok) throw new ApiError(r.status, v.code, v.message);
  return v;
}

// An AWS JSON-protocol request: CloudWatch Logs (1.1) or CloudWatch (1.0).
async function awsJson(target, version, body) {
  const r = await fetch('/ui/aws', {
    method: 'POST', body: JSON.stringify(body || {}),
    headers: { 'X-Amz-Target': target, 'Content-Type': `application/x-amz-json-${version}`,
      'X-Vpcflow-Console': '1' },
  });
  const text = await reply(r);
  const v = text ? JSON.parse(text) : {};
  if (!r.ok) {
    const code = String(v.__type || '').split('#').pop();
    throw new ApiError(r.status, code, v.message || v.Message || code);
  }
  return v;
}
const logs = (op, body) => awsJson('Logs_20140328.' + op, '1.1', body);
const cloudwatch = (op, body) => awsJson('GraniteServiceVersion20100801.' + op, '1.0', body);

// An EC2 query-protocol request; its XML answer as a Document.
async function ec2(action, params) {
  const form = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params });
  const r = await fetch('/ui/aws', {
    method: 'POST', body: form.toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
      'X-Vpcflow-Console': '1' },
  });
  const doc = new DOMParser().parseFromString(await reply(r), 'application/xml');
  if (!r.ok) {
    const t = (n) => doc.getElementsByTagName(n)[0]?.textContent || '';
    throw new ApiError(r.status, t('Code'), t('Message'));
  }
  return doc;
}
// The <item>s directly under a set element, each as {tag: text} of its simple children.
function items(doc, set) {
  const el = doc.getElementsByTagName(set)[0];
  if (!el) return [];
  return [...el.children].filter((c) => c.tagName === 'item').map((it) => {
    const o = {};
    for (const c of it.children) o[c.tagName] = c.children.length ? c : c.textContent;
    return o;
  });
}

// An Insights query through StartQuery and GetQueryResults: {rows, statistics}.
async function insights(groups, range, query, limit) {
  const { queryId } = await logs('StartQuery', {
    logGroupNames: groups, startTime: range.start, endTime: range.end, queryString: query,
    ...(limit ? { limit } : {}),
  });
  for (let wait = 10; ; wait = Math.min(wait * 2, 50)) {
    const r = await logs('GetQueryResults', { queryId });
    if (r.status === 'Complete') {
      const rows = r.results.map((fields) => Object.fromEntries(fields.map((f) => [f.field, f.value])));
      return { rows, statistics: r.statistics };
    }
    if (['Failed', 'Cancelled', 'Timeout'].includes(r.status)) {
      throw new ApiError(400, r.status, `The query ${r.status.toLowerCase()}.`);
    }
    await sleep(wait);
  }
}

// ---- session, navigation, theme, time range ---------------------------------------------------

let session = null;

function theme(next) {
  const saved = localStorage.getItem('vpcflow-theme');
  const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
  const t = next || saved || (dark ? 'dark' : 'light');
  document.documentElement.dataset.theme = t;
  if (next) localStorage.setItem('vpcflow-theme', t);
}
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function nav(current) {
  const el = document.getElementById('nav');
  el.replaceChildren(...session.pages.map((p) => h('a', {
    href: '/ui/' + p.path + keepRange(), 'aria-current': p.path === current ? 'page' : null,
  }, p.title)));
  document.getElementById('who').textContent = `account ${session.accountId}`;
  const out = document.getElementById('signout');
  out.hidden = false;
  out.onclick = async () => {
    await fetch('/ui/logout', { method: 'POST', headers: { 'X-Vpcflow-Console': '1' } });
    location.assign('/ui/login');
  };
}

const PRESETS = [['15m', 15 * 60], ['1h', 3600], ['1d', 86400]];
function keepRange() {
  const q = new URLSearchParams(location.search);
  const keep = new URLSearchParams();
  for (const k of ['range', 'start', 'end']) if (q.get(k)) keep.set(k, q.get(k));
  const t = keep.toString();
  return t ? '?' + t : '';
}
// The chosen range, epoch seconds: a preset back from now (the newest delivered time when the
// simulation runs ahead of the clock), or the custom start and end.
function range() {
  const q = new URLSearchParams(location.search);
  if (q.get('start') && q.get('end')) {
    return { start: Math.floor(Date.parse(q.get('start')) / 1000),
      end: Math.floor(Date.parse(q.get('end')) / 1000), custom: true };
  }
  const preset = PRESETS.find(([k]) => k === q.get('range')) || PRESETS[1];
  const end = Math.floor(session.nowMs / 1000);
  return { start: end - preset[1] + 1, end, preset: preset[0] };
}
function setQuery(changes) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) q.delete(k); else q.set(k, v);
  }
  history.pushState(null, '', location.pathname + (q.toString() ? '?' + q : ''));
  route();
}
function rangePicker() {
  const r = range();
  const local = (s) => new Date(s * 1000).toISOString().slice(0, 16);
  const start = h('input', { type: 'datetime-local', 'aria-label': 'Custom start (UTC)', value: local(r.start) });
  const end = h('input', { type: 'datetime-local', 'aria-label': 'Custom end (UTC)', value: local(r.end) });
  const custom = h('span', { hidden: !r.custom }, start, ' to ', end,
    h('button', { type: 'button', onclick: () => setQuery({ range: null,
      start: start.value + ':00Z', end: end.value + ':59Z' }) }, 'Apply'));
  const select = h('select', { 'aria-label': 'Time range', id: 'range',
    onchange: (e) => {
      if (e.target.value === 'custom') custom.hidden = false;
      else setQuery({ range: e.target.value, start: null, end: null });
    } },
  ...PRESETS.map(([k]) => h('option', { value: k, selected: r.preset === k }, 'last ' + k)),
  h('option', { value: 'custom', selected: !!r.custom }, 'custom (UTC)'));
  return h('span', { class: 'toolbar-range' }, select, ' ', custom,
    h('span', { class: 'muted' }, ` ${iso(r.start * 1000)} – ${iso(r.end * 1000 + 999)}`));
}

// ---- shared pieces ----------------------------------------------------------------------------

function table(columns, rows, opts = {}) {
  const numeric = new Set(opts.numeric || []);
  return h('table', { id: opts.id, 'aria-label': opts.label },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: numeric.has(c) ? 'num' : null, scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c, i) => {
      const v = Array.isArray(r) ? r[i] : r[c];
      const cell = v instanceof Node ? v : (numeric.has(c) ? num(v) : (v ?? ''));
      return h('td', { class: numeric.has(c) ? 'num' : (typeof v === 'string' && /^(ACCEPT|REJECT|OK|ALARM|SUCCESS|FAILED|INSUFFICIENT_DATA)$/.test(v) ? v : null), 'data-col': c }, cell);
    })))));
}

function card(title, ...body) {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), ...body);
}

function failure(e) {
  return h('p', { class: 'error', role: 'alert' }, `${e.code ? e.code + ': ' : ''}${e.message}`);
}

// A time-series chart; `series` are [label, values, colour]; x in epoch seconds.
function chart(el, xs, series, opts = {}) {
  const width = Math.max(300, el.clientWidth - 8);
  const u = new uPlot({
    width, height: opts.height || 240,
    scales: { x: { time: true } },
    axes: [{ stroke: css('--muted'), grid: { stroke: css('--line') }, ticks: { stroke: css('--line') } },
      { stroke: css('--muted'), grid: { stroke: css('--line') }, ticks: { stroke: css('--line') },
        size: 60 }],
    series: [{}, ...series.map(([label, , color, dash]) => ({ label, stroke: color, width: 2,
      dash, points: { show: false } }))],
  }, [xs, ...series.map(([, v]) => v)], el);
  el.dataset.points = String(xs.length);
  return u;
}

async function flowLogGroups() {
  const doc = await ec2('DescribeFlowLogs', {});
  const groups = new Set();
  for (const f of items(doc, 'flowLogSet')) {
    if (f.logDestinationType === 'cloud-watch-logs' && f.logGroupName) groups.add(f.logGroupName);
  }
  return [...groups];
}

// ---- pages ------------------------------------------------------------------------------------

const pages = {};

pages.login = async () => {
  document.getElementById('nav').replaceChildren();
  const key = h('input', { id: 'access-key', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'secret-key', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const form = h('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const r = await fetch('/ui/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accessKeyId: key.value.trim(), secretAccessKey: secret.value }) });
    const v = await r.json().catch(() => ({}));
    if (!r.ok) { msg.textContent = v.message || 'Sign-in failed.'; return; }
    const next = new URLSearchParams(location.search).get('next');
    location.assign(next && next.startsWith('/ui/') ? next : '/ui/overview');
  } },
  h('h1', {}, 'Sign in to vpcflow'),
  h('p', { class: 'muted' }, 'With an access key and its secret, as the API takes them (vpcflow up prints them).'),
  h('div', { class: 'field' }, h('label', { for: 'access-key' }, 'Access key ID'), key),
  h('div', { class: 'field' }, h('label', { for: 'secret-key' }, 'Secret access key'), secret),
  msg, h('button', { class: 'primary', type: 'submit', id: 'sign-in' }, 'Sign in'));
  main().replaceChildren(form);
  key.focus();
};

let refreshTimer = null;

pages.overview = async () => {
  const r = range();
  const q = session.overviewQueries;
  const perMinute = h('div', { class: 'chart', id: 'chart-records' });
  const directions = h('div', { id: 'directions' });
  const slots = Object.fromEntries(['topTalkers', 'rejectedPorts', 'rejectedSources', 'delivery', 'cost']
    .map((k) => [k, h('div', { id: k }, h('p', { class: 'muted' }, 'Loading…'))]));
  main().replaceChildren(
    h('h1', {}, 'Overview'),
    h('div', { class: 'toolbar' }, rangePicker(),
      h('span', { class: 'muted', id: 'live' }, r.custom ? '' : 'live: refreshes every 10 s')),
    h('div', { class: 'grid' },
      h('section', { class: 'card wide', 'aria-label': 'Records per minute' },
        h('h2', {}, 'Records per minute, accepted and rejected'), perMinute),
      card('Bytes by flow direction', directions),
      card('Top talkers (bytes)', slots.topTalkers),
      card('Top rejected destination ports', slots.rejectedPorts),
      card('Top rejected sources', slots.rejectedSources),
      h('section', { class: 'card wide', 'aria-label': 'Delivery health' }, h('h2', {}, 'Delivery health'), slots.delivery),
      h('section', { class: 'card wide', 'aria-label': 'Cost in AWS' },
        h('h2', {}, 'What these flow logs would cost in AWS per month'), slots.cost)));
  // The charts first; the tables, delivery health and cost once they are drawn (the page's
  // queries share the machine's cores).
  const mapView = view(`map?start=${r.start}&end=${r.end}`);
  const groups = await flowLogGroups();
  const drawn = [];
  const run = (id, then) => insights(groups, r, q[id]).then(({ rows }) => then(rows))
    .catch((e) => slots[id] ? slots[id].replaceChildren(failure(e)) : perMinute.replaceChildren(failure(e)));
  if (!groups.length) {
    perMinute.replaceChildren(h('p', { class: 'muted' }, 'No flow log delivers to a log group.'));
  } else {
    drawn.push(run('perMinute', (rows) => {
      const t0 = Math.floor(r.start / 60) * 60;
      const n = Math.floor(r.end / 60) - Math.floor(r.start / 60) + 1;
      const xs = Array.from({ length: n }, (_, i) => t0 + i * 60);
      const acc = new Array(n).fill(0), rej = new Array(n).fill(0);
      for (const row of rows) {
        const i = Math.round((Date.parse(row.minute.replace(' ', 'T') + 'Z') / 1000 - t0) / 60);
        if (i < 0 || i >= n) continue;
        (row.action === 'REJECT' ? rej : acc)[i] += Number(row.records);
      }
      perMinute.replaceChildren();
      chart(perMinute, xs, [['ACCEPT', acc, css('--accept')], ['REJECT', rej, css('--reject')]]);
      perMinute.dataset.accept = String(acc.reduce((a, b) => a + b, 0));
      perMinute.dataset.reject = String(rej.reduce((a, b) => a + b, 0));
    }));
  }
  drawn.push(mapView.then((m) => {
    const rows = ['ingress', 'egress'].map((d) => [d, m.directions[d]?.bytes || 0, m.directions[d]?.records || 0]);
    const total = rows.reduce((a, [, b]) => a + b, 0) || 1;
    directions.replaceChildren(
      ...rows.map(([d, b]) => h('div', { class: 'bar' }, h('span', {}, d + ' '),
        h('meter', { min: 0, max: total, value: b, 'aria-label': d }), ` ${bytes(b)}`)),
      table(['direction', 'bytes', 'records'], rows, { numeric: ['bytes', 'records'], id: 'direction-table', label: 'Bytes by direction' }));
  }).catch((e) => directions.replaceChildren(failure(e))));
  await Promise.all(drawn);
  document.body.dataset.drawn = String(performance.now());
  const rest = [];
  if (groups.length) {
    rest.push(run('topTalkers', (rows) => slots.topTalkers.replaceChildren(
      table(['srcAddr', 'dstAddr', 'bytes'], rows, { numeric: ['bytes'], id: 'top-talkers', label: 'Top talkers' }))));
    rest.push(run('rejectedPorts', (rows) => slots.rejectedPorts.replaceChildren(
      table(['dstPort', 'rejects'], rows, { numeric: ['rejects'], id: 'rejected-ports', label: 'Top rejected ports' }))));
    rest.push(run('rejectedSources', (rows) => slots.rejectedSources.replaceChildren(
      table(['srcAddr', 'rejects'], rows, { numeric: ['rejects'], id: 'rejected-sources', label: 'Top rejected sources' }))));
  }
  rest.push(view('delivery').then((d) => slots.delivery.replaceChildren(table(
    ['flowLogId', 'destinationType', 'destination', 'deliverLogsStatus', 'recordsWaiting', 'newest delivery', 'message'],
    d.flowLogs.map((f) => [f.flowLogId, f.destinationType, f.destination, f.deliverLogsStatus, f.recordsWaiting,
      f.newestDeliveredMs ? iso(f.newestDeliveredMs) : '—', f.detail || f.deliverLogsErrorMessage || '']),
    { numeric: ['recordsWaiting'], id: 'delivery-table', label: 'Delivery health' }))).catch((e) => slots.delivery.replaceChildren(failure(e))));
  rest.push(view(`cost?start=${r.start}&end=${r.end}`).then((c) => slots.cost.replaceChildren(
    h('p', { class: 'muted' }, `The volume delivered in the range, scaled to 30 days, at us-east-1 list prices: $${c.totalDollars.toFixed(2)} a month.`),
    table(['item', 'GB a month', 'dollars a month'], c.lines.map((l) => [l.what, l.gb.toFixed(3), '$' + l.dollars.toFixed(2)]),
      { id: 'cost-table', label: 'Cost' }))).catch((e) => slots.cost.replaceChildren(failure(e))));
  await Promise.all(rest);
  document.body.dataset.complete = String(performance.now());

  if (!r.custom) {
    refreshTimer = setTimeout(async () => {
      if (location.pathname !== '/ui/overview') return;
      session = await view('session');
      route();
    }, 10000);
  }
};

// The map: VPC → subnets → ENIs, the internet above; edges by verdict.
pages.map = async () => {
  const r = range();
  const panel = h('div', { id: 'panel' }, h('p', { class: 'muted' }, 'Select an interface or an edge (click, or Tab then Enter).'));
  const holder = h('div', { class: 'map', id: 'map' }, h('p', { class: 'muted' }, 'Loading…'));
  main().replaceChildren(h('h1', {}, 'Network map'), h('div', { class: 'toolbar' }, rangePicker(),
    h('span', { class: 'legend' }, h('span', { class: 'ACCEPT' }, 'ACCEPT'), h('span', { class: 'REJECT' }, 'REJECT'))),
  h('section', { class: 'card', 'aria-label': 'Map' }, holder), h('br'),
  h('section', { class: 'card', 'aria-label': 'Details' }, panel));
  const m = await view(`map?start=${r.start}&end=${r.end}`);
  holder.replaceChildren(drawMap(m, r, panel));
  document.body.dataset.drawn = String(performance.now());
};

function drawMap(m, r, panel) {
  const pos = {};
  const W = 1000, subW = 300, subH = 150, gap = 20;
  let y = 130;
  const layers = [];
  const nodesLayer = s('g', {});
  const internet = s('g', { class: 'node internet', tabindex: '0', role: 'button', 'data-node': 'internet', 'aria-label': 'The internet' },
    s('circle', { cx: W / 2, cy: 50, r: 26 }), s('text', { x: W / 2, y: 54, 'text-anchor': 'middle' }, 'internet'));
  pos.internet = [W / 2, 50];
  nodesLayer.append(internet);
  for (const vpc of m.vpcs) {
    const cols = 3, rows = Math.ceil(vpc.subnets.length / cols);
    const h0 = rows * (subH + gap) + 30;
    layers.push(s('rect', { class: 'vpc', x: 10, y, width: W - 20, height: h0, rx: 10 }),
      s('text', { x: 22, y: y + 20 }, `${vpc.id}${vpc.name ? ' (' + vpc.name + ')' : ''} ${vpc.cidrs.join(', ')}`));
    vpc.subnets.forEach((sn, i) => {
      const x = 30 + (i % cols) * (subW + gap), sy = y + 32 + Math.floor(i / cols) * (subH + gap);
      const short = (id) => id.replace(/^(\w+-).*(.{4})$/, '$1…$2');
      layers.push(s('rect', { class: 'subnet', x, y: sy, width: subW, height: subH, rx: 6 },
        s('title', {}, `${sn.id} ${sn.az}, network ACL ${sn.networkAcl}`)),
      s('text', { x: x + 8, y: sy + 16 }, `${sn.name || sn.id} ${sn.cidrs.join(', ')}`),
      s('text', { x: x + 8, y: sy + 30, class: 'small' }, `${short(sn.id)} · ${sn.az} · ${sn.networkAcl}`));
      sn.enis.forEach((e, j) => {
        const cx = x + 50 + (j % 3) * 100, cy = sy + 72 + Math.floor(j / 3) * 56;
        pos[e.id] = [cx, cy];
        const label = e.name || e.id.slice(-6);
        const g = s('g', { class: 'node', tabindex: '0', role: 'button', 'data-eni': e.id,
          'aria-label': `${e.name || ''} ${e.id} ${e.privateIp} security groups ${e.securityGroups.join(' ')}` },
        s('title', {}, `${e.id} ${e.privateIp}${e.publicIp ? ' / ' + e.publicIp : ''}\n${e.kind}\n${e.securityGroups.join(', ')}`),
        s('circle', { cx, cy, r: 16 }), s('text', { x: cx, y: cy + 30, 'text-anchor': 'middle' }, label),
        s('text', { x: cx, y: cy + 42, 'text-anchor': 'middle', class: 'small' }, e.securityGroups.map(short).join(' ')));
        const open = () => select(g, () => showEni(e, r, panel));
        g.addEventListener('click', open);
        g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
        nodesLayer.append(g);
      });
    });
    y += h0 + 20;
  }
  const edgesLayer = s('g', {});
  const max = Math.max(1, ...m.edges.map((e) => e.bytes));
  for (const e of m.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b || e.from === e.to) continue;
    // ACCEPT and REJECT between the same nodes bend to opposite sides.
    const bend = e.action === 'REJECT' ? -30 : 30;
    const mx = (a[0] + b[0]) / 2 + bend, my = (a[1] + b[1]) / 2 - bend / 2;
    const width = 1.5 + 5 * Math.log10(1 + e.bytes) / Math.log10(1 + max);
    const p = s('path', { class: `edge ${e.action}`, d: `M${a[0]},${a[1]} Q${mx},${my} ${b[0]},${b[1]}`,
      'stroke-width': width.toFixed(1), tabindex: '0', role: 'button', 'data-from': e.from, 'data-to': e.to,
      'data-action': e.action, 'aria-label': `${e.from} to ${e.to} ${e.action} ${e.records} records` },
    s('title', {}, `${e.from} → ${e.to} ${e.action}: ${fmt.format(e.records)} records, ${bytes(e.bytes)}`));
    const open = () => select(p, () => showEdge(e, r, panel));
    p.addEventListener('click', open);
    p.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
    edgesLayer.append(p);
  }
  const svg = s('svg', { viewBox: `0 0 ${W} ${y}`, role: 'img', 'aria-label': 'Network map' }, ...layers, edgesLayer, nodesLayer);
  svg.dataset.edges = String(m.edges.length);
  return svg;
}

function select(el, then) {
  document.querySelectorAll('.map .selected').forEach((x) => x.classList.remove('selected'));
  el.classList.add('selected');
  then();
}

function conversations(list) {
  return list.map((c) => {
    const q = c.question;
    const problem = !['ACCEPTED', 'NO_REPLY'].includes(c.verdict);
    return h('div', { class: `verdict ${problem ? 'problem' : 'fine'}`, 'data-verdict': c.verdict,
      'data-source': q.source, 'data-protocol': String(q.protocol ?? '') },
    h('strong', {}, `${q.source} → ${q.destination}${q.port ? ':' + q.port : ''} (protocol ${q.protocol}): ${c.verdict}`),
    h('ul', {}, c.reasons.map((x) => h('li', {}, x))),
    c.requestRecords.length || c.replyRecords.length
      ? h('details', {}, h('summary', {}, 'evidence'), h('pre', {},
        [...c.requestRecords, ...c.replyRecords].map((x) => x.message).join('\n'))) : null);
  });
}

async function showEni(e, r, panel) {
  panel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const d = await view(`eni?id=${encodeURIComponent(e.id)}&start=${r.start}&end=${r.end}`);
    panel.replaceChildren(h('h2', {}, `${e.name || ''} ${e.id}`),
      h('p', { class: 'muted' }, `${e.privateIp}${e.publicIp ? ' / ' + e.publicIp : ''} · ${e.kind} · ${e.securityGroups.join(', ')}`),
      h('h2', {}, 'Connections and their verdicts'), h('div', { id: 'verdicts' }, conversations(d.conversations)),
      h('h2', {}, `Records (${fmt.format(d.recordCount)}; newest ${d.records.length})`),
      h('pre', { id: 'records' }, d.records.map((x) => x.message).join('\n')));
  } catch (err) { panel.replaceChildren(failure(err)); }
}

async function showEdge(e, r, panel) {
  panel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const d = await view(`edge?from=${encodeURIComponent(e.from)}&to=${encodeURIComponent(e.to)}&start=${r.start}&end=${r.end}`);
    panel.replaceChildren(h('h2', {}, `${e.from} → ${e.to}`),
      h('p', {}, h('span', { class: e.action }, e.action), ` ${fmt.format(e.records)} records, ${bytes(e.bytes)}`),
      h('h2', {}, 'Connections and their verdicts'), h('div', { id: 'verdicts' }, conversations(d.conversations)),
      h('h2', {}, `Records both ways (${fmt.format(d.recordCount)})`),
      h('pre', { id: 'records' }, d.records.map((x) => x.message).join('\n')));
  } catch (err) { panel.replaceChildren(failure(err)); }
}

// Flow logs: DescribeFlowLogs, CreateFlowLogs with AWS's errors at their field, DeleteFlowLogs.
// Which field an error names, by the words of AWS's messages.
const FIELD_OF = [
  [/aggregation interval/i, 'MaxAggregationInterval'], [/LogFormat|format/i, 'LogFormat'],
  [/DeliverLogsPermissionArn|role/i, 'DeliverLogsPermissionArn'], [/TrafficType/i, 'TrafficType'],
  [/LogGroupName|log group/i, 'LogGroupName'], [/LogDestinationType/i, 'LogDestinationType'],
  [/LogDestination|bucket|s3|stream/i, 'LogDestination'], [/ResourceType/i, 'ResourceType'],
  [/resource|vpc-|subnet-|eni-|ResourceId/i, 'ResourceId'],
];

pages['flow-logs'] = async () => {
  const list = h('div', { id: 'flow-log-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const fields = {};
  const field = (name, label, input, hint) => {
    input.id = 'f-' + name; input.name = name;
    const err = h('span', { class: 'error', id: 'err-' + name, role: 'alert' });
    input.setAttribute('aria-describedby', 'err-' + name);
    fields[name] = { input, err };
    return h('div', { class: 'field' }, h('label', { for: input.id }, label), input,
      hint ? h('span', { class: 'muted' }, hint) : null, err);
  };
  const opt = (values, chosen) => values.map((v) => h('option', { value: v, selected: v === chosen }, v));
  const formError = h('p', { class: 'error', role: 'alert', id: 'form-error' });
  const done = h('p', { class: 'ok', id: 'form-done', role: 'status' });
  const form = h('form', { id: 'create-flow-log', onsubmit: (e) => { e.preventDefault(); create(); } },
    h('div', { class: 'form-grid' },
      field('ResourceType', 'Resource type', h('select', {}, opt(['VPC', 'Subnet', 'NetworkInterface'], 'VPC'))),
      field('ResourceId', 'Resource ID', h('input', { placeholder: 'vpc-…, subnet-… or eni-…' })),
      field('TrafficType', 'Traffic type', h('select', {}, opt(['ALL', 'ACCEPT', 'REJECT'], 'ALL'))),
      field('LogDestinationType', 'Destination type', h('select', {}, opt(['cloud-watch-logs', 's3', 'kinesis-data-firehose'], 'cloud-watch-logs'))),
      field('LogGroupName', 'Log group name', h('input', { placeholder: '/vpcflow/…' }), 'for cloud-watch-logs'),
      field('LogDestination', 'Destination ARN', h('input', { placeholder: 'arn:aws:s3:::bucket' }), 'for s3 and firehose'),
      field('DeliverLogsPermissionArn', 'Delivery role ARN', h('input', { placeholder: 'arn:aws:iam::…:role/…' }), 'for cloud-watch-logs'),
      field('MaxAggregationInterval', 'Maximum aggregation interval (s)', h('input', { inputmode: 'numeric', value: '600' }), '60 or 600'),
      field('LogFormat', 'Log format', h('input', { placeholder: '${version} ${account-id} … (empty: the default)' }))),
    formError, h('button', { class: 'primary', type: 'submit', id: 'create' }, 'Create flow log'), ' ', done);
  main().replaceChildren(h('h1', {}, 'Flow logs'),
    h('section', { class: 'card wide', 'aria-label': 'Flow logs' }, h('h2', {}, 'Flow logs (DescribeFlowLogs)'), list),
    h('br'), h('section', { class: 'card wide', 'aria-label': 'Create a flow log' }, h('h2', {}, 'Create a flow log (CreateFlowLogs)'), form));

  async function load() {
    try {
      const doc = await ec2('DescribeFlowLogs', {});
      const rows = items(doc, 'flowLogSet').map((f) => [f.flowLogId, f.resourceId, f.trafficType,
        f.logDestinationType, f.logGroupName || f.logDestination, f.maxAggregationInterval,
        f.deliverLogsStatus, f.flowLogStatus,
        h('button', { type: 'button', class: 'danger', 'data-delete': f.flowLogId,
          onclick: () => remove(f.flowLogId) }, 'Delete')]);
      list.replaceChildren(table(['id', 'resource', 'traffic', 'destination type', 'destination', 'interval',
        'delivery', 'status', ''], rows, { id: 'flow-logs', label: 'Flow logs' }));
    } catch (e) { list.replaceChildren(failure(e)); }
  }
  async function remove(id) {
    try { await ec2('DeleteFlowLogs', { 'FlowLogId.1': id }); } catch (e) { formError.textContent = e.message; }
    load();
  }
  async function create() {
    for (const f of Object.values(fields)) { f.err.textContent = ''; f.input.removeAttribute('aria-invalid'); }
    formError.textContent = ''; done.textContent = '';
    const v = (n) => fields[n].input.value.trim();
    const dest = v('LogDestinationType');
    const p = { ResourceType: v('ResourceType'), 'ResourceId.1': v('ResourceId'), TrafficType: v('TrafficType'),
      LogDestinationType: dest, MaxAggregationInterval: v('MaxAggregationInterval') };
    for (const n of ['LogGroupName', 'LogDestination', 'DeliverLogsPermissionArn', 'LogFormat']) if (v(n)) p[n] = v(n);
    try {
      const doc = await ec2('CreateFlowLogs', p);
      const failed = items(doc, 'unsuccessful');
      if (failed.length) {
        const err = failed[0].error;
        show(err.getElementsByTagName('message')[0]?.textContent || 'refused');
        return;
      }
      const id = doc.getElementsByTagName('flowLogIdSet')[0]?.textContent.trim();
      done.textContent = `Created ${id}.`;
      load();
    } catch (e) { show(e.message, e.code); }
  }
  function show(message, code) {
    const hit = FIELD_OF.find(([re]) => re.test(message));
    const text = code ? `${message} (${code})` : message;
    if (hit) {
      fields[hit[1]].err.textContent = text;
      fields[hit[1]].input.setAttribute('aria-invalid', 'true');
      fields[hit[1]].input.focus();
    } else formError.textContent = text;
  }
  await load();
};

// Logs Insights, and SQL over the Athena tables.
pages.insights = async () => {
  const q = new URLSearchParams(location.search);
  const sqlTab = q.get('tab') === 'sql';
  const r = range();
  const tabs = h('div', { class: 'tabs', role: 'tablist' },
    h('button', { role: 'tab', 'aria-selected': String(!sqlTab), id: 'tab-insights', onclick: () => setQuery({ tab: null }) }, 'Logs Insights'),
    h('button', { role: 'tab', 'aria-selected': String(sqlTab), id: 'tab-sql', onclick: () => setQuery({ tab: 'sql' }) }, 'SQL (Athena tables)'));
  const editor = h('textarea', { class: 'editor', id: 'editor', 'aria-label': 'Query', spellcheck: 'false' });
  editor.value = q.get('query') || (sqlTab ? 'SHOW TABLES' : 'fields @timestamp, @message | sort @timestamp desc | limit 20');
  const results = h('div', { id: 'results' });
  const statsLine = h('p', { class: 'stat', id: 'query-stats', role: 'status' });
  const chartEl = h('div', { class: 'chart', id: 'query-chart', hidden: true });
  const errorEl = h('pre', { class: 'error', id: 'query-error', role: 'alert', hidden: true });
  const groupsEl = h('select', { id: 'log-groups', multiple: true, 'aria-label': 'Log groups', size: 3 });
  const samples = (await view('samples')).filter((x) => x.language === (sqlTab ? 'Sql' : 'Insights'));
  const sampleList = h('ul', { id: 'samples' }, samples.map((x) => h('li', {}, h('a', { href: '#', 'data-sample': x.name,
    onclick: (e) => { e.preventDefault(); editor.value = x.text; editor.focus(); } }, x.name))));
  const recent = h('ul', { id: 'recent' });
  const runButton = h('button', { class: 'primary', id: 'run', type: 'button', onclick: () => run() }, 'Run query');
  editor.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
  main().replaceChildren(h('h1', {}, sqlTab ? 'SQL' : 'Logs Insights'), tabs,
    h('div', { class: 'split' },
      h('section', { class: 'card', 'aria-label': 'Query' },
        h('div', { class: 'toolbar' }, sqlTab ? null : groupsEl, sqlTab ? null : rangePicker()),
        editor, h('div', { class: 'toolbar' }, runButton, h('span', { class: 'muted' }, 'Ctrl+Enter runs it')),
        errorEl, statsLine, chartEl, h('div', { class: 'scroll' }, results)),
      h('section', { class: 'card', 'aria-label': 'Saved and recent queries' },
        h('h2', {}, 'Sample queries (the seeds\')'), sampleList,
        sqlTab ? null : h('h2', {}, 'Recent queries'), sqlTab ? null : recent)));
  if (!sqlTab) {
    const [all, flowGroups] = await Promise.all([logs('DescribeLogGroups', {}), flowLogGroups()]);
    for (const g of all.logGroups || []) {
      groupsEl.append(h('option', { value: g.logGroupName, selected: flowGroups.includes(g.logGroupName) }, g.logGroupName));
    }
    loadRecent();
  }
  async function loadRecent() {
    try {
      const d = await logs('DescribeQueries', { maxResults: 10 });
      recent.replaceChildren(...(d.queries || []).map((x) => h('li', {}, h('a', { href: '#',
        onclick: (e) => { e.preventDefault(); editor.value = x.queryString; } }, x.queryString), ' ',
      h('span', { class: 'muted' }, x.status))));
    } catch (e) { recent.replaceChildren(failure(e)); }
  }
  function showError(e) {
    errorEl.hidden = false;
    errorEl.textContent = `${e.code ? e.code + ': ' : ''}${e.message}`;
    // Put the cursor where the message points: "line L, column C" or "at character C".
    const m = /line (\d+),? column (\d+)/i.exec(e.message) || /(?:at character|column) (\d+)/i.exec(e.message);
    if (m) {
      const lines = editor.value.split('\n');
      const [line, col] = m.length === 3 ? [Number(m[1]), Number(m[2])] : [1, Number(m[1])];
      let at = lines.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0) + Math.max(0, col - 1);
      at = Math.min(at, editor.value.length);
      editor.focus();
      editor.setSelectionRange(at, Math.min(at + 1, editor.value.length));
      errorEl.dataset.position = String(at);
    }
  }
  async function run() {
    errorEl.hidden = true; statsLine.textContent = 'Running…'; results.replaceChildren(); chartEl.hidden = true;
    history.replaceState(null, '', location.pathname + '?' + new URLSearchParams({ ...Object.fromEntries(q), query: editor.value }));
    try {
      if (sqlTab) return await runSql();
      const groups = [...groupsEl.selectedOptions].map((o) => o.value);
      const t0 = performance.now();
      const { rows, statistics } = await insights(groups, r, editor.value);
      const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((c) => c !== '@ptr');
      results.replaceChildren(table(columns, rows, { id: 'result-table', label: 'Results' }));
      statsLine.textContent = `Showing ${fmt.format(rows.length)} records; ${fmt.format(statistics.recordsMatched)} records matched, ` +
        `${fmt.format(statistics.recordsScanned)} records (${bytes(statistics.bytesScanned)}) scanned in ${((performance.now() - t0) / 1000).toFixed(2)} s.`;
      statsLine.dataset.matched = String(statistics.recordsMatched);
      statsLine.dataset.scanned = String(statistics.recordsScanned);
      binChart(columns, rows);
      loadRecent();
    } catch (e) { statsLine.textContent = ''; showError(e); }
  }
  // A chart when the query ends in `stats … by bin(…)`: one line per numeric column over the bin.
  function binChart(columns, rows) {
    const last = editor.value.split('|').map((x) => x.trim()).filter((x) => /^stats\b/i.test(x)).pop();
    const bin = last && /\bby\b[\s\S]*\bbin\s*\(([^)]*)\)(?:\s+as\s+(\w+))?/i.exec(last);
    if (!bin || !rows.length) return;
    const timeCol = bin[2] || columns.find((c) => /^bin\(/i.test(c)) || columns.find((c) => rows.every((row) => /^\d{4}-\d\d-\d\d /.test(row[c] || '')));
    if (!timeCol) return;
    const numeric = columns.filter((c) => c !== timeCol && rows.every((row) => row[c] === undefined || !isNaN(Number(row[c]))));
    const sorted = [...rows].sort((a, b) => (a[timeCol] < b[timeCol] ? -1 : 1));
    const times = [...new Set(sorted.map((row) => row[timeCol]))];
    const xs = times.map((t) => Date.parse(t.replace(' ', 'T') + 'Z') / 1000);
    const colors = [css('--accent'), css('--reject'), css('--accept'), css('--warn')];
    const series = numeric.slice(0, 4).map((c, i) => {
      const byTime = new Map();
      for (const row of sorted) byTime.set(row[timeCol], (byTime.get(row[timeCol]) || 0) + Number(row[c] || 0));
      return [c, times.map((t) => byTime.get(t)), colors[i]];
    });
    if (!series.length) return;
    chartEl.hidden = false;
    chartEl.replaceChildren();
    chart(chartEl, xs, series);
  }
  async function runSql() {
    const t0 = performance.now();
    const d = await view('sql', { query: editor.value });
    results.replaceChildren(...d.results.map((x, i) => x.message
      ? h('pre', { class: 'mono' }, x.message.join('\n'))
      : table(x.columns, x.rows, { id: i === d.results.length - 1 ? 'result-table' : null, label: 'Results' })));
    const last = d.results[d.results.length - 1];
    statsLine.textContent = `${last && last.rows ? fmt.format(last.rows.length) + ' rows' : 'done'} in ${((performance.now() - t0) / 1000).toFixed(2)} s.`;
  }
  if (q.get('run') === '1') run();
};

// Alarms (state, history, metric graph with the threshold) and findings (with evidence).
pages.alarms = async () => {
  const r = range();
  const alarmsEl = h('div', { id: 'alarms' }, h('p', { class: 'muted' }, 'Loading…'));
  const findingsEl = h('div', { id: 'findings' }, h('p', { class: 'muted' }, 'Loading…'));
  main().replaceChildren(h('h1', {}, 'Alarms and findings'), h('div', { class: 'toolbar' }, rangePicker()),
    h('section', { class: 'card wide', 'aria-label': 'Alarms' }, h('h2', {}, 'Alarms'), alarmsEl), h('br'),
    h('section', { class: 'card wide', 'aria-label': 'Findings' }, h('h2', {}, 'Findings'), findingsEl));
  const pending = [];
  try {
    const d = await cloudwatch('DescribeAlarms', {});
    const list = d.MetricAlarms || [];
    alarmsEl.replaceChildren(list.length ? '' : h('p', { class: 'muted' }, 'No alarms (aws cloudwatch put-metric-alarm makes one).'));
    for (const a of list) {
      const graph = h('div', { class: 'chart', 'data-alarm': a.AlarmName });
      const history = h('div', {});
      alarmsEl.append(h('div', { class: 'card', 'data-alarm-card': a.AlarmName },
        h('h2', {}, a.AlarmName, ' ', h('span', { class: a.StateValue, 'data-state': a.StateValue }, a.StateValue)),
        h('p', { class: 'muted' }, `${a.Namespace} ${a.MetricName} ${a.Statistic || a.ExtendedStatistic} over ${a.Period} s ${a.ComparisonOperator} ${a.Threshold}; ${a.StateReason || ''}`),
        graph, history));
      pending.push(alarmGraph(a, r, graph), alarmHistory(a, history));
    }
  } catch (e) { alarmsEl.replaceChildren(failure(e)); }
  try {
    const f = await view('findings');
    findingsEl.replaceChildren(f.findings.length ? table(['type', 'window', 'subject', 'target', 'summary', 'evidence'],
      f.findings.map((x) => [x.type, iso(x.window * 1000), x.subject, x.target, x.summary,
        h('details', {}, h('summary', {}, `${x.evidence.length} records`), h('pre', {}, x.evidence.join('\n')))]),
      { id: 'findings-table', label: 'Findings' }) : h('p', { class: 'muted' }, 'No findings.'));
  } catch (e) { findingsEl.replaceChildren(failure(e)); }
  await Promise.all(pending);
  document.body.dataset.drawn = String(performance.now());
};

async function alarmGraph(a, r, el) {
  try {
    const stat = a.Statistic || 'Sum';
    const d = await cloudwatch('GetMetricStatistics', { Namespace: a.Namespace, MetricName: a.MetricName,
      Dimensions: a.Dimensions || [], StartTime: r.start, EndTime: r.end + 1, Period: a.Period, Statistics: [stat] });
    const points = (d.Datapoints || []).sort((x, y) => x.Timestamp - y.Timestamp);
    if (!points.length) { el.replaceChildren(h('p', { class: 'muted' }, 'No data points in the range.')); return; }
    const xs = points.map((p) => p.Timestamp);
    chart(el, xs, [[`${a.MetricName} (${stat})`, points.map((p) => p[stat]), css('--accent')],
      ['threshold', xs.map(() => a.Threshold), css('--reject'), [6, 4]]], { height: 200 });
    el.dataset.values = JSON.stringify(points.map((p) => p[stat]));
  } catch (e) { el.replaceChildren(failure(e)); }
}

async function alarmHistory(a, el) {
  try {
    const d = await cloudwatch('DescribeAlarmHistory', { AlarmName: a.AlarmName, MaxRecords: 20 });
    const rows = (d.AlarmHistoryItems || []).map((x) => [typeof x.Timestamp === 'number' ? iso(x.Timestamp * 1000) : x.Timestamp,
      x.HistoryItemType, x.HistorySummary]);
    el.replaceChildren(h('details', {}, h('summary', {}, `History (${rows.length})`),
      table(['time', 'type', 'summary'], rows, { label: 'Alarm history' })));
  } catch (e) { el.replaceChildren(failure(e)); }
}

// The policy flowchart for a connection, and what the records in the range show of it.
pages.diagnose = async () => {
  const r = range();
  const q = new URLSearchParams(location.search);
  const input = (id, label, value, attrs) => h('div', { class: 'field' }, h('label', { for: id }, label),
    h('input', { id, value: q.get(id) || value, ...attrs }));
  const out = h('div', { id: 'diagnosis', 'aria-live': 'polite' });
  const form = h('form', { class: 'card wide', id: 'diagnose-form', onsubmit: async (e) => {
    e.preventDefault();
    const v = (id) => document.getElementById(id).value.trim();
    out.replaceChildren(h('p', { class: 'muted' }, 'Diagnosing…'));
    try {
      const port = v('port');
      const d = await view('diagnose', { source: v('source'), destination: v('destination'),
        port: port ? Number(port) : null, protocol: v('protocol'), start: r.start, end: r.end });
      const p = d.policy;
      out.replaceChildren(
        h('div', { class: `verdict ${p.verdict === 'ACCEPT' ? 'fine' : 'problem'}` },
          h('strong', { id: 'policy-verdict', 'data-verdict': p.verdict }, `Policy: ${p.verdict}`), h('p', {}, p.explanation)),
        table(['leg', 'interface', 'direction', 'action', 'security groups', 'network ACL'],
          p.steps.map((x) => [x.leg, `${x.name || ''} ${x.interfaceId}`, x.flowDirection, x.action, x.securityGroups, x.networkAcl]),
          { id: 'steps', label: 'Evaluation points' }),
        d.records ? h('div', {}, h('h2', {}, 'What the records in the range show'), conversations([{ ...d.records,
          question: { source: v('source'), destination: v('destination'), port: port || null, protocol: v('protocol') } }])) : null);
    } catch (err) { out.replaceChildren(failure(err)); }
  } },
  h('h2', {}, 'A connection'),
  h('div', { class: 'form-grid' }, input('source', 'Source address', '198.51.100.20'), input('destination', 'Destination address', '54.210.0.30'),
    input('port', 'Destination port (TCP/UDP)', '', { inputmode: 'numeric' }), input('protocol', 'Protocol (tcp, udp, icmp or a number)', 'icmp')),
  h('button', { class: 'primary', type: 'submit', id: 'diagnose' }, 'Diagnose'));
  main().replaceChildren(h('h1', {}, 'Diagnose'), h('div', { class: 'toolbar' }, rangePicker()), form, h('br'),
    h('section', { class: 'card wide', 'aria-label': 'Diagnosis' }, out));
};

// ---- the router -------------------------------------------------------------------------------

async function route() {
  clearTimeout(refreshTimer);
  const page = location.pathname.replace(/^\/ui\/?/, '').replace(/\/$/, '') || 'overview';
  delete document.body.dataset.drawn;
  delete document.body.dataset.complete;
  if (page === 'login') return pages.login();
  try {
    if (!session) session = await view('session');
    if (!session.signedIn) {
      location.assign('/ui/login?next=' + encodeURIComponent(location.pathname + location.search));
      return;
    }
    nav(page);
    const draw = pages[page];
    if (!draw) { main().replaceChildren(h('p', { class: 'error' }, `No page ${page}.`)); return; }
    document.title = `${session.pages.find((p) => p.path === page)?.title || page} · vpcflow`;
    await draw();
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(failure(e));
  }
}

theme();
document.getElementById('theme').addEventListener('click', () => theme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
document.addEventListener('keydown', (e) => {
  if (e.key === 'd' && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) theme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
});
window.addEventListener('popstate', route);
route();
