import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** One point has no span, and uPlot would stretch the time axis over years: give it the minute before */
function padded (data: number[][]): uPlot.AlignedData {
  if (data[0].length !== 1) return data as uPlot.AlignedData
  return [[data[0][0] - 60, data[0][0]], ...data.slice(1).map(series => [null, series[0]])] as unknown as uPlot.AlignedData
}

export interface SeriesSpec { label: string, stroke: string, scale?: string }

/**
 * A uPlot line chart sized to its container. `data` is uPlot's columnar form:
 * [x (seconds), series1, series2, ...]; new data only calls setData, never rebuilds.
 */
export function LineChart (props: { title: string, series: SeriesSpec[], data: number[][], yFormat?: (v: number) => string, height?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  useEffect(() => {
    const el = box.current!
    const format = props.yFormat ?? ((v: number) => String(v))
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height: props.height ?? 200,
      series: [{}, ...props.series.map(s => ({ label: s.label, stroke: s.stroke, width: 2, scale: s.scale ?? 'y', value: (_u: uPlot, v: number | null) => v == null ? '–' : format(v) }))],
      axes: [{}, { values: (_u: uPlot, ticks: number[]) => ticks.map(format), size: 96 }],
      // one point has no span: show the minute around it rather than years
      scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: true }
    }
    plot.current = new uPlot(opts, padded(props.data), el)
    const resize = new ResizeObserver(() => { plot.current?.setSize({ width: Math.max(240, el.clientWidth), height: props.height ?? 200 }) })
    resize.observe(el)
    return () => { resize.disconnect(); plot.current?.destroy(); plot.current = null }
  }, [props.series.map(s => s.label).join()])
  useEffect(() => { plot.current?.setData(padded(props.data)) }, [props.data])
  return <figure class="chart"><figcaption>{props.title}</figcaption><div ref={box} role="img" aria-label={props.title} /></figure>
}
