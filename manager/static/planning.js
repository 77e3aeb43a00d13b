// The staffing plan's charts: per weekday, the desks on duty per hour stacked by service,
// with the expected share within target, drawn with Apache ECharts from the same JSON as
// the tables beside them. The tables are the accessible form, so the charts are hidden
// from screen readers. No inline script: CSP allows 'self' only.

const dataElement = document.querySelector("[data-planning]");
const rtl = document.documentElement.dir === "rtl";

function draw(element, option) {
  // SVG keeps print output sharp; the charts follow the page's size.
  const chart = window.echarts.init(element, null, { renderer: "svg" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  window.addEventListener("resize", () => chart.resize());
  window.addEventListener("beforeprint", () => chart.resize());
}

function dayOption(rows, labels) {
  const hours = [...new Set(rows.map((row) => row.hour))].sort((a, b) => a - b);
  const services = [...new Set(rows.map((row) => row.label))];
  const cell = (label, hour) => rows.find((row) => row.label === label && row.hour === hour);
  // The share within target of the hour, weighted by each service's arrivals.
  const within = hours.map((hour) => {
    const known = rows.filter((row) => row.hour === hour && row.expected_within_target !== null);
    const weight = known.reduce((sum, row) => sum + row.arrivals_per_hour, 0);
    if (!weight) return null;
    const share = known.reduce((sum, row) => sum + row.expected_within_target * row.arrivals_per_hour, 0);
    return Math.round((100 * share) / weight);
  });
  return {
    tooltip: { trigger: "axis" },
    legend: { data: [...services, labels.within], top: 0, type: "scroll" },
    grid: { containLabel: true, top: 48, left: 16, right: 16 },
    xAxis: { type: "category", data: hours.map((hour) => `${String(hour).padStart(2, "0")}:00`),
             inverse: rtl },
    // No axis names: the legend says what the bars and the line are, and a name at the
    // axis end is cut off at the chart's edge.
    yAxis: [{ type: "value", minInterval: 1, position: rtl ? "right" : "left" },
            { type: "value", min: 0, max: 100, position: rtl ? "left" : "right",
              axisLabel: { formatter: "{value} %" } }],
    series: [
      ...services.map((label) => ({
        name: label, type: "bar", stack: "desks",
        data: hours.map((hour) => cell(label, hour)?.desks_needed ?? 0),
      })),
      { name: labels.within, type: "line", yAxisIndex: 1, data: within },
    ],
  };
}

function show() {
  if (!window.echarts) return;
  const { days, weekdays, labels } = JSON.parse(dataElement.textContent);
  days.forEach((rows, index) => {
    const element = document.querySelector(`[data-chart="plan-${weekdays[index]}"]`);
    if (element) draw(element, dayOption(rows, labels));
  });
}

if (dataElement) {
  if (window.echarts) show();
  else window.addEventListener("load", show);
}
