/* PRM portal: progressive enhancement only; every page works without it.
   Loaded with `defer` from base.html (strict CSP: no inline script).
   - The main menu collapses behind the "Menu" button below 900 px.
   - The user menu (<details>) closes on Escape and on a click elsewhere. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

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
})();
