// The reports page's charts, drawn with Apache ECharts (tessera/static/vendor) from the
// same JSON as the tables beside them; the tables stay the accessible form of the data,
// so the charts are hidden from screen readers. No inline script: CSP allows 'self' only.

const dataElement = document.querySelector("[data-report]");
const rtl = document.documentElement.dir === "rtl";

function draw(kind, option) {
  const element = document.querySelector(`[data-chart="${kind}"]`);
  if (!element || !window.echarts) return;
  // SVG keeps print output sharp; the charts resize with the page (print included).
  const chart = window.echarts.init(element, null, { renderer: "svg" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  window.addEventListener("resize", () => chart.resize());
  window.addEventListener("beforeprint", () => chart.resize());
}

function show() {
  const { result, flows, weekdays, labels } = JSON.parse(dataElement.textContent);
  const names = result.groups.map((row) => row.label);
  draw("bars", {
    tooltip: { trigger: "axis" },
    legend: { data: [labels.visits, labels.served, labels.mean_wait], top: 0 },
    grid: { containLabel: true, top: 40, left: 16, right: 16 },
    xAxis: { type: "category", data: names, inverse: rtl },
    yAxis: [{ type: "value", position: rtl ? "right" : "left" },
            { type: "value", position: rtl ? "left" : "right" }],
    series: [
      { name: labels.visits, type: "bar", data: result.groups.map((row) => row.visits) },
      { name: labels.served, type: "bar", data: result.groups.map((row) => row.served) },
      { name: labels.mean_wait, type: "line", yAxisIndex: 1,
        data: result.groups.map((row) => row.mean_wait_minutes) },
    ],
  });
  const booked = result.groups.filter((row) => row.appointments_booked);
  if (booked.length) {
    draw("appointments", {
      tooltip: { trigger: "axis" },
      legend: { data: [labels.booked, labels.checked_in, labels.missed], top: 0 },
      grid: { containLabel: true, top: 40, left: 16, right: 16 },
      xAxis: { type: "category", data: booked.map((row) => row.label), inverse: rtl },
      yAxis: { type: "value", position: rtl ? "right" : "left" },
      series: [
        { name: labels.booked, type: "bar", data: booked.map((row) => row.appointments_booked) },
        { name: labels.checked_in, type: "bar",
          data: booked.map((row) => row.appointments_checked_in) },
        { name: labels.missed, type: "bar", data: booked.map((row) => row.appointments_missed) },
      ],
    });
  }
  const cells = [];
  let highest = 0;
  flows.arrivals.forEach((counts, day) => counts.forEach((count, hour) => {
    cells.push([hour, day, count]);
    highest = Math.max(highest, count);
  }));
  const hours = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, "0"));
  draw("heatmap", {
    tooltip: {},
    // Room for the weekday names on either side, and for the scale below.
    grid: { containLabel: true, left: 16, right: 16, top: 8, bottom: 56 },
    xAxis: { type: "category", data: hours, inverse: rtl },
    yAxis: { type: "category", data: weekdays, inverse: true, position: rtl ? "right" : "left" },
    visualMap: { min: 0, max: Math.max(highest, 1), calculable: false, orient: "horizontal",
                 left: "center", bottom: 0 },
    series: [{ type: "heatmap", data: cells }],
  });
  if (flows.flows.length) {
    const nodes = new Set();
    flows.flows.forEach((flow) => { nodes.add(flow.source); nodes.add(flow.target); });
    draw("sankey", {
      tooltip: {},
      series: [{
        type: "sankey", left: 16, right: 160, orient: "horizontal", nodeAlign: rtl ? "right" : "justify",
        data: [...nodes].map((name) => ({ name })),
        links: flows.flows.map((flow) => ({ source: flow.source, target: flow.target,
                                            value: flow.visits })),
      }],
    });
  } else {
    document.querySelector('[data-chart="sankey"]')?.setAttribute("hidden", "");
  }
}

if (dataElement) {
  if (window.echarts) show();
  else window.addEventListener("load", show);
}
