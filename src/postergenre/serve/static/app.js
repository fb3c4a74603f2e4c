// The page: poster variants of one film side by side, their genre bars with each genre's
// threshold, a heatmap per genre, ranking by chosen genres, comparable films, a comparison of
// two variants and a CSV of every result. Plain DOM modules, no build step; every call is to
// this server.
"use strict";

import {
  $, api, filmDetails, heatmap, percent, say, state, withDetails, wrappable,
} from "./state.js";
import { findSimilar, showSimilarFor } from "./films.js";
import { downloadCsv, renderCompare } from "./compare.js";

const MAX_VARIANTS = 6;
const TOP = 8; // genre bars shown before "show all"
const WORDS = { poster: "poster", title: "title", year: "year", plot: "plot", ocr: "poster text" };

const words = (names) => names.map((n) => WORDS[n] ?? n);
const list = (items) => items.length < 2 ? items.join("")
  : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;

async function loadModel() {
  const model = await api("/v1/model");
  state.model = model;
  const reads = list(words(model.inputs.map((i) => i.name)));
  const map = model.metrics?.test?.macro_map;
  $("model").textContent = `Reads a film's ${reads} and gives the chance of each of ` +
    `${model.genres.length} genres.` + (map == null ? "" : ` Tested on films it never saw, ` +
    `it ranks films by genre with a score of ${Math.round(map * 100)} out of 100 ` +
    `(mean average precision; 100 is perfect).`);
  $("model").title = `${model.id}`;
  $("report-link").hidden = !model.report;
  const rule = [model.at_least_one && "when no genre reaches its mark, the likeliest is ticked",
                model.max_genres && `at most ${model.max_genres} are ticked per poster`];
  if (rule.some(Boolean)) $("bars-key").append(` (${rule.filter(Boolean).join("; ")}.)`);
  for (const f of ["title", "year", "plot"]) {
    const spec = model.fields.find((x) => x.name === f);
    $(`field-${f}`).hidden = !spec;
    if (!spec) continue;
    if (spec.minimum != null) $(f).min = spec.minimum;
    if (spec.maximum != null) $(f).max = spec.maximum;
    if (spec.max_length != null) $(f).maxLength = spec.max_length;
  }
  const takes = model.inputs.map((i) => i.name);
  const unused = model.fields.map((f) => f.name).filter((f) => !takes.includes(f));
  $("inputs-note").textContent = unused.length
    ? `This model reads the ${list(words(takes))}; it ignores the ${list(words(unused))}.`
    : `This model reads the ${list(words(takes))}.`;
  for (const genre of model.genres) {
    const label = document.createElement("label");
    label.className = "chip";
    label.innerHTML = `<input type="checkbox"><span></span>`;
    label.querySelector("span").textContent = genre;
    label.querySelector("input").addEventListener("change", (e) => {
      e.target.checked ? state.rankBy.add(genre) : state.rankBy.delete(genre);
      render();
    });
    $("rank-genres").append(label);
  }
  scope();
}

async function predict(files, given) {
  const form = withDetails(new FormData(), given);
  files.forEach((f) => form.append("files", f, f.name));
  return (await api("/v1/predict", form)).posters;
}

async function addFiles(fileList) {
  const files = [...fileList].filter((f) => f.size > 0);
  const room = MAX_VARIANTS - state.variants.length;
  if (!files.length) return;
  if (room <= 0) return say(`At most ${MAX_VARIANTS} variants: remove one first.`, true);
  const taken = files.slice(0, room);
  const given = filmDetails();
  say(`Reading ${taken.length} poster${taken.length > 1 ? "s" : ""}…`);
  try {
    const posters = await predict(taken, given);
    posters.forEach((p, i) => state.variants.push({
      id: state.nextId++, file: taken[i], url: URL.createObjectURL(taken[i]), result: p,
      details: given, showAll: false, heat: null,
    }));
    state.sent = JSON.stringify(given);
    say(files.length > room ? `Only the first ${room} were added (${MAX_VARIANTS} at most).`
      : `Added ${taken.length} poster${taken.length > 1 ? "s" : ""}.`);
    render();
  } catch (err) {
    say(err.message, true);
  }
}

async function update() {
  if (!state.variants.length) return;
  const given = filmDetails();
  say("Updating…");
  try {
    const posters = await predict(state.variants.map((v) => v.file), given);
    posters.forEach((p, i) => Object.assign(state.variants[i],
      { result: p, details: given, heat: null }));
    state.sent = JSON.stringify(given);
    say("Updated with this film's details.");
    render();
  } catch (err) {
    say(err.message, true);
  }
}

