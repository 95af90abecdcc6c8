// The guest's receipt and invoice pages: the print button (no inline script: the CSP allows none).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
