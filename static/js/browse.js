/* Item browser and item page: selection count and a confirm dialog before any bulk action.
   Text is set with textContent only. */
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  const dialog = document.getElementById("bulk-confirm");
  if (!form || !dialog) return;
  const actionField = document.getElementById("bulk-action");
  const selectPage = document.getElementById("select-page");
  const applyButton = document.getElementById("bulk-apply");
  const selectedOut = document.getElementById("bulk-selected");
  let confirmed = false;

  function boxes() { return Array.from(form.querySelectorAll("input[type=checkbox][name=item]")); }
  function chosen() { return boxes().filter(function (b) { return b.checked; }); }

  function update() {
    if (!applyButton) return;
    const n = chosen().length;
    selectedOut.textContent = n + " selected";
    applyButton.disabled = n === 0;
    if (selectPage) {
      const all = boxes();
      selectPage.checked = all.length > 0 && n === all.length;
      selectPage.indeterminate = n > 0 && n < all.length;
    }
  }
  if (selectPage) {
    selectPage.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = selectPage.checked; });
      update();
    });
  }
  form.addEventListener("change", update);
  update();

  form.addEventListener("submit", function (event) {
    if (confirmed) return;
    event.preventDefault();
    let text;
    const button = event.submitter;
    if (button && button.dataset.action) {  // the item page: one button per action
      actionField.value = button.dataset.action;
      text = button.dataset.confirm;
    } else {
      const n = chosen().length;
      if (n === 0) return;
      const option = actionField.options[actionField.selectedIndex];
      text = option.textContent + ": " + n + " item" + (n === 1 ? "" : "s") + "?";
    }
    document.getElementById("bulk-confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.showModal();
  });
  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "ok") {
      confirmed = true;
      form.submit();
    }
  });
})();
