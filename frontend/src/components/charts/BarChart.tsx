// Horizontal bars in plain SVG: one row per item, the value written beside each bar.
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ bars, format = String, title }: { bars: Bar[]; format?: (value: number) => string; title: string }) {
  const rowHeight = 26;
  const labelWidth = 140;
  const valueWidth = 80;
  const width = 560;
  const plot = width - labelWidth - valueWidth;
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const height = bars.length * rowHeight + 4;
  return (
    <svg className="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
      <title>{title}</title>
      {bars.map((bar, index) => {
        const y = index * rowHeight + 2;
        const length = Math.max(2, (bar.value / max) * plot);
        return (
          <g key={bar.label}>
            <text x={labelWidth - 8} y={y + rowHeight / 2 + 4} textAnchor="end">
              {bar.label.length > 14 ? `${bar.label.slice(0, 13)}…` : bar.label}
            </text>
            <rect className="bar" x={labelWidth} y={y + 4} width={length} height={rowHeight - 8} rx={3}>
              <title>{`${bar.label}: ${format(bar.value)}`}</title>
            </rect>
            <text x={labelWidth + length + 6} y={y + rowHeight / 2 + 4}>
              {format(bar.value)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
