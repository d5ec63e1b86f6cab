// The review page: one question at a time, every pair's answer, marks saved as the TA types.
// Answers arrive as HTML the server has already sanitised; labels, notes and comments are
// always set as text. Math is typeset by KaTeX (trust off) as answers scroll into view.
"use strict";

const TOKEN = document.querySelector('meta[name="autograder-token"]').content;
const SAVE_AFTER_MS = 400;
const state = { questions: [], question: null, cards: [], current: -1 };

async function api(method, path, body, keepalive = false) {
  const options = { method, keepalive, headers: { Authorization: "token " + TOKEN } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const reply = await fetch(path, options);
  let data = {};
  try { data = await reply.json(); } catch (e) { data = { error: reply.statusText }; }
  if (!reply.ok) throw new Error(data.error || reply.statusText);
  return data;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function points(x) {
  return Math.round(x * 100) / 100;
}

// ------------------------------------------------------------------ math

function typeset(root) {
  if (!window.katex) return;
  for (const node of root.querySelectorAll(".math:not([data-typeset])")) {
    node.setAttribute("data-typeset", "1");
    const tex = node.textContent;
    const display = node.classList.contains("block") || node.classList.contains("amsmath");
    try {
      window.katex.render(tex, node, { displayMode: display, throwOnError: false, trust: false,
                                       strict: "ignore", maxSize: 50, maxExpand: 1000 });
    } catch (e) {
      node.textContent = tex;  // shown as the pair wrote it
    }
  }
}

const onScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) {
      typeset(entry.target);
      onScreen.unobserve(entry.target);
    }
  }
}, { rootMargin: "800px 0px" });

// ------------------------------------------------------------------ the question list

function renderQuestions() {
  const nav = document.getElementById("questions");
  nav.replaceChildren();
  for (const q of state.questions) {
    const link = el("a", { href: "#q=" + encodeURIComponent(q.id), "data-id": q.id });
    link.append(el("div", {}, q.title));
    link.append(el("div", { class: "kind" }, kindText(q.kind) + " · " + points(q.max_points) + " pt"));
    const bar = el("div", { class: "bar" });
    bar.append(el("span"));
    link.append(bar, el("div", { class: "count" }));
    link.addEventListener("click", (event) => { event.preventDefault(); openQuestion(q.id, 0); });
    nav.append(link);
    showProgress(q);
  }
}

function kindText(kind) {
  return { written: "written answer", code: "code graded by hand", task: "task" }[kind] || kind;
}

function showProgress(q) {
  const link = document.querySelector(`#questions a[data-id="${CSS.escape(q.id)}"]`);
  if (!link) return;
  link.querySelector(".count").textContent = `${q.graded}/${q.total} graded`;
  link.querySelector(".bar span").style.width = (q.total ? 100 * q.graded / q.total : 0) + "%";
  link.classList.toggle("current", state.question !== null && state.question.id === q.id);
}

// ------------------------------------------------------------------ one question

async function openQuestion(id, index) {
  await flushAll();
  const data = await api("GET", "/api/questions/" + encodeURIComponent(id));
  const q = data.question;
  state.question = { id: q.grade_id, data: q };
  state.questions.forEach(showProgress);
  renderReference(q);
  renderAnswers(data.answers, q);
  select(Math.min(Math.max(index, 0), state.cards.length - 1), { scroll: true });
}

function section(parent, title, html, cls) {
  parent.append(el("h3", {}, title));
  const box = el("div", { class: cls || "" });
  box.innerHTML = html;  // sanitised on the server (instructor's text, same pipeline)
  parent.append(box);
}

