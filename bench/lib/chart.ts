// The chart of a run (bench/results/latest.svg): a hand-written SVG (no chart library: vega /
// vega-lite would add dependencies to package.json for one picture) of horizontal bar panels —
// throughput of every pass against its references, latency percentiles per rate, scaling.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

interface Bar {
  label: string;
  value: number;
  text: string;
  color: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const colors = { processor: '#3b6fb6', bare: '#8aa9d6', tool: '#c9822b', p50: '#3b6fb6', p95: '#8aa9d6', p99: '#c9822b', scale: '#4f9a5a' };

function panel(title: string, bars: Bar[], y: number, width: number, labelWidth: number): { svg: string; height: number } {
  const rowH = 22;
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const plotW = width - labelWidth - 175;
  const parts = [`<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const top = y + 28 + i * rowH;
    const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * plotW) : 0;
    parts.push(`<text x="${labelWidth - 6}" y="${top + 14}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${top + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${b.color}"/>`);
    parts.push(`<text x="${(labelWidth + w + 4).toFixed(1)}" y="${top + 14}" font-size="11">${esc(b.text)}</text>`);
  });
  return { svg: parts.join('\n'), height: 40 + bars.length * rowH };
}

export function renderChart(results: Record<string, unknown>): string {
  const r = results as Any;
  const width = 900;
  const labelWidth = 330;
  let y = 10;
  const panels: string[] = [];
  const tp = r.throughput;
  if (tp?.variants) {
    const bars: Bar[] = tp.variants.map((v: Any) => ({
      label: v.name,
      value: v.medianRecordsPerSec,
      text: `${Math.round(v.medianRecordsPerSec).toLocaleString('en-US')} rec/s · ${v.medianMbPerSec.toFixed(1)} MB/s`,
      color: v.kind === 'processor' ? colors.processor : v.kind === 'bare' ? colors.bare : colors.tool,
    }));
    const p = panel(`Throughput over ${tp.events.toLocaleString('en-US')} raw events (mean ${(tp.meanValueBytes / 1000).toFixed(0)} kB), median records/s`, bars, y, width, labelWidth);
    panels.push(p.svg);
    y += p.height + 10;
  }
  const lat = r.latency;
  if (lat?.steady) {
    const bars: Bar[] = [];
    for (const run of [lat.steady, ...lat.steps]) {
      for (const [name, color] of [
        ['p50', colors.p50],
        ['p95', colors.p95],
        ['p99', colors.p99],
      ] as const) {
        bars.push({ label: `${run.targetPerSec}/s target${run === lat.steady ? ' (steady)' : ''} ${name}`, value: run.latencyMs[name], text: `${run.latencyMs[name]} ms`, color });
      }
    }
    const p = panel('End-to-end latency, API server write → summary readable (ms)', bars, y, width, labelWidth);
    panels.push(p.svg);
    y += p.height + 10;
    // The pipeline's own part, with the same rates on kafkajs' stock CONCURRENT_TRANSACTIONS retry.
    const runs = [...lat.steps.flatMap((s: Any) => [s, ...(lat.references ?? []).filter((x: Any) => x.targetPerSec === s.targetPerSec)]), lat.steady];
    const pipe: Bar[] = [];
    for (const run of runs) {
      if (!run.pipelineMs) continue;
      const who = run.retry === 'kafkajs-stock' ? 'kafkajs stock retry' : run === lat.steady ? 'steady' : 'kubetrail';
      for (const [name, color] of [
        ['p50', colors.p50],
        ['p99', colors.p99],
      ] as const) {
        pipe.push({ label: `${run.targetPerSec}/s ${who} ${name}`, value: run.pipelineMs[name], text: `${run.pipelineMs[name]} ms`, color });
      }
    }
    if (pipe.length) {
      const q = panel('Pipeline part, producer saw the change → summary readable (ms)', pipe, y, width, labelWidth);
      panels.push(q.svg);
      y += q.height + 10;
    }
  }
  const sc = r.scaling;
  if (sc?.instances) {
    const bars: Bar[] = sc.instances.map((x: Any) => ({
      label: `${x.instances} instance${x.instances > 1 ? 's' : ''}`,
      value: x.medianRecordsPerSec,
      text: `${Math.round(x.medianRecordsPerSec)} rec/s (×${x.speedup})`,
      color: colors.scale,
    }));
    const p = panel('Scaling: workflow-summary instances on 4 partitions (records/s)', bars, y, width, labelWidth);
    panels.push(p.svg);
    y += p.height + 10;
  }
  const note = `kubetrail bench ${r.meta?.runId ?? ''} ${r.meta?.quick ? '(--quick)' : ''} — ${r.meta?.cpus} CPUs, load ${r.meta?.loadAverageAtStart?.[0] ?? '?'}`;
  panels.push(`<text x="10" y="${y + 12}" font-size="10" fill="#666">${esc(note)}</text>`);
  y += 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${panels.join('\n')}\n</svg>\n`;
}
