// A uPlot time-series chart that follows its container's width.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

interface Props {
  /** The caption; the legend under the chart shows the values under the cursor, `children` may add a data table. */
  title: string;
  children?: ComponentChildren;
  /** Bucket starts, epoch seconds. */
  xs: number[];
  series: Series[];
  /** The x range shown, epoch seconds (the picked date range). */
  range: [number, number];
  yLabel: string;
  height?: number;
}

export function Chart({ title, children, xs, series, range, yLabel, height = 260 }: Props) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 300),
      height,
      scales: { x: { time: true, range: () => range } },
      axes: [
        { stroke: '#424a53', grid: { stroke: '#eaeef2' } },
        { stroke: '#424a53', grid: { stroke: '#eaeef2' }, label: yLabel, size: 60 },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: false,
          points: { show: true, size: 7, fill: s.color },
        })),
      ],
      legend: { live: true },
      cursor: { focus: { prox: 30 } },
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 300), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [xs, series, range[0], range[1], yLabel, height]);

  return (
    <figure class="card chart-card">
      <figcaption>{title}</figcaption>
      <div class="chart" ref={box} />
      {children}
    </figure>
  );
}

const PALETTES: Record<string, string[]> = {
  '2': ['#1a7f37', '#0a7a6a', '#4d8c1a'],
  '3': ['#0969da', '#218bff'],
  '4': ['#bc4c00', '#9a6700', '#d1242f'],
  '5': ['#cf222e', '#82071e', '#a475f9'],
  '0': ['#57606a'],
};

/** A stable colour per HTTP status class (0: no response), varied within a class. */
export function codeColor(code: number, nthInClass: number): string {
  const palette = PALETTES[code === 0 ? '0' : String(code)[0]!] ?? ['#6e7781'];
  return palette[nthInClass % palette.length]!;
}