function renderReference(q) {
  const aside = document.getElementById("reference");
  aside.replaceChildren(el("h2", {}, q.title));
  aside.append(el("div", { class: "kind" }, kindText(q.kind) + " · " + points(q.max_points) + " points"));
  if (q.note) aside.append(el("p", { class: "note" }, q.note));
  if (q.prompt) section(aside, q.kind === "task" ? "Task" : "Question", q.prompt);
  if (q.kind !== "task") {
    if (q.reference) section(aside, "Reference answer", q.reference);
    else aside.append(el("h3", {}, "Reference answer"), el("p", { class: "none" }, "none in the source"));
  }
  if (q.rubric) section(aside, "Rubric", q.rubric, "rubric");
  else {
    aside.append(el("h3", {}, "Rubric"), el("p", { class: "none" },
      "None written: the instructor may put one between lines BEGIN MARK SCHEME and END MARK SCHEME inside the solution."));
  }
  typeset(aside);
}

function renderAnswers(answers, q) {
  const main = document.getElementById("answers");
  main.replaceChildren();
  state.cards = [];
  if (!answers.length) main.append(el("p", { class: "empty" }, "No answer to this question."));
  answers.forEach((a, i) => {
    const card = el("article", { class: "answer " + a.status, id: "answer-" + a.key });
    const head = el("header");
    head.append(el("span", { class: "label" }, a.label));
    const said = { no_response: "no response", missing: "answer not found",
                   unreadable: "notebook unreadable" }[a.status];
    if (a.note || said) head.append(el("span", { class: "note" }, a.note || said));
    const body = el("div", { class: "body" });
    body.innerHTML = a.html;  // sanitised on the server; the page's CSP backs it up
    const marking = el("div", { class: "marking" });
    const label = el("label", {}, "Points ");
    const input = el("input", { class: "points", type: "text", inputmode: "decimal",
                                 autocomplete: "off", "aria-label": "points for " + a.label });
    input.value = a.points === null ? "" : String(a.points);
    label.append(input, document.createTextNode(" / " + points(a.max_points)));
    const comment = el("textarea", { class: "comment", rows: "2", placeholder: "comment for the pair",
                                     "aria-label": "comment for " + a.label });
    comment.value = a.comment || "";
    const status = el("span", { class: "state", role: "status" });
    marking.append(label, comment, status);
    if (a.origin) marking.append(el("span", { class: "origin" }, origin(a.origin, a.at)));
    card.append(head, body, marking);
    main.append(card);
    const entry = { answer: a, card, input, comment, status, timer: null, busy: false, again: false,
                    saved: { points: input.value.trim(), comment: comment.value }, failed: false,
                    graded: a.graded };
    card.classList.toggle("graded", a.graded);
    for (const field of [input, comment]) {
      field.addEventListener("input", () => schedule(entry));
      field.addEventListener("blur", () => flush(entry));
      field.addEventListener("focus", () => select(i, { scroll: false }));
    }
    card.addEventListener("click", () => select(i, { scroll: false }));
    state.cards.push(entry);
    onScreen.observe(card);
  });
}

function origin(where, at) {
  const when = at ? at.replace("T", " ").replace("+00:00", " UTC") : "";
  return (where === "xlsx" ? "entered in grades.xlsx" : "entered here") + (when ? ", " + when : "");
}

// ------------------------------------------------------------------ saving

function schedule(entry) {
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => flush(entry), SAVE_AFTER_MS);
  show(entry, "", "not saved yet…");
}

function show(entry, cls, text) {
  entry.status.className = "state " + cls;
  entry.status.textContent = text;
}

async function flush(entry, keepalive = false) {
  clearTimeout(entry.timer);
  entry.timer = null;
  const want = { points: entry.input.value.trim(), comment: entry.comment.value };
  if (want.points === entry.saved.points && want.comment === entry.saved.comment) {
    if (!entry.busy && entry.status.textContent) {  // typed back to what is stored
      entry.failed = false;
      show(entry, "saved", "saved");
    }
    return;
  }
  if (entry.busy) { entry.again = true; return; }  // one request at a time, in typing order
  entry.busy = true;
  show(entry, "", "saving…");
  try {
    const reply = await api("PUT", "/api/marks/" + entry.answer.key,
                            { points: want.points === "" ? null : want.points, comment: want.comment },
                            keepalive);
    entry.saved = want;
    entry.failed = false;
    entry.graded = reply.graded;
    entry.card.classList.toggle("graded", reply.graded);
    show(entry, "saved", want.points === "" ? "saved (no mark)" : "saved");
    const q = state.questions.find((x) => x.id === state.question.id);
    if (q) { q.graded = reply.progress.graded; q.total = reply.progress.total; showProgress(q); }
  } catch (error) {
    entry.failed = true;
    show(entry, "error", "not saved: " + error.message);
  } finally {
    entry.busy = false;
  }
  if (entry.again) { entry.again = false; await flush(entry, keepalive); }
}

