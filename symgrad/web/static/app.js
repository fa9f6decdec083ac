// symgrad serve: the page's behaviour. Everything from the server or the student reaches the
// page as text (textContent) or through KaTeX (trust off); no innerHTML, no eval.
"use strict";

const KATEX_OPTIONS = {throwOnError: false, trust: false, strict: "ignore", maxSize: 20, maxExpand: 200};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function tex(latex, display) {
  const node = el("span", "tex");
  try {
    katex.render(latex, node, Object.assign({displayMode: !!display}, KATEX_OPTIONS));
  } catch (err) {
    node.textContent = latex;
  }
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  let data;
  try {
    data = await response.json();
  } catch (err) {
    data = {error: "the server answered " + response.status};
  }
  if (!response.ok && !data.error) data.error = "the server answered " + response.status;
  return data;
}

function looksLatex(text) {
  return text.includes("\\") || text.includes("{");
}

// LaTeX is typeset as typed; the expression language is read by the server (parse and
// print only, no proof) and shown as symgrad reads it, or where reading stopped.
let previewTimer = null;

async function showPreview(spec, box, text, language) {
  box.replaceChildren();
  if (!text.trim()) return;
  if (language === "latex" || (language === "auto" && looksLatex(text))) {
    box.append(el("span", "label", "preview "), tex(text, false));
    return;
  }
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const read = await api("/api/preview", {spec: spec, answer: text, language: language});
    box.replaceChildren();
    if (read.read_as_latex) {
      box.append(el("span", "label", "reads as "), tex(read.read_as_latex, false));
    } else {
      box.append(el("span", "label", read.error_column ? "stops at column " + read.error_column + ": " : ""),
                 el("span", "preview-error", read.error || read.message || ""));
    }
  }, 250);
}

function valueText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function showVerdict(box, v, answer) {
  box.replaceChildren();
  if (v.error) {
    box.dataset.verdict = "error";
    box.append(el("p", "error", v.error));
    return;
  }
  box.dataset.verdict = v.verdict;
  if (v.read_as_latex || v.read_as_text) {   // every verdict begins with how the answer was read
    const read = el("p", "read-as");
    read.append(el("span", "label", "read as "));
    if (v.read_as_latex) read.append(tex(v.read_as_latex, false));
    read.append(el("code", "as-text", v.read_as_text || ""));
    box.append(read);
  }
  const head = el("p", "head");
  head.append(el("strong", "", v.verdict), document.createTextNode(" " + (v.message || "")));
  box.append(head);
  if (v.error_column) {
    const where = el("pre", "parse-error");
    where.textContent = answer + "\n" + " ".repeat(Math.max(0, v.error_column - 1)) + "^";
    box.append(el("p", "", "reading stopped at column " + v.error_column + ":"), where);
  }
  if (v.answer_shape && v.expected_shape && v.answer_shape !== v.expected_shape) {
    box.append(el("p", "", "shape: expected " + v.expected_shape + ", your answer " + v.answer_shape));
  }
  for (const item of v.diagnosis || []) {
    const p = el("p", "mistake");
    p.append(el("code", "", item.mistake), document.createTextNode(": " + item.message));
    box.append(p);
  }
  if (v.counterexample) {
    const table = el("table", "counterexample");
    const caption = el("caption", "", "counterexample");
    table.append(caption);
    const rows = Object.entries(v.counterexample.inputs || {});
    rows.push(["expected", v.counterexample.expected], ["your answer", v.counterexample.got]);
    for (const [name, value] of rows) {
      const tr = el("tr");
      tr.append(el("th", "", name), el("td", "", valueText(value)));
      table.append(tr);
    }
    box.append(table);
  }
  if (v.key_latex) {
    const key = el("p", "key");
    key.append(el("span", "label", "answer key "), tex(v.key_latex, false));
    box.append(key);
  }
}

function question(spec, q) {
  const node = document.getElementById("question-template").content.firstElementChild.cloneNode(true);
  node.dataset.wrt = q.wrt;
  node.querySelector(".wrt").append(tex(q.latex + " =", false));
  node.querySelector(".shape").textContent = " shape " + q.shape;
  const answer = node.querySelector(".answer");
  const language = node.querySelector(".language");
  const preview = node.querySelector(".preview");
  const verdict = node.querySelector(".verdict");
  const button = node.querySelector(".check");
  const update = () => showPreview(spec, preview, answer.value, language.value);
  answer.addEventListener("input", update);
  language.addEventListener("change", update);
  const check = async () => {
    button.disabled = true;
    verdict.dataset.verdict = "pending";
    verdict.replaceChildren(el("p", "pending", "checking..."));
    try {
      const v = await api("/api/check", {spec: spec, wrt: q.wrt, answer: answer.value, language: language.value});
      showVerdict(verdict, v, answer.value);
    } catch (err) {
      showVerdict(verdict, {error: "no answer from the server"}, answer.value);
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", check);
  answer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      check();
    }
  });
  return node;
}

async function loadSpec(name) {
  const data = await api("/api/spec/" + encodeURIComponent(name));
  const network = document.getElementById("network");
  const questions = document.getElementById("questions");
  network.replaceChildren();
  questions.replaceChildren();
  if (data.error) {
    document.getElementById("description").textContent = data.error;
    return;
  }
  document.getElementById("description").textContent = data.description;
  for (const row of data.network) {
    const line = el("div", "equation " + row.kind);
    line.append(el("span", "kind", row.kind), tex(row.latex, false), el("span", "shape", row.shape));
    network.append(line);
  }
  for (const q of data.questions) questions.append(question(name, q));
}

async function start() {
  const select = document.getElementById("spec");
  const data = await api("/api/specs");
  for (const spec of data.specs || []) {
    const option = el("option", "", spec.name);
    option.value = spec.name;
    option.title = spec.description;
    select.append(option);
  }
  const wanted = new URLSearchParams(window.location.search).get("spec");
  if (wanted && (data.specs || []).some((s) => s.name === wanted)) select.value = wanted;
  select.addEventListener("change", () => loadSpec(select.value));
  if (select.value) await loadSpec(select.value);
  document.body.dataset.ready = "1";
}

window.addEventListener("DOMContentLoaded", start);
