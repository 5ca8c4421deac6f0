/* DocIntel reader pages: the chat WebSocket client, safe Markdown, feedback, and the source view's scroll.
 *
 * Markdown is rendered by building DOM nodes with textContent: no HTML from an answer ever reaches innerHTML.
 * Images are never loaded (shown as text), links leave the portal only as visible text, citations become chips.
 */
(function () {
  "use strict";

  // --- Source view: bring the cited passage into view ---------------------------------------------------------------
  var cited = document.getElementById("cited");
  if (cited) {
    cited.scrollIntoView({ block: "center" });
    cited.focus({ preventScroll: true });
  }

  var chat = document.getElementById("chat");
  if (!chat) return;
  var strings = JSON.parse(document.getElementById("chat-strings").textContent);

  // --- Safe Markdown -------------------------------------------------------------------------------------------------
  var INLINE = /(`[^`\n]+`)|(!\[[^\]\n]*\]\([^)\n]*\))|(\[[^\]\n]+\]\([^)\n]*\))|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*|_[^_\s][^_\n]*_)|(\[\d{1,3}\])/g;

  function sameOriginUrl(raw) {
    try {
      var url = new URL(raw, window.location.href);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.origin === window.location.origin) return url;
    } catch (e) { /* not a URL: shown as text */ }
    return null;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chip(citation) {
    var link = el("a", "chip", "[" + citation.number + "] " + (citation.document_title || "") +
      (citation.location ? " · " + citation.location : ""));
    var target = sameOriginUrl(citation.url || "");
    if (target && target.pathname.indexOf("/documents/") === 0) {
      link.href = target.pathname + target.search;
      link.target = "_blank";
      link.rel = "noopener";
    }
    link.dataset.number = citation.number;
    if (citation.quote) link.title = citation.quote.slice(0, 200);
    return link;
  }

  function renderInline(parent, text, citations) {
    var last = 0;
    text.replace(INLINE, function (match, code, image, link, bold, italic, ref, offset) {
      if (offset > last) parent.appendChild(document.createTextNode(text.slice(last, offset)));
      last = offset + match.length;
      if (code) {
        parent.appendChild(el("code", null, code.slice(1, -1)));
      } else if (image) {
        // Never fetched: an image in an answer could carry data to another server.
        var m = /^!\[([^\]]*)\]\(([^)]*)\)$/.exec(image);
        parent.appendChild(el("span", "blocked", "[" + strings.image_blocked + ": " + (m[1] || "") + " " + m[2] + "]"));
      } else if (link) {
        var l = /^\[([^\]]+)\]\(([^)]*)\)$/.exec(link);
        var target = sameOriginUrl(l[2].trim());
        if (target) {
          var a = el("a", null, l[1]);
          a.href = target.pathname + target.search + target.hash;
          parent.appendChild(a);
        } else {
          parent.appendChild(el("span", "blocked", l[1] + " (" + strings.link_blocked + ": " + l[2] + ")"));
        }
      } else if (bold) {
        var strong = el("strong");
        renderInline(strong, bold.slice(2, -2), citations);
        parent.appendChild(strong);
      } else if (italic) {
        var em = el("em");
        renderInline(em, italic.slice(1, -1), citations);
        parent.appendChild(em);
      } else if (ref) {
        var number = parseInt(ref.slice(1, -1), 10);
        var found = (citations || []).filter(function (c) { return c.number === number; })[0];
        if (found) {
          var sup = el("a", "ref", ref);
          var t = sameOriginUrl(found.url || "");
          if (t) { sup.href = t.pathname + t.search; sup.target = "_blank"; sup.rel = "noopener"; }
          parent.appendChild(sup);
        } else {
          parent.appendChild(document.createTextNode(ref));
        }
      }
      return match;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(container, source, citations) {
    container.textContent = "";
    var lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    var list = null;
    var paragraph = null;
    function flush() { paragraph = null; list = null; }
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s*```/.test(line);
      if (fence) {
        flush();
        var pre = el("pre"), body = [];
        i += 1;
        while (i < lines.length && !/^\s*```/.test(lines[i])) { body.push(lines[i]); i += 1; }
        pre.appendChild(el("code", null, body.join("\n")));
        container.appendChild(pre);
        i += 1;
        continue;
      }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      var bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      var quote = /^\s*>\s?(.*)$/.exec(line);
      if (!line.trim()) {
        flush();
      } else if (heading) {
        flush();
        var h = el("h" + Math.min(6, heading[1].length + 2));
        renderInline(h, heading[2], citations);
        container.appendChild(h);
      } else if (bullet || numbered) {
        var tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          paragraph = null;
          list = el(tag);
          container.appendChild(list);
        }
        var item = el("li");
        renderInline(item, (bullet || numbered)[1], citations);
        list.appendChild(item);
      } else if (quote) {
        flush();
        var bq = el("blockquote");
        renderInline(bq, quote[1], citations);
        container.appendChild(bq);
      } else {
        list = null;
        if (!paragraph) {
          paragraph = el("p");
          container.appendChild(paragraph);
        } else {
          paragraph.appendChild(el("br"));
        }
        renderInline(paragraph, line, citations);
      }
      i += 1;
    }
  }

  // --- Page state ----------------------------------------------------------------------------------------------------
  var exchanges = document.getElementById("exchanges");
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var sendButton = document.getElementById("send");
  var stopButton = document.getElementById("stop");
  var status = document.getElementById("connection");
  var feedbackTemplate = document.getElementById("feedback-template");
  var feedbackUrl = chat.dataset.feedbackUrl;
  var socket = null;
  var current = null; // {answer, md, text} of the answer being streamed
  var retries = 0;
  var renderPending = false;

  function citationsFrom(node) {
    return Array.prototype.map.call(node.querySelectorAll(".citations .chip"), function (c) {
      return { number: parseInt(c.dataset.number, 10), url: c.getAttribute("href") || "" };
    });
  }

  // Server-rendered answers arrive as escaped text; render them as Markdown now.
  Array.prototype.forEach.call(exchanges.querySelectorAll(".answer"), function (answer) {
    var md = answer.querySelector(".md");
    renderMarkdown(md, md.textContent, citationsFrom(answer));
    wireFeedback(answer.querySelector("form.feedback"));
  });

  function setStreaming(on) {
    stopButton.hidden = !on;
    sendButton.disabled = on;
  }

  function scrollDown() {
    var last = exchanges.lastElementChild;
    if (last) last.scrollIntoView({ block: "end" });
  }

  function addExchange(question) {
    var li = el("li", "exchange");
    li.appendChild(el("div", "question", question));
    var answer = el("div", "answer status-streaming");
    var md = el("div", "md");
    answer.appendChild(md);
    li.appendChild(answer);
    exchanges.appendChild(li);
    current = { answer: answer, md: md, text: "" };
    scrollDown();
  }

  function renderSoon() {
    if (renderPending) return;
    renderPending = true;
    window.requestAnimationFrame(function () {
      renderPending = false;
      if (current) renderMarkdown(current.md, current.text, []);
    });
  }

  function note(answer, text, className) {
    var p = el("p", (className || "muted") + " note", text);
    answer.appendChild(p);
  }

  function finish(event) {
    if (!current) return;
    var answer = current.answer;
    current = null;
    setStreaming(false);
    if (event.response_id) answer.dataset.responseId = event.response_id;
    if (event.type === "answer") {
      var answered = event.status === "completed" || event.status === "extractive" || !event.status;
      answer.className = "answer status-" + (event.status || "completed") + (answered ? " answered" : "");
      renderMarkdown(answer.querySelector(".md"), event.text, event.citations);
      if (event.status === "extractive") note(answer, strings.extractive, "muted");
      if (event.citations && event.citations.length) {
        var box = el("div", "citations");
        event.citations.forEach(function (c) { box.appendChild(chip(c)); });
        answer.appendChild(box);
      }
      if (event.response_id) answer.appendChild(feedbackForm(event.response_id));
    } else {
      var cancelled = event.code === "cancelled";
      answer.className = "answer status-" + (cancelled ? "cancelled" : "failed");
      var text = cancelled ? strings.stopped : event.code === "guardrail_blocked" ? strings.blocked : event.message || strings.failed;
      note(answer, text, cancelled ? "muted" : "error");
    }
    scrollDown();
  }

  // --- Feedback ------------------------------------------------------------------------------------------------------
  function feedbackForm(responseId) {
    var node = feedbackTemplate.content.firstElementChild.cloneNode(true);
    node.action = feedbackUrl.replace("/0/", "/" + encodeURIComponent(responseId) + "/");
    wireFeedback(node);
    return node;
  }

  function wireFeedback(node) {
    if (!node) return;
    var comment = node.querySelector("input[name=comment]");
    comment.addEventListener("keydown", function (e) {
      // Enter in the comment re-sends the rating already chosen (not the form's first button).
      if (e.key !== "Enter") return;
      e.preventDefault();
      var chosen = node.querySelector(".thumb.chosen");
      if (chosen) node.requestSubmit(chosen);
    });
    node.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(node);
      var rating = e.submitter && e.submitter.name === "rating" ? e.submitter.value : null;
      var chosen = node.querySelector(".thumb.chosen");
      if (!rating && chosen) rating = chosen.value;
      if (!rating) return;
      data.set("rating", rating);
      var statusEl = node.querySelector(".feedback-status");
      fetch(node.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") },
      }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        Array.prototype.forEach.call(node.querySelectorAll(".thumb"), function (b) {
          b.classList.toggle("chosen", b.value === rating);
        });
        statusEl.textContent = strings.thanks;
      }).catch(function () { statusEl.textContent = strings.feedback_failed; });
    });
  }

  // --- WebSocket -----------------------------------------------------------------------------------------------------
  function connect() {
    status.textContent = retries ? strings.reconnecting : strings.connecting;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/chat/" + chat.dataset.sessionId);
    socket.addEventListener("open", function () {
      status.textContent = "";
      if (retries && current) socket.send(JSON.stringify({ type: "history" }));
      retries = 0;
    });
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (event.type === "token" && current) {
        current.text += event.text;
        renderSoon();
      } else if (event.type === "answer") {
        finish(event);
      } else if (event.type === "error") {
        if (event.code === "answer_in_progress") status.textContent = strings.busy;
        else if (current) finish(event);
        else if (event.code !== "token_expired") status.textContent = event.message;
      } else if (event.type === "history" && current) {
        // After a reconnect: the answer we were streaming, if the server has finished it.
        var last = event.items[event.items.length - 1];
        if (last && last.status !== "streaming") {
          finish(last.status === "completed" || last.status === "no_answer" || last.status === "extractive"
            ? { type: "answer", text: last.text, citations: last.citations, response_id: last.response_id, status: last.status }
            : { type: "error", code: last.status === "cancelled" ? "cancelled" : "failed", response_id: last.response_id });
        } else {
          window.setTimeout(function () { if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "history" })); }, 2000);
        }
      }
    });
    socket.addEventListener("close", function (e) {
      socket = null;
      if (e.code === 4401) {
        status.textContent = strings.signed_out;
        var link = el("a", null, " →");
        link.href = chat.dataset.loginUrl + "?next=" + encodeURIComponent(window.location.pathname);
        status.appendChild(link);
        setStreaming(false);
        return;
      }
      if (e.code === 4403) { status.textContent = strings.forbidden; setStreaming(false); return; }
      retries += 1;
      status.textContent = strings.reconnecting;
      window.setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retries)));
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || current || !socket || socket.readyState !== 1) return;
    addExchange(text);
    setStreaming(true);
    socket.send(JSON.stringify({ type: "question", text: text }));
    input.value = "";
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  stopButton.addEventListener("click", function () {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "cancel" }));
  });

  connect();
})();
