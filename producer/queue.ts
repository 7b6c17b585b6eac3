// The bounded hand-off between the watch/list loops and the publisher. It never holds more than
// maxEvents items or maxBytes of object text (an item larger than maxBytes alone is let in when
// the queue is empty, so one huge object cannot wedge it). A watch cannot be slowed down, so a
// full queue makes the watch loop stop its watch and resume later from the last resourceVersion it
// queued (the API server re-sends the rest); a list is paged, so it simply waits for room.
import type { Operation } from '../lib/raw-event.js';
import type { ObjectMeta } from './mapping.js';

/** A change of one object: published (unless the operations filter says no) and indexed. */
export interface ChangeItem {
  type: 'change';
  scope: string;
  operation: Operation;
  inferred: boolean;
  meta: ObjectMeta;
  objectJson: string;
  observedAt: number;
  /** Publish to the raw topic (false: filtered out by the operations setting, still indexed). */
  publish: boolean;
  /** When set, the scope's checkpoint moves to this resourceVersion once the item is committed. */
  checkpoint?: string;
}

/** Progress without a record: a bookmark, an event filtered out by name, the end of a relist. */
export interface ProgressItem {
  type: 'progress';
  scope: string;
  checkpoint: string;
  reason: 'bookmark' | 'filtered' | 'relisted';
}

export type QueueItem = (ChangeItem | ProgressItem) & { seq?: number };

export const itemBytes = (item: QueueItem) => (item.type === 'change' ? item.objectJson.length + 256 : 64);

export class BoundedQueue {
  private items: QueueItem[] = [];
  private bytes = 0;
  private nextSeq = 1;
  private waiters: Array<() => void> = [];
  private roomWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    readonly maxEvents: number,
    readonly maxBytes: number,
  ) {}

  get length() {
    return this.items.length;
  }

  get size() {
    return this.bytes;
  }

  private fits(bytes: number) {
    if (this.length === 0) return true;
    return this.length < this.maxEvents && this.bytes + bytes <= this.maxBytes;
  }

  /** Adds the item if there is room; returns its sequence number, or undefined when full. */
  tryPush(item: QueueItem): number | undefined {
    if (this.closed) return undefined;
    const bytes = itemBytes(item);
    if (!this.fits(bytes)) return undefined;
    item.seq = this.nextSeq++;
    this.items.push(item);
    this.bytes += bytes;
    this.wake(this.waiters);
    return item.seq;
  }

  /** Adds the item, waiting for room (lists). Rejects when the queue is closed. */
  async push(item: QueueItem, signal?: AbortSignal): Promise<number> {
    for (;;) {
      if (this.closed || signal?.aborted) throw new Error('queue closed');
      const seq = this.tryPush(item);
      if (seq !== undefined) return seq;
      await this.waitForRoom(signal);
    }
  }

  private hasRoom() {
    return this.length <= this.maxEvents / 2 && this.bytes <= this.maxBytes / 2;
  }

  /** Resolves when the queue is at most half full (or closed). */
  waitForRoom(signal?: AbortSignal): Promise<void> {
    if (this.closed || this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.roomWaiters.push(done);
    });
  }

  /**
   * Takes up to maxItems items and about maxBytes (at least one item), waiting until there is
   * one (undefined once closed).
   */
  async take(maxItems: number, signal?: AbortSignal, maxBytes = Number.MAX_SAFE_INTEGER): Promise<QueueItem[] | undefined> {
    while (this.length === 0) {
      if (this.closed || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        signal?.addEventListener('abort', done, { once: true });
        this.waiters.push(done);
      });
    }
    let end = 0;
    let bytes = 0;
    while (end < this.items.length && end < maxItems) {
      const next = itemBytes(this.items[end]!);
      if (end > 0 && bytes + next > maxBytes) break;
      bytes += next;
      end += 1;
    }
    // Removed from the array, not just skipped: a consumed item must not stay reachable (at
    // 50 KB an object, a few hundred of them would be the memory the queue bound is meant to cap).
    const taken = this.items.splice(0, end);
    for (const item of taken) this.bytes -= itemBytes(item);
    if (this.hasRoom()) this.wake(this.roomWaiters);
    return taken;
  }

  /** The sequence number the next item will get (every item before it has a smaller one). */
  get lastSeq() {
    return this.nextSeq - 1;
  }

  close() {
    this.closed = true;
    this.items = [];
    this.bytes = 0;
    this.wake(this.waiters);
    this.wake(this.roomWaiters);
  }

  private wake(list: Array<() => void>) {
    const pending = list.splice(0);
    for (const resolve of pending) resolve();
  }
}
