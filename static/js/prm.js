/* PRM portal: progressive enhancement only; every page works without it.
   Loaded with `defer` from base.html (strict CSP: no inline script).
   - The main menu collapses behind the "Menu" button below 900 px.
   - The user menu (<details>) closes on Escape and on a click elsewhere.
   - A [data-print] button (components/print_button.html, hidden until this
     runs) prints the page; for printing, the closed <details> of figures (a
     chart's table of numbers) and those marked [data-print-open] are opened,
     and closed again afterwards (static/css/print.css).
   - A page with a chart (templates/components/chart.html) gets Chart.js and
     static/js/charts.js, in that order; the figure names both files. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  var chart = document.querySelector("figure.chart[data-chart-script]");
  if (chart) {
    [chart.getAttribute("data-chartjs"), chart.getAttribute("data-chart-script")].forEach(function (src) {
      var script = document.createElement("script");
      script.src = src;
      script.async = false;  // run in order: the library, then the charts
      document.head.appendChild(script);
    });
  }

  var bar = document.querySelector(".topbar");
  var toggle = document.querySelector(".nav-toggle");
  if (bar && toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = bar.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  var menus = document.querySelectorAll("details.usermenu");
  function closeMenus(except) {
    menus.forEach(function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    var inside = event.target.closest ? event.target.closest("details.usermenu") : null;
    closeMenus(inside);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    menus.forEach(function (menu) {
      if (menu.hasAttribute("open")) {
        menu.removeAttribute("open");
        menu.querySelector("summary").focus();
      }
    });
    if (bar && toggle && bar.classList.contains("nav-open")) {
      bar.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("figure details:not([open]), details[data-print-open]:not([open])")
      .forEach(function (details) {
        details.setAttribute("open", "");
        openedForPrint.push(details);
      });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (details) { details.removeAttribute("open"); });
    openedForPrint = [];
  });
})();
