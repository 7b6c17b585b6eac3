// 4. Replay: the time and records/s to rebuild the summary topic from the raw events.
// `kubetrail replay workflow-summary` (cli/replay.ts) runs as a child process over the raw topic
// into a new topic (--to-topic, --no-dedupe: nothing to skip in a new topic) and prints its
// report (--json); it is timed from spawn to exit (what a user waits) and its own reported rate is
// kept. Side by side, the measurement it is compared with: runProcessor (bench/children/
// processor.ts) with a fresh group over the same raw topic, timed from joining the group to the
// last record (and from spawn, for the same wall-clock view). Alternated, repeats as throughput.
// The engine issue's target: the replay's own wall time (its report's durationMs, replay() from
// call to return) at most its processing time (processingMs) + 2 s; the process's start (tsx,
// module loading) is the rest of the wall time from spawn, reported beside it.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { repoRoot } from './lib/context.js';
import { sharedRaw } from './lib/raw.js';
import { median, round } from './lib/stats.js';
import type { TemplateSet } from './lib/workload.js';
import { runPass } from './throughput.js';

interface ReplayRun {
  wallSeconds: number;
  wallRecordsPerSec: number;
  reportedRecordsPerSec: number;
  reportedProcessingMs: number;
  reportedDurationMs: number;
  /** durationMs − processingMs: the replay's fixed cost (set-up and clean-up). */
  fixedMs: number;
  /** Wall time from spawn − durationMs: the process's start and exit. */
  processMs: number;
  recordsRead: number;
  /** Chunks committed (transactions): at most one fetch and 500 records each. */
  commits: number;
}

async function runReplayCli(ctx: BenchContext, input: string, output: string, timeoutMs: number): Promise<ReplayRun> {
  const args = [
    '--import',
    'tsx',
    join(repoRoot, 'cli', 'main.ts'),
    'replay',
    'workflow-summary',
    '--input-topic',
    input,
    '--to-topic',
    `summaries=${output}`,
    '--no-dedupe',
    '--json',
    '--topic-prefix',
    `bench.${ctx.runId}.`,
  ];
  const began = Date.now();
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: ctx.childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  // Its stderr, each chunk stamped with the time since spawn (where its wall time goes).
  child.stderr.on('data', (d: Buffer) => (stderr += `[+${Date.now() - began} ms] ${d.toString()}`));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const wallMs = Date.now() - began;
  writeFileSync(join(ctx.logDir, `${output.split('.').slice(-2).join('.')}.log`), `${stderr}\n[+${wallMs} ms] exit ${code}\n${stdout}`);
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`kubetrail replay exited ${code}:\n${stdout.slice(-1000)}\n${stderr.slice(-2000)}`);
  const report = JSON.parse(line) as { recordsPerSecond: number; processingMs: number; durationMs: number; recordsRead: number; commits: number };
  return {
    wallSeconds: wallMs / 1000,
    wallRecordsPerSec: report.recordsRead / (wallMs / 1000),
    reportedRecordsPerSec: report.recordsPerSecond,
    reportedProcessingMs: report.processingMs,
    reportedDurationMs: report.durationMs,
    fixedMs: report.durationMs - report.processingMs,
    processMs: wallMs - report.durationMs,
    recordsRead: report.recordsRead,
    commits: report.commits,
  };
}

export async function replayBench(ctx: BenchContext, templates: TemplateSet): Promise<Record<string, unknown>> {
  const raw = await sharedRaw(ctx, templates);
  const repeats = 1;
  const timeoutMs = Math.max(180_000, (raw.events / 30) * 1000);
  const cliExists = existsSync(join(repoRoot, 'cli', 'replay.ts'));
  const cliRuns: ReplayRun[] = [];
  const kitRuns: Array<{ recordsPerSec: number; seconds: number; wallSeconds: number }> = [];
  for (let r = 0; r < repeats; r++) {
    if (cliExists) {
      const run = await runReplayCli(ctx, raw.topic, ctx.topic(`replay.cli.${r}`), timeoutMs);
      cliRuns.push(run);
      await ctx.deleteTopicsWithPrefix(`replay.cli.${r}`);
      ctx.log(
        `replay: kubetrail replay read ${run.recordsRead} records in ${run.commits} transactions, ${run.wallSeconds.toFixed(1)} s wall (${run.wallRecordsPerSec.toFixed(0)}/s); ` +
          `it reports ${run.reportedRecordsPerSec}/s over ${(run.reportedProcessingMs / 1000).toFixed(1)} s of processing, durationMs ${run.reportedDurationMs} ` +
          `(${run.fixedMs} ms more than processing; target ≤ 2,000: ${run.fixedMs <= 2000 ? 'met' : 'MISSED'}), ${run.processMs} ms of process start and exit`,
      );
    }
    const spawned = Date.now();
    const pass = await runPass(ctx, { name: 'replay reference', kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once' }, raw.topic, raw.events, raw.valueBytes, {
      label: `replay.kit.${r}`,
      timeoutMs,
    });
    const wallSeconds = ((pass.done.doneAt as number) - spawned) / 1000;
    kitRuns.push({ recordsPerSec: pass.recordsPerSec, seconds: pass.seconds, wallSeconds });
    ctx.log(`replay: runProcessor with a fresh group: ${pass.recordsPerSec.toFixed(0)}/s (${pass.seconds.toFixed(1)} s from joining; ${wallSeconds.toFixed(1)} s from spawn)`);
  }
  const kitRate = median(kitRuns.map((k) => k.recordsPerSec));
  const cliReported = median(cliRuns.map((c) => c.reportedRecordsPerSec));
  return {
    events: raw.events,
    inputTopic: 'the throughput raw topic (gzip, 3 partitions)',
    cli: cliExists
      ? {
          command: 'kubetrail replay workflow-summary --input-topic <raw> --to-topic summaries=<new> --no-dedupe --json',
          runs: cliRuns.map((c) => ({ ...c, wallSeconds: round(c.wallSeconds, 2), wallRecordsPerSec: round(c.wallRecordsPerSec) })),
          medianWallSeconds: round(median(cliRuns.map((c) => c.wallSeconds)), 2),
          medianReportedRecordsPerSec: cliReported,
          medianWallRecordsPerSec: round(median(cliRuns.map((c) => c.wallRecordsPerSec))),
          medianDurationMs: median(cliRuns.map((c) => c.reportedDurationMs)),
          medianProcessingMs: median(cliRuns.map((c) => c.reportedProcessingMs)),
          medianFixedMs: median(cliRuns.map((c) => c.fixedMs)),
          medianProcessMs: median(cliRuns.map((c) => c.processMs)),
          target: { what: 'durationMs ≤ processingMs + 2,000 ms', met: median(cliRuns.map((c) => c.fixedMs)) <= 2000 },
        }
      : { missing: 'cli/replay.ts does not exist in this checkout' },
    runProcessor: {
      runs: kitRuns.map((k) => ({ recordsPerSec: round(k.recordsPerSec), seconds: round(k.seconds, 2), wallSeconds: round(k.wallSeconds, 2) })),
      medianRecordsPerSec: round(kitRate),
      medianWallSeconds: round(median(kitRuns.map((k) => k.wallSeconds)), 2),
    },
    ratioCliReportedToRunProcessor: cliExists ? round(cliReported / kitRate, 2) : null,
  };
}