// Which posters the details apply to, in words, and whether the cards still match them.
function scope() {
  const n = state.variants.length;
  $("details-scope").textContent = n
    ? `All ${n} poster${n > 1 ? "s" : ""} on the page are variants of this one film: the ` +
      `details apply to ${n > 1 ? "each of them" : "it"}. Clear all clears them too.`
    : "The details apply to every poster you add: all are taken as variants of this one film.";
  $("stale").hidden = !n || JSON.stringify(filmDetails()) === state.sent;
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

export function render() {
  const focused = document.activeElement?.dataset?.key;
  $("results").replaceChildren(...ordered().map((v, place) => card(v, place)));
  $("rank").hidden = $("results-area").hidden = !state.variants.length;
  $("clear").hidden = !state.variants.length;
  if (!state.variants.some((v) => v.id === state.similarFor)) showSimilarFor(null);
  renderCompare();
  scope();
  if (focused) document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

function card(variant, place) {
  const node = $("variant-template").content.firstElementChild.cloneNode(true);
  const r = variant.result;
  node.dataset.variant = variant.id;
  node.setAttribute("aria-label", `Variant ${r.file}`);
  wrappable(node.querySelector(".name"), r.file);
  const badge = node.querySelector(".place");
  if (state.rankBy.size) {
    badge.hidden = false;
    badge.textContent = `#${place + 1} · ${percent(score(variant))}`;
    badge.title = `Mean chance of ${[...state.rankBy].join(", ")}`;
  }
  const chosen = state.similarFor === variant.id;
  node.classList.toggle("selected", chosen);
  node.querySelector(".flag").hidden = !chosen;
  const remove = node.querySelector(".remove");
  remove.title = remove.ariaLabel = `Remove ${r.file}`;
  remove.addEventListener("click", () => {
    state.variants = state.variants.filter((v) => v !== variant);
    URL.revokeObjectURL(variant.url);
    render();
  });
  const poster = node.querySelector(".poster");
  poster.src = variant.url;
  poster.alt = `Poster ${r.file}`;
  const ignored = r.inputs.ignored.length ? ` (not read: ${list(words(r.inputs.ignored))})` : "";
  node.querySelector(".used").textContent = `Read: ${list(words(r.inputs.used))}${ignored}. ` +
    `Thresholds for posters ${r.inputs.rule.length ? `with ${list(words(r.inputs.rule))}`
      : "alone"}.`;
  const decided = node.querySelector(".decided");
  decided.append(r.decided.length ? "Decided: " : "Decided: none");
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
  similar.ariaLabel = `Comparable films for ${r.file}`;
  similar.addEventListener("click", () => findSimilar(variant, render));
  if (variant.heat) showHeat(node, variant.heat);
  return node;
}

function bar(variant, g) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  const pct = percent(g.probability);
  const cut = percent(g.threshold);
  button.type = "button";
  button.className = "bar" + (g.decided ? " is-decided" : "");
  button.dataset.key = `bar-${variant.id}-${g.genre}`;
  button.setAttribute("aria-pressed", String(variant.heat?.genre === g.genre));
  button.ariaLabel = `${g.genre} ${pct}${g.decided ? ", decided" : ""}, threshold ${cut}. ` +
    `Show where the poster says ${g.genre}`;
  button.title = `${g.genre}: ${pct} chance; ticked from ${cut}`;
  button.innerHTML = `<span class="genre"></span><span class="pct"></span>` +
    `<span class="track"><span class="fill"></span><span class="cut"></span></span>` +
    `<span class="need"></span>`;
  button.querySelector(".genre").textContent = g.genre;
  button.querySelector(".fill").style.width = `${Math.max(g.probability * 100, 1)}%`;
  button.querySelector(".cut").style.left = `${g.threshold * 100}%`;
  button.querySelector(".pct").textContent = pct;
  button.querySelector(".need").textContent = `mark ${cut}`;
  button.addEventListener("click", () => explain(variant, g.genre));
  li.append(button);
  return li;
}

async function explain(variant, genre) {
  if (variant.heat?.genre === genre) { variant.heat = null; return render(); }
  say(`Finding where ${variant.file.name} says ${genre}…`);
  try {
    variant.heat = await heatmap(variant, genre);
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
    `<span class="lower">blue</span> lower it (${percent(heat.probability)} overall). ` +
    `Click the genre again for the poster.`;
  legend.querySelector("b").textContent = heat.genre;
}

function clearAll() {
  state.variants.forEach((v) => URL.revokeObjectURL(v.url));
  state.variants = [];
  for (const f of ["title", "year", "plot"]) $(f).value = "";
  state.sent = JSON.stringify({});
  say("Cleared the posters and the film's details.");
  render();
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
  $("details").addEventListener("input", scope);
  $("clear").addEventListener("click", clearAll);
  $("download").addEventListener("click", downloadCsv);
  loadModel().catch((err) => say(`Cannot load the model: ${err.message}`, true));
}

setup();
