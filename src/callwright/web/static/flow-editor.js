// The agent page's flow editor: the flow's nodes as an editable list, kept in sync with the
// "Flow as JSON" textarea that the form submits (and that works alone without this script).
// Every draft is checked by the server as saving would check it; its words are shown as text.
"use strict";

(function () {
  const KINDS = ["say", "ask", "end"];
  const EXPECTS = ["yes_no", "choice", "digits", "number", "date", "text"];
  const END = "__end__";

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A DOM element from properties (never HTML): el("label", {className: "x"}, "text", child).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    node.append(...children);
    return node;
  }

  function select(options, value, props) {
    const s = el("select", props);
    for (const [v, label] of options) s.append(el("option", { value: v, textContent: label, selected: v === value }));
    return s;
  }

  function kindOf(node) {
    if (node.ask !== undefined && node.ask !== null) return "ask";
    if (node.say !== undefined && node.say !== null) return "say";
    return "end";
  }

  function expectOf(node) {
    const e = node.expect;
    if (typeof e === "string") return e;
    if (e && Array.isArray(e.choice)) return "choice";
    if (e && e.digits) return "digits";
    return "";
  }

  function answersOf(node) {
    const kind = expectOf(node);
    if (kind === "yes_no") return ["yes", "no", "default"];
    if (kind === "choice") return [...node.expect.choice, "default"];
    return null;  // any answer key is allowed
  }

  function setUp(editor) {
    const textarea = document.getElementById("flow-json");
    const list = document.getElementById("flow-list");
    const errors = document.getElementById("flow-errors");
    let flow = null;
    let timer = null;

    function parse() {
      try {
        const value = JSON.parse(textarea.value || "{}");
        if (value && typeof value === "object" && !Array.isArray(value)) {
          if (!value.nodes || typeof value.nodes !== "object") value.nodes = {};
          if (typeof value.start !== "string") value.start = "";
          return value;
        }
      } catch (e) { /* shown below */ }
      return null;
    }

    function sync(rerender) {
      textarea.value = JSON.stringify(flow, null, 2);
      if (rerender) render();
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    }

    async function check() {
      const response = await fetch(editor.dataset.check, {
        method: "POST", credentials: "same-origin", body: textarea.value,
        headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/json" },
      });
      if (!response.ok) return;
      const result = await response.json();
      errors.replaceChildren(...result.errors.map((text) => el("li", { textContent: text })));
      for (const li of editor.querySelectorAll("li.node")) {
        const id = li.dataset.node;
        li.classList.toggle("bad", result.errors.some((t) => t.startsWith("Flow, node '" + id + "'")));
      }
    }

    function ids() { return Object.keys(flow.nodes); }

    function targetSelect(value, extra, props) {
      return select([...extra, ...ids().map((id) => [id, id])], value, props);
    }

    function nodeCard(id, node) {
      const kind = kindOf(node);
      const card = el("li", { className: "node node-" + kind, "data-node": id });
      const kindSelect = select(KINDS.map((k) => [k, k]), kind, { "data-field": "kind", title: "kind" });
      kindSelect.addEventListener("change", () => {
        const text = node.say ?? node.ask ?? "";
        delete node.say; delete node.ask;
        if (kindSelect.value === "ask") {
          node.ask = text;
          node.expect = node.expect || "yes_no";
        } else {
          for (const k of ["expect", "save_as", "branches", "fallback", "length"]) delete node[k];
          if (kindSelect.value === "say") node.say = text;
          else { delete node.next; node.end = node.end || "completed"; }
        }
        sync(true);
      });
      const remove = el("button", { type: "button", className: "secondary remove", textContent: "Remove" });
      remove.addEventListener("click", () => {
        delete flow.nodes[id];
        if (flow.start === id) flow.start = ids()[0] || "";
        sync(true);
      });
      card.append(el("div", { className: "node-head" },
        el("code", { className: "node-id", textContent: id }), " ", kindSelect,
        flow.start === id ? el("span", { className: "badge", textContent: "start" }) : "", remove));

      if (kind !== "end") {
        const text = el("textarea", { rows: 2, value: node[kind] || "", "data-field": "text" });
        text.addEventListener("input", () => { node[kind] = text.value; sync(false); });
        card.append(el("label", {}, kind === "ask" ? "Asks" : "Says", text));
      }
      if (kind === "ask") card.append(askFields(node));
      card.append(routeFields(node, kind));
      return card;
    }

    function askFields(node) {
      const box = el("div", { className: "node-row" });
      const expect = select(EXPECTS.map((k) => [k, k.replace("_", "/")]), expectOf(node), { "data-field": "expect" });
      expect.addEventListener("change", () => {
        const v = expect.value;
        node.expect = v === "choice" ? { choice: ["option one", "option two"] } : v;
        if (v !== "digits") delete node.length;
        const answers = answersOf(node);
        if (answers && node.branches) {
          for (const key of Object.keys(node.branches)) if (!answers.includes(key)) delete node.branches[key];
        }
        sync(true);
      });
      box.append(el("label", {}, "Expects", expect));
      if (expectOf(node) === "choice") {
        const choices = el("input", { value: node.expect.choice.join(", "), "data-field": "choices" });
        choices.addEventListener("change", () => {
          node.expect = { choice: choices.value.split(",").map((c) => c.trim()).filter(Boolean) };
          sync(true);
        });
        box.append(el("label", {}, "Choices (comma-separated)", choices));
      }
      if (expectOf(node) === "digits") {
        const length = el("input", { type: "number", min: 1, max: 32, value: node.length ?? "", "data-field": "length" });
        length.addEventListener("input", () => {
          if (length.value) node.length = Number(length.value); else delete node.length;
          sync(false);
        });
        box.append(el("label", {}, "How many digits", length));
      }
      const saveAs = el("input", { value: node.save_as || "", placeholder: "not saved", "data-field": "save_as" });
      saveAs.addEventListener("input", () => {
        if (saveAs.value.trim()) node.save_as = saveAs.value.trim(); else delete node.save_as;
        sync(false);
      });
      box.append(el("label", {}, "Save the answer as", saveAs));
      const retries = el("input", { type: "number", min: 0, max: 10, value: node.retries ?? "", placeholder: "2", "data-field": "retries" });
      retries.addEventListener("input", () => {
        if (retries.value !== "") node.retries = Number(retries.value); else delete node.retries;
        sync(false);
      });
      box.append(el("label", {}, "Asks again", retries));
      return box;
    }

    function routeFields(node, kind) {
      const box = el("div", { className: "routes" });
      if (kind === "ask") {
        const branches = node.branches || {};
        const answers = answersOf(node);
        for (const [key, target] of Object.entries(branches)) {
          const keyInput = answers
            ? select((answers.includes(key) ? answers : [key, ...answers]).map((a) => [a, a === "default" ? "any other answer" : a]),
              key, { "data-branch-key": key })
            : el("input", { value: key, size: 10, "data-branch-key": key });
          keyInput.addEventListener("change", () => {
            const renamed = {};
            for (const [k, v] of Object.entries(node.branches)) renamed[k === key ? keyInput.value : k] = v;
            node.branches = renamed;
            sync(true);
          });
          const to = targetSelect(target, [], { "data-branch": key, title: "branch target" });
          to.addEventListener("change", () => { node.branches[key] = to.value; sync(true); });
          const drop = el("button", { type: "button", className: "secondary", textContent: "×", title: "remove branch" });
          drop.addEventListener("click", () => {
            delete node.branches[key];
            if (!Object.keys(node.branches).length) delete node.branches;
            sync(true);
          });
          box.append(el("div", { className: "branch" }, "If the answer is ", keyInput, " go to ", to, drop));
        }
        const add = el("button", { type: "button", className: "secondary add-branch", textContent: "Add branch" });
        add.addEventListener("click", () => {
          node.branches = node.branches || {};
          const free = (answers || ["default"]).find((a) => !(a in node.branches)) || "answer" + Object.keys(node.branches).length;
          node.branches[free] = ids()[0] || "";
          sync(true);
        });
        box.append(add);
        const fallback = targetSelect(node.fallback ?? "", [["", "— ask again, then go on —"]], { "data-field": "fallback" });
        fallback.addEventListener("change", () => {
          if (fallback.value) node.fallback = fallback.value; else delete node.fallback;
          sync(true);
        });
        box.append(el("label", {}, "If no usable answer, go to", fallback));
      }
      const current = node.end !== undefined && node.end !== null ? END : (node.next ?? "");
      const none = kind === "ask" ? [["", "— by the branches —"]] : [["", "— nowhere —"]];
      const next = targetSelect(current, [...none, [END, "end the call"]], { "data-field": "next" });
      next.addEventListener("change", () => {
        if (next.value === END) { delete node.next; node.end = node.end || "completed"; }
        else if (next.value) { node.next = next.value; delete node.end; }
        else { delete node.next; delete node.end; }
        sync(true);
      });
      box.append(el("label", {}, kind === "ask" && node.branches ? "Otherwise go to" : "Then", next));
      if (current === END) {
        const outcome = el("input", { value: node.end || "", "data-field": "end" });
        outcome.addEventListener("input", () => { node.end = outcome.value; sync(false); });
        box.append(el("label", {}, "Outcome", outcome));
      }
      return box;
    }

    function render() {
      const start = targetSelect(flow.start, flow.start in flow.nodes ? [] : [[flow.start, flow.start || "—"]], { id: "flow-start" });
      start.addEventListener("change", () => { flow.start = start.value; sync(true); });
      const nodes = el("ol", { className: "flow-nodes editing" });
      for (const [id, node] of Object.entries(flow.nodes)) {
        nodes.append(node && typeof node === "object" ? nodeCard(id, node) : el("li", { textContent: id + ": not a node" }));
      }
      const newId = el("input", { id: "flow-new-id", placeholder: "new node id", size: 14 });
      const newKind = select(KINDS.map((k) => [k, k]), "say", { id: "flow-new-kind" });
      const add = el("button", { type: "button", id: "flow-add", textContent: "Add node" });
      const note = el("span", { className: "field-error", id: "flow-add-error" });
      add.addEventListener("click", () => {
        const id = newId.value.trim();
        if (!/^[A-Za-z0-9_-]+$/.test(id)) { note.textContent = "A node id is letters, digits, _ or -."; return; }
        if (id in flow.nodes) { note.textContent = "There is already a node " + id + "."; return; }
        const kind = newKind.value;
        flow.nodes[id] = kind === "ask" ? { ask: "", expect: "yes_no", end: "completed" }
          : kind === "say" ? { say: "", end: "completed" } : { end: "completed" };
        if (!flow.start) flow.start = id;
        sync(true);
        const card = editor.querySelector('li.node[data-node="' + CSS.escape(id) + '"] textarea');
        if (card) card.focus();
      });
      editor.replaceChildren(
        el("label", { className: "inline" }, "Starts at ", start),
        nodes,
        el("div", { className: "add-node" }, newId, " ", newKind, " ", add, " ", note),
      );
    }

    function load() {
      const parsed = parse();
      if (!parsed) {
        editor.replaceChildren(el("p", { className: "field-error", textContent: "The JSON below does not parse: fix it there, or start over with {}." }));
        return false;
      }
      flow = parsed;
      render();
      return true;
    }

    textarea.addEventListener("change", () => { if (load()) check(); });
    editor.addEventListener("keydown", (event) => {  // Enter in a node's field must not save the agent
      if (event.key === "Enter" && event.target.tagName === "INPUT") event.preventDefault();
    });
    list.hidden = true;
    editor.hidden = false;
    if (load() && Object.keys(flow.nodes).length) check();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const editor = document.getElementById("flow-editor");
    if (editor) setUp(editor);
  });
})();