async function flushAll(keepalive = false) {
  await Promise.all(state.cards.filter((e) => e.timer !== null).map((e) => flush(e, keepalive)));
}

// ------------------------------------------------------------------ moving around

function select(index, { scroll = true, focus = null } = {}) {
  if (index < 0 || index >= state.cards.length) return;
  if (state.current >= 0 && state.cards[state.current]) {
    state.cards[state.current].card.classList.remove("current");
  }
  state.current = index;
  const entry = state.cards[index];
  entry.card.classList.add("current");
  typeset(entry.card);
  if (scroll) entry.card.scrollIntoView({ block: "nearest" });
  if (focus) {
    entry[focus].focus({ preventScroll: !scroll });
    if (focus === "input") entry.input.select();
  }
  history.replaceState(null, "", "#q=" + encodeURIComponent(state.question.id) + "&i=" + index);
}

function nextUngraded(from) {
  const n = state.cards.length;
  for (let step = 1; step <= n; step++) {
    const i = (from + step) % n;
    const e = state.cards[i];
    if (!e.graded && e.input.value.trim() === "") return i;
  }
  return -1;
}

function move(to, focus) {
  const from = state.current;
  if (from >= 0) flush(state.cards[from]);
  if (to >= 0) select(to, { scroll: true, focus });
}

function questionStep(step) {
  const i = state.questions.findIndex((q) => q.id === state.question.id);
  const next = state.questions[i + step];
  if (next) openQuestion(next.id, 0);
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const inPoints = target.classList && target.classList.contains("points");
  const inComment = target.classList && target.classList.contains("comment");
  if (!state.cards.length && !["[", "]", "?", "Escape"].includes(event.key)) return;
  const here = state.current;
  if (inPoints) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) move(nextUngraded(here), "input");
    else if (event.key === "Enter" && event.shiftKey) move(here - 1, "input");
    else if (event.key === "Enter" || event.key === "ArrowDown") move(here + 1, "input");
    else if (event.key === "ArrowUp") move(here - 1, "input");
    else if (event.key === "Escape") target.blur();
    else return;
    event.preventDefault();
    return;
  }
  if (inComment) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) move(here + 1, "input");
    else if (event.key === "Escape") target.blur();
    else return;
    event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || target.isContentEditable
      || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
  switch (event.key) {
    case "j": case "ArrowDown": move(here + 1); break;
    case "k": case "ArrowUp": move(here - 1); break;
    case "n": move(nextUngraded(here)); break;
    case "Enter": case "e": move(Math.max(here, 0), "input"); break;
    case "c": move(Math.max(here, 0), "comment"); break;
    case "]": questionStep(1); break;
    case "[": questionStep(-1); break;
    case "?": document.getElementById("help").hidden = !document.getElementById("help").hidden; break;
    case "Escape": document.getElementById("help").hidden = true; break;
    default: return;
  }
  event.preventDefault();
});

window.addEventListener("pagehide", () => { flushAll(true); });

// ------------------------------------------------------------------ start

async function start() {
  const data = await api("GET", "/api/questions");
  state.questions = data.questions;
  document.getElementById("blind").hidden = !data.blind;
  renderQuestions();
  const hash = new URLSearchParams(location.hash.slice(1));
  const wanted = state.questions.find((q) => q.id === hash.get("q")) || state.questions[0];
  if (wanted) await openQuestion(wanted.id, parseInt(hash.get("i") || "0", 10) || 0);
  document.body.setAttribute("data-ready", "1");
}

start().catch((error) => {
  document.getElementById("answers").replaceChildren(el("p", { class: "note" }, "Cannot load: " + error.message));
});
