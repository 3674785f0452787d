/* Dashboard charts: every number comes from the data island the server rendered (the same selector
   as the tables on the page, the API and the xlsx export). Clicking a region drills down. */
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); } }
  function num(v) { return v === null || v === undefined ? null : Number(v); }
  function drill(code) {
    var url = new URL(window.location.href);
    url.searchParams.set("region", code);
    window.location.href = url.toString();
  }
  ready(function () {
    if (!window.echarts) { return; }
    var data = JSON.parse(document.getElementById("dashboard-data").textContent);
    var words = JSON.parse(document.getElementById("dashboard-words").textContent);
    var charts = [];
    // each chart follows its container's size (a card narrowing with the page, a phone turned round), not
    // only the window's
    var watcher = window.ResizeObserver ? new ResizeObserver(function (entries) {
      entries.forEach(function (e) { var c = echarts.getInstanceByDom(e.target); if (c) { c.resize(); } });
    }) : null;
    function add(chart) {
      charts.push(chart);
      if (watcher) { watcher.observe(chart.getDom()); }
    }

    var years = document.getElementById("chart-years");
    if (years) {
      var s = data.plan_vs_target;
      var c1 = echarts.init(years);
      c1.setOption({
        tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 30 },
        xAxis: { type: "category", data: s.years.map(String) }, yAxis: { type: "value" },
        series: [
          { name: words.planned, type: "bar", data: s.planned.map(num) },
          { name: words.target, type: "line", data: s.target.map(num), connectNulls: true, lineStyle: { type: "dashed" } },
          { name: words.actual, type: "line", data: s.actual.map(num), connectNulls: false }
        ]
      });
      add(c1);
    }

    var months = document.getElementById("chart-months");
    if (months) {
      var c2 = echarts.init(months);
      c2.setOption({
        tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 50 },
        xAxis: { type: "category", data: data.monthly.map(function (m) { return m.month; }) },
        yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 6 }],
        series: [
          { name: words.start_rate, type: "line", data: data.monthly.map(function (m) { return num(m.start_rate); }) },
          { name: words.completion_rate, type: "line", data: data.monthly.map(function (m) { return num(m.completion_rate); }) }
        ]
      });
      add(c2);
    }

    var ranked = document.getElementById("chart-ranked");
    if (ranked) {
      var rows = data.ranked.slice().reverse();
      ranked.style.height = Math.max(240, rows.length * 22 + 60) + "px";
      var c3 = echarts.init(ranked);
      c3.setOption({
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, legend: { top: 0 },
        grid: { left: 110, right: 30, top: 30, bottom: 20 },
        xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        yAxis: { type: "category", data: rows.map(function (r) { return r.name; }) },
        series: [
          { name: words.completion_rate, type: "bar", data: rows.map(function (r) { return { value: num(r.completion_rate), code: r.code }; }) },
          { name: words.start_rate, type: "bar", data: rows.map(function (r) { return { value: num(r.start_rate), code: r.code }; }) }
        ]
      });
      c3.on("click", function (p) { if (p.data && p.data.code) { drill(p.data.code); } });
      add(c3);
    }

    var mapEl = document.getElementById("chart-map");
    if (mapEl) {
      fetch(mapEl.dataset.mapUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (geo) {
        echarts.registerMap("gaizao-counties", geo);
        var byName = {};
        geo.features.forEach(function (f) { byName[f.properties.name] = f.properties.code; });
        var c4 = echarts.init(mapEl);
        c4.setOption({
          tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + (p.value === undefined || isNaN(p.value) ? words.no_data : p.value + "%"); } },
          visualMap: { min: 0, max: 100, left: 10, bottom: 10, text: ["100%", "0%"], calculable: true, inRange: { color: ["#f3e2d2", "#e0a35a", "#1e7a3c"] } },
          series: [{ type: "map", map: "gaizao-counties", roam: true, label: { show: false },
                     data: data.map.filter(function (m) { return m.value !== null; }).map(function (m) { return { name: m.name, value: m.value, code: m.codes[0] }; }) }]
        });
        c4.on("click", function (p) { var code = (p.data && p.data.code) || byName[p.name]; if (code) { drill(code); } });
        add(c4);
      });
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
