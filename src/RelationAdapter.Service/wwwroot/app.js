// The demo page: submits an edit, follows its progress over Server-Sent Events and shows every result.
// Plain browser JavaScript, no build step. Requests carry the API key when one is entered.
"use strict";

const $ = id => document.getElementById(id);
const form = $("edit-form");
const finished = new Set(["succeeded", "failed", "canceled"]);
let following = null; // the job this page follows while it is queued or running
let canceling = false;

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function showError(problem) {
  const box = $("error");
  box.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = problem.title || "Something went wrong";
  box.append(title);
  if (problem.detail) box.append(document.createTextNode(` ${problem.detail}`));
  if (problem.errors) {
    const list = document.createElement("ul");
    for (const [field, messages] of Object.entries(problem.errors))
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = `${field}: ${message}`;
        list.append(item);
      }
    box.append(list);
  }
  box.hidden = false;
}

async function problemOf(response) {
  try { return await response.json(); }
  catch { return { title: `HTTP ${response.status}`, detail: response.statusText }; }
}

function figure(src, alt, ...caption) {
  const item = document.createElement("figure");
  const img = document.createElement("img");
  img.src = src;
  img.alt = alt;
  const text = document.createElement("figcaption");
  text.append(...caption);
  item.append(img, text);
  return item;
}

function preview(input, img) {
  input.addEventListener("change", () => {
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    const file = input.files[0];
    img.src = file ? URL.createObjectURL(file) : "";
  });
}
preview($("prompt-image"), $("preview-before"));
preview($("reference-image"), $("preview-after"));

$("source-image").addEventListener("change", () => {
  const previews = $("preview-sources");
  for (const img of previews.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  previews.replaceChildren(...[...$("source-image").files].map((file, i) =>
    figure(URL.createObjectURL(file), "", `Source ${i + 1}`)));
});

function setProgress(job) {
  const line = $("status-line");
  if (finished.has(job.status))
    line.textContent = job.status[0].toUpperCase() + job.status.slice(1);
  else if (canceling)
    line.textContent = "Canceling…";
  else if (job.status === "queued")
    line.textContent = `Queued · position ${job.queue_position + 1}`;
  else
    line.textContent = job.stage === "denoise" || job.stage === "decode"
      ? `Running · step ${job.progress.step} of ${job.progress.total}`
      : `Running · ${(job.stage || "starting").replaceAll("_", " ")}`;
  $("progress-bar").value = job.progress.total ? job.progress.step / job.progress.total : 0;
  $("cancel").hidden = finished.has(job.status);
}

/** Forgets the last job: its status, progress, results and any problem shown. */
function clearJob() {
  following = null;
  canceling = false;
  $("error").hidden = true;
  $("error").replaceChildren();
  $("progress").hidden = true;
  $("status-line").textContent = "";
  $("progress-bar").value = 0;
  $("cancel").hidden = true;
  $("cancel").disabled = false;
  $("results").hidden = true;
  $("result-grid").replaceChildren();
}

// EventSource cannot send an Authorization header, so the stream is read with fetch. A stream that ends before the
// job does (a restart, a proxy's timeout) is resumed after the server's retry hint, from the last event it sent.
async function follow(job) {
  let last = job, lastId = null, retry = 2000;
  while (!finished.has(last.status)) {
    const response = await fetch(job.links.events, { headers: headers(lastId ? { "Last-Event-ID": lastId } : {}) });
    if (!response.ok) throw await problemOf(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = { event: "message", data: [] };
        for (const line of buffer.slice(0, end).split("\n")) {
          const [, field, text] = line.match(/^([a-z]+): ?(.*)$/) ?? [];
          if (field === "data") event.data.push(text);
          else if (field === "event") event.event = text;
          else if (field === "id") lastId = text;
          else if (field === "retry") retry = Number(text);
        }
        buffer = buffer.slice(end + 2);
        if (event.data.length && event.event !== "reconnect") { last = JSON.parse(event.data.join("\n")); setProgress(last); }
      }
    }
    if (!finished.has(last.status)) await new Promise(resume => setTimeout(resume, retry));
  }
  return last;
}

