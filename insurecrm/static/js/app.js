/* InsureCRM's only script of its own (the Content-Security-Policy allows no inline script):
 *  - a <select data-autosubmit> submits its form when changed (the language switch);
 *  - each <script type="application/json" data-chart="ID"> holds a plotly figure, drawn into the element ID
 *    (pages with charts load plotly.js, and its Chinese locale when the page is in Chinese, before this file);
 *    a point whose customdata is a link of this site opens it when clicked (a report's drill-down).
 */
(function () {
  "use strict";

  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      // the option the server rendered selected: a change event that leaves it (a browser restoring the form's
      // state on a page loaded again) is no choice of the user's and submits nothing
      var rendered = select.querySelector("option[selected]");
      select.addEventListener("change", function () {
        if (!rendered || select.value !== rendered.value) { select.form.submit(); }
      });
    });
  }

  function drawCharts() {
    var sources = document.querySelectorAll("script[type='application/json'][data-chart]");
    if (!sources.length || typeof window.Plotly === "undefined") {
      return;
    }
    // plotly's own texts (the mode bar's tooltips, its number format) follow the page language
    var locale = document.documentElement.lang === "zh-CN" ? "zh-CN" : "en";
    sources.forEach(function (source) {
      var figure = JSON.parse(source.textContent);
      var element = document.getElementById(source.dataset.chart);
      window.Plotly.newPlot(element, figure.data, figure.layout,
        {responsive: true, displaylogo: false, locale: locale});
      // a point that carries a link of this site (its customdata) opens the list behind it when clicked
      element.on("plotly_click", function (event) {
        var link = event.points && event.points.length ? event.points[0].customdata : null;
        if (typeof link === "string" && link.charAt(0) === "/" && link.charAt(1) !== "/") {
          window.location.assign(link);
        }
      });
    });
  }

  function start() {
    autosubmit();
    drawCharts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
