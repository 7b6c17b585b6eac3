// The sink runner's pure parts and the notify sink's bodies: commit offsets held back by an
// unfinished record, HTTP outcomes classified against a real node:http receiver (Idempotency-Key
// on every request, Retry-After read, the URL in no error), the rate limit, notify's filters and
// its Slack message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetTracker } from '../../lib/sink/offsets.js';
import { parseRetryAfter, postDelivery } from '../../lib/sink/http.js';
import { RateLimiter } from '../../lib/sink/rate-limit.js';
import { DeliveryError } from '../../lib/sink/sink.js';
import { compileFilters } from '../../sinks/notify/filters.js';
import { compileLinkTemplate, formatDuration, slackMessage } from '../../sinks/notify/formats.js';
import { summarize } from '../../processors/workflow-summary/summary.js';
import { startReceiver } from '../support/receiver.js';
import { completedEvent } from '../support/sink-fixtures.js';

describe('offset tracker', () => {
  it('commits only past records that all finished, whatever order they finish in', () => {
    const t = new OffsetTracker();
    t.take(['10', '11', '12', '13']);
    assert.equal(t.finish('12'), false);
    assert.equal(t.finish('11'), false);
    assert.equal(t.committable, undefined);
    assert.equal(t.finish('10'), true);
    assert.equal(t.committable, '13'); // 13 is still in flight
    assert.equal(t.finish('13'), true);
    assert.equal(t.committable, '14');
    assert.equal(t.inFlight, 0);
    assert.equal(t.finish('13'), false, 'a second finish changes nothing');
  });
});

describe('HTTP delivery', () => {
  it('classifies answers, sends the Idempotency-Key, reads Retry-After, keeps the URL out of errors', async () => {
    const answers = [{ status: 204 }, { status: 500, body: 'oops' }, { status: 429, headers: { 'retry-after': '7' } }, { status: 408 }, { status: 400, body: 'no' }, { status: 404 }, 'reset' as const, { status: 200, delayMs: 300 }];
    let n = 0;
    const receiver = await startReceiver(() => answers[n++]!, '/hook/s3cr3t-path');
    try {
      const outcomes: Array<string> = [];
      for (let i = 0; i < answers.length; i++) {
        try {
          await postDelivery({ url: receiver.url, body: '{}', headers: { 'content-type': 'application/json' }, eventId: `id-${i}`, timeoutMs: 150 });
          outcomes.push('ok');
        } catch (error) {
          assert.ok(error instanceof DeliveryError);
          assert.equal(error.message.includes('s3cr3t'), false);
          outcomes.push(`${error.permanent ? 'permanent' : 'retry'}${error.retryAfterMs !== undefined ? ` after ${error.retryAfterMs}` : ''}: ${error.response}`);
        }
      }
      assert.deepEqual(outcomes, [
        'ok',
        'retry: HTTP 500 Internal Server Error: oops',
        'retry after 7000: HTTP 429 Too Many Requests: ',
        'retry: HTTP 408 Request Timeout: ',
        'permanent: HTTP 400 Bad Request: no',
        'permanent: HTTP 404 Not Found: ',
        'retry: no response: UND_ERR_SOCKET',
        'retry: no response within 150 ms',
      ]);
      assert.deepEqual(receiver.receipts.map((r) => r.key), answers.map((_, i) => `id-${i}`));
    } finally {
      await receiver.close();
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.UTC(2015, 9, 21, 7, 28, 0)), 10_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});

describe('rate limit', () => {
  it('spaces takes past the burst at the rate', async () => {
    const limiter = new RateLimiter(20, 2);
    const began = performance.now();
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      await limiter.take();
      times.push(performance.now() - began);
    }
    // 2 at once, then one each 50 ms: the 4th no sooner than 100 ms (a lower bound, not a speed target).
    assert.ok(times[3]! >= 95, `spaced: ${times.map(Math.round).join(', ')}`);
  });
});

describe('notify', () => {
  const failed = summarize(completedEvent('wf-a', 1, true), { labels: [] });

  it('filters by namespace, label and phase', () => {
    const labels = { team: 'sinks' };
    assert.equal(compileFilters({ namespaces: [], labels: [], phases: [] })(failed, labels), true);
    assert.equal(compileFilters({ namespaces: ['other'], labels: [], phases: [] })(failed, labels), false);
    assert.equal(compileFilters({ namespaces: ['sink-test'], labels: ['team=sinks'], phases: ['Failed'] })(failed, labels), true);
    assert.equal(compileFilters({ namespaces: [], labels: ['team=other'], phases: [] })(failed, labels), false);
    assert.equal(compileFilters({ namespaces: [], labels: [], phases: ['Succeeded'] })(failed, labels), false);
    assert.throws(() => compileFilters({ namespaces: [], labels: ['team'], phases: [] }), /not key=value/);
  });

  it('builds the Slack message: workflow, namespace, phase, message, failed steps with exit codes, duration, the Argo link', () => {
    const link = compileLinkTemplate('https://argo.example.com/workflows/{namespace}/{name}?uid={uid}')(failed);
    assert.equal(link, 'https://argo.example.com/workflows/sink-test/wf-a?uid=uid-wf-a');
    assert.deepEqual(slackMessage(failed, link), {
      text: 'Workflow sink-test/wf-a Failed',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Failed: sink-test/wf-a' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Workflow*\n<https://argo.example.com/workflows/sink-test/wf-a?uid=uid-wf-a|wf-a>' },
            { type: 'mrkdwn', text: '*Namespace*\nsink-test' },
            { type: 'mrkdwn', text: '*Phase*\n:x: Failed' },
            { type: 'mrkdwn', text: '*Duration*\n1m 6s' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*Message*\nchild failed' } },
        { type: 'section', text: { type: 'mrkdwn', text: '*Failed steps*\n• `main` (exit code 3): Error (exit code 3)' } },
        { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Argo' }, url: 'https://argo.example.com/workflows/sink-test/wf-a?uid=uid-wf-a' }] },
      ],
    });
    assert.equal(formatDuration(3_725_000), '1h 2m 5s');
    assert.equal(compileLinkTemplate(undefined)(failed), undefined);
  });
});
