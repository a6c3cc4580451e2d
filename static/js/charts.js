/* Charts: draws every <figure class="chart" data-chart="ID"> of the page
   (templates/components/chart.html) with the vendored Chart.js, from the
   json_script element ID (prm.charts.Chart.data()).
   - static/js/prm.js loads it, after Chart.js (static/vendor/chartjs/), only
     on a page that has a chart: the figure names both files.
   - Strict CSP: no inline script or style; Chart.js sizes its canvas through
     the CSSOM, which style-src does not govern.
   - Colours are the --chart-1..6 tokens of static/css/prm.css; lines also
     differ by point shape and dash, so colour is never the only cue.
   - Tooltips show the server's formatted values (the table's text); a click
     on a point or bar opens its drill URL (keyboard users follow the table's
     links). No animation under prefers-reduced-motion.
   - Once drawn, the figure gets .chart-drawn and its table folds under
     "Show the numbers"; if anything fails, the table stays open. */
(function () {
  "use strict";
  var POINTS = ["circle", "rect", "triangle", "rectRot", "crossRot", "star"];
  var DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3], [4, 4], [1, 2]];
  var UNIT_WORDS = { hours: "hours", days: "days" };
  var compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

  function token(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    var colours = [];
    for (var i = 1; i <= 6; i++) { colours.push(token("--chart-" + i, "#2453a6")); }
    return colours;
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // An axis tick: short, with the unit (the exact value is in the tooltip and table).
  function tick(data) {
    return function (value) {
      if (data.unit === "percent") { return compact.format(value) + "%"; }
      return compact.format(value);
    };
  }

  function axisTitle(data) {
    if (data.unit === "money") { return data.currency; }
    return UNIT_WORDS[data.unit] || "";
  }

  function datasets(data, colours) {
    var surface = token("--card", "#ffffff");
    return data.series.map(function (series, i) {
      var colour = colours[i % colours.length];
      var set = {
        label: series.name,
        data: series.values,
        borderColor: colour,
        backgroundColor: colour
      };
      if (data.kind === "line") {
        set.pointStyle = POINTS[i % POINTS.length];
        set.pointRadius = 3;
        set.pointHoverRadius = 5;
        set.borderWidth = 2;
        set.borderDash = DASHES[i % DASHES.length];
        set.spanGaps = false;  // no data there: the line breaks
        set.tension = 0;
      } else {
        // stacked segments are parted by a thin line of the surface colour
        set.borderColor = data.kind === "stacked-bar" ? surface : colour;
        set.borderWidth = data.kind === "stacked-bar" ? 1 : 0;
        set.maxBarThickness = 56;
      }
      return set;
    });
  }

  function urlAt(data, element) {
    var series = data.series[element.datasetIndex];
    return series && series.urls ? series.urls[element.index] : null;
  }

  function hit(chart, event) {
    return chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, true);
  }

  function options(data) {
    var horizontal = data.kind === "funnel";
    var stacked = data.kind === "stacked-bar";
    var valueAxis = {
      beginAtZero: data.kind !== "line",
      stacked: stacked,
      ticks: { callback: tick(data) },
      title: { display: !!axisTitle(data), text: axisTitle(data) }
    };
    var labelAxis = { stacked: stacked, grid: { display: false } };
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion() ? false : { duration: 400 },
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: data.kind === "line" ? "index" : "nearest", intersect: data.kind !== "line" },
      scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      plugins: {
        legend: {
          display: data.series.length > 1,
          position: "bottom",
          labels: { usePointStyle: data.kind === "line", boxWidth: 10, boxHeight: 10 }
        },
        tooltip: {
          callbacks: {
            label: function (item) {
              var series = data.series[item.datasetIndex];
              return series.name + ": " + series.texts[item.dataIndex];
            },
            afterLabel: function (item) {
              if (!data.shares || item.datasetIndex !== 0) { return undefined; }
              return data.shares[item.dataIndex] + " of " + data.labels[0];
            }
          }
        }
      },
      onClick: function (event, elements, chart) {
        var found = hit(chart, event);
        var url = found.length ? urlAt(data, found[0]) : null;
        if (url) { window.location.assign(url); }
      },
      onHover: function (event, elements, chart) {
        var found = hit(chart, event);
        chart.canvas.style.cursor = found.length && urlAt(data, found[0]) ? "pointer" : "";
      }
    };
  }

  function draw(figure, colours) {
    var source = document.getElementById(figure.getAttribute("data-chart"));
    var canvas = figure.querySelector("canvas");
    if (!source || !canvas) { return; }
    var data = JSON.parse(source.textContent);
    // The canvas's box must be laid out before Chart.js measures it.
    figure.classList.add("chart-drawn");
    try {
      new window.Chart(canvas, {
        type: data.kind === "line" ? "line" : "bar",
        data: { labels: data.labels, datasets: datasets(data, colours) },
        options: options(data)
      });
    } catch (error) {
      figure.classList.remove("chart-drawn");
      throw error;
    }
    var numbers = figure.querySelector("details.chart-numbers");
    if (numbers) { numbers.removeAttribute("open"); }
  }

  function drawAll(figures) {
    var Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = token("--muted", "#525d6b");
    Chart.defaults.borderColor = token("--line", "#d9e0e8");
    var colours = palette();
    figures.forEach(function (figure) {
      try { draw(figure, colours); } catch (error) {
        if (window.console) { window.console.error("chart not drawn", figure.id, error); }
      }
    });
  }

  function start() {
    var figures = Array.prototype.slice.call(document.querySelectorAll("figure.chart[data-chart]"));
    if (!figures.length) { return; }
    if (window.Chart) { drawAll(figures); }  // else the tables stay open
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
