// The page: poster variants side by side, their genre bars, a heatmap per genre, ranking by
// chosen genres and comparable films. Plain DOM, no build step; every call is to this server.
"use strict";

const MAX_VARIANTS = 6;
const TOP = 8; // genre bars shown before "show all"
const $ = (id) => document.getElementById(id);
const state = { model: null, variants: [], rankBy: new Set(), nextId: 1 };

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function api(path, form) {
  const response = await fetch(path, form ? { method: "POST", body: form } : {});
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const about = body.file ? `${body.file}: ` : "";
    throw new Error(`${about}${body.error || "request failed"} (${response.status})`);
  }
  return body;
}

function details(form) {
  for (const key of ["title", "year", "plot"]) {
    const value = $(key).value.trim();
    if (value) form.append(key, value);
  }
  return form;
}

async function loadModel() {
  const model = await api("/v1/model");
  state.model = model;
  const map = model.metrics?.test?.macro_map;
  $("model").textContent = `${model.name} · ${model.genres.length} genres` +
    (map ? ` · test macro mAP ${map.toFixed(3)}` : "") +
    (model.similar ? ` · ${model.similar.films.toLocaleString()} comparable films` : "");
  const takes = model.inputs.map((i) => i.name);
  const unused = ["title", "year", "plot"].filter((f) => !takes.includes(f));
  $("inputs-note").textContent = unused.length
    ? `This model reads ${takes.join(", ")}; it ignores ${unused.join(", ")}.`
    : `This model reads ${takes.join(", ")}.`;
  const chips = $("rank-genres");
  for (const genre of model.genres) {
    const label = document.createElement("label");
    label.className = "chip";
    label.innerHTML = `<input type="checkbox"><span></span>`;
    label.querySelector("span").textContent = genre;
    label.querySelector("input").addEventListener("change", (e) => {
      e.target.checked ? state.rankBy.add(genre) : state.rankBy.delete(genre);
      render();
    });
    chips.append(label);
  }
}

async function addFiles(fileList) {
  const files = [...fileList].filter((f) => f.size > 0);
  const room = MAX_VARIANTS - state.variants.length;
  if (!files.length) return;
  if (room <= 0) return say(`At most ${MAX_VARIANTS} variants: remove one first.`, true);
  const taken = files.slice(0, room);
  const form = details(new FormData());
  taken.forEach((f) => form.append("files", f, f.name));
  say(`Reading ${taken.length} poster${taken.length > 1 ? "s" : ""}…`);
  try {
    const result = await api("/v1/predict", form);
    result.posters.forEach((p, i) => state.variants.push({
      id: state.nextId++, file: taken[i], url: URL.createObjectURL(taken[i]), result: p,
      showAll: false, heat: null,
    }));
    say(files.length > room ? `Only the first ${room} were added (${MAX_VARIANTS} at most).` : "");
    render();
  } catch (err) {
    say(err.message, true);
  }
}

async function update() {
  if (!state.variants.length) return;
  const form = details(new FormData());
  state.variants.forEach((v) => form.append("files", v.file, v.file.name));
  say("Updating…");
  try {
    const result = await api("/v1/predict", form);
    result.posters.forEach((p, i) => { state.variants[i].result = p; state.variants[i].heat = null; });
    say("");
    render();
  } catch (err) {
    say(err.message, true);
  }
}

function score(variant) {
  const probs = Object.fromEntries(variant.result.genres.map((g) => [g.genre, g.probability]));
  const chosen = [...state.rankBy];
  return chosen.reduce((sum, g) => sum + probs[g], 0) / chosen.length;
}

function ordered() {
  if (!state.rankBy.size) return state.variants;
  return [...state.variants].sort((a, b) => score(b) - score(a));
}

