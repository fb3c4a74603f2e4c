// Comparable films: the training-catalogue films whose posters look most like one variant,
// as a wrapping grid of thumbnails with their likeness in words; the variant they belong to
// stays marked (on its card, whatever the order, and at the top of the grid).
"use strict";

import { $, api, say, state, wrappable } from "./state.js";

// distance = 1 - cosine similarity of the posters' embeddings
const LIKENESS = [
  [0.05, "the same poster"], [0.2, "looks very much alike"], [0.35, "looks alike"],
  [0.5, "looks somewhat alike"], [Infinity, "looks a little alike"],
];

export function likeness(distance) {
  return LIKENESS.find(([below]) => distance < below)[1];
}

export async function findSimilar(variant, render) {
  const form = new FormData();
  form.append("file", variant.file, variant.file.name);
  form.append("k", "12");
  say(`Looking for films like ${variant.file.name}…`);
  try {
    const result = await api("/v1/similar", form);
    $("films").replaceChildren(...result.films.map(film));
    showSimilarFor(variant);
    render();
    $("similar").focus();
    say(`${result.films.length} films whose posters look like ${variant.file.name}.`);
  } catch (err) {
    say(err.message, true);
  }
}

// Show the grid as that of ``variant`` (null: hide it).
export function showSimilarFor(variant) {
  state.similarFor = variant?.id ?? null;
  $("similar").hidden = !variant;
  if (!variant) return;
  $("similar-title").textContent = "Films whose posters look like this variant";
  $("similar-variant").src = variant.url;
  $("similar-variant").alt = `Poster ${variant.result.file}`;
  const about = $("similar-for");
  about.textContent = "For ";
  const name = document.createElement("strong");
  wrappable(name, variant.result.file);
  about.append(name, " (marked above). Nearest first, from the films the model learnt from.");
}

function film(f) {
  const li = document.createElement("li");
  li.className = "film";
  li.innerHTML = `<div class="thumb"></div><span class="title"></span><span class="meta"></span>` +
    `<span class="like"></span><span class="genres"></span>`;
  const name = f.title || f.id;
  if (f.thumbnail) {
    const img = document.createElement("img");
    img.src = f.thumbnail;
    img.alt = `Poster of ${name}`;
    img.loading = "lazy";
    li.querySelector(".thumb").append(img);
  } else {
    li.querySelector(".thumb").textContent = "no poster";
  }
  li.querySelector(".title").textContent = name;
  li.querySelector(".meta").textContent = f.year ?? "year unknown";
  const like = li.querySelector(".like");
  like.textContent = likeness(f.distance);
  like.title = `distance ${f.distance.toFixed(2)} (0: the same poster)`;
  li.querySelector(".genres").textContent = f.genres.join(", ");
  return li;
}
