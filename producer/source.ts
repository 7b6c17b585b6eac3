// The list/watch loop of one scope (one namespace, or all namespaces with one watch). No informer
// and no cache of objects: each event is turned into a queue item (the object as JSON text) and
// forgotten; what the producer remembers is a resourceVersion per scope, plus, during a relist
// only, the index (uid → last published resourceVersion) read back from the state topic.
//
//   resume:  watch from the checkpoint's resourceVersion (allowWatchBookmarks): no flood on restart.
//   410:     the version was compacted (or the checkpoint is missing or from another selection):
//            relist. Unchanged objects (same resourceVersion as in the index) are not published,
//            new or changed ones are published as READ, objects in the index but not in the list
//            as DELETED with source.inferred = true. Then watch from the list's resourceVersion.
//   drop:    the watch connection ends (API server restart, timeout): watch again from the last
//            resourceVersion queued.
//   full:    the queue is full: stop the watch, wait for room, watch again from the last
//            resourceVersion queued (the API server re-sends the rest). Memory stays bounded.
import { Backoff, sleep } from '../lib/async.js';
import type { Logger } from '../lib/log.js';
import type { Operation } from '../lib/raw-event.js';
import type { ProducerConfig } from './config.js';
import { refusal, statusOf, type KubeSource } from './kube.js';
import { BadObjectError, inferredDeletion, metaOf, type ObjectMeta, type SourceContext } from './mapping.js';
import type { ProducerMetrics } from './metrics.js';
import type { BoundedQueue, ChangeItem, QueueItem } from './queue.js';
import { redactSecret } from './redact.js';
import { allNamespaces, type IndexEntry } from './state.js';

type Json = Record<string, unknown>;

export interface ScopeDeps {
  config: ProducerConfig;
  kube: KubeSource;
  queue: BoundedQueue;
  ctx: SourceContext;
  metrics: ProducerMetrics;
  logger: Logger;
  /** Reads the index entries of the state topic for which `want` is true (a relist only). */
  loadIndex(want: (entry: IndexEntry) => boolean): Promise<Map<string, IndexEntry>>;
  /** Resolves once every queue item up to `seq` is committed. */
  committed(seq: number): Promise<void>;
  signal: AbortSignal;
}

type WatchOutcome =
  | { kind: 'expired' }
  | { kind: 'closed' }
  | { kind: 'timeout' }
  | { kind: 'full' }
  | { kind: 'aborted' }
  | { kind: 'error'; error: unknown };

export type RelistReason = 'first_start' | 'expired' | 'selection_changed';

export class RelistRestart extends Error {}

export class ScopeWatcher {
  /** The resourceVersion the next watch starts from (undefined: relist first). */
  resumeRv: string | undefined;
  /** Sequence number of the last item this scope queued. */
  private lastSeq = 0;
  /** True while a watch is established (for readiness). */
  watching = false;
  private everWatched = false;
  private readonly operations: Set<string>;
  private readonly log: Logger;

  constructor(
    readonly scope: string,
    startRv: string | undefined,
    private relistReason: RelistReason,
    private readonly deps: ScopeDeps,
  ) {
    this.resumeRv = startRv;
    this.operations = new Set(deps.config.operations);
    this.log = deps.logger.child({ scope });
  }

  private get namespace(): string | undefined {
    return this.scope === allNamespaces ? undefined : this.scope;
  }

  private inScope = (entry: IndexEntry) => this.scope === allNamespaces || entry.namespace === this.scope;

  private nameSelected(name: string) {
    return !this.deps.config.namePrefix || name.startsWith(this.deps.config.namePrefix);
  }

  /** The object as JSON text, Secret values redacted, apiVersion/kind filled when a list omits them. */
  private objectText(object: Json, meta: ObjectMeta): string {
    redactSecret(this.deps.ctx.group, this.deps.ctx.resource, object);
    if (object.apiVersion === undefined || object.kind === undefined) {
      const apiVersion = this.deps.ctx.group ? `${this.deps.ctx.group}/${this.deps.ctx.version}` : this.deps.ctx.version;
      return JSON.stringify({ apiVersion, kind: meta.kind, ...object });
    }
    return JSON.stringify(object);
  }

  private changeItem(operation: Operation, object: Json, meta: ObjectMeta, checkpoint: string | undefined, observedAt: number): ChangeItem {
    return {
      type: 'change',
      scope: this.scope,
      operation,
      inferred: false,
      meta,
      objectJson: this.objectText(object, meta),
      observedAt,
      publish: this.operations.has(operation),
      checkpoint,
    };
  }

