// panel's web page: the live view of a review (Server-Sent Events fill the persona cards), listing
// uploads into the form, and one more listing field on demand. Model and listing text only ever goes
// into textContent: nothing here parses it as HTML.
(function () {
  "use strict";

  function liveView(root) {
    var id = root.getAttribute("data-live-review");
    var source = new EventSource("/v1/reviews/" + encodeURIComponent(id) + "/events");
    function card(data) {
      var cards = root.querySelectorAll(".persona-card");
      for (var i = 0; i < cards.length; i++) {
        if (cards[i].getAttribute("data-tool-index") === String(data.tool_index) &&
            cards[i].getAttribute("data-persona") === String(data.persona)) { return cards[i]; }
      }
      return null;
    }
    function on(name, handle) {
      source.addEventListener(name, function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        handle(data);
      });
    }
    on("persona.started", function (data) {
      var c = card(data);
      if (!c) { return; }
      c.setAttribute("data-state", "thinking");
      c.querySelector(".status").textContent = "Thinking…";
      c.querySelector(".text").textContent = "";
    });
    on("persona.delta", function (data) {
      var c = card(data);
      if (!c) { return; }
      c.setAttribute("data-state", "streaming");
      c.querySelector(".status").textContent = "Answering…";
      c.querySelector(".text").textContent += String(data.text || "");
    });
    on("persona.restarted", function (data) {
      // The text shown so far was abandoned (a retry, another backend, a hedge that won).
      var c = card(data);
      if (!c) { return; }
      c.querySelector(".text").textContent = "";
    });
    on("persona.finished", function (data) {
      var c = card(data);
      if (!c) { return; }
      c.setAttribute("data-state", "finished");
      c.setAttribute("data-status", String(data.status));
      c.querySelector(".status").textContent = data.status === "answered"
        ? String(data.score) + "/100 · " + String(data.verdict)
        : "Abstained — " + String(data.reason || "no reason given");
      c.querySelector(".text").textContent = data.text ? String(data.text) : "";
      // One polite announcement per finished persona, never the streaming text.
      var status = document.getElementById("live-status");
      if (status) {
        var who = c.querySelector("h3") ? c.querySelector("h3").textContent : String(data.persona);
        var tools = root.querySelectorAll(".live-tool");
        var on = tools.length > 1 && data.tool ? " on " + String(data.tool) : "";
        status.textContent = data.status === "answered"
          ? who + " finished" + on + ": " + String(data.score) + ", " + String(data.verdict)
          : who + " abstained" + on;
      }
    });
    on("panel", function (data) {
      var badge = root.querySelector('[data-tool-verdict="' + Number(data.tool_index) + '"]');
      if (!badge) { return; }
      badge.textContent = String(data.headline);
      badge.className = "badge " + String(data.verdict).replace(/[^a-z]/g, "");
    });
    on("done", function () {
      source.close();
      root.setAttribute("data-done", "true");
      window.setTimeout(function () { window.location.reload(); }, 400);
    });
  }

  function listingForm(form) {
    var fields = document.getElementById("listing-fields");
    function addField() {
      var count = fields.querySelectorAll("textarea").length + 1;
      var label = document.createElement("label");
      label.setAttribute("for", "listing-" + count);
      label.textContent = "Listing " + count;
      var area = document.createElement("textarea");
      area.id = "listing-" + count;
      area.name = "listing";
      area.rows = 6;
      area.spellcheck = false;
      fields.appendChild(label);
      fields.appendChild(area);
      return area;
    }
    var add = document.getElementById("add-listing");
    if (add) { add.addEventListener("click", function () { addField().focus(); }); }
    var files = document.getElementById("listing-files");
    if (files) {
      files.addEventListener("change", function () {
        var list = Array.prototype.slice.call(files.files || []);
        var areas = Array.prototype.slice.call(fields.querySelectorAll("textarea"));
        var empty = areas.filter(function (a) { return a.value.trim() === ""; });
        list.forEach(function (file) {
          var area = empty.shift() || addField();
          file.text().then(function (text) { area.value = text; });
        });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live-review]");
    if (live) { liveView(live); }
    var form = document.getElementById("new-review");
    if (form) { listingForm(form); }
  });
})();
