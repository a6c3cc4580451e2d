/* API key pages (portal and admin): progressive enhancement only.
   Loaded with `defer` by the pages that need it (strict CSP: no inline script).
   - A [data-copy="<id>"] button (hidden until this runs) copies the text of
     the element with that id to the clipboard and says so in the
     [data-copy-status] region beside it; where the clipboard is not
     available, it selects the text for Ctrl+C / Cmd+C instead.
   - A member select [data-scope-member] (the admin's "Acts as") leaves open
     in the scope grid [data-scope-grid] only the scopes its chosen option
     lists in data-scopes; the others are unticked and disabled. The server
     checks the same (prm.api.keys.create_key). */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var status = button.parentNode.querySelector("[data-copy-status]");
    function say(text) { if (status) { status.textContent = text; } }
    button.hidden = false;
    source.addEventListener("click", function () { selectText(source); });
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { say("Copied to the clipboard."); },
          function () { selectText(source); say("Selected: press Ctrl+C (Cmd+C on a Mac) to copy."); }
        );
      } else {
        selectText(source);
        say("Selected: press Ctrl+C (Cmd+C on a Mac) to copy.");
      }
    });
  });

  var member = document.querySelector("select[data-scope-member]");
  var grid = document.querySelector("[data-scope-grid]");
  if (member && grid) {
    var narrow = function () {
      var option = member.options[member.selectedIndex];
      var allowed = option && option.hasAttribute("data-scopes")
        ? option.getAttribute("data-scopes").split(" ") : null;
      grid.querySelectorAll("input[data-scope]").forEach(function (box) {
        var open = allowed === null || allowed.indexOf(box.getAttribute("data-scope")) !== -1;
        box.disabled = !open;
        if (!open) { box.checked = false; }
      });
    };
    member.addEventListener("change", narrow);
    narrow();
  }
})();
