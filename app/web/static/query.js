// Query page: draw on the canvas, and run a solve with progress.
(function () {
  const canvas = document.getElementById("canvas");
  if (canvas) {
    const ctx = canvas.getContext("2d");
    function clear() { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
    clear();
    ctx.lineWidth = 10; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#000";
    let drawing = false;
    function at(e) { const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height]; }
    canvas.addEventListener("pointerdown", e => { drawing = true; const [x, y] = at(e);
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke(); });
    canvas.addEventListener("pointermove", e => { if (!drawing) return; const [x, y] = at(e);
      ctx.lineTo(x, y); ctx.stroke(); });
    window.addEventListener("pointerup", () => { drawing = false; });
    document.getElementById("clear").addEventListener("click", clear);
    document.getElementById("canvas-form").addEventListener("submit", () => {
      document.getElementById("drawing").value = canvas.toDataURL("image/png");
    });
  }

  const form = document.getElementById("solve-form");
  if (!form) return;
  const status = document.getElementById("solve-status");
  const best = document.getElementById("solve-best");
  const program = document.getElementById("solve-program");
  const cancel = document.getElementById("cancel");
  let job = null;
  const PHASES = {enumerating: "enumerating start programs", constructing: "building a program stroke by stroke",
                  searching: "searching"};
  form.addEventListener("submit", async e => {
    e.preventDefault();
    const r = await fetch(form.dataset.url, {method: "POST", body: new URLSearchParams(new FormData(form))});
    if (!r.ok) { status.textContent = await r.text(); return; }
    job = await r.json();
    cancel.disabled = false;
    poll();
  });
  cancel.addEventListener("click", async () => {
    if (job) await fetch(job.progress + "/cancel", {method: "POST"});
  });
  async function poll() {
    const r = await fetch(job.progress, {cache: "no-store"});
    if (!r.ok) { status.textContent = await r.text(); return; }
    const p = await r.json();
    const phase = p.status === "running" && p.phase ? ` (${PHASES[p.phase] || p.phase})` : "";
    status.textContent = `${p.status}${phase} · ${p.elapsed_s.toFixed(1)} / ${p.budget_s} s · ${p.proposer} · ` +
      (p.constructed ? `started from a construction of ${p.constructed.tokens} tokens, IoU ${p.constructed.iou} · ` : "") +
      `${p.expanded} expanded, ${p.candidates} candidates` +
      (p.program !== null ? ` · best: ${p.tokens} tokens, distance ${p.distance}${p.solved ? " · SOLVED" : ""}` : "") +
      (p.error ? ` · ${p.error}` : "");
    if (p.program !== null) { program.hidden = false; program.textContent = p.program || "(the empty program)"; }
    if (p.has_image) {
      best.hidden = false;
      document.getElementById("solve-best-caption").hidden = false;
      best.src = job.progress + "/best.png?t=" + Date.now();
    }
    if (p.status === "queued" || p.status === "running") setTimeout(poll, 500);
    else cancel.disabled = true;
  }
})();
