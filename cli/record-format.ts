// How `subscribe` and `dlq show` print a record: -o json | yaml | table | wide | raw. A record is
// decoded once into a Printed record (key, partition, offset, timestamp, headers, schema id and the
// value: Avro through the registry, JSON text as JSON, anything else as text or base64), then
// written in the chosen format. Tables pick their columns from the first record: workflow
// summaries, dead letters (the reason from the headers) or any record.
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { stringify as toYaml } from 'yaml';
import { DecodeError, wireSchemaId, type WriterSchemaDecoder } from '../lib/kafka/codec.js';
import { DLQ_HEADERS } from '../lib/kit/dead-letter.js';

export const outputFormats = ['json', 'yaml', 'table', 'wide', 'raw'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export interface PrintedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** ISO 8601, from the record's timestamp. */
  timestamp: string;
  key: string | null;
  headers: Record<string, string>;
  /** The registry id of the value's writer schema; null when the value is not in the wire format. */
  schemaId: number | null;
  /** null for a tombstone. */
  value: unknown;
  /** Why the value could not be decoded (it is then given as base64 in valueBase64). */
  decodeError?: string;
  valueBase64?: string;
}

export function headerText(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) result[name] = last.toString();
  }
  return result;
}

const printable = (text: string) => !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text);

/** A record's value as the registry's schema, JSON or text reads it. */
async function decodeValue(decoder: WriterSchemaDecoder, value: Buffer): Promise<Pick<PrintedRecord, 'schemaId' | 'value' | 'decodeError' | 'valueBase64'>> {
  const schemaId = wireSchemaId(value);
  if (schemaId !== -1) {
    try {
      return { schemaId, value: await decoder.decode(value) };
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      return { schemaId, value: null, decodeError: error.message, valueBase64: value.toString('base64') };
    }
  }
  const text = value.toString('utf8');
  try {
    return { schemaId: null, value: JSON.parse(text) as unknown };
  } catch {
    if (printable(text)) return { schemaId: null, value: text };
    return { schemaId: null, value: null, decodeError: 'neither the Confluent wire format, JSON nor text', valueBase64: value.toString('base64') };
  }
}

export async function printedRecord(decoder: WriterSchemaDecoder, topic: string, partition: number, message: KafkaMessage): Promise<PrintedRecord> {
  const decoded = message.value ? await decodeValue(decoder, message.value) : { schemaId: null, value: null };
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key ? message.key.toString('utf8') : null,
    headers: headerText(message.headers),
    ...decoded,
  };
}

// ---- tables ------------------------------------------------------------------------------------

type Row = Record<string, unknown>;
interface Column {
  title: string;
  width: number;
  cell: (r: PrintedRecord) => string;
  wideOnly?: boolean;
}

const value = (r: PrintedRecord) => (r.value && typeof r.value === 'object' ? (r.value as Row) : {});
/** A duration in ms as 45s or 3m07s. */
export const duration = (ms: unknown) => {
  if (typeof ms !== 'number') return '';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};
const compact = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x)) ?? 'null');

const position: Column[] = [
  { title: 'PARTITION', width: 9, cell: (r) => String(r.partition), wideOnly: true },
  { title: 'OFFSET', width: 8, cell: (r) => String(r.offset), wideOnly: true },
  { title: 'TIMESTAMP', width: 24, cell: (r) => r.timestamp, wideOnly: true },
  { title: 'SCHEMA', width: 6, cell: (r) => (r.schemaId === null ? '-' : String(r.schemaId)), wideOnly: true },
];

