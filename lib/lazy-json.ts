// JSON.parse of an object whose bulkiest members are parsed only when read. A workflow's
// status.nodes is two thirds of its bytes, and most processors never read it or need only to know
// that no node failed: building its objects was half the summary processor's time. The text is
// still checked whole, at once, so parseLazily throws exactly when JSON.parse would (with
// JSON.parse's own error) and a member read later cannot fail.
//
// How: a validating scanner walks the text (strings are jumped over with indexOf), members on a
// lazy path keep their text, every other member is handed to JSON.parse. A lazy member is an
// accessor that parses its text on first read and then becomes a plain value, so code that reads
// it sees what JSON.parse gives. Text the scanner does not take (a control character anywhere,
// anything but one JSON object, invalid JSON) goes to JSON.parse whole, which answers for it.

/** Members to leave unparsed: a key maps to true (its value), or to the same shape for an object value. */
export interface LazyPaths {
  readonly [key: string]: true | LazyPaths;
}

/** A lazy member not read yet: its text and, for an object, where each of its members lies in it. */
interface Unparsed {
  text: string;
  /** Per member of an object value: the offset of its key and the offset just past its value. */
  spans: number[];
}

/** The lazy members not read yet, per object. */
const pending = new WeakMap<object, Map<string, Unparsed>>();

function unparsed(object: unknown, key: string): Unparsed | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  return pending.get(object)?.get(key);
}

/** The text of `object[key]` while it has not been parsed (undefined once read, or when it was not lazy). */
export function unparsedMember(object: unknown, key: string): string | undefined {
  return unparsed(object, key)?.text;
}

/**
 * More members found than this: parse the whole object instead. Each member found costs a pass
 * over every member's key for a repeat of its own, so a text where thousands hold a needle (a big
 * workflow whose steps all failed) would cost millions of comparisons, more than one parse.
 */
const MOST_MEMBERS_PICKED = 8;

/**
 * Of the unparsed object `object[key]`, the members whose text (key or value) contains one of
 * `needles`, parsed, in order; the rest stay unparsed. The needles are found with indexOf, so
 * picking a few members out of thousands costs about one search of the text. Undefined (read the
 * whole member instead) when `object[key]` is not an unparsed object, when more than
 * MOST_MEMBERS_PICKED are found, when the text has a backslash, or when a member found has a key
 * that appears again: JSON.parse keeps a repeated key's last value, which may be in a member
 * without a needle.
 */
export function membersContaining(object: unknown, key: string, needles: readonly string[]): Record<string, unknown> | undefined {
  const member = unparsed(object, key);
  if (!member || member.text.charCodeAt(0) !== OPEN_BRACE) return undefined;
  const { text, spans } = member;
  const found = new Set<number>();
  for (const needle of needles) {
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      const index = spanAt(spans, at);
      if (index >= 0) found.add(index);
    }
  }
  if (found.size === 0) return {};
  if (found.size > MOST_MEMBERS_PICKED) return undefined;
  // The text was checked when it was parsed: the scanner only finds where keys and values end.
  const scanner = new Scanner(text);
  // With a backslash in the text a key can be spelt two ways; without one, a repeat is its own text.
  if (scanner.backslashAhead()) return undefined;
  const result: Record<string, unknown> = {};
  for (const index of [...found].sort((a, b) => a - b)) {
    const keyStart = spans[2 * index]!;
    const keyEnd = scanner.string(keyStart);
    if (keyRepeats(text, spans, keyStart, keyEnd)) return undefined;
    const valueStart = scanner.colon(keyEnd);
    setMember(result, text.slice(keyStart + 1, keyEnd - 1), JSON.parse(text.slice(valueStart, spans[2 * index + 1])));
  }
  return result;
}

/** True when the key at keyStart..keyEnd (a text without backslashes) is also the key of another member. */
function keyRepeats(text: string, spans: number[], keyStart: number, keyEnd: number): boolean {
  // The members' keys, not the whole text: a node's id is also in its value and in its parent's
  // children, and a search of the text to its end per member found was most of this function's
  // cost. Without backslashes a key ends at its first quote, so a key of the same length (its
  // closing quote at the same distance) that starts with the same text is the same key.
  const quoted = text.slice(keyStart, keyEnd);
  const lastQuote = keyEnd - keyStart - 1;
  for (let i = 0; i < spans.length; i += 2) {
    const start = spans[i]!;
    if (start !== keyStart && text.charCodeAt(start + lastQuote) === QUOTE && text.startsWith(quoted, start)) return true;
  }
  return false;
}

