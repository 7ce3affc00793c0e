/**
 * One trend drawn with uPlot (https://github.com/leeoniya/uPlot): a line per series over time,
 * the reference range as a shaded band, and beside it the same points as a table, so the values
 * are there for a screen reader and for anyone who would rather read than look. The uPlot
 * instance is kept on the chart's element (`uplot`) so that the browser test can compare what is
 * plotted with the Observations.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { roundTo } from '../../fhir/present.ts';
import type { Trend } from '../../fhir/trends.ts';
import { formatDate } from '../common.tsx';

const COLOURS = ['#0b5cad', '#a1151b', '#176b2c'];

/** The trend's points on one time axis (uPlot's aligned data), null where a series has no value. */
export function alignedData(trend: Trend): uPlot.AlignedData {
  const times = [...new Set(trend.lines.flatMap((l) => l.points.map((p) => p.time)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const ys = trend.lines.map((line) => {
    const y: (number | null)[] = times.map(() => null);
    for (const p of line.points) y[index.get(p.time) as number] = p.value;
    return y;
  });
  return [times, ...ys];
}

function bandPlugin(trend: Trend): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        for (const [i, line] of trend.lines.entries()) {
          const range = line.range;
          if (!range) continue;
          const top = range.high ?? (u.scales.y?.max as number);
          const bottom = range.low ?? (u.scales.y?.min as number);
          const y0 = u.valToPos(top, 'y', true);
          const y1 = u.valToPos(bottom, 'y', true);
          ctx.save();
          ctx.fillStyle = i === 0 ? 'rgba(23, 107, 44, 0.12)' : 'rgba(23, 107, 44, 0.07)';
          ctx.fillRect(u.bbox.left, Math.min(y0, y1), u.bbox.width, Math.abs(y1 - y0));
          ctx.restore();
        }
      },
    },
  };
}

export function TrendChart({ trend, width }: { trend: Trend; width: number }) {
  const box = useRef<HTMLDivElement>(null);
  const unit = trend.lines[0]?.unit ?? '';
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data = alignedData(trend);
    const values = trend.lines.flatMap((l) => [
      ...l.points.map((p) => p.value),
      ...(l.range?.low === undefined ? [] : [l.range.low]),
      ...(l.range?.high === undefined ? [] : [l.range.high]),
    ]);
    const min = Math.min(...values);
    const max = Math.max(...values);
    const pad = (max - min) * 0.1 || Math.abs(max) * 0.1 || 1;
    const chart = new uPlot(
      {
        width,
        height: 260,
        title: '',
        scales: { x: { time: true }, y: { range: [min - pad, max + pad] } },
        axes: [
          { stroke: '#14202b', grid: { stroke: '#e3e8ed' } },
          { stroke: '#14202b', grid: { stroke: '#e3e8ed' }, label: unit, size: 60 },
        ],
        series: [
          {
            label: 'Date',
            value: (_u, v) => (v == null ? '—' : formatDate(new Date(v * 1000).toISOString())),
          },
          ...trend.lines.map((line, i) => ({
            label: line.unit ? `${line.label} (${line.unit})` : line.label,
            stroke: COLOURS[i % COLOURS.length] as string,
            width: 2,
            spanGaps: true,
            points: { show: true, size: 6 },
            value: (_u: uPlot, v: number | null) =>
              v == null ? '—' : `${roundTo(v, undefined)} ${line.unit}`,
          })),
        ],
        plugins: [bandPlugin(trend)],
      },
      data,
      el,
    );
    Object.defineProperty(el, 'uplot', { value: chart, configurable: true });
    return () => chart.destroy();
  }, [trend, width, unit]);
  return (
    <div ref={box} className="chart" data-testid="trend-chart" data-code={trend.code} aria-hidden="true" />
  );
}

/** The trend's values as a table: the accessible twin of the chart. */
export function TrendTable({ trend }: { trend: Trend }) {
  const rows = alignedData(trend);
  const times = rows[0] as number[];
  const label = `${trend.name}, as a table`;
  return (
    // Scrolls sideways on a phone: focusable, so it scrolls from the keyboard too (WCAG 2.1.1).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: see above
    // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls
    <div className="table-wrap trend-table" role="group" tabIndex={0} aria-label={label}>
      <table className="report" data-testid="trend-table">
        <caption>
          {trend.name}: {times.length} measurements
          {trend.lines[0]?.range &&
            `, ${trend.lines
              .map((l) => l.range?.text)
              .filter(Boolean)
              .join(' / ')} (${trend.lines[0].range.source})`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Date</th>
            {trend.lines.map((l) => (
              <th scope="col" key={l.label}>
                {l.label} ({l.unit})
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...times.keys()].reverse().map((i) => (
            <tr key={times[i]}>
              <td data-label="Date">{formatDate(new Date((times[i] as number) * 1000).toISOString())}</td>
              {trend.lines.map((l, j) => {
                const v = (rows[j + 1] as (number | null)[])[i];
                return (
                  <td key={l.label} data-label={l.label}>
                    {v == null ? '—' : roundTo(v, trend.code === '55284-4' ? '8480-6' : trend.code)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
