// Address book page: the provider fields show only for an address at another provider, and
// removing an address asks first. Without this script every field shows and removal is direct.
const form = document.getElementById("address-form");
const vaspFields = document.getElementById("vasp-fields");
if (form && vaspFields) {
  const radios = form.querySelectorAll('input[name="ownership"]');
  const sync = () => {
    const checked = form.querySelector('input[name="ownership"]:checked');
    vaspFields.hidden = !checked || checked.value !== "vasp";
  };
  radios.forEach((radio) => radio.addEventListener("change", sync));
  sync();
}
document.querySelectorAll("form.remove-form").forEach((removeForm) => {
  removeForm.addEventListener("submit", (event) => {
    const name = removeForm.dataset.address || "this address";
    if (!window.confirm(`Remove ${name} from your address book? Adding it again starts a new waiting period.`)) {
      event.preventDefault();
    }
  });
});
