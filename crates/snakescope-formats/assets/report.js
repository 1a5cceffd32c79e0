/* snakescope HTML report: builds every view from the capture embedded in the
 * page (crates/snakescope-formats/src/html.rs inlines this file). No network,
 * no dependencies. Shares are of thread-samples, as in every snakescope output.
 * The views are built once at load; the flame graph is drawn on a canvas and
 * skips frames narrower than a pixel, so its cost follows what is visible, not
 * the number of stacks. `window.snakescopeReport` exposes load time and a few
 * hooks the browser test uses. */
(function () {
  'use strict';
  var report = window.snakescopeReport = { ready: false, errors: [], timings: {} };
  var lap = performance.now();
  report.timings.before_script = Math.round(lap);
  function mark(what) { var now = performance.now(); report.timings[what] = Math.round(now - lap); lap = now; }

  // ---------------------------------------------------------------- helpers
  function h(tag, props, children) {
    var e = document.createElement(tag);
    if (props) {
      for (var k in props) {
        var v = props[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'cls') e.className = v;
        else if (k === 'style') e.style.cssText = v;
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : v);
      }
    }
    if (children) {
      for (var i = 0; i < children.length; i++) {
        var c = children[i];
        if (c === null || c === undefined || c === false) continue;
        e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
      }
    }
    return e;
  }
  function body(id) { return document.querySelector('#' + id + ' > .body') || document.getElementById(id); }
  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function pct(n, of) {
    if (!of || !n) return '0%';
    var p = 100 * n / of;
    return p < 0.05 ? '<0.1%' : p.toFixed(1) + '%';
  }
  function fmtNum(v) {
    if (typeof v !== 'number') return String(v);
    return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Math.round(v * 1000) / 1000);
  }
  function fmtBytes(b) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(b) >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : String(b)) + ' ' + u[i];
  }
  function basename(p) { var i = p.lastIndexOf('/'); return i < 0 ? p : p.slice(i + 1); }
  function quote(arg) {
    return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(arg) ? arg : "'" + arg.replace(/'/g, "'\\''") + "'";
  }
  function hash(s) {
    var x = 2166136261;
    for (var i = 0; i < s.length; i++) { x ^= s.charCodeAt(i); x = Math.imul(x, 16777619); }
    return (x >>> 0) / 4294967296;
  }
  /** The heat colour of a share `r` of the hottest (0..1): yellow to red. */
  function heat(r) {
    return 'hsla(' + Math.round(55 - 55 * r) + ',95%,52%,' + (0.14 + 0.7 * Math.sqrt(r)).toFixed(3) + ')';
  }
  function section(id, build) {
    if (!document.getElementById(id)) return; // not on this page (see html/mod.rs)
    try { build(body(id)); mark(id); } catch (err) {
      report.errors.push(id + ': ' + err);
      console.error('snakescope report: the ' + id + ' section failed:', err);
      body(id).appendChild(h('p', { cls: 'error', text: 'This section could not be drawn: ' + err }));
    }
  }

  // ---------------------------------------------------------------- data
  var cap = readJSON('snakescope-capture');
  var srcData = readJSON('snakescope-sources') || { files: [] };
  mark('parse');
  var meta = cap.meta || {};
  var frames = cap.frames || [], stacks = cap.stacks || [], threads = cap.threads || [];
  var total = 0, maxStackDepth = 0;
  for (var si = 0; si < stacks.length; si++) {
    total += stacks[si].count;
    if (stacks[si].frames.length > maxStackDepth) maxStackDepth = stacks[si].frames.length;
  }
  // No samples, but exact statistics or line timings (`run --exact`): the
  // header says what was measured instead of sampling figures of zero.
  var measuredOnly = !total && !!(cap.exact || cap.lines);

  function category(file) {
    if (/\/(site|dist)-packages\//.test(file)) return 'lib';
    if (/\/lib(64)?\/(python|pypy)[0-9.]*\//.test(file) || file.indexOf('<frozen') === 0) return 'std';
    if (file.charAt(0) === '<') return 'other';
    return 'user';
  }

  // Functions: grouped by (qualified name, file), as the text report does.
  var funcIndex = new Map(), funcs = [];
  var frameFunc = new Int32Array(frames.length);
  // Lines: grouped by (file, line).
  var lineIndex = new Map(), lines = [];
  var frameLine = new Int32Array(frames.length);
  frames.forEach(function (f, i) {
    var name = f.qualname || f.function;
    var key = name + '\u0000' + f.file;
    var id = funcIndex.get(key);
    if (id === undefined) {
      id = funcs.length; funcIndex.set(key, id);
      funcs.push({ id: id, name: name, file: f.file, line: f.line || 0, self: 0, total: 0, cat: category(f.file) });
    } else if (f.line && (!funcs[id].line || f.line < funcs[id].line)) {
      funcs[id].line = f.line;
    }
    frameFunc[i] = id;
    var lkey = f.file + '\u0000' + f.line;
    var lid = lineIndex.get(lkey);
    if (lid === undefined) {
      lid = lines.length; lineIndex.set(lkey, lid);
      lines.push({ file: f.file, line: f.line, self: 0, total: 0, func: name });
    }
    frameLine[i] = lid;
  });
  (function () {
    var fSeen = new Int32Array(funcs.length).fill(-1), lSeen = new Int32Array(lines.length).fill(-1);
    for (var i = 0; i < stacks.length; i++) {
      var s = stacks[i], fr = s.frames, c = s.count;
      if (!fr.length) continue;
      var leaf = fr[fr.length - 1];
      funcs[frameFunc[leaf]].self += c;
      lines[frameLine[leaf]].self += c;
      for (var j = 0; j < fr.length; j++) {
        var fn = frameFunc[fr[j]], ln = frameLine[fr[j]];
        if (fSeen[fn] !== i) { fSeen[fn] = i; funcs[fn].total += c; }
        if (lSeen[ln] !== i) { lSeen[ln] = i; lines[ln].total += c; }
      }
    }
  })();
  // Exact call counts, when a capture carries them (`functions: [{qualname|function, file, calls}]`).
  var haveCalls = false;
  if (Array.isArray(cap.functions)) {
    cap.functions.forEach(function (f) {
      var id = funcIndex.get((f.qualname || f.function || f.name) + '\u0000' + f.file);
      if (id !== undefined && typeof f.calls === 'number') { funcs[id].calls = f.calls; haveCalls = true; }
    });
  }
  // ... or an exact section beside the samples (its functions keyed as the table keys them).
  if (cap.exact && Array.isArray(cap.exact.functions) && total) {
    cap.exact.functions.forEach(function (f) {
      var fr = frames[f.frame];
      var id = fr ? funcIndex.get((fr.qualname || fr.function) + '\u0000' + fr.file) : undefined;
      if (id !== undefined && typeof f.calls === 'number') { funcs[id].calls = (funcs[id].calls || 0) + f.calls; haveCalls = true; }
    });
  }

  mark('model');

  // ---------------------------------------------------------------- nav and header
  function buildNav() {
    var nav = document.getElementById('nav');
    nav.appendChild(h('span', { cls: 'brand', text: 'snakescope' }));
    document.querySelectorAll('main > section').forEach(function (s) {
      if (s.hidden) return;
      nav.appendChild(h('a', { href: '#' + s.id, text: s.querySelector('h2').textContent }));
    });
  }

  function buildHeader() {
    var dl = document.getElementById('meta');
    var shown = { command: 1 };
    function item(label, value, title) {
      if (value === undefined || value === null || value === '') return;
      dl.appendChild(h('div', { title: title }, [h('dt', { text: label }), h('dd', { text: String(value) })]));
    }
    function take(key) { shown[key] = 1; return meta[key]; }
    if (meta.command && meta.command.length) {
      document.querySelector('#header .cmd').textContent = meta.command.map(quote).join(' ');
    }
    item('Python', take('python_version'));
    item('Mode', take('mode'));
    var dur = take('duration_s');
    item('Duration', typeof dur === 'number' ? dur.toFixed(2) + ' s' : dur, 'wall time of the recording');
    if (!measuredOnly) item('Samples', fmtNum(total), 'thread-samples: one thread seen at one sampling instant');
    var ticks = take('ticks'), lost = take('lost_ticks') || 0, torn = take('torn_stacks') || 0;
    if (measuredOnly) {
      take('requested_rate_hz');
      item('Measured', [cap.exact ? 'every call (exact)' : null, cap.lines ? 'line timings' : null].filter(Boolean).join(', ') +
        '; no stacks sampled');
    } else if (typeof ticks === 'number') item('Ticks', fmtNum(ticks) + ' (' + fmtNum(lost) + ' lost, ' + fmtNum(torn) + ' torn)',
      'sampling instants; lost: not sampled; torn: stacks dropped as inconsistent reads');
    var req = take('requested_rate_hz');
    if (measuredOnly) { /* no sampling rate */ } else if (typeof ticks === 'number' && dur > 0) {
      item('Effective rate', ((ticks - lost) / dur).toFixed(1) + ' Hz' + (req ? ' (requested ' + fmtNum(req) + ' Hz)' : ''));
    } else if (req) item('Requested rate', fmtNum(req) + ' Hz');
    var code = take('exit_code');
    if (typeof code === 'number') item('Exit code', code < 0 ? 'killed by signal ' + (-code) : code);
    item('PID', take('pid'));
    var started = take('started_unix_s');
    if (started > 0) item('Started', new Date(started * 1000).toLocaleString());
    var idle = take('include_idle'), gil = take('gil_only');
    if (!measuredOnly) item('Threads', threads.length + (idle ? ', idle included' : ', idle excluded') + (gil ? ', GIL holder only' : ''));
    // CPU-time profiles: thread-samples per tick sampled, the CPUs the
    // program kept busy (Capture::cpu_coverage). Below half, most of what the
    // program did (waiting) is not in the profile.
    if (!measuredOnly && !idle && !gil && typeof ticks === 'number' && ticks - lost > 0) {
      var cov = total / (ticks - lost);
      item('On a CPU', (100 * cov).toFixed(0) + '% of the time sampled' +
        (cov < 0.5 ? ': the rest (waiting for a CPU, sleep, I/O, locks, child processes) is not in this profile; --idle samples wall time' : ''),
        'thread-samples per sampling instant: the CPUs the program kept busy');
    }
    item('snakescope', take('tool_version'));
    // Fields added by later versions (wall/user/sys times, peak RSS, ...) as they come.
    Object.keys(meta).forEach(function (k) {
      if (shown[k]) return;
      var v = meta[k];
      if (v === null || v === undefined) return;
      var label = k.replace(/_/g, ' ');
      if (typeof v === 'number' && /_bytes$/.test(k)) v = fmtBytes(v);
      else if (typeof v === 'number' && /_kb$/.test(k)) v = fmtBytes(v * 1024);
      else if (typeof v === 'number' && /_s$/.test(k)) v = v.toFixed(3) + ' s';
      else if (typeof v === 'object') v = JSON.stringify(v);
      else v = fmtNum(v);
      item(label, v);
    });
  }

  // ---------------------------------------------------------------- findings
  // The capture's `findings` section (`snakescope advise`): ranked, each with
  // where, its evidence, the remedy with before/after, the gain and chapter.
  function buildFindings(el) {
    var sec = cap.findings;
    if (!sec || !Array.isArray(sec.items)) {
      el.appendChild(h('p', { cls: 'note', text: 'No findings: the advisor has not examined this capture (snakescope advise).' }));
      return;
    }
    if (!sec.items.length) {
      el.appendChild(h('p', { cls: 'note', text: 'No finding above ' + Math.round(sec.threshold * 100) + ' % (' + sec.rules.length + ' rules checked).' }));
    }
    var pre = function (label, code) {
      return h('div', null, [h('strong', { text: label + ' ' }),
        h('pre', { style: 'font-family:var(--mono);font-size:12px;margin:2px 0 6px', text: code })]);
    };
    var ol = h('ol');
    sec.items.forEach(function (f) {
      var of = f.resource === 'memory' ? ' of the peak heap' : ' of the samples';
      var ev = h('ul', null, f.evidence.map(function (e) { return h('li', { text: e }); }));
      var v = f.verified ? h('div', null, [h('strong', { text: 'verified: ' + f.verified.status + ': ' }), f.verified.detail]) : null;
      ol.appendChild(h('li', null, [
        h('strong', { text: f.title }), ' [' + f.rule + ']',
        h('div', { text: f.file + ':' + f.line + ' in ' + f.function + ': ' + (100 * f.share).toFixed(1) + ' %' + of }),
        h('div', { text: 'evidence:' }), ev,
        h('div', { text: 'remedy: ' + f.remedy }),
        pre('before', f.before), pre('after', f.after),
        h('div', { text: 'gain: ' + f.gain_text }),
        h('div', { cls: 'note', text: 'High Performance Python, ' + f.chapter }), v]));
    });
    el.appendChild(ol);
    (sec.notes || []).forEach(function (n) { el.appendChild(h('p', { cls: 'note', text: 'note: ' + n })); });
  }

  // ---------------------------------------------------------------- the call tree (shared by the flame graph and the tree view)
  // Built lazily: a node owns a contiguous range of `perm` (the stacks that
  // pass through it) and is expanded, its stacks grouped by the key at the
  // next position, only when it is drawn or opened. So the cost follows what
  // is on screen (frames at least a pixel wide), not the number of distinct
  // stacks. A key below nkeys is a function (or a frame, when split by line);
  // nkeys + t is thread t (the first level, when grouped by thread).
  function buildTree(byLine, byThread) {
    var nkeys = byLine ? frames.length : funcs.length;
    var perm = new Int32Array(stacks.length), tmp = new Int32Array(stacks.length), grp = new Int32Array(stacks.length);
    for (var i = 0; i < perm.length; i++) perm[i] = i;
    var T = {
      nkeys: nkeys, byLine: byLine, byThread: byThread, n: 1,
      parent: [-1], key: [-1], depth: [0], tot: [total], slf: [0], lo: [0], hi: [stacks.length],
      lvl: [byThread ? -1 : 0], kids: [null],
    };
    function expand(n) {
      var lo = T.lo[n], hi = T.hi[n], d = T.lvl[n], self = 0;
      var groups = new Map(), gKey = [], gTot = [], gLen = [];
      for (var i = lo; i < hi; i++) {
        var s = stacks[perm[i]], k;
        if (d < 0) k = nkeys + s.thread;
        else if (d < s.frames.length) k = byLine ? s.frames[d] : frameFunc[s.frames[d]];
        else { grp[i] = -1; self += s.count; continue; }
        var g = groups.get(k);
        if (g === undefined) { g = gKey.length; groups.set(k, g); gKey.push(k); gTot.push(0); gLen.push(0); }
        grp[i] = g; gTot[g] += s.count; gLen[g]++;
      }
      // Counting sort of the range by group (stacks ending here last).
      var at = new Array(gKey.length), pos = lo;
      for (var g2 = 0; g2 < gKey.length; g2++) { at[g2] = pos; pos += gLen[g2]; }
      var end = pos;
      for (var j = lo; j < hi; j++) {
        var gj = grp[j];
        if (gj < 0) tmp[end++] = perm[j]; else tmp[at[gj]++] = perm[j];
      }
      perm.set(tmp.subarray(lo, hi), lo);
      var kids = [];
      pos = lo;
      for (var g3 = 0; g3 < gKey.length; g3++) {
        var c = T.n++;
        T.parent.push(n); T.key.push(gKey[g3]); T.depth.push(T.depth[n] + 1); T.tot.push(gTot[g3]);
        T.slf.push(-1); T.lo.push(pos); T.hi.push(pos + gLen[g3]); T.lvl.push(d + 1); T.kids.push(null);
        pos += gLen[g3];
        kids.push(c);
      }
      kids.sort(function (x, y) { return T.tot[y] - T.tot[x] || T.key[x] - T.key[y]; });
      T.slf[n] = self;
      T.kids[n] = kids;
    }
    /** The node's children, widest first. */
    T.children = function (n) { if (T.kids[n] === null) expand(n); return T.kids[n]; };
    /** Samples whose stack ends at the node. */
    T.self = function (n) { if (T.kids[n] === null) expand(n); return T.slf[n]; };
    return T;
  }

  // A capture that followed child processes (record --subprocesses): each
  // thread is shown under its process, `process 1234 (pool worker)`.
  var processes = Array.isArray(cap.processes) ? cap.processes : [];
  function processLabel(t) {
    if (processes.length < 2 || t.pid == null) return '';
    var p = processes.filter(function (q) { return q.pid === t.pid; })[0];
    return 'process ' + t.pid + ' (' + (p ? p.role : 'child') + ') \u203a ';
  }
  function threadLabel(t) {
    return processLabel(t) + (t.name ? t.name : 'thread') + ' (tid ' + t.tid + ')';
  }
  function nodeLabel(T, n) {
    var k = T.key[n];
    if (k < 0) return 'all';
    if (k >= T.nkeys) return threadLabel(threads[k - T.nkeys]);
    if (T.byLine) { var f = frames[k]; return (f.qualname || f.function) + (f.line ? ':' + f.line : ''); }
    return funcs[k].name;
  }
  function nodeFile(T, n) {
    var k = T.key[n];
    if (k < 0 || k >= T.nkeys) return '';
    if (T.byLine) { var f = frames[k]; return f.file + (f.line ? ':' + f.line : ''); }
    return funcs[k].file;
  }
  function nodeCat(T, n) {
    var k = T.key[n];
    if (k < 0 || k >= T.nkeys) return 'thread';
    return funcs[T.byLine ? frameFunc[k] : k].cat;
  }

  var tree = null;          // the current tree (rebuilt when the grouping changes)
  var treeListeners = [];   // views to redraw when it changes

  // ---------------------------------------------------------------- flame graph
  var flame = (function () {
    var ROW = 17, MINW = 1;
    var box, canvas, ctx, tip, crumbs, matchInfo, searchBox;
    var icicle = false, zoom = 0, query = '', matchKey = null;
    var rx = [], ry = [], rw = [], rn = [], nRects = 0, cssW = 0, charW = 7;
    var colorCache = new Map();

    function color(T, n) {
      var k = T.key[n], cat = nodeCat(T, n);
      if (cat === 'thread') return '#c5ccd4';
      var fk = T.byLine ? frameFunc[k] : k;
      var c = colorCache.get(fk);
      if (c) return c;
      var v = hash(funcs[fk].name), v2 = hash(funcs[fk].file + funcs[fk].name);
      if (cat === 'user') c = 'hsl(' + Math.round(5 + 30 * v) + ',78%,' + Math.round(58 + 10 * v2) + '%)';
      else if (cat === 'std') c = 'hsl(' + Math.round(42 + 16 * v) + ',72%,' + Math.round(55 + 10 * v2) + '%)';
      else if (cat === 'lib') c = 'hsl(' + Math.round(168 + 22 * v) + ',48%,' + Math.round(55 + 10 * v2) + '%)';
      else c = 'hsl(' + Math.round(260 + 30 * v) + ',35%,' + Math.round(68 + 8 * v2) + '%)';
      colorCache.set(fk, c);
      return c;
    }

    function computeMatches() {
      matchKey = null;
      var q = query.trim();
      if (!q || !tree) { matchInfo.textContent = ''; return; }
      var re;
      if (q.length > 2 && q.charAt(0) === '/' && q.charAt(q.length - 1) === '/') {
        try { re = new RegExp(q.slice(1, -1), 'i'); } catch (e) { matchInfo.textContent = 'invalid pattern'; return; }
      } else {
        var lq = q.toLowerCase();
        re = { test: function (s) { return s.toLowerCase().indexOf(lq) >= 0; } };
      }
      var T = tree, fm = new Uint8Array(funcs.length);
      for (var f = 0; f < funcs.length; f++) fm[f] = re.test(funcs[f].name) || re.test(funcs[f].file) ? 1 : 0;
      matchKey = new Uint8Array(T.nkeys + threads.length);
      for (var k = 0; k < T.nkeys; k++) matchKey[k] = fm[T.byLine ? frameFunc[k] : k];
      var hit = 0;
      for (var i = 0; i < stacks.length; i++) {
        var fr = stacks[i].frames;
        for (var j = 0; j < fr.length; j++) if (fm[frameFunc[fr[j]]]) { hit += stacks[i].count; break; }
      }
      matchInfo.textContent = 'matched ' + pct(hit, total) + ' of samples (' + fmtNum(hit) + ')';
    }

    // Lays out what is visible at the current zoom: the zoomed node spans the
    // width, its ancestors are drawn full width below (above, as an icicle).
    function layout() {
      var T = tree;
      nRects = 0;
      var scale = cssW / T.tot[zoom];
      var maxD = 0;
      for (var a = zoom; a >= 0; a = T.parent[a]) { push(a, 0, cssW); }
      var stackN = [zoom], stackX = [0];
      var maxRows = Math.floor(30000 / ROW / (window.devicePixelRatio || 1));
      while (stackN.length) {
        var n = stackN.pop(), x = stackX.pop();
        if (n !== zoom) push(n, x, T.tot[n] * scale);
        if (T.depth[n] >= maxRows) continue;
        var cx = x;
        var kids = T.children(n);
        for (var i = 0; i < kids.length; i++) {
          var c = kids[i], w = T.tot[c] * scale;
          if (w < MINW) break; // sorted by total: the rest are narrower still
          stackN.push(c); stackX.push(cx);
          cx += w;
        }
      }
      function push(n, x, w) {
        rn[nRects] = n; rx[nRects] = x; rw[nRects] = w; nRects++;
        if (T.depth[n] > maxD) maxD = T.depth[n];
      }
      return maxD;
    }

    function draw() {
      if (!tree || !total) return;
      var T = tree;
      cssW = box.clientWidth || 800;
      var maxD = layout();
      var rows = maxD + 1, cssH = rows * ROW + 2;
      var dpr = window.devicePixelRatio || 1;
      canvas.style.width = cssW + 'px'; canvas.style.height = cssH + 'px';
      canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssH * dpr);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, cssW, cssH);
      ctx.font = '11.5px ' + getComputedStyle(document.body).getPropertyValue('--mono');
      ctx.textBaseline = 'middle';
      charW = ctx.measureText('MMMMMMMMMM').width / 10 || 7;
      var anc = {};
      for (var a = T.parent[zoom]; a >= 0; a = T.parent[a]) anc[a] = 1;
      for (var i = 0; i < nRects; i++) {
        var n = rn[i], x = rx[i], w = rw[i], d = T.depth[n];
        var y = icicle ? d * ROW : (maxD - d) * ROW;
        ry[i] = y;
        var fill = color(T, n);
        if (matchKey) fill = matchKey[T.key[n]] ? '#d43fd4' : (T.key[n] < 0 || T.key[n] >= T.nkeys ? fill : '#e3e6ea');
        ctx.globalAlpha = anc[n] ? 0.55 : 1;
        ctx.fillStyle = fill;
        ctx.fillRect(x, y, w > 2 ? w - 1 : w, ROW - 1);
        if (w > charW * 3 + 6) {
          var label = nodeLabel(T, n), max = Math.floor((w - 6) / charW);
          if (label.length > max) label = label.slice(0, Math.max(max - 1, 1)) + '\u2026';
          ctx.fillStyle = matchKey && matchKey[T.key[n]] ? '#fff' : '#111';
          ctx.fillText(label, x + 3, y + ROW / 2);
        }
      }
      ctx.globalAlpha = 1;
      // The root stays in view: at the bottom of the box for a flame graph, at the top for an icicle.
      box.scrollTop = icicle ? 0 : box.scrollHeight;
      drawCrumbs();
    }

    function drawCrumbs() {
      crumbs.textContent = '';
      var path = [];
      for (var a = zoom; a >= 0; a = tree.parent[a]) path.unshift(a);
      path.forEach(function (n, i) {
        if (i) crumbs.appendChild(document.createTextNode(' \u203a '));
        crumbs.appendChild(h('a', { href: '#flame', text: nodeLabel(tree, n), onclick: function (ev) { ev.preventDefault(); setZoom(n); } }));
      });
      crumbs.appendChild(document.createTextNode('  \u2014 ' + pct(tree.tot[zoom], total) + ' of samples'));
    }

    function hit(ev) {
      var r = canvas.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      for (var i = 0; i < nRects; i++) {
        if (my >= ry[i] && my < ry[i] + ROW && mx >= rx[i] && mx < rx[i] + rw[i]) return rn[i];
      }
      return -1;
    }

    function showTip(ev, n) {
      if (n < 0) { tip.hidden = true; return; }
      var T = tree, file = nodeFile(T, n);
      tip.textContent = '';
      tip.appendChild(h('div', null, [h('strong', { text: nodeLabel(T, n) })]));
      if (file) tip.appendChild(h('div', { cls: 'file', text: file }));
      tip.appendChild(h('div', { text: 'total ' + pct(T.tot[n], total) + ' (' + fmtNum(T.tot[n]) + ' samples)' +
        (zoom ? ', ' + pct(T.tot[n], T.tot[zoom]) + ' of the zoomed frame' : '') }));
      tip.appendChild(h('div', { text: 'self ' + pct(T.self(n), total) + ' (' + fmtNum(T.self(n)) + ' samples)' }));
      tip.hidden = false;
      var x = ev.clientX + 14, y = ev.clientY + 14;
      if (x + tip.offsetWidth > window.innerWidth - 8) x = Math.max(8, ev.clientX - tip.offsetWidth - 14);
      if (y + tip.offsetHeight > window.innerHeight - 8) y = Math.max(8, ev.clientY - tip.offsetHeight - 14);
      tip.style.left = x + 'px'; tip.style.top = y + 'px';
    }

    function setZoom(n) { zoom = n; draw(); }

    function build(el) {
      if (measuredOnly) {
        el.appendChild(h('p', { cls: 'note', id: 'flame-none', text: 'No sampled stacks: this capture counted and timed ' +
          'every call instead of sampling (see the sections above), so there is no flame graph.' }));
        return;
      }
      searchBox = h('input', { type: 'search', placeholder: 'Search functions or files (/regex/)', 'aria-label': 'search' });
      matchInfo = h('span', { cls: 'note' });
      var orient = h('button', { type: 'button', id: 'flame-orient', text: 'Icicle' });
      var byLine = h('input', { type: 'checkbox', id: 'flame-bylines' });
      var byThread = h('input', { type: 'checkbox', id: 'flame-bythread', checked: threads.length > 1 });
      el.appendChild(h('div', { cls: 'toolbar' }, [
        searchBox,
        h('button', { type: 'button', id: 'flame-reset', text: 'Reset zoom', onclick: function () { setZoom(0); } }),
        orient,
        h('label', null, [byThread, ' per thread']),
        h('label', null, [byLine, ' split by line']),
        matchInfo,
      ]));
      el.appendChild(h('p', { cls: 'note', text: 'Each box is a function on the stack, its width its share of the samples ' +
        '(callers below callees, widest first). Click a box to zoom into it, click below it to zoom out; ' +
        'your code is red, the standard library yellow, installed packages aqua.' }));
      crumbs = h('div', { id: 'flame-crumbs' });
      el.appendChild(crumbs);
      canvas = h('canvas', { id: 'flame-canvas' });
      box = h('div', { id: 'flame-box' }, [canvas]);
      el.appendChild(box);
      tip = h('div', { id: 'tooltip', hidden: true });
      document.body.appendChild(tip);
      if (!total) { box.replaceChildren(h('p', { cls: 'note', text: 'No samples were recorded.' })); return; }
      ctx = canvas.getContext('2d');
      canvas.addEventListener('mousemove', function (ev) { showTip(ev, hit(ev)); });
      canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
      canvas.addEventListener('click', function (ev) { var n = hit(ev); if (n >= 0) setZoom(n); });
      var timer = 0;
      searchBox.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(function () { query = searchBox.value; computeMatches(); draw(); }, 120);
      });
      orient.addEventListener('click', function () {
        icicle = !icicle; orient.textContent = icicle ? 'Flame' : 'Icicle'; draw();
      });
      function regroup() { setTree(buildTree(byLine.checked, byThread.checked)); }
      byLine.addEventListener('change', regroup);
      byThread.addEventListener('change', regroup);
      var rt = 0;
      window.addEventListener('resize', function () {
        clearTimeout(rt);
        rt = setTimeout(function () { if (box.clientWidth !== cssW) draw(); }, 100);
      });
      document.addEventListener('keydown', function (ev) {
        if (ev.key === 'Escape' && document.activeElement !== searchBox) setZoom(0);
      });
      treeListeners.push(function () { zoom = 0; computeMatches(); draw(); });
      var T = buildTree(false, threads.length > 1);
      mark('build_tree');
      setTree(T);
    }

    return {
      build: build,
      setZoom: setZoom,
      search: function (q) { searchBox.value = q; query = q; computeMatches(); draw(); },
      // For tests and scripting.
      zoomLabel: function () { return tree ? nodeLabel(tree, zoom) : null; },
      frameCenter: function (label) {
        var best = -1;
        for (var i = 0; i < nRects; i++) {
          if (nodeLabel(tree, rn[i]) === label && (best < 0 || rw[i] > rw[best])) best = i;
        }
        if (best < 0) return null;
        if (ry[best] < box.scrollTop || ry[best] + ROW > box.scrollTop + box.clientHeight) {
          box.scrollTop = ry[best] - box.clientHeight / 2;
        }
        var r = canvas.getBoundingClientRect();
        return { x: r.left + rx[best] + Math.min(rw[best] / 2, 40), y: r.top + ry[best] + ROW / 2, width: rw[best] };
      },
      visibleFrames: function () { return nRects; },
    };
  })();
  report.flame = flame;

  function setTree(T) {
    tree = T;
    treeListeners.forEach(function (f) { f(); });
  }

  // ---------------------------------------------------------------- call tree view
  function buildTreeView(el) {
    if (!total) { el.appendChild(h('p', { cls: 'note', text: 'No samples were recorded.' })); return; }
    el.appendChild(h('p', { cls: 'note', text: 'The flame graph as an expandable tree: total is the share of samples ' +
      'with the frame on the stack at that position, self the share where it was the innermost frame. ' +
      'Click a name to show it in the flame graph.' }));
    var view = h('div', { cls: 'tree', id: 'tree-view' });
    el.appendChild(view);
    var MAX_CHILDREN = 200;

    function indent(level) {
      return h('span', { cls: 'ind', style: 'width:' + (Math.min(level, 80) * 0.9) + 'em' });
    }
    function row(n, level) {
      var T = tree, has = T.children(n).length > 0;
      var tog = h('span', { cls: 'tog', text: has ? '\u25b8' : '' });
      var file = nodeFile(T, n);
      var r = h('div', { cls: 'trow', 'data-level': level }, [
        h('span', { cls: 'n', text: pct(T.tot[n], total) }),
        h('span', { cls: 's', text: pct(T.self(n), total) }),
        indent(level),
        tog,
        h('span', { cls: 'lbl', text: nodeLabel(T, n), title: 'show in the flame graph' }),
        file ? h('span', { cls: 'loc', text: basename(file), title: file }) : null,
      ]);
      r._node = n; r._open = false;
      if (has) tog.addEventListener('click', function () { toggle(r); });
      r.querySelector('.lbl').addEventListener('click', function () {
        flame.setZoom(n);
        document.getElementById('flame').scrollIntoView();
      });
      return r;
    }
    function open(r) {
      if (r._open) return;
      r._open = true;
      r.querySelector('.tog').textContent = '\u25be';
      var T = tree, n = r._node, level = +r.getAttribute('data-level') + 1;
      var frag = document.createDocumentFragment(), shown = 0, rest = 0, restN = 0;
      var kids = T.children(n);
      for (var i = 0; i < kids.length; i++) {
        if (shown < MAX_CHILDREN) { frag.appendChild(row(kids[i], level)); shown++; } else { rest += T.tot[kids[i]]; restN++; }
      }
      if (restN) frag.appendChild(h('div', { cls: 'trow more', 'data-level': level }, [h('span', { cls: 'n' }), h('span', { cls: 's' }),
        indent(level), '\u2026 ' + restN + ' more callees, ' + pct(rest, total) + ' in all']));
      r.parentNode.insertBefore(frag, r.nextSibling);
    }
    function close(r) {
      r._open = false;
      r.querySelector('.tog').textContent = '\u25b8';
      var level = +r.getAttribute('data-level');
      while (r.nextSibling && +r.nextSibling.getAttribute('data-level') > level) r.parentNode.removeChild(r.nextSibling);
    }
    function toggle(r) { if (r._open) close(r); else open(r); }

    function render() {
      view.textContent = '';
      view.appendChild(h('div', { cls: 'trow head', 'data-level': -1 }, [
        h('span', { cls: 'n', text: 'total' }), h('span', { cls: 's', text: 'self' }), h('span', { cls: 'tog' }), h('span', { text: 'frame' })]));
      var root = row(0, 0);
      view.appendChild(root);
      // Open the hot path: every frame holding at least half of its parent and 5 % of all.
      var r = root, guard = 0;
      while (r && guard++ < 64) {
        open(r);
        var T = tree, n = r._node, next = null;
        if (T.children(n).length) {
          var c = T.children(n)[0];
          if (T.tot[c] * 2 >= T.tot[n] && T.tot[c] * 20 >= total) next = r.nextSibling;
        }
        r = next;
      }
    }
    treeListeners.push(render);
    if (tree) render();
  }

  // ---------------------------------------------------------------- function table
  function buildFunctions(el) {
    if (!total) { el.appendChild(h('p', { cls: 'note', text: 'No samples were recorded.' })); return; }
    var cols = [
      { key: 'name', label: 'Function', cls: 'name' },
      { key: 'file', label: 'File', cls: 'file' },
      { key: 'self', label: 'Self', cls: 'num', num: true, title: 'samples where the function was running (innermost frame)' },
      { key: 'total', label: 'Total', cls: 'num', num: true, title: 'samples where the function was anywhere on the stack' },
    ];
    if (haveCalls) cols.push({ key: 'calls', label: 'Calls', cls: 'num', num: true, title: 'exact call count' });
    var sortKey = 'self', desc = true, limit = 50, filter = '';
    var filterBox = h('input', { type: 'search', placeholder: 'Filter functions or files', 'aria-label': 'filter functions' });
    var count = h('span', { cls: 'note' });
    el.appendChild(h('div', { cls: 'toolbar' }, [filterBox, count]));
    var table = h('table', { cls: 'data', id: 'functions-table' });
    var thead = h('thead'), tbody = h('tbody');
    table.appendChild(thead); table.appendChild(tbody);
    el.appendChild(table);
    var more = h('button', { type: 'button', hidden: true, onclick: function () { limit = Infinity; render(); } });
    el.appendChild(more);
    var tr = h('tr');
    cols.forEach(function (c) {
      var th = h('th', { cls: 'sortable ' + (c.num ? 'num' : ''), text: c.label, title: c.title, 'data-key': c.key });
      th.addEventListener('click', function () {
        if (sortKey === c.key) desc = !desc; else { sortKey = c.key; desc = !!c.num; }
        render();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    var ft = 0;
    filterBox.addEventListener('input', function () {
      clearTimeout(ft);
      ft = setTimeout(function () { filter = filterBox.value.toLowerCase(); render(); }, 120);
    });

    function cell(f, c) {
      if (c.key === 'name') {
        return h('td', { cls: 'name' }, [h('a', { text: f.name, title: 'highlight in the flame graph', onclick: function () {
          flame.search(f.name); document.getElementById('flame').scrollIntoView();
        } })]);
      }
      if (c.key === 'file') return h('td', { cls: 'file', text: f.file });
      if (c.key === 'calls') return h('td', { cls: 'num', text: f.calls === undefined ? '' : fmtNum(f.calls) });
      var v = f[c.key], w = Math.max(1, Math.round(60 * v / total));
      return h('td', { cls: 'num', title: fmtNum(v) + ' samples' }, [
        v ? h('span', { cls: 'bar' + (c.key === 'total' ? ' total' : ''), style: 'width:' + w + 'px' }) : null, pct(v, total)]);
    }
    function render() {
      var rows = funcs.filter(function (f) {
        return !filter || f.name.toLowerCase().indexOf(filter) >= 0 || f.file.toLowerCase().indexOf(filter) >= 0;
      });
      var k = sortKey, sign = desc ? -1 : 1;
      rows.sort(function (a, b) {
        var x = a[k], y = b[k];
        if (x === undefined) x = -1;
        if (y === undefined) y = -1;
        var c = x < y ? -1 : x > y ? 1 : 0;
        return sign * c || b.self - a.self || b.total - a.total || (a.name < b.name ? -1 : 1);
      });
      thead.querySelectorAll('th').forEach(function (th) {
        th.classList.toggle('sorted', th.getAttribute('data-key') === sortKey);
        th.classList.toggle('asc', !desc);
      });
      var frag = document.createDocumentFragment();
      rows.slice(0, limit).forEach(function (f) {
        var r = h('tr');
        cols.forEach(function (c) { r.appendChild(cell(f, c)); });
        frag.appendChild(r);
      });
      tbody.replaceChildren(frag);
      count.textContent = rows.length + ' function' + (rows.length === 1 ? '' : 's') + (rows.length > limit ? ', showing ' + limit : '');
      more.hidden = rows.length <= limit;
      more.textContent = 'Show all ' + rows.length;
    }
    render();
  }

  // ---------------------------------------------------------------- annotated source
  function buildSource(el) {
    var files = srcData.files || [];
    if (!files.length) {
      el.appendChild(h('p', { cls: 'note', text: total ? 'No source file was hot enough to annotate.' : 'No samples were recorded.' }));
      return;
    }
    var byFile = new Map(), maxSelf = 0, maxTotal = 0, maxAlloc = 0;
    memLines.forEach(function (m) { if (m.alloc > maxAlloc) maxAlloc = m.alloc; });
    lines.forEach(function (l) {
      if (!byFile.has(l.file)) byFile.set(l.file, []);
      byFile.get(l.file).push(l);
      if (l.self > maxSelf) maxSelf = l.self;
      if (l.total > maxTotal) maxTotal = l.total;
    });
    el.appendChild(h('p', { cls: 'note' }, [
      'The hottest files, every line with its share of the samples: ',
      h('strong', { text: 'self' }), ' (the line was running) as the heat colour, ',
      h('strong', { text: 'total' }), ' (the line was on the stack, callees included) beside it. ',
      mem ? 'Allocated and net (allocated minus freed) bytes are of the allocations whose innermost frame was the line. ' : '',
      'Cold code is folded; click a fold to open it. ',
      h('span', { cls: 'legend' }, [h('i', { style: 'background:linear-gradient(90deg,' + heat(0.02) + ',' + heat(0.3) + ',' + heat(1) + ')' }), 'cool \u2192 hot']),
    ]));
    var opened = 0;
    files.forEach(function (sf, idx) {
      var fl = (byFile.get(sf.path) || []).slice();
      // The first file, and the next two hottest whose source could be read, start open.
      var open = idx === 0 || (opened < 3 && typeof sf.text === 'string');
      if (open) opened++;
      var details = h('details', { cls: 'srcfile', open: open });
      details.appendChild(h('summary', null, [sf.path, h('span', { cls: 'shares',
        text: 'self ' + pct(sf.self_samples, total) + ' \u00b7 total ' + pct(sf.total_samples, total) })]));
      el.appendChild(details);
      var built = false;
      function fill() {
        if (built) return;
        built = true;
        fillFile(details, sf, fl);
      }
      if (details.open) fill();
      else details.addEventListener('toggle', fill);
    });

    function fillFile(details, sf, fl) {
      var text = typeof sf.text === 'string' ? sf.text.replace(/\r\n?/g, '\n').split('\n') : null;
      if (text && text.length && text[text.length - 1] === '') text.pop();
      if (!text) details.appendChild(h('p', { cls: 'note', style: 'padding:0 .6rem', text: 'Source not available: ' + (sf.unavailable || 'unreadable') + '.' }));
      if (sf.modified_after_recording) {
        details.appendChild(h('p', { style: 'padding:0 .6rem' }, [h('span', { cls: 'warn', text: 'This file was modified after the recording: its lines may not match the samples.' })]));
      }
      var info = new Map();
      fl.forEach(function (l) {
        info.set(l.line, { line: l.line, self: l.self, total: l.total, func: l.func, alloc: 0, net: 0 });
      });
      if (memLines.size) {
        memLines.forEach(function (m, k) {
          var cut = k.lastIndexOf('\u0000');
          if (k.slice(0, cut) !== sf.path) return;
          var line = +k.slice(cut + 1), e = info.get(line);
          if (!e) info.set(line, e = { line: line, self: 0, total: 0, func: '', alloc: 0, net: 0 });
          e.alloc += m.alloc; e.net += m.alloc - m.freed;
        });
      }
      function isHot(l) { return l.self || l.total || l.alloc; }
      var instrs = sf.instructions || {};
      // Hot lines first.
      var hot = Array.from(info.values()).filter(isHot);
      hot.sort(function (a, b) { return b.self - a.self || b.total - a.total || b.alloc - a.alloc || a.line - b.line; });
      var listing = null;
      var hotBox = h('div', { cls: 'hot' });
      var ht = h('table', { cls: 'hotlines' });
      ht.appendChild(h('tr', null, [h('td', { cls: 'note', text: 'line' }), h('td', { cls: 'note', text: 'self' }),
        h('td', { cls: 'note', text: 'total' }), mem ? h('td', { cls: 'note', text: 'allocated' }) : null,
        h('td', { cls: 'note', text: 'function' }), h('td', { cls: 'note', text: 'code' })]));
      hot.slice(0, 10).forEach(function (l) {
        var code = text && l.line >= 1 && l.line <= text.length ? text[l.line - 1].trim() : '';
        ht.appendChild(h('tr', null, [
          h('td', null, [l.line && text && l.line <= text.length ? h('a', { text: String(l.line), onclick: function () { jump(l.line); } }) : String(l.line || '?')]),
          h('td', { cls: 'num', text: pct(l.self, total) }),
          h('td', { cls: 'num', text: pct(l.total, total) }),
          mem ? h('td', { cls: 'num', text: l.alloc ? fmtBytes(l.alloc) : '' }) : null,
          h('td', { style: 'font-family:var(--mono);font-size:12px', text: l.func }),
          h('td', { style: 'font-family:var(--mono);font-size:12px;white-space:pre', text: code.length > 90 ? code.slice(0, 89) + '\u2026' : code },
            instrs[l.line] ? [' ', h('a', { cls: 'instr-toggle', text: '\u25b8 instructions', onclick: function () { toggleInstr(l.line, this); } })] : null),
        ]));
        if (instrs[l.line]) ht.appendChild(instrRow(l.line));
      });
      // With --opcodes: a line's sampled instructions (offset, name, argument,
      // self and total share of all samples), shown under it when opened.
      function instrRow(line) {
        var t = h('table', { cls: 'instrs' });
        instrs[line].forEach(function (i) {
          t.appendChild(h('tr', null, [h('td', { cls: 'num', text: String(i.offset) }),
            h('td', { style: 'font-family:var(--mono)', text: i.name + (i.arg === null ? '' : ' ' + i.arg) }),
            h('td', { cls: 'num', text: i.self ? pct(i.self, total) : '' }),
            h('td', { cls: 'num', text: i.total ? pct(i.total, total) : '' })]));
        });
        var r = h('tr', { cls: 'instr-row', hidden: true, 'data-instr-line': line }, [h('td'), h('td', { colspan: mem ? 5 : 4 }, [t])]);
        return r;
      }
      function toggleInstr(line, link) {
        var r = ht.querySelector('tr[data-instr-line="' + line + '"]');
        r.hidden = !r.hidden;
        link.textContent = (r.hidden ? '\u25b8' : '\u25be') + ' instructions';
      }
      hotBox.appendChild(h('h3', { text: 'Hottest lines' }));
      hotBox.appendChild(ht);
      details.appendChild(hotBox);
      if (!text) return;
      var beyond = hot.filter(function (l) { return l.line > text.length; });
      if (beyond.length) details.appendChild(h('p', { style: 'padding:0 .6rem' }, [h('span', { cls: 'warn',
        text: beyond.length + ' sampled line(s) lie beyond the end of this file (' + text.length + ' lines): it has changed since the recording.' })]));

      var CONTEXT = 2, MIN_FOLD = 4;
      var keep = new Uint8Array(text.length + 2);
      info.forEach(function (l) {
        if (!isHot(l) || l.line < 1) return;
        for (var d = -CONTEXT; d <= CONTEXT; d++) { var x = l.line + d; if (x >= 1 && x <= text.length) keep[x] = 1; }
      });
      listing = h('table', { cls: 'src' });
      listing.appendChild(h('thead', null, [h('tr', null, [h('td', { cls: 'ln', text: 'line' }), h('td', { cls: 'pc', text: 'self' }),
        h('td', { cls: 'pc', text: 'total' }), mem ? h('td', { cls: 'pc mem', text: 'allocated' }) : null,
        mem ? h('td', { cls: 'pc mem', text: 'net' }) : null, h('td', { text: '' })])]));
      var tb = h('tbody');
      listing.appendChild(tb);
      details.appendChild(listing);
      var rowsByLine = {};

      function lineRow(i) {
        var l = info.get(i), s = l ? l.self : 0, t = l ? l.total : 0;
        var r = h('tr', { id: null, 'data-line': i }, [
          h('td', { cls: 'ln', text: String(i) }),
          h('td', { cls: 'pc' + (s ? '' : ' zero'), text: s ? pct(s, total) : '\u00b7' }),
          h('td', { cls: 'pc' + (t ? '' : ' zero'), text: t ? pct(t, total) : '\u00b7',
            style: t && maxTotal ? 'box-shadow: inset ' + Math.max(2, Math.round(4 * t / maxTotal)) + 'px 0 0 #7fa6d1' : null }),
          mem ? h('td', { cls: 'pc mem' + (l && l.alloc ? '' : ' zero'), text: l && l.alloc ? fmtBytes(l.alloc) : '\u00b7',
            style: l && l.alloc && maxAlloc ? 'background:rgba(47,111,176,' + (0.12 + 0.6 * Math.sqrt(l.alloc / maxAlloc)).toFixed(3) + ')' : null }) : null,
          mem ? h('td', { cls: 'pc mem' + (l && l.net ? '' : ' zero'), text: l && l.net ? fmtBytes(l.net) : '\u00b7' }) : null,
          h('td', { cls: 'code', text: text[i - 1] || ' ' }),
        ]);
        if (s && maxSelf) r.style.background = heat(s / maxSelf);
        rowsByLine[i] = r;
        return r;
      }
      function foldRow(a, b) {
        var r = h('tr', { cls: 'fold', title: 'show these lines' }, [h('td', { cls: 'ln', text: '\u22ef' }),
          h('td', { colspan: mem ? 5 : 3, text: (b - a + 1) + ' cold lines (' + a + '\u2013' + b + ')' })]);
        r._range = [a, b];
        r.addEventListener('click', function () { unfold(r); });
        return r;
      }
      function unfold(r) {
        var frag = document.createDocumentFragment();
        for (var i = r._range[0]; i <= r._range[1]; i++) frag.appendChild(lineRow(i));
        r.parentNode.replaceChild(frag, r);
      }
      var frag = document.createDocumentFragment();
      var i = 1;
      while (i <= text.length) {
        if (keep[i]) { frag.appendChild(lineRow(i)); i++; continue; }
        var j = i;
        while (j + 1 <= text.length && !keep[j + 1]) j++;
        if (j - i + 1 >= MIN_FOLD) frag.appendChild(foldRow(i, j));
        else for (var k = i; k <= j; k++) frag.appendChild(lineRow(k));
        i = j + 1;
      }
      tb.appendChild(frag);

      function jump(line) {
        if (!rowsByLine[line]) {
          var folds = tb.querySelectorAll('tr.fold');
          for (var f = 0; f < folds.length; f++) {
            if (folds[f]._range[0] <= line && line <= folds[f]._range[1]) { unfold(folds[f]); break; }
          }
        }
        var r = rowsByLine[line];
        if (!r) return;
        r.scrollIntoView({ block: 'center' });
        r.classList.add('flash');
        setTimeout(function () { r.classList.remove('flash'); }, 1500);
      }
    }
  }

  // ---------------------------------------------------------------- threads
  function buildThreads(el) {
    if (!threads.length) { el.appendChild(h('p', { cls: 'note', text: 'No threads were seen.' })); return; }
    var gilRecorded = meta.gil_only || threads.some(function (t) { return t.gil_samples > 0; });
    var table = h('table', { cls: 'data narrow', id: 'threads-table' });
    var head = ['Thread', 'TID', 'Samples', 'Share', 'Active', 'Idle'];
    if (gilRecorded) head.push('Holding the GIL');
    head.push('active / idle');
    table.appendChild(h('thead', null, [h('tr', null, head.map(function (x, i) {
      return h('th', { cls: i >= 2 && i < head.length - 1 ? 'num' : '', text: x });
    }))]));
    var tb = h('tbody');
    threads.slice().sort(function (a, b) { return b.samples - a.samples || a.tid - b.tid; }).forEach(function (t) {
      var active = t.samples - (t.idle_samples || 0);
      var row = [
        h('td', { cls: 'name', text: t.name || '(unnamed)' }),
        h('td', { cls: 'num', text: String(t.tid) }),
        h('td', { cls: 'num', text: fmtNum(t.samples) }),
        h('td', { cls: 'num', text: pct(t.samples, total) }),
        h('td', { cls: 'num', text: pct(active, t.samples) }),
        h('td', { cls: 'num', text: pct(t.idle_samples || 0, t.samples) }),
      ];
      if (gilRecorded) row.push(h('td', { cls: 'num', text: pct(t.gil_samples || 0, t.samples) }));
      var a = t.samples ? 100 * active / t.samples : 0;
      row.push(h('td', null, [h('span', { cls: 'split', title: pct(active, t.samples) + ' active' }, [
        h('span', { cls: 'a', style: 'width:' + a + '%' }), h('span', { cls: 'i', style: 'width:' + (100 - a) + '%' })])]));
      tb.appendChild(h('tr', null, row));
    });
    table.appendChild(tb);
    el.appendChild(table);
    var notes = ['Active and idle are shares of the thread\u2019s own samples: a thread is active when it holds the GIL or is running on a CPU.'];
    if (!meta.include_idle) notes.push('Idle samples were not recorded (record with --idle to see time spent waiting).');
    if (meta.gil_only) notes.push('Only the thread holding the GIL was sampled (--gil).');
    else if (gilRecorded) notes.push('\u201cHolding the GIL\u201d is the share of the thread\u2019s samples taken while it held the GIL.');
    el.appendChild(h('p', { cls: 'note', text: notes.join(' ') }));
    if (processes.length > 1) buildProcesses(el);
  }

  // The process table: pid, role, command, samples and share, lifetime.
  function buildProcesses(el) {
    var children = processes.filter(function (p) { return p.role !== 'main' && p.samples > 0; });
    var childSamples = children.reduce(function (a, p) { return a + p.samples; }, 0);
    el.appendChild(h('h3', { text: 'Processes' }));
    el.appendChild(h('p', { cls: 'note', text: 'Work happened in ' + children.length + ' child process' +
      (children.length === 1 ? '' : 'es') + ' (' + pct(childSamples, total) + ' of the samples) besides the main one.' }));
    var table = h('table', { cls: 'data narrow', id: 'processes-table' });
    var head = ['PID', 'Role', 'Samples', 'Share', 'Idle', 'Lifetime (s)', 'Command'];
    table.appendChild(h('thead', null, [h('tr', null, head.map(function (x, i) {
      return h('th', { cls: i === 2 || i === 3 || i === 4 ? 'num' : '', text: x });
    }))]));
    var tb = h('tbody');
    processes.forEach(function (p) {
      tb.appendChild(h('tr', null, [
        h('td', { cls: 'num', text: String(p.pid) }),
        h('td', { text: p.role }),
        h('td', { cls: 'num', text: fmtNum(p.samples) }),
        h('td', { cls: 'num', text: pct(p.samples, total) }),
        h('td', { cls: 'num', text: pct(p.idle_samples || 0, p.samples) }),
        h('td', { text: p.start_s.toFixed(2) + '\u2013' + p.end_s.toFixed(2) }),
        h('td', { cls: 'name', text: (p.command || []).join(' ') }),
      ]));
    });
    table.appendChild(tb);
    el.appendChild(table);
  }

  // ---------------------------------------------------------------- memory (shown when the capture has memory data)
  // The capture's `memory` (docs/capture-format.md): summary, timeline with
  // labels, allocation sites (top, alive at the peak, alive at the end), heap
  // census. Keys this page does not know are shown as plain tables.
  var mem = cap.memory && typeof cap.memory === 'object' ? cap.memory : null;
  var memSites = mem && Array.isArray(mem.sites) ? mem.sites : [];
  var memLines = new Map(); // file \0 line -> {alloc, freed, peak, end}
  var memTotal = 0;
  memSites.forEach(function (site) {
    memTotal += site.allocated_bytes || 0;
    var fr = site.frames || [];
    if (!fr.length || !frames[fr[fr.length - 1]]) return;
    var f = frames[fr[fr.length - 1]], k = f.file + '\u0000' + f.line;
    var e = memLines.get(k);
    if (!e) memLines.set(k, e = { alloc: 0, freed: 0, peak: 0, end: 0 });
    e.alloc += site.allocated_bytes || 0; e.freed += site.freed_bytes || 0;
    e.peak += site.peak_bytes || 0; e.end += site.end_bytes || 0;
  });

  function siteLabel(site) {
    var fr = site.frames || [];
    if (!fr.length) return { leaf: '(no Python frame)', where: '', stack: '' };
    var f = frames[fr[fr.length - 1]] || {};
    return {
      leaf: f.qualname || f.function || '?',
      where: (f.file || '') + (f.line ? ':' + f.line : ''),
      stack: fr.map(function (i) { var x = frames[i] || {}; return (x.qualname || x.function) + ' (' + basename(x.file || '') + ':' + x.line + ')'; }).join('\n'),
    };
  }

  function siteTable(sites, sortKey, limit, id) {
    var rows = sites.filter(function (x) { return (x[sortKey] || 0) > 0; })
      .sort(function (a, b) { return (b[sortKey] || 0) - (a[sortKey] || 0); });
    if (!rows.length) return h('p', { cls: 'note', text: 'None.' });
    var cols = [['allocated_bytes', 'Allocated'], ['freed_bytes', 'Freed'], ['net', 'Net'], ['peak_bytes', 'At peak'],
      ['end_bytes', 'At end'], ['allocations', 'Allocations']];
    var t = h('table', { cls: 'data', id: id });
    t.appendChild(h('thead', null, [h('tr', null, [h('th', { text: 'Allocated in' }), h('th', { text: 'Source' })].concat(
      cols.map(function (c) { return h('th', { cls: 'num' + (c[0] === sortKey ? ' sorted' : ''), text: c[1] }); })))]));
    var tb = h('tbody');
    rows.slice(0, limit).forEach(function (site) {
      var l = siteLabel(site);
      tb.appendChild(h('tr', null, [
        h('td', { cls: 'name', title: l.stack }, [l.leaf, h('div', { cls: 'file', style: 'color:var(--muted);font-size:11.5px', text: l.where })]),
        h('td', { text: site.source || '' }),
      ].concat(cols.map(function (c) {
        var v = c[0] === 'net' ? (site.allocated_bytes || 0) - (site.freed_bytes || 0) : site[c[0]];
        return h('td', { cls: 'num', text: v === undefined ? '' : c[0] === 'allocations' ? fmtNum(v) : fmtBytes(v) });
      }))));
    });
    t.appendChild(tb);
    var wrap = h('div', null, [t]);
    if (rows.length > limit) wrap.appendChild(h('p', { cls: 'note', text: 'The top ' + limit + ' of ' + rows.length + ' sites.' }));
    return wrap;
  }

  function buildMemory(el) {
    if (!mem) return;
    document.getElementById('memory').hidden = false;
    var known = { mode: 1, sample_interval_bytes: 1, sites: 1, peak_bytes: 1, peak_at_s: 1, end_bytes: 1, timeline: 1, labels: 1, census: 1, globals: 1 };
    var dl = h('dl', { cls: 'kv' });
    function kv(label, value) { if (value !== undefined && value !== null && value !== '') dl.appendChild(h('div', null, [h('dt', { text: label }), h('dd', { text: value })])); }
    kv('Tracking', mem.mode ? mem.mode + (mem.mode === 'sampled' && mem.sample_interval_bytes ? ' (every ' + fmtBytes(mem.sample_interval_bytes) + ' on average)' : '') : null);
    if (typeof mem.peak_bytes === 'number') kv('Peak', fmtBytes(mem.peak_bytes) + (typeof mem.peak_at_s === 'number' ? ' at ' + mem.peak_at_s.toFixed(2) + ' s' : ''));
    if (typeof mem.end_bytes === 'number') kv('Alive at the end', fmtBytes(mem.end_bytes));
    if (memSites.length) kv('Allocated in all', fmtBytes(memTotal) + ' at ' + fmtNum(memSites.length) + ' sites');
    el.appendChild(dl);
    if (Array.isArray(mem.timeline) && mem.timeline.length) {
      el.appendChild(h('h3', { text: 'Timeline' }));
      el.appendChild(memoryChart(mem.timeline, Array.isArray(mem.labels) ? mem.labels : [], mem.peak_at_s));
    }
    if (memSites.length) {
      el.appendChild(h('h3', { text: 'Top allocation sites' }));
      el.appendChild(h('p', { cls: 'note', text: 'Where memory was allocated, by the innermost Python frame (hover for the whole stack); net is allocated minus freed.' }));
      el.appendChild(siteTable(memSites, 'allocated_bytes', 25, 'memory-sites'));
      el.appendChild(h('h3', { text: 'Alive at the peak' }));
      el.appendChild(siteTable(memSites, 'peak_bytes', 15, 'memory-peak'));
      el.appendChild(h('h3', { text: 'Still alive at the end' }));
      el.appendChild(siteTable(memSites, 'end_bytes', 15, 'memory-end'));
    }
    if (Array.isArray(mem.census) && mem.census.length) {
      el.appendChild(h('h3', { text: 'Heap census' }));
      mem.census.forEach(function (c) {
        var types = (c.types || []).slice().sort(function (a, b) { return (b.bytes || 0) - (a.bytes || 0); });
        el.appendChild(h('p', { cls: 'note', text: (c.when === 'peak' ? 'near the peak' : (c.when || 'census')) + (typeof c.t === 'number' ? ' at ' + c.t.toFixed(2) + ' s' : '') + (typeof c.heap_bytes === 'number' ? ', tracked heap ' + fmtBytes(c.heap_bytes) : '') + ': ' + types.length + ' types' +
          (!c.estimated ? '' : typeof c.sampled_one_in === 'number'
            ? ' (estimated: one in ' + c.sampled_one_in + ' of the untracked objects counted, each standing for ' + c.sampled_one_in + ')'
            : ' (estimated: the items of containers over 100,000 were sampled, every k-th standing for k)') }));
        var t = h('table', { cls: 'data narrow' });
        t.appendChild(h('thead', null, [h('tr', null, [h('th', { text: 'Type' }), h('th', { cls: 'num', text: 'Objects' }), h('th', { cls: 'num', text: 'Bytes' })])]));
        var tb = h('tbody');
        types.slice(0, 15).forEach(function (r) {
          tb.appendChild(h('tr', null, [h('td', { cls: 'name', text: r.type_name }), h('td', { cls: 'num', text: fmtNum(r.count) }), h('td', { cls: 'num', text: fmtBytes(r.bytes) })]));
        });
        t.appendChild(tb);
        el.appendChild(t);
      });
    }
    if (Array.isArray(mem.globals) && mem.globals.length) {
      el.appendChild(h('h3', { text: 'Held by module globals at the end (not leaked)' }));
      el.appendChild(h('p', { cls: 'note', text: 'What each module global reached when the program ended: memory still in use, which a leak is not. ≈: estimated (a container of more than 65,536 references was sampled).' }));
      var g = h('table', { cls: 'data narrow', id: 'memory-globals' });
      g.appendChild(h('thead', null, [h('tr', null, [h('th', { text: 'Global' }), h('th', { cls: 'num', text: 'Objects' }), h('th', { cls: 'num', text: 'Bytes' })])]));
      var gb = h('tbody');
      mem.globals.slice(0, 15).forEach(function (r) {
        var about = r.estimated ? '≈ ' : '';
        gb.appendChild(h('tr', null, [h('td', { cls: 'name', text: r.module + '.' + r.name }), h('td', { cls: 'num', text: about + fmtNum(r.objects) }), h('td', { cls: 'num', text: about + fmtBytes(r.bytes) })]));
      });
      g.appendChild(gb);
      el.appendChild(g);
    }
    var rest = {};
    Object.keys(mem).forEach(function (k) { if (!known[k]) rest[k] = mem[k]; });
    if (Object.keys(rest).length) renderGeneric(el, rest, 0);
  }

  function memoryChart(points, labels, peakAt) {
    var NS = 'http://www.w3.org/2000/svg', W = 900, H = 240, L = 70, R = 20, TOP = 24, B = 28;
    function el(tag, attrs, text) {
      var e = document.createElementNS(NS, tag);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = text;
      return e;
    }
    var t0 = points[0].t, t1 = points[points.length - 1].t, vmax = 1;
    points.forEach(function (p) { vmax = Math.max(vmax, p.heap || 0, p.rss || 0); });
    function x(t) { return L + (W - L - R) * (t1 > t0 ? (t - t0) / (t1 - t0) : 0); }
    function y(v) { return H - B - (H - TOP - B) * v / vmax; }
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, 'class': 'chart', id: 'memory-chart', role: 'img' });
    labels.forEach(function (lb, i) {
      var a = x(Math.max(lb.start_s, t0)), b = x(Math.min(lb.end_s, t1));
      svg.appendChild(el('rect', { x: a, y: TOP, width: Math.max(b - a, 1), height: H - TOP - B, fill: i % 2 ? '#eef3f8' : '#f3eef8' }));
      svg.appendChild(el('text', { x: a + 3, y: TOP + 12, 'font-size': 11, fill: '#5f6b76' }, lb.name));
    });
    [0, 0.5, 1].forEach(function (f) {
      svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(vmax * f), y2: y(vmax * f), stroke: '#e3e7eb' }));
      svg.appendChild(el('text', { x: L - 6, y: y(vmax * f) + 4, 'font-size': 11, 'text-anchor': 'end', fill: '#5f6b76' }, fmtBytes(Math.round(vmax * f))));
    });
    svg.appendChild(el('text', { x: L, y: H - 8, 'font-size': 11, fill: '#5f6b76' }, t0.toFixed(2) + ' s'));
    svg.appendChild(el('text', { x: W - R, y: H - 8, 'font-size': 11, 'text-anchor': 'end', fill: '#5f6b76' }, t1.toFixed(2) + ' s'));
    [['rss', '#2f6fb0', 'RSS'], ['heap', '#d9480f', 'tracked heap']].forEach(function (sr, i) {
      var pts = points.filter(function (p) { return typeof p[sr[0]] === 'number'; })
        .map(function (p) { return x(p.t).toFixed(1) + ',' + y(p[sr[0]]).toFixed(1); }).join(' ');
      if (!pts) return;
      svg.appendChild(el('polyline', { points: pts, fill: 'none', stroke: sr[1], 'stroke-width': 1.5 }));
      svg.appendChild(el('text', { x: L + 8 + i * 110, y: 14, 'font-size': 12, fill: sr[1] }, sr[2]));
    });
    if (typeof peakAt === 'number' && peakAt >= t0 && peakAt <= t1) {
      svg.appendChild(el('line', { x1: x(peakAt), x2: x(peakAt), y1: TOP, y2: H - B, stroke: '#a40000', 'stroke-dasharray': '3,3' }));
      svg.appendChild(el('text', { x: x(peakAt) + 3, y: H - B - 4, 'font-size': 11, fill: '#a40000' }, 'peak'));
    }
    return svg;
  }

  function renderGeneric(el, obj, level) {
    if (Array.isArray(obj)) { el.appendChild(genericTable(obj)); return; }
    if (typeof obj !== 'object') { el.appendChild(h('p', { text: String(obj) })); return; }
    var dl = h('dl', { cls: 'kv' });
    el.appendChild(dl);
    Object.keys(obj).forEach(function (k) {
      var v = obj[k], title = k.replace(/_/g, ' ');
      if (v !== null && typeof v === 'object' && level < 2) {
        el.appendChild(h('h3', { text: title.charAt(0).toUpperCase() + title.slice(1) }));
        renderGeneric(el, v, level + 1);
      } else {
        dl.appendChild(h('div', null, [h('dt', { text: title }), h('dd', { text: typeof v === 'number' && /bytes/.test(k) ? fmtBytes(v) : typeof v === 'object' ? JSON.stringify(v) : String(v) })]));
      }
    });
    if (!dl.childNodes.length) el.removeChild(dl);
  }
  function genericTable(rows) {
    var keys = [];
    rows.slice(0, 200).forEach(function (r) {
      if (r && typeof r === 'object' && !Array.isArray(r)) Object.keys(r).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    });
    if (!keys.length) return h('p', { text: JSON.stringify(rows.slice(0, 200)) });
    var t = h('table', { cls: 'data' });
    t.appendChild(h('thead', null, [h('tr', null, keys.map(function (k) { return h('th', { text: k.replace(/_/g, ' ') }); }))]));
    var tb = h('tbody');
    rows.slice(0, 200).forEach(function (r) {
      tb.appendChild(h('tr', null, keys.map(function (k) {
        var v = r[k];
        if (k === 'frames' && Array.isArray(v)) v = v.map(function (f) { return frames[f] ? (frames[f].qualname || frames[f].function) : f; }).join(' \u203a ');
        else if (typeof v === 'number' && /bytes/.test(k)) v = fmtBytes(v);
        else if (v !== null && typeof v === 'object') v = JSON.stringify(v);
        return h('td', { cls: typeof r[k] === 'number' ? 'num' : '', text: v === undefined || v === null ? '' : String(v) });
      })));
    });
    t.appendChild(tb);
    return t;
  }
  // ---------------------------------------------------------------- go
  section('header', buildHeader);
  section('findings', buildFindings);
  section('flame', flame.build);
  section('tree', buildTreeView);
  section('functions', buildFunctions);
  section('source', buildSource);
  section('threads', buildThreads);
  section('memory', buildMemory);
  // The measured views (report-measured.js), on pages that have their sections.
  var views = window.snakescopeViews || {};
  var lib = { h: h, fmtNum: fmtNum, fmtBytes: fmtBytes, heat: heat };
  section('exact', function (el) { views.exact(el, cap, lib); });
  section('lines', function (el) { views.lines(el, cap, lib); });
  section('stat', function (el) { views.stat(el, cap, lib); });
  section('tasks', function (el) { views.tasks(el, cap, lib); });
  buildNav();
  report.loadMs = Math.round(performance.now());
  document.getElementById('footer').textContent = 'snakescope ' + (meta.tool_version || '') + ' \u00b7 ' + fmtNum(stacks.length) +
    ' distinct stacks, ' + fmtNum(frames.length) + ' frames \u00b7 page ready in ' + report.loadMs + ' ms';
  report.stats = { stacks: stacks.length, frames: frames.length, functions: funcs.length, treeNodes: tree ? tree.n : 0, maxStackDepth: maxStackDepth };
  report.ready = true;
  document.documentElement.setAttribute('data-ready', 'true');
})();
