// The analyst's page of passivedns: plain script, no library, no other host. It talks only
// to the native API of the listener that served it (/api/v1/), with the key kept in this
// tab's session storage and sent as X-API-Key, never in a URL.
'use strict';

(function () {
  const KEY = 'passivedns.apiKey';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const PAGE = 500;          // results a page (the API allows up to 10000)
  const GRAPH_MAX = 300;     // nodes drawn at most: beyond, expansion stops and says so
  const TIMELINE_MAX = 60;   // records drawn on the timeline

  const $ = (id) => document.getElementById(id);

  // ---------- state ----------
  const state = {
    search: null,    // {q, mode, from, to, rrtype}: the running search
    kind: null,      // history | negative
    rows: [],        // results loaded so far, as the API gave them
    cursor: '',      // of the next page
    sort: { col: null, desc: false },
    asof: [],        // rows of the as-of table
    graph: null,     // {nodes: Map, edges: Map, root}
    pending: null,   // the action to run again once a key is given
  };

  // ---------- API ----------
  class APIError extends Error {
    constructor(status, body, param) { super(body); this.status = status; this.param = param; }
  }

  function apiKey() { try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } }

  // apiFetch fetches path with params and the key; an error answer is thrown as APIError.
  async function apiFetch(path, params) {
    const u = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
    }
    const headers = { 'Accept': 'application/x-ndjson, application/json, text/csv' };
    const key = apiKey();
    if (key) headers['X-API-Key'] = key;
    let res;
    try {
      res = await fetch(u.pathname + u.search, { headers, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new APIError(0, 'cannot reach the passivedns API (' + e.message + ')');
    }
    if (!res.ok) {
      const text = await res.text();
      let msg = text.trim(), param = '';
      try { const j = JSON.parse(text); msg = j.error || j.msg || msg; param = j.parameter || ''; } catch (e) { /* not JSON */ }
      throw new APIError(res.status, msg, param);
    }
    return res;
  }

  // api fetches path with params; NDJSON answers are returned as {rows, trailer}, JSON as is.
  async function api(path, params) {
    const res = await apiFetch(path, params);
    const text = await res.text();
    const ctype = res.headers.get('Content-Type') || '';
    if (!ctype.includes('ndjson')) return JSON.parse(text);
    const rows = [];
    let trailer = null;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line);
      if (o.error !== undefined && o.done === undefined) throw new APIError(500, 'the query failed midway: ' + o.error);
      if (o.done === true && o.rrname === undefined && o.qname === undefined) trailer = o;
      else rows.push(o);
    }
    if (!trailer) throw new APIError(500, 'the answer ended early (no trailer): try again');
    return { rows, trailer };
  }

  // ---------- messages ----------
  function showMessage(kind, text) {
    const m = $('message');
    m.textContent = text;
    m.className = 'message ' + kind;
    m.hidden = false;
  }
  function clearMessage() { $('message').hidden = true; $('message').textContent = ''; }
  function setStatus(text) { $('status').textContent = text; }

  // explain turns an API error into what the analyst should know and do.
  function explain(err, retry) {
    setStatus('');
    if (!(err instanceof APIError)) { showMessage('error', 'Unexpected error: ' + err.message); return; }
    switch (err.status) {
      case 0:
        showMessage('error', 'The passivedns API cannot be reached: ' + err.message + '. Is CoreDNS running?');
        break;
      case 400: {
        const p = err.param ? ' (parameter "' + err.param + '")' : '';
        showMessage('error', 'Bad query' + p + ': ' + err.message);
        const field = { name: 'q', ip: 'q', from: 'from', to: 'to', rrtype: 'rrtype', at: 'at' }[err.param];
        if (field && $(field)) $(field).setAttribute('aria-invalid', 'true');
        break;
      }
      case 401:
      case 403:
        state.pending = retry || null;
        askKey(apiKey()
          ? 'The API key was refused (HTTP ' + err.status + '): enter the right key.'
          : 'This API needs a key: enter it below (HTTP ' + err.status + ').');
        break;
      case 429:
        showMessage('error', 'The API is busy (too many queries at once): try again in a moment.');
        break;
      case 503:
        showMessage('error', 'The history database (ClickHouse) does not answer (HTTP 503: "' + err.message + '"). Try again later; DNS keeps being served meanwhile.');
        break;
      default:
        showMessage('error', 'The API answered ' + err.status + ': ' + err.message);
    }
  }

  function askKey(text) {
    showMessage('key', text);
    const f = $('keyform');
    f.hidden = false;
    $('apikey').value = '';
    $('apikey').focus();
  }

  // ---------- search ----------
  const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
  const IPV6 = /^[0-9a-f:]*:[0-9a-f:.]*$/i;
  function isAddr(s) { return IPV4.test(s) || IPV6.test(s); }

  // detect reads a prefix (name:, ip:, rdata:, neg:) or guesses from the shape of the input.
  function detect(q, mode) {
    const m = /^(name|ip|rdata|neg|negative):\s*(.*)$/i.exec(q);
    if (m) {
      const p = m[1].toLowerCase();
      return { mode: p === 'neg' ? 'negative' : p, value: m[2].trim() };
    }
    if (mode && mode !== 'auto') return { mode, value: q };
    const base = q.split('/')[0];
    const range = q.split('-');
    if (isAddr(base) || (range.length === 2 && isAddr(range[0]) && isAddr(range[1]))) return { mode: 'ip', value: q };
    return { mode: 'name', value: q };
  }

  function readForm() {
    return {
      q: $('q').value.trim(), mode: $('mode').value, from: $('from').value.trim(),
      to: $('to').value.trim(), rrtype: $('rrtype').value.trim(),
    };
  }

  function fillForm(s) {
    $('q').value = s.q || '';
    $('mode').value = ['auto', 'name', 'ip', 'rdata', 'negative'].includes(s.mode) ? s.mode : 'auto';
    $('from').value = s.from || '';
    $('to').value = s.to || '';
    $('rrtype').value = s.rrtype || '';
  }

  function searchURL(s) {
    const u = new URLSearchParams();
    u.set('q', s.q);
    if (s.mode && s.mode !== 'auto') u.set('mode', s.mode);
    if (s.from) u.set('from', s.from);
    if (s.to) u.set('to', s.to);
    if (s.rrtype) u.set('rrtype', s.rrtype);
    return '/?' + u.toString();
  }

  function fromURL() {
    const u = new URLSearchParams(location.search);
    return { q: u.get('q') || '', mode: u.get('mode') || 'auto', from: u.get('from') || '', to: u.get('to') || '', rrtype: u.get('rrtype') || '' };
  }

  // go runs a search and records it in the URL (push: a new history entry).
  function go(s, push) {
    if (!s.q) return;
    const url = searchURL(s);
    if (push && location.pathname + location.search !== url) history.pushState(null, '', url);
    document.title = s.q + ' - passivedns';
    run(s);
  }

  function lookupPath(d) {
    const v = encodeURIComponent(d.value).replace(/%2F/g, '/');
    switch (d.mode) {
      case 'ip': return '/api/v1/ip/' + v;
      case 'rdata': return '/api/v1/rdata/' + v;
      case 'negative': return '/api/v1/negative/' + v;
      default: return '/api/v1/name/' + v;
    }
  }

  function windowParams(s) { return { from: s.from, to: s.to }; }

  async function run(s) {
    clearMessage();
    for (const id of ['q', 'from', 'to', 'rrtype', 'at']) $(id).removeAttribute('aria-invalid');
    const d = detect(s.q, s.mode);
    state.search = Object.assign({}, s, { detected: d });
    state.kind = d.mode === 'negative' ? 'negative' : 'history';
    state.rows = [];
    state.cursor = '';
    state.sort = { col: null, desc: false };
    state.asof = [];
    state.graph = null;
    for (const id of ['results-section', 'timeline-section', 'asof-section', 'pivot-section']) $(id).hidden = true;
    setStatus('Searching ' + d.mode + ' ' + d.value + '…');
    try {
      await loadPage();
    } catch (err) {
      explain(err, () => run(s));
      return;
    }
    const single = d.mode === 'name' && !d.value.includes('*');
    if (state.kind === 'history') drawTimeline();
    if (single) {
      $('asof-section').hidden = false;
      $('at').value = s.to || '';
      drawAsof();
      startGraph('name', d.value);
    } else if (d.mode === 'ip' && isAddr(d.value)) {
      startGraph('ip', d.value);
    }
  }

  async function loadPage() {
    const s = state.search, d = s.detected;
    const params = Object.assign(windowParams(s), { rrtype: s.rrtype, limit: PAGE, cursor: state.cursor });
    const res = await api(lookupPath(d), params);
    state.rows = state.rows.concat(res.rows);
    state.cursor = res.trailer.cursor || '';
    renderResults();
    const n = state.rows.length;
    setStatus(n === 0
      ? 'Nothing recorded for ' + d.mode + ' ' + d.value + (s.from || s.to ? ' in this window.' : '.')
      : n + (n === 1 ? ' result' : ' results') + ' for ' + d.mode + ' ' + d.value + (state.cursor ? '; more available.' : '.'));
  }

  // ---------- results table ----------
  function resultColumns() {
    if (state.kind === 'negative') {
      return [['qname', 'qname'], ['qtype', 'type'], ['rcode', 'rcode'], ['time_first', 'first seen'], ['time_last', 'last seen'], ['count', 'count']];
    }
    const cols = [['rrname', 'rrname'], ['rrtype', 'type'], ['rdata', 'rdata'], ['time_first', 'first seen'], ['time_last', 'last seen'], ['count', 'count']];
    if (state.rows.some((r) => r.sensors !== undefined)) cols.push(['sensors', 'sensors']);
    if (state.rows.some((r) => r.aliases !== undefined)) cols.push(['aliases', 'aliases (CNAME to rrname)']);
    return cols;
  }

  function cellText(row, col) {
    const v = row[col];
    if (v === undefined || v === null) return '';
    if (col === 'aliases') return v.map((a) => a.rrname).join(' ');
    if (Array.isArray(v)) return v.join(' ');
    return String(v);
  }

  function compare(a, b, col) {
    if (col === 'count') return (a[col] || 0) - (b[col] || 0);
    const x = cellText(a, col), y = cellText(b, col);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function sorted(rows, sort) {
    if (!sort.col) return rows;
    const out = rows.slice();
    out.sort((a, b) => (sort.desc ? -1 : 1) * compare(a, b, sort.col));
    return out;
  }

  // targetOf is the name in an rdata that names one (CNAME, NS, PTR, MX, SRV...), else ''.
  function targetOf(type, rdata) {
    if (!rdata) return '';
    const f = rdata.trim().split(/\s+/);
    switch (type) {
      case 'CNAME': case 'DNAME': case 'NS': case 'PTR': return f[0];
      case 'MX': case 'KX': return f[1] || '';
      case 'SRV': return f[3] || '';
      case 'SVCB': case 'HTTPS': return f[1] && f[1] !== '.' ? f[1] : '';
      default: return '';
    }
  }

  function searchLink(text, q, mode) {
    const a = document.createElement('a');
    const s = { q, mode, from: state.search.from, to: state.search.to, rrtype: '' };
    a.href = searchURL(s);
    a.textContent = text;
    a.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      fillForm(s);
      go(s, true);
    });
    return a;
  }

  function renderResults() {
    const table = $('results');
    const cols = resultColumns();
    renderHead(table, cols, state.sort, (col) => {
      state.sort = { col, desc: state.sort.col === col ? !state.sort.desc : false };
      renderResults();
      table.querySelector('th[data-col="' + col + '"] button').focus();
    });
    const tbody = table.tBodies[0];
    tbody.textContent = '';
    for (const r of sorted(state.rows, state.sort)) {
      const tr = document.createElement('tr');
      for (const [col] of cols) {
        const td = document.createElement('td');
        td.dataset.col = col;
        const text = cellText(r, col);
        if (col === 'rrname' || col === 'qname') {
          td.appendChild(searchLink(text, text, 'name'));
        } else if (col === 'rdata' && (r.rrtype === 'A' || r.rrtype === 'AAAA')) {
          td.appendChild(searchLink(text, text, 'ip'));
        } else if (col === 'rdata' && targetOf(r.rrtype, text)) {
          td.appendChild(searchLink(text, targetOf(r.rrtype, text), 'name'));
        } else {
          td.textContent = text;
        }
        if (col === 'count') td.className = 'num';
        if (col.startsWith('time_')) td.className = 'time';
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    $('results-title').textContent = state.kind === 'negative' ? 'Negative answers' : 'Results';
    $('results-hint').textContent = state.kind === 'negative' ? 'NXDOMAIN: no such name; NOERROR: NODATA, the name exists without records of that type' : '';
    $('results-count').textContent = state.rows.length + (state.cursor ? '+' : '') + ' rows';
    $('more').hidden = !state.cursor;
    $('results-section').dataset.q = state.search.q; // what these are the results of
    $('results-section').hidden = false;
  }

  // renderHead writes a header row of sort buttons; aria-sort tells the order.
  function renderHead(table, cols, sort, onSort) {
    const thead = table.tHead;
    thead.textContent = '';
    const tr = document.createElement('tr');
    for (const [col, label] of cols) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.col = col;
      if (onSort) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'sort';
        const mark = sort.col === col ? (sort.desc ? ' ▼' : ' ▲') : '';
        b.textContent = label + mark;
        b.title = 'Sort by ' + label;
        th.setAttribute('aria-sort', sort.col === col ? (sort.desc ? 'descending' : 'ascending') : 'none');
        b.addEventListener('click', () => onSort(col));
        th.appendChild(b);
      } else {
        th.textContent = label;
      }
      tr.appendChild(th);
    }
    thead.appendChild(tr);
  }

  function simpleTable(table, cols, rows) {
    renderHead(table, cols, { col: null }, null);
    const tbody = table.tBodies[0];
    tbody.textContent = '';
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const [col] of cols) {
        const td = document.createElement('td');
        td.dataset.col = col;
        td.textContent = cellText(r, col);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  // ---------- times ----------
  // parseWhen reads what the API accepts (RFC 3339, epoch seconds, -SECONDS, -24h) into ms.
  function parseWhen(s, now) {
    if (!s) return NaN;
    s = s.trim();
    if (/^-\d+$/.test(s)) return now + Number(s) * 1000;
    if (/^\d+$/.test(s)) return Number(s) * 1000;
    const rel = /^-(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
    if (rel) return now - Number(rel[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[rel[2]];
    return Date.parse(s);
  }

  function fmtTime(ms, span) {
    const iso = new Date(ms).toISOString();
    if (span < 2 * 864e5) return iso.slice(5, 19).replace('T', ' ');
    return iso.slice(0, 16).replace('T', ' ');
  }

  // ---------- timeline ----------
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawTimeline() {
    const box = $('timeline');
    box.textContent = '';
    const rows = state.rows.filter((r) => r.time_first && r.time_last);
    if (rows.length === 0) return;
    $('timeline-section').hidden = false; // before measuring its width
    const s = state.search, now = Date.now();
    let lo = parseWhen(s.from, now), hi = parseWhen(s.to, now);
    const firsts = rows.map((r) => Date.parse(r.time_first)), lasts = rows.map((r) => Date.parse(r.time_last));
    if (isNaN(lo)) lo = Math.min(...firsts);
    if (isNaN(hi)) hi = Math.max(...lasts);
    if (hi - lo < 2000) { lo -= 1000; hi += 1000; }
    const pad = (hi - lo) * 0.02;
    lo -= pad; hi += pad;
    const byName = new Set(rows.map((r) => r.rrname)).size > 1;
    const items = rows.slice().sort((a, b) => Date.parse(a.time_first) - Date.parse(b.time_first) || compare(a, b, 'rdata'))
      .slice(0, TIMELINE_MAX);
    // Drawn at the box's own width, so that text keeps its size on any screen.
    const labelOf = (r) => { const l = (byName ? r.rrname + ' ' : '') + r.rrtype + ' ' + r.rdata; return l.length > 48 ? l.slice(0, 47) + '…' : l; };
    const longest = Math.max(...items.map((r) => labelOf(r).length));
    const W = Math.max(600, $('timeline').clientWidth || 900), RH = 22, TOP = 8, AXIS = 26;
    const LABEL = Math.round(Math.min(W / 2, Math.max(140, longest * 7.3 + 16))); // 12px monospace
    const H = TOP + items.length * RH + AXIS;
    const plot = W - LABEL - 10;
    const x = (t) => LABEL + Math.max(0, Math.min(1, (t - lo) / (hi - lo))) * plot;
    const g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-labelledby': 'timeline-desc', class: 'timeline' });
    g.appendChild(svg('desc', { id: 'timeline-desc' }, 'Timeline of ' + items.length + ' records from ' + fmtTime(lo, 1e12) + ' to ' + fmtTime(hi, 1e12)));
    items.forEach((r, i) => {
      const y = TOP + i * RH;
      const label = labelOf(r);
      const row = svg('g', { class: 'tl-row', 'data-rdata': r.rdata });
      if (i % 2 === 0) row.appendChild(svg('rect', { x: 0, y, width: W, height: RH, class: 'tl-stripe' }));
      row.appendChild(svg('text', { x: LABEL - 8, y: y + RH / 2 + 4, 'text-anchor': 'end', class: 'tl-label' }, label));
      const x1 = x(Date.parse(r.time_first)), x2 = x(Date.parse(r.time_last));
      const bar = svg('rect', { x: x1, y: y + 5, width: Math.max(4, x2 - x1), height: RH - 10, rx: 3, class: 'tl-bar tl-' + r.rrtype });
      bar.appendChild(svg('title', {}, r.rrname + ' ' + r.rrtype + ' ' + r.rdata + '\nfirst ' + r.time_first + '\nlast ' + r.time_last + '\ncount ' + r.count));
      row.appendChild(bar);
      g.appendChild(row);
    });
    const ay = TOP + items.length * RH + 4;
    g.appendChild(svg('line', { x1: LABEL, y1: ay, x2: LABEL + plot, y2: ay, class: 'axis' }));
    // At most one tick per 150 px and per second (history times are whole seconds).
    const ticks = Math.max(1, Math.min(8, Math.floor(plot / 150), Math.floor((hi - lo) / 1000)));
    let prev = '';
    for (let k = 0; k <= ticks; k++) {
      const t = lo + (hi - lo) * k / ticks, xx = LABEL + plot * k / ticks, text = fmtTime(t, hi - lo);
      g.appendChild(svg('line', { x1: xx, y1: TOP, x2: xx, y2: ay + 4, class: 'grid' }));
      if (text !== prev) g.appendChild(svg('text', { x: xx, y: ay + 18, 'text-anchor': k === 0 ? 'start' : k === ticks ? 'end' : 'middle', class: 'tick' }, text));
      prev = text;
    }
    box.appendChild(g);
    if (rows.length > items.length) {
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = 'The first ' + items.length + ' of ' + rows.length + ' records are drawn.';
      box.appendChild(p);
    }
    $('timeline-section').hidden = false;
  }

  // ---------- as of ----------
  const ASOF_COLS = [['qtype', 'type'], ['rcode', 'rcode'], ['answered_at', 'answered at'], ['ttl', 'TTL'], ['covers', 'TTL covers instant'], ['chain', 'CNAME chain'], ['final', 'final records']];

  async function drawAsof() {
    const d = state.search.detected;
    $('at').removeAttribute('aria-invalid');
    try {
      const res = await api('/api/v1/asof/' + encodeURIComponent(d.value), { at: $('at').value.trim(), rrtype: state.search.rrtype });
      state.asof = res.answers.map((a) => ({
        qtype: a.qtype, rcode: a.rcode, answered_at: a.answered_at, ttl: a.ttl, covers: a.covers,
        chain: a.chain.join(' → '),
        final: a.final.length ? a.final.map((r) => r.rrtype + ' ' + r.rdata).join(', ') : a.rcode === 'NOERROR' ? '(none: NODATA)' : '(none)',
        at: res.at, _raw: a,
      }));
      simpleTable($('asof'), ASOF_COLS, state.asof);
      $('asof-title').textContent = 'As of ' + res.at;
      if (state.asof.length === 0) {
        const tr = document.createElement('tr'), td = document.createElement('td');
        td.colSpan = ASOF_COLS.length; td.textContent = 'No answer recorded for this name before ' + res.at + '.';
        tr.appendChild(td); $('asof').tBodies[0].appendChild(tr);
      }
    } catch (err) {
      explain(err, drawAsof);
    }
  }

  // ---------- pivot graph ----------
  // The graph grows by expansion: a name brings, in one /pivot call of the chosen hops,
  // its addresses and the other names there, its CNAME, NS and MX targets and the names
  // pointing at it by those; an address brings the names that resolved to it and their
  // aliases (/ip).
  function newGraph(rootID) {
    return { nodes: new Map(), edges: new Map(), root: rootID, order: 0 };
  }

  function addNode(g, kind, value, depth) {
    const id = kind + ':' + value;
    let n = g.nodes.get(id);
    if (!n) {
      if (g.nodes.size >= GRAPH_MAX) return null;
      n = { id, kind, value, depth, expanded: false, order: g.order++ };
      g.nodes.set(id, n);
    } else if (depth < n.depth) {
      n.depth = depth;
    }
    return n;
  }

  function addEdge(g, from, to, e) {
    if (!from || !to || from === to) return;
    const k = from.id + '|' + to.id + '|' + e.rrtype;
    const old = g.edges.get(k);
    if (old) {
      if (e.time_first && (!old.time_first || e.time_first < old.time_first)) old.time_first = e.time_first;
      if (e.time_last && (!old.time_last || e.time_last > old.time_last)) old.time_last = e.time_last;
      return;
    }
    g.edges.set(k, { from: from.id, to: to.id, rrtype: e.rrtype, time_first: e.time_first || '', time_last: e.time_last || '', count: e.count || 0 });
  }

  // hops is the pivot depth asked for on each expansion.
  function hops() { return $('hops').value || '1'; }

  function startGraph(kind, value) {
    if (kind === 'name') value = value.endsWith('.') ? value.toLowerCase() : value.toLowerCase() + '.';
    state.graph = newGraph(kind + ':' + value);
    addNode(state.graph, kind, value, 0);
    $('pivot-section').hidden = false;
    expand(state.graph.root);
  }

  async function expand(id) {
    const g = state.graph;
    const n = g && g.nodes.get(id);
    if (!n || n.expanded || n.busy) return;
    n.busy = true;
    drawGraph();
    const s = state.search, w = windowParams(s);
    const before = g.nodes.size;
    let truncated = false;
    try {
      if (n.kind === 'name') {
        // One call: the API walks the hops (depth) through CNAME, NS and MX (via).
        const pv = await api('/api/v1/pivot/' + encodeURIComponent(n.value),
          Object.assign({ depth: hops(), via: 'cname,ns,mx' }, w));
        // Columns by edges away from the expanded node (an address, then the other names
        // there, one column further), which reads better than the API's hop (depth) that
        // puts all of one hop in one column; that is the fallback for a node left apart.
        const col = new Map([['name:' + pv.name, n.depth]]);
        const pending = pv.edges.slice();
        for (let round = 0; round < 4 * 12 && pending.length; round++) {
          let moved = false;
          for (let i = pending.length - 1; i >= 0; i--) {
            const e = pending[i];
            const df = col.get(e.from), dt = col.get(e.to);
            if (df === undefined && dt === undefined) continue;
            if (df !== undefined && dt === undefined) col.set(e.to, df + 1);
            if (dt !== undefined && df === undefined) col.set(e.from, dt + 1);
            pending.splice(i, 1);
            moved = true;
          }
          if (!moved) break;
        }
        const byID = new Map(pv.nodes.map((x) => [x.id, x]));
        const node = (pid) => { const x = byID.get(pid); return x ? addNode(g, x.kind, x.value, col.get(pid) ?? n.depth + (x.depth || 1)) : null; };
        for (const e of pv.edges) addEdge(g, node(e.from), node(e.to), e);
        truncated = pv.truncated;
      } else {
        const res = await api('/api/v1/ip/' + encodeURIComponent(n.value), Object.assign({ limit: 200 }, w));
        for (const r of res.rows) {
          const owner = addNode(g, 'name', r.rrname, n.depth + 1);
          addEdge(g, owner, n, r);
          for (const a of r.aliases || []) {
            // chain: alias -> ... -> owner, each hop a CNAME edge, one column further out
            let prev = null;
            for (const [i, hopName] of a.chain.entries()) {
              const cur = addNode(g, 'name', hopName, n.depth + a.chain.length - i);
              if (prev) addEdge(g, prev, cur, { rrtype: 'CNAME', time_first: a.time_first, time_last: a.time_last, count: a.count });
              prev = cur;
            }
          }
        }
      }
      n.expanded = true;
      const added = g.nodes.size - before;
      setStatus('Expanded ' + n.value + ': ' + added + ' new node' + (added === 1 ? '' : 's') + ', ' + g.nodes.size + ' in the graph.' +
        (g.nodes.size >= GRAPH_MAX ? ' The graph is full (' + GRAPH_MAX + ' nodes): start a new search from a node to go further.' : '') +
        (truncated ? ' The API cut this expansion short (too many names or addresses): fewer hops show all of each.' : ''));
    } catch (err) {
      explain(err, () => expand(id));
    } finally {
      n.busy = false;
      if (state.graph === g) drawGraph();
    }
  }

  function drawGraph() {
    const g = state.graph, box = $('graph');
    box.textContent = '';
    if (!g) return;
    // Columns by depth; within a column, names before addresses, then by discovery.
    const cols = new Map();
    for (const n of g.nodes.values()) {
      if (!cols.has(n.depth)) cols.set(n.depth, []);
      cols.get(n.depth).push(n);
    }
    const depths = [...cols.keys()].sort((a, b) => a - b);
    const NW = 200, GAP = 70, NH = 24, VG = 8, M = 12;
    const pos = new Map();
    let maxRows = 0;
    depths.forEach((d, ci) => {
      const list = cols.get(d).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'name' ? -1 : 1) || a.value.localeCompare(b.value));
      maxRows = Math.max(maxRows, list.length);
      list.forEach((n, ri) => pos.set(n.id, { x: M + ci * (NW + GAP), y: M + ri * (NH + VG) }));
    });
    const W = M * 2 + depths.length * NW + (depths.length - 1) * GAP;
    const H = M * 2 + maxRows * (NH + VG);
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: Math.max(W, 300), height: H, class: 'graph-svg', role: 'group', 'aria-label': 'Pivot graph: ' + g.nodes.size + ' nodes, ' + g.edges.size + ' edges' });
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }));
    defs.appendChild(marker);
    s.appendChild(defs);
    const edges = svg('g', { class: 'edges' });
    for (const e of g.edges.values()) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      let x1, x2;
      if (a.x < b.x) { x1 = a.x + NW; x2 = b.x; } else if (a.x > b.x) { x1 = a.x; x2 = b.x + NW; } else { x1 = a.x + NW; x2 = b.x + NW; }
      const y1 = a.y + NH / 2, y2 = b.y + NH / 2;
      const bend = a.x === b.x ? 40 : (x2 - x1) / 2;
      const p = svg('path', { d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, class: 'edge edge-' + e.rrtype, 'marker-end': 'url(#arrow)' });
      p.appendChild(svg('title', {}, e.from.slice(e.from.indexOf(':') + 1) + ' ' + e.rrtype + ' ' + e.to.slice(e.to.indexOf(':') + 1) + (e.time_first ? '\n' + e.time_first + ' .. ' + e.time_last : '')));
      edges.appendChild(p);
    }
    s.appendChild(edges);
    for (const n of g.nodes.values()) {
      const p = pos.get(n.id);
      const cls = 'node node-' + n.kind + (n.expanded ? ' expanded' : '') + (n.busy ? ' busy' : '') + (n.id === g.root ? ' root' : '');
      const el = svg('g', { class: cls, transform: `translate(${p.x},${p.y})`, tabindex: 0, role: 'button', 'data-id': n.id,
        'aria-label': (n.expanded ? 'Expanded ' : 'Expand ') + (n.kind === 'ip' ? 'address ' : 'name ') + n.value });
      el.appendChild(svg('rect', { width: NW, height: NH, rx: n.kind === 'ip' ? 12 : 4 }));
      const label = n.value.length > 30 ? n.value.slice(0, 29) + '…' : n.value;
      el.appendChild(svg('text', { x: 8, y: NH / 2 + 4 }, (n.expanded ? '' : '+ ') + label));
      el.appendChild(svg('title', {}, n.value + (n.expanded ? ' (expanded)' : ' (click to expand)')));
      const act = () => expand(n.id);
      el.addEventListener('click', act);
      el.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); act(); } });
      el.addEventListener('dblclick', () => { const q = { q: n.value, mode: n.kind === 'ip' ? 'ip' : 'name', from: state.search.from, to: state.search.to }; fillForm(q); go(q, true); });
      s.appendChild(el);
    }
    box.appendChild(s);
    // The edges as a table: the same graph for a screen reader and for export.
    simpleTable($('pivot'), PIVOT_COLS, pivotRows());
    $('pivot-title').textContent = 'Pivot graph (' + g.nodes.size + ' nodes, ' + g.edges.size + ' edges)';
  }

  const PIVOT_COLS = [['from', 'from'], ['rrtype', 'type'], ['to', 'to'], ['time_first', 'first seen'], ['time_last', 'last seen'], ['count', 'count']];
  function pivotRows() {
    const g = state.graph;
    if (!g) return [];
    const strip = (id) => id.slice(id.indexOf(':') + 1);
    return [...g.edges.values()].map((e) => ({ from: strip(e.from), rrtype: e.rrtype, to: strip(e.to), time_first: e.time_first, time_last: e.time_last, count: e.count }))
      .sort((a, b) => (a.from + a.rrtype + a.to < b.from + b.rrtype + b.to ? -1 : 1));
  }

  // ---------- downloads ----------
  // csvCell is the API's CSV cell (format=csv: httpapi.CSVSafe, then Go's encoding/csv with
  // CRLF) byte for byte, so both downloads of a table are the same file. A cell a
  // spreadsheet would run as a formula (DNS data is written by strangers) gets a leading
  // apostrophe; then RFC 4180 quoting, also of a cell starting with a space as Go's
  // unicode.IsSpace sees it, where a CR is dropped and a LF written as CRLF.
  const CSV_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  function csvCell(v) {
    let s = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    if (s === '' || !(s === '\\.' || /[",\r\n]/.test(s) || CSV_SPACE.test(s))) return s;
    return '"' + s.replace(/"/g, '""').replace(/\r/g, '').replace(/\n/g, '\r\n') + '"';
  }
  // For the browser tests, which compare it with the API's.
  window.passivednsCSV = { cell: csvCell, lines: (cols, rows) => toCSV(cols.map((c) => [c]), rows) };

  function toCSV(cols, rows) {
    const lines = [cols.map(([c]) => csvCell(c)).join(',')];
    for (const r of rows) lines.push(cols.map(([c]) => csvCell(cellText(r, c))).join(','));
    return lines.join('\r\n') + '\r\n';
  }

  function tableData(which) {
    switch (which) {
      case 'results': return { cols: resultColumns(), rows: sorted(state.rows, state.sort), json: sorted(state.rows, state.sort) };
      case 'asof': return { cols: ASOF_COLS, rows: state.asof, json: state.asof.map((a) => a._raw) };
      case 'pivot': {
        const g = state.graph;
        return { cols: PIVOT_COLS, rows: pivotRows(), json: g ? { nodes: [...g.nodes.values()].map(({ id, kind, value, depth }) => ({ id, kind, value, depth })), edges: [...g.edges.values()] } : {} };
      }
    }
    return null;
  }

  function download(which, format) {
    const t = tableData(which);
    if (!t || !state.search) return;
    const body = format === 'csv' ? toCSV(t.cols, t.rows) : JSON.stringify(t.json, null, 2) + '\n';
    const blob = new Blob([body], { type: format === 'csv' ? 'text/csv;charset=utf-8' : 'application/json' });
    const d = state.search.detected;
    const base = ('passivedns-' + which + '-' + d.mode + '-' + d.value).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/_+$/, '');
    save(blob, base + '.' + format);
  }

  // exportAPI saves the API's own CSV of the search (format=csv, one page of up to 10000
  // rows), fetched with the key in its header, under the name the API gives it.
  async function exportAPI() {
    const s = state.search;
    if (!s) return;
    const d = s.detected;
    try {
      const res = await apiFetch(lookupPath(d), Object.assign(windowParams(s), { rrtype: s.rrtype, limit: 10000, format: 'csv' }));
      const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
      const blob = await res.blob();
      save(blob, m ? m[1] : 'passivedns.csv');
      const more = res.headers.get('X-Passivedns-Cursor');
      setStatus('Saved ' + res.headers.get('X-Passivedns-Count') + ' rows as CSV from the API' + (more ? '; there are more: narrow the search or use the API\'s cursor.' : '.'));
    } catch (err) {
      explain(err, exportAPI);
    }
  }

  function save(blob, name) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // ---------- wiring ----------
  function init() {
    $('search').addEventListener('submit', (e) => { e.preventDefault(); go(readForm(), true); });
    $('keyform').addEventListener('submit', (e) => {
      e.preventDefault();
      const k = $('apikey').value.trim();
      if (!k) return;
      try { sessionStorage.setItem(KEY, k); } catch (err) { /* private mode: kept for nothing */ }
      $('apikey').value = '';
      $('keyform').hidden = true;
      $('forget-key').hidden = false;
      clearMessage();
      const p = state.pending;
      state.pending = null;
      if (p) p(); else if (state.search) run(state.search);
    });
    $('forget-key').hidden = !apiKey();
    $('forget-key').addEventListener('click', () => {
      try { sessionStorage.removeItem(KEY); } catch (err) { /* nothing kept */ }
      $('forget-key').hidden = true;
      setStatus('API key forgotten.');
    });
    $('more').addEventListener('click', async () => {
      $('more').disabled = true;
      try { await loadPage(); if (state.kind === 'history') drawTimeline(); } catch (err) { explain(err, () => $('more').click()); } finally { $('more').disabled = false; }
    });
    $('export-csv').addEventListener('click', exportAPI);
    $('asof-form').addEventListener('submit', (e) => { e.preventDefault(); if (state.search) drawAsof(); });
    for (const b of document.querySelectorAll('button[data-download]')) {
      b.addEventListener('click', () => download(b.dataset.download, b.dataset.format));
      b.title = 'Download this table as ' + b.dataset.format.toUpperCase();
    }
    document.addEventListener('keydown', (e) => {
      const t = e.target;
      if (e.key === '/' && !(t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement)) {
        e.preventDefault();
        $('q').focus();
        $('q').select();
      }
    });
    window.addEventListener('popstate', () => { const s = fromURL(); fillForm(s); if (s.q) go(s, false); });
    const s = fromURL();
    fillForm(s);
    if (s.q) go(s, false); else $('q').focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
