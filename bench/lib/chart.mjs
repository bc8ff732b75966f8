#!/usr/bin/env node
// The README's chart: an SVG of one bench run (bench/results/latest.json)
// drawn by hand, bars with labels: round trips per second, the server's CPU
// per round trip and its memory per idle connection, for nbio-wasm, node:net
// and the C epoll server, with the machine the run was made on. `npm run
// bench` writes it beside latest.{md,json}; to draw it again from an existing
// JSON without measuring:
//   node bench/lib/chart.mjs [results.json] [chart.svg]
// (defaults: bench/results/latest.json and bench/results/chart.svg).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The servers compared, in the order drawn, with their labels and colours. */
const SERVERS = [
  { key: 'nbio', label: 'nbio-wasm', color: '#2563c9' },
  { key: 'net', label: 'node:net', color: '#9aa1ab' },
  { key: 'c', label: 'C epoll server', color: '#e0892b' },
];

/** The scenarios drawn in the rate and CPU panels, with their labels. */
const SCENARIOS = [
  { key: '1x64', label: '1 conn × 64 B' },
  { key: '50x64', label: '50 conns × 64 B' },
  { key: '1000x64', label: '1,000 conns × 64 B' },
  { key: '50x16k', label: '50 conns × 16 KiB' },
];

const PANELS = [
  {
    title: 'Round trips per second (higher is better)',
    scenarios: SCENARIOS,
    value: (s) => s.median,
    format: (x) => Math.round(x).toLocaleString('en-US'),
  },
  {
    title: 'Server CPU per round trip, user + system (lower is better)',
    scenarios: SCENARIOS,
    value: (s) => s.cpu_us_per_rt,
    format: (x) => `${x.toFixed(2)} µs`,
  },
  {
    title: 'Memory per idle connection, RSS (lower is better)',
    scenarios: [{ key: 'idle', label: 'idle connections' }],
    value: (s) => s.median,
    format: (x) => `${Math.round(x).toLocaleString('en-US')} B`,
  },
];

const WIDTH = 860;
const LABEL_W = 160; // the scenario labels, left of the bars
const BAR_MAX = 470; // the longest bar of a panel
const BAR_H = 15;
const BAR_GAP = 3;
const GROUP_GAP = 12;
const TITLE_H = 30;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x, y, body, attrs = '') => `<text x="${x}" y="${y}" ${attrs}>${escape(body)}</text>`;

/** The median of `server` in `scenario`, or undefined when that run has none. */
function figure(summary, scenario, server, value) {
  const row = summary.find((s) => s.scenario === scenario && s.server === server);
  const x = row === undefined ? undefined : value(row);
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/** One panel's SVG, starting at `top`, and its height; null when the run has none of its figures. */
function panel(summary, spec, top) {
  const groups = spec.scenarios
    .map((sc) => ({ ...sc, bars: SERVERS.map((sv) => ({ ...sv, x: figure(summary, sc.key, sv.key, spec.value) })) }))
    .map((g) => ({ ...g, bars: g.bars.filter((b) => b.x !== undefined) }))
    .filter((g) => g.bars.length > 0);
  if (groups.length === 0) return null;
  const out = [text(0, top + 18, spec.title, 'font-size="15" font-weight="bold" fill="#222"')];
  let y = top + TITLE_H;
  for (const g of groups) {
    // Each scenario is scaled on its own: the bars compare servers, not scenarios.
    const max = Math.max(...g.bars.map((b) => b.x));
    const groupH = g.bars.length * (BAR_H + BAR_GAP) - BAR_GAP;
    out.push(text(LABEL_W - 10, y + groupH / 2 + 4, g.label, 'font-size="13" text-anchor="end" fill="#333"'));
    const net = g.bars.find((b) => b.key === 'net')?.x;
    for (const b of g.bars) {
      const w = Math.max(1, (b.x / max) * BAR_MAX);
      const vsNet = b.key === 'nbio' && net !== undefined ? ` (${(b.x / net).toFixed(2)}× node:net)` : '';
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`);
      out.push(
        text(LABEL_W + w + 6, y + BAR_H - 3, `${spec.format(b.x)}${vsNet}`,
          `font-size="12" fill="#222"${b.key === 'nbio' ? ' font-weight="bold"' : ''}`),
      );
      y += BAR_H + BAR_GAP;
    }
    y += GROUP_GAP - BAR_GAP;
  }
  return { svg: out.join('\n'), height: y - top };
}

/** The SVG chart of a bench result (the object `npm run bench` writes as latest.json). */
export function chartSvg(result) {
  const { machine, config, summary, started_at: startedAt } = result;
  const parts = [];
  let y = 0;
  // Legend.
  let x = 0;
  for (const s of SERVERS.filter((sv) => summary.some((row) => row.server === sv.key))) {
    parts.push(`<rect x="${x}" y="${y + 4}" width="14" height="14" fill="${s.color}"/>`);
    parts.push(text(x + 20, y + 16, s.label, 'font-size="13" fill="#222"'));
    x += 40 + s.label.length * 7.5;
  }
  y += 34;
  let drawn = 0;
  for (const spec of PANELS) {
    const p = panel(summary, spec, y);
    if (p === null) continue;
    parts.push(p.svg);
    y += p.height + 10;
    drawn++;
  }
  if (drawn === 0) {
    parts.push(text(0, y + 16, 'This run measured none of the scenarios drawn here.', 'font-size="13" fill="#222"'));
    y += 30;
  }
  const footer = [
    `One run of npm run bench, ${startedAt.slice(0, 10)}: ${machine.cpu_model}, ${machine.cores} CPUs, ${machine.kernel}, Node ${machine.node.replace(/^v/, '')}.`,
    `Medians of ${config.reps} run(s) of ${config.secs} s per server; ${machine.pinning}. ` +
      'Echo servers; the C load generator checks every byte.',
    `Idle: RSS growth per connection from 100 to ${Number(config.idle_conns).toLocaleString('en-US')} open connections. ` +
      'Figures and every column: bench/results/latest.md.',
  ];
  for (const line of footer) {
    y += 16;
    parts.push(text(0, y, line, 'font-size="11" fill="#555"'));
  }
  const height = Math.ceil(y + 8);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="-10 -10 ${WIDTH + 20} ${height + 20}" ${FONT}>`,
    `<rect x="-10" y="-10" width="${WIDTH + 20}" height="${height + 20}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** Reads a bench result from `jsonPath` and writes its chart to `svgPath`. */
export function writeChart(jsonPath, svgPath) {
  writeFileSync(svgPath, chartSvg(JSON.parse(readFileSync(jsonPath, 'utf8'))));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = join(fileURLToPath(new URL('..', import.meta.url)), 'results');
  const [jsonPath = join(results, 'latest.json'), svgPath = join(results, 'chart.svg')] = process.argv.slice(2);
  writeChart(jsonPath, svgPath);
  console.error(`chart: wrote ${svgPath} from ${jsonPath}`);
}
