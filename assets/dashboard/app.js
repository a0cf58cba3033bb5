// The Sluice dashboard: one snapshot a second from /api/v1/events, a records browser over the API.
(() => {
  'use strict';
  const POINTS = 300;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) node.append(child);
    return node;
  };
  const fmt = (n, digits = 0) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: digits }) : '–');

  // Reads may need a token (--read-token); it is kept for this tab only.
  let token = sessionStorage.getItem('sluiceToken') || '';
  const headers = () => (token ? { authorization: `Bearer ${token}` } : {});
  async function api(path) {
    let response = await fetch(path, { headers: headers() });
    if (response.status === 401) {
      token = prompt('This server needs a bearer token to read:') || '';
      sessionStorage.setItem('sluiceToken', token);
      response = await fetch(path, { headers: headers() });
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
    return body;
  }

  let tables = [];
  const series = { t: [], writes: {}, p50: [], p99: [], high: [], normal: [], low: [] };
  const charts = {};
  // For a person at the console (and the browser test): what the charts hold.
  window.sluiceDashboard = { charts, series };

  function chart(id, labels, colors) {
    const target = $(id);
    const opts = {
      width: Math.max(target.clientWidth, 300),
      height: 190,
      legend: { live: false },
      cursor: { show: false },
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 1.5, points: { show: false } }))],
      // Up to the last five minutes, at least one: a fresh page's few points neither stretch over years nor huddle at the edge.
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const end = Number.isFinite(max) ? max : Date.now() / 1000;
            const start = Number.isFinite(min) ? Math.max(min, end - POINTS) : end - 60;
            return [Math.min(start, end - 60), end];
          },
        },
      },
      axes: [{ space: 60 }, { size: 50 }],
    };
    charts[id] = new uPlot(opts, [[], ...labels.map(() => [])], target);
  }
  const COLORS = ['#2563eb', '#e67e22', '#16a085', '#8e44ad', '#c0392b', '#7f8c8d'];

  function addPoint(p) {
    // The stream's first snapshot may repeat the history's last point; the x axis must only grow.
    if (series.t.length > 0 && p.t <= series.t[series.t.length - 1]) return;
    series.t.push(p.t);
    for (const t of tables) (series.writes[t.name] ||= []).push(p.writes[t.name] ?? 0);
    series.p50.push(p.commitP50);
    series.p99.push(p.commitP99);
    for (const lane of ['high', 'normal', 'low']) series[lane].push(p.queue[lane] ?? 0);
    if (series.t.length > POINTS) {
      for (const list of [series.t, series.p50, series.p99, series.high, series.normal, series.low, ...Object.values(series.writes)]) list.shift();
    }
  }
  function drawCharts() {
    if (!charts['chart-writes']) return;
    charts['chart-writes'].setData([series.t, ...tables.map((t) => series.writes[t.name] || [])]);
    charts['chart-commit'].setData([series.t, series.p50, series.p99]);
    charts['chart-queue'].setData([series.t, series.high, series.normal, series.low]);
  }

  function renderCards(counts) {
    const box = $('cards');
    for (const t of tables) {
      const c = counts[t.name];
      if (!c) continue;
      let card = box.querySelector(`[data-table="${t.name}"]`);
      if (!card) {
        card = el('div', { className: 'card' });
        card.dataset.table = t.name;
        const title = el('h2', { textContent: t.name });
        // A rollup is a summary the database keeps from its source: say so, and of what.
        if (t.rollup) title.append(el('span', { className: 'kind', textContent: `rollup of ${t.rollup.source} per ${t.rollup.every}` }));
        card.append(title, el('div', { className: 'total' }), el('div', { className: 'states' }));
        box.append(card);
      }
      card.querySelector('.total').textContent = fmt(c.total);
      const states = card.querySelector('.states');
      if (c.states) {
        for (const [state, n] of Object.entries(c.states)) {
          let chip = states.querySelector(`[data-state="${state}"]`);
          if (!chip) {
            chip = el('span', { className: 'state' }, state, el('b'));
            chip.dataset.state = state;
            states.append(chip);
          }
          chip.querySelector('b').textContent = fmt(n);
          chip.dataset.count = String(n);
        }
      }
      card.dataset.total = String(c.total);
    }
  }

  function dl(id, entries) {
    $(id).replaceChildren(...entries.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]));
  }
  const ratio = (tier) => (tier && tier.hits + tier.misses > 0 ? `${fmt((100 * tier.hits) / (tier.hits + tier.misses), 1)} % of ${fmt(tier.hits + tier.misses)}` : 'no reads');

  // Firing rules first, then pending, then the quiet ones; the box turns red while any fires.
  const ORDER = { firing: 0, pending: 1, ok: 2 };
  function renderAlerts(rules) {
    if (!rules) return;
    $('alerts').hidden = false;
    const sorted = [...rules].sort((a, b) => (ORDER[a.state] ?? 3) - (ORDER[b.state] ?? 3) || a.name.localeCompare(b.name));
    const firing = sorted.filter((r) => r.state === 'firing').length;
    $('alerts').classList.toggle('firing', firing > 0);
    $('alerts-summary').textContent = firing > 0 ? `${firing} firing of ${rules.length}` : `none firing (${rules.length} rules)`;
    $('alerts-list').replaceChildren(
      ...sorted.map((r) => {
        const item = el('li', { className: `alert ${r.state}`, title: r.lastError || (r.since ? `since ${r.since}` : '') }, `${r.name} · ${r.state}`);
        if (r.value !== null && r.value !== undefined) item.append(` · ${fmt(r.value, 2)}`);
        item.dataset.rule = r.name;
        item.dataset.state = r.state;
        return item;
      }),
    );
  }

  // The target's record of every node shipping into it: read every few seconds, not every snapshot,
  // as it costs the target a query.
  let nodesReadAt = 0;
  async function refreshNodes() {
    if (Date.now() - nodesReadAt < 5000) return;
    nodesReadAt = Date.now();
    try {
      const { nodes } = await api('/api/v1/sync/nodes');
      $('sync-nodes').tBodies[0].replaceChildren(
        ...nodes.map((n) =>
          el(
            'tr',
            { title: `seq ${n.seq}, last batch ${n.lastBatchAt}${n.shipping ? ', shipping now' : ''}` },
            el('td', { textContent: n.nodeId }),
            el('td', { textContent: fmt(n.changes) }),
            el('td', { textContent: `${fmt(n.sinceLastBatchMs / 1000, 1)} s` }),
          ),
        ),
      );
    } catch (error) {
      console.warn(error);
    }
  }

  function renderSnapshot(s) {
    const st = s.stats;
    renderAlerts(s.alerts);
    $('dialect').textContent = st.dialect;
    renderCards(s.tables);
    dl('gate', [
      ['writes ok / failed', `${fmt(st.ops.ok)} / ${fmt(st.ops.failed)}`],
      ['commit p50 / p99', `${fmt(st.commitMs.p50, 2)} / ${fmt(st.commitMs.p99, 2)} ms`],
      ['ack p50 / p99', `${fmt(st.ackMs.p50, 2)} / ${fmt(st.ackMs.p99, 2)} ms`],
      ['queue high / normal / low', `${st.queue.high} / ${st.queue.normal} / ${st.queue.low}`],
      ['lock waits', `${fmt(st.lockWaitMs.count)} (p99 ${fmt(st.lockWaitMs.p99, 1)} ms)`],
      ['busy retries / surfaced', `${fmt(st.busy.retries)} / ${fmt(st.busy.surfaced)}`],
      ['overloaded', fmt(st.overloaded)],
      ['mean batch', `${fmt(st.batches.meanSize, 1)} of ${fmt(st.batches.count)} batches`],
    ]);
    const cache = st.cache || {};
    dl('cache', [
      ['L1 (in process)', ratio(cache.l1)],
      ['L2 (Redis)', cache.l2 && cache.l2.enabled === false ? 'off' : ratio(cache.l2)],
      ['queries', ratio(cache.queries)],
    ]);
    if (s.sync) {
      $('sync-panel').hidden = false;
      const y = s.sync;
      dl('sync', [
        ['target', String(y.target ?? '–')],
        ['pending', fmt(y.pending)],
        ['lag', `${fmt((y.lagMs ?? 0) / 1000, 1)} s`],
        ['synced / failed', `${fmt(y.synced)} / ${fmt(y.failed)}`],
        ['dead letters', fmt(y.deadLetters)],
      ]);
      refreshNodes();
    }
    const errors = s.errors || [];
    $('errors').replaceChildren(
      ...(errors.length === 0
        ? [el('li', { className: 'muted', textContent: 'none' })]
        : errors.map((e) => el('li', { title: e.at }, el('span', { className: 'code', textContent: e.code }), `${e.source}: ${e.message}`))),
    );
  }

  // Server-sent events read through fetch, so a read token can travel in a header.
  async function follow() {
    for (;;) {
      try {
        const response = await fetch('/api/v1/events', { headers: headers() });
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        $('live').textContent = 'live';
        $('live').className = 'badge';
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            handle(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
        }
      } catch (error) {
        console.warn(error);
      }
      $('live').textContent = 'reconnecting…';
      $('live').className = 'badge off';
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  function handle(block) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const payload = JSON.parse(data);
    if (event === 'history') {
      for (const p of payload) addPoint(p);
      drawCharts();
    } else if (event === 'counts') renderCards(payload);
    else if (event === 'alert') console.info(`alert ${payload.name} ${payload.event}`);
    else if (event === 'snapshot') {
      addPoint(payload.point);
      drawCharts();
      renderSnapshot(payload);
    }
  }

  // The records browser: the API's filter syntax, keyset paging, a row's history on click.
  let next = null;
  let shown = 0;
  const current = () => tables.find((t) => t.name === $('q-table').value);
  const keyOf = (t, row) => (t.primaryKey.length === 1 ? String(row[t.primaryKey[0]]) : JSON.stringify(t.primaryKey.map((k) => row[k])));
  const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

  async function runQuery(after) {
    const t = current();
    if (!t) return;
    const params = new URLSearchParams({ limit: $('q-limit').value || '20' });
    if ($('q-where').value.trim()) params.set('where', $('q-where').value.trim());
    if ($('q-order').value.trim()) params.set('orderBy', $('q-order').value.trim());
    if (after) params.set('after', after);
    try {
      const page = await api(`/api/v1/tables/${encodeURIComponent(t.name)}/records?${params}`);
      next = page.next;
      shown = after ? shown + page.rows.length : page.rows.length;
      const columns = t.columns.map((c) => c.name);
      $('rows').querySelector('thead').replaceChildren(el('tr', {}, ...columns.map((c) => el('th', { textContent: c }))));
      $('rows').querySelector('tbody').replaceChildren(
        ...page.rows.map((row) => {
          const tr = el('tr', {}, ...columns.map((c) => el('td', { textContent: cell(row[c]) })));
          tr.dataset.key = keyOf(t, row);
          tr.addEventListener('click', () => showHistory(t, tr.dataset.key));
          return tr;
        }),
      );
      $('q-next').disabled = !next;
      $('q-info').className = 'muted';
      $('q-info').textContent = `${shown} row(s) so far${next ? '' : ', end of results'}`;
    } catch (error) {
      $('q-info').className = 'error-text';
      $('q-info').textContent = error.message;
    }
  }

  async function showHistory(t, key) {
    $('history').hidden = false;
    $('history-key').textContent = `${t.name} ${key}`;
    if (!t.lifecycle || !t.lifecycle.history) {
      $('history-list').replaceChildren(el('li', { className: 'muted', textContent: 'this table keeps no lifecycle history' }));
      return;
    }
    try {
      const { history } = await api(`/api/v1/tables/${encodeURIComponent(t.name)}/records/${encodeURIComponent(key)}/history`);
      $('history-list').replaceChildren(
        ...history.map((h) => el('li', { textContent: `${h.at}  ${h.from ?? '∅'} → ${h.to}${h.actor ? `  (${h.actor})` : ''}` })),
      );
    } catch (error) {
      $('history-list').replaceChildren(el('li', { className: 'error-text', textContent: error.message }));
    }
  }

  async function start() {
    ({ tables } = await api('/api/v1/tables'));
    $('q-table').replaceChildren(...tables.map((t) => el('option', { value: t.name, textContent: t.name })));
    chart('chart-writes', tables.map((t) => t.name), COLORS);
    chart('chart-commit', ['p50', 'p99'], ['#16a085', '#c0392b']);
    chart('chart-queue', ['high', 'normal', 'low'], COLORS);
    $('query').addEventListener('submit', (e) => {
      e.preventDefault();
      runQuery(null);
    });
    $('q-next').addEventListener('click', () => runQuery(next));
    $('q-table').addEventListener('change', () => runQuery(null));
    window.addEventListener('resize', () => {
      for (const [id, c] of Object.entries(charts)) c.setSize({ width: $(id).clientWidth, height: 190 });
    });
    runQuery(null);
    follow();
  }
  start().catch((error) => {
    $('live').textContent = error.message;
  });
})();
