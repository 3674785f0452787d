/* The estate map: county outlines (GeoJSON, no tiles) and the estates in scope as points. */
(function () {
  "use strict";
  var COLOURS = { surveyed: "#1f5fa8", pooled: "#1e7a3c", deferred: "#d08a00", dropped: "#8a949e" };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) { throw body; } return body; });
    });
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function start() {
    var el = document.getElementById("estate-map");
    var status = document.getElementById("map-status");
    if (!el || !window.L) { return; }
    var d = el.dataset;
    var statusLabels = JSON.parse(d.statusLabels || "{}");
    var map = L.map(el, { preferCanvas: true, zoomSnap: 0.25, attributionControl: false, zoomControl: false })
      .setView([29.2, 120.4], 7);
    // the zoom buttons' tooltips in the page's language (Leaflet's own are English)
    L.control.zoom({ zoomInTitle: d.labelZoomIn || "Zoom in", zoomOutTitle: d.labelZoomOut || "Zoom out" }).addTo(map);
    var renderer = L.canvas({ padding: 0.3 });
    var countyCounts = {};
    var countyLayer = null;

    Promise.all([getJSON(d.countiesUrl), getJSON(d.pointsUrl)]).then(function (results) {
      var counties = results[0], data = results[1];
      (data.counties || []).forEach(function (c) { countyCounts[c.code] = c; });
      var max = 1;
      Object.keys(countyCounts).forEach(function (k) { max = Math.max(max, countyCounts[k].n); });
      countyLayer = L.geoJSON(counties, {
        style: function (f) {
          var c = countyCounts[f.properties.code];
          var shade = c ? 0.15 + 0.55 * (c.n / max) : 0.04;
          return { color: "#5b6775", weight: 1, fillColor: "#b0302a", fillOpacity: data.mode === "counties" ? shade : 0.06 };
        },
        onEachFeature: function (f, layer) {
          var c = countyCounts[f.properties.code];
          var text = escapeHtml(f.properties.name) + (c ? "：" + escapeHtml(d.labelEstates.replace("{n}", c.n)) : "");
          layer.bindTooltip(text, { sticky: true });
          layer.on("click", function () {
            if (c && data.mode === "counties") {
              window.location.search = "region=" + encodeURIComponent(f.properties.code);
            }
          });
        }
      }).addTo(map);
      var bounds = [];
      (data.points || []).forEach(function (p) {
        // [id, code, name, lon, lat, status, eligibility, score]
        var marker = L.circleMarker([p[4], p[3]], {
          renderer: renderer, radius: 5, weight: 1, color: "#fff", fillColor: COLOURS[p[5]] || "#333", fillOpacity: 0.9
        });
        marker.bindPopup("<strong>" + escapeHtml(p[2]) + "</strong><br><code>" + escapeHtml(p[1]) + "</code><br>" +
          escapeHtml(statusLabels[p[5]] || p[5]) + (p[7] != null ? " · " + escapeHtml(d.labelScore) + " " + p[7] : "") +
          '<br><a href="' + data.detail_url.replace("{id}", p[0]) + '">' + escapeHtml(d.labelOpen) + "</a>");
        marker.addTo(map);
        bounds.push([p[4], p[3]]);
      });
      // one fit, not animated: a second fitBounds while the first one animates is ignored by Leaflet,
      // which left a county's estates as a dot on the whole province
      if (bounds.length) {
        map.fitBounds(bounds, { maxZoom: 14, padding: [20, 20], animate: false });
      } else if (countyLayer.getLayers().length) {
        map.fitBounds(countyLayer.getBounds(), { animate: false });
      }
      el.dataset.zoom = String(map.getZoom());
      status.textContent = data.mode === "counties" ? data.message : d.labelShown.replace("{n}", data.points.length);
      el.dataset.points = String((data.points || []).length);
      el.dataset.counties = String(countyLayer.getLayers().length);
      el.dataset.ready = "true";
    }).catch(function (err) {
      // what is wrong (a 400 says it in words: 建成年份起（2010）晚于建成年份止（1990）。), read as an error
      status.textContent = (err && err.message) || "Error";
      status.className = "error";
      status.setAttribute("role", "alert");
      el.dataset.ready = "error";
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
