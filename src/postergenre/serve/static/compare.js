// Two variants side by side: genre-by-genre differences, largest first, and both heatmaps of
// the genre that differs most; and every variant's results as one CSV file.
"use strict";

import { $, heatmap, percent, say, state } from "./state.js";

const picked = { a: null, b: null, shown: "" }; // variant ids; the heatmaps' key
const heats = new Map(); // "id|genre|details" -> explain answer

function options(select, chosen) {
  select.replaceChildren(...state.variants.map((v) => {
    const option = document.createElement("option");
    option.value = v.id;
    option.textContent = v.result.file;
    option.selected = v.id === chosen;
    return option;
  }));
}

function byId(id) {
  return state.variants.find((v) => v.id === id);
}

// The genres of two variants, the largest difference in chance first.
export function differences(a, b) {
  const chanceB = Object.fromEntries(b.result.genres.map((g) => [g.genre, g.probability]));
  return a.result.genres.map((g) => ({ genre: g.genre, a: g.probability, b: chanceB[g.genre],
                                       diff: chanceB[g.genre] - g.probability }))
    .sort((x, y) => Math.abs(y.diff) - Math.abs(x.diff));
}

export function renderCompare() {
  $("compare").hidden = state.variants.length < 2;
  if (state.variants.length < 2) return;
  const ids = state.variants.map((v) => v.id);
  if (!ids.includes(picked.a)) picked.a = ids[0];
  if (!ids.includes(picked.b) || picked.b === picked.a) picked.b = ids.find((i) => i !== picked.a);
  options($("compare-a"), picked.a);
  options($("compare-b"), picked.b);
  const [a, b] = [byId(picked.a), byId(picked.b)];
  $("compare-a-name").textContent = a.result.file;
  $("compare-b-name").textContent = b.result.file;
  const rows = differences(a, b);
  $("compare-table").tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    const points = Math.round(r.diff * 100);
    for (const text of [r.genre, percent(r.a), percent(r.b),
                        points ? `${points > 0 ? "+" : "−"}${Math.abs(points)} points` : "same"]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  showHeatmaps(a, b, rows[0].genre);
}

async function showHeatmaps(a, b, genre) {
  const key = [a.id, b.id, genre, JSON.stringify(a.details), JSON.stringify(b.details)].join("|");
  if (key === picked.shown) return;
  picked.shown = key;
  $("compare-heat").hidden = true;
  try {
    const [ha, hb] = await Promise.all([a, b].map(async (v) => {
      const k = `${v.id}|${genre}|${JSON.stringify(v.details)}`;
      if (!heats.has(k)) heats.set(k, await heatmap(v, genre));
      return heats.get(k);
    }));
    if (picked.shown !== key) return; // the choice changed meanwhile
    $("compare-heat-title").textContent = `Where each says ${genre}, the genre that differs most`;
    for (const [side, v, h] of [["a", a, ha], ["b", b, hb]]) {
      const img = $(`compare-heat-${side}`);
      img.src = h.overlay;
      img.alt = `Heatmap of ${genre} on ${v.result.file}`;
      img.nextElementSibling.textContent = `${v.result.file}: ${genre} ${percent(h.probability)}`;
    }
    $("compare-heat").hidden = false;
  } catch (err) {
    picked.shown = "";
    say(err.message, true);
  }
}

function pick(side) {
  return (e) => {
    picked[side] = Number(e.target.value);
    const other = side === "a" ? "b" : "a";
    if (picked[other] === picked[side]) picked[other] = null;
    renderCompare();
  };
}

$("compare-a").addEventListener("change", pick("a"));
$("compare-b").addEventListener("change", pick("b"));

const quote = (v) => /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : v;

// Every variant's results: one row per variant and genre.
export function csv() {
  const head = ["file", "genre", "chance", "threshold", "decided", "read", "thresholds_for",
                "title", "year", "plot"];
  const rows = state.variants.flatMap((v) => v.result.genres.map((g) => [
    v.result.file, g.genre, g.probability, g.threshold, g.decided ? "yes" : "no",
    v.result.inputs.used.join(" "), ["poster", ...v.result.inputs.rule].join(" "),
    v.details.title ?? "", v.details.year ?? "", v.details.plot ?? ""]));
  return [head, ...rows].map((r) => r.map(quote).join(",")).join("\n") + "\n";
}

export function downloadCsv() {
  const url = URL.createObjectURL(new Blob([csv()], { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = "poster-genres.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
