/* Every page: the language menu submits its form when changed (no inline handler: the CSP allows no inline script). */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
