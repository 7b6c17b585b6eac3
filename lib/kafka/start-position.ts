// Where a read of a topic starts, in one syntax for `subscribe --from`, `replay --from` and `dlq
// redrive --from` (kcat's -o, plus times): the beginning, the end, an offset, the last N records of
// each partition, a time, or a time relative to now (`--since 1h`). Parsed once, resolved per
// partition against its first and end offsets and, for times, the broker's offset-by-time answer.
import parseDuration from 'parse-duration';

export type StartPosition =
  | { kind: 'beginning' }
  | { kind: 'end' }
  | { kind: 'offset'; offset: number }
  /** The last `count` records of each partition (kcat's -o -N). */
  | { kind: 'tail'; count: number }
  | { kind: 'time'; ms: number };

/** Epoch milliseconds from here on are times, smaller numbers offsets (10^12 ms is September 2001). */
const EPOCH_MS_FLOOR = 1e12;

export class StartPositionError extends Error {
  override name = 'StartPositionError';
}

/** A duration with a unit ('90s', '15m', '1h30m', '2d'): milliseconds, or undefined when it is not one. */
export function durationMs(text: string): number | undefined {
  const value = text.trim();
  if (!/^\d+(\.\d+)?\s*[a-zµ]+(\s*\d+(\.\d+)?\s*[a-zµ]+)*$/i.test(value)) return undefined;
  const ms = parseDuration(value);
  return ms === null || ms === undefined || !Number.isFinite(ms) ? undefined : ms;
}

const SYNTAX = "'beginning', 'end', an offset, -N (the last N of each partition), a time (ISO 8601 or epoch ms) or a duration ago (15m, 1h, 2d)";

/**
 * `beginning` | `end` | `<offset>` | `-<N>` | `<ISO time>` | `<epoch ms>` | `<duration>` (that long
 * ago) | explicit `offset:<n>` / `time:<t>`.
 */
export function parseStartPosition(text: string, now = Date.now()): StartPosition {
  const value = text.trim();
  if (value === '' || value === 'beginning' || value === 'earliest') return { kind: 'beginning' };
  if (value === 'end' || value === 'latest' || value === 'now') return { kind: 'end' };
  const offsetMatch = /^offset:(\d+)$/.exec(value);
  if (offsetMatch) return { kind: 'offset', offset: Number(offsetMatch[1]) };
  const tail = /^-(\d+)$/.exec(value);
  if (tail) return { kind: 'tail', count: Number(tail[1]) };
  const timeText = value.startsWith('time:') ? value.slice(5) : value;
  if (/^\d+$/.test(timeText)) {
    const n = Number(timeText);
    if (value.startsWith('time:') || n >= EPOCH_MS_FLOOR) return { kind: 'time', ms: n };
    return { kind: 'offset', offset: n };
  }
  const ago = durationMs(timeText);
  if (ago !== undefined) return { kind: 'time', ms: now - ago };
  const ms = Date.parse(timeText);
  if (Number.isNaN(ms)) throw new StartPositionError(`'${text}' is not ${SYNTAX}`);
  return { kind: 'time', ms };
}

/** `--since <duration>`: a start that long ago. */
export function parseSince(text: string, now = Date.now()): StartPosition {
  const ago = durationMs(text);
  if (ago === undefined) throw new StartPositionError(`'${text}' is not a duration such as 90s, 15m, 1h or 2d`);
  return { kind: 'time', ms: now - ago };
}

export function describeStart(position: StartPosition): string {
  switch (position.kind) {
    case 'beginning':
      return 'the beginning';
    case 'end':
      return 'the end';
    case 'offset':
      return `offset ${position.offset}`;
    case 'tail':
      return `the last ${position.count} of each partition`;
    case 'time':
      return new Date(position.ms).toISOString();
  }
}

/**
 * The offset a partition is read from, within [low, high]. `atTime` is the broker's first offset
 * at or after the position's time (fetchTopicOffsetsByTimestamp: high when there is none).
 */
export function startOffset(position: StartPosition, low: number, high: number, atTime?: number): number {
  let start: number;
  switch (position.kind) {
    case 'beginning':
      start = low;
      break;
    case 'end':
      start = high;
      break;
    case 'offset':
      start = position.offset;
      break;
    case 'tail':
      start = high - position.count;
      break;
    case 'time':
      start = atTime === undefined || atTime < 0 ? high : atTime;
      break;
  }
  return Math.min(Math.max(start, low), high);
}
