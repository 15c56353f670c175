// Overview: refresh the counts (and the plot when they changed) every few seconds.
(function () {
  const me = document.currentScript;
  const api = me.dataset.api, plot = me.dataset.plot;
  let key = null;
  async function refresh() {
    const live = document.getElementById("live");
    try {
      const r = await fetch(api, {cache: "no-store"});
      if (!r.ok) throw new Error(r.status);
      const n = await r.json();
      document.getElementById("n-entries").textContent = n.entries;
      document.getElementById("n-programs").textContent = n.programs;
      for (const [source, count] of Object.entries(n.by_source)) {
        const cell = document.getElementById("n-source-" + source);
        if (cell) cell.textContent = count;
      }
      if (key !== null && n.plot_key !== key) {
        document.getElementById("growth").src = plot + "?v=" + encodeURIComponent(n.plot_key);
      }
      key = n.plot_key;
      live.classList.remove("stale");
    } catch (e) {
      live.classList.add("stale");
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
