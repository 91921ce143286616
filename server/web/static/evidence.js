// Evidence photos for a ticket step, sent through the resumable upload API before the form posts.
// Without this script (or without SubtleCrypto) the form posts the files itself; the page stores them.
(function () {
  "use strict";
  var CHUNK_TYPE = "application/offset+octet-stream";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // What went wrong, in the page's words: the form carries a sentence per answer (data-say-<status>), never the
  // API's English detail or its field names.
  function say(form, status, name) {
    var text = form.getAttribute("data-say-" + status) || form.getAttribute("data-say-other") || "";
    return text.replace("{name}", name);
  }

  function failure(form, resp, name) {
    var text = say(form, resp ? resp.status : "other", name);
    return new Error(text.indexOf(name) >= 0 ? text : name + ": " + text);
  }

  function wait(ms) { return new Promise(function (res) { setTimeout(res, ms); }); }

  async function upload(form, file, ticketId, progress) {
    var bytes = await file.arrayBuffer();
    var sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
    var created = await fetch("/api/v1/photos/uploads", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify({sha256: sha256, size: file.size, content_type: file.type || "image/jpeg",
                            ticket_id: ticketId})
    });
    if (!created.ok) { throw failure(form, created, file.name); }
    var up = await created.json();
    var offset = up.offset, failures = 0;
    for (;;) {
      var end = Math.min(offset + up.max_chunk_bytes, file.size);
      var resp = null;
      try {
        resp = await fetch(up.chunk_url, {
          method: "PATCH", credentials: "same-origin",
          headers: {"Content-Type": CHUNK_TYPE, "Upload-Offset": String(offset),
                    "Upload-Complete": end === file.size ? "?1" : "?0", "X-CSRF-Token": csrf()},
          body: bytes.slice(offset, end)
        });
      } catch (e) { resp = null; }  // a dropped connection: ask where the upload stands, resume there
      if (resp && resp.status === 200) { progress(file.size); return (await resp.json()).id; }
      if (resp && resp.status === 204) {
        offset = Number(resp.headers.get("Upload-Offset")); failures = 0; progress(offset); continue;
      }
      if (resp && resp.status === 422) { throw failure(form, resp, file.name); }
      failures += 1;
      if (failures > 5) { throw failure(form, null, file.name); }
      await wait(400 * failures);
      var state = await fetch(up.chunk_url, {credentials: "same-origin"}).catch(function () { return null; });
      if (state && state.ok) { offset = (await state.json()).offset; }
    }
  }

  function enhance(form) {
    var input = form.querySelector('input[type="file"][name="photos"]');
    var status = form.querySelector(".upload-status");
    if (!input || !window.crypto || !crypto.subtle || !window.fetch) { return; }
    form.addEventListener("submit", async function (event) {
      if (!input.files.length || form.dataset.sent) { return; }
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      try {
        var files = Array.prototype.slice.call(input.files);
        for (var i = 0; i < files.length; i++) {
          var file = files[i];
          var id = await upload(form, file, form.dataset.ticket, function (done) {
            status.textContent = file.name + ": " + Math.round(100 * done / Math.max(file.size, 1)) + "%";
          });
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = "photo_ids"; hidden.value = id;
          form.appendChild(hidden);
        }
        // The bytes went through the upload API: the form now posts only their ids.
        input.disabled = true;
        form.dataset.sent = "1";
        form.submit();
      } catch (err) {
        status.textContent = err.message;
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-evidence]"), enhance);
  });
})();