/** Workflow summaries (kubetrail.workflows.summary). */
export const summaryColumns: Column[] = [
  { title: 'WORKFLOW', width: 60, cell: (r) => `${String(value(r).namespace)}/${String(value(r).name)}` },
  { title: 'PHASE', width: 20, cell: (r) => String(value(r).deleted ? `${String(value(r).phase)} (deleted)` : value(r).phase) },
  { title: 'PROGRESS', width: 8, cell: (r) => String(value(r).progress ?? '') },
  { title: 'DURATION', width: 8, cell: (r) => duration(value(r).durationMs) },
  ...position,
  { title: 'MESSAGE', width: 0, cell: (r) => String(value(r).message ?? '').slice(0, 70) },
];

/** Dead letters: why, and where they came from. */
export const deadLetterColumns: Column[] = [
  { title: 'OFFSET', width: 8, cell: (r) => String(r.offset) },
  { title: 'REASON', width: 20, cell: (r) => r.headers[DLQ_HEADERS.reason] ?? '' },
  { title: 'SOURCE', width: 40, cell: (r) => `${r.headers[DLQ_HEADERS.topic] ?? '?'}[${r.headers[DLQ_HEADERS.partition] ?? '?'}]@${r.headers[DLQ_HEADERS.offset] ?? '?'}` },
  { title: 'DEAD-LETTERED', width: 24, cell: (r) => r.headers[DLQ_HEADERS.timestamp] ?? '' },
  { title: 'KEY', width: 40, cell: (r) => r.key ?? '', wideOnly: true },
  { title: 'ERROR', width: 0, cell: (r) => (r.headers[DLQ_HEADERS.error] ?? '').replace(/\s+/g, ' ').slice(0, 100) },
];

/** Any record. */
export const recordColumns: Column[] = [
  { title: 'PARTITION', width: 9, cell: (r) => String(r.partition) },
  { title: 'OFFSET', width: 8, cell: (r) => String(r.offset) },
  { title: 'TIMESTAMP', width: 24, cell: (r) => r.timestamp },
  { title: 'SCHEMA', width: 6, cell: (r) => (r.schemaId === null ? '-' : String(r.schemaId)), wideOnly: true },
  { title: 'HEADERS', width: 30, cell: (r) => Object.entries(r.headers).map(([k, v]) => `${k}=${v}`).join(',').slice(0, 30), wideOnly: true },
  { title: 'KEY', width: 40, cell: (r) => r.key ?? '<null>' },
  { title: 'VALUE', width: 0, cell: (r) => (r.decodeError ? `<undecodable: ${r.decodeError}>` : r.value === null ? '<tombstone>' : compact(r.value).slice(0, 100)) },
];

export function columnsFor(first: PrintedRecord): Column[] {
  if (first.headers[DLQ_HEADERS.reason] !== undefined) return deadLetterColumns;
  const v = value(first);
  if (typeof v.name === 'string' && 'phase' in v && 'progress' in v) return summaryColumns;
  return recordColumns;
}

function line(columns: Column[], cells: string[]): string {
  return columns.map((c, i) => (c.width > 0 ? (cells[i] ?? '').padEnd(c.width) : (cells[i] ?? ''))).join(' ').trimEnd();
}

/** Writes records in one format; a table's header comes with its first row. */
export class RecordPrinter {
  private columns: Column[] | undefined;

  constructor(
    private readonly format: OutputFormat,
    private readonly write: (text: string) => void = (text) => void process.stdout.write(text),
  ) {}

  print(record: PrintedRecord): void {
    switch (this.format) {
      case 'json':
        this.write(`${compact(record)}\n`);
        return;
      case 'raw':
        this.write(`${compact(record.value)}\n`);
        return;
      case 'yaml':
        this.write(`---\n${toYaml(JSON.parse(compact(record)) as unknown)}`);
        return;
      case 'table':
      case 'wide': {
        if (!this.columns) {
          this.columns = columnsFor(record).filter((c) => this.format === 'wide' || !c.wideOnly);
          this.write(`${line(this.columns, this.columns.map((c) => c.title))}\n`);
        }
        this.write(`${line(this.columns, this.columns.map((c) => c.cell(record)))}\n`);
      }
    }
  }
}
