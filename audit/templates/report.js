(function () {
  "use strict";
  // Filters by status and severity; hides policies with nothing left; opens every finding before printing.
  // No request of any kind: the page's Content-Security-Policy would refuse it anyway.
  var root = document.documentElement;
  var boxes = Array.prototype.slice.call(document.querySelectorAll("#filters input[type=checkbox]"));
  var findings = Array.prototype.slice.call(document.querySelectorAll("details.finding"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.policy"));
  var shown = document.getElementById("shown-count");
  var empty = document.getElementById("no-match");

  function selected(name) {
    var wanted = {};
    boxes.forEach(function (box) {
      if (box.name === name && box.checked) { wanted[box.value] = true; }
    });
    return wanted;
  }

  function apply() {
    var statuses = selected("status");
    var severities = selected("severity");
    var count = 0;
    findings.forEach(function (finding) {
      var visible = statuses[finding.dataset.status] === true && severities[finding.dataset.severity] === true;
      finding.hidden = !visible;
      if (visible) { count += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = group.querySelector("details.finding:not([hidden])") === null;
    });
    shown.textContent = String(count);
    empty.hidden = count !== 0;
  }

  function openAll(open) {
    findings.forEach(function (finding) { finding.open = open; });
  }

  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  document.getElementById("expand-all").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { openAll(false); });
  window.addEventListener("beforeprint", function () { openAll(true); });
  root.classList.add("js");
  if (findings.length > 0) { apply(); }
}());
