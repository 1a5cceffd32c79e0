/* snakescope HTML report: the views of what was measured rather than
 * sampled: "Exact calls" (the capture's `exact` section, every call counted
 * and timed as cProfile does), "Line timings" (its `lines` section, as
 * kernprof -l shows them) and "Stat" (its `stat` section: what `snakescope
 * stat` measures, from `--stat`). This file only registers the builders in
 * `window.snakescopeViews`; report.js (inlined right after it, in the same
 * script element) calls them with its helpers once the page's data is read.
 * Every string from the capture reaches the page as text (the `h` helper sets
 * textContent), never as markup. */
(function () {
  'use strict';
  var views = window.snakescopeViews = window.snakescopeViews || {};
  var h, fmtNum, heat;
  function use(lib) { h = lib.h; fmtNum = lib.fmtNum; heat = lib.heat; }

  // ---------------------------------------------------------------- helpers
  /** Seconds in the unit that keeps three decimals meaningful. */
  function fmtTime(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '';
    if (s === 0) return '0';
    var a = Math.abs(s);
    if (a >= 1) return s.toFixed(3) + ' s';
    if (a >= 1e-3) return (s * 1e3).toFixed(3) + ' ms';
    if (a >= 1e-6) return (s * 1e6).toFixed(3) + ' \u00b5s';
    return (s * 1e9).toFixed(1) + ' ns';
  }
  function seconds(s) { return typeof s === 'number' ? s.toFixed(6) + ' s' : ''; }
  /** pstats' ncalls: `calls/primitive` when some calls were recursive. */
  function callsText(calls, prim) { return calls === prim ? fmtNum(calls) : fmtNum(calls) + '/' + fmtNum(prim); }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }
  /** A function of the capture: its name, and where (built-ins: file `~`, line 0). */
  function describe(frame) {
    var f = frame || {};
    var builtin = f.file === '~' && !f.line;
    return {
      name: f.qualname || f.function || '?',
      file: builtin ? '' : f.file || '',
      line: f.line || 0,
      where: builtin ? 'built-in' : (f.file || '?') + (f.line ? ':' + f.line : ''),
    };
  }

  // ---------------------------------------------------------------- exact calls
  function exactRows(cap) {
    var frames = cap.frames || [];
    var list = cap.exact && Array.isArray(cap.exact.functions) ? cap.exact.functions : [];
    var rows = list.map(function (f, i) {
      var d = describe(frames[f.frame]);
      var calls = num(f.calls), prim = num(f.primitive_calls), tt = num(f.tottime_s), ct = num(f.cumtime_s);
      return {
        i: i, name: d.name, file: d.file, where: d.where, calls: calls, prim: prim, tottime: tt, cumtime: ct,
        tpc: calls ? tt / calls : 0, cpc: prim ? ct / prim : 0,
        callers: Array.isArray(f.callers) ? f.callers : [], callees: [],
      };
    });
    rows.forEach(function (r) {
      r.callers = r.callers.filter(function (c) { return rows[c.function]; }).map(function (c) {
        var link = { row: rows[c.function], calls: num(c.calls), prim: num(c.primitive_calls), tottime: num(c.tottime_s), cumtime: num(c.cumtime_s) };
        rows[c.function].callees.push({ row: r, calls: link.calls, prim: link.prim, tottime: link.tottime, cumtime: link.cumtime });
        return link;
      });
    });
    rows.forEach(function (r) {
      var byCum = function (a, b) { return b.cumtime - a.cumtime || b.calls - a.calls; };
      r.callers.sort(byCum); r.callees.sort(byCum);
    });
    return rows;
  }

  var EXACT_COLS = [
    { key: 'name', label: 'Function', cls: 'name' },
    { key: 'where', label: 'File:line', cls: 'file' },
    { key: 'calls', label: 'Calls', num: true, title: 'calls, recursive ones included; calls/primitive when some were recursive (primitive: not recursive)' },
    { key: 'tottime', label: 'tottime', num: true, title: 'time in the function itself, outside the functions it called' },
    { key: 'tpc', label: 'per call', num: true, title: 'tottime / calls' },
    { key: 'cumtime', label: 'cumtime', num: true, title: 'time from call to return, callees included (outermost calls only)' },
    { key: 'cpc', label: 'per call', num: true, title: 'cumtime / primitive calls' },
    { key: 'callers', label: 'Called by', title: 'the callers with the most cumulative time; open a row for all of them and its callees' },
  ];

  views.exact = function (el, cap, lib) {
    use(lib);
    var rows = exactRows(cap);
    var calls = 0, prim = 0, time = 0, maxCum = 0;
    rows.forEach(function (r) { calls += r.calls; prim += r.prim; time += r.tottime; if (r.cumtime > maxCum) maxCum = r.cumtime; });
    el.appendChild(h('p', { cls: 'totals', id: 'exact-totals', text: fmtNum(calls) + ' function calls' +
      (prim !== calls ? ' (' + fmtNum(prim) + ' primitive calls)' : '') + ' in ' + time.toFixed(3) + ' seconds' }));
    // As text/exact.rs: the total adds up every thread's time; past the wall time, say so.
    var wall = (cap.meta || {}).duration_s;
    if (wall > 0 && time > 1.05 * wall) el.appendChild(h('p', { cls: 'note', text: 'Wall time ' + wall.toFixed(3) +
      ' seconds: the seconds above add up every thread\u2019s time, waiting included.' }));
    el.appendChild(h('p', { cls: 'note', text: 'Every call of every function, counted and timed as cProfile does ' +
      '(not sampled): tottime is the time in the function itself, cumtime from call to return with its callees. ' +
      'Calls shows calls/primitive calls when some calls were recursive. Click a heading to sort by it, a row\u2019s \u25b8 ' +
      'for all its callers and callees.' }));
    if (!rows.length) { el.appendChild(h('p', { cls: 'note', text: 'No function was called.' })); return; }
    exactTable(el, rows, maxCum);
  };

  /** One cell of the exact table; `opened`: the row's callers are shown. */
  function exactCell(r, c, opened, maxCum, toggle) {
    if (c.key === 'name') {
      var tog = h('span', { cls: 'tog', text: opened ? '\u25be' : '\u25b8', title: 'callers and callees',
        onclick: function () { toggle(r); } });
      return h('td', { cls: 'name' }, [tog, ' ', r.name]);
    }
    if (c.key === 'where') return h('td', { cls: 'file', text: r.where });
    if (c.key === 'calls') return h('td', { cls: 'num', text: callsText(r.calls, r.prim), title: fmtNum(r.calls) + ' calls, ' + fmtNum(r.prim) + ' primitive' });
    if (c.key === 'callers') {
      var top = r.callers.slice(0, 3).map(function (x) { return x.row.name + ' (' + callsText(x.calls, x.prim) + ')'; });
      if (r.callers.length > 3) top.push('\u2026 ' + (r.callers.length - 3) + ' more');
      return h('td', { cls: 'callers', text: top.join(', ') });
    }
    var v = r[c.key], bar = null;
    if (c.key === 'cumtime' && v && maxCum) bar = h('span', { cls: 'bar total', style: 'width:' + Math.max(1, Math.round(60 * v / maxCum)) + 'px' });
    return h('td', { cls: 'num', title: seconds(v) }, [bar, fmtTime(v)]);
  }

  /** A row's callers (or callees) with their split calls and times; `show` goes to one's row. */
  function linksTable(title, list, show) {
    if (!list.length) return h('p', { cls: 'note', text: title + ': none.' });
    var t = h('table', { cls: 'links' }, [h('tr', null, [title, 'File:line', 'Calls', 'tottime', 'cumtime'].map(function (x, i) {
      return h('td', { cls: 'note' + (i > 1 ? ' num' : ''), text: x });
    }))]);
    list.forEach(function (x) {
      t.appendChild(h('tr', null, [
        h('td', { cls: 'name' }, [h('a', { text: x.row.name, title: 'show its row', onclick: function () { show(x.row); } })]),
        h('td', { cls: 'file', text: x.row.where }),
        h('td', { cls: 'num', text: callsText(x.calls, x.prim) }),
        h('td', { cls: 'num', text: fmtTime(x.tottime), title: seconds(x.tottime) }),
        h('td', { cls: 'num', text: fmtTime(x.cumtime), title: seconds(x.cumtime) }),
      ]));
    });
    return t;
  }

  function exactTable(el, rows, maxCum) {
    var sortKey = 'cumtime', desc = true, limit = 100, filter = '', open = new Set(), rowEls = new Map();
    var filterBox = h('input', { type: 'search', placeholder: 'Filter functions or files', 'aria-label': 'filter exact calls' });
    var count = h('span', { cls: 'note' });
    el.appendChild(h('div', { cls: 'toolbar' }, [filterBox, count]));
    var thead = h('thead'), tbody = h('tbody');
    el.appendChild(h('table', { cls: 'data', id: 'exact-table' }, [thead, tbody]));
    var more = h('button', { type: 'button', hidden: true, onclick: function () { limit = Infinity; render(); } });
    el.appendChild(more);
    thead.appendChild(h('tr', null, EXACT_COLS.map(function (c) {
      var sortable = c.key !== 'callers';
      return h('th', { cls: (sortable ? 'sortable ' : '') + (c.num ? 'num' : ''), text: c.label, title: c.title, 'data-key': c.key,
        onclick: sortable ? function () {
          if (sortKey === c.key) desc = !desc; else { sortKey = c.key; desc = !!c.num; }
          render();
        } : null });
    })));
    var ft = 0;
    filterBox.addEventListener('input', function () {
      clearTimeout(ft);
      ft = setTimeout(function () { filter = filterBox.value.toLowerCase(); render(); }, 120);
    });

    function show(r) {
      if (!rowEls.has(r.i)) { filter = ''; filterBox.value = ''; limit = Infinity; render(); }
      var tr = rowEls.get(r.i);
      if (!tr) return;
      tr.scrollIntoView({ block: 'center' });
      tr.classList.add('flash');
      setTimeout(function () { tr.classList.remove('flash'); }, 1500);
    }
    function toggle(r) { if (open.has(r.i)) open.delete(r.i); else open.add(r.i); render(); }
    function detail(r) {
      return h('tr', { cls: 'detail' }, [h('td', { colspan: EXACT_COLS.length }, [
        linksTable('Called by', r.callers, show), linksTable('Calls', r.callees, show)])]);
    }
    function render() {
      var shown = rows.filter(function (r) {
        return !filter || r.name.toLowerCase().indexOf(filter) >= 0 || r.where.toLowerCase().indexOf(filter) >= 0;
      });
      var k = sortKey, sign = desc ? -1 : 1;
      shown.sort(function (a, b) {
        var x = a[k], y = b[k], c = x < y ? -1 : x > y ? 1 : 0;
        return sign * c || b.cumtime - a.cumtime || b.tottime - a.tottime || a.i - b.i;
      });
      thead.querySelectorAll('th').forEach(function (th) {
        th.classList.toggle('sorted', th.getAttribute('data-key') === sortKey);
        th.classList.toggle('asc', !desc);
      });
      rowEls.clear();
      var frag = document.createDocumentFragment();
      shown.slice(0, limit).forEach(function (r) {
        var tr = h('tr', { 'data-function': r.i }, EXACT_COLS.map(function (c) { return exactCell(r, c, open.has(r.i), maxCum, toggle); }));
        rowEls.set(r.i, tr);
        frag.appendChild(tr);
        if (open.has(r.i)) frag.appendChild(detail(r));
      });
      tbody.replaceChildren(frag);
      count.textContent = shown.length + ' function' + (shown.length === 1 ? '' : 's') + (shown.length > limit ? ', showing ' + limit : '');
      more.hidden = shown.length <= limit;
      more.textContent = 'Show all ' + shown.length;
    }
    render();
  }

  // ---------------------------------------------------------------- line timings
  views.lines = function (el, cap, lib) {
    use(lib);
    var frames = cap.frames || [];
    var list = cap.lines && Array.isArray(cap.lines.functions) ? cap.lines.functions : [];
    el.appendChild(h('p', { cls: 'note', text: 'Each function whose lines were timed (@profile, run --lines), as kernprof -l ' +
      'shows it: per line its hits, its time (wall clock, the functions it called included), the time per hit and its share ' +
      'of the function\u2019s time, which sets the heat colour.' }));
    if (!list.length) { el.appendChild(h('p', { cls: 'note', text: 'No timed function ran.' })); return; }
    var fns = list.map(function (f) {
      var d = describe(frames[f.frame]), lines = Array.isArray(f.lines) ? f.lines : [], total = 0;
      lines.forEach(function (l) { total += num(l.time_s); });
      return { d: d, lines: lines, source: Array.isArray(f.source) ? f.source : [], total: total };
    });
    fns.sort(function (a, b) { return b.total - a.total || (a.d.where < b.d.where ? -1 : a.d.where > b.d.where ? 1 : 0); });
    fns.forEach(function (fn, idx) {
      var details = h('details', { cls: 'srcfile linefn', open: idx < 3 });
      details.appendChild(h('summary', null, [fn.d.name, h('span', { cls: 'shares',
        text: fn.d.where + ' \u00b7 total ' + fmtTime(fn.total) + ' \u00b7 ' + fn.lines.length + ' line' + (fn.lines.length === 1 ? '' : 's') + ' timed' })]));
      if (!fn.source.length) details.appendChild(h('p', { cls: 'note', style: 'padding:0 .6rem', text: 'The source was not recorded: only the timed lines are shown.' }));
      details.appendChild(lineTable(fn));
      el.appendChild(details);
    });
  };

  /** Line numbers listed: the recorded source's, and timed lines outside it. */
  function lineNumbers(fn) {
    var first = fn.d.line, n = fn.source.length, out = [];
    for (var i = 0; i < n; i++) out.push(first + i);
    var beyond = fn.lines.map(function (l) { return l.line; })
      .filter(function (x) { return !n || x < first || x >= first + n; })
      .sort(function (a, b) { return a - b; });
    beyond.forEach(function (x) { if (out[out.length - 1] !== x) out.push(x); });
    return out;
  }

  function lineTable(fn) {
    var byLine = new Map(), maxTime = 0;
    fn.lines.forEach(function (l) {
      var e = byLine.get(l.line) || { hits: 0, time: 0 };
      e.hits += num(l.hits); e.time += num(l.time_s);
      byLine.set(l.line, e);
      if (e.time > maxTime) maxTime = e.time;
    });
    var t = h('table', { cls: 'src linetimes' });
    t.appendChild(h('thead', null, [h('tr', null, ['line', 'hits', 'time', 'per hit', '% time', ''].map(function (x, i) {
      return h('td', { cls: i === 0 ? 'ln' : i < 5 ? 'pc' : '', text: x });
    }))]));
    var tb = h('tbody');
    lineNumbers(fn).forEach(function (number) {
      var e = byLine.get(number), code = fn.source[number - fn.d.line];
      var cells = e ? [fmtNum(e.hits), fmtTime(e.time), fmtTime(e.hits ? e.time / e.hits : 0),
        (fn.total > 0 ? 100 * e.time / fn.total : 0).toFixed(1) + '%'] : ['\u00b7', '\u00b7', '\u00b7', '\u00b7'];
      var r = h('tr', { 'data-line': number }, [h('td', { cls: 'ln', text: String(number) })].concat(cells.map(function (c, i) {
        return h('td', { cls: 'pc' + (e ? '' : ' zero'), text: c, title: e && (i === 1 || i === 2) ? seconds(i === 1 ? e.time : e.time / (e.hits || 1)) : null });
      }), [h('td', { cls: 'code', text: typeof code === 'string' && code ? code : ' ' })]));
      if (e && e.time > 0 && maxTime) r.style.background = heat(e.time / maxTime);
      tb.appendChild(r);
    });
    t.appendChild(tb);
    return t;
  }
  // ---------------------------------------------------------------- stat
  /** A figure of the `stat` section in its unit (as text/stat.rs and `snakescope stat` show it). */
  function statValue(f, fmtBytes) {
    var v = f.value;
    if (f.unit === 'seconds') return v < 1 ? (v * 1e3).toFixed(2) + ' ms' : v.toFixed(3) + ' s';
    if (f.unit === 'bytes') return fmtBytes(v);
    if (f.unit === 'count') return fmtNum(Math.round(v));
    return v.toFixed(2);
  }

  /** `record --stat` / `run --stat`: what the figures cover, each figure
   * with a value, then the missing ones grouped by their reason. */
  views.stat = function (el, cap, lib) {
    use(lib);
    var st = cap.stat || {}, missing = [];
    el.appendChild(h('p', { cls: 'note', text: st.scope || '' }));
    var dl = h('dl', { cls: 'kv' });
    (st.figures || []).forEach(function (f) {
      if (typeof f.value === 'number') {
        dl.appendChild(h('div', null, [h('dt', { text: f.name }), h('dd', { text: statValue(f, lib.fmtBytes) })]));
        return;
      }
      var why = f.not_available || 'not available';
      var group = missing.filter(function (m) { return m.why === why; })[0];
      if (group) group.names.push(f.name); else missing.push({ why: why, names: [f.name] });
    });
    el.appendChild(dl);
    missing.forEach(function (m) { el.appendChild(h('p', { cls: 'note', text: m.names.join(', ') + ': ' + m.why })); });
  };

  // ---------------------------------------------------------------- tasks
  /** `record --async` / `run`: the asyncio task table (as text/tasks.rs
   * prints it): each task's time running and waiting, and where it waited. */
  views.tasks = function (el, cap, lib) {
    use(lib);
    var section = cap.tasks || {}, rate = (cap.meta || {}).requested_rate_hz || 0;
    var period = rate > 0 ? 1 / rate : 0;
    var rows = (section.tasks || []).slice().sort(function (a, b) {
      return (b.running - a.running) || (b.waiting - a.waiting);
    });
    if (!rows.length) { el.appendChild(h('p', { cls: 'note', text: 'no task seen' })); return; }
    var t = h('table', { cls: 'tasks' });
    t.appendChild(h('thead', null, [h('tr', null, ['task', 'coroutine', 'running', 'waiting', 'waits at', 'awaiting'].map(function (c) {
      return h('th', { text: c });
    }))]));
    var tb = h('tbody');
    rows.forEach(function (task) {
      var at = (task.awaits || [])[0], where = '', what = '';
      if (at) {
        var f = cap.frames[at.frames[at.frames.length - 1]] || {};
        where = (f.file || '').split('/').pop() + ':' + (f.line || 0);
        what = at.awaiting || '';
      }
      tb.appendChild(h('tr', null, [
        h('td', { cls: 'name', text: task.name }),
        h('td', { text: task.coroutine + '()' }),
        h('td', { cls: 'num', text: fmtTime(task.running * period), title: fmtNum(task.running) + ' samples' }),
        h('td', { cls: 'num', text: fmtTime(task.waiting * period), title: fmtNum(task.waiting) + ' instants' }),
        h('td', { cls: 'file', text: where }),
        h('td', { text: what })
      ]));
    });
    t.appendChild(tb);
    el.appendChild(t);
  };
})();
