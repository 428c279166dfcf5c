// DampWatch's interactive charts: draws each room's readings with uPlot (served from /assets, no CDN) from the
// page's chart data (JSON from analytics.room_series), over the server's image, which stays for screen
// readers (visually hidden, with its alt text) and the table of the same numbers under it. Without
// JavaScript, or if the data cannot be read, the page keeps the server-drawn image.
/* global uPlot */

const LONDON = "Europe/London";
const COLOURS = { blue: "#1d70b8", red: "#d4351c", black: "#0b0c0c", green: "#00703c", grey: "#505a5f" };
const EVENT_COLOURS = {
  band: "#912b88", case_opened: "#1d70b8", inspection: "#00703c", works_done: "#0b0c0c", sensor_silent: "#d4351c",
};
const PANEL_HEIGHT = 170;

// Dates as people in England read them, in London time: "6 Dec" on the axis, "6 Dec 2026, 14:00" in the legend.
const AXIS_DAY = new Intl.DateTimeFormat("en-GB", { timeZone: LONDON, day: "numeric", month: "short" });
const AXIS_HOUR = new Intl.DateTimeFormat("en-GB", { timeZone: LONDON, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const LEGEND_TIME = new Intl.DateTimeFormat("en-GB", { timeZone: LONDON, dateStyle: "medium", timeStyle: "short" });

function axisDates(u, splits) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  const format = span > 4 * 86400 ? AXIS_DAY : AXIS_HOUR;
  return splits.map((ts) => format.format(new Date(ts * 1e3)));
}

function fmt(value, digits, unit) {
  return value == null ? "–" : `${value.toFixed(digits)}${unit}`;
}

function eventsPlugin(events) {
  // Vertical marks for the home's events, with a short tick label at the top of each panel.
  return {
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        for (const event of events) {
          const x = Math.round(u.valToPos(event.t, "x", true));
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.strokeStyle = EVENT_COLOURS[event.kind] || COLOURS.grey;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}

function baseOptions(width, title, room, events, syncKey) {
  return {
    title,
    width,
    height: PANEL_HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), LONDON),
    cursor: { sync: { key: syncKey }, drag: { x: true, y: false } },
    scales: { x: { time: true, min: room.start, max: room.end } },
    plugins: [eventsPlugin(events)],
    xSeries: { value: (u, ts) => (ts == null ? "–" : LEGEND_TIME.format(new Date(ts * 1e3))) },
    xAxis: { values: axisDates, space: 70 },
    // The period shown, in the DOM (epoch seconds): zooming changes it, and tests can read it.
    hooks: { setScale: [(u, key) => { if (key === "x") u.root.dataset.xRange = `${u.scales.x.min}-${u.scales.x.max}`; }] },
  };
}

function make(options, columns, holder) {
  // The time axis and the legend's time in London, the same for every panel.
  const { xSeries, xAxis, ...rest } = options;
  rest.series[0] = xSeries;
  rest.axes[0] = xAxis;
  return new uPlot(rest, columns, holder);
}

function drawRoom(figure, room, data, width) {
  const events = data.events || [];
  const syncKey = `room-${room.room_id}`;
  const holder = document.createElement("div");
  holder.className = "dampwatch-chart-interactive";
  holder.setAttribute("aria-hidden", "true"); // the image's alt text and the table carry the same numbers
  const hourly = room.hourly;
  const limit = hourly.t.map(() => data.surface_rh_limit_pct);
  const charts = [];

  const temperature = baseOptions(width, `${room.name}: temperature (°C)`, room, events, syncKey);
  temperature.series = [{}, { label: "Room temperature", stroke: COLOURS.blue, width: 1.5,
    value: (u, v) => fmt(v, 1, " °C") }];
  temperature.axes = [{}, { label: "°C" }];
  charts.push(make(temperature, [hourly.t, hourly.temperature_c], holder));

  const humidity = baseOptions(width, `${room.name}: humidity (%); mould can grow above ${data.surface_rh_limit_pct} % at the coldest wall`,
    room, events, syncKey);
  humidity.scales.y = { range: (u, lo, hi) => [Math.min(30, Math.floor((lo ?? 30) / 10) * 10), 100] };
  humidity.series = [{},
    { label: "Room humidity", stroke: COLOURS.blue, width: 1.5, value: (u, v) => fmt(v, 0, " %") },
    { label: "Coldest wall humidity", stroke: COLOURS.red, width: 1.5, dash: [6, 3], value: (u, v) => fmt(v, 0, " %") },
    { label: `${data.surface_rh_limit_pct} % line`, stroke: COLOURS.black, width: 1.5, dash: [2, 3], points: { show: false } },
  ];
  humidity.axes = [{}, { label: "%" }];
  charts.push(make(humidity, [hourly.t, hourly.humidity_pct, hourly.surface_rh_pct, limit], holder));

  const days = room.days_to_visible_mould;
  const projection = days == null ? "not rising" : (days === 0 ? "mould is visible already (index 3 or more)"
    : `about ${Math.round(days)} days to visible mould at this rate`);
  const daily = room.daily;
  const mould = baseOptions(width, `${room.name}: mould index (0 to 6); ${projection}`, room, events, syncKey);
  mould.scales.y = { range: (u, lo, hi) => [0, Math.max(data.visible_mould_index + 0.5, Math.ceil((hi ?? 0) + 0.25))] };
  mould.series = [{},
    { label: "Mould index", stroke: COLOURS.green, width: 2, paths: uPlot.paths.stepped({ align: 1 }),
      value: (u, v) => fmt(v, 2, "") },
    { label: "Visible mould (3)", stroke: COLOURS.grey, width: 1, dash: [2, 3], points: { show: false } },
  ];
  mould.axes = [{}, { label: "index" }];
  charts.push(make(mould, [daily.t, daily.mould_index, daily.t.map(() => data.visible_mould_index)], holder));

  const image = figure.querySelector("img");
  figure.insertBefore(holder, figure.firstChild);
  if (image) image.classList.add("govuk-visually-hidden");
  return charts;
}

async function main() {
  const area = document.getElementById("chart-area");
  if (!area || typeof uPlot === "undefined") return;
  const figures = area.querySelectorAll("figure[data-room-id]");
  if (!figures.length) return;
  let data;
  try {
    const response = await fetch(area.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return; // keep the server's images
    data = await response.json();
  } catch (error) {
    return;
  }
  const rooms = new Map(data.rooms.map((room) => [String(room.room_id), room]));
  const drawn = [];
  for (const figure of figures) {
    const room = rooms.get(figure.dataset.roomId);
    if (!room) continue;
    const width = Math.max(280, figure.clientWidth || area.clientWidth);
    drawn.push(...drawRoom(figure, room, data, width));
  }
  const help = area.querySelector(".dampwatch-chart-help");
  if (help && drawn.length) help.hidden = false;
  area.dataset.chartsReady = String(drawn.length);
  window.addEventListener("resize", () => {
    for (const chart of drawn) {
      const width = Math.max(280, chart.root.parentElement.clientWidth);
      chart.setSize({ width, height: PANEL_HEIGHT });
    }
  });
}

main();