  async run(): Promise<void> {
    const { signal, metrics } = this.deps;
    // Between failed lists or watches: 250 ms doubling to 5 s (with jitter), reset by a watch that ends normally.
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    while (!signal.aborted) {
      if (this.resumeRv === undefined) {
        try {
          await this.relist(this.relistReason);
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof RelistRestart) continue;
          // Kafka (reading the index) or a bug: the session ends and starts over from the state.
          if (isKafkaError(error) || (statusOf(error) === undefined && !isNetworkError(error))) throw error;
          const refused = refusal(this.deps.kube.info, 'list', this.namespace, error);
          if (refused) this.log.error({ err: error }, `${refused}; retrying`);
          else this.log.warn({ err: error }, 'relist failed; retrying');
          await sleep(backoff.next(), signal);
          continue;
        }
      }
      const outcome = await this.watchOnce(this.resumeRv!);
      this.watching = false;
      if (outcome.kind === 'aborted' || signal.aborted) return;
      metrics.watchRestarts.inc({ reason: outcome.kind });
      switch (outcome.kind) {
        case 'expired':
          this.log.info({ resourceVersion: this.resumeRv }, 'watch expired (410 Gone): relisting');
          this.resumeRv = undefined;
          this.relistReason = 'expired';
          backoff.reset();
          break;
        case 'closed':
        case 'timeout':
          this.log.debug({ resourceVersion: this.resumeRv, outcome: outcome.kind }, 'watch ended; watching again');
          backoff.reset();
          break;
        case 'full':
          this.log.info({ resourceVersion: this.resumeRv, queued: this.deps.queue.length }, 'queue full: watch paused until the publisher catches up');
          await this.deps.queue.waitForRoom(signal);
          break;
        case 'error':
          this.log.warn(
            { err: outcome.error, resourceVersion: this.resumeRv },
            `${refusal(this.deps.kube.info, 'watch', this.namespace, outcome.error) ?? 'watch failed'}; watching again`,
          );
          await sleep(backoff.next(), signal);
          break;
      }
    }
  }

  private push(item: QueueItem): boolean {
    const seq = this.deps.queue.tryPush(item);
    if (seq === undefined) return false;
    this.lastSeq = seq;
    return true;
  }

  private watchOnce(resourceVersion: string): Promise<WatchOutcome> {
    const { kube, config, metrics, signal } = this.deps;
    return new Promise<WatchOutcome>((resolve) => {
      let controller: AbortController | undefined;
      let finished = false;
      const end = (outcome: WatchOutcome) => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        controller?.abort();
        resolve(outcome);
      };
      const onAbort = () => end({ kind: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });

      const onEvent = (type: string, raw: unknown) => {
        if (finished) return;
        this.watching = true;
        const observedAt = Date.now();
        const object = (raw ?? {}) as Json;
        if (type === 'BOOKMARK') {
          const rv = (object.metadata as Json | undefined)?.resourceVersion;
          metrics.eventsSeen.inc({ operation: 'BOOKMARK' });
          if (typeof rv !== 'string' || rv === this.resumeRv) return;
          if (!this.push({ type: 'progress', scope: this.scope, checkpoint: rv, reason: 'bookmark' })) return end({ kind: 'full' });
          this.resumeRv = rv;
          return;
        }
        if (type === 'ERROR') {
          const code = typeof object.code === 'number' ? object.code : undefined;
          if (code === 410) return end({ kind: 'expired' });
          return end({ kind: 'error', error: new Error(`watch error event: ${JSON.stringify(object).slice(0, 300)}`) });
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') {
          this.log.warn({ type }, 'unknown watch event type ignored');
          return;
        }
        let meta: ObjectMeta;
        try {
          meta = metaOf(object, this.deps.ctx.kind);
        } catch (error) {
          if (!(error instanceof BadObjectError)) throw error;
          this.log.error({ err: error, type }, 'watch event without an object identity: skipped');
          return;
        }
        metrics.eventsSeen.inc({ operation: type });
        let item: QueueItem;
        if (!this.nameSelected(meta.name)) {
          metrics.eventsSkipped.inc({ reason: 'name_prefix' });
          item = { type: 'progress', scope: this.scope, checkpoint: meta.resourceVersion, reason: 'filtered' };
        } else {
          item = this.changeItem(type, object, meta, meta.resourceVersion, observedAt);
          if (!item.publish) metrics.eventsSkipped.inc({ reason: 'operation_filter' });
        }
        if (!this.push(item)) return end({ kind: 'full' });
        this.resumeRv = meta.resourceVersion;
      };

      const onDone = (error: unknown) => {
        if (finished) return;
        if (signal.aborted) return end({ kind: 'aborted' });
        if (error === null || error === undefined) return end({ kind: 'closed' });
        if (statusOf(error) === 410) return end({ kind: 'expired' });
        if ((error as Error).name === 'TimeoutError') return end({ kind: 'timeout' });
        end({ kind: 'error', error });
      };

      const jitter = Math.floor(config.watchTimeoutSeconds * (0.8 + Math.random() * 0.4));
      kube.watch(this.namespace, resourceVersion, jitter, onEvent, onDone).then(
        (c) => {
          controller = c;
          if (finished) c.abort();
          else {
            this.watching = true; // the server answered 200: the watch is established
            if (!this.everWatched) this.log.info({ resourceVersion }, 'watching');
            this.everWatched = true;
          }
        },
        (error: unknown) => end({ kind: 'error', error }),
      );
    });
  }

  /** Lists the scope and reconciles it with the index (see the file comment). */
  async relist(reason: RelistReason): Promise<void> {
    const { kube, config, queue, metrics, signal, ctx } = this.deps;
    metrics.relists.inc({ reason });
    const began = Date.now();
    // The index must include everything this scope queued before, or a change still in the
    // queue would be taken for a deletion or published again.
    await this.deps.committed(this.lastSeq);
    const index = await this.deps.loadIndex(this.inScope);
    const indexed = index.size;
    let listRv: string | undefined;
    let continueToken: string | undefined;
    let listed = 0;
    let published = 0;
    const enqueue = async (item: QueueItem) => {
      this.lastSeq = await queue.push(item, signal);
    };
    do {
      let page;
      try {
        page = await kube.listPage(this.namespace, config.listPageSize, continueToken, signal);
      } catch (error) {
        if (statusOf(error) === 410 && continueToken) {
          // The list's snapshot expired between pages: start over (what was queued stays valid).
          this.log.warn('list continuation expired (410): listing again');
          throw new RelistRestart();
        }
        throw error;
      }
      listRv ??= page.resourceVersion;
      for (const raw of page.items) {
        const object = raw as Json;
        let meta: ObjectMeta;
        try {
          meta = metaOf(object, ctx.kind);
        } catch (error) {
          if (!(error instanceof BadObjectError)) throw error;
          this.log.error({ err: error }, 'listed object without identity: skipped');
          continue;
        }
        if (!this.nameSelected(meta.name)) continue;
        listed += 1;
        metrics.eventsSeen.inc({ operation: 'READ' });
        const known = index.get(meta.uid);
        index.delete(meta.uid);
        if (known?.resourceVersion === meta.resourceVersion) {
          metrics.eventsSkipped.inc({ reason: 'unchanged' });
          continue;
        }
        await enqueue(this.changeItem('READ', object, meta, undefined, Date.now()));
        published += 1;
      }
      continueToken = page.continueToken;
    } while (continueToken && !signal.aborted);
    if (signal.aborted || listRv === undefined) return;
    // Whatever the index has and the list has not was deleted (or left the selection) while no
    // watch was running.
    for (const [uid, entry] of index) {
      metrics.eventsSeen.inc({ operation: 'DELETED_INFERRED' });
      const { meta, objectJson } = inferredDeletion(ctx, { uid, ...entry }, listRv);
      await enqueue({
        type: 'change',
        scope: this.scope,
        operation: 'DELETED',
        inferred: true,
        meta,
        objectJson,
        observedAt: Date.now(),
        publish: this.operations.has('DELETED'),
      });
    }
    await enqueue({ type: 'progress', scope: this.scope, checkpoint: listRv, reason: 'relisted' });
    this.log.info(
      { reason, resourceVersion: listRv, listed, indexed, read: published, unchanged: listed - published, inferredDeleted: index.size, ms: Date.now() - began },
      'relisted',
    );
    this.resumeRv = listRv;
  }
}

export function isKafkaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.startsWith('KafkaJS');
}

/** Errors of the connection to the API server (refused, reset, TLS, DNS) rather than of the program. */
export function isNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; name?: unknown; cause?: unknown; message?: unknown };
  if (typeof e.code === 'string' && /^(E[A-Z]+|UND_ERR.*|ERR_SSL.*|CERT.*)$/.test(e.code)) return true;
  if (e.name === 'FetchError' || e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  if (typeof e.message === 'string' && /fetch failed|socket hang up|ECONNREFUSED|ECONNRESET/.test(e.message)) return true;
  return e.cause !== undefined && isNetworkError(e.cause);
}
