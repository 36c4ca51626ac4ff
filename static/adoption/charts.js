// Draws every chart on the page: <div data-plotly-src="ID"> + <script type="application/json" id="ID">.
// No inline scripts (CSP script-src 'self'); plotly.js is served from /static.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-plotly-src]").forEach(function (el) {
    var source = document.getElementById(el.dataset.plotlySrc);
    if (!source || typeof Plotly === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    Plotly.newPlot(el, spec.data, spec.layout, spec.config || { displaylogo: false });
  });
});
