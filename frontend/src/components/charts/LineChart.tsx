// Daily counts as lines in plain SVG, with a light grid and the first/last dates on the axis.
export interface Series {
  name: string;
  className: string;
  color: string;
  values: number[];
}

export function LineChart({ days, series, title }: { days: string[]; series: Series[]; title: string }) {
  const width = 560;
  const height = 200;
  const left = 48;
  const bottom = 26;
  const top = 8;
  const plotWidth = width - left - 8;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...series.flatMap((line) => line.values));
  const x = (index: number) => left + (days.length <= 1 ? 0 : (index / (days.length - 1)) * plotWidth);
  const y = (value: number) => top + plotHeight - (value / max) * plotHeight;
  const ticks = [0, Math.round(max / 2), max];
  return (
    <div>
      <svg className="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        <title>{title}</title>
        {ticks.map((tick) => (
          <g key={tick}>
            <line className="grid" x1={left} x2={width - 8} y1={y(tick)} y2={y(tick)} />
            <text x={left - 6} y={y(tick) + 4} textAnchor="end">
              {tick}
            </text>
          </g>
        ))}
        {days.length > 0 ? (
          <>
            <text x={left} y={height - 4}>
              {days[0]}
            </text>
            <text x={width - 8} y={height - 4} textAnchor="end">
              {days[days.length - 1]}
            </text>
          </>
        ) : null}
        {series.map((line) => (
          <g key={line.name}>
            <polyline className={line.className} points={line.values.map((value, index) => `${x(index)},${y(value)}`).join(" ")} />
            {line.values.map((value, index) => (
              <circle key={days[index]} cx={x(index)} cy={y(value)} r={2.5} fill={line.color}>
                <title>{`${days[index]}: ${value} ${line.name}`}</title>
              </circle>
            ))}
          </g>
        ))}
      </svg>
      <div className="legend">
        {series.map((line) => (
          <span key={line.name}>
            <span className="legend-swatch" style={{ background: line.color }} />
            {line.name} ({line.values.reduce((sum, value) => sum + value, 0).toLocaleString("en")})
          </span>
        ))}
      </div>
    </div>
  );
}
