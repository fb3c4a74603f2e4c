// What every part of the page shares: its state, the API call, the status line, small helpers.
"use strict";

export const $ = (id) => document.getElementById(id);
export const state = {
  model: null, variants: [], rankBy: new Set(), nextId: 1, similarFor: null,
  sent: "", // the details the cards were made with (to say when they changed)
};

let quiet = null;

// The status line: in the page's flow (it never covers the bars); a message that is not an
// error goes away by itself.
export function say(text, isError = false) {
  clearTimeout(quiet);
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
  if (text && !isError) quiet = setTimeout(() => say(""), 4000);
}

export async function api(path, form) {
  const response = await fetch(path, form ? { method: "POST", body: form } : {});
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const about = body.file ? `${body.file}: ` : "";
    throw new Error(`${about}${body.error || "request failed"} (${response.status})`);
  }
  return body;
}

// The film's details as the form has them: {field: value} of those filled in.
export function filmDetails() {
  const out = {};
  for (const f of state.model?.fields ?? []) {
    const value = $(f.name)?.value.trim();
    if (value) out[f.name] = value;
  }
  return out;
}

export function withDetails(form, given = filmDetails()) {
  for (const [key, value] of Object.entries(given)) form.append(key, value);
  return form;
}

// A file name that wraps between its parts (at - _ . and spaces), not inside a word.
export function wrappable(node, name) {
  node.replaceChildren();
  name.split(/(?<=[-_. ])/).forEach((part, i) => {
    if (i) node.append(document.createElement("wbr"));
    node.append(part);
  });
}

export function percent(p) {
  return `${Math.round(p * 100)}%`;
}

// Where the variant's poster says the genre: the heatmap, with the details it was read with.
export async function heatmap(variant, genre) {
  const form = withDetails(new FormData(), variant.details);
  form.append("file", variant.file, variant.file.name);
  form.append("genre", genre);
  return api("/v1/explain", form);
}
