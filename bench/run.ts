// `npm run bench [-- <benchmark>…] [--quick | --full] [--events N] [--repeats N] [--workflows N]`
//
// Runs the kubetrail benchmarks against the embedded local stack (started if needed, never
// stopped), each figure side by side with its reference in the same run, and writes
//   bench/results/latest.json   every number, with the run's settings and the machine's load
//   bench/results/latest.md     the tables
//   bench/results/latest.svg    the chart (a hand-written SVG, bench/lib/chart.ts)
// and, after a complete non-quick run, the tables section of BENCHMARKS.md.
//
// Benchmarks: throughput, latency, producer, replay, scaling, profile, sink (default: all, in order).
//   --quick      small smoke version (about 2 minutes)
//   --full       the targets: 100,000 raw events, 10,000 watched workflows (long)
//   --events N   raw events per throughput pass (default 4,000; quick 800; full 100,000)
//   --repeats N  repeats of the interleaved throughput passes (default 2; quick 1)
//   --workflows N  watched workflows in the producer benchmark (default 600; quick 100; full 10,000)
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchContext, benchDir, repoRoot, type BenchOptions } from './lib/context.js';
import { buildTemplates } from './lib/workload.js';
import { renderMarkdown } from './lib/report.js';
import { renderChart } from './lib/chart.js';
import { throughputBench } from './throughput.js';
import { latencyBench } from './latency.js';
import { producerBench } from './producer.js';
import { replayBench } from './replay.js';
import { scalingBench } from './scaling.js';
import { profileBench } from './profile.js';
import { sinkBench } from './sink.js';

const all = ['throughput', 'latency', 'producer', 'replay', 'scaling', 'profile', 'sink'] as const;
type Name = (typeof all)[number];

function parseArgs(argv: string[]): { names: Name[]; options: BenchOptions; help: boolean } {
  const names: Name[] = [];
  let quick = false;
  let full = false;
  let events: number | undefined;
  let repeats: number | undefined;
  let workflows: number | undefined;
  let verbose = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg}: a positive integer is needed`);
      return n;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--full') full = true;
    else if (arg.startsWith('--events')) events = value();
    else if (arg.startsWith('--repeats')) repeats = value();
    else if (arg.startsWith('--workflows')) workflows = value();
    else if (arg === '--verbose' || arg === '-v') verbose = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if ((all as readonly string[]).includes(arg)) names.push(arg as Name);
    else if (arg === 'all') names.push(...all);
    else throw new Error(`unknown argument '${arg}' (benchmarks: ${all.join(', ')}; flags: --quick, --full, --events N, --repeats N, --workflows N)`);
  }
  if (quick && full) throw new Error('--quick and --full exclude each other');
  return {
    names: names.length ? [...new Set(names)] : [...all],
    options: {
      quick,
      full,
      events: events ?? (quick ? 800 : full ? 100_000 : 4_000),
      repeats: repeats ?? (quick ? 1 : full ? 1 : 2),
      workflows,
      verbose,
    },
    help,
  };
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(2);
}
const { names, options, help } = parsed;
if (help) {
  const lines = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
  process.stdout.write(header.map((l) => l.slice(3)).join('\n') + '\n');
  process.exit(0);
}

const began = Date.now();
const ctx = await BenchContext.create(options);
const results: Record<string, unknown> = {
  meta: {
    runId: ctx.runId,
    startedAt: new Date(began).toISOString(),
    benchmarks: names,
    quick: options.quick,
    full: options.full,
    events: options.events,
    repeats: options.repeats,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: Math.round(totalmem() / 1e8) / 10,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  },
};
const failures: string[] = [];
let interrupted = false;
const onSignal = () => {
  interrupted = true;
  ctx.log('interrupted: cleaning up');
  void ctx.cleanup().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  ctx.log(`run ${ctx.runId}: ${names.join(', ')} (${options.quick ? 'quick' : options.full ? 'full' : 'default'}; logs in ${ctx.logDir})`);
  const templates = buildTemplates();
  for (const name of names) {
    if (interrupted) break;
    const started = Date.now();
    ctx.log(`== ${name}`);
    try {
      let result: unknown;
      if (name === 'throughput') result = await throughputBench(ctx, templates);
      else if (name === 'latency') result = await latencyBench(ctx, templates);
      else if (name === 'producer') result = await producerBench(ctx, templates);
      else if (name === 'replay') result = await replayBench(ctx, templates);
      else if (name === 'scaling') result = await scalingBench(ctx, templates);
      else if (name === 'profile') result = await profileBench(ctx, templates);
      else if (name === 'sink') result = await sinkBench(ctx);
      results[name] = { ...(result as object), seconds: Math.round((Date.now() - started) / 100) / 10 };
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      failures.push(`${name}: ${(error as Error).message}`);
      results[name] = { error: message, seconds: Math.round((Date.now() - started) / 100) / 10 };
      ctx.log(`${name} FAILED: ${message}`);
    }
    ctx.log(`== ${name} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
} finally {
  (results.meta as Record<string, unknown>).loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  (results.meta as Record<string, unknown>).seconds = Math.round((Date.now() - began) / 1000);
  await ctx.cleanup();
}

const outDir = join(benchDir, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
const markdown = renderMarkdown(results);
writeFileSync(join(outDir, 'latest.md'), markdown);
writeFileSync(join(outDir, 'latest.svg'), renderChart(results));
ctx.log(`wrote bench/results/latest.json, latest.md, latest.svg (${((Date.now() - began) / 1000).toFixed(0)} s in all)`);

// A complete, non-quick run is the one BENCHMARKS.md reports.
if (!options.quick && names.length === all.length && failures.length === 0) {
  copyFileSync(join(outDir, 'latest.json'), join(outDir, 'reported.json'));
  copyFileSync(join(outDir, 'latest.svg'), join(outDir, 'reported.svg'));
  const doc = join(repoRoot, 'BENCHMARKS.md');
  if (existsSync(doc)) {
    const text = readFileSync(doc, 'utf8');
    const start = '<!-- bench:results:start -->';
    const end = '<!-- bench:results:end -->';
    const a = text.indexOf(start);
    const b = text.indexOf(end);
    if (a >= 0 && b > a) {
      writeFileSync(doc, `${text.slice(0, a + start.length)}\n${markdown}\n${text.slice(b)}`);
      ctx.log('updated the results section of BENCHMARKS.md (and bench/results/reported.*)');
    }
  }
}
process.stdout.write(markdown);
if (failures.length) {
  process.stderr.write(`\n${failures.length} benchmark(s) failed:\n  ${failures.join('\n  ')}\n`);
  process.exit(1);
}
process.exit(0);