/** The index of the member span holding offset `at`, or -1 (a binary search: spans are in order). */
function spanAt(spans: number[], at: number): number {
  let low = 0;
  let high = spans.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (at < spans[2 * middle]!) high = middle - 1;
    else if (at >= spans[2 * middle + 1]!) low = middle + 1;
    else return middle;
  }
  return -1;
}

/** JSON.parse(text), with the members at `paths` parsed on first read. Throws what JSON.parse throws. */
export function parseLazily(text: string, paths: LazyPaths): unknown {
  // Compact JSON (Go's encoder, JSON.stringify) has no raw control characters; other text, and
  // strings holding one (invalid JSON), are JSON.parse's to judge.
  if (CONTROL.test(text)) return JSON.parse(text);
  try {
    const scanner = new Scanner(text);
    let i = scanner.space(0);
    if (text.charCodeAt(i) !== OPEN_BRACE) return JSON.parse(text);
    const object: Record<string, unknown> = {};
    i = scanner.members(i, paths, object);
    if (scanner.space(i) !== text.length) return JSON.parse(text);
    return object;
  } catch {
    // Invalid JSON: JSON.parse gives the answer and its error.
    return JSON.parse(text);
  }
}

const CONTROL = /[\u0000-\u001f]/;
/** The rest of a string that holds escapes, up to and including its closing quote. */
const ESCAPED_STRING_REST = /(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DOT = 0x2e;
const PLUS = 0x2b;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

class InvalidJson extends Error {
  override name = 'InvalidJson';
}

class Scanner {
  /** The first backslash at or after the scan position (text.length: none left). */
  private nextBackslash: number;

  constructor(private readonly text: string) {
    this.nextBackslash = this.backslashFrom(0);
  }

  /** True when a backslash lies at or after the scan position (the constructor looked for the first). */
  backslashAhead(): boolean {
    return this.nextBackslash < this.text.length;
  }

  private backslashFrom(i: number): number {
    const at = this.text.indexOf('\\', i);
    return at < 0 ? this.text.length : at;
  }

  /** Past the spaces at i (only ' ': parseLazily lets no other whitespace in). */
  space(i: number): number {
    while (this.text.charCodeAt(i) === SPACE) i++;
    return i;
  }

  private expect(i: number, code: number): number {
    if (this.text.charCodeAt(i) !== code) throw new InvalidJson();
    return i + 1;
  }

  /** Past the number at i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? (a regular expression costs more per number). */
  number(i: number): number {
    const text = this.text;
    if (text.charCodeAt(i) === MINUS) i++;
    // No leading zero: 0 alone, or digits from 1-9 on.
    i = text.charCodeAt(i) === DIGIT_0 ? i + 1 : this.digits(i);
    if (text.charCodeAt(i) === DOT) i = this.digits(i + 1);
    const c = text.charCodeAt(i);
    if (c === LOWER_E || c === UPPER_E) {
      const sign = text.charCodeAt(i + 1);
      i = this.digits(sign === PLUS || sign === MINUS ? i + 2 : i + 1);
    }
    return i;
  }

  /** Past the digits at i (at least one). */
  private digits(i: number): number {
    const text = this.text;
    let c = text.charCodeAt(i);
    if (!(c >= DIGIT_0 && c <= DIGIT_9)) throw new InvalidJson();
    do c = text.charCodeAt(++i);
    while (c >= DIGIT_0 && c <= DIGIT_9);
    return i;
  }

  /** Past the string that opens at i. */
  string(i: number): number {
    const text = this.text;
    if (text.charCodeAt(i) !== QUOTE) throw new InvalidJson();
    const close = text.indexOf('"', i + 1);
    if (close < 0) throw new InvalidJson();
    if (this.nextBackslash > close) return close + 1;
    ESCAPED_STRING_REST.lastIndex = i + 1;
    if (!ESCAPED_STRING_REST.test(text)) throw new InvalidJson();
    const end = ESCAPED_STRING_REST.lastIndex;
    this.nextBackslash = this.backslashFrom(end);
    return end;
  }

  /**
   * Past the value at i, checked against JSON's grammar without building it. When it is an object
   * and `spans` is given, each member's key offset and the offset past its value go there.
   */
  value(i: number, spans?: number[]): number {
    // One loop with everything inlined: this walks most of the text, token by token.
    const text = this.text;
    /** Open containers, innermost last: true for an object. */
    const open: boolean[] = [];
    let c = text.charCodeAt(i);
    for (;;) {
      // A value starts at i (spaces skipped), c its first character.
      while (c === SPACE) c = text.charCodeAt(++i);
      if (c === QUOTE) {
        i = this.string(i);
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const isObject = c === OPEN_BRACE;
        do c = text.charCodeAt(++i);
        while (c === SPACE);
        if (c === (isObject ? CLOSE_BRACE : CLOSE_BRACKET)) i++;
        else {
          open.push(isObject);
          if (isObject) {
            if (spans && open.length === 1) spans.push(i);
            i = this.key(i);
            c = text.charCodeAt(i);
          }
          continue;
        }
      } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
        i = this.number(i);
      } else if (text.startsWith('true', i) || text.startsWith('null', i)) i += 4;
      else if (text.startsWith('false', i)) i += 5;
      else throw new InvalidJson();
      // After a value: close containers, or go on to the next element.
      for (;;) {
        if (open.length === 0) return i;
        c = text.charCodeAt(i);
        while (c === SPACE) c = text.charCodeAt(++i);
        const inObject = open[open.length - 1];
        const member = spans && open.length === 1 && inObject;
        if (member && (c === COMMA || c === CLOSE_BRACE)) spans.push(i);
        if (c === COMMA) {
          c = text.charCodeAt(++i);
          if (inObject) {
            while (c === SPACE) c = text.charCodeAt(++i);
            if (member) spans.push(i);
            i = this.key(i);
            c = text.charCodeAt(i);
          }
          break;
        }
        if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) throw new InvalidJson();
        open.pop();
        i++;
      }
    }
  }

  /** Past a member's key and its colon (and the spaces around them), from i. */
  key(i: number): number {
    // Inlined rather than colon(string(space(i))): this runs for every key of the text.
    const text = this.text;
    while (text.charCodeAt(i) === SPACE) i++;
    i = this.string(i);
    while (text.charCodeAt(i) === SPACE) i++;
    if (text.charCodeAt(i) !== COLON) throw new InvalidJson();
    i++;
    while (text.charCodeAt(i) === SPACE) i++;
    return i;
  }

  /** Past the colon after a member's key (and the spaces around it), from the end of the key. */
  colon(i: number): number {
    i = this.space(i);
    if (this.text.charCodeAt(i) !== COLON) throw new InvalidJson();
    return this.space(i + 1);
  }

  /** The members of the object that opens at i into `into`, lazy where `paths` says; returns the index past it. */
  members(i: number, paths: LazyPaths, into: Record<string, unknown>): number {
    const text = this.text;
    i = this.space(i + 1);
    if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
    for (;;) {
      const escapesFrom = this.nextBackslash;
      const keyEnd = this.string(i);
      const key = escapesFrom < keyEnd ? (JSON.parse(text.slice(i, keyEnd)) as string) : text.slice(i + 1, keyEnd - 1);
      i = this.colon(keyEnd);
      const path = Object.hasOwn(paths, key) ? paths[key] : undefined;
      if (path === true) {
        const spans: number[] = [];
        const end = this.value(i, spans);
        // Spans are kept relative to the member's own text.
        for (let k = 0; k < spans.length; k++) spans[k]! -= i;
        setLazyMember(into, key, { text: text.slice(i, end), spans });
        i = end;
      } else if (path !== undefined && text.charCodeAt(i) === OPEN_BRACE) {
        const inner: Record<string, unknown> = {};
        i = this.members(i, path, inner);
        setMember(into, key, inner);
      } else {
        const end = this.value(i);
        setMember(into, key, JSON.parse(text.slice(i, end)));
        i = end;
      }
      i = this.space(i);
      const next = text.charCodeAt(i);
      if (next === CLOSE_BRACE) return i + 1;
      i = this.space(this.expect(i, COMMA));
    }
  }
}

/** As JSON.parse sets a member: `__proto__` too is an own property, and a repeated key keeps its first place with its last value. */
function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  pending.get(object)?.delete(key);
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

function setLazyMember(object: Record<string, unknown>, key: string, member: Unparsed): void {
  let members = pending.get(object);
  if (!members) {
    members = new Map();
    pending.set(object, members);
  }
  members.set(key, member);
  Object.defineProperty(object, key, {
    enumerable: true,
    configurable: true,
    get() {
      const value = JSON.parse(member.text) as unknown;
      setMember(object, key, value);
      return value;
    },
    set(value: unknown) {
      setMember(object, key, value);
    },
  });
}
