// Bounds for Avro decoding. avsc trusts the counts and lengths written in the bytes: a map that
// declares 10^12 entries makes it loop 10^12 times, an array of 2×10^8 items allocates them all
// first — 40 bytes can stall a service or end it out of memory. Before a value is decoded, the
// walker compiled here reads the bytes the way the writer schema lays them out, without building
// anything, and checks every count and length against the bytes left: each string, bytes or fixed
// must fit, each array or map block may declare at most as many items as bytes are left (every
// item takes at least one byte, or is refused as a layout a record cannot need), each union
// branch and enum index must exist, and strings must be valid UTF-8 (avsc would silently turn bad
// sequences into U+FFFD, changing the data). A walk reads each byte at most once, so a check costs at most
// the record's size; a value that passes decodes in time and memory bounded by its size.
//
// The walkers are compiled once per schema (per writer schema id), not per record.
import { isUtf8 } from 'node:buffer';
import type avro from 'avsc';

/** A check of the bytes from `pos`: returns the position after the value, or throws BoundsError. */
type Walk = (buf: Buffer, pos: number) => number;

export class BoundsError extends Error {
  override name = 'BoundsError';
}

/** Reads a zig-zag varint (int or long); returns [value, next position]. */
function varint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new BoundsError('truncated varint');
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * shift;
    if ((byte & 0x80) === 0) {
      // zig-zag: even → n/2, odd → -(n+1)/2 (arithmetic on doubles: exact up to 2^53, huge after)
      const value = result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      return [value, pos];
    }
    shift *= 128;
  }
  throw new BoundsError('varint longer than 10 bytes');
}

/** Bytes a value of this type takes at the least (0 for null and empty records). */
function minBytes(type: avro.Type, seen = new Set<avro.Type>()): number {
  const t = underlying(type);
  if (seen.has(t)) return 1;
  seen.add(t);
  switch (t.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (t as unknown as { size: number }).size;
    case 'record':
    case 'error':
      return (t as avro.types.RecordType).fields.reduce((n, f) => n + minBytes(f.type, seen), 0);
    default:
      return 1;
  }
}

function underlying(type: avro.Type): avro.Type {
  const logical = (type as unknown as { underlyingType?: avro.Type }).underlyingType;
  return logical ?? type;
}

/** A length, then that many bytes; `utf8`: they must be valid UTF-8 (avsc would replace bad sequences with U+FFFD, silently). */
function lengthPrefixed(what: string, utf8: boolean): Walk {
  return (buf, pos) => {
    const [length, next] = varint(buf, pos);
    if (length < 0) throw new BoundsError(`${what} of negative length ${length}`);
    if (length > buf.length - next) throw new BoundsError(`${what} of ${length} bytes, ${buf.length - next} left`);
    if (utf8 && !isUtf8(buf.subarray(next, next + length))) throw new BoundsError(`${what} at byte ${next} is not valid UTF-8`);
    return next + length;
  };
}

/** Array and map blocks: a count (negative: followed by the block's byte size), items, then 0. */
function blocks(what: string, item: Walk, itemMin: number): Walk {
  return (buf, pos) => {
    for (;;) {
      let count: number;
      [count, pos] = varint(buf, pos);
      if (count === 0) return pos;
      if (count < 0) {
        count = -count;
        let size: number;
        [size, pos] = varint(buf, pos);
        if (size < 0 || size > buf.length - pos) throw new BoundsError(`${what} block of ${size} bytes, ${buf.length - pos} left`);
      }
      const left = buf.length - pos;
      if (count > left || count * itemMin > left) throw new BoundsError(`${what} of ${count} items, ${left} bytes left`);
      for (let i = 0; i < count; i++) pos = item(buf, pos);
    }
  };
}

function fixedBytes(n: number, what: string): Walk {
  return (buf, pos) => {
    if (n > buf.length - pos) throw new BoundsError(`${what} of ${n} bytes, ${buf.length - pos} left`);
    return pos + n;
  };
}

function compile(type: avro.Type, cache: Map<avro.Type, Walk>): Walk {
  const t = underlying(type);
  const known = cache.get(t);
  if (known) return known;
  // Recursive schemas: a forward reference resolved once the walker exists.
  let walk: Walk | undefined;
  cache.set(t, (buf, pos) => walk!(buf, pos));
  walk = build(t, cache);
  cache.set(t, walk);
  return walk;
}

function build(t: avro.Type, cache: Map<avro.Type, Walk>): Walk {
  switch (t.typeName) {
    case 'null':
      return (_buf, pos) => pos;
    case 'boolean':
      return fixedBytes(1, 'boolean');
    case 'int':
    case 'long':
      return (buf, pos) => varint(buf, pos)[1];
    case 'float':
      return fixedBytes(4, 'float');
    case 'double':
      return fixedBytes(8, 'double');
    case 'string':
      return lengthPrefixed('string', true);
    case 'bytes':
      return lengthPrefixed('bytes', false);
    case 'fixed':
      return fixedBytes((t as unknown as { size: number }).size, 'fixed');
    case 'enum': {
      const symbols = (t as unknown as { symbols: string[] }).symbols.length;
      return (buf, pos) => {
        const [index, next] = varint(buf, pos);
        if (index < 0 || index >= symbols) throw new BoundsError(`enum index ${index} of ${symbols} symbols`);
        return next;
      };
    }
    case 'array': {
      const items = (t as unknown as { itemsType: avro.Type }).itemsType;
      return blocks('array', compile(items, cache), Math.max(1, minBytes(items)));
    }
    case 'map': {
      const values = (t as unknown as { valuesType: avro.Type }).valuesType;
      const key = lengthPrefixed('map key', true);
      const value = compile(values, cache);
      return blocks('map', (buf, pos) => value(buf, key(buf, pos)), 1 + minBytes(values));
    }
    case 'record':
    case 'error': {
      const fields = (t as avro.types.RecordType).fields.map((f) => compile(f.type, cache));
      return (buf, pos) => {
        for (const field of fields) pos = field(buf, pos);
        return pos;
      };
    }
    default: {
      const branches = (t as unknown as { types?: avro.Type[] }).types;
      if (!branches) throw new Error(`no bounds walker for Avro type ${t.typeName}`);
      const walks = branches.map((b) => compile(b, cache));
      return (buf, pos) => {
        const [index, next] = varint(buf, pos);
        if (index < 0 || index >= walks.length) throw new BoundsError(`union branch ${index} of ${walks.length}`);
        return walks[index]!(buf, next);
      };
    }
  }
}

/**
 * The bounds check of values written with `type`: throws BoundsError naming the first count or
 * length the bytes cannot hold, or bytes left over after the value.
 */
export function compileBoundsCheck(type: avro.Type): (body: Buffer) => void {
  const walk = compile(type, new Map());
  return (body) => {
    const end = walk(body, 0);
    if (end !== body.length) throw new BoundsError(`${body.length - end} bytes left after the value`);
  };
}
