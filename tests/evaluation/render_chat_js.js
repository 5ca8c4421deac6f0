// Renders answers with static/js/chat.js under Node (a minimal DOM), printing what is live: links with an href.
// Input (stdin): [{"text": "...", "citations": [{"number": 1, "url": "/documents/1/source/?chunk=2"}]}, ...]
// Output (stdout): [[{"kind": "link"|"ref"|"chip", "href": "..."}], ...] in document order.
"use strict";
const fs = require("fs");
const vm = require("vm");

const ORIGIN = "https://docintel.example";

class Node_ {
  constructor(tag, text) {
    this.tagName = tag ? tag.toUpperCase() : "#text";
    this.children = [];
    this.dataset = {};
    this.className = "";
    this._text = text || "";
    this.attrs = {};
  }
  set textContent(v) { this.children = []; this._text = String(v); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set href(v) { this.attrs.href = String(v); }
  get href() { return this.attrs.href; }
  getAttribute(name) { return this.attrs[name] === undefined ? null : this.attrs[name]; }
  appendChild(c) { this.children.push(c); return c; }
  addEventListener() {}
  querySelector(sel) { return this._query[sel] || null; }
  querySelectorAll(sel) { return (this._all && this._all[sel]) || []; }
}

function collect(node, out) {
  for (const c of node.children) {
    if (c.tagName === "A" && c.attrs.href !== undefined) {
      out.push({ kind: c.className === "ref" ? "ref" : c.className === "chip" ? "chip" : "link", href: c.attrs.href });
    }
    if (c.tagName === "IMG") out.push({ kind: "image", href: c.attrs.src || "" });
    collect(c, out);
  }
  return out;
}

const fixtures = JSON.parse(fs.readFileSync(0, "utf8"));
const answers = fixtures.map((f) => {
  const answer = new Node_("div");
  const md = new Node_("div", f.text);
  const chips = (f.citations || []).map((c) => {
    const chip = new Node_("a");
    chip.dataset.number = String(c.number);
    chip.attrs.href = c.url;
    return chip;
  });
  answer._query = { ".md": md, "form.feedback": null };
  answer._all = { ".citations .chip": chips };
  answer.md = md;
  return answer;
});
const exchanges = new Node_("ol");
exchanges._all = { ".answer": answers };
const elements = {
  cited: null,
  chat: Object.assign(new Node_("div"), { dataset: { sessionId: "x", feedbackUrl: "/f/0/", loginUrl: "/login/" } }),
  "chat-strings": new Node_("script", JSON.stringify({ image_blocked: "image", link_blocked: "link" })),
  exchanges,
};
const document = {
  getElementById: (id) => (id in elements ? elements[id] : new Node_("div")),
  createElement: (tag) => new Node_(tag),
  createTextNode: (text) => new Node_(null, text),
};
const window = { location: { href: ORIGIN + "/chat/", origin: ORIGIN, protocol: "https:", host: "docintel.example" },
  setTimeout() {}, requestAnimationFrame() {} };
class WebSocket { constructor() {} addEventListener() {} send() {} }
vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), { document, window, WebSocket, URL, JSON, Array, Math,
  String, parseInt, encodeURIComponent });
process.stdout.write(JSON.stringify(answers.map((a) => collect(a.md, []))));