function render() {
  const results = $("results");
  const focused = document.activeElement?.dataset?.key;
  results.replaceChildren(...ordered().map((v, place) => column(v, place)));
  $("rank").hidden = state.variants.length < 1;
  $("clear").hidden = !state.variants.length;
  if (focused) document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

function column(variant, place) {
  const node = $("variant-template").content.firstElementChild.cloneNode(true);
  const r = variant.result;
  node.setAttribute("aria-label", `Variant ${r.file}`);
  node.querySelector(".name").textContent = r.file;
  const badge = node.querySelector(".place");
  if (state.rankBy.size) {
    badge.hidden = false;
    badge.textContent = `#${place + 1} · ${(score(variant) * 100).toFixed(0)}%`;
    badge.title = `Mean probability of ${[...state.rankBy].join(", ")}`;
  }
  const remove = node.querySelector(".remove");
  remove.setAttribute("aria-label", `Remove ${r.file}`);
  remove.addEventListener("click", () => {
    state.variants = state.variants.filter((v) => v !== variant);
    URL.revokeObjectURL(variant.url);
    render();
  });
  const poster = node.querySelector(".poster");
  poster.src = variant.url;
  poster.alt = `Poster ${r.file}`;
  const used = node.querySelector(".used");
  if (used) {
    used.textContent = `Read: ${r.inputs.used.join(", ")}` +
      (r.inputs.ignored.length ? ` · ignored: ${r.inputs.ignored.join(", ")}` : "");
  }
  const decided = node.querySelector(".decided");
  decided.append("Decided: ");
  r.decided.forEach((g, i) => {
    const strong = document.createElement("strong");
    strong.textContent = g;
    decided.append(...(i ? [", ", strong] : [strong]));
  });
  const shown = variant.showAll ? r.genres : r.genres.slice(0, TOP);
  node.querySelector(".bars").append(...shown.map((g) => bar(variant, g)));
  const more = node.querySelector(".more");
  if (r.genres.length > TOP) {
    more.hidden = false;
    more.textContent = variant.showAll ? `Top ${TOP} only` : `All ${r.genres.length} genres`;
    more.dataset.key = `more-${variant.id}`;
    more.addEventListener("click", () => { variant.showAll = !variant.showAll; render(); });
  }
  const similar = node.querySelector(".find-similar");
  similar.dataset.key = `similar-${variant.id}`;
  similar.setAttribute("aria-label", `Comparable films for ${r.file}`);
  similar.addEventListener("click", () => findSimilar(variant));
  if (variant.heat) showHeat(node, variant.heat);
  return node;
}

function bar(variant, g) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  const pct = Math.round(g.probability * 100);
  const cut = Math.round(g.threshold * 100);
  button.type = "button";
  button.className = "bar" + (g.decided ? " is-decided" : "");
  button.dataset.key = `bar-${variant.id}-${g.genre}`;
  button.setAttribute("aria-pressed", String(variant.heat?.genre === g.genre));
  button.setAttribute("aria-label", `${g.genre} ${pct}%${g.decided ? ", decided" : ""}, ` +
    `threshold ${cut}%. Show where the poster says ${g.genre}`);
  button.title = `${g.genre}: ${pct}% chance; decided from ${cut}%`;
  button.innerHTML = `<span class="genre"></span><span class="track"><span class="fill"></span>` +
    `<span class="cut"></span></span><span class="pct"></span>`;
  button.querySelector(".genre").textContent = g.genre;
  button.querySelector(".fill").style.width = `${Math.max(pct, 1)}%`;
  button.querySelector(".cut").style.left = `${cut}%`;
  button.querySelector(".pct").textContent = `${pct}%`;
  button.addEventListener("click", () => explain(variant, g.genre));
  li.append(button);
  return li;
}

async function explain(variant, genre) {
  if (variant.heat?.genre === genre) { variant.heat = null; return render(); }
  const form = details(new FormData());
  form.append("file", variant.file, variant.file.name);
  form.append("genre", genre);
  say(`Finding where ${variant.file.name} says ${genre}…`);
  try {
    variant.heat = await api("/v1/explain", form);
    say("");
    render();
  } catch (err) {
    say(err.message, true);
  }
}

function showHeat(node, heat) {
  const img = node.querySelector(".heatmap");
  img.src = heat.overlay;
  img.alt = `Heatmap of ${heat.genre} on ${heat.file}`;
  img.hidden = false;
  node.querySelector(".poster").hidden = true;
  const legend = node.querySelector(".legend");
  legend.hidden = false;
  legend.innerHTML = `<span class="raise">Red</span> regions raise <b></b>, ` +
    `<span class="lower">blue</span> lower it (${Math.round(heat.probability * 100)}% overall). ` +
    `Click the genre again for the poster.`;
  legend.querySelector("b").textContent = heat.genre;
}

async function findSimilar(variant) {
  const form = new FormData();
  form.append("file", variant.file, variant.file.name);
  form.append("k", "12");
  say(`Looking for films like ${variant.file.name}…`);
  try {
    const result = await api("/v1/similar", form);
    $("similar-title").textContent = `Films whose posters look like ${result.file}`;
    $("films").replaceChildren(...result.films.map(film));
    $("similar").hidden = false;
    document.querySelectorAll(".variant").forEach((n) =>
      n.classList.toggle("selected", n.getAttribute("aria-label") === `Variant ${result.file}`));
    $("similar").focus();
    say("");
  } catch (err) {
    say(err.message, true);
  }
}

function film(f) {
  const li = document.createElement("li");
  li.className = "film";
  li.innerHTML = `<span class="title"></span><span class="meta"></span><div class="genres"></div>`;
  li.querySelector(".title").textContent = f.title || f.id;
  li.querySelector(".meta").textContent =
    `${f.year ?? "year unknown"} · distance ${f.distance.toFixed(2)}`;
  li.querySelector(".genres").textContent = f.genres.join(", ");
  return li;
}

function setup() {
  const drop = $("drop");
  $("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => { e.preventDefault(); addFiles(e.dataTransfer.files); });
  $("update").addEventListener("click", update);
  $("clear").addEventListener("click", () => {
    state.variants.forEach((v) => URL.revokeObjectURL(v.url));
    state.variants = [];
    $("similar").hidden = true;
    render();
  });
  loadModel().catch((err) => say(`Cannot load the model: ${err.message}`, true));
}

setup();