// Result i·n + k is source i's k-th output. Its url is signed: an <img> and a download need no API key.
function showResults(job) {
  $("result-grid").replaceChildren(...job.results.map(result => {
    const name = `Source ${Math.floor(result.index / job.n) + 1}, output ${result.index % job.n + 1}`;
    const download = document.createElement("a");
    download.href = result.url;
    download.download = `${job.id}-${result.index}.${job.output_format}`;
    download.textContent = "download";
    download.setAttribute("aria-label", `Download ${name}`);
    const item = figure(result.url, `${name}, edited`,
      `${name} · seed ${result.seed} · ${result.width}×${result.height} · `, download);
    item.dataset.index = result.index;
    return item;
  }));
  $("results").hidden = false;
}

form.addEventListener("submit", async event => {
  event.preventDefault();
  clearJob();
  const body = new FormData(form);
  for (const [key, value] of [...body.entries()])
    if (value === "" || (value instanceof File && value.size === 0)) body.delete(key);
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/edits", { method: "POST", body, headers: headers() });
    if (response.status !== 202) throw await problemOf(response);
    following = await response.json();
    $("progress").hidden = false;
    setProgress(following);
    const final = await follow(following);
    if (final.status === "succeeded") showResults(final);
    else if (final.error) throw final.error;
  } catch (problem) {
    showError(problem instanceof Error ? { title: problem.message } : problem);
  } finally {
    following = null;
    $("cancel").hidden = true;
    $("submit").disabled = false;
  }
});

// A queued job is dropped at once, a running one stops at its next step; the event stream then says "canceled".
$("cancel").addEventListener("click", async () => {
  if (!following) return;
  canceling = true;
  $("cancel").disabled = true;
  $("status-line").textContent = "Canceling…";
  try {
    const response = await fetch(following.links.self, { method: "DELETE", headers: headers() });
    // A queued job's answer is final; a running job's end comes by the stream, which may have told it already
    // (its "canceled" must not be overwritten by this older "running").
    if (response.status === 202) {
      const job = await response.json();
      if (finished.has(job.status)) setProgress(job);
    }
    else if (response.status !== 409) showError(await problemOf(response)); // 409: it finished meanwhile, as the stream tells
  } catch (problem) {
    showError({ title: problem.message });
  }
});

$("cache-pair").addEventListener("click", async () => {
  $("error").hidden = true;
  const body = new FormData();
  body.append("prompt_image", $("prompt-image").files[0] ?? new Blob());
  body.append("reference_image", $("reference-image").files[0] ?? new Blob());
  try {
    const response = await fetch("/v1/relations", { method: "POST", body, headers: headers() });
    if (!response.ok) throw await problemOf(response);
    const relation = await response.json();
    $("relation-id").value = relation.id;
    $("prompt-image").value = "";
    $("reference-image").value = "";
  } catch (problem) {
    showError(problem);
  }
});

// The fields' bounds and defaults are the server's configured limits, as its OpenAPI document states them.
fetch("/swagger/v1/swagger.json").then(r => r.json()).then(openApi => {
  const fields = openApi.components.schemas.EditForm.properties;
  for (const input of form.querySelectorAll("input[name]")) {
    const field = fields[input.name];
    if (!field) continue;
    if (field.minimum !== undefined) input.min = field.minimum;
    if (field.maximum !== undefined) input.max = field.maximum;
    if (field.maxLength !== undefined) input.maxLength = field.maxLength;
    if (field.default !== undefined && input.type === "number" && input.value === "") input.value = field.default;
  }
  const sources = fields.source_image?.maxItems;
  if (sources !== undefined) $("source-hint").textContent = `Up to ${sources} sources, each edited the same way; each output has its own seed.`;
}).catch(() => { /* without them the server still checks every field and names the invalid ones */ });

fetch("/readyz").then(r => r.json()).then(ready => {
  $("model-status").textContent = ready.status === "ready"
    ? `model: ${ready.model}` + (ready.placeholder ? " (demo model: results are meaningless)" : "")
    : `model ${ready.status}`;
}).catch(() => { $("model-status").textContent = "model status unknown"; });
