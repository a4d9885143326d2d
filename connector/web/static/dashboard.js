/* Draws the dashboard's charts from /dashboard/data.json with the vendored Chart.js. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || typeof Chart === "undefined") { return; }
  var ORANGE = "#ff7a59", TEAL = "#00a4bd", NAVY = "#2d3e50";
  var TIER_COLOURS = {
    champion: "#00bda5", ready: "#00a4bd", nurture: "#f5c26b", not_ready: "#cbd6e2",
    excluded: "#d64545", unscored: "#99afc4"
  };
  // fixed orders: JSON objects arrive with their keys sorted
  var STAGES = ["eligible", "invited", "shared", "referred", "converted", "rewarded"];
  var TIERS = ["champion", "ready", "nurture", "not_ready", "excluded", "unscored"];
  // the test and curious admins can inspect the charts here
  window.advocateCharts = {};

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false },
                                   config.options || {});
    window.advocateCharts[id] = new Chart(canvas, config);
  }

  function funnel(report) {
    var labels = STAGES;
    draw("chart-funnel", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{ label: "advocates", data: labels.map(function (k) { return report.funnel[k]; }),
                     backgroundColor: [NAVY, "#516f90", TEAL, "#00bda5", ORANGE, "#f2545b"] }]
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function tiers(report) {
    var labels = TIERS.filter(function (k) { return report.tiers[k] > 0; });
    draw("chart-tiers", {
      type: "doughnut",
      data: {
        labels: labels,
        datasets: [{ data: labels.map(function (k) { return report.tiers[k]; }),
                     backgroundColor: labels.map(function (k) { return TIER_COLOURS[k] || NAVY; }) }]
      },
      options: { plugins: { legend: { position: "right" } } }
    });
  }

  function clicks(report) {
    var days = report.clicks.daily;
    draw("chart-clicks", {
      type: "line",
      data: {
        labels: days.map(function (d) { return d.day; }),
        datasets: [{ label: "unique clicks", data: days.map(function (d) { return d.clicks; }),
                     borderColor: TEAL, backgroundColor: TEAL, pointRadius: 2, tension: 0 }]
      },
      options: { plugins: { legend: { display: false } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function weekly(report) {
    var weeks = report.weekly;
    draw("chart-weekly", {
      type: "bar",
      data: {
        labels: weeks.map(function (w) { return w.week; }),
        datasets: [
          { label: "referrals", data: weeks.map(function (w) { return w.referrals; }),
            backgroundColor: TEAL },
          { label: "conversions", data: weeks.map(function (w) { return w.conversions; }),
            backgroundColor: ORANGE }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  fetch(root.getAttribute("data-source"), { credentials: "same-origin" })
    .then(function (answer) {
      if (!answer.ok) { throw new Error("data.json answered " + answer.status); }
      return answer.json();
    })
    .then(function (report) {
      funnel(report); tiers(report); clicks(report); weekly(report);
      root.setAttribute("data-drawn", "yes");
    })
    .catch(function (problem) {
      root.setAttribute("data-drawn", "failed");
      root.insertAdjacentHTML("afterbegin", '<p class="error panel"></p>');
      root.firstChild.textContent = "The charts could not be drawn: " + problem.message;
    });
}());
