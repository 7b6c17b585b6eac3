// A real HTTP receiver for sink tests and the sink benchmark (node:http on 127.0.0.1): it records
// every request it reads whole (the Idempotency-Key, the headers, the body, when) and answers as
// the test's behaviour says — a status, a Retry-After, a late answer, or a connection reset.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receipt {
  key: string;
  /** The nth request with this key (1-based). */
  attempt: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() + performance.timeOrigin when the body was read: ms since the epoch, sub-ms. */
  at: number;
  /** What it was answered: a status, or 'reset' (the socket destroyed without an answer). */
  answer: number | 'reset';
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'reset';
export type Behaviour = (request: { key: string; attempt: number; body: string; headers: IncomingHttpHeaders }) => Answer;

export interface Receiver {
  url: string;
  receipts: Receipt[];
  /** Called after each receipt (tests wait on counts). */
  onReceipt?: (receipt: Receipt) => void;
  close(): Promise<void>;
}

export async function startReceiver(behaviour: Behaviour = () => ({ status: 200 }), path = '/hook'): Promise<Receiver> {
  const attempts = new Map<string, number>();
  const receiver: Receiver = { url: '', receipts: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const key = String(req.headers['idempotency-key'] ?? '');
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = behaviour({ key, attempt, body, headers: req.headers });
      const receipt: Receipt = { key, attempt, headers: req.headers, body, at, answer: answer === 'reset' ? 'reset' : answer.status };
      receiver.receipts.push(receipt);
      receiver.onReceipt?.(receipt);
      if (answer === 'reset') return void req.socket.destroy();
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** Each key with the number of requests that carried it. */
export function copiesByKey(receipts: Receipt[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of receipts) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
  return counts;
}
