'use strict';
/**
 * The ratio chart of docs/performance.md, as a hand-built SVG string: requests per server
 * CPU-second ÷ bare Express (y) by N (x, log scale), one line per mode; dashed with churn.
 */

const COLOURS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * @param rows summary rows of bench/run.js with `unit.scenario.mode`, `unit.n`, `unit.churn`, `ratio`
 * @param ns the N of the run, ascending
 */
function ratioChart(rows, ns) {
  const W = 920;
  const H = 420;
  const m = { left: 56, right: 400, top: 30, bottom: 46 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ratios = rows.map((r) => r.ratio).filter(Number.isFinite);
  const yMax = Math.max(1.1, Math.ceil((Math.max(0, ...ratios) + 0.05) * 10) / 10);
  const yMin = 0;
  const lo = Math.log10(ns[0]);
  const hi = Math.log10(ns[ns.length - 1]);
  const x = (n) => m.left + (hi === lo ? pw / 2 : ((Math.log10(n) - lo) / (hi - lo)) * pw);
  const y = (v) => m.top + ph - ((v - yMin) / (yMax - yMin)) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.left}" y="18" font-size="14" font-weight="bold">Requests per server CPU-second ÷ bare Express 5, by N distinct tokens</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += 0.1) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
    if (Math.round(v * 10) % 2 === 0)
      out.push(
        `<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${v.toFixed(1)}</text>`,
      );
  }
  for (const [v, label] of [
    [1, 'bare Express'],
    [0.95, '0.95 target (N ≤ 10 000)'],
    [0.75, '0.75 target (N = 100 000)'],
  ]) {
    if (v > yMax) continue;
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#999" stroke-dasharray="2,3"/>`,
      `<text x="${m.left + pw - 4}" y="${(y(v) - 4).toFixed(1)}" text-anchor="end" fill="#777" font-size="10">${esc(label)}</text>`,
    );
  }
  for (const n of ns) {
    const xx = x(n).toFixed(1);
    out.push(
      `<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + ph}" stroke="#eee"/>`,
      `<text x="${xx}" y="${m.top + ph + 16}" text-anchor="middle">${n.toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">N (distinct tokens, log scale)</text>`,
  );
  const modes = [...new Set(rows.map((r) => r.unit.scenario.mode))];
  let legendY = m.top + 6;
  modes.forEach((mode, i) => {
    const colour = COLOURS[i % COLOURS.length];
    for (const churn of [false, true]) {
      const pts = rows
        .filter((r) => r.unit.scenario.mode === mode && r.unit.churn === churn && Number.isFinite(r.ratio))
        .sort((a, b) => a.unit.n - b.unit.n)
        .map((r) => [x(r.unit.n), y(r.ratio)]);
      if (pts.length === 0) continue;
      const dash = churn ? ' stroke-dasharray="6,4"' : '';
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`,
        ...pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${colour}"/>`),
      );
      const lx = m.left + pw + 16;
      out.push(
        `<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"${dash}/>`,
        `<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle" font-size="11">${esc(mode)}${churn ? ', with churn' : ''}</text>`,
      );
      legendY += 18;
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { ratioChart };
