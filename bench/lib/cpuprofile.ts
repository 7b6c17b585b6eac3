// Reading V8 CPU profiles (node --cpu-prof): self time per category and per function, over a
// time window (the profile's clock is the monotonic one of process.hrtime, which the children
// report at the edges of what is measured).
import { readFileSync } from 'node:fs';
import { repoRoot } from './context.js';
import { round } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export type Categories = Array<[string, (fn: string, url: string) => boolean]>;

export const processorCategories: Categories = [
  ['idle', (fn) => fn === '(idle)'],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  // JSON.parse is a builtin: V8 books its time to the function that calls it. lib/lazy-json.ts's
  // check for control characters is a regular expression, booked to itself.
  [
    'parsing the raw object (lib/lazy-json.ts: the scan, JSON.parse of the members read, the control-character check)',
    (fn, url) => fn === 'parseObject' || url.includes('/lib/lazy-json') || fn.startsWith('RegExp: [\\u0000-\\u001f]') || (url === '' && (fn === 'parse' || fn === 'JSONParse')),
  ],
  ['Avro (avsc): decode, encode, state values', (_fn, url) => url.includes('/avsc/')],
  ['sha256 (fingerprint, change ids)', (fn, url) => url.includes('internal/crypto') || fn === 'digest' || fn === 'update'],
  ['kafkajs protocol (record batches, CRC32C, varints, requests)', (_fn, url) => url.includes('/kafkajs/src/protocol/')],
  ['kafkajs client (consumer, producer, network)', (_fn, url) => url.includes('/kafkajs/')],
  ['processor code (processors/, lib/argo-workflow.ts, lib/raw-event.ts)', (_fn, url) => url.includes('/processors/') || url.includes('/lib/argo-workflow') || url.includes('/lib/raw-event')],
  ['runner (lib/kit)', (_fn, url) => url.includes('/lib/kit/')],
  ['logging and metrics (pino, prom-client)', (_fn, url) => url.includes('/pino') || url.includes('/prom-client/')],
  ['socket writes and buffer copies (native)', (fn, url) => url === '' && ['writeBuffer', 'writev', 'writeUtf8String', 'copy', 'byteLengthUtf8', 'utf8Write', 'compare'].includes(fn)],
  ['Node internals (streams, net, buffers, timers, zlib callbacks)', (_fn, url) => url.startsWith('node:')],
  ['native / V8 (program)', (fn) => fn === '(program)' || fn === '(root)'],
];

/** Self time by category and by function, over the samples between fromUs and toUs (monotonic µs). */
export function analyseProfile(file: string, fromUs: number, toUs: number, categories: Categories) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) continue;
    const next = profile.timeDeltas[i + 1] ?? delta;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + next);
    total += next;
  }
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const category = categories.find(([, match]) => match(fn, url))?.[0] ?? 'other';
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    // tsx-compiled TypeScript has no useful line numbers in the profile: the file alone.
    const path = url.replace(/^file:\/\//, '').replace(/^.*?\/node_modules\//, '').replace(`${repoRoot}/`, '');
    const where = !url ? '(native)' : path.endsWith('.ts') ? path : `${path}:${lineNumber + 1}`;
    const key = `${fn} ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const busy = total - (byCategory.get('idle') ?? 0);
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .filter(([k]) => !k.startsWith('(idle)') && k !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), shareOfBusy: round(us / busy, 3) }));
  return { sampledMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), idleShare: round((byCategory.get('idle') ?? 0) / total, 3), categories: list(byCategory, 20), topFunctions: list(byFunction, 20) };
}


/** The producer's: the same, plus its own code, the Kubernetes client and the registry client. */
export const producerCategories: Categories = [
  ['idle', (fn) => fn === '(idle)'],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['JSON.stringify of each object (producer/source.ts objectText)', (fn) => fn === 'objectText'],
  ['Kubernetes client (@kubernetes/client-node: HTTP, JSON.parse of list pages and watch lines)', (_fn, url) => url.includes('@kubernetes/client-node') || url.includes('/undici/') || url.includes('node-fetch') || url.includes('/ws/')],
  ['Avro (avsc) encode', (_fn, url) => url.includes('/avsc/')],
  ['registry client (@kafkajs/confluent-schema-registry)', (_fn, url) => url.includes('confluent-schema-registry')],
  ['sha256 (change ids)', (fn, url) => url.includes('internal/crypto') || fn === 'digest' || fn === 'update'],
  ['kafkajs protocol (record batches, CRC32C, varints, requests)', (_fn, url) => url.includes('/kafkajs/src/protocol/')],
  ['kafkajs client', (_fn, url) => url.includes('/kafkajs/')],
  ['producer code (producer/, lib/)', (_fn, url) => url.includes('/producer/') || url.includes('/lib/')],
  ['logging and metrics (pino, prom-client)', (_fn, url) => url.includes('/pino') || url.includes('/prom-client/')],
  ['socket writes and buffer copies (native)', (fn, url) => url === '' && ['writeBuffer', 'writev', 'writeUtf8String', 'copy', 'byteLengthUtf8', 'utf8Write', 'compare'].includes(fn)],
  ['Node internals (streams, net, TLS, buffers, timers, zlib callbacks)', (_fn, url) => url.startsWith('node:')],
  ['native / V8 (program)', (fn) => fn === '(program)' || fn === '(root)'],
];
