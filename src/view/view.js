(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var W = D.w, LEN = D.len, HDR = D.header, DT = D.dtypes;
  var LAYCOL = { verbatim: '#74c0fc', transposed: '#ff8787', tiled: '#ffd43b', absent: '#ced4da' };
  var DTCOL = { float32: '#3b6fd8', float16: '#f08c00', bfloat16: '#9c36b5', fp8_e4m3: '#e8590c', fp4_e2m1: '#e8590c',
    e8m0: '#e8590c', int8: '#2b8a3e', uint8: '#2b8a3e', int4: '#2b8a3e', bool: '#2b8a3e', int32: '#0b7285', int64: '#0b7285' };
  var MIN_SPAN = 32, PAGE = 200;
  function dtcol(k) { return DTCOL[DT[k]] || '#868e96'; }
  function hue(g) { return (g * 137.508 + 200) % 360; }
  function layoutKey(i) { return W[i].l.split(',')[0]; }
  var colour = W.map(function (w, i) { return 'hsl(' + hue(w.g).toFixed(0) + ',62%,' + (38 + (i % 3) * 9) + '%)'; });

  // Every extent [start, end, weight, stored dtype], by start; prefix maxima of ends for lookups.
  var E = [];
  W.forEach(function (w, i) { w.x.forEach(function (x) { E.push([x[0], x[1], i, x[2]]); }); });
  E.sort(function (p, q) { return p[0] - q[0] || p[1] - q[1]; });
  var maxEnd = new Float64Array(E.length);
  (function () { var m = 0; for (var k = 0; k < E.length; k++) { m = Math.max(m, E[k][1]); maxEnd[k] = m; } })();
  function firstAfter(byte) { var lo = 0, hi = E.length; while (lo < hi) { var mid = (lo + hi) >> 1; if (E[mid][0] <= byte) lo = mid + 1; else hi = mid; } return lo; }
  function extentsAt(byte) {
    var r = [];
    for (var k = firstAfter(byte) - 1; k >= 0 && maxEnd[k] > byte; k--) if (E[k][1] > byte) r.push(E[k]);
    return r;
  }

  function num(n) { return Math.round(n).toLocaleString('en-US'); }
  function hex(n) { return '0x' + Math.floor(n).toString(16); }
  function human(b) {
    var u = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return i === 0 ? num(b) + ' bytes' : b.toFixed(b < 10 ? 2 : 1) + ' ' + u[i];
  }
  function fmt(v) {
    if (v === null || v === undefined) return '\u2014';
    if (v === 0) return '0';
    var a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(3);
    return String(+v.toPrecision(4));
  }

  // ---- binning (the same as the SVG's, in Rust) ----
  function bin(a, b, n) {
    var wgt = new Float32Array(n), hdr = new Float32Array(n), vol = new Float32Array(n), best = new Float32Array(n);
    var top = new Int32Array(n).fill(-1), topd = new Int32Array(n).fill(-1), has = new Uint8Array(n);
    var width = (b - a) / n;
    function add(s, e, f) {
      s = Math.max(s, a); e = Math.min(e, b);
      if (e <= s) return;
      var i0 = Math.min(n - 1, Math.floor((s - a) / width));
      var i1 = Math.min(n, Math.max(i0 + 1, Math.ceil((e - a) / width)));
      for (var i = i0; i < i1; i++) {
        var lo = a + i * width, hi = lo + width;
        f(i, Math.max(0, Math.min(hi, e) - Math.max(lo, s)) / width);
      }
    }
    add(0, HDR, function (i, ov) { hdr[i] += ov; });
    D.volatile.forEach(function (v) { add(v[0], v[1], function (i, ov) { vol[i] += ov; }); });
    for (var k = 0; k < E.length; k++) {
      var e = E[k];
      if (e[0] >= b) break;
      if (e[1] <= a) continue;
      add(e[0], e[1], function (i, ov) {
        wgt[i] += ov;
        if (e[2] === sel) has[i] = 1;
        if (ov > best[i]) { best[i] = ov; top[i] = e[2]; topd[i] = e[3]; }
      });
    }
    return { wgt: wgt, hdr: hdr, vol: vol, top: top, topd: topd, has: has };
  }

  // ---- state ----
  var view = { a: 0, b: LEN }, sel = -1, drag = null;
  var ov = document.getElementById('overview'), dt = document.getElementById('detail'), tip = document.getElementById('tip');
  var S0 = 16, SH = 52, L1 = 71, L2 = 83, LH = 9, CH = 96;

  function draw(cv, a, b, overview) {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(100, cv.clientWidth || 1000);
    cv.width = Math.round(w * dpr); cv.height = Math.round(CH * dpr);
    var c = cv.getContext('2d');
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    var n = Math.max(1, Math.floor(w)), px = w / n;
    c.fillStyle = '#fff'; c.fillRect(0, 0, w, CH);
    c.fillStyle = '#e9ecef'; c.fillRect(0, S0, w, SH);
    if (LEN === 0) return;
    var B = bin(a, b, n);
    for (var i = 0; i < n; i++) {
      var x = i * px;
      if (B.hdr[i] > 0) { c.fillStyle = '#343a40'; c.fillRect(x, S0, px, SH); }
      if (B.vol[i] > 0) { var vh = Math.max(2, SH * Math.min(1, B.vol[i])); c.fillStyle = '#e03131'; c.fillRect(x, S0 + SH - vh, px, vh); }
      var t = B.top[i];
      if (t >= 0) {
        var dim = sel >= 0 && !B.has[i];
        c.globalAlpha = dim ? 0.28 : 1;
        var h = Math.max(2, SH * Math.min(1, B.wgt[i]));
        c.fillStyle = B.has[i] ? colour[sel] : colour[t];
        c.fillRect(x, S0 + SH - h, px, h);
        c.fillStyle = dtcol(B.topd[i]); c.fillRect(x, L1, px, LH);
        c.fillStyle = LAYCOL[layoutKey(t)] || '#ced4da'; c.fillRect(x, L2, px, LH);
        c.globalAlpha = 1;
      }
    }
    var X = function (byte) { return (byte - a) / (b - a) * w; };
    if (sel >= 0) {
      var xs = W[sel].x;
      c.strokeStyle = '#1c7ed6'; c.lineWidth = 2;
      var centres = [];
      xs.forEach(function (e) {
        if (e[1] <= a || e[0] >= b) return;
        var x0 = Math.max(0, X(e[0])), x1 = Math.min(w, X(e[1]));
        if (x1 - x0 < 3) { x0 -= 1.5; x1 += 1.5; }
        c.strokeRect(x0, S0 - 1, x1 - x0, SH + 2);
        centres.push((x0 + x1) / 2);
      });
      // Copies of one weight, linked.
      c.lineWidth = 1.5;
      for (var k = 1; k < centres.length; k++) {
        var p = centres[k - 1], q = centres[k];
        if (q - p < 2) continue;
        c.beginPath(); c.moveTo(p, S0 - 1);
        c.bezierCurveTo(p, 1, q, 1, q, S0 - 1); c.stroke();
      }
    }
    if (overview && (view.a > 0 || view.b < LEN)) {
      var z0 = X(view.a), z1 = Math.max(z0 + 2, X(view.b));
      c.fillStyle = 'rgba(28,126,214,.12)'; c.fillRect(z0, 0, z1 - z0, CH);
      c.strokeStyle = '#1c7ed6'; c.lineWidth = 1; c.strokeRect(z0 + 0.5, 0.5, z1 - z0 - 1, CH - 1);
    }
    if (drag && drag.cv === cv) {
      var d0 = Math.min(drag.x0, drag.x1), d1 = Math.max(drag.x0, drag.x1);
      c.fillStyle = 'rgba(0,0,0,.15)'; c.fillRect(d0, 0, d1 - d0, CH);
    }
    c.fillStyle = '#868e96'; c.font = '10px sans-serif';
    c.fillText(hex(a), 2, 11);
    var endLabel = hex(b); c.fillText(endLabel, w - c.measureText(endLabel).width - 2, 11);
  }

  function drawAll() {
    draw(ov, 0, LEN, true);
    draw(dt, view.a, view.b, false);
    var span = view.b - view.a, w = Math.max(100, dt.clientWidth || 1000);
    document.getElementById('range').textContent = 'shown: ' + hex(view.a) + ' \u2013 ' + hex(view.b) + '  (' + num(span) +
      ' bytes, 1 px \u2248 ' + (span / w >= 10 ? num(span / w) : (span / w).toFixed(2)) + ' bytes)';
    document.getElementById('zsel').disabled = sel < 0 || W[sel].x.length === 0;
  }

  function setView(a, b) {
    a = Math.max(0, Math.floor(a)); b = Math.min(LEN, Math.ceil(b));
    if (b - a < MIN_SPAN) { var m = (a + b) / 2; a = Math.max(0, Math.floor(m - MIN_SPAN / 2)); b = Math.min(LEN, a + MIN_SPAN); }
    view.a = a; view.b = b; drawAll();
  }

  function rangeOf(cv) { return cv === ov ? [0, LEN] : [view.a, view.b]; }
  function byteAt(cv, clientX) {
    var r = cv.getBoundingClientRect(), ab = rangeOf(cv);
    var f = Math.min(1, Math.max(0, (clientX - r.left) / Math.max(1, r.width)));
    return { byte: ab[0] + f * (ab[1] - ab[0]), x: clientX - r.left, perPx: (ab[1] - ab[0]) / Math.max(1, r.width) };
  }

  function describe(byte, perPx) {
    var b = Math.floor(byte);
    var lines = [(perPx > 1 ? 'around byte ' : 'byte ') + hex(b) + ' (' + num(b) + ')'];
    var here = extentsAt(b);
    if (here.length) {
      here.slice(0, 3).forEach(function (e) {
        var w = W[e[2]];
        lines.push(w.n + '\n  stored ' + DT[e[3]] + ' (refit ' + DT[w.d] + '), ' + w.l + '; bytes ' + hex(e[0]) + '\u2013' + hex(e[1]) +
          ' (' + num(e[1] - e[0]) + ')' + (w.m ? '\n  not recovered: ' + w.m : ''));
      });
      if (here.length > 3) lines.push('\u2026 and ' + (here.length - 3) + ' more');
    } else if (b < HDR) lines.push('plan header (tag, TensorRT version)');
    else if (D.volatile.some(function (v) { return b >= v[0] && b < v[1]; })) lines.push('volatile: changes with the weights but holds none');
    else lines.push('not a weight (kernels, metadata, padding)');
    return lines.join('\n');
  }

  function hook(cv) {
    cv.addEventListener('mousedown', function (ev) {
      var p = byteAt(cv, ev.clientX); drag = { cv: cv, x0: p.x, x1: p.x, b0: p.byte, b1: p.byte };
      ev.preventDefault();
    });
    cv.addEventListener('mousemove', function (ev) {
      var p = byteAt(cv, ev.clientX);
      if (drag && drag.cv === cv) { drag.x1 = p.x; drag.b1 = p.byte; drawAll(); }
      tip.textContent = describe(p.byte, p.perPx);
      tip.hidden = false;
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 470) + 'px';
      tip.style.top = (ev.clientY + 16) + 'px';
    });
    cv.addEventListener('mouseleave', function () { tip.hidden = true; if (drag && drag.cv === cv) { drag = null; drawAll(); } });
    cv.addEventListener('mouseup', function (ev) {
      if (!drag || drag.cv !== cv) return;
      var d = drag; drag = null;
      if (Math.abs(d.x1 - d.x0) > 3) { setView(Math.min(d.b0, d.b1), Math.max(d.b0, d.b1)); return; }
      var here = extentsAt(Math.floor(byteAt(cv, ev.clientX).byte));
      select(here.length ? here[0][2] : -1, true);
    });
    cv.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var p = byteAt(cv, ev.clientX), k = ev.deltaY > 0 ? 1.6 : 1 / 1.6;
      var ab = rangeOf(cv), a = p.byte - (p.byte - ab[0]) * k, b = p.byte + (ab[1] - p.byte) * k;
      if (a < 0) { b -= a; a = 0; }
      if (b > LEN) { a -= b - LEN; b = LEN; }
      setView(a, b);
    }, { passive: false });
  }
  hook(ov); hook(dt);
  document.getElementById('zall').addEventListener('click', function () { setView(0, LEN); });
  document.getElementById('zout').addEventListener('click', function () {
    var m = (view.a + view.b) / 2, s = (view.b - view.a) * 2; setView(Math.max(0, m - s / 2), Math.min(LEN, m + s / 2));
  });
  document.getElementById('zsel').addEventListener('click', zoomToSel);
  function zoomToSel() {
    if (sel < 0 || !W[sel].x.length) return;
    var xs = W[sel].x, a = xs[0][0], b = xs[0][1];
    xs.forEach(function (e) { a = Math.min(a, e[0]); b = Math.max(b, e[1]); });
    var pad = Math.max(16, (b - a) * 0.08); setView(a - pad, b + pad);
  }

  // ---- legend ----
  (function () {
    var L = document.getElementById('legend'), bytes = {};
    W.forEach(function (w) { bytes[w.g] = (bytes[w.g] || 0) + w.b; });
    var gs = Object.keys(bytes).map(Number).sort(function (p, q) { return bytes[q] - bytes[p] || p - q; });
    function chip(col, text, title) {
      var s = document.createElement('span'), c = document.createElement('span');
      c.className = 'chip'; c.style.background = col; s.appendChild(c); s.appendChild(document.createTextNode(text));
      if (title) s.title = title; L.appendChild(s);
    }
    function sep() { var s = document.createElement('span'); s.className = 'sep'; s.textContent = '|'; L.appendChild(s); }
    gs.slice(0, 14).forEach(function (g) { chip('hsl(' + hue(g).toFixed(0) + ',62%,47%)', D.groups[g], human(bytes[g])); });
    if (gs.length > 14) chip('#fff', '\u2026 ' + (gs.length - 14) + ' more groups');
    sep();
    chip('#343a40', 'header'); chip('#e03131', 'volatile'); chip('#e9ecef', 'not weights');
    sep();
    var seen = {};
    W.forEach(function (w) { w.s.forEach(function (k) { seen[k] = 1; }); });
    Object.keys(seen).forEach(function (k) { chip(dtcol(+k), 'stored ' + DT[k]); });
    sep();
    ['verbatim', 'transposed', 'tiled'].forEach(function (k) { chip(LAYCOL[k], k); });
  })();

  // ---- table ----
  var tbody = document.querySelector('#table tbody'), search = document.getElementById('search');
  var order = [], page = 0, sortKey = null, sortDir = 1;
  var ST = { min: 0, max: 1, mean: 2, std: 3, zeros: 4, nan: 5, inf: 6 };
  function key(i, k) {
    var w = W[i];
    switch (k) {
      case 'n': return w.n;
      case 'd': return DT[w.d];
      case 's': return w.s.map(function (x) { return DT[x]; }).join('+');
      case 'c': return w.c;
      case 'o': return w.x.length ? w.x[0][0] : Infinity;
      case 'l': return w.l;
      case 'cp': return w.cp;
      default: var v = w.st ? w.st[ST[k]] : null; return v === null || v === undefined ? null : v;
    }
  }
  function refresh() {
    var q = search.value.trim().toLowerCase();
    order = [];
    for (var i = 0; i < W.length; i++) if (!q || W[i].n.toLowerCase().indexOf(q) >= 0) order.push(i);
    if (sortKey) {
      order.sort(function (p, q2) {
        var x = key(p, sortKey), y = key(q2, sortKey);
        if (x === null && y === null) return p - q2;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : x > y ? 1 : p - q2) * sortDir;
      });
    }
    page = Math.min(page, Math.max(0, Math.ceil(order.length / PAGE) - 1));
    render();
  }
  function histSvg(h) {
    var m = 0; h.forEach(function (v) { m = Math.max(m, v); });
    var bw = 64 / h.length, s = '<svg class="hist" width="64" height="16" viewBox="0 0 64 16">';
    h.forEach(function (v, k) {
      var hh = m ? Math.max(v ? 1 : 0, 15 * v / m) : 0;
      s += '<rect x="' + (k * bw).toFixed(1) + '" y="' + (16 - hh).toFixed(1) + '" width="' + Math.max(1, bw - 0.6).toFixed(1) + '" height="' + hh.toFixed(1) + '" fill="#5c7cfa"/>';
    });
    return s + '</svg>';
  }
  function td(tr, text, cls, title) {
    var c = document.createElement('td'); c.textContent = text; if (cls) c.className = cls; if (title) c.title = title; tr.appendChild(c); return c;
  }
  function render() {
    tbody.textContent = '';
    var frag = document.createDocumentFragment();
    order.slice(page * PAGE, (page + 1) * PAGE).forEach(function (i) {
      var w = W[i], tr = document.createElement('tr');
      tr.dataset.w = i;
      if (w.m) tr.className = 'missing';
      if (i === sel) tr.className += ' sel';
      var name = td(tr, '', 'name', w.n), sw = document.createElement('span');
      sw.className = 'sw'; sw.style.background = colour[i]; name.appendChild(sw); name.appendChild(document.createTextNode(w.n));
      td(tr, DT[w.d]);
      td(tr, w.s.map(function (x) { return DT[x]; }).join(', ') || '\u2014');
      td(tr, num(w.c), 'num');
      var offs = w.x.map(function (e) { return hex(e[0]) + '\u2013' + hex(e[1]); });
      td(tr, offs.length ? offs[0] + (offs.length > 1 ? ' (+' + (offs.length - 1) + ')' : '') : '\u2014', 'off', offs.join('\n'));
      td(tr, w.l);
      td(tr, String(w.cp), 'num');
      if (w.st) {
        for (var k = 0; k < 4; k++) td(tr, fmt(w.st[k]), 'num', w.st[k] === null ? 'no finite value' : String(w.st[k]));
        for (k = 4; k < 7; k++) td(tr, num(w.st[k]), 'num');
        var hc = document.createElement('td');
        if (w.h) hc.innerHTML = histSvg(w.h);
        tr.appendChild(hc);
      } else {
        var why = td(tr, w.m ? 'not recovered: ' + w.m : 'no statistics', 'why');
        why.colSpan = 8;
      }
      frag.appendChild(tr);
    });
    tbody.appendChild(frag);
    document.getElementById('count').textContent = order.length === W.length ? W.length + ' weights' : order.length + ' of ' + W.length + ' weights';
    var pager = document.getElementById('pager'), pages = Math.ceil(order.length / PAGE);
    pager.textContent = '';
    if (pages > 1) {
      var prev = document.createElement('button'), next = document.createElement('button'), lab = document.createElement('span');
      prev.textContent = '\u2039 prev'; next.textContent = 'next \u203a';
      prev.disabled = page === 0; next.disabled = page >= pages - 1;
      prev.onclick = function () { page--; render(); }; next.onclick = function () { page++; render(); };
      lab.textContent = ' page ' + (page + 1) + ' of ' + pages + ' ';
      pager.appendChild(prev); pager.appendChild(lab); pager.appendChild(next);
    }
  }
  function select(i, fromStrip) {
    sel = sel === i && fromStrip ? -1 : i;
    if (sel >= 0 && fromStrip) {
      var pos = order.indexOf(sel);
      if (pos < 0) { search.value = ''; refresh(); pos = order.indexOf(sel); }
      page = Math.floor(pos / PAGE);
    }
    render(); drawAll();
    if (sel >= 0 && fromStrip) {
      var row = tbody.querySelector('tr[data-w="' + sel + '"]');
      if (row && row.scrollIntoView) row.scrollIntoView({ block: 'nearest' });
    }
  }
  tbody.addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr'); if (!tr) return;
    var i = +tr.dataset.w; sel = sel === i ? -1 : i; render(); drawAll();
  });
  tbody.addEventListener('dblclick', function (ev) {
    var tr = ev.target.closest('tr'); if (!tr) return;
    sel = +tr.dataset.w; render(); zoomToSel();
  });
  search.addEventListener('input', function () { page = 0; refresh(); });
  document.querySelectorAll('#table th[data-k]').forEach(function (th) {
    th.addEventListener('click', function () {
      var k = th.dataset.k;
      if (sortKey === k) sortDir = -sortDir; else { sortKey = k; sortDir = 1; }
      document.querySelectorAll('#table th').forEach(function (o) { o.classList.remove('asc', 'desc'); });
      th.classList.add(sortDir > 0 ? 'asc' : 'desc');
      refresh();
    });
  });
  window.addEventListener('resize', drawAll);
  // Start zoomed on the bytes that hold weights, and select the weight named in the address's
  // fragment (#w=NAME), if any.
  (function () {
    var a = Infinity, b = 0;
    E.forEach(function (e) { a = Math.min(a, e[0]); b = Math.max(b, e[1]); });
    if (b > a && b - a < LEN * 0.8) { var pad = (b - a) * 0.04; view.a = Math.max(0, Math.floor(a - pad)); view.b = Math.min(LEN, Math.ceil(b + pad)); }
    var m = /^#w=(.*)$/.exec(window.location.hash);
    if (m) { var name = decodeURIComponent(m[1]); for (var i = 0; i < W.length; i++) if (W[i].n === name) { sel = i; break; } }
  })();
  refresh();
  drawAll();
  // When the page finished drawing, in ms since navigation started (tests/view.rs reads it).
  document.body.setAttribute('data-rendered-ms', String(Math.round(performance.now())));
})();
