/* DocIntel reader pages: the chat WebSocket client, feedback, and the source view's scroll.
 *
 * Answers are rendered on the server (guards.render.markdown_html: markdown-it-py, then nh3 against an allow-list);
 * streamed tokens are shown as plain text (textContent) and the final event's `html` replaces them. The only HTML
 * that reaches innerHTML is that cleaned `html`. Citation chips are built with textContent.
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

  // --- Answers -------------------------------------------------------------------------------------------------------
  // The page never renders markdown itself: while tokens stream the growing text is shown as plain text
  // (textContent), and the final event's `html` (the server's guards.render.markdown_html, nh3-cleaned: no script,
  // no image, no handler, live links only into the portal) replaces it, as the history page shows stored answers.
  function sameOriginUrl(raw) {
    try {
      var url = new URL(raw, window.location.href);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.origin === window.location.origin) return url;
    } catch (e) { /* not a URL: no link */ }
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

  function showFinal(container, event) {
    if (typeof event.html === "string") container.innerHTML = event.html; // nh3-cleaned on the server
    else container.textContent = event.text || "";
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

  // Stored answers arrive rendered by the server; only their feedback forms need wiring.
  Array.prototype.forEach.call(exchanges.querySelectorAll(".answer"), function (answer) {
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
      if (current) current.md.textContent = current.text; // plain text until the final event
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
      showFinal(answer.querySelector(".md"), event);
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
          if ((last.status === "completed" || last.status === "no_answer" || last.status === "extractive") && last.response_id) {
            // The stored answer again, as an `answer` event with the server's html.
            socket.send(JSON.stringify({ type: "fetch", response_id: last.response_id }));
          } else {
            finish({ type: "error", code: last.status === "cancelled" ? "cancelled" : "failed", response_id: last.response_id });
          }
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
