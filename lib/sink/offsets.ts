// Which offset a sink may commit: the one after the longest run of finished records (delivered,
// filtered or dead-lettered) from the start of what it took. A record still being retried holds
// the commit back however many records after it are done, so a crash repeats it and nothing is lost.

export class OffsetTracker {
  /** Offsets taken and not finished, in the order taken (ascending within a partition). */
  private readonly pending = new Set<bigint>();
  private readonly finishedAhead = new Set<bigint>();
  /** The offset after the last one taken. */
  private end: bigint | undefined;
  /** What may be committed now (the next offset to read after a restart); undefined before anything finished. */
  committable: string | undefined;

  /** Records of a fetched batch, in offset order. */
  take(offsets: string[]): void {
    for (const offset of offsets) {
      const n = BigInt(offset);
      this.pending.add(n);
      this.end = n + 1n;
    }
  }

  /** A record is finished; returns true when the committable offset moved. */
  finish(offset: string): boolean {
    const n = BigInt(offset);
    if (!this.pending.has(n)) return false;
    const first = this.pending.values().next().value as bigint;
    if (n !== first) {
      this.finishedAhead.add(n);
      return false;
    }
    this.pending.delete(n);
    // Everything finished behind the first pending record goes with it.
    for (const next of this.pending) {
      if (!this.finishedAhead.has(next)) break;
      this.pending.delete(next);
      this.finishedAhead.delete(next);
    }
    const head = this.pending.values().next().value as bigint | undefined;
    this.committable = String(head ?? this.end!);
    return true;
  }

  /** Records taken and not finished. */
  get inFlight(): number {
    return this.pending.size;
  }
}
