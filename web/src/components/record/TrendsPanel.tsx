/** Trends of the results measured more than once: pick one, see its chart and its table. */
import { useEffect, useRef, useState } from 'react';
import type { Trend } from '../../fhir/trends.ts';
import { TrendChart, TrendTable } from './TrendChart.tsx';

/** The trends people ask for first, when measured: BP, weight, BMI, HbA1c, creatinine, eGFR. */
const FIRST = ['55284-4', '29463-7', '39156-5', '4548-4', '38483-4', '33914-3'];

export function TrendsPanel({ trends }: { trends: readonly Trend[] }) {
  const ordered = [
    ...FIRST.flatMap((c) => trends.filter((t) => t.code === c)),
    ...trends.filter((t) => !FIRST.includes(t.code)),
  ];
  const [code, setCode] = useState(ordered[0]?.code);
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(260, Math.floor(entry.contentRect.width)));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  if (ordered.length === 0) return <p className="empty">No result was measured more than once yet.</p>;
  const trend = ordered.find((t) => t.code === code) ?? ordered[0];
  return (
    <section aria-label="Trends">
      <div className="toolbar">
        <label htmlFor="trend-pick">Trend</label>
        <select id="trend-pick" value={trend?.code} onChange={(e) => setCode(e.target.value)}>
          {ordered.map((t) => (
            <option key={t.code} value={t.code}>
              {t.name} ({Math.max(...t.lines.map((l) => l.points.length))})
            </option>
          ))}
        </select>
      </div>
      {trend && (
        <div className="trend">
          <h2>{trend.name}</h2>
          <div ref={box} className="chart-box">
            <TrendChart trend={trend} width={width} />
            <p className="hint">
              Shaded:{' '}
              {trend.lines
                .map((l) => l.range?.text)
                .filter(Boolean)
                .join(' / ') || 'no reference range known'}
              {trend.lines[0]?.range ? ` (${trend.lines[0].range.source})` : ''}.
            </p>
          </div>
          <TrendTable trend={trend} />
        </div>
      )}
    </section>
  );
}
