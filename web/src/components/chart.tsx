// A time-series chart (uPlot): one or more series over shared x values (Unix seconds),
// sized to its container, coloured from the theme, with marked points (anomalies).
// A text summary sits beside the canvas for screen readers.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A CSS variable name from styles.css, e.g. "--chart-1". */
  color?: string;
}

export interface ChartProps {
  title: string;
  /** Unix seconds, ascending. */
  x: number[];
  series: ChartSeries[];
  format: (value: number) => string;
  /** x values to mark (e.g. anomalies), with a label each. */
  marks?: { x: number; label: string }[];
  height?: number;
  bars?: boolean;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#1d4ed8";
}

const COLORS = ["--chart-1", "--chart-2", "--chart-3", "--chart-4"];

export function Chart({ title, x, series, format, marks = [], height = 200, bars = false }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const text = cssVar("--muted");
    const grid = cssVar("--border");
    const markSet = new Map(marks.map((mark) => [mark.x, mark.label]));
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 240),
      height,
      legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 64,
          values: (_u, values) => values.map((value) => format(value)),
        },
      ],
      series: [
        {},
        ...series.map((item, index) => {
          const stroke = cssVar(item.color ?? COLORS[index % COLORS.length]!);
          return {
            label: item.label,
            stroke,
            width: 2,
            fill: series.length === 1 ? `${stroke}22` : undefined,
            value: (_u: uPlot, value: number | null) => (value === null ? "–" : format(value)),
            ...(bars ? { paths: uPlot.paths.bars!({ size: [0.7, 40] }) } : {}),
            points: {
              show: (_u: uPlot, seriesIndex: number) => seriesIndex === 1 && markSet.size > 0,
              size: 9,
              stroke: cssVar("--critical"),
              fill: cssVar("--critical"),
              filter: (_u: uPlot, _seriesIndex: number, _show: boolean) =>
                x.flatMap((value, i) => (markSet.has(value) ? [i] : [])),
            },
          } satisfies uPlot.Series;
        }),
      ],
    };
    const data: uPlot.AlignedData = [x, ...series.map((item) => item.values)];
    const plot = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => {
      plot.setSize({ width: Math.max(element.clientWidth, 240), height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, marks, height, bars, format]);

  const summary = summarize(x, series, format);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={host} class="chart-canvas" role="img" aria-label={`${title}: ${summary}`} />
      {marks.length > 0 ? (
        <ul class="chart-marks">
          {marks.map((mark) => (
            <li key={mark.x}>
              <span class="mark-dot" aria-hidden="true" /> {mark.label}
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}

function summarize(x: number[], series: ChartSeries[], format: (value: number) => string): string {
  if (x.length === 0) return "no data";
  return series
    .map((item) => {
      const present = item.values.filter((value): value is number => value !== null);
      if (present.length === 0) return `${item.label}: no data`;
      const max = Math.max(...present);
      const last = present[present.length - 1]!;
      return `${item.label}: latest ${format(last)}, highest ${format(max)}`;
    })
    .join("; ");
}
